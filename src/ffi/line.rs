//! Stateless exports: one line parsed, the whole-line prefix of some bytes, the heuristic's verdict.

use super::sys::*;
use super::{direction, endpoint, fill, guard, mode_code, static_cstr};
use crate::parse::{self, address};
use crate::{DataMode, Direction};

fn parse_line_into(line: &[u8], dir: Direction, out: &mut ftplens_line) -> ftplens_result {
    let body = parse::trim_line_end(line);
    let address = match dir {
        Direction::ToServer => {
            let Ok((_, cmd)) = parse::parse_command(body) else {
                return FTPLENS_ERR_PARSE;
            };
            out.kind = FTPLENS_LINE_COMMAND;
            out.verb = cmd.verb.as_ptr();
            out.verb_len = cmd.verb.len();
            if let Some(arg) = cmd.arg {
                out.arg = arg.as_ptr();
                out.arg_len = arg.len();
            }
            let info = cmd.info();
            out.verb_known = info.is_some();
            let arg = cmd.arg.unwrap_or_default();
            match info.map(|i| i.verb) {
                Some("PORT") => Some((DataMode::Port, address::parse_port_arg(arg))),
                Some("EPRT") => Some((DataMode::Eprt, address::parse_eprt_arg(arg))),
                Some("LPRT") => Some((DataMode::Lprt, address::parse_lprt_arg(arg))),
                _ => None,
            }
        }
        Direction::ToClient => {
            let Ok((_, r)) = parse::parse_reply_line(body) else {
                return FTPLENS_ERR_PARSE;
            };
            if !r.code.is_valid() {
                return FTPLENS_ERR_PARSE;
            }
            out.kind = FTPLENS_LINE_REPLY;
            out.code = r.code.0;
            out.continued = r.separator == parse::Separator::Hyphen;
            out.text = r.text.as_ptr();
            out.text_len = r.text.len();
            out.reply_class = static_cstr(parse::reply_class(r.code));
            out.reply_category = static_cstr(parse::reply_category(r.code));
            out.reply_meaning = static_cstr(parse::reply_meaning(r.code));
            match r.code.0 {
                227 => Some((DataMode::Pasv, address::parse_227(r.text))),
                228 => Some((DataMode::Lpsv, address::parse_228(r.text))),
                229 => Some((DataMode::Epsv, address::parse_229(r.text))),
                _ => None,
            }
        }
    };
    match address {
        Some((mode, Ok(ep))) => {
            out.mode = mode_code(Some(mode));
            out.endpoint = endpoint(ep.addr, ep.port);
            fill(&mut out.arithmetic, &ep.to_string());
        }
        Some((mode, Err(e))) => {
            out.mode = mode_code(Some(mode));
            fill(&mut out.address_error, &e.to_string());
        }
        None => {}
    }
    FTPLENS_OK
}

/// # Safety
/// `data` must point to `len` readable bytes (or be NULL with `len` 0); `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_line_parse(
    data: *const u8,
    len: usize,
    dir: ftplens_direction,
    out: *mut ftplens_line,
) -> ftplens_result {
    guard(FTPLENS_ERR_PANIC, || {
        if out.is_null() || (data.is_null() && len != 0) {
            return FTPLENS_ERR_NULL_ARGUMENT;
        }
        let Some(dir) = direction(dir) else {
            return FTPLENS_ERR_INVALID_ARGUMENT;
        };
        // SAFETY: out is non-NULL and the caller guarantees it points to a writable ftplens_line.
        let out = unsafe { &mut *out };
        *out = ftplens_line::default();
        // SAFETY: the caller guarantees data points to len readable bytes; NULL only with len 0.
        let line = if len == 0 {
            &[][..]
        } else {
            unsafe { std::slice::from_raw_parts(data, len) }
        };
        let r = parse_line_into(line, dir, out);
        if r != FTPLENS_OK {
            *out = ftplens_line::default();
        }
        r
    })
}

/// # Safety
/// `data` must point to `len` readable bytes, or be NULL with `len` 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_complete_prefix(
    data: *const u8,
    len: usize,
    max_line: usize,
) -> usize {
    guard(0, || {
        if data.is_null() || len == 0 {
            return 0;
        }
        // SAFETY: non-NULL, and the caller guarantees len readable bytes.
        let data = unsafe { std::slice::from_raw_parts(data, len) };
        crate::session::complete_prefix(data, max_line)
    })
}

/// # Safety
/// `data` must point to `len` readable bytes, or be NULL with `len` 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_heuristic(data: *const u8, len: usize) -> ftplens_verdict {
    guard(FTPLENS_VERDICT_UNSURE, || {
        if data.is_null() || len == 0 {
            return FTPLENS_VERDICT_UNSURE;
        }
        // SAFETY: non-NULL, and the caller guarantees len readable bytes.
        let data = unsafe { std::slice::from_raw_parts(data, len) };
        crate::heuristic::classify(data) as ftplens_verdict
    })
}

/// The MIME type the first bytes of a file suggest (the CLI's sniffing), as a static NUL-terminated
/// string, or NULL when the bytes are empty.
///
/// # Safety
/// `data` must point to `len` readable bytes, or be NULL with `len` 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_sniff_mime(
    data: *const u8,
    len: usize,
) -> *const std::ffi::c_char {
    guard(std::ptr::null(), || {
        if data.is_null() || len == 0 {
            return std::ptr::null();
        }
        // SAFETY: non-NULL, and the caller guarantees len readable bytes.
        let data = unsafe { std::slice::from_raw_parts(data, len) };
        crate::mime::sniff_mime(data).map_or(std::ptr::null(), interned)
    })
}

/// A NUL-terminated copy of a static string that lives as long as the library: each distinct
/// string is copied once (a CString's buffer does not move when the map grows).
fn interned(s: &'static str) -> *const std::ffi::c_char {
    use std::collections::HashMap;
    use std::ffi::CString;
    use std::sync::{Mutex, OnceLock};
    static TABLE: OnceLock<Mutex<HashMap<&'static str, CString>>> = OnceLock::new();
    let mut table = TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    table
        .entry(s)
        .or_insert_with(|| CString::new(s).unwrap_or_default())
        .as_ptr()
}
