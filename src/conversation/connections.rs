//! Connections and their roles: which TCP connection is a control connection, which is a data
//! connection of which session, which waits to be claimed, and which side is the server.
//!
//! A connection starts *pending*: its first bytes are kept (capped) so that the heuristic can judge
//! it and so that a prediction announced later in the capture can still claim it (late binding).
//! The role decision lives in `decide_control`, apart from the bookkeeping.

use super::{Output, Replay, anomaly};
use crate::heuristic::{Verdict, classify};
use serde::Serialize;
use std::net::SocketAddr;

/// A connection the host told the layer about. Valid until the layer forgets the connection
/// (after [`super::Conversations::close`] and, for a pending one, the late-binding window).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnRef {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

/// A connection as Zeek names it: the originator (who sent the SYN, or else the client, or else
/// the first sender) and the responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConnId {
    pub orig: SocketAddr,
    pub resp: SocketAddr,
}

/// What the layer made of a connection, as the host sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    /// Not judged yet, or judged not to be control but still claimable by a late prediction: the
    /// host keeps feeding its bytes.
    Pending,
    /// An FTP control connection.
    Control,
    /// A data connection bound to a session's channel.
    Data,
    /// Neither: the host may stop reassembling it.
    Other,
}

/// Bytes of one direction kept while a connection waits to be claimed.
#[derive(Debug)]
pub(crate) enum Held {
    Data {
        side: usize,
        offset: u64,
        bytes: Vec<u8>,
        frame: u64,
        ts: f64,
    },
    Gap {
        side: usize,
        offset: u64,
        len: u64,
        frame: u64,
        ts: f64,
    },
}

/// How many first bytes of each side the heuristic looks at.
pub(crate) const JUDGE_BYTES: usize = 1024;

#[derive(Debug, Default)]
pub(crate) struct Candidate {
    pub held: Vec<Held>,
    pub bytes: usize,
    /// Kept bytes were dropped at the cap: it can no longer be claimed whole.
    pub overflow: bool,
    /// The connection was judged (not control): it waits only for a late prediction.
    pub judged: bool,
    /// First bytes per side, for the heuristic.
    pub first: [Vec<u8>; 2],
    /// The side the host says serves (a connection on a port registered for FTP control, see
    /// [`super::Conversations::expect_control`]): it is control, with this side as the server
    /// unless the lines say otherwise.
    pub server_hint: Option<usize>,
}

/// Byte counts of one data connection, per side.
#[derive(Debug, Default, Clone)]
pub(crate) struct DataCounts {
    pub bytes: [u64; 2],
    pub gaps: [u32; 2],
    pub gap_bytes: [u64; 2],
}

#[derive(Debug)]
pub(crate) enum Role {
    Pending(Box<Candidate>),
    Control {
        sid: u32,
        /// Side index of the client.
        client: usize,
    },
    Data {
        sid: u32,
        channel: u32,
        /// Boxed: most connections are not data connections, and every one holds a `Role`.
        counts: Box<DataCounts>,
    },
    Other,
}

impl Role {
    pub fn kind(&self) -> RoleKind {
        match self {
            Role::Pending(_) => RoleKind::Pending,
            Role::Control { .. } => RoleKind::Control,
            Role::Data { .. } => RoleKind::Data,
            Role::Other => RoleKind::Other,
        }
    }
}

/// One TCP connection. Side 0 is the first sender the host reported, side 1 the other.
#[derive(Debug)]
pub(crate) struct Connection {
    pub ends: PackedEnds,
    /// The side index (0 or 1) that sent the SYN (without ACK), when seen.
    pub initiator: Option<u8>,
    pub fin: [bool; 2],
    pub first_ts: f64,
    pub last_ts: f64,
    pub last_frame: u64,
    pub closed: bool,
    pub uid: Uid,
    pub role: Role,
}

/// Two endpoints in order, packed: per side a 16-byte address (IPv4 in its IPv6-mapped form), the
/// port and whether it is IPv6. 38 bytes where two `SocketAddr`s take 64, in every connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PackedEnds([u8; 2 * PACKED_END]);

const PACKED_END: usize = 19;

impl PackedEnds {
    pub fn new(sides: [SocketAddr; 2]) -> Self {
        let mut k = [0u8; 2 * PACKED_END];
        for (at, s) in [(0, sides[0]), (PACKED_END, sides[1])] {
            let ip = match s.ip() {
                std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                std::net::IpAddr::V6(v6) => v6,
            };
            k[at..at + 16].copy_from_slice(&ip.octets());
            k[at + 16..at + 18].copy_from_slice(&s.port().to_be_bytes());
            k[at + 18] = u8::from(s.is_ipv6());
        }
        PackedEnds(k)
    }

    /// The two endpoints as given to [`PackedEnds::new`], flow label and scope id aside (every
    /// host makes its addresses with `SocketAddr::new`, which leaves them 0).
    pub fn get(&self) -> [SocketAddr; 2] {
        [self.side(0), self.side(1)]
    }

