//! Turning events into dissector tree items: the presentation both the C plugin and the Lua fallback
//! render without knowing FTP. Items are a pure function of events.

use crate::fields::{Expert, FIELDS, Field};
use crate::parse::{ReplyCode, reply_category, reply_class, reply_meaning};
use crate::session::{Event, EventKind, LoginState, Outcome, Transfer};
use crate::{Anomaly, Expectation};
use std::borrow::Cow;
use std::net::IpAddr;

pub mod listing;

/// Where an item is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The tree of the frame being dissected.
    Frame,
    /// An earlier frame's tree (for example `response_in` on the request).
    Earlier(u64),
    /// The `ftplens-data` tree of every packet of a data channel.
    Channel(u32),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A subtree label.
    Label(String),
    Str(String),
    Uint(u64),
    Bool(bool),
    Frame(u64),
    Time(f64),
    Ip(IpAddr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub target: Target,
    pub field: Field,
    pub depth: u32,
    pub offset: usize,
    pub length: usize,
    pub generated: bool,
    pub value: Value,
    pub expert: Option<(Expert, String)>,
}

/// [`Value`] with its text borrowed from the events where it can be (no copy per item).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ValueRef<'a> {
    Str(Cow<'a, str>),
    /// Text from a fixed table (reply meanings, command descriptions, mode and outcome names):
    /// presenters may keep a reference instead of a copy.
    Static(&'static str),
    Uint(u64),
    Bool(bool),
    Frame(u64),
    Time(f64),
    Ip(IpAddr),
}

/// [`Item`] with borrowed text: what [`item_refs`] returns, for presenters that copy the text out
/// anyway (the C ABI).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ItemRef<'a> {
    pub target: Target,
    pub field: Field,
    pub depth: u32,
    pub offset: usize,
    pub length: usize,
    pub generated: bool,
    pub value: ValueRef<'a>,
    pub expert: Option<(Expert, Cow<'a, str>)>,
}

impl ItemRef<'_> {
    fn into_owned(self) -> Item {
        Item {
            target: self.target,
            field: self.field,
            depth: self.depth,
            offset: self.offset,
            length: self.length,
            generated: self.generated,
            value: match self.value {
                ValueRef::Str(s) => Value::Str(s.into_owned()),
                ValueRef::Static(s) => Value::Str(s.to_string()),
                ValueRef::Uint(n) => Value::Uint(n),
                ValueRef::Bool(b) => Value::Bool(b),
                ValueRef::Frame(n) => Value::Frame(n),
                ValueRef::Time(t) => Value::Time(t),
                ValueRef::Ip(ip) => Value::Ip(ip),
            },
            expert: self.expert.map(|(e, m)| (e, m.into_owned())),
        }
    }
}

struct Builder<'a> {
    items: Vec<ItemRef<'a>>,
    target: Target,
    span: (usize, usize),
}

impl<'a> Builder<'a> {
    fn add(
        &mut self,
        field: Field,
        depth: u32,
        at: Option<(usize, usize)>,
        value: ValueRef<'a>,
    ) -> &mut ItemRef<'a> {
        let (offset, length) = at.unwrap_or((self.span.0, 0));
        self.items.push(ItemRef {
            target: self.target,
            field,
            depth,
            offset,
            length,
            generated: at.is_none(),
            value,
            expert: None,
        });
        let last = self.items.len() - 1;
        &mut self.items[last]
    }

    fn generated(&mut self, field: Field, value: ValueRef<'a>) -> &mut ItemRef<'a> {
        self.add(field, 0, None, value)
    }

    /// A generated address in the IPv4 or the IPv6 field of a pair; nothing when unknown.
    fn address(&mut self, ip: Option<IpAddr>, v4: Field, v6: Field) {
        if let Some(ip) = ip {
            let field = if ip.is_ipv4() { v4 } else { v6 };
            self.generated(field, ValueRef::Ip(ip));
        }
    }

    fn expert(&mut self, expert: Expert, message: impl Into<Cow<'a, str>>) {
        if let Some(last) = self.items.last_mut() {
            last.expert = Some((expert, message.into()));
        }
    }

    /// A sub-span of the line, clipped to it.
    fn within(&self, start: usize, len: usize) -> Option<(usize, usize)> {
        let (o, l) = self.span;
        let start = start.min(l);
        Some((o + start, len.min(l - start)))
    }
}

