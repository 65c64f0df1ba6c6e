"""examples/pcap_logins.py on generated captures (pcap and pcapng) and the bundled sample."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

import ftplens
import pcapgen

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pcap_logins.py"


def run(*paths: Path) -> str:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), *map(str, paths)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_seed_capture(tmp_path: Path, fmt: str) -> None:
    cap = pcapgen.seed_capture()
    path = tmp_path / ("seed." + fmt)
    path.write_bytes(cap.pcap() if fmt == "pcap" else cap.pcapng())
    lines = run(path).splitlines()
    assert len(lines) == 2, lines
    login, transfer = lines
    assert login == "login    192.168.1.106 -> 192.168.1.109:21  user=ftpuser password=s3cret  success"
    assert transfer.startswith("transfer RETR readme.txt  PASV 192.168.1.109:26758  complete  1024 bytes")
    served = bytes(i % 251 for i in range(1024))  # what seed_capture sends on the data connection
    assert transfer.endswith("sha256=" + hashlib.sha256(served).hexdigest())


def test_heuristic_port_ipv6_failed_login_and_epsv(tmp_path: Path) -> None:
    path = tmp_path / "v6.pcap"
    path.write_bytes(pcapgen.failed_login_capture().pcap())
    out = run(path)
    logins = [line for line in out.splitlines() if line.startswith("login")]
    assert len(logins) == 2, out
    assert "user=bob password=nope  failure" in logins[0]
    assert "[2001:db8::9]:2121" in logins[0]
    assert "user=anonymous password=guest@example.org  success" in logins[1]
    (transfer,) = [line for line in out.splitlines() if line.startswith("transfer")]
    assert transfer.startswith("transfer LIST ") and " EPSV " in transfer
    assert "complete  %d bytes" % len(b"-rw-r--r-- 1 ftp ftp 4 Jan 1 00:00 a.txt\r\n") in transfer


def test_not_a_capture(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"this is not a capture file at all")
    proc = subprocess.run([sys.executable, str(EXAMPLE), str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "not a pcap" in proc.stderr


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_the_core_reads_every_frame_dpkt_reads(tmp_path: Path, fmt: str) -> None:
    """The analyser's frame count for a generated capture is dpkt's, an independent reader."""
    dpkt = pytest.importorskip("dpkt")
    cap = pcapgen.seed_capture()
    path = tmp_path / ("seed." + fmt)
    path.write_bytes(cap.pcap() if fmt == "pcap" else cap.pcapng())
    analysis = ftplens.analyze(path)
    list(analysis)
    with open(path, "rb") as f:
        reader = dpkt.pcap.Reader(f) if fmt == "pcap" else dpkt.pcapng.Reader(f)
        frames = sum(1 for _ in reader)
    assert analysis.reports[0]["frames"] == frames == len(cap.frames)


def test_real_seed_sample() -> None:
    """samples/seed-pasv.pcap: the seed session captured from pyftpdlib and ftplib (in a clone only)."""
    sample = Path(__file__).resolve().parents[2] / "samples" / "seed-pasv.pcap"
    if not sample.is_file():
        pytest.skip("samples/seed-pasv.pcap is not there (not a clone of the repository)")
    import json

    facts = json.loads(sample.with_name("seed-pasv.facts.json").read_text())
    lines = run(sample).splitlines()
    login, transfer = lines
    assert "user=%s password=%s  success" % (facts["user"], facts["password"]) in login
    t = facts["transfers"][0]
    assert "%s %s" % (t["command"], t["file"]) in transfer
    assert "%s:%d" % (t["advertised"]["ip"], t["advertised"]["port"]) in transfer
    assert "complete  %d bytes  sha256=%s" % (t["size"], t["sha256"]) in transfer
