//! Reply lines: RFC 959 section 4.2.
//!
//! ```text
//! RFC 959 4.2:  A reply is defined to contain the 3-digit code, followed by Space <SP>, followed by
//!               one line of text ..., and terminated by the Telnet end-of-line code.
//!               Thus the format for multi-line replies is that the first line will begin with the
//!               exact required reply code, followed immediately by a Hyphen, "-" (also known as
//!               Minus), followed by text. The last line will begin with the same code, followed
//!               immediately by Space <SP>, optionally some text, and the Telnet end-of-line code.
//! ```
//! This module reads single lines; the session joins multi-line replies, because only it knows
//! whether a line is inside one.

use super::codes::ReplyCode;
use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, tag_no_case, take_while_m_n},
    character::complete::space0,
    combinator::{eof, map, rest, value},
};

/// What follows the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    /// `NNN text`: a one-line reply, or the last line of a multi-line one.
    Space,
    /// `NNN-text`: the first line of a multi-line reply.
    Hyphen,
    /// `NNN` alone on the line (seen in the wild; RFC 959 wants a space).
    None,
}

/// One line that starts with a 3-digit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyLine<'a> {
    pub code: ReplyCode,
    pub separator: Separator,
    pub text: &'a [u8],
}

/// `<code>`: three digits. Validity of the digits (1-5 first) is checked by the caller, so that an
/// invalid code can be reported rather than silently dropped.
fn code(i: &[u8]) -> IResult<&[u8], ReplyCode> {
    map(
        take_while_m_n(3, 3, |c: u8| c.is_ascii_digit()),
        |d: &[u8]| ReplyCode(d.iter().fold(0u16, |acc, c| acc * 10 + u16::from(c - b'0'))),
    )
    .parse(i)
}

/// `<SP>` | `-` | end of line.
fn separator(i: &[u8]) -> IResult<&[u8], Separator> {
    alt((
        value(Separator::Space, tag(&b" "[..])),
        value(Separator::Hyphen, tag(&b"-"[..])),
        value(Separator::None, eof),
    ))
    .parse(i)
}

/// Parse a line that begins with a reply code. A fourth digit (`2200 ...`) is not a code.
pub fn parse_reply_line(line: &[u8]) -> IResult<&[u8], ReplyLine<'_>> {
    let line = super::trim_line_end(line);
    let (i, code) = code(line)?;
    let (i, separator) = separator(i)?;
    let (i, text) = rest(i)?;
    Ok((
        i,
        ReplyLine {
            code,
            separator,
            text,
        },
    ))
}

/// `FILE:` and the spaces after it.
fn file_label(i: &[u8]) -> IResult<&[u8], ()> {
    value((), (tag_no_case(&b"FILE:"[..]), space0)).parse(i)
}

/// The file name in the preliminary reply to STOU: `125 FILE: pppp` or `150 FILE: pppp`, `pppp`
/// being the unique pathname the server chose (RFC 1123 4.1.2.9). `text` is the reply's text after
/// the code; `FILE:` is matched in any case, and spaces around the name are not part of it.
pub fn stou_file_name(text: &[u8]) -> Option<&[u8]> {
    let (name, _) = file_label(text).ok()?;
    let name = name.trim_ascii_end();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_reply() {
        let (_, r) = parse_reply_line(b"220 Service ready\r\n").unwrap();
        assert_eq!(
            r,
            ReplyLine {
                code: ReplyCode(220),
                separator: Separator::Space,
                text: b"Service ready"
            }
        );
    }

    #[test]
    fn rfc959_multiline_example() {
        // RFC 959 4.2: 123-First line / Second line / 234 A line beginning with numbers / 123 The last line
        let (_, first) = parse_reply_line(b"123-First line\r\n").unwrap();
        assert_eq!(first.separator, Separator::Hyphen);
        let (_, last) = parse_reply_line(b"123 The last line\r\n").unwrap();
        assert_eq!(
            (last.code, last.separator),
            (ReplyCode(123), Separator::Space)
        );
        // An inner line that begins with digits parses as a line with a code; the session decides
        // that it does not close the reply because its code differs.
        let (_, inner) = parse_reply_line(b"234 A line beginning with numbers\r\n").unwrap();
        assert_eq!(inner.code, ReplyCode(234));
    }

    #[test]
    fn bare_code() {
        let (_, r) = parse_reply_line(b"200\r\n").unwrap();
        assert_eq!(
            (r.code, r.separator, r.text),
            (ReplyCode(200), Separator::None, &b""[..])
        );
    }

    #[test]
    fn not_a_reply() {
        assert!(parse_reply_line(b"USER bob").is_err());
        assert!(parse_reply_line(b"22 short").is_err());
        assert!(parse_reply_line(b"2200 four digits").is_err());
        assert!(parse_reply_line(b"").is_err());
        assert!(parse_reply_line(b" 220 leading space").is_err());
    }

    #[test]
    fn stou_names() {
        // RFC 1123 4.1.2.9's format, and the name alone.
        assert_eq!(stou_file_name(b"FILE: ftpd.a1b2"), Some(&b"ftpd.a1b2"[..]));
        assert_eq!(
            stou_file_name(b"file:  /in/x.txt "),
            Some(&b"/in/x.txt"[..])
        );
        assert_eq!(stou_file_name(b"FILE:"), None);
        assert_eq!(stou_file_name(b"Opening BINARY mode data connection"), None);
    }

    #[test]
    fn invalid_digits_still_parse() {
        let (_, r) = parse_reply_line(b"999 odd\r\n").unwrap();
        assert!(!r.code.is_valid());
    }
}
