//! The dissector over the public captures in ../shared/corpus, fed as a Wireshark host feeds it
//! (`drivers::dissect_capture`): segments with payload in capture order, offered through port 21,
//! through an expected connection (the dissector's EXPECT actions) or to the heuristic, with the
//! handshake told by flags. Checks:
//! - on every capture: no panic, and every view keeps the contract of the C header (items of a
//!   frame point into that frame's payload; an export piece lies inside it);
//! - suricata-verify's bug-4877 (four active-mode transfers): the export pieces put together give
//!   the files whose SHA-256 and size Suricata's own test expects.
//!
//! Skips, with a message, when ../shared/corpus is absent.
#![cfg(feature = "cli")]

// The host simulation is the fuzz driver's, so the fuzzer and this test feed alike.
#[allow(dead_code)]
#[path = "../fuzz/src/drivers.rs"]
mod drivers;

use ftplens::dissect::{Dissector, ValueView, ViewKind};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("FTPLENS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if !dir.join("MANIFEST.md").exists() {
        eprintln!("SKIP: {} absent (set FTPLENS_CORPUS)", dir.display());
        return None;
    }
    Some(dir)
}

fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains(".pcap"))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// What the host did with a capture: the dissector, and each offered frame's payload.
struct Fed {
    dissector: Dissector,
    payload: BTreeMap<u64, usize>,
    bytes: BTreeMap<u64, Vec<u8>>,
}

fn feed(path: &Path) -> Fed {
    let d = drivers::dissect_capture(&std::fs::read(path).unwrap());
    Fed {
        dissector: d.dissector,
        payload: d.payloads.iter().map(|(f, p)| (*f, p.len())).collect(),
        bytes: d.payloads,
    }
}

/// Every view of every capture keeps the header's contract.
#[test]
fn views_stay_inside_their_frames() {
    let Some(dir) = corpus() else {
        return;
    };
    let mut control_views = 0;
    let mut data_views = 0;
    for path in captures(&dir) {
        let fed = feed(&path);
        for (&frame, &len) in &fed.payload {
            let Some(v) = fed.dissector.view(frame) else {
                continue;
            };
            match v.kind {
                ViewKind::Control => control_views += 1,
                ViewKind::Data => data_views += 1,
            }
            for it in v.items.iter().chain(&v.frame_items) {
                assert!(
                    it.length == 0 || it.offset + it.length <= len,
                    "{}: frame {frame}: item {:?} past the {len}-byte payload",
                    path.display(),
                    it
                );
            }
            if let Some(e) = &v.export {
                assert!(
                    e.skip as usize + e.len as usize <= len,
                    "{}: frame {frame}: export piece {e:?} past the {len}-byte payload",
                    path.display()
                );
            }
        }
    }
    // The corpus holds hundreds of control sessions and dozens of data connections.
    assert!(control_views > 1000, "{control_views} control views");
    assert!(data_views > 100, "{data_views} data views");
}

/// bug-4877: STOR and RETR of notepad.exe and of test.pdf over active-mode data connections. The
/// files put together from the export pieces are the ones Suricata's test expects
/// (bug-4877.test.yaml: fileinfo sha256 and size).
#[test]
fn export_pieces_rebuild_the_files() {
    let Some(dir) = corpus() else {
        return;
    };
    let fed = feed(&dir.join("suricata-verify/bug-4877.pcap"));
    let mut objects: BTreeMap<u64, (String, Vec<u8>)> = BTreeMap::new();
    for &frame in fed.payload.keys() {
        let Some(e) = fed.dissector.view(frame).and_then(|v| v.export) else {
            continue;
        };
        let payload = &fed.bytes[&frame];
        let piece = &payload[e.skip as usize..(e.skip + e.len) as usize];
        let (name, file) = objects
            .entry(e.object)
            .or_insert_with(|| (e.filename.to_string(), Vec::new()));
        assert_eq!(*name, e.filename, "one name per object");
        let end = e.offset as usize + piece.len();
        if file.len() < end {
            file.resize(end, 0);
        }
        file[e.offset as usize..end].copy_from_slice(piece);
    }
    let got: Vec<(String, usize, String)> = objects
        .into_values()
        .map(|(name, file)| {
            let digest = Sha256::digest(&file);
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            (name, file.len(), hex)
        })
        .collect();
    let notepad = (
        "notepad.exe".to_string(),
        69120,
        "fefeac4c10bbe237cc6c861229ecaacbd2a366ac4fbd04a3862b62bd7a778093".to_string(),
    );
    let pdf = (
        "test.pdf".to_string(),
        118196,
        "7d400735ff3054837da5d92a10ad2faa8b6825f100dc167a6b008e753015b382".to_string(),
    );
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got.iter().filter(|g| **g == notepad).count(), 2, "{got:?}");
    assert_eq!(got.iter().filter(|g| **g == pdf).count(), 2, "{got:?}");
}

/// Every transfer's bytes as the dissector counts them (the ladder text of its data connection's
/// first frame) are the bytes the CLI counts for it. The CLI reassembles TCP with its own code
/// (src/capture/tcp.rs), so retransmissions, segments out of order (ndpi/ftp.pcap's download
/// begins with one) and holes meet other code there.
#[test]
fn transfer_bytes_agree_with_the_cli() {
    let Some(dir) = corpus() else {
        return;
    };
    let mut compared = 0;
    for path in captures(&dir) {
        let fed = feed(&path);
        let mut ours: Vec<String> = Vec::new();
        for &frame in fed.payload.keys() {
            let Some(v) = fed.dissector.view(frame) else {
                continue;
            };
            let (ViewKind::Data, Some(flow)) = (v.kind, &v.flow) else {
                continue;
            };
            let text = |name: &str| {
                v.items
                    .iter()
                    .find(|i| ftplens::fields::FIELDS[i.field as usize].abbrev == name)
                    .map_or(String::new(), |i| match i.value {
                        ValueView::Str(s) => s.to_string(),
                        _ => String::new(),
                    })
            };
            let bytes = flow["data: ".len()..]
                .split(' ')
                .next()
                .unwrap()
                .to_string();
            ours.push(format!(
                "{} {}|{bytes}",
                text("ftplens-data.command"),
                text("ftplens-data.file")
            ));
        }
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ftplens"))
            .arg("log")
            .arg(&path)
            .output()
            .unwrap();
        let mut cli: Vec<String> = Vec::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let r: serde_json::Value = serde_json::from_str(line).unwrap();
            // A data connection without a byte has no frame to show it.
            if r["type"] == "transfer" && r["bytes"].as_u64().is_some_and(|b| b > 0) {
                cli.push(format!(
                    "{} {}|{}",
                    r["command"].as_str().unwrap_or(""),
                    r["arg"].as_str().unwrap_or(""),
                    r["bytes"]
                ));
            }
        }
        ours.sort();
        cli.sort();
        assert_eq!(ours, cli, "{}", path.display());
        compared += cli.len();
    }
    assert!(compared > 50, "{compared} transfers compared");
}
