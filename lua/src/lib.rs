//! `ftplens_core`: the native Lua module behind the Lua fallback dissector (`lua/ftplens.lua`).
//!
//! It exposes the ftplens core to Wireshark's embedded Lua, so that the Lua dissector parses no FTP
//! itself: it hands whole lines of TCP payload to a [`Session`] and renders the items that
//! [`ftplens::present::items`] returns, exactly as the C plugin renders them through the C ABI.
//!
//! The module links no Lua: mlua's `module` feature leaves every `lua_*` symbol to the host. The Lua
//! version is a build choice (cargo features `lua52`, `lua53`, `lua54`), because Wireshark 4.0 embeds
//! Lua 5.2 and Wireshark 4.4 and later embed 5.3 or 5.4.
//!
//! ```lua
//! local core = require "ftplens_core"
//! local s = core.new_session("192.168.1.106", 57658, "192.168.1.109", 21)
//! local r = s:feed(false, "227 Entering Passive Mode (192,168,1,109,104,134).\r\n", 16, 1.5)
//! -- r.summary, r.items (tree items), r.events (data-channel bookkeeping)
//! ```
//!
//! Values cross as plain Lua values, shaped for Wireshark's Lua API: a uint field's value comes as
//! two 32-bit halves (`lo`, `hi`) for `UInt64.new(lo, hi)` (Lua 5.2 has no 64-bit integers), a
//! relative time as `secs` and `nsecs` for `NSTime.new`, computed as the C plugin computes them.

use ftplens::fields::{EXPERTS, ExpertGroup, FIELDS, FieldType, FrameRole, Severity};
use ftplens::limits::LIMITS;
use ftplens::present::{self, Target, Value};
use ftplens::{Direction, EventKind, Expectation, Limits, Session};
use mlua::prelude::*;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};

mod draw;

/// A feed's direction, as the script names it.
fn direction(to_server: bool) -> Direction {
    if to_server {
        Direction::ToServer
    } else {
        Direction::ToClient
    }
}

/// The Lua this build is for ("5.2", "5.3" or "5.4"): the script checks it against `_VERSION`.
const LUA_VERSION: &str = if cfg!(feature = "lua54") {
    "5.4"
} else if cfg!(feature = "lua53") {
    "5.3"
} else {
    "5.2"
};

/// The C plugin's strings cannot hold NUL (see the C ABI): replace it the same way, so that both
/// presenters show the same text.
pub(crate) fn text(s: &str) -> String {
    s.replace('\0', "\u{fffd}")
}

fn ftype_name(t: FieldType) -> &'static str {
    match t {
        FieldType::None => "none",
        FieldType::String => "string",
        FieldType::Uint => "uint",
        FieldType::Bool => "bool",
        FieldType::Frame => "frame",
        FieldType::RelTime => "reltime",
        FieldType::Ipv4 => "ipv4",
        FieldType::Ipv6 => "ipv6",
    }
}

fn role_name(r: FrameRole) -> &'static str {
    match r {
        FrameRole::Plain => "plain",
        FrameRole::Request => "request",
        FrameRole::Response => "response",
    }
}

fn group_name(g: ExpertGroup) -> &'static str {
    match g {
        ExpertGroup::Security => "security",
        ExpertGroup::Protocol => "protocol",
        ExpertGroup::Malformed => "malformed",
        ExpertGroup::Sequence => "sequence",
        ExpertGroup::ResponseCode => "response_code",
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Chat => "chat",
        Severity::Note => "note",
        Severity::Warn => "warn",
        Severity::Error => "error",
    }
}

/// An address string from Wireshark (`tostring(pinfo.src)`) as a socket address. A resolved name
/// (name resolution on) gives `None`: the core then treats that endpoint as unknown.
fn socket(ip: Option<String>, port: u16) -> Option<SocketAddr> {
    let ip: IpAddr = ip?.trim_matches(|c| c == '[' || c == ']').parse().ok()?;
    Some(SocketAddr::new(ip, port))
}

