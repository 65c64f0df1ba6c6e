//! `ftplens_core`: the native Lua module behind the Lua fallback dissector (`lua/ftplens.lua`).
//!
//! It wraps one [`Dissector`] per capture file, the core type the C plugin uses through the C ABI,
//! so that the script knows no FTP: it offers segments, does what the actions ask (claim a port,
//! hand a connection to TLS) and draws what [`Dissector::view`] says, with Wireshark's public Lua
//! API only.
//!
//! ```lua
//! local core = require "ftplens_core"
//! local d = core.new(limits, hide_passwords, protofields, protoexperts, tcp_hides_reordered)
//! local claim, tls_record, ports, tls_started, tls_data = d:segment(frame, ts, src, sport, dst,
//!     dport, stream, seq, bytes, offer, fresh, decrypted)
//! local kind, info, title, list, text, tls, own = d:view(frame, decrypted, captured_len)
//! ```
//!
//! A view's items come as a flat draw list, `STRIDE` slots per item (see `Draw::list`), with the
//! values already made into what `TreeItem:add` takes (`UInt64`, `NSTime`, `Address`, strings,
//! numbers; a boolean field's value is 0 or 1, since `false` marks an item without a value). A data
//! channel's list is the same on every packet of its connection: it is made once per revision
//! and handed out again, so a data packet costs the script no conversion at all.
//!
//! What Lua cannot give: tshark's first pass of `-2` runs without a tree, so field extractors
//! (`tcp.stream`, `tcp.seq`) are empty there. The script passes them when it has them; without
//! them this module numbers connections by their endpoints and takes each segment as the next
//! bytes of its direction (no retransmission or hole can be told then).
//!
//! The module links no Lua: mlua's `module` feature leaves every `lua_*` symbol to the host. The Lua
//! version is a build choice (cargo features `lua52`, `lua53`, `lua54`).

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use ftplens::Limits;
use ftplens::dissect::{
    Claim, DissectConfig, Dissector, HostAction, ItemView, Offer, Segment, ValueView, ViewKind,
};
use ftplens::fields::{EXPERTS, ExpertGroup, FIELDS, FieldType, FrameRole, Severity};
use ftplens::limits::LIMITS;
use ftplens::present::c_text;
use mlua::prelude::*;
use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// The Lua this build is for ("5.2", "5.3" or "5.4"): the script checks it against `_VERSION`.
const LUA_VERSION: &str = if cfg!(feature = "lua54") {
    "5.4"
} else if cfg!(feature = "lua53") {
    "5.3"
} else {
    "5.2"
};

/// Slots per item in a draw list: ProtoField, value (false: none), parent slot (0: the protocol
/// item), offset, length (0: no bytes), generated, ProtoExpert (false: none), expert message,
/// label (false: none; the text of a field of type none, which `TreeItem:add` takes no value for).
const STRIDE: usize = 9;
/// Nesting deeper than this is drawn at this depth (as the C plugin does).
const MAX_DEPTH: usize = 16;
/// Draw lists kept for reuse (one per data channel seen); past this the cache starts over.
const CACHED_LISTS: usize = 4096;
/// Connections remembered without a host stream number, and connections turned away: past this
/// the tables start over (a capture with more TCP connections than this is beyond the fallback).
const MAX_CONNS: usize = 1 << 20;

/// An address string from Wireshark (`tostring(pinfo.src)`) as a socket address; a resolved name
/// gives the unspecified address (the core then sees one endpoint per port).
fn socket(ip: &str, port: u16) -> SocketAddr {
    let ip: IpAddr = ip
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    SocketAddr::new(ip, port)
}

/// What a claim is called in the script.
fn claim_code(c: Claim) -> u8 {
    match c {
        Claim::None => 0,
        Claim::Control => 1,
        Claim::Data => 2,
        Claim::Rejected => 3,
    }
}

