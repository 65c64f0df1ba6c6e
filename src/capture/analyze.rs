//! The capture analyser: frames in, records out.
//!
//! ```text
//! Frame -> decode (link, IP, TCP) -> flow table -> HalfStream reassembly per direction
//!   control connection -> ftplens::Session::feed -> events -> command/reply records
//!   data connection    -> sha256, byte count, MIME sniff, spool for extraction
//!   new connection     -> ChannelTable::take (prediction) | port/heuristic (control) | candidate
//! ```
//!
//! A connection nobody predicted yet is a *candidate*: its first bytes are kept (capped) for a
//! short window so that a prediction that shows up later in the capture (a reply captured after the
//! data connection it announced) can still claim it: late binding.

use super::decode::{Decoded, Segment, decode};
use super::extract::{Extractor, Spool};
use super::record::{
    AnomalyRecord, CommandRecord, ConnId, DataChannel, Record, SessionRecord, TransferRecord,
    anomaly, sniff_mime,
};
use super::source::Frame;
use super::tcp::{Chunk, HalfStream};
use crate::heuristic::{Verdict, classify};
use crate::parse::command::TransferKind;
use crate::predict::ChannelTable;
use crate::{Direction, Event, EventKind, Expectation, Limits, LoginState, Outcome, Session};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Tunables, each with a default and a CLI flag.
#[derive(Debug, Clone)]
pub struct Options {
    /// Compute sha256 of transferred data.
    pub hash: bool,
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
        Options {
            hash: true,
            tcp_timeout: 600.0,
            stream_memcap: 16 << 20,
            total_memcap: 256 << 20,
            late_window: 10.0,
            candidate_bytes: 1 << 20,
            candidate_total: 64 << 20,
            control_ports: vec![21],
            extract_dir: None,
            extract_listings: false,
            limits: Limits::default(),
            uid_salt: 0,
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
    pub connections: u64,
    pub control_sessions: u64,
    pub data_connections: u64,
    pub late_bound: u64,
    pub transfers: u64,
    pub anomalies: BTreeMap<&'static str, u64>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FlowKey {
    lo: SocketAddr,
    hi: SocketAddr,
}

/// One `write` of packed bytes: the per-field calls of the derived `Hash` cost more than the
/// (keyed, DoS-resistant) hash itself on this hot path.
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut buf = [0u8; 36];
        let mut put = |at: usize, a: &SocketAddr| {
            match a.ip() {
                std::net::IpAddr::V4(v4) => buf[at + 12..at + 16].copy_from_slice(&v4.octets()),
                std::net::IpAddr::V6(v6) => buf[at..at + 16].copy_from_slice(&v6.octets()),
            }
            buf[at + 16..at + 18].copy_from_slice(&a.port().to_le_bytes());
        };
        put(0, &self.lo);
        put(18, &self.hi);
        state.write(&buf);
    }
}

impl FlowKey {
    fn new(a: SocketAddr, b: SocketAddr) -> Self {
        if a <= b {
            FlowKey { lo: a, hi: b }
        } else {
            FlowKey { lo: b, hi: a }
        }
    }
}

/// Bytes of one direction, kept while a connection waits to be claimed.
#[derive(Debug)]
enum Held {
    Data {
        dir: usize,
        offset: u64,
        bytes: Vec<u8>,
        frame: u64,
        ts: f64,
    },
    Gap {
        dir: usize,
        offset: u64,
        len: u64,
    },
}

#[derive(Debug, Default)]
struct Candidate {
    held: Vec<Held>,
    bytes: usize,
    /// Kept bytes were dropped at the cap: it can no longer be claimed whole.
    overflow: bool,
    /// The heuristic has judged this connection.
    judged: bool,
    /// First bytes per direction, for the heuristic.
    first: [Vec<u8>; 2],
}

/// One direction of a data connection.
#[derive(Debug, Default)]
struct DataDir {
    bytes: u64,
    hasher: Option<Sha256>,
    head: Vec<u8>,
    spool: Option<Spool>,
    spool_failed: bool,
}

#[derive(Debug)]
enum Role {
    Candidate(Box<Candidate>),
    Control {
        sid: u32,
        /// Index of the client side (0: `a`, 1: `b`).
        client: usize,
    },
    Data {
        sid: u32,
        ch: u32,
        dirs: [Option<Box<DataDir>>; 2],
    },
    /// Not FTP: bytes are not looked at.
    Other,
}

#[derive(Debug)]
struct Flow {
    key: FlowKey,
    /// The side that sent the first packet seen; index 0.
    a: SocketAddr,
    b: SocketAddr,
    half: [HalfStream; 2],
    /// Index of the side that sent the SYN (without ACK), when seen.
    syn_from: Option<usize>,
    /// That SYN's sequence number: a SYN repeating it is a retransmission, not a new connection.
    isn: Option<u32>,
    first_ts: f64,
    last_ts: f64,
    last_frame: u64,
    rst: bool,
    closed: bool,
    uid: String,
    role: Role,
}

impl Flow {
    fn side(&self, i: usize) -> SocketAddr {
        if i == 0 { self.a } else { self.b }
    }

    /// Originator and responder: the SYN's sender, else the first sender.
    fn conn_id(&self) -> ConnId {
        let o = self.syn_from.unwrap_or(0);
        ConnId {
            orig: self.side(o),
            resp: self.side(1 - o),
        }
    }
}

// --------------------------------------------------------------------------- sessions

#[derive(Debug, Default)]
struct PendingCmd {
    rec: CommandRecord,
    verb: String,
    channel: Option<u32>,
}

/// The result of a finished data connection.
#[derive(Debug, Default)]
struct DataResult {
    bytes: u64,
    sha256: Option<String>,
    mime: Option<&'static str>,
    spool: Option<Spool>,
    syn_seen: bool,
    fin_seen: bool,
    gaps: u32,
    gap_bytes: u64,
    id: Option<ConnId>,
    uid: String,
    first_ts: f64,
}

