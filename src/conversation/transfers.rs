//! Transfers as one object: the transfer command (path, REST offset, TYPE, announced size), the
//! prediction that announced its data connection, the data connection bound to it (before or after
//! the reply that predicted it, and still counted when its bytes come after the final reply), its
//! bytes and gaps, the direction the bytes were seen to go, and the outcome.
//!
//! The rules that decide whether a transfer is complete and why not live in `judge`.

use super::connections::Role;
use super::connections::{ConnId, ConnRef};
use super::exchanges::Exchange;
use super::{Output, anomaly};
use crate::parse::command::{TransferKind, lookup_verb};
use crate::predict::{DataMode, Expectation};
use crate::{Outcome, Transfer};
use serde::Serialize;
use std::collections::HashMap;
use std::net::SocketAddr;

/// Slot keys at and above this are transfers that found no prediction.
pub(crate) const ORPHAN_BASE: u32 = 0x8000_0000;

/// Which way the bytes of a transfer went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataDirection {
    /// A file from the server to the client.
    Download,
    /// A file from the client to the server.
    Upload,
    /// A directory listing from the server to the client.
    Listing,
}

impl DataDirection {
    pub fn name(self) -> &'static str {
        match self {
            DataDirection::Download => "download",
            DataDirection::Upload => "upload",
            DataDirection::Listing => "listing",
        }
    }

    /// The direction a transfer verb asks for, from the command table.
    pub fn of_command(verb: &str) -> Option<Self> {
        Some(match lookup_verb(verb.as_bytes())?.transfer? {
            TransferKind::Download => DataDirection::Download,
            TransferKind::Upload => DataDirection::Upload,
            TransferKind::Listing => DataDirection::Listing,
        })
    }
}

/// What was seen of a data connection.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSeen {
    /// The host's handle, to find what it kept of the bytes (hashes, spool).
    pub conn: ConnRef,
    pub id: ConnId,
    pub uid: String,
    pub first_ts: f64,
    /// The side that carried the data (the side that sent more bytes); `None` when no byte came.
    pub sender: Option<SocketAddr>,
    /// The server's side, when the prediction tells it.
    pub server: Option<SocketAddr>,
    /// Bytes, gaps and bytes lost of the sender's direction.
    pub bytes: u64,
    pub gaps: u32,
    pub gap_bytes: u64,
    pub syn_seen: bool,
    pub fin_seen: bool,
}

/// A transfer, reported once its final reply (or the end of the control connection) and the end
/// of its data connection are both known.
#[derive(Debug, Clone, PartialEq)]
pub struct TransferDone {
    /// The control connection.
    pub uid: String,
    pub id: ConnId,
    pub user: Option<String>,
    /// The session's view: command, arg, path, TYPE, REST, size, outcome, reply code, frames.
    /// `None` for a data connection no transfer command claimed.
    pub transfer: Option<Transfer>,
    /// The transfer command's exchange, when it ended in this session and was not reported
    /// before (an exchange waiting for late data is reported in its place).
    pub exchange: Option<Exchange>,
    /// When the transfer command was sent, when it was seen.
    pub command_ts: Option<f64>,
    pub mode: Option<DataMode>,
    /// The data channel number (`None` when the command found no prediction).
    pub channel: Option<u32>,
    /// The data connection was seen before the reply or command that predicted it.
    pub late_bound: bool,
    pub data: Option<DataSeen>,
    /// As the bytes were seen to go; else as the command asks. `None` when neither is known.
    pub direction: Option<DataDirection>,
    pub complete: bool,
    /// Why it is not complete (stable names).
    pub partial_reasons: Vec<&'static str>,
}

impl TransferDone {
    /// When the data started, else when the command was sent; `None` when neither is known.
    pub fn ts(&self) -> Option<f64> {
        self.data.as_ref().map(|d| d.first_ts).or(self.command_ts)
    }
}

/// One predicted channel or transfer of a session, until it is reported.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    pub exp: Option<Expectation>,
    pub transfer: Option<Transfer>,
    /// The session ended the transfer (final reply, superseded or closed prediction).
    pub ended: bool,
    pub ended_ts: f64,
    /// A data connection was bound to it.
    pub bound: bool,
    pub data_open: bool,
    pub late_bound: bool,
    pub data: Option<DataSeen>,
    pub exchange: Option<Exchange>,
    /// The command's exchange ended (it may have been reported already, see `ready`).
    pub exchange_seen: bool,
    pub command_ts: Option<f64>,
    pub user: Option<String>,
}

