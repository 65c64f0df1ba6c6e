//! What the analyser reports, and its JSON-lines form.
//!
//! Field names follow Zeek's ftp.log (`ts`, `uid`, `id.orig_h` ..., `data_channel.passive` ...) so
//! that tools that read Zeek's JSON logs read ours; extras are named in the same style.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// A connection as Zeek names it: the originator (who sent the SYN, or the client) and responder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnId {
    pub orig: SocketAddr,
    pub resp: SocketAddr,
}

/// The data channel a PORT/PASV-family exchange announced (Zeek's `data_channel`).
#[derive(Debug, Clone, PartialEq)]
pub struct DataChannel {
    pub passive: bool,
    /// Who will connect.
    pub orig_h: Option<IpAddr>,
    /// Who listens (the advertised address; for 229 the server's).
    pub resp_h: Option<IpAddr>,
    pub resp_p: u16,
    pub mode: &'static str,
}

/// One command and its final reply.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CommandRecord {
    pub ts: f64,
    pub uid: String,
    pub id: Option<ConnId>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// The verb as sent (case kept).
    pub command: String,
    pub arg: Option<String>,
    pub mime_type: Option<&'static str>,
    pub file_size: Option<u64>,
    pub reply_code: Option<u16>,
    pub reply_msg: Option<String>,
    pub data_channel: Option<DataChannel>,
    /// Seconds from the command to its final reply.
    pub response_time: Option<f64>,
    /// Working directory when the command was sent, when known.
    pub cwd: Option<String>,
    /// REST position for a transfer command.
    pub rest_offset: Option<u64>,
    /// Preliminary (1xx) replies before the final one.
    pub preliminary: Vec<u16>,
    pub anomalies: Vec<&'static str>,
    pub frame: u64,
    pub reply_frame: Option<u64>,
}

/// One data transfer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TransferRecord {
    pub ts: f64,
    pub uid: String,
    pub id: Option<ConnId>,
    pub user: Option<String>,
    /// RETR, STOR...; `None` for a data connection no transfer command claimed.
    pub command: Option<String>,
    pub arg: Option<String>,
    /// The argument resolved against the working directory.
    pub path: Option<String>,
    pub mode: Option<&'static str>,
    /// download, upload or listing.
    pub direction: &'static str,
    pub transfer_type: Option<String>,
    /// Bytes seen on the data connection.
    pub bytes: u64,
    pub sha256: Option<String>,
    /// With `--hash md5` / `--hash sha1`.
    pub md5: Option<String>,
    pub sha1: Option<String>,
    pub complete: bool,
    pub partial_reasons: Vec<&'static str>,
    /// REST offset: where these bytes belong in the file.
    pub offset: u64,
    /// Size announced by SIZE or the 150 reply.
    pub file_size: Option<u64>,
    pub mime_type: Option<&'static str>,
    pub reply_code: Option<u16>,
    pub outcome: &'static str,
    pub data: Option<ConnId>,
    pub data_uid: Option<String>,
    pub gaps: u32,
    pub gap_bytes: u64,
    /// Seconds from the data connection's first packet to its last.
    pub duration: Option<f64>,
    /// What the data connection's TLS handshake showed.
    pub tls: Option<Box<crate::capture::tls::TlsInfo>>,
    pub encrypted: bool,
    /// The data connection was seen before the reply or command that predicted it.
    pub late_bound: bool,
    pub channel_id: u32,
    pub command_frame: u64,
    pub extracted: Option<String>,
}

/// One control connection, at its end.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionRecord {
    pub ts: f64,
    pub end_ts: f64,
    pub uid: String,
    pub id: Option<ConnId>,
    pub banner: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub anonymous: bool,
    /// success, failure, attempt or none.
    pub login: &'static str,
    pub failed_logins: u32,
    pub commands: u64,
    pub transfers: u64,
    pub anomalies: u64,
    pub tls: Option<String>,
    /// What the control connection's TLS handshake showed.
    pub tls_info: Option<Box<crate::capture::tls::TlsInfo>>,
    /// The connection began before the capture.
    pub midstream: bool,
}

