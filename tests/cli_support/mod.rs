//! Helpers for the CLI tests: run the built binary, write pcaps by hand, read JSON lines.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_ftplens");

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

impl Run {
    pub fn records(&self) -> Vec<Json> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l}: {e}")))
            .collect()
    }

    pub fn of_type(&self, t: &str) -> Vec<Json> {
        self.records()
            .into_iter()
            .filter(|r| r.str("type") == Some(t))
            .collect()
    }
}

pub fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    run_stdin(args, None)
}

pub fn run_stdin<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: Option<&[u8]>) -> Run {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    let mut child = cmd.spawn().expect("run ftplens");
    if let Some(data) = stdin {
        use std::io::Write;
        let mut si = child.stdin.take().unwrap();
        let data = data.to_vec();
        std::thread::spawn(move || {
            let _ = si.write_all(&data);
        });
    }
    let out = child.wait_with_output().expect("wait ftplens");
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// A scratch directory, removed when dropped.
pub struct TmpDir(PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn tmpdir(name: &str) -> TmpDir {
    let d = std::env::temp_dir().join(format!("ftplens-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    TmpDir(d)
}

pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ------------------------------------------------------------------------ JSON (reader only)

/// A record line, parsed by serde_json.
pub type Json = serde_json::Value;

/// The field accessors the tests use on records.
pub trait Fields {
    fn str(&self, k: &str) -> Option<&str>;
    /// A number as an integer (a float is cut).
    fn u64(&self, k: &str) -> Option<u64>;
    fn bool(&self, k: &str) -> Option<bool>;
    /// An array field, empty when absent.
    fn arr(&self, k: &str) -> &[Json];
    /// The strings of an array field.
    fn strs(&self, k: &str) -> Vec<String>;
}

impl Fields for Json {
    fn str(&self, k: &str) -> Option<&str> {
        self.get(k)?.as_str()
    }

    fn u64(&self, k: &str) -> Option<u64> {
        let v = self.get(k)?;
        v.as_u64().or_else(|| v.as_f64().map(|f| f as u64))
    }

    fn bool(&self, k: &str) -> Option<bool> {
        self.get(k)?.as_bool()
    }

    fn arr(&self, k: &str) -> &[Json] {
        self.get(k)
            .and_then(Json::as_array)
            .map_or(&[], Vec::as_slice)
    }

    fn strs(&self, k: &str) -> Vec<String> {
        self.arr(k)
            .iter()
            .filter_map(|v| v.as_str().map(String::from))
            .collect()
    }
}

// ------------------------------------------------------------------------ pcap writing

/// A classic pcap (microseconds, little endian) in memory, written by pcap-parser's serializer.
pub struct Pcap {
    pub bytes: Vec<u8>,
    pub linktype: u32,
    ts: f64,
}

impl Pcap {
    pub fn new(linktype: u32) -> Self {
        use pcap_parser::ToVec;
        let header = pcap_parser::PcapHeader {
            snaplen: 262_144,
            network: pcap_parser::Linktype(linktype as i32),
            ..pcap_parser::PcapHeader::new()
        };
        Pcap {
            bytes: header.to_vec_raw().unwrap(),
            linktype,
            ts: 1_700_000_000.0,
        }
    }

    /// A frame, captured whole or cut to `caplen`.
    pub fn frame_cut(&mut self, data: &[u8], caplen: usize) {
        use pcap_parser::ToVec;
        self.ts += 0.001;
        let cap = caplen.min(data.len());
        let record = pcap_parser::LegacyPcapBlock {
            ts_sec: self.ts.floor() as u32,
            ts_usec: (((self.ts - self.ts.floor()) * 1e6).round() as u32).min(999_999),
            caplen: cap as u32,
            origlen: data.len() as u32,
            data: &data[..cap],
        };
        self.bytes.extend_from_slice(&record.to_vec_raw().unwrap());
    }

    /// Let `secs` of capture time pass.
    pub fn idle(&mut self, secs: f64) {
        self.ts += secs;
    }

    pub fn frame(&mut self, data: &[u8]) {
        self.frame_cut(data, usize::MAX);
    }

    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.bytes).unwrap();
    }
}

/// An IPv4 TCP segment (Ethernet framing added by [`Link`]).
pub fn tcp_ip(
    src: ([u8; 4], u16),
    dst: ([u8; 4], u16),
    seq: u32,
    ack: Option<u32>,
    flags: &str,
    payload: &[u8],
) -> Vec<u8> {
    let mut b = etherparse::PacketBuilder::ipv4(src.0, dst.0, 64).tcp(src.1, dst.1, seq, 65535);
    if let Some(a) = ack {
        b = b.ack(a);
    }
    if flags.contains('S') {
        b = b.syn();
    }
    if flags.contains('F') {
        b = b.fin();
    }
    if flags.contains('R') {
        b = b.rst();
    }
    if flags.contains('P') {
        b = b.psh();
    }
    let mut out = Vec::new();
    b.write(&mut out, payload).unwrap();
    out
}

/// How IP packets are framed.
#[derive(Clone, Copy, Debug)]
pub enum Link {
    Ethernet,
    Vlan,
    Raw,
    Null,
    Sll,
    Sll2,
}

impl Link {
    pub fn linktype(self) -> u32 {
        match self {
            Link::Ethernet | Link::Vlan => 1,
            Link::Raw => 101,
            Link::Null => 0,
            Link::Sll => 113,
            Link::Sll2 => 276,
        }
    }

    pub fn frame(self, ip: &[u8]) -> Vec<u8> {
        let mut f = Vec::new();
        match self {
            Link::Ethernet => {
                f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]);
            }
            Link::Vlan => {
                f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
                f.extend_from_slice(&[0x81, 0x00, 0x00, 0x64, 0x08, 0x00]);
            }
            Link::Raw => {}
            Link::Null => f.extend_from_slice(&2u32.to_le_bytes()),
            Link::Sll => {
                f.extend_from_slice(&[0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00]);
            }
            Link::Sll2 => {
                f.extend_from_slice(&[0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6]);
                f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0, 0]);
            }
        }
        f.extend_from_slice(ip);
        f
    }
}

