//! From a captured frame to a TCP segment: link layer (Ethernet with VLAN tags, raw IP, Linux cooked
//! SLL and SLL2, BSD loopback), then IPv4 or IPv6, then TCP, with etherparse. Lax slicing keeps the
//! bytes a short snap length left: a cut segment is delivered short and its tail becomes a gap.
//!
//! Tunnels and encapsulations are opened on the way, nested in any order: 6in4 and IP-in-IP (IP
//! protocols 41 and 4), GRE (RFC 2784/2890: IPv4, IPv6, Ethernet or MPLS inside; no ERSPAN),
//! VXLAN (RFC 7348, UDP port 4789), MPLS label stacks (RFC 3032) and PPPoE sessions (RFC 2516).
//! The segment's addresses are the innermost ones. At most [`MAX_NESTING`] layers are opened;
//! a frame nested deeper is [`Decoded::TooDeep`], counted and reported, never followed.

use etherparse::{LaxIpSlice, TcpSlice, UdpSlice, ip_number};
use std::net::SocketAddr;

/// Link types (https://www.tcpdump.org/linktypes.html).
pub mod linktype {
    pub const NULL: i32 = 0;
    pub const ETHERNET: i32 = 1;
    pub const RAW_OPENBSD: i32 = 12;
    pub const RAW_BSD: i32 = 14;
    pub const RAW: i32 = 101;
    pub const LOOP: i32 = 108;
    pub const LINUX_SLL: i32 = 113;
    pub const IPV4: i32 = 228;
    pub const IPV6: i32 = 229;
    pub const LINUX_SLL2: i32 = 276;
}

/// Ether types (IEEE registry), also GRE's protocol type field.
mod ether_type {
    pub const IPV4: u16 = 0x0800;
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q, 802.1ad and the older QinQ tag.
    pub const VLAN_TAGS: [u16; 3] = [0x8100, 0x88a8, 0x9100];
    /// MPLS unicast and multicast (RFC 3032 section 5).
    pub const MPLS: [u16; 2] = [0x8847, 0x8848];
    /// PPPoE session stage (RFC 2516 section 4).
    pub const PPPOE_SESSION: u16 = 0x8864;
    /// Transparent Ethernet bridging: an Ethernet frame inside GRE.
    pub const TEB: u16 = 0x6558;
}

/// IP protocol numbers of IP carried in IP.
const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;
/// VXLAN's IANA port (RFC 7348 section 5).
const VXLAN_PORT: u16 = 4789;
/// PPP protocol numbers (RFC 1332, RFC 5072).
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

/// Layers (link headers, tags, labels, tunnels) opened before a frame counts as too deep. Real
/// traffic nests three or four (VXLAN over a VLAN, MPLS in GRE); a crafted frame could nest
/// hundreds, and each layer costs a little time.
pub const MAX_NESTING: usize = 16;

/// A TCP segment, borrowed from the frame.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub seq: u32,
    pub ack: u32,
    pub syn: bool,
    pub ack_flag: bool,
    pub fin: bool,
    pub rst: bool,
    pub payload: &'a [u8],
}

/// What a frame turned out to be.
#[derive(Debug)]
pub enum Decoded<'a> {
    Tcp(Segment<'a>),
    /// IP, but not TCP, or a fragment (not reassembled: FTP stacks do not fragment).
    OtherIp {
        fragment: bool,
    },
    /// Not IP (ARP, other ether types).
    NotIp,
    /// A link type this reader does not know.
    UnknownLink,
    /// Too short or malformed headers.
    Malformed,
    /// More than [`MAX_NESTING`] layers of encapsulation.
    TooDeep,
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

/// Decode one frame of the given link type.
pub fn decode(linktype: i32, data: &[u8]) -> Decoded<'_> {
    let (proto, at) = match linktype {
        linktype::ETHERNET => return ethernet(data, 0),
        linktype::RAW
        | linktype::RAW_OPENBSD
        | linktype::RAW_BSD
        | linktype::IPV4
        | linktype::IPV6 => return ip(data, 0),
        // The 4-byte address family is in host order (NULL) or network order (LOOP); the IP
        // version nibble says the same, so it is not read.
        linktype::NULL | linktype::LOOP => {
            return data.get(4..).map_or(Decoded::Malformed, |d| ip(d, 0));
        }
        // SLL: 16-byte header, protocol (an ether type) in its last two bytes.
        linktype::LINUX_SLL => (be16(data, 14), 16),
        // SLL2: 20-byte header, protocol first.
        linktype::LINUX_SLL2 => (be16(data, 0), 20),
        _ => return Decoded::UnknownLink,
    };
    match (proto, data.get(at..)) {
        (Some(proto), Some(rest)) => by_ether_type(proto, rest, 0),
        _ => Decoded::Malformed,
    }
}