/// `s` as a C string may hold it: a NUL inside becomes U+FFFD (the C side reads up to the first NUL).
/// Borrowed when there is none, which is nearly always. Every glue writes strings through it (the
/// Lua module too, though Lua strings may hold NUL), so that all show the same.
pub fn c_text(s: &str) -> Cow<'_, str> {
    if memchr::memchr(0, s.as_bytes()).is_none() {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.replace('\0', "\u{fffd}"))
    }
}

/// What stands for each byte of a password when passwords are hidden.
pub const HIDDEN_PASSWORD_BYTE: char = '*';

/// A password hidden: one [`HIDDEN_PASSWORD_BYTE`] per byte, so the tree item still covers exactly
/// the argument's bytes (the length is no secret: the frame's own length tells it).
fn hidden(password: &str) -> String {
    std::iter::repeat_n(HIDDEN_PASSWORD_BYTE, password.len()).collect()
}

/// `events` with every password replaced by stars ([`hidden`]), for presenters that offer to hide
/// them (the Wireshark plugin's and the Lua fallback's "Hide passwords"): the argument of PASS
/// (RFC 959 section 4.1.1) and the password of a login. Tree items, Info text and the event records
/// taps read are all made from events, so masking here reaches every one of them. Borrowed when
/// `events` hold no password, which is nearly every feed.
pub fn hide_passwords(events: &[Event]) -> Cow<'_, [Event]> {
    fn is_pass(verb: &str) -> bool {
        verb.eq_ignore_ascii_case("PASS")
    }
    let holds_password = |ev: &Event| match &ev.kind {
        EventKind::Command { verb, arg, .. } => is_pass(verb) && arg.is_some(),
        EventKind::Login(l) => l.password.is_some(),
        _ => false,
    };
    if !events.iter().any(holds_password) {
        return Cow::Borrowed(events);
    }
    let mut out = events.to_vec();
    for ev in &mut out {
        match &mut ev.kind {
            EventKind::Command {
                verb,
                arg: Some(arg),
                ..
            } if is_pass(verb) => *arg = hidden(arg),
            EventKind::Login(crate::session::Login {
                password: Some(p), ..
            }) => *p = hidden(p),
            _ => {}
        }
    }
    Cow::Owned(out)
}

/// The items for one feed's events, in display order.
pub fn items(events: &[Event]) -> Vec<Item> {
    item_refs(events)
        .into_iter()
        .map(ItemRef::into_owned)
        .collect()
}

