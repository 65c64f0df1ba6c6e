//! The dissector over hand-built segments. Expected values come from FTP (RFC 959: the 227 port is
//! p1*256+p2, a reply answers the command before it) and from TCP (sequence numbers count bytes).

use super::*;
use crate::fields::FIELDS;
use ValueView as Value;

const CLIENT: &str = "10.0.0.1:50000";
const SERVER: &str = "10.0.0.2:21";
/// The 227 below announces 10.0.0.2, port 104*256+134.
const DATA_SERVER: &str = "10.0.0.2:26758";
const DATA_CLIENT: &str = "10.0.0.1:50001";

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A capture being dissected: keeps each direction's next sequence number.
struct Cap {
    d: Dissector,
    next: HashMap<(u32, SocketAddr), u32>,
}

impl Cap {
    fn new(hide_passwords: bool) -> Self {
        Cap {
            d: Dissector::new(DissectConfig {
                hide_passwords,
                ..DissectConfig::default()
            }),
            next: HashMap::new(),
        }
    }

    /// A host that tells no TCP flags (the Lua fallback on tshark's first pass).
    fn payload_only() -> Self {
        Cap {
            d: Dissector::new(DissectConfig {
                payload_only: true,
                ..DissectConfig::default()
            }),
            next: HashMap::new(),
        }
    }

    /// A segment at the next sequence number of its direction.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        stream: u32,
        src: &str,
        dst: &str,
        frame: u64,
        flags: u8,
        data: &[u8],
        offer: Offer,
    ) -> Claim {
        let seq = *self.next.entry((stream, addr(src))).or_insert(1);
        self.send_at(stream, src, dst, frame, seq, flags, data, offer)
    }

    /// A segment at sequence number `seq` (a retransmission, or past a hole).
    #[allow(clippy::too_many_arguments)]
    fn send_at(
        &mut self,
        stream: u32,
        src: &str,
        dst: &str,
        frame: u64,
        seq: u32,
        flags: u8,
        data: &[u8],
        offer: Offer,
    ) -> Claim {
        let end = seq.wrapping_add(data.len() as u32);
        let next = self.next.entry((stream, addr(src))).or_insert(end);
        if end.wrapping_sub(*next) as i32 > 0 {
            *next = end;
        }
        self.d.segment(
            &Segment {
                stream,
                src: addr(src),
                dst: addr(dst),
                frame,
                ts: frame as f64 / 10.0,
                seq,
                flags,
                data,
            },
            offer,
        )
    }

    /// A control line: from the server (`true`) or the client, on stream 1 through port 21.
    fn line(&mut self, from_server: bool, frame: u64, text: &str) -> Claim {
        let (src, dst, flags) = if from_server {
            (SERVER, CLIENT, TCP_SYN_ACK)
        } else {
            (CLIENT, SERVER, TCP_SYN)
        };
        self.send(1, src, dst, frame, flags, text.as_bytes(), Offer::Port)
    }

    /// The greeting and an anonymous login, frames 1 to 5.
    fn login(&mut self) {
        assert_eq!(self.line(true, 1, "220 FTP ready\r\n"), Claim::Control);
        self.line(false, 2, "USER anonymous\r\n");
        self.line(true, 3, "331 Please specify the password.\r\n");
        self.line(false, 4, "PASS guest\r\n");
        self.line(true, 5, "230 Login successful.\r\n");
    }

    /// PASV (frame 8), its 227 (frame 9) and RETR big.bin (frames 10 and 11).
    fn pasv_retr(&mut self) {
        self.line(false, 8, "PASV\r\n");
        self.line(true, 9, "227 Entering Passive Mode (10,0,0,2,104,134).\r\n");
        self.line(false, 10, "RETR big.bin\r\n");
        self.line(
            true,
            11,
            "150 Opening BINARY mode data connection for big.bin (6000 bytes).\r\n",
        );
    }

    fn view(&self, frame: u64) -> View<'_> {
        self.d
            .view(frame)
            .unwrap_or_else(|| panic!("no view of frame {frame}"))
    }
}

/// The items of a view with field `abbrev`.
fn items<'a>(v: &View<'a>, abbrev: &str) -> Vec<ItemView<'a>> {
    v.items
        .iter()
        .copied()
        .filter(|i| FIELDS[i.field as usize].abbrev == abbrev)
        .collect()
}

fn value<'a>(v: &View<'a>, abbrev: &str) -> Option<Value<'a>> {
    items(v, abbrev).first().map(|i| i.value)
}

fn s(text: &str) -> Value<'_> {
    Value::Str(text)
}

