//! Exchanges: a command with its preliminary replies and its final reply, built from the events of
//! one control connection's [`crate::Session`]. Unmatched replies are exchanges without a command;
//! the greeting is the session's banner. Also the session-wide facts a log reports (login, TLS,
//! counts) and the hold that puts the greeting before commands an impatient client sent early.

use super::connections::{ConnId, Uid};
use super::transfers::ORPHAN_BASE;
use super::transfers::{Slot, Slots};
use super::{Action, ConnRef, Note, Output, anomaly, frames};
use crate::parse::parse_reply_line;
use crate::predict::Expectation;
use crate::{Direction, Event, EventKind, LoginState, Session};
use serde::Serialize;
use std::collections::VecDeque;

/// One line group of a reply: its code and every line's text without the code prefix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplyText {
    pub code: u16,
    pub lines: Vec<String>,
    /// The frame and time of the reply's last line.
    pub frame: u64,
    pub ts: f64,
    /// Part of it is not in the capture (a gap inside it, or the end came before its line end or
    /// closing line).
    pub incomplete: bool,
}

impl ReplyText {
    /// The lines joined by `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// A command line as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommandLine {
    /// The verb, case kept.
    pub verb: String,
    pub arg: Option<String>,
    /// Its line end is not in the capture: the argument may be cut.
    pub incomplete: bool,
}

/// A command and what answered it, or a reply no command was waiting for (`command` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Exchange {
    /// The control connection's uid and endpoints.
    pub uid: String,
    pub id: ConnId,
    /// When the command was sent (for an unmatched reply: when the reply came).
    pub ts: f64,
    pub frame: u64,
    pub command: Option<CommandLine>,
    /// The login known when the exchange ended.
    pub user: Option<String>,
    pub password: Option<String>,
    /// Working directory when the command was sent, when known.
    pub cwd: Option<String>,
    /// 1xx replies before the final one, with their text.
    pub preliminary: Vec<ReplyText>,
    pub reply: Option<ReplyText>,
    /// Seconds from the command to its final reply.
    pub response_time: Option<f64>,
    /// The data channel this exchange announced (PORT family or a passive reply).
    pub data_channel: Option<Expectation>,
    /// REST position of a transfer command.
    pub rest_offset: Option<u64>,
    /// Size announced for the file of a transfer command (SIZE or the 150 reply).
    pub file_size: Option<u64>,
    /// Anomaly names raised by the command's or the reply's lines.
    pub anomalies: Vec<&'static str>,
}

/// How the login of a session went, as far as the capture shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LoginSummary {
    None,
    Attempt,
    Success,
    Failure,
}

/// One control connection, reported when it ends. While it is open its [`Control`] keeps it up to
/// date with `uid` empty (no heap string per open connection: the uid is kept inline beside it) and
/// fills `uid` when the record leaves.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSummary {
    pub uid: String,
    pub id: ConnId,
    pub ts: f64,
    pub end_ts: f64,
    /// The greeting's lines joined by `\n`.
    pub banner: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub anonymous: bool,
    pub login: LoginSummary,
    pub failed_logins: u32,
    pub commands: u64,
    pub transfers: u64,
    pub anomalies: u64,
    /// The AUTH mechanism when the control connection went to TLS.
    pub tls: Option<String>,
    /// The connection began before the capture (no SYN).
    pub midstream: bool,
}

/// An exchange still waiting for its final reply, or for its transfer.
#[derive(Debug)]
pub(crate) struct Open {
    pub ex: Draft,
    /// The transfer slot it started.
    pub channel: Option<u32>,
}

/// An [`Exchange`] being built: what the session's facts already hold (uid, endpoints, login) is
/// added when it leaves ([`Draft::into_exchange`]), and what replies and predictions add is boxed
/// and made when the first comes, so that the command each idle session waits on costs about a
/// quarter of an `Exchange`.
#[derive(Debug)]
pub(crate) struct Draft {
    pub ts: f64,
    pub frame: u64,
    command: Option<SentLine>,
    cwd: Option<Box<str>>,
    answer: Option<Box<Answer>>,
}

