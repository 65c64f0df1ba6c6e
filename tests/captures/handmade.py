#!/usr/bin/env python3
"""Hand-made FTP corner-case captures, written with dpkt (packets and the pcap file).

    python3 tests/captures/handmade.py [OUTDIR]     (default: tests/captures/handmade/)

Each case writes OUTDIR/<name>.pcap; OUTDIR/facts.json lists every case with
what an analyser should find in it (see tests/captures/README.md for the
schema).  The writer produces Ethernet + IPv4/IPv6 + TCP frames with a
three-way handshake, correct sequence/acknowledgement numbers and checksums,
MSS segmentation and FIN closes.  The clock is fixed, so output is byte-for-byte
reproducible.  Only documentation (RFC 5737 / RFC 3849) and private addresses
appear.  Nothing is sent on any network: these are files.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import struct
import sys

import dpkt

MSS = 1460

FIN, SYN, RST, PSH, ACK = 0x01, 0x02, 0x04, 0x08, 0x10

def mac_for(ip: str) -> bytes:
    """A stable, locally administered MAC address derived from an IP address."""
    packed = ipaddress.ip_address(ip).packed
    return bytes([0x02, 0x00]) + packed[-4:]

class PcapWriter:
    """Writes Ethernet frames to a pcap file (dpkt's writer) with a deterministic clock."""

    def __init__(self, path, t0: float = 1700000000.0, step: float = 0.000250,
                 buffering: int = -1):
        self.f = open(path, "wb", buffering=buffering)
        self.pcap = dpkt.pcap.Writer(self.f, snaplen=262144, linktype=dpkt.pcap.DLT_EN10MB)
        self.t = t0
        self.step = step
        self.frames = 0

    def tick(self, seconds: float) -> None:
        self.t += seconds

    def frame(self, data: bytes) -> int:
        """Write one frame, advance the clock, return its 1-based frame number."""
        self.t += self.step
        self.pcap.writepkt(data, ts=self.t)
        self.frames += 1
        return self.frames

    def close(self) -> None:
        self.f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

class TcpConn:
    """One TCP connection between an initiator (side "a") and a responder ("b")."""

    def __init__(self, w: PcapWriter, initiator, responder, isn_a=None, isn_b=None):
        self.w = w
        self.ep = {"a": initiator, "b": responder}
        ia = ipaddress.ip_address(initiator[0])
        ib = ipaddress.ip_address(responder[0])
        if ia.version != ib.version:
            raise ValueError("mixed IP versions")
        self.v6 = ia.version == 6
        # Deterministic initial sequence numbers derived from the ports.
        self.seq = {
            "a": isn_a if isn_a is not None else (initiator[1] * 7919 + 1000) & 0xFFFFFFFF,
            "b": isn_b if isn_b is not None else (responder[1] * 104729 + 5000) & 0xFFFFFFFF,
        }
        self.ack = {"a": 0, "b": 0}
        self.ipid = {"a": (initiator[1] * 31) & 0xFFFF, "b": (responder[1] * 17) & 0xFFFF}
        # Sides whose packets the capture point misses entirely (one-direction captures).
        self.unseen = set()
        # The frames each side wrote, in order.
        self.frames = {"a": [], "b": []}

    # -- raw packet construction -------------------------------------------------
    def _packet(self, side: str, flags: int, payload: bytes = b"", options: bytes = b"") -> int:
        other = "b" if side == "a" else "a"
        if side in self.unseen:
            # The capture point does not see this side: its sequence space still advances.
            adv = len(payload) + (1 if flags & (SYN | FIN) else 0)
            self.seq[side] = (self.seq[side] + adv) & 0xFFFFFFFF
            return 0
        (sip, sport), (dip, dport) = self.ep[side], self.ep[other]
        src = ipaddress.ip_address(sip).packed
        dst = ipaddress.ip_address(dip).packed
        ack = self.ack[side] if flags & ACK else 0
        tcp = dpkt.tcp.TCP(sport=sport, dport=dport, seq=self.seq[side], ack=ack,
                           off=(20 + len(options)) // 4, flags=flags, win=65535,
                           opts=options, data=payload)
        # dpkt fills in lengths and the IP and TCP checksums (pseudo-header included).
        if self.v6:
            ip = dpkt.ip6.IP6(plen=len(tcp), nxt=dpkt.ip.IP_PROTO_TCP, hlim=64, src=src,
                              dst=dst, data=tcp)
            ethertype = dpkt.ethernet.ETH_TYPE_IP6
        else:
            self.ipid[side] = (self.ipid[side] + 1) & 0xFFFF
            ip = dpkt.ip.IP(id=self.ipid[side], df=1, ttl=64,
                            p=dpkt.ip.IP_PROTO_TCP, src=src, dst=dst, data=tcp)
            ethertype = dpkt.ethernet.ETH_TYPE_IP
        eth = dpkt.ethernet.Ethernet(dst=mac_for(dip), src=mac_for(sip), type=ethertype, data=ip)
        n = self.w.frame(bytes(eth))
        self.frames[side].append(n)
        adv = len(payload) + (1 if flags & (SYN | FIN) else 0)
        self.seq[side] = (self.seq[side] + adv) & 0xFFFFFFFF
        return n

    # -- connection life cycle ---------------------------------------------------
    def open(self) -> None:
        mss = struct.pack("!BBH", 2, 4, MSS)
        self._packet("a", SYN, options=mss)
        self.ack["b"] = self.seq["a"]
        self._packet("b", SYN | ACK, options=mss)
        self.ack["a"] = self.seq["b"]
        self._packet("a", ACK)

    def assume_open(self) -> None:
        """The connection was set up before the capture began: no SYN, SYN/ACK or ACK in it."""
        for side in ("a", "b"):
            self.seq[side] = (self.seq[side] + 1) & 0xFFFFFFFF
        self.ack["b"], self.ack["a"] = self.seq["a"], self.seq["b"]

    def lose(self, side: str, data) -> None:
        """Bytes that were sent (and acknowledged) but are not in the capture: a capture gap."""
        if isinstance(data, str):
            data = data.encode("latin-1")
        other = "b" if side == "a" else "a"
        self.seq[side] = (self.seq[side] + len(data)) & 0xFFFFFFFF
        self.ack[other] = self.seq[side]

    def reset(self, side: str) -> int:
        """An RST from side (with ACK), ending the connection at once."""
        return self._packet(side, RST | ACK)

    def send(self, side: str, data, split=None, ack: bool = True):
        """Send bytes from side "a" or "b".

        split: None for MSS-sized segments, or a list of segment sizes (the
        rest goes in a final segment).  The peer acknowledges once at the end
        unless ack is False.  Returns the list of frame numbers used.
        """
        if isinstance(data, str):
            data = data.encode("latin-1")
        other = "b" if side == "a" else "a"
        sizes = []
        if split:
            rest = len(data)
            for s in split:
                s = min(s, rest)
                if s:
                    sizes.append(s)
                    rest -= s
            if rest:
                sizes.append(rest)
        else:
            sizes = [MSS] * (len(data) // MSS)
            if len(data) % MSS:
                sizes.append(len(data) % MSS)
        frames, off = [], 0
        for s in sizes:
            chunk = data[off:off + s]
            off += s
            frames.append(self._packet(side, PSH | ACK, chunk))
        self.ack[other] = self.seq[side]
        if ack:
            self._packet(other, ACK)
        return frames

    def a(self, data, **kw):
        return self.send("a", data, **kw)

    def b(self, data, **kw):
        return self.send("b", data, **kw)

    def close(self, first: str = "a") -> None:
        other = "b" if first == "a" else "a"
        self._packet(first, FIN | ACK)
        self.ack[other] = self.seq[first]
        self._packet(other, FIN | ACK)
        self.ack[first] = self.seq[other]
        self._packet(first, ACK)

# ---------------------------------------------------------------------------
# FTP session helpers
# ---------------------------------------------------------------------------

CLIENT = "192.0.2.10"        # RFC 5737 documentation addresses
SERVER = "198.51.100.7"
THIRD = "203.0.113.50"
CLIENT6 = "2001:db8::10"     # RFC 3849
SERVER6 = "2001:db8::21"

def payload_text(name: str, lines: int = 12) -> bytes:
    return "".join("ftplens handmade capture %s, line %d of %d\n" % (name, i + 1, lines)
                   for i in range(lines)).encode()

def sha256(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()

def _port_args(ip: str, port: int) -> str:
    return ",".join(ip.split(".") + [str(port >> 8), str(port & 0xFF)])

def _lp_args(ip: str, port: int) -> str:
    packed = ipaddress.ip_address(ip).packed
    af = 4 if len(packed) == 4 else 6
    return ",".join([str(af), str(len(packed))] + [str(b) for b in packed]
                    + ["2", str(port >> 8), str(port & 0xFF)])

class Session:
    """One FTP control connection plus its data connections, written to a pcap."""

    def __init__(self, name, path, client, server, description):
        self.name = name
        self.w = PcapWriter(path)
        self.client = client
        self.server = server
        self.ctrl = TcpConn(self.w, client, server)
        self.commands = []
        self.transfers = []
        self.facts = {
            "name": name,
            "pcap": os.path.basename(path),
            "origin": "handmade",
            "description": description,
            "server": "handmade",
            "client": "handmade",
            "ip_version": 6 if ":" in client[0] else 4,
            "control": {"client_ip": client[0], "client_port": client[1],
                        "server_ip": server[0], "server_port": server[1]},
            "user": None,
            "password": None,
            "login_ok": False,
            "failed_logins": 0,
            "commands": self.commands,
            "modes": [],
            "tls": False,
            "files": {},
            "transfers": self.transfers,
            "anomalies": [],
            "decode_as": ([] if server[1] == 21 else ["tcp.port==%d,ftp" % server[1]]),
        }

    # control channel
    def open(self, banner="220 ftplens handmade server ready"):
        self.ctrl.open()
        return self.reply(banner)

    def cmd(self, line, **kw):
        self.commands.append(line.split(" ", 1)[0])
        return self.ctrl.a(line + "\r\n", **kw)[0]

    def reply(self, text, **kw):
        return self.ctrl.b(text + "\r\n", **kw)[0]

    def login(self, user="alice", password="s3cret"):
        self.cmd("USER " + user)
        self.reply("331 Username ok, send password.")
        self.cmd("PASS " + password)
        self.reply("230 Login successful.")
        self.facts.update(user=user, password=password, login_ok=True)

    def quit(self):
        self.cmd("QUIT")
        self.reply("221 Goodbye.")
        self.ctrl.close(first="b")
        self.w.close()
        return self.facts

    # data channel
    def transfer(self, *, mode, command, fname, content, direction="download",
                 offset=0, passive, data_server, data_client, advertised,
                 setup_command_frame, setup_reply_frame, before=None,
                 reply150="150 File status okay. About to open data connection.",
                 opaque=False):
        """Send `command fname`, then run the data connection and the 226.

        passive: the FTP client opens the data connection (PASV/EPSV/LPSV);
        otherwise the FTP server does (PORT/EPRT/LPRT).
        data_server / data_client: (ip, port) of the FTP server's and the FTP
        client's ends of the data connection.
        """
        if before:
            before()
        cmd_frame = self.cmd("%s %s" % (command, fname) if fname else command)
        if passive:
            d = TcpConn(self.w, data_client, data_server)
            sender = "b" if direction != "upload" else "a"
        else:
            d = TcpConn(self.w, data_server, data_client)
            sender = "a" if direction != "upload" else "b"
        syn_frame = self.w.frames + 1
        d.open()
        self.reply(reply150)
        first = d.send(sender, content[offset:])[0]
        d.close(first=sender)
        self.reply("226 Transfer complete.")
        self.note_transfer(command=command, fname=fname, content=content, direction=direction,
                           mode=mode, offset=offset, passive=passive, data_server=data_server,
                           data_client=data_client, advertised=advertised,
                           setup_command_frame=setup_command_frame,
                           setup_reply_frame=setup_reply_frame, command_frame=cmd_frame,
                           syn_frame=syn_frame, first_frame=first, opaque=opaque)

    def note_transfer(self, *, command, fname, content, mode, passive, data_server, data_client,
                      advertised, setup_command_frame, setup_reply_frame, command_frame,
                      syn_frame, first_frame, direction="download", offset=0, opaque=False,
                      **extra):
        """Write down one transfer's facts: the file is `content`, of which the data connection
        carried content[offset:]; `extra` keys are added as they are. Returns the transfer's facts."""
        if mode not in self.facts["modes"]:
            self.facts["modes"].append(mode)
        wire = content[offset:]
        if fname and not opaque:
            self.facts["files"][fname] = {"size": len(content), "sha256": sha256(content)}
        t = {
            "command": command,
            "file": fname,
            "direction": direction,
            "mode": mode,
            "offset": offset,
            "size": len(wire),
            "sha256": sha256(wire),
            "advertised": {"ip": advertised[0], "port": advertised[1]},
            "data": {"client_ip": data_client[0], "client_port": data_client[1],
                     "server_ip": data_server[0], "server_port": data_server[1]},
            "initiator": "client" if passive else "server",
            "setup_command_frame": setup_command_frame,
            "setup_reply_frame": setup_reply_frame,
            "command_frame": command_frame,
            "data_syn_frame": syn_frame,
            "data_first_frame": first_frame,
            "opaque": opaque,
        }
        t.update(extra)
        self.transfers.append(t)
        return t

    def passive(self, verb, reply, mode, advertised, data_server, client_port=51000,
                command="RETR", fname="file.txt", content=None, **kw):
        """`verb` answered by `reply` (announcing `advertised`), then `command fname` over the data
        connection the client opens from `client_port` to `data_server`."""
        c = self.cmd(verb)
        r = self.reply(reply)
        self.transfer(mode=mode, command=command, fname=fname,
                      content=content if content is not None else payload_text(self.name),
                      passive=True, data_server=data_server,
                      data_client=(self.client[0], client_port), advertised=advertised,
                      setup_command_frame=c, setup_reply_frame=r, **kw)

    def pasv(self, server_adv, port, reply=None, data_server=None, **kw):
        text = reply or "227 Entering Passive Mode (%s)." % _port_args(server_adv, port)
        self.passive("PASV", text, "PASV", (server_adv, port), (data_server or server_adv, port),
                     **kw)

    def port(self, client_adv, port, server_src_port=20, command="RETR", fname="file.txt",
             content=None, verb="PORT", **kw):
        if verb == "PORT":
            c = self.cmd("PORT " + _port_args(client_adv, port))
        elif verb == "EPRT":
            af = 2 if ":" in client_adv else 1
            c = self.cmd("EPRT |%d|%s|%d|" % (af, client_adv, port))
        else:
            c = self.cmd("LPRT " + _lp_args(client_adv, port))
        r = self.reply("200 %s command successful." % verb)
        self.transfer(mode=verb, command=command, fname=fname,
                      content=content if content is not None else payload_text(self.name),
                      passive=False, data_server=(self.server[0], server_src_port),
                      data_client=(client_adv, port), advertised=(client_adv, port),
                      setup_command_frame=c, setup_reply_frame=r, **kw)

def _fake_tls_client_hello() -> bytes:
    """A syntactically plausible TLS 1.2 ClientHello record (random bytes are fixed)."""
    rnd = hashlib.sha256(b"ftplens client random").digest()
    suites = struct.pack("!H", 4) + bytes([0xC0, 0x2F, 0x00, 0x9C])
    sni_name = b"ftp.example.com"
    sni = struct.pack("!HHHBH", 0, len(sni_name) + 5, len(sni_name) + 3, 0, len(sni_name)) + sni_name
    exts = struct.pack("!H", len(sni)) + sni
    body = b"\x03\x03" + rnd + b"\x00" + suites + b"\x01\x00" + exts
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs

def _fake_tls_server_records() -> bytes:
    rnd = hashlib.sha256(b"ftplens server random").digest()
    body = b"\x03\x03" + rnd + b"\x00" + bytes([0xC0, 0x2F]) + b"\x00"
    hs = b"\x02" + struct.pack("!I", len(body))[1:] + body
    rec = b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs
    appdata = hashlib.sha256(b"ftplens encrypted").digest() * 3
    rec += b"\x17\x03\x03" + struct.pack("!H", len(appdata)) + appdata
    return rec

def _fake_tls_appdata(seed: bytes, n: int = 4) -> bytes:
    blob = b"".join(hashlib.sha256(seed + bytes([i])).digest() for i in range(n))
    return b"\x17\x03\x03" + struct.pack("!H", len(blob)) + blob

# ---------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------

CASES = []

def case(fn):
    CASES.append(fn)
    return fn

@case
def active_srcport_2020(d):
    """PORT; the server opens the data connection from port 2020, not 20."""
    s = Session("active_srcport_2020", d, (CLIENT, 40001), (SERVER, 21), active_srcport_2020.__doc__)
    s.open(); s.login()
    s.port(CLIENT, 50000, server_src_port=2020, fname="report.txt")
    return s.quit()

@case
def pasv_nat_private(d):
    """227 advertises private 10.0.0.5 (server behind NAT); the client connects to the control server address."""
    s = Session("pasv_nat_private", d, (CLIENT, 40002), (SERVER, 21), pasv_nat_private.__doc__)
    s.open(); s.login()
    s.pasv("10.0.0.5", 40000, data_server=SERVER, fname="nat.txt")
    s.facts["anomalies"].append("nat_mismatch")
    return s.quit()

@case
def eprt_ipv4(d):
    """EPRT |1|192.0.2.10|50001|; data from the classic server port 20."""
    s = Session("eprt_ipv4", d, (CLIENT, 40003), (SERVER, 21), eprt_ipv4.__doc__)
    s.open(); s.login()
    s.port(CLIENT, 50001, server_src_port=20, verb="EPRT", fname="eprt4.txt")
    return s.quit()

@case
def eprt_ipv6(d):
    """EPRT |2|2001:db8::10|50002| over IPv6; data from server port 40123."""
    s = Session("eprt_ipv6", d, (CLIENT6, 40004), (SERVER6, 21), eprt_ipv6.__doc__)
    s.open(); s.login()
    s.port(CLIENT6, 50002, server_src_port=40123, verb="EPRT", fname="eprt6.txt")
    return s.quit()

@case
def epsv_ipv6(d):
    """EPSV over IPv6: 229 (|||40001|), the client connects to the control server address."""
    s = Session("epsv_ipv6", d, (CLIENT6, 40005), (SERVER6, 21), epsv_ipv6.__doc__)
    s.open(); s.login()
    s.passive("EPSV", "229 Entering Extended Passive Mode (|||40001|)", "EPSV", (None, 40001),
              (SERVER6, 40001), client_port=51005, fname="epsv6.txt")
    return s.quit()

@case
def lprt_ipv4(d):
    """LPRT 4,4,... (RFC 1639); data from server port 2021."""
    s = Session("lprt_ipv4", d, (CLIENT, 40006), (SERVER, 21), lprt_ipv4.__doc__)
    s.open(); s.login()
    s.port(CLIENT, 50003, server_src_port=2021, verb="LPRT", fname="lprt4.txt")
    return s.quit()

@case
def lprt_ipv6(d):
    """LPRT 6,16,... over IPv6 (RFC 1639)."""
    s = Session("lprt_ipv6", d, (CLIENT6, 40007), (SERVER6, 21), lprt_ipv6.__doc__)
    s.open(); s.login()
    s.port(CLIENT6, 50004, server_src_port=20, verb="LPRT", fname="lprt6.txt")
    return s.quit()

@case
def lpsv_ipv4(d):
    """LPSV answered by 228 Entering Long Passive Mode (4,4,198,51,100,7,2,156,65)."""
    s = Session("lpsv_ipv4", d, (CLIENT, 40008), (SERVER, 21), lpsv_ipv4.__doc__)
    s.open(); s.login()
    s.passive("LPSV", "228 Entering Long Passive Mode (%s)" % _lp_args(SERVER, 40001), "LPSV",
              (SERVER, 40001), (SERVER, 40001), client_port=51008, fname="lpsv.txt")
    return s.quit()

@case
def pasv_no_parens(d):
    """227 without parentheses: '227 Entering Passive Mode 192,168,1,109,104,134'."""
    s = Session("pasv_no_parens", d, ("192.168.1.106", 57658), ("192.168.1.109", 21),
                pasv_no_parens.__doc__)
    s.open(); s.login()
    s.pasv("192.168.1.109", 26758, reply="227 Entering Passive Mode 192,168,1,109,104,134",
           client_port=58985, fname="noparens.txt")
    return s.quit()

@case
def epsv_bang(d):
    """229 with '!' delimiters: '229 Entering Extended Passive Mode (!!!40000!)'."""
    s = Session("epsv_bang", d, (CLIENT, 40009), (SERVER, 21), epsv_bang.__doc__)
    s.open(); s.login()
    s.passive("EPSV", "229 Entering Extended Passive Mode (!!!40000!)", "EPSV", (None, 40000),
              (SERVER, 40000), client_port=51009, fname="bang.txt")
    return s.quit()

@case
def epsv_reply_227(d):
    """EPSV answered with a 227 (some servers do): key on the reply code."""
    s = Session("epsv_reply_227", d, (CLIENT, 40010), (SERVER, 21), epsv_reply_227.__doc__)
    s.open(); s.login()
    s.passive("EPSV", "227 Entering Passive Mode (%s)." % _port_args(SERVER, 40002), "PASV",
              (SERVER, 40002), (SERVER, 40002), client_port=51010, fname="e227.txt")
    return s.quit()

@case
def pasv_reply_229(d):
    """PASV answered with a 229 (|||40003|): key on the reply code."""
    s = Session("pasv_reply_229", d, (CLIENT, 40011), (SERVER, 21), pasv_reply_229.__doc__)
    s.open(); s.login()
    s.passive("PASV", "229 Entering Extended Passive Mode (|||40003|)", "EPSV", (None, 40003),
              (SERVER, 40003), client_port=51011, fname="p229.txt")
    return s.quit()

@case
def type_rest_between(d):
    """PASV; TYPE I; REST 100; RETR big.bin: one transfer of big.bin starting at byte 100."""
    s = Session("type_rest_between", d, (CLIENT, 40012), (SERVER, 21), type_rest_between.__doc__)
    s.open(); s.login()
    content = bytes(range(256)) * 4

    def between():
        s.cmd("TYPE I"); s.reply("200 Type set to: Binary.")
        s.cmd("REST 100"); s.reply("350 Restarting at position 100.")
    s.pasv(SERVER, 40004, client_port=51012, fname="big.bin", content=content, offset=100,
           before=between)
    return s.quit()

@case
def split_227(d):
    """The 227 reply is split across two TCP segments (and RETR across two as well)."""
    s = Session("split_227", d, (CLIENT, 40013), (SERVER, 21), split_227.__doc__)
    s.open(); s.login()
    c = s.cmd("PASV")
    text = "227 Entering Passive Mode (%s).\r\n" % _port_args(SERVER, 40005)
    frames = s.ctrl.b(text, split=[23])     # "227 Entering Passive Mo" | "de (...).\r\n"
    s.facts["split_frames"] = frames
    # RETR split as well: "RE" | "TR split.txt\r\n"
    orig_cmd = s.cmd

    def split_cmd(line, **kw):
        if line.startswith("RETR"):
            s.commands.append("RETR")
            fr = s.ctrl.a(line + "\r\n", split=[2])
            s.facts["split_frames"] += fr
            return fr[-1]
        return orig_cmd(line, **kw)
    s.cmd = split_cmd
    s.transfer(mode="PASV", command="RETR", fname="split.txt", content=payload_text(s.name),
               passive=True, data_server=(SERVER, 40005), data_client=(CLIENT, 51013),
               advertised=(SERVER, 40005), setup_command_frame=c, setup_reply_frame=frames[-1])
    s.cmd = orig_cmd
    return s.quit()

@case
def pipelined(d):
    """Pipelined commands 'TYPE I\\r\\nPASV\\r\\n' in one segment, both replies in one segment."""
    s = Session("pipelined", d, (CLIENT, 40014), (SERVER, 21), pipelined.__doc__)
    s.open(); s.login()
    s.commands += ["TYPE", "PASV"]
    c = s.ctrl.a("TYPE I\r\nPASV\r\n")[0]
    r = s.ctrl.b("200 Type set to: Binary.\r\n227 Entering Passive Mode (%s).\r\n"
                 % _port_args(SERVER, 40006))[0]
    s.transfer(mode="PASV", command="RETR", fname="pipe.txt", content=payload_text(s.name),
               passive=True, data_server=(SERVER, 40006), data_client=(CLIENT, 51014),
               advertised=(SERVER, 40006), setup_command_frame=c, setup_reply_frame=r)
    return s.quit()

@case
def control_port_2121(d):
    """Control connection on the non-standard port 2121 (needs decode-as for the built-in dissector)."""
    s = Session("control_port_2121", d, (CLIENT, 40015), (SERVER, 2121), control_port_2121.__doc__)
    s.open(); s.login()
    s.pasv(SERVER, 40007, client_port=51015, fname="port2121.txt")
    return s.quit()

def _auth_case(d, name, verb, desc):
    s = Session(name, d, (CLIENT, 40016 if verb == "AUTH SSL" else 40017), (SERVER, 21), desc)
    s.open()
    s.cmd(verb)
    s.reply("234 AUTH %s successful." % verb.split()[1].upper())
    s.ctrl.a(_fake_tls_client_hello())
    s.ctrl.b(_fake_tls_server_records())
    s.ctrl.a(_fake_tls_appdata(b"client " + name.encode()))
    s.ctrl.b(_fake_tls_appdata(b"server " + name.encode()))
    s.facts["tls"] = True
    s.facts["tls_command"] = verb
    # An encrypted data connection is present; nothing in clear says which file.
    blob = _fake_tls_appdata(b"data " + name.encode(), 8)
    s.facts["modes"] = []
    d_conn = TcpConn(s.w, (CLIENT, 51016), (SERVER, 40008))
    d_conn.open()
    d_conn.b(blob)
    d_conn.close(first="b")
    s.facts["opaque_data_connections"] = [{"client_ip": CLIENT, "client_port": 51016,
                                           "server_ip": SERVER, "server_port": 40008,
                                           "size": len(blob), "sha256": sha256(blob)}]
    s.ctrl.a(_fake_tls_appdata(b"client close " + name.encode(), 1))
    s.ctrl.close(first="a")
    s.w.close()
    return s.facts

@case
def auth_ssl(d):
    """AUTH SSL answered 234, then TLS bytes (a fake ClientHello) on the control connection."""
    return _auth_case(d, "auth_ssl", "AUTH SSL", auth_ssl.__doc__)

@case
def auth_tls_lower(d):
    """lower-case 'auth tls' answered 234, then TLS bytes (a fake ClientHello)."""
    return _auth_case(d, "auth_tls_lower", "auth tls", auth_tls_lower.__doc__)

@case
def multiline_inner_digits(d):
    """A multi-line 230 whose inner lines begin with digits (only '230 ' ends it), then PASV RETR."""
    s = Session("multiline_inner_digits", d, (CLIENT, 40018), (SERVER, 21),
                multiline_inner_digits.__doc__)
    s.open("220-ftplens handmade server\r\n220-200 this inner banner line starts with digits\r\n"
           "220 ready")
    s.cmd("USER alice")
    s.reply("331 Username ok, send password.")
    s.cmd("PASS s3cret")
    r = s.reply("230-Welcome, alice.\r\n331 this inner line starts with another code\r\n"
                "230-still inside the reply\r\n 230 indented, still inside\r\n"
                "230 Login successful.")
    s.facts.update(user="alice", password="s3cret", login_ok=True, multiline_reply_frame=r)
    s.pasv(SERVER, 40009, client_port=51018, fname="multiline.txt")
    return s.quit()

@case
def overlong_line(d):
    """A 20,000-byte command line with no CRLF inside it, then normal commands and a PASV RETR."""
    s = Session("overlong_line", d, (CLIENT, 40019), (SERVER, 21), overlong_line.__doc__)
    s.open(); s.login()
    junk = b"A" * 20000
    # Not listed in "commands": what an analyser makes of the cut line is its own business.
    frames = s.ctrl.a(junk + b"\r\n")
    s.reply("500 Command too long.")
    s.facts["anomalies"].append("line_too_long")
    s.facts["overlong"] = {"bytes": 20000, "first_frame": frames[0], "last_frame": frames[-1]}
    s.cmd("NOOP")
    s.reply("200 I successfully done nothin'.")
    s.pasv(SERVER, 40010, client_port=51019, fname="after-long.txt")
    return s.quit()

@case
def failed_logins_x4(d):
    """Four failed logins (530), then a good one and a PASV RETR."""
    s = Session("failed_logins_x4", d, (CLIENT, 40020), (SERVER, 21), failed_logins_x4.__doc__)
    s.open()
    wrong = ["guess1", "guess2", "letmein", "password"]
    for pw in wrong:
        s.cmd("USER alice")
        s.reply("331 Username ok, send password.")
        s.cmd("PASS " + pw)
        s.reply("530 Authentication failed.")
    s.login()
    s.facts["failed_logins"] = len(wrong)
    s.facts["failed_passwords"] = wrong
    s.pasv(SERVER, 40011, client_port=51020, fname="after-fail.txt")
    return s.quit()

@case
def port_bounce(d):
    """PORT to a third-party address (203.0.113.50): an FTP bounce; the server connects there."""
    s = Session("port_bounce", d, (CLIENT, 40021), (SERVER, 21), port_bounce.__doc__)
    s.open(); s.login()
    s.port(THIRD, 50010, server_src_port=20, fname="bounce.txt")
    s.facts["anomalies"].append("bounce")
    return s.quit()

@case
def stor_active(d):
    """STOR upload over PORT; the client sends the bytes, the server opens from port 20."""
    s = Session("stor_active", d, (CLIENT, 40022), (SERVER, 21), stor_active.__doc__)
    s.open(); s.login()
    s.port(CLIENT, 50011, server_src_port=20, command="STOR", fname="upload.txt",
           direction="upload")
    return s.quit()

def generate(outdir, cases=None, generator="tests/captures/handmade.py") -> dict:
    """Write every case's pcap into outdir plus facts.json; return the facts."""
    os.makedirs(outdir, exist_ok=True)
    caps = []
    for fn in CASES if cases is None else cases:
        path = os.path.join(outdir, fn.__name__ + ".pcap")
        facts = fn(path)
        facts["description"] = " ".join(facts["description"].split())
        caps.append(facts)
    facts = {"schema": 1, "generator": generator, "captures": caps}
    with open(os.path.join(outdir, "facts.json"), "w") as f:
        json.dump(facts, f, indent=1, sort_keys=True)
        f.write("\n")
    return facts

def main(argv=None, cases=None, default_dir="handmade", generator="tests/captures/handmade.py",
         line=lambda c: "%-24s %s" % (c["name"], c["description"])) -> int:
    """`SCRIPT [OUTDIR]`: write the cases (default: the folder default_dir beside this file)."""
    argv = sys.argv[1:] if argv is None else argv
    default = os.path.join(os.path.dirname(os.path.abspath(__file__)), default_dir)
    outdir = argv[0] if argv else default
    facts = generate(outdir, cases, generator)
    for c in facts["captures"]:
        print(line(c))
    print("wrote %d captures + facts.json to %s" % (len(facts["captures"]), outdir))
    return 0

if __name__ == "__main__":
    sys.exit(main())
