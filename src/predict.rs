//! Data-channel prediction: which TCP connection will carry the data a command asked for.
//!
//! Rules (learned from other dissectors' mistakes; see docs/architecture.md):
//! - Passive (227/228/229 replies): the client connects, from any port, to the advertised address
//!   *or* to the control connection's server address, on the advertised port. NAT often leaves the
//!   advertised address private, so both are expected. The mode follows the reply code, not the
//!   command: servers answer EPSV with 227 and PASV with 229.
//! - Active (PORT, EPRT, LPRT): the server connects from *any* source port (port 20 is only the
//!   classic case) to the advertised client address and port, or to the control connection's client
//!   address when the two differ (a client behind NAT; servers that ignore the PORT address).
//! - A prediction binds to the next transfer command, is capped per session and expires.

use crate::parse::DataEndpoint;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};

/// How a data channel was announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataMode {
    Port,
    Pasv,
    Eprt,
    Epsv,
    Lprt,
    Lpsv,
}

impl DataMode {
    /// The name users filter on (`ftplens.data.mode == "PASV"`).
    pub fn name(self) -> &'static str {
        match self {
            DataMode::Port => "PORT",
            DataMode::Pasv => "PASV",
            DataMode::Eprt => "EPRT",
            DataMode::Epsv => "EPSV",
            DataMode::Lprt => "LPRT",
            DataMode::Lpsv => "LPSV",
        }
    }

    /// Passive modes: the server listens and the client connects.
    pub fn is_passive(self) -> bool {
        matches!(self, DataMode::Pasv | DataMode::Epsv | DataMode::Lpsv)
    }
}

/// One predicted data connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// Unique within its session, from 1.
    pub channel_id: u32,
    pub mode: DataMode,
    /// The endpoint as advertised on the wire, with its arithmetic.
    pub endpoint: DataEndpoint,
    /// Who listens: the advertised address, or for 229 the control server's address.
    pub listener: Option<IpAddr>,
    /// The control connection's address of the listening side, when it differs from the advertised
    /// one (NAT on either side).
    pub alt_listener: Option<IpAddr>,
    /// The listening port.
    pub port: u16,
    /// Who connects, from any source port: the client (passive) or the server (active).
    pub connector: Option<IpAddr>,
    /// The frame of the reply (passive) or command (active) that announced the channel.
    pub setup_frame: u64,
    /// When it was announced, for expiry.
    pub created: f64,
}

impl Expectation {
    /// The TCP ports a host that routes connections by port alone (Wireshark's port table, as the
    /// Lua fallback before 4.6 must) claims so that this channel's connection reaches it: the
    /// listening port, and for an active channel also the server's default data port, one below
    /// its control port (RFC 959 3.2, "L-1", port 20 beside 21). Wireshark offers a connection
    /// whose SYN it did not see to its lower port first, and the server usually connects from that
    /// port, which Wireshark's own ftp-data holds.
    pub fn host_ports(&self, control_port: u16) -> Vec<u16> {
        let mut ports = vec![self.port];
        if !self.mode.is_passive() && control_port > 1 && control_port - 1 != self.port {
            ports.push(control_port - 1);
        }
        ports
    }

    /// Does a TCP connection from `from` to `to` (the SYN's direction) carry this channel?
    pub fn matches_connection(&self, from: SocketAddr, to: SocketAddr) -> bool {
        let listener_ok = |ip: IpAddr| match self.listener {
            None => true,
            Some(l) => l == ip || self.alt_listener == Some(ip),
        };
        let connector_ok = |ip: IpAddr| self.connector.is_none_or(|c| c == ip);
        to.port() == self.port && listener_ok(to.ip()) && connector_ok(from.ip())
    }

    /// Like [`Self::matches_connection`] when the direction of the first packet is unknown (a
    /// connection that began before the capture): either side may be the listener.
    pub fn matches_either(&self, a: SocketAddr, b: SocketAddr) -> bool {
        self.matches_connection(a, b) || self.matches_connection(b, a)
    }
}

/// A capped, expiring table of predictions across many sessions, keyed by listening port, for
/// callers that see whole captures (the CLI). `K` names the session.
///
/// Every operation is amortised O(1) in the table size: entries also sit in a FIFO of insertion
/// order, which expiry and eviction consume from the front, so a storm of predictions can neither
/// make inserts slow nor keep new predictions out (the oldest is evicted instead).
#[derive(Debug)]
pub struct ChannelTable<K> {
    by_port: HashMap<u16, Vec<Entry<K>>>,
    /// (sequence number, port, created) in insertion order; entries taken or removed since stay
    /// here until they reach the front or a compaction.
    order: VecDeque<(u64, u16, f64)>,
    next_seq: u64,
    len: usize,
    capacity: usize,
    timeout: f64,
}

#[derive(Debug)]
struct Entry<K> {
    seq: u64,
    key: K,
    expectation: Expectation,
}

