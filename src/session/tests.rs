use super::*;

const CLIENT: &str = "192.168.1.106:57658";
const SERVER: &str = "192.168.1.109:21";

fn session() -> Session {
    Session::new(
        Some(CLIENT.parse().unwrap()),
        Some(SERVER.parse().unwrap()),
        Limits::default(),
    )
}

fn kinds(s: &mut Session, dir: Direction, data: &[u8], frame: u64) -> Vec<EventKind> {
    s.feed(dir, data, frame, frame as f64 / 10.0)
        .iter()
        .map(|e| e.kind.clone())
        .collect()
}

fn anomalies(events: &[EventKind]) -> Vec<Anomaly> {
    events
        .iter()
        .filter_map(|k| match k {
            EventKind::Anomaly { anomaly, .. } => Some(*anomaly),
            _ => None,
        })
        .collect()
}

use Direction::{ToClient as S, ToServer as C};

#[test]
fn seed_example_end_to_end() {
    let mut s = session();
    kinds(&mut s, S, b"220 (vsFTPd 3.0.3)\r\n", 4);
    kinds(&mut s, C, b"USER alice\r\n", 6);
    kinds(&mut s, S, b"331 Please specify the password.\r\n", 8);
    let ev = kinds(&mut s, C, b"PASS s3cret\r\n", 10);
    assert!(
        matches!(&ev[1], EventKind::Login(l) if l.password.as_deref() == Some("s3cret") && l.state == LoginState::Attempt)
    );
    let ev = kinds(&mut s, S, b"230 Login successful.\r\n", 12);
    assert!(
        matches!(&ev[1], EventKind::Login(l) if l.user == "alice" && l.state == LoginState::Success && !l.anonymous)
    );
    kinds(&mut s, C, b"PASV\r\n", 14);
    let ev = kinds(
        &mut s,
        S,
        b"227 Entering Passive Mode (192,168,1,109,104,134).\r\n",
        16,
    );
    let EventKind::DataExpected(e) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!((e.mode, e.port, e.setup_frame), (DataMode::Pasv, 26758, 16));
    assert_eq!(e.endpoint.to_string(), "192.168.1.109:26758 (104*256+134)");
    assert_eq!(e.alt_listener, None);
    assert!(e.matches_connection(
        "192.168.1.106:58985".parse().unwrap(),
        "192.168.1.109:26758".parse().unwrap()
    ));
    let ev = kinds(&mut s, C, b"RETR file.txt\r\n", 18);
    let EventKind::TransferStarted(t) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!(
        (
            t.channel_id,
            t.command.as_str(),
            t.arg.as_str(),
            t.setup_frame,
            t.command_frame
        ),
        (e.channel_id, "RETR", "file.txt", 16, 18)
    );
    kinds(
        &mut s,
        S,
        b"150 Opening BINARY mode data connection for file.txt (1234 bytes).\r\n",
        20,
    );
    let ev = kinds(&mut s, S, b"226 Transfer complete.\r\n", 30);
    let EventKind::TransferEnded(t) = &ev[1] else {
        panic!("{ev:?}")
    };
    assert_eq!(
        (t.outcome, t.size, t.end_frame),
        (Outcome::Complete, Some(1234), 30)
    );
}

#[test]
fn reply_pairing_with_pipelining_and_response_time() {
    let mut s = session();
    s.feed(C, b"TYPE I\r\nPASV\r\n", 5, 1.0);
    let ev = kinds(
        &mut s,
        S,
        b"200 Switching to Binary mode.\r\n227 Entering Passive Mode (192,168,1,109,4,1).\r\n",
        7,
    );
    let replies: Vec<_> = ev
        .iter()
        .filter_map(|k| match k {
            EventKind::Reply(r) => Some((r.code.0, r.request.clone().unwrap())),
            _ => None,
        })
        .collect();
    assert_eq!(replies[0].0, 200);
    assert_eq!(
        (replies[0].1.verb.as_str(), replies[0].1.frame),
        ("TYPE", 5)
    );
    assert!((replies[0].1.elapsed - (0.7 - 1.0f64).max(0.0)).abs() < 1e-9);
    assert_eq!((replies[1].0, replies[1].1.verb.as_str()), (227, "PASV"));
}

#[test]
fn spans_locate_lines_in_the_feed() {
    let mut s = session();
    let ev = s.feed(C, b"TYPE I\r\nPASV\r\n", 1, 0.0);
    let spans: Vec<_> = ev.iter().map(|e| e.span).collect();
    assert_eq!(spans, vec![(0, 8), (8, 6)]);
}