/// The Lua-side objects items are drawn with, made once by the script at registration.
struct Draw {
    /// ProtoField by registry position, ProtoExpert likewise.
    fields: Vec<LuaValue>,
    experts: Vec<LuaValue>,
    uint64: LuaFunction,
    nstime: LuaFunction,
    ipv4: LuaFunction,
    ipv6: LuaFunction,
}

/// A flat list of items to draw (see [`STRIDE`]).
type DrawList = LuaTable;

impl Draw {
    fn new(lua: &Lua, fields: LuaTable, experts: LuaTable) -> LuaResult<Self> {
        let g = lua.globals();
        let class = |name: &str| g.get::<LuaTable>(name);
        let all = |t: LuaTable| {
            t.sequence_values::<LuaValue>()
                .collect::<LuaResult<Vec<_>>>()
        };
        Ok(Draw {
            fields: all(fields)?,
            experts: all(experts)?,
            uint64: class("UInt64")?.get("new")?,
            nstime: class("NSTime")?.get("new")?,
            ipv4: class("Address")?.get("ip")?,
            ipv6: class("Address")?.get("ipv6")?,
        })
    }

    /// An item's value as `TreeItem:add` takes it for its field's type.
    fn value(&self, lua: &Lua, ftype: FieldType, v: &ValueView<'_>) -> LuaResult<LuaValue> {
        let (num, s, time) = match *v {
            ValueView::Str(s) => (0, s, 0.0),
            ValueView::Uint(n) | ValueView::Frame(n) => (n, "", 0.0),
            ValueView::Bool(b) => (u64::from(b), "", 0.0),
            ValueView::Time(t) => (0, "", t),
            ValueView::Ip(_) => (0, "", 0.0),
        };
        Ok(match ftype {
            FieldType::None => LuaValue::Boolean(false),
            FieldType::String => LuaValue::String(lua.create_string(c_text(s).as_bytes())?),
            FieldType::Uint => self
                .uint64
                .call(((num & 0xffff_ffff) as u32, (num >> 32) as u32))?,
            // A number, not a boolean: `false` in a draw list means "no value".
            FieldType::Bool => LuaValue::Integer(i64::from(num != 0)),
            // FT_FRAMENUM is 32 bits wide (the C plugin casts the same way).
            FieldType::Frame => LuaValue::Integer((num as u32).into()),
            FieldType::RelTime => {
                let secs = time.max(0.0);
                let whole = secs.floor();
                self.nstime
                    .call((whole as i64, ((secs - whole) * 1e9) as i32))?
            }
            FieldType::Ipv4 | FieldType::Ipv6 => {
                let ip = match *v {
                    ValueView::Ip(ip) => ip,
                    _ => return Ok(LuaValue::Boolean(false)),
                };
                match (ftype, ip) {
                    (FieldType::Ipv4, IpAddr::V4(a)) => self.ipv4.call(a.to_string())?,
                    (FieldType::Ipv6, IpAddr::V6(a)) => self.ipv6.call(a.to_string())?,
                    (FieldType::Ipv4, IpAddr::V6(_)) => self.ipv4.call("0.0.0.0")?,
                    _ => self.ipv6.call("::")?,
                }
            }
        })
    }

