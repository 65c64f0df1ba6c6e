//! What one feed or finish publishes for C: events and flat items, every string in one
//! arena that the next feed reuses.

use super::sys::*;
use super::{endpoint, fill, mode_code, static_cstr};
use crate::present::{self, Target, ValueRef};
use crate::session::{Event, EventKind, LoginState, Outcome};
use std::ffi::c_char;
use std::net::IpAddr;

/// What the last feed or finish produced, as the C side reads it.
#[derive(Default)]
pub(crate) struct Published {
    pub(crate) events: Vec<ftplens_event>,
    pub(crate) items: Vec<ftplens_item>,
    /// Every string the events, items and summary point to, each NUL-terminated, back to back. Reused
    /// (cleared, not freed) by the next feed, so a feed costs no allocation per string.
    arena: Vec<u8>,
    /// Offset of the summary in `arena`; `None` before the first feed.
    summary: Option<usize>,
}

/// While a feed is published, string pointers hold `offset + 1` into the arena (NULL stays NULL):
/// the arena may move as it grows, so real addresses are only set once it is complete (`seal`).
fn offset_ptr(offset: usize) -> *const c_char {
    std::ptr::without_provenance(offset + 1)
}

impl Published {
    /// Copy `s` into the arena, NUL-terminated, with NUL characters replaced by U+FFFD; returns its
    /// placeholder pointer ([`offset_ptr`]).
    fn text(&mut self, s: &str) -> *const c_char {
        let at = self.arena.len();
        self.arena.extend_from_slice(present::c_text(s).as_bytes());
        self.arena.push(0);
        offset_ptr(at)
    }

    /// Turn the placeholders into addresses inside the completed arena.
    fn seal(&mut self) {
        let base = self.arena.as_ptr().cast::<c_char>();
        let fix = |p: &mut *const c_char| {
            if !p.is_null() {
                // The offset was taken from this arena, so it is in bounds.
                *p = base.wrapping_add(p.addr() - 1);
            }
        };
        for e in &mut self.events {
            for p in [
                &mut e.command,
                &mut e.arg,
                &mut e.text,
                &mut e.request_command,
                &mut e.user,
                &mut e.password,
                &mut e.path,
                &mut e.transfer_type,
                &mut e.export_name,
            ] {
                fix(p);
            }
        }
        for i in &mut self.items {
            fix(&mut i.string_value);
            fix(&mut i.expert_message);
        }
    }

    /// Publish `events`, with `summary` as the Info text.
    pub(crate) fn publish(&mut self, events: &[Event], summary: &str) {
        self.arena.clear();
        self.events.clear();
        self.items.clear();
        for ev in events {
            let e = self.event(ev);
            self.events.push(e);
        }
        let refs = present::item_refs(events);
        for item in &refs {
            let i = self.item(item);
            self.items.push(i);
        }
        let summary = self.text(summary);
        self.summary = Some(summary.addr() - 1);
        self.seal();
        for (out, item) in self.items.iter_mut().zip(&refs) {
            if let ValueRef::Static(s) = item.value {
                out.string_value = static_cstr(s);
            }
        }
    }

