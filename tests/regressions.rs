//! Regression and replay tests for the hardening work (hostile input, caps, stalls).
//!
//! - `replay_committed_inputs` runs every committed fuzz seed (`fuzz/seeds/<target>/`) and every
//!   input that once crashed a target (`fuzz/regressions/<target>/`) through its own target's driver,
//!   and then through every other driver too, so that each entry point sees every input. The
//!   drivers are the fuzz targets' own code (`fuzz/src/drivers.rs`), so they check the same
//!   invariants (spans inside the fed buffer, no caught panic across the C ABI, contiguous
//!   reassembly, extraction staying inside its folder...).
//! - The named tests below are minimal inputs for bugs found by fuzzing or by the hostile captures,
//!   each with the behaviour it must keep.

#[allow(dead_code)]
#[path = "../fuzz/src/drivers.rs"]
mod drivers;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// (target, file) for every committed input.
fn committed_inputs() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for kind in ["seeds", "regressions"] {
        let Ok(targets) = std::fs::read_dir(root().join("fuzz").join(kind)) else {
            continue;
        };
        for t in targets.flatten() {
            let name = t.file_name().to_string_lossy().into_owned();
            let Ok(files) = std::fs::read_dir(t.path()) else {
                continue;
            };
            for f in files.flatten() {
                if f.path().is_file() {
                    out.push((name.clone(), f.path()));
                }
            }
        }
    }
    out.sort();
    out
}

/// Run `f` on `data`; report which input failed (the panic message says why).
fn run_one(target: &str, f: fn(&[u8]), path: &Path, data: &[u8], slowest: &mut (Duration, String)) {
    let start = Instant::now();
    let r = std::panic::catch_unwind(|| f(data));
    let took = start.elapsed();
    if took > slowest.0 {
        *slowest = (took, format!("{target} <- {}", path.display()));
    }
    assert!(
        r.is_ok(),
        "driver {target} failed on {} ({} bytes)",
        path.display(),
        data.len()
    );
}

#[test]
fn replay_committed_inputs() {
    let inputs = committed_inputs();
    assert!(
        inputs.len() > 100,
        "fuzz/seeds is missing: {} inputs",
        inputs.len()
    );
    let start = Instant::now();
    let mut slowest = (Duration::ZERO, String::new());
    let mut runs = 0;
    for (target, path) in &inputs {
        let data = std::fs::read(path).unwrap();
        let own = drivers::driver(target)
            .unwrap_or_else(|| panic!("{} is under an unknown target", path.display()));
        run_one(target, own, path, &data, &mut slowest);
        runs += 1;
        for (name, f) in drivers::TARGETS {
            if name != target {
                run_one(name, *f, path, &data, &mut slowest);
                runs += 1;
            }
        }
    }
    let took = start.elapsed();
    eprintln!(
        "{} inputs, {runs} runs in {took:?}; slowest {:?} ({})",
        inputs.len(),
        slowest.0,
        slowest.1
    );
    // A hang guard: a debug build replays any one input in well under a second; a super-linear
    // path took tens of seconds. Speed itself is measured by the benchmarks, not here.
    assert!(
        slowest.0 < Duration::from_secs_f64(HANG_GUARD_SECS),
        "slow input: {slowest:?}"
    );
}

#[test]
fn every_target_has_seeds() {
    for (name, _) in drivers::TARGETS {
        let dir = root().join("fuzz/seeds").join(name);
        let n = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
        assert!(n > 0, "no seeds in {}", dir.display());
    }
}

// ------------------------------------------------------------------------------ named regressions

use ftplens::{Direction, Session};

/// How long a regression input may run before the test calls it a hang. Far above what the fixed
/// code needs even in a debug build on a busy machine, far below what the old super-linear paths
/// took: the tests catch a return of those paths without timing anything finer.
const HANG_GUARD_SECS: f64 = 30.0;

/// Feed (command, reply) pairs to a fresh session. Gives up once `limit` seconds have passed, so
/// that a super-linear path fails the test quickly instead of stalling CI. Returns the session and
/// the seconds taken, or the number of pairs done in time.
fn converse(pairs: &[(Vec<u8>, Vec<u8>)], limit: f64) -> Result<(Session, f64), usize> {
    let mut s = Session::default();
    let start = Instant::now();
    for (i, (cmd, reply)) in pairs.iter().enumerate() {
        if start.elapsed().as_secs_f64() > limit {
            return Err(i);
        }
        let frame = 2 * i as u64 + 1;
        s.feed(Direction::ToServer, cmd, frame, frame as f64);
        s.feed(Direction::ToClient, reply, frame + 1, frame as f64 + 0.5);
    }
    s.finish(u64::MAX, 1e9);
    Ok((s, start.elapsed().as_secs_f64()))
}