/// A classic session: login, PASV, RETR of 6000 bytes over one passive data connection in two
/// segments, 226, QUIT.
#[test]
fn classic_pasv_retr_session() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.line(false, 6, "TYPE I\r\n");
    cap.line(true, 7, "200 Switching to Binary mode.\r\n");
    cap.line(false, 8, "PASV\r\n");
    assert!(cap.d.actions().is_empty());
    cap.line(true, 9, "227 Entering Passive Mode (10,0,0,2,104,134).\r\n");
    assert_eq!(
        cap.d.actions(),
        &[HostAction::Expect {
            listener: addr(DATA_SERVER),
            alt_listener: None,
            connector: Some("10.0.0.1".parse().unwrap()),
            frame: 9,
            ports: vec![26758],
        }]
    );
    cap.line(false, 10, "RETR big.bin\r\n");
    cap.line(
        true,
        11,
        "150 Opening BINARY mode data connection for big.bin (6000 bytes).\r\n",
    );
    let block = vec![b'x'; 3000];
    let offer = Offer::Expected;
    let c = cap.send(2, DATA_SERVER, DATA_CLIENT, 12, TCP_SYN_ACK, &block, offer);
    assert_eq!(c, Claim::Data);
    let c = cap.send(2, DATA_SERVER, DATA_CLIENT, 13, TCP_FIN, &block, offer);
    assert_eq!(c, Claim::Data);
    cap.line(true, 14, "226 Transfer complete.\r\n");
    cap.line(false, 15, "QUIT\r\n");
    cap.line(true, 16, "221 Goodbye.\r\n");

    // The command frame: Info, title, the verb's bytes.
    let v = cap.view(10);
    assert_eq!(v.kind, ViewKind::Control);
    assert_eq!(v.info, "Request: RETR big.bin");
    assert_eq!(v.title, ", to server");
    let verb = items(&v, "ftplens.request.command")[0];
    assert_eq!((verb.offset, verb.length, &verb.value), (0, 4, &s("RETR")));
    assert_eq!(v.flow.as_deref(), Some("RETR big.bin"));
    assert_eq!(
        v.stats,
        vec![[Some(stats::TRANSFERS), Some("RETR"), Some("big.bin")]]
    );
    // The 227: the port arithmetic, and its title.
    let v = cap.view(9);
    assert_eq!(v.title, ", to client");
    assert_eq!(value(&v, "ftplens.data.port"), Some(Value::Uint(26758)));
    assert_eq!(
        v.flow.as_deref(),
        Some("227 Entering Passive Mode (10,0,0,2,104,134).")
    );
    // The greeting's frame counts the session; the 230 the login.
    assert_eq!(cap.view(1).stats, vec![[Some(stats::SESSIONS), None, None]]);
    assert_eq!(
        cap.view(5).stats,
        vec![[Some(stats::LOGINS), Some("anonymous"), Some("success")]]
    );

    // A data frame: its Info names size, direction, mode and command; the channel's items.
    let v = cap.view(12);
    assert_eq!(v.kind, ViewKind::Data);
    assert_eq!(
        v.info,
        "FTP data, 3000 bytes, download (passive), RETR big.bin"
    );
    assert_eq!(v.title, " (3000 bytes)");
    assert_eq!(value(&v, "ftplens-data.command"), Some(s("RETR")));
    assert_eq!(value(&v, "ftplens-data.setup_frame"), Some(Value::Frame(9)));
    assert!(
        items(&v, "ftplens-data.offset").is_empty(),
        "no REST, no offset item"
    );
    assert!(!v.tls && !v.text);
    let e = v.export.expect("an export piece");
    assert_eq!(
        (
            e.object,
            e.filename.as_ref(),
            e.server,
            e.offset,
            e.skip,
            e.len
        ),
        (1, "big.bin", "10.0.0.2", 0, 0, 3000)
    );
    let e = cap.view(13).export.expect("an export piece");
    assert_eq!((e.offset, e.len), (3000, 3000));
    // Both data frames show the channel's items; the later one offers them for keeping (the first
    // frame alone carries the transfer's expert info, so its list is its own); control frames none.
    assert!(cap.view(13).channel.is_some());
    assert_eq!(cap.view(12).channel, None);
    assert_eq!(cap.view(12).items, cap.view(13).items);
    assert_eq!(cap.view(10).channel, None);
    // Only the first data frame is a ladder entry.
    assert!(cap.view(13).flow.is_none());

    cap.d.finish();
    // The whole transfer on its final reply, links to the data from the PASV reply and RETR.
    let v = cap.view(14);
    assert_eq!(value(&v, "ftplens.transfer.bytes"), Some(Value::Uint(6000)));
    assert_eq!(
        value(&v, "ftplens.transfer.first_frame"),
        Some(Value::Frame(12))
    );
    assert_eq!(
        value(&v, "ftplens.transfer.last_frame"),
        Some(Value::Frame(13))
    );
    // Frames 12 and 13 are 0.1 s apart: 6000 bytes in 0.1 s.
    let Some(Value::Time(t)) = value(&v, "ftplens.transfer.duration") else {
        panic!("no duration");
    };
    assert!((t - 0.1).abs() < 1e-9, "{t}");
    assert_eq!(
        value(&v, "ftplens.transfer.throughput"),
        Some(Value::Uint(60000))
    );
    for f in [9, 10] {
        assert_eq!(
            value(&cap.view(f), "ftplens.transfer.data_frame"),
            Some(Value::Frame(12)),
            "frame {f}"
        );
    }
    let v = cap.view(12);
    assert_eq!(v.flow.as_deref(), Some("data: 6000 bytes, download"));
    assert_eq!(value(&v, "ftplens-data.outcome"), Some(s("complete")));
    assert_eq!(v.export.unwrap().filename, "big.bin");
    // The session's facts at its last frame.
    let details = cap.view(16).stats;
    let node = format!("{CLIENT} -> {SERVER}");
    for fact in [
        "user: anonymous",
        "login: success",
        "transfers: 1",
        "bytes: 6000",
    ] {
        assert!(
            details.contains(&[
                Some(stats::SESSION_DETAILS),
                Some(node.as_str()),
                Some(fact)
            ]),
            "{fact} missing from {details:?}"
        );
    }
}

/// A reply's items go to the request's frame too: response_in there, request_in on the reply.
#[test]
fn response_in_lands_on_the_request_frame() {
    let mut cap = Cap::new(false);
    cap.login();
    let v = cap.view(2);
    assert_eq!(value(&v, "ftplens.response_in"), Some(Value::Frame(3)));
    let link = items(&v, "ftplens.response_in")[0];
    assert!(link.generated && link.length == 0);
    assert_eq!(
        value(&cap.view(3), "ftplens.request_in"),
        Some(Value::Frame(2))
    );
    // Each request gets its own reply's frame.
    let links = items(&cap.view(4), "ftplens.response_in");
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].value, Value::Frame(5));
    assert!(items(&cap.view(3), "ftplens.response_in").is_empty());
}

/// A retransmitted segment is not fed twice; a partly new one is fed from its first new byte, and
/// its items point at its own payload.
#[test]
fn retransmissions_are_fed_once() {
    let mut cap = Cap::new(false);
    cap.line(true, 1, "220 FTP ready\r\n");
    let user = b"USER alice\r\n";
    cap.send_at(1, CLIENT, SERVER, 2, 1, TCP_SYN, user, Offer::Port);
    // The same bytes again.
    cap.send_at(1, CLIENT, SERVER, 3, 1, TCP_SYN, user, Offer::Port);
    // The same bytes with the next command after them.
    let both = b"USER alice\r\nPASS s3cret\r\n";
    cap.send_at(1, CLIENT, SERVER, 4, 1, TCP_SYN, both, Offer::Port);

    assert_eq!(cap.view(2).info, "Request: USER alice");
    let again = cap.view(3);
    assert_eq!(
        (again.info.to_string().as_str(), again.items.len()),
        ("", 0)
    );
    assert_eq!(again.title, ", to server");
    let v = cap.view(4);
    assert_eq!(v.info, "Request: PASS s3cret");
    let verb = items(&v, "ftplens.request.command")[0];
    // "PASS" starts 12 bytes into frame 4's payload, after the retransmitted USER line.
    assert_eq!((verb.offset, verb.length), (12, 4));
    let arg = items(&v, "ftplens.request.arg")[0];
    assert_eq!((arg.offset, arg.length), (17, 6));
}

