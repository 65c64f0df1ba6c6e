//! Builds the C programs of tests/c/ with the cc crate against the core's C ABI, runs them, and checks
//! what a C caller sees: abi_driver.c for the README's seed example (samples/seed-pasv.pcap) through
//! a session, dissector_driver.c for a PASV RETR through the dissector, as the Wireshark plugin
//! drives it.

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

/// Compile tests/c/<name>.c against the header and the staticlib.
fn build_driver(name: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let libdir = lib_dir();
    let staticlib = build_staticlib(root, &libdir);
    let out = libdir.join(name);
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
        .arg(root.join(format!("tests/c/{name}.c")))
        .arg(&staticlib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&out)
        .status()
        .expect("run the C compiler");
    assert!(status.success(), "compiling {name}.c failed");
    out
}

#[test]
fn c_program_drives_a_whole_session() {
    let exe = build_driver("abi_driver");
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

/// What the plugin sees of a PASV RETR: claims, the EXPECT of the 227, and on the second pass every
/// frame's Info, items (request and response links both ways), ticks and export pieces. Expected
/// values from FTP: 104*256+134 = 26758; a reply answers the command before it; 1000 + 500 bytes
/// were sent between frames 10 and 11, 0.1 s apart.
#[test]
fn c_program_drives_a_dissector() {
    let exe = build_driver("dissector_driver");
    let out = Command::new(&exe).output().expect("run dissector_driver");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "dissector_driver failed:\n{stdout}");
    let has = |needle: &str| assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    let lacks = |needle: &str| assert!(!stdout.contains(needle), "{needle:?} in:\n{stdout}");

    has("CLAIM frame=1 claim=1");
    has("CLAIM frame=10 claim=2");
    has("EXPECT frame=7 listener=192.168.1.109:26758 connector=192.168.1.106 alt_family=0");
    // Commands and replies, with their bytes; the password hidden everywhere.
    has("VIEW frame=2 kind=1 info=Request: USER alice title=, to server flow=USER alice");
    has("ITEM frame=2 ftplens.request.command=USER @0+4");
    has("ITEM frame=2 ftplens.response_in=3 @0+0");
    has("ITEM frame=3 ftplens.request_in=2 @0+0");
    has("VIEW frame=4 kind=1 info=Request: PASS ****** title=, to server flow=PASS ******");
    lacks("s3cret");
    has("TICK frame=1 FTP sessions");
    has("TICK frame=5 Logins by user and outcome > alice > success");
    has("TICK frame=8 Transfers by command and path > RETR > notes.txt");
    has("ITEM frame=7 ftplens.data.port=26758");
    // Forward links to the data, and the transfer's figures on its final reply.
    has("ITEM frame=7 ftplens.transfer.data_frame=10");
    has("ITEM frame=8 ftplens.transfer.data_frame=10");
    has("ITEM frame=12 ftplens.transfer.bytes=1500");
    has("ITEM frame=12 ftplens.transfer.first_frame=10");
    has("ITEM frame=12 ftplens.transfer.last_frame=11");
    has("ITEM frame=12 ftplens.transfer.throughput=15000");
    // Data frames: Info, the channel's items on each, export pieces one after the other.
    has(
        "VIEW frame=10 kind=2 info=FTP data, 1000 bytes, download (passive), RETR notes.txt title= (1000 bytes) flow=data: 1500 bytes, download",
    );
    has("ITEM frame=11 ftplens-data.command=RETR");
    has("ITEM frame=11 ftplens-data.outcome=complete");
    has("EXPORT frame=10 object=1 name=notes.txt server=192.168.1.109 offset=0 skip=0 len=1000");
    has("EXPORT frame=11 object=1 name=notes.txt server=192.168.1.109 offset=1000 skip=0 len=500");
    has("TICK frame=12 Session details > 192.168.1.106:57658 -> 192.168.1.109:21 > bytes: 1500");
    has("VIEW frame=13 none");
    has("failures=0");
}
