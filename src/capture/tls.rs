//! What the clear part of a TLS handshake says (FTPS: a control connection after its upgrade to
//! TLS, an implicit-TLS control connection, a protected data connection): the version, the server
//! name the client asked for (SNI), the cipher suite, and, while the handshake is in the clear
//! (TLS 1.2 and older; TLS 1.3 encrypts it), the server certificate's subject, issuer, validity
//! and SHA-256 fingerprint. Parsing is rusticata's: tls-parser for records and handshake
//! messages, x509-parser for the certificate.
//!
//! Each direction is read on its own ([`HandshakeReader`]) until it turns encrypted (a
//! ChangeCipherSpec, application data, or a TLS 1.3 ServerHello), or until
//! [`MAX_HANDSHAKE_BYTES`] have been seen; handshake messages split over records are joined.

use sha2::{Digest, Sha256};
use std::time::{Duration, SystemTime};
use tls_parser::{
    TlsExtension, TlsMessage, TlsMessageHandshake, TlsRecordType,
    parse_tls_client_hello_extensions, parse_tls_message_handshake, parse_tls_raw_record,
    parse_tls_server_hello_extensions,
};

/// Bytes of one direction looked at for its handshake: a certificate chain rarely passes 16 KiB.
pub const MAX_HANDSHAKE_BYTES: usize = 64 * 1024;

/// What a handshake showed. Every field is absent when it was not seen. In records its fields
/// are `tls.version`, `tls.sni` ... (flattened into the session or transfer record).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, schemars::JsonSchema)]
pub struct TlsInfo {
    /// Negotiated: `TLSv1.2`, `TLSv1.3` (from supported_versions), ...
    #[serde(rename = "tls.version", skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The host name the client asked for.
    #[serde(rename = "tls.sni", skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// IANA name of the negotiated suite.
    #[serde(rename = "tls.cipher", skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    #[serde(rename = "tls.cert_subject", skip_serializing_if = "Option::is_none")]
    pub cert_subject: Option<String>,
    #[serde(rename = "tls.cert_issuer", skip_serializing_if = "Option::is_none")]
    pub cert_issuer: Option<String>,
    /// RFC 3339, UTC.
    #[serde(
        rename = "tls.cert_not_before",
        skip_serializing_if = "Option::is_none"
    )]
    pub cert_not_before: Option<String>,
    #[serde(rename = "tls.cert_not_after", skip_serializing_if = "Option::is_none")]
    pub cert_not_after: Option<String>,
    /// SHA-256 of the leaf certificate's DER, lowercase hex.
    #[serde(rename = "tls.cert_sha256", skip_serializing_if = "Option::is_none")]
    pub cert_sha256: Option<String>,
    /// The handshake ended in an alert (a rejected handshake), by its description number.
    #[serde(rename = "tls.alert", skip_serializing_if = "Option::is_none")]
    pub alert: Option<u8>,
}

impl TlsInfo {
    /// Take what `other` saw and this did not.
    pub fn merge(&mut self, other: TlsInfo) {
        macro_rules! take {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = other.$f; } )* };
        }
        take!(
            version,
            sni,
            cipher,
            cert_subject,
            cert_issuer,
            cert_not_before,
            cert_not_after,
            cert_sha256,
            alert
        );
    }

    pub fn is_empty(&self) -> bool {
        *self == TlsInfo::default()
    }
}

/// Does a stream begin with a TLS handshake record (content type 22, version 3.x)?
pub fn starts_tls(head: &[u8]) -> bool {
    matches!(head, [0x16, 0x03, 0..=4, ..])
}

/// The handshake of one direction, fed in stream order.
#[derive(Debug, Default)]
pub struct HandshakeReader {
    /// Bytes of an incomplete record.
    record: Vec<u8>,
    /// Handshake-layer bytes of an incomplete message (messages may span records).
    handshake: Vec<u8>,
    seen: usize,
    done: bool,
    pub info: TlsInfo,
}

impl HandshakeReader {
    /// Nothing more will be learnt from this direction.
    pub fn done(&self) -> bool {
        self.done
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        if self.done {
            return;
        }
        let take = bytes
            .len()
            .min(MAX_HANDSHAKE_BYTES.saturating_sub(self.seen));
        self.seen += take;
        self.record.extend_from_slice(&bytes[..take]);
        let mut used = 0;
        while !self.done {
            match parse_tls_raw_record(&self.record[used..]) {
                Ok((rest, rec)) => {
                    let (kind, data) = (rec.hdr.record_type, rec.data);
                    let len = self.record.len() - used - rest.len();
                    let data = data.to_vec();
                    used += len;
                    self.on_record(kind, &data);
                }
                Err(tls_parser::nom::Err::Incomplete(_)) => break,
                Err(_) => {
                    self.done = true; // not TLS (or damaged): stop looking
                }
            }
        }
        self.record.drain(..used);
        if self.seen >= MAX_HANDSHAKE_BYTES {
            self.done = true;
        }
    }

