//! The limits a session is made with, by their index in the core's limit registry.

use super::guard;
use super::header::limit_field;
use super::static_cstr;
use super::sys::*;
use crate::Limits;

/// Zero keeps a default; a value above a limit's maximum is taken as the maximum.
pub(crate) fn limits_from(l: &ftplens_limits) -> Limits {
    let mut fields = *l;
    let mut out = Limits::default();
    for i in 0..crate::limits::LIMITS.len() {
        if let Some(&mut v) = limit_field(&mut fields, i) {
            out.set_clamped(i, u64::from(v));
        }
    }
    out
}

#[unsafe(no_mangle)]
pub extern "C" fn ftplens_limit_count() -> usize {
    crate::limits::LIMITS.len()
}

/// # Safety
/// `out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_limit_get(
    index: usize,
    out: *mut ftplens_limit_info,
) -> ftplens_result {
    guard(FTPLENS_ERR_PANIC, || {
        // SAFETY: the caller guarantees out is NULL or writable.
        let Some(out) = (unsafe { out.as_mut() }) else {
            return FTPLENS_ERR_NULL_ARGUMENT;
        };
        let Some(l) = crate::limits::LIMITS.get(index) else {
            return FTPLENS_ERR_INVALID_ARGUMENT;
        };
        *out = ftplens_limit_info {
            name: static_cstr(l.name),
            description: static_cstr(l.description),
            help: static_cstr(l.help()),
            default_value: u32::try_from(l.default).unwrap_or(u32::MAX),
            max_value: u32::try_from(l.max).unwrap_or(u32::MAX),
            anomaly: static_cstr(l.anomaly_name()),
        };
        FTPLENS_OK
    })
}

/// The title of limit `index` in words, for preference dialogs; NULL out of range.
#[unsafe(no_mangle)]
pub extern "C" fn ftplens_limit_title(index: usize) -> *const std::ffi::c_char {
    crate::limits::LIMITS
        .get(index)
        .map_or(std::ptr::null(), |l| static_cstr(l.title))
}

/// # Safety
/// `limits` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_limits_set(
    limits: *mut ftplens_limits,
    index: usize,
    value: u32,
) -> ftplens_result {
    guard(FTPLENS_ERR_PANIC, || {
        // SAFETY: the caller guarantees limits is NULL or writable.
        let Some(limits) = (unsafe { limits.as_mut() }) else {
            return FTPLENS_ERR_NULL_ARGUMENT;
        };
        match limit_field(limits, index) {
            Some(field) => {
                *field = value;
                FTPLENS_OK
            }
            None => FTPLENS_ERR_INVALID_ARGUMENT,
        }
    })
}
