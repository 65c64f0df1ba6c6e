"""`ftplens log --format zeek -o DIR`: ftp.log and files.log read back by a Zeek-log reader from
PyPI (parsezeeklogs), with headers and columns compared to the logs Zeek itself wrote for the same
captures (the Zeek test-suite baselines in the shared corpus), and files.log digests compared to
hashlib over the data connections' bytes as dpkt reassembles them."""
from __future__ import annotations

import hashlib
import socket
import subprocess
from pathlib import Path

import dpkt
import parsezeeklogs
import pytest

from test_cli_real import ftplens_bin  # noqa: F401  (the fixture)

BASELINE = "baselines/scripts.base.protocols.ftp.{}/ftp.log"


def zeek_logs(binary, capture, out: Path, *extra):
    p = subprocess.run([binary, "log", "--format", "zeek", "-o", str(out), str(capture), *extra],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode in (0, 1), p.stderr
    assert p.stdout == ""
    return out / "ftp.log", out / "files.log"


def header_lines(path: Path) -> dict[str, str]:
    """#name -> the rest of the line, for the header lines that do not vary between runs."""
    out = {}
    for line in path.read_text().splitlines():
        if line.startswith("#") and not line.startswith(("#open", "#close")):
            key, _, rest = line.partition("\t") if "\t" in line else line.partition(" ")
            out[key] = rest
    return out


def rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()
            if line and not line.startswith("#")]


def same_uids(ours: list[str], theirs: list[str], seen: dict):
    """Zeek's uids are random: each of ours must stand for one of theirs, one to one."""
    for a, b in zip(ours, theirs):
        if a == "-" or b == "-":
            assert a == b
        else:
            assert seen.setdefault(a, b) == b
    assert len(set(seen.values())) == len(seen)


def compare(ours_path: Path, zeek_path: Path, skip_columns=(), skip_rows=()):
    assert header_lines(ours_path) == {k: v for k, v in header_lines(zeek_path).items()
                                       if not k.startswith("###")}
    fields = header_lines(zeek_path)["#fields"].split("\t")
    ours, theirs = rows(ours_path), rows(zeek_path)
    assert len(ours) == len(theirs)
    uids: dict = {}
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if i in skip_rows:
            continue
        for name, x, y in zip(fields, a, b):
            if name == "ts" or name in skip_columns:
                continue  # the baselines mask times
            if name in ("uid", "fuid"):
                same_uids([x], [y], uids)
            else:
                assert x == y, (zeek_path.parent.name, i, name, x, y)


@pytest.mark.parametrize("baseline,capture", [
    ("ftp-ipv4", "ipv4.pcap"),
    ("ftp-get-file-size", "ftp-with-numbers-in-filename.pcap"),
])
def test_ftp_log_equals_zeeks(ftplens_bin, corpus_dir, tmp_path, baseline, capture):
    ftp_log, _ = zeek_logs(ftplens_bin, corpus_dir / "zeek" / capture, tmp_path)
    compare(ftp_log, corpus_dir / "zeek" / BASELINE.format(baseline))


def test_ftp_log_ipv6(ftplens_bin, corpus_dir, tmp_path):
    """Zeek's baseline has no MIME type on the two RETRs although both data connections are in
    the capture; ours sniffs text/plain from their bytes (robots.txt). Every other column equals."""
    ftp_log, files_log = zeek_logs(ftplens_bin, corpus_dir / "zeek" / "ipv6.pcap", tmp_path)
    compare(ftp_log, corpus_dir / "zeek" / BASELINE.format("ftp-ipv6"), skip_columns={"mime_type"})
    retr = [r for r in parsezeeklogs.read_zeek(ftp_log) if r["command"] == "RETR"]
    assert [r["mime_type"] for r in retr] == ["text/plain", "text/plain"]
    assert [r["arg"] for r in retr] == ["ftp://[2001:470:4867:99::21]/robots.txt"] * 2


def test_ftp_log_working_directory_over_689_transfers(ftplens_bin, corpus_dir, tmp_path):
    """cwd-navigation: 1,375 rows whose RETR URLs follow Zeek's working-directory rule through
    CWD up and down. Two rows differ, where Zeek's own pairing gave a PASV the 226 of the RETR
    before it (its replies and ours are in the capture: the 227 is the PASV's reply)."""
    ftp_log, _ = zeek_logs(ftplens_bin, corpus_dir / "zeek" / "cwd-navigation.pcap", tmp_path)
    zeek = corpus_dir / "zeek" / BASELINE.format("cwd-navigation")
    odd = [i for i, r in enumerate(rows(zeek)) if r[8] == "PASV" and r[12] == "226"]
    assert len(odd) == 2
    compare(ftp_log, zeek, skip_rows=set(odd))
    for i in odd:
        assert rows(ftp_log)[i][12] == "227"