#[test]
fn reply_split_across_segments() {
    let mut s = session();
    s.feed(C, b"PASV\r\n", 1, 0.0);
    assert!(kinds(&mut s, S, b"227 Entering Passive Mode (192,168,1,1", 2).is_empty());
    let ev = kinds(&mut s, S, b"09,104,134).\r\n", 3);
    assert!(matches!(&ev[1], EventKind::DataExpected(e) if e.port == 26758));
}

#[test]
fn type_and_rest_between_pasv_and_retr() {
    let mut s = session();
    s.feed(C, b"PASV\r\n", 1, 0.0);
    s.feed(
        S,
        b"227 Entering Passive Mode (192,168,1,109,104,134).\r\n",
        2,
        0.0,
    );
    s.feed(C, b"TYPE I\r\n", 3, 0.0);
    s.feed(S, b"200 ok\r\n", 4, 0.0);
    s.feed(C, b"REST 100\r\n", 5, 0.0);
    s.feed(S, b"350 Restarting at 100\r\n", 6, 0.0);
    let ev = kinds(&mut s, C, b"RETR big.iso\r\n", 7);
    let EventKind::TransferStarted(t) = &ev[1] else {
        panic!()
    };
    assert_eq!(
        (
            t.rest_offset,
            t.transfer_type.as_str(),
            t.setup_frame,
            t.channel_id
        ),
        (100, "I", 2, 1)
    );
}

#[test]
fn multiline_reply_shapes() {
    let mut s = session();
    // RFC 959 4.2 example: an inner line beginning with a different code, then the closing line.
    let ev = kinds(&mut s, S, b"123-First line\r\nSecond line\r\n234 A line beginning with numbers\r\n123 The last line\r\n", 1);
    let EventKind::Reply(r) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(r.code.0, 123);
    assert_eq!(
        r.lines,
        [
            "First line",
            "Second line",
            "234 A line beginning with numbers",
            "The last line"
        ]
    );
    // Empty inner lines, and a closing line with a different code as the last line of the segment.
    let mut s = session();
    s.feed(C, b"USER a\r\n", 1, 0.0);
    let ev = kinds(
        &mut s,
        S,
        b"230-Welcome\r\n\r\n230-  1 file\r\n220 done\r\n",
        2,
    );
    let EventKind::Reply(r) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(r.lines, ["Welcome", "", "  1 file", "done"]);
    // Split across segments.
    let mut s = session();
    assert!(kinds(&mut s, S, b"211-Features:\r\n EPRT\r\n", 1).is_empty());
    let ev = kinds(&mut s, S, b" EPSV\r\n211 End\r\n", 2);
    let EventKind::Reply(r) = &ev[0] else {
        panic!()
    };
    assert_eq!(r.lines, ["Features:", " EPRT", " EPSV", "End"]);
}

#[test]
fn active_mode_any_server_port_and_bounce() {
    let mut s = session();
    let ev = kinds(&mut s, C, b"PORT 192,168,1,106,195,80\r\n", 1);
    let EventKind::DataExpected(e) = &ev[1] else {
        panic!()
    };
    // The server may connect from any port, not only 20.
    assert!(e.matches_connection(
        "192.168.1.109:40123".parse().unwrap(),
        "192.168.1.106:50000".parse().unwrap()
    ));
    assert!(anomalies(&ev).is_empty());
    let ev = kinds(&mut s, C, b"PORT 10,9,8,7,0,25\r\n", 2);
    assert_eq!(anomalies(&ev), [Anomaly::Bounce, Anomaly::PrivilegedPort]);
    let ev = kinds(&mut s, C, b"EPRT |1|203.0.113.5|8080|\r\n", 3);
    assert_eq!(anomalies(&ev), [Anomaly::Bounce]);
}

#[test]
fn pasv_behind_nat() {
    let mut s = Session::new(
        Some("203.0.113.9:40000".parse().unwrap()),
        Some("198.51.100.7:21".parse().unwrap()),
        Limits::default(),
    );
    s.feed(C, b"PASV\r\n", 1, 0.0);
    let ev = kinds(
        &mut s,
        S,
        b"227 Entering Passive Mode (10,0,0,5,195,80)\r\n",
        2,
    );
    assert_eq!(anomalies(&ev), [Anomaly::NatMismatch]);
    let e = ev
        .iter()
        .find_map(|k| match k {
            EventKind::DataExpected(e) => Some(e),
            _ => None,
        })
        .unwrap();
    assert_eq!(e.alt_listener, Some("198.51.100.7".parse().unwrap()));
    assert!(e.matches_connection(
        "203.0.113.9:1".parse().unwrap(),
        "198.51.100.7:50000".parse().unwrap()
    ));
}

