"""The C plugin on TCP's rough edges: retransmitted and overlapping segments, and the export size cap.

The captures are written here with the hand-made capture writer (tests/captures/handmade.py), then
edited at the packet level: a segment sent twice, a segment that overlaps the next one.
"""

import hashlib
import importlib.util
import os
import struct
from pathlib import Path

import pytest

from test_plugin_tshark import ROOT, tshark, values  # noqa: F401  (tshark is the shared fixture)

CLIENT, SERVER = "192.0.2.10", "198.51.100.7"


def _handmade():
    spec = importlib.util.spec_from_file_location("ftplens_handmade", ROOT / "tests/captures/handmade.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _session(path: Path, content: bytes, fname="big.bin"):
    hm = _handmade()
    s = hm.Session("edge", str(path), (CLIENT, 40200), (SERVER, 21), "edge")
    s.open()
    s.login()
    s.pasv(SERVER, 40100, fname=fname, content=content)
    return s.quit()


# ------------------------------------------------------------------------------------------ pcap editing


def _read(path):
    b = Path(path).read_bytes()
    hdr, off, recs = b[:24], 24, []
    while off < len(b):
        incl = struct.unpack("<I", b[off + 8:off + 12])[0]
        recs.append(b[off:off + 16 + incl])
        off += 16 + incl
    return hdr, recs


def _write(path, hdr, recs):
    Path(path).write_bytes(hdr + b"".join(recs))


def _tcp(rec):
    """(seq, payload, ip header offset) of an Ethernet/IPv4/TCP record."""
    ip = 16 + 14
    ihl = (rec[ip] & 0x0F) * 4
    tcp = ip + ihl
    doff = (rec[tcp + 12] >> 4) * 4
    return struct.unpack(">I", rec[tcp + 4:tcp + 8])[0], rec[tcp + doff:], ip, tcp + doff


def _with_payload(rec, seq, payload):
    """A copy of rec carrying payload at seq (checksums are not checked by tshark by default)."""
    _, _, ip, start = _tcp(rec)
    body = bytearray(rec[16:start] + payload)
    tcp = ip - 16 + (body[ip - 16] & 0x0F) * 4
    struct.pack_into(">I", body, tcp + 4, seq)
    struct.pack_into(">H", body, ip - 16 + 2, len(body) - 14)  # IPv4 total length
    n = len(body)
    return rec[:8] + struct.pack("<II", n, n) + bytes(body)


def _data_frames(recs, port):
    out = []
    for i, r in enumerate(recs):
        seq, payload, ip, _ = _tcp(r)
        tcp = ip + (r[ip] & 0x0F) * 4
        sport = struct.unpack(">H", r[tcp:tcp + 2])[0]
        if sport == port and payload:
            out.append(i)
    return out


def _export(tshark, pcap, extra=()):
    out = tshark.outdir("eo-edge")
    tshark.run(["-n", "-r", tshark.readable(pcap), "-q", *extra, "--export-objects", f"ftplens,{out}"])
    return {p.name: p.read_bytes() for p in out.iterdir()}


# ------------------------------------------------------------------------------------------ tests


# tshark 4.0 defaults to tcp.no_subdissector_on_error: TRUE, so TCP itself keeps retransmitted and
# out-of-order segments from ftplens-data (and so loses the new bytes of a segment that only partly
# overlaps). With it FALSE every segment reaches the plugin, whose own sequence tracking drops what it
# has already exported.
SUBDISSECT_ALL = ["-o", "tcp.no_subdissector_on_error:FALSE"]


@pytest.fixture
def big(tmp_path):
    content = hashlib.sha256(b"seed").digest() * (7 * 1460 // 32 + 3)  # several segments
    pcap = tmp_path / "edge.pcap"
    _session(pcap, content)
    return pcap, content


@pytest.mark.parametrize("prefs", [[], SUBDISSECT_ALL], ids=["default", "no_subdissector_on_error-off"])
def test_control_retransmission_is_fed_once(tshark, big, tmp_path, prefs):
    """TCP reassembly (which the control dissector asks for) never hands the same bytes twice."""
    pcap, _ = big
    hdr, recs = _read(pcap)
    user = next(i for i, r in enumerate(recs) if _tcp(r)[1].startswith(b"USER "))
    edited = tmp_path / "dup-user.pcap"
    _write(edited, hdr, recs[:user + 2] + [recs[user]] + recs[user + 2:])
    rows = tshark.fields(edited, ["ftplens.request.command", "ftplens.anomaly"], extra=prefs)
    assert values(rows, "ftplens.request.command") == ["USER", "PASS", "PASV", "RETR", "QUIT"]
    assert "unmatched_reply" not in values(rows, "ftplens.anomaly")


@pytest.mark.parametrize("prefs", [[], SUBDISSECT_ALL], ids=["default", "no_subdissector_on_error-off"])
def test_data_retransmission_is_exported_once(tshark, big, tmp_path, prefs):
    pcap, content = big
    hdr, recs = _read(pcap)
    frames = _data_frames(recs, 40100)
    assert len(frames) >= 3
    i = frames[1]
    edited = tmp_path / "dup-data.pcap"
    _write(edited, hdr, recs[:i + 1] + [recs[i]] + recs[i + 1:])
    assert _export(tshark, edited, prefs) == {"big.bin": content}


def test_overlapping_data_segment_is_exported_once(tshark, big, tmp_path):
    """A segment that repeats the end of one segment and carries the start of the next (every segment
    reaches the plugin: see SUBDISSECT_ALL)."""
    pcap, content = big
    hdr, recs = _read(pcap)
    frames = _data_frames(recs, 40100)
    i, j = frames[1], frames[2]
    seq_i, pay_i, _, _ = _tcp(recs[i])
    _, pay_j, _, _ = _tcp(recs[j])
    half = len(pay_i) // 2
    overlap = _with_payload(recs[i], seq_i + half, pay_i[half:] + pay_j[:len(pay_j) // 2])
    edited = tmp_path / "overlap.pcap"
    _write(edited, hdr, recs[:i + 1] + [overlap] + recs[i + 1:])
    assert _export(tshark, edited, SUBDISSECT_ALL) == {"big.bin": content}


def test_export_size_cap(tshark, tmp_path):
    """export_max_mib caps each exported file (the default is 64 MiB; 1 MiB here)."""
    content = os.urandom(1024 * 1024 + 5000)
    pcap = tmp_path / "large.pcap"
    _session(pcap, content, fname="large.bin")
    assert _export(tshark, pcap) == {"large.bin": content}
    capped = _export(tshark, pcap, ["-o", "ftplens.export_max_mib:1"])
    assert capped == {"large.bin": content[:1024 * 1024]}


# ------------------------------------------------------------------------------------------ capture end


def _endless_download(path: Path):
    """PASV, RETR, then a data connection that the capture ends in the middle of (no FIN, no 226)."""
    spec = importlib.util.spec_from_file_location("ftplens_hostile_gen", ROOT / "tests/hostile/gen.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    gen.generate("endless_data", 64 * 1024, str(path))
    os.chmod(path, 0o644)
    return path


def test_transfer_open_at_capture_end_has_outcome_unknown(tshark, tmp_path):
    """After the first pass every session is finished: a transfer still running when the capture
    stops shows the outcome "unknown" on its data packets and on the session's last control frame,
    with no end frame (there is no final reply)."""
    pcap = _endless_download(tmp_path / "endless.pcap")
    rows = tshark.fields(pcap, ["ftplens-data.command", "ftplens-data.outcome", "ftplens-data.end_frame",
                                "ftplens.transfer.outcome", "ftplens.transfer.file"])
    data = [r for r in rows if r["ftplens-data.command"]]
    assert len(data) > 40
    assert all(r["ftplens-data.outcome"] == ["unknown"] for r in data)
    assert not values(data, "ftplens-data.end_frame")
    ended = [(r["ftplens.transfer.file"], r["ftplens.transfer.outcome"]) for r in rows
             if r["ftplens.transfer.outcome"]]
    assert ended == [(["endless.bin"], ["unknown"])]
    # One pass cannot know it yet: the outcome appears only when the capture has been read.
    one = tshark.fields(pcap, ["ftplens-data.outcome"], two_pass=False)
    assert not values(one, "ftplens-data.outcome")
