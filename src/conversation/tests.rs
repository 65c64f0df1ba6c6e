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
            Output::Exchange(exchange(
                4,
                "USER",
                "alice",
                331,
                "password please",
                Some("alice")
            )),
            Output::Exchange(exchange(6, "PASS", "s3cret", 230, "in", Some("alice"))),
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
