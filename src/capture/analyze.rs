//! The capture analyser: frames in, records out.
//!
//! ```text
//! Frame -> decode (link, IP, TCP) -> flow table -> HalfStream reassembly per direction
//!   -> conversation::Conversations (roles, sessions, exchanges, transfers, late binding)
//!   -> outputs -> records (sha256, MIME type and extraction added from the data bytes)
//! ```
//!
//! This module knows TCP and files, not FTP: which connection is what, and what its bytes mean, is
//! the conversation layer's business.

use super::decode::{Decoded, Segment, decode};
use super::extract::{Extractor, Spool};
use super::hash::{Algorithms, Digests, Hasher};
use super::record::{
    AnomalyRecord, CommandRecord, Conn, DataFields, ListingEntry, Record, SessionRecord,
    TransferRecord, sniff_mime,
};
use super::source::Frame;
use super::tcp::{Chunk, HalfStream};
use super::tls::{HandshakeReader, TlsInfo, TlsObserver, starts_tls};
use crate::Limits;
use crate::conversation::{
    self, ConnRef, Conversations, DataDirection, Output, RoleKind, TransferDone, anomaly,
};
use crate::parse::listing::{Expect, Item, ListingLimits, ListingParser};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Tunables, each with a default and a CLI flag.
#[derive(Debug, Clone)]
pub struct Options {
    /// Digests of transferred data (`--hash`).
    pub hashes: Algorithms,
    /// Seconds of capture time after which an idle connection is closed.
    pub tcp_timeout: f64,
    /// Out-of-order bytes one stream may hold before a gap is forced.
    pub stream_memcap: usize,
    /// Out-of-order bytes all streams together may hold.
    pub total_memcap: usize,
    /// Seconds a connection may precede the prediction that claims it.
    pub late_window: f64,
    /// Bytes kept per unclaimed connection for late binding.
    pub candidate_bytes: usize,
    /// Bytes kept across all unclaimed connections.
    pub candidate_total: usize,
    /// Ports whose connections are FTP control without further evidence.
    pub control_ports: Vec<u16>,
    /// Write transferred files here.
    pub extract_dir: Option<PathBuf>,
    /// Also write directory listings (LIST, NLST, MLSD) when extracting.
    pub extract_listings: bool,
    pub limits: Limits,
    /// Mixed into uids so that several inputs do not share them.
    pub uid_salt: u64,
}

impl Default for Options {
    fn default() -> Self {
        let layer = conversation::Config::default();
        Options {
            hashes: Algorithms::default(),
            tcp_timeout: 600.0,
            stream_memcap: 16 << 20,
            total_memcap: 256 << 20,
            late_window: layer.late_window,
            candidate_bytes: layer.candidate_bytes,
            candidate_total: layer.candidate_total,
            control_ports: layer.control_ports,
            extract_dir: None,
            extract_listings: false,
            limits: layer.limits,
            uid_salt: layer.uid_salt,
        }
    }
}

impl Options {
    fn layer(&self) -> conversation::Config {
        conversation::Config {
            control_ports: self.control_ports.clone(),
            late_window: self.late_window,
            candidate_bytes: self.candidate_bytes,
            candidate_total: self.candidate_total,
            limits: self.limits,
            uid_salt: self.uid_salt,
            ..Default::default()
        }
    }
}

/// Counters for the run.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub frames: u64,
    pub tcp_segments: u64,
    pub other_ip: u64,
    pub fragments: u64,
    pub not_ip: u64,
    pub unknown_link: u64,
    /// The link types of those frames.
    pub unknown_linktypes: std::collections::BTreeSet<i32>,
    pub malformed: u64,
    /// Frames nested in more encapsulations than the decoder opens.
    pub too_deep: u64,
    pub connections: u64,
    pub control_sessions: u64,
    pub data_connections: u64,
    pub late_bound: u64,
    pub transfers: u64,
    pub anomalies: BTreeMap<&'static str, u64>,
    /// Anomalies the analyser raises itself (from the bytes of data connections).
    pub cli_anomalies: BTreeMap<&'static str, u64>,
    /// Extraction errors (the analysis goes on).
    pub io_errors: Vec<String>,
}

impl Stats {
    pub fn anomaly_total(&self) -> u64 {
        self.anomalies.values().sum()
    }
}

/// Where records go.
pub trait Sink {
    fn record(&mut self, record: Record);
}

impl<F: FnMut(Record)> Sink for F {
    fn record(&mut self, record: Record) {
        self(record)
    }
}

// ------------------------------------------------------------------------------ flows

/// A connection's endpoints in a canonical order, packed: two addresses as 16 bytes each (IPv4
/// in its IPv6-mapped form), two ports, and whether it is IPv6. 37 bytes instead of two 32-byte
/// `SocketAddr`s: with a million connections the flow index is one of the largest tables, and
/// one `write` of packed bytes is also the cheapest to hash on this hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey([u8; 37]);

