//! The CLI's log records, made from the layer's objects and written as JSON lines by serde.
//!
//! Field names follow Zeek's ftp.log (`ts`, `uid`, `id.orig_h` ..., `data_channel.passive` ...) so
//! that tools that read Zeek's JSON logs read ours; extras are named in the same style. A field
//! whose value is not known is left out, never written as 0 or a guess.

use super::{ConnId, Exchange, LoginSummary, Note, SessionSummary, TransferDone};
use schemars::JsonSchema;
use serde::{Serialize, Serializer};
use std::net::IpAddr;

/// Seconds with microsecond precision (what a capture's timestamps carry).
fn micros<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((v * 1e6).round() / 1e6)
}

fn opt_micros<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => micros(v, s),
        None => s.serialize_none(),
    }
}

fn state<S: Serializer>(complete: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *complete { "complete" } else { "partial" })
}

/// A connection's endpoints under one prefix (`id.orig_h`, `data.resp_p` ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct IdFields {
    #[serde(rename = "id.orig_h")]
    pub orig_h: IpAddr,
    #[serde(rename = "id.orig_p")]
    pub orig_p: u16,
    #[serde(rename = "id.resp_h")]
    pub resp_h: IpAddr,
    #[serde(rename = "id.resp_p")]
    pub resp_p: u16,
}

/// The control connection a record is about: Zeek's `uid`, then its endpoints when known.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, JsonSchema)]
pub struct Conn {
    pub uid: String,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub id: Option<IdFields>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
pub struct DataFields {
    #[serde(rename = "data.orig_h")]
    pub orig_h: IpAddr,
    #[serde(rename = "data.orig_p")]
    pub orig_p: u16,
    #[serde(rename = "data.resp_h")]
    pub resp_h: IpAddr,
    #[serde(rename = "data.resp_p")]
    pub resp_p: u16,
}

impl IdFields {
    pub fn orig(&self) -> std::net::SocketAddr {
        (self.orig_h, self.orig_p).into()
    }

    pub fn resp(&self) -> std::net::SocketAddr {
        (self.resp_h, self.resp_p).into()
    }
}

impl From<ConnId> for IdFields {
    fn from(c: ConnId) -> Self {
        IdFields {
            orig_h: c.orig.ip(),
            orig_p: c.orig.port(),
            resp_h: c.resp.ip(),
            resp_p: c.resp.port(),
        }
    }
}

impl From<ConnId> for DataFields {
    fn from(c: ConnId) -> Self {
        DataFields {
            orig_h: c.orig.ip(),
            orig_p: c.orig.port(),
            resp_h: c.resp.ip(),
            resp_p: c.resp.port(),
        }
    }
}

/// The data channel a PORT-family command or passive reply announced (Zeek's `data_channel`).
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct DataChannel {
    #[serde(rename = "data_channel.passive")]
    pub passive: bool,
    /// Who will connect.
    #[serde(
        rename = "data_channel.orig_h",
        skip_serializing_if = "Option::is_none"
    )]
    pub orig_h: Option<IpAddr>,
    /// Who listens (the advertised address; for 229 the server's).
    #[serde(
        rename = "data_channel.resp_h",
        skip_serializing_if = "Option::is_none"
    )]
    pub resp_h: Option<IpAddr>,
    #[serde(rename = "data_channel.resp_p")]
    pub resp_p: u16,
    #[serde(rename = "data_channel.mode")]
    pub mode: &'static str,
}