/// One TCP connection being written, with both sequence spaces tracked.
pub struct Conn {
    pub c: ([u8; 4], u16),
    pub s: ([u8; 4], u16),
    pub cseq: u32,
    pub sseq: u32,
    pub link: Link,
}

impl Conn {
    pub fn new(c: ([u8; 4], u16), s: ([u8; 4], u16), link: Link) -> Self {
        Conn {
            c,
            s,
            cseq: 1000,
            sseq: 5_000_000,
            link,
        }
    }

    pub fn handshake(&mut self, p: &mut Pcap) {
        p.frame(
            &self
                .link
                .frame(&tcp_ip(self.c, self.s, self.cseq, None, "S", b"")),
        );
        p.frame(&self.link.frame(&tcp_ip(
            self.s,
            self.c,
            self.sseq,
            Some(self.cseq + 1),
            "S",
            b"",
        )));
        self.cseq += 1;
        self.sseq += 1;
        p.frame(
            &self
                .link
                .frame(&tcp_ip(self.c, self.s, self.cseq, Some(self.sseq), "", b"")),
        );
    }

    /// Client bytes, sent now.
    pub fn client(&mut self, p: &mut Pcap, data: &[u8]) {
        p.frame(&self.link.frame(&tcp_ip(
            self.c,
            self.s,
            self.cseq,
            Some(self.sseq),
            "P",
            data,
        )));
        self.cseq = self.cseq.wrapping_add(data.len() as u32);
    }

    /// Server bytes, sent now.
    pub fn server(&mut self, p: &mut Pcap, data: &[u8]) {
        p.frame(&self.link.frame(&tcp_ip(
            self.s,
            self.c,
            self.sseq,
            Some(self.cseq),
            "P",
            data,
        )));
        self.sseq = self.sseq.wrapping_add(data.len() as u32);
    }

    /// A server segment at `offset` bytes past the current position, not advancing it.
    pub fn server_at(&self, p: &mut Pcap, offset: u32, data: &[u8]) {
        let seq = self.sseq.wrapping_add(offset);
        p.frame(
            &self
                .link
                .frame(&tcp_ip(self.s, self.c, seq, Some(self.cseq), "P", data)),
        );
    }

    pub fn close(&mut self, p: &mut Pcap) {
        p.frame(&self.link.frame(&tcp_ip(
            self.c,
            self.s,
            self.cseq,
            Some(self.sseq),
            "F",
            b"",
        )));
        p.frame(&self.link.frame(&tcp_ip(
            self.s,
            self.c,
            self.sseq,
            Some(self.cseq + 1),
            "F",
            b"",
        )));
        self.cseq += 1;
        self.sseq += 1;
        p.frame(
            &self
                .link
                .frame(&tcp_ip(self.c, self.s, self.cseq, Some(self.sseq), "", b"")),
        );
    }
}

pub const CLIENT: [u8; 4] = [192, 0, 2, 10];
pub const SERVER: [u8; 4] = [198, 51, 100, 7];

/// The start of a control session: handshake, banner, login.
pub fn login(p: &mut Pcap, link: Link, port: u16) -> Conn {
    let mut c = Conn::new((CLIENT, port), (SERVER, 21), link);
    c.handshake(p);
    c.server(p, b"220 test server ready\r\n");
    c.client(p, b"USER alice\r\n");
    c.server(p, b"331 password please\r\n");
    c.client(p, b"PASS s3cret\r\n");
    c.server(p, b"230 logged in\r\n");
    c
}

/// `n` bytes of file content that differ at every position.
pub fn content(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// 227 text for port `port` on SERVER.
pub fn pasv_reply(port: u16) -> Vec<u8> {
    format!(
        "227 Entering Passive Mode ({},{},{},{},{},{}).\r\n",
        SERVER[0],
        SERVER[1],
        SERVER[2],
        SERVER[3],
        port >> 8,
        port & 0xff
    )
    .into_bytes()
}