    /// The draw list of `items`; offsets beyond `captured` bytes (or any, when `captured` is 0)
    /// give generated items that cover no bytes.
    fn list(&self, lua: &Lua, items: &[ItemView<'_>], captured: usize) -> LuaResult<DrawList> {
        let mut slots: Vec<LuaValue> = Vec::with_capacity(items.len() * STRIDE);
        let mut owner = [0usize; MAX_DEPTH];
        let mut valid = 0usize;
        let mut slot = 0usize;
        for it in items {
            let field = it.field as usize;
            let Some(info) = FIELDS.get(field) else {
                continue;
            };
            let depth = (it.depth as usize).min(MAX_DEPTH - 1).min(valid);
            let parent = if depth == 0 { 0 } else { owner[depth - 1] };
            let owns = it.length > 0 && it.offset + it.length <= captured;
            let (off, len) = if owns { (it.offset, it.length) } else { (0, 0) };
            let (expert, message) = match &it.expert {
                Some((e, m)) => (
                    self.experts
                        .get(*e as usize)
                        .cloned()
                        .unwrap_or(LuaValue::Boolean(false)),
                    LuaValue::String(lua.create_string(c_text(m).as_bytes())?),
                ),
                None => (LuaValue::Boolean(false), LuaValue::Boolean(false)),
            };
            let number = |n: usize| LuaValue::Integer(n as i64);
            let label = match it.value {
                ValueView::Str(s) if info.ftype == FieldType::None && !s.is_empty() => {
                    LuaValue::String(lua.create_string(c_text(s).as_bytes())?)
                }
                _ => LuaValue::Boolean(false),
            };
            slots.extend([
                self.fields.get(field).cloned().unwrap_or(LuaValue::Nil),
                self.value(lua, info.ftype, &it.value)?,
                number(parent),
                number(off),
                number(len),
                LuaValue::Boolean(it.generated || len == 0),
                expert,
                message,
                label,
            ]);
            slot += 1;
            owner[depth] = slot;
            valid = depth + 1;
        }
        // One table made in one go (with `skip_memory_check`, no protected call per slot).
        lua.create_sequence_from(slots)
    }
}

/// One capture file's dissection, as Lua userdata.
struct Glue {
    dissector: Dissector,
    draw: Draw,
    /// A panic inside the core poisons the dissector, as in the C ABI.
    poisoned: bool,
    /// Stream numbers made up by endpoints (both directions), when the host has none.
    conns: HashMap<(SocketAddr, SocketAddr), u32>,
    next_stream: u32,
    /// Where the next byte of each direction goes, for segments that come without a sequence
    /// number (no tree, or decrypted by TLS).
    next_seq: HashMap<(u32, SocketAddr), u32>,
    /// Streams the core claimed, and those it turned away (the script stops offering them).
    claimed: HashSet<u32>,
    rejected: HashSet<u32>,
    /// Control connections handed to TLS, from the frame after this one on.
    tls_after: HashMap<u32, u64>,
    /// Frames that carry TLS records of those connections (TLS dissects them, not ftplens).
    tls_frames: HashSet<u64>,
    /// Draw lists of data channels, by channel and revision (a channel's items change only on the
    /// first pass, and each change moves the revision).
    lists: HashMap<u32, (u32, DrawList)>,
    /// Flags of the host told on every segment ([`ftplens::dissect::TCP_HIDES_REORDERED`]).
    host_flags: u8,
}

/// A view's text, without NUL ([`c_text`]). Returned as a `String`, mlua pushes it onto the stack
/// as it is, where a `LuaString` would be a registry reference made and dropped for each view.
fn view_text(t: &ftplens::dissect::Text<'_>) -> String {
    let s = t.to_string();
    if let Cow::Owned(clean) = c_text(&s) {
        clean
    } else {
        s
    }
}

/// What `d:view` returns: kind, info, title, list, text, tls, own.
type ViewOut = (
    u8,
    Option<String>,
    Option<String>,
    Option<DrawList>,
    bool,
    bool,
    Option<DrawList>,
);

/// `d:segment`'s arguments as Lua passes them: frame, ts, src, sport, dst, dport, stream, seq,
/// payload, offer, fresh, decrypted.
type SegmentCall = (
    f64,
    f64,
    LuaString,
    u16,
    LuaString,
    u16,
    Option<u32>,
    Option<u32>,
    LuaString,
    u8,
    bool,
    bool,
);

/// What the script passes for one segment.
struct SegmentArgs {
    frame: u64,
    ts: f64,
    src: SocketAddr,
    dst: SocketAddr,
    stream: Option<u32>,
    seq: Option<u32>,
    offer: Offer,
    /// Reached through the port table or a heuristic: a new connection if its endpoints' stream
    /// was claimed already.
    fresh: bool,
    /// Clear bytes TLS gave back.
    decrypted: bool,
}

impl Glue {
    fn stream(&mut self, a: &SegmentArgs) -> u32 {
        if let Some(s) = a.stream {
            return s;
        }
        let key = if a.src <= a.dst {
            (a.src, a.dst)
        } else {
            (a.dst, a.src)
        };
        match self.conns.get(&key) {
            Some(&s) if !(a.fresh && self.claimed.contains(&s)) => s,
            _ => {
                if self.conns.len() >= MAX_CONNS {
                    self.conns.clear();
                }
                // Above the range of Wireshark's own numbers, in case a file mixes both.
                let s = 0x8000_0000 | self.next_stream;
                self.next_stream = self.next_stream.wrapping_add(1) & 0x7fff_ffff;
                self.conns.insert(key, s);
                s
            }
        }
    }