/// One command and its final reply, or a reply no command was waiting for (no `command`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
pub struct CommandRecord {
    #[serde(serialize_with = "micros")]
    pub ts: f64,
    #[serde(flatten)]
    pub conn: Conn,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// The verb as sent (case kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_code: Option<u16>,
    /// Every line of the final reply, without code prefixes, joined by `\n`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_msg: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub data_channel: Option<DataChannel>,
    /// Seconds from the command to its final reply.
    #[serde(serialize_with = "opt_micros", skip_serializing_if = "Option::is_none")]
    pub response_time: Option<f64>,
    /// Working directory when the command was sent, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// REST position for a transfer command.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rest_offset: Option<u64>,
    /// Preliminary (1xx) replies before the final one, and their text.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preliminary: Vec<u16>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub preliminary_msg: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub anomalies: Vec<&'static str>,
    pub frame: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_frame: Option<u64>,
    /// The command's line end is not in the capture (its argument may be cut).
    #[serde(skip_serializing_if = "is_false")]
    pub command_incomplete: bool,
    /// Part of the final reply is not in the capture.
    #[serde(skip_serializing_if = "is_false")]
    pub reply_incomplete: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// One data transfer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
pub struct TransferRecord {
    /// When the data started, else when the command was sent.
    #[serde(serialize_with = "opt_micros", skip_serializing_if = "Option::is_none")]
    pub ts: Option<f64>,
    #[serde(flatten)]
    pub conn: Conn,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// RETR, STOR...; `None` for a data connection no transfer command claimed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arg: Option<String>,
    /// The argument resolved against the working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<&'static str>,
    /// download, upload or listing: as the bytes were seen to go, else as the command asks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_type: Option<String>,
    /// Bytes seen on the data connection.
    pub bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// With `--hash md5` / `--hash sha1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha1: Option<String>,
    #[serde(rename = "state", serialize_with = "state")]
    #[schemars(with = "String")]
    pub complete: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partial_reasons: Vec<&'static str>,
    /// REST offset: where these bytes belong in the file.
    pub offset: u64,
    /// Size announced by SIZE or the 150 reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_code: Option<u16>,
    pub outcome: &'static str,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub data: Option<DataFields>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_uid: Option<String>,
    pub gaps: u32,
    pub gap_bytes: u64,
    /// Seconds from the data connection's first byte to its last.
    #[serde(serialize_with = "opt_micros", skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
    pub encrypted: bool,
    /// What the data connection's TLS handshake showed (`tls.version` ...).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Box<crate::capture::tls::TlsInfo>>,
    /// The data connection was seen before the reply or command that predicted it.
    pub late_bound: bool,
    /// The data channel number, when a prediction announced it.
    #[serde(rename = "channel", skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command_frame: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extracted: Option<String>,
    /// The entries of a LIST, NLST or MLSD listing the data connection carried, in order, up to
    /// the listing parser's caps (a cap hit is a `listing_cap` anomaly).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listing: Option<Vec<ListingEntry>>,
}

/// One entry of a directory listing: only what its form gave (RFC 959 4.1.3 LIST/NLST, RFC 3659
/// 7 MLSD facts). Names are bytes on the wire; invalid UTF-8 is replaced, as in every other field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ListingEntry {
    pub name: String,
    /// file, dir, link, other or unknown (an NLST name).
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// ISO 8601, no more precise than the listing (MLSD: UTC with `Z`; `ls -l`: server local time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modify: Option<String>,
    /// `ls -l`'s `rwx` characters or MLSD's `perm` fact, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perm: Option<String>,
    /// A symbolic link's target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

impl From<&crate::parse::listing::Entry<'_>> for ListingEntry {
    fn from(e: &crate::parse::listing::Entry<'_>) -> Self {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        ListingEntry {
            name: text(e.name),
            kind: e.kind.name(),
            size: e.size,
            modify: e.modify.map(|t| t.iso()),
            perm: e.perm.map(text),
            target: e.target.map(text),
        }
    }
}

/// One control connection, at its end.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
pub struct SessionRecord {
    #[serde(serialize_with = "micros")]
    pub ts: f64,
    #[serde(serialize_with = "micros")]
    pub end_ts: f64,
    #[serde(flatten)]
    pub conn: Conn,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub banner: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    pub anonymous: bool,
    /// success, failure, attempt or none.
    pub login: &'static str,
    pub failed_logins: u32,
    pub commands: u64,
    pub transfers: u64,
    pub anomalies: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
    /// What the control connection's TLS handshake showed (`tls.version` ...).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub tls_info: Option<Box<crate::capture::tls::TlsInfo>>,
    /// The connection began before the capture.
    pub midstream: bool,
}

