#!/usr/bin/env python3
"""Hostile FTP captures, generated at test time (never committed: the full sizes are gigabytes).

    python3 tests/hostile/gen.py SCENARIO N OUT.pcap      prints the capture's facts as JSON
    python3 tests/hostile/gen.py --list

The pcap writer and the TCP connection model are tests/captures/handmade.py's (PcapWriter over
dpkt's pcap writer, TcpConn: handshake, correct sequence numbers, acknowledgements, checksums, FIN
close); FastConn below only makes TcpConn's packet builder fast enough for ten million frames
(cached addresses, incremental checksums: building each packet as dpkt objects costs several times
more), with the same packets.

Every scenario takes a size N (what the issue counts: replies, connections, bytes, segments) and
returns facts: what an analyser must find, whatever N is.

| scenario          | N counts               | full size (scripts/hostile-full.sh) |
|-------------------|------------------------|-------------------------------------|
| pasv_storm        | PASV/227 pairs         | 1,000,000                           |
| many_connections  | concurrent connections | 100,000                             |
| endless_line      | bytes without a LF     | 1 GiB                               |
| one_byte_segments | one-byte segments      | 10,000,000                          |
| endless_data      | data-connection bytes  | 1 GiB (no FIN, no 226)              |
| port_storm        | PORT to third parties  | 1,000,000                           |
| wide_replies      | bytes of 8 KB 227/228  | 64 MiB (8,192 replies)              |
"""
from __future__ import annotations

import ipaddress
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "captures"))
import handmade as hm  # noqa: E402  (the writer and the TCP model: reused, not duplicated)

CLIENT = "10.1.0.1"
SERVER = "10.2.0.1"
MSS = 1448


def _fold(s: int) -> int:
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _sum_be(data: bytes) -> int:
    """One's-complement sum of big-endian 16-bit words (RFC 1071), computed natively: the sum of
    little-endian words, byte-swapped, is the same (RFC 1071 section 2(B))."""
    if len(data) & 1:
        data += b"\0"
    s = _fold(sum(memoryview(data).cast("H")))
    return ((s & 0xFF) << 8) | (s >> 8) if sys.byteorder == "little" else s


class FastConn(hm.TcpConn):
    """hm.TcpConn with a faster _packet: the same frames, for captures of millions of packets."""

    _payload_sums: dict = {}

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self._hdr = {}
        for side, other in (("a", "b"), ("b", "a")):
            (sip, sport), (dip, dport) = self.ep[side], self.ep[other]
            src = ipaddress.ip_address(sip).packed
            dst = ipaddress.ip_address(dip).packed
            if self.v6:
                eth = hm.mac_for(dip) + hm.mac_for(sip) + b"\x86\xdd"
            else:
                eth = hm.mac_for(dip) + hm.mac_for(sip) + b"\x08\x00"
            self._hdr[side] = (src, dst, sport, dport, eth, _sum_be(src + dst) + 6)

    def _psum(self, payload: bytes) -> int:
        if len(payload) < 64:
            return _sum_be(payload)
        cache = FastConn._payload_sums
        s = cache.get(payload)
        if s is None:
            if len(cache) > 4096:
                cache.clear()
            s = cache[payload] = _sum_be(payload)
        return s

    def _packet(self, side: str, flags: int, payload: bytes = b"", options: bytes = b"") -> int:
        src, dst, sport, dport, eth, pseudo = self._hdr[side]
        ack = self.ack[side] if flags & hm.ACK else 0
        seq = self.seq[side]
        doff = (20 + len(options)) // 4
        tcp_len = 20 + len(options) + len(payload)
        s = (pseudo + tcp_len + sport + dport + (seq >> 16) + (seq & 0xFFFF) + (ack >> 16)
             + (ack & 0xFFFF) + ((doff << 12) | flags) + 65535)
        if options:
            s += _sum_be(options)
        if payload:
            s += self._psum(payload)
        cs = (~_fold(s)) & 0xFFFF
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, doff << 4, flags, 65535, cs, 0)
        if self.v6:
            ip = struct.pack("!IHBB", 0x60000000, tcp_len, 6, 64) + src + dst
        else:
            self.ipid[side] = (self.ipid[side] + 1) & 0xFFFF
            hdr = struct.pack("!BBHHHBBH", 0x45, 0, 20 + tcp_len, self.ipid[side], 0x4000, 64, 6, 0)
            ipcs = (~_fold(_sum_be(hdr) + _sum_be(src + dst))) & 0xFFFF
            ip = hdr[:10] + struct.pack("!H", ipcs) + src + dst
        n = self.w.frame(b"".join((eth, ip, tcp, options, payload)))
        adv = len(payload) + (1 if flags & (hm.SYN | hm.FIN) else 0)
        self.seq[side] = (self.seq[side] + adv) & 0xFFFFFFFF
        return n

    def stream(self, side: str, data: bytes, seg: int = MSS, ack_every: int = 64) -> None:
        """Send data in seg-byte segments, the peer acknowledging every ack_every segments."""
        other = "b" if side == "a" else "a"
        n = 0
        for off in range(0, len(data), seg):
            self._packet(side, hm.PSH | hm.ACK, data[off:off + seg])
            n += 1
            if n % ack_every == 0:
                self.ack[other] = self.seq[side]
                self._packet(other, hm.ACK)
        self.ack[other] = self.seq[side]