fn ip_string(ip: Option<IpAddr>) -> Option<String> {
    ip.map(|i| i.to_string())
}

/// A feed's events as the script gets them: passwords as stars when `hide`.
fn shown(events: &[ftplens::Event], hide: bool) -> Vec<ftplens::Event> {
    if hide {
        present::hide_passwords(events).into_owned()
    } else {
        events.to_vec()
    }
}

/// One control connection's core session, as Lua userdata.
struct LuaSession {
    session: Session,
    /// Every prediction announced so far, by channel id, for [`LuaSession::matches`].
    channels: HashMap<u32, Expectation>,
    /// A panic inside the core poisons the session, as in the C ABI.
    poisoned: bool,
    /// Each data channel's items, ready for [`draw::draw`]; `None` once one of them is not drawable
    /// natively (the script then draws the channel).
    drawn: HashMap<u32, Option<Vec<draw::Drawable>>>,
    /// The control connection's server port (for [`Expectation::host_ports`]).
    server_port: u16,
    /// Hand out passwords as stars ([`present::hide_passwords`]): `s:hide_passwords(true)`.
    hide_passwords: bool,
}

impl LuaSession {
    /// Run a feed or finish under the panic guard: a panic poisons the session, and a poisoned
    /// session refuses further calls.
    fn guarded(
        &mut self,
        lua: &Lua,
        call: impl FnOnce(&mut Session, bool) -> (Vec<ftplens::Event>, String),
    ) -> LuaResult<LuaTable> {
        if self.poisoned {
            return Err(LuaError::runtime("ftplens core: session poisoned"));
        }
        let hide = self.hide_passwords;
        match catch_unwind(AssertUnwindSafe(|| call(&mut self.session, hide))) {
            Ok((events, summary)) => self.result(lua, &events, &summary),
            Err(_) => {
                self.poisoned = true;
                Err(LuaError::runtime("ftplens core: internal error (panic)"))
            }
        }
    }

    fn result(
        &mut self,
        lua: &Lua,
        events: &[ftplens::Event],
        summary: &str,
    ) -> LuaResult<LuaTable> {
        let out = lua.create_table()?;
        out.set("summary", text(summary))?;
        let evs = lua.create_table()?;
        for ev in events {
            if let Some(t) = self.event(lua, ev)? {
                evs.push(t)?;
            }
        }
        out.set("events", evs)?;
        let items = lua.create_table()?;
        for it in present::items(events) {
            if let Target::Channel(c) = it.target {
                let list = self.drawn.entry(c).or_insert_with(|| Some(Vec::new()));
                match (list.as_mut(), draw::drawable(&it)) {
                    (Some(l), Some(d)) => l.push(d),
                    _ => *list = None,
                }
            }
            items.push(item(lua, &it)?)?;
        }
        out.set("items", items)?;
        Ok(out)
    }

    /// The events the Lua side acts on (data-channel bookkeeping, TLS); the rest reach Lua as items.
    fn event(&mut self, lua: &Lua, ev: &ftplens::Event) -> LuaResult<Option<LuaTable>> {
        let t = lua.create_table()?;
        match &ev.kind {
            EventKind::DataExpected(x) => {
                self.channels.insert(x.channel_id, x.clone());
                t.set("kind", "data_expected")?;
                t.set("channel", x.channel_id)?;
                t.set("mode", x.mode.name())?;
                t.set("port", x.port)?;
                t.set("ports", x.host_ports(self.server_port))?;
                t.set("listener", ip_string(x.listener))?;
                t.set("alt_listener", ip_string(x.alt_listener))?;
                t.set("peer", ip_string(x.connector))?;
                t.set("setup_frame", x.setup_frame as i64)?;
            }
            EventKind::TransferStarted(tr) | EventKind::TransferEnded(tr) => {
                let started = matches!(ev.kind, EventKind::TransferStarted(_));
                t.set(
                    "kind",
                    if started {
                        "transfer_started"
                    } else {
                        "transfer_ended"
                    },
                )?;
                t.set("channel", tr.channel_id)?;
                t.set("command", text(&tr.command))?;
                t.set("arg", text(&tr.arg))?;
                t.set("path", text(&tr.path))?;
                t.set("rest_offset", tr.rest_offset as i64)?;
                t.set("command_frame", tr.command_frame as i64)?;
                t.set("outcome", tr.outcome.name())?;
                t.set("tls", tr.data_tls)?;
                if let Some(x) = &tr.expectation {
                    t.set("port", x.port)?;
                }
            }
            EventKind::TlsUpgrade { mechanism } => {
                t.set("kind", "tls_upgrade")?;
                t.set("mechanism", text(mechanism))?;
            }
            EventKind::DataProtected => t.set("kind", "data_protected")?,
            EventKind::Login(l) => {
                t.set("kind", "login")?;
                t.set("user", text(&l.user))?;
                t.set(
                    "state",
                    match l.state {
                        ftplens::LoginState::Attempt => "attempt",
                        ftplens::LoginState::Success => "success",
                        ftplens::LoginState::Failure => "failure",
                    },
                )?;
            }
            _ => return Ok(None),
        }
        Ok(Some(t))
    }
}