/// [`items`], with text borrowed from the events.
pub(crate) fn item_refs(events: &[Event]) -> Vec<ItemRef<'_>> {
    let mut b = Builder {
        items: Vec::new(),
        target: Target::Frame,
        span: (0, 0),
    };
    for ev in events {
        b.target = Target::Frame;
        b.span = ev.span;
        match &ev.kind {
            EventKind::Command {
                verb,
                arg,
                arg_offset,
                known,
                ..
            } => {
                let at = b.within(0, verb.len());
                b.add(Field::RequestCommand, 0, at, ValueRef::Str(verb.into()));
                if let Some(arg) = arg {
                    let at = b.within(*arg_offset, arg.len());
                    b.add(Field::RequestArg, 0, at, ValueRef::Str(arg.into()));
                }
                if *known {
                    if let Some(info) = crate::parse::lookup_verb(verb.as_bytes()) {
                        b.generated(
                            Field::RequestDescription,
                            ValueRef::Static(info.full_description()),
                        );
                    }
                }
            }
            EventKind::Login(l) => login(&mut b, l),
            EventKind::Reply(r) => reply(&mut b, ev, r),
            EventKind::DataExpected(e) => expected(&mut b, e),
            // An update (STOU's name from the server's 150, RFC 1123 4.1.2.9) restates the
            // channel's facts: the host keeps the latest value of each.
            EventKind::TransferStarted(t) | EventKind::TransferUpdated(t) if t.channel_id != 0 => {
                b.target = Target::Channel(t.channel_id);
                b.generated(Field::DataCommand, ValueRef::Str(t.command.as_str().into()));
                b.generated(Field::DataFile, ValueRef::Str(t.arg.as_str().into()));
                b.generated(Field::DataPath, ValueRef::Str(t.path.as_str().into()));
                b.generated(Field::DataCommandFrame, ValueRef::Frame(t.command_frame));
                // Like the type and the size, the offset is shown when there is one: a REST.
                if t.rest_offset > 0 {
                    b.generated(Field::DataOffset, ValueRef::Uint(t.rest_offset));
                }
                if !t.transfer_type.is_empty() {
                    b.generated(
                        Field::DataType,
                        ValueRef::Str(t.transfer_type.as_str().into()),
                    );
                }
                if let Some(size) = t.size {
                    b.generated(Field::DataSize, ValueRef::Uint(size));
                }
                if t.data_tls {
                    b.generated(Field::DataTls, ValueRef::Bool(true));
                }
            }
            EventKind::TransferStarted(_) | EventKind::TransferUpdated(_) => {}
            EventKind::TransferEnded(t) => ended(&mut b, t),
            EventKind::TlsUpgrade { mechanism } => {
                b.generated(Field::TlsUpgrade, ValueRef::Str(mechanism.into()));
                b.expert(
                    Expert::TlsUpgrade,
                    format!("AUTH {mechanism} accepted: the control connection continues in TLS"),
                );
            }
            EventKind::DataProtected => {}
            EventKind::Anomaly { anomaly, detail } => {
                b.generated(Field::Anomaly, ValueRef::Static(anomaly.name()));
                b.expert(Expert::for_anomaly(*anomaly), detail);
            }
        }
    }
    b.items
}

fn login<'a>(b: &mut Builder<'a>, l: &'a crate::session::Login) {
    match (l.state, &l.password) {
        (LoginState::Attempt, None) => {
            b.generated(Field::User, ValueRef::Str(l.user.as_str().into()));
            if l.anonymous {
                b.generated(Field::Anonymous, ValueRef::Bool(true));
                b.expert(
                    Expert::AnonymousLogin,
                    format!("Anonymous login as {}", l.user),
                );
            }
        }
        (LoginState::Attempt, Some(pass)) => {
            b.generated(Field::Password, ValueRef::Str(pass.into()));
            b.expert(
                Expert::CleartextCredentials,
                format!("Password for user {} sent in clear text", l.user),
            );
        }
        (state, _) => {
            let ok = state == LoginState::Success;
            b.generated(Field::LoginSuccess, ValueRef::Bool(ok));
            b.generated(Field::LoginUser, ValueRef::Str(l.user.as_str().into()));
            if !ok {
                b.expert(
                    Expert::LoginFailed,
                    format!("Login failed for user {}", l.user),
                );
                b.generated(Field::LoginFailures, ValueRef::Uint(u64::from(l.failures)));
            }
        }
    }
}