#[derive(Debug, Default)]
struct Channel {
    exp: Option<Expectation>,
    transfer: Option<crate::Transfer>,
    ended: bool,
    flow_bound: bool,
    flow_open: bool,
    late_bound: bool,
    data: Option<DataResult>,
    cmd_record: Option<CommandRecord>,
    user: Option<String>,
}

#[derive(Debug)]
struct Sess {
    session: Session,
    uid: String,
    id: ConnId,
    start_ts: f64,
    last_ts: f64,
    midstream: bool,
    banner: Option<String>,
    user: Option<String>,
    password: Option<String>,
    anonymous: bool,
    login: &'static str,
    failed_logins: u32,
    tls: Option<String>,
    pending: VecDeque<PendingCmd>,
    staged: Option<PendingCmd>,
    /// Client bytes sent before the server's greeting, held until it is complete (`None` once
    /// the greeting was seen, or when the connection's start was not captured).
    before_greeting: Option<Vec<(Vec<u8>, u64, f64)>>,
    /// A USER command was seen.
    user_seen: bool,
    channels: HashMap<u32, Channel>,
    /// Transfers that had no prediction, by their command frame.
    next_orphan: u32,
    commands: u64,
    transfers: u64,
    anomalies: u64,
    closed: bool,
}

const ORPHAN_BASE: u32 = 0x8000_0000;
/// Client bytes held back while waiting for the server's greeting.
const GREETING_HOLD: usize = 64 * 1024;

// --------------------------------------------------------------------------- analyser

/// Everything but the flow table, so that a flow's reassembly can call into it.
struct Ctx<'s> {
    opts: Options,
    sink: &'s mut dyn Sink,
    sessions: HashMap<u32, Sess>,
    next_sid: u32,
    table: ChannelTable<(u32, u32)>,
    new_expectations: Vec<(u32, Expectation)>,
    extractor: Option<Extractor>,
    stats: Stats,
    held_total: usize,
    candidate_total: usize,
}

/// Analyse one capture.
pub struct Analyzer<'s> {
    flows: Vec<Option<Flow>>,
    free: Vec<usize>,
    index: HashMap<FlowKey, usize>,
    /// Flows that may still be claimed late (open or recently closed candidates).
    candidates: Vec<usize>,
    next_sweep: f64,
    next_uid: u64,
    /// Connections closed by FIN or RST, with their SYN's sequence number: packets that repeat
    /// them (a capture that saw the whole connection twice) are retransmissions, not a new one.
    dead: HashMap<FlowKey, (Option<u32>, f64)>,
    next_dead_sweep: f64,
    /// The flow of the previous segment.
    last_flow: Option<(FlowKey, usize)>,
    ctx: Ctx<'s>,
}

/// Closed connections remembered for retransmission detection.
const DEAD_CAP: usize = 200_000;

