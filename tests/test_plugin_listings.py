"""Directory listings in Wireshark, with the C plugin and the Lua fallback, on real captures of four
servers (vsftpd, pyftpdlib, Pure-FTPd and ProFTPD serving one tree; tests/captures/listings.py
made them): every entry is an item of the data tree, and Export Objects lists the listings when
asked.

What is expected comes from the servers, not from ftplens: the names each server gave for NLST
(`nlst.txt`, the data connection's bytes as captured), and the bytes of its LIST answer
(`list.txt`).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import pytest

from harness import ROOT, run_tshark, tshark_available, tshark_fields
from test_presenter_defects import _install

pytestmark = pytest.mark.skipif(
    not (tshark_available() and shutil.which("make") and shutil.which("cargo") and shutil.which("setpriv")),
    reason="needs tshark, libwireshark-dev, cargo, make and setpriv")

TESTDATA = ROOT / "src" / "parse" / "listing" / "testdata"
SERVERS = ["vsftpd", "pyftpdlib", "pure-ftpd", "proftpd"]


@pytest.fixture(scope="module", params=["c", "lua"])
def presenter(request):
    return request.param, _install(request.param)


@pytest.fixture(scope="module")
def captures():
    """Each server's session capture, copied where the unprivileged tshark can read it."""
    work = Path(tempfile.mkdtemp(prefix="ftplens-listings-"))
    os.chmod(work, 0o755)
    out = {}
    for s in SERVERS:
        dst = work / (s + ".pcap")
        shutil.copyfile(TESTDATA / s / "session.pcap", dst)
        os.chmod(dst, 0o644)
        out[s] = dst
    yield out
    shutil.rmtree(work, ignore_errors=True)


def _names(path: Path) -> list[str]:
    return [n for n in path.read_text().splitlines() if n]


@pytest.mark.parametrize("server", SERVERS)
def test_every_listed_name_is_an_item(presenter, captures, server):
    """The NLST data connection's entries are the names the server sent, in its order; another data
    connection's (the LIST's) entries hold every one of them that the server's LIST lines name; the
    512-byte hello.txt has its size."""
    _, home = presenter
    rows = tshark_fields(captures[server], ["tcp.stream", "ftplens-data.listing.name",
                                            "ftplens-data.listing.size"],
                         home=home, aggregator="\x1f", display_filter="ftplens-data.listing")
    by_stream: dict[str, list[str]] = {}
    for r in rows:
        by_stream.setdefault(r["tcp.stream"], []).extend(
            n for n in r["ftplens-data.listing.name"].split("\x1f") if n)
    nlst = _names(TESTDATA / server / "nlst.txt")
    streams = list(by_stream.values())
    assert nlst in streams, (server, by_stream)
    # The names of the LIST answer: those NLST names its lines end with (or link from).
    lines = (TESTDATA / server / "list.txt").read_text().splitlines()
    listed = {n for n in nlst if any(l.endswith(" " + n) or (" %s -> " % n) in l for l in lines)}
    assert listed, server
    others = [names for i, names in enumerate(streams) if i != streams.index(nlst)]
    assert any(listed <= set(names) for names in others), (server, listed, by_stream)
    sizes = {s for r in rows for s in r["ftplens-data.listing.size"].split("\x1f")}
    assert "512" in sizes


def test_listings_in_export_objects_when_asked(presenter, captures, tmp_path):
    """With ftplens.export_listings on, Export Objects also saves each listing, named as a listing
    (never as the directory), with the bytes the server sent; off (the default), only files."""
    kind, home = presenter
    if kind == "lua":
        pytest.skip("Wireshark's Lua API cannot register Export Objects (README: the Lua fallback)")
    pcap = captures["vsftpd"]
    got = {}
    for on in (False, True):
        out = Path(tempfile.mkdtemp(prefix="ftplens-eo-listings-"))
        os.chmod(out, 0o777)
        try:
            args = ["-n", "-q", "--export-objects", "ftplens,%s" % out]
            if on:
                args = ["-o", "ftplens.export_listings:TRUE"] + args
            run_tshark(pcap, args, home=home, check=True)
            got[on] = {p.name: p.read_bytes() for p in out.iterdir()}
        finally:
            shutil.rmtree(out, ignore_errors=True)
    assert not [n for n in got[False] if n.endswith(".listing")]
    listings = {n: b for n, b in got[True].items() if n.endswith(".listing")}
    assert (TESTDATA / "vsftpd" / "list.txt").read_bytes() in listings.values()
    assert (TESTDATA / "vsftpd" / "nlst.txt").read_bytes() in listings.values()
