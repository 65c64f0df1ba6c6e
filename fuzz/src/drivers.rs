//! The drivers behind every fuzz target, shared with `tests/regressions.rs` (which includes this file
//! with `#[path]`), so that a crash input replays through exactly the code the fuzzer ran.
//!
//! Each driver takes arbitrary bytes, must never panic, and checks a few invariants with `assert!`:
//! a failed assertion is a bug the same as a crash. Inputs are decoded by small hand-written formats
//! (documented on each driver) so that seed files can be made from real captures by
//! `fuzz/make_seeds.py`.

#![allow(clippy::missing_safety_doc)]

use ftplens::capture::analyze::{Analyzer, Options};
use ftplens::capture::source::{CaptureReader, Frame};
use ftplens::capture::tcp::{Chunk, HalfStream};
use ftplens::dissect::{
    Claim, DissectConfig, Dissector, HostAction, Offer, TCP_FIN, TCP_RST, TCP_SYN, TCP_SYN_ACK,
};
use ftplens::ffi;
use ftplens::ffi::sys::*;
use ftplens::parse::{self, address};
use ftplens::{Direction, EventKind, Limits, Session};
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// A fuzz driver: arbitrary bytes in, a panic on a bug.
pub type Driver = fn(&[u8]);

/// Every target, by the name of its `fuzz_targets/*.rs` file and of its seed directory.
pub const TARGETS: &[(&str, Driver)] = &[
    ("command", command),
    ("reply", reply),
    ("addr_port", addr_port),
    ("addr_227", addr_227),
    ("addr_eprt", addr_eprt),
    ("addr_229", addr_229),
    ("addr_lprt", addr_lprt),
    ("addr_228", addr_228),
    ("session", session),
    ("ffi", ffi_events),
    ("capture", capture),
    ("tcp", tcp),
    ("flows", flows),
    ("listing", listing),
    ("dissect", dissect),
];

/// Look a driver up by target name.
pub fn driver(name: &str) -> Option<Driver> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}

// ------------------------------------------------------------------------------ entry parsers

/// `parse_command` on one line (line end optional), plus the verb table and the display helpers.
pub fn command(data: &[u8]) {
    let line = parse::trim_line_end(data);
    let _ = parse::lossy(line);
    if let Ok((rest, cmd)) = parse::parse_command(line) {
        // Zero-copy: the verb and argument are sub-slices of the line.
        assert!(within(line, cmd.verb));
        if let Some(arg) = cmd.arg {
            assert!(within(line, arg));
        }
        assert!(within(line, rest));
        if let Some(info) = cmd.info() {
            assert!(
                info.verb
                    .eq_ignore_ascii_case(std::str::from_utf8(cmd.verb).unwrap_or(""))
            );
        }
        let _ = parse::lookup_verb(cmd.verb);
    }
}

/// `parse_reply_line`, plus the code tables.
pub fn reply(data: &[u8]) {
    let line = parse::trim_line_end(data);
    if let Ok((rest, r)) = parse::parse_reply_line(line) {
        assert!(within(line, r.text));
        assert!(within(line, rest));
        let _ = (
            parse::reply_class(r.code),
            parse::reply_category(r.code),
            parse::reply_meaning(r.code),
            r.code.is_valid(),
        );
    }
}

/// `parse::listing::ListingParser` over a listing. Byte 0: bits 0-1 pick what is expected (LIST,
/// NLST, MLSD), bits 2-7 the chunk size minus one; then the data connection's bytes. Small caps
/// (50 entries, 200-byte lines) so that both are hit. Invariants: the items handed out are the
/// same whether the bytes come in one chunk or in many; the counts add up; caps hold; every time
/// formats as ISO 8601.
pub fn listing(data: &[u8]) {
    use ftplens::parse::listing::{Expect, Item, ListingLimits, ListingParser};
    let Some((&head, body)) = data.split_first() else {
        return;
    };
    let expect = [Expect::List, Expect::Names, Expect::Facts, Expect::List][usize::from(head & 3)];
    let chunk = usize::from(head >> 2) + 1;
    let limits = ListingLimits {
        max_entries: 50,
        max_line: 200,
    };
    let run = |size: usize| {
        let mut p = ListingParser::new(expect, limits);
        let mut items = Vec::new();
        let mut on = |item: Item<'_>| {
            if let Item::Entry(e) = &item {
                assert!(!e.name.is_empty());
                assert!(e.name.len() <= limits.max_line);
                if let Some(t) = e.modify {
                    assert!(t.iso().len() >= 10);
                }
            }
            items.push(format!("{item:?}"));
        };
        for c in body.chunks(size) {
            p.feed(c, &mut on);
        }
        p.finish(&mut on);
        (items, *p.stats())
    };
    let (whole, stats) = run(body.len().max(1));
    let (chunked, chunked_stats) = run(chunk);
    assert_eq!(whole, chunked);
    assert_eq!(stats, chunked_stats);
    assert!(stats.entries <= limits.max_entries as u64);
    let by_form: u64 = ftplens::parse::listing::Form::ALL
        .iter()
        .map(|f| stats.of(*f))
        .sum();
    assert_eq!(by_form, stats.entries);
    assert!(stats.entries + stats.unparsed + stats.long_lines + stats.dropped <= stats.lines);
}

