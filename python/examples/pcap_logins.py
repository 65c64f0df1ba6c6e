#!/usr/bin/env python3
"""Print the FTP logins and file transfers found in a capture file.

    python3 pcap_logins.py capture.pcap [more.pcapng ...]

Reads pcap and pcapng with the standard library only (Ethernet, VLAN, Linux cooked, raw IP and BSD
loopback links; IPv4 and IPv6), reassembles each TCP stream, feeds FTP control connections to an
``ftplens.Session`` and matches the data connections it predicts, so every transfer is printed with the
data endpoint it used and the bytes seen on it. Control connections are found on port 21 or, on any
other port, by ``ftplens.heuristic`` on the first bytes.

Output (one line per login outcome and per transfer):

    login    frame 14  192.168.1.106 -> 192.168.1.109:21  user=ftpuser password=s3cret  success
    transfer frame 22  RETR readme.txt  PASV 192.168.1.109:26758 (104*256+134)  complete  1024 bytes
"""

from __future__ import annotations

import argparse
import ipaddress
import struct
import sys
from dataclasses import dataclass, field
from typing import BinaryIO, Dict, Iterator, List, Optional, Set, Tuple

import ftplens
from ftplens import Direction

Addr = Tuple[str, int]
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10


# ------------------------------------------------------------------------------------ capture files
@dataclass
class Packet:
    frame: int
    ts: float
    linktype: int
    data: bytes


def read_packets(f: BinaryIO) -> Iterator[Packet]:
    """Packets of a pcap or pcapng file, numbered from 1 like Wireshark does."""
    head = f.read(4)
    if len(head) < 4:
        return
    if head == b"\x0a\x0d\x0d\x0a":
        yield from _read_pcapng(f, head)
    else:
        yield from _read_pcap(f, head)


def _read_pcap(f: BinaryIO, magic: bytes) -> Iterator[Packet]:
    formats = {
        b"\xd4\xc3\xb2\xa1": ("<", 1e-6), b"\xa1\xb2\xc3\xd4": (">", 1e-6),
        b"\x4d\x3c\xb2\xa1": ("<", 1e-9), b"\xa1\xb2\x3c\x4d": (">", 1e-9),
    }
    if magic not in formats:
        raise ValueError("not a pcap or pcapng file")
    endian, unit = formats[magic]
    header = f.read(20)
    if len(header) < 20:
        raise ValueError("truncated pcap header")
    linktype = struct.unpack(endian + "HHiIII", header)[5] & 0x0FFFFFFF
    frame = 0
    while True:
        rec = f.read(16)
        if len(rec) < 16:
            return
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", rec)
        data = f.read(incl)
        if len(data) < incl:
            return  # truncated last packet
        frame += 1
        yield Packet(frame, sec + frac * unit, linktype, data)


def _read_pcapng(f: BinaryIO, first: bytes) -> Iterator[Packet]:
    endian = "<"
    interfaces: List[Tuple[int, float]] = []  # (linktype, seconds per tick)
    frame = 0
    btype_raw = first
    while True:
        if btype_raw is None:
            btype_raw = f.read(4)
        if len(btype_raw) < 4:
            return
        if btype_raw == b"\x0a\x0d\x0d\x0a":  # section header: learn the byte order
            length_raw = f.read(4)
            bom = f.read(4)
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">"
            (length,) = struct.unpack(endian + "I", length_raw)
            f.read(length - 12)
            interfaces = []
            btype_raw = None  # type: ignore[assignment]
            continue
        (btype,) = struct.unpack(endian + "I", btype_raw)
        (length,) = struct.unpack(endian + "I", f.read(4))
        body = f.read(length - 12)
        f.read(4)  # trailing length
        btype_raw = None  # type: ignore[assignment]
        if btype == 1:  # interface description
            linktype = struct.unpack(endian + "H", body[:2])[0]
            interfaces.append((linktype, _if_tsresol(body[8:], endian)))
        elif btype == 6:  # enhanced packet
            iface, hi, lo, incl, _orig = struct.unpack(endian + "IIIII", body[:20])
            linktype, tick = interfaces[iface] if iface < len(interfaces) else (1, 1e-6)
            frame += 1
            yield Packet(frame, ((hi << 32) | lo) * tick, linktype, body[20 : 20 + incl])
        elif btype == 3:  # simple packet
            (orig,) = struct.unpack(endian + "I", body[:4])
            linktype = interfaces[0][0] if interfaces else 1
            frame += 1
            yield Packet(frame, 0.0, linktype, body[4 : 4 + orig])