    pub(crate) fn summary(&self) -> *const c_char {
        match self.summary {
            Some(at) => self.arena[at..].as_ptr().cast(),
            None => c"".as_ptr(),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.events.clear();
        self.items.clear();
    }

    fn event(&mut self, ev: &Event) -> ftplens_event {
        let mut e = ftplens_event {
            direction: ev.direction as ftplens_direction,
            frame: ev.frame,
            ts: ev.ts,
            line_offset: u32::try_from(ev.span.0).unwrap_or(u32::MAX),
            line_length: u32::try_from(ev.span.1).unwrap_or(u32::MAX),
            response_time: -1.0,
            size: -1,
            ..Default::default()
        };
        match &ev.kind {
            EventKind::Command { verb, arg, .. } => {
                e.kind = FTPLENS_EVENT_COMMAND;
                e.command = self.text(verb);
                e.arg = self.text(arg.as_deref().unwrap_or(""));
            }
            EventKind::Reply(r) => {
                e.kind = FTPLENS_EVENT_REPLY;
                e.code = r.code.0;
                e.text = self.text(&r.text());
                e.reply_lines = u32::try_from(r.lines.len()).unwrap_or(u32::MAX);
                e.request_command = self.text(r.request.as_ref().map_or("", |q| q.verb.as_str()));
                if let Some(q) = &r.request {
                    e.request_frame = q.frame;
                    e.response_time = q.elapsed;
                }
            }
            EventKind::Login(l) => {
                e.kind = FTPLENS_EVENT_LOGIN;
                e.user = self.text(&l.user);
                e.password = match &l.password {
                    Some(p) => self.text(p),
                    None => std::ptr::null(),
                };
                e.anonymous = l.anonymous;
                e.login_state = match l.state {
                    LoginState::Attempt => FTPLENS_LOGIN_ATTEMPT,
                    LoginState::Success => FTPLENS_LOGIN_SUCCESS,
                    LoginState::Failure => FTPLENS_LOGIN_FAILURE,
                };
                e.failures = l.failures;
            }
            EventKind::DataExpected(x) => {
                e.kind = FTPLENS_EVENT_DATA_EXPECTED;
                e.channel_id = x.channel_id;
                e.mode = mode_code(Some(x.mode));
                e.data = endpoint(x.listener, x.port);
                e.alt_data = endpoint(
                    x.alt_listener,
                    if x.alt_listener.is_some() { x.port } else { 0 },
                );
                e.peer = endpoint(x.connector, 0);
                fill(&mut e.arithmetic, &present::arithmetic(x));
            }
            // An update (STOU's server-chosen name) is told as the start again, with the path.
            EventKind::TransferStarted(t)
            | EventKind::TransferUpdated(t)
            | EventKind::TransferEnded(t) => {
                e.kind = if !matches!(ev.kind, EventKind::TransferEnded(_)) {
                    FTPLENS_EVENT_TRANSFER_STARTED
                } else {
                    FTPLENS_EVENT_TRANSFER_ENDED
                };
                e.channel_id = t.channel_id;
                e.mode = mode_code(t.mode);
                e.command = self.text(&t.command);
                e.arg = self.text(&t.arg);
                e.path = self.text(&t.path);
                e.transfer_type = self.text(&t.transfer_type);
                e.rest_offset = t.rest_offset;
                e.setup_frame = t.setup_frame;
                e.command_frame = t.command_frame;
                e.size = t.size.and_then(|s| i64::try_from(s).ok()).unwrap_or(-1);
                e.code = t.reply_code.map_or(0, |c| c.0);
                e.outcome = match t.outcome {
                    Outcome::None => FTPLENS_OUTCOME_NONE,
                    Outcome::Complete => FTPLENS_OUTCOME_COMPLETE,
                    Outcome::Failed => FTPLENS_OUTCOME_FAILED,
                    Outcome::Aborted => FTPLENS_OUTCOME_ABORTED,
                    Outcome::Unknown => FTPLENS_OUTCOME_UNKNOWN,
                    Outcome::Expired => FTPLENS_OUTCOME_EXPIRED,
                };
                e.data_tls = t.data_tls;
                if let Some(name) = t.export_name() {
                    e.export_name = self.text(&name);
                }
                if let Some(x) = &t.expectation {
                    e.data = endpoint(x.listener, x.port);
                    e.alt_data = endpoint(
                        x.alt_listener,
                        if x.alt_listener.is_some() { x.port } else { 0 },
                    );
                    e.peer = endpoint(x.connector, 0);
                }
            }
            EventKind::TlsUpgrade { mechanism } => {
                e.kind = FTPLENS_EVENT_TLS_UPGRADE;
                e.text = self.text(mechanism);
            }
            EventKind::DataProtected => e.kind = FTPLENS_EVENT_DATA_PROTECTED,
            EventKind::Anomaly { anomaly, detail } => {
                e.kind = FTPLENS_EVENT_ANOMALY;
                e.anomaly = *anomaly as ftplens_anomaly;
                e.text = self.text(detail);
            }
        }
        e
    }

    fn item(&mut self, it: &present::ItemRef<'_>) -> ftplens_item {
        let mut out = ftplens_item {
            field: it.field as u32,
            depth: it.depth,
            offset: u32::try_from(it.offset).unwrap_or(u32::MAX),
            length: u32::try_from(it.length).unwrap_or(u32::MAX),
            generated: it.generated,
            expert: FTPLENS_NO_EXPERT,
            ..Default::default()
        };
        (out.target, out.target_frame, out.channel_id) = target_code(it.target);
        match &it.value {
            ValueRef::Str(s) => out.string_value = self.text(s),
            // A real address, not an arena offset: set once the arena is sealed (publish).
            ValueRef::Static(_) => {}
            ValueRef::Uint(n) | ValueRef::Frame(n) => out.uint_value = *n,
            ValueRef::Bool(b) => out.uint_value = u64::from(*b),
            ValueRef::Time(t) => out.time_value = *t,
            ValueRef::Ip(IpAddr::V4(a)) => out.addr[..4].copy_from_slice(&a.octets()),
            ValueRef::Ip(IpAddr::V6(a)) => out.addr = a.octets(),
        }
        if let Some((expert, message)) = &it.expert {
            out.expert = *expert as u32;
            out.expert_message = self.text(message);
        }
        out
    }
}

/// A destination as the header spells it: (target, target_frame, channel_id).
fn target_code(t: Target) -> (ftplens_item_target, u64, u32) {
    match t {
        Target::Frame => (FTPLENS_TARGET_FRAME, 0, 0),
        Target::Earlier(f) => (FTPLENS_TARGET_EARLIER, f, 0),
        Target::Channel(c) => (FTPLENS_TARGET_CHANNEL, 0, c),
    }
}