def test_files_log_against_zeeks_large_file_baseline(ftplens_bin, corpus_dir, tmp_path):
    """bigtransfer.pcap: a 5.4 GB RETR captured with deliberate gaps. Zeek's baseline comes from
    a test that swaps the hash analyzers for a DATA_EVENT one and sets local_orig, so those two
    columns and the digests are not compared; total_bytes is ours from the 150 reply (Zeek's
    FTP scripts leave it unset); duration is measured to the last packet (Zeek: to its last file
    event), within 10 ms."""
    _, files_log = zeek_logs(ftplens_bin, corpus_dir / "zeek" / "bigtransfer.pcap", tmp_path)
    zeek = corpus_dir / "zeek" / "baselines/core.tcp.large-file-reassembly/files.log"
    skip = {"analyzers", "local_orig", "md5", "sha1", "sha256", "total_bytes", "duration"}
    compare(files_log, zeek, skip_columns=skip)
    ours = list(parsezeeklogs.read_zeek(files_log))
    theirs = list(parsezeeklogs.read_zeek(zeek))
    for a, b in zip(ours, theirs):
        assert abs(a["duration"] - b["duration"]) < 0.01
    assert ours[1]["missing_bytes"] == 5416642848 and ours[1]["total_bytes"] == 5416666670


def data_bytes(pcap: Path, src: str, sport: int, dst: str, dport: int) -> bytes:
    """The payload one side sent on one TCP connection, in sequence order, each byte once."""
    segments = {}
    with open(pcap, "rb") as f:
        for _, buf in dpkt.pcap.Reader(f):
            ip = dpkt.ethernet.Ethernet(buf).data
            if not isinstance(ip.data, dpkt.tcp.TCP):
                continue
            tcp = ip.data
            fam = socket.AF_INET6 if isinstance(ip, dpkt.ip6.IP6) else socket.AF_INET
            if (socket.inet_ntop(fam, ip.src), tcp.sport, socket.inet_ntop(fam, ip.dst),
                    tcp.dport) == (src, sport, dst, dport) and tcp.data:
                segments[tcp.seq] = bytes(tcp.data)
    out = b""
    for seq in sorted(segments):
        out += segments[seq]
    return out


def test_zeek_reader_reads_both_logs_with_their_types(ftplens_bin, corpus_dir, tmp_path):
    capture = corpus_dir / "zeek" / "ipv4.pcap"
    ftp_log, files_log = zeek_logs(ftplens_bin, capture, tmp_path, "--hash", "md5,sha1,sha256")
    log = parsezeeklogs.ZeekLog(ftp_log)
    ftp = list(log.records())
    header = log.header
    assert (header.separator, header.set_separator, header.empty_field, header.unset_field,
            header.path) == ("\t", ",", "(empty)", "-", "ftp")
    assert {"open", "close"} <= header.directives.keys()
    assert [r["command"] for r in ftp] == ["PASV", "PASV", "RETR", "PORT", "PORT", "RETR"]
    assert ftp[0]["data_channel.passive"] is True and ftp[3]["data_channel.passive"] is False
    assert ftp[0]["data_channel.resp_p"] == 56666 and isinstance(ftp[0]["ts"], float)
    assert ftp[2]["file_size"] == 77 and ftp[2]["password"] == "test"  # anonymous: logged
    files = list(parsezeeklogs.read_zeek(files_log))
    assert len(files) == 4
    fuids = {r["fuid"] for r in files}
    assert {r["fuid"] for r in ftp if r["fuid"]} <= fuids
    for r in files:
        assert sorted(r["analyzers"]) == ["MD5", "SHA1", "SHA256"]
        sender = (r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"])
        if not r["is_orig"]:
            sender = (sender[2], sender[3], sender[0], sender[1])
        data = data_bytes(capture, *sender)
        assert len(data) == r["seen_bytes"]
        assert r["md5"] == hashlib.md5(data).hexdigest()
        assert r["sha1"] == hashlib.sha1(data).hexdigest()
        assert r["sha256"] == hashlib.sha256(data).hexdigest()


def test_password_hidden_unless_a_guest(ftplens_bin, seed_capture, tmp_path):
    """The bundled session logs in as alice (not one of Zeek's guest ids)."""
    ftp_log, _ = zeek_logs(ftplens_bin, seed_capture["path"], tmp_path)
    recs = list(parsezeeklogs.read_zeek(ftp_log))
    assert recs and all(r["password"] == "<hidden>" and r["user"] == "alice" for r in recs)


def test_usage(ftplens_bin, seed_capture, tmp_path):
    for args, why in ((["--format", "zeek"], "--output"), (["-o", str(tmp_path)], "--format zeek")):
        p = subprocess.run([ftplens_bin, "log", *args, seed_capture["path"]],
                           capture_output=True, text=True)
        assert p.returncode == 2 and why in p.stderr, p.stderr
