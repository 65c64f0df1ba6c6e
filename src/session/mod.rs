//! One FTP control connection: bytes in, events out.
//!
//! The session is fed the bytes of each direction in stream order. It frames lines, strips Telnet
//! commands, parses commands and replies, pairs replies with commands (pipelining included), and keeps
//! the state an analyst asks about: login, working directory, TYPE, REST, SIZE, the predicted data
//! channels and the transfers bound to them. Every table is capped (see [`crate::Limits`]).

mod events;
mod lines;

pub use events::{
    Anomaly, Direction, Event, EventKind, Login, LoginState, Outcome, Reply, RequestRef, Transfer,
};

use crate::limits::Limits;
use crate::parse::{self, ReplyCode, Separator, address, lossy};
use crate::predict::{DataMode, Expectation};
use lines::{FramedLine, LineBuffer, strip_telnet};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// A command waiting for its final reply: its upper-case verb and its argument in one
/// allocation (a session waits on one most of the time, and many sessions may be open).
#[derive(Debug)]
struct Pending {
    verb_and_arg: Box<str>,
    verb_len: u32,
    frame: u64,
    ts: f64,
}

impl Pending {
    fn verb(&self) -> &str {
        &self.verb_and_arg[..self.verb_len as usize]
    }

    fn arg(&self) -> &str {
        &self.verb_and_arg[self.verb_len as usize..]
    }
}

/// A multi-line reply being collected (RFC 959 4.2).
#[derive(Debug)]
struct MultiLine {
    code: ReplyCode,
    lines: Vec<String>,
    offset: usize,
    truncated: bool,
    /// A capture gap fell inside it: some of its lines are lost.
    gap: bool,
    /// The frame and time of its latest line, for reporting it when it never closes.
    last: (u64, f64),
}

/// Where the line being handled is: frame, timestamp, direction, span in the fed buffer.
type Cursor = (u64, f64, Direction, (usize, usize));

/// Login progress (RFC 959 5.4 state diagrams for USER/PASS).
#[derive(Debug, Default)]
struct LoginTrack {
    /// Boxed strs: kept for the whole session, never grown.
    user: Option<Box<str>>,
    password: Option<Box<str>>,
    failures: u32,
}

/// What a session needs once it sees a working directory, a transfer parameter, a data-channel
/// announcement or a transfer: boxed and made at first use, so that a session that only logs in
/// (or idles, as thousands of open control connections do) does not carry it.
#[derive(Debug)]
struct Channels {
    cwd: Option<String>,
    transfer_type: String,
    rest: Option<u64>,
    last_size: Option<(String, u64)>,
    open: VecDeque<Expectation>,
    transfers: VecDeque<Transfer>,
    next_channel: u32,
    prot_private: bool,
}

impl Default for Channels {
    fn default() -> Self {
        Channels {
            cwd: None,
            transfer_type: String::new(),
            rest: None,
            last_size: None,
            open: VecDeque::new(),
            transfers: VecDeque::new(),
            next_channel: 1,
            prot_private: false,
        }
    }
}

/// Line framing that outlives a feed: a line cut between segments, or the rest of an over-long
/// line being skipped. Boxed and made only then (and given back by [`Session::shrink`] once
/// empty), so that a session between whole lines, as most are, does not carry it.
#[derive(Debug, Default)]
struct Framing {
    lines: [LineBuffer; 2],
    /// Per direction: the frame and time that last fed the unterminated tail of the stream, so
    /// that it can be reported at that frame when a gap or the end comes before its line end.
    tail: [(u64, f64); 2],
}

impl Framing {
    fn idle(&self) -> bool {
        self.lines
            .iter()
            .all(|l| l.pending() == 0 && !l.is_skipping())
    }
}

/// The state of one control connection.
#[derive(Debug)]
pub struct Session {
    /// Shared: every session of a capture has the same limits.
    limits: Arc<Limits>,
    /// Only the hosts matter (a data connection comes from any port).
    client: Option<IpAddr>,
    server: Option<IpAddr>,
    framing: Option<Box<Framing>>,
    /// Boxed: a multi-line reply is open only between its first and its last line.
    multiline: Option<Box<MultiLine>>,
    pending: VecDeque<Pending>,
    login: LoginTrack,
    chan: Option<Box<Channels>>,
    /// Encrypted from here on: nothing more is parsed.
    tls: bool,
    /// The greeting has been seen (or a reply that shows it was missed).
    greeted: bool,
    events: Vec<Event>,
    /// Context of the line being handled.
    cur: Cursor,
    /// Per direction: after a capture gap, lines are skipped until one that can start a command
    /// or a reply, because the bytes after a hole may be the tail of a line whose head was lost.
    resync: [bool; 2],
}

