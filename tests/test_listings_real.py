"""The listing parser on fresh output of real FTP servers, and on listings in public captures.

tests/captures/listings.py serves one tree of known files (names, sizes, modes, times) with vsftpd,
pyftpdlib, and pure-ftpd and proftpd unpacked from their Debian packages, and saves what LIST, NLST
and MLSD sent. `cargo run --example listing` parses each; every entry must match the tree's facts.
(The committed fixtures in src/parse/listing/testdata/ are the same thing frozen, for `cargo test`.)
The shared corpus adds a vsftpd 3.0.3 LIST from the wild (nDPI's ftp.pcap) and a FileZilla Server
MLSD (chrissanders/wrongdissector.pcapng, FTP on port 443).
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import harness

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "captures"))
import listings  # noqa: E402

TYPES = {"hello.txt": "file", "old.bin": "file", "name with spaces.txt": "file",
         "numeric.dat": "file", "sub": "dir", "link": "link", "null": "other"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("listings.py needs root (a network namespace, a device node, file owners)")
    for tool in ("unshare", "tcpdump", "vsftpd"):
        if not shutil.which(tool):
            pytest.skip("%s is not installed" % tool)
    out = tmp_path_factory.mktemp("listings")
    p = subprocess.run([sys.executable, str(ROOT / "tests/captures/listings.py"), str(out)],
                       capture_output=True, text=True, timeout=180)
    servers = sorted(d.name for d in out.iterdir() if (d / "list.txt").exists())
    if p.returncode == 2 or not servers:
        pytest.skip("no server could be run: %s" % p.stderr.strip())
    # vsftpd and pyftpdlib are always installed; pure-ftpd and proftpd need the Debian mirror.
    assert {"vsftpd", "pyftpdlib"} <= set(servers), p.stderr
    if len(servers) < 4:
        print("listings.py: only %s (%s)" % (servers, p.stderr.strip()))
    return out, servers


def parse(kind: str, path: Path) -> list[dict]:
    subprocess.run(["cargo", "build", "--quiet", "--example", "listing"], cwd=ROOT, check=True)
    p = subprocess.run([str(ROOT / "target/debug/examples/listing"), kind, str(path)],
                       capture_output=True, text=True, check=True, timeout=60)
    return [json.loads(line) for line in p.stdout.splitlines()]


def day(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)


def test_list_is_ls_l(served):
    out, servers = served
    for server in servers:
        entries = parse("LIST", out / server / "list.txt")
        assert all(e["form"] == "unix" for e in entries), (server, entries)
        by_name = {e["name"]: e for e in entries}
        # pure-ftpd leaves the device out of LIST; everything else is there.
        assert set(TYPES) - {"null"} <= set(by_name) <= set(TYPES), (server, sorted(by_name))
        for name, e in by_name.items():
            assert e["type"] == TYPES[name], (server, e)
        assert by_name["link"]["target"] == "hello.txt"
        assert by_name["sub"]["mode"] == 0o755
        for name, size, mode, mtime, _uid in listings.FILES:
            e = by_name[name]
            assert (e["size"], e["mode"]) == (size, mode), (server, e)
            if mtime is not None:  # older than six months: `ls -l` gives the day and the year
                assert e["modify"] == day(mtime).strftime("%Y-%m-%d"), (server, e)
            else:  # recent: month, day, hour, minute, no year
                assert e["modify"].startswith("--"), (server, e)


def test_nlst_names(served):
    out, servers = served
    for server in servers:
        names = {e["name"] for e in parse("NLST", out / server / "nlst.txt")}
        assert names - {".", ".."} == set(TYPES), (server, names)


def test_mlsd_facts(served):
    out, servers = served
    mlsd = [s for s in servers if (out / s / "mlsd.txt").exists()]
    assert "pyftpdlib" in mlsd and "vsftpd" not in mlsd  # vsftpd has no MLSD (500)
    for server in mlsd:
        entries = parse("MLSD", out / server / "mlsd.txt")
        assert all(e["form"] == "mlsd" for e in entries), (server, entries)
        by_name = {e["name"]: e for e in entries}
        assert set(TYPES) <= set(by_name) <= set(TYPES) | {".", ".."}, (server, sorted(by_name))
        assert by_name["sub"]["type"] == "dir"
        for name, size, _mode, mtime, _uid in listings.FILES:
            e = by_name[name]
            assert (e["type"], e["size"]) == ("file", size), (server, e)
            if mtime is not None:  # RFC 3659 2.3: UTC, to the second
                assert e["modify"] == day(mtime).strftime("%Y-%m-%dT%H:%M:%SZ"), (server, e)


def test_corpus_listings(corpus_dir, tmp_path):
    # nDPI's ftp.pcap: an anonymous vsftpd 3.0.3 session; TCP stream 1 is its LIST. The test
    # files are named by their size (1000GB.zip is 1000 * 2**30 bytes: past 32 bits).
    data = harness.stream_payload(corpus_dir / "ndpi" / "ftp.pcap", "tcp.stream == 1")
    (tmp_path / "list.txt").write_bytes(data)
    entries = parse("LIST", tmp_path / "list.txt")
    assert len(entries) == 18 and all(e["form"] == "unix" for e in entries)
    by_name = {e["name"]: e for e in entries}
    units = {"KB": 2**10, "MB": 2**20, "GB": 2**30}
    for name, e in by_name.items():
        if name.endswith(".zip"):
            n, unit = int(name[:-6]), name[-6:-4]
            assert (e["type"], e["size"], e["modify"]) == ("file", n * units[unit], "2016-02-19")
    assert by_name["upload"]["type"] == "dir" and by_name["upload"]["modify"] == "--03-14T20:03"
    # FileZilla Server 0.9.33 on port 443: MLSD of a directory holding one directory.
    data = harness.stream_payload(corpus_dir / "chrissanders" / "wrongdissector.pcapng",
                                  "tcp.stream == 1")
    (tmp_path / "mlsd.txt").write_bytes(data)
    assert parse("MLSD", tmp_path / "mlsd.txt") == [{
        "form": "mlsd", "name": "wmiislog", "type": "dir", "size": None,
        "modify": "2009-02-10T02:06:06Z", "perm": None, "mode": None, "target": None}]
