//! Unit tests of the C ABI through its exports.

use super::limits::limits_from;
use super::*;
use std::ffi::CStr;

#[test]
fn version_matches_cargo() {
    // SAFETY: ftplens_version returns a static NUL-terminated string.
    let v = unsafe { CStr::from_ptr(ftplens_version()) };
    assert_eq!(v.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
    assert_eq!(ftplens_abi_version(), FTPLENS_ABI_VERSION);
}

#[test]
fn complete_prefix() {
    let f = |d: &[u8], max| unsafe { ftplens_complete_prefix(d.as_ptr(), d.len(), max) };
    assert_eq!(f(b"USER a\r\nPA", 0), 8);
    assert_eq!(f(b"USER a", 0), 0);
    assert_eq!(f(b"AAAAAAAAAA", 4), 10);
    assert_eq!(f(b"A\nAAAAAAAAAA", 4), 12);
}

fn text(p: *const c_char) -> String {
    assert!(!p.is_null());
    // SAFETY: the pointers come from a live run or session output, NUL-terminated.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_string()
}

/// A feed's items name every destination (this frame, the earlier PASV frame for response_in, the
/// data channel); release frees them and keeps the session going.
#[test]
fn items_and_release_keeps_state() {
    let s = unsafe { ftplens_session_new(std::ptr::null()) };
    let feed = |dir, d: &[u8], frame| {
        let mut n = 0;
        // SAFETY: s is live; d is a live slice.
        let r = unsafe { ftplens_session_feed(s, dir, d.as_ptr(), d.len(), frame, 0.0, &mut n) };
        assert_eq!(r, FTPLENS_OK);
    };
    feed(
        FTPLENS_DIR_TO_SERVER,
        b"USER alice\r\nPASS x\r\nPASV\r\n",
        1,
    );
    feed(
        FTPLENS_DIR_TO_CLIENT,
        b"331 p\r\n230 ok\r\n227 (10,0,0,1,4,1)\r\n",
        2,
    );
    let (mut items, mut n_items) = (std::ptr::null(), 0);
    // SAFETY: s is live; the outputs are locals.
    unsafe {
        assert_eq!(
            ftplens_session_items(s, &mut items, &mut n_items),
            FTPLENS_OK
        );
    }
    // SAFETY: the session owns n_items items until its next mutable call.
    let items = unsafe { std::slice::from_raw_parts(items, n_items) };
    let targets: std::collections::BTreeSet<_> = items.iter().map(|i| i.target).collect();
    assert_eq!(
        targets.into_iter().collect::<Vec<_>>(),
        [
            FTPLENS_TARGET_FRAME,
            FTPLENS_TARGET_EARLIER,
            FTPLENS_TARGET_CHANNEL
        ]
    );
    assert!(
        items
            .iter()
            .any(|i| i.target == FTPLENS_TARGET_EARLIER && i.target_frame == 1)
    );

    // SAFETY: s is live; the prefix data are live slices.
    unsafe {
        assert_eq!(ftplens_session_release(s), FTPLENS_OK);
        assert_eq!(text(ftplens_session_summary(s)), "");
        let (mut after, mut n_after) = (std::ptr::null(), 1);
        assert_eq!(
            ftplens_session_items(s, &mut after, &mut n_after),
            FTPLENS_OK
        );
        assert_eq!(n_after, 0);
        let d = b"RETR f\r\nST";
        assert_eq!(
            ftplens_session_complete_prefix(s, FTPLENS_DIR_TO_SERVER, d.as_ptr(), d.len()),
            8
        );
        assert_eq!(
            ftplens_session_complete_prefix(s, 9, d.as_ptr(), d.len()),
            0
        );
        assert_eq!(
            ftplens_session_complete_prefix(std::ptr::null(), 0, d.as_ptr(), d.len()),
            0
        );
    }
    feed(FTPLENS_DIR_TO_SERVER, b"RETR f\r\n", 3);
    // SAFETY: s is live.
    assert_eq!(
        text(unsafe { ftplens_session_summary(s) }),
        "Request: RETR f"
    );
    // SAFETY: s came from ftplens_session_new and is freed once.
    unsafe { ftplens_session_free(s) };
}

/// Limits set by index through the C ABI reach the session: a max_line of 16 cuts a 20-byte line.
#[test]
fn limits_by_index() {
    assert_eq!(ftplens_limit_count(), crate::limits::LIMITS.len());
    let mut info = ftplens_limit_info::default();
    let mut cfg = ftplens_session_config::default();
    let mut found = None;
    for i in 0..ftplens_limit_count() {
        // SAFETY: info and cfg are locals.
        unsafe {
            assert_eq!(ftplens_limit_get(i, &mut info), FTPLENS_OK);
            if text(info.name) == "max_line" {
                assert_eq!(info.default_value, 8192);
                assert_eq!(text(info.anomaly), "line_too_long");
                assert_eq!(text(ftplens_limit_title(i)), "Longest line kept (bytes)");
                assert_eq!(ftplens_limits_set(&mut cfg.limits, i, 16), FTPLENS_OK);
                found = Some(i);
            }
        }
    }
    assert_eq!(found, Some(0));
    // SAFETY: any index may be asked; out of range gives NULL.
    assert!(unsafe { ftplens_limit_title(ftplens_limit_count()) }.is_null());
    // SAFETY: NULL and locals.
    unsafe {
        let n = ftplens_limit_count();
        assert_eq!(
            ftplens_limit_get(n, &mut info),
            FTPLENS_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            ftplens_limits_set(&mut cfg.limits, n, 1),
            FTPLENS_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            ftplens_limits_set(std::ptr::null_mut(), 0, 1),
            FTPLENS_ERR_NULL_ARGUMENT
        );
    }
    assert_eq!(limits_from(&cfg.limits).max_line, 16);
    cfg.limits.max_reply_lines = u32::MAX;
    assert_eq!(
        limits_from(&cfg.limits).max_reply_lines,
        1 << 20,
        "cut to the maximum"
    );
    let s = unsafe { ftplens_session_new(&cfg) };
    let line = b"NOOP NOOP NOOP NOOP NOOP\r\n";
    let mut n = 0;
    // SAFETY: s is live; line is a live slice.
    unsafe {
        ftplens_session_feed(
            s,
            FTPLENS_DIR_TO_SERVER,
            line.as_ptr(),
            line.len(),
            1,
            0.0,
            &mut n,
        );
    }
    let mut anomalies = Vec::new();
    for i in 0..n {
        let mut e = ftplens_event::default();
        // SAFETY: s is live; e is a local.
        unsafe { ftplens_session_event(s, i, &mut e) };
        if e.kind == FTPLENS_EVENT_ANOMALY {
            anomalies.push(e.anomaly);
        }
    }
    assert!(anomalies.contains(&FTPLENS_ANOMALY_LINE_TOO_LONG));
    // SAFETY: s came from ftplens_session_new.
    unsafe { ftplens_session_free(s) };
}

#[test]
fn release_rejects_null() {
    // SAFETY: NULL is allowed and reported.
    unsafe {
        assert_eq!(
            ftplens_session_release(std::ptr::null_mut()),
            FTPLENS_ERR_NULL_ARGUMENT
        );
    }
}

/// ftplens_session_set_hide_passwords: the PASS feed's events, items and summary carry stars, not
/// the password; the user still shows.
#[test]
fn hidden_passwords_reach_events_items_and_summary() {
    let s = unsafe { ftplens_session_new(std::ptr::null()) };
    // SAFETY: s is live; the buffers are live slices and locals.
    unsafe {
        assert_eq!(ftplens_session_set_hide_passwords(s, true), FTPLENS_OK);
        let mut n = 0;
        let d = b"USER alice\r\nPASS s3cret\r\n";
        let r = ftplens_session_feed(
            s,
            FTPLENS_DIR_TO_SERVER,
            d.as_ptr(),
            d.len(),
            1,
            0.0,
            &mut n,
        );
        assert_eq!(r, FTPLENS_OK);
        let mut strings = vec![text(ftplens_session_summary(s))];
        for i in 0..n {
            let mut e = ftplens_event::default();
            assert_eq!(ftplens_session_event(s, i, &mut e), FTPLENS_OK);
            for p in [e.arg, e.user, e.password] {
                if !p.is_null() {
                    strings.push(text(p));
                }
            }
        }
        let (mut items, mut n_items) = (std::ptr::null(), 0);
        assert_eq!(
            ftplens_session_items(s, &mut items, &mut n_items),
            FTPLENS_OK
        );
        for i in std::slice::from_raw_parts(items, n_items) {
            if !i.string_value.is_null() {
                strings.push(text(i.string_value));
            }
        }
        let all = strings.join("\n");
        assert!(!all.contains("s3cret"), "{all}");
        assert!(all.contains("alice") && all.contains("******"), "{all}");
        ftplens_session_free(s);
    }
    // SAFETY: NULL is refused, not dereferenced.
    assert_eq!(
        unsafe { ftplens_session_set_hide_passwords(std::ptr::null_mut(), true) },
        FTPLENS_ERR_NULL_ARGUMENT
    );
}

#[test]
fn sniff_mime_names_a_png_and_text_and_nothing_for_no_bytes() {
    use std::ffi::CStr;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    // SAFETY: the pointers and lengths describe the arrays above; results are static C strings.
    unsafe {
        let p = ftplens_sniff_mime(png.as_ptr(), png.len());
        assert_eq!(CStr::from_ptr(p).to_str(), Ok("image/png"));
        let t = b"hello world\r\n";
        let p2 = ftplens_sniff_mime(t.as_ptr(), t.len());
        assert_eq!(CStr::from_ptr(p2).to_str(), Ok("text/plain"));
        assert!(ftplens_sniff_mime(std::ptr::null(), 0).is_null());
        assert_eq!(
            ftplens_sniff_mime(png.as_ptr(), png.len()),
            p,
            "one copy per type"
        );
    }
}

// ------------------------------------------------------------------------------ dissector

/// One segment through the C ABI; returns the claim.
#[allow(clippy::too_many_arguments)]
fn dissector_segment(
    d: *mut ftplens_dissector,
    stream: u32,
    (src, dst): (&str, &str),
    frame: u64,
    seq: u32,
    flags: u32,
    data: &[u8],
    offer: ftplens_offer,
) -> ftplens_claim {
    let seg = ftplens_segment {
        stream,
        src: endpoint_of(src),
        dst: endpoint_of(dst),
        frame,
        ts: frame as f64,
        seq,
        flags,
        data: data.as_ptr(),
        len: data.len(),
    };
    let mut claim = u32::MAX;
    // SAFETY: d is live; seg and claim are locals; data outlives the call.
    let r = unsafe { ftplens_dissector_segment(d, &seg, offer, &mut claim) };
    assert_eq!(r, FTPLENS_OK);
    claim
}

fn endpoint_of(s: &str) -> ftplens_endpoint {
    let a: SocketAddr = s.parse().unwrap();
    endpoint(Some(a.ip()), a.port())
}

#[test]
fn dissector_null_arguments() {
    let mut claim = 0;
    let mut view = ftplens_view::default();
    let mut actions: *const ftplens_action = std::ptr::null();
    let mut n = 0;
    let seg = ftplens_segment::default();
    // SAFETY: NULL handles and outputs are what is tested; nothing is dereferenced.
    unsafe {
        assert_eq!(
            ftplens_dissector_segment(std::ptr::null_mut(), &seg, 0, &mut claim),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        let d = ftplens_dissector_new(std::ptr::null());
        assert!(!d.is_null());
        assert_eq!(
            ftplens_dissector_segment(d, std::ptr::null(), 0, &mut claim),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        let with_null_data = ftplens_segment {
            src: endpoint_of("10.0.0.1:1000"),
            dst: endpoint_of("10.0.0.2:21"),
            len: 4,
            ..Default::default()
        };
        assert_eq!(
            ftplens_dissector_segment(d, &with_null_data, 0, &mut claim),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        // A segment without an address family.
        assert_eq!(
            ftplens_dissector_segment(d, &seg, 0, &mut claim),
            FTPLENS_ERR_INVALID_ARGUMENT
        );
        let good = ftplens_segment {
            len: 0,
            ..with_null_data
        };
        assert_eq!(
            ftplens_dissector_segment(d, &good, 99, &mut claim),
            FTPLENS_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            ftplens_dissector_segment(std::ptr::null_mut(), &good, 0, &mut claim),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            ftplens_dissector_view(std::ptr::null_mut(), 1, &mut view),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            ftplens_dissector_view(d, 1, std::ptr::null_mut()),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            ftplens_dissector_actions(std::ptr::null(), &mut actions, &mut n),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            ftplens_dissector_actions(d, std::ptr::null_mut(), &mut n),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            ftplens_dissector_finish(std::ptr::null_mut()),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        let mut tls = true;
        assert_eq!(
            ftplens_dissector_is_tls_data(std::ptr::null_mut(), 1, &mut tls),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            ftplens_dissector_is_tls_data(d, 1, std::ptr::null_mut()),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        // A frame the core never saw is no protected data frame.
        assert_eq!(ftplens_dissector_is_tls_data(d, 1, &mut tls), FTPLENS_OK);
        assert!(!tls);
        // Nothing known of frame 1: END, and a NONE view with empty strings.
        assert_eq!(ftplens_dissector_view(d, 1, &mut view), FTPLENS_END);
        assert_eq!(view.kind, FTPLENS_VIEW_NONE);
        assert_eq!(text(view.info), "");
        ftplens_dissector_free(d);
        ftplens_dissector_free(std::ptr::null_mut());
    }
}

/// A small session through the C ABI: the claim, the EXPECT action of a 227, the reply's view
/// with its request link, and the data frame's view with its export piece.
#[test]
fn dissector_small_session() {
    let config = ftplens_dissector_config {
        hide_passwords: true,
        ..Default::default()
    };
    // SAFETY: config is a local.
    let d = unsafe { ftplens_dissector_new(&config) };
    let ctrl = ("10.0.0.1:50000", "10.0.0.2:21");
    let back = (ctrl.1, ctrl.0);
    let port = FTPLENS_OFFER_PORT;
    let greeting = b"220 ready\r\n";
    let c = dissector_segment(d, 1, back, 1, 1, FTPLENS_TCP_SYN_ACK, greeting, port);
    assert_eq!(c, FTPLENS_CLAIM_CONTROL);
    let lines: [(bool, &[u8]); 5] = [
        (false, b"USER bob\r\n"),
        (true, b"331 Password required\r\n"),
        (false, b"PASS hunter2\r\n"),
        (true, b"230 Logged in\r\n"),
        (false, b"PASV\r\n"),
    ];
    let mut seq = [1u32 + greeting.len() as u32, 1];
    for (i, (from_server, line)) in lines.iter().enumerate() {
        let (dir, k) = if *from_server { (back, 0) } else { (ctrl, 1) };
        let flags = if *from_server {
            FTPLENS_TCP_SYN_ACK
        } else {
            FTPLENS_TCP_SYN
        };
        dissector_segment(d, 1, dir, 2 + i as u64, seq[k], flags, line, port);
        seq[k] += line.len() as u32;
    }
    let pasv = b"227 Entering Passive Mode (10,0,0,2,4,1).\r\n";
    dissector_segment(d, 1, back, 7, seq[0], 0, pasv, port);
    let mut actions: *const ftplens_action = std::ptr::null();
    let mut n = 0;
    // SAFETY: d is live; the outputs are locals.
    assert_eq!(
        unsafe { ftplens_dissector_actions(d, &mut actions, &mut n) },
        FTPLENS_OK
    );
    assert_eq!(n, 1);
    // SAFETY: n actions, valid until the next call on d.
    let a = unsafe { *actions };
    assert_eq!(a.kind, FTPLENS_ACTION_EXPECT);
    assert_eq!(a.frame, 7);
    // 4*256+1.
    assert_eq!(
        socket_addr(&a.listener),
        Some("10.0.0.2:1025".parse().unwrap())
    );
    assert_eq!(a.alt_listener.family, FTPLENS_FAMILY_NONE);
    assert_eq!(a.connector.family, FTPLENS_FAMILY_IPV4);
    assert_eq!(a.connector.addr[..4], [10, 0, 0, 1]);

    let mut view = ftplens_view::default();
    // SAFETY: d is live; view is a local.
    assert_eq!(
        unsafe { ftplens_dissector_view(d, 4, &mut view) },
        FTPLENS_OK
    );
    assert_eq!(view.kind, FTPLENS_VIEW_CONTROL);
    assert_eq!(text(view.info), "Request: PASS *******");
    assert_eq!(text(view.title), ", to server");
    assert_eq!(text(view.flow), "PASS *******");
    // SAFETY: n_items items, valid until the next call on d.
    let items = unsafe { std::slice::from_raw_parts(view.items, view.n_items) };
    let field = |name: &str| {
        items
            .iter()
            .find(|i| crate::fields::FIELDS[i.field as usize].abbrev == name)
            .copied()
            .unwrap_or_else(|| panic!("no {name}"))
    };
    assert_eq!(text(field("ftplens.request.arg").string_value), "*******");
    assert_eq!(field("ftplens.response_in").uint_value, 5);
    assert!(items.iter().all(|i| i.target == FTPLENS_TARGET_FRAME));

    let data = [7u8; 100];
    let c = dissector_segment(
        d,
        2,
        ("10.0.0.2:1025", "10.0.0.1:50001"),
        8,
        1,
        FTPLENS_TCP_SYN_ACK,
        &data,
        FTPLENS_OFFER_EXPECTED,
    );
    assert_eq!(c, FTPLENS_CLAIM_DATA);
    let second = ("10.0.0.2:1025", "10.0.0.1:50001");
    dissector_segment(d, 2, second, 9, 101, 0, &data, FTPLENS_OFFER_EXPECTED);
    // Both data frames show their channel's items (converted once and kept): the same fields
    // and strings, whatever was viewed in between.
    let channel_items = |frame: u64| {
        let mut v = ftplens_view::default();
        // SAFETY: d is live; v is a local.
        assert_eq!(
            unsafe { ftplens_dissector_view(d, frame, &mut v) },
            FTPLENS_OK
        );
        // SAFETY: n_items items, valid until the next call on d.
        let items = unsafe { std::slice::from_raw_parts(v.items, v.n_items) };
        items
            .iter()
            .map(|i| {
                let name = crate::fields::FIELDS[i.field as usize].abbrev;
                let value = if i.string_value.is_null() {
                    i.uint_value.to_string()
                } else {
                    text(i.string_value).to_string()
                };
                (name, value)
            })
            .collect::<Vec<_>>()
    };
    let first = channel_items(8);
    assert!(first.contains(&("ftplens-data.setup_frame", "7".to_string())));
    channel_items(4);
    assert_eq!(channel_items(9), first);
    assert!(!first.iter().any(|(n, _)| *n == "ftplens-data.outcome"));
    // SAFETY: d is live.
    assert_eq!(unsafe { ftplens_dissector_finish(d) }, FTPLENS_OK);
    // The end adds facts to the channel: the kept conversion is not shown stale.
    assert!(
        channel_items(9)
            .iter()
            .any(|(n, _)| *n == "ftplens-data.outcome")
    );
    // SAFETY: d is live; view is a local.
    assert_eq!(
        unsafe { ftplens_dissector_view(d, 8, &mut view) },
        FTPLENS_OK
    );
    assert_eq!(view.kind, FTPLENS_VIEW_DATA);
    assert_eq!(text(view.title), " (100 bytes)");
    assert!(text(view.info).starts_with("FTP data, 100 bytes"));
    // No transfer command was seen: nothing to export.
    assert_eq!(view.export_piece.object, 0);
    // SAFETY: d was made by ftplens_dissector_new and is freed once.
    unsafe { ftplens_dissector_free(d) };
}