/// A line of `max_line` bytes: `prefix`, then `unit` repeated, then CRLF.
fn long_line(prefix: &str, unit: &str) -> Vec<u8> {
    let mut v = prefix.as_bytes().to_vec();
    while v.len() + unit.len() < ftplens::Limits::DEFAULT_MAX_LINE {
        v.extend_from_slice(unit.as_bytes());
    }
    v.extend_from_slice(b"\r\n");
    v
}

/// Found by the addr_227/addr_228 fuzz targets (exec/s collapsed on long inputs): the 227 and 228
/// scanners re-parsed the rest of a number list from every number in it, so one 8 KB reply of
/// out-of-range numbers (`999,999,...`) cost O(n^2): about 0.8 s (227) and 2.6 s (228) per line
/// under ASan. A hostile server (or capture) sending such replies stalls the dissector and the CLI.
/// Scanning must be linear. The guard below is a hang guard, not a speed claim: linear scanning
/// takes milliseconds, the quadratic one took about a minute for these 64 replies, so 30 s stays
/// clear of both on a loaded machine (speed is measured by `cargo bench`, not by tests).
#[test]
fn pasv_reply_scan_is_linear() {
    for (cmd, code, unit) in [("PASV", "227", "999,"), ("LPSV", "228", "6,")] {
        let reply = long_line(&format!("{code} Entering Passive Mode ("), unit);
        let pairs: Vec<_> = (0..64)
            .map(|_| (format!("{cmd}\r\n").into_bytes(), reply.clone()))
            .collect();
        if let Err(done) = converse(&pairs, HANG_GUARD_SECS) {
            panic!("{code}: only {done} of 64 replies of 8 KB in {HANG_GUARD_SECS} s");
        }
    }
    // The scan still finds a valid address after a run of invalid numbers.
    let text = [b"999,".repeat(1000), b"10,0,0,1,4,1)".to_vec()].concat();
    let ep = ftplens::parse::address::parse_227(&text).unwrap();
    assert_eq!(ep.to_string(), "10.0.0.1:1025 (4*256+1)");
}

/// Found while writing the hostile captures: every accepted relative `CWD` appended to the known
/// working directory, which had no cap. 2,000 `CWD <4 KB name>` / `250` pairs (8 MB of traffic)
/// grew it to 8 MB, and since each `CWD` re-resolves the whole path, time was quadratic. The
/// working directory must stay bounded (a longer one can become unknown) and time linear.
#[test]
fn cwd_is_bounded() {
    let name = "d".repeat(4000);
    let pairs: Vec<_> = (0..2000)
        .map(|_| {
            (
                format!("CWD {name}\r\n").into_bytes(),
                b"250 OK\r\n".to_vec(),
            )
        })
        .collect();
    let s = match converse(&pairs[..200], HANG_GUARD_SECS) {
        Ok((s, _)) => s,
        Err(done) => panic!("only {done} of 200 CWD in {HANG_GUARD_SECS} s"),
    };
    let len = s.cwd().map_or(0, str::len);
    assert!(
        len <= 4 * ftplens::Limits::DEFAULT_MAX_LINE,
        "cwd grew to {len} bytes after 200 CWD"
    );
    // Quadratic resolution of an unbounded cwd took minutes here; linear takes milliseconds.
    if let Err(done) = converse(&pairs, HANG_GUARD_SECS) {
        panic!("only {done} of 2000 CWD in {HANG_GUARD_SECS} s");
    }
}

/// A tiny TCP endpoint pair for building raw-IP frames (link type 101) for the CLI's analyser.
struct Tcp {
    a: ([u8; 4], u16),
    b: ([u8; 4], u16),
    seq: [u32; 2],
}

impl Tcp {
    fn new(a: ([u8; 4], u16), b: ([u8; 4], u16)) -> Self {
        Tcp {
            a,
            b,
            seq: [1000, 5000],
        }
    }

    /// One segment from side 0 (a) or 1 (b); `syn` and `fin` as flags.
    fn seg(&mut self, side: usize, payload: &[u8], syn: bool, fin: bool) -> Vec<u8> {
        let ((sip, sp), (dip, dp)) = if side == 0 {
            (self.a, self.b)
        } else {
            (self.b, self.a)
        };
        let ack = self.seq[1 - side];
        let mut b =
            etherparse::PacketBuilder::ipv4(sip, dip, 64).tcp(sp, dp, self.seq[side], 65535);
        // The initiator's SYN acknowledges nothing; every other segment does.
        if !(syn && side == 0) {
            b = b.ack(ack);
        }
        if syn {
            b = b.syn();
        }
        if fin {
            b = b.fin();
        }
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        self.seq[side] = self.seq[side]
            .wrapping_add(payload.len() as u32)
            .wrapping_add(u32::from(syn) + u32::from(fin));
        out
    }

