//! The dissector through the C ABI (`ftplens_dissector_*`): the Wireshark plugin's whole contact
//! with the core for dissection.

use super::limits::limits_from;
use super::sys::*;
use super::{endpoint, guard, socket_addr};
use crate::dissect::{
    Claim, DissectConfig, Dissector, HostAction, ItemView, Offer, Segment, ValueView, ViewKind,
};
use crate::present;
use std::ffi::c_char;
use std::net::IpAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};

/// What an `ftplens_dissector *` points to.
struct Handle {
    dissector: Dissector,
    poisoned: bool,
    /// The last segment's or finish's actions, as C reads them.
    actions: Vec<ftplens_action>,
    /// The last view: its items and ticks, and every string they point to, NUL-terminated, back
    /// to back (reused by the next view).
    items: Vec<ftplens_item>,
    stats: Vec<ftplens_stat>,
    arena: Vec<u8>,
    /// The last data channel's items as C reads them, with their own arena: every frame of a
    /// data connection shows the same list, so it is converted once per `(channel, revision)`
    /// instead of once per frame.
    channel: ChannelItems,
}

#[derive(Default)]
struct ChannelItems {
    key: Option<(u32, u32)>,
    items: Vec<ftplens_item>,
    arena: Vec<u8>,
}

impl ChannelItems {
    /// The channel's items, sealed into this cache's arena, converted unless already there (the
    /// view then left `items` empty: see [`Dissector::view_unless_kept`]).
    fn get(&mut self, key: (u32, u32), items: &[ItemView<'_>]) -> &[ftplens_item] {
        if self.key != Some(key) {
            self.key = None;
            self.items.clear();
            self.arena.clear();
            for it in items {
                self.items.push(item_out(&mut self.arena, it));
            }
            let base = self.arena.as_ptr().cast::<c_char>();
            for i in &mut self.items {
                seal(base, &mut i.string_value);
                seal(base, &mut i.expert_message);
            }
            self.key = Some(key);
        }
        &self.items
    }
}

/// While a view is built, string pointers hold `offset + 1` into the arena (NULL stays NULL): the
/// arena may move as it grows, so addresses are set once it is complete ([`seal`]).
fn offset_ptr(offset: usize) -> *const c_char {
    std::ptr::without_provenance(offset + 1)
}

fn put(arena: &mut Vec<u8>, s: &str) -> *const c_char {
    let at = arena.len();
    arena.extend_from_slice(present::c_text(s).as_bytes());
    arena.push(0);
    offset_ptr(at)
}

/// [`put`] for a view's text, written straight into the arena.
fn put_text(arena: &mut Vec<u8>, t: &crate::dissect::Text<'_>) -> *const c_char {
    use std::io::Write;
    let at = arena.len();
    // Writing into a Vec cannot fail.
    let _ = write!(arena, "{t}");
    // The C ABI's strings cannot hold NUL: the rare text with one goes through present::c_text.
    if memchr::memchr(0, &arena[at..]).is_some() {
        let text = present::c_text(&String::from_utf8_lossy(&arena[at..])).into_owned();
        arena.truncate(at);
        arena.extend_from_slice(text.as_bytes());
    }
    arena.push(0);
    offset_ptr(at)
}

/// Turn a placeholder into an address inside the completed arena.
fn seal(base: *const c_char, p: &mut *const c_char) {
    if !p.is_null() {
        // The offset was taken from this arena, so it is in bounds.
        *p = base.wrapping_add(p.addr() - 1);
    }
}

/// # Safety
/// `config` must be NULL or point to a readable `ftplens_dissector_config`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_dissector_new(
    config: *const ftplens_dissector_config,
) -> *mut ftplens_dissector {
    guard(std::ptr::null_mut(), || {
        // SAFETY: NULL is allowed; otherwise the caller guarantees a readable config.
        let cfg = match unsafe { config.as_ref() } {
            None => DissectConfig::default(),
            Some(c) => DissectConfig {
                limits: limits_from(&c.limits),
                hide_passwords: c.hide_passwords,
                // A C host (the Wireshark plugin) tells SYN and FIN.
                payload_only: false,
                export_listings: c.export_listings,
            },
        };
        let handle = Box::new(Handle {
            dissector: Dissector::new(cfg),
            poisoned: false,
            actions: Vec::new(),
            items: Vec::new(),
            stats: Vec::new(),
            arena: Vec::new(),
            channel: ChannelItems::default(),
        });
        Box::into_raw(handle).cast::<ftplens_dissector>()
    })
}