    /// Whether `addr` is side 0, compared packed (this is asked for every payload).
    pub fn is_side0(&self, addr: SocketAddr) -> bool {
        let k = &self.0[..PACKED_END];
        if u16::from_be_bytes([k[16], k[17]]) != addr.port() {
            return false;
        }
        match addr.ip() {
            std::net::IpAddr::V4(v4) => k[18] == 0 && k[..16] == v4.to_ipv6_mapped().octets(),
            std::net::IpAddr::V6(v6) => k[18] == 1 && k[..16] == v6.octets(),
        }
    }

    /// Side `i` (0 or 1) alone.
    pub fn side(&self, i: usize) -> SocketAddr {
        let at = i * PACKED_END;
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&self.0[at..at + 16]);
        let v6 = std::net::Ipv6Addr::from(octets);
        let port = u16::from_be_bytes([self.0[at + 16], self.0[at + 17]]);
        let ip = match v6.to_ipv4_mapped() {
            Some(v4) if self.0[at + 18] == 0 => std::net::IpAddr::V4(v4),
            _ => std::net::IpAddr::V6(v6),
        };
        SocketAddr::new(ip, port)
    }
}

/// A connection's uid ([`make_uid`]), kept inline: one heap string per open connection is not.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Uid([u8; UID_LEN]);

/// `C` and 17 base-62 characters.
const UID_LEN: usize = 18;

impl Uid {
    pub fn as_str(&self) -> &str {
        // Made only by make_uid, of ASCII characters.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Display for Uid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for Uid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Connection {
    /// The side index of `addr` (side 1 for anything that is not side 0).
    pub fn side_of(&self, addr: SocketAddr) -> usize {
        usize::from(!self.ends.is_side0(addr))
    }

    /// Originator and responder: the SYN's sender, else the first sender.
    pub fn conn_id(&self) -> ConnId {
        let o = usize::from(self.initiator.unwrap_or(0));
        let sides = self.sides();
        ConnId {
            orig: sides[o],
            resp: sides[1 - o],
        }
    }

    /// Side 0 (the first sender the host reported) and side 1.
    pub fn sides(&self) -> [SocketAddr; 2] {
        self.ends.get()
    }
}

/// The verdict on a pending connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Judgement {
    /// Not enough bytes yet.
    Wait,
    /// A control connection; the side index of the client.
    Control { client: usize },
    /// Not a control connection (it may still be claimed as data).
    NotControl,
}

/// Decide whether a pending connection is a control connection, and which side is the client.
///
/// Evidence in order: the lines themselves when no SYN was captured (a side that sends replies
/// is the server, whatever its port), then a control port, then the heuristic's verdict on either
/// side's first bytes. `last` is set when no more bytes will come.
pub(crate) fn decide_control(
    first: &[Vec<u8>; 2],
    port_server: Option<usize>,
    syn_seen: bool,
    last: bool,
) -> Judgement {
    if first[0].is_empty() && first[1].is_empty() {
        return Judgement::Wait;
    }
    let mut verdict_client = None;
    let mut unsure = false;
    for (side, bytes) in first.iter().enumerate() {
        if bytes.is_empty() {
            unsure = true;
            continue;
        }
        match classify(bytes) {
            Verdict::Server => {
                verdict_client = Some(1 - side);
                break;
            }
            Verdict::Client => {
                verdict_client = Some(side);
                break;
            }
            Verdict::Unsure => unsure = true,
            Verdict::NotFtp => {}
        }
    }
    if let Some(server) = port_server {
        // Without a SYN the port may name the wrong side (both ports can be FTP-like, or the
        // capture point saw the server's replies first): the lines decide when they can.
        let client = match verdict_client {
            Some(c) if !syn_seen => c,
            _ => 1 - server,
        };
        return Judgement::Control { client };
    }
    match verdict_client {
        Some(client) => Judgement::Control { client },
        None if !unsure || last || first.iter().all(|f| f.len() >= JUDGE_BYTES) => {
            Judgement::NotControl
        }
        None => Judgement::Wait,
    }
}

/// A stable, per-input unique id in Zeek's style (`C` and 17 base-62 characters).
pub(crate) fn make_uid(salt: u64, counter: u64, a: SocketAddr, b: SocketAddr, ts: f64) -> Uid {
    // FNV-1a over the salt, a counter and the endpoints: stable across runs, unique per input.
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    };
    mix(&salt.to_le_bytes());
    mix(&counter.to_le_bytes());
    mix(lo.to_string().as_bytes());
    mix(hi.to_string().as_bytes());
    mix(&ts.to_bits().to_le_bytes());
    let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut s = [b'C'; UID_LEN];
    for c in &mut s[1..] {
        *c = alphabet[(h % 62) as usize];
        h /= 62;
        if h == 0 {
            h = counter.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        }
    }
    Uid(s)
}

// ------------------------------------------------------------------ the engine's role decisions