class Writer(hm.PcapWriter):
    """hm.PcapWriter with a large output buffer."""

    def __init__(self, path, **kw):
        super().__init__(path, buffering=1 << 20, **kw)


def _login(w, client_port=40000, client=CLIENT, server=SERVER, user="anonymous"):
    c = FastConn(w, (client, client_port), (server, 21))
    c.open()
    c.b(b"220 hostile server\r\n")
    c.a(b"USER %s\r\n" % user.encode())
    c.b(b"331 password please\r\n")
    c.a(b"PASS x@y\r\n")
    c.b(b"230 in\r\n")
    return c


BATCH = 16  # commands pipelined per segment (under the session's 64 pending commands)
VICTIM_DATA = bytes(range(256)) * 16


def _victim(w):
    """After a storm: another client's ordinary PASV download, which must still be matched."""
    c = _login(w, client_port=40001, client="10.1.0.2", user="victim")
    c.a(b"PASV\r\n")
    c.b(b"227 Entering Passive Mode (10,2,0,1,253,232).\r\n")  # port 65000
    c.a(b"RETR victim.bin\r\n")
    d = FastConn(w, ("10.1.0.2", 41001), (SERVER, 65000))
    d.open()
    c.b(b"150 ok\r\n")
    d.b(VICTIM_DATA)
    d.close(first="b")
    c.b(b"226 done\r\n")
    c.a(b"QUIT\r\n")
    c.b(b"221 bye\r\n")
    c.close()


def pasv_storm(path, n):
    """One session: n PASV commands, each answered by a 227 with a new port, never used; then
    another client's ordinary PASV download."""
    with Writer(path) as w:
        c = _login(w)
        done = 0
        while done < n:
            k = min(BATCH, n - done)
            c.a(b"PASV\r\n" * k)
            c.b(b"".join(b"227 Entering Passive Mode (10,2,0,1,%d,%d).\r\n"
                         % divmod(1024 + (done + i) % 60000, 256) for i in range(k)))
            done += k
        c.a(b"QUIT\r\n")
        c.b(b"221 bye\r\n")
        c.close()
        _victim(w)
    return {"pasv_replies": n, "sessions": 2, "victim_bytes": len(VICTIM_DATA),
            "frames": w.frames}