impl<'s> Analyzer<'s> {
    pub fn new(opts: Options, sink: &'s mut dyn Sink) -> std::io::Result<Self> {
        let extractor = match &opts.extract_dir {
            Some(d) => Some(Extractor::new(d)?),
            None => None,
        };
        let timeout = opts.limits.expectation_timeout;
        Ok(Analyzer {
            flows: Vec::new(),
            free: Vec::new(),
            index: HashMap::new(),
            candidates: Vec::new(),
            next_sweep: f64::NEG_INFINITY,
            next_uid: 0,
            dead: HashMap::new(),
            next_dead_sweep: f64::NEG_INFINITY,
            last_flow: None,
            ctx: Ctx {
                opts,
                sink,
                sessions: HashMap::new(),
                next_sid: 1,
                table: ChannelTable::new(65_536, timeout),
                new_expectations: Vec::new(),
                extractor,
                stats: Stats::default(),
                held_total: 0,
                candidate_total: 0,
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
                if !self.ctx.new_expectations.is_empty() {
                    self.bind_late();
                }
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
        }
    }

    /// The input ended: close every connection and session, and report what is left.
    pub fn finish(mut self) -> Stats {
        let mut order: Vec<usize> = (0..self.flows.len())
            .filter(|&i| self.flows[i].as_ref().is_some_and(|f| !f.closed))
            .collect();
        // Control connections last, so that their data connections are done first.
        order.sort_by_key(|&i| {
            matches!(
                self.flows[i].as_ref().map(|f| &f.role),
                Some(Role::Control { .. })
            )
        });
        for i in order {
            self.close_flow(i);
        }
        if !self.ctx.new_expectations.is_empty() {
            self.bind_late();
        }
        let sids: Vec<u32> = self.ctx.sessions.keys().copied().collect();
        let mut sids = sids;
        sids.sort_unstable();
        for sid in sids {
            self.ctx.end_session(sid, true);
        }
        self.ctx.stats.clone()
    }

    pub fn stats(&self) -> &Stats {
        &self.ctx.stats
    }

    fn uid(&mut self, key: &FlowKey, ts: f64) -> String {
        self.next_uid += 1;
        // FNV-1a over the salt, a counter and the endpoints: stable across runs, unique per input.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut mix = |bytes: &[u8]| {
            for &b in bytes {
                h ^= b as u64;
                h = h.wrapping_mul(0x100_0000_01b3);
            }
        };
        mix(&self.ctx.opts.uid_salt.to_le_bytes());
        mix(&self.next_uid.to_le_bytes());
        mix(key.lo.to_string().as_bytes());
        mix(key.hi.to_string().as_bytes());
        mix(&ts.to_bits().to_le_bytes());
        let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut s = String::from("C");
        for _ in 0..17 {
            s.push(alphabet[(h % 62) as usize] as char);
            h /= 62;
            if h == 0 {
                h = self.next_uid.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            }
        }
        s
    }

    fn new_flow(&mut self, seg: &Segment<'_>, key: FlowKey, frame: u64, ts: f64) -> usize {
        self.ctx.stats.connections += 1;
        let uid = self.uid(&key, ts);
        let mut flow = Flow {
            key,
            a: seg.src,
            b: seg.dst,
            half: Default::default(),
            syn_from: None,
            isn: None,
            first_ts: ts,
            last_ts: ts,
            last_frame: frame,
            rst: false,
            closed: false,
            uid,
            role: Role::Other,
        };
        // A prediction claims it first; then the control ports; then the heuristic decides later.
        let (from, to) = if seg.syn && seg.ack_flag {
            (seg.dst, seg.src)
        } else {
            (seg.src, seg.dst)
        };
        flow.role = match self.ctx.take_prediction(from, to) {
            Some((sid, ch)) => {
                self.ctx.bind_data(sid, ch, false);
                Role::Data {
                    sid,
                    ch,
                    dirs: Default::default(),
                }
            }
            None => Role::Candidate(Box::default()),
        };
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
        if matches!(
            self.flows[idx].as_ref().map(|f| &f.role),
            Some(Role::Candidate(_))
        ) {
            self.candidates.push(idx);
        }
        self.index.insert(key, idx);
        idx
    }

    fn segment(&mut self, seg: &Segment<'_>, frame: u64, ts: f64) {
        let key = FlowKey::new(seg.src, seg.dst);
        // Bulk transfers come in runs of one connection's segments: skip the table for them.
        let cached = match self.last_flow {
            Some((k, i)) if k == key && !seg.syn => Some(i),
            _ => None,
        };
        let idx = match cached.or_else(|| self.index.get(&key).copied()) {
            Some(i) => {
                let reuse = self.flows[i].as_ref().is_some_and(|f| {
                    seg.syn
                        && !seg.ack_flag
                        && f.isn != Some(seg.seq)
                        && (f.rst || f.half[0].fin_at.is_some() || f.half[1].fin_at.is_some())
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
        let dir = usize::from(seg.src != flow.a);
        flow.last_ts = ts;
        flow.last_frame = frame;
        if seg.syn {
            flow.half[dir].syn(seg.seq);
            if !seg.ack_flag {
                flow.syn_from = Some(dir);
                flow.isn = Some(seg.seq);
            } else if flow.syn_from.is_none() {
                flow.syn_from = Some(1 - dir);
            }
        }
        if !matches!(flow.role, Role::Other) {
            let seq = if seg.syn {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            let held_before = flow.half[0].held_bytes() + flow.half[1].held_bytes();
            let room =
                ctx.opts.total_memcap.saturating_sub(ctx.held_total) + flow.half[dir].held_bytes();
            let cap = ctx.opts.stream_memcap.min(room);
            let Flow { half, role, .. } = flow;
            let mut forced = false;
            // The peer's bytes this segment acknowledges came first: deliver them before it.
            if seg.ack_flag {
                half[1 - dir].acked(seg.ack, &mut |c| ctx.deliver(role, 1 - dir, c));
            }
            if !seg.payload.is_empty() {
                forced = half[dir].segment(seq, seg.payload, frame, ts, cap, &mut |c| {
                    ctx.deliver(role, dir, c)
                });
            }
            let held_after = half[0].held_bytes() + half[1].held_bytes();
            ctx.held_total = (ctx.held_total + held_after).saturating_sub(held_before);
            if forced {
                let detail = format!(
                    "out-of-order bytes over the {} byte cap; skipped to the held data",
                    cap
                );
                let id = flow.conn_id();
                let uid = flow.uid.clone();
                ctx.flow_anomaly(
                    &flow.role,
                    uid,
                    id,
                    anomaly::REASSEMBLY_MEMCAP,
                    detail,
                    frame,
                    ts,
                );
            }
            if matches!(&flow.role, Role::Candidate(c) if !c.judged) {
                ctx.judge(flow, false);
            }
        }
        if seg.fin {
            let seq = if seg.syn {
                seg.seq.wrapping_add(1)
            } else {
                seg.seq
            };
            flow.half[dir].fin(seq, seg.payload.len());
        }
        if seg.rst {
            flow.rst = true;
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

    /// Close idle connections and forget old candidates.
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
        let window = self.ctx.opts.late_window;
        let mut keep = Vec::with_capacity(self.candidates.len());
        for &i in &self.candidates {
            let Some(f) = self.flows[i].as_mut() else {
                continue;
            };
            let Role::Candidate(c) = &mut f.role else {
                continue;
            };
            if now - f.first_ts <= window {
                keep.push(i);
                continue;
            }
            // Too old to be claimed: drop what it kept.
            self.ctx.candidate_total -= c.bytes;
            f.role = Role::Other;
            if f.closed {
                self.flows[i] = None;
                self.free.push(i);
            }
        }
        self.candidates = keep;
        self.ctx.table.expire(now);
        if now >= self.next_dead_sweep {
            self.dead.retain(|_, (_, t)| now - *t <= timeout);
            self.next_dead_sweep = now + 60.0;
        }
    }

    /// New predictions may claim connections already seen (late binding).
    fn bind_late(&mut self) {
        let exps = std::mem::take(&mut self.ctx.new_expectations);
        for (sid, exp) in exps {
            let mut claimed = None;
            for (pos, &i) in self.candidates.iter().enumerate().rev() {
                let Some(f) = self.flows[i].as_ref() else {
                    continue;
                };
                let Role::Candidate(c) = &f.role else {
                    continue;
                };
                if c.overflow || f.first_ts < exp.created - self.ctx.opts.late_window {
                    continue;
                }
                let ok = match f.syn_from {
                    Some(o) => exp.matches_connection(f.side(o), f.side(1 - o)),
                    None => exp.matches_either(f.a, f.b),
                };
                if ok {
                    claimed = Some((pos, i));
                    break;
                }
            }
            let Some((pos, i)) = claimed else {
                if !self
                    .ctx
                    .table
                    .insert((sid, exp.channel_id), exp.clone(), exp.created)
                {
                    self.ctx.session_anomaly(
                        sid,
                        crate::Anomaly::ExpectationsFull.name(),
                        "capture-wide table of data-channel predictions is full".into(),
                        exp.setup_frame,
                        exp.created,
                    );
                }
                continue;
            };
            self.candidates.remove(pos);
            let ch = exp.channel_id;
            let Some(f) = self.flows[i].as_mut() else {
                continue;
            };
            let Role::Candidate(c) = std::mem::replace(
                &mut f.role,
                Role::Data {
                    sid,
                    ch,
                    dirs: Default::default(),
                },
            ) else {
                continue;
            };
            self.ctx.candidate_total -= c.bytes;
            self.ctx.stats.late_bound += 1;
            self.ctx.bind_data(sid, ch, true);
            for h in c.held {
                match h {
                    Held::Data {
                        dir,
                        offset,
                        bytes,
                        frame,
                        ts,
                    } => self.ctx.deliver(
                        &mut f.role,
                        dir,
                        Chunk::Data {
                            offset,
                            bytes: &bytes,
                            frame,
                            ts,
                        },
                    ),
                    Held::Gap { dir, offset, len } => {
                        self.ctx
                            .deliver(&mut f.role, dir, Chunk::Gap { offset, len })
                    }
                }
            }
            if f.closed {
                self.ctx.data_closed(f);
                self.flows[i] = None;
                self.free.push(i);
            }
        }
    }

    fn close_flow(&mut self, idx: usize) {
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
        if self.index.get(&flow.key) == Some(&idx) {
            self.index.remove(&flow.key);
        }
        let ctx = &mut self.ctx;
        {
            let Flow { half, role, .. } = flow;
            for (d, h) in half.iter_mut().enumerate() {
                let before = h.held_bytes();
                if !matches!(role, Role::Other) {
                    h.flush(&mut |c| ctx.deliver(role, d, c));
                }
                ctx.held_total = ctx.held_total.saturating_sub(before);
            }
        }
        // Judge a candidate that never produced enough bytes.
        if let Role::Candidate(_) = flow.role {
            ctx.judge(flow, true);
        }
        let remove = match &flow.role {
            Role::Control { sid, .. } => {
                let sid = *sid;
                ctx.end_session(sid, false);
                true
            }
            Role::Data { .. } => {
                ctx.data_closed(flow);
                true
            }
            Role::Candidate(_) => false, // kept until the late-binding window ends
            Role::Other => true,
        };
        if remove {
            self.flows[idx] = None;
            self.free.push(idx);
        }
    }
}

impl Ctx<'_> {
    fn emit(&mut self, r: Record) {
        self.sink.record(r);
    }

    fn count_anomaly(&mut self, name: &'static str) {
        *self.stats.anomalies.entry(name).or_default() += 1;
    }

    /// A valid, still-open prediction for a new connection.
    fn take_prediction(&mut self, from: SocketAddr, to: SocketAddr) -> Option<(u32, u32)> {
        while let Some(((sid, ch), _)) = self.table.take(from, to) {
            let live = self
                .sessions
                .get(&sid)
                .and_then(|s| s.channels.get(&ch))
                .is_some_and(|c| !c.flow_bound && (!c.ended || c.transfer.is_some()));
            if live {
                return Some((sid, ch));
            }
        }
        None
    }

    fn bind_data(&mut self, sid: u32, ch: u32, late: bool) {
        self.stats.data_connections += 1;
        if let Some(c) = self
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.channels.get_mut(&ch))
        {
            c.flow_bound = true;
            c.flow_open = true;
            c.late_bound = late;
        }
    }

    /// In-order bytes (or a gap) of one direction of a flow.
    fn deliver(&mut self, role: &mut Role, dir: usize, chunk: Chunk<'_>) {
        match role {
            Role::Other => {}
            Role::Data { dirs, .. } => {
                let d = dirs[dir].get_or_insert_with(|| {
                    Box::new(DataDir {
                        hasher: self.opts.hash.then(Sha256::new),
                        ..Default::default()
                    })
                });
                if let Chunk::Data { offset, bytes, .. } = chunk {
                    d.bytes += bytes.len() as u64;
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
            }
            Role::Control { sid, client } => {
                let sid = *sid;
                let direction = if dir == *client {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                };
                match chunk {
                    Chunk::Data {
                        bytes, frame, ts, ..
                    } => self.feed_ordered(sid, direction, bytes, frame, ts),
                    Chunk::Gap { offset, len } => {
                        self.release_held(sid);
                        // The partial line before the hole must not join the bytes after it:
                        // the session reports it as incomplete and resynchronises after it.
                        let ts = self.sessions.get(&sid).map_or(0.0, |s| s.last_ts);
                        if let Some(s) = self.sessions.get_mut(&sid) {
                            let events = s.session.gap(direction, 0, ts).to_vec();
                            self.events(sid, events);
                        }
                        let side = if direction == Direction::ToServer {
                            "client"
                        } else {
                            "server"
                        };
                        self.session_anomaly(
                            sid,
                            anomaly::CAPTURE_GAP,
                            format!(
                                "{len} bytes missing from the {side}'s stream at offset {offset}"
                            ),
                            0,
                            ts,
                        );
                    }
                }
            }
            Role::Candidate(c) => {
                let c = c.as_mut();
                match chunk {
                    Chunk::Data {
                        offset,
                        bytes,
                        frame,
                        ts,
                    } => {
                        if c.first[dir].len() < 1024 {
                            let n = (1024 - c.first[dir].len()).min(bytes.len());
                            c.first[dir].extend_from_slice(&bytes[..n]);
                        }
                        if !c.overflow {
                            if c.bytes + bytes.len() > self.opts.candidate_bytes
                                || self.candidate_total + bytes.len() > self.opts.candidate_total
                            {
                                c.overflow = true;
                                self.candidate_total -= c.bytes;
                                c.bytes = 0;
                                c.held = Vec::new();
                                if c.judged {
                                    // Not FTP control, and too big to be claimed late: stop
                                    // looking at its bytes.
                                    *role = Role::Other;
                                }
                            } else {
                                c.bytes += bytes.len();
                                self.candidate_total += bytes.len();
                                c.held.push(Held::Data {
                                    dir,
                                    offset,
                                    bytes: bytes.to_vec(),
                                    frame,
                                    ts,
                                });
                            }
                        }
                    }
                    Chunk::Gap { offset, len } => {
                        if !c.overflow {
                            c.held.push(Held::Gap { dir, offset, len });
                        }
                    }
                }
            }
        }
    }

    /// Decide whether a candidate is a control connection; replay its bytes if so. Called by the
    /// flow after each delivery batch, and with `last` when the flow closes.
    fn judge(&mut self, flow: &mut Flow, last: bool) {
        let port_server = (0..2).find(|&i| self.opts.control_ports.contains(&flow.side(i).port()));
        let Role::Candidate(c) = &mut flow.role else {
            return;
        };
        if c.judged && !last {
            return;
        }
        let mut client = None;
        let mut decided = false;
        if c.first[0].is_empty() && c.first[1].is_empty() {
            return;
        }
        if let Some(server) = port_server {
            client = Some(1 - server);
            decided = true;
        } else {
            let mut unsure = false;
            for d in 0..2 {
                if c.first[d].is_empty() {
                    unsure = true;
                    continue;
                }
                match classify(&c.first[d]) {
                    Verdict::Server => {
                        client = Some(1 - d);
                        break;
                    }
                    Verdict::Client => {
                        client = Some(d);
                        break;
                    }
                    Verdict::Unsure => unsure = true,
                    Verdict::NotFtp => {}
                }
            }
            if client.is_some() || !unsure || last || c.first.iter().all(|f| f.len() >= 1024) {
                decided = true;
            }
        }
        if !decided {
            return;
        }
        c.judged = true;
        let Some(client) = client else {
            if c.overflow {
                flow.role = Role::Other; // cannot be claimed whole any more
            }
            return; // stays a candidate for late binding, then becomes Other
        };
        let Role::Candidate(c) = std::mem::replace(&mut flow.role, Role::Other) else {
            return;
        };
        self.candidate_total -= c.bytes;
        let sid = self.new_session(flow, client);
        flow.role = Role::Control { sid, client };
        if c.overflow {
            let ts = flow.first_ts;
            self.session_anomaly(
                sid,
                anomaly::CAPTURE_GAP,
                "control bytes dropped before the connection was recognised".into(),
                0,
                ts,
            );
        }
        for h in c.held {
            match h {
                Held::Data {
                    dir,
                    offset,
                    bytes,
                    frame,
                    ts,
                } => self.deliver(
                    &mut flow.role,
                    dir,
                    Chunk::Data {
                        offset,
                        bytes: &bytes,
                        frame,
                        ts,
                    },
                ),
                Held::Gap { dir, offset, len } => {
                    self.deliver(&mut flow.role, dir, Chunk::Gap { offset, len })
                }
            }
        }
    }

    fn new_session(&mut self, flow: &Flow, client: usize) -> u32 {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.stats.control_sessions += 1;
        let id = ConnId {
            orig: flow.side(client),
            resp: flow.side(1 - client),
        };
        let midstream = !flow.half[client].syn_seen && !flow.half[1 - client].syn_seen;
        let s = Sess {
            session: Session::new(Some(id.orig), Some(id.resp), self.opts.limits),
            uid: flow.uid.clone(),
            id,
            start_ts: flow.first_ts,
            last_ts: flow.first_ts,
            midstream,
            banner: None,
            user: None,
            password: None,
            anonymous: false,
            login: "none",
            failed_logins: 0,
            tls: None,
            pending: VecDeque::new(),
            staged: None,
            before_greeting: (!midstream).then(Vec::new),
            user_seen: false,
            channels: HashMap::new(),
            next_orphan: ORPHAN_BASE,
            commands: 0,
            transfers: 0,
            anomalies: 0,
            closed: false,
        };
        self.sessions.insert(sid, s);
        if midstream {
            self.session_anomaly(
                sid,
                anomaly::MIDSTREAM,
                "the control connection began before the capture".into(),
                0,
                flow.first_ts,
            );
        }
        sid
    }

    /// An anomaly that is not attached to a command record.
    fn session_anomaly(
        &mut self,
        sid: u32,
        name: &'static str,
        detail: String,
        frame: u64,
        ts: f64,
    ) {
        self.count_anomaly(name);
        let (uid, id) = match self.sessions.get_mut(&sid) {
            Some(s) => {
                s.anomalies += 1;
                (Some(s.uid.clone()), Some(s.id))
            }
            None => (None, None),
        };
        self.emit(Record::Anomaly(AnomalyRecord {
            ts,
            uid,
            id,
            name,
            detail,
            frame,
        }));
    }

    #[allow(clippy::too_many_arguments)]
    fn flow_anomaly(
        &mut self,
        role: &Role,
        uid: String,
        id: ConnId,
        name: &'static str,
        detail: String,
        frame: u64,
        ts: f64,
    ) {
        match role {
            Role::Control { sid, .. } => self.session_anomaly(*sid, name, detail, frame, ts),
            _ => {
                self.count_anomaly(name);
                self.emit(Record::Anomaly(AnomalyRecord {
                    ts,
                    uid: Some(uid),
                    id: Some(id),
                    name,
                    detail,
                    frame,
                }));
            }
        }
    }

    /// Feed a control connection, putting the greeting first: commands a client sent before the
    /// server's greeting (seen from the connection's start) wait until the greeting is complete,
    /// so that the 220 is not taken for the reply to the first command.
    fn feed_ordered(&mut self, sid: u32, dir: Direction, bytes: &[u8], frame: u64, ts: f64) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let Some(held) = s.before_greeting.as_mut() else {
            return self.feed(sid, dir, bytes, frame, ts);
        };
        if dir == Direction::ToServer {
            let total: usize = held.iter().map(|h| h.0.len()).sum();
            if total + bytes.len() <= GREETING_HOLD {
                held.push((bytes.to_vec(), frame, ts));
                return;
            }
            self.release_held(sid);
            return self.feed(sid, dir, bytes, frame, ts);
        }
        // The greeting ends with the first line that is `NNN ` (a code and a space).
        let mut end = None;
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'\n' {
                let line = &bytes[start..i];
                if line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit) && line[3] == b' ' {
                    end = Some(i + 1);
                    break;
                }
                start = i + 1;
            }
        }
        match end {
            Some(end) => {
                self.feed(sid, dir, &bytes[..end], frame, ts);
                self.release_held(sid);
                if end < bytes.len() {
                    self.feed(sid, dir, &bytes[end..], frame, ts);
                }
            }
            None => {
                if held.is_empty() {
                    // Nothing waits: no need to look for the greeting's end any more.
                    s.before_greeting = None;
                }
                self.feed(sid, dir, bytes, frame, ts);
            }
        }
    }

    /// Deliver the client bytes held back for the greeting, and stop holding.
    fn release_held(&mut self, sid: u32) {
        let Some(held) = self
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.before_greeting.take())
        else {
            return;
        };
        for (bytes, frame, ts) in held {
            self.feed(sid, Direction::ToServer, &bytes, frame, ts);
        }
    }

    fn feed(&mut self, sid: u32, dir: Direction, bytes: &[u8], frame: u64, ts: f64) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        s.last_ts = ts;
        let events: Vec<Event> = s.session.feed(dir, bytes, frame, ts).to_vec();
        self.events(sid, events);
    }

    /// Turn one batch of session events into records.
    fn events(&mut self, sid: u32, events: Vec<Event>) {
        for ev in events {
            let Some(s) = self.sessions.get_mut(&sid) else {
                return;
            };
            match ev.kind {
                EventKind::Command { verb, arg, .. } => {
                    self.flush_staged(sid);
                    let Some(s) = self.sessions.get_mut(&sid) else {
                        return;
                    };
                    s.commands += 1;
                    let upper = verb.to_ascii_uppercase();
                    s.user_seen |= upper == "USER";
                    s.pending.push_back(PendingCmd {
                        rec: CommandRecord {
                            ts: ev.ts,
                            uid: s.uid.clone(),
                            id: Some(s.id),
                            command: verb,
                            arg,
                            cwd: s.session.cwd().map(str::to_string),
                            frame: ev.frame,
                            ..Default::default()
                        },
                        verb: upper,
                        channel: None,
                    });
                    // Mirror the session's cap on commands waiting for a reply.
                    let cap = s.session.limits().max_pending_commands + 1;
                    let excess = s.pending.len().saturating_sub(cap);
                    let dropped: Vec<PendingCmd> = s.pending.drain(..excess).collect();
                    for p in dropped {
                        self.emit_command(sid, p);
                    }
                }
                EventKind::Reply(r) => {
                    self.flush_staged(sid);
                    let Some(s) = self.sessions.get_mut(&sid) else {
                        return;
                    };
                    let code = r.code.0;
                    let text = r.lines.first().cloned().unwrap_or_default();
                    let pos = r.request.as_ref().and_then(|q| {
                        s.pending
                            .iter()
                            .position(|p| p.rec.frame == q.frame && p.verb == q.verb)
                    });
                    let Some(pos) = pos else {
                        if s.banner.is_none() && s.commands == 0 && !s.midstream {
                            s.banner = Some(r.lines.join("\n"));
                        }
                        continue;
                    };
                    if r.code.is_preliminary() {
                        s.pending[pos].rec.preliminary.push(code);
                        continue;
                    }
                    // Commands before it lost their reply (the session dropped them).
                    let older: Vec<PendingCmd> = s.pending.drain(..pos).collect();
                    let Some(mut p) = s.pending.pop_front() else {
                        continue;
                    };
                    p.rec.reply_code = Some(code);
                    p.rec.reply_msg = Some(text);
                    p.rec.reply_frame = Some(ev.frame);
                    p.rec.response_time = r.request.as_ref().map(|q| q.elapsed);
                    s.staged = Some(p);
                    for o in older {
                        self.emit_command(sid, o);
                    }
                }
                EventKind::Login(l) => {
                    // The core reports "" when the USER command was not seen (a capture that
                    // began after it); keep that unknown rather than empty.
                    if s.user_seen {
                        s.user = Some(l.user.clone());
                    }
                    s.anonymous = l.anonymous;
                    if l.password.is_some() {
                        s.password = l.password.clone();
                    }
                    s.failed_logins = l.failures;
                    s.login = match l.state {
                        LoginState::Attempt => {
                            if s.login == "success" {
                                "success"
                            } else {
                                "attempt"
                            }
                        }
                        LoginState::Success => "success",
                        LoginState::Failure => "failure",
                    };
                }
                EventKind::DataExpected(e) => {
                    let dc = DataChannel {
                        passive: e.mode.is_passive(),
                        orig_h: e.connector,
                        resp_h: e.listener,
                        resp_p: e.port,
                        mode: e.mode.name(),
                    };
                    let target = if ev.direction == Direction::ToClient {
                        s.staged.as_mut()
                    } else {
                        s.pending.back_mut()
                    };
                    if let Some(p) = target {
                        p.rec.data_channel = Some(dc);
                    }
                    s.channels.insert(
                        e.channel_id,
                        Channel {
                            exp: Some(e.clone()),
                            ..Default::default()
                        },
                    );
                    self.new_expectations.push((sid, e));
                }
                EventKind::TransferStarted(t) => {
                    let key = if t.channel_id == 0 {
                        s.next_orphan += 1;
                        s.next_orphan
                    } else {
                        t.channel_id
                    };
                    if let Some(p) = s.pending.back_mut() {
                        if p.rec.frame == t.command_frame {
                            p.channel = Some(key);
                            if t.rest_offset > 0 {
                                p.rec.rest_offset = Some(t.rest_offset);
                            }
                        }
                    }
                    let user = s.user.clone();
                    let c = s.channels.entry(key).or_default();
                    c.transfer = Some(t);
                    c.user = user;
                }
                EventKind::TransferEnded(t) => {
                    let key = if t.channel_id == 0 {
                        s.channels
                            .iter()
                            .find(|(k, c)| {
                                **k > ORPHAN_BASE
                                    && !c.ended
                                    && c.transfer.as_ref().is_some_and(|x| {
                                        x.command_frame == t.command_frame && x.command == t.command
                                    })
                            })
                            .map(|(k, _)| *k)
                    } else {
                        Some(t.channel_id)
                    };
                    let Some(key) = key else {
                        continue;
                    };
                    let c = s.channels.entry(key).or_default();
                    c.ended = true;
                    if t.outcome != Outcome::Expired {
                        c.transfer = Some(t);
                    }
                    self.try_emit(sid, key);
                }
                EventKind::TlsUpgrade { mechanism } => {
                    s.tls = Some(mechanism);
                }
                // The transfer record takes the path from TransferEnded, which has STOU's name.
                EventKind::DataProtected | EventKind::TransferUpdated(_) => {}
                EventKind::Anomaly { anomaly, detail } => {
                    let name = anomaly.name();
                    let attached = if ev.direction == Direction::ToServer {
                        s.pending
                            .back_mut()
                            .filter(|p| p.rec.frame == ev.frame && p.rec.reply_code.is_none())
                    } else {
                        s.staged.as_mut()
                    };
                    match attached {
                        Some(p) => {
                            p.rec.anomalies.push(name);
                            s.anomalies += 1;
                            self.count_anomaly(name);
                        }
                        None => self.session_anomaly(sid, name, detail, ev.frame, ev.ts),
                    }
                }
            }
        }
        self.flush_staged(sid);
    }

    /// The last completed command: emit it, or hand it to its transfer.
    fn flush_staged(&mut self, sid: u32) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let Some(p) = s.staged.take() else {
            return;
        };
        self.emit_command(sid, p);
    }