impl Default for Session {
    fn default() -> Self {
        Session::new(None, None, Limits::default())
    }
}

fn is_anonymous(user: &str) -> bool {
    user.eq_ignore_ascii_case("anonymous") || user.eq_ignore_ascii_case("ftp")
}

/// The length of the longest prefix of `data` made only of complete lines (ending in LF), so that a
/// dissector can ask TCP for more bytes while a line is unfinished. When the unfinished tail is
/// already `max_line` bytes or longer, all of `data` is returned: the session then reports an
/// over-long line instead of waiting forever. `max_line` 0 means the default limit.
pub fn complete_prefix(data: &[u8], max_line: usize) -> usize {
    let max_line = if max_line == 0 {
        Limits::DEFAULT_MAX_LINE
    } else {
        max_line
    };
    match memchr::memrchr(b'\n', data) {
        Some(i) if data.len() - (i + 1) < max_line => i + 1,
        None if data.len() < max_line => 0,
        _ => data.len(),
    }
}

/// Resolve `arg` against `cwd` the way a Unix server would; `..` never climbs above `/`.
pub fn resolve_path(cwd: Option<&str>, arg: &str) -> String {
    let joined = if arg.starts_with('/') || cwd.is_none() {
        arg.to_string()
    } else {
        format!("{}/{}", cwd.unwrap_or(""), arg)
    };
    let absolute = joined.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() && !absolute {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let body = parts.join("/");
    if absolute { format!("/{body}") } else { body }
}

impl Session {
    /// A session for a control connection between `client` and `server` (either may be unknown).
    pub fn new(client: Option<SocketAddr>, server: Option<SocketAddr>, limits: Limits) -> Self {
        Session::with_shared_limits(client, server, Arc::new(limits))
    }

    /// [`Session::new`] with limits shared with other sessions (a host keeping many sessions
    /// open pays for one copy).
    pub fn with_shared_limits(
        client: Option<SocketAddr>,
        server: Option<SocketAddr>,
        limits: Arc<Limits>,
    ) -> Self {
        Session {
            limits,
            client: client.map(|a| a.ip()),
            server: server.map(|a| a.ip()),
            framing: None,
            multiline: None,
            pending: VecDeque::new(),
            login: LoginTrack::default(),
            chan: None,
            tls: false,
            greeted: false,
            events: Vec::new(),
            cur: (0, 0.0, Direction::ToServer, (0, 0)),
            resync: [false; 2],
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The events produced by the last [`Session::feed`] or [`Session::finish`].
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// The multi-line reply still being collected (RFC 959 4.2): its code and its lines so far.
    /// A presenter labels a frame that carried only first or middle lines of it with this.
    pub fn open_reply(&self) -> Option<(ReplyCode, &[String])> {
        self.multiline
            .as_ref()
            .map(|ml| (ml.code, ml.lines.as_slice()))
    }

    /// True once the control connection switched to TLS.
    pub fn is_encrypted(&self) -> bool {
        self.tls
    }

    /// The current working directory, when known.
    pub fn cwd(&self) -> Option<&str> {
        self.chan.as_ref()?.cwd.as_deref()
    }

    /// The channel state, made at first use.
    fn chan(&mut self) -> &mut Channels {
        self.chan.get_or_insert_with(Box::default)
    }

    /// Feed bytes of one direction. Returns this call's events.
    pub fn feed(&mut self, dir: Direction, data: &[u8], frame: u64, ts: f64) -> &[Event] {
        self.events.clear();
        self.expire(frame, ts);
        if self.tls {
            // RFC 2228 CCC: after the TLS session closes, commands and replies go in clear again. A
            // segment of whole printable lines is that; TLS records start with a content type byte.
            if !looks_like_clear_lines(data) {
                return &self.events;
            }
            self.tls = false;
            self.framing = None;
        }
        let idx = dir as usize;
        let mut buf = match self.framing.as_mut() {
            Some(f) => std::mem::take(&mut f.lines[idx]),
            None => LineBuffer::default(),
        };
        let max_line = self.limits.max_line;
        buf.feed(data, max_line, |line| {
            if !self.tls {
                self.on_line(dir, line, frame, ts, false);
            }
        });
        if self.framing.is_some() || buf.pending() > 0 || buf.is_skipping() {
            let f = self.framing.get_or_insert_with(Box::default);
            if buf.pending() > 0 {
                f.tail[idx] = (frame, ts);
            }
            f.lines[idx] = buf;
        }
        &self.events
    }

    /// How many leading bytes of `data`, the next bytes of direction `dir`, to feed now when the caller
    /// reassembles lines itself (Wireshark's TCP desegmentation) and keeps the rest for later: the
    /// whole lines, as [`complete_prefix`] counts them. While this session is skipping the rest of an
    /// over-long line, the bytes up to its end come first, and without a line end all of `data` is
    /// fed: the skipped bytes are then never held for reassembly, so a line that never ends costs
    /// the caller nothing either.
    pub fn complete_prefix_for(&self, dir: Direction, data: &[u8]) -> usize {
        let skipping = self
            .framing
            .as_ref()
            .is_some_and(|f| f.lines[dir as usize].is_skipping());
        let start = if skipping {
            match memchr::memchr(b'\n', data) {
                Some(i) => i + 1,
                None => return data.len(),
            }
        } else {
            0
        };
        start + complete_prefix(&data[start..], self.limits.max_line)
    }

    /// Give back the memory a session keeps between feeds: the last feed's events (so
    /// [`Session::events`] is empty afterwards) and spare capacity. For callers that keep many idle
    /// sessions open, such as a dissector over a capture of many connections.
    pub fn shrink(&mut self) {
        self.events = Vec::new();
        self.pending.shrink_to_fit();
        if let Some(c) = self.chan.as_mut() {
            c.open.shrink_to_fit();
            c.transfers.shrink_to_fit();
        }
        if self.framing.as_ref().is_some_and(|f| f.idle()) {
            self.framing = None;
        }
        for l in self.framing.iter_mut().flat_map(|f| f.lines.iter_mut()) {
            l.shrink();
        }
    }

    /// Bytes of one direction were lost (a capture gap), noticed at `frame`. The partial line
    /// before the hole is reported as what it is (a command or a reply) marked incomplete, never
    /// joined to the unrelated bytes after the hole. A multi-line reply the hole fell into is
    /// marked incomplete. Then the framing resynchronises: lines are skipped until one that can
    /// start a command or a reply, and a reply with another code closes the multi-line reply the
    /// hole fell into (its closing line was lost), so later replies pair with their own commands.
    pub fn gap(&mut self, dir: Direction, frame: u64, ts: f64) -> &[Event] {
        self.events.clear();
        self.cur = (frame, ts, dir, (0, 0));
        self.flush_tail(dir);
        self.resync[dir as usize] = true;
        if dir == Direction::ToClient {
            if let Some(ml) = self.multiline.as_mut() {
                ml.gap = true;
            }
        }
        &self.events
    }

    /// Report the unterminated tail of one direction, if any, as an incomplete line.
    fn flush_tail(&mut self, dir: Direction) {
        let idx = dir as usize;
        let Some(framing) = self.framing.as_mut() else {
            return;
        };
        let Some(bytes) = framing.lines[idx].take_partial() else {
            return;
        };
        let (frame, ts) = framing.tail[idx];
        if self.tls {
            return;
        }
        // Reported at the frame that carried its last bytes, with no span: the events of this call
        // are not about the buffer that frame fed.
        let line = FramedLine {
            bytes: bytes.into(),
            offset: 0,
            length: 0,
            truncated: false,
            last_in_feed: true,
        };
        self.on_line(dir, line, frame, ts, true);
    }

    /// The connection ended (FIN, RST, or the end of the capture): report a last line that has no
    /// line end and a multi-line reply still open as incomplete, then close running transfers and
    /// unused predictions.
    pub fn finish(&mut self, frame: u64, ts: f64) -> &[Event] {
        self.events.clear();
        self.flush_tail(Direction::ToServer);
        self.flush_tail(Direction::ToClient);
        if let Some(ml) = self.multiline.take() {
            self.cur = (ml.last.0, ml.last.1, Direction::ToClient, (0, 0));
            self.close_multiline(*ml, true);
        }
        self.cur = (frame, ts, Direction::ToClient, (0, 0));
        if let Some(mut chan) = self.chan.take() {
            while let Some(mut t) = chan.transfers.pop_front() {
                t.outcome = Outcome::Unknown;
                self.push(EventKind::TransferEnded(t));
            }
            while let Some(e) = chan.open.pop_front() {
                self.close_unused(e);
            }
            self.chan = Some(chan);
        }
        &self.events
    }

    fn push(&mut self, kind: EventKind) {
        let (frame, ts, direction, span) = self.cur;
        self.events.push(Event {
            frame,
            ts,
            direction,
            span,
            kind,
        });
    }

    fn anomaly(&mut self, anomaly: Anomaly, detail: impl Into<String>) {
        self.push(EventKind::Anomaly {
            anomaly,
            detail: detail.into(),
        });
    }

    /// One line of `dir`; `incomplete` when its line end is not in the capture.
    fn on_line(
        &mut self,
        dir: Direction,
        line: FramedLine<'_>,
        frame: u64,
        ts: f64,
        incomplete: bool,
    ) {
        self.cur = (frame, ts, dir, (line.offset, line.length));
        if line.truncated {
            self.anomaly(
                Anomaly::LineTooLong,
                format!(
                    "line longer than {} bytes; cut and resynchronised at the next line end",
                    self.limits.max_line
                ),
            );
        }
        let bytes = strip_telnet(&line.bytes);
        match dir {
            Direction::ToServer => self.on_command_line(&bytes, incomplete),
            Direction::ToClient => {
                self.on_reply_line(&bytes, line.offset, line.last_in_feed, incomplete)
            }
        }
    }

    // ------------------------------------------------------------------ commands

    fn on_command_line(&mut self, line: &[u8], incomplete: bool) {
        if line.is_empty() {
            return;
        }
        if self.resync[Direction::ToServer as usize] {
            // After a gap, the first bytes may be the tail of a lost line: wait for a known verb.
            match parse::parse_command(line) {
                Ok((_, cmd)) if cmd.info().is_some() => {
                    self.resync[Direction::ToServer as usize] = false
                }
                _ => return,
            }
        }
        let Ok((_, cmd)) = parse::parse_command(line) else {
            self.anomaly(
                Anomaly::UnknownCommand,
                format!("not a command line: {:.60}", lossy(line)),
            );
            // The server still answers it (500): keep its place so later replies stay paired.
            self.queue_pending(String::new(), String::new());
            return;
        };
        let info = cmd.info();
        let verb = lossy(cmd.verb);
        let arg = cmd.arg.map(lossy);
        let upper = verb.to_ascii_uppercase();
        self.push(EventKind::Command {
            verb: verb.clone(),
            arg: arg.clone(),
            arg_offset: cmd.verb.len() + 1,
            known: info.is_some(),
            incomplete,
        });
        if info.is_none() {
            self.anomaly(Anomaly::UnknownCommand, format!("unknown command {verb}"));
        }
        let arg = arg.unwrap_or_default();
        match upper.as_str() {
            "USER" => {
                self.login.user = Some(arg.as_str().into());
                self.login.password = None;
                self.login_event(LoginState::Attempt);
            }
            "PASS" => {
                self.login.password = Some(arg.as_str().into());
                if self.login.user.is_some() {
                    self.login_event(LoginState::Attempt);
                }
            }
            "PORT" => self.active(DataMode::Port, address::parse_port_arg(arg.as_bytes())),
            "EPRT" => self.active(DataMode::Eprt, address::parse_eprt_arg(arg.as_bytes())),
            "LPRT" => self.active(DataMode::Lprt, address::parse_lprt_arg(arg.as_bytes())),
            "ABOR" => {
                for t in self.chan.iter_mut().flat_map(|c| c.transfers.iter_mut()) {
                    t.outcome = Outcome::Aborted;
                }
            }
            _ => {}
        }
        if info.and_then(|i| i.transfer).is_some() {
            self.start_transfer(&upper, &arg);
        }
        self.queue_pending(upper, arg);
    }

    /// Queue a command for its reply, dropping the oldest at the cap.
    fn queue_pending(&mut self, verb: String, arg: String) {
        if self.pending.len() >= self.limits.max_pending_commands {
            self.pending.pop_front();
            self.anomaly(
                Anomaly::TooManyPending,
                format!(
                    "more than {} commands without a reply",
                    self.limits.max_pending_commands
                ),
            );
        }
        let (frame, ts, ..) = self.cur;
        // A verb is shorter than a line, and a line than u32::MAX (the cap's maximum).
        let verb_len = u32::try_from(verb.len()).unwrap_or(u32::MAX);
        let mut verb_and_arg = verb;
        verb_and_arg.push_str(&arg);
        self.pending.push_back(Pending {
            verb_and_arg: verb_and_arg.into_boxed_str(),
            verb_len,
            frame,
            ts,
        });
    }

    fn login_event(&mut self, state: LoginState) {
        let user = self.login.user.as_deref().unwrap_or_default().to_string();
        self.push(EventKind::Login(Login {
            anonymous: is_anonymous(&user),
            user,
            password: self.login.password.as_deref().map(str::to_string),
            state,
            failures: self.login.failures,
        }));
    }

    /// PORT, EPRT, LPRT: the server will connect, from any port, to the client's listener.
    fn active(&mut self, mode: DataMode, parsed: Result<parse::DataEndpoint, parse::AddressError>) {
        let endpoint = match parsed {
            Ok(e) => e,
            Err(err) => {
                self.anomaly(Anomaly::MalformedAddress, format!("{}: {err}", mode.name()));
                return;
            }
        };
        let client_ip = self.client;
        let mut alt = None;
        if let (Some(adv), Some(client)) = (endpoint.addr, client_ip) {
            if !same_host(adv, client) {
                // A client behind NAT advertises its private address, and some servers connect to
                // the control connection's client address instead: expect both, as for passive.
                alt = Some(client);
                self.anomaly(
                    Anomaly::Bounce,
                    format!(
                        "{} asks the server to connect to {adv}, not to the client {client}",
                        mode.name()
                    ),
                );
            }
        }
        if endpoint.port < 1024 {
            self.anomaly(
                Anomaly::PrivilegedPort,
                format!("{} names privileged port {}", mode.name(), endpoint.port),
            );
        }
        let listener = endpoint.addr.or(client_ip);
        self.expect(mode, endpoint, listener, alt, self.server);
    }

    /// 227, 228, 229: the client will connect, from any port, to the server's listener.
    fn passive(
        &mut self,
        mode: DataMode,
        parsed: Result<parse::DataEndpoint, parse::AddressError>,
    ) {
        let endpoint = match parsed {
            Ok(e) => e,
            Err(err) => {
                self.anomaly(Anomaly::MalformedAddress, format!("{}: {err}", mode.name()));
                return;
            }
        };
        let server_ip = self.server;
        let mut alt = None;
        if let (Some(adv), Some(server)) = (endpoint.addr, server_ip) {
            if !same_host(adv, server) {
                alt = Some(server);
                self.anomaly(
                    Anomaly::NatMismatch,
                    format!("passive address {adv} is not the server's {server}; expecting both"),
                );
            }
        }
        let listener = endpoint.addr.or(server_ip);
        self.expect(mode, endpoint, listener, alt, self.client);
    }

    fn expect(
        &mut self,
        mode: DataMode,
        endpoint: parse::DataEndpoint,
        listener: Option<IpAddr>,
        alt_listener: Option<IpAddr>,
        connector: Option<IpAddr>,
    ) {
        // A new announcement supersedes unused ones: the server closes its old listener (RFC 959
        // 3.2), and the client's PORT replaces the previous one.
        while let Some(old) = self.chan().open.pop_front() {
            self.close_unused(old);
        }
        let chan = self.chan();
        let channel_id = chan.next_channel;
        chan.next_channel = chan.next_channel.wrapping_add(1).max(1);
        let e = Expectation {
            channel_id,
            mode,
            endpoint,
            listener,
            alt_listener,
            port: endpoint.port,
            connector,
            setup_frame: self.cur.0,
            created: self.cur.1,
        };
        self.chan().open.push_back(e.clone());
        self.push(EventKind::DataExpected(e));
        if self.chan().open.len() > self.limits.max_expectations {
            if let Some(old) = self.chan().open.pop_front() {
                self.anomaly(
                    Anomaly::ExpectationsFull,
                    "too many open data-channel predictions",
                );
                self.close_unused(old);
            }
        }
    }

    fn close_unused(&mut self, e: Expectation) {
        self.push(EventKind::TransferEnded(Transfer {
            channel_id: e.channel_id,
            mode: Some(e.mode),
            setup_frame: e.setup_frame,
            end_frame: self.cur.0,
            outcome: Outcome::Expired,
            expectation: Some(e),
            ..empty_transfer()
        }));
    }

    fn expire(&mut self, frame: u64, ts: f64) {
        let timeout = self.limits.expectation_timeout;
        while self
            .chan
            .as_ref()
            .and_then(|c| c.open.front())
            .is_some_and(|e| ts - e.created > timeout)
        {
            self.cur = (frame, ts, Direction::ToServer, (0, 0));
            if let Some(e) = self.chan().open.pop_front() {
                self.close_unused(e);
            }
        }
    }

    fn start_transfer(&mut self, verb: &str, arg: &str) {
        let expectation = self.chan().open.pop_back();
        // Older unused predictions cannot be used any more.
        while let Some(old) = self.chan().open.pop_front() {
            self.close_unused(old);
        }
        let command_frame = self.cur.0;
        let chan = self.chan();
        let path = resolve_path(chan.cwd.as_deref(), arg);
        let size = chan
            .last_size
            .as_ref()
            .filter(|(p, _)| *p == path)
            .map(|(_, s)| *s);
        let t = Transfer {
            channel_id: expectation.as_ref().map_or(0, |e| e.channel_id),
            mode: expectation.as_ref().map(|e| e.mode),
            setup_frame: expectation.as_ref().map_or(0, |e| e.setup_frame),
            expectation,
            command: verb.to_string(),
            arg: arg.to_string(),
            path,
            transfer_type: chan.transfer_type.clone(),
            rest_offset: chan.rest.take().unwrap_or(0),
            command_frame,
            size,
            data_tls: chan.prot_private,
            ..empty_transfer()
        };
        self.push(EventKind::TransferStarted(t.clone()));
        if self.chan().transfers.len() >= self.limits.max_pending_commands {
            if let Some(mut old) = self.chan().transfers.pop_front() {
                old.outcome = Outcome::Unknown;
                self.push(EventKind::TransferEnded(old));
            }
        }
        self.chan().transfers.push_back(t);
    }

    // ------------------------------------------------------------------ replies

    fn on_reply_line(&mut self, line: &[u8], offset: usize, last_in_feed: bool, incomplete: bool) {
        if self.resync[Direction::ToClient as usize] && !self.resync_reply(line) {
            return;
        }
        if let Some(ml) = self.multiline.as_mut() {
            let closing = match parse::parse_reply_line(line) {
                // RFC 959 4.2: the last line begins with the same code and a space.
                Ok((_, r)) if r.code == ml.code && r.separator != Separator::Hyphen => Some(r.text),
                // Real servers sometimes close with another code. An inner line may also begin
                // with a code (RFC 959's own example), so a different code closes the reply only
                // when nothing follows it yet.
                Ok((_, r))
                    if r.separator == Separator::Space && r.code.is_valid() && last_in_feed =>
                {
                    Some(r.text)
                }
                _ => None,
            };
            // Inner lines that repeat the code (`220-...`, as many banners do) keep only their
            // text; other inner lines are text as sent, even when they begin with digits.
            let text = closing.unwrap_or_else(|| match parse::parse_reply_line(line) {
                Ok((_, r)) if r.code == ml.code && r.separator == Separator::Hyphen => r.text,
                _ => line,
            });
            ml.last = (self.cur.0, self.cur.1);
            ml.gap |= incomplete;
            if ml.lines.len() < self.limits.max_reply_lines {
                ml.lines.push(lossy(text));
            } else if !ml.truncated {
                ml.truncated = true;
                self.anomaly(
                    Anomaly::ReplyTooLong,
                    format!(
                        "multi-line reply over {} lines",
                        self.limits.max_reply_lines
                    ),
                );
            }
            if closing.is_some() {
                if let Some(ml) = self.multiline.take() {
                    let start = if ml.offset <= offset { ml.offset } else { 0 };
                    let end = self.cur.3.0 + self.cur.3.1;
                    self.cur.3 = (start, end - start);
                    let incomplete = ml.gap;
                    self.close_multiline(*ml, incomplete);
                }
            }
            return;
        }
        if line.is_empty() {
            return;
        }
        match parse::parse_reply_line(line) {
            Ok((_, r)) if r.code.is_valid() => {
                let text = lossy(r.text);
                if r.separator == Separator::Hyphen {
                    self.multiline = Some(Box::new(MultiLine {
                        code: r.code,
                        lines: vec![text],
                        offset,
                        truncated: false,
                        gap: incomplete,
                        last: (self.cur.0, self.cur.1),
                    }));
                } else {
                    self.on_reply(r.code, vec![text], incomplete);
                }
            }
            _ => {
                self.anomaly(
                    Anomaly::InvalidReplyCode,
                    format!("not a reply: {:.60}", lossy(line)),
                );
                // It still answers the oldest command (as Zeek pairs it), so later replies stay
                // paired with their own commands.
                if self.greeted {
                    self.pending.pop_front();
                }
            }
        }
    }

    /// After a gap in the server's stream: is `line` where the framing picks up again? A line
    /// that cannot start a reply is skipped, or kept as text of the multi-line reply the gap fell
    /// into. A line that can start one ends the resynchronisation; if it has another code than
    /// that multi-line reply, the reply's closing line was lost, so it is closed as incomplete
    /// first and the line starts a reply of its own.
    fn resync_reply(&mut self, line: &[u8]) -> bool {
        let start = match parse::parse_reply_line(line) {
            Ok((_, r)) if r.code.is_valid() && r.separator != Separator::None => Some(r),
            _ => None,
        };
        let Some(r) = start else {
            return self.multiline.is_some();
        };
        self.resync[Direction::ToClient as usize] = false;
        if self.multiline.as_ref().is_some_and(|ml| ml.code != r.code) {
            if let Some(ml) = self.multiline.take() {
                // At the frame of its last line, with no span: this feed holds none of it.
                let here = self.cur;
                self.cur = (ml.last.0, ml.last.1, Direction::ToClient, (0, 0));
                self.close_multiline(*ml, true);
                self.cur = here;
            }
        }
        true
    }

    /// A multi-line reply is over: report it, `incomplete` when lines of it are not in the capture.
    fn close_multiline(&mut self, ml: MultiLine, incomplete: bool) {
        self.on_reply(ml.code, ml.lines, incomplete);
    }

    fn on_reply(&mut self, code: ReplyCode, lines: Vec<String>, incomplete: bool) {
        let ts = self.cur.1;
        // The greeting (RFC 959 5.4: 120, then 220; or 421) answers the connection, not a command,
        // even when an impatient client sent commands before it.
        let greeting = !self.greeted && matches!(code.0, 220 | 120 | 421);
        if matches!(code.0, 220 | 421) || !code.is_preliminary() {
            self.greeted = true;
        }
        // A preliminary reply answers the oldest command but leaves it waiting for its final reply.
        let as_request = |p: &Pending| (p.verb().to_string(), p.arg().to_string(), p.frame, p.ts);
        let request = if greeting {
            None
        } else if code.is_preliminary() {
            self.pending.front().map(as_request)
        } else {
            self.pending.pop_front().as_ref().map(as_request)
        };
        let text = lines.first().cloned().unwrap_or_default();
        self.push(EventKind::Reply(Reply {
            code,
            lines,
            incomplete,
            request: request.as_ref().map(|(verb, _, f, t)| RequestRef {
                frame: *f,
                verb: verb.clone(),
                elapsed: (ts - t).max(0.0),
            }),
        }));
        let Some((verb, arg, req_frame, _)) = request else {
            if !greeting && !matches!(code.0, 221 | 421) {
                self.anomaly(
                    Anomaly::UnmatchedReply,
                    format!("reply {} with no command waiting", code.0),
                );
            }
            self.passive_reply(code, &text);
            return;
        };
        self.passive_reply(code, &text);
        match (verb.as_str(), code.0) {
            ("USER" | "PASS" | "ACCT", 230 | 232 | 202) if code.0 != 202 || verb == "PASS" => {
                self.login_event(LoginState::Success);
            }
            ("USER" | "PASS" | "ACCT", _) if code.is_failure() => {
                self.login.failures += 1;
                self.login_event(LoginState::Failure);
                if self.login.failures >= self.limits.failed_login_alarm {
                    let n = self.login.failures;
                    self.anomaly(
                        Anomaly::RepeatedLoginFailures,
                        format!("{n} failed logins in this session"),
                    );
                }
            }
            ("CWD" | "XCWD", 200 | 250) => {
                // Bounded: a path longer than a line could carry becomes unknown.
                let max_line = self.limits.max_line;
                let chan = self.chan();
                chan.cwd =
                    Some(resolve_path(chan.cwd.as_deref(), &arg)).filter(|c| c.len() <= max_line)
            }
            ("CDUP" | "XCUP", 200 | 250) => {
                let chan = self.chan();
                chan.cwd = Some(resolve_path(chan.cwd.as_deref(), ".."))
            }
            ("PWD" | "XPWD", 257) => {
                let chan = self.chan();
                chan.cwd = quoted_path(&text).or(chan.cwd.take())
            }
            ("TYPE", 200) => self.chan().transfer_type = arg.trim().to_ascii_uppercase(),
            ("REST", 350) => self.chan().rest = arg.trim().parse().ok(),
            ("SIZE", 213) => {
                if let Ok(n) = text.trim().parse() {
                    let chan = self.chan();
                    chan.last_size = Some((resolve_path(chan.cwd.as_deref(), &arg), n));
                }
            }
            ("AUTH", 234) => {
                self.tls = true;
                self.push(EventKind::TlsUpgrade {
                    mechanism: arg.trim().to_ascii_uppercase(),
                });
            }
            ("PROT", 200) => {
                let private = arg.trim().eq_ignore_ascii_case("P");
                self.chan().prot_private = private;
                if private {
                    self.push(EventKind::DataProtected);
                }
            }
            ("PORT" | "EPRT" | "LPRT", _) if code.is_failure() => {
                let refused = self.chan.as_mut().and_then(|c| {
                    let pos = c.open.iter().position(|e| e.setup_frame == req_frame)?;
                    c.open.remove(pos)
                });
                if let Some(e) = refused {
                    self.close_unused(e);
                }
            }
            ("REIN", 220) => self.login = LoginTrack::default(),
            _ => {}
        }
        self.transfer_reply(&verb, req_frame, code, &text);
    }

    /// 227, 228 and 229 set up a passive channel whatever command they answer.
    fn passive_reply(&mut self, code: ReplyCode, text: &str) {
        match code.0 {
            227 => self.passive(DataMode::Pasv, address::parse_227(text.as_bytes())),
            228 => self.passive(DataMode::Lpsv, address::parse_228(text.as_bytes())),
            229 => self.passive(DataMode::Epsv, address::parse_229(text.as_bytes())),
            _ => {}
        }
    }

    fn transfer_reply(&mut self, verb: &str, req_frame: u64, code: ReplyCode, text: &str) {
        let Some(chan) = self.chan.as_mut() else {
            return;
        };
        let Some(pos) = chan
            .transfers
            .iter()
            .position(|t| t.command_frame == req_frame && t.command == verb)
        else {
            return;
        };
        if code.is_preliminary() {
            if let Some(n) = bytes_in_150(text) {
                chan.transfers[pos].size = Some(n);
            }
            if verb == "STOU" {
                // RFC 1123 4.1.2.9: the server names the unique file in its 125 or 150.
                if let Some(name) = parse::stou_file_name(text.as_bytes()) {
                    chan.transfers[pos].path = resolve_path(chan.cwd.as_deref(), &lossy(name));
                    let t = chan.transfers[pos].clone();
                    self.push(EventKind::TransferUpdated(t));
                }
            }
            return;
        }
        let Some(mut t) = chan.transfers.remove(pos) else {
            return;
        };
        t.reply_code = Some(code);
        t.end_frame = self.cur.0;
        t.outcome = match (t.outcome, code.0) {
            (Outcome::Aborted, _) => Outcome::Aborted,
            (_, 226 | 250) => Outcome::Complete,
            (_, c) if c >= 400 => Outcome::Failed,
            _ => Outcome::Complete,
        };
        if matches!(t.outcome, Outcome::Failed | Outcome::Aborted) {
            let detail = format!(
                "{} {} {}: {} {}",
                t.command,
                t.arg,
                t.outcome.name(),
                code.0,
                text
            );
            self.anomaly(Anomaly::TransferFailed, detail);
        }
        self.push(EventKind::TransferEnded(t));
    }
}

fn empty_transfer() -> Transfer {
    Transfer {
        channel_id: 0,
        mode: None,
        expectation: None,
        command: String::new(),
        arg: String::new(),
        path: String::new(),
        transfer_type: String::new(),
        rest_offset: 0,
        setup_frame: 0,
        command_frame: 0,
        end_frame: 0,
        size: None,
        outcome: Outcome::None,
        reply_code: None,
        data_tls: false,
    }
}

/// Whole printable text lines, as a cleared control channel carries (never a TLS record). After
/// `AUTH TLS` a dissector uses it to tell the clear lines after RFC 2228 CCC from TLS records.
pub fn looks_like_clear_lines(data: &[u8]) -> bool {
    data.len() >= 3
        && data.ends_with(b"\n")
        && data
            .iter()
            .all(|&c| c == b'\r' || c == b'\n' || c == b'\t' || (0x20..0x7f).contains(&c))
}

/// IPv4-mapped IPv6 addresses name the same host as their IPv4 form.
fn same_host(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

/// RFC 959 Appendix II: the 257 reply quotes the path, doubling embedded quotes.
fn quoted_path(text: &str) -> Option<String> {
    let start = text.find('"')? + 1;
    let mut out = String::new();
    let mut chars = text[start..].chars().peekable();
    while let Some(c) = chars.next() {
        if c == '"' {
            if chars.peek() == Some(&'"') {
                chars.next();
                out.push('"');
            } else {
                return Some(out);
            }
        } else {
            out.push(c);
        }
    }
    None
}

/// `150 Opening BINARY mode data connection for f (1234 bytes)`: the size many servers announce.
fn bytes_in_150(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let idx = lower.find(" bytes")?;
    let digits: String = lower[..idx]
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.chars().rev().collect::<String>().parse().ok()
}

#[cfg(test)]
mod tests;
