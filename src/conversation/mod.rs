//! The conversation layer: everything between one control connection's [`Session`](crate::Session) and a
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
//! Pairing lives in the session and [`exchanges`], binding in [`transfers`]
//! (its `bind_*` functions), roles in [`connections`], per-frame storage in [`frames`], and the records
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
pub use frames::EventBatch;
pub use transfers::{DataDirection, DataSeen, TransferDone};

use crate::predict::{ChannelTable, Expectation};
use crate::{Direction, Limits};
use connections::{Connection, Held, JUDGE_BYTES, PackedEnds, Role, make_uid};
use exchanges::Control;
use frames::BatchQueue;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

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
    /// PROT P was agreed in the clear, yet a data connection began in the clear (the CLI finds
    /// it from the data connection's first bytes).
    pub const CLEARTEXT_AFTER_PROT_P: &str = "cleartext_after_prot_p";
    /// A listing hit a cap of its parser (too many entries, or a line too long to parse): the
    /// transfer's `listing` lacks those entries (the CLI finds it while parsing the data).
    pub const LISTING_CAP: &str = "listing_cap";
    /// The dissector tracks as many connections as it may ([`crate::dissect::MAX_STREAMS`]):
    /// new ones are not dissected (said once, on the next control frame shown).
    pub const STREAM_CAP: &str = "stream_cap";

    /// Every anomaly a user can meet, the session's ([`crate::Anomaly::ALL`]) then the layer's
    /// ([`ALL`]), each with when it is raised: what help texts and docs list.
    pub fn every() -> impl Iterator<Item = (&'static str, &'static str)> {
        crate::Anomaly::ALL
            .iter()
            .map(|a| (a.name(), a.description()))
            .chain(ALL.iter().copied())
    }

    /// The layer's anomalies with when each is raised (the session's are [`crate::Anomaly::ALL`]).
    pub const ALL: &[(&str, &str)] = &[
        (
            CAPTURE_GAP,
            "bytes of a control or data connection are missing from the capture",
        ),
        (
            REASSEMBLY_MEMCAP,
            "the CLI's out-of-order buffer cap forced a gap",
        ),
        (
            MIDSTREAM,
            "a control connection began before the capture (no SYN)",
        ),
        (
            CLEARTEXT_AFTER_PROT_P,
            "PROT P was agreed in the clear, yet a data connection began without a TLS handshake",
        ),
        (
            LISTING_CAP,
            "a directory listing had more entries, or longer lines, than the listing parser keeps",
        ),
        (
            STREAM_CAP,
            "the dissector tracks as many connections as it may: new ones are not dissected",
        ),
        (
            DIRECTION_MISMATCH,
            "a transfer's bytes went the other way than its command asks (RETR uploading, STOR downloading); the transfer's direction is as seen",
        ),
    ];
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
    /// Keep the control connections' events for a host that shows them per frame
    /// ([`Conversations::take_batches`]).
    pub keep_events: bool,
    /// The host never reports TCP handshakes or FINs (see `dissect::DissectConfig::payload_only`):
    /// their absence does not make a transfer partial.
    pub handshakes_unseen: bool,
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
            keep_events: false,
            handshakes_unseen: false,
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
    /// The anomaly is a session event no exchange carries, restated here for hosts that read
    /// outputs only: a host that reads the event batches ([`Config::keep_events`]) has it already.
    pub restated: bool,
}

/// Bytes of a connection that waited as pending and was then claimed as a data connection: the
/// host treats them as if they had just arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    pub conn: ConnRef,
    pub from: SocketAddr,
    /// The peer of `from`.
    pub to: SocketAddr,
    pub offset: u64,
    pub bytes: Vec<u8>,
    pub frame: u64,
    pub ts: f64,
}

/// A data connection as the layer knows it now ([`Conversations::data_channel`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataChannelView<'a> {
    pub control: ConnRef,
    pub channel: u32,
    pub expectation: Option<&'a Expectation>,
    /// The transfer command bound to it (path, REST, TYPE...), once seen.
    pub transfer: Option<&'a crate::Transfer>,
}

/// What the layer reports, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A command and its replies, or an unmatched reply (not part of a transfer).
    Exchange(Box<Exchange>),
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

/// Which way bytes from `side` go on a control connection whose client is `client`.
fn direction(side: usize, client: usize) -> Direction {
    if side == client {
        Direction::ToServer
    } else {
        Direction::ToClient
    }
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
    /// `cfg.limits`, shared by every session.
    limits: std::sync::Arc<Limits>,
    conns: Vec<Entry>,
    free: Vec<u32>,
    /// Connections that may still be claimed late (pending).
    pending: Vec<ConnRef>,
    pending_total: usize,
    next_uid: u64,
    /// Boxed: a `Control` is over a kilobyte, and the map keeps spare slots.
    sessions: HashMap<u32, Box<Control>>,
    next_sid: u32,
    table: ChannelTable<(u32, u32)>,
    new_expectations: Vec<(u32, Expectation)>,
    outputs: Vec<Output>,
    actions: Vec<Action>,
    batches: BatchQueue,
    stats: LayerStats,
}