/// An anomaly that no command record carries.
#[derive(Debug, Clone, PartialEq, Default, Serialize, JsonSchema)]
pub struct AnomalyRecord {
    #[serde(serialize_with = "micros")]
    pub ts: f64,
    /// The connection it concerns, when there is one.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub conn: Option<Conn>,
    pub name: &'static str,
    pub detail: String,
    /// The frame that showed it, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Command(CommandRecord),
    Transfer(TransferRecord),
    Session(SessionRecord),
    Anomaly(AnomalyRecord),
}

/// A record line: its type, the input it came from when there are several, then its fields.
#[derive(Serialize, JsonSchema)]
struct Line<'a, R> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(flatten)]
    record: &'a R,
}

/// Appends to a `String` for serde_json (which writes only valid UTF-8).
struct StringWriter<'a>(&'a mut String);

impl std::io::Write for StringWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(s) => {
                self.0.push_str(s);
                Ok(buf.len())
            }
            Err(e) => Err(std::io::Error::new(std::io::ErrorKind::InvalidData, e)),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn write_line<R: Serialize>(out: &mut String, kind: &'static str, file: Option<&str>, record: &R) {
    let line = Line { kind, file, record };
    // Serialising these plain structs into memory cannot fail.
    let _ = serde_json::to_writer(StringWriter(out), &line);
}

/// A JSON string literal (control characters escaped, never dropped).
pub fn write_str(out: &mut String, s: &str) {
    let _ = serde_json::to_writer(StringWriter(out), s);
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
        let kind = self.kind();
        match self {
            Record::Command(r) => write_line(out, kind, file, r),
            Record::Transfer(r) => write_line(out, kind, file, r),
            Record::Session(r) => write_line(out, kind, file, r),
            Record::Anomaly(r) => write_line(out, kind, file, r),
        }
    }
}

/// The JSON Schema (draft 2020-12) of a line of `ftplens log`'s JSON output (`ftplens schema`):
/// one definition per record type, titled with its type's name (`FtpRecord` for `"type":
/// "ftp"`...), its `type` key a constant, and every key as serde writes it (a key written only when
/// known is not required). Derived from the same declarations that write the records, so it
/// cannot disagree with them; the Python package's record types are generated from it.
pub fn schema() -> serde_json::Value {
    use schemars::generate::{SchemaGenerator, SchemaSettings};
    fn line<R: JsonSchema + 'static>(
        g: &mut SchemaGenerator,
    ) -> (schemars::Schema, schemars::Schema) {
        (
            g.root_schema_for::<Line<'static, R>>(),
            g.root_schema_for::<R>(),
        )
    }
    type Line2 = fn(&mut SchemaGenerator) -> (schemars::Schema, schemars::Schema);
    let types: [(Record, &str, Line2); 4] = [
        (
            Record::Command(Default::default()),
            "FtpRecord",
            line::<CommandRecord>,
        ),
        (
            Record::Transfer(Default::default()),
            "TransferRecord",
            line::<TransferRecord>,
        ),
        (
            Record::Session(Default::default()),
            "SessionRecord",
            line::<SessionRecord>,
        ),
        (
            Record::Anomaly(Default::default()),
            "AnomalyRecord",
            line::<AnomalyRecord>,
        ),
    ];
    let mut generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    let mut defs = serde_json::Map::new();
    let mut one_of = Vec::new();
    for (record, title, schema) in types {
        let (mut line, record_schema) = schema(&mut generator);
        line.remove("$defs");
        line.remove("$schema");
        line.insert("title".into(), title.into());
        // The record's own words, not the line wrapper's.
        match record_schema.get("description") {
            Some(d) => line.insert("description".into(), d.clone()),
            None => line.remove("description"),
        };
        if let Some(kind) = line.pointer_mut("/properties/type") {
            *kind = serde_json::json!({ "type": "string", "const": record.kind() });
        }
        one_of.push(serde_json::json!({ "$ref": format!("#/$defs/{title}") }));
        defs.insert(title.into(), line.to_value());
    }
    defs.extend(generator.take_definitions(true));
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "ftplens log record",
        "description": "One line of `ftplens log` (JSON lines): its \"type\" says which record it is.",
        "oneOf": one_of,
        "$defs": defs,
    })
}

