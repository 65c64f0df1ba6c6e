#!/usr/bin/env python3
"""Seed the fuzz targets from real captures.

    python3 fuzz/make_seeds.py [--corpus DIR] [--out fuzz/corpus] [--seeds fuzz/seeds]

tshark (the built-in ftp dissector, ports 21 and 2121 decoded as FTP) pulls the control-connection
payloads out of every capture under the corpus directories (default: ../shared/corpus, samples/ and
tests/captures/handmade/). From them:

- command, reply: every distinct client and server line;
- addr_*: every distinct PORT/EPRT/LPRT argument and 227/228/229 reply text;
- session, ffi: each control connection as a transcript (the format of drivers::steps: a header
  byte with the direction bit and a length, then the bytes), cut where the capture's segments were;
- capture, dissect: the capture files themselves (kept to the first 64 KiB);
- tcp, flows: synthetic inputs in the drivers' formats (a passive and an active transfer);
- listing: the real listings of src/parse/listing/testdata/ (header byte: expected form, chunk size).

Everything goes to --out (fuzz/corpus/<target>/, not committed). A small, size-capped selection
(the shortest distinct inputs, at most 200 KB in all) goes to --seeds (fuzz/seeds/<target>/,
committed, replayed by tests/regressions.rs).
"""
from __future__ import annotations

import argparse
import hashlib
import os
import struct
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPTURE_EXT = (".pcap", ".pcapng", ".cap", ".pcap.gz")
SEED_BUDGET = 190_000  # bytes over all committed seeds
PER_TARGET = {"command": 60, "reply": 60, "session": 25, "ffi": 10, "capture": 6, "dissect": 6}


def captures(dirs):
    for d in dirs:
        for p in sorted(Path(d).rglob("*")):
            if p.is_file() and p.name.endswith(CAPTURE_EXT):
                yield p


def control_payloads(path: Path):
    """[(stream, to_client, payload bytes)] in capture order, for the FTP control connections."""
    cmd = [
        "tshark", "-r", str(path), "-n",
        "-d", "tcp.port==2121,ftp",
        "-o", "tcp.desegment_tcp_streams:FALSE",
        "-Y", "ftp && tcp.len > 0",
        "-T", "fields", "-E", "separator=/t",
        "-e", "tcp.stream", "-e", "ftp.response", "-e", "tcp.payload",
    ]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout
    except subprocess.TimeoutExpired:
        return []
    rows = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2]:
            continue
        stream, resp, hexdata = parts
        try:
            data = bytes.fromhex(hexdata.replace(":", ""))
        except ValueError:
            continue
        rows.append((stream, resp in ("1", "True"), data))
    return rows


def transcript(rows) -> bytes:
    out = bytearray()
    for to_client, data in rows:
        for i in range(0, len(data), 127):
            chunk = data[i:i + 127]
            out.append((0x80 if to_client else 0) | len(chunk))
            out += chunk
    out += b"\x00\x00"  # finish
    return bytes(out)


def address_seeds(lines_c, lines_s, add):
    for line in lines_c:
        verb, _, arg = line.partition(b" ")
        v = verb.upper()
        if v == b"PORT":
            add("addr_port", arg)
        elif v == b"EPRT":
            add("addr_eprt", arg)
        elif v == b"LPRT":
            add("addr_lprt", arg)
    for line in lines_s:
        code, text = line[:3], line[4:]
        target = {b"227": "addr_227", b"228": "addr_228", b"229": "addr_229"}.get(code)
        if target:
            add(target, text)


# ---- synthetic inputs in the drivers' formats -------------------------------------------------

def flows_op(pair, rev=0, syn=False, fin=False, rst=False, later=False, delta=0, payload=b""):
    op = pair | rev << 3 | syn << 4 | fin << 5 | rst << 6 | later << 7
    out = bytearray()
    # A payload over 255 bytes goes in several ops.
    chunks = [payload[i:i + 255] for i in range(0, len(payload), 255)] or [b""]
    for c in chunks:
        out += bytes([op, delta & 0xFF, len(c)]) + c
    return bytes(out)


def flows_seeds():
    ctl = lambda rev, text: flows_op(0, rev, payload=text)
    hs = lambda p: flows_op(p, 0, syn=True) + flows_op(p, 1, syn=True)
    passive = (hs(0) + ctl(1, b"220 hi\r\n") + ctl(0, b"USER anonymous\r\n")
               + ctl(1, b"331 ok\r\n") + ctl(0, b"PASS a@b\r\n") + ctl(1, b"230 in\r\n")
               + ctl(0, b"TYPE I\r\n") + ctl(1, b"200 ok\r\n")
               + ctl(0, b"PASV\r\n") + ctl(1, b"227 Entering Passive Mode (10,0,0,2,19,136).\r\n")
               + ctl(0, b"RETR ../../etc/passwd\r\n") + hs(1)
               + ctl(1, b"150 Opening BINARY mode data connection (12 bytes)\r\n")
               + flows_op(1, 1, payload=b"hello world\n") + flows_op(1, 1, fin=True)
               + ctl(1, b"226 done\r\n") + ctl(0, b"QUIT\r\n") + ctl(1, b"221 bye\r\n")
               + flows_op(0, 0, fin=True) + flows_op(0, 1, fin=True))
    active = (hs(0) + ctl(1, b"220 hi\r\n") + ctl(0, b"PORT 10,0,0,1,23,112\r\n")
              + ctl(1, b"200 PORT ok\r\n") + ctl(0, b"STOR /abs/name\r\n") + hs(2)
              + ctl(1, b"150 ok\r\n") + flows_op(2, 1, payload=b"x" * 300)
              + flows_op(2, 1, delta=3, payload=b"late") + flows_op(2, 1, rst=True)
              + ctl(1, b"226 done\r\n") + ctl(0, b"PORT 10,0,0,3,23,112\r\n")
              + ctl(1, b"200 ok\r\n") + ctl(0, b"LIST\r\n") + hs(3)
              + flows_op(3, 1, payload=b"-rw-r--r-- 1 a a 1 Jan 1 00:00 f\r\n")
              + flows_op(0, 0, later=True, payload=b"NOOP\r\n"))
    epsv6 = (flows_op(7, 0, syn=True) + flows_op(7, 1, syn=True)
             + flows_op(7, 1, payload=b"220 v6\r\n") + flows_op(7, 0, payload=b"EPSV\r\n")
             + flows_op(7, 1, payload=b"229 Entering Extended Passive Mode (|||5000|)\r\n")
             + flows_op(7, 0, payload=b"EPRT |2|2001:db8::1|6000|\r\n")
             + flows_op(7, 1, payload=b"200 ok\r\n"))
    return {"passive": passive, "active": active + b"\x00", "epsv6": epsv6}