/// An anomaly that no command record carries.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AnomalyRecord {
    pub ts: f64,
    pub uid: Option<String>,
    pub id: Option<ConnId>,
    pub name: &'static str,
    pub detail: String,
    pub frame: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Command(CommandRecord),
    Transfer(TransferRecord),
    Session(SessionRecord),
    Anomaly(AnomalyRecord),
}

/// Anomaly names the CLI adds to the core's (`ftplens::Anomaly::name`).
pub mod anomaly {
    /// Bytes missing from a TCP stream (lost by the capture).
    pub const CAPTURE_GAP: &str = "capture_gap";
    /// The reassembly buffer cap was hit; a gap was declared to stay within it.
    pub const REASSEMBLY_MEMCAP: &str = "reassembly_memcap";
    /// A control connection that began before the capture.
    pub const MIDSTREAM: &str = "midstream";
    /// PROT P was agreed, yet a data connection began in the clear.
    pub const CLEARTEXT_AFTER_PROT_P: &str = "cleartext_after_prot_p";
}

// ---------------------------------------------------------------------------------- JSON

/// A JSON object written field by field into a `String`.
pub struct JsonObject<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> JsonObject<'a> {
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        JsonObject { out, first: true }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        write_str(self.out, k);
        self.out.push(':');
    }

    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        write_str(self.out, v);
        self
    }

    pub fn opt_str(&mut self, k: &str, v: Option<&str>) -> &mut Self {
        match v {
            Some(v) => self.str(k, v),
            None => self,
        }
    }

    pub fn u64(&mut self, k: &str, v: u64) -> &mut Self {
        self.key(k);
        let _ = write!(self.out, "{v}");
        self
    }

    pub fn opt_u64(&mut self, k: &str, v: Option<u64>) -> &mut Self {
        match v {
            Some(v) => self.u64(k, v),
            None => self,
        }
    }

    pub fn opt_f64(&mut self, k: &str, v: Option<f64>) -> &mut Self {
        match v {
            Some(v) => self.f64(k, v),
            None => self,
        }
    }

    pub fn f64(&mut self, k: &str, v: f64) -> &mut Self {
        self.key(k);
        if v.is_finite() {
            let _ = write!(self.out, "{v:.6}");
        } else {
            self.out.push_str("null");
        }
        self
    }

    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.out.push_str(if v { "true" } else { "false" });
        self
    }

    pub fn strs<S: AsRef<str>>(&mut self, k: &str, v: &[S]) -> &mut Self {
        self.key(k);
        self.out.push('[');
        for (i, s) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            write_str(self.out, s.as_ref());
        }
        self.out.push(']');
        self
    }

    pub fn u16s(&mut self, k: &str, v: &[u16]) -> &mut Self {
        self.key(k);
        self.out.push('[');
        for (i, n) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let _ = write!(self.out, "{n}");
        }
        self.out.push(']');
        self
    }

    pub fn conn(&mut self, prefix: &str, id: Option<&ConnId>) -> &mut Self {
        if let Some(id) = id {
            self.str(&format!("{prefix}.orig_h"), &id.orig.ip().to_string())
                .u64(&format!("{prefix}.orig_p"), id.orig.port().into())
                .str(&format!("{prefix}.resp_h"), &id.resp.ip().to_string())
                .u64(&format!("{prefix}.resp_p"), id.resp.port().into());
        }
        self
    }

    /// A TLS handshake's facts as `tls.version`, `tls.sni`, ... (those seen).
    pub fn tls(&mut self, info: Option<&crate::capture::tls::TlsInfo>) -> &mut Self {
        let Some(t) = info else { return self };
        self.opt_str("tls.version", t.version.as_deref())
            .opt_str("tls.sni", t.sni.as_deref())
            .opt_str("tls.cipher", t.cipher.as_deref())
            .opt_str("tls.cert_subject", t.cert_subject.as_deref())
            .opt_str("tls.cert_issuer", t.cert_issuer.as_deref())
            .opt_str("tls.cert_not_before", t.cert_not_before.as_deref())
            .opt_str("tls.cert_not_after", t.cert_not_after.as_deref())
            .opt_str("tls.cert_sha256", t.cert_sha256.as_deref())
            .opt_u64("tls.alert", t.alert.map(u64::from))
    }

    pub fn end(&mut self) {
        self.out.push('}');
    }
}