/// A session's slots by key. Boxed and made at the first: most control connections that stay
/// open never announce a data channel, and an empty map is 48 bytes of every session.
// Boxed so that an unused map is one pointer, not an empty HashMap's 48 bytes.
#[derive(Debug, Default)]
#[allow(clippy::box_collection)]
pub(crate) struct Slots(Option<Box<HashMap<u32, Slot>>>);

impl Slots {
    fn map(&mut self) -> &mut HashMap<u32, Slot> {
        self.0.get_or_insert_with(Box::default)
    }

    pub fn get(&self, key: &u32) -> Option<&Slot> {
        self.0.as_ref()?.get(key)
    }

    pub fn get_mut(&mut self, key: &u32) -> Option<&mut Slot> {
        self.0.as_mut()?.get_mut(key)
    }

    pub fn insert(&mut self, key: u32, slot: Slot) {
        self.map().insert(key, slot);
    }

    /// The slot of `key`, made empty if there is none.
    pub fn or_default(&mut self, key: u32) -> &mut Slot {
        self.map().entry(key).or_default()
    }

    pub fn remove(&mut self, key: &u32) -> Option<Slot> {
        self.0.as_mut()?.remove(key)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&u32, &Slot)> {
        self.0.iter().flat_map(|m| m.iter())
    }

    pub fn keys(&self) -> impl Iterator<Item = &u32> {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Slot> {
        self.iter().map(|(_, v)| v)
    }
}

impl Slot {
    pub fn predicted(e: Expectation) -> Self {
        Slot {
            exp: Some(e),
            ..Default::default()
        }
    }

    pub fn end(&mut self, t: Transfer, ts: f64) {
        self.ended = true;
        self.ended_ts = ts;
        if t.outcome != Outcome::Expired {
            self.transfer = Some(t);
        }
    }

    /// A new data connection may still be bound to it.
    pub fn claimable(&self) -> bool {
        !self.bound && (!self.ended || self.transfer.is_some())
    }

    /// Ready to be reported: the transfer is over, its data connection is closed, its exchange is
    /// known, and, for a transfer the server called complete before its data connection appeared,
    /// the data had `late_window` seconds to show up (data after the final reply still counts).
    pub fn ready(&self, session_closed: bool, now: f64, late_window: f64) -> bool {
        if !self.ended || self.data_open {
            return false;
        }
        if session_closed {
            return true;
        }
        if self.transfer.is_some() && !self.exchange_seen {
            return false;
        }
        !(self.awaits_data() && now - self.ended_ts <= late_window)
    }

    /// The server called the transfer complete before its data connection appeared: the data
    /// may still come (a final reply that overtook the data).
    pub fn awaits_data(&self) -> bool {
        !self.bound
            && self
                .transfer
                .as_ref()
                .is_some_and(|t| t.outcome == Outcome::Complete && !t.command.is_empty())
    }