fn within(outer: &[u8], inner: &[u8]) -> bool {
    let (o, i) = (outer.as_ptr() as usize, inner.as_ptr() as usize);
    inner.is_empty() || (i >= o && i + inner.len() <= o + outer.len())
}

/// Display an endpoint (the presenters do) and, when `reformat` gives its wire form back, check
/// that parsing that again gives the same endpoint.
fn endpoint_roundtrip(
    ep: &address::DataEndpoint,
    reformat: impl Fn(&address::DataEndpoint) -> Option<Vec<u8>>,
    parse: impl Fn(&[u8]) -> Result<address::DataEndpoint, address::AddressError>,
) {
    let shown = ep.to_string();
    assert!(shown.contains(&ep.port.to_string()));
    if let address::PortArithmetic::Split(hi, lo) = ep.arithmetic {
        assert_eq!(ep.port, u16::from(hi) << 8 | u16::from(lo));
    }
    if let Some(wire) = reformat(ep) {
        assert_eq!(
            parse(&wire).as_ref(),
            Ok(ep),
            "{}",
            String::from_utf8_lossy(&wire)
        );
    }
}

fn split_port(ep: &address::DataEndpoint) -> Option<(u8, u8)> {
    match ep.arithmetic {
        address::PortArithmetic::Split(hi, lo) => Some((hi, lo)),
        address::PortArithmetic::Decimal => None,
    }
}

fn comma_v4(ep: &address::DataEndpoint) -> Option<Vec<u8>> {
    let (Some(IpAddr::V4(a)), Some((hi, lo))) = (ep.addr, split_port(ep)) else {
        return None;
    };
    let [a, b, c, d] = a.octets();
    Some(format!("{a},{b},{c},{d},{hi},{lo}").into_bytes())
}

fn long_form(ep: &address::DataEndpoint) -> Option<Vec<u8>> {
    let (hi, lo) = split_port(ep)?;
    let (af, octets): (u8, Vec<u8>) = match ep.addr? {
        IpAddr::V4(a) => (4, a.octets().to_vec()),
        IpAddr::V6(a) => (6, a.octets().to_vec()),
    };
    let mut s = format!("{af},{}", octets.len());
    for o in octets {
        s += &format!(",{o}");
    }
    s += &format!(",2,{hi},{lo}");
    Some(s.into_bytes())
}

/// `PORT` argument.
pub fn addr_port(data: &[u8]) {
    if let Ok(ep) = address::parse_port_arg(data) {
        endpoint_roundtrip(&ep, comma_v4, address::parse_port_arg);
    }
}

/// 227 reply text.
pub fn addr_227(data: &[u8]) {
    if let Ok(ep) = address::parse_227(data) {
        let wrap = |ep: &address::DataEndpoint| {
            comma_v4(ep).map(|w| [&b"Entering Passive Mode ("[..], &w, b")."].concat())
        };
        endpoint_roundtrip(&ep, wrap, address::parse_227);
    }
}

/// `EPRT` argument.
pub fn addr_eprt(data: &[u8]) {
    if let Ok(ep) = address::parse_eprt_arg(data) {
        let wire = |ep: &address::DataEndpoint| match ep.addr? {
            IpAddr::V4(a) => Some(format!("|1|{a}|{}|", ep.port).into_bytes()),
            IpAddr::V6(a) => Some(format!("|2|{a}|{}|", ep.port).into_bytes()),
        };
        endpoint_roundtrip(&ep, wire, address::parse_eprt_arg);
    }
}

/// 229 reply text.
pub fn addr_229(data: &[u8]) {
    if let Ok(ep) = address::parse_229(data) {
        assert!(ep.addr.is_none());
        let wire = |ep: &address::DataEndpoint| {
            Some(format!("Entering Extended Passive Mode (|||{}|)", ep.port).into_bytes())
        };
        endpoint_roundtrip(&ep, wire, address::parse_229);
    }
}

/// `LPRT` argument.
pub fn addr_lprt(data: &[u8]) {
    if let Ok(ep) = address::parse_lprt_arg(data) {
        endpoint_roundtrip(&ep, long_form, address::parse_lprt_arg);
    }
}