fn reply<'a>(b: &mut Builder<'a>, ev: &Event, r: &'a crate::session::Reply) {
    let code = r.code;
    let at = b.within(0, 3);
    b.add(
        Field::ResponseCode,
        0,
        at,
        ValueRef::Uint(u64::from(code.0)),
    );
    b.add(
        Field::ResponseClass,
        1,
        None,
        ValueRef::Static(reply_class(code)),
    );
    b.add(
        Field::ResponseCategory,
        1,
        None,
        ValueRef::Static(reply_category(code)),
    );
    let meaning = reply_meaning(code);
    if !meaning.is_empty() {
        b.add(Field::ResponseMeaning, 1, None, ValueRef::Static(meaning));
    }
    let at = b.within(4, b.span.1.saturating_sub(4));
    b.add(Field::ResponseArg, 0, at, ValueRef::Str(r.text().into()));
    if r.lines.len() > 1 {
        let at = b.within(0, b.span.1);
        b.add(
            Field::ResponseLines,
            0,
            at,
            ValueRef::Uint(r.lines.len() as u64),
        );
        for line in &r.lines {
            b.add(Field::ResponseLine, 1, None, ValueRef::Str(line.into()));
        }
    }
    if let Some(req) = &r.request {
        b.generated(Field::RequestIn, ValueRef::Frame(req.frame));
        b.generated(Field::Time, ValueRef::Time(req.elapsed));
        if !code.is_preliminary() && req.frame != ev.frame {
            b.target = Target::Earlier(req.frame);
            b.generated(Field::ResponseIn, ValueRef::Frame(ev.frame));
            b.target = Target::Frame;
        }
    }
}

/// `192.168.1.109:26758 (104*256+134)`; for 229, the control server's address with the port.
pub fn arithmetic(e: &Expectation) -> String {
    match (e.endpoint.addr, e.listener) {
        (None, Some(IpAddr::V4(l))) => format!("{l}:{} (EPSV: control server address)", e.port),
        (None, Some(IpAddr::V6(l))) => format!("[{l}]:{} (EPSV: control server address)", e.port),
        _ => e.endpoint.to_string(),
    }
}

fn expected(b: &mut Builder<'_>, e: &Expectation) {
    b.generated(Field::DataMode, ValueRef::Static(e.mode.name()));
    b.address(
        e.endpoint.addr.or(e.listener),
        Field::DataIp,
        Field::DataIpv6,
    );
    b.generated(Field::DataPort, ValueRef::Uint(u64::from(e.port)));
    b.generated(Field::DataArithmetic, ValueRef::Str(arithmetic(e).into()));
    b.address(e.alt_listener, Field::DataAltIp, Field::DataAltIpv6);
    b.generated(Field::DataChannel, ValueRef::Uint(u64::from(e.channel_id)));
    b.target = Target::Channel(e.channel_id);
    b.generated(
        Field::DataChannelId,
        ValueRef::Uint(u64::from(e.channel_id)),
    );
    b.generated(Field::DataModeName, ValueRef::Static(e.mode.name()));
    b.generated(Field::DataSetupFrame, ValueRef::Frame(e.setup_frame));
}

fn ended<'a>(b: &mut Builder<'a>, t: &'a Transfer) {
    if !t.command.is_empty() {
        b.generated(Field::TransferFile, ValueRef::Str(t.path.as_str().into()));
        b.generated(Field::TransferOutcome, ValueRef::Static(t.outcome.name()));
    }
    if t.channel_id == 0 {
        return;
    }
    b.target = Target::Channel(t.channel_id);
    b.generated(Field::DataOutcome, ValueRef::Static(t.outcome.name()));
    // No end frame without a final reply: an unused prediction, or a transfer the capture ended.
    if t.outcome != Outcome::Expired && t.end_frame != 0 {
        b.generated(Field::DataEndFrame, ValueRef::Frame(t.end_frame));
    }
    if let Some(ReplyCode(c)) = t.reply_code {
        b.generated(Field::DataReplyCode, ValueRef::Uint(u64::from(c)));
    }
}

