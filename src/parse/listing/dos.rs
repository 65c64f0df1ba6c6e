//! The MS-DOS form of IIS and other Windows servers.
//!
//! ```text
//! IIS "Directory Listing Style: MS-DOS" (the default), as quoted from ftp.microsoft.com in
//! D. J. Bernstein's ftpparse.c:
//!     04-27-00  09:09PM       <DIR>          licensed
//!     04-14-00  03:47PM                  589 readme.htm
//! with "four-digit years" on:   07-26-2012  01:30PM       <DIR>          name
//! other Windows servers:        2002-09-02  19:06                9,730 name
//! ```
//!
//! Columns: date `MM-DD-YY`, `MM-DD-YYYY` or `YYYY-MM-DD`; time `hh:mmAM`/`hh:mmPM` or 24-hour
//! `hh:mm`; `<DIR>` or the size in bytes (thousands separated by commas on some servers); the name after the padding. A two-digit year follows the
//! POSIX `strptime` `%y` rule: 69-99 are 1969-1999, 00-68 are 2000-2068. The time is the server's
//! local time.

use super::{Entry, EntryType, Form, Time};
use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, tag_no_case, take_while_m_n, take_while1},
    character::complete::space1,
    combinator::{map_res, opt, rest, verify},
    sequence::terminated,
};

fn digits(n: usize) -> impl Fn(&[u8]) -> IResult<&[u8], u16> {
    move |i| {
        map_res(
            take_while_m_n(n, n, |c: u8| c.is_ascii_digit()),
            |d: &[u8]| {
                super::digits_to_u64(d).map(|v| v as u16) // at most 4 digits
            },
        )
        .parse(i)
    }
}

/// POSIX `strptime` `%y`: 69-99 mean 1969-1999, 00-68 mean 2000-2068.
fn full_year(yy: u16) -> u16 {
    if yy >= 69 { 1900 + yy } else { 2000 + yy }
}

/// `MM-DD-YY`, `MM-DD-YYYY` or `YYYY-MM-DD`: (year, month, day).
fn day(i: &[u8]) -> IResult<&[u8], (u16, u8, u8)> {
    let dash = |i| tag(&b"-"[..]).parse(i);
    alt((
        (digits(4), dash, digits(2), dash, digits(2)).map(|(y, _, m, _, d)| (y, m as u8, d as u8)),
        (digits(2), dash, digits(2), dash, digits(4)).map(|(m, _, d, _, y)| (y, m as u8, d as u8)),
        (digits(2), dash, digits(2), dash, digits(2))
            .map(|(m, _, d, _, y)| (full_year(y), m as u8, d as u8)),
    ))
    .parse(i)
}

/// `hh:mm` with an optional `AM`/`PM`: 12:xxAM is 00:xx, 12:xxPM is 12:xx.
fn clock(i: &[u8]) -> IResult<&[u8], (u8, u8)> {
    let (i, (h, _, m)) = (digits(2), tag(&b":"[..]), digits(2)).parse(i)?;
    let (i, half) = opt(alt((tag_no_case(&b"AM"[..]), tag_no_case(&b"PM"[..])))).parse(i)?;
    let h = match half {
        None => Some(h),
        Some(_) if !(1..=12).contains(&h) => None,
        Some(x) if x.eq_ignore_ascii_case(b"AM") => Some(h % 12),
        Some(_) => Some(h % 12 + 12),
    };
    match h {
        Some(h) => Ok((i, (h as u8, m as u8))),
        None => Err(nom::Err::Error(nom::error::Error::new(
            i,
            nom::error::ErrorKind::Verify,
        ))),
    }
}

/// A size, possibly with thousands separators (`9,730`, seen from Windows servers).
fn size(i: &[u8]) -> IResult<&[u8], u64> {
    map_res(
        verify(
            take_while1(|c: u8| c.is_ascii_digit() || c == b','),
            |d: &[u8]| d[0].is_ascii_digit(),
        ),
        |d: &[u8]| {
            d.iter()
                .filter(|c| c.is_ascii_digit())
                .try_fold(0u64, |acc, &c| {
                    acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
                })
                .ok_or(())
        },
    )
    .parse(i)
}

/// `<DIR>` or a size.
fn dir_or_size(i: &[u8]) -> IResult<&[u8], Option<u64>> {
    alt((tag(&b"<DIR>"[..]).map(|_| None), size.map(Some))).parse(i)
}

/// One DOS line as an [`Entry`].
pub fn parse_entry(line: &[u8]) -> IResult<&[u8], Entry<'_>> {
    let start = line;
    let (i, (y, mo, d)) = terminated(day, space1).parse(line)?;
    let (i, (h, mi)) = clock(i)?;
    let raw = &start[..start.len() - i.len()];
    let (i, _) = space1(i)?;
    let (i, size) = terminated(dir_or_size, space1).parse(i)?;
    let (i, name) = verify(rest, |n: &[u8]| !n.is_empty()).parse(i)?;
    let modify = Time::new(Some(y), mo, d, Some((h, mi, None)))
        .ok_or_else(|| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify)))?;
    let kind = if size.is_some() {
        EntryType::File
    } else {
        EntryType::Dir
    };
    let mut e = Entry::named(Form::Dos, name, kind);
    e.size = size;
    e.modify = Some(modify);
    e.modify_raw = Some(raw);
    Ok((i, e))
}

/// A DOS date at the start of the line.
pub fn looks_like(line: &[u8]) -> bool {
    (day, space1).parse(line).is_ok()
}