/// 228 reply text.
pub fn addr_228(data: &[u8]) {
    if let Ok(ep) = address::parse_228(data) {
        let wrap = |ep: &address::DataEndpoint| {
            long_form(ep).map(|w| [&b"Entering Long Passive Mode ("[..], &w, b")"].concat())
        };
        endpoint_roundtrip(&ep, wrap, address::parse_228);
    }
}

// ------------------------------------------------------------------------------ sessions

/// One step of a control-connection transcript.
pub enum Step<'a> {
    Feed(Direction, &'a [u8]),
    /// Capture time jumps forward by this many seconds (expiry).
    Wait(f64),
    /// The connection ends (`Session::finish`); feeding may go on afterwards.
    Finish,
}

/// The transcript format of the `session` and `ffi` targets: a header byte `h`, then data.
/// `h & 0x80` is the direction (set: server to client), `h & 0x7f` the chunk length (cut short at
/// the end of the input). Length 0 is a control record: the next byte `k` is 0 for finish, else a
/// wait of `k * 8` seconds. So the fuzzer chooses where segments are cut and how sides interleave.
pub fn steps(data: &[u8]) -> Vec<Step<'_>> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let h = data[i];
        i += 1;
        let dir = if h & 0x80 != 0 {
            Direction::ToClient
        } else {
            Direction::ToServer
        };
        let n = usize::from(h & 0x7f);
        if n == 0 {
            match data.get(i) {
                Some(0) => out.push(Step::Finish),
                Some(&k) => out.push(Step::Wait(f64::from(k) * 8.0)),
                None => {}
            }
            i += 1;
            continue;
        }
        let end = (i + n).min(data.len());
        out.push(Step::Feed(dir, &data[i..end]));
        i = end;
    }
    out
}

fn sa(ip: [u8; 4], port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port)
}

/// Small limits so that every cap is hit by short inputs.
fn tiny_limits() -> Limits {
    Limits {
        max_line: 24,
        max_reply_lines: 2,
        max_pending_commands: 2,
        max_expectations: 2,
        expectation_timeout: 20.0,
        failed_login_alarm: 2,
    }
}

/// `Session::feed` over the transcript, with default and with tiny limits, and the presenters over
/// every feed's events. Checks that every event's span and every item's bytes lie in the fed buffer.
pub fn session(data: &[u8]) {
    let steps = steps(data);
    for limits in [Limits::default(), tiny_limits()] {
        let mut s = Session::new(
            Some(sa([192, 168, 1, 106], 57658)),
            Some(sa([192, 168, 1, 109], 21)),
            limits,
        );
        let mut ts = 1000.0;
        for (frame, step) in steps.iter().enumerate() {
            let frame = frame as u64 + 1;
            ts += 0.001;
            let (events, len) = match *step {
                Step::Feed(dir, bytes) => (s.feed(dir, bytes, frame, ts), bytes.len()),
                Step::Wait(secs) => {
                    ts += secs;
                    continue;
                }
                Step::Finish => (s.finish(frame, ts), 0),
            };
            check_events(events, len, &limits);
        }
        let _ = s.finish(u64::MAX, ts + 1e9);
    }
}

fn check_events(events: &[ftplens::Event], len: usize, limits: &Limits) {
    for e in events {
        assert!(e.span.0 + e.span.1 <= len, "span {:?} beyond {len}", e.span);
        match &e.kind {
            EventKind::Command { verb, arg, .. } => {
                assert!(
                    verb.len() + arg.as_ref().map_or(0, |a| a.len()) <= limits.max_line * 3 + 8
                );
            }
            EventKind::Reply(r) => assert!(r.lines.len() <= limits.max_reply_lines.max(1)),
            _ => {}
        }
    }
    for it in ftplens::present::items(events) {
        assert!(
            it.offset + it.length <= len,
            "item {:?} at {}+{} beyond {len}",
            it.field,
            it.offset,
            it.length
        );
    }
    let _ = ftplens::present::summary(events);
}

// ------------------------------------------------------------------------------ the C ABI

unsafe fn cstr_ok(p: *const std::ffi::c_char, what: &str) {
    assert!(!p.is_null(), "{what} is NULL");
    // Reading the whole string: under ASan a dangling pointer is caught here.
    let _ = unsafe { CStr::from_ptr(p) }.to_bytes().len();
}