/// A hole in the client's stream: the line it cut is reported, incomplete, at the frame that
/// carried its start, and the command after the hole at its own frame.
#[test]
fn a_gap_cuts_a_line_and_resynchronises() {
    let mut cap = Cap::new(false);
    cap.line(true, 1, "220 FTP ready\r\n");
    let start = b"USER al";
    cap.send_at(1, CLIENT, SERVER, 2, 1, TCP_SYN, start, Offer::Port);
    assert_eq!(cap.view(2).info, "");
    // 20 bytes lost after the 7 sent.
    let seq = 1 + 7 + 20;
    cap.send_at(1, CLIENT, SERVER, 3, seq, TCP_SYN, b"NOOP\r\n", Offer::Port);
    let v = cap.view(2);
    assert_eq!(value(&v, "ftplens.request.command"), Some(s("USER")));
    assert_eq!(value(&v, "ftplens.request.arg"), Some(s("al")));
    let v = cap.view(3);
    assert_eq!(v.info, "Request: NOOP");
    assert_eq!(items(&v, "ftplens.request.command").len(), 1);
    // The frame after the hole says so.
    let gap = items(&v, "ftplens.anomaly")[0];
    assert_eq!(gap.value, s("capture_gap"));
    let (expert, message) = gap.expert.unwrap();
    assert_eq!(expert, crate::fields::Expert::CaptureGap);
    // 20 bytes, from offset 7 of the client's stream.
    assert!(
        message.contains("20 bytes") && message.contains("offset 7"),
        "{message}"
    );
}

/// A line cut across two segments shows on the frame that completes it, from offset 0.
#[test]
fn a_line_split_over_two_segments() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.line(false, 6, "RETR bi");
    let first = cap.view(6);
    assert_eq!(
        (first.info.to_string().as_str(), first.items.len()),
        ("", 0)
    );
    assert_eq!(first.title, ", to server");
    cap.line(false, 7, "g.bin\r\n");
    let v = cap.view(7);
    assert_eq!(v.info, "Request: RETR big.bin");
    let verb = items(&v, "ftplens.request.command")[0];
    assert_eq!((verb.offset, verb.length, &verb.value), (0, 4, &s("RETR")));
}

/// A connection the 227 predicted is data from its first segment, even when the host offers it to
/// the heuristic (its bytes alone would say nothing).
#[test]
fn a_predicted_connection_is_data() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.pasv_retr();
    let c = cap.send(
        2,
        DATA_SERVER,
        DATA_CLIENT,
        12,
        TCP_SYN_ACK,
        &[0u8, 1, 2, 3, 255, 254],
        Offer::Heuristic,
    );
    assert_eq!(c, Claim::Data);
    let v = cap.view(12);
    assert_eq!(v.kind, ViewKind::Data);
    assert_eq!(value(&v, "ftplens-data.channel"), Some(Value::Uint(1)));
}

/// An unrelated connection offered to the heuristic is rejected once both sides were judged.
#[test]
fn other_protocols_are_rejected() {
    let mut cap = Cap::new(false);
    let (a, b) = ("10.0.0.5:40000", "10.0.0.6:25");
    let smtp = b"220 mail.example.com ESMTP Postfix\r\n";
    let c = cap.send(7, b, a, 1, TCP_SYN_ACK, smtp, Offer::Heuristic);
    assert_eq!(c, Claim::None);
    // A command word FTP shares with other protocols leaves the client side unsure.
    let c = cap.send(7, a, b, 2, TCP_SYN, b"EHLO client\r\n", Offer::Heuristic);
    assert_eq!(c, Claim::None);
    // A server banner of another protocol and a binary client (a TLS record): both sides judged.
    let (a, b) = ("10.0.0.5:40001", "10.0.0.6:25");
    cap.send(8, b, a, 3, TCP_SYN_ACK, smtp, Offer::Heuristic);
    let tls = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
    let c = cap.send(8, a, b, 4, TCP_SYN, tls, Offer::Heuristic);
    assert_eq!(c, Claim::Rejected);
    for f in 1..=4 {
        assert!(cap.d.view(f).is_none(), "frame {f}");
    }
}

/// The capture ends inside a download: the transfer's outcome is unknown, on every data frame,
/// and its file is partial.
#[test]
fn finish_gives_outcome_unknown() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.pasv_retr();
    let block = [b'y'; 1000];
    cap.send(
        2,
        DATA_SERVER,
        DATA_CLIENT,
        12,
        TCP_SYN_ACK,
        &block,
        Offer::Expected,
    );
    assert_eq!(cap.view(12).export.unwrap().filename, "big.bin");
    assert_eq!(value(&cap.view(12), "ftplens-data.outcome"), None);
    cap.d.finish();
    let v = cap.view(12);
    assert_eq!(value(&v, "ftplens-data.outcome"), Some(s("unknown")));
    assert_eq!(v.export.unwrap().filename, "big.bin.partial");
    // Nothing more is taken after the end.
    let late = cap.send(2, DATA_SERVER, DATA_CLIENT, 13, 0, &block, Offer::Expected);
    assert_eq!(late, Claim::Data);
    assert!(cap.d.view(13).is_none());
}

/// A hole in a download: the bytes after it keep their offset in the file, which is partial; a
/// retransmission overlap is skipped.
#[test]
fn export_offsets_keep_a_hole() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.pasv_retr();
    let block = [b'z'; 1000];
    let (src, dst, o) = (DATA_SERVER, DATA_CLIENT, Offer::Expected);
    cap.send_at(2, src, dst, 12, 1, TCP_SYN_ACK, &block, o);
    // Bytes 1000..2000 are lost.
    cap.send_at(2, src, dst, 13, 2001, 0, &block, o);
    // 500 bytes again, then 500 new ones.
    cap.send_at(2, src, dst, 14, 2501, 0, &block, o);
    let e = cap.view(13).export.unwrap();
    assert_eq!((e.offset, e.skip, e.len), (2000, 0, 1000));
    assert_eq!(e.filename, "big.bin.partial");
    let e = cap.view(14).export.unwrap();
    assert_eq!((e.offset, e.skip, e.len), (3000, 500, 500));
    assert_eq!(cap.view(12).export.unwrap().offset, 0);
}