#[test]
fn epsv_uses_control_server_address_and_mode_follows_reply_code() {
    let mut s = session();
    s.feed(C, b"EPSV\r\n", 1, 0.0);
    let ev = kinds(
        &mut s,
        S,
        b"229 Entering Extended Passive Mode (!!!40000!)\r\n",
        2,
    );
    let EventKind::DataExpected(e) = &ev[1] else {
        panic!()
    };
    assert_eq!(
        (e.mode, e.listener, e.port),
        (
            DataMode::Epsv,
            Some("192.168.1.109".parse().unwrap()),
            40000
        )
    );
    // A server that answers EPSV with 227.
    s.feed(C, b"EPSV\r\n", 3, 0.0);
    let ev = kinds(
        &mut s,
        S,
        b"227 Entering Passive Mode (192,168,1,109,4,1)\r\n",
        4,
    );
    assert!(
        ev.iter()
            .any(|k| matches!(k, EventKind::DataExpected(e) if e.mode == DataMode::Pasv))
    );
}

#[test]
fn lprt_and_lpsv() {
    let mut s = session();
    let ev = kinds(&mut s, C, b"LPRT 4,4,192,168,1,106,2,4,1\r\n", 1);
    assert!(
        matches!(&ev[1], EventKind::DataExpected(e) if e.mode == DataMode::Lprt && e.port == 1025)
    );
    s.feed(C, b"LPSV\r\n", 2, 0.0);
    let ev = kinds(
        &mut s,
        S,
        b"228 Entering Long Passive Mode (4,4,192,168,1,109,2,104,134)\r\n",
        3,
    );
    assert!(ev.iter().any(
        |k| matches!(k, EventKind::DataExpected(e) if e.mode == DataMode::Lpsv && e.port == 26758)
    ));
}

#[test]
fn auth_tls_any_case_then_234() {
    for cmd in [
        &b"AUTH TLS\r\n"[..],
        b"auth tls\r\n",
        b"AUTH SSL\r\n",
        b"Auth Ssl\r\n",
    ] {
        let mut s = session();
        s.feed(C, cmd, 1, 0.0);
        let ev = kinds(&mut s, S, b"234 Proceed with negotiation.\r\n", 2);
        assert!(
            ev.iter().any(|k| matches!(k, EventKind::TlsUpgrade { .. })),
            "{cmd:?}"
        );
        assert!(s.is_encrypted());
        // TLS records are not parsed as FTP.
        assert!(
            kinds(
                &mut s,
                C,
                b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n",
                3
            )
            .is_empty()
        );
    }
    // RFC 2228 CCC: clear text again after the TLS session ends.
    let mut s = session();
    s.feed(C, b"AUTH TLS\r\n", 1, 0.0);
    s.feed(S, b"234 go\r\n", 2, 0.0);
    assert!(kinds(&mut s, S, b"\x17\x03\x03\x00\x20PASV\r\n", 3).is_empty());
    let ev = kinds(&mut s, C, b"PASV\r\n", 4);
    assert!(matches!(&ev[0], EventKind::Command { verb, .. } if verb == "PASV"));
    assert!(!s.is_encrypted());

    let mut s = session();
    s.feed(C, b"AUTH TLS\r\n", 1, 0.0);
    let ev = kinds(&mut s, S, b"530 Please login with USER and PASS.\r\n", 2);
    assert!(!ev.iter().any(|k| matches!(k, EventKind::TlsUpgrade { .. })));
}

#[test]
fn failed_logins_counted_and_alarm() {
    let mut s = session();
    let mut all = Vec::new();
    for i in 0..4 {
        s.feed(C, b"USER root\r\n", i * 4, 0.0);
        s.feed(S, b"331 Password required\r\n", i * 4 + 1, 0.0);
        s.feed(C, b"PASS guess\r\n", i * 4 + 2, 0.0);
        all.extend(kinds(&mut s, S, b"530 Login incorrect.\r\n", i * 4 + 3));
    }
    let fails: Vec<u32> = all
        .iter()
        .filter_map(|k| match k {
            EventKind::Login(l) if l.state == LoginState::Failure => Some(l.failures),
            _ => None,
        })
        .collect();
    assert_eq!(fails, [1, 2, 3, 4]);
    assert_eq!(
        anomalies(&all),
        [
            Anomaly::RepeatedLoginFailures,
            Anomaly::RepeatedLoginFailures
        ]
    );
}

#[test]
fn anonymous_login() {
    let mut s = session();
    let ev = kinds(&mut s, C, b"USER anonymous\r\n", 1);
    assert!(matches!(&ev[1], EventKind::Login(l) if l.anonymous));
}