unsafe fn check_ffi_event(e: &ftplens_event, len: usize) {
    unsafe {
        assert!(e.line_offset as usize + e.line_length as usize <= len);
        match e.kind {
            FTPLENS_EVENT_COMMAND => {
                cstr_ok(e.command, "command");
                cstr_ok(e.arg, "arg");
            }
            FTPLENS_EVENT_REPLY => {
                cstr_ok(e.text, "text");
                cstr_ok(e.request_command, "request_command");
            }
            FTPLENS_EVENT_LOGIN => {
                cstr_ok(e.user, "user");
                if !e.password.is_null() {
                    cstr_ok(e.password, "password");
                }
            }
            FTPLENS_EVENT_TRANSFER_STARTED | FTPLENS_EVENT_TRANSFER_ENDED => {
                cstr_ok(e.command, "command");
                cstr_ok(e.arg, "arg");
                cstr_ok(e.path, "path");
                cstr_ok(e.transfer_type, "transfer_type");
            }
            FTPLENS_EVENT_TLS_UPGRADE | FTPLENS_EVENT_ANOMALY => cstr_ok(e.text, "text"),
            FTPLENS_EVENT_DATA_EXPECTED | FTPLENS_EVENT_DATA_PROTECTED => {}
            k => panic!("unknown event kind {k}"),
        }
        if e.kind == FTPLENS_EVENT_ANOMALY {
            cstr_ok(ffi::ftplens_anomaly_name(e.anomaly), "anomaly name");
        }
        assert!(e.arithmetic.contains(&0));
    }
}

/// The public C functions, in the order a dissector calls them: the transcript is fed through
/// `ftplens_session_feed`; after each call every event is copied out with `ftplens_session_event`,
/// the items, their packed runs (decoded with `ftplens_packed_next`) and the summary are read, every
/// string is walked, and `ftplens_session_complete_prefix` is asked about the chunk. The first byte
/// of the input (if any) picks the limits, and its bit 3 releases the session's output after every
/// other call (`ftplens_session_release`). Each chunk also goes through the stateless calls
/// (`ftplens_line_parse`, `ftplens_complete_prefix`, `ftplens_heuristic`, and `ftplens_packed_next`
/// on the raw bytes). No call may report a caught panic.
pub fn ffi_events(data: &[u8]) {
    let (cfg_byte, rest) = data.split_first().map_or((0, data), |(b, r)| (*b, r));
    let steps = steps(rest);
    unsafe {
        let mut cfg = ftplens_session_config::default();
        if cfg_byte & 1 != 0 {
            cfg.client = ftplens_endpoint {
                family: FTPLENS_FAMILY_IPV4,
                port: 57658,
                addr: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            };
            cfg.server = ftplens_endpoint {
                family: FTPLENS_FAMILY_IPV6,
                port: 21,
                addr: Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets(),
            };
        }
        if cfg_byte & 2 != 0 {
            let t = tiny_limits();
            cfg.limits = ftplens_limits {
                max_line: t.max_line as u32,
                max_reply_lines: t.max_reply_lines as u32,
                max_pending_commands: t.max_pending_commands as u32,
                max_expectations: t.max_expectations as u32,
                expectation_timeout: t.expectation_timeout as u32,
                failed_login_alarm: t.failed_login_alarm,
            };
        }
        let s = ffi::ftplens_session_new(if cfg_byte & 4 != 0 {
            std::ptr::null()
        } else {
            &cfg
        });
        assert!(!s.is_null());
        let mut ts = 1000.0;
        for (frame, step) in steps.iter().enumerate() {
            ts += 0.001;
            let mut n = usize::MAX;
            let (r, len) = match *step {
                Step::Feed(dir, bytes) => {
                    let d = match dir {
                        Direction::ToServer => FTPLENS_DIR_TO_SERVER,
                        Direction::ToClient => FTPLENS_DIR_TO_CLIENT,
                    };
                    stateless(bytes, d);
                    // What a desegmenting dissector asks before it feeds.
                    let p = ffi::ftplens_session_complete_prefix(s, d, bytes.as_ptr(), bytes.len());
                    assert!(p <= bytes.len());
                    (
                        ffi::ftplens_session_feed(
                            s,
                            d,
                            bytes.as_ptr(),
                            bytes.len(),
                            frame as u64 + 1,
                            ts,
                            &mut n,
                        ),
                        bytes.len(),
                    )
                }
                Step::Wait(secs) => {
                    ts += secs;
                    continue;
                }
                Step::Finish => (
                    ffi::ftplens_session_finish(s, frame as u64 + 1, ts, &mut n),
                    0,
                ),
            };
            assert_eq!(r, FTPLENS_OK, "feed/finish failed");
            for i in 0..n {
                let mut e = ftplens_event::default();
                assert_eq!(ffi::ftplens_session_event(s, i, &mut e), FTPLENS_OK);
                check_ffi_event(&e, len);
            }
            let mut e = ftplens_event::default();
            assert_eq!(
                ffi::ftplens_session_event(s, n, &mut e),
                FTPLENS_ERR_INVALID_ARGUMENT
            );
            let mut items: *const ftplens_item = std::ptr::null();
            let mut n_items = 0usize;
            assert_eq!(
                ffi::ftplens_session_items(s, &mut items, &mut n_items),
                FTPLENS_OK
            );
            let items = published(items, n_items);
            let n_fields = ffi::ftplens_field_count();
            for it in items {
                assert!((it.field as usize) < n_fields);
                if it.target == FTPLENS_TARGET_FRAME {
                    assert!(it.offset as usize + it.length as usize <= len);
                }
                if !it.string_value.is_null() {
                    cstr_ok(it.string_value, "string_value");
                }
                if it.expert != FTPLENS_NO_EXPERT {
                    assert!((it.expert as usize) < ffi::ftplens_expert_count());
                    cstr_ok(it.expert_message, "expert_message");
                }
            }
            check_packed(s, n_items);
            cstr_ok(ffi::ftplens_session_summary(s), "summary");
            // Release after some feeds (as the Wireshark plugin does after every one).
            if cfg_byte & 8 != 0 && frame % 2 == 1 {
                assert_eq!(ffi::ftplens_session_release(s), FTPLENS_OK);
                check_packed(s, 0);
                cstr_ok(ffi::ftplens_session_summary(s), "summary");
            }
        }
        let mut n = 0;
        assert_eq!(ffi::ftplens_session_finish(s, 0, ts, &mut n), FTPLENS_OK);
        ffi::ftplens_session_free(s);
    }
}

