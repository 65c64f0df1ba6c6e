//! From a captured frame to a TCP segment: link layer (Ethernet with VLAN tags, raw IP, Linux cooked
//! SLL and SLL2, BSD loopback), then IPv4 or IPv6, then TCP, with etherparse. Lax slicing keeps the
//! bytes a short snap length left: a cut segment is delivered short and its tail becomes a gap.

use etherparse::{LaxIpSlice, TcpSlice, ip_number};
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

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
/// 802.1Q, 802.1ad and the older QinQ tag.
const VLAN_TAGS: [u16; 3] = [0x8100, 0x88a8, 0x9100];

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
}

fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*d.get(at)?, *d.get(at + 1)?]))
}

/// The IP packet inside a frame: link headers (and VLAN tags) skipped.
fn ip_of(linktype: i32, data: &[u8]) -> Result<Option<&[u8]>, Decoded<'static>> {
    let (ether_type, mut at) = match linktype {
        linktype::ETHERNET => (be16(data, 12).ok_or(Decoded::Malformed)?, 14),
        linktype::RAW
        | linktype::RAW_OPENBSD
        | linktype::RAW_BSD
        | linktype::IPV4
        | linktype::IPV6 => return Ok(Some(data)),
        // The 4-byte address family is in host order (NULL) or network order (LOOP); the IP
        // version nibble says the same, so it is not read.
        linktype::NULL | linktype::LOOP => {
            return data.get(4..).map(Some).ok_or(Decoded::Malformed);
        }
        // SLL: 16-byte header, protocol (an ether type) in its last two bytes.
        linktype::LINUX_SLL => (be16(data, 14).ok_or(Decoded::Malformed)?, 16),
        // SLL2: 20-byte header, protocol first.
        linktype::LINUX_SLL2 => (be16(data, 0).ok_or(Decoded::Malformed)?, 20),
        _ => return Err(Decoded::UnknownLink),
    };
    let mut ether_type = ether_type;
    while VLAN_TAGS.contains(&ether_type) {
        ether_type = be16(data, at + 2).ok_or(Decoded::Malformed)?;
        at += 4;
    }
    match ether_type {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => data.get(at..).map(Some).ok_or(Decoded::Malformed),
        _ => Ok(None),
    }
}

/// Decode one frame of the given link type.
pub fn decode(linktype: i32, data: &[u8]) -> Decoded<'_> {
    let ip = match ip_of(linktype, data) {
        Ok(Some(ip)) => ip,
        Ok(None) => return Decoded::NotIp,
        Err(e) => return e,
    };
    // Lax: a packet cut by the snap length keeps the bytes it has.
    let Ok((ip, _)) = LaxIpSlice::from_slice(ip) else {
        return Decoded::Malformed;
    };
    let payload = ip.payload();
    if payload.ip_number != ip_number::TCP || payload.fragmented {
        return Decoded::OtherIp {
            fragment: payload.fragmented,
        };
    }
    let Ok(tcp) = TcpSlice::from_slice(payload.payload) else {
        return Decoded::Malformed;
    };
    Decoded::Tcp(Segment {
        src: SocketAddr::new(ip.source_addr(), tcp.source_port()),
        dst: SocketAddr::new(ip.destination_addr(), tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        syn: tcp.syn(),
        ack_flag: tcp.ack(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        payload: tcp.payload(),
    })
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