    fn open(&mut self) -> Vec<Vec<u8>> {
        vec![
            self.seg(0, b"", true, false),
            self.seg(1, b"", true, false),
            self.seg(0, b"", false, false),
        ]
    }
}

/// Found by the hostile captures (pasv_storm, port_storm): the CLI's global prediction table
/// (65,536 entries) kept every prediction a session had announced, even those the session itself
/// had dropped (it keeps 16), so one session of 70,000 PASV replies filled it. From then on (a)
/// every insert rescanned the whole table to expire entries (quadratic: 100,000 PASV replies took
/// 47 s of CPU instead of 0.2 s) and (b) every new prediction was refused, so another client's
/// ordinary download in the same capture was no longer matched to its data connection.
#[test]
fn a_pasv_storm_neither_stalls_nor_blinds_the_cli() {
    use ftplens::capture::analyze::{Analyzer, Options};
    use ftplens::capture::source::Frame;
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let server = [10, 2, 0, 1];
    let mut storm = Tcp::new(([10, 1, 0, 1], 40000), (server, 21));
    frames.extend(storm.open());
    frames.push(storm.seg(1, b"220 hi\r\n", false, false));
    let n = 70_000u32;
    for batch in 0..n / 16 {
        frames.push(storm.seg(0, &b"PASV\r\n".repeat(16), false, false));
        let mut replies = Vec::new();
        for i in 0..16 {
            let port = 1024 + (batch * 16 + i) % 60_000;
            replies.extend_from_slice(
                format!(
                    "227 Entering Passive Mode (10,2,0,1,{},{}).\r\n",
                    port >> 8,
                    port & 255
                )
                .as_bytes(),
            );
        }
        frames.push(storm.seg(1, &replies, false, false));
    }
    let mut victim = Tcp::new(([10, 1, 0, 2], 40001), (server, 21));
    frames.extend(victim.open());
    frames.push(victim.seg(1, b"220 hi\r\n", false, false));
    frames.push(victim.seg(0, b"PASV\r\n", false, false));
    frames.push(victim.seg(
        1,
        b"227 Entering Passive Mode (10,2,0,1,253,232).\r\n",
        false,
        false,
    ));
    frames.push(victim.seg(0, b"RETR victim.bin\r\n", false, false));
    let mut data = Tcp::new(([10, 1, 0, 2], 41001), (server, 65000));
    frames.extend(data.open());
    frames.push(victim.seg(1, b"150 ok\r\n", false, false));
    frames.push(data.seg(1, &[7u8; 4096], false, false));
    frames.push(data.seg(1, b"", false, true));
    frames.push(data.seg(0, b"", false, true));
    frames.push(victim.seg(1, b"226 done\r\n", false, false));

    let mut transfers = Vec::new();
    let mut sink = |r: ftplens::capture::Record| {
        if let ftplens::capture::Record::Transfer(t) = r {
            transfers.push(t.bytes);
        }
    };
    let mut a = Analyzer::new(Options::default(), &mut sink).unwrap();
    let start = Instant::now();
    for (i, f) in frames.iter().enumerate() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "stalled: {i} of {} frames in 30 s",
            frames.len()
        );
        a.frame(&Frame {
            number: i as u64 + 1,
            ts: 1000.0 + i as f64 * 1e-4,
            linktype: 101,
            data: f,
            orig_len: f.len() as u32,
        });
    }
    a.finish();
    assert_eq!(
        transfers,
        vec![4096],
        "the victim's download after the storm"
    );
}

