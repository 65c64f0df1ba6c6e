//! The FTP grammar: one module per wire concept, each a handful of small nom functions.
//!
//! All parsers are zero-copy (results borrow the input) and tolerant: an unknown verb or reply code
//! still parses, because an analyzer must read odd traffic rather than reject it. Numbers are checked:
//! an out-of-range byte or port is an error, never a wrapped value.

pub mod address;
pub mod codes;
pub mod command;
pub mod listing;
pub mod reply;

pub use address::{AddressError, DataEndpoint, PortArithmetic};
pub use codes::{ReplyCode, reply_category, reply_class, reply_meaning};
pub use command::{Command, CommandInfo, TransferKind, lookup_verb, parse_command};
pub use reply::{ReplyLine, Separator, parse_reply_line, stou_file_name};

/// Strip one trailing line end: CRLF, or a bare LF that many clients send (RFC 1123 4.1.2.13 asks us
/// to be liberal).
pub fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Bytes as text for display; FTP is 7-bit or UTF-8 (RFC 2640), anything else is replaced.
pub fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