/// An array a session published (pointer and length; the pointer may be dangling when empty).
unsafe fn published<'a, T>(ptr: *const T, n: usize) -> &'a [T] {
    if n == 0 {
        &[]
    } else {
        // SAFETY: the session owns n elements at ptr until its next mutable call.
        unsafe { std::slice::from_raw_parts(ptr, n) }
    }
}

/// The packed runs of the last feed decode, through the C function, to `n_items` items in all.
unsafe fn check_packed(s: *mut ftplens_session, n_items: usize) {
    unsafe {
        let mut runs: *const ftplens_packed = std::ptr::null();
        let mut n_runs = 0usize;
        assert_eq!(
            ffi::ftplens_session_packed(s, &mut runs, &mut n_runs),
            FTPLENS_OK
        );
        let runs = published(runs, n_runs);
        let mut decoded = 0;
        for run in runs {
            let mut pos = 0;
            loop {
                let mut it = ftplens_item::default();
                match ffi::ftplens_packed_next(run.data, run.len, &mut pos, &mut it) {
                    FTPLENS_OK => {
                        decoded += 1;
                        assert!((it.field as usize) < ffi::ftplens_field_count());
                        if !it.string_value.is_null() {
                            cstr_ok(it.string_value, "packed string_value");
                        }
                        if it.expert != FTPLENS_NO_EXPERT {
                            cstr_ok(it.expert_message, "packed expert_message");
                        }
                    }
                    FTPLENS_END => break,
                    r => panic!("a packed run of the session does not decode: {r}"),
                }
            }
            assert_eq!(pos, run.len);
        }
        assert_eq!(decoded, n_items, "packed runs and items disagree");
    }
}

/// Arbitrary bytes as a packed run: every item decodes within them, or the call reports damage.
unsafe fn packed_garbage(bytes: &[u8]) {
    unsafe {
        let mut pos = 0;
        loop {
            let mut it = ftplens_item::default();
            let before = pos;
            match ffi::ftplens_packed_next(bytes.as_ptr(), bytes.len(), &mut pos, &mut it) {
                FTPLENS_OK => {
                    assert!(pos > before && pos <= bytes.len());
                    // Text points into the bytes, or to an interned text (a static-text index).
                    for p in [it.string_value, it.expert_message] {
                        if !p.is_null() {
                            cstr_ok(p, "garbage string");
                        }
                    }
                }
                FTPLENS_END => break,
                r => {
                    assert_eq!(r, FTPLENS_ERR_PARSE);
                    assert_eq!(pos, before);
                    break;
                }
            }
        }
    }
}

unsafe fn stateless(bytes: &[u8], dir: ftplens_direction) {
    unsafe {
        packed_garbage(bytes);
        let mut line = ftplens_line::default();
        let r = ffi::ftplens_line_parse(bytes.as_ptr(), bytes.len(), dir, &mut line);
        assert!(r == FTPLENS_OK || r == FTPLENS_ERR_PARSE, "line_parse {r}");
        if r == FTPLENS_OK {
            for (p, n) in [
                (line.verb, line.verb_len),
                (line.arg, line.arg_len),
                (line.text, line.text_len),
            ] {
                if !p.is_null() {
                    assert!(within(bytes, std::slice::from_raw_parts(p, n)));
                }
            }
            assert!(line.arithmetic.contains(&0) && line.address_error.contains(&0));
            for p in [line.reply_class, line.reply_category, line.reply_meaning] {
                if !p.is_null() {
                    cstr_ok(p, "reply table");
                }
            }
        }
        let p = ffi::ftplens_complete_prefix(bytes.as_ptr(), bytes.len(), 16);
        assert!(p <= bytes.len());
        let v = ffi::ftplens_heuristic(bytes.as_ptr(), bytes.len());
        assert!(v <= FTPLENS_VERDICT_CLIENT);
    }
}