impl FlowKey {
    /// The key, and whether `a` is its first endpoint (the lower one).
    fn ordered(a: SocketAddr, b: SocketAddr) -> (Self, bool) {
        let a_first = a <= b;
        let (lo, hi) = if a_first { (a, b) } else { (b, a) };
        let mut k = [0u8; 37];
        for (at, s) in [(0, lo), (18, hi)] {
            let ip = match s.ip() {
                std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                std::net::IpAddr::V6(v6) => v6,
            };
            k[at..at + 16].copy_from_slice(&ip.octets());
            k[at + 16..at + 18].copy_from_slice(&s.port().to_be_bytes());
        }
        k[36] = u8::from(lo.is_ipv6());
        (FlowKey(k), a_first)
    }

    /// The first endpoint (the lower) or the `second`, as [`FlowKey::ordered`] was given it (the
    /// decoder makes every address with `SocketAddr::new`, so nothing else is lost).
    fn endpoint(&self, second: bool) -> SocketAddr {
        let at = if second { 18 } else { 0 };
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&self.0[at..at + 16]);
        let v6 = std::net::Ipv6Addr::from(octets);
        let port = u16::from_be_bytes([self.0[at + 16], self.0[at + 17]]);
        let ip = match v6.to_ipv4_mapped() {
            Some(v4) if self.0[36] == 0 => std::net::IpAddr::V4(v4),
            _ => std::net::IpAddr::V6(v6),
        };
        SocketAddr::new(ip, port)
    }
}

/// One TCP connection's reassembly state.
#[derive(Debug)]
struct Flow {
    /// The endpoints, packed (37 bytes where two `SocketAddr`s take 64: a million idle
    /// connections hold a flow each).
    key: FlowKey,
    /// The side that sent the first packet seen (index 0) is the key's second endpoint.
    a_second: bool,
    half: [HalfStream; 2],
    /// That SYN's sequence number: a SYN repeating it is a retransmission, not a new connection.
    isn: Option<u32>,
    /// Index of the side that sent the SYN, when one was seen.
    initiator: Option<u8>,
    first_frame: u64,
    first_ts: f64,
    last_ts: f64,
    rst: bool,
    closed: bool,
    /// The layer's connection, made at the first payload byte, FIN or RST ([`Flow::conn`]):
    /// connections that never carry a byte (scans, idle keep-alives, SYN floods) cost only this
    /// flow, not the layer's state too.
    conn: Option<ConnRef>,
    /// What is kept of its bytes while it is a data connection (boxed: most flows are not).
    data: Option<Box<DataAcc>>,
    /// The role the layer gave it at the last delivery: `Other` stops reassembly.
    role: RoleKind,
}

impl Flow {
    fn new(first: SocketAddr, other: SocketAddr, key: FlowKey, frame: u64, ts: f64) -> Self {
        Flow {
            key,
            a_second: first > other,
            half: Default::default(),
            isn: None,
            initiator: None,
            first_frame: frame,
            first_ts: ts,
            last_ts: ts,
            rst: false,
            closed: false,
            conn: None,
            data: None,
            role: RoleKind::Pending,
        }
    }

    fn key(&self) -> FlowKey {
        self.key
    }

    /// The side that sent the first packet seen (index 0), and the other.
    fn sides(&self) -> [SocketAddr; 2] {
        [
            self.key.endpoint(self.a_second),
            self.key.endpoint(!self.a_second),
        ]
    }

    /// The layer's connection, made now if it was not yet.
    fn conn(&mut self, conv: &mut Conversations) -> ConnRef {
        if let Some(c) = self.conn {
            return c;
        }
        let [a, b] = self.sides();
        let initiator = self.initiator.map(|i| if i == 0 { a } else { b });
        let c = conv.connect(a, b, initiator, self.first_frame, self.first_ts);
        self.conn = Some(c);
        self.role = conv.role(c);
        c
    }
}

/// What the analyser keeps of one direction of a data connection: digest, first bytes, spool.
#[derive(Debug, Default)]
struct DataDir {
    hasher: Option<Hasher>,
    head: Vec<u8>,
    /// This direction began with a TLS handshake: what it shows.
    tls: Option<Box<HandshakeReader>>,
    spool: Option<Spool>,
    spool_failed: bool,
    /// The entries, when the transfer's command asks for a listing.
    listing: Option<Box<ListingAcc>>,
}

/// A listing being read from a data connection: the parser's caps bound `entries`.
#[derive(Debug)]
struct ListingAcc {
    parser: ListingParser,
    entries: Vec<ListingEntry>,
}

/// Entries are kept; unparsed lines and caps are in the parser's stats, read at the end.
fn keep_entry(entries: &mut Vec<ListingEntry>, item: Item<'_>) {
    if let Item::Entry(e) = item {
        entries.push(ListingEntry::from(&e));
    }
}