#[test]
fn cwd_tracking() {
    let mut s = session();
    s.feed(C, b"PWD\r\n", 1, 0.0);
    s.feed(S, b"257 \"/home/a\" is the current directory\r\n", 2, 0.0);
    assert_eq!(s.cwd(), Some("/home/a"));
    s.feed(C, b"CWD pub/../pub/x\r\n", 3, 0.0);
    s.feed(S, b"250 ok\r\n", 4, 0.0);
    assert_eq!(s.cwd(), Some("/home/a/pub/x"));
    s.feed(C, b"CDUP\r\n", 5, 0.0);
    s.feed(S, b"200 ok\r\n", 6, 0.0);
    assert_eq!(s.cwd(), Some("/home/a/pub"));
    s.feed(C, b"CWD nope\r\n", 7, 0.0);
    s.feed(S, b"550 no\r\n", 8, 0.0);
    assert_eq!(s.cwd(), Some("/home/a/pub"));
    assert_eq!(resolve_path(Some("/"), "../../etc/passwd"), "/etc/passwd");
    assert_eq!(
        quoted_path("\"/a \"\"q\"\" b\" created"),
        Some("/a \"q\" b".to_string())
    );
}

#[test]
fn transfer_failures_and_abort() {
    let mut s = session();
    s.feed(C, b"PASV\r\n", 1, 0.0);
    s.feed(S, b"227 (192,168,1,109,4,1)\r\n", 2, 0.0);
    s.feed(C, b"RETR missing\r\n", 3, 0.0);
    let ev = kinds(&mut s, S, b"550 Failed to open file.\r\n", 4);
    assert!(
        ev.iter()
            .any(|k| matches!(k, EventKind::TransferEnded(t) if t.outcome == Outcome::Failed))
    );
    assert_eq!(anomalies(&ev), [Anomaly::TransferFailed]);

    s.feed(C, b"PASV\r\n", 5, 0.0);
    s.feed(S, b"227 (192,168,1,109,4,2)\r\n", 6, 0.0);
    s.feed(C, b"RETR big\r\n", 7, 0.0);
    s.feed(S, b"150 ok\r\n", 8, 0.0);
    s.feed(C, b"\xff\xf4\xff\xf2ABOR\r\n", 9, 0.0);
    let ev = kinds(
        &mut s,
        S,
        b"426 Failure writing network stream.\r\n226 ABOR successful.\r\n",
        10,
    );
    assert!(ev.iter().any(|k| matches!(k, EventKind::TransferEnded(t) if t.outcome == Outcome::Aborted && t.command == "RETR")));
}

#[test]
fn invalid_reply_codes() {
    let mut s = session();
    let ev = kinds(&mut s, S, b"999 what\r\nhello\r\n22 x\r\n", 1);
    assert_eq!(anomalies(&ev), [Anomaly::InvalidReplyCode; 3]);
}

#[test]
fn overlong_line_then_resync() {
    let mut s = session();
    let mut data = vec![b'A'; 20_000];
    data.extend_from_slice(b"\r\nNOOP\r\n");
    let ev = kinds(&mut s, C, &data, 1);
    assert_eq!(anomalies(&ev)[0], Anomaly::LineTooLong);
    assert!(
        ev.iter()
            .any(|k| matches!(k, EventKind::Command { verb, .. } if verb == "NOOP"))
    );
    // The server answers the cut line and the NOOP: both replies pair, none is unmatched.
    let ev = kinds(&mut s, S, b"500 Command too long.\r\n200 NOOP ok.\r\n", 2);
    assert!(anomalies(&ev).is_empty(), "{ev:?}");
    assert!(matches!(&ev[1], EventKind::Reply(r) if r.request.as_ref().unwrap().verb == "NOOP"));
}

#[test]
fn bounded_under_hostile_input() {
    let mut s = session();
    // A million-byte line with no end is not buffered.
    for i in 0..100 {
        s.feed(C, &[b'x'; 10_000], i, 0.0);
    }
    assert!(s.framing.as_ref().map_or(0, |f| f.lines[0].pending()) <= s.limits.max_line);
    // Endless PASV replies keep at most one open prediction.
    for i in 0..10_000u64 {
        s.feed(S, b"227 (192,168,1,109,4,1)\r\n", i, 0.0);
    }
    assert!(s.chan.as_ref().map_or(0, |c| c.open.len()) <= 1);
    // Endless commands without replies keep the pending queue capped.
    for i in 0..10_000u64 {
        s.feed(C, b"\r\nNOOP\r\n", i, 0.0);
    }
    assert!(s.pending.len() <= s.limits.max_pending_commands);
    // Endless multi-line replies keep at most max_reply_lines.
    s.feed(S, b"211-x\r\n", 1, 0.0);
    for i in 0..10_000u64 {
        s.feed(S, b"more\r\n", i, 0.0);
    }
    assert!(s.multiline.as_ref().unwrap().lines.len() <= s.limits.max_reply_lines);
}