/// One tree item, valued by its field's type the way the C plugin reads an `ftplens_item`.
fn item(lua: &Lua, it: &present::Item) -> LuaResult<LuaTable> {
    let t = lua.create_table()?;
    let field = it.field as usize;
    let Some(info) = FIELDS.get(field) else {
        return Ok(t);
    };
    t.set("field", field + 1)?;
    match it.target {
        Target::Frame => t.set("target", "frame")?,
        Target::Earlier(f) => {
            t.set("target", "earlier")?;
            t.set("frame", f as i64)?;
        }
        Target::Channel(c) => {
            t.set("target", "channel")?;
            t.set("channel", c)?;
        }
    }
    t.set("depth", it.depth)?;
    t.set("offset", it.offset as i64)?;
    t.set("length", it.length as i64)?;
    t.set("generated", it.generated)?;

    // The C ABI's flat record: one number, one string, one time, one address.
    let mut num: u64 = 0;
    let mut string = String::new();
    let mut time = 0.0_f64;
    let mut addr = [0u8; 16];
    match &it.value {
        Value::Label(s) | Value::Str(s) => string = text(s),
        Value::Uint(n) | Value::Frame(n) => num = *n,
        Value::Bool(b) => num = u64::from(*b),
        Value::Time(x) => time = *x,
        Value::Ip(IpAddr::V4(a)) => addr[..4].copy_from_slice(&a.octets()),
        Value::Ip(IpAddr::V6(a)) => addr = a.octets(),
    }
    match info.ftype {
        FieldType::None | FieldType::String => t.set("value", string)?,
        FieldType::Uint => {
            t.set("lo", (num & 0xffff_ffff) as u32)?;
            t.set("hi", (num >> 32) as u32)?;
        }
        FieldType::Bool => t.set("value", num != 0)?,
        // FT_FRAMENUM is 32 bits wide (the C plugin casts the same way).
        FieldType::Frame => t.set("value", num as u32)?,
        FieldType::RelTime => {
            let secs = if time < 0.0 { 0.0 } else { time };
            let whole = secs.floor();
            t.set("secs", whole as i64)?;
            t.set("nsecs", ((secs - whole) * 1e9) as i32)?;
        }
        FieldType::Ipv4 => t.set(
            "value",
            std::net::Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]).to_string(),
        )?,
        FieldType::Ipv6 => t.set("value", std::net::Ipv6Addr::from(addr).to_string())?,
    }
    if let Some((expert, message)) = &it.expert {
        t.set("expert", *expert as usize + 1)?;
        t.set("message", text(message))?;
    }
    Ok(t)
}