/// A JSON string literal. Control characters (NUL included) are escaped, never dropped.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    if !s
        .bytes()
        .any(|b| b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f)
    {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

impl Record {
    /// The record's `type` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Command(_) => "ftp",
            Record::Transfer(_) => "transfer",
            Record::Session(_) => "session",
            Record::Anomaly(_) => "anomaly",
        }
    }

    /// One JSON object, without the line end. `file` names the input when there are several.
    pub fn write_json(&self, out: &mut String, file: Option<&str>) {
        let mut o = JsonObject::new(out);
        o.str("type", self.kind());
        o.opt_str("file", file);
        match self {
            Record::Command(r) => {
                o.f64("ts", r.ts)
                    .str("uid", &r.uid)
                    .conn("id", r.id.as_ref())
                    .opt_str("user", r.user.as_deref())
                    .opt_str("password", r.password.as_deref())
                    .str("command", &r.command)
                    .opt_str("arg", r.arg.as_deref())
                    .opt_str("mime_type", r.mime_type)
                    .opt_u64("file_size", r.file_size)
                    .opt_u64("reply_code", r.reply_code.map(u64::from))
                    .opt_str("reply_msg", r.reply_msg.as_deref());
                if let Some(dc) = &r.data_channel {
                    o.bool("data_channel.passive", dc.passive);
                    if let Some(h) = dc.orig_h {
                        o.str("data_channel.orig_h", &h.to_string());
                    }
                    if let Some(h) = dc.resp_h {
                        o.str("data_channel.resp_h", &h.to_string());
                    }
                    o.u64("data_channel.resp_p", dc.resp_p.into())
                        .str("data_channel.mode", dc.mode);
                }
                if let Some(t) = r.response_time {
                    o.f64("response_time", t);
                }
                o.opt_str("cwd", r.cwd.as_deref())
                    .opt_u64("rest_offset", r.rest_offset);
                if !r.preliminary.is_empty() {
                    o.u16s("preliminary", &r.preliminary);
                }
                if !r.anomalies.is_empty() {
                    o.strs("anomalies", &r.anomalies);
                }
                o.u64("frame", r.frame)
                    .opt_u64("reply_frame", r.reply_frame);
            }
            Record::Transfer(r) => {
                o.f64("ts", r.ts)
                    .str("uid", &r.uid)
                    .conn("id", r.id.as_ref())
                    .opt_str("user", r.user.as_deref())
                    .opt_str("command", r.command.as_deref())
                    .opt_str("arg", r.arg.as_deref())
                    .opt_str("path", r.path.as_deref())
                    .opt_str("mode", r.mode)
                    .str("direction", r.direction)
                    .opt_str("transfer_type", r.transfer_type.as_deref())
                    .u64("bytes", r.bytes)
                    .opt_str("sha256", r.sha256.as_deref())
                    .opt_str("md5", r.md5.as_deref())
                    .opt_str("sha1", r.sha1.as_deref())
                    .str("state", if r.complete { "complete" } else { "partial" });
                if !r.partial_reasons.is_empty() {
                    o.strs("partial_reasons", &r.partial_reasons);
                }
                o.u64("offset", r.offset)
                    .opt_u64("file_size", r.file_size)
                    .opt_str("mime_type", r.mime_type)
                    .opt_u64("reply_code", r.reply_code.map(u64::from))
                    .str("outcome", r.outcome)
                    .conn("data", r.data.as_ref())
                    .opt_str("data_uid", r.data_uid.as_deref())
                    .u64("gaps", r.gaps.into())
                    .u64("gap_bytes", r.gap_bytes)
                    .opt_f64("duration", r.duration)
                    .bool("encrypted", r.encrypted)
                    .tls(r.tls.as_deref())
                    .bool("late_bound", r.late_bound)
                    .u64("channel", r.channel_id.into())
                    .u64("command_frame", r.command_frame)
                    .opt_str("extracted", r.extracted.as_deref());
            }
            Record::Session(r) => {
                o.f64("ts", r.ts)
                    .f64("end_ts", r.end_ts)
                    .str("uid", &r.uid)
                    .conn("id", r.id.as_ref())
                    .opt_str("banner", r.banner.as_deref())
                    .opt_str("user", r.user.as_deref())
                    .opt_str("password", r.password.as_deref())
                    .bool("anonymous", r.anonymous)
                    .str("login", r.login)
                    .u64("failed_logins", r.failed_logins.into())
                    .u64("commands", r.commands)
                    .u64("transfers", r.transfers)
                    .u64("anomalies", r.anomalies)
                    .opt_str("tls", r.tls.as_deref())
                    .tls(r.tls_info.as_deref())
                    .bool("midstream", r.midstream);
            }
            Record::Anomaly(r) => {
                o.f64("ts", r.ts)
                    .opt_str("uid", r.uid.as_deref())
                    .conn("id", r.id.as_ref())
                    .str("name", r.name)
                    .str("detail", &r.detail)
                    .u64("frame", r.frame);
            }
        }
        o.end();
    }
}

