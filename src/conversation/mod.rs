//! The conversation layer: everything between one control connection's [`Session`] and a
//! presenter (the CLI's records, the C ABI for the Wireshark plugin and the Lua fallback).
//!
//! ```text
//! host (TCP reassembly)           Conversations                         host
//!   connect/open/payload/gap  ->  connections: role of each TCP connection, server side
//!   fin/close/finish              control -> Session::feed -> events -> exchanges
//!                                 predictions -> transfers <- data connections (late binding)
//!                                 per-frame storage                  -> frame(n)
//!                                 outputs: Exchange, Transfer, Session, Anomaly, Replay
//!                                 actions: ExpectConnection, StartTls
//! ```
//!
//! The host feeds each TCP connection's bytes in stream order per direction and drains outputs
//! ([`Conversations::take_outputs`]) and actions ([`Conversations::take_actions`]) after each call.
//! Pairing lives in the session and [`exchanges`], binding in [`transfers`] and this module's
//! `bind_*` functions, roles in [`connections`], per-frame storage in [`frames`], and the records
//! the CLI writes in [`records`].

pub mod actions;
pub mod connections;
pub mod exchanges;
pub mod frames;
#[cfg(feature = "cli")]
pub mod records;
pub mod transfers;

pub use actions::Action;
pub use connections::{ConnId, ConnRef, RoleKind};
pub use exchanges::{CommandLine, Exchange, LoginSummary, ReplyText, SessionSummary};
pub use frames::FrameView;
pub use transfers::{DataDirection, DataSeen, TransferDone};

use crate::predict::{ChannelTable, Expectation};
use crate::{Direction, Limits, Session};
use connections::{
    Candidate, Connection, DataCounts, Held, JUDGE_BYTES, Judgement, Role, decide_control, make_uid,
};
use exchanges::{Control, GREETING_HOLD, Open, Step, greeting_end};
use frames::FrameStore;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use transfers::{ORPHAN_BASE, Slot};

/// Anomaly names the layer adds to the session's ([`crate::Anomaly::name`]).
pub mod anomaly {
    /// Bytes missing from a TCP stream (lost by the capture).
    pub const CAPTURE_GAP: &str = "capture_gap";
    /// The reassembly buffer cap was hit; a gap was declared to stay within it.
    pub const REASSEMBLY_MEMCAP: &str = "reassembly_memcap";
    /// A control connection that began before the capture.
    pub const MIDSTREAM: &str = "midstream";
    /// A transfer's bytes went the other way than its command asks (RETR uploading, STOR
    /// downloading).
    pub const DIRECTION_MISMATCH: &str = "direction_mismatch";
}

/// Tunables of the layer, each with a default.
#[derive(Debug, Clone)]
pub struct Config {
    /// Ports whose connections are FTP control without further evidence.
    pub control_ports: Vec<u16>,
    /// Seconds a data connection may precede the prediction that claims it, and seconds a
    /// transfer the server called complete waits for a data connection not seen yet.
    pub late_window: f64,
    /// Bytes kept per pending connection for late binding.
    pub candidate_bytes: usize,
    /// Bytes kept across all pending connections.
    pub candidate_total: usize,
    /// Predictions across all sessions.
    pub max_predictions: usize,
    /// Per-session limits.
    pub limits: Limits,
    /// Mixed into uids so that several inputs do not share them.
    pub uid_salt: u64,
    /// Keep what to show for each frame ([`Conversations::frame`]).
    pub keep_frames: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            control_ports: vec![21],
            late_window: 10.0,
            candidate_bytes: 1 << 20,
            candidate_total: 64 << 20,
            max_predictions: 65_536,
            limits: Limits::default(),
            uid_salt: 0,
            keep_frames: false,
        }
    }
}

/// An anomaly no exchange carries.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    /// The connection it concerns, when there is one.
    pub uid: Option<String>,
    pub id: Option<ConnId>,
    pub name: &'static str,
    pub detail: String,
    /// The frame that showed it, when one did.
    pub frame: Option<u64>,
    pub ts: f64,
}