/// A [`CommandLine`] in one allocation: the verb, then the argument.
#[derive(Debug)]
struct SentLine {
    verb_and_arg: Box<str>,
    verb_len: u32,
    has_arg: bool,
    incomplete: bool,
}

impl SentLine {
    fn new(c: CommandLine) -> Self {
        // A verb is shorter than a line, and a line than u32::MAX (the cap's maximum).
        let verb_len = u32::try_from(c.verb.len()).unwrap_or(u32::MAX);
        let mut verb_and_arg = c.verb;
        verb_and_arg.push_str(c.arg.as_deref().unwrap_or_default());
        SentLine {
            verb_and_arg: verb_and_arg.into_boxed_str(),
            verb_len,
            has_arg: c.arg.is_some(),
            incomplete: c.incomplete,
        }
    }

    fn verb(&self) -> &str {
        &self.verb_and_arg[..self.verb_len as usize]
    }

    fn into_command_line(self) -> CommandLine {
        let (verb, arg) = self.verb_and_arg.split_at(self.verb_len as usize);
        CommandLine {
            verb: verb.to_string(),
            arg: self.has_arg.then(|| arg.to_string()),
            incomplete: self.incomplete,
        }
    }
}

/// The part of a [`Draft`] that its replies, its prediction, its transfer and its anomalies fill.
#[derive(Debug, Default)]
struct Answer {
    anomalies: Vec<&'static str>,
    preliminary: Vec<ReplyText>,
    reply: Option<ReplyText>,
    response_time: Option<f64>,
    data_channel: Option<Expectation>,
    rest_offset: Option<u64>,
}

impl Draft {
    fn new(ts: f64, frame: u64) -> Self {
        Draft {
            ts,
            frame,
            command: None,
            cwd: None,
            answer: None,
        }
    }

    fn answer(&mut self) -> &mut Answer {
        self.answer.get_or_insert_with(Box::default)
    }

    /// Its final reply came.
    fn replied(&self) -> bool {
        self.answer.as_ref().is_some_and(|a| a.reply.is_some())
    }

    /// Whether it is the command a reply's request reference names (`verb` in upper case).
    fn answers(&self, frame: u64, verb: &str) -> bool {
        self.frame == frame
            && self
                .command
                .as_ref()
                .is_some_and(|c| c.verb().eq_ignore_ascii_case(verb))
    }

    /// The exchange, with what the session knows as it ends.
    pub fn into_exchange(self, uid: Uid, facts: &SessionSummary) -> Exchange {
        let a = self.answer.map(|a| *a).unwrap_or_default();
        Exchange {
            uid: uid.to_string(),
            id: facts.id,
            ts: self.ts,
            frame: self.frame,
            command: self.command.map(SentLine::into_command_line),
            user: facts.user.clone(),
            password: facts.password.clone(),
            cwd: self.cwd.map(String::from),
            preliminary: a.preliminary,
            reply: a.reply,
            response_time: a.response_time,
            data_channel: a.data_channel,
            rest_offset: a.rest_offset,
            file_size: None,
            anomalies: a.anomalies,
        }
    }
}

/// Client segments (bytes, frame, time) held until the greeting is complete.
pub(crate) type HeldClientBytes = Vec<(Vec<u8>, u64, f64)>;

/// Client bytes held until the greeting is complete.
pub(crate) const GREETING_HOLD: usize = 64 * 1024;

/// The layer's state for one control connection.
#[derive(Debug)]
pub(crate) struct Control {
    pub conn: super::ConnRef,
    pub session: Session,
    /// What the session's record will say, kept up to date.
    pub facts: SessionSummary,
    /// The control connection's uid (its connection may be forgotten before the session ends).
    pub uid: Uid,
    pub last_frame: u64,
    pub pending: VecDeque<Open>,
    /// The exchange whose final reply came last: anomalies of that reply's line still join it.
    /// Boxed: it is empty between feeds.
    pub staged: Option<Box<Open>>,
    /// Client bytes sent before the server's greeting, held until it is complete (`None` once the
    /// greeting was seen, or when the connection's start was not captured).
    /// Boxed so that the field is one pointer: it is gone once the greeting was seen.
    #[allow(clippy::box_collection)]
    pub before_greeting: Option<Box<HeldClientBytes>>,
    pub user_seen: bool,
    /// A reply was seen (the first one without a request is the greeting).
    pub replied: bool,
    pub slots: Slots,
    pub next_orphan: u32,
    pub closed: bool,
}

