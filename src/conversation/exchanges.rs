//! Exchanges: a command with its preliminary replies and its final reply, built from the events of
//! one control connection's [`crate::Session`]. Unmatched replies are exchanges without a command;
//! the greeting is the session's banner. Also the session-wide facts a log reports (login, TLS,
//! counts) and the hold that puts the greeting before commands an impatient client sent early.

use super::connections::ConnId;
use super::transfers::Slot;
use crate::parse::parse_reply_line;
use crate::predict::Expectation;
use crate::{Direction, Event, EventKind, LoginState, Session};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};

/// One line group of a reply: its code and every line's text without the code prefix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplyText {
    pub code: u16,
    pub lines: Vec<String>,
    /// The frame and time of the reply's last line.
    pub frame: u64,
    pub ts: f64,
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

/// One control connection, reported when it ends.
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
    pub ex: Exchange,
    /// Upper-case verb, for matching the session's request reference.
    pub verb: String,
    /// The transfer slot it started.
    pub channel: Option<u32>,
}

/// Client bytes held until the greeting is complete.
pub(crate) const GREETING_HOLD: usize = 64 * 1024;

/// The layer's state for one control connection.
#[derive(Debug)]
pub(crate) struct Control {
    pub conn: super::ConnRef,
    pub session: Session,
    pub uid: String,
    pub id: ConnId,
    pub start_ts: f64,
    pub last_ts: f64,
    pub last_frame: u64,
    pub midstream: bool,
    pub banner: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub anonymous: bool,
    pub login: LoginSummary,
    pub failed_logins: u32,
    pub tls: Option<String>,
    pub pending: VecDeque<Open>,
    /// The exchange whose final reply came last: anomalies of that reply's line still join it.
    pub staged: Option<Open>,
    /// Client bytes sent before the server's greeting, held until it is complete (`None` once the
    /// greeting was seen, or when the connection's start was not captured).
    pub before_greeting: Option<Vec<(Vec<u8>, u64, f64)>>,
    pub user_seen: bool,
    pub slots: HashMap<u32, Slot>,
    pub next_orphan: u32,
    pub commands: u64,
    pub transfers: u64,
    pub anomalies: u64,
    pub closed: bool,
}