/// # Safety
/// `dissector` must be NULL or a handle from `ftplens_dissector_new` not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_dissector_free(dissector: *mut ftplens_dissector) {
    guard((), || {
        if !dissector.is_null() {
            // SAFETY: the caller passes a handle made by Box::into_raw in ftplens_dissector_new,
            // once.
            drop(unsafe { Box::from_raw(dissector.cast::<Handle>()) });
        }
    })
}

/// Borrow a handle mutably and run `f` under the panic guard, poisoning the handle on panic.
///
/// # Safety
/// `dissector` must be NULL or a live handle used by one thread at a time.
unsafe fn with_dissector(
    dissector: *mut ftplens_dissector,
    f: impl FnOnce(&mut Handle) -> ftplens_result,
) -> ftplens_result {
    // SAFETY: the caller guarantees a live, unaliased handle or NULL.
    let Some(h) = (unsafe { dissector.cast::<Handle>().as_mut() }) else {
        return FTPLENS_ERR_NULL_ARGUMENT;
    };
    if h.poisoned {
        return FTPLENS_ERR_POISONED;
    }
    match catch_unwind(AssertUnwindSafe(|| f(h))) {
        Ok(r) => r,
        Err(_) => {
            h.poisoned = true;
            h.actions.clear();
            h.items.clear();
            h.stats.clear();
            h.channel = ChannelItems::default();
            FTPLENS_ERR_PANIC
        }
    }
}

fn offer(o: ftplens_offer) -> Option<Offer> {
    Some(match o {
        FTPLENS_OFFER_PORT => Offer::Port,
        FTPLENS_OFFER_HEURISTIC => Offer::Heuristic,
        FTPLENS_OFFER_EXPECTED => Offer::Expected,
        _ => return None,
    })
}

fn claim_code(c: Claim) -> ftplens_claim {
    match c {
        Claim::None => FTPLENS_CLAIM_NONE,
        Claim::Control => FTPLENS_CLAIM_CONTROL,
        Claim::Data => FTPLENS_CLAIM_DATA,
        Claim::Rejected => FTPLENS_CLAIM_REJECTED,
    }
}

/// The handle's actions as C reads them.
fn publish_actions(h: &mut Handle) {
    h.actions.clear();
    for a in h.dissector.actions() {
        let mut out = ftplens_action::default();
        match a {
            HostAction::Expect {
                listener,
                alt_listener,
                connector,
                frame,
                ..
            } => {
                out.kind = FTPLENS_ACTION_EXPECT;
                out.frame = *frame;
                out.listener = endpoint(Some(listener.ip()), listener.port());
                out.alt_listener = endpoint(
                    *alt_listener,
                    if alt_listener.is_some() {
                        listener.port()
                    } else {
                        0
                    },
                );
                out.connector = endpoint(*connector, 0);
            }
            HostAction::StartTls { stream, frame } => {
                out.kind = FTPLENS_ACTION_START_TLS;
                out.stream = *stream;
                out.frame = *frame;
            }
        }
        h.actions.push(out);
    }
}