impl<K: Clone + PartialEq> ChannelTable<K> {
    /// `capacity` bounds the entries across all sessions; `timeout` is in seconds of capture time.
    pub fn new(capacity: usize, timeout: f64) -> Self {
        ChannelTable {
            by_port: HashMap::new(),
            order: VecDeque::new(),
            next_seq: 0,
            len: 0,
            capacity: capacity.max(1),
            timeout,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Add a prediction. When the table is full even after expiry, the oldest entry is evicted to
    /// make room and `false` is returned (the caller reports `expectations_full`).
    pub fn insert(&mut self, key: K, expectation: Expectation, now: f64) -> bool {
        let mut room = true;
        if self.len >= self.capacity {
            self.expire(now);
            if self.len >= self.capacity {
                self.evict_oldest();
                room = false;
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let port = expectation.port;
        self.order.push_back((seq, port, expectation.created));
        self.by_port.entry(port).or_default().push(Entry {
            seq,
            key,
            expectation,
        });
        self.len += 1;
        if self.order.len() > 2 * self.capacity + 16 {
            self.compact();
        }
        room
    }

    /// Find and remove the newest prediction that a connection `from -> to` satisfies.
    pub fn take(&mut self, from: SocketAddr, to: SocketAddr) -> Option<(K, Expectation)> {
        self.take_where(to.port(), |_, e| e.matches_connection(from, to))
            .or_else(|| self.take_where(from.port(), |_, e| e.matches_connection(to, from)))
    }

    /// Whether a connection `from -> to` would satisfy a prediction, without taking it: a host
    /// that defers tracking of idle connections asks this at the SYN, so that a predicted data
    /// connection is bound while its transfer is still open even if it never carries a byte.
    pub fn predicts(&self, from: SocketAddr, to: SocketAddr) -> bool {
        let any = |port: u16, a: SocketAddr, b: SocketAddr| {
            self.by_port
                .get(&port)
                .is_some_and(|l| l.iter().any(|e| e.expectation.matches_connection(a, b)))
        };
        any(to.port(), from, to) || any(from.port(), to, from)
    }

    /// Remove one session's prediction that will not be used (superseded, rejected, ended).
    pub fn remove(&mut self, key: &K, channel_id: u32, port: u16) -> Option<Expectation> {
        self.take_where(port, |k, e| k == key && e.channel_id == channel_id)
            .map(|(_, e)| e)
    }

    fn take_where(
        &mut self,
        port: u16,
        pred: impl Fn(&K, &Expectation) -> bool,
    ) -> Option<(K, Expectation)> {
        let list = self.by_port.get_mut(&port)?;
        let idx = list.iter().rposition(|e| pred(&e.key, &e.expectation))?;
        let found = list.remove(idx);
        if list.is_empty() {
            self.by_port.remove(&port);
        }
        self.len -= 1;
        Some((found.key, found.expectation))
    }

    /// Remove the entry with sequence number `seq` on `port`, if it is still there.
    fn remove_seq(&mut self, seq: u64, port: u16) -> bool {
        let Some(list) = self.by_port.get_mut(&port) else {
            return false;
        };
        let Some(idx) = list.iter().position(|e| e.seq == seq) else {
            return false;
        };
        list.remove(idx);
        if list.is_empty() {
            self.by_port.remove(&port);
        }
        self.len -= 1;
        true
    }

    fn evict_oldest(&mut self) {
        while let Some((seq, port, _)) = self.order.pop_front() {
            if self.remove_seq(seq, port) {
                return;
            }
        }
    }

    /// Drop predictions older than the timeout.
    pub fn expire(&mut self, now: f64) {
        while let Some(&(seq, port, created)) = self.order.front() {
            if now - created <= self.timeout {
                break;
            }
            self.order.pop_front();
            self.remove_seq(seq, port);
        }
    }

    /// Forget the FIFO slots of entries already taken, so the FIFO stays within a constant factor
    /// of the table.
    fn compact(&mut self) {
        let live: std::collections::HashSet<u64> = self
            .by_port
            .values()
            .flat_map(|l| l.iter().map(|e| e.seq))
            .collect();
        self.order.retain(|(seq, ..)| live.contains(seq));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::address::parse_227;

    fn pasv(listener: &str, alt: Option<&str>, client: &str) -> Expectation {
        let endpoint = parse_227(b"(192,168,1,109,104,134)").unwrap();
        Expectation {
            channel_id: 1,
            mode: DataMode::Pasv,
            endpoint,
            listener: Some(listener.parse().unwrap()),
            alt_listener: alt.map(|a| a.parse().unwrap()),
            port: 26758,
            connector: Some(client.parse().unwrap()),
            setup_frame: 9,
            created: 0.0,
        }
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn passive_matches_any_client_port() {
        let e = pasv("192.168.1.109", None, "192.168.1.106");
        assert!(e.matches_connection(sa("192.168.1.106:58985"), sa("192.168.1.109:26758")));
        assert!(e.matches_connection(sa("192.168.1.106:1"), sa("192.168.1.109:26758")));
        assert!(!e.matches_connection(sa("192.168.1.107:58985"), sa("192.168.1.109:26758")));
        assert!(!e.matches_connection(sa("192.168.1.106:58985"), sa("192.168.1.109:26759")));
    }

    /// RFC 959 3.2: the server's default data port is L-1; an active channel claims it too, a
    /// passive one only its listening port.
    #[test]
    fn host_ports_add_the_default_data_port_for_active_channels() {
        let passive = pasv("192.168.1.109", None, "192.168.1.106");
        assert_eq!(passive.host_ports(21), vec![26758]);
        let active = Expectation {
            mode: DataMode::Port,
            port: 50131,
            ..passive.clone()
        };
        assert_eq!(active.host_ports(21), vec![50131, 20]);
        assert_eq!(active.host_ports(2121), vec![50131, 2120]);
        let on_20 = Expectation { port: 20, ..active };
        assert_eq!(on_20.host_ports(21), vec![20]);
    }

    #[test]
    fn passive_behind_nat_matches_control_address() {
        let e = pasv("10.0.0.5", Some("198.51.100.7"), "203.0.113.9");
        assert!(e.matches_connection(sa("203.0.113.9:40000"), sa("198.51.100.7:26758")));
        assert!(e.matches_connection(sa("203.0.113.9:40000"), sa("10.0.0.5:26758")));
        assert!(!e.matches_connection(sa("203.0.113.9:40000"), sa("198.51.100.8:26758")));
    }

    #[test]
    fn table_take_expire_and_cap() {
        let mut t = ChannelTable::new(2, 10.0);
        assert!(t.insert("a", pasv("192.168.1.109", None, "192.168.1.106"), 0.0));
        assert!(t.insert("b", pasv("192.168.1.109", None, "192.168.1.106"), 0.0));
        // Full: the oldest ("a") is evicted so that the new prediction is not lost.
        assert!(!t.insert("c", pasv("192.168.1.109", None, "192.168.1.106"), 5.0));
        assert_eq!(t.len(), 2);
        // Newest first.
        let (k, _) = t
            .take(sa("192.168.1.106:5000"), sa("192.168.1.109:26758"))
            .unwrap();
        assert_eq!(k, "c");
        // Reverse direction (first packet seen is the server's) also matches.
        let (k, _) = t
            .take(sa("192.168.1.109:26758"), sa("192.168.1.106:5000"))
            .unwrap();
        assert_eq!(k, "b");
        assert!(t.is_empty());
        t.insert("d", pasv("192.168.1.109", None, "192.168.1.106"), 0.0);
        t.expire(11.0);
        assert!(t.is_empty());
        // remove() forgets one session's channel only.
        t.insert("e", pasv("192.168.1.109", None, "192.168.1.106"), 12.0);
        assert!(t.remove(&"f", 1, 26758).is_none());
        assert_eq!(t.len(), 1);
        assert!(t.remove(&"e", 1, 26758).is_some());
        assert!(t.is_empty());
    }

    /// A full table evicts its oldest prediction and says so (the CLI reports `expectations_full`).
    #[test]
    fn a_full_table_evicts_the_oldest_and_says_so() {
        let mut t = ChannelTable::new(2, 300.0);
        for (i, port) in [(0, 4001), (1, 4002), (2, 4003)] {
            let mut e = pasv("192.168.1.109", None, "192.168.1.106");
            e.port = port;
            assert_eq!(t.insert(i, e, 0.0), i < 2, "insert {i}");
        }
        assert_eq!(t.len(), 2);
        let to = |p| SocketAddr::new("192.168.1.109".parse().unwrap(), p);
        assert!(
            t.take(sa("192.168.1.106:5000"), to(4001)).is_none(),
            "evicted"
        );
        assert_eq!(
            t.take(sa("192.168.1.106:5000"), to(4003)).map(|(k, _)| k),
            Some(2)
        );
    }

    #[test]
    fn table_storm_stays_bounded() {
        let mut t = ChannelTable::new(1000, 300.0);
        for i in 0..200_000u32 {
            let mut e = pasv("192.168.1.109", None, "192.168.1.106");
            e.port = 1024 + (i % 60_000) as u16;
            e.created = f64::from(i) * 1e-3;
            t.insert(i, e.clone(), e.created);
            if i % 3 == 0 {
                let to = SocketAddr::new("192.168.1.109".parse().unwrap(), e.port);
                assert!(t.take(sa("192.168.1.106:5000"), to).is_some());
            }
        }
        assert!(t.len() <= 1000);
        assert!(t.order.len() <= 2 * 1000 + 16);
    }
}