/// A line of the extraction manifest: where an extracted file went and what it is.
#[derive(Serialize)]
struct ManifestLine<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extracted: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ftp_path: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    command: Option<&'a str>,
    uid: &'a str,
    bytes: u64,
    offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    md5: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha1: Option<&'a str>,
    #[serde(rename = "state", serialize_with = "state")]
    complete: bool,
    partial_reasons: &'a [&'static str],
}

/// The manifest line of an extracted transfer, with its line end.
pub fn write_manifest(out: &mut String, t: &TransferRecord, file: Option<&str>) {
    let line = ManifestLine {
        file,
        extracted: t.extracted.as_deref(),
        ftp_path: t.path.as_deref(),
        command: t.command.as_deref(),
        uid: &t.conn.uid,
        bytes: t.bytes,
        offset: t.offset,
        sha256: t.sha256.as_deref(),
        md5: t.md5.as_deref(),
        sha1: t.sha1.as_deref(),
        complete: t.complete,
        partial_reasons: &t.partial_reasons,
    };
    let _ = serde_json::to_writer(StringWriter(out), &line);
    out.push('\n');
}

// ------------------------------------------------------------------------ from the layer

impl From<&Exchange> for CommandRecord {
    fn from(ex: &Exchange) -> Self {
        CommandRecord {
            ts: ex.ts,
            conn: Conn {
                uid: ex.uid.clone(),
                id: Some(ex.id.into()),
            },
            user: ex.user.clone(),
            password: ex.password.clone(),
            command: ex.command.as_ref().map(|c| c.verb.clone()),
            arg: ex.command.as_ref().and_then(|c| c.arg.clone()),
            mime_type: None,
            file_size: ex.file_size,
            reply_code: ex.reply.as_ref().map(|r| r.code),
            reply_msg: ex.reply.as_ref().map(|r| r.text()),
            data_channel: ex.data_channel.as_ref().map(|e| DataChannel {
                passive: e.mode.is_passive(),
                orig_h: e.connector,
                resp_h: e.listener,
                resp_p: e.port,
                mode: e.mode.name(),
            }),
            response_time: ex.response_time,
            cwd: ex.cwd.clone(),
            rest_offset: ex.rest_offset,
            preliminary: ex.preliminary.iter().map(|p| p.code).collect(),
            preliminary_msg: ex.preliminary.iter().map(|p| p.text()).collect(),
            anomalies: ex.anomalies.clone(),
            frame: ex.frame,
            reply_frame: ex.reply.as_ref().map(|r| r.frame),
            command_incomplete: ex.command.as_ref().is_some_and(|c| c.incomplete),
            reply_incomplete: ex.reply.as_ref().is_some_and(|r| r.incomplete),
        }
    }
}