fn scratch_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ftplens-regress-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Found by the extraction tests: every transfer of an already-taken name retried `.1`, `.2`...
/// from the start, one link(2) per taken name, so K transfers of one name cost O(K^2) system
/// calls: 3,000 RETR of `same` took 15 s (10 s in the kernel), 100,000 would take hours. Names
/// that collide must cost about the same as names that do not.
#[test]
fn extract_name_collisions_are_linear() {
    use ftplens::capture::extract::Extractor;
    let dir = scratch_dir("collide");
    let mut x = Extractor::new(&dir).unwrap();
    let start = Instant::now();
    let n = 4000;
    for i in 0..n {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "only {i} of {n} colliding names in 10 s"
        );
        let mut s = x.spool().unwrap();
        s.write_at(0, format!("{i}").as_bytes()).unwrap();
        x.finish(s, "same", 0, false).unwrap();
    }
    drop(x);
    let files = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(files, n, "one file per transfer, none overwritten");
    assert_eq!(std::fs::read(dir.join("same.3999")).unwrap(), b"3999");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Found by the extraction tests: a path of 30 components of 200 bytes (allowed: components are
/// cut to 200 bytes, nesting to 32) is 6 KB, over PATH_MAX, so the file was lost with "File name
/// too long" and the run ended with exit code 2. A hostile name must still be written, inside the
/// output directory.
#[test]
fn extract_deep_long_path_is_written_inside() {
    use ftplens::capture::extract::Extractor;
    let dir = scratch_dir("deep");
    let mut x = Extractor::new(&dir).unwrap();
    let ftp_path = format!("{}/deep.txt", vec!["d".repeat(250); 40].join("/"));
    let mut s = x.spool().unwrap();
    s.write_at(0, b"deep").unwrap();
    let written = x.finish(s, &ftp_path, 0, false);
    let p = written.expect("a long FTP path must still be extracted");
    assert!(p.starts_with(&dir), "{p:?}");
    assert_eq!(std::fs::read(&p).unwrap(), b"deep");
    drop(x);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every C function with NULL pointers, a bad direction, and indices out of range: the documented
/// result, never a caught panic (`FTPLENS_ERR_PANIC`) and never a crash.
#[test]
fn ffi_null_and_invalid_arguments() {
    use ftplens::ffi as f;
    use ftplens::ffi::sys::*;
    use std::ptr::{null, null_mut};
    unsafe {
        let mut line = ftplens_line::default();
        assert_eq!(
            f::ftplens_line_parse(null(), 0, FTPLENS_DIR_TO_SERVER, &mut line),
            FTPLENS_ERR_PARSE
        );
        assert_eq!(
            f::ftplens_line_parse(null(), 5, FTPLENS_DIR_TO_SERVER, &mut line),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            f::ftplens_line_parse(b"NOOP".as_ptr(), 4, FTPLENS_DIR_TO_SERVER, null_mut()),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            f::ftplens_line_parse(b"NOOP".as_ptr(), 4, 7, &mut line),
            FTPLENS_ERR_INVALID_ARGUMENT
        );
        assert_eq!(f::ftplens_complete_prefix(null(), 0, 0), 0);
        assert_eq!(f::ftplens_complete_prefix(null(), 10, 0), 0);
        assert_eq!(f::ftplens_heuristic(null(), 10), FTPLENS_VERDICT_UNSURE);

        let mut n = 0usize;
        let mut ev = ftplens_event::default();
        let mut items: *const ftplens_item = null();
        assert_eq!(
            f::ftplens_session_feed(null_mut(), 0, b"x".as_ptr(), 1, 1, 0.0, &mut n),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            f::ftplens_session_finish(null_mut(), 1, 0.0, &mut n),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            f::ftplens_session_event(null(), 0, &mut ev),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            f::ftplens_session_items(null(), &mut items, &mut n),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert!(!f::ftplens_session_summary(null()).is_null());
        f::ftplens_session_free(null_mut());

        // A configuration with an invalid family is refused or ignored, never a panic.
        let mut cfg = ftplens_session_config::default();
        cfg.client.family = 99;
        cfg.limits.expectation_timeout = u32::MAX;
        let s = f::ftplens_session_new(&cfg);
        if !s.is_null() {
            f::ftplens_session_free(s);
        }
        let s = f::ftplens_session_new(null());
        assert!(!s.is_null());
        assert_eq!(
            f::ftplens_session_feed(s, 9, b"x".as_ptr(), 1, 1, 0.0, &mut n),
            FTPLENS_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            f::ftplens_session_feed(s, FTPLENS_DIR_TO_SERVER, null(), 3, 1, 0.0, &mut n),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            f::ftplens_session_feed(s, FTPLENS_DIR_TO_SERVER, null(), 0, 1, f64::NAN, null_mut()),
            FTPLENS_OK
        );
        let r = f::ftplens_session_feed(
            s,
            FTPLENS_DIR_TO_CLIENT,
            b"227 (1,2,3,4,5,6)\r\n".as_ptr(),
            19,
            u64::MAX,
            f64::INFINITY,
            &mut n,
        );
        assert_eq!(r, FTPLENS_OK);
        assert_eq!(
            f::ftplens_session_event(s, n, &mut ev),
            FTPLENS_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            f::ftplens_session_event(s, usize::MAX, &mut ev),
            FTPLENS_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            f::ftplens_session_event(s, 0, null_mut()),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            f::ftplens_session_items(s, null_mut(), &mut n),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        assert_eq!(
            f::ftplens_session_finish(s, 0, f64::NEG_INFINITY, null_mut()),
            FTPLENS_OK
        );
        f::ftplens_session_free(s);

        assert!(f::ftplens_anomaly_name(FTPLENS_ANOMALY_COUNT).is_null());
        assert!(f::ftplens_anomaly_name(u32::MAX).is_null());
        let mut fi = ftplens_field_info::default();
        assert_eq!(
            f::ftplens_field_get(f::ftplens_field_count(), &mut fi),
            FTPLENS_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            f::ftplens_field_get(0, null_mut()),
            FTPLENS_ERR_NULL_ARGUMENT
        );
        let mut ei = ftplens_expert_info::default();
        assert_eq!(
            f::ftplens_expert_get(f::ftplens_expert_count(), &mut ei),
            FTPLENS_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            f::ftplens_expert_get(0, null_mut()),
            FTPLENS_ERR_NULL_ARGUMENT
        );
    }
}

/// Issue 13 item 7 made the CLI create the conversation layer's state for a TCP connection only
/// at its first payload byte, FIN or RST (so that a million idle connections cost only their
/// flows). A data connection seen before the 227 reply that predicts it must still be bound: one
/// whole before the reply (claimed late, from its held bytes), one whose handshake came before the
/// reply and its bytes after, and an empty one (handshake and FIN only) for an empty file; with
/// idle connections (handshake only, never closed) around them.
#[test]
fn data_connections_before_their_prediction_still_bind() {
    use ftplens::capture::analyze::{Analyzer, Options};
    use ftplens::capture::source::Frame;
    let server = [10, 2, 0, 1];
    let mut frames: Vec<Vec<u8>> = Vec::new();
    let idle = |frames: &mut Vec<Vec<u8>>, k: u16| {
        for i in 0..200u16 {
            frames.extend(Tcp::new(([10, 9, k as u8, 1], 1024 + i), (server, 443)).open());
        }
    };
    let mut c = Tcp::new(([10, 1, 0, 2], 40001), (server, 21));
    frames.extend(c.open());
    frames.push(c.seg(1, b"220 hi\r\n", false, false));
    // (port, bytes, handshake only before the reply)
    let cases: [(u16, usize, bool); 3] =
        [(65000, 4096, false), (65001, 3000, true), (65002, 0, false)];
    for (k, &(port, len, split)) in cases.iter().enumerate() {
        idle(&mut frames, k as u16);
        frames.push(c.seg(0, b"PASV\r\n", false, false));
        let mut d = Tcp::new(([10, 1, 0, 2], 41001 + k as u16), (server, port));
        frames.extend(d.open());
        let mut data_frames = Vec::new();
        if len > 0 {
            data_frames.push(d.seg(1, &vec![b'x'; len], false, false));
        }
        data_frames.push(d.seg(1, b"", false, true));
        data_frames.push(d.seg(0, b"", false, true));
        if !split {
            frames.append(&mut data_frames);
        }
        let reply = format!(
            "227 Entering Passive Mode (10,2,0,1,{},{}).\r\n",
            port >> 8,
            port & 255
        );
        frames.push(c.seg(1, reply.as_bytes(), false, false));
        frames.push(c.seg(0, format!("RETR f{k}\r\n").as_bytes(), false, false));
        frames.push(c.seg(1, b"150 ok\r\n", false, false));
        frames.append(&mut data_frames);
        frames.push(c.seg(1, b"226 done\r\n", false, false));
        idle(&mut frames, 10 + k as u16);
    }

    let mut transfers = Vec::new();
    let mut sink = |r: ftplens::capture::Record| {
        if let ftplens::capture::Record::Transfer(t) = r {
            transfers.push((t.arg.clone(), t.bytes, t.data_uid.is_some()));
        }
    };
    let mut a = Analyzer::new(Options::default(), &mut sink).unwrap();
    for (i, f) in frames.iter().enumerate() {
        a.frame(&Frame {
            number: i as u64 + 1,
            ts: 1000.0 + i as f64 * 1e-4,
            linktype: 101,
            data: f,
            orig_len: f.len() as u32,
        });
    }
    let stats = a.finish();
    transfers.sort();
    let want: Vec<(Option<String>, u64, bool)> = cases
        .iter()
        .enumerate()
        .map(|(k, &(_, len, _))| (Some(format!("f{k}")), len as u64, true))
        .collect();
    assert_eq!(transfers, want);
    assert_eq!(stats.data_connections, 3);
    assert!(stats.late_bound >= 2, "late bound: {}", stats.late_bound);
}
