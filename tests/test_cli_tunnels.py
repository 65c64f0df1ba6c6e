"""The CLI through tunnels and encapsulations: real FTP sessions (the bundled pyftpdlib capture,
and real curl sessions over IPv6 from tests/captures/real.py) re-wrapped packet by packet with dpkt
in 6in4, IP-in-IP, GRE (IPv4, IPv6 and Ethernet inside), VXLAN, MPLS and PPPoE. The records must
be those of the unwrapped capture, field for field: the tunnel changes nothing a reader of FTP
sees. A frame nested deeper than the decoder opens is skipped and reported."""
from __future__ import annotations

import json
import struct
import subprocess

import dpkt
import pytest

from test_cli_real import ftplens_bin  # noqa: F401  (the fixture)

OUTER4 = (bytes([198, 51, 100, 1]), bytes([198, 51, 100, 2]))  # RFC 5737 documentation range
MAC_A, MAC_B = b"\x02\x00\x00\x00\x00\x01", b"\x02\x00\x00\x00\x00\x02"


def read_ip_packets(path):
    """(ts, raw IP bytes, ether type) of every frame of an Ethernet capture."""
    with open(path, "rb") as f:
        r = dpkt.pcap.Reader(f)
        assert r.datalink() == dpkt.pcap.DLT_EN10MB
        out = []
        for ts, buf in r:
            eth = dpkt.ethernet.Ethernet(buf)
            out.append((ts, bytes(eth.data), eth.type))
        return out


def ethernet(ether_type: int, payload: bytes) -> bytes:
    return MAC_B + MAC_A + struct.pack("!H", ether_type) + payload


def ipv4(proto: int, payload: bytes) -> bytes:
    return bytes(dpkt.ip.IP(src=OUTER4[0], dst=OUTER4[1], p=proto, ttl=64, data=payload))


def ipv6(nxt: int, payload: bytes) -> bytes:
    return bytes(dpkt.ip6.IP6(src=b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x01",
                              dst=b"\x20\x01\x0d\xb8" + b"\0" * 11 + b"\x02",
                              nxt=nxt, hlim=64, plen=len(payload), data=payload))


def gre(proto: int, payload: bytes, key: int | None = 7) -> bytes:
    # RFC 2784 with RFC 2890's key: flags (K bit), protocol type, key.
    if key is None:
        return struct.pack("!HH", 0, proto) + payload
    return struct.pack("!HHI", 0x2000, proto, key) + payload


def vxlan(inner_frame: bytes) -> bytes:
    # RFC 7348: flags with the I bit, 24-bit VNI, inside UDP to port 4789.
    header = struct.pack("!B3xI", 0x08, 4242 << 8)
    udp = dpkt.udp.UDP(sport=49152, dport=4789, data=header + inner_frame)
    udp.ulen = len(bytes(udp))
    return ethernet(0x0800, ipv4(17, bytes(udp)))


def mpls(payload: bytes) -> bytes:
    # Two labels (RFC 3032): 100 then 200 with the bottom-of-stack bit, TTL 64.
    stack = struct.pack("!II", (100 << 12) | 64, (200 << 12) | 0x100 | 64)
    return ethernet(0x8847, stack + payload)


def pppoe(ip: bytes, v6: bool) -> bytes:
    # RFC 2516 session stage: ver/type 0x11, code 0, session 0x1234, length, then PPP protocol.
    proto = 0x0057 if v6 else 0x0021
    return ethernet(0x8864, struct.pack("!BBHHH", 0x11, 0, 0x1234, len(ip) + 2, proto) + ip)


WRAPPERS = {
    "ipip": lambda ip, et: ethernet(0x0800, ipv4(4 if et == 0x0800 else 41, ip)),
    "ip6ip": lambda ip, et: ethernet(0x86DD, ipv6(4 if et == 0x0800 else 41, ip)),
    "gre_ip": lambda ip, et: ethernet(0x0800, ipv4(47, gre(et, ip))),
    "gre_ip_no_key": lambda ip, et: ethernet(0x0800, ipv4(47, gre(et, ip, key=None))),
    "gre_over_ipv6": lambda ip, et: ethernet(0x86DD, ipv6(47, gre(et, ip))),
    "gre_ethernet": lambda ip, et: ethernet(0x0800, ipv4(47, gre(0x6558, ethernet(et, ip)))),
    "vxlan": lambda ip, et: vxlan(ethernet(et, ip)),
    "vxlan_vlan_inside": lambda ip, et: vxlan(ethernet(0x8100, struct.pack("!HH", 5, et) + ip)),
    "mpls": lambda ip, et: mpls(ip),
    "pppoe": lambda ip, et: pppoe(ip, et == 0x86DD),
    "mpls_in_gre": lambda ip, et: ethernet(0x0800, ipv4(47, gre(0x8847, mpls(ip)[14:]))),
}


def write_pcap(path, frames):
    with open(path, "wb") as f:
        w = dpkt.pcap.Writer(f, linktype=dpkt.pcap.DLT_EN10MB, snaplen=262144)
        for ts, frame in frames:
            w.writepkt(frame, ts=ts)


def log(binary, path, *extra):
    p = subprocess.run([binary, "log", str(path), *extra], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode in (0, 1), p.stderr
    return [json.loads(line) for line in p.stdout.splitlines()], p.stderr


def sessions(seed_capture, real_captures):
    """Real sessions: the IPv4 pyftpdlib sample and curl over IPv6."""
    out = [("seed_ipv4", seed_capture["path"])]
    for name in ("epsv_retr_ipv6_curl", "eprt_retr_ipv6_curl"):
        if name in real_captures:
            out.append((name, real_captures[name]["path"]))
    return out


@pytest.mark.parametrize("kind", sorted(WRAPPERS))
def test_wrapped_session_gives_the_same_records(ftplens_bin, seed_capture, real_captures,
                                                 tmp_path, kind):
    cases = sessions(seed_capture, real_captures)
    assert len(cases) >= 2, "no IPv6 session among the real captures"
    for name, path in cases:
        plain, _ = log(ftplens_bin, path)
        assert any(r["type"] == "transfer" and r.get("sha256") for r in plain), name
        packets = read_ip_packets(path)
        wrapped = tmp_path / f"{name}-{kind}.pcap"
        write_pcap(wrapped, [(ts, WRAPPERS[kind](ip, et)) for ts, ip, et in packets])
        through, stderr = log(ftplens_bin, wrapped)
        assert through == plain, (kind, name, stderr)


def test_nesting_is_bounded_and_reported(ftplens_bin, seed_capture, tmp_path):
    packets = read_ip_packets(seed_capture["path"])

    def nest(ip, et, depth):
        for _ in range(depth):
            ip, et = ipv4(4 if et == 0x0800 else 41, ip), 0x0800
        return ethernet(et, ip)

    ok = tmp_path / "nested-10.pcap"
    write_pcap(ok, [(ts, nest(ip, et, 10)) for ts, ip, et in packets])
    plain, _ = log(ftplens_bin, seed_capture["path"])
    assert log(ftplens_bin, ok)[0] == plain
    deep = tmp_path / "nested-40.pcap"
    write_pcap(deep, [(ts, nest(ip, et, 40)) for ts, ip, et in packets])
    recs, stderr = log(ftplens_bin, deep)
    assert recs == []
    assert f"{len(packets)} frames nested in more than 16 layers" in stderr