/// A data connection with a hole, ended by 226 and both FINs: every frame of it says the
/// transfer is partial because of the gap (the CLI's `complete: partial`, `gaps`).
#[test]
fn a_data_hole_makes_the_transfer_partial() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.pasv_retr();
    let block = [b'z'; 1000];
    let (src, dst, o) = (DATA_SERVER, DATA_CLIENT, Offer::Expected);
    cap.send_at(2, src, dst, 12, 1, TCP_SYN_ACK, &block, o);
    // Bytes 1000..2000 are lost; the last 1000 end with the server's FIN.
    cap.send_at(2, src, dst, 13, 2001, TCP_FIN, &block, o);
    cap.send_at(2, dst, src, 14, 1, TCP_FIN, &[], o);
    cap.line(true, 15, "226 Transfer complete.\r\n");
    cap.d.finish();
    for f in [12, 13] {
        let v = cap.view(f);
        assert_eq!(
            value(&v, "ftplens-data.complete"),
            Some(Value::Bool(false)),
            "frame {f}"
        );
        let reasons: Vec<_> = items(&v, "ftplens-data.partial_reason")
            .iter()
            .map(|i| i.value)
            .collect();
        assert!(reasons.contains(&s("gaps")), "frame {f}: {reasons:?}");
    }
    assert_eq!(
        value(&cap.view(15), "ftplens.transfer.bytes"),
        Some(Value::Uint(2000))
    );
}

/// The same hole from a host whose TCP keeps out-of-order segments from subdissectors
/// ([`TCP_HIDES_REORDERED`] on its segments): the partial expert info says the capture may hold
/// the bytes, and names the preference; a host that does not say so gets the plain message. The
/// expert info is raised on the connection's first frame only; every frame says complete false.
#[test]
fn a_hole_from_a_host_that_hides_reordered_segments_says_so() {
    for hides in [false, true] {
        let mut cap = Cap::new(false);
        cap.login();
        cap.pasv_retr();
        let block = [b'z'; 1000];
        let (src, dst, o) = (DATA_SERVER, DATA_CLIENT, Offer::Expected);
        let host = if hides { TCP_HIDES_REORDERED } else { 0 };
        cap.send_at(2, src, dst, 12, 1, TCP_SYN_ACK | host, &block, o);
        cap.send_at(2, src, dst, 13, 2001, TCP_FIN | host, &block, o);
        cap.send_at(2, dst, src, 14, 1, TCP_FIN | host, &[], o);
        cap.line(true, 15, "226 Transfer complete.\r\n");
        cap.d.finish();
        // The expert info is raised once, on the data connection's first frame.
        let v = cap.view(12);
        let complete = items(&v, "ftplens-data.complete")[0];
        let (_, message) = complete.expert.expect("a partial transfer's expert info");
        assert!(message.starts_with("partial: "), "{message}");
        assert_eq!(
            message.contains("tcp.no_subdissector_on_error"),
            hides,
            "{message}"
        );
        let later = cap.view(13);
        assert_eq!(
            value(&later, "ftplens-data.complete"),
            Some(Value::Bool(false))
        );
        assert!(later.items.iter().all(|i| i.expert.is_none()));
    }
}

/// A host that never tells SYN or FIN: a whole transfer the server confirmed is complete, not
/// partial for want of a handshake it could not have seen.
#[test]
fn payload_only_hosts_judge_without_handshakes() {
    let mut cap = Cap::payload_only();
    cap.login();
    cap.pasv_retr();
    let block = [b'z'; 3000];
    cap.send(2, DATA_SERVER, DATA_CLIENT, 12, 0, &block, Offer::Expected);
    cap.send(2, DATA_SERVER, DATA_CLIENT, 13, 0, &block, Offer::Expected);
    cap.line(true, 14, "226 Transfer complete.\r\n");
    cap.d.finish();
    let v = cap.view(12);
    assert_eq!(value(&v, "ftplens-data.complete"), Some(Value::Bool(true)));
    assert!(items(&v, "ftplens-data.partial_reason").is_empty());
}

/// STOU: the server names the file in its 150 (RFC 1123 4.1.2.9); the data frames show that name,
/// once, not the empty argument.
#[test]
fn stou_shows_the_servers_name() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.line(false, 6, "CWD /incoming\r\n");
    cap.line(true, 7, "250 \"/incoming\" is the current directory.\r\n");
    cap.line(false, 8, "PASV\r\n");
    cap.line(true, 9, "227 Entering Passive Mode (10,0,0,2,104,134).\r\n");
    cap.line(false, 10, "STOU\r\n");
    cap.line(true, 11, "150 FILE: ftplens-0001.txt\r\n");
    cap.send(
        2,
        DATA_CLIENT,
        DATA_SERVER,
        12,
        TCP_SYN,
        b"hello",
        Offer::Expected,
    );
    let before = cap.view(12).revision;
    cap.d.finish();
    let v = cap.view(12);
    // The end added facts (complete or not): a host's cached drawing of the channel is stale.
    assert!(v.revision != before);
    let paths: Vec<_> = items(&v, "ftplens-data.path")
        .iter()
        .map(|i| i.value)
        .collect();
    assert_eq!(paths, [s("/incoming/ftplens-0001.txt")]);
}

/// With passwords hidden, no trace of one in items, Info or the ladder.
#[test]
fn hidden_passwords() {
    let mut cap = Cap::new(true);
    cap.line(true, 1, "220 FTP ready\r\n");
    cap.line(false, 2, "USER alice\r\n");
    cap.line(true, 3, "331 Password required.\r\n");
    cap.line(false, 4, "PASS s3cret\r\n");
    cap.line(true, 5, "230 Logged in.\r\n");
    let v = cap.view(4);
    assert_eq!(v.info, "Request: PASS ******");
    assert_eq!(v.flow.as_deref(), Some("PASS ******"));
    assert_eq!(value(&v, "ftplens.password"), Some(s("******")));
    let arg = items(&v, "ftplens.request.arg")[0];
    assert_eq!((arg.offset, arg.length), (5, 6));
    for f in 1..=5 {
        let v = cap.view(f);
        assert!(!format!("{v:?}").contains("s3cret"), "frame {f}: {v:?}");
    }
}