/// What handling one event asks the engine to do next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Emit this exchange (or hand it to its transfer).
    Finished(Box<Open>),
    /// A prediction was made: publish it.
    Expect(Expectation),
    /// A transfer's slot changed: it may be ready to report.
    SlotChanged(u32),
    /// An anomaly not carried by an exchange.
    Anomaly(&'static str, String),
    /// An anomaly carried by an exchange (already counted in the session): count it capture-wide.
    Counted(&'static str),
    /// The control connection is TLS from here on.
    Tls,
}

/// Where the greeting (the first complete reply) ends in `bytes`: after its last line.
pub(crate) fn greeting_end(bytes: &[u8]) -> Option<usize> {
    let mut start = 0;
    for i in memchr::memchr_iter(b'\n', bytes) {
        let line = bytes[start..i]
            .strip_suffix(b"\r")
            .unwrap_or(&bytes[start..i]);
        if let Ok((_, r)) = parse_reply_line(line) {
            if r.code.is_valid() && r.separator == crate::parse::Separator::Space {
                return Some(i + 1);
            }
        }
        start = i + 1;
    }
    None
}

impl Control {
    /// The staged exchange is done: it leaves.
    fn flush_staged(&mut self, out: &mut Vec<Step>) {
        if let Some(p) = self.staged.take() {
            out.push(Step::Finished(p));
        }
    }

    /// Turn one session event into exchange state; what must happen beyond this session goes to
    /// `out`.
    pub fn on_event(&mut self, ev: Event, out: &mut Vec<Step>) {
        match ev.kind {
            EventKind::Command {
                verb,
                arg,
                incomplete,
                ..
            } => {
                self.flush_staged(out);
                self.facts.commands += 1;
                self.user_seen |= verb.eq_ignore_ascii_case("USER");
                let mut ex = Draft::new(ev.ts, ev.frame);
                ex.command = Some(SentLine::new(CommandLine {
                    verb,
                    arg,
                    incomplete,
                }));
                ex.cwd = self.session.cwd().map(Box::from);
                if self.pending.capacity() == 0 {
                    // Most sessions wait for one reply at a time: room for one, not VecDeque's
                    // first four (an `Open` is over 100 bytes; many idle sessions add up).
                    self.pending.reserve_exact(1);
                }
                self.pending.push_back(Open { ex, channel: None });
                // Mirror the session's cap on commands waiting for a reply.
                let cap = self.session.limits().max_pending_commands + 1;
                let excess = self.pending.len().saturating_sub(cap);
                for p in self.pending.drain(..excess) {
                    out.push(Step::Finished(Box::new(p)));
                }
            }
            EventKind::Reply(r) => {
                self.flush_staged(out);
                let first_reply = !self.replied;
                self.replied = true;
                // The session already gives every line without its code prefix.
                let text = ReplyText {
                    code: r.code.0,
                    lines: r.lines,
                    frame: ev.frame,
                    ts: ev.ts,
                    incomplete: r.incomplete,
                };
                let pos = r.request.as_ref().and_then(|q| {
                    self.pending
                        .iter()
                        .position(|p| p.ex.answers(q.frame, &q.verb))
                });
                let Some(pos) = pos else {
                    // The greeting answers the connection, not a command (a gap inside it may
                    // close it only after the client's first commands).
                    if self.facts.banner.is_none() && first_reply && r.request.is_none() {
                        self.facts.banner = Some(text.text());
                        return;
                    }
                    let mut ex = Draft::new(ev.ts, ev.frame);
                    ex.answer().reply = Some(text);
                    self.staged = Some(Box::new(Open { ex, channel: None }));
                    return;
                };
                if r.code.is_preliminary() {
                    self.pending[pos].ex.answer().preliminary.push(text);
                    return;
                }
                // Commands before it lost their reply (the session dropped them).
                let older: Vec<Open> = self.pending.drain(..pos).collect();
                let Some(mut p) = self.pending.pop_front() else {
                    return;
                };
                let answer = p.ex.answer();
                answer.response_time = r.request.as_ref().map(|q| q.elapsed);
                answer.reply = Some(text);
                self.staged = Some(Box::new(p));
                out.extend(older.into_iter().map(|o| Step::Finished(Box::new(o))));
            }
            EventKind::Login(l) => {
                // The session reports "" when the USER command was not seen (a capture that began
                // after it); keep that unknown rather than empty.
                if self.user_seen {
                    self.facts.user = Some(l.user.clone());
                }
                self.facts.anonymous = l.anonymous;
                if l.password.is_some() {
                    self.facts.password = l.password.clone();
                }
                self.facts.failed_logins = l.failures;
                self.facts.login = match l.state {
                    LoginState::Attempt if self.facts.login == LoginSummary::Success => {
                        LoginSummary::Success
                    }
                    LoginState::Attempt => LoginSummary::Attempt,
                    LoginState::Success => LoginSummary::Success,
                    LoginState::Failure => LoginSummary::Failure,
                };
            }
            EventKind::DataExpected(e) => {
                let target = if ev.direction == Direction::ToClient {
                    self.staged.as_deref_mut()
                } else {
                    self.pending.back_mut()
                };
                if let Some(p) = target {
                    p.ex.answer().data_channel = Some(e.clone());
                }
                self.slots.insert(e.channel_id, Slot::predicted(e.clone()));
                out.push(Step::Expect(e));
            }
            EventKind::TransferStarted(t) => {
                let key = if t.channel_id == 0 {
                    self.next_orphan += 1;
                    self.next_orphan
                } else {
                    t.channel_id
                };
                if let Some(p) = self.pending.back_mut() {
                    if p.ex.frame == t.command_frame {
                        p.channel = Some(key);
                        if t.rest_offset > 0 {
                            p.ex.answer().rest_offset = Some(t.rest_offset);
                        }
                    }
                }
                let user = self.facts.user.clone();
                let slot = self.slots.or_default(key);
                slot.transfer = Some(t);
                slot.user = user;
            }
            // STOU's server-chosen name: the slot keeps the transfer as it ends, which has it.
            EventKind::TransferUpdated(t) => {
                if let Some(slot) = self
                    .slots
                    .get_mut(&t.channel_id)
                    .filter(|_| t.channel_id > 0)
                {
                    slot.transfer = Some(t);
                }
            }
            EventKind::TransferEnded(t) => {
                let key = if t.channel_id == 0 {
                    self.slots
                        .iter()
                        .find(|(k, s)| {
                            **k > super::transfers::ORPHAN_BASE
                                && !s.ended
                                && s.transfer.as_ref().is_some_and(|x| {
                                    x.command_frame == t.command_frame && x.command == t.command
                                })
                        })
                        .map(|(k, _)| *k)
                } else {
                    Some(t.channel_id)
                };
                let Some(key) = key else {
                    return;
                };
                let slot = self.slots.or_default(key);
                slot.end(t, ev.ts);
                out.push(Step::SlotChanged(key));
            }
            EventKind::TlsUpgrade { mechanism } => {
                self.facts.tls = Some(mechanism);
                out.push(Step::Tls);
            }
            EventKind::DataProtected => {}
            EventKind::Anomaly { anomaly, detail } => {
                let name = anomaly.name();
                let attached = if ev.direction == Direction::ToServer {
                    self.pending
                        .back_mut()
                        .filter(|p| p.ex.frame == ev.frame && !p.ex.replied())
                } else {
                    self.staged.as_deref_mut()
                };
                match attached {
                    Some(p) => {
                        p.ex.answer().anomalies.push(name);
                        self.facts.anomalies += 1;
                        out.push(Step::Counted(name));
                    }
                    None => out.push(Step::Anomaly(name, detail)),
                }
            }
        }
    }

    /// The end of an event batch: the staged exchange is complete.
    pub fn end_batch(&mut self, out: &mut Vec<Step>) {
        self.flush_staged(out);
    }
}

// ------------------------------------------------------------------ the engine's sessions

impl super::Conversations {
    pub(super) fn new_session(&mut self, c: ConnRef, client: usize) -> u32 {
        let sid = self.next_sid;
        self.next_sid += 1;
        self.stats.control_sessions += 1;
        let Some(x) = self.get(c) else {
            return sid;
        };
        let id = ConnId {
            orig: x.sides()[client],
            resp: x.sides()[1 - client],
        };
        let midstream = x.initiator.is_none();
        let s = Control {
            conn: c,
            session: Session::with_shared_limits(Some(id.orig), Some(id.resp), self.limits.clone()),
            uid: x.uid,
            facts: SessionSummary {
                uid: String::new(),
                id,
                ts: x.first_ts,
                end_ts: x.first_ts,
                banner: None,
                user: None,
                password: None,
                anonymous: false,
                login: LoginSummary::None,
                failed_logins: 0,
                commands: 0,
                transfers: 0,
                anomalies: 0,
                tls: None,
                midstream,
            },
            last_frame: x.last_frame,
            pending: Default::default(),
            staged: None,
            before_greeting: (!midstream).then(Box::default),
            user_seen: false,
            replied: false,
            slots: Slots::default(),
            next_orphan: ORPHAN_BASE,
            closed: false,
        };
        let ts = x.first_ts;
        self.sessions.insert(sid, Box::new(s));
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
    pub(super) fn session_note(
        &mut self,
        sid: u32,
        name: &'static str,
        detail: String,
        frame: Option<u64>,
        ts: f64,
    ) {
        self.push_note(sid, name, detail, frame, ts, false);
    }

    /// A session's anomaly as an output; `restated`: it restates a session event.
    fn push_note(
        &mut self,
        sid: u32,
        name: &'static str,
        detail: String,
        frame: Option<u64>,
        ts: f64,
        restated: bool,
    ) {
        self.count(name);
        let (uid, id) = match self.sessions.get_mut(&sid) {
            Some(s) => {
                s.facts.anomalies += 1;
                (Some(s.uid.to_string()), Some(s.facts.id))
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
            restated,
        }));
    }

    /// Feed a control connection, putting the greeting first: commands a client sent before the
    /// server's greeting (seen from the connection's start) wait until the greeting is complete,
    /// so that the 220 is not taken for the reply to the first command.
    pub(super) fn feed_ordered(
        &mut self,
        sid: u32,
        dir: Direction,
        bytes: &[u8],
        frame: u64,
        ts: f64,
    ) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let Some(held) = s.before_greeting.as_mut() else {
            return self.feed(sid, dir, bytes, 0, frame, ts);
        };
        if dir == Direction::ToServer {
            let total: usize = held.iter().map(|h| h.0.len()).sum();
            if total + bytes.len() <= GREETING_HOLD {
                held.push((bytes.to_vec(), frame, ts));
                return;
            }
            self.release_held(sid);
            return self.feed(sid, dir, bytes, 0, frame, ts);
        }
        match greeting_end(bytes) {
            Some(end) => {
                self.feed(sid, dir, &bytes[..end], 0, frame, ts);
                self.release_held(sid);
                if end < bytes.len() {
                    self.feed(sid, dir, &bytes[end..], end, frame, ts);
                }
            }
            None => {
                if held.is_empty() {
                    // Nothing waits: no need to look for the greeting's end any more.
                    s.before_greeting = None;
                }
                self.feed(sid, dir, bytes, 0, frame, ts);
            }
        }
    }

    /// Deliver the client bytes held back for the greeting, and stop holding.
    pub(super) fn release_held(&mut self, sid: u32) {
        let Some(held) = self
            .sessions
            .get_mut(&sid)
            .and_then(|s| s.before_greeting.take())
        else {
            return;
        };
        for (bytes, frame, ts) in *held {
            self.feed(sid, Direction::ToServer, &bytes, 0, frame, ts);
        }
    }

    /// Feed a session `bytes`, which begin `base` bytes into what the host passed for `frame`.
    pub(super) fn feed(
        &mut self,
        sid: u32,
        dir: Direction,
        bytes: &[u8],
        base: usize,
        frame: u64,
        ts: f64,
    ) {
        let keep = self.cfg.keep_events;
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        s.facts.end_ts = ts;
        s.last_frame = frame;
        let before = keep
            .then(|| s.session.open_reply().map(|(c, l)| (c, l.len())))
            .flatten();
        let events = s.session.feed(dir, bytes, frame, ts).to_vec();
        // The label of the multi-line reply this feed continues (empty when none is open): the
        // host's Info text when the feed completes no command or reply.
        let open_reply = if keep {
            crate::present::feed_summary(&[], before, s.session.open_reply())
        } else {
            String::new()
        };
        let begins_reply = match (keep, before, s.session.open_reply()) {
            (true, None, Some((code, _))) => Some(code.0),
            _ => None,
        };
        // The session's event buffer and spare capacity go back at once: with many open control
        // connections they cost more than the state itself.
        s.session.shrink();
        self.events(sid, events, frame, base, (open_reply, begins_reply));
    }

    /// One batch of a session's events (from a feed at `frame`, a gap or the end): kept for the
    /// host when asked, then turned into exchanges and transfers.
    pub(super) fn events(
        &mut self,
        sid: u32,
        events: Vec<crate::Event>,
        frame: u64,
        base: usize,
        (open_reply, begins_reply): (String, Option<u16>),
    ) {
        if self.cfg.keep_events {
            if let Some(s) = self.sessions.get(&sid) {
                self.batches.push(frames::EventBatch {
                    control: s.conn,
                    frame,
                    base,
                    events: events.clone(),
                    open_reply,
                    begins_reply,
                });
            }
        }
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

    pub(super) fn run_steps(&mut self, sid: u32, steps: Vec<Step>) {
        for step in steps {
            match step {
                Step::Finished(open) => self.exchange_done(sid, *open),
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
                    let now = self.sessions.get(&sid).map_or(0.0, |s| s.facts.end_ts);
                    self.try_report(sid, k, now);
                }
                Step::Anomaly(name, detail) => {
                    let ts = self.sessions.get(&sid).map_or(0.0, |s| s.facts.end_ts);
                    let frame = self.sessions.get(&sid).map(|s| s.last_frame);
                    self.push_note(sid, name, detail, frame.filter(|&f| f > 0), ts, true);
                }
                Step::Counted(name) => self.count(name),
                Step::Tls => {}
            }
        }
    }

    /// An exchange is over: report it, or hand it to its transfer.
    pub(super) fn exchange_done(&mut self, sid: u32, p: Open) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        let Open { ex, channel } = p;
        let ex = ex.into_exchange(s.uid, &s.facts);
        if let Some(key) = channel {
            if let Some(slot) = s.slots.get_mut(&key) {
                if !slot.exchange_seen {
                    slot.exchange_seen = true;
                    slot.command_ts = Some(ex.ts);
                    slot.exchange = Some(ex);
                    let now = s.facts.end_ts;
                    self.try_report(sid, key, now);
                    return;
                }
            }
        }
        self.outputs.push(Output::Exchange(Box::new(ex)));
    }

    /// A control connection ended (or the input did): report everything it still holds.
    pub(super) fn end_session(&mut self, sid: u32, input_ended: bool) {
        let Some(s) = self.sessions.get_mut(&sid) else {
            return;
        };
        if !s.closed {
            self.release_held(sid);
            let Some(s) = self.sessions.get_mut(&sid) else {
                return;
            };
            s.closed = true;
            let (frame, ts) = (s.last_frame, s.facts.end_ts);
            let events = s.session.finish(frame, ts).to_vec();
            self.events(sid, events, frame, 0, Default::default());
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
            let mut keys: Vec<u32> = s.slots.keys().copied().collect();
            keys.sort_unstable();
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
        let summary = SessionSummary {
            uid: s.uid.to_string(),
            ..s.facts
        };
        self.outputs.push(Output::Session(summary));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_ends_after_its_last_line() {
        let b = b"220-hello\r\n220-more\r\n220 ready\r\n331 next";
        assert_eq!(greeting_end(b), Some(32));
        assert_eq!(greeting_end(b"220-hello\r\n"), None);
    }
}
