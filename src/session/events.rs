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

impl Transfer {
    /// The name a directory listing is saved under when asked for: beside the directory it lists
    /// and never as the directory itself (whose files go under its name), `<path>.listing`. `None`
    /// for a transfer that is not a listing, or whose path is unknown or the root: the host then
    /// names it by what it knows of the connection.
    pub fn listing_name(&self) -> Option<String> {
        let kind = crate::parse::lookup_verb(self.command.as_bytes())?.transfer?;
        if kind != crate::parse::TransferKind::Listing || self.path.is_empty() || self.path == "/" {
            return None;
        }
        Some(format!("{}.listing", self.path))
    }

    /// The name a file extractor (Wireshark's Export Objects) saves this transfer's bytes under:
    /// the last component of its argument (of its path when the argument is empty; STOU takes the
    /// server's name), `<verb>-frame<N>` when there is none, and `.partial-at-<offset>` after a
    /// REST, since the bytes then start there, and `.partial` once the transfer ended without the
    /// server confirming it (failed, aborted, or the connection ended first), since the file then
    /// may stop short. `None` for a listing or an unused prediction, which carry no file.
    pub fn export_name(&self) -> Option<String> {
        let kind = crate::parse::lookup_verb(self.command.as_bytes())?.transfer?;
        if kind == crate::parse::TransferKind::Listing {
            return None;
        }
        let source = if self.arg.is_empty() {
            &self.path
        } else {
            &self.arg
        };
        // A separator at the very end does not start a component ("dir/" stays "dir/").
        let start = source
            .char_indices()
            .rev()
            .find(|&(i, c)| (c == '/' || c == '\\') && i + 1 < source.len())
            .map(|(i, _)| i + 1)
            .unwrap_or(0);
        let base = &source[start..];
        let mut name = if base.is_empty() {
            format!("{}-frame{}", self.command, self.command_frame)
        } else {
            base.to_string()
        };
        if self.rest_offset > 0 {
            name = format!("{name}.partial-at-{}", self.rest_offset);
        }
        if matches!(
            self.outcome,
            Outcome::Failed | Outcome::Aborted | Outcome::Unknown
        ) {
            name.push_str(".partial");
        }
        Some(name)
    }
}

/// Declares every anomaly once: its variant and number (the C ABI's constant), its stable name (for
/// logs, filters and tests), the expert Wireshark raises for it, and when it is raised.
macro_rules! anomalies {
    ($( $id:ident = $n:literal => ($name:literal, $expert:ident, $when:literal), )*) => {
        /// Anomalies, with stable names (`Anomaly::name`) for logs, filters and tests.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Anomaly { $($id = $n,)* }

        impl Anomaly {
            pub const ALL: [Anomaly; [$($name,)*].len()] = [$(Anomaly::$id,)*];

            pub const fn name(self) -> &'static str {
                match self { $(Anomaly::$id => $name,)* }
            }

            /// When it is raised, in a sentence.
            pub fn description(self) -> &'static str {
                match self { $(Anomaly::$id => $when,)* }
            }

            /// The Wireshark expert it raises.
            pub fn expert(self) -> crate::fields::Expert {
                match self { $(Anomaly::$id => crate::fields::Expert::$expert,)* }
            }
        }
    };
}

anomalies! {
    Bounce = 1 => ("bounce", Bounce, "PORT/EPRT/LPRT names a host that is not the client"),
    PrivilegedPort = 2 => ("privileged_port", PrivilegedPort, "PORT/EPRT/LPRT names a port below 1024"),
    NatMismatch = 3 => ("nat_mismatch", NatMismatch, "a 227/228 address is not the server's"),
    RepeatedLoginFailures = 4 => ("repeated_login_failures", RepeatedLoginFailures, "failed logins reach failed_login_alarm"),
    InvalidReplyCode = 5 => ("invalid_reply_code", InvalidReplyCode, "a server line has no valid 3-digit code"),
    LineTooLong = 6 => ("line_too_long", LineTooLong, "a line hits max_line; the rest is skipped to the next line end"),
    MalformedAddress = 7 => ("malformed_address", MalformedAddress, "an address argument or reply does not parse (out-of-range numbers included)"),
    TooManyPending = 8 => ("too_many_pending", TooManyPending, "more than max_pending_commands commands wait for replies"),
    ExpectationsFull = 9 => ("expectations_full", ExpectationsFull, "more than max_expectations open predictions"),
    ReplyTooLong = 10 => ("reply_too_long", ReplyTooLong, "a multi-line reply passes max_reply_lines"),
    UnmatchedReply = 11 => ("unmatched_reply", UnmatchedReply, "a reply arrives with no command waiting"),
    UnknownCommand = 12 => ("unknown_command", UnknownCommand, "a verb outside the command table, or a line that is not a command"),
    TransferFailed = 13 => ("transfer_failed", TransferFailed, "a transfer ends with 425/426/451/55x or ABOR"),
}