/// A listing's data is text, and carries no file to export.
#[test]
fn a_listing_is_text_without_export() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.line(false, 8, "PASV\r\n");
    cap.line(true, 9, "227 Entering Passive Mode (10,0,0,2,104,134).\r\n");
    cap.line(false, 10, "LIST\r\n");
    cap.line(true, 11, "150 Here comes the directory listing.\r\n");
    let listing = b"-rw-r--r-- 1 0 0 6000 Jan 01 00:00 big.bin\r\n";
    cap.send(
        2,
        DATA_SERVER,
        DATA_CLIENT,
        12,
        TCP_SYN_ACK,
        listing,
        Offer::Expected,
    );
    let v = cap.view(12);
    assert!(v.text);
    assert!(v.export.is_none());
    assert_eq!(
        v.info.to_string(),
        format!("FTP data, {} bytes, listing (passive), LIST", listing.len())
    );
}

/// Asked for, a listing is an export object named beside its directory (`CWD pub` then `LIST`:
/// `pub.listing`, never `pub` itself; the start directory is not known, so the path is relative).
#[test]
fn listings_exported_when_asked() {
    let mut cap = Cap {
        d: Dissector::new(DissectConfig {
            export_listings: true,
            ..DissectConfig::default()
        }),
        next: HashMap::new(),
    };
    cap.login();
    cap.line(false, 6, "CWD pub\r\n");
    cap.line(true, 7, "250 Directory successfully changed.\r\n");
    cap.line(false, 8, "PASV\r\n");
    cap.line(true, 9, "227 Entering Passive Mode (10,0,0,2,104,134).\r\n");
    cap.line(false, 10, "LIST\r\n");
    cap.line(true, 11, "150 Here comes the directory listing.\r\n");
    let listing = b"-rw-r--r-- 1 0 0 6000 Jan 01 00:00 big.bin\r\n";
    cap.send(
        2,
        DATA_SERVER,
        DATA_CLIENT,
        12,
        TCP_SYN_ACK,
        listing,
        Offer::Expected,
    );
    let e = cap.view(12).export.expect("an export piece");
    assert_eq!(e.filename, "pub.listing");
    assert_eq!((e.offset, e.len), (0, listing.len() as u32));
}

/// A listing's entries show on the data frame that completes their line: a line cut between two
/// segments is an entry of the second; the last line, without a line end, is one at the end.
#[test]
fn listing_entries_on_the_frames_that_complete_them() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.line(false, 8, "PASV\r\n");
    cap.line(true, 9, "227 Entering Passive Mode (10,0,0,2,104,134).\r\n");
    cap.line(false, 10, "LIST\r\n");
    cap.line(true, 11, "150 Here comes the directory listing.\r\n");
    let first: &[u8] = b"drwxr-xr-x 2 0 0 4096 Jun 01  2022 pub\r\n-rw-r--r-- 1 0 0 60";
    let second: &[u8] =
        b"00 Jan 01 00:00 big.bin\r\nlrwxrwxrwx 1 0 0 7 Jan 01 00:00 latest -> big.bin";
    cap.send(
        2,
        DATA_SERVER,
        DATA_CLIENT,
        12,
        TCP_SYN_ACK,
        first,
        Offer::Expected,
    );
    cap.send(2, DATA_SERVER, DATA_CLIENT, 13, 0, second, Offer::Expected);
    cap.d.finish();
    let names = |f| -> Vec<String> {
        cap.view(f)
            .frame_items
            .iter()
            .filter(|i| FIELDS[i.field as usize].abbrev == "ftplens-data.listing.name")
            .map(|i| match i.value {
                ValueView::Str(s) => s.to_string(),
                _ => String::new(),
            })
            .collect()
    };
    assert_eq!(names(12), ["pub"]);
    assert_eq!(names(13), ["big.bin", "latest"]);
    let v = cap.view(12);
    let name = v.frame_items.iter().find(|i| i.length > 0).unwrap();
    // "pub" is the last word before the first CRLF.
    assert_eq!((name.offset, name.length), (35, 3));
    assert!(v.items.iter().all(|i| {
        !FIELDS[i.field as usize]
            .abbrev
            .starts_with("ftplens-data.listing")
    }));
    let sizes: Vec<_> = cap
        .view(13)
        .frame_items
        .iter()
        .filter(|i| FIELDS[i.field as usize].abbrev == "ftplens-data.listing.size")
        .map(|i| i.value)
        .collect();
    assert_eq!(sizes, [ValueView::Uint(6000), ValueView::Uint(7)]);
}

/// A listing whose last line, without a line end, is the first past the parser's entry cap: the
/// cap is said on the frame that carried that line, as it is when a complete line hits it.
#[test]
fn a_cap_hit_by_a_listings_last_line_is_said() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.line(false, 8, "PASV\r\n");
    cap.line(true, 9, "227 Entering Passive Mode (10,0,0,2,104,134).\r\n");
    cap.line(false, 10, "NLST\r\n");
    cap.line(true, 11, "150 Here comes the directory listing.\r\n");
    let cap_entries = ListingLimits::default().max_entries;
    let mut full = Vec::new();
    for i in 0..cap_entries {
        full.extend_from_slice(format!("f{i}\r\n").as_bytes());
    }
    cap.send(
        2,
        DATA_SERVER,
        DATA_CLIENT,
        12,
        TCP_SYN_ACK,
        &full,
        Offer::Expected,
    );
    cap.send(
        2,
        DATA_SERVER,
        DATA_CLIENT,
        13,
        0,
        b"one-too-many",
        Offer::Expected,
    );
    let anomalies = |cap: &Cap, f| -> Vec<String> {
        cap.view(f)
            .frame_items
            .iter()
            .filter(|i| FIELDS[i.field as usize].abbrev == "ftplens.anomaly")
            .map(|i| format!("{:?}", i.value))
            .collect()
    };
    assert!(anomalies(&cap, 12).is_empty() && anomalies(&cap, 13).is_empty());
    cap.d.finish();
    assert_eq!(anomalies(&cap, 13), [format!("{:?}", s("listing_cap"))]);
    assert!(anomalies(&cap, 12).is_empty());
}

