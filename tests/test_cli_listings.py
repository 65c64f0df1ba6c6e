"""`ftplens log` puts a listing's entries on its transfer record, checked on real servers' sessions.

src/parse/listing/testdata/<server>/session.pcap are tcpdump recordings of
tests/captures/listings.py serving one tree of known files (names, sizes, types, times: the
script's docstring and FILES) with vsftpd, pyftpdlib, pure-ftpd and proftpd. The LIST and MLSD
transfers' `listing` must give back that tree.
"""
from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "captures"))
import listings  # noqa: E402

TESTDATA = ROOT / "src" / "parse" / "listing" / "testdata"
SERVERS = ["vsftpd", "pyftpdlib", "pure-ftpd", "proftpd"]
TYPES = {"hello.txt": "file", "old.bin": "file", "name with spaces.txt": "file",
         "numeric.dat": "file", "sub": "dir", "link": "link", "null": "other"}


@pytest.fixture(scope="module")
def ftplens_bin():
    env = os.environ.get("FTPLENS_BIN")
    if env:
        return env
    subprocess.run(["cargo", "build", "--quiet", "--bin", "ftplens"], cwd=ROOT, check=True)
    return str(ROOT / "target" / "debug" / "ftplens")


def transfers(binary: str, server: str) -> dict:
    """The server's transfer records, by command."""
    p = subprocess.run([binary, "log", str(TESTDATA / server / "session.pcap")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode in (0, 1), p.stderr  # 1: vsftpd's MLSD refusal is an anomaly
    recs = [json.loads(line) for line in p.stdout.splitlines()]
    assert not [r for r in recs if r.get("name") == "listing_cap"]
    return {r["command"]: r for r in recs if r["type"] == "transfer"}


def day(ts: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)


@pytest.mark.parametrize("server", SERVERS)
def test_list_entries_are_the_served_tree(ftplens_bin, server):
    t = transfers(ftplens_bin, server)["LIST"]
    by_name = {e["name"]: e for e in t["listing"]}
    assert len(by_name) == len(t["listing"])
    # pure-ftpd leaves the device out of LIST; everything else is there.
    assert set(TYPES) - {"null"} <= set(by_name) <= set(TYPES), (server, sorted(by_name))
    for name, e in by_name.items():
        assert e["type"] == TYPES[name], (server, e)
    assert by_name["link"]["target"] == "hello.txt"
    assert by_name["link"]["size"] == len("hello.txt")  # a symbolic link's size is its target's
    for name, size, _mode, mtime, _uid in listings.FILES:
        e = by_name[name]
        assert e["size"] == size, (server, e)
        assert "target" not in e
        if mtime is not None:  # older than six months: `ls -l` gives the day and the year
            assert e["modify"] == day(mtime).strftime("%Y-%m-%d"), (server, e)


@pytest.mark.parametrize("server", SERVERS)
def test_mlsd_entries_are_the_served_tree(ftplens_bin, server):
    t = transfers(ftplens_bin, server)["MLSD"]
    if server == "vsftpd":  # vsftpd has no MLSD: 500, no data, no listing
        assert t["reply_code"] == 500 and "listing" not in t
        return
    by_name = {e["name"]: e for e in t["listing"]}
    assert set(TYPES) <= set(by_name) <= set(TYPES) | {".", ".."}, (server, sorted(by_name))
    assert by_name["sub"]["type"] == "dir"
    for name, size, _mode, mtime, _uid in listings.FILES:
        e = by_name[name]
        assert (e["type"], e["size"]) == ("file", size), (server, e)
        if mtime is not None:  # RFC 3659 2.3: UTC, to the second
            assert e["modify"] == day(mtime).strftime("%Y-%m-%dT%H:%M:%SZ"), (server, e)


def test_nlst_gives_names_only(ftplens_bin):
    t = transfers(ftplens_bin, "proftpd")["NLST"]
    assert {e["name"] for e in t["listing"]} == set(TYPES)
    assert all(e == {"name": e["name"], "type": "unknown"} for e in t["listing"])


def test_a_file_download_has_no_listing(ftplens_bin):
    # Only LIST, NLST and MLSD data is parsed as a listing.
    for server in SERVERS:
        for command, r in transfers(ftplens_bin, server).items():
            assert ("listing" in r) == (command in ("LIST", "NLST", "MLSD") and r["bytes"] > 0)