/// # Safety
/// `dissector` must be a live handle; `segment` must be readable, and its `data` must point to
/// `len` readable bytes (NULL only with len 0); `claim_out` must be NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_dissector_segment(
    dissector: *mut ftplens_dissector,
    segment: *const ftplens_segment,
    offer_kind: ftplens_offer,
    claim_out: *mut ftplens_claim,
) -> ftplens_result {
    if dissector.is_null() {
        return FTPLENS_ERR_NULL_ARGUMENT;
    }
    // SAFETY: NULL or readable, by the caller's guarantee.
    let Some(seg) = (unsafe { segment.as_ref() }) else {
        return FTPLENS_ERR_NULL_ARGUMENT;
    };
    if seg.data.is_null() && seg.len != 0 {
        return FTPLENS_ERR_NULL_ARGUMENT;
    }
    let (Some(offer), Some(src), Some(dst)) = (
        offer(offer_kind),
        socket_addr(&seg.src),
        socket_addr(&seg.dst),
    ) else {
        return FTPLENS_ERR_INVALID_ARGUMENT;
    };
    // SAFETY: forwarded caller guarantee about dissector.
    unsafe {
        with_dissector(dissector, |h| {
            let data = if seg.len == 0 {
                &[][..]
            } else {
                // SAFETY: non-NULL, and the caller guarantees len readable bytes.
                std::slice::from_raw_parts(seg.data, seg.len)
            };
            let flags = (seg.flags & 0xff) as u8;
            let claim = h.dissector.segment(
                &Segment {
                    stream: seg.stream,
                    src,
                    dst,
                    frame: seg.frame,
                    ts: seg.ts,
                    seq: seg.seq,
                    flags,
                    data,
                },
                offer,
            );
            publish_actions(h);
            // SAFETY: NULL or writable, by the caller's guarantee.
            if let Some(out) = claim_out.as_mut() {
                *out = claim_code(claim);
            }
            FTPLENS_OK
        })
    }
}

/// # Safety
/// `dissector` must be a live handle; `actions_out` and `n_out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_dissector_actions(
    dissector: *const ftplens_dissector,
    actions_out: *mut *const ftplens_action,
    n_out: *mut usize,
) -> ftplens_result {
    guard(FTPLENS_ERR_PANIC, || {
        // SAFETY: the caller guarantees a live handle or NULL, and writable outputs or NULL.
        let (Some(h), Some(ptr), Some(n)) = (
            unsafe { dissector.cast::<Handle>().as_ref() },
            unsafe { actions_out.as_mut() },
            unsafe { n_out.as_mut() },
        ) else {
            return FTPLENS_ERR_NULL_ARGUMENT;
        };
        if h.poisoned {
            return FTPLENS_ERR_POISONED;
        }
        *ptr = h.actions.as_ptr();
        *n = h.actions.len();
        FTPLENS_OK
    })
}

/// An item of a view as C reads it; strings as arena placeholders.
fn item_out(arena: &mut Vec<u8>, it: &ItemView<'_>) -> ftplens_item {
    let mut out = ftplens_item {
        target: FTPLENS_TARGET_FRAME,
        field: it.field as u32,
        depth: it.depth,
        offset: u32::try_from(it.offset).unwrap_or(u32::MAX),
        length: u32::try_from(it.length).unwrap_or(u32::MAX),
        generated: it.generated,
        expert: FTPLENS_NO_EXPERT,
        ..Default::default()
    };
    match it.value {
        ValueView::Str(s) => out.string_value = put(arena, s),
        ValueView::Uint(n) | ValueView::Frame(n) => out.uint_value = n,
        ValueView::Bool(b) => out.uint_value = u64::from(b),
        ValueView::Time(t) => out.time_value = t,
        ValueView::Ip(IpAddr::V4(a)) => out.addr[..4].copy_from_slice(&a.octets()),
        ValueView::Ip(IpAddr::V6(a)) => out.addr = a.octets(),
    }
    if let Some((expert, message)) = it.expert {
        out.expert = expert as u32;
        out.expert_message = put(arena, message);
    }
    out
}