def many_connections(path, n):
    """n control connections from distinct clients, all open at once: each is opened, greeted
    and sends USER; only then do they all QUIT and close."""
    with Writer(path) as w:
        conns = []
        for i in range(n):
            client = str(ipaddress.ip_address("10.64.0.0") + i // 50000)
            c = FastConn(w, (client, 1024 + i % 50000), (SERVER, 21))
            c.open()
            c.b(b"220 hi\r\n", ack=False)
            c.a(b"USER u%d\r\n" % i, ack=False)
            conns.append(c)
        for c in conns:
            c.b(b"331 ok\r\n", ack=False)
            c.a(b"QUIT\r\n", ack=False)
            c.b(b"221 bye\r\n", ack=False)
            c.close(first="b")
    return {"sessions": n, "users": n, "frames": w.frames}


def _late_victim(w):
    """A PASV download whose data connection comes, whole, before the 227 reply that predicts it
    (as a capture merged from two interfaces shows it): the analyser must keep its bytes and
    claim it late."""
    c = _login(w, client_port=40002, client="10.1.0.3", user="late")
    c.a(b"PASV\r\n")
    d = FastConn(w, ("10.1.0.3", 41002), (SERVER, 65001))
    d.open()
    d.b(VICTIM_DATA)
    d.close(first="b")
    c.b(b"227 Entering Passive Mode (10,2,0,1,253,233).\r\n")  # port 65001
    c.a(b"RETR late.bin\r\n")
    c.b(b"150 ok\r\n")
    c.b(b"226 done\r\n")
    c.a(b"QUIT\r\n")
    c.b(b"221 bye\r\n")
    c.close()


def idle_connections(path, n):
    """n TCP connections to a web server (port 443) from distinct clients: a handshake each and
    nothing more, all open at the end; among them, a download whose data connection is claimed
    late. All within 30 seconds of capture time, so none reaches the idle timeout."""
    with Writer(path, step=30.0 / (3 * n + 100)) as w:
        for i in range(n):
            if i == n // 2:
                _late_victim(w)
            client = str(ipaddress.ip_address("10.128.0.0") + i // 50000)
            FastConn(w, (client, 1024 + i % 50000), (SERVER, 443)).open()
    return {"sessions": 1, "victim_bytes": len(VICTIM_DATA), "late_bound": 1,
            "frames": w.frames}


def endless_line(path, n):
    """A client that sends n bytes with no line end after logging in, then closes."""
    chunk = b"A" * (1 << 20)
    with Writer(path) as w:
        c = _login(w)
        left = n
        while left > 0:
            k = min(left, len(chunk))
            c.stream("a", chunk[:k])
            left -= k
        c._packet("b", hm.ACK)
        c.close()
    return {"long_lines": 1, "sessions": 1, "frames": w.frames}


def one_byte_segments(path, n):
    """n one-byte segments: the client's commands (NOOP) dribble one byte per segment; the server
    answers each 32 commands in one segment."""
    line = b"NOOP\r\n"
    per_batch = 32
    with Writer(path) as w:
        c = _login(w)
        sent = 0
        commands = 0
        while sent < n:
            k = min(per_batch * len(line), n - sent)
            data = (line * per_batch)[:k]
            for i in range(k):
                c._packet("a", hm.PSH | hm.ACK, data[i:i + 1])
            c.ack["b"] = c.seq["a"]
            done = k // len(line)
            commands += done
            if done:
                c.b(b"200 NOOP ok\r\n" * done, ack=False)
            sent += k
        if n % len(line):  # finish the last, cut NOOP
            c.a(line[n % len(line):], ack=False)
            commands += 1
        c.a(b"QUIT\r\n")
        c.b(b"221 bye\r\n")
        c.close()
    return {"noop_commands": commands, "segments": n, "frames": w.frames}


def endless_data(path, n):
    """PASV, RETR, then a data connection carrying n bytes that never ends: no FIN, no 226."""
    chunk = bytes(range(256)) * 4096  # 1 MiB
    with Writer(path) as w:
        c = _login(w)
        c.a(b"TYPE I\r\n")
        c.b(b"200 ok\r\n")
        c.a(b"PASV\r\n")
        c.b(b"227 Entering Passive Mode (10,2,0,1,195,80).\r\n")  # port 50000
        c.a(b"RETR endless.bin\r\n")
        d = FastConn(w, (CLIENT, 41000), (SERVER, 50000))
        d.open()
        c.b(b"150 here it comes\r\n")
        left = n
        while left > 0:
            k = min(left, len(chunk))
            d.stream("b", chunk[:k])
            left -= k
    return {"transfers": 1, "data_bytes": n, "sessions": 1, "frames": w.frames}


def port_storm(path, n):
    """One session sending n PORT commands, each to another third-party host, all accepted; then
    another client's ordinary PASV download."""
    with Writer(path) as w:
        c = _login(w)
        done = 0
        while done < n:
            k = min(BATCH, n - done)
            cmds = []
            for i in range(done, done + k):
                a, b = divmod(i, 65536)
                cmds.append(b"PORT 172,%d,%d,%d,%d,%d\r\n"
                            % (16 + a % 16, b >> 8, b & 0xFF, 4 + i % 200, i % 256))
            c.a(b"".join(cmds))
            c.b(b"200 PORT command successful\r\n" * k)
            done += k
        c.a(b"QUIT\r\n")
        c.b(b"221 bye\r\n")
        c.close()
        _victim(w)
    return {"port_commands": n, "bounces": n, "sessions": 2, "victim_bytes": len(VICTIM_DATA),
            "frames": w.frames}


def wide_replies(path, n):
    """About n bytes of 227 and 228 replies as long as a line may be (8 KB), full of out-of-range
    numbers (999,999,...): a scanner that restarts at every number is quadratic in the line."""
    line227 = b"227 Entering Passive Mode (" + b"999," * 2040 + b"1)\r\n"
    line228 = b"228 Entering Long Passive Mode (" + b"6," * 4078 + b"1)\r\n"
    with Writer(path) as w:
        c = _login(w)
        replies = 0
        sent = 0
        while sent < n:
            for verb, line in ((b"PASV", line227), (b"LPSV", line228)):
                c.a(verb + b"\r\n")
                c.b(line)
                replies += 1
                sent += len(line)
        c.a(b"QUIT\r\n")
        c.b(b"221 bye\r\n")
        c.close()
    return {"wide_replies": replies, "sessions": 1, "frames": w.frames}


SCENARIOS = {f.__name__: f for f in
             (pasv_storm, many_connections, endless_line, one_byte_segments, endless_data,
              port_storm, wide_replies, idle_connections)}

FULL = {"pasv_storm": 1_000_000, "many_connections": 100_000, "endless_line": 1 << 30,
        "one_byte_segments": 10_000_000, "endless_data": 1 << 30, "port_storm": 1_000_000,
        "wide_replies": 64 << 20, "idle_connections": 1_000_000}


def generate(name, n, path) -> dict:
    facts = SCENARIOS[name](path, n)
    facts.update(scenario=name, n=n, bytes=os.path.getsize(path))
    return facts


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--list"]:
        for name, f in SCENARIOS.items():
            print("%-18s full N=%-11d %s" % (name, FULL[name], " ".join(f.__doc__.split())))
        return 0
    if len(argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    print(json.dumps(generate(argv[0], int(argv[1]), argv[2])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