/// An Ethernet frame: destination, source, ether type.
fn ethernet(data: &[u8], depth: usize) -> Decoded<'_> {
    match (be16(data, 12), data.get(14..)) {
        (Some(proto), Some(rest)) => by_ether_type(proto, rest, depth),
        _ => Decoded::Malformed,
    }
}

/// The payload of a layer that names its content by ether type.
fn by_ether_type(proto: u16, data: &[u8], depth: usize) -> Decoded<'_> {
    if depth >= MAX_NESTING {
        return Decoded::TooDeep;
    }
    let depth = depth + 1;
    match proto {
        ether_type::IPV4 | ether_type::IPV6 => ip(data, depth),
        // A tag: priority and VLAN id, then the next ether type.
        p if ether_type::VLAN_TAGS.contains(&p) => match (be16(data, 2), data.get(4..)) {
            (Some(next), Some(rest)) => by_ether_type(next, rest, depth),
            _ => Decoded::Malformed,
        },
        p if ether_type::MPLS.contains(&p) => mpls(data, depth),
        ether_type::PPPOE_SESSION => pppoe(data, depth),
        ether_type::TEB => ethernet(data, depth),
        _ => Decoded::NotIp,
    }
}

/// An MPLS label stack (RFC 3032 section 2.1): 4-byte entries, the last with the bottom-of-stack
/// bit. The stack does not name what it carries; IPv4 and IPv6 say so in their first nibble.
fn mpls(data: &[u8], depth: usize) -> Decoded<'_> {
    let mut at = 0;
    loop {
        let Some(entry) = data.get(at..at + 4) else {
            return Decoded::Malformed;
        };
        at += 4;
        if entry[2] & 1 == 1 {
            break;
        }
        if at / 4 > MAX_NESTING {
            return Decoded::TooDeep;
        }
    }
    let rest = &data[at..];
    match rest.first().map(|b| b >> 4) {
        Some(4) | Some(6) => ip(rest, depth),
        _ => Decoded::NotIp, // Ethernet pseudowires and other payloads
    }
}

/// A PPPoE session packet (RFC 2516 section 4): version/type, code 0, session id, length, then a
/// PPP protocol number.
fn pppoe(data: &[u8], depth: usize) -> Decoded<'_> {
    let (Some(len), Some(proto)) = (be16(data, 4), be16(data, 6)) else {
        return Decoded::Malformed;
    };
    // The length counts the PPP protocol field and payload; Ethernet padding may follow.
    let end = (6 + len as usize).min(data.len());
    let Some(payload) = data.get(8..end) else {
        return Decoded::Malformed;
    };
    match proto {
        PPP_IPV4 | PPP_IPV6 => ip(payload, depth),
        _ => Decoded::NotIp,
    }
}

/// A GRE packet (RFC 2784, with RFC 2890's key and sequence number): version 0 only.
fn gre(data: &[u8], depth: usize) -> Decoded<'_> {
    let (Some(flags), Some(proto)) = (be16(data, 0), be16(data, 2)) else {
        return Decoded::Malformed;
    };
    if flags & 0x7 != 0 {
        return Decoded::NotIp; // version 1 is PPTP's enhanced GRE
    }
    let mut at = 4;
    for bit in [0x8000, 0x2000, 0x1000] {
        // checksum (+ reserved), key, sequence number: 4 bytes each when present
        if flags & bit != 0 {
            at += 4;
        }
    }
    match data.get(at..) {
        Some(rest) => by_ether_type(proto, rest, depth),
        None => Decoded::Malformed,
    }
}