impl ListingAcc {
    fn new(expect: Expect) -> Self {
        ListingAcc {
            parser: ListingParser::new(expect, ListingLimits::default()),
            entries: Vec::new(),
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        let entries = &mut self.entries;
        self.parser
            .feed(bytes, &mut |item| keep_entry(entries, item));
    }

    /// The entries, and what the caps left out (`None` when nothing).
    fn finish(mut self) -> (Vec<ListingEntry>, Option<String>) {
        let entries = &mut self.entries;
        self.parser.finish(&mut |item| keep_entry(entries, item));
        let st = self.parser.stats();
        let lost = (st.dropped > 0 || st.long_lines > 0).then(|| {
            format!(
                "listing kept {} entries: {} lines dropped past the entry cap, {} lines too long to parse",
                st.entries, st.dropped, st.long_lines
            )
        });
        (self.entries, lost)
    }
}

/// The bytes side of a data connection, until its transfer is reported.
#[derive(Debug)]
struct DataAcc {
    sides: [SocketAddr; 2],
    dirs: [Option<Box<DataDir>>; 2],
    /// Capture time of the last data byte.
    last_ts: f64,
}

/// A control connection that went to TLS: its handshake, and what is needed to give it the
/// data connections hidden by its encryption.
#[derive(Debug)]
struct TlsControl {
    uid: String,
    id: crate::conversation::ConnId,
    handshake: TlsObserver,
    /// Encrypted data connections claimed for it (added to its session's transfer count).
    claimed: u64,
}

/// A connection that began with a TLS handshake between the hosts of a [`TlsControl`]: its
/// data-channel announcement was encrypted, so the layer cannot bind it; the analyser reports it.
#[derive(Debug)]
struct EncryptedData {
    /// The control connection's uid.
    session: String,
    acc: DataAcc,
    first_ts: f64,
    bytes: [u64; 2],
}

/// Closed connections remembered for retransmission detection.
const DEAD_CAP: usize = 200_000;

/// Everything but the flow table, so that a flow's reassembly can call into it.
struct Ctx<'s> {
    opts: Options,
    sink: &'s mut dyn Sink,
    conv: Conversations,
    /// Data kept of connections no open flow holds: closed ones waiting for their transfer to be
    /// reported, and bytes replayed by late binding.
    data: HashMap<ConnRef, DataAcc>,
    outputs: Vec<Output>,
    /// Control connections upgraded to TLS, by their uid.
    tls_controls: HashMap<String, TlsControl>,
    /// The same, by connection (for feeding their handshakes).
    tls_by_conn: HashMap<ConnRef, String>,
    encrypted: HashMap<ConnRef, EncryptedData>,
    extractor: Option<Extractor>,
    stats: Stats,
    held_total: usize,
}

/// Analyse one capture.
pub struct Analyzer<'s> {
    flows: Vec<Option<Flow>>,
    free: Vec<usize>,
    /// Open flows by key, to their index in `flows` (u32: the index is one of the largest
    /// tables with many connections, and no capture holds 2^32 flows at once).
    index: HashMap<FlowKey, u32>,
    next_sweep: f64,
    /// Connections closed by FIN or RST, with their SYN's sequence number: packets that repeat
    /// them (a capture that saw the whole connection twice) are retransmissions, not a new one.
    dead: HashMap<FlowKey, (Option<u32>, f64)>,
    next_dead_sweep: f64,
    /// The flow of the previous segment.
    last_flow: Option<(FlowKey, usize)>,
    ctx: Ctx<'s>,
}

impl<'s> Analyzer<'s> {
    pub fn new(opts: Options, sink: &'s mut dyn Sink) -> std::io::Result<Self> {
        let extractor = match &opts.extract_dir {
            Some(d) => Some(Extractor::new(d)?),
            None => None,
        };
        Ok(Analyzer {
            flows: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            next_sweep: f64::NEG_INFINITY,
            dead: HashMap::new(),
            next_dead_sweep: f64::NEG_INFINITY,
            last_flow: None,
            ctx: Ctx {
                conv: Conversations::new(opts.layer()),
                opts,
                sink,
                data: HashMap::new(),
                outputs: Vec::new(),
                tls_controls: HashMap::new(),
                tls_by_conn: HashMap::new(),
                encrypted: HashMap::new(),
                extractor,
                stats: Stats::default(),
                held_total: 0,
            },
        })
    }

    /// One captured frame.
    pub fn frame(&mut self, frame: &Frame<'_>) {
        self.ctx.stats.frames += 1;
        let ts = frame.ts;
        if ts >= self.next_sweep {
            self.sweep(ts);
            self.next_sweep = ts + 5.0;
        }
        match decode(frame.linktype, frame.data) {
            Decoded::Tcp(seg) => {
                self.ctx.stats.tcp_segments += 1;
                self.segment(&seg, frame.number, ts);
                self.ctx.drain();
            }
            Decoded::OtherIp { fragment } => {
                self.ctx.stats.other_ip += 1;
                if fragment {
                    self.ctx.stats.fragments += 1;
                }
            }
            Decoded::NotIp => self.ctx.stats.not_ip += 1,
            Decoded::UnknownLink => {
                self.ctx.stats.unknown_link += 1;
                self.ctx.stats.unknown_linktypes.insert(frame.linktype);
            }
            Decoded::Malformed => self.ctx.stats.malformed += 1,
            Decoded::TooDeep => self.ctx.stats.too_deep += 1,
        }
    }

