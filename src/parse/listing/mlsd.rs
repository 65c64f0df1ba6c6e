//! MLSD and MLST entries: RFC 3659 section 7.
//!
//! ```text
//! RFC 3659 7.2:   entry     = [ facts ] SP pathname
//!                 facts     = 1*( fact ";" )
//!                 fact      = factname "=" value
//!                 factname  = "Size" / "Modify" / "Create" / "Type" / "Unique" / "Perm" / "Lang" /
//!                             "Media-Type" / "CharSet" / os-depend-fact / local-fact
//!                 value     = 1*RCHAR     (any byte but ";", CR, LF)
//! RFC 3659 7.2:   the entry line of an MLST reply begins with a single space.
//! RFC 3659 7.2:   fact names are case-insensitive.
//! ```
//!
//! Real servers (see `testdata/`) add `UNIX.mode`, `UNIX.uid`/`UNIX.owner` and similar
//! OS-dependent facts, and pure-ftpd sends `sizd` for a directory's size.

use super::{Entry, EntryType, Form, Time, octal_mode};
use nom::{
    IResult, Parser,
    bytes::complete::{tag, take_till, take_while_m_n},
    combinator::{opt, rest, verify},
    multi::many0,
    sequence::{preceded, terminated},
};

/// `fact = factname "=" value` followed by `";"` (RFC 3659 7.2). The value may itself hold `=`
/// (`type=OS.unix=slink:`), so only the first `=` splits.
fn fact(i: &[u8]) -> IResult<&[u8], (&[u8], &[u8])> {
    let (i, name) = verify(
        take_till(|c| c == b'=' || c == b';' || c == b' '),
        |n: &[u8]| !n.is_empty(),
    )
    .parse(i)?;
    let (i, _) = tag(&b"="[..]).parse(i)?;
    let (i, value) = terminated(take_till(|c| c == b';'), tag(&b";"[..])).parse(i)?;
    Ok((i, (name, value)))
}

/// `[ facts ] SP pathname` (RFC 3659 7.2): the facts as one slice, and the name.
fn entry_parts(i: &[u8]) -> IResult<&[u8], (&[u8], &[u8])> {
    let start = i;
    let (i, _) = many0(fact).parse(i)?;
    let facts_len = start.len() - i.len();
    let (i, name) = preceded(tag(&b" "[..]), verify(rest, |n: &[u8]| !n.is_empty())).parse(i)?;
    Ok((i, (&start[..facts_len], name)))
}

/// Every `(name, value)` fact of a facts string, in order; stops at the first byte that is not a
/// fact.
pub fn facts(raw: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    let mut i = raw;
    std::iter::from_fn(move || {
        let (rest, f) = fact(i).ok()?;
        i = rest;
        Some(f)
    })
}

/// The value of one fact by name (case-insensitive, RFC 3659 7.2).
pub fn fact_value<'a>(raw: &'a [u8], name: &str) -> Option<&'a [u8]> {
    facts(raw)
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| v)
}

/// `time-val = 14DIGIT [ "." 1*DIGIT ]`, `YYYYMMDDHHMMSS`, always UTC (RFC 3659 2.3).
pub fn parse_time_val(i: &[u8]) -> IResult<&[u8], Time> {
    let two = |i| take_while_m_n(2, 2, |c: u8| c.is_ascii_digit()).parse(i);
    let (i, y) = take_while_m_n(4, 4, |c: u8| c.is_ascii_digit()).parse(i)?;
    let (i, (mo, d, h, mi, s)) = (two, two, two, two, two).parse(i)?;
    let (i, frac) = opt(preceded(
        tag(&b"."[..]),
        take_while_m_n(1, 9, |c: u8| c.is_ascii_digit()),
    ))
    .parse(i)?;
    let n = |d: &[u8]| d.iter().fold(0u16, |a, c| a * 10 + u16::from(c - b'0'));
    let byte = |d: &[u8]| n(d) as u8; // two digits: at most 99
    let mut t = Time::new(
        Some(n(y)),
        byte(mo),
        byte(d),
        Some((byte(h), byte(mi), Some(byte(s)))),
    )
    .ok_or_else(|| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify)))?;
    t.utc = true;
    t.millis = frac.map(|f| {
        let mut ms = 0u16;
        for k in 0..3 {
            ms = ms * 10 + f.get(k).map_or(0, |c| u16::from(c - b'0'));
        }
        ms
    });
    Ok((i, t))
}

/// RFC 3659 7.5.1: `file`, `cdir`, `pdir`, `dir`, or `OS.name=type` (`OS.unix=slink:` from
/// pure-ftpd, `OS.unix=symlink` from proftpd).
fn entry_type(value: &[u8]) -> EntryType {
    let v = value.to_ascii_lowercase();
    match v.as_slice() {
        b"file" => EntryType::File,
        b"dir" | b"cdir" | b"pdir" => EntryType::Dir,
        _ if v.starts_with(b"os.unix=slink") || v.starts_with(b"os.unix=symlink") => {
            EntryType::Link
        }
        _ => EntryType::Other,
    }
}

/// One MLSD line (RFC 3659 7.2) as an [`Entry`]. The facts the entry has fields for are read;
/// all of them stay in `facts`.
pub fn parse_entry(line: &[u8]) -> IResult<&[u8], Entry<'_>> {
    let (i, (raw, name)) = entry_parts(line)?;
    let mut e = Entry::named(Form::Mlsd, name, EntryType::Other);
    e.facts = Some(raw);
    let mut sizd = None;
    for (n, v) in facts(raw) {
        let n = n.to_ascii_lowercase();
        match n.as_slice() {
            b"type" => e.kind = entry_type(v),
            b"size" => e.size = super::digits_to_u64(v).ok(),
            // Not in RFC 3659: pure-ftpd's size of a directory.
            b"sizd" => sizd = super::digits_to_u64(v).ok(),
            b"modify" => {
                e.modify = parse_time_val(v).ok().map(|(_, t)| t);
                e.modify_raw = Some(v);
            }
            b"perm" => e.perm = Some(v),
            b"unique" => e.unique = Some(v),
            b"unix.mode" => e.mode = octal_mode(v),
            b"unix.owner" | b"unix.uid" if e.owner.is_none() => e.owner = Some(v),
            b"unix.ownername" => e.owner = Some(v),
            b"unix.group" | b"unix.gid" if e.group.is_none() => e.group = Some(v),
            b"unix.groupname" => e.group = Some(v),
            _ => {}
        }
    }
    e.size = e.size.or(sizd);
    Ok((i, e))
}

/// The entry line of an MLST reply, which begins with one space (RFC 3659 7.2), as in
/// `250-Listing "/hello.txt":` / ` modify=...; /hello.txt` / `250 End.`.
pub fn parse_mlst_line(line: &[u8]) -> IResult<&[u8], Entry<'_>> {
    preceded(tag(&b" "[..]), parse_entry).parse(line)
}

/// Does the line start with `fact=value;`? (The detector's test; [`parse_entry`] decides.)
pub fn looks_like(line: &[u8]) -> bool {
    fact(line).is_ok()
}
