//! A session's life through the C ABI: new, feed, finish, read what was published, free.

use super::limits::limits_from;
use super::publish::Published;
use super::sys::*;
use super::{direction, guard, socket_addr, static_cstr};
use crate::present;
use crate::{Limits, Session};
use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What an `ftplens_session *` points to.
struct Handle {
    session: Session,
    out: Published,
    poisoned: bool,
    /// Publish passwords as stars ([`present::hide_passwords`]).
    hide_passwords: bool,
}

impl Handle {
    /// Publish `events`, with `summary` made from them, passwords hidden when asked for.
    fn publish(
        out: &mut Published,
        hide: bool,
        events: &[crate::session::Event],
        summary: impl FnOnce(&[crate::session::Event]) -> String,
    ) {
        let events = if hide {
            present::hide_passwords(events)
        } else {
            std::borrow::Cow::Borrowed(events)
        };
        let summary = summary(&events);
        out.publish(&events, &summary);
    }
}

/// # Safety
/// `config` must be NULL or point to a readable `ftplens_session_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_session_new(
    config: *const ftplens_session_config,
) -> *mut ftplens_session {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL is allowed; otherwise the caller guarantees a readable config.
        let (client, server, limits) = match unsafe { config.as_ref() } {
            None => (None, None, Limits::default()),
            Some(c) => (
                socket_addr(&c.client),
                socket_addr(&c.server),
                limits_from(&c.limits),
            ),
        };
        let handle = Box::new(Handle {
            session: Session::new(client, server, limits),
            out: Published::default(),
            poisoned: false,
            hide_passwords: false,
        });
        Box::into_raw(handle).cast::<ftplens_session>()
    })
}

/// # Safety
/// `session` must be NULL or a handle from `ftplens_session_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_session_free(session: *mut ftplens_session) {
    guard((), || {
        if !session.is_null() {
            // SAFETY: the caller passes a handle made by Box::into_raw in ftplens_session_new, once.
            drop(unsafe { Box::from_raw(session.cast::<Handle>()) });
        }
    })
}

/// Borrow a handle mutably and run `f` under the panic guard, poisoning the handle on panic.
///
/// # Safety
/// `session` must be NULL or a live handle used by one thread at a time.
unsafe fn with_session(
    session: *mut ftplens_session,
    f: impl FnOnce(&mut Handle) -> ftplens_result,
) -> ftplens_result {
    // SAFETY: the caller guarantees a live, unaliased handle or NULL.
    let Some(h) = (unsafe { session.cast::<Handle>().as_mut() }) else {
        return FTPLENS_ERR_NULL_ARGUMENT;
    };
    if h.poisoned {
        return FTPLENS_ERR_POISONED;
    }
    let r = catch_unwind(AssertUnwindSafe(|| f(h)));
    match r {
        Ok(r) => r,
        Err(_) => {
            h.poisoned = true;
            h.out.clear();
            FTPLENS_ERR_PANIC
        }
    }
}

/// # Safety
/// `session` must be a live handle; `data` must point to `len` readable bytes (NULL only with len 0);
/// `n_events_out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_session_feed(
    session: *mut ftplens_session,
    dir: ftplens_direction,
    data: *const u8,
    len: usize,
    frame: u64,
    ts: f64,
    n_events_out: *mut usize,
) -> ftplens_result {
    if data.is_null() && len != 0 {
        return FTPLENS_ERR_NULL_ARGUMENT;
    }
    let Some(dir) = direction(dir) else {
        return FTPLENS_ERR_INVALID_ARGUMENT;
    };
    // SAFETY: forwarded caller guarantee about session.
    unsafe {
        with_session(session, |h| {
            // SAFETY: the caller guarantees data points to len readable bytes; NULL only with len 0.
            let bytes = if len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(data, len)
            };
            let before = h
                .session
                .open_reply()
                .map(|(code, lines)| (code, lines.len()));
            h.session.feed(dir, bytes, frame, ts);
            let open = h.session.open_reply();
            Handle::publish(&mut h.out, h.hide_passwords, h.session.events(), |ev| {
                present::feed_summary(ev, before, open)
            });
            if let Some(n) = n_events_out.as_mut() {
                *n = h.out.events.len();
            }
            FTPLENS_OK
        })
    }
}

