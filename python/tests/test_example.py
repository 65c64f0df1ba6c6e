"""examples/pcap_logins.py on generated captures (pcap and pcapng), cross-checked with dpkt."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import pcapgen

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "pcap_logins.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pcap_logins", EXAMPLE)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["pcap_logins"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


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
    assert login.startswith("login ")
    assert "192.168.1.106 -> 192.168.1.109:21" in login
    assert "user=ftpuser password=s3cret" in login and login.endswith("success")
    assert transfer.startswith("transfer ")
    assert "RETR readme.txt" in transfer
    assert "PASV 192.168.1.109:26758 (104*256+134)" in transfer
    assert transfer.endswith("complete  1024 bytes")


def test_heuristic_port_ipv6_failed_login_and_epsv(tmp_path: Path) -> None:
    path = tmp_path / "v6.pcap"
    path.write_bytes(pcapgen.failed_login_capture().pcap())
    out = run(path)
    logins = [line for line in out.splitlines() if line.startswith("login")]
    assert len(logins) == 2, out
    assert "user=bob password=nope  failure" in logins[0]
    assert "[2001:db8::9]:2121" in logins[0]
    assert "user=anonymous password=guest@example.org  success  (anonymous)" in logins[1]
    (transfer,) = [line for line in out.splitlines() if line.startswith("transfer")]
    assert " LIST " in transfer and " EPSV " in transfer
    assert transfer.endswith("complete  %d bytes" % len(b"-rw-r--r-- 1 ftp ftp 4 Jan 1 00:00 a.txt\r\n"))


def test_not_a_capture(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pcap"
    bad.write_bytes(b"this is not a capture file at all")
    proc = subprocess.run([sys.executable, str(EXAMPLE), str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "not a pcap" in proc.stderr


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_reader_agrees_with_dpkt(tmp_path: Path, fmt: str) -> None:
    dpkt = pytest.importorskip("dpkt")
    example = load_example()
    cap = pcapgen.seed_capture()
    path = tmp_path / ("seed." + fmt)
    path.write_bytes(cap.pcap() if fmt == "pcap" else cap.pcapng())
    with open(path, "rb") as f:
        ours = [(p.ts, p.data) for p in example.read_packets(f)]
    with open(path, "rb") as f:
        reader = dpkt.pcap.Reader(f) if fmt == "pcap" else dpkt.pcapng.Reader(f)
        theirs = [(ts, bytes(buf)) for ts, buf in reader]
    assert len(ours) == len(theirs) == len(cap.frames)
    for (t1, d1), (t2, d2) in zip(ours, theirs):
        assert d1 == d2
        assert t1 == pytest.approx(float(t2), abs=1e-6)
    # And the TCP decoding agrees with dpkt's for every frame.
    for _, data in theirs:
        seg = example.decode(example.Packet(0, 0.0, 1, data))
        eth = dpkt.ethernet.Ethernet(data)
        tcp = eth.data.data
        assert seg is not None
        assert (seg.src[1], seg.dst[1], seg.seq, seg.flags, seg.payload) == (
            tcp.sport, tcp.dport, tcp.seq, tcp.flags, bytes(tcp.data)
        )


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
    assert transfer.endswith("complete  %d bytes" % t["size"])