impl From<&TransferDone> for TransferRecord {
    /// Everything but what the host computes from the bytes (sha256, MIME type, extracted file).
    fn from(d: &TransferDone) -> Self {
        let t = d.transfer.as_ref();
        let data = d.data.as_ref();
        TransferRecord {
            ts: d.ts(),
            conn: Conn {
                uid: d.uid.clone(),
                id: Some(d.id.into()),
            },
            user: d.user.clone(),
            command: t.map(|t| t.command.clone()),
            arg: t.map(|t| t.arg.clone()),
            path: t.map(|t| t.path.clone()),
            mode: d.mode.map(|m| m.name()),
            direction: d.direction.map(|x| x.name()),
            transfer_type: t
                .filter(|t| !t.transfer_type.is_empty())
                .map(|t| t.transfer_type.clone()),
            bytes: data.map_or(0, |x| x.bytes),
            sha256: None,
            md5: None,
            sha1: None,
            complete: d.complete,
            partial_reasons: d.partial_reasons.clone(),
            offset: t.map_or(0, |t| t.rest_offset),
            file_size: t.and_then(|t| t.size),
            mime_type: None,
            reply_code: t.and_then(|t| t.reply_code).map(|c| c.0),
            outcome: t.map_or(crate::Outcome::Unknown.name(), |t| t.outcome.name()),
            data: data.map(|x| x.id.into()),
            data_uid: data.map(|x| x.uid.clone()),
            gaps: data.map_or(0, |x| x.gaps),
            gap_bytes: data.map_or(0, |x| x.gap_bytes),
            duration: None,
            encrypted: t.is_some_and(|t| t.data_tls),
            tls: None,
            late_bound: d.late_bound,
            channel_id: d.channel,
            command_frame: t.map(|t| t.command_frame),
            extracted: None,
            listing: None,
        }
    }
}

impl From<&SessionSummary> for SessionRecord {
    fn from(s: &SessionSummary) -> Self {
        SessionRecord {
            ts: s.ts,
            end_ts: s.end_ts,
            conn: Conn {
                uid: s.uid.clone(),
                id: Some(s.id.into()),
            },
            banner: s.banner.clone(),
            user: s.user.clone(),
            password: s.password.clone(),
            anonymous: s.anonymous,
            login: match s.login {
                LoginSummary::None => "none",
                LoginSummary::Attempt => "attempt",
                LoginSummary::Success => "success",
                LoginSummary::Failure => "failure",
            },
            failed_logins: s.failed_logins,
            commands: s.commands,
            transfers: s.transfers,
            anomalies: s.anomalies,
            tls: s.tls.clone(),
            tls_info: None,
            midstream: s.midstream,
        }
    }
}

impl From<&Note> for AnomalyRecord {
    fn from(n: &Note) -> Self {
        AnomalyRecord {
            ts: n.ts,
            conn: n.uid.clone().map(|uid| Conn {
                uid,
                id: n.id.map(Into::into),
            }),
            name: n.name,
            detail: n.detail.clone(),
            frame: n.frame,
        }
    }
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
    fn unknown_fields_are_left_out() {
        let r = Record::Anomaly(AnomalyRecord {
            ts: 1.25,
            conn: None,
            name: "midstream",
            detail: "d".into(),
            frame: None,
        });
        let mut s = String::new();
        r.write_json(&mut s, Some("a.pcap"));
        assert_eq!(
            s,
            r#"{"type":"anomaly","file":"a.pcap","ts":1.25,"name":"midstream","detail":"d"}"#
        );
    }

    #[test]
    fn transfer_state_and_endpoints() {
        let r = Record::Transfer(TransferRecord {
            ts: Some(2.0000004),
            conn: Conn {
                uid: "C1".into(),
                id: Some(IdFields {
                    orig_h: "10.0.0.1".parse().unwrap(),
                    orig_p: 5000,
                    resp_h: "10.0.0.2".parse().unwrap(),
                    resp_p: 21,
                }),
            },
            complete: true,
            outcome: "complete",
            ..Default::default()
        });
        let mut s = String::new();
        r.write_json(&mut s, None);
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["ts"], serde_json::json!(2.0));
        assert_eq!(v["id.orig_h"], "10.0.0.1");
        assert_eq!(v["id.resp_p"], 21);
        assert_eq!(v["state"], "complete");
        assert!(v.get("command_frame").is_none());
        assert!(v.get("direction").is_none());
    }
}