    /// The input ended: close every connection and session, and report what is left.
    pub fn finish(mut self) -> Stats {
        let mut open: Vec<usize> = (0..self.flows.len())
            .filter(|&i| self.flows[i].as_ref().is_some_and(|f| !f.closed))
            .collect();
        // Control connections last, so that their data connections are done first.
        open.sort_by_key(|&i| {
            self.flows[i]
                .as_ref()
                .and_then(|f| f.conn)
                .is_some_and(|c| self.ctx.conv.role(c) == RoleKind::Control)
        });
        for i in open {
            self.flush_flow(i);
        }
        self.ctx.conv.finish();
        self.ctx.drain();
        self.stats().clone()
    }

    /// The counters so far.
    pub fn stats(&mut self) -> &Stats {
        let layer = self.ctx.conv.stats();
        let s = &mut self.ctx.stats;
        s.control_sessions = layer.control_sessions;
        s.data_connections = layer.data_connections;
        s.late_bound = layer.late_bound;
        s.transfers = layer.transfers;
        s.anomalies = layer.anomalies.clone();
        for (name, n) in &s.cli_anomalies {
            *s.anomalies.entry(name).or_default() += n;
        }
        s
    }

    fn new_flow(&mut self, seg: &Segment<'_>, key: FlowKey, frame: u64, ts: f64) -> usize {
        self.ctx.stats.connections += 1;
        let flow = Flow::new(seg.src, seg.dst, key, frame, ts);
        let idx = match self.free.pop() {
            Some(i) => {
                self.flows[i] = Some(flow);
                i
            }
            None => {
                self.flows.push(Some(flow));
                self.flows.len() - 1
            }
        };
        self.index.insert(key, idx as u32);
        idx
    }