/// What handling one event asks the engine to do next.
#[derive(Debug)]
pub(crate) enum Step {
    /// Emit this exchange (or hand it to its transfer).
    Finished(Open),
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

/// Text after the code and separator of a multi-line reply's inner line, when it repeats the code.
fn strip_code_prefix(code: u16, line: &str) -> &str {
    let b = line.as_bytes();
    if b.len() >= 4
        && line.is_char_boundary(3)
        && line[..3].parse::<u16>() == Ok(code)
        && matches!(b[3], b'-' | b' ')
    {
        &line[4..]
    } else {
        line
    }
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
    fn new_exchange(&self, ts: f64, frame: u64) -> Exchange {
        Exchange {
            uid: self.uid.clone(),
            id: self.id,
            ts,
            frame,
            command: None,
            user: None,
            password: None,
            cwd: None,
            preliminary: Vec::new(),
            reply: None,
            response_time: None,
            data_channel: None,
            rest_offset: None,
            file_size: None,
            anomalies: Vec::new(),
        }
    }

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
            EventKind::Command { verb, arg, .. } => {
                self.flush_staged(out);
                self.commands += 1;
                let upper = verb.to_ascii_uppercase();
                self.user_seen |= upper == "USER";
                let mut ex = self.new_exchange(ev.ts, ev.frame);
                ex.command = Some(CommandLine { verb, arg });
                ex.cwd = self.session.cwd().map(str::to_string);
                self.pending.push_back(Open {
                    ex,
                    verb: upper,
                    channel: None,
                });
                // Mirror the session's cap on commands waiting for a reply.
                let cap = self.session.limits().max_pending_commands + 1;
                let excess = self.pending.len().saturating_sub(cap);
                for p in self.pending.drain(..excess) {
                    out.push(Step::Finished(p));
                }
            }
            EventKind::Reply(r) => {
                self.flush_staged(out);
                let code = r.code.0;
                let mut lines = r.lines;
                for l in lines.iter_mut().skip(1) {
                    let stripped = strip_code_prefix(code, l);
                    if stripped.len() != l.len() {
                        *l = stripped.to_string();
                    }
                }
                let text = ReplyText {
                    code,
                    lines,
                    frame: ev.frame,
                    ts: ev.ts,
                };
                let pos = r.request.as_ref().and_then(|q| {
                    self.pending
                        .iter()
                        .position(|p| p.ex.frame == q.frame && p.verb == q.verb)
                });
                let Some(pos) = pos else {
                    // The greeting answers the connection, not a command.
                    if self.banner.is_none() && self.commands == 0 && r.request.is_none() {
                        self.banner = Some(text.text());
                        return;
                    }
                    let mut ex = self.new_exchange(ev.ts, ev.frame);
                    ex.reply = Some(text);
                    self.staged = Some(Open {
                        ex,
                        verb: String::new(),
                        channel: None,
                    });
                    return;
                };
                if r.code.is_preliminary() {
                    self.pending[pos].ex.preliminary.push(text);
                    return;
                }
                // Commands before it lost their reply (the session dropped them).
                let older: Vec<Open> = self.pending.drain(..pos).collect();
                let Some(mut p) = self.pending.pop_front() else {
                    return;
                };
                p.ex.response_time = r.request.as_ref().map(|q| q.elapsed);
                p.ex.reply = Some(text);
                self.staged = Some(p);
                out.extend(older.into_iter().map(Step::Finished));
            }
            EventKind::Login(l) => {
                // The session reports "" when the USER command was not seen (a capture that began
                // after it); keep that unknown rather than empty.
                if self.user_seen {
                    self.user = Some(l.user.clone());
                }
                self.anonymous = l.anonymous;
                if l.password.is_some() {
                    self.password = l.password.clone();
                }
                self.failed_logins = l.failures;
                self.login = match l.state {
                    LoginState::Attempt if self.login == LoginSummary::Success => {
                        LoginSummary::Success
                    }
                    LoginState::Attempt => LoginSummary::Attempt,
                    LoginState::Success => LoginSummary::Success,
                    LoginState::Failure => LoginSummary::Failure,
                };
            }
            EventKind::DataExpected(e) => {
                let target = if ev.direction == Direction::ToClient {
                    self.staged.as_mut()
                } else {
                    self.pending.back_mut()
                };
                if let Some(p) = target {
                    p.ex.data_channel = Some(e.clone());
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
                            p.ex.rest_offset = Some(t.rest_offset);
                        }
                    }
                }
                let user = self.user.clone();
                let slot = self.slots.entry(key).or_default();
                slot.transfer = Some(t);
                slot.user = user;
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
                let slot = self.slots.entry(key).or_default();
                slot.end(t, ev.ts);
                out.push(Step::SlotChanged(key));
            }
            EventKind::TlsUpgrade { mechanism } => {
                self.tls = Some(mechanism);
                out.push(Step::Tls);
            }
            EventKind::DataProtected => {}
            EventKind::Anomaly { anomaly, detail } => {
                let name = anomaly.name();
                let attached = if ev.direction == Direction::ToServer {
                    self.pending
                        .back_mut()
                        .filter(|p| p.ex.frame == ev.frame && p.ex.reply.is_none())
                } else {
                    self.staged.as_mut()
                };
                match attached {
                    Some(p) => {
                        p.ex.anomalies.push(name);
                        self.anomalies += 1;
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

    pub fn summary(&self) -> SessionSummary {
        SessionSummary {
            uid: self.uid.clone(),
            id: self.id,
            ts: self.start_ts,
            end_ts: self.last_ts,
            banner: self.banner.clone(),
            user: self.user.clone(),
            password: self.password.clone(),
            anonymous: self.anonymous,
            login: self.login,
            failed_logins: self.failed_logins,
            commands: self.commands,
            transfers: self.transfers,
            anomalies: self.anomalies,
            tls: self.tls.clone(),
            midstream: self.midstream,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_lines_lose_their_code_prefix() {
        assert_eq!(strip_code_prefix(220, "220-Welcome"), "Welcome");
        assert_eq!(strip_code_prefix(211, " MDTM"), " MDTM");
        assert_eq!(strip_code_prefix(211, "230-x"), "230-x");
        assert_eq!(strip_code_prefix(220, "22é"), "22é");
    }

    #[test]
    fn greeting_ends_after_its_last_line() {
        let b = b"220-hello\r\n220-more\r\n220 ready\r\n331 next";
        assert_eq!(greeting_end(b), Some(32));
        assert_eq!(greeting_end(b"220-hello\r\n"), None);
    }
}
