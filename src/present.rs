//! Turning events into dissector tree items: the presentation both the C plugin and the Lua fallback
//! render without knowing FTP. Items are a pure function of events.

use crate::fields::{Expert, FIELDS, Field};
use crate::parse::{ReplyCode, reply_category, reply_class, reply_meaning};
use crate::session::{Event, EventKind, LoginState, Outcome, Transfer};
use crate::{Anomaly, Expectation};
use std::net::IpAddr;

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

struct Builder {
    items: Vec<Item>,
    target: Target,
    span: (usize, usize),
}

impl Builder {
    fn add(
        &mut self,
        field: Field,
        depth: u32,
        at: Option<(usize, usize)>,
        value: Value,
    ) -> &mut Item {
        let (offset, length) = at.unwrap_or((self.span.0, 0));
        self.items.push(Item {
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

    fn generated(&mut self, field: Field, value: Value) -> &mut Item {
        self.add(field, 0, None, value)
    }

    fn expert(&mut self, expert: Expert, message: impl Into<String>) {
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

/// The items for one feed's events, in display order.
pub fn items(events: &[Event]) -> Vec<Item> {
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
            } => {
                let at = b.within(0, verb.len());
                b.add(Field::RequestCommand, 0, at, Value::Str(verb.clone()));
                if let Some(arg) = arg {
                    let at = b.within(*arg_offset, arg.len());
                    b.add(Field::RequestArg, 0, at, Value::Str(arg.clone()));
                }
                if *known {
                    if let Some(info) = crate::parse::lookup_verb(verb.as_bytes()) {
                        b.generated(
                            Field::RequestDescription,
                            Value::Str(match info.rfc {
                                0 => info.description.to_string(),
                                rfc => format!("{} (RFC {rfc})", info.description),
                            }),
                        );
                    }
                }
            }
            EventKind::Login(l) => login(&mut b, l),
            EventKind::Reply(r) => reply(&mut b, ev, r),
            EventKind::DataExpected(e) => expected(&mut b, e),
            EventKind::TransferStarted(t) if t.channel_id != 0 => {
                b.target = Target::Channel(t.channel_id);
                b.generated(Field::DataCommand, Value::Str(t.command.clone()));
                b.generated(Field::DataFile, Value::Str(t.arg.clone()));
                b.generated(Field::DataPath, Value::Str(t.path.clone()));
                b.generated(Field::DataCommandFrame, Value::Frame(t.command_frame));
                b.generated(Field::DataOffset, Value::Uint(t.rest_offset));
                if !t.transfer_type.is_empty() {
                    b.generated(Field::DataType, Value::Str(t.transfer_type.clone()));
                }
                if let Some(size) = t.size {
                    b.generated(Field::DataSize, Value::Uint(size));
                }
                if t.data_tls {
                    b.generated(Field::DataTls, Value::Bool(true));
                }
            }
            EventKind::TransferStarted(_) => {}
            EventKind::TransferEnded(t) => ended(&mut b, t),
            EventKind::TlsUpgrade { mechanism } => {
                b.generated(Field::TlsUpgrade, Value::Str(mechanism.clone()));
                b.expert(
                    Expert::TlsUpgrade,
                    format!("AUTH {mechanism} accepted: the control connection continues in TLS"),
                );
            }
            EventKind::DataProtected => {}
            EventKind::Anomaly { anomaly, detail } => {
                b.generated(Field::Anomaly, Value::Str(anomaly.name().to_string()));
                b.expert(Expert::for_anomaly(*anomaly), detail.clone());
            }
        }
    }
    b.items
}

fn login(b: &mut Builder, l: &crate::session::Login) {
    match (l.state, &l.password) {
        (LoginState::Attempt, None) => {
            b.generated(Field::User, Value::Str(l.user.clone()));
            if l.anonymous {
                b.generated(Field::Anonymous, Value::Bool(true));
                b.expert(
                    Expert::AnonymousLogin,
                    format!("Anonymous login as {}", l.user),
                );
            }
        }
        (LoginState::Attempt, Some(pass)) => {
            b.generated(Field::Password, Value::Str(pass.clone()));
            b.expert(
                Expert::CleartextCredentials,
                format!("Password for user {} sent in clear text", l.user),
            );
        }
        (state, _) => {
            let ok = state == LoginState::Success;
            b.generated(Field::LoginSuccess, Value::Bool(ok));
            b.generated(Field::LoginUser, Value::Str(l.user.clone()));
            if !ok {
                b.expert(
                    Expert::LoginFailed,
                    format!("Login failed for user {}", l.user),
                );
                b.generated(Field::LoginFailures, Value::Uint(u64::from(l.failures)));
            }
        }
    }
}

fn reply(b: &mut Builder, ev: &Event, r: &crate::session::Reply) {
    let code = r.code;
    let at = b.within(0, 3);
    b.add(Field::ResponseCode, 0, at, Value::Uint(u64::from(code.0)));
    b.add(
        Field::ResponseClass,
        1,
        None,
        Value::Str(reply_class(code).to_string()),
    );
    b.add(
        Field::ResponseCategory,
        1,
        None,
        Value::Str(reply_category(code).to_string()),
    );
    let meaning = reply_meaning(code);
    if !meaning.is_empty() {
        b.add(
            Field::ResponseMeaning,
            1,
            None,
            Value::Str(meaning.to_string()),
        );
    }
    let at = b.within(4, b.span.1.saturating_sub(4));
    b.add(Field::ResponseArg, 0, at, Value::Str(r.text()));
    if r.lines.len() > 1 {
        let at = b.within(0, b.span.1);
        b.add(
            Field::ResponseLines,
            0,
            at,
            Value::Uint(r.lines.len() as u64),
        );
        for line in &r.lines {
            b.add(Field::ResponseLine, 1, None, Value::Str(line.clone()));
        }
    }
    if let Some(req) = &r.request {
        b.generated(Field::RequestIn, Value::Frame(req.frame));
        b.generated(Field::Time, Value::Time(req.elapsed));
        if !code.is_preliminary() && req.frame != ev.frame {
            b.target = Target::Earlier(req.frame);
            b.generated(Field::ResponseIn, Value::Frame(ev.frame));
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

fn expected(b: &mut Builder, e: &Expectation) {
    b.generated(Field::DataMode, Value::Str(e.mode.name().to_string()));
    match e.endpoint.addr.or(e.listener) {
        Some(ip @ IpAddr::V4(_)) => {
            b.generated(Field::DataIp, Value::Ip(ip));
        }
        Some(ip @ IpAddr::V6(_)) => {
            b.generated(Field::DataIpv6, Value::Ip(ip));
        }
        None => {}
    }
    b.generated(Field::DataPort, Value::Uint(u64::from(e.port)));
    b.generated(Field::DataArithmetic, Value::Str(arithmetic(e)));
    match e.alt_listener {
        Some(ip @ IpAddr::V4(_)) => {
            b.generated(Field::DataAltIp, Value::Ip(ip));
        }
        Some(ip @ IpAddr::V6(_)) => {
            b.generated(Field::DataAltIpv6, Value::Ip(ip));
        }
        None => {}
    }
    b.generated(Field::DataChannel, Value::Uint(u64::from(e.channel_id)));
    b.target = Target::Channel(e.channel_id);
    b.generated(Field::DataChannelId, Value::Uint(u64::from(e.channel_id)));
    b.generated(Field::DataModeName, Value::Str(e.mode.name().to_string()));
    b.generated(Field::DataSetupFrame, Value::Frame(e.setup_frame));
}

fn ended(b: &mut Builder, t: &Transfer) {
    if !t.command.is_empty() {
        b.generated(Field::TransferFile, Value::Str(t.path.clone()));
        b.generated(
            Field::TransferOutcome,
            Value::Str(t.outcome.name().to_string()),
        );
    }
    if t.channel_id == 0 {
        return;
    }
    b.target = Target::Channel(t.channel_id);
    b.generated(Field::DataOutcome, Value::Str(t.outcome.name().to_string()));
    if t.outcome != Outcome::Expired {
        b.generated(Field::DataEndFrame, Value::Frame(t.end_frame));
    }
    if let Some(ReplyCode(c)) = t.reply_code {
        b.generated(Field::DataReplyCode, Value::Uint(u64::from(c)));
    }
}

/// The Info column for one feed: `Request: USER alice`, `Response: 230 Login successful.`
pub fn summary(events: &[Event]) -> String {
    let mut parts: Vec<String> = Vec::new();
    for ev in events {
        match &ev.kind {
            EventKind::Command {
                verb,
                arg: Some(arg),
                ..
            } => parts.push(format!("Request: {verb} {arg}")),
            EventKind::Command {
                verb, arg: None, ..
            } => parts.push(format!("Request: {verb}")),
            EventKind::Reply(r) => {
                let first = r.lines.first().map(String::as_str).unwrap_or("");
                parts.push(format!("Response: {} {first}", r.code.0));
            }
            EventKind::Anomaly {
                anomaly: Anomaly::LineTooLong,
                ..
            } => parts.push("[line too long]".into()),
            _ => {}
        }
    }
    let mut s = parts.join(", ");
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
}
