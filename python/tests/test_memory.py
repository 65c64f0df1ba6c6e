"""Memory: a million parse_line calls (and many session feeds) leave the resident size flat."""

from __future__ import annotations

import gc
import os
import sys

import pytest

import ftplens

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc/self/statm")

PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss() -> int:
    """Resident set size in bytes, from /proc/self/statm (second field, in pages)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE


LINES = [
    b"227 Entering Passive Mode (192,168,1,109,104,134).\r\n",
    b"PORT 192,168,1,106,224,89\r\n",
    b"EPRT |2|1080::8:800:200C:417A|5282|\r\n",
    b"229 Entering Extended Passive Mode (|||6446|)\r\n",
    b"LPRT 4,4,1,2,3,999,2,1,1\r\n",  # an address error
    b"RETR /pub/some file.txt\r\n",
]


def test_million_parse_line_calls_leave_rss_flat() -> None:
    parse = ftplens.parse_line
    bad = b"\x00\xff not ftp"
    # Warm up: let the allocator, the caches and the interpreter reach their steady state.
    for _ in range(50_000):
        for line in LINES:
            parse(line)
    gc.collect()
    before = rss()
    n = 0
    for _ in range(1_000_000 // (len(LINES) + 1) + 1):
        for line in LINES:
            parse(line)
        try:
            parse(bad)
        except ftplens.ParseError:
            pass
        n += len(LINES) + 1
    gc.collect()
    growth = rss() - before
    print("parse_line x %d: RSS %+d KiB" % (n, growth // 1024), file=sys.stderr)
    assert n >= 1_000_000
    # A leak of even 8 bytes per call would be 8 MB; allow allocator noise only.
    assert growth < 4 * 1024 * 1024, "RSS grew by %d KiB over %d calls" % (growth // 1024, n)


def test_sessions_do_not_leak() -> None:
    from conftest import CLIENT, SERVER, run_seed

    def batch(k: int) -> None:
        for _ in range(k):
            with ftplens.Session(client=CLIENT, server=SERVER) as s:
                run_seed(s)
                s.items()

    batch(2_000)
    gc.collect()
    before = rss()
    batch(20_000)
    gc.collect()
    growth = rss() - before
    print("20000 seed sessions: RSS %+d KiB" % (growth // 1024), file=sys.stderr)
    assert growth < 4 * 1024 * 1024, "RSS grew by %d KiB" % (growth // 1024)