    /// Offer one segment: the claim, whether the payload is a TLS record of a connection handed to
    /// TLS, the ports to claim, and whether this connection goes to TLS now.
    fn segment(&mut self, a: &SegmentArgs, data: &[u8]) -> (Claim, bool, Vec<u16>, bool) {
        let stream = self.stream(a);
        if self.rejected.contains(&stream) {
            return (Claim::Rejected, false, Vec::new(), false);
        }
        let tls_after = self.tls_after.get(&stream).copied();
        if a.decrypted && tls_after.is_none_or(|f| a.frame <= f) {
            return (Claim::None, false, Vec::new(), false);
        }
        if !a.decrypted
            && tls_after.is_some_and(|f| a.frame > f)
            && !ftplens::session::looks_like_clear_lines(data)
        {
            self.tls_frames.insert(a.frame);
            return (Claim::Control, true, Vec::new(), false);
        }
        if self.next_seq.len() >= 2 * MAX_CONNS {
            self.next_seq.clear();
        }
        let next = self.next_seq.entry((stream, a.src)).or_insert(0);
        let seq = if a.decrypted {
            *next
        } else {
            a.seq.unwrap_or(*next)
        };
        *next = seq.wrapping_add(data.len() as u32);
        let seg = Segment {
            stream,
            src: a.src,
            dst: a.dst,
            frame: a.frame,
            ts: a.ts,
            seq,
            flags: self.host_flags,
            data,
        };
        let claim = self.dissector.segment(&seg, a.offer);
        let mut ports = Vec::new();
        let mut tls_started = false;
        for action in self.dissector.actions() {
            match action {
                // The core names the ports (the listening one, and the server's default data port
                // for an active channel, which Wireshark tries first without a SYN).
                HostAction::Expect { ports: p, .. } => ports.extend_from_slice(p),
                HostAction::StartTls { stream: s, frame } => {
                    self.tls_after.insert(*s, *frame);
                    tls_started |= *s == stream;
                }
            }
        }
        match claim {
            Claim::Control | Claim::Data => {
                if self.claimed.len() >= MAX_CONNS {
                    self.claimed.clear();
                }
                self.claimed.insert(stream);
            }
            Claim::Rejected => {
                if self.rejected.len() >= MAX_CONNS {
                    self.rejected.clear();
                }
                self.rejected.insert(stream);
            }
            Claim::None => {}
        }
        (claim, false, ports, tls_started)
    }
}

/// Run `f` under the panic guard: a panic poisons the glue, and a poisoned glue refuses calls.
fn guarded<T>(this: &mut Glue, f: impl FnOnce(&mut Glue) -> LuaResult<T>) -> LuaResult<T> {
    if this.poisoned {
        return Err(LuaError::runtime(
            "ftplens core: poisoned by an earlier internal error",
        ));
    }
    match catch_unwind(AssertUnwindSafe(|| f(this))) {
        Ok(r) => r,
        Err(_) => {
            this.poisoned = true;
            Err(LuaError::runtime("ftplens core: internal error (panic)"))
        }
    }
}

impl LuaUserData for Glue {
    fn add_methods<M: LuaUserDataMethods<Self>>(methods: &mut M) {
        // d:segment(frame, ts, src, sport, dst, dport, stream, seq, bytes, offer, fresh, decrypted)
        //   -> claim, tls_record, ports (nil or the ports to claim for ftplens-data), tls_started,
        //      tls_data
        // First pass, capture order. tls_record: the payload is a TLS record of a connection
        // handed to TLS (give it to TLS); tls_started: this segment's connection goes to TLS now;
        // tls_data: the payload of a protected data connection (TLS must see it even when
        // nothing is drawn).
        methods.add_method_mut(
            "segment",
            |lua,
             this,
             (frame, ts, src, sport, dst, dport, stream, seq, data, offer, fresh, decrypted): SegmentCall| {
                let args = SegmentArgs {
                    frame: frame as u64,
                    ts,
                    src: socket(&src.to_str()?, sport),
                    dst: socket(&dst.to_str()?, dport),
                    stream,
                    seq,
                    offer: match offer {
                        0 => Offer::Port,
                        1 => Offer::Heuristic,
                        _ => Offer::Expected,
                    },
                    fresh,
                    decrypted,
                };
                let bytes = data.as_bytes();
                let (claim, tls_record, ports, tls_started) =
                    guarded(this, |g| Ok(g.segment(&args, &bytes)))?;
                let ports = if ports.is_empty() {
                    LuaValue::Nil
                } else {
                    LuaValue::Table(lua.create_sequence_from(ports)?)
                };
                let tls_data =
                    claim == Claim::Data && guarded(this, |g| Ok(g.dissector.is_tls_data(args.frame)))?;
                Ok((claim_code(claim), tls_record, ports, tls_started, tls_data))
            },
        );
        // d:view(frame, decrypted, captured_len) -> kind, info, title, list, text, tls, own
        // own: nil, or the draw list of a data frame's own items (drawn after list). kind: 0 nothing (leave the frame to others), 1 control, 2 data, 3 a TLS record of a
        // connection handed to TLS. decrypted: the view of the clear lines TLS gave back.
        methods.add_method_mut(
            "view",
            |lua, this, (frame, decrypted, captured): (f64, bool, usize)| -> LuaResult<ViewOut> {
                guarded(this, |g| {
                    let frame = frame as u64;
                    if !decrypted && g.tls_frames.contains(&frame) {
                        return Ok((3, None, None, None, false, false, None));
                    }
                    // A data channel's items are left out when its list is kept here.
                    let lists = &g.lists;
                    let kept = |c: u32, r: u32| lists.get(&c).is_some_and(|(rev, _)| *rev == r);
                    let Some(v) = g.dissector.view_unless_kept(frame, kept) else {
                        return Ok((0, None, None, None, false, false, None));
                    };
                    let list = match v.channel {
                        None => g.draw.list(lua, &v.items, captured)?,
                        Some(channel) => match g.lists.get(&channel) {
                            Some((revision, list)) if *revision == v.revision => list.clone(),
                            _ => {
                                let list = g.draw.list(lua, &v.items, 0)?;
                                if g.lists.len() >= CACHED_LISTS {
                                    g.lists.clear();
                                }
                                g.lists.insert(channel, (v.revision, list.clone()));
                                list
                            }
                        },
                    };
                    // A data frame's own items (listing entries) come after the channel's.
                    let own = if v.frame_items.is_empty() {
                        None
                    } else {
                        Some(g.draw.list(lua, &v.frame_items, captured)?)
                    };
                    let kind = if v.kind == ViewKind::Control { 1u8 } else { 2 };
                    Ok((
                        kind,
                        Some(view_text(&v.info)),
                        Some(view_text(&v.title)),
                        Some(list),
                        v.text,
                        v.tls,
                        own,
                    ))
                })
            },
        );
        // d:finish(): the first pass is over (open transfers end, cut-off lines are reported).
        methods.add_method_mut("finish", |_, this, ()| {
            guarded(this, |g| {
                g.dissector.finish();
                Ok(())
            })
        });
    }
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

/// The key of Wireshark's Lua table `expert.group`.
fn group_name(g: ExpertGroup) -> &'static str {
    match g {
        ExpertGroup::Security => "SECURITY",
        ExpertGroup::Protocol => "PROTOCOL",
        ExpertGroup::Malformed => "MALFORMED",
        ExpertGroup::Sequence => "SEQUENCE",
        ExpertGroup::ResponseCode => "RESPONSE_CODE",
    }
}

/// The key of Wireshark's Lua table `expert.severity`.
fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Chat => "CHAT",
        Severity::Note => "NOTE",
        Severity::Warn => "WARN",
        Severity::Error => "ERROR",
    }
}

