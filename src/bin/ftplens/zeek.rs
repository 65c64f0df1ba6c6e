//! `ftplens log --format zeek -o DIR`: `ftp.log` and `files.log` as Zeek's ASCII writer makes
//! them, so that pipelines built on Zeek read ours unchanged.
//!
//! The columns, their types and their filling follow Zeek's `base/protocols/ftp` scripts
//! (`FTP::Info`, `main.zeek`, `utils.zeek`) and `base/frameworks/files` (`Files::Info`):
//! - ftp.log has a row only for the commands in Zeek's `FTP::logged_commands` option; `user` is
//!   `<unknown>` until USER; the password is `<hidden>` unless the user is one of Zeek's
//!   `FTP::guest_ids`; the argument of a file command becomes a URL `ftp://HOST/CWD/ARG` with
//!   Zeek's working directory rule (`.` at first; CWD 250, CDUP, PWD 257) and path compression;
//!   `fuid` names the transfer's row in files.log.
//! - files.log has a row per data connection that carried a transfer (source `FTP_DATA`), with
//!   the digests asked for (`--hash`) and their analyzers (`MD5`, `SHA1`, `SHA256`).
//!
//! The writer's rules: `#separator \x09`, `#set_separator ,`, `#empty_field (empty)` for empty
//! strings and sets, `#unset_field -` for absent values (a value that is itself `-` is written
//! `\x2d`), tabs, backslashes and bytes outside printable ASCII as `\xNN`, times and intervals
//! with six decimals. `#open` and `#close` carry the wall-clock time in UTC.
//!
//! What differs from Zeek by design: uids are ftplens's (Zeek's are random), and a session's
//! ftp.log rows are written when the session ends (Zeek writes a row when the next command
//! arrives), so that each row can carry the fuid of its transfer.

use crate::runner::{self, Out, Render, Status};
use crate::settings::Settings;
use ftplens::capture::Record;
use ftplens::capture::record::{CommandRecord, TransferRecord};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::SystemTime;

/// Zeek's `FTP::logged_commands` (base/protocols/ftp/main.zeek).
const LOGGED_COMMANDS: [&str; 10] = [
    "APPE", "DELE", "RETR", "STOR", "STOU", "ACCT", "PORT", "PASV", "EPRT", "EPSV",
];
/// Zeek's `FTP::guest_ids`: users whose password is logged.
const GUEST_IDS: [&str; 4] = ["anonymous", "ftp", "ftpuser", "guest"];
/// Zeek's `file_cmds` whose argument is logged as a URL (those among the logged commands).
const FILE_COMMANDS: [&str; 5] = ["APPE", "DELE", "RETR", "STOR", "STOU"];