    /// Whether it is worth reporting at all: data was seen, or the server said it sent it.
    pub fn reportable(&self) -> bool {
        self.data.is_some()
            || self
                .transfer
                .as_ref()
                .is_some_and(|t| t.outcome == Outcome::Complete && !t.command.is_empty())
    }
}

/// The side of a data connection that is the server: passive, the listener on the predicted
/// port; active, the side connecting to it.
pub(crate) fn server_side(exp: Option<&Expectation>, sides: [SocketAddr; 2]) -> Option<usize> {
    let exp = exp?;
    let listener = match (sides[0].port() == exp.port, sides[1].port() == exp.port) {
        (true, false) => 0,
        (false, true) => 1,
        _ => return None,
    };
    Some(if exp.mode.is_passive() {
        listener
    } else {
        1 - listener
    })
}

/// The partial reason of a data connection with bytes the capture lacks (the Wireshark glue adds
/// a hint to it when its TCP keeps out-of-order segments from subdissectors).
pub(crate) const PARTIAL_GAPS: &str = "gaps";

/// Direction as seen, the anomaly when it contradicts the command, whether the transfer is
/// complete and why not.
pub(crate) fn judge(
    transfer: Option<&Transfer>,
    data: Option<&DataSeen>,
    handshakes_unseen: bool,
) -> (
    Option<DataDirection>,
    Option<String>,
    bool,
    Vec<&'static str>,
) {
    let asked = transfer.and_then(|t| DataDirection::of_command(&t.command));
    let seen = data.and_then(|d| {
        let (sender, server) = (d.sender?, d.server?);
        Some(if sender == server {
            match asked {
                Some(DataDirection::Listing) => DataDirection::Listing,
                _ => DataDirection::Download,
            }
        } else {
            DataDirection::Upload
        })
    });
    let direction = seen.or(asked);
    let mut reasons = Vec::new();
    let mut mismatch = None;
    if let (Some(a), Some(s), Some(t)) = (asked, seen, transfer) {
        let against = (a == DataDirection::Upload) != (s == DataDirection::Upload);
        if against {
            reasons.push("direction_mismatch");
            mismatch = Some(format!(
                "{} {}: the bytes went {}, not {}",
                t.command,
                t.arg,
                if s == DataDirection::Upload {
                    "from the client to the server"
                } else {
                    "from the server to the client"
                },
                if a == DataDirection::Upload {
                    "to the server"
                } else {
                    "to the client"
                }
            ));
        }
    }
    match transfer {
        Some(t) => {
            if t.outcome != Outcome::Complete {
                reasons.push("not_confirmed");
            }
            if t.rest_offset > 0 {
                reasons.push("rest_offset");
            }
            if t.command == "APPE" {
                reasons.push("append");
            }
            if t.data_tls {
                reasons.push("encrypted");
            }
        }
        None => reasons.push("no_command"),
    }
    match data {
        Some(d) => {
            if !d.syn_seen && !handshakes_unseen {
                reasons.push("started_before_capture");
            }
            if !d.fin_seen && !handshakes_unseen {
                reasons.push("no_fin");
            }
            if d.gaps > 0 {
                reasons.push(PARTIAL_GAPS);
            }
            if let Some(t) = transfer {
                let binary = t.transfer_type.starts_with('I') || t.transfer_type.starts_with('L');
                if let Some(size) = t.size {
                    if binary
                        && d.bytes + t.rest_offset < size
                        && direction == Some(DataDirection::Download)
                    {
                        reasons.push("short");
                    }
                }
            }
        }
        None => reasons.push("data_not_captured"),
    }
    (direction, mismatch, reasons.is_empty(), reasons)
}

// ------------------------------------------------------------------ the engine's binding

impl super::Conversations {
    /// A valid, still-open prediction for a new connection `from -> to`.
    pub(super) fn take_prediction(
        &mut self,
        from: SocketAddr,
        to: SocketAddr,
    ) -> Option<(u32, u32)> {
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

    pub(super) fn bind_slot(&mut self, sid: u32, ch: u32, late: bool) {
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
    pub(super) fn fill_data(&mut self, sid: u32, ch: u32, c: ConnRef) {
        let Some(x) = self.get(c) else {
            return;
        };
        let (sides, uid, first_ts) = (x.sides(), x.uid.to_string(), x.first_ts);
        let id = x.conn_id();
        let Some(slot) = self
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.slots.get_mut(&ch))
        else {
            return;
        };
        let server = server_side(slot.exp.as_ref(), sides).map(|i| sides[i]);
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
    pub(super) fn bind_late(&mut self) {
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
                    Some(o) => {
                        let o = usize::from(o);
                        let sides = x.sides();
                        exp.matches_connection(sides[o], sides[1 - o])
                    }
                    None => {
                        let sides = x.sides();
                        exp.matches_either(sides[0], sides[1])
                    }
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
                    counts: Box::default(),
                },
            ) else {
                continue;
            };
            let closed = x.closed;
            self.pending_total -= cand.bytes;
            self.bind_slot(sid, ch, true);
            self.fill_data(sid, ch, r);
            self.replay_held(r, *cand);
            if closed {
                self.data_closed(r);
                self.forget(r);
            }
        }
    }