/// # Safety
/// `dissector` must be a live handle; `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_dissector_view(
    dissector: *mut ftplens_dissector,
    frame: u64,
    out: *mut ftplens_view,
) -> ftplens_result {
    // SAFETY: NULL or writable, by the caller's guarantee.
    let Some(out) = (unsafe { out.as_mut() }) else {
        return FTPLENS_ERR_NULL_ARGUMENT;
    };
    // SAFETY: forwarded caller guarantee about dissector.
    unsafe {
        with_dissector(dissector, |h| {
            let empty = c"".as_ptr();
            *out = ftplens_view {
                kind: FTPLENS_VIEW_NONE,
                info: empty,
                title: empty,
                ..Default::default()
            };
            h.items.clear();
            h.stats.clear();
            h.arena.clear();
            let key = h.channel.key;
            let Some(v) = h
                .dissector
                .view_unless_kept(frame, |c, r| key == Some((c, r)))
            else {
                return FTPLENS_END;
            };
            let arena = &mut h.arena;
            let info = put_text(arena, &v.info);
            let title = put_text(arena, &v.title);
            let flow = v
                .flow
                .as_deref()
                .map_or(std::ptr::null(), |f| put(arena, f));
            // A data frame shows its channel's items (converted once per channel revision: their
            // strings live in the cache's arena), then its own (listing entries).
            let cached = match v.channel {
                Some(c) => Some(h.channel.get((c, v.revision), &v.items)),
                None => {
                    for it in &v.items {
                        h.items.push(item_out(arena, it));
                    }
                    None
                }
            };
            let own_from = h.items.len();
            for it in &v.frame_items {
                h.items.push(item_out(arena, it));
            }
            for s in &v.stats {
                h.stats.push(ftplens_stat {
                    node: s.map(|n| n.map_or(std::ptr::null(), |n| put(arena, n))),
                });
            }
            let mut export = ftplens_export::default();
            if let Some(e) = &v.export {
                export = ftplens_export {
                    object: e.object,
                    filename: put(arena, &e.filename),
                    server: put(arena, e.server),
                    offset: e.offset,
                    skip: e.skip,
                    len: e.len,
                    tls: e.tls,
                };
            }
            let base = arena.as_ptr().cast::<c_char>();
            let mut v_out = ftplens_view {
                kind: match v.kind {
                    ViewKind::Control => FTPLENS_VIEW_CONTROL,
                    ViewKind::Data => FTPLENS_VIEW_DATA,
                },
                info,
                title,
                items: std::ptr::null(),
                n_items: 0,
                stats: std::ptr::null(),
                n_stats: 0,
                flow,
                export_piece: export,
                tls: v.tls,
                text: v.text,
            };
            for p in [
                &mut v_out.info,
                &mut v_out.title,
                &mut v_out.flow,
                &mut v_out.export_piece.filename,
                &mut v_out.export_piece.server,
            ] {
                seal(base, p);
            }
            for i in &mut h.items {
                seal(base, &mut i.string_value);
                seal(base, &mut i.expert_message);
            }
            let items: &[ftplens_item] = match cached {
                // The channel's list as it is, unless frame items follow it.
                Some(list) if own_from == h.items.len() => list,
                Some(list) => {
                    h.items.splice(0..0, list.iter().copied());
                    &h.items
                }
                None => &h.items,
            };
            for s in &mut h.stats {
                for p in &mut s.node {
                    seal(base, p);
                }
            }
            v_out.items = items.as_ptr();
            v_out.n_items = items.len();
            v_out.stats = h.stats.as_ptr();
            v_out.n_stats = h.stats.len();
            *out = v_out;
            FTPLENS_OK
        })
    }
}

/// # Safety
/// `dissector` must be a live handle; `out` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_dissector_is_tls_data(
    dissector: *mut ftplens_dissector,
    frame: u64,
    out: *mut bool,
) -> ftplens_result {
    // SAFETY: NULL or writable, by the caller's guarantee.
    let Some(out) = (unsafe { out.as_mut() }) else {
        return FTPLENS_ERR_NULL_ARGUMENT;
    };
    // SAFETY: forwarded caller guarantee about dissector.
    unsafe {
        with_dissector(dissector, |h| {
            *out = h.dissector.is_tls_data(frame);
            FTPLENS_OK
        })
    }
}

/// # Safety
/// `dissector` must be a live handle used by one thread at a time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ftplens_dissector_finish(
    dissector: *mut ftplens_dissector,
) -> ftplens_result {
    // SAFETY: forwarded caller guarantee about dissector.
    unsafe {
        with_dissector(dissector, |h| {
            h.dissector.finish();
            publish_actions(h);
            FTPLENS_OK
        })
    }
}
