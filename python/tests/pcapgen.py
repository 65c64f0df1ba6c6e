"""The tests' capture writer: Ethernet + IPv4/IPv6 + TCP with real sequence numbers, built and
written (pcap or pcapng) by dpkt, which the test extras already install.

Only files are written; nothing touches a network.
"""

from __future__ import annotations

import io
import ipaddress
from typing import List, Tuple

import dpkt

Endpoint = Tuple[str, int]
FIN, SYN, PSH, ACK = 0x01, 0x02, 0x08, 0x10


class Capture:
    """Frames in memory; write them with :meth:`pcap` or :meth:`pcapng`."""

    def __init__(self, t0: float = 1700000000.0) -> None:
        self.t = t0
        self.frames: List[Tuple[float, bytes]] = []

    def add(self, frame: bytes, dt: float = 0.001) -> int:
        self.t += dt
        self.frames.append((self.t, frame))
        return len(self.frames)

    def _write(self, writer_class: type) -> bytes:
        out = io.BytesIO()
        writer = writer_class(out, snaplen=262144, linktype=dpkt.pcap.DLT_EN10MB)
        for t, f in self.frames:
            writer.writepkt(f, ts=t)
        return out.getvalue()

    def pcap(self) -> bytes:
        return self._write(dpkt.pcap.Writer)

    def pcapng(self) -> bytes:
        return self._write(dpkt.pcapng.Writer)


class Tcp:
    """One TCP connection from a (client) to b (server) inside a Capture."""

    def __init__(self, cap: Capture, a: Endpoint, b: Endpoint) -> None:
        self.cap = cap
        self.ep = {"a": a, "b": b}
        self.seq = {"a": 1000 + a[1], "b": 5000 + b[1]}
        self.v6 = ipaddress.ip_address(a[0]).version == 6

    def _frame(self, side: str, flags: int, payload: bytes = b"") -> int:
        other = "b" if side == "a" else "a"
        (sip, sport), (dip, dport) = self.ep[side], self.ep[other]
        src, dst = ipaddress.ip_address(sip).packed, ipaddress.ip_address(dip).packed
        ack = self.seq[other] if flags & ACK else 0
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=self.seq[side], ack=ack, flags=flags,
                           win=65535, data=payload)
        # dpkt fills in the lengths and the IP and TCP checksums.
        if self.v6:
            ip = dpkt.ip6.IP6(plen=len(tcp), nxt=dpkt.ip.IP_PROTO_TCP, hlim=64, src=src, dst=dst,
                              data=tcp)
            ethertype = dpkt.ethernet.ETH_TYPE_IP6
        else:
            ip = dpkt.ip.IP(id=1, df=1, ttl=64, p=dpkt.ip.IP_PROTO_TCP, src=src, dst=dst, data=tcp)
            ethertype = dpkt.ethernet.ETH_TYPE_IP
        eth = dpkt.ethernet.Ethernet(dst=b"\x02\x00" + dst[-4:], src=b"\x02\x00" + src[-4:],
                                     type=ethertype, data=ip)
        self.seq[side] = (self.seq[side] + len(payload) + (1 if flags & (SYN | FIN) else 0)) & 0xFFFFFFFF
        return self.cap.add(bytes(eth))

    def open(self) -> None:
        self._frame("a", SYN)
        self._frame("b", SYN | ACK)
        self._frame("a", ACK)

    def send(self, side: str, payload: bytes, mss: int = 1460) -> int:
        frame = 0
        for i in range(0, len(payload), mss):
            frame = self._frame(side, PSH | ACK, payload[i : i + mss])
        return frame

    def close(self) -> None:
        self._frame("a", FIN | ACK)
        self._frame("b", FIN | ACK)
        self._frame("a", ACK)


def seed_capture(client: Endpoint = ("192.168.1.106", 50102), server: Endpoint = ("192.168.1.109", 21),
                 file_size: int = 1024) -> Capture:
    """The seed session on the wire: login, PASV -> 227 (192,168,1,109,104,134), RETR over port 26758."""
    cap = Capture()
    ctl = Tcp(cap, client, server)
    ctl.open()
    ctl.send("b", b"220 (vsFTPd 3.0.3)\r\n")
    ctl.send("a", b"USER ftpuser\r\n")
    ctl.send("b", b"331 Please specify the password.\r\n")
    ctl.send("a", b"PASS s3cret\r\n")
    ctl.send("b", b"230 Login successful.\r\n")
    ctl.send("a", b"TYPE I\r\n")
    ctl.send("b", b"200 Switching to Binary mode.\r\n")
    ctl.send("a", b"PASV\r\n")
    ctl.send("b", b"227 Entering Passive Mode (192,168,1,109,104,134).\r\n")
    data = Tcp(cap, (client[0], 50104), (server[0], 104 * 256 + 134))
    data.open()
    ctl.send("a", b"RETR readme.txt\r\n")
    ctl.send("b", b"150 Opening BINARY mode data connection for readme.txt (%d bytes).\r\n" % file_size)
    data.send("b", bytes(i % 251 for i in range(file_size)))
    data.close()
    ctl.send("b", b"226 Transfer complete.\r\n")
    ctl.send("a", b"QUIT\r\n")
    ctl.send("b", b"221 Goodbye.\r\n")
    ctl.close()
    return cap


def failed_login_capture() -> Capture:
    """A control connection on port 2121 (found by the heuristic) with a failed then good login, over IPv6."""
    cap = Capture()
    ctl = Tcp(cap, ("2001:db8::6", 40000), ("2001:db8::9", 2121))
    ctl.open()
    ctl.send("b", b"220 FTP ready\r\n")
    ctl.send("a", b"USER bob\r\n")
    ctl.send("b", b"331 Password required\r\n")
    ctl.send("a", b"PASS nope\r\n")
    ctl.send("b", b"530 Login incorrect.\r\n")
    ctl.send("a", b"USER anonymous\r\n")
    ctl.send("b", b"331 Guest login ok, send your e-mail as password.\r\n")
    ctl.send("a", b"PASS guest@example.org\r\n")
    ctl.send("b", b"230 Guest login ok.\r\n")
    ctl.send("a", b"EPSV\r\n")
    ctl.send("b", b"229 Entering Extended Passive Mode (|||40001|)\r\n")
    data = Tcp(cap, ("2001:db8::6", 40002), ("2001:db8::9", 40001))
    data.open()
    ctl.send("a", b"LIST\r\n")
    ctl.send("b", b"150 Here comes the directory listing.\r\n")
    data.send("b", b"-rw-r--r-- 1 ftp ftp 4 Jan 1 00:00 a.txt\r\n")
    data.close()
    ctl.send("b", b"226 Directory send OK.\r\n")
    ctl.close()
    return cap