impl LuaUserData for LuaSession {
    fn add_methods<M: LuaUserDataMethods<Self>>(methods: &mut M) {
        // s:feed(to_server, bytes, frame, ts) -> { summary, items, events }
        methods.add_method_mut(
            "feed",
            |lua, this, (to_server, data, frame, ts): (bool, LuaString, f64, f64)| {
                let bytes = data.as_bytes();
                this.guarded(lua, |s, hide| {
                    let before = s.open_reply().map(|(code, lines)| (code, lines.len()));
                    s.feed(direction(to_server), &bytes, frame as u64, ts);
                    let events = shown(s.events(), hide);
                    let summary = present::feed_summary(&events, before, s.open_reply());
                    (events, summary)
                })
            },
        );
        // s:finish(frame, ts) -> { summary, items, events }: the connection is over (transfers still
        // open end with outcome "unknown").
        methods.add_method_mut("finish", |lua, this, (frame, ts): (f64, f64)| {
            this.guarded(lua, |s, hide| {
                let events = shown(s.finish(frame as u64, ts), hide);
                let summary = present::summary(&events);
                (events, summary)
            })
        });
        // s:hide_passwords(hide): from the next feed on, passwords come out as stars (the core
        // decides what a password is).
        methods.add_method_mut("hide_passwords", |_, this, hide: bool| {
            this.hide_passwords = hide;
            Ok(())
        });
        // s:matches(channel, ip_a, port_a, ip_b, port_b) -> bool: does the TCP connection between
        // these endpoints (either may have opened it) carry this predicted channel?
        methods.add_method(
            "matches",
            |_,
             this,
             (channel, ip_a, port_a, ip_b, port_b): (
                u32,
                Option<String>,
                u16,
                Option<String>,
                u16,
            )| {
                let Some(e) = this.channels.get(&channel) else {
                    return Ok(false);
                };
                Ok(match (socket(ip_a, port_a), socket(ip_b, port_b)) {
                    (Some(a), Some(b)) => e.matches_either(a, b),
                    // Unknown addresses (resolved names): the port decides.
                    _ => port_a == e.port || port_b == e.port,
                })
            },
        );
        // s:complete_prefix(to_server, bytes) -> how many leading bytes to feed now (whole lines; all
        // of them while the session skips an over-long line, so those bytes are never reassembled).
        methods.add_method(
            "complete_prefix",
            |_, this, (to_server, data): (bool, LuaString)| {
                Ok(this
                    .session
                    .complete_prefix_for(direction(to_server), &data.as_bytes())
                    as i64)
            },
        );
        // s:draw_channel(tree, channel) -> bool: add the channel's items under `tree` (the TreeItem a
        // data packet's ftplens-data item is) natively; false when the script must draw them.
        methods.add_method(
            "draw_channel",
            |_, this, (tree, channel): (LuaAnyUserData, u32)| {
                let Some(Some(list)) = this.drawn.get(&channel) else {
                    return Ok(!this.drawn.contains_key(&channel)); // no items: nothing to draw
                };
                // SAFETY: `tree` is the TreeItem userdata Wireshark handed the script for this
                // packet (the script checks its metatable once); to_pointer gives its memory.
                Ok(catch_unwind(AssertUnwindSafe(|| unsafe {
                    draw::draw(tree.to_pointer(), list)
                }))
                .unwrap_or(false))
            },
        );
        methods.add_method("encrypted", |_, this, ()| Ok(this.session.is_encrypted()));
    }
}

/// `ws_log(domain, level, format, ...)` from the host's libwsutil, if there is one.
type WsLog = unsafe extern "C" fn(*const libc::c_char, libc::c_int, *const libc::c_char, ...);

fn ws_log(level: &str, message: &str) -> bool {
    // enum ws_log_level (wsutil/ws_log_defs.h), the same in 4.0 and 4.4.
    let lvl: libc::c_int = match level {
        "debug" => 2,
        "info" => 3,
        "message" => 4,
        "warning" => 5,
        _ => 5,
    };
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the host process.
    let sym = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"ws_log".as_ptr()) };
    if sym.is_null() {
        return false;
    }
    let Ok(msg) = std::ffi::CString::new(message.replace('\0', " ")) else {
        return false;
    };
    // SAFETY: ws_log has this signature in every libwsutil that exports it (4.0 to 4.6); the format
    // is a literal "%s" and msg outlives the call.
    unsafe {
        let f: WsLog = std::mem::transmute::<*mut libc::c_void, WsLog>(sym);
        f(c"ftplens".as_ptr(), lvl, c"%s".as_ptr(), msg.as_ptr());
    }
    true
}