// ------------------------------------------------------------------------------ the CLI's reader

fn small_options() -> Options {
    Options {
        stream_memcap: 4096,
        total_memcap: 16384,
        candidate_bytes: 1024,
        candidate_total: 4096,
        control_ports: vec![21, 2121],
        ..Options::default()
    }
}

/// A capture file (pcap, pcapng, gzip of either) through the CLI's streaming reader and the whole
/// analyser (decode, reassembly, sessions, data channels), every record rendered as JSON. `json`
/// sees each line (the fuzz target checks that it parses).
pub fn capture_with(data: &[u8], json: &mut dyn FnMut(&str)) {
    // A small block buffer: a fresh 1 MiB one per input would cost more than the analysis (and
    // this exercises the buffer's growth for larger blocks).
    let Ok(reader) = CaptureReader::with_buffer(data, 16 * 1024) else {
        return;
    };
    let mut sink = |r: ftplens::capture::Record| {
        let mut s = String::new();
        r.write_json(&mut s, Some("x\"\u{1}.pcap"));
        json(&s);
    };
    let Ok(mut a) = Analyzer::new(small_options(), &mut sink) else {
        return;
    };
    let _ = reader.for_each(|f| a.frame(f));
    let _ = a.finish();
}

pub fn capture(data: &[u8]) {
    capture_with(data, &mut |_| {});
}

/// One direction of TCP reassembly (`HalfStream`), driven by 4-byte records: a flag byte (bit 0 SYN,
/// bit 1 FIN, bit 2 ack, bit 3 flush, bit 4 large jump), a signed sequence delta (in units of 16
/// bytes from the next expected offset), a length (0..=255) and a fill byte. Checks that delivered
/// data and gaps are contiguous and that held bytes stay under the cap.
pub fn tcp(data: &[u8]) {
    const MEMCAP: usize = 1024;
    let mut h = HalfStream::default();
    let mut expected: Option<u64> = None;
    let mut check = |c: Chunk<'_>| {
        let (off, len) = match c {
            Chunk::Data { offset, bytes, .. } => {
                assert!(!bytes.is_empty());
                (offset, bytes.len() as u64)
            }
            Chunk::Gap { offset, len } => {
                assert!(len > 0);
                (offset, len)
            }
        };
        if let Some(e) = expected {
            assert_eq!(off, e, "chunk not contiguous");
        }
        expected = Some(off + len);
    };
    let base: u32 = 0xffff_f000; // wraps soon
    let mut payload = [0u8; 255];
    for (i, rec) in data.chunks_exact(4).enumerate() {
        let [flags, delta, len, fill] = [rec[0], rec[1], rec[2], rec[3]];
        let scale: i64 = if flags & 0x10 != 0 { 1 << 24 } else { 16 };
        let next = h.next_offset() as i64;
        let seq = base.wrapping_add((next + i64::from(delta as i8) * scale) as u32);
        if flags & 1 != 0 {
            h.syn(seq.wrapping_sub(1));
        }
        payload[..usize::from(len)].fill(fill);
        let p = &payload[..usize::from(len)];
        h.segment(seq, p, i as u64, i as f64, MEMCAP, &mut check);
        assert!(h.held_bytes() <= MEMCAP);
        if flags & 2 != 0 {
            h.fin(seq, p.len());
        }
        if flags & 4 != 0 {
            h.acked(seq.wrapping_add(u32::from(len)), &mut check);
        }
        if flags & 8 != 0 {
            h.flush(&mut check);
            assert_eq!(h.held_bytes(), 0);
        }
        let _ = h.finished();
    }
    h.flush(&mut check);
    assert_eq!(h.held_bytes(), 0);
    if let Some(e) = expected {
        assert_eq!(e, h.next_offset());
    }
}

/// Endpoints of the `flows` target: client C=10.0.0.1, server S=10.0.0.2, third party T=10.0.0.3,
/// and an IPv6 pair. Data ports: 5000 (19,136) passive on S, 6000 (23,112) active on C.
const FLOW_PAIRS: [([u8; 4], u16, [u8; 4], u16); 7] = [
    ([10, 0, 0, 1], 40001, [10, 0, 0, 2], 21),
    ([10, 0, 0, 1], 40002, [10, 0, 0, 2], 5000),
    ([10, 0, 0, 2], 20, [10, 0, 0, 1], 6000),
    ([10, 0, 0, 2], 20, [10, 0, 0, 3], 6000),
    ([10, 0, 0, 1], 40003, [10, 0, 0, 2], 2121),
    ([10, 0, 0, 1], 40004, [10, 0, 0, 2], 21),
    ([10, 0, 0, 3], 40005, [10, 0, 0, 2], 5000),
];

