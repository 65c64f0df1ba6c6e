//! The engine over whole conversations: connections in, outputs out, compared as whole structs.

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const CLIENT: &str = "192.168.1.106:50000";
const SERVER: &str = "192.168.1.109:21";

struct Run {
    conv: Conversations,
    out: Vec<Output>,
}

impl Run {
    fn new() -> Self {
        Run {
            conv: Conversations::new(Config::default()),
            out: Vec::new(),
        }
    }

    fn take(&mut self) -> Vec<Output> {
        self.conv.take_outputs(&mut self.out);
        std::mem::take(&mut self.out)
    }
}

/// A control connection with a SYN, fed line by line: `(from_server, text, frame)`.
fn control(run: &mut Run, lines: &[(bool, &str, u64)]) -> ConnRef {
    let (c, s) = (addr(CLIENT), addr(SERVER));
    let conn = run.conv.connect(c, s, Some(c), 1, 0.0);
    let mut off = [0u64; 2];
    for &(from_server, text, frame) in lines {
        let from = if from_server { s } else { c };
        let i = usize::from(from_server);
        run.conv
            .payload(conn, from, off[i], text.as_bytes(), frame, frame as f64);
        off[i] += text.len() as u64;
    }
    conn
}

#[test]
fn a_login_is_exchanges_and_a_session() {
    let mut run = Run::new();
    let conn = control(
        &mut run,
        &[
            (true, "220-Welcome\r\n220-to the server\r\n220 ready\r\n", 3),
            (false, "USER alice\r\n", 4),
            (true, "331 password please\r\n", 5),
            (false, "PASS s3cret\r\n", 6),
            (true, "230 in\r\n", 7),
        ],
    );
    run.conv.close(conn);
    let out = run.take();
    let id = ConnId {
        orig: addr(CLIENT),
        resp: addr(SERVER),
    };
    let uid = match &out[0] {
        Output::Exchange(e) => e.uid.clone(),
        other => panic!("first output {other:?}"),
    };
    let exchange =
        |frame: u64, verb: &str, arg: &str, code: u16, text: &str, user: Option<&str>| Exchange {
            uid: uid.clone(),
            id,
            ts: frame as f64,
            frame,
            command: Some(CommandLine {
                verb: verb.into(),
                arg: Some(arg.into()),
                incomplete: false,
            }),
            user: user.map(String::from),
            password: (code == 230).then(|| "s3cret".to_string()),
            cwd: None,
            preliminary: vec![],
            reply: Some(ReplyText {
                code,
                lines: vec![text.into()],
                frame: frame + 1,
                ts: (frame + 1) as f64,
                incomplete: false,
            }),
            response_time: Some(1.0),
            data_channel: None,
            rest_offset: None,
            file_size: None,
            anomalies: vec![],
        };
    assert_eq!(
        out,
        vec![
            Output::Exchange(Box::new(exchange(
                4,
                "USER",
                "alice",
                331,
                "password please",
                Some("alice")
            ))),
            Output::Exchange(Box::new(exchange(
                6,
                "PASS",
                "s3cret",
                230,
                "in",
                Some("alice")
            ))),
            Output::Session(SessionSummary {
                uid: uid.clone(),
                id,
                ts: 0.0,
                end_ts: 7.0,
                banner: Some("Welcome\nto the server\nready".into()),
                user: Some("alice".into()),
                password: Some("s3cret".into()),
                anonymous: false,
                login: LoginSummary::Success,
                failed_logins: 0,
                commands: 2,
                transfers: 0,
                anomalies: 0,
                tls: None,
                midstream: false,
            }),
        ]
    );
}

