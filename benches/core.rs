//! Line parsing and session feeding throughput. `cargo bench --bench core` prints the time per
//! iteration; with `Throughput::Elements` criterion also reports lines per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ftplens::parse::{address, parse_command, parse_reply_line};
use ftplens::{Direction, Session};
use std::hint::black_box;

const COMMANDS: &[&[u8]] = &[
    b"USER anonymous\r\n",
    b"PASS guest@example.com\r\n",
    b"TYPE I\r\n",
    b"PASV\r\n",
    b"RETR /pub/linux/kernel/v6.x/linux-6.1.tar.xz\r\n",
    b"PORT 192,168,1,106,224,89\r\n",
    b"EPRT |2|2001:db8::1|5282|\r\n",
    b"CWD /pub\r\n",
];

const REPLIES: &[&[u8]] = &[
    b"220 (vsFTPd 3.0.3)\r\n",
    b"331 Please specify the password.\r\n",
    b"230 Login successful.\r\n",
    b"227 Entering Passive Mode (192,168,1,109,104,134).\r\n",
    b"229 Entering Extended Passive Mode (|||40000|)\r\n",
    b"150 Opening BINARY mode data connection for f (1234 bytes).\r\n",
    b"226 Transfer complete.\r\n",
    b"250 Directory successfully changed.\r\n",
];

fn parse_lines(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    g.throughput(Throughput::Elements(
        (COMMANDS.len() + REPLIES.len()) as u64,
    ));
    g.bench_function("command+reply lines", |b| {
        b.iter(|| {
            for l in COMMANDS {
                black_box(parse_command(black_box(l)).ok());
            }
            for l in REPLIES {
                black_box(parse_reply_line(black_box(l)).ok());
            }
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("227 address", |b| {
        b.iter(|| {
            black_box(address::parse_227(black_box(
                b"Entering Passive Mode (192,168,1,109,104,134).",
            )))
        })
    });
    g.finish();
}

/// One realistic login + 20 passive downloads, as the two directions' byte streams.
fn session_script() -> Vec<(Direction, Vec<u8>)> {
    let mut s = vec![
        (Direction::ToClient, b"220 (vsFTPd 3.0.3)\r\n".to_vec()),
        (Direction::ToServer, b"USER alice\r\n".to_vec()),
        (
            Direction::ToClient,
            b"331 Please specify the password.\r\n".to_vec(),
        ),
        (Direction::ToServer, b"PASS s3cret\r\n".to_vec()),
        (Direction::ToClient, b"230 Login successful.\r\n".to_vec()),
        (Direction::ToServer, b"TYPE I\r\n".to_vec()),
        (
            Direction::ToClient,
            b"200 Switching to Binary mode.\r\n".to_vec(),
        ),
    ];
    for i in 0..20 {
        s.push((Direction::ToServer, b"PASV\r\n".to_vec()));
        s.push((
            Direction::ToClient,
            format!("227 Entering Passive Mode (192,168,1,109,104,{i}).\r\n").into_bytes(),
        ));
        s.push((
            Direction::ToServer,
            format!("RETR file{i}.bin\r\n").into_bytes(),
        ));
        s.push((
            Direction::ToClient,
            b"150 Opening BINARY mode data connection (1048576 bytes).\r\n".to_vec(),
        ));
        s.push((Direction::ToClient, b"226 Transfer complete.\r\n".to_vec()));
    }
    s
}

fn feed_session(c: &mut Criterion) {
    let script = session_script();
    let mut g = c.benchmark_group("session");
    g.throughput(Throughput::Elements(script.len() as u64));
    g.bench_function("feed lines", |b| {
        b.iter(|| {
            let mut s = Session::new(
                Some("192.168.1.106:57658".parse().unwrap()),
                Some("192.168.1.109:21".parse().unwrap()),
                Default::default(),
            );
            for (frame, (dir, bytes)) in script.iter().enumerate() {
                black_box(s.feed(*dir, bytes, frame as u64, frame as f64).len());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, parse_lines, feed_session);
criterion_main!(benches);
