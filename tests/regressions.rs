//! Regression and replay tests for the hardening work (issue 7).
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
    // Bounded time: a debug build replays everything in seconds; one slow input means a
    // super-linear path.
    assert!(
        slowest.0 < Duration::from_secs(10),
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
/// Scanning must be linear: 64 such replies in well under a second, even in a debug build.
#[test]
fn pasv_reply_scan_is_linear() {
    for (cmd, code, unit) in [("PASV", "227", "999,"), ("LPSV", "228", "6,")] {
        let reply = long_line(&format!("{code} Entering Passive Mode ("), unit);
        let pairs: Vec<_> = (0..64)
            .map(|_| (format!("{cmd}\r\n").into_bytes(), reply.clone()))
            .collect();
        if let Err(done) = converse(&pairs, 2.0) {
            panic!("{code}: only {done} of 64 replies of 8 KB in 2 s");
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
    let s = match converse(&pairs[..200], 5.0) {
        Ok((s, _)) => s,
        Err(done) => panic!("only {done} of 200 CWD in 5 s"),
    };
    let len = s.cwd().map_or(0, str::len);
    assert!(
        len <= 4 * ftplens::Limits::DEFAULT_MAX_LINE,
        "cwd grew to {len} bytes after 200 CWD"
    );
    if let Err(done) = converse(&pairs, 5.0) {
        panic!("only {done} of 2000 CWD in 5 s");
    }
}