/// A multi-line reply over three segments: the frame of its first line shows its code (as the
/// built-in shows each segment's), the middle one is labelled with what it carries, and the last
/// shows the code again with the command it answers.
#[test]
fn a_multiline_reply_over_segments_shows_its_code_where_it_begins() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.line(false, 6, "FEAT\r\n");
    cap.line(true, 7, "211-Features:\r\n");
    cap.line(true, 8, " EPSV\r\n PASV\r\n");
    cap.line(true, 9, "211 End\r\n");
    let codes = |f| -> Vec<Value<'_>> {
        items(&cap.view(f), "ftplens.response.code")
            .iter()
            .map(|i| i.value)
            .collect()
    };
    assert_eq!(codes(7), [Value::Uint(211)]);
    assert_eq!(codes(8), []);
    assert!(
        cap.view(8).info.to_string().contains("211"),
        "{}",
        cap.view(8).info
    );
    assert_eq!(codes(9), [Value::Uint(211)]);
    assert_eq!(
        value(&cap.view(9), "ftplens.request_in"),
        Some(Value::Frame(6))
    );
}

/// AUTH TLS answered 234: the host is told to hand the control connection to TLS.
#[test]
fn auth_tls_asks_for_tls() {
    let mut cap = Cap::new(false);
    cap.line(true, 1, "220 FTP ready\r\n");
    cap.line(false, 2, "AUTH TLS\r\n");
    cap.line(true, 3, "234 Proceed with negotiation.\r\n");
    assert_eq!(
        cap.d.actions(),
        &[HostAction::StartTls {
            stream: 1,
            frame: 3
        }]
    );
}

/// A segment offered twice for one frame is taken once; a segment without payload (the SYN
/// itself, a bare FIN) counts no byte.
#[test]
fn a_frame_offered_twice_and_empty_segments() {
    let mut cap = Cap::new(false);
    // The client's SYN, at sequence number 0; its first byte is number 1.
    cap.send_at(1, CLIENT, SERVER, 1, 0, TCP_SYN, b"", Offer::Port);
    cap.line(true, 2, "220 FTP ready\r\n");
    let user = b"USER alice\r\n";
    cap.send_at(1, CLIENT, SERVER, 3, 1, TCP_SYN, user, Offer::Port);
    cap.send_at(1, CLIENT, SERVER, 3, 1, TCP_SYN, user, Offer::Port);
    let v = cap.view(3);
    assert_eq!(v.info, "Request: USER alice");
    assert_eq!(items(&v, "ftplens.request.command").len(), 1);
    assert!(items(&v, "ftplens.anomaly").is_empty(), "{v:?}");
    assert!(cap.d.view(1).is_none());
}

/// An active channel: the server connects from any port (RFC 959's default is port 20, one below
/// the control port), so a host that routes by port claims both the client's port and 20.
#[test]
fn an_active_channel_names_its_ports() {
    let mut cap = Cap::new(false);
    cap.login();
    // 10.0.0.1, port 195*256+81 = 50001.
    cap.line(false, 8, "PORT 10,0,0,1,195,81\r\n");
    assert_eq!(
        cap.d.actions(),
        &[HostAction::Expect {
            listener: addr("10.0.0.1:50001"),
            alt_listener: None,
            connector: Some("10.0.0.2".parse().unwrap()),
            frame: 8,
            ports: vec![50001, 20],
        }]
    );
}

/// Several pieces of one frame (the records TLS decrypts), with sequence numbers that follow each
/// other: each is fed, and the frame shows them all.
#[test]
fn pieces_of_one_frame_are_all_fed() {
    let mut cap = Cap::new(false);
    cap.line(true, 1, "220 FTP ready\r\n");
    cap.line(false, 2, "USER alice\r\n");
    cap.line(false, 2, "PASS s3cret\r\n");
    let v = cap.view(2);
    assert_eq!(v.info, "Request: USER alice, Request: PASS s3cret");
    assert_eq!(items(&v, "ftplens.request.command").len(), 2);
    // A data frame offered again with nothing new keeps its export piece.
    cap.line(false, 3, "PASV\r\n");
    cap.line(true, 4, "227 Entering Passive Mode (10,0,0,2,104,134).\r\n");
    cap.line(false, 5, "RETR f\r\n");
    let block = [1u8; 100];
    let (src, dst, o) = (DATA_SERVER, DATA_CLIENT, Offer::Expected);
    cap.send_at(2, src, dst, 6, 1, TCP_SYN_ACK, &block, o);
    cap.send_at(2, src, dst, 6, 1, TCP_SYN_ACK, &block, o);
    let e = cap.view(6).export.unwrap();
    assert_eq!((e.offset, e.skip, e.len), (0, 0, 100));
}

/// A download whose second segment came first (out of order): each lands at its place in the file,
/// which has no hole, and the data counts once.
#[test]
fn out_of_order_data_lands_at_its_place() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.pasv_retr();
    let (src, dst, o) = (DATA_SERVER, DATA_CLIENT, Offer::Expected);
    let (first, second) = ([b'a'; 1000], [b'b'; 1000]);
    cap.send_at(2, src, dst, 12, 1001, TCP_SYN_ACK, &second, o);
    cap.send_at(2, src, dst, 13, 1, TCP_SYN_ACK, &first, o);
    // A retransmission of both.
    let mut both = first.to_vec();
    both.extend_from_slice(&second);
    cap.send_at(2, src, dst, 14, 1, TCP_SYN_ACK, &both, o);
    cap.line(true, 15, "226 Transfer complete.\r\n");
    cap.d.finish();
    let e12 = cap.view(12).export.unwrap();
    let e13 = cap.view(13).export.unwrap();
    let e14 = cap.view(14).export.unwrap();
    assert_eq!((e12.offset, e12.skip, e12.len), (1000, 0, 1000));
    assert_eq!((e13.offset, e13.skip, e13.len), (0, 0, 1000));
    assert_eq!(e14.len, 0);
    assert_eq!(e13.filename, "big.bin");
    let v = cap.view(15);
    assert_eq!(value(&v, "ftplens.transfer.bytes"), Some(Value::Uint(2000)));
    // Complete: no gap reached the layer.
    assert_eq!(
        value(&cap.view(12), "ftplens-data.outcome"),
        Some(s("complete"))
    );
    assert!(items(&cap.view(15), "ftplens.anomaly").is_empty());
}