impl super::Conversations {
    /// Judge a pending connection: a control connection gets a session and its held bytes.
    pub(super) fn judge(&mut self, c: ConnRef, last: bool) {
        let ports = &self.cfg.control_ports;
        let Some(x) = self.get(c) else {
            return;
        };
        let Role::Pending(cand) = &x.role else {
            return;
        };
        if cand.judged && !last {
            return;
        }
        let sides = x.sides();
        let port_server = cand
            .server_hint
            .or_else(|| (0..2).find(|&i| ports.contains(&sides[i].port())));
        let verdict = decide_control(&cand.first, port_server, x.initiator.is_some(), last);
        let Some(x) = self.get_mut(c) else {
            return;
        };
        let Role::Pending(cand) = &mut x.role else {
            return;
        };
        match verdict {
            Judgement::Wait => {}
            Judgement::NotControl => {
                cand.judged = true;
                if cand.overflow {
                    x.role = Role::Other; // cannot be claimed whole any more
                }
            }
            Judgement::Control { client } => {
                let Role::Pending(cand) = std::mem::replace(&mut x.role, Role::Other) else {
                    return;
                };
                self.pending_total -= cand.bytes;
                self.pending.retain(|&r| r != c);
                let sid = self.new_session(c, client);
                if let Some(x) = self.get_mut(c) {
                    x.role = Role::Control { sid, client };
                }
                if cand.overflow {
                    let ts = self.get(c).map_or(0.0, |x| x.first_ts);
                    self.session_note(
                        sid,
                        anomaly::CAPTURE_GAP,
                        "control bytes dropped before the connection was recognised".into(),
                        None,
                        ts,
                    );
                }
                self.replay_held(c, *cand);
            }
        }
    }

    pub(super) fn replay_held(&mut self, c: ConnRef, cand: Candidate) {
        let data = self.role(c) == RoleKind::Data;
        let Some(sides) = self.get(c).map(|x| x.sides()) else {
            return;
        };
        for h in cand.held {
            match h {
                Held::Data {
                    side,
                    offset,
                    bytes,
                    frame,
                    ts,
                } => {
                    self.deliver(c, side, offset, &bytes, frame, ts);
                    if data {
                        self.outputs.push(Output::Replay(Replay {
                            conn: c,
                            from: sides[side],
                            to: sides[1 - side],
                            offset,
                            bytes,
                            frame,
                            ts,
                        }));
                    }
                }
                Held::Gap {
                    side,
                    offset,
                    len,
                    frame,
                    ts,
                } => self.deliver_gap(c, side, offset, len, frame, ts),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first(a: &[u8], b: &[u8]) -> [Vec<u8>; 2] {
        [a.to_vec(), b.to_vec()]
    }

    #[test]
    fn control_port_names_the_server_when_a_syn_was_seen() {
        // Side 1 is on port 21; even a reply-looking line from side 0 does not overrule the SYN.
        assert_eq!(
            decide_control(&first(b"USER a\r\n", b""), Some(1), true, false),
            Judgement::Control { client: 0 }
        );
    }

    #[test]
    fn without_a_syn_the_lines_name_the_server() {
        // The capture began mid-connection: side 0 (port 21 by the port rule) sent client lines,
        // side 1 sent a greeting. The greeting wins: side 0 is the client... and when the port
        // rule points the other way, the lines still decide.
        assert_eq!(
            decide_control(&first(b"", b"220 ready\r\n"), Some(1), false, false),
            Judgement::Control { client: 0 }
        );
        assert_eq!(
            decide_control(
                &first(b"220 FTP server ready\r\n", b""),
                Some(1),
                false,
                false
            ),
            Judgement::Control { client: 1 }
        );
    }

    #[test]
    fn heuristic_decides_on_other_ports() {
        assert_eq!(
            decide_control(&first(b"220 FTP server ready\r\n", b""), None, true, false),
            Judgement::Control { client: 1 }
        );
        assert_eq!(
            decide_control(&first(b"\x16\x03\x01\x02\x00", b""), None, true, true),
            Judgement::NotControl
        );
        assert_eq!(
            decide_control(&first(b"", b""), None, true, false),
            Judgement::Wait
        );
    }

    #[test]
    fn packed_ends_give_back_both_sides_in_order() {
        for pair in [
            ["10.0.0.2:21", "10.0.0.1:40000"],
            ["[2001:db8::10]:40004", "[2001:db8::21]:21"],
            ["[::ffff:10.0.0.1]:20", "10.0.0.1:21"],
        ] {
            let sides = pair.map(|a| a.parse::<SocketAddr>().unwrap());
            let ends = PackedEnds::new(sides);
            assert_eq!(ends.get(), sides);
            assert!(ends.is_side0(sides[0]));
            assert!(!ends.is_side0(sides[1]));
        }
    }

    #[test]
    fn uids_are_stable_and_distinct() {
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:21".parse().unwrap();
        let u1 = make_uid(0, 1, a, b, 1.0);
        assert_eq!(u1, make_uid(0, 1, b, a, 1.0));
        assert_ne!(u1, make_uid(0, 2, a, b, 1.0));
        assert_eq!(u1.as_str().len(), 18);
        assert!(u1.as_str().starts_with('C'));
    }
}
