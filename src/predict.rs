//! Data-channel prediction: which TCP connection will carry the data a command asked for.
//!
//! Rules (learned from the peers' mistakes; see DESIGN.md):
//! - Passive (227/228/229 replies): the client connects, from any port, to the advertised address
//!   *or* to the control connection's server address, on the advertised port. NAT often leaves the
//!   advertised address private, so both are expected. The mode follows the reply code, not the
//!   command: servers answer EPSV with 227 and PASV with 229.
//! - Active (PORT, EPRT, LPRT): the server connects from *any* source port (port 20 is only the
//!   classic case) to the advertised client address and port, or to the control connection's client
//!   address when the two differ (a client behind NAT; servers that ignore the PORT address).
//! - A prediction binds to the next transfer command, is capped per session and expires.

use crate::parse::DataEndpoint;
use std::collections::HashMap;
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
#[derive(Debug)]
pub struct ChannelTable<K> {
    by_port: HashMap<u16, Vec<(K, Expectation)>>,
    len: usize,
    capacity: usize,
    timeout: f64,
}

impl<K: Clone> ChannelTable<K> {
    /// `capacity` bounds the entries across all sessions; `timeout` is in seconds of capture time.
    pub fn new(capacity: usize, timeout: f64) -> Self {
        ChannelTable {
            by_port: HashMap::new(),
            len: 0,
            capacity,
            timeout,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Add a prediction. Returns false (and adds nothing) when the table is full even after expiry.
    pub fn insert(&mut self, key: K, expectation: Expectation, now: f64) -> bool {
        if self.len >= self.capacity {
            self.expire(now);
            if self.len >= self.capacity {
                return false;
            }
        }
        self.by_port
            .entry(expectation.port)
            .or_default()
            .push((key, expectation));
        self.len += 1;
        true
    }

    /// Find and remove the newest prediction that a connection `from -> to` satisfies.
    pub fn take(&mut self, from: SocketAddr, to: SocketAddr) -> Option<(K, Expectation)> {
        self.take_where(to.port(), |e| e.matches_connection(from, to))
            .or_else(|| self.take_where(from.port(), |e| e.matches_connection(to, from)))
    }

    fn take_where(
        &mut self,
        port: u16,
        pred: impl Fn(&Expectation) -> bool,
    ) -> Option<(K, Expectation)> {
        let list = self.by_port.get_mut(&port)?;
        let idx = list.iter().rposition(|(_, e)| pred(e))?;
        let found = list.remove(idx);
        if list.is_empty() {
            self.by_port.remove(&port);
        }
        self.len -= 1;
        Some(found)
    }

    /// Drop predictions older than the timeout.
    pub fn expire(&mut self, now: f64) {
        let timeout = self.timeout;
        let mut removed = 0;
        self.by_port.retain(|_, list| {
            let before = list.len();
            list.retain(|(_, e)| now - e.created <= timeout);
            removed += before - list.len();
            !list.is_empty()
        });
        self.len -= removed;
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
        assert!(!t.insert("c", pasv("192.168.1.109", None, "192.168.1.106"), 5.0));
        // Newest first.
        let (k, _) = t
            .take(sa("192.168.1.106:5000"), sa("192.168.1.109:26758"))
            .unwrap();
        assert_eq!(k, "b");
        // Reverse direction (first packet seen is the server's) also matches.
        let (k, _) = t
            .take(sa("192.168.1.109:26758"), sa("192.168.1.106:5000"))
            .unwrap();
        assert_eq!(k, "a");
        assert!(t.is_empty());
        t.insert("d", pasv("192.168.1.109", None, "192.168.1.106"), 0.0);
        t.expire(11.0);
        assert!(t.is_empty());
    }
}