/// PASV, RETR, 150, 226 and only then the data connection (the 226 overtook the data): the
/// transfer still gets the bytes, and the layer asked the host to expect the connection.
#[test]
fn data_after_the_final_reply_counts_and_the_prediction_is_an_action() {
    let mut run = Run::new();
    let (c, s) = (addr(CLIENT), addr(SERVER));
    let ctl = control(
        &mut run,
        &[
            (true, "220 ready\r\n", 3),
            (false, "PASV\r\n", 4),
            (
                true,
                "227 Entering Passive Mode (192,168,1,109,104,134).\r\n",
                5,
            ),
            (false, "RETR seed.txt\r\n", 6),
            (true, "150 here it comes\r\n", 7),
            (true, "226 done\r\n", 8),
        ],
    );
    let actions = run.conv.take_actions();
    assert_eq!(actions.len(), 1);
    let Action::ExpectConnection {
        control,
        channel,
        port,
        listener,
        connector,
        frame,
        ..
    } = &actions[0]
    else {
        panic!("{actions:?}");
    };
    assert_eq!(
        (*control, *channel, *port, *listener, *connector, *frame),
        (ctl, 1, 26758, Some(s.ip()), Some(c.ip()), 5)
    );
    // The RETR's exchange is reported in its place while the transfer waits for its data.
    let early = run.take();
    assert!(
        matches!(&early[..], [Output::Exchange(_), Output::Exchange(e)]
        if e.command.as_ref().is_some_and(|c| c.verb == "RETR"))
    );
    let (dc, ds) = (addr("192.168.1.106:58985"), addr("192.168.1.109:26758"));
    let data = run.conv.connect(dc, ds, Some(dc), 9, 9.0);
    assert_eq!(run.conv.role(data), RoleKind::Data);
    let view = run.conv.data_channel(data).expect("a data connection");
    assert_eq!((view.control, view.channel), (ctl, 1));
    assert_eq!(
        view.transfer.map(|t| (t.command.as_str(), t.path.as_str())),
        Some(("RETR", "seed.txt"))
    );
    assert_eq!(run.conv.data_channel(ctl), None);
    assert_eq!(
        run.conv.payload(data, ds, 0, &[7u8; 154], 10, 10.0),
        RoleKind::Data
    );
    run.conv.fin(data, ds);
    run.conv.fin(data, dc);
    run.conv.close(data);
    let out = run.take();
    let [Output::Transfer(t)] = &out[..] else {
        panic!("{out:?}");
    };
    let (uid, id) = run
        .conv
        .conn_id(ctl)
        .map(|(u, i)| (u.to_string(), i))
        .unwrap();
    let transfer = t.transfer.clone().expect("the RETR");
    assert_eq!(
        (
            transfer.command.as_str(),
            transfer.path.as_str(),
            transfer.outcome
        ),
        ("RETR", "seed.txt", crate::Outcome::Complete)
    );
    assert_eq!(
        **t,
        TransferDone {
            uid,
            id,
            user: None,
            transfer: Some(transfer),
            exchange: None,
            command_ts: Some(6.0),
            mode: Some(crate::DataMode::Pasv),
            channel: Some(1),
            late_bound: false,
            data: Some(DataSeen {
                conn: data,
                id: ConnId { orig: dc, resp: ds },
                uid: t.data.as_ref().unwrap().uid.clone(),
                first_ts: 9.0,
                sender: Some(ds),
                server: Some(ds),
                bytes: 154,
                gaps: 0,
                gap_bytes: 0,
                syn_seen: true,
                fin_seen: true,
            }),
            direction: Some(DataDirection::Download),
            complete: true,
            partial_reasons: vec![],
        }
    );
}

/// A data connection seen before the reply that predicts it is claimed late, and its held bytes
/// are handed back to the host.
#[test]
fn late_binding_replays_the_held_bytes() {
    let mut run = Run::new();
    let ctl = control(
        &mut run,
        &[(true, "220 ready\r\n", 3), (false, "PASV\r\n", 4)],
    );
    let (dc, ds) = (addr("192.168.1.106:58985"), addr("192.168.1.109:26758"));
    let data = run.conv.connect(dc, ds, Some(dc), 5, 5.0);
    assert_eq!(
        run.conv.payload(data, ds, 0, b"early", 6, 6.0),
        RoleKind::Pending
    );
    let s = addr(SERVER);
    run.conv.payload(
        ctl,
        s,
        11,
        b"227 Entering Passive Mode (192,168,1,109,104,134).\r\n",
        7,
        7.0,
    );
    assert_eq!(run.conv.role(data), RoleKind::Data);
    let out = run.take();
    assert!(out.contains(&Output::Replay(Replay {
        conn: data,
        from: ds,
        to: dc,
        offset: 0,
        bytes: b"early".to_vec(),
        frame: 6,
        ts: 6.0,
    })));
}

/// The README's anomaly table says what the declarations say, for every anomaly.
#[test]
fn readme_lists_every_anomaly_as_declared() {
    let readme = include_str!("../../README.md").replace('`', "");
    let session = crate::Anomaly::ALL
        .iter()
        .map(|a| (a.name(), a.description()));
    for (name, when) in session.chain(anomaly::ALL.iter().copied()) {
        let row = format!("| {name} | {when} |");
        assert!(readme.contains(&row), "README lacks {row}");
    }
}

/// With events kept, each feed's events come out as a batch at the frame fed, and a line only
/// the end of the connection completes names the frame that carried it, not the last frame.
#[test]
fn batches_keep_each_feeds_events() {
    let mut run = Run {
        conv: Conversations::new(Config {
            keep_events: true,
            ..Config::default()
        }),
        out: Vec::new(),
    };
    let conn = control(
        &mut run,
        &[
            (true, "220 ready\r\n", 3),
            (false, "USER alice\r\n", 4),
            (true, "331 password please", 5),
            (false, "NOOP\r\n", 6),
        ],
    );
    run.conv.close(conn);
    let batches = run.conv.take_batches();
    let fed: Vec<u64> = batches.iter().map(|b| b.frame).collect();
    // 3, 4 and 6 complete lines; 5 completes none; the end (at the last frame fed, 6) reports the
    // 331 cut short, at frame 5.
    assert_eq!(fed, vec![3, 4, 6, 6]);
    assert!(batches.iter().all(|b| b.control == conn && b.base == 0));
    let end = batches.last().unwrap();
    let reply = end
        .events
        .iter()
        .find(|e| matches!(&e.kind, crate::EventKind::Reply(r) if r.code.0 == 331))
        .expect("the cut reply");
    assert_eq!(reply.frame, 5);
    assert!(run.conv.take_batches().is_empty());
}