/// A connection through a registered port that began before the capture (no handshake): the side
/// that sends replies serves, even on the higher port; without a reply yet, the lower port does.
#[test]
fn a_registered_port_without_handshake() {
    let mut cap = Cap::new(false);
    let (server, client) = ("10.0.0.2:2121", "10.0.0.1:1025");
    let c = cap.send(1, server, client, 1, 0, b"220 ready\r\n", Offer::Port);
    assert_eq!(c, Claim::Control);
    cap.send(1, client, server, 2, 0, b"USER bob\r\n", Offer::Port);
    assert_eq!(cap.view(1).title, ", to client");
    assert_eq!(cap.view(2).title, ", to server");
    assert_eq!(cap.view(2).info, "Request: USER bob");
    // Another connection, the client's command first: the lower port, 21, serves.
    let (server, client) = ("10.0.0.2:21", "10.0.0.1:40000");
    cap.send(3, client, server, 3, 0, b"NOOP\r\n", Offer::Port);
    assert_eq!(cap.view(3).title, ", to server");
    assert_eq!(cap.view(3).info, "Request: NOOP");
}

/// A protected data connection (PROT P, RFC 4217): its first bytes are the client's TLS
/// ClientHello whatever the transfer's direction. RETR asks the server to send (RFC 959 4.1.3),
/// so the server's records make the file, and the client's handshake has no share of it.
#[test]
fn a_protected_download_is_the_servers_bytes() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.line(false, 6, "PBSZ 0\r\n");
    cap.line(true, 7, "200 PBSZ=0\r\n");
    cap.line(false, 8, "PROT P\r\n");
    cap.line(true, 9, "200 Protection level set to P\r\n");
    cap.line(false, 10, "PASV\r\n");
    cap.line(
        true,
        11,
        "227 Entering Passive Mode (10,0,0,2,104,134).\r\n",
    );
    cap.line(false, 12, "RETR big.bin\r\n");
    cap.line(
        true,
        13,
        "150 Opening BINARY mode data connection for big.bin.\r\n",
    );
    let o = Offer::Expected;
    let hello = [0x16u8; 300];
    cap.send(2, DATA_CLIENT, DATA_SERVER, 14, TCP_SYN, &hello, o);
    cap.send(
        2,
        DATA_SERVER,
        DATA_CLIENT,
        15,
        TCP_SYN_ACK,
        &[0x16; 1200],
        o,
    );
    cap.send(2, DATA_CLIENT, DATA_SERVER, 16, TCP_SYN, &[0x14; 50], o);
    cap.send(
        2,
        DATA_SERVER,
        DATA_CLIENT,
        17,
        TCP_SYN_ACK,
        &[0x17; 1400],
        o,
    );
    cap.send(
        2,
        DATA_SERVER,
        DATA_CLIENT,
        18,
        TCP_SYN_ACK,
        &[0x17; 600],
        o,
    );
    let v = cap.view(14);
    assert!(v.tls);
    // What a host that draws nothing asks instead of the view: every data frame, no control frame.
    assert!([14, 15, 16, 17, 18].iter().all(|&f| cap.d.is_tls_data(f)));
    assert!(!cap.d.is_tls_data(13) && !cap.d.is_tls_data(99));
    assert_eq!(v.export, None, "the ClientHello is no part of the file");
    assert_eq!(cap.view(16).export, None);
    let e = cap.view(15).export.expect("the server's first record");
    assert_eq!((e.offset, e.len, e.tls), (0, 1200, true));
    let e = cap.view(17).export.expect("the server's data");
    assert_eq!((e.object, e.offset, e.len), (1, 1200, 1400));
    assert_eq!(cap.view(18).export.unwrap().offset, 2600);
}

/// STOR asks the client to send (RFC 959 4.1.3): on an active data connection the server connects
/// (from port 20) and may speak first, yet the client's bytes make the file.
#[test]
fn an_upload_is_the_clients_bytes_even_when_the_server_speaks_first() {
    let mut cap = Cap::new(false);
    cap.login();
    // 10.0.0.1, port 195*256+81 = 50001.
    cap.line(false, 8, "PORT 10,0,0,1,195,81\r\n");
    cap.line(true, 9, "200 PORT command successful.\r\n");
    cap.line(false, 10, "STOR up.bin\r\n");
    cap.line(true, 11, "150 Ok to send data.\r\n");
    let (server, client, o) = ("10.0.0.2:20", DATA_CLIENT, Offer::Expected);
    cap.send(2, server, client, 12, TCP_SYN, b"hi", o);
    cap.send(2, client, server, 13, TCP_SYN_ACK, &[b'u'; 1000], o);
    assert_eq!(cap.view(12).export, None);
    let e = cap.view(13).export.expect("the client's bytes");
    assert_eq!((e.offset, e.len, e.filename.as_ref()), (0, 1000, "up.bin"));
}

/// An aborted download (RFC 959 4.1.3 ABOR: 426 closes the transfer, then 226 answers ABOR): its
/// data frames come first, named as asked; the 426 renames the object partial, in the same pass,
/// since no data frame follows to carry the new name.
#[test]
fn an_aborted_download_is_renamed_partial_by_its_final_reply() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.pasv_retr();
    let o = Offer::Expected;
    cap.send(
        2,
        DATA_SERVER,
        DATA_CLIENT,
        12,
        TCP_SYN_ACK,
        &[b'x'; 1000],
        o,
    );
    cap.send(
        2,
        DATA_SERVER,
        DATA_CLIENT,
        13,
        TCP_SYN_ACK,
        &[b'x'; 1000],
        o,
    );
    assert_eq!(cap.view(13).export.unwrap().filename, "big.bin");
    cap.line(false, 14, "ABOR\r\n");
    cap.line(true, 16, "426 Connection closed; transfer aborted.\r\n");
    cap.line(true, 17, "226 Closing data connection.\r\n");
    // Seen right after its segment, as a single pass shows it, before the data connection's
    // end (the host may not tell a reset without payload).
    let e = cap.view(16).export.expect("the 426 renames the object");
    assert_eq!(
        (e.object, e.filename.as_ref(), e.len, e.skip),
        (1, "big.bin.partial", 0, 0)
    );
    // Control frames that end no transfer carry none.
    assert_eq!(cap.view(14).export, None);
    assert_eq!(cap.view(17).export, None);
    assert_eq!(cap.view(11).export, None);
}