def _if_tsresol(options: bytes, endian: str) -> float:
    i = 0
    while i + 4 <= len(options):
        code, length = struct.unpack(endian + "HH", options[i : i + 4])
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = options[i + 4]
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
        i += 4 + length + (-length % 4)
    return 1e-6


# ------------------------------------------------------------------------------------------ layers
@dataclass
class Segment:
    src: Addr
    dst: Addr
    seq: int
    flags: int
    payload: bytes


def decode(pkt: Packet) -> Optional[Segment]:
    """The TCP segment in a link-layer frame, or None."""
    data, lt = pkt.data, pkt.linktype
    if lt == 1:  # Ethernet, with any number of VLAN tags
        if len(data) < 14:
            return None
        ethertype, off = struct.unpack("!H", data[12:14])[0], 14
        while ethertype in (0x8100, 0x88A8) and len(data) >= off + 4:
            ethertype, off = struct.unpack("!H", data[off + 2 : off + 4])[0], off + 4
        data = data[off:]
    elif lt == 113:  # Linux cooked v1
        ethertype, data = struct.unpack("!H", data[14:16])[0], data[16:]
    elif lt == 276:  # Linux cooked v2
        ethertype, data = struct.unpack("!H", data[0:2])[0], data[20:]
    elif lt in (0, 108):  # BSD loopback: address family in host or network order
        family = struct.unpack("<I", data[:4])[0] if data[:2] != b"\0\0" else struct.unpack("!I", data[:4])[0]
        ethertype, data = (0x0800 if family == 2 else 0x86DD), data[4:]
    elif lt in (101, 12, 14):  # raw IP
        ethertype = 0x0800 if data[:1] and data[0] >> 4 == 4 else 0x86DD
    else:
        return None
    if ethertype == 0x0800 and len(data) >= 20:
        ihl = (data[0] & 0x0F) * 4
        total, frag, proto = struct.unpack("!H", data[2:4])[0], struct.unpack("!H", data[6:8])[0], data[9]
        if proto != 6 or frag & 0x1FFF or frag & 0x2000:  # not TCP, or a fragment
            return None
        src, dst = str(ipaddress.IPv4Address(data[12:16])), str(ipaddress.IPv4Address(data[16:20]))
        tcp = data[ihl : total if total else None]
    elif ethertype == 0x86DD and len(data) >= 40:
        nxt, off = data[6], 40
        while nxt in (0, 43, 60) and len(data) >= off + 8:  # hop-by-hop, routing, destination options
            nxt, off = data[off], off + (data[off + 1] + 1) * 8
        if nxt != 6:
            return None
        plen = struct.unpack("!H", data[4:6])[0]
        src, dst = str(ipaddress.IPv6Address(data[8:24])), str(ipaddress.IPv6Address(data[24:40]))
        tcp = data[off : 40 + plen]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq = struct.unpack("!HHI", tcp[:8])
    doff = (tcp[12] >> 4) * 4
    return Segment((src, sport), (dst, dport), seq, tcp[13], tcp[doff:])