// Wireshark's Lua allocator is g_realloc, which aborts the process when memory runs out instead of
// returning NULL: no Lua call can fail for memory. mlua otherwise makes each string, table store and
// value push a protected call of its own in a host's state, which was a large share of the
// fallback's cost per packet.
#[mlua::lua_module(skip_memory_check)]
fn ftplens_core(lua: &Lua) -> LuaResult<LuaTable> {
    let m = lua.create_table()?;
    m.set("version", env!("CARGO_PKG_VERSION"))?;
    m.set("lua_version", LUA_VERSION)?;

    // The field registry (src/fields.rs), 1-based: draw lists name fields by this position.
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

    // The core's limits, for the script's preferences: { {name, title, default, help}, ... }.
    let limits = lua.create_table()?;
    for l in LIMITS {
        let t = lua.create_table()?;
        t.set("name", l.name)?;
        t.set("title", l.title)?;
        t.set("default", l.default as f64)?;
        t.set("help", l.help())?;
        limits.push(t)?;
    }
    m.set("limits", limits)?;

    // new(limits, hide_passwords, protofields, protoexperts, tcp_hides_reordered) -> a dissector for
    // one capture file; limits maps limit names to values (0 keeps the default); tcp_hides_reordered:
    // TCP hands no out-of-order segment to subdissectors (tcp.no_subdissector_on_error).
    m.set(
        "new",
        lua.create_function(
            |lua,
             (values, hide, pfs, pes, tcp_hides): (
                LuaTable,
                bool,
                LuaTable,
                LuaTable,
                Option<bool>,
            )| {
                let mut limits = Limits::default();
                for (i, info) in LIMITS.iter().enumerate() {
                    let v: Option<f64> = values.get(info.name)?;
                    limits.set_clamped(i, v.unwrap_or(0.0).max(0.0) as u64);
                }
                Ok(Glue {
                    dissector: Dissector::new(DissectConfig {
                        limits,
                        hide_passwords: hide,
                        // Lua dissectors get payload only: no SYN, no FIN.
                        payload_only: true,
                        // Lua cannot register Export Objects.
                        export_listings: false,
                    }),
                    draw: Draw::new(lua, pfs, pes)?,
                    poisoned: false,
                    conns: HashMap::new(),
                    next_stream: 0,
                    next_seq: HashMap::new(),
                    claimed: HashSet::new(),
                    rejected: HashSet::new(),
                    tls_after: HashMap::new(),
                    tls_frames: HashSet::new(),
                    lists: HashMap::new(),
                    host_flags: if tcp_hides == Some(true) {
                        ftplens::dissect::TCP_HIDES_REORDERED
                    } else {
                        0
                    },
                })
            },
        )?,
    )?;
    Ok(m)
}