/// A line without an end (RFC 959 lines end in CRLF) longer than `max_line`: cut once, said once,
/// on the frame where it was cut, whether the connection then closes or the capture ends.
#[test]
fn an_endless_line_is_said_too_long_once() {
    for close in [true, false] {
        let mut cap = Cap {
            d: Dissector::new(DissectConfig {
                limits: Limits {
                    max_line: 64,
                    ..Limits::default()
                },
                ..DissectConfig::default()
            }),
            next: HashMap::new(),
        };
        cap.login();
        let chunk = [b'A'; 50];
        for f in 6..10 {
            cap.send(1, CLIENT, SERVER, f, TCP_SYN, &chunk, Offer::Port);
        }
        if close {
            cap.send(1, CLIENT, SERVER, 10, TCP_FIN, b"", Offer::Port);
            cap.send(1, SERVER, CLIENT, 11, TCP_FIN, b"", Offer::Port);
        }
        cap.d.finish();
        let said: Vec<u64> = (6..10)
            .flat_map(|f| {
                let v = cap.view(f);
                let n = v
                    .items
                    .iter()
                    .filter(|i| {
                        FIELDS[i.field as usize].abbrev == "ftplens.anomaly"
                            && i.value == s("line_too_long")
                    })
                    .count();
                std::iter::repeat_n(f, n)
            })
            .collect();
        // 64 bytes are reached in the second 50-byte segment.
        assert_eq!(said, [7], "close: {close}");
    }
}

/// At the stream cap a new connection is rejected, and the next control frame says so, once.
#[test]
fn the_stream_cap_is_reported() {
    let mut cap = Cap::new(false);
    cap.d.max_streams = 2;
    cap.login();
    let o = Offer::Heuristic;
    assert_eq!(
        cap.send(
            2,
            "10.0.0.9:4000",
            "10.0.0.8:80",
            6,
            TCP_SYN,
            b"GET / HTTP/1.1\r\n",
            o
        ),
        Claim::None
    );
    // A third connection: over the cap.
    let c = cap.send(
        3,
        "10.0.0.9:4001",
        "10.0.0.8:80",
        7,
        TCP_SYN,
        b"GET / HTTP/1.1\r\n",
        o,
    );
    assert_eq!(c, Claim::Rejected);
    assert!(cap.d.view(7).is_none());
    cap.line(false, 8, "NOOP\r\n");
    cap.line(true, 9, "200 NOOP ok.\r\n");
    let said = |v: &View<'_>| {
        v.items
            .iter()
            .filter(|i| i.value == s("stream_cap"))
            .map(|i| i.expert.map(|e| e.0))
            .collect::<Vec<_>>()
    };
    assert_eq!(said(&cap.view(8)), [Some(crate::fields::Expert::StreamCap)]);
    assert!(said(&cap.view(9)).is_empty());
}

/// A PASV storm: each 227 replaces the prediction before it (RFC 959 4.1.1: the server listens on
/// the last port it named), so the earlier channels can never carry data and nothing of them is
/// kept; the last one still shows its facts on its data frames. The frames keep their text.
#[test]
fn predictions_replaced_unused_keep_nothing() {
    let mut cap = Cap::new(false);
    cap.login();
    for (f, p2) in [(6, 130), (8, 132), (10, 134)] {
        cap.line(false, f, "PASV\r\n");
        let reply = format!("227 Entering Passive Mode (10,0,0,2,104,{p2}).\r\n");
        cap.line(true, f + 1, &reply);
    }
    cap.line(false, 12, "RETR big.bin\r\n");
    cap.line(true, 13, "150 Opening BINARY mode data connection.\r\n");
    let o = Offer::Expected;
    cap.send(2, DATA_SERVER, DATA_CLIENT, 14, TCP_SYN_ACK, b"abc", o);
    let kept = cap.d.chans.iter().filter(|c| c.is_some()).count();
    assert_eq!(kept, 1, "only the channel with a data connection");
    let v = cap.view(14);
    // The third 227 (frame 11) set the data connection up.
    assert_eq!(
        value(&v, "ftplens-data.setup_frame"),
        Some(Value::Frame(11))
    );
    assert_eq!(v.export.unwrap().len, 3);
    let v = cap.view(7);
    assert_eq!(
        v.info,
        "Response: 227 Entering Passive Mode (10,0,0,2,104,130)."
    );
    assert_eq!(
        v.flow.as_deref(),
        Some("227 Entering Passive Mode (10,0,0,2,104,130).")
    );
    assert_eq!(cap.view(6).flow.as_deref(), Some("PASV"));
}

/// A host that keeps a channel's items gets them again only when the channel changed.
#[test]
fn a_kept_channel_is_not_lent_again() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.pasv_retr();
    let o = Offer::Expected;
    cap.send(2, DATA_SERVER, DATA_CLIENT, 12, TCP_SYN_ACK, b"abc", o);
    cap.send(2, DATA_SERVER, DATA_CLIENT, 13, 0, b"def", o);
    let v = cap.view(13);
    let key = (v.channel.unwrap(), v.revision);
    assert!(!v.items.is_empty());
    let again = cap.d.view_unless_kept(13, |c, r| (c, r) == key).unwrap();
    assert!(again.items.is_empty());
    assert_eq!(again.info, v.info);
    cap.d.finish();
    // The end added facts: a new revision, lent again.
    assert!(
        !cap.d
            .view_unless_kept(13, |c, r| (c, r) == key)
            .unwrap()
            .items
            .is_empty()
    );
}

/// A resumed download (REST 4000, RFC 3659 5): the data frames carry the offset, which is what
/// `ftplens-data.offset > 0` finds; a transfer without REST shows no offset item at all.
#[test]
fn a_resumed_transfer_shows_its_rest_offset() {
    let mut cap = Cap::new(false);
    cap.login();
    cap.line(false, 6, "REST 4000\r\n");
    cap.line(true, 7, "350 Restarting at 4000.\r\n");
    cap.pasv_retr();
    let block = vec![b'x'; 2000];
    let c = cap.send(
        2,
        DATA_SERVER,
        DATA_CLIENT,
        12,
        TCP_SYN_ACK,
        &block,
        Offer::Expected,
    );
    assert_eq!(c, Claim::Data);
    assert_eq!(
        value(&cap.view(12), "ftplens-data.offset"),
        Some(Value::Uint(4000))
    );
}