    fn emit_command(&mut self, sid: u32, mut p: PendingCmd) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        p.rec.user = s.user.clone();
        p.rec.password = s.password.clone();
        if let Some(key) = p.channel {
            if let Some(c) = s.channels.get_mut(&key) {
                if c.cmd_record.is_none() {
                    c.cmd_record = Some(p.rec);
                    self.try_emit(sid, key);
                    return;
                }
            }
        }
        self.emit(Record::Command(p.rec));
    }

    /// A data connection closed: finish its hashes and hand the result to its channel.
    fn data_closed(&mut self, flow: &mut Flow) {
        let id = flow.conn_id();
        let Role::Data { sid, ch, dirs } = &mut flow.role else {
            return;
        };
        let (sid, ch) = (*sid, *ch);
        // The direction that carried data (the other is empty in stream mode).
        let pick = match (&dirs[0], &dirs[1]) {
            (Some(a), Some(b)) => usize::from(b.bytes > a.bytes),
            (None, Some(_)) => 1,
            _ => 0,
        };
        let mut res = DataResult {
            syn_seen: flow.half[0].syn_seen || flow.half[1].syn_seen,
            fin_seen: flow.half[pick].fin_at.is_some(),
            gaps: flow.half[pick].gaps,
            gap_bytes: flow.half[pick].gap_bytes,
            id: Some(id),
            uid: flow.uid.clone(),
            first_ts: flow.first_ts,
            ..Default::default()
        };
        if let Some(d) = dirs[pick].take() {
            let d = *d;
            res.bytes = d.bytes;
            res.sha256 = d.hasher.map(|h| hex(&h.finalize()));
            res.mime = sniff_mime(&d.head);
            res.spool = d.spool;
        } else if self.opts.hash {
            res.sha256 = Some(hex(&Sha256::digest(b"")));
        }
        if res.gaps > 0 {
            let detail = format!(
                "{} bytes missing from data connection {} ({} gaps)",
                res.gap_bytes, flow.uid, res.gaps
            );
            self.session_anomaly(
                sid,
                anomaly::CAPTURE_GAP,
                detail,
                flow.last_frame,
                flow.last_ts,
            );
        }
        if let Some(c) = self
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.channels.get_mut(&ch))
        {
            c.flow_open = false;
            c.data = Some(res);
            self.try_emit(sid, ch);
        }
        if self.sessions.get(&sid).is_some_and(|s| s.closed) {
            self.end_session(sid, false);
        }
    }

    /// Emit a channel's records once its transfer is over and its data connection closed.
    fn try_emit(&mut self, sid: u32, key: u32) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let ready = s.channels.get(&key).is_some_and(|c| {
            c.ended && !c.flow_open && (c.transfer.is_none() || c.cmd_record.is_some() || s.closed)
        });
        if !ready {
            return;
        }
        let Some(mut c) = s.channels.remove(&key) else {
            return;
        };
        let t = c.transfer.take();
        let data = c.data.take();
        if let Some(rec) = c.cmd_record.as_mut() {
            if let Some(d) = &data {
                rec.mime_type = d.mime;
            }
            rec.file_size = t.as_ref().and_then(|t| t.size);
        }
        if let Some(rec) = c.cmd_record.take() {
            self.emit(Record::Command(rec));
        }
        let has_data = data.is_some();
        let complete_without_data = t
            .as_ref()
            .is_some_and(|t| t.outcome == Outcome::Complete && !t.command.is_empty());
        if !has_data && !complete_without_data {
            return;
        }
        let s = match self.sessions.get_mut(&sid) {
            Some(s) => s,
            None => return,
        };
        s.transfers += 1;
        self.stats.transfers += 1;
        let mut r = TransferRecord {
            ts: data.as_ref().map_or(0.0, |d| d.first_ts),
            uid: s.uid.clone(),
            id: Some(s.id),
            user: c.user.clone().or_else(|| s.user.clone()),
            mode: c.exp.as_ref().map(|e| e.mode.name()),
            channel_id: if key >= ORPHAN_BASE { 0 } else { key },
            late_bound: c.late_bound,
            outcome: "unknown",
            direction: "download",
            ..Default::default()
        };
        let mut reasons: Vec<&'static str> = Vec::new();
        if let Some(t) = &t {
            r.command = Some(t.command.clone());
            r.arg = Some(t.arg.clone());
            r.path = Some(t.path.clone());
            r.transfer_type = (!t.transfer_type.is_empty()).then(|| t.transfer_type.clone());
            r.offset = t.rest_offset;
            r.file_size = t.size;
            r.reply_code = t.reply_code.map(|c| c.0);
            r.outcome = t.outcome.name();
            r.encrypted = t.data_tls;
            r.command_frame = t.command_frame;
            // The core's command table knows which way each transfer command moves data.
            r.direction = match crate::parse::command::lookup_verb(t.command.as_bytes())
                .and_then(|i| i.transfer)
            {
                Some(TransferKind::Upload) => "upload",
                Some(TransferKind::Listing) => "listing",
                _ => "download",
            };
            if t.outcome != Outcome::Complete {
                reasons.push("not_confirmed");
            }
            if t.rest_offset > 0 {
                reasons.push("rest_offset");
            }
            if t.command == "APPE" {
                reasons.push("append");
            }
        } else {
            reasons.push("no_command");
        }
        if r.encrypted {
            reasons.push("encrypted");
        }
        let mut spool = None;
        match data {
            Some(d) => {
                r.bytes = d.bytes;
                r.sha256 = d.sha256;
                r.mime_type = d.mime;
                r.data = d.id;
                r.data_uid = Some(d.uid);
                r.gaps = d.gaps;
                r.gap_bytes = d.gap_bytes;
                if r.ts == 0.0 {
                    r.ts = d.first_ts;
                }
                if !d.syn_seen {
                    reasons.push("started_before_capture");
                }
                if !d.fin_seen {
                    reasons.push("no_fin");
                }
                if d.gaps > 0 {
                    reasons.push("gaps");
                }
                let binary = r
                    .transfer_type
                    .as_deref()
                    .is_some_and(|t| t.starts_with('I') || t.starts_with('L'));
                if let Some(size) = r.file_size {
                    if binary && d.bytes + r.offset < size && r.direction == "download" {
                        reasons.push("short");
                    }
                }
                spool = d.spool;
            }
            None => reasons.push("data_not_captured"),
        }
        r.complete = reasons.is_empty();
        r.partial_reasons = reasons;
        // Files go to disk; listings only on request; encrypted bytes never.
        let wanted = r.direction != "listing" || self.opts.extract_listings;
        if let (Some(x), Some(sp)) = (self.extractor.as_ref(), spool) {
            if wanted && !r.encrypted {
                let name = match r.path.as_deref() {
                    Some(p) if !p.is_empty() => p.to_string(),
                    _ => format!("{}-{}", r.uid, r.channel_id),
                };
                match x.finish(sp, &name, r.offset, !r.complete) {
                    Ok(p) => r.extracted = Some(p.to_string_lossy().into_owned()),
                    Err(e) => self.stats.io_errors.push(format!("extract {name}: {e}")),
                }
            }
        }
        self.emit(Record::Transfer(r));
    }

    /// A control connection ended (or the input did): flush everything it still holds.
    fn end_session(&mut self, sid: u32, input_ended: bool) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        if !s.closed {
            self.release_held(sid);
            let Some(s) = self.sessions.get_mut(&sid) else {
                return;
            };
            s.closed = true;
            let (frame, ts) = (0, s.last_ts);
            let events = s.session.finish(frame, ts).to_vec();
            self.events(sid, events);
            let Some(s) = self.sessions.get_mut(&sid) else {
                return;
            };
            let pending: Vec<PendingCmd> = s.pending.drain(..).collect();
            for p in pending {
                self.emit_command(sid, p);
            }
            let Some(s) = self.sessions.get_mut(&sid) else {
                return;
            };
            let keys: Vec<u32> = s.channels.keys().copied().collect();
            for k in keys {
                if let Some(c) = self
                    .sessions
                    .get_mut(&sid)
                    .and_then(|s| s.channels.get_mut(&k))
                {
                    c.ended = true;
                }
                self.try_emit(sid, k);
            }
        }
        let Some(s) = self.sessions.get(&sid) else {
            return;
        };
        let open = s.channels.values().any(|c| c.flow_open);
        if open && !input_ended {
            return; // the data connections still running will finish it
        }
        let Some(s) = self.sessions.remove(&sid) else {
            return;
        };
        self.emit(Record::Session(SessionRecord {
            ts: s.start_ts,
            end_ts: s.last_ts,
            uid: s.uid,
            id: Some(s.id),
            banner: s.banner,
            user: s.user,
            password: s.password,
            anonymous: s.anonymous,
            login: s.login,
            failed_logins: s.failed_logins,
            commands: s.commands,
            transfers: s.transfers,
            anomalies: s.anomalies,
            tls: s.tls,
            midstream: s.midstream,
        }));
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