#[test]
fn predictions_expire_and_finish_closes() {
    let mut s = session();
    s.feed(S, b"227 (192,168,1,109,4,1)\r\n", 1, 0.0);
    let ev = kinds(&mut s, C, b"NOOP\r\n", 10_000);
    assert!(
        ev.iter()
            .any(|k| matches!(k, EventKind::TransferEnded(t) if t.outcome == Outcome::Expired))
    );
    s.feed(S, b"227 (192,168,1,109,4,1)\r\n", 10_001, 1000.0);
    s.feed(C, b"RETR x\r\n", 10_002, 1000.0);
    let ev: Vec<_> = s.finish(10_003, 1001.0).to_vec();
    assert!(
        matches!(&ev[0].kind, EventKind::TransferEnded(t) if t.outcome == Outcome::Unknown && t.command == "RETR")
    );
}

#[test]
fn greeting_after_early_commands_is_not_their_reply() {
    let mut s = session();
    s.feed(C, b"USER alice\r\n", 1, 0.0);
    let ev = kinds(&mut s, S, b"220 ready\r\n331 password?\r\n", 2);
    let replies: Vec<_> = ev
        .iter()
        .filter_map(|k| match k {
            EventKind::Reply(r) => Some((r.code.0, r.request.as_ref().map(|q| q.verb.clone()))),
            _ => None,
        })
        .collect();
    assert_eq!(replies, [(220, None), (331, Some("USER".to_string()))]);
    assert!(anomalies(&ev).is_empty(), "{ev:?}");
    // 120 then 220: both are the greeting.
    let mut s = session();
    let ev = kinds(&mut s, S, b"120 ready in 1 minute\r\n220 ready\r\n", 1);
    assert!(anomalies(&ev).is_empty(), "{ev:?}");
}

#[test]
fn a_reply_without_a_code_still_answers_its_command() {
    let mut s = session();
    s.feed(S, b"220 hi\r\n", 1, 0.0);
    s.feed(C, b"PASV\r\nQUIT\r\n", 2, 0.0);
    let ev = kinds(
        &mut s,
        S,
        b"Entering passive mode, sort of\r\n221 bye\r\n",
        3,
    );
    assert_eq!(anomalies(&ev), [Anomaly::InvalidReplyCode]);
    assert!(ev.iter().any(|k| matches!(k, EventKind::Reply(r) if r.code.0 == 221 && r.request.as_ref().unwrap().verb == "QUIT")));
}

/// Feed at a timestamp equal to the frame number (exact in binary, so elapsed times compare).
fn at(s: &mut Session, dir: Direction, data: &[u8], frame: u64) -> Vec<EventKind> {
    s.feed(dir, data, frame, frame as f64)
        .iter()
        .map(|e| e.kind.clone())
        .collect()
}

fn kinds_of(events: &[Event]) -> Vec<EventKind> {
    events.iter().map(|e| e.kind.clone()).collect()
}

fn reply(
    code: u16,
    lines: &[&str],
    incomplete: bool,
    request: Option<(u64, &str, f64)>,
) -> EventKind {
    EventKind::Reply(Reply {
        code: ReplyCode(code),
        lines: lines.iter().map(|l| l.to_string()).collect(),
        incomplete,
        request: request.map(|(frame, verb, elapsed)| RequestRef {
            frame,
            verb: verb.into(),
            elapsed,
        }),
    })
}

fn command(verb: &str, arg: Option<&str>, incomplete: bool) -> EventKind {
    EventKind::Command {
        verb: verb.into(),
        arg: arg.map(str::to_string),
        arg_offset: verb.len() + 1,
        known: true,
        incomplete,
    }
}

fn alice(state: LoginState) -> EventKind {
    EventKind::Login(Login {
        user: "alice".into(),
        password: Some("s3cret".into()),
        anonymous: false,
        state,
        failures: 0,
    })
}

/// Greeting, USER, 331 and PASS at frames 1 to 4.
fn up_to_pass() -> Session {
    let mut s = session();
    at(&mut s, S, b"220 ready\r\n", 1);
    at(&mut s, C, b"USER alice\r\n", 2);
    at(&mut s, S, b"331 Password?\r\n", 3);
    at(&mut s, C, b"PASS s3cret\r\n", 4);
    s
}