    fn segment(&mut self, seg: &Segment<'_>, frame: u64, ts: f64) {
        let (key, src_first) = FlowKey::ordered(seg.src, seg.dst);
        // Bulk transfers come in runs of one connection's segments: skip the table for them.
        let cached = match self.last_flow {
            Some((k, i)) if k == key && !seg.syn => Some(i),
            _ => None,
        };
        let idx = match cached.or_else(|| self.index.get(&key).map(|&i| i as usize)) {
            Some(i) => {
                let reuse = self.flows[i].as_ref().is_some_and(|f| {
                    seg.syn
                        && !seg.ack_flag
                        && f.isn != Some(seg.seq)
                        && (f.rst || f.half[0].fin_at().is_some() || f.half[1].fin_at().is_some())
                });
                if reuse {
                    self.close_flow(i);
                    self.new_flow(seg, key, frame, ts)
                } else {
                    i
                }
            }
            None => {
                if let Some(&(isn, _)) = self.dead.get(&key) {
                    let new_syn = seg.syn && !seg.ack_flag && isn != Some(seg.seq);
                    if !new_syn {
                        return; // a late or repeated packet of a closed connection
                    }
                    self.dead.remove(&key);
                }
                self.new_flow(seg, key, frame, ts)
            }
        };
        self.last_flow = Some((key, idx));
        let Some(flow) = self.flows[idx].as_mut() else {
            return;
        };
        let ctx = &mut self.ctx;
        // The segment's own addresses, in the flow's order: nothing to unpack on this hot path.
        // Its source is side 0 (the first sender) when it is the key's first endpoint exactly
        // when side 0 is.
        let dir = usize::from(src_first == flow.a_second);
        let sides = if dir == 0 {
            [seg.src, seg.dst]
        } else {
            [seg.dst, seg.src]
        };
        flow.last_ts = ts;
        if seg.syn {
            flow.half[dir].syn(seg.seq);
            let sender = if seg.ack_flag { 1 - dir } else { dir };
            if !seg.ack_flag {
                flow.isn = Some(seg.seq);
            }
            flow.initiator.get_or_insert(sender as u8);
            if let Some(conn) = flow.conn {
                ctx.conv.open(conn, sides[sender]);
            } else {
                // A predicted data connection joins the layer at its SYN, while its transfer is
                // open: one that never carries a byte (a refused or empty transfer) still binds.
                let (from, to) = (sides[sender], sides[1 - sender]);
                if ctx.conv.predicts(from, to) {
                    flow.conn(&mut ctx.conv);
                }
            }
        }
        if flow.role != RoleKind::Other && (flow.conn.is_some() || !seg.payload.is_empty()) {
            let conn = flow.conn(&mut ctx.conv);
            let seq = if seg.syn {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            let held_before = flow.half[0].held_bytes() + flow.half[1].held_bytes();
            let room =
                ctx.opts.total_memcap.saturating_sub(ctx.held_total) + flow.half[dir].held_bytes();
            let cap = ctx.opts.stream_memcap.min(room);
            let Flow {
                half, data, role, ..
            } = flow;
            let mut forced = false;
            // The peer's bytes this segment acknowledges came first: deliver them before it.
            if seg.ack_flag {
                half[1 - dir].acked(seg.ack, &mut |c| {
                    *role = ctx.deliver(conn, sides, 1 - dir, c, data)
                });
            }
            if !seg.payload.is_empty() {
                forced = half[dir].segment(seq, seg.payload, frame, ts, cap, &mut |c| {
                    *role = ctx.deliver(conn, sides, dir, c, data)
                });
            }
            let held_after = half[0].held_bytes() + half[1].held_bytes();
            ctx.held_total = (ctx.held_total + held_after).saturating_sub(held_before);
            if forced {
                let detail = format!(
                    "out-of-order bytes over the {} byte cap; skipped to the held data",
                    cap
                );
                ctx.conv
                    .note(conn, anomaly::REASSEMBLY_MEMCAP, detail, frame, ts);
            }
        }
        if seg.fin {
            let seq = if seg.syn {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            flow.half[dir].fin(seq, seg.payload.len());
            let conn = flow.conn(&mut ctx.conv);
            ctx.conv.fin(conn, seg.src);
        }
        if seg.rst {
            flow.rst = true;
            flow.conn(&mut ctx.conv);
        }
        let done = flow.rst || (flow.half[0].finished() && flow.half[1].finished());
        if done {
            if self.dead.len() >= DEAD_CAP {
                self.dead.clear();
            }
            self.dead.insert(key, (flow.isn, ts));
            self.close_flow(idx);
        }
    }

    /// Close idle connections; let the layer expire what waited too long.
    fn sweep(&mut self, now: f64) {
        let timeout = self.ctx.opts.tcp_timeout;
        let idle: Vec<usize> = self
            .flows
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                f.as_ref()
                    .filter(|f| !f.closed && now - f.last_ts > timeout)
                    .map(|_| i)
            })
            .collect();
        for i in idle {
            self.close_flow(i);
        }
        self.ctx.conv.advance(now);
        self.ctx.drain();
        if now >= self.next_dead_sweep {
            self.dead.retain(|_, (_, t)| now - *t <= timeout);
            self.next_dead_sweep = now + 60.0;
        }
    }

    /// Deliver what a flow still holds and tell the layer it ended.
    fn flush_flow(&mut self, idx: usize) {
        let Some(flow) = self.flows[idx].as_mut() else {
            return;
        };
        if flow.closed {
            return;
        }
        flow.closed = true;
        if self.last_flow.is_some_and(|(_, i)| i == idx) {
            self.last_flow = None;
        }
        let key = flow.key();
        if self.index.get(&key).is_some_and(|&i| i as usize == idx) {
            self.index.remove(&key);
        }
        let ctx = &mut self.ctx;
        let sides = flow.sides();
        // A flow that never carried a byte, a FIN or a RST (it timed out, or the capture ended)
        // is nothing to the layer: nothing to judge or to bind.
        let Some(conn) = flow.conn else {
            self.flows[idx] = None;
            self.free.push(idx);
            return;
        };
        let wanted = ctx.conv.role(conn) != RoleKind::Other;
        let Flow { half, data, .. } = flow;
        for (d, h) in half.iter_mut().enumerate() {
            let before = h.held_bytes();
            if wanted {
                h.flush(&mut |c| {
                    ctx.deliver(conn, sides, d, c, data);
                });
            }
            ctx.held_total = ctx.held_total.saturating_sub(before);
        }
        if let Some(acc) = data.take() {
            ctx.data.insert(conn, *acc);
        }
        if let Some(e) = ctx.encrypted.remove(&conn) {
            ctx.encrypted_transfer(conn, e);
        }
        ctx.conv.close(conn);
        self.flows[idx] = None;
        self.free.push(idx);
    }

    fn close_flow(&mut self, idx: usize) {
        self.flush_flow(idx);
        self.ctx.drain();
    }
}

impl DataAcc {
    fn new(sides: [SocketAddr; 2]) -> Self {
        DataAcc {
            sides,
            dirs: Default::default(),
            last_ts: 0.0,
        }
    }

    /// What the TLS handshake of either direction showed, when one began the connection.
    fn tls(&self) -> Option<TlsInfo> {
        let mut out: Option<TlsInfo> = None;
        for t in self.dirs.iter().flatten().filter_map(|d| d.tls.as_ref()) {
            out.get_or_insert_with(TlsInfo::default)
                .merge(t.info.clone());
        }
        out
    }
}