def tcp_seeds():
    rec = lambda flags, delta, n, fill: bytes([flags, delta & 0xFF, n, fill])
    in_order = rec(1, 0, 100, 0x41) + rec(0, 0, 200, 0x42) + rec(2, 0, 10, 0x43)
    ooo = rec(1, 0, 10, 1) + rec(0, 3, 100, 2) + rec(0, 1, 50, 3) + rec(0, 0, 255, 4) + rec(4, 8, 5, 5)
    memcap = rec(1, 0, 1, 1) + b"".join(rec(0, 2 + i, 255, i) for i in range(8)) + rec(8, 0, 0, 0)
    wrap = rec(0x11, 0, 255, 7) + rec(0x10, 1, 255, 8) + rec(0x10, -1, 10, 9) + rec(6, 0, 1, 1)
    return {"in_order": in_order, "out_of_order": ooo, "memcap": memcap, "wrap": wrap}


def listing_seeds():
    """drivers::listing inputs: byte 0 = expected form (0 LIST, 1 NLST, 2 MLSD) | chunk-1 << 2."""
    form = {"list.txt": 0, "nlst.txt": 1, "mlsd.txt": 2}
    for p in sorted((ROOT / "src" / "parse" / "listing" / "testdata").glob("*/*.txt")):
        if p.name in form:
            yield bytes([form[p.name] | (len(p.read_bytes()) % 64) << 2]) + p.read_bytes()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", action="append",
                    help="capture directory (repeatable); default ../shared/corpus, samples, handmade")
    ap.add_argument("--out", default=str(ROOT / "fuzz" / "corpus"))
    ap.add_argument("--seeds", default=str(ROOT / "fuzz" / "seeds"))
    ap.add_argument("--no-seeds", action="store_true", help="only fill --out")
    args = ap.parse_args(argv)
    dirs = args.corpus or [str(ROOT.parent / "shared" / "corpus"), str(ROOT / "samples"),
                           str(ROOT / "tests" / "captures" / "handmade")]

    found: dict[str, dict[bytes, None]] = defaultdict(dict)

    def add(target, data):
        found[target].setdefault(bytes(data), None)

    n_caps = 0
    for cap in captures(dirs):
        n_caps += 1
        add("capture", cap.read_bytes()[:65536])
        add("dissect", cap.read_bytes()[:65536])
        rows = control_payloads(cap)
        streams = defaultdict(list)
        for stream, to_client, data in rows:
            streams[stream].append((to_client, data))
        for srows in streams.values():
            t = transcript(srows)
            add("session", t)
            add("ffi", bytes([len(t) % 8]) + t)
            lines = {False: b"", True: b""}
            for to_client, data in srows:
                lines[to_client] += data
            lc = [l.rstrip(b"\r") for l in lines[False].split(b"\n") if l.strip()]
            ls = [l.rstrip(b"\r") for l in lines[True].split(b"\n") if l.strip()]
            for l in lc:
                add("command", l)
            for l in ls:
                add("reply", l)
            address_seeds(lc, ls, add)
    for name, data in flows_seeds().items():
        add("flows", data)
    for name, data in tcp_seeds().items():
        add("tcp", data)
    for data in listing_seeds():
        add("listing", data)

    out = Path(args.out)
    for target, items in found.items():
        d = out / target
        d.mkdir(parents=True, exist_ok=True)
        for data in items:
            (d / hashlib.sha1(data).hexdigest()).write_bytes(data)
    total = 0
    if not args.no_seeds:
        seeds = Path(args.seeds)
        budget = SEED_BUDGET
        per_target_budget = budget // max(1, len(found))
        for target in sorted(found):
            d = seeds / target
            d.mkdir(parents=True, exist_ok=True)
            items = sorted(found[target], key=lambda b: (len(b), b))
            # The shortest inputs, spread over the length range: every k-th one.
            limit = PER_TARGET.get(target, 40)
            step = max(1, len(items) // limit)
            used = 0
            for data in items[::step][:limit]:
                if used + len(data) > per_target_budget:
                    continue
                (d / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)
                used += len(data)
            total += used
    print(f"{n_caps} captures; " + ", ".join(f"{t}: {len(v)}" for t, v in sorted(found.items()))
          + (f"; committed seeds {total} bytes" if not args.no_seeds else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