/// The Info column for one feed: `Request: USER alice`, `Response: 230 Login successful.`
/// The Info text of one feed: [`summary`] of its events, or, when they name no command or reply,
/// what it carried of a multi-line reply that is not over yet (`before` and `after`: that reply's
/// code and line count before and after the feed, from [`crate::Session::open_reply`]). A frame
/// with the first or middle lines of a long FEAT answer is then labelled with them, not left
/// blank.
pub fn feed_summary(
    events: &[Event],
    before: Option<(ReplyCode, usize)>,
    after: Option<(ReplyCode, &[String])>,
) -> String {
    let s = summary(events);
    if !s.is_empty() {
        return s;
    }
    let Some((code, lines)) = after else {
        return s;
    };
    let from = match before {
        Some((c, n)) if c == code => n,
        _ => 0,
    };
    match (from, lines.len()) {
        (_, to) if to <= from => s,
        (0, 1) => format!(
            "Response: {}- {} (multi-line reply begins)",
            code.0, lines[0]
        ),
        (0, to) => format!(
            "Response: {}- {} (multi-line reply begins, lines 1-{to})",
            code.0, lines[0]
        ),
        (f, to) if to == f + 1 => format!(
            "Response: {}- (multi-line reply continues, line {to})",
            code.0
        ),
        (f, to) => format!(
            "Response: {}- (multi-line reply continues, lines {}-{to})",
            code.0,
            f + 1
        ),
    }
}

