"""Bad capture files and hostile file names against the `ftplens` CLI.

Every bad file must end with a documented exit code (0 clean, 1 anomalies, 2 error, 3 partial),
a message on standard error that names the file and says what is wrong, never a panic (exit
101) and never a hang. Extraction must keep every file inside the output directory, follow no
symlink found there, and never overwrite anything. tests/cli_capture.rs (the CLI helper's) covers
the basic cases (a cut last record, garbage after the records, text, empty and missing files,
../ and absolute names, NUL bytes, one long name, two colliding names); these are the rest.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "hostile"))
sys.path.insert(0, str(ROOT / "tests" / "captures"))
import handmade as hm  # noqa: E402
import measure  # noqa: E402

TIMEOUT = 60


@pytest.fixture(scope="module")
def cli():
    return measure.build_cli()


def run(cli, *args, timeout=TIMEOUT):
    p = subprocess.run([str(cli), *map(str, args)], capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


# ---------------------------------------------------------------------------- bad files

PCAP_HDR = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
ETH = bytes(12) + b"\x08\x00" + bytes(46)


def rec(data, caplen=None, origlen=None):
    caplen = len(data) if caplen is None else caplen
    return struct.pack("<IIII", 1, 0, caplen, len(data) if origlen is None else origlen) + data


def blk(t, body):
    body += b"\0" * (-len(body) % 4)
    n = 12 + len(body)
    return struct.pack("<II", t, n) + body + struct.pack("<I", n)


SHB = blk(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
IDB = blk(1, struct.pack("<HHI", 1, 0, 65535))


def epb(data, caplen=None, ifid=0):
    caplen = len(data) if caplen is None else caplen
    return blk(6, struct.pack("<IIIII", ifid, 0, 1, caplen, len(data)) + data)


NOT_A_CAPTURE = "not a pcap or pcapng capture"
TRUNCATED = "truncated"
STOPPED = "stopped after"

# name: (bytes, exit code, regex the message must match; None: no message needed)
BAD_FILES = {
    # zero-length and wrong magic numbers
    "empty.pcap": (b"", 2, "empty input"),
    "magic_random.pcap": (b"\x00\x01\x02\x03" + PCAP_HDR[4:] + rec(ETH), 2, NOT_A_CAPTURE),
    "magic_zip.pcap": (b"PK\x03\x04" + bytes(100), 2, NOT_A_CAPTURE),
    "magic_text.pcap": (b"220 this is an FTP log, not a capture\r\n" * 10, 2, NOT_A_CAPTURE),
    "zeros.pcap": (bytes(1 << 20), 2, NOT_A_CAPTURE),
    "ng_bad_byte_order_magic.pcapng": (
        blk(0x0A0D0D0A, struct.pack("<IHHq", 0x11223344, 1, 0, -1)) + IDB + epb(ETH), 2,
        NOT_A_CAPTURE),
    # truncated pcap
    "pcap_header_cut.pcap": (PCAP_HDR[:10], 2, NOT_A_CAPTURE + "|" + TRUNCATED),
    "pcap_header_only.pcap": (PCAP_HDR, 0, None),
    "pcap_record_header_cut.pcap": (PCAP_HDR + rec(ETH)[:10], 3, TRUNCATED),
    "pcap_record_data_cut.pcap": (PCAP_HDR + rec(ETH) + rec(ETH)[:40], 3, TRUNCATED),
    # truncated pcapng
    "ng_shb_cut.pcapng": (SHB[:20], 2, NOT_A_CAPTURE + "|" + TRUNCATED),
    "ng_shb_only.pcapng": (SHB, 0, None),
    "ng_idb_cut.pcapng": (SHB + IDB[:10], 3, TRUNCATED),
    "ng_epb_cut.pcapng": (SHB + IDB + epb(ETH)[:30], 3, TRUNCATED),
    # absurd lengths
    "caplen_4g.pcap": (PCAP_HDR + struct.pack("<IIII", 1, 0, 0xFFFFFFFF, 60) + ETH, 3,
                       "4294967295"),
    "caplen_100m.pcap": (PCAP_HDR + struct.pack("<IIII", 1, 0, 100_000_000, 60) + ETH, 3,
                         "100000000"),
    "caplen_over_snaplen.pcap": (PCAP_HDR + rec(ETH * 2000), 0, None),
    "caplen_zero.pcap": (PCAP_HDR + rec(b"") * 3, 0, None),
    "caplen_shorter_than_ethernet.pcap": (PCAP_HDR + rec(b"\x01\x02\x03"), 0, None),
    "origlen_below_caplen.pcap": (PCAP_HDR + rec(ETH, origlen=1), 0, None),
    "snaplen_zero.pcap": (struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 0, 1) + rec(ETH), 0,
                          None),
    "ng_epb_caplen_4g.pcapng": (SHB + IDB + epb(ETH, caplen=0xFFFFFFFF), 3, STOPPED),
    "ng_block_length_4g.pcapng": (SHB + struct.pack("<II", 6, 0xFFFFFFFF) + bytes(64), 3,
                                  "4294967295"),
    "ng_block_length_odd.pcapng": (SHB + struct.pack("<II", 6, 13) + bytes(64), 3, STOPPED),
    "ng_block_length_tiny.pcapng": (SHB + struct.pack("<II", 6, 4) + bytes(64), 3, STOPPED),
    # gzip
    "gzip_cut.pcap.gz": (gzip.compress(PCAP_HDR + rec(ETH) * 100)[:50], 2, "."),
    "gzip_of_text.pcap.gz": (gzip.compress(b"hello world" * 100), 2, NOT_A_CAPTURE),
    "gzip_bomb.pcap.gz": (gzip.compress(bytes(64 << 20)), 2, NOT_A_CAPTURE),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file(cli, tmp_path, name):
    data, code, message = BAD_FILES[name]
    f = tmp_path / name
    f.write_bytes(data)
    for cmd in ("log", "summary"):
        rc, out, err = run(cli, cmd, f)
        assert rc == code, f"{cmd} {name}: exit {rc}, expected {code}\n{err}"
        assert "panicked" not in err and "RUST_BACKTRACE" not in err, err
        if message:
            assert name in err, f"the message does not name the file: {err!r}"
            assert re.search(message, err), f"{cmd} {name}: {err!r} lacks /{message}/"
        if cmd == "log":
            for line in out.splitlines():
                json.loads(line)


def test_snaplen_cut_session_is_reported_not_invented(cli, tmp_path):
    """A whole FTP session captured with a 64-byte snap length: commands are cut mid-line; the
    CLI reports capture gaps (exit 1) and never invents bytes or crashes."""
    full = tmp_path / "full.pcap"
    s = hm.Session("snap", str(full), (hm.CLIENT, 40000), (hm.SERVER, 21), "snaplen")
    s.open()
    s.login()
    s.pasv(hm.SERVER, 50000, fname="f.txt", content=b"x" * 5000)
    s.quit()
    data = full.read_bytes()
    out = bytearray(data[:16] + struct.pack("<I", 64) + data[20:24])
    pos = 24
    while pos < len(data):
        sec, usec, caplen, origlen = struct.unpack("<IIII", data[pos:pos + 16])
        keep = min(caplen, 64)
        out += struct.pack("<IIII", sec, usec, keep, origlen) + data[pos + 16:pos + 16 + keep]
        pos += 16 + caplen
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(bytes(out))
    rc, stdout, err = run(cli, "log", cut)
    assert rc == 1, err
    recs = [json.loads(line) for line in stdout.splitlines()]
    assert any(r.get("name") == "capture_gap" or "capture_gap" in r.get("anomalies", [])
               for r in recs), recs[:5]
    transfers = [r for r in recs if r["type"] == "transfer"]
    assert all(r["bytes"] <= 5000 for r in transfers)


def test_never_hangs_on_a_fifo_that_stays_empty(cli, tmp_path):
    fifo = tmp_path / "fifo.pcap"
    os.mkfifo(fifo)
    writer = subprocess.Popen(["sh", "-c", f"exec 3>'{fifo}'; sleep 1"])
    rc, _, err = run(cli, "log", fifo, timeout=30)
    writer.wait()
    assert rc == 2 and "empty input" in err, err


# ---------------------------------------------------------------------------- extraction

def _session_with(path, names, port0=50000):
    """One session downloading each name (content: the name's index) over PASV."""
    s = hm.Session("x", str(path), (hm.CLIENT, 40000), (hm.SERVER, 21), "extraction")
    s.open()
    s.login()
    for i, name in enumerate(names):
        s.pasv(hm.SERVER, port0 + i, fname=name, content=b"file %d\n" % i, client_port=20000 + i)
    s.quit()


def test_extract_does_not_follow_symlinks_in_the_output_dir(cli, tmp_path):
    """Links someone left in the output directory (to a directory outside, to a file outside,
    dangling) are never written through."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "f").write_bytes(b"original")
    out = tmp_path / "out"
    out.mkdir()
    (out / "evil").symlink_to(outside)
    (out / "link.txt").symlink_to(outside / "f")
    (out / "dangling").symlink_to(tmp_path / "nowhere")
    cap = tmp_path / "s.pcap"
    names = ["evil/x.txt", "evil/../evil/y.txt", "link.txt", "dangling", "/evil/f"]
    _session_with(cap, names)
    rc, stdout, err = run(cli, "extract", "-o", out, cap)
    assert rc == 0, err
    assert sorted(p.name for p in outside.iterdir()) == ["f"]
    assert (outside / "f").read_bytes() == b"original"
    assert not (tmp_path / "nowhere").exists()
    recs = [json.loads(line) for line in stdout.splitlines()]
    assert len(recs) == len(names)
    for r in recs:
        p = Path(r["extracted"])
        assert out in p.parents and not p.is_symlink(), r
        q = out
        for part in p.relative_to(out).parts[:-1]:
            q = q / part
            assert not q.is_symlink(), q
    got = sorted(Path(r["extracted"]).read_bytes() for r in recs)
    assert got == sorted(b"file %d\n" % i for i in range(len(names)))


def test_extract_hostile_names(cli, tmp_path):
    """Dots, slashes, control characters, names that collide only after cleaning, a file where a
    directory is wanted and back, backslashes: each transfer gets its own file inside DIR."""
    names = [".", "..", "...", "/", "", "a//b", "a/./b", "a/b", "x", "x/y", "y/z", "y",
             "ctl\x01\x1f\x7fname", "ctl___name", "new\nline", "tab\tname", "..\\..\\win.ini",
             "~", "-rf", "UPPER", "upper", "é".encode().decode("latin-1"), ".ftplens-spool-1-1",
             "a" * 600, ("b" * 100 + "/") * 5 + "c"]
    out = tmp_path / "out"
    cap = tmp_path / "s.pcap"
    _session_with(cap, names)
    rc, stdout, err = run(cli, "extract", "-o", out, cap)
    assert rc in (0, 1), err  # 1: e.g. a RETR without a name is an anomaly
    recs = [json.loads(line) for line in stdout.splitlines()]
    assert len(recs) == len(names), recs
    paths = [Path(r["extracted"]) for r in recs]
    assert len(set(paths)) == len(paths), "two transfers share a file"
    for r, p in zip(recs, paths):
        assert out.resolve() in p.resolve().parents, p
        assert len(p.name.encode()) <= 255
    contents = sorted(p.read_bytes() for p in paths)
    assert contents == sorted(b"file %d\n" % i for i in range(len(names)))
    assert not any(n.startswith(".ftplens-spool") for n in os.listdir(out))


def test_extract_many_collisions(cli, tmp_path):
    """300 transfers of one name: 300 files, none overwritten."""
    n = 300
    out = tmp_path / "out"
    cap = tmp_path / "s.pcap"
    _session_with(cap, ["same.txt"] * n, port0=30000)
    rc, stdout, err = run(cli, "extract", "-o", out, cap)
    assert rc == 0, err
    files = sorted(out.iterdir())
    assert len(files) == n
    assert sorted(f.read_bytes() for f in files) == sorted(b"file %d\n" % i for i in range(n))