/// The whole analyser on synthetic frames (raw IP): 3-byte op headers then payload. Byte 0: bits
/// 0-2 pick a connection (7 = the IPv6 pair), bit 3 reverses it, bits 4-7 are SYN, FIN, RST and
/// "one hour later". Byte 1: a signed sequence delta in 32-byte units from what that side sent so
/// far. Byte 2: payload length. Then with extraction into a temporary directory when the input's
/// length is odd.
pub fn flows(data: &[u8]) {
    use etherparse::PacketBuilder;
    let mut frames: Vec<(f64, Vec<u8>)> = Vec::new();
    let mut sent = [[0u32; 2]; 8];
    let mut ts = 1_000_000.0;
    let mut i = 0;
    while i + 3 <= data.len() {
        let (op, delta, len) = (data[i], data[i + 1] as i8, usize::from(data[i + 2]));
        i += 3;
        let payload = &data[i..(i + len).min(data.len())];
        i += payload.len();
        let pair = usize::from(op & 7);
        let rev = usize::from(op >> 3 & 1);
        ts += if op & 0x80 != 0 { 3600.0 } else { 0.01 };
        let isn = 1000 * (pair as u32 + 1) + 500 * rev as u32;
        let seq = isn
            .wrapping_add(sent[pair][rev])
            .wrapping_add((i32::from(delta) * 32) as u32);
        let ack = 1000 * (pair as u32 + 1) + 500 * (1 - rev as u32) + sent[pair][1 - rev];
        if delta == 0 {
            sent[pair][rev] = sent[pair][rev].wrapping_add(payload.len() as u32);
        }
        let (ports, builder) = if pair == 7 {
            let c: [u8; 16] = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1).octets();
            let s: [u8; 16] = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2).octets();
            let (a, b) = if rev == 0 { (c, s) } else { (s, c) };
            ((40007u16, 21u16), PacketBuilder::ipv6(a, b, 64))
        } else {
            let (ca, cp, sa, sp) = FLOW_PAIRS[pair];
            let (a, b) = if rev == 0 { (ca, sa) } else { (sa, ca) };
            ((cp, sp), PacketBuilder::ipv4(a, b, 64))
        };
        let (sp, dp) = if rev == 0 { ports } else { (ports.1, ports.0) };
        let mut b = builder.tcp(sp, dp, seq, 65535).ack(ack);
        if op & 0x10 != 0 {
            b = b.syn();
        }
        if op & 0x20 != 0 {
            b = b.fin();
        }
        if op & 0x40 != 0 {
            b = b.rst();
        }
        let mut f = Vec::with_capacity(b.size(payload.len()));
        if b.write(&mut f, payload).is_ok() {
            frames.push((ts, f));
        }
    }
    let dir = (data.len() % 2 == 1).then(|| {
        let d = std::env::temp_dir().join(format!(
            "ftplens-fuzz-extract-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        d
    });
    let mut sink = |r: ftplens::capture::Record| {
        let mut s = String::new();
        r.write_json(&mut s, None);
    };
    let opts = Options {
        extract_dir: dir.clone(),
        extract_listings: true,
        ..small_options()
    };
    if let Ok(mut a) = Analyzer::new(opts, &mut sink) {
        for (n, (ts, bytes)) in frames.iter().enumerate() {
            a.frame(&Frame {
                number: n as u64 + 1,
                ts: *ts,
                linktype: 101,
                data: bytes,
                orig_len: bytes.len() as u32,
            });
        }
        let _ = a.finish();
    }
    if let Some(d) = dir {
        assert_inside(&d, &d);
        let _ = std::fs::remove_dir_all(&d);
    }
}

/// Every entry under `dir` is a plain file or directory whose canonical path stays under `root`.
fn assert_inside(root: &std::path::Path, dir: &std::path::Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    for e in rd.flatten() {
        let p = e.path();
        let meta = std::fs::symlink_metadata(&p).expect("stat");
        assert!(!meta.file_type().is_symlink(), "symlink {p:?}");
        let c = p.canonicalize().expect("canonicalize");
        assert!(c.starts_with(&root), "{c:?} escapes {root:?}");
        if meta.is_dir() {
            assert_inside(&root, &p);
        }
    }
}

// ------------------------------------------------------------------------------ the dissector

/// What a Wireshark-like host did with a capture: the dissector after its first pass, and the
/// payload of every frame it offered.
pub struct Dissected {
    pub dissector: Dissector,
    pub payloads: std::collections::BTreeMap<u64, Vec<u8>>,
}

/// Feed a capture file to the dissector as a Wireshark host does: segments with payload in capture
/// order, one stream number per connection (a new one when a SYN reopens the same addresses),
/// offered through port 21, through a connection the dissector's EXPECT actions named, or to the
/// heuristic until it is rejected; the handshake seen is told by flags. Then the end of the first
/// pass.
pub fn dissect_capture(data: &[u8]) -> Dissected {
    use std::collections::{BTreeMap, HashMap};
    #[derive(Default)]
    struct HostStream {
        id: u32,
        opener: Option<SocketAddr>,
        accepter: Option<SocketAddr>,
        rejected: bool,
        payload_seen: bool,
    }
    let mut d = Dissector::new(DissectConfig::default());
    let mut payloads = BTreeMap::new();
    let Ok(reader) = CaptureReader::with_buffer(data, 16 * 1024) else {
        return Dissected {
            dissector: d,
            payloads,
        };
    };
    let mut streams: HashMap<(SocketAddr, SocketAddr), HostStream> = HashMap::new();
    let mut next_id = 0u32;
    // (listener, connector) pairs the dissector asked for.
    let mut expected: Vec<(SocketAddr, Option<IpAddr>)> = Vec::new();
    let _ = reader.for_each(|f: &Frame<'_>| {
        use ftplens::capture::decode::{Decoded, decode};
        let Decoded::Tcp(seg) = decode(f.linktype, f.data) else {
            return;
        };
        let key = if seg.src <= seg.dst {
            (seg.src, seg.dst)
        } else {
            (seg.dst, seg.src)
        };
        let st = streams.entry(key).or_default();
        if seg.syn && !seg.ack_flag && st.payload_seen {
            *st = HostStream::default();
        }
        if st.id == 0 {
            next_id += 1;
            st.id = next_id;
        }
        if seg.syn && !seg.ack_flag {
            st.opener = Some(seg.src);
        } else if seg.syn {
            st.accepter = Some(seg.src);
        }
        if seg.payload.is_empty() || st.rejected {
            return;
        }
        st.payload_seen = true;
        let offer = if seg.src.port() == 21 || seg.dst.port() == 21 {
            Offer::Port
        } else if expected
            .iter()
            .any(|(l, c)| *l == seg.dst && c.is_none_or(|c| c == seg.src.ip()))
        {
            Offer::Expected
        } else {
            Offer::Heuristic
        };
        let mut flags = 0;
        for (on, flag) in [
            (st.opener == Some(seg.src), TCP_SYN),
            (st.accepter == Some(seg.src), TCP_SYN_ACK),
            (seg.fin, TCP_FIN),
            (seg.rst, TCP_RST),
        ] {
            if on {
                flags |= flag;
            }
        }
        let claim = d.segment(
            &ftplens::dissect::Segment {
                stream: st.id,
                src: seg.src,
                dst: seg.dst,
                frame: f.number,
                ts: f.ts,
                seq: seg.seq.wrapping_add(u32::from(seg.syn)),
                flags,
                data: seg.payload,
            },
            offer,
        );
        st.rejected = claim == Claim::Rejected;
        for a in d.actions() {
            if let HostAction::Expect {
                listener,
                alt_listener,
                connector,
                ..
            } = a
            {
                if expected.len() < 4096 {
                    expected.push((*listener, *connector));
                    if let Some(alt) = alt_listener {
                        expected.push((SocketAddr::new(*alt, listener.port()), *connector));
                    }
                }
            }
        }
        payloads.insert(f.number, seg.payload.to_vec());
    });
    d.finish();
    Dissected {
        dissector: d,
        payloads,
    }
}

/// A capture file through the dissector as a Wireshark host drives it (`dissect_capture`). Every
/// view keeps the C header's contract: its items are all for this frame, those tied to bytes lie
/// inside the frame's payload, and an export piece lies inside it too.
pub fn dissect(data: &[u8]) {
    let out = dissect_capture(data);
    for (frame, payload) in &out.payloads {
        let Some(v) = out.dissector.view(*frame) else {
            continue;
        };
        for it in &v.items {
            assert!(
                it.length == 0 || it.offset + it.length <= payload.len(),
                "frame {frame}: item {it:?} past the {}-byte payload",
                payload.len()
            );
        }
        if let Some(e) = &v.export {
            assert!(e.object > 0 && !e.filename.is_empty());
            assert!(
                e.skip as usize + e.len as usize <= payload.len(),
                "frame {frame}: export piece {e:?} past the {}-byte payload",
                payload.len()
            );
        }
    }
}