pub fn summary(events: &[Event]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    for ev in events {
        // Parts are joined by ", " (each part is non-empty, so an empty `s` means "first part").
        let sep = if s.is_empty() { "" } else { ", " };
        // Writing into a String cannot fail.
        let _ = match &ev.kind {
            EventKind::Command {
                verb,
                arg: Some(arg),
                ..
            } => write!(s, "{sep}Request: {verb} {arg}"),
            EventKind::Command {
                verb, arg: None, ..
            } => write!(s, "{sep}Request: {verb}"),
            EventKind::Reply(r) => {
                let first = r.lines.first().map(String::as_str).unwrap_or("");
                write!(s, "{sep}Response: {} {first}", r.code.0)
            }
            EventKind::Anomaly {
                anomaly: Anomaly::LineTooLong,
                ..
            } => write!(s, "{sep}[line too long]"),
            _ => Ok(()),
        };
    }
    if s.len() > 240 {
        let mut cut = 240;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// A field's registry entry (for presenters that want names in messages).
pub fn field_name(f: Field) -> &'static str {
    FIELDS[f as usize].abbrev
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Direction, Session};

    fn find<'a>(items: &'a [Item], abbrev: &str) -> Vec<&'a Item> {
        items
            .iter()
            .filter(|i| field_name(i.field) == abbrev)
            .collect()
    }

    #[test]
    fn seed_pasv_items() {
        let mut s = Session::new(
            Some("192.168.1.106:57658".parse().unwrap()),
            Some("192.168.1.109:21".parse().unwrap()),
            Default::default(),
        );
        s.feed(Direction::ToServer, b"PASV\r\n", 14, 1.0);
        let ev = s
            .feed(
                Direction::ToClient,
                b"227 Entering Passive Mode (192,168,1,109,104,134).\r\n",
                16,
                1.5,
            )
            .to_vec();
        let items = items(&ev);
        let code = find(&items, "ftplens.response.code")[0];
        assert_eq!(
            (code.value.clone(), code.offset, code.length, code.generated),
            (Value::Uint(227), 0, 3, false)
        );
        assert_eq!(
            find(&items, "ftplens.data.port")[0].value,
            Value::Uint(26758)
        );
        assert_eq!(
            find(&items, "ftplens.data.arithmetic")[0].value,
            Value::Str("192.168.1.109:26758 (104*256+134)".into())
        );
        assert_eq!(
            find(&items, "ftplens.response.class")[0].value,
            Value::Str("Positive Completion".into())
        );
        assert_eq!(
            find(&items, "ftplens.response.category")[0].value,
            Value::Str("Connections".into())
        );
        let resp_in = find(&items, "ftplens.response_in")[0];
        assert_eq!(
            (resp_in.target, resp_in.value.clone()),
            (Target::Earlier(14), Value::Frame(16))
        );
        assert_eq!(find(&items, "ftplens.time")[0].value, Value::Time(0.5));
        let setup = find(&items, "ftplens-data.setup_frame")[0];
        assert_eq!(
            (setup.target, setup.value.clone()),
            (Target::Channel(1), Value::Frame(16))
        );
        assert_eq!(
            summary(&ev),
            "Response: 227 Entering Passive Mode (192,168,1,109,104,134)."
        );
    }

    #[test]
    fn hidden_passwords_leave_no_trace_in_items_or_info() {
        let mut s = Session::default();
        s.feed(Direction::ToServer, b"USER alice\r\n", 1, 0.0);
        let ev = s
            .feed(Direction::ToServer, b"pass s3cret\r\n", 2, 0.0)
            .to_vec();
        let hidden = hide_passwords(&ev);
        let items = items(&hidden);
        assert_eq!(
            find(&items, "ftplens.password")[0].value,
            Value::Str("******".into())
        );
        let arg = find(&items, "ftplens.request.arg")[0];
        assert_eq!(arg.value, Value::Str("******".into()));
        // Still over the argument's bytes, so the tree points at where the password was.
        assert_eq!((arg.offset, arg.length), (5, 6));
        assert!(!format!("{items:?}").contains("s3cret"));
        assert_eq!(summary(&hidden), "Request: pass ******");
        // A feed without a password is passed through untouched.
        let user = s
            .feed(Direction::ToServer, b"USER bob\r\n", 3, 0.0)
            .to_vec();
        assert!(matches!(hide_passwords(&user), Cow::Borrowed(_)));
    }

    #[test]
    fn password_carries_cleartext_expert() {
        let mut s = Session::default();
        s.feed(Direction::ToServer, b"USER alice\r\n", 1, 0.0);
        let ev = s
            .feed(Direction::ToServer, b"PASS s3cret\r\n", 2, 0.0)
            .to_vec();
        let items = items(&ev);
        let pass = find(&items, "ftplens.password")[0];
        assert_eq!(pass.value, Value::Str("s3cret".into()));
        assert_eq!(
            pass.expert.as_ref().unwrap().0,
            Expert::CleartextCredentials
        );
        let arg = find(&items, "ftplens.request.arg")[0];
        assert_eq!((arg.offset, arg.length), (5, 6));
    }

    /// Issue 11 class 3: a multi-line 211 in four segments (RFC 959 4.2): the frames before its
    /// last line are labelled with the lines they carry.
    #[test]
    fn frames_with_first_or_middle_lines_of_a_reply_are_labelled() {
        use crate::{Direction, Limits, Session};
        let mut s = Session::new(None, None, Limits::default());
        s.feed(Direction::ToServer, b"FEAT\r\n", 1, 0.0);
        let parts: [&[u8]; 4] = [
            b"211-Features:\r\n",
            b" EPRT\r\n EPSV\r\n",
            b" MDTM\r\n",
            b" SIZE\r\n211 End\r\n",
        ];
        let mut labels = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let before = s.open_reply().map(|(c, l)| (c, l.len()));
            s.feed(Direction::ToClient, p, 2 + i as u64, 0.1);
            labels.push(feed_summary(s.events(), before, s.open_reply()));
        }
        assert_eq!(
            labels[0],
            "Response: 211- Features: (multi-line reply begins)"
        );
        assert_eq!(
            labels[1],
            "Response: 211- (multi-line reply continues, lines 2-3)"
        );
        assert_eq!(
            labels[2],
            "Response: 211- (multi-line reply continues, line 4)"
        );
        assert!(labels[3].starts_with("Response: 211 "), "{}", labels[3]);
    }
}