/// Defect class (tests/captures/README.md) 1: the closing line of a multi-line 230 is lost in a gap. The next reply, with
/// another code, shows the 230 ended in the gap: it is closed there (incomplete, at the frame of
/// its last line) and every later reply answers its own command. The login succeeded: the code is
/// on the first line.
#[test]
fn a_gap_inside_a_multiline_reply_resynchronises_on_the_next_reply() {
    let mut s = up_to_pass();
    assert_eq!(at(&mut s, S, b"230-Welcome to the server.\r\n", 5), []);
    assert_eq!(s.gap(S, 7, 7.0), []);
    at(&mut s, C, b"SYST\r\n", 6);
    let ev = s.feed(S, b"215 UNIX Type: L8\r\n", 7, 7.0).to_vec();
    assert_eq!(
        ev.iter()
            .map(|e| (e.frame, e.kind.clone()))
            .collect::<Vec<_>>(),
        [
            (
                5,
                reply(
                    230,
                    &["Welcome to the server."],
                    true,
                    Some((4, "PASS", 1.0))
                )
            ),
            (5, alice(LoginState::Success)),
            (
                7,
                reply(215, &["UNIX Type: L8"], false, Some((6, "SYST", 1.0)))
            ),
        ]
    );
    at(&mut s, C, b"PWD\r\n", 8);
    assert_eq!(
        at(&mut s, S, b"257 \"/\"\r\n", 9),
        [reply(257, &["\"/\""], false, Some((8, "PWD", 1.0)))]
    );
}

/// The gap falls in the middle of the multi-line reply and its closing line survives: it still
/// closes the reply, which is incomplete; a fragment after the hole is kept as its text.
#[test]
fn a_gap_inside_a_multiline_reply_whose_closing_line_survives() {
    let mut s = up_to_pass();
    at(&mut s, S, b"230-Welcome\r\n230-Usage is", 5);
    assert_eq!(s.gap(S, 6, 6.0), [], "a 230- line is no reply of its own");
    assert_eq!(
        at(&mut s, S, b" logged.\r\n230 Login successful.\r\n", 6),
        [
            reply(
                230,
                &["Welcome", "Usage is", " logged.", "Login successful."],
                true,
                Some((4, "PASS", 2.0))
            ),
            alice(LoginState::Success),
        ]
    );
}

/// A gap in the middle of a line: the head before the hole is reported as the reply it begins
/// (incomplete), the tail after the hole is skipped up to the next line that can start a reply.
#[test]
fn a_gap_in_the_middle_of_a_reply_line() {
    let mut s = session();
    at(&mut s, S, b"220 ready\r\n", 1);
    at(&mut s, C, b"USER alice\r\nPASS s3cret\r\n", 2);
    at(&mut s, S, b"331 Passw", 3);
    assert_eq!(
        kinds_of(s.gap(S, 4, 4.0)),
        [reply(331, &["Passw"], true, Some((2, "USER", 1.0)))]
    );
    assert_eq!(
        at(&mut s, S, b"ord required\r\n230 OK\r\n", 4),
        [
            reply(230, &["OK"], false, Some((2, "PASS", 2.0))),
            alice(LoginState::Success),
        ]
    );
}

