//! The core's registries (fields, expert infos, anomalies), for the host to register its own from.

use super::sys::*;
use super::{guard, static_cstr};
use crate::Anomaly;
use crate::fields::{EXPERTS, FIELDS};
use std::ffi::c_char;

#[unsafe(no_mangle)]
pub extern "C" fn ftplens_anomaly_name(anomaly: ftplens_anomaly) -> *const c_char {
    guard(std::ptr::null(), || {
        Anomaly::ALL
            .iter()
            .find(|a| **a as u32 == anomaly)
            .map_or(std::ptr::null(), |a| static_cstr(a.name()))
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn ftplens_field_count() -> usize {
    FIELDS.len()
}

/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_field_get(
    index: usize,
    out: *mut ftplens_field_info,
) -> ftplens_result {
    guard(FTPLENS_ERR_PANIC, || {
        // SAFETY: the caller guarantees out is NULL or writable.
        let Some(out) = (unsafe { out.as_mut() }) else {
            return FTPLENS_ERR_NULL_ARGUMENT;
        };
        let Some(f) = FIELDS.get(index) else {
            return FTPLENS_ERR_INVALID_ARGUMENT;
        };
        *out = ftplens_field_info {
            abbrev: static_cstr(f.abbrev),
            name: static_cstr(f.name),
            blurb: static_cstr(f.blurb),
            type_: f.ftype as u32,
            frame_role: f.frame_role as u32,
            data_protocol: f.is_data(),
        };
        FTPLENS_OK
    })
}

#[unsafe(no_mangle)]
pub extern "C" fn ftplens_expert_count() -> usize {
    EXPERTS.len()
}

/// # Safety
/// `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_expert_get(
    index: usize,
    out: *mut ftplens_expert_info,
) -> ftplens_result {
    guard(FTPLENS_ERR_PANIC, || {
        // SAFETY: the caller guarantees out is NULL or writable.
        let Some(out) = (unsafe { out.as_mut() }) else {
            return FTPLENS_ERR_NULL_ARGUMENT;
        };
        let Some(e) = EXPERTS.get(index) else {
            return FTPLENS_ERR_INVALID_ARGUMENT;
        };
        *out = ftplens_expert_info {
            abbrev: static_cstr(e.abbrev),
            summary: static_cstr(e.summary),
            group: e.group as u32,
            severity: e.severity as u32,
        };
        FTPLENS_OK
    })
}