/// The digests asked for, on a transfer record.
fn set_digests(r: &mut TransferRecord, d: Digests) {
    r.sha256 = d.sha256;
    r.md5 = d.md5;
    r.sha1 = d.sha1;
}

impl Ctx<'_> {
    fn emit(&mut self, r: Record) {
        self.sink.record(r);
    }

    /// Bytes of a control connection: once a direction begins a TLS handshake (after the
    /// upgrade to TLS, or from the first byte on an implicit-TLS port), read it.
    fn control_tls(&mut self, conn: ConnRef, dir: usize, bytes: &[u8]) {
        if !self.tls_by_conn.contains_key(&conn) {
            if !starts_tls(bytes) {
                return;
            }
            let Some((uid, id)) = self.conv.conn_id(conn).map(|(u, i)| (u.to_string(), i)) else {
                return;
            };
            self.tls_by_conn.insert(conn, uid.clone());
            self.tls_controls.insert(
                uid.clone(),
                TlsControl {
                    uid,
                    id,
                    handshake: TlsObserver::default(),
                    claimed: 0,
                },
            );
        }
        let Some(t) = self
            .tls_by_conn
            .get(&conn)
            .and_then(|uid| self.tls_controls.get_mut(uid))
        else {
            return;
        };
        if !t.handshake.done() {
            t.handshake.feed(dir, bytes);
        }
    }

    /// A new connection that begins with a TLS handshake between the hosts of a control
    /// connection already in TLS is that session's data connection (its data-channel announcement was
    /// encrypted): the analyser keeps its bytes and reports it as a transfer of the session.
    fn claim_encrypted(&mut self, conn: ConnRef, sides: [SocketAddr; 2], ts: f64) -> bool {
        let hosts = [sides[0].ip(), sides[1].ip()];
        let session = self
            .tls_controls
            .values()
            .filter(|t| {
                let (c, v) = (t.id.orig.ip(), t.id.resp.ip());
                hosts == [c, v] || hosts == [v, c]
            })
            .max_by(|a, b| a.uid.cmp(&b.uid))
            .map(|t| t.uid.clone());
        let Some(session) = session else {
            return false;
        };
        if let Some(t) = self.tls_controls.get_mut(&session) {
            t.claimed += 1;
        }
        self.encrypted.insert(
            conn,
            EncryptedData {
                session,
                acc: DataAcc::new(sides),
                first_ts: ts,
                bytes: [0, 0],
            },
        );
        true
    }

    /// An encrypted data connection claimed by [`Ctx::claim_encrypted`] ended: its transfer.
    fn encrypted_transfer(&mut self, conn: ConnRef, mut e: EncryptedData) {
        let Some(t) = self.tls_controls.get(&e.session) else {
            return;
        };
        let (uid, id) = (t.uid.clone(), t.id);
        let data_id = self.conv.conn_id(conn).map(|(u, i)| (u.to_string(), i));
        let tls = e.acc.tls();
        // The direction that carried more bytes carried the file.
        let sender = usize::from(e.bytes[1] > e.bytes[0]);
        let digests = e.acc.dirs[sender]
            .take()
            .and_then(|d| d.hasher)
            .map(Hasher::finish)
            .unwrap_or_else(|| Digests::of_nothing(self.opts.hashes));
        let mut r = TransferRecord {
            ts: Some(e.first_ts),
            conn: Conn {
                uid,
                id: Some(id.into()),
            },
            bytes: e.bytes[sender],
            complete: false,
            partial_reasons: vec!["no_command", "encrypted"],
            outcome: crate::Outcome::Unknown.name(),
            data: data_id.as_ref().map(|(_, i)| DataFields::from(*i)),
            data_uid: data_id.map(|(u, _)| u),
            duration: Some((e.acc.last_ts - e.first_ts).max(0.0)),
            encrypted: true,
            tls: tls.map(Box::new),
            ..Default::default()
        };
        set_digests(&mut r, digests);
        self.stats.transfers += 1;
        self.emit(Record::Transfer(r));
    }

    /// In-order bytes (or a gap) of one direction of a flow.
    fn deliver(
        &mut self,
        conn: ConnRef,
        sides: [SocketAddr; 2],
        dir: usize,
        chunk: Chunk<'_>,
        data: &mut Option<Box<DataAcc>>,
    ) -> RoleKind {
        match chunk {
            Chunk::Data {
                offset,
                bytes,
                frame,
                ts,
            } => {
                if let Some(e) = self.encrypted.get_mut(&conn) {
                    e.bytes[dir] += bytes.len() as u64;
                    let mut acc = std::mem::replace(&mut e.acc, DataAcc::new(sides));
                    acc.last_ts = ts;
                    self.data_bytes(&mut acc, dir, offset, bytes, None);
                    if let Some(e) = self.encrypted.get_mut(&conn) {
                        e.acc = acc;
                    }
                    return RoleKind::Data;
                }
                if offset == 0
                    && starts_tls(bytes)
                    && self.conv.role(conn) == RoleKind::Pending
                    && self.claim_encrypted(conn, sides, ts)
                {
                    return self.deliver(conn, sides, dir, chunk, data);
                }
                let role = self
                    .conv
                    .payload(conn, sides[dir], offset, bytes, frame, ts);
                match role {
                    RoleKind::Data => {
                        let listing = self.listing_of(conn);
                        let acc = data.get_or_insert_with(|| {
                            Box::new(self.data.remove(&conn).unwrap_or(DataAcc::new(sides)))
                        });
                        acc.last_ts = ts;
                        self.data_bytes(acc, dir, offset, bytes, listing);
                    }
                    RoleKind::Control => self.control_tls(conn, dir, bytes),
                    _ => {}
                }
                role
            }
            Chunk::Gap { offset, len } => {
                self.conv.gap(conn, sides[dir], offset, len, 0, 0.0);
                self.conv.role(conn)
            }
        }
    }

    /// Bytes of a data connection: digest, first bytes for the MIME type, spool for extraction.
    ///
    /// `listing`: what the transfer bound to the connection lists, when known; a direction whose
    /// first bytes come before its command is known gets no listing.
    fn data_bytes(
        &mut self,
        acc: &mut DataAcc,
        dir: usize,
        offset: u64,
        bytes: &[u8],
        listing: Option<Expect>,
    ) {
        let hashes = self.opts.hashes;
        let d = acc.dirs[dir].get_or_insert_with(|| {
            Box::new(DataDir {
                hasher: hashes.hasher(),
                listing: listing
                    .filter(|_| offset == 0)
                    .map(|x| Box::new(ListingAcc::new(x))),
                ..Default::default()
            })
        });
        if let Some(l) = d.listing.as_mut() {
            l.feed(bytes);
        }
        if offset == 0 && starts_tls(bytes) {
            d.tls = Some(Box::default());
        }
        if let Some(t) = d.tls.as_mut().filter(|t| !t.done()) {
            t.feed(bytes);
        }
        if let Some(h) = d.hasher.as_mut() {
            h.update(bytes);
        }
        if d.head.len() < 512 {
            let n = (512 - d.head.len()).min(bytes.len());
            d.head.extend_from_slice(&bytes[..n]);
        }
        if let Some(x) = self.extractor.as_mut() {
            if d.spool.is_none() && !d.spool_failed {
                match x.spool() {
                    Ok(s) => d.spool = Some(s),
                    Err(e) => {
                        d.spool_failed = true;
                        self.stats.io_errors.push(format!("spool: {e}"));
                    }
                }
            }
            if let Some(s) = d.spool.as_mut() {
                if let Err(e) = s.write_at(offset, bytes) {
                    d.spool = None;
                    d.spool_failed = true;
                    self.stats.io_errors.push(format!("spool write: {e}"));
                }
            }
        }
    }

    /// What a data connection's transfer command lists (LIST, NLST, MLSD), once it is known.
    fn listing_of(&self, conn: ConnRef) -> Option<Expect> {
        let t = self.conv.data_channel(conn)?.transfer?;
        Expect::for_command(t.command.as_bytes())
    }

    /// Turn the layer's outputs into records.
    fn drain(&mut self) {
        self.conv.take_outputs(&mut self.outputs);
        if self.outputs.is_empty() {
            return;
        }
        let outputs = std::mem::take(&mut self.outputs);
        for o in &outputs {
            match o {
                Output::Exchange(ex) => self.emit(Record::Command(ex.as_ref().into())),
                Output::Transfer(t) => self.transfer(t),
                Output::Session(s) => {
                    let mut r = SessionRecord::from(s);
                    if let Some(t) = self.tls_controls.remove(&s.uid) {
                        self.tls_by_conn.retain(|_, uid| *uid != s.uid);
                        let info = t.handshake.info();
                        r.tls_info = (!info.is_empty()).then(|| Box::new(info));
                        r.transfers += t.claimed;
                    }
                    self.emit(Record::Session(r));
                }
                Output::Anomaly(n) => self.emit(Record::Anomaly(AnomalyRecord::from(n))),
                Output::Replay(r) => {
                    let mut acc = self
                        .data
                        .remove(&r.conn)
                        .unwrap_or(DataAcc::new([r.from, r.to]));
                    let dir = usize::from(r.from != acc.sides[0]);
                    let listing = self.listing_of(r.conn);
                    self.data_bytes(&mut acc, dir, r.offset, &r.bytes, listing);
                    self.data.insert(r.conn, acc);
                }
            }
        }
        // Keep the allocation for the next frame.
        self.outputs = outputs;
        self.outputs.clear();
    }

    /// A listing lost entries to its parser's caps: say so next to the transfer.
    fn listing_cap(&mut self, r: &TransferRecord, detail: String) {
        self.emit(Record::Anomaly(AnomalyRecord {
            ts: r.ts.unwrap_or(0.0),
            conn: Some(r.conn.clone()),
            name: anomaly::LISTING_CAP,
            detail,
            frame: r.command_frame,
        }));
        *self
            .stats
            .cli_anomalies
            .entry(anomaly::LISTING_CAP)
            .or_default() += 1;
    }

    /// A transfer: its command record (with the MIME type of its data), then its own record.
    fn transfer(&mut self, t: &TransferDone) {
        let mut acc = t.data.as_ref().and_then(|d| self.data.remove(&d.conn));
        let tls = acc.as_ref().and_then(DataAcc::tls);
        let last_ts = acc.as_ref().map(|a| a.last_ts);
        let picked = t.data.as_ref().and_then(|d| {
            let acc = acc.as_mut()?;
            let sender = d.sender?;
            let dir = usize::from(sender != acc.sides[0]);
            acc.dirs[dir].take()
        });
        let mime = picked.as_ref().and_then(|d| sniff_mime(&d.head));
        if let Some(ex) = &t.exchange {
            let mut rec = CommandRecord::from(ex);
            rec.mime_type = t.data.as_ref().and(mime);
            self.emit(Record::Command(rec));
        }
        let mut r = TransferRecord::from(t);
        let mut spool = None;
        if t.data.is_some() {
            r.mime_type = mime;
            let digests = match picked {
                Some(mut d) => {
                    if let Some(l) = d.listing.take() {
                        let (entries, lost) = l.finish();
                        r.listing = Some(entries);
                        if let Some(detail) = lost {
                            self.listing_cap(&r, detail);
                        }
                    }
                    spool = d.spool;
                    d.hasher.map(Hasher::finish).unwrap_or_default()
                }
                None => Digests::of_nothing(self.opts.hashes),
            };
            set_digests(&mut r, digests);
            if let (Some(d), Some(last)) = (&t.data, last_ts) {
                r.duration = Some((last - d.first_ts).max(0.0));
            }
            // Private data protection was agreed, yet the data connection began in the clear: a client or server
            // that ignored the protection level.
            if r.encrypted && tls.is_none() && r.bytes > 0 {
                self.emit(Record::Anomaly(AnomalyRecord {
                    ts: r.ts.unwrap_or(0.0),
                    conn: Some(r.conn.clone()),
                    name: anomaly::CLEARTEXT_AFTER_PROT_P,
                    detail: format!(
                        "{} bytes in the clear on data connection {} after data protection was agreed",
                        r.bytes,
                        r.data_uid.as_deref().unwrap_or("-")
                    ),
                    frame: r.command_frame,
                }));
                *self
                    .stats
                    .cli_anomalies
                    .entry(anomaly::CLEARTEXT_AFTER_PROT_P)
                    .or_default() += 1;
            }
            if tls.is_some() && !r.encrypted {
                r.encrypted = true;
                r.complete = false;
                r.partial_reasons.push("encrypted");
            }
            r.tls = tls.map(Box::new);
        }
        // Files go to disk; listings only on request; encrypted bytes never.
        let listing = t.direction == Some(DataDirection::Listing);
        let wanted = !listing || self.opts.extract_listings;
        if let (Some(x), Some(sp)) = (self.extractor.as_ref(), spool) {
            if wanted && !r.encrypted {
                let channel = r.channel_id.unwrap_or(0);
                let name = match (listing, t.transfer.as_ref().and_then(|t| t.listing_name())) {
                    (true, Some(name)) => name,
                    (true, None) => format!("{}-{channel}.listing", r.conn.uid),
                    _ => match r.path.as_deref() {
                        Some(p) if !p.is_empty() => p.to_string(),
                        _ => format!("{}-{channel}", r.conn.uid),
                    },
                };
                match x.finish(sp, &name, r.offset, !r.complete) {
                    Ok(p) => r.extracted = Some(p.to_string_lossy().into_owned()),
                    Err(e) => self.stats.io_errors.push(format!("extract {name}: {e}")),
                }
            }
        }
        self.emit(Record::Transfer(r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flow_gives_back_its_endpoints_in_the_order_it_was_made() {
        for (first, other) in [
            ("10.0.0.2:21", "10.0.0.1:40000"),
            ("10.0.0.1:40000", "10.0.0.2:21"),
            ("[2001:db8::10]:40004", "[2001:db8::21]:21"),
            ("[::ffff:10.0.0.1]:20", "[2001:db8::21]:21"),
        ] {
            let (a, b): (SocketAddr, SocketAddr) = (first.parse().unwrap(), other.parse().unwrap());
            let flow = Flow::new(a, b, FlowKey::ordered(a, b).0, 1, 0.0);
            assert_eq!(flow.sides(), [a, b]);
            assert_eq!(flow.key(), FlowKey::ordered(b, a).0);
        }
    }
}