/// A MIME type from the first bytes of a file, for the common cases (Zeek's `mime_type`).
pub fn sniff_mime(head: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"MZ", "application/x-dosexec"),
        (b"\x7fELF", "application/x-executable"),
        (b"%PDF-", "application/pdf"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"PK\x03\x04", "application/zip"),
        (b"\x1f\x8b", "application/gzip"),
        (b"BZh", "application/x-bzip2"),
        (b"\xfd7zXZ\0", "application/x-xz"),
        (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed"),
        (b"Rar!\x1a\x07", "application/x-rar"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/msword"),
        (b"SQLite format 3\0", "application/x-sqlite3"),
        (b"<?xml", "text/xml"),
    ];
    if head.is_empty() {
        return None;
    }
    for (magic, mime) in MAGIC {
        if head.starts_with(magic) {
            return Some(mime);
        }
    }
    let lower: Vec<u8> = head.iter().take(64).map(u8::to_ascii_lowercase).collect();
    if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
        return Some("text/html");
    }
    // Text: valid UTF-8 (a cut last character allowed) without control bytes other than space.
    let text = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && e.valid_up_to() + 4 > head.len(),
    };
    let clean = head
        .iter()
        .all(|&b| b >= 0x20 || matches!(b, b'\n' | b'\r' | b'\t' | 0x0c));
    Some(if text && clean {
        "text/plain"
    } else {
        "application/octet-stream"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_control_characters() {
        let mut s = String::new();
        write_str(&mut s, "a\"b\\c\nd\0e\u{1b}");
        assert_eq!(s, r#""a\"b\\c\nd\u0000e\u001b""#);
    }

    #[test]
    fn mime() {
        assert_eq!(sniff_mime(b"MZ\x90\0"), Some("application/x-dosexec"));
        assert_eq!(sniff_mime(b"hello\r\nworld"), Some("text/plain"));
        assert_eq!(sniff_mime(b"\0\x01\x02"), Some("application/octet-stream"));
        assert_eq!(sniff_mime(b""), None);
    }
}