/// Bytes of a connection that waited as pending and was then claimed as a data connection: the
/// host treats them as if they had just arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub conn: ConnRef,
    pub from: SocketAddr,
    pub offset: u64,
    pub bytes: Vec<u8>,
    pub frame: u64,
    pub ts: f64,
}

/// What the layer reports, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A command and its replies, or an unmatched reply (not part of a transfer).
    Exchange(Exchange),
    /// A transfer, with its command's exchange.
    Transfer(Box<TransferDone>),
    /// A control connection ended.
    Session(SessionSummary),
    Anomaly(Note),
    Replay(Replay),
}

/// Counters for the run.
#[derive(Debug, Default, Clone)]
pub struct LayerStats {
    pub control_sessions: u64,
    pub data_connections: u64,
    pub late_bound: u64,
    pub transfers: u64,
    pub anomalies: BTreeMap<&'static str, u64>,
}

/// The connection `c` names, borrowing only the table (so other fields stay usable).
fn conn_mut(conns: &mut [Entry], c: ConnRef) -> Option<&mut Connection> {
    conns
        .get_mut(c.index as usize)
        .filter(|e| e.generation == c.generation)?
        .conn
        .as_mut()
}

#[derive(Debug)]
struct Entry {
    generation: u32,
    conn: Option<Connection>,
}

/// Every connection of a capture (or of a dissection), and the FTP conversations over them.
#[derive(Debug)]
pub struct Conversations {
    cfg: Config,
    conns: Vec<Entry>,
    free: Vec<u32>,
    /// Connections that may still be claimed late (pending).
    pending: Vec<ConnRef>,
    pending_total: usize,
    next_uid: u64,
    sessions: HashMap<u32, Control>,
    next_sid: u32,
    table: ChannelTable<(u32, u32)>,
    new_expectations: Vec<(u32, Expectation)>,
    outputs: Vec<Output>,
    actions: Vec<Action>,
    frames: FrameStore,
    stats: LayerStats,
}

