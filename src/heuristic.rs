//! Recognising an FTP control connection on any port from its first line, without claiming the other
//! text protocols that also open with a banner (SMTP's 220, POP3's +OK, IRC's NOTICE).

use crate::parse::{parse_command, parse_reply_line};
use memchr::memchr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Unsure = 0,
    NotFtp = 1,
    /// The side that sent these bytes is an FTP server.
    Server = 2,
    /// The side that sent these bytes is an FTP client.
    Client = 3,
}

/// Words in a 220 banner that mean another protocol.
const OTHER_BANNERS: &[&str] = &[
    "SMTP", "ESMTP", "POSTFIX", "EXIM", "SENDMAIL", "MAIL", "LMTP", "NNTP", "IMAP", "POP3",
];

/// Verbs only FTP clients send first. USER, PASS, LIST, RETR, STAT, QUIT and NOOP are left out: POP3,
/// IRC and SMTP clients send them too.
const FTP_ONLY_VERBS: &[&str] = &[
    "AUTH", "FEAT", "SYST", "PASV", "EPSV", "EPRT", "PORT", "TYPE", "PWD", "CWD", "SIZE", "MDTM",
    "MLSD", "OPTS", "STOR", "CDUP", "MKD", "XPWD", "LPSV", "LPRT",
];

/// Judge the first bytes one side sent.
pub fn classify(data: &[u8]) -> Verdict {
    let Some(nl) = memchr(b'\n', data) else {
        return if data.len() > 512 || data.iter().any(|&c| !(0x09..0x80).contains(&c)) {
            Verdict::NotFtp
        } else {
            Verdict::Unsure
        };
    };
    let line = &data[..nl];
    if line
        .iter()
        .any(|&c| (c < 0x20 && c != b'\r' && c != b'\t') || c == 0x7f)
    {
        return Verdict::NotFtp;
    }
    if let Ok((_, r)) = parse_reply_line(line) {
        let upper = String::from_utf8_lossy(r.text).to_ascii_uppercase();
        let looks_ftp = upper.contains("FTP");
        let other = OTHER_BANNERS.iter().any(|w| {
            upper
                .split(|c: char| !c.is_ascii_alphanumeric())
                .any(|t| t == *w)
        });
        return match r.code.0 {
            220 | 120 | 421 if looks_ftp || !other => Verdict::Server,
            _ => Verdict::NotFtp,
        };
    }
    if let Ok((_, c)) = parse_command(line) {
        let verb = String::from_utf8_lossy(c.verb).to_ascii_uppercase();
        if verb == "AUTH" {
            // FTP: AUTH TLS/SSL/GSSAPI; SMTP: AUTH PLAIN/LOGIN/CRAM-MD5.
            let mech = c
                .arg
                .map(|a| String::from_utf8_lossy(a).trim().to_ascii_uppercase())
                .unwrap_or_default();
            return if ["TLS", "SSL", "TLS-C", "TLS-P", "GSSAPI"].contains(&mech.as_str()) {
                Verdict::Client
            } else {
                Verdict::NotFtp
            };
        }
        if FTP_ONLY_VERBS.contains(&verb.as_str()) {
            return Verdict::Client;
        }
        return Verdict::Unsure;
    }
    Verdict::NotFtp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ftp_banners() {
        assert_eq!(classify(b"220 (vsFTPd 3.0.3)\r\n"), Verdict::Server);
        assert_eq!(classify(b"220 ProFTPD Server ready.\r\n"), Verdict::Server);
        assert_eq!(classify(b"220-Welcome\r\n220 go\r\n"), Verdict::Server);
        assert_eq!(classify(b"220 pyftpdlib 1.5.9 ready.\r\n"), Verdict::Server);
        assert_eq!(classify(b"220 Welcome to my server\r\n"), Verdict::Server);
    }

    #[test]
    fn other_protocols_are_not_claimed() {
        assert_eq!(
            classify(b"220 mail.example.com ESMTP Postfix\r\n"),
            Verdict::NotFtp
        );
        assert_eq!(
            classify(b"220 mx.example.org Microsoft ESMTP MAIL Service ready\r\n"),
            Verdict::NotFtp
        );
        assert_eq!(
            classify(b"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n"),
            Verdict::NotFtp
        );
        assert_eq!(
            classify(b":irc.example.net NOTICE * :*** Looking up your hostname...\r\n"),
            Verdict::NotFtp
        );
        assert_eq!(classify(b"EHLO client.example.com\r\n"), Verdict::Unsure);
        assert_eq!(
            classify(b"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=\r\n"),
            Verdict::NotFtp
        );
        assert_eq!(classify(b"GET / HTTP/1.1\r\n"), Verdict::Unsure);
        assert_eq!(
            classify(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
            Verdict::NotFtp
        );
        assert_eq!(classify(b"SSH-2.0-OpenSSH_9.2\r\n"), Verdict::NotFtp);
    }

    #[test]
    fn ftp_clients() {
        assert_eq!(classify(b"auth tls\r\n"), Verdict::Client);
        assert_eq!(classify(b"AUTH SSL\r\n"), Verdict::Client);
        assert_eq!(classify(b"FEAT\r\n"), Verdict::Client);
        assert_eq!(classify(b"USER bob\r\n"), Verdict::Unsure);
        assert_eq!(classify(b"220 partial"), Verdict::Unsure);
    }
}
