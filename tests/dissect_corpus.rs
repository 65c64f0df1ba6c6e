//! The dissector over the public captures in ../shared/corpus, fed as a Wireshark host feeds it:
//! segments with payload in capture order, offered through port 21, through an expected
//! connection (the dissector's EXPECT actions) or to the heuristic, with the handshake told by
//! flags. Checks:
//! - on every capture: no panic, and every view keeps the contract of the C header (items of a
//!   frame point into that frame's payload; an export piece lies inside it);
//! - suricata-verify's bug-4877 (four active-mode transfers): the export pieces put together give
//!   the files whose SHA-256 and size Suricata's own test expects.
//!
//! Skips, with a message, when ../shared/corpus is absent.
#![cfg(feature = "cli")]

use ftplens::capture::decode::{Decoded, decode};
use ftplens::capture::{CaptureReader, Frame};
use ftplens::dissect::{
    Claim, DissectConfig, Dissector, HostAction, Offer, Segment, TCP_FIN, TCP_RST, TCP_SYN,
    TCP_SYN_ACK, ViewKind,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
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

/// A host's view of one TCP connection.
#[derive(Default)]
struct HostStream {
    id: u32,
    opener: Option<SocketAddr>,
    accepter: Option<SocketAddr>,
    rejected: bool,
    payload_seen: bool,
}

/// What the host did with a capture.
struct Fed {
    dissector: Dissector,
    /// Payload length of each frame offered.
    payload: BTreeMap<u64, usize>,
    /// Payload bytes of each frame offered (kept for the export check).
    bytes: HashMap<u64, Vec<u8>>,
}

fn key(a: SocketAddr, b: SocketAddr) -> (SocketAddr, SocketAddr) {
    if a <= b { (a, b) } else { (b, a) }
}

fn feed(path: &Path) -> Fed {
    let mut d = Dissector::new(DissectConfig::default());
    let mut streams: HashMap<(SocketAddr, SocketAddr), HostStream> = HashMap::new();
    let mut next_id = 0u32;
    // (listener, connector) pairs the dissector asked for.
    let mut expected: Vec<(SocketAddr, Option<IpAddr>)> = Vec::new();
    let mut payload = BTreeMap::new();
    let mut bytes = HashMap::new();
    let file = std::fs::File::open(path).unwrap();
    let Ok(reader) = CaptureReader::new(file) else {
        return Fed {
            dissector: d,
            payload,
            bytes,
        };
    };
    reader.for_each(|f: &Frame<'_>| {
        let Decoded::Tcp(seg) = decode(f.linktype, f.data) else {
            return;
        };
        let k = key(seg.src, seg.dst);
        let st = streams.entry(k).or_default();
        if seg.syn && !seg.ack_flag && st.payload_seen {
            // A new connection on the same addresses: a new stream, as Wireshark numbers them.
            *st = HostStream::default();
        }
        if st.id == 0 {
            next_id += 1;
            st.id = next_id;
        }
        if seg.syn && !seg.ack_flag {
            st.opener = Some(seg.src);
        } else if seg.syn {
            st.accepter = Some(seg.src);
        }
        if seg.payload.is_empty() || st.rejected {
            return;
        }
        st.payload_seen = true;
        let offer = if seg.src.port() == 21 || seg.dst.port() == 21 {
            Offer::Port
        } else if expected
            .iter()
            .any(|(l, c)| *l == seg.dst && c.is_none_or(|c| c == seg.src.ip()))
        {
            Offer::Expected
        } else {
            Offer::Heuristic
        };
        let mut flags = 0;
        if st.opener == Some(seg.src) {
            flags |= TCP_SYN;
        }
        if st.accepter == Some(seg.src) {
            flags |= TCP_SYN_ACK;
        }
        if seg.fin {
            flags |= TCP_FIN;
        }
        if seg.rst {
            flags |= TCP_RST;
        }
        let claim = d.segment(
            &Segment {
                stream: st.id,
                src: seg.src,
                dst: seg.dst,
                frame: f.number,
                ts: f.ts,
                seq: seg.seq.wrapping_add(u32::from(seg.syn)),
                flags,
                data: seg.payload,
            },
            offer,
        );
        if claim == Claim::Rejected {
            st.rejected = true;
        }
        for a in d.actions() {
            if let HostAction::Expect {
                listener,
                alt_listener,
                connector,
                ..
            } = a
            {
                expected.push((*listener, *connector));
                if let Some(alt) = alt_listener {
                    expected.push((SocketAddr::new(*alt, listener.port()), *connector));
                }
            }
        }
        payload.insert(f.number, seg.payload.len());
        bytes.insert(f.number, seg.payload.to_vec());
    });
    d.finish();
    Fed {
        dissector: d,
        payload,
        bytes,
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
            for it in &v.items {
                assert!(
                    it.length == 0 || it.offset + it.length <= len,
                    "{}: frame {frame}: item {:?} past the {len}-byte payload",
                    path.display(),
                    it
                );
                assert_eq!(it.target, ftplens::present::Target::Frame);
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