impl Conversations {
    pub fn new(cfg: Config) -> Self {
        let table = ChannelTable::new(cfg.max_predictions, cfg.limits.expectation_timeout);
        Conversations {
            cfg,
            conns: Vec::new(),
            free: Vec::new(),
            pending: Vec::new(),
            pending_total: 0,
            next_uid: 0,
            sessions: HashMap::new(),
            next_sid: 1,
            table,
            new_expectations: Vec::new(),
            outputs: Vec::new(),
            actions: Vec::new(),
            frames: FrameStore::default(),
            stats: LayerStats::default(),
        }
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    pub fn stats(&self) -> &LayerStats {
        &self.stats
    }

    /// Move the outputs made so far to the end of `into`.
    pub fn take_outputs(&mut self, into: &mut Vec<Output>) {
        if into.is_empty() {
            std::mem::swap(into, &mut self.outputs);
        } else {
            into.append(&mut self.outputs);
        }
    }

    /// The actions made so far.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// What frame `frame` shows (only with [`Config::keep_frames`]).
    pub fn frame(&self, frame: u64) -> Option<&FrameView> {
        self.frames.get(frame)
    }

    fn get(&self, c: ConnRef) -> Option<&Connection> {
        self.conns
            .get(c.index as usize)
            .filter(|e| e.generation == c.generation)?
            .conn
            .as_ref()
    }

    fn get_mut(&mut self, c: ConnRef) -> Option<&mut Connection> {
        conn_mut(&mut self.conns, c)
    }

    fn forget(&mut self, c: ConnRef) {
        if let Some(e) = self
            .conns
            .get_mut(c.index as usize)
            .filter(|e| e.generation == c.generation)
        {
            e.conn = None;
            e.generation = e.generation.wrapping_add(1);
            self.free.push(c.index);
        }
    }

    /// The role of a connection (`Other` for one the layer no longer knows).
    pub fn role(&self, c: ConnRef) -> RoleKind {
        self.get(c).map_or(RoleKind::Other, |x| x.role.kind())
    }

    /// A connection's uid and endpoints.
    pub fn conn_id(&self, c: ConnRef) -> Option<(&str, ConnId)> {
        self.get(c).map(|x| (x.uid.as_str(), x.conn_id()))
    }

    // ------------------------------------------------------------------------------ inputs

    /// A new TCP connection: `first` sent its first packet seen, `other` is the peer, `initiator`
    /// the sender of the SYN when that packet was one (a SYN-ACK names the other side). A
    /// prediction claims it at once; else it is pending until its bytes are judged.
    pub fn connect(
        &mut self,
        first: SocketAddr,
        other: SocketAddr,
        initiator: Option<SocketAddr>,
        frame: u64,
        ts: f64,
    ) -> ConnRef {
        self.next_uid += 1;
        let uid = make_uid(self.cfg.uid_salt, self.next_uid, first, other, ts);
        let sides = [first, other];
        let init = initiator.map(|i| usize::from(i != first));
        let (from, to) = match init {
            Some(i) => (sides[i], sides[1 - i]),
            None => (first, other),
        };
        let role = match self.take_prediction(from, to) {
            Some((sid, ch)) => {
                self.bind_slot(sid, ch, false);
                Role::Data {
                    sid,
                    channel: ch,
                    counts: DataCounts::default(),
                }
            }
            None => Role::Pending(Box::default()),
        };
        let pending = matches!(role, Role::Pending(_));
        let conn = Connection {
            sides,
            initiator: init,
            fin: [false; 2],
            first_ts: ts,
            last_ts: ts,
            last_frame: frame,
            closed: false,
            uid,
            role,
        };
        let r = match self.free.pop() {
            Some(i) => {
                let e = &mut self.conns[i as usize];
                e.conn = Some(conn);
                ConnRef {
                    index: i,
                    generation: e.generation,
                }
            }
            None => {
                self.conns.push(Entry {
                    generation: 0,
                    conn: Some(conn),
                });
                ConnRef {
                    index: (self.conns.len() - 1) as u32,
                    generation: 0,
                }
            }
        };
        if let Some(Role::Data { sid, channel, .. }) = self.get(r).map(|c| &c.role) {
            let (sid, ch) = (*sid, *channel);
            self.fill_data(sid, ch, r);
        }
        if pending {
            self.pending.push(r);
        }
        r
    }

    /// A SYN from `initiator` was seen on a known connection.
    pub fn open(&mut self, c: ConnRef, initiator: SocketAddr) {
        if let Some(x) = self.get_mut(c) {
            if x.initiator.is_none() {
                x.initiator = Some(x.side_of(initiator));
            }
        }
    }

    /// In-order bytes `from` one side, at stream offset `offset`. Returns the connection's role.
    pub fn payload(
        &mut self,
        c: ConnRef,
        from: SocketAddr,
        offset: u64,
        bytes: &[u8],
        frame: u64,
        ts: f64,
    ) -> RoleKind {
        let Some(x) = self.get_mut(c) else {
            return RoleKind::Other;
        };
        x.last_ts = ts;
        x.last_frame = frame;
        let side = x.side_of(from);
        let kind = self.deliver(c, side, offset, bytes, frame, ts);
        if !self.new_expectations.is_empty() {
            self.bind_late();
        }
        kind
    }

    /// `len` bytes from one side are missing at `offset` (the capture lost them).
    pub fn gap(
        &mut self,
        c: ConnRef,
        from: SocketAddr,
        offset: u64,
        len: u64,
        frame: u64,
        ts: f64,
    ) {
        let Some(x) = self.get_mut(c) else {
            return;
        };
        let side = x.side_of(from);
        self.deliver_gap(c, side, offset, len, frame, ts);
    }

    /// A FIN from `from` was seen.
    pub fn fin(&mut self, c: ConnRef, from: SocketAddr) {
        if let Some(x) = self.get_mut(c) {
            let side = x.side_of(from);
            x.fin[side] = true;
        }
    }

    /// An anomaly the host found on a connection (reassembly caps, for example).
    pub fn note(&mut self, c: ConnRef, name: &'static str, detail: String, frame: u64, ts: f64) {
        let Some(x) = self.get(c) else {
            return;
        };
        match x.role {
            Role::Control { sid, .. } => self.session_note(sid, name, detail, Some(frame), ts),
            _ => {
                let (uid, id) = (x.uid.clone(), x.conn_id());
                self.count(name);
                self.outputs.push(Output::Anomaly(Note {
                    uid: Some(uid),
                    id: Some(id),
                    name,
                    detail,
                    frame: Some(frame),
                    ts,
                }));
            }
        }
    }

    /// The connection ended (FIN both ways, RST, idle timeout, end of input). A pending connection
    /// is still kept for the late-binding window.
    pub fn close(&mut self, c: ConnRef) {
        let Some(x) = self.get_mut(c) else {
            return;
        };
        if x.closed {
            return;
        }
        x.closed = true;
        if matches!(x.role, Role::Pending(_)) {
            self.judge(c, true);
        }
        let Some(x) = self.get(c) else {
            return;
        };
        match x.role {
            Role::Control { sid, .. } => {
                self.end_session(sid, false);
                self.forget(c);
            }
            Role::Data { .. } => {
                self.data_closed(c);
                self.forget(c);
            }
            Role::Pending(_) => {}
            Role::Other => self.forget(c),
        }
        if !self.new_expectations.is_empty() {
            self.bind_late();
        }
    }

    /// Capture time moved on to `now`: pending connections past the late-binding window stop
    /// waiting, predictions expire, and completed transfers stop waiting for their data.
    pub fn advance(&mut self, now: f64) {
        let window = self.cfg.late_window;
        let mut keep = Vec::with_capacity(self.pending.len());
        for r in std::mem::take(&mut self.pending) {
            let Some(x) = self.get_mut(r) else {
                continue;
            };
            let Role::Pending(cand) = &x.role else {
                continue;
            };
            if now - x.first_ts <= window {
                keep.push(r);
                continue;
            }
            let held = cand.bytes;
            let closed = x.closed;
            x.role = Role::Other;
            self.pending_total -= held;
            if closed {
                self.forget(r);
            }
        }
        self.pending = keep;
        self.table.expire(now);
        let waiting: Vec<(u32, u32)> = self
            .sessions
            .iter()
            .flat_map(|(sid, s)| {
                s.slots
                    .iter()
                    .filter(|(_, slot)| slot.ended && !slot.bound)
                    .map(move |(k, _)| (*sid, *k))
            })
            .collect();
        for (sid, k) in waiting {
            self.try_report(sid, k, now);
        }
    }

    /// The input ended: close every connection and session, and report what is left. Data
    /// connections close before control connections, so that their transfers are complete.
    pub fn finish(&mut self) {
        let mut open: Vec<ConnRef> = self
            .conns
            .iter()
            .enumerate()
            .filter_map(|(i, e)| {
                let c = e.conn.as_ref()?;
                (!c.closed).then_some(ConnRef {
                    index: i as u32,
                    generation: e.generation,
                })
            })
            .collect();
        open.sort_by_key(|&r| self.role(r) == RoleKind::Control);
        for r in open {
            self.close(r);
        }
        if !self.new_expectations.is_empty() {
            self.bind_late();
        }
        let mut sids: Vec<u32> = self.sessions.keys().copied().collect();
        sids.sort_unstable();
        for sid in sids {
            self.end_session(sid, true);
        }
    }

    // ------------------------------------------------------------------------------ delivery

    fn count(&mut self, name: &'static str) {
        *self.stats.anomalies.entry(name).or_default() += 1;
    }

    fn deliver(
        &mut self,
        c: ConnRef,
        side: usize,
        offset: u64,
        bytes: &[u8],
        frame: u64,
        ts: f64,
    ) -> RoleKind {
        let candidate_bytes = self.cfg.candidate_bytes;
        let candidate_total = self.cfg.candidate_total;
        let keep_frames = self.cfg.keep_frames;
        let Some(x) = conn_mut(&mut self.conns, c) else {
            return RoleKind::Other;
        };
        match &mut x.role {
            Role::Other => RoleKind::Other,
            Role::Data {
                counts, channel, ..
            } => {
                counts.bytes[side] += bytes.len() as u64;
                let ch = *channel;
                if keep_frames {
                    self.frames.mark_data(frame, ch);
                }
                RoleKind::Data
            }
            Role::Control { sid, client } => {
                let sid = *sid;
                let dir = if side == *client {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                };
                self.feed_ordered(sid, dir, bytes, frame, ts);
                RoleKind::Control
            }
            Role::Pending(cand) => {
                let cand = cand.as_mut();
                if cand.first[side].len() < JUDGE_BYTES {
                    let n = (JUDGE_BYTES - cand.first[side].len()).min(bytes.len());
                    cand.first[side].extend_from_slice(&bytes[..n]);
                }
                if !cand.overflow {
                    if cand.bytes + bytes.len() > candidate_bytes
                        || self.pending_total + bytes.len() > candidate_total
                    {
                        cand.overflow = true;
                        self.pending_total -= cand.bytes;
                        cand.bytes = 0;
                        cand.held = Vec::new();
                        if cand.judged {
                            // Not control, and too big to be claimed late: stop looking at it.
                            x.role = Role::Other;
                            return RoleKind::Other;
                        }
                    } else {
                        cand.bytes += bytes.len();
                        self.pending_total += bytes.len();
                        cand.held.push(Held::Data {
                            side,
                            offset,
                            bytes: bytes.to_vec(),
                            frame,
                            ts,
                        });
                    }
                }
                if !cand.judged {
                    self.judge(c, false);
                }
                self.role(c)
            }
        }
    }

    fn deliver_gap(&mut self, c: ConnRef, side: usize, offset: u64, len: u64, frame: u64, ts: f64) {
        let Some(x) = self.get_mut(c) else {
            return;
        };
        match &mut x.role {
            Role::Other => {}
            Role::Data { counts, .. } => {
                counts.gaps[side] += 1;
                counts.gap_bytes[side] += len;
            }
            Role::Pending(cand) => {
                if !cand.overflow {
                    cand.held.push(Held::Gap {
                        side,
                        offset,
                        len,
                        frame,
                        ts,
                    });
                }
            }
            Role::Control { sid, client } => {
                let sid = *sid;
                let dir = if side == *client {
                    Direction::ToServer
                } else {
                    Direction::ToClient
                };
                self.release_held(sid);
                let Some(s) = self.sessions.get_mut(&sid) else {
                    return;
                };
                // The partial line before the hole must not join the bytes after it.
                s.session.gap(dir);
                let ts = if ts > 0.0 { ts } else { s.last_ts };
                let who = if dir == Direction::ToServer {
                    "client"
                } else {
                    "server"
                };
                let frame = (frame > 0).then_some(frame);
                self.session_note(
                    sid,
                    anomaly::CAPTURE_GAP,
                    format!("{len} bytes missing from the {who}'s stream at offset {offset}"),
                    frame,
                    ts,
                );
            }
        }
    }

    /// Judge a pending connection: a control connection gets a session and its held bytes.
    fn judge(&mut self, c: ConnRef, last: bool) {
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
        let port_server = (0..2).find(|&i| ports.contains(&x.sides[i].port()));
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
                self.replay_held(c, cand);
            }
        }
    }

    fn replay_held(&mut self, c: ConnRef, cand: Box<Candidate>) {
        let data = self.role(c) == RoleKind::Data;
        let Some(sides) = self.get(c).map(|x| x.sides) else {
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

    // ------------------------------------------------------------------------------ sessions

    fn new_session(&mut self, c: ConnRef, client: usize) -> u32 {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.stats.control_sessions += 1;
        let Some(x) = self.get(c) else {
            return sid;
        };
        let id = ConnId {
            orig: x.sides[client],
            resp: x.sides[1 - client],
        };
        let midstream = x.initiator.is_none();
        let s = Control {
            conn: c,
            session: Session::new(Some(id.orig), Some(id.resp), self.cfg.limits),
            uid: x.uid.clone(),
            id,
            start_ts: x.first_ts,
            last_ts: x.first_ts,
            last_frame: x.last_frame,
            midstream,
            banner: None,
            user: None,
            password: None,
            anonymous: false,
            login: LoginSummary::None,
            failed_logins: 0,
            tls: None,
            pending: Default::default(),
            staged: None,
            before_greeting: (!midstream).then(Vec::new),
            user_seen: false,
            slots: HashMap::new(),
            next_orphan: ORPHAN_BASE,
            commands: 0,
            transfers: 0,
            anomalies: 0,
            closed: false,
        };
        let ts = x.first_ts;
        self.sessions.insert(sid, s);
        if midstream {
            self.session_note(
                sid,
                anomaly::MIDSTREAM,
                "the control connection began before the capture".into(),
                None,
                ts,
            );
        }
        sid
    }

    /// An anomaly of a session that no exchange carries.
    fn session_note(
        &mut self,
        sid: u32,
        name: &'static str,
        detail: String,
        frame: Option<u64>,
        ts: f64,
    ) {
        self.count(name);
        let (uid, id) = match self.sessions.get_mut(&sid) {
            Some(s) => {
                s.anomalies += 1;
                (Some(s.uid.clone()), Some(s.id))
            }
            None => (None, None),
        };
        self.outputs.push(Output::Anomaly(Note {
            uid,
            id,
            name,
            detail,
            frame,
            ts,
        }));
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
        match greeting_end(bytes) {
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
        s.last_frame = frame;
        let events = s.session.feed(dir, bytes, frame, ts).to_vec();
        if self.cfg.keep_frames {
            self.frames.add(
                frame,
                crate::present::items(&events),
                crate::present::summary(&events),
            );
        }
        self.events(sid, events);
    }

    fn events(&mut self, sid: u32, events: Vec<crate::Event>) {
        let mut steps = Vec::new();
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        for ev in events {
            let frame = ev.frame;
            s.on_event(ev, &mut steps);
            if steps.iter().any(|s| matches!(s, Step::Tls)) {
                let conn = s.conn;
                self.actions.push(Action::StartTls { conn, frame });
                steps.retain(|s| !matches!(s, Step::Tls));
            }
        }
        s.end_batch(&mut steps);
        self.run_steps(sid, steps);
    }

    fn run_steps(&mut self, sid: u32, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::Finished(open) => self.exchange_done(sid, open),
                Step::Expect(e) => {
                    if let Some(s) = self.sessions.get(&sid) {
                        self.actions.push(Action::ExpectConnection {
                            control: s.conn,
                            channel: e.channel_id,
                            listener: e.listener,
                            alt_listener: e.alt_listener,
                            port: e.port,
                            connector: e.connector,
                            frame: e.setup_frame,
                            expectation: e.clone(),
                        });
                    }
                    self.new_expectations.push((sid, e));
                }
                Step::SlotChanged(k) => {
                    let now = self.sessions.get(&sid).map_or(0.0, |s| s.last_ts);
                    self.try_report(sid, k, now);
                }
                Step::Anomaly(name, detail) => {
                    let ts = self.sessions.get(&sid).map_or(0.0, |s| s.last_ts);
                    let frame = self.sessions.get(&sid).map(|s| s.last_frame);
                    self.session_note(sid, name, detail, frame.filter(|&f| f > 0), ts);
                }
                Step::Counted(name) => self.count(name),
                Step::Tls => {}
            }
        }
    }

    /// An exchange is over: report it, or hand it to its transfer.
    fn exchange_done(&mut self, sid: u32, mut p: Open) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        p.ex.user = s.user.clone();
        p.ex.password = s.password.clone();
        if let Some(key) = p.channel {
            if let Some(slot) = s.slots.get_mut(&key) {
                if slot.exchange.is_none() {
                    slot.exchange = Some(p.ex);
                    let now = s.last_ts;
                    self.try_report(sid, key, now);
                    return;
                }
            }
        }
        self.outputs.push(Output::Exchange(p.ex));
    }

    /// A control connection ended (or the input did): report everything it still holds.
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
            let (frame, ts) = (s.last_frame, s.last_ts);
            let events = s.session.finish(frame, ts).to_vec();
            self.events(sid, events);
            let Some(s) = self.sessions.get_mut(&sid) else {
                return;
            };
            let pending: Vec<Open> = s.pending.drain(..).collect();
            for p in pending {
                self.exchange_done(sid, p);
            }
            let Some(s) = self.sessions.get_mut(&sid) else {
                return;
            };
            let keys: Vec<u32> = s.slots.keys().copied().collect();
            for k in keys {
                if let Some(slot) = self
                    .sessions
                    .get_mut(&sid)
                    .and_then(|s| s.slots.get_mut(&k))
                {
                    slot.ended = true;
                }
                self.try_report(sid, k, ts);
            }
        }
        let Some(s) = self.sessions.get(&sid) else {
            return;
        };
        let open = s.slots.values().any(|c| c.data_open);
        if open && !input_ended {
            return; // the data connections still running will finish it
        }
        let Some(s) = self.sessions.remove(&sid) else {
            return;
        };
        self.outputs.push(Output::Session(s.summary()));
    }

    // ------------------------------------------------------------------------------ binding

    /// A valid, still-open prediction for a new connection `from -> to`.
    fn take_prediction(&mut self, from: SocketAddr, to: SocketAddr) -> Option<(u32, u32)> {
        while let Some(((sid, ch), _)) = self.table.take(from, to) {
            let live = self
                .sessions
                .get(&sid)
                .and_then(|s| s.slots.get(&ch))
                .is_some_and(Slot::claimable);
            if live {
                return Some((sid, ch));
            }
        }
        None
    }

    fn bind_slot(&mut self, sid: u32, ch: u32, late: bool) {
        self.stats.data_connections += 1;
        if late {
            self.stats.late_bound += 1;
        }
        if let Some(slot) = self
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.slots.get_mut(&ch))
        {
            slot.bound = true;
            slot.data_open = true;
            slot.late_bound = late;
        }
    }

    /// Start the slot's record of the data connection `c`.
    fn fill_data(&mut self, sid: u32, ch: u32, c: ConnRef) {
        let Some(x) = self.get(c) else {
            return;
        };
        let (sides, uid, first_ts) = (x.sides, x.uid.clone(), x.first_ts);
        let id = x.conn_id();
        let Some(slot) = self
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.slots.get_mut(&ch))
        else {
            return;
        };
        let server = transfers::server_side(slot.exp.as_ref(), sides).map(|i| sides[i]);
        slot.data = Some(DataSeen {
            conn: c,
            id,
            uid,
            first_ts,
            sender: None,
            server,
            bytes: 0,
            gaps: 0,
            gap_bytes: 0,
            syn_seen: false,
            fin_seen: false,
        });
    }

    /// New predictions may claim connections already seen (late binding); the rest wait in the
    /// capture-wide table.
    fn bind_late(&mut self) {
        let exps = std::mem::take(&mut self.new_expectations);
        for (sid, exp) in exps {
            let claimed = self.pending.iter().enumerate().rev().find_map(|(pos, &r)| {
                let x = self.get(r)?;
                let Role::Pending(cand) = &x.role else {
                    return None;
                };
                if cand.overflow || x.first_ts < exp.created - self.cfg.late_window {
                    return None;
                }
                let ok = match x.initiator {
                    Some(o) => exp.matches_connection(x.sides[o], x.sides[1 - o]),
                    None => exp.matches_either(x.sides[0], x.sides[1]),
                };
                ok.then_some((pos, r))
            });
            let Some((pos, r)) = claimed else {
                if !self
                    .table
                    .insert((sid, exp.channel_id), exp.clone(), exp.created)
                {
                    self.session_note(
                        sid,
                        crate::Anomaly::ExpectationsFull.name(),
                        "capture-wide table of data-channel predictions is full".into(),
                        Some(exp.setup_frame),
                        exp.created,
                    );
                }
                continue;
            };
            self.pending.remove(pos);
            let ch = exp.channel_id;
            let Some(x) = self.get_mut(r) else {
                continue;
            };
            let Role::Pending(cand) = std::mem::replace(
                &mut x.role,
                Role::Data {
                    sid,
                    channel: ch,
                    counts: DataCounts::default(),
                },
            ) else {
                continue;
            };
            let closed = x.closed;
            self.pending_total -= cand.bytes;
            self.bind_slot(sid, ch, true);
            self.fill_data(sid, ch, r);
            self.replay_held(r, cand);
            if closed {
                self.data_closed(r);
                self.forget(r);
            }
        }
    }

    /// A data connection closed: hand what it carried to its slot.
    fn data_closed(&mut self, c: ConnRef) {
        let Some(x) = self.get(c) else {
            return;
        };
        let Role::Data {
            sid,
            channel,
            counts,
        } = &x.role
        else {
            return;
        };
        let (sid, ch) = (*sid, *channel);
        // The side that carried data (the other is empty in stream mode).
        let pick = usize::from(counts.bytes[1] > counts.bytes[0]);
        let any = counts.bytes[0] + counts.bytes[1] > 0;
        let (bytes, gaps, gap_bytes) = (
            counts.bytes[pick],
            counts.gaps[pick],
            counts.gap_bytes[pick],
        );
        let sender = any.then_some(x.sides[pick]);
        let syn_seen = x.initiator.is_some();
        let fin_seen = x.fin[pick];
        let (uid, last_frame, last_ts) = (x.uid.clone(), x.last_frame, x.last_ts);
        if gaps > 0 {
            self.session_note(
                sid,
                anomaly::CAPTURE_GAP,
                format!("{gap_bytes} bytes missing from data connection {uid} ({gaps} gaps)"),
                Some(last_frame),
                last_ts,
            );
        }
        if let Some(slot) = self
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.slots.get_mut(&ch))
        {
            slot.data_open = false;
            if let Some(d) = slot.data.as_mut() {
                d.sender = sender;
                d.bytes = bytes;
                d.gaps = gaps;
                d.gap_bytes = gap_bytes;
                d.syn_seen = syn_seen;
                d.fin_seen = fin_seen;
            }
            self.try_report(sid, ch, last_ts);
        }
        if self.sessions.get(&sid).is_some_and(|s| s.closed) {
            self.end_session(sid, false);
        }
    }

    /// Report a slot's transfer once it is ready.
    fn try_report(&mut self, sid: u32, key: u32, now: f64) {
        let window = self.cfg.late_window;
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let closed = s.closed;
        if !s
            .slots
            .get(&key)
            .is_some_and(|c| c.ready(closed, now, window))
        {
            return;
        }
        let Some(mut slot) = s.slots.remove(&key) else {
            return;
        };
        let t = slot.transfer.take();
        let mut ex = slot.exchange.take();
        if let Some(ex) = ex.as_mut() {
            ex.file_size = t.as_ref().and_then(|t| t.size);
        }
        if !slot.reportable() {
            if let Some(ex) = ex {
                self.outputs.push(Output::Exchange(ex));
            }
            return;
        }
        s.transfers += 1;
        self.stats.transfers += 1;
        let (direction, mismatch, complete, partial_reasons) =
            transfers::judge(t.as_ref(), slot.data.as_ref());
        let done = TransferDone {
            uid: s.uid.clone(),
            id: s.id,
            user: slot.user.clone().or_else(|| s.user.clone()),
            mode: slot.exp.as_ref().map(|e| e.mode),
            channel: (key < ORPHAN_BASE).then_some(key),
            late_bound: slot.late_bound,
            transfer: t,
            exchange: ex,
            data: slot.data.take(),
            direction,
            complete,
            partial_reasons,
        };
        if let Some(detail) = mismatch {
            let frame = done.exchange.as_ref().map(|e| e.frame);
            self.session_note(sid, anomaly::DIRECTION_MISMATCH, detail, frame, now);
        }
        self.outputs.push(Output::Transfer(Box::new(done)));
    }
}

#[cfg(test)]
mod tests;