#[mlua::lua_module]
fn ftplens_core(lua: &Lua) -> LuaResult<LuaTable> {
    let m = lua.create_table()?;
    m.set("version", env!("CARGO_PKG_VERSION"))?;
    m.set("lua_version", LUA_VERSION)?;

    // The field registry (src/fields.rs), 1-based: items name fields by this position.
    let fields = lua.create_table()?;
    for f in FIELDS {
        let t = lua.create_table()?;
        t.set("abbrev", f.abbrev)?;
        t.set("name", f.name)?;
        t.set("blurb", f.blurb)?;
        t.set("type", ftype_name(f.ftype))?;
        t.set("role", role_name(f.frame_role))?;
        t.set("data", f.is_data())?;
        fields.push(t)?;
    }
    m.set("fields", fields)?;

    let experts = lua.create_table()?;
    for e in EXPERTS {
        let t = lua.create_table()?;
        t.set("abbrev", e.abbrev)?;
        t.set("summary", e.summary)?;
        t.set("group", group_name(e.group))?;
        t.set("severity", severity_name(e.severity))?;
        experts.push(t)?;
    }
    m.set("experts", experts)?;

    // classify(bytes) -> "unsure" | "not_ftp" | "server" | "client"
    m.set(
        "classify",
        lua.create_function(|_, data: LuaString| {
            use ftplens::heuristic::{Verdict, classify};
            Ok(match classify(&data.as_bytes()) {
                Verdict::Unsure => "unsure",
                Verdict::NotFtp => "not_ftp",
                Verdict::Server => "server",
                Verdict::Client => "client",
            })
        })?,
    )?;

    // clear_lines(bytes) -> bool: whole printable text lines, as a control connection carries again
    // after its TLS session closed (RFC 2228 CCC), never a TLS record.
    m.set(
        "clear_lines",
        lua.create_function(|_, data: LuaString| {
            Ok(ftplens::session::looks_like_clear_lines(&data.as_bytes()))
        })?,
    )?;

    // new_session(client_ip, client_port, server_ip, server_port[, limits]) -> session; limits maps
    // limit names (see limits()) to values, 0 keeping the default.
    m.set(
        "new_session",
        lua.create_function(
            |_,
             (cip, cport, sip, sport, limits): (
                Option<String>,
                u16,
                Option<String>,
                u16,
                Option<LuaTable>,
            )| {
                let mut l = Limits::default();
                if let Some(t) = limits {
                    for (i, info) in LIMITS.iter().enumerate() {
                        let v: Option<u64> = t.get(info.name)?;
                        l.set_clamped(i, v.unwrap_or(0));
                    }
                }
                Ok(LuaSession {
                    session: Session::new(socket(cip, cport), socket(sip, sport), l),
                    channels: HashMap::new(),
                    poisoned: false,
                    drawn: HashMap::new(),
                    server_port: sport,
                    hide_passwords: false,
                })
            },
        )?,
    )?;

    // limits() -> { {name, title, default, help}, ... }: the core's limits, for the script's preferences.
    m.set(
        "limits",
        lua.create_function(|lua, ()| {
            let out = lua.create_table()?;
            for l in LIMITS {
                let t = lua.create_table()?;
                t.set("name", l.name)?;
                t.set("title", l.title)?;
                t.set("default", l.default as f64)?;
                t.set("help", l.help())?;
                out.push(t)?;
            }
            Ok(out)
        })?,
    )?;

    // log(level, message): Wireshark's log (tshark --log-level=info shows "info"); stderr outside it.
    m.set(
        "log",
        lua.create_function(|_, (level, message): (String, String)| {
            if !ws_log(&level, &message) {
                eprintln!("ftplens: {message}");
            }
            Ok(())
        })?,
    )?;
    Ok(m)
}