/// The same in the client's stream: the cut command is reported (the server answers it), the
/// tail after the hole is not taken for a command.
#[test]
fn a_gap_in_the_middle_of_a_command_line() {
    let mut s = session();
    at(&mut s, C, b"NOOP\r\nSTAT fir", 1);
    assert_eq!(
        kinds_of(s.gap(C, 2, 2.0)),
        [command("STAT", Some("fir"), true)]
    );
    assert_eq!(
        at(&mut s, C, b"st.txt\r\nHELP\r\n", 2),
        [command("HELP", None, false)]
    );
    let ev = at(&mut s, S, b"200 ok\r\n211 stat\r\n214 help\r\n", 3);
    let answered: Vec<_> = ev
        .iter()
        .filter_map(|k| match k {
            EventKind::Reply(r) => r.request.as_ref().map(|q| (r.code.0, q.verb.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        answered,
        [
            (200, "NOOP".into()),
            (211, "STAT".into()),
            (214, "HELP".into())
        ]
    );
}

/// Defect class (tests/captures/README.md) 2: a last reply with no line end before FIN.
#[test]
fn finish_reports_a_last_reply_without_line_end() {
    let mut s = session();
    at(&mut s, S, b"220 ready\r\n", 1);
    at(&mut s, C, b"QUIT\r\n", 2);
    assert_eq!(at(&mut s, S, b"221 Goodbye.", 3), []);
    let ev = s.finish(4, 4.0).to_vec();
    assert_eq!(
        ev,
        [Event {
            frame: 3,
            ts: 3.0,
            direction: S,
            span: (0, 0),
            kind: reply(221, &["Goodbye."], true, Some((2, "QUIT", 1.0))),
        }]
    );
}

/// Defect class (tests/captures/README.md) 2: a multi-line reply still open when the connection closes.
#[test]
fn finish_reports_an_open_multiline_reply() {
    let mut s = session();
    at(&mut s, S, b"220 ready\r\n", 1);
    at(&mut s, C, b"HELP\r\n", 2);
    assert_eq!(
        at(&mut s, S, b"214-Commands:\r\n USER PASS QUIT\r\n", 3),
        []
    );
    assert_eq!(
        s.finish(4, 4.0)
            .iter()
            .map(|e| (e.frame, e.kind.clone()))
            .collect::<Vec<_>>(),
        [(
            3,
            reply(
                214,
                &["Commands:", " USER PASS QUIT"],
                true,
                Some((2, "HELP", 1.0))
            )
        )]
    );
}

/// Defect class (tests/captures/README.md) 2: the capture ends inside a command.
#[test]
fn finish_reports_a_cut_command() {
    let mut s = session();
    at(&mut s, S, b"220 ready\r\n", 1);
    at(&mut s, C, b"NOOP\r\nMKD repo", 2);
    let ev = s.finish(3, 3.0).to_vec();
    assert_eq!(
        (ev[0].frame, ev[0].span, ev[0].kind.clone()),
        (2, (0, 0), command("MKD", Some("repo"), true))
    );
    assert_eq!(ev.len(), 1);
}

/// Defect class (tests/captures/README.md) 10: STOU takes the name the server gives in its 150 or 125 (RFC 1123 4.1.2.9).
#[test]
fn stou_takes_the_servers_name() {
    for prelim in [&b"150"[..], b"125"] {
        let mut s = session();
        at(&mut s, S, b"220 ready\r\n", 1);
        at(&mut s, C, b"CWD /incoming\r\n", 2);
        at(&mut s, S, b"250 ok\r\n", 3);
        at(&mut s, C, b"PASV\r\n", 4);
        at(
            &mut s,
            S,
            b"227 Entering Passive Mode (192,168,1,109,104,134).\r\n",
            5,
        );
        at(&mut s, C, b"STOU\r\n", 6);
        let mut line = prelim.to_vec();
        line.extend_from_slice(b" FILE: ftpd.a1b2\r\n");
        let named: Vec<_> = at(&mut s, S, &line, 7)
            .into_iter()
            .filter_map(|k| match k {
                EventKind::TransferUpdated(t) => Some((t.command_frame, t.path)),
                _ => None,
            })
            .collect();
        assert_eq!(named, [(6, "/incoming/ftpd.a1b2".to_string())]);
        let ev = at(&mut s, S, b"226 Transfer complete.\r\n", 8);
        let ended: Vec<_> = ev
            .iter()
            .filter_map(|k| match k {
                EventKind::TransferEnded(t) => {
                    Some((t.command.as_str(), t.arg.as_str(), t.path.as_str()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(ended, [("STOU", "", "/incoming/ftpd.a1b2")]);
    }
}

#[test]
fn malformed_addresses_are_flagged() {
    // zeek fake-long-commands has `PORT 114,115`; out-of-range numbers are errors, not wrapped.
    for (dir, line) in [
        (C, &b"PORT 114,115\r\n"[..]),
        (C, b"PORT 1,2,3,4,256,1\r\n"),
        (C, b"EPRT |3|1.2.3.4|5|\r\n"),
        (S, b"227 Entering Passive Mode\r\n"),
        (S, b"229 Entering Extended Passive Mode (|||70000|)\r\n"),
    ] {
        let mut s = session();
        s.feed(C, b"NOOP\r\n", 1, 0.0);
        let ev = kinds(&mut s, dir, line, 2);
        assert!(
            anomalies(&ev).contains(&Anomaly::MalformedAddress),
            "{line:?}: {ev:?}"
        );
        assert!(!ev.iter().any(|k| matches!(k, EventKind::DataExpected(_))));
    }
}

#[test]
fn unmatched_replies_unknown_commands_and_long_replies() {
    let mut s = session();
    s.feed(S, b"220 hi\r\n", 1, 0.0);
    let ev = kinds(&mut s, S, b"200 nobody asked\r\n", 2);
    assert_eq!(anomalies(&ev), [Anomaly::UnmatchedReply]);
    let ev = kinds(&mut s, C, b"XYZZY plugh\r\n", 3);
    assert_eq!(anomalies(&ev), [Anomaly::UnknownCommand]);
    let mut reply = b"211-start\r\n".to_vec();
    for _ in 0..300 {
        reply.extend_from_slice(b" feature\r\n");
    }
    reply.extend_from_slice(b"211 end\r\n");
    let ev = kinds(&mut s, S, &reply, 4);
    assert_eq!(anomalies(&ev), [Anomaly::ReplyTooLong]);
    assert!(matches!(ev.last(), Some(EventKind::Reply(r)) if r.lines.len() == 256));
}

/// What a desegmenting caller feeds: whole lines; while a line is being skipped, its bytes as they
/// come (never held), then whole lines again after its end.
#[test]
fn complete_prefix_for_skips_without_holding() {
    let limits = Limits {
        max_line: 16,
        ..Limits::default()
    };
    let mut s = Session::new(None, None, limits);
    assert_eq!(s.complete_prefix_for(C, b"NOOP\r\nUSER al"), 6);
    assert_eq!(
        s.complete_prefix_for(C, b"USER al"),
        0,
        "wait for the line end"
    );
    // More than 16 bytes without an end: fed, cut, and from here on skipped.
    let long = [b'A'; 20];
    assert_eq!(s.complete_prefix_for(C, &long), 20);
    let ev = kinds(&mut s, C, &long, 1);
    assert!(anomalies(&ev).contains(&Anomaly::LineTooLong));
    assert_eq!(
        s.complete_prefix_for(C, b"AAAA"),
        4,
        "skipped bytes are fed as they come"
    );
    assert!(kinds(&mut s, C, b"AAAA", 2).is_empty());
    assert_eq!(
        s.complete_prefix_for(S, b"220 hi"),
        0,
        "the other direction is not skipping"
    );
    // The end of the long line, a whole command, and the start of the next.
    assert_eq!(s.complete_prefix_for(C, b"AA\r\nNOOP\r\nQU"), 10);
    let ev = kinds(&mut s, C, b"AA\r\nNOOP\r\n", 3);
    assert!(matches!(&ev[..], [EventKind::Command { verb, .. }] if verb == "NOOP"));
    assert_eq!(s.complete_prefix_for(C, b"QU"), 0);
}

#[test]
fn shrink_keeps_state_and_drops_events() {
    let mut s = session();
    kinds(&mut s, C, b"USER alice\r\n", 1);
    kinds(&mut s, S, b"331 Password?\r\n", 2);
    kinds(&mut s, C, b"PASS x\r\nPASV\r\n", 3);
    s.shrink();
    assert!(s.events().is_empty());
    let ev = kinds(&mut s, S, b"230 ok\r\n227 (10,0,0,1,4,1)\r\n", 4);
    assert!(
        ev.iter()
            .any(|k| matches!(k, EventKind::Login(l) if l.state == LoginState::Success))
    );
    assert!(ev.iter().any(|k| matches!(k, EventKind::DataExpected(_))));
}

/// Commands that never get a reply: past max_pending_commands the oldest is dropped, with
/// `too_many_pending`, and the queue stays at the cap.
#[test]
fn too_many_pending_drops_the_oldest() {
    let limits = Limits {
        max_pending_commands: 4,
        ..Limits::default()
    };
    let mut s = Session::new(None, None, limits);
    let mut raised = 0;
    for i in 0..10 {
        let ev = kinds(&mut s, C, b"NOOP\r\n", i);
        raised += anomalies(&ev)
            .iter()
            .filter(|a| **a == Anomaly::TooManyPending)
            .count();
    }
    assert_eq!(raised, 6);
    assert_eq!(s.pending.len(), 4);
}

/// A new announcement closes the unused prediction before it (so a session holds one at a time and
/// max_expectations is only a backstop): a thousand PASV replies leave one open prediction, each
/// earlier one ended as unused.
#[test]
fn predictions_are_superseded_not_accumulated() {
    let mut s = session();
    let mut unused = 0;
    for i in 0..1000u64 {
        kinds(&mut s, C, b"PASV\r\n", 2 * i);
        let port = 2000 + i;
        let reply = format!("227 (192,168,1,109,{},{})\r\n", port / 256, port % 256);
        let ev = kinds(&mut s, S, reply.as_bytes(), 2 * i + 1);
        unused += ev
            .iter()
            .filter(|k| matches!(k, EventKind::TransferEnded(t) if t.outcome == Outcome::Expired))
            .count();
        assert_eq!(s.chan.as_ref().map_or(0, |c| c.open.len()), 1);
    }
    assert_eq!(unused, 999);
}