# --------------------------------------------------------------------------------------- streams
@dataclass
class HalfStream:
    """In-order delivery of one direction of a TCP connection (retransmissions dropped)."""

    next_seq: Optional[int] = None
    pending: Dict[int, bytes] = field(default_factory=dict)

    def push(self, seg: Segment) -> bytes:
        if seg.flags & SYN:
            self.next_seq = (seg.seq + 1) & 0xFFFFFFFF
            return b""
        if not seg.payload:
            return b""
        if self.next_seq is None:  # capture started mid-stream
            self.next_seq = seg.seq
        self.pending.setdefault(seg.seq, seg.payload)
        out = []
        progressed = True
        while progressed:
            progressed = False
            for seq in list(self.pending):
                delta = (seq - self.next_seq) & 0xFFFFFFFF
                data = self.pending[seq]
                if delta == 0 or delta > 0x80000000:  # starts now, or overlaps what we have
                    del self.pending[seq]
                    skip = 0 if delta == 0 else (0x100000000 - delta)
                    if skip < len(data):
                        out.append(data[skip:])
                        self.next_seq = (self.next_seq + len(data) - skip) & 0xFFFFFFFF
                    progressed = True
        return b"".join(out)


@dataclass
class Transfer:
    frame: int
    command: str
    arg: str
    mode: ftplens.Mode
    arithmetic: str
    outcome: Optional[ftplens.Outcome] = None
    channel_id: int = 0


@dataclass
class Control:
    client: Addr
    server: Addr
    session: ftplens.Session
    halves: Dict[Direction, HalfStream] = field(default_factory=dict)


@dataclass
class Channel:
    control: Control
    channel_id: int
    arithmetic: str
    mode: ftplens.Mode
    bytes: int = 0


class Analyzer:
    """Feeds control connections to ftplens sessions and counts bytes on the data channels they predict."""

    def __init__(self, out: "TextOut") -> None:
        self.out = out
        self.controls: Dict[Tuple[Addr, Addr], Control] = {}
        self.not_ftp: Set[Tuple[Addr, Addr]] = set()
        self.listeners: Dict[Addr, Channel] = {}  # predicted data endpoint -> channel
        self.data_flows: Dict[Tuple[Addr, Addr], Channel] = {}
        self.transfers: List[Tuple[Control, Transfer]] = []
        self.channels: Dict[Tuple[int, int], Channel] = {}

    @staticmethod
    def key(a: Addr, b: Addr) -> Tuple[Addr, Addr]:
        return (a, b) if a <= b else (b, a)

    def packet(self, pkt: Packet) -> None:
        seg = decode(pkt)
        if seg is None:
            return
        key = self.key(seg.src, seg.dst)
        if key in self.data_flows:
            self.data_flows[key].bytes += len(seg.payload)
            return
        ctl = self.controls.get(key) or self.classify(key, seg)
        if ctl is None:
            return
        direction = Direction.TO_SERVER if seg.src == ctl.client else Direction.TO_CLIENT
        data = ctl.halves.setdefault(direction, HalfStream()).push(seg)
        if data:
            for event in ctl.session.feed(direction, data, frame=pkt.frame, ts=pkt.ts):
                self.event(ctl, event)
        if seg.flags & RST:
            self.finish(ctl, pkt)

    def classify(self, key: Tuple[Addr, Addr], seg: Segment) -> Optional[Control]:
        if key in self.not_ftp:
            return None
        # A new data connection to a predicted listener?
        for addr in (seg.dst, seg.src):
            channel = self.listeners.get(addr)
            if channel is not None and (seg.flags & SYN or seg.payload):
                self.data_flows[key] = channel
                channel.bytes += len(seg.payload)
                return None
        server: Optional[Addr] = None
        if seg.dst[1] == 21 or seg.src[1] == 21:
            server = seg.dst if seg.dst[1] == 21 else seg.src
        elif seg.payload:
            verdict = ftplens.heuristic(seg.payload)
            if verdict is ftplens.Verdict.SERVER:
                server = seg.src
            elif verdict is ftplens.Verdict.CLIENT:
                server = seg.dst
            elif verdict is ftplens.Verdict.NOT_FTP:
                self.not_ftp.add(key)
                return None
        if server is None:  # not decided yet: wait for the first payload
            return None
        client = seg.src if server == seg.dst else seg.dst
        ctl = Control(client, server, ftplens.Session(client=client, server=server))
        self.controls[key] = ctl
        return ctl

    def event(self, ctl: Control, e: ftplens.Event) -> None:
        if isinstance(e, ftplens.LoginEvent) and e.state is not ftplens.LoginState.ATTEMPT:
            self.out.login(ctl, e)
        elif isinstance(e, ftplens.DataExpectedEvent) and e.outcome is ftplens.Outcome.NONE and e.data:
            host = e.data.host or ctl.server[0]
            channel = Channel(ctl, e.channel_id, e.arithmetic, e.mode)
            self.listeners[(host, e.data.port)] = channel
            if e.alt_data and e.alt_data.host:
                self.listeners[(e.alt_data.host, e.alt_data.port)] = channel
            self.channels[(id(ctl), e.channel_id)] = channel
        elif isinstance(e, ftplens.TransferStartedEvent):
            known = self.channels.get((id(ctl), e.channel_id))
            self.transfers.append((ctl, Transfer(e.frame, e.command, e.path or e.arg, e.mode,
                                                 known.arithmetic if known else "", None, e.channel_id)))
        elif isinstance(e, ftplens.TransferEndedEvent):
            for c, t in reversed(self.transfers):
                if c is ctl and t.channel_id == e.channel_id and t.outcome is None:
                    t.outcome = e.outcome
                    break

    def finish(self, ctl: Control, pkt: Optional[Packet] = None) -> None:
        if ctl.session.closed:
            return
        frame = pkt.frame if pkt else None
        for event in ctl.session.finish(frame=frame, ts=pkt.ts if pkt else None):
            self.event(ctl, event)
        ctl.session.close()

    def close(self) -> None:
        for ctl in self.controls.values():
            self.finish(ctl)
        for ctl, t in sorted(self.transfers, key=lambda x: x[1].frame):
            channel = self.channels.get((id(ctl), t.channel_id))
            self.out.transfer(ctl, t, channel.bytes if channel else None)


