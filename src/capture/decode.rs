//! From a captured frame to a TCP segment: link layer (Ethernet with VLAN tags, raw IP, Linux cooked
//! SLL and SLL2, BSD loopback), then IPv4 or IPv6, then TCP, with etherparse. Lax slicing keeps the
//! bytes a short snap length left: a cut segment is delivered short and its tail becomes a gap.

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use std::net::{IpAddr, SocketAddr};

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

/// Decode one frame of the given link type.
pub fn decode(linktype: i32, data: &[u8]) -> Decoded<'_> {
    let sliced = match linktype {
        linktype::ETHERNET => LaxSlicedPacket::from_ethernet(data).ok(),
        linktype::RAW
        | linktype::RAW_OPENBSD
        | linktype::RAW_BSD
        | linktype::IPV4
        | linktype::IPV6 => LaxSlicedPacket::from_ip(data).ok(),
        // The 4-byte address family is in host order (NULL) or network order (LOOP); the IP
        // version nibble says the same, so it is not read.
        linktype::NULL | linktype::LOOP => data
            .get(4..)
            .and_then(|ip| LaxSlicedPacket::from_ip(ip).ok()),
        // SLL: 16-byte header, protocol (an ether type) in its last two bytes.
        linktype::LINUX_SLL => data.get(16..).map(|rest| {
            LaxSlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([data[14], data[15]])),
                rest,
            )
        }),
        // SLL2: 20-byte header, protocol first.
        linktype::LINUX_SLL2 => data.get(20..).map(|rest| {
            LaxSlicedPacket::from_ether_type(
                EtherType(u16::from_be_bytes([data[0], data[1]])),
                rest,
            )
        }),
        _ => return Decoded::UnknownLink,
    };
    let Some(p) = sliced else {
        return Decoded::Malformed;
    };
    let (src_ip, dst_ip, fragment) = match &p.net {
        Some(LaxNetSlice::Ipv4(v4)) => (
            IpAddr::V4(v4.header().source_addr()),
            IpAddr::V4(v4.header().destination_addr()),
            v4.payload().fragmented,
        ),
        Some(LaxNetSlice::Ipv6(v6)) => (
            IpAddr::V6(v6.header().source_addr()),
            IpAddr::V6(v6.header().destination_addr()),
            v6.payload().fragmented,
        ),
        Some(LaxNetSlice::Arp(_)) | None => {
            return if p.stop_err.is_some() && p.link_exts.is_empty() && p.link.is_none() {
                Decoded::Malformed
            } else {
                Decoded::NotIp
            };
        }
    };
    match &p.transport {
        Some(TransportSlice::Tcp(tcp)) => Decoded::Tcp(Segment {
            src: SocketAddr::new(src_ip, tcp.source_port()),
            dst: SocketAddr::new(dst_ip, tcp.destination_port()),
            seq: tcp.sequence_number(),
            ack: tcp.acknowledgment_number(),
            syn: tcp.syn(),
            ack_flag: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            payload: tcp.payload(),
        }),
        _ => Decoded::OtherIp { fragment },
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
        let ip = ipv4_tcp(b"USER a\r\n");
        let check = |lt: i32, frame: Vec<u8>| match decode(lt, &frame) {
            Decoded::Tcp(s) => {
                assert_eq!(s.payload, b"USER a\r\n", "linktype {lt}");
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
        let ip = ipv4_tcp(b"RETR file.txt\r\n");
        match decode(linktype::RAW, &ip[..ip.len() - 5]) {
            Decoded::Tcp(s) => assert_eq!(s.payload, b"RETR file."),
            other => panic!("{other:?}"),
        }
    }
}
