//! Builds tests/c/abi_driver.c with the cc crate against the core's C ABI, runs it, and checks what a
//! C caller sees for the README's seed example (samples/seed-pasv.pcap).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the libftplens artefacts cargo built for this test run.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test exe path");
    // target/<profile>/deps/c_abi-xxxx -> target/<profile>
    exe.parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf()
}

/// Builds the staticlib this test links. `cargo test` builds the library only as an rlib, so a
/// `libftplens.a` left in the target directory could be stale or missing; building it here (cargo
/// holds no lock while tests run, and an up-to-date build is a no-op) links the code under test.
fn build_staticlib(root: &Path, libdir: &Path) -> PathBuf {
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args(["build", "--lib", "--quiet"]).current_dir(root);
    if libdir.file_name().is_some_and(|name| name == "release") {
        cargo.arg("--release");
    }
    let status = cargo.status().expect("run cargo build --lib");
    assert!(status.success(), "cargo build --lib failed");
    let staticlib = libdir.join("libftplens.a");
    assert!(
        staticlib.exists(),
        "{} missing after cargo build --lib",
        staticlib.display()
    );
    staticlib
}

fn build_driver() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let libdir = lib_dir();
    let staticlib = build_staticlib(root, &libdir);
    let out = libdir.join("abi_driver");
    let compiler = cc::Build::new()
        .opt_level(0)
        .warnings(true)
        .extra_warnings(true)
        .target(env!("FTPLENS_TEST_TARGET"))
        .host(env!("FTPLENS_TEST_TARGET"))
        .cargo_metadata(false)
        .get_compiler();
    let status = compiler
        .to_command()
        .args(["-std=c11", "-Werror", "-I"])
        .arg(root.join("include"))
        .arg(root.join("tests/c/abi_driver.c"))
        .arg(&staticlib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&out)
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling abi_driver.c failed");
    out
}

#[test]
fn c_program_drives_a_whole_session() {
    let exe = build_driver();
    let out = Command::new(&exe).output().expect("run abi_driver");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "abi_driver failed:\n{stdout}");
    let has = |needle: &str| assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");

    // The stateless call: the 227 arithmetic, and an out-of-range PORT reported, not wrapped.
    has(
        "LINE code=227 port=26758 arithmetic=192.168.1.109:26758 (104*256+134) class=Positive Completion category=Connections",
    );
    has("LINE mode=1 address_error=number out of range");
    // The user (reassembled from two segments) and the password in clear.
    has("frame=7 COMMAND USER alice");
    has("frame=7 LOGIN user=alice password=(none) state=1");
    has("frame=10 LOGIN user=alice password=s3cret state=1");
    has("EXPERT ftplens.cleartext_credentials");
    has("frame=12 LOGIN user=alice password=s3cret state=2");
    // Replies paired with their commands.
    has("frame=8 REPLY 331 request_frame=7 request=USER");
    // The 227 arithmetic and the prediction: the client connects from any port.
    has(
        "DATA_EXPECTED channel=1 mode=2 arithmetic=192.168.1.109:26758 (104*256+134) data=192.168.1.109:26758 peer=192.168.1.106:0",
    );
    has("ITEM ftplens.data.arithmetic=192.168.1.109:26758 (104*256+134)");
    // The RETR bound to that channel, and its outcome.
    has(
        "frame=18 TRANSFER_STARTED channel=1 command=RETR file=notes.txt setup_frame=16 command_frame=18 outcome=0 data=192.168.1.109:26758",
    );
    has(
        "frame=20 TRANSFER_ENDED channel=1 command=RETR file=notes.txt setup_frame=16 command_frame=18 outcome=1",
    );
    has("SUMMARY Response: 150 Opening BINARY mode");
    has("failures=0");
}