class TextOut:
    def __init__(self, stream=sys.stdout) -> None:  # type: ignore[no-untyped-def]
        self.stream = stream

    @staticmethod
    def _addr(a: Addr) -> str:
        return "[%s]:%d" % a if ":" in a[0] else "%s:%d" % a

    def login(self, ctl: Control, e: ftplens.LoginEvent) -> None:
        print(
            "login    frame %d  %s -> %s  user=%s password=%s  %s%s"
            % (e.frame, ctl.client[0], self._addr(ctl.server), e.user,
               e.password if e.password is not None else "-", e.state.name.lower(),
               "  (anonymous)" if e.anonymous else ""),
            file=self.stream,
        )

    def transfer(self, ctl: Control, t: Transfer, nbytes: Optional[int]) -> None:
        outcome = t.outcome.name.lower() if t.outcome is not None else "open"
        print(
            "transfer frame %d  %s %s  %s %s  %s  %s"
            % (t.frame, t.command, t.arg, t.mode.name, t.arithmetic or "-", outcome,
               "%d bytes" % nbytes if nbytes is not None else "no data connection seen"),
            file=self.stream,
        )


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("captures", nargs="+", help="pcap or pcapng files")
    args = ap.parse_args(argv)
    status = 0
    for path in args.captures:
        if len(args.captures) > 1:
            print("==> %s <==" % path)
        analyzer = Analyzer(TextOut())
        try:
            with open(path, "rb") as f:
                for pkt in read_packets(f):
                    analyzer.packet(pkt)
        except (OSError, ValueError, struct.error) as e:
            print("%s: %s" % (path, e), file=sys.stderr)
            status = 1
        analyzer.close()
    return status


if __name__ == "__main__":
    sys.exit(main())