impl Conversations {
    pub fn new(cfg: Config) -> Self {
        let table = ChannelTable::new(cfg.max_predictions, cfg.limits.expectation_timeout);
        Conversations {
            limits: std::sync::Arc::new(cfg.limits),
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
            batches: BatchQueue::default(),
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

    /// The control connections' event batches made so far (only with [`Config::keep_events`]).
    pub fn take_batches(&mut self) -> Vec<EventBatch> {
        self.batches.take()
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

    /// What a data connection carries, as far as it is known now: its control connection, its
    /// channel, the prediction that announced it and the transfer bound to it (once its command
    /// was seen). `None` for a connection that is not (or no longer) a data connection.
    pub fn data_channel(&self, c: ConnRef) -> Option<DataChannelView<'_>> {
        let Role::Data { sid, channel, .. } = &self.get(c)?.role else {
            return None;
        };
        let s = self.sessions.get(sid)?;
        let slot = s.slots.get(channel)?;
        Some(DataChannelView {
            control: s.conn,
            channel: *channel,
            expectation: slot.exp.as_ref(),
            transfer: slot.transfer.as_ref(),
        })
    }

    /// Whether a pending connection was judged not to be control (it waits only for a late
    /// prediction). False for other roles.
    pub fn judged_not_control(&self, c: ConnRef) -> bool {
        matches!(self.get(c).map(|x| &x.role), Some(Role::Pending(cand)) if cand.judged)
    }

    /// The client side of a control connection.
    pub fn control_client(&self, c: ConnRef) -> Option<SocketAddr> {
        let x = self.get(c)?;
        match x.role {
            Role::Control { client, .. } => Some(x.sides()[client]),
            _ => None,
        }
    }

    /// The host says a pending connection is FTP control (it reached a port registered for it),
    /// with `server` as the serving side unless its lines say otherwise (a capture without the
    /// SYN). Nothing changes for a connection that already has a role.
    pub fn expect_control(&mut self, c: ConnRef, server: SocketAddr) {
        let Some(x) = self.get_mut(c) else {
            return;
        };
        let side = x.side_of(server);
        let Role::Pending(cand) = &mut x.role else {
            return;
        };
        cand.server_hint = Some(side);
        cand.judged = false;
        self.judge(c, false);
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
        let initiator_side = init.map(|i| i as u8);
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
                    counts: Box::default(),
                }
            }
            None => Role::Pending(Box::default()),
        };
        let pending = matches!(role, Role::Pending(_));
        let conn = Connection {
            ends: PackedEnds::new(sides),
            initiator: initiator_side,
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

    /// Whether a new connection `from -> to` matches an open data-channel prediction (nothing is
    /// claimed). For hosts that create a connection only at its first byte: a predicted one must
    /// be created at its SYN, or an empty data connection would miss the transfer it belongs to.
    pub fn predicts(&self, from: SocketAddr, to: SocketAddr) -> bool {
        self.table.predicts(from, to)
    }

    /// A SYN from `initiator` was seen on a known connection.
    pub fn open(&mut self, c: ConnRef, initiator: SocketAddr) {
        if let Some(x) = self.get_mut(c) {
            if x.initiator.is_none() {
                x.initiator = Some(x.side_of(initiator) as u8);
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
                let (uid, id) = (x.uid.to_string(), x.conn_id());
                self.count(name);
                self.outputs.push(Output::Anomaly(Note {
                    uid: Some(uid),
                    id: Some(id),
                    name,
                    detail,
                    frame: Some(frame),
                    ts,
                    restated: false,
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
        let mut waiting: Vec<(u32, u32)> = self
            .sessions
            .iter()
            .flat_map(|(sid, s)| {
                s.slots
                    .iter()
                    .filter(|(_, slot)| slot.ended && !slot.bound)
                    .map(move |(k, _)| (*sid, *k))
            })
            .collect();
        // In the order the sessions and their channels began (the tables are hash maps).
        waiting.sort_unstable();
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
        let Some(x) = conn_mut(&mut self.conns, c) else {
            return RoleKind::Other;
        };
        match &mut x.role {
            Role::Other => RoleKind::Other,
            Role::Data { counts, .. } => {
                counts.bytes[side] += bytes.len() as u64;
                RoleKind::Data
            }
            Role::Control { sid, client } => {
                let sid = *sid;
                let dir = direction(side, *client);
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
                let dir = direction(side, *client);
                self.release_held(sid);
                let Some(s) = self.sessions.get_mut(&sid) else {
                    return;
                };
                let ts = if ts > 0.0 { ts } else { s.facts.end_ts };
                // The partial line before the hole must not join the bytes after it: the session
                // reports it as incomplete and resynchronises after the hole.
                let events = s.session.gap(dir, frame, ts).to_vec();
                self.events(sid, events, frame, 0, Default::default());
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
}

#[cfg(test)]
mod tests;
