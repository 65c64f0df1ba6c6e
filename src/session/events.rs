//! What a session reports. Events carry owned data so that presenters can keep them.

use crate::parse::ReplyCode;
use crate::predict::{DataMode, Expectation};

/// Which way bytes flow on the control connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server: commands.
    ToServer,
    /// Server to client: replies.
    ToClient,
}

/// One thing the session learned, at a frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub frame: u64,
    pub ts: f64,
    pub direction: Direction,
    /// Span of the line that caused it in the last fed buffer (offset, length); (0, 0) when the
    /// event is about bytes of an earlier frame (a line reported as incomplete at a gap or at the
    /// end, a multi-line reply closed because a gap ate its closing line): `frame` names that frame.
    pub span: (usize, usize),
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    Command {
        /// As sent.
        verb: String,
        /// As sent; `None` when the line had no argument.
        arg: Option<String>,
        /// Offset of the argument within the line, for highlighting.
        arg_offset: usize,
        known: bool,
        /// Its line end is not in the capture (a gap, or the connection or capture ended first):
        /// the argument may be cut.
        incomplete: bool,
    },
    Reply(Reply),
    Login(Login),
    DataExpected(Expectation),
    TransferStarted(Transfer),
    /// A running transfer learned more from a preliminary reply: the name STOU's server chose
    /// (RFC 1123 4.1.2.9), now in `path`. Same `channel_id` and `command_frame` as its start.
    TransferUpdated(Transfer),
    TransferEnded(Transfer),
    /// `AUTH TLS`/`AUTH SSL` (any case) answered by 234: the rest of the control connection is TLS.
    TlsUpgrade {
        mechanism: String,
    },
    /// `PROT P` accepted: later data channels carry TLS.
    DataProtected,
    Anomaly {
        anomaly: Anomaly,
        detail: String,
    },
}

/// A complete reply: one line, or a multi-line reply joined.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub code: ReplyCode,
    /// Each line's text after the code and separator: an inner line that repeats the reply's code
    /// (`220-...`) without it, other inner lines as sent.
    pub lines: Vec<String>,
    /// Part of it is not in the capture: a gap fell inside it, or the connection or capture ended
    /// before its line end or before the closing line of a multi-line reply.
    pub incomplete: bool,
    /// The command this answers: its frame, verb (upper-case) and the seconds it took.
    pub request: Option<RequestRef>,
}

impl Reply {
    /// All lines joined by `\n`.
    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RequestRef {
    pub frame: u64,
    pub verb: String,
    pub elapsed: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginState {
    Attempt,
    Success,
    Failure,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Login {
    pub user: String,
    pub password: Option<String>,
    pub anonymous: bool,
    pub state: LoginState,
    pub failures: u32,
}

/// How a transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Still running.
    None,
    /// 226 or 250.
    Complete,
    /// 425, 426, 451, 55x or another failure code.
    Failed,
    /// ABOR.
    Aborted,
    /// The connection ended before the final reply.
    Unknown,
    /// A prediction that no transfer used: superseded, rejected, expired or dropped at the cap.
    Expired,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::None => "in progress",
            Outcome::Complete => "complete",
            Outcome::Failed => "failed",
            Outcome::Aborted => "aborted",
            Outcome::Unknown => "unknown",
            Outcome::Expired => "unused",
        }
    }
}

/// A transfer: a data channel bound to the command that used it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    /// The data channel (0 when the transfer command found no prediction).
    pub channel_id: u32,
    pub mode: Option<DataMode>,
    /// The prediction it used, for callers that match connections themselves.
    pub expectation: Option<Expectation>,
    /// Upper-case transfer verb; empty for an unused prediction.
    pub command: String,
    pub arg: String,
    /// `arg` resolved against the known working directory.
    pub path: String,
    /// TYPE in force ("A", "I"...), empty if never set.
    pub transfer_type: String,
    /// REST position, 0 if none.
    pub rest_offset: u64,
    pub setup_frame: u64,
    pub command_frame: u64,
    /// The frame of the final reply, 0 while running.
    pub end_frame: u64,
    pub size: Option<u64>,
    pub outcome: Outcome,
    pub reply_code: Option<ReplyCode>,
    pub data_tls: bool,
}

/// Anomalies, with stable names (`Anomaly::name`) for logs, filters and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Anomaly {
    Bounce = 1,
    PrivilegedPort = 2,
    NatMismatch = 3,
    RepeatedLoginFailures = 4,
    InvalidReplyCode = 5,
    LineTooLong = 6,
    MalformedAddress = 7,
    TooManyPending = 8,
    ExpectationsFull = 9,
    ReplyTooLong = 10,
    UnmatchedReply = 11,
    UnknownCommand = 12,
    TransferFailed = 13,
}

impl Anomaly {
    pub const ALL: [Anomaly; 13] = [
        Anomaly::Bounce,
        Anomaly::PrivilegedPort,
        Anomaly::NatMismatch,
        Anomaly::RepeatedLoginFailures,
        Anomaly::InvalidReplyCode,
        Anomaly::LineTooLong,
        Anomaly::MalformedAddress,
        Anomaly::TooManyPending,
        Anomaly::ExpectationsFull,
        Anomaly::ReplyTooLong,
        Anomaly::UnmatchedReply,
        Anomaly::UnknownCommand,
        Anomaly::TransferFailed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Anomaly::Bounce => "bounce",
            Anomaly::PrivilegedPort => "privileged_port",
            Anomaly::NatMismatch => "nat_mismatch",
            Anomaly::RepeatedLoginFailures => "repeated_login_failures",
            Anomaly::InvalidReplyCode => "invalid_reply_code",
            Anomaly::LineTooLong => "line_too_long",
            Anomaly::MalformedAddress => "malformed_address",
            Anomaly::TooManyPending => "too_many_pending",
            Anomaly::ExpectationsFull => "expectations_full",
            Anomaly::ReplyTooLong => "reply_too_long",
            Anomaly::UnmatchedReply => "unmatched_reply",
            Anomaly::UnknownCommand => "unknown_command",
            Anomaly::TransferFailed => "transfer_failed",
        }
    }
}