const FTP_FIELDS: [(&str, &str); 19] = [
    ("ts", "time"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("user", "string"),
    ("password", "string"),
    ("command", "string"),
    ("arg", "string"),
    ("mime_type", "string"),
    ("file_size", "count"),
    ("reply_code", "count"),
    ("reply_msg", "string"),
    ("data_channel.passive", "bool"),
    ("data_channel.orig_h", "addr"),
    ("data_channel.resp_h", "addr"),
    ("data_channel.resp_p", "port"),
    ("fuid", "string"),
];

const FILES_FIELDS: [(&str, &str); 27] = [
    ("ts", "time"),
    ("fuid", "string"),
    ("uid", "string"),
    ("id.orig_h", "addr"),
    ("id.orig_p", "port"),
    ("id.resp_h", "addr"),
    ("id.resp_p", "port"),
    ("source", "string"),
    ("depth", "count"),
    ("analyzers", "set[string]"),
    ("mime_type", "string"),
    ("filename", "string"),
    ("duration", "interval"),
    ("local_orig", "bool"),
    ("is_orig", "bool"),
    ("seen_bytes", "count"),
    ("total_bytes", "count"),
    ("missing_bytes", "count"),
    ("overflow_bytes", "count"),
    ("timedout", "bool"),
    ("parent_fuid", "string"),
    ("md5", "string"),
    ("sha1", "string"),
    ("sha256", "string"),
    ("extracted", "string"),
    ("extracted_cutoff", "bool"),
    ("extracted_size", "count"),
];

/// Streams of this mode.
const FTP_LOG: usize = 0;
const FILES_LOG: usize = 1;
/// Rows one session holds back for their fuids; past this they are written without waiting.
const MAX_HELD_ROWS: usize = 4096;

pub fn run(settings: &Settings, dir: &Path) -> io::Result<Status> {
    std::fs::create_dir_all(dir)?;
    let open = wall_clock();
    let mut ftp = BufWriter::new(File::create(dir.join("ftp.log"))?);
    let mut files = BufWriter::new(File::create(dir.join("files.log"))?);
    header(&mut ftp, "ftp", &FTP_FIELDS, &open)?;
    header(&mut files, "files", &FILES_FIELDS, &open)?;
    let reports = runner::run(
        settings,
        &mut [&mut ftp as &mut dyn Write, &mut files as &mut dyn Write],
        &ZeekLogs,
    )?;
    let close = wall_clock();
    for out in [&mut ftp, &mut files] {
        writeln!(out, "#close\t{close}")?;
        out.flush()?;
    }
    Ok(runner::judge(settings, &reports))
}

fn header(out: &mut impl Write, path: &str, fields: &[(&str, &str)], open: &str) -> io::Result<()> {
    let names: Vec<&str> = fields.iter().map(|f| f.0).collect();
    let types: Vec<&str> = fields.iter().map(|f| f.1).collect();
    write!(
        out,
        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n\
         #path\t{path}\n#open\t{open}\n#fields\t{}\n#types\t{}\n",
        names.join("\t"),
        types.join("\t")
    )
}

/// Zeek's `#open`/`#close` stamp, `%Y-%m-%d-%H-%M-%S` (here in UTC).
fn wall_clock() -> String {
    let rfc3339 = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    rfc3339.trim_end_matches('Z').replace(['T', ':'], "-")
}

struct ZeekLogs;

/// One input's rows held back until their session ends.
#[derive(Default)]
struct Held {
    sessions: HashMap<String, Session>,
    /// Session uids in the order their first row came.
    order: Vec<String>,
    /// (control uid, command frame) -> fuid of the transfer it started.
    fuids: HashMap<(String, u64), String>,
}

/// Zeek's view of one control connection.
struct Session {
    /// Zeek's working directory: `.` until a CWD, CDUP or PWD says more.
    cwd: String,
    rows: Vec<(CommandRecord, String)>,
}

impl Render for ZeekLogs {
    type State = Held;

    fn record(&self, r: Record, held: &mut Held, out: &mut Out<'_>) {
        match r {
            Record::Command(c) => {
                let Some(verb) = c.command.as_deref().map(str::to_ascii_uppercase) else {
                    return; // a reply no command was waiting for: no row in Zeek's log
                };
                let s = held.sessions.entry(c.conn.uid.clone()).or_insert_with(|| {
                    held.order.push(c.conn.uid.clone());
                    Session {
                        cwd: ".".into(),
                        rows: Vec::new(),
                    }
                });
                if LOGGED_COMMANDS.contains(&verb.as_str()) {
                    let url = FILE_COMMANDS
                        .contains(&verb.as_str())
                        .then(|| url(&c, &s.cwd));
                    s.rows.push((c.clone(), url.unwrap_or_default()));
                }
                follow_cwd(&mut s.cwd, &verb, &c);
                if s.rows.len() >= MAX_HELD_ROWS {
                    let uid = c.conn.uid.clone();
                    flush(held, &uid, out);
                }
            }
            Record::Transfer(t) => {
                if let (Some(fuid), Some(frame)) = (files_row(&t, out), t.command_frame) {
                    held.fuids.insert((t.conn.uid.clone(), frame), fuid);
                }
            }
            Record::Session(s) => flush(held, &s.conn.uid, out),
            Record::Anomaly(_) => {}
        }
    }

    fn end(&self, held: &mut Held, out: &mut Out<'_>) {
        for uid in std::mem::take(&mut held.order) {
            flush(held, &uid, out);
        }
    }
}

/// Write a session's held rows.
fn flush(held: &mut Held, uid: &str, out: &mut Out<'_>) {
    let Some(s) = held.sessions.get_mut(uid) else {
        return;
    };
    for (c, url) in s.rows.drain(..) {
        let fuid = held.fuids.remove(&(c.conn.uid.clone(), c.frame));
        ftp_row(&c, &url, fuid.as_deref(), &mut out.streams[FTP_LOG]);
    }
}

/// Zeek's working-directory rule (`directory_cmds` in main.zeek).
fn follow_cwd(cwd: &mut String, verb: &str, c: &CommandRecord) {
    match (verb, c.reply_code) {
        ("CWD", Some(250)) => {
            *cwd = compress_path(&build_path(cwd, c.arg.as_deref().unwrap_or("")))
        }
        ("CDUP", Some(200 | 250)) => *cwd = compress_path(&build_path(cwd, "/..")),
        ("PWD" | "XPWD", Some(257)) => *cwd = extract_path(c.reply_msg.as_deref().unwrap_or("")),
        _ => {}
    }
}

/// `build_url_ftp` (utils.zeek): `ftp://` + the server + the compressed path.
fn url(c: &CommandRecord, cwd: &str) -> String {
    let mut path = compress_path(&build_path(cwd, c.arg.as_deref().unwrap_or("")));
    if !path.starts_with('/') {
        path.insert(0, '/');
    }
    let host = match c.conn.id.map(|i| i.resp_h) {
        Some(IpAddr::V6(a)) => format!("[{a}]"),
        Some(a) => a.to_string(),
        None => String::new(),
    };
    format!("ftp://{host}{path}")
}

/// `build_path` (base/utils/paths.zeek).
fn build_path(dir: &str, file: &str) -> String {
    let absolute = file.starts_with('/')
        || (file.len() >= 3
            && file.as_bytes()[0].is_ascii_alphabetic()
            && file.as_bytes()[1] == b':'
            && matches!(file.as_bytes()[2], b'/' | b'\\'));
    if absolute || dir.is_empty() {
        return file.to_string();
    }
    let sep = if dir.ends_with('/') { "" } else { "/" };
    format!("{dir}{sep}{file}")
}

/// Zeek's `compress_path` (`util::normalize_path`): drop empty and `.` components (a leading
/// `.` stays), and let `..` remove the component before it.
fn compress_path(path: &str) -> String {
    if !path.contains("/.") && !path.contains("//") {
        return path.to_string();
    }
    let mut kept: Vec<&str> = Vec::new();
    for (i, part) in path.split('/').enumerate() {
        if part.is_empty() || (part == "." && i != 0) {
            continue;
        }
        if part == ".." && matches!(kept.last(), Some(&last) if last != "." && last != "..") {
            kept.pop();
            continue;
        }
        kept.push(part);
    }
    let mut out = String::from(if path.starts_with('/') { "/" } else { "" });
    out.push_str(&kept.join("/"));
    out
}

/// `extract_path` (paths.zeek): the first quoted absolute path of a reply, else the first
/// unquoted one.
fn extract_path(msg: &str) -> String {
    if let Some(start) = msg.find("\"/") {
        if let Some(len) = msg[start + 1..].find('"') {
            return msg[start + 1..start + 1 + len].to_string();
        }
    }
    match msg.find('/') {
        Some(start) => msg[start..]
            .split([' ', '"'])
            .next()
            .unwrap_or("")
            .to_string(),
        None => String::new(),
    }
}

/// One row of ftp.log.
fn ftp_row(c: &CommandRecord, url: &str, fuid: Option<&str>, out: &mut String) {
    let user = c.user.as_deref().unwrap_or("<unknown>");
    let guest = GUEST_IDS.contains(&user.to_ascii_lowercase().as_str());
    let password = c
        .password
        .as_deref()
        .map(|p| if guest { p } else { "<hidden>" });
    let arg = if url.is_empty() {
        c.arg.as_deref().filter(|a| !a.is_empty())
    } else {
        Some(url)
    };
    let mut row = Row::new(out);
    row.time(c.ts)
        .str(&c.conn.uid)
        .conn(c.conn.id.map(|i| (i.orig(), i.resp())));
    row.str(user)
        .opt_str(password)
        .str(&c.command.as_deref().unwrap_or("").to_ascii_uppercase())
        .opt_str(arg)
        .opt_str(c.mime_type)
        .opt_count(c.file_size)
        .opt_count(c.reply_code.map(u64::from))
        .opt_str(c.reply_msg.as_deref());
    match &c.data_channel {
        Some(d) => {
            let orig = d.orig_h.or(c
                .conn
                .id
                .map(|i| if d.passive { i.orig_h } else { i.resp_h }));
            let resp = d.resp_h.or(c
                .conn
                .id
                .map(|i| if d.passive { i.resp_h } else { i.orig_h }));
            row.bool(d.passive)
                .opt_addr(orig)
                .opt_addr(resp)
                .count(u64::from(d.resp_p));
        }
        None => {
            row.unset().unset().unset().unset();
        }
    }
    row.opt_str(fuid).end();
}

/// One row of files.log, for a transfer that had a data connection; its fuid.
fn files_row(t: &TransferRecord, out: &mut Out<'_>) -> Option<String> {
    let data_uid = t.data_uid.as_deref()?;
    // Zeek's fuids are an F and 17 base-62 characters, like a connection uid after its C.
    let fuid = format!("F{}", data_uid.get(1..).unwrap_or(data_uid));
    let mut analyzers = Vec::new();
    for (name, digest) in [("MD5", &t.md5), ("SHA1", &t.sha1), ("SHA256", &t.sha256)] {
        if digest.is_some() {
            analyzers.push(name);
        }
    }
    // The sender is the data connection's originator when it is the client uploading over a
    // passive connection or the server sending over an active one.
    let passive = t
        .mode
        .is_some_and(|m| matches!(m, "PASV" | "EPSV" | "LPSV"));
    let upload = t.direction == Some("upload");
    let mut row = Row::new(&mut out.streams[FILES_LOG]);
    let data = t
        .data
        .map(|d| ((d.orig_h, d.orig_p).into(), (d.resp_h, d.resp_p).into()));
    row.time(t.ts.unwrap_or(0.0))
        .str(&fuid)
        .str(data_uid)
        .conn(data);
    row.str("FTP_DATA")
        .count(0)
        .set(&analyzers)
        .opt_str(t.mime_type)
        .unset() // filename: Zeek's FTP scripts set none
        .interval(t.duration.unwrap_or(0.0))
        .unset() // local_orig: needs Site::local_nets
        .bool(upload == passive)
        .count(t.bytes)
        .opt_count(t.file_size)
        .count(t.gap_bytes)
        .count(0)
        .bool(false)
        .unset()
        .opt_str(t.md5.as_deref())
        .opt_str(t.sha1.as_deref())
        .opt_str(t.sha256.as_deref())
        .unset()
        .unset()
        .unset()
        .end();
    Some(fuid)
}

/// A tab-separated row in Zeek's ASCII encoding.
struct Row<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Row<'a> {
    fn new(out: &'a mut String) -> Self {
        Row { out, first: true }
    }

    fn sep(&mut self) -> &mut String {
        if !self.first {
            self.out.push('\t');
        }
        self.first = false;
        self.out
    }

    fn unset(&mut self) -> &mut Self {
        self.sep().push('-');
        self
    }

    fn str(&mut self, v: &str) -> &mut Self {
        let out = self.sep();
        if v.is_empty() {
            out.push_str("(empty)");
        } else if v == "-" {
            out.push_str("\\x2d");
        } else {
            escape(out, v);
        }
        self
    }

    fn opt_str(&mut self, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.str(v),
            None => self.unset(),
        }
    }

    fn count(&mut self, v: u64) -> &mut Self {
        let _ = write!(self.sep(), "{v}");
        self
    }

    fn opt_count(&mut self, v: Option<u64>) -> &mut Self {
        match v {
            Some(v) => self.count(v),
            None => self.unset(),
        }
    }

    fn time(&mut self, v: f64) -> &mut Self {
        let _ = write!(self.sep(), "{v:.6}");
        self
    }

    fn interval(&mut self, v: f64) -> &mut Self {
        self.time(v)
    }

    fn bool(&mut self, v: bool) -> &mut Self {
        self.sep().push(if v { 'T' } else { 'F' });
        self
    }

    fn opt_addr(&mut self, v: Option<IpAddr>) -> &mut Self {
        match v {
            Some(a) => {
                let _ = write!(self.sep(), "{a}");
                self
            }
            None => self.unset(),
        }
    }

    /// A connection's originator and responder.
    fn conn(&mut self, id: Option<(SocketAddr, SocketAddr)>) -> &mut Self {
        match id {
            Some((orig, resp)) => self
                .opt_addr(Some(orig.ip()))
                .count(u64::from(orig.port()))
                .opt_addr(Some(resp.ip()))
                .count(u64::from(resp.port())),
            None => self.unset().unset().unset().unset(),
        }
    }

    fn set(&mut self, items: &[&str]) -> &mut Self {
        if items.is_empty() {
            return self.str("");
        }
        let out = self.sep();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            escape(out, item);
        }
        self
    }

    fn end(&mut self) {
        self.out.push('\n');
    }
}