    fn on_record(&mut self, kind: TlsRecordType, data: &[u8]) {
        match kind {
            TlsRecordType::Handshake => {
                self.handshake.extend_from_slice(data);
                let mut used = 0;
                while let Ok((rest, msg)) = parse_tls_message_handshake(&self.handshake[used..]) {
                    let len = self.handshake.len() - used - rest.len();
                    if let TlsMessage::Handshake(h) = msg {
                        let h = owned(h);
                        self.on_handshake(h);
                    }
                    used += len;
                    if self.done {
                        break;
                    }
                }
                self.handshake.drain(..used);
            }
            TlsRecordType::Alert => {
                if let [_level, description, ..] = data {
                    self.info.alert = Some(*description);
                }
                self.done = true;
            }
            // From here on this direction is encrypted.
            _ => self.done = true,
        }
    }

    fn on_handshake(&mut self, h: Handshake) {
        match h {
            Handshake::ClientHello { ext } => {
                if let Some(Ok((_, exts))) = ext.as_deref().map(parse_tls_client_hello_extensions) {
                    for e in exts {
                        if let TlsExtension::SNI(names) = e {
                            self.info.sni = names
                                .first()
                                .map(|(_, n)| String::from_utf8_lossy(n).into_owned());
                        }
                    }
                }
            }
            Handshake::ServerHello {
                version,
                cipher,
                ext,
            } => {
                let mut version = version;
                if let Some(Ok((_, exts))) = ext.as_deref().map(parse_tls_server_hello_extensions) {
                    for e in exts {
                        // TLS 1.3 names itself here; the legacy field says 1.2 (RFC 8446 4.1.3).
                        if let TlsExtension::SupportedVersions(v) = e {
                            if let Some(v) = v.first() {
                                version = v.0;
                            }
                        }
                    }
                }
                self.info.version = Some(version_name(version));
                self.info.cipher = Some(
                    tls_parser::TlsCipherSuiteID(cipher)
                        .get_ciphersuite()
                        .map_or_else(|| format!("0x{cipher:04x}"), |c| c.name.to_string()),
                );
                if version >= 0x0304 {
                    self.done = true; // the rest of the handshake is encrypted
                }
            }
            Handshake::Certificate { leaf } => {
                if let Some(der) = leaf {
                    self.certificate(&der);
                }
            }
            Handshake::Other => {}
        }
    }

    fn certificate(&mut self, der: &[u8]) {
        self.info.cert_sha256 = Some(
            Sha256::digest(der)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        );
        if let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) {
            self.info.cert_subject = Some(cert.subject().to_string());
            self.info.cert_issuer = Some(cert.issuer().to_string());
            let v = cert.validity();
            self.info.cert_not_before = Some(rfc3339(v.not_before.timestamp()));
            self.info.cert_not_after = Some(rfc3339(v.not_after.timestamp()));
        }
    }
}

/// The handshake messages this reader uses, copied out of the borrowed parse.
enum Handshake {
    ClientHello {
        ext: Option<Vec<u8>>,
    },
    ServerHello {
        version: u16,
        cipher: u16,
        ext: Option<Vec<u8>>,
    },
    Certificate {
        leaf: Option<Vec<u8>>,
    },
    Other,
}

fn owned(h: TlsMessageHandshake<'_>) -> Handshake {
    match h {
        TlsMessageHandshake::ClientHello(c) => Handshake::ClientHello {
            ext: c.ext.map(<[u8]>::to_vec),
        },
        TlsMessageHandshake::ServerHello(s) => Handshake::ServerHello {
            version: s.version.0,
            cipher: s.cipher.0,
            ext: s.ext.map(<[u8]>::to_vec),
        },
        TlsMessageHandshake::Certificate(c) => Handshake::Certificate {
            leaf: c.cert_chain.first().map(|c| c.data.to_vec()),
        },
        _ => Handshake::Other,
    }
}

fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSLv3".into(),
        0x0301 => "TLSv1.0".into(),
        0x0302 => "TLSv1.1".into(),
        0x0303 => "TLSv1.2".into(),
        0x0304 => "TLSv1.3".into(),
        v => format!("0x{v:04x}"),
    }
}

fn rfc3339(secs: i64) -> String {
    let t = if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs as u64)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    };
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Both directions of one connection.
#[derive(Debug, Default)]
pub struct TlsObserver {
    pub dirs: [HandshakeReader; 2],
}

impl TlsObserver {
    pub fn feed(&mut self, dir: usize, bytes: &[u8]) {
        self.dirs[dir].feed(bytes);
    }

    pub fn done(&self) -> bool {
        self.dirs.iter().all(HandshakeReader::done)
    }

    /// What both directions showed.
    pub fn info(&self) -> TlsInfo {
        let mut info = self.dirs[0].info.clone();
        info.merge(self.dirs[1].info.clone());
        info
    }
}