#[cfg(test)]
mod export_name_tests {
    use super::*;

    fn transfer(command: &str, arg: &str, path: &str, rest: u64) -> Transfer {
        Transfer {
            channel_id: 1,
            mode: None,
            expectation: None,
            command: command.into(),
            arg: arg.into(),
            path: path.into(),
            transfer_type: String::new(),
            rest_offset: rest,
            setup_frame: 3,
            command_frame: 7,
            end_frame: 0,
            size: None,
            outcome: Outcome::None,
            reply_code: None,
            data_tls: false,
        }
    }

    /// A listing is named beside its directory, so that the directory's files can go under the
    /// directory's own name; a root or unknown path is the host's to name.
    #[test]
    fn a_listing_is_named_beside_its_directory() {
        assert_eq!(
            transfer("LIST", "pub", "/pub", 0).listing_name().as_deref(),
            Some("/pub.listing")
        );
        assert_eq!(
            transfer("MLSD", "", "/pub/sub", 0)
                .listing_name()
                .as_deref(),
            Some("/pub/sub.listing")
        );
        assert_eq!(transfer("NLST", "", "/", 0).listing_name(), None);
        assert_eq!(transfer("LIST", "", "", 0).listing_name(), None);
        assert_eq!(transfer("RETR", "a", "/a", 0).listing_name(), None);
    }

    #[test]
    fn a_file_the_server_did_not_confirm_is_named_partial() {
        let mut t = transfer("RETR", "pub/a.txt", "/pub/a.txt", 0);
        for (outcome, name) in [
            (Outcome::None, "a.txt"),
            (Outcome::Complete, "a.txt"),
            (Outcome::Failed, "a.txt.partial"),
            (Outcome::Aborted, "a.txt.partial"),
            (Outcome::Unknown, "a.txt.partial"),
        ] {
            t.outcome = outcome;
            assert_eq!(t.export_name().as_deref(), Some(name), "{outcome:?}");
        }
        t.rest_offset = 10;
        t.outcome = Outcome::Aborted;
        assert_eq!(
            t.export_name().as_deref(),
            Some("a.txt.partial-at-10.partial")
        );
    }

    #[test]
    fn files_are_named_by_their_last_component() {
        assert_eq!(
            transfer("RETR", "pub/a.txt", "/pub/a.txt", 0)
                .export_name()
                .as_deref(),
            Some("a.txt")
        );
        assert_eq!(
            transfer("STOR", "c:\\up\\b.bin", "", 0)
                .export_name()
                .as_deref(),
            Some("b.bin")
        );
        assert_eq!(
            transfer("APPE", "dir/", "", 0).export_name().as_deref(),
            Some("dir/")
        );
        assert_eq!(
            transfer("STOU", "", "", 0).export_name().as_deref(),
            Some("STOU-frame7")
        );
        assert_eq!(
            transfer("STOU", "", "/in/srv-name", 0)
                .export_name()
                .as_deref(),
            Some("srv-name")
        );
        assert_eq!(
            transfer("RETR", "big.iso", "", 1000)
                .export_name()
                .as_deref(),
            Some("big.iso.partial-at-1000")
        );
    }

    #[test]
    fn listings_and_unused_predictions_carry_no_file() {
        assert_eq!(transfer("LIST", "/pub", "/pub", 0).export_name(), None);
        assert_eq!(transfer("MLSD", "", "", 0).export_name(), None);
        assert_eq!(transfer("", "", "", 0).export_name(), None);
    }
}