/// Zeek's ASCII escaping: the separator, backslash and every byte outside printable ASCII as
/// `\xNN` (non-ASCII text byte by byte, as Zeek writes it).
fn escape(out: &mut String, v: &str) {
    for b in v.bytes() {
        match b {
            b'\t' | b'\\' => {
                let _ = write!(out, "\\x{b:02x}");
            }
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Zeek's own examples: the baseline's `ftp://199.233.217.249/./robots.txt`, and paths.zeek.
    #[test]
    fn paths_as_zeek_builds_them() {
        assert_eq!(
            compress_path(&build_path(".", "robots.txt")),
            "./robots.txt"
        );
        assert_eq!(compress_path(&build_path("/a/b", "../c")), "/a/c");
        assert_eq!(compress_path(&build_path("/a/", "/etc/x")), "/etc/x");
        assert_eq!(compress_path("/a//b/./c"), "/a/b/c");
        assert_eq!(
            extract_path("257 \"/home/ftp\" is current directory."),
            "/home/ftp"
        );
        assert_eq!(extract_path("257 /pub is cwd"), "/pub");
    }

    #[test]
    fn escaping() {
        let mut s = String::new();
        Row::new(&mut s).str("a\tb\\c\u{e9}").str("-").str("");
        assert_eq!(s, "a\\x09b\\x5cc\\xc3\\xa9\t\\x2d\t(empty)");
    }
}