/// IPv4 or IPv6, then TCP, or a tunnel inside.
fn ip(data: &[u8], depth: usize) -> Decoded<'_> {
    if depth >= MAX_NESTING {
        return Decoded::TooDeep;
    }
    // Lax: a packet cut by the snap length keeps the bytes it has.
    let Ok((packet, _)) = LaxIpSlice::from_slice(data) else {
        return Decoded::Malformed;
    };
    let payload = packet.payload();
    if payload.fragmented {
        return Decoded::OtherIp { fragment: true };
    }
    match payload.ip_number {
        ip_number::TCP => {}
        n if n.0 == IPPROTO_IPIP || n.0 == IPPROTO_IPV6 => return ip(payload.payload, depth + 1),
        n if n.0 == IPPROTO_GRE => return gre(payload.payload, depth + 1),
        ip_number::UDP => return udp(payload.payload, depth + 1),
        _ => return Decoded::OtherIp { fragment: false },
    }
    let Ok(tcp) = TcpSlice::from_slice(payload.payload) else {
        return Decoded::Malformed;
    };
    Decoded::Tcp(Segment {
        src: SocketAddr::new(packet.source_addr(), tcp.source_port()),
        dst: SocketAddr::new(packet.destination_addr(), tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        syn: tcp.syn(),
        ack_flag: tcp.ack(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload: tcp.payload(),
    })
}

/// UDP matters only as VXLAN's carrier: an 8-byte header whose I flag says a VNI is present
/// (RFC 7348 section 5), then an Ethernet frame.
fn udp(data: &[u8], depth: usize) -> Decoded<'_> {
    let not_tcp = Decoded::OtherIp { fragment: false };
    let Ok(udp) = UdpSlice::from_slice_lax(data) else {
        return not_tcp;
    };
    if udp.destination_port() != VXLAN_PORT {
        return not_tcp;
    }
    match udp.payload().get(8..) {
        Some(inner) if udp.payload()[0] & 0x08 != 0 => ethernet(inner, depth),
        _ => not_tcp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4_tcp(payload: &[u8]) -> Vec<u8> {
        let b = etherparse::PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(1234, 21, 1000, 65535)
            .ack(5);
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn link_types() {
        let ip = ipv4_tcp(b"any bytes\r\n");
        let check = |lt: i32, frame: Vec<u8>| match decode(lt, &frame) {
            Decoded::Tcp(s) => {
                assert_eq!(s.payload, b"any bytes\r\n", "linktype {lt}");
                assert_eq!(s.dst.port(), 21);
                assert_eq!(s.seq, 1000);
            }
            other => panic!("linktype {lt}: {other:?}"),
        };
        check(linktype::RAW, ip.clone());
        let mut null = 2u32.to_ne_bytes().to_vec();
        null.extend_from_slice(&ip);
        check(linktype::NULL, null);
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&[0x81, 0x00, 0x00, 0x07, 0x08, 0x00]); // one VLAN tag
        eth.extend_from_slice(&ip);
        check(linktype::ETHERNET, eth);
        let mut sll = vec![0u8; 14];
        sll.extend_from_slice(&[0x08, 0x00]);
        sll.extend_from_slice(&ip);
        check(linktype::LINUX_SLL, sll);
        let mut sll2 = vec![0x08, 0x00];
        sll2.extend_from_slice(&[0u8; 18]);
        sll2.extend_from_slice(&ip);
        check(linktype::LINUX_SLL2, sll2);
        assert!(matches!(decode(999, &ip), Decoded::UnknownLink));
        assert!(matches!(
            decode(linktype::RAW, &ip[..10]),
            Decoded::Malformed
        ));
    }

    #[test]
    fn cut_segment_keeps_what_was_captured() {
        let ip = ipv4_tcp(b"some payload\r\n");
        match decode(linktype::RAW, &ip[..ip.len() - 5]) {
            Decoded::Tcp(s) => assert_eq!(s.payload, b"some payl"),
            other => panic!("{other:?}"),
        }
    }
}