    /// A data connection closed: hand what it carried to its slot.
    pub(super) fn data_closed(&mut self, c: ConnRef) {
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
        let sender = any.then_some(x.sides()[pick]);
        let syn_seen = x.initiator.is_some();
        let fin_seen = x.fin[pick];
        let (uid, last_frame, last_ts) = (x.uid.to_string(), x.last_frame, x.last_ts);
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
    pub(super) fn try_report(&mut self, sid: u32, key: u32, now: f64) {
        let window = self.cfg.late_window;
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let closed = s.closed;
        let Some(slot) = s.slots.get_mut(&key) else {
            return;
        };
        if !slot.ready(closed, now, window) {
            // While the transfer waits for data that may come after its final reply, its
            // exchange is reported in its place among the others.
            if slot.ended && slot.awaits_data() {
                if let Some(mut ex) = slot.exchange.take() {
                    ex.file_size = slot.transfer.as_ref().and_then(|t| t.size);
                    self.outputs.push(Output::Exchange(Box::new(ex)));
                }
            }
            return;
        }
        let Some(mut slot) = s.slots.remove(&key) else {
            return;
        };
        let reportable = slot.reportable();
        let t = slot.transfer.take();
        let mut ex = slot.exchange.take();
        if let Some(ex) = ex.as_mut() {
            ex.file_size = t.as_ref().and_then(|t| t.size);
        }
        if !reportable {
            if let Some(ex) = ex {
                self.outputs.push(Output::Exchange(Box::new(ex)));
            }
            return;
        }
        s.facts.transfers += 1;
        self.stats.transfers += 1;
        let (direction, mismatch, complete, partial_reasons) =
            judge(t.as_ref(), slot.data.as_ref(), self.cfg.handshakes_unseen);
        let done = TransferDone {
            uid: s.uid.to_string(),
            id: s.facts.id,
            user: slot.user.clone().or_else(|| s.facts.user.clone()),
            mode: slot.exp.as_ref().map(|e| e.mode),
            channel: (key < ORPHAN_BASE).then_some(key),
            late_bound: slot.late_bound,
            transfer: t,
            exchange: ex,
            command_ts: slot.command_ts,
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
mod tests {
    use super::*;
    use crate::parse::address::parse_227;

    fn retr(outcome: Outcome) -> Transfer {
        Transfer {
            channel_id: 1,
            mode: Some(DataMode::Pasv),
            expectation: None,
            command: "RETR".into(),
            arg: "f".into(),
            path: "/f".into(),
            transfer_type: "I".into(),
            rest_offset: 0,
            setup_frame: 1,
            command_frame: 2,
            end_frame: 3,
            size: Some(10),
            outcome,
            reply_code: None,
            data_tls: false,
        }
    }

    fn seen(bytes: u64, sender: &str, server: &str) -> DataSeen {
        DataSeen {
            conn: ConnRef {
                index: 0,
                generation: 0,
            },
            id: ConnId {
                orig: "10.0.0.1:5000".parse().unwrap(),
                resp: "10.0.0.2:26758".parse().unwrap(),
            },
            uid: "C1".into(),
            first_ts: 1.0,
            sender: Some(sender.parse().unwrap()),
            server: Some(server.parse().unwrap()),
            bytes,
            gaps: 0,
            gap_bytes: 0,
            syn_seen: true,
            fin_seen: true,
        }
    }

    #[test]
    fn a_whole_download_is_complete() {
        let t = retr(Outcome::Complete);
        let d = seen(10, "10.0.0.2:26758", "10.0.0.2:26758");
        assert_eq!(
            judge(Some(&t), Some(&d), false),
            (Some(DataDirection::Download), None, true, vec![])
        );
    }

    #[test]
    fn bytes_against_the_command_are_said() {
        // RETR, but the client sent the bytes: an upload as seen, and an anomaly.
        let t = retr(Outcome::Complete);
        let d = seen(10, "10.0.0.1:5000", "10.0.0.2:26758");
        let (dir, anomaly, complete, reasons) = judge(Some(&t), Some(&d), false);
        assert_eq!(dir, Some(DataDirection::Upload));
        assert!(anomaly.is_some_and(|a| a.contains("from the client to the server")));
        assert!(!complete);
        assert_eq!(reasons, vec!["direction_mismatch"]);
    }

    #[test]
    fn short_and_missing_data_are_partial() {
        let t = retr(Outcome::Complete);
        let d = seen(4, "10.0.0.2:26758", "10.0.0.2:26758");
        assert_eq!(judge(Some(&t), Some(&d), false).3, vec!["short"]);
        assert_eq!(judge(Some(&t), None, false).3, vec!["data_not_captured"]);
        assert_eq!(
            judge(None, Some(&d), false),
            (
                Some(DataDirection::Download),
                None,
                false,
                vec!["no_command"]
            )
        );
    }

    #[test]
    fn passive_listener_is_the_server() {
        let e = crate::Expectation {
            channel_id: 1,
            mode: DataMode::Pasv,
            endpoint: parse_227(b"Entering Passive Mode (10,0,0,2,104,134)").unwrap(),
            listener: None,
            alt_listener: None,
            port: 26758,
            connector: None,
            setup_frame: 1,
            created: 0.0,
        };
        let sides = [
            "10.0.0.1:5000".parse().unwrap(),
            "10.0.0.2:26758".parse().unwrap(),
        ];
        assert_eq!(server_side(Some(&e), sides), Some(1));
        let active = crate::Expectation {
            mode: DataMode::Port,
            ..e
        };
        assert_eq!(server_side(Some(&active), sides), Some(0));
    }
}