/// # Safety
/// `session` must be a live handle; `n_events_out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_session_finish(
    session: *mut ftplens_session,
    frame: u64,
    ts: f64,
    n_events_out: *mut usize,
) -> ftplens_result {
    // SAFETY: forwarded caller guarantee about session.
    unsafe {
        with_session(session, |h| {
            let events = h.session.finish(frame, ts);
            Handle::publish(&mut h.out, h.hide_passwords, events, present::summary);
            // SAFETY: NULL or writable, by the caller's guarantee.
            if let Some(n) = n_events_out.as_mut() {
                *n = h.out.events.len();
            }
            FTPLENS_OK
        })
    }
}

/// # Safety
/// `session` must be NULL or a live handle used by one thread at a time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_session_set_hide_passwords(
    session: *mut ftplens_session,
    hide: bool,
) -> ftplens_result {
    // SAFETY: forwarded caller guarantee about session.
    unsafe {
        with_session(session, |h| {
            h.hide_passwords = hide;
            FTPLENS_OK
        })
    }
}

/// # Safety
/// `session` must be a live handle; `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_session_event(
    session: *const ftplens_session,
    index: usize,
    out: *mut ftplens_event,
) -> ftplens_result {
    guard(FTPLENS_ERR_PANIC, || {
        // SAFETY: the caller guarantees a live handle or NULL, and a writable out or NULL.
        let (Some(h), Some(out)) = (unsafe { session.cast::<Handle>().as_ref() }, unsafe {
            out.as_mut()
        }) else {
            return FTPLENS_ERR_NULL_ARGUMENT;
        };
        if h.poisoned {
            return FTPLENS_ERR_POISONED;
        }
        match h.out.events.get(index) {
            Some(e) => {
                *out = *e;
                FTPLENS_OK
            }
            None => FTPLENS_ERR_INVALID_ARGUMENT,
        }
    })
}

/// # Safety
/// `session` must be a live handle; `items_out` and `n_items_out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_session_items(
    session: *const ftplens_session,
    items_out: *mut *const ftplens_item,
    n_items_out: *mut usize,
) -> ftplens_result {
    // SAFETY: forwarded caller guarantees.
    unsafe { published(session, items_out, n_items_out, |out| &out.items) }
}

/// Hand the caller one of a session's published arrays (pointer and length), under the panic guard.
///
/// # Safety
/// `session` must be NULL or a live handle; `ptr_out` and `n_out` must be NULL or writable.
unsafe fn published<T>(
    session: *const ftplens_session,
    ptr_out: *mut *const T,
    n_out: *mut usize,
    pick: impl FnOnce(&Published) -> &[T],
) -> ftplens_result {
    guard(FTPLENS_ERR_PANIC, || {
        // SAFETY: the caller guarantees a live handle or NULL, and writable outputs or NULL.
        let (Some(h), Some(ptr), Some(n)) = (
            unsafe { session.cast::<Handle>().as_ref() },
            unsafe { ptr_out.as_mut() },
            unsafe { n_out.as_mut() },
        ) else {
            return FTPLENS_ERR_NULL_ARGUMENT;
        };
        if h.poisoned {
            return FTPLENS_ERR_POISONED;
        }
        let slice = pick(&h.out);
        *ptr = slice.as_ptr();
        *n = slice.len();
        FTPLENS_OK
    })
}

/// # Safety
/// `session` must be NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_session_summary(session: *const ftplens_session) -> *const c_char {
    guard(static_cstr(""), || {
        // SAFETY: the caller guarantees a live handle or NULL.
        match unsafe { session.cast::<Handle>().as_ref() } {
            Some(h) if !h.poisoned => h.out.summary(),
            _ => static_cstr(""),
        }
    })
}

/// # Safety
/// `session` must be NULL or a live handle; `data` must point to `len` readable bytes, or be NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_session_complete_prefix(
    session: *const ftplens_session,
    dir: ftplens_direction,
    data: *const u8,
    len: usize,
) -> usize {
    guard(0, || {
        // SAFETY: the caller guarantees a live handle or NULL.
        let Some(h) = (unsafe { session.cast::<Handle>().as_ref() }) else {
            return 0;
        };
        let Some(dir) = direction(dir) else {
            return 0;
        };
        if data.is_null() || len == 0 {
            return 0;
        }
        // SAFETY: non-NULL, and the caller guarantees len readable bytes.
        let data = unsafe { std::slice::from_raw_parts(data, len) };
        h.session.complete_prefix_for(dir, data)
    })
}

/// # Safety
/// `session` must be a live handle used by one thread at a time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_session_release(session: *mut ftplens_session) -> ftplens_result {
    // SAFETY: forwarded caller guarantee about session.
    unsafe {
        with_session(session, |h| {
            h.out = Published::default();
            h.session.shrink();
            FTPLENS_OK
        })
    }
}
