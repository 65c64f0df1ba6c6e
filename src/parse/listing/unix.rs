//! The `ls -l` form most Unix servers send for LIST.
//!
//! ```text
//! POSIX.1-2017 ls, STDOUT, -l:
//!     "%s %u %s %s %u %s %s\n", <file mode>, <number of links>, <owner name>, <group name>,
//!         <size>, <date and time>, <pathname>
//!   - for a character or block special file the size is replaced by implementation-defined
//!     information (GNU and BSD: "<major>, <minor>");
//!   - <date and time>: "%s %2d %2d:%02d" (<month>, <day>, <hour>, <minute>) when the file is
//!     less than six months old, "%s %2d %5d" (<month>, <day>, <year>) otherwise;
//!   - a symbolic link: "<pathname> -> <contents of link>";
//!   - <file mode>: <entry type> (d, b, c, l, p, -) and nine permission characters (r w x s S t T
//!     -), optionally followed by an alternate-access-method flag.
//! ```
//!
//! Real servers bend it: vsftpd and pure-ftpd print numeric owners, pyftpdlib and proftpd names,
//! vsftpd zero-pads the day (`Dec 07`), some servers leave out the group, `ls` itself starts with
//! `total N`. Names may hold spaces: the name is everything after the single space that follows
//! the date.

use super::{Entry, EntryType, Form, Time, decimal};
use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take, take_till1, take_while_m_n, take_while1},
    character::complete::{space0, space1},
    combinator::{map_res, opt, rest, verify},
    sequence::{separated_pair, terminated},
};

/// `<entry type>`: POSIX's d, b, c, l, p, -, plus `s` (socket) and `D` (Solaris door) that `ls`
/// implementations print.
fn entry_type(i: &[u8]) -> IResult<&[u8], EntryType> {
    map_res(take(1usize), |c: &[u8]| match c[0] {
        b'-' => Ok(EntryType::File),
        b'd' => Ok(EntryType::Dir),
        b'l' => Ok(EntryType::Link),
        b'b' | b'c' | b'p' | b's' | b'D' => Ok(EntryType::Other),
        _ => Err(()),
    })
    .parse(i)
}

fn is_perm_char(c: u8) -> bool {
    matches!(
        c,
        b'r' | b'w' | b'x' | b's' | b'S' | b't' | b'T' | b'l' | b'L' | b'-'
    )
}

/// Nine permission characters and an optional alternate-access-method flag (`+` ACL, `.` SELinux
/// context, `@` macOS extended attributes).
fn permissions(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let start = i;
    let (i, _) = take_while_m_n(9, 9, is_perm_char).parse(i)?;
    let (i, _) = opt(take_while_m_n(1, 1, |c| matches!(c, b'+' | b'.' | b'@'))).parse(i)?;
    Ok((i, &start[..start.len() - i.len()]))
}

/// The mode bits the nine characters stand for (POSIX `ls`: `s`/`S` set-ID, `t`/`T` sticky; the
/// lower case also grants execute).
fn mode_bits(perm: &[u8]) -> Option<u32> {
    let p = perm.get(..9)?;
    let mut mode = 0u32;
    for (k, &c) in p.iter().enumerate() {
        let bit = 1u32 << (8 - k);
        match c {
            b'r' | b'w' | b'x' => mode |= bit,
            b's' | b't' => mode |= bit | special(k),
            b'S' | b'T' | b'l' | b'L' => mode |= special(k),
            _ => {}
        }
    }
    Some(mode)
}

/// The set-user-ID, set-group-ID or sticky bit behind an execute column.
fn special(column: usize) -> u32 {
    match column {
        2 => 0o4000,
        5 => 0o2000,
        8 => 0o1000,
        _ => 0,
    }
}

fn word(i: &[u8]) -> IResult<&[u8], &[u8]> {
    take_till1(|c| c == b' ' || c == b'\t').parse(i)
}

/// `<major>, <minor>` of a device where the size would be (GNU and BSD `ls`).
fn device(i: &[u8]) -> IResult<&[u8], (u32, u32)> {
    let small = |i| map_res(decimal, u32::try_from).parse(i);
    separated_pair(small, (tag(&b","[..]), space0), small).parse(i)
}

/// The size column: a size, or a device's numbers.
type SizeColumn = (Option<u64>, Option<(u32, u32)>);

/// Size or device numbers.
fn size_column(i: &[u8]) -> IResult<&[u8], SizeColumn> {
    alt((
        device.map(|d| (None, Some(d))),
        decimal.map(|s| (Some(s), None)),
    ))
    .parse(i)
}

const MONTHS: [&[u8]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];

/// `<month>`: the English three-letter abbreviation (POSIX `ls` in the POSIX locale).
fn month(i: &[u8]) -> IResult<&[u8], u8> {
    map_res(take(3usize), |m: &[u8]| {
        let m = m.to_ascii_lowercase();
        MONTHS
            .iter()
            .position(|x| *x == m.as_slice())
            .map(|p| p as u8 + 1)
            .ok_or(())
    })
    .parse(i)
}

fn small_number(max_digits: usize) -> impl Fn(&[u8]) -> IResult<&[u8], u16> {
    move |i| {
        map_res(
            take_while_m_n(1, max_digits, |c: u8| c.is_ascii_digit()),
            |d: &[u8]| super::digits_to_u64(d).map(|v| v as u16),
        )
        .parse(i)
    }
}

/// A year, or an hour and minute.
type TimeOrYear = (Option<u16>, Option<(u8, u8)>);

/// `%2d:%02d` (recent) or `%5d` (a year), after the day.
fn time_or_year(i: &[u8]) -> IResult<&[u8], TimeOrYear> {
    alt((
        separated_pair(small_number(2), tag(&b":"[..]), small_number(2))
            .map(|(h, m)| (None, Some((h as u8, m as u8)))),
        small_number(4).map(|y| (Some(y), None)),
    ))
    .parse(i)
}

/// `<date and time>`: `Mon dd hh:mm` or `Mon dd  yyyy` (POSIX `ls`), checked; also the raw text.
fn date(i: &[u8]) -> IResult<&[u8], (Time, &[u8])> {
    let start = i;
    let (i, mo) = month(i)?;
    let (i, _) = space1(i)?;
    let (i, day) = small_number(2)(i)?;
    let (i, _) = space1(i)?;
    let (i, (year, hm)) = time_or_year(i)?;
    let t = Time::new(year, mo, day as u8, hm.map(|(h, m)| (h, m, None)))
        .ok_or_else(|| nom::Err::Error(nom::error::Error::new(i, nom::error::ErrorKind::Verify)))?;
    Ok((i, (t, &start[..start.len() - i.len()])))
}

/// Owner, group, size column, date.
type Columns<'a> = (
    Option<&'a [u8]>,
    Option<&'a [u8]>,
    SizeColumn,
    (Time, &'a [u8]),
);

/// `<owner> <group> <size> <date>`, or without the group (some servers).
fn columns(i: &[u8]) -> IResult<&[u8], Columns<'_>> {
    alt((
        (
            terminated(word, space1),
            terminated(word, space1),
            terminated(size_column, space1),
            date,
        )
            .map(|(o, g, s, d)| (Some(o), Some(g), s, d)),
        (
            terminated(word, space1),
            terminated(size_column, space1),
            date,
        )
            .map(|(o, s, d)| (Some(o), None, s, d)),
    ))
    .parse(i)
}

/// One `ls -l` line as an [`Entry`].
pub fn parse_entry(line: &[u8]) -> IResult<&[u8], Entry<'_>> {
    let (i, kind) = entry_type(line)?;
    let (i, perm) = permissions(i)?;
    let (i, _) = space1(i)?;
    let (i, _links) = opt(terminated(decimal, space1)).parse(i)?;
    let (i, (owner, group, (size, device), (modify, modify_raw))) = columns(i)?;
    // The single space after the date, then the name: leading spaces of a name are kept.
    let (i, _) = tag(&b" "[..]).parse(i)?;
    let (i, rest_of_line) = verify(rest, |n: &[u8]| !n.is_empty()).parse(i)?;
    let (name, target) = match kind {
        EntryType::Link => split_link(rest_of_line),
        _ => (rest_of_line, None),
    };
    let mut e = Entry::named(Form::Unix, name, kind);
    e.size = size;
    e.device = device;
    e.modify = Some(modify);
    e.modify_raw = Some(modify_raw);
    e.perm = Some(perm);
    e.mode = mode_bits(perm);
    e.owner = owner;
    e.group = group;
    e.target = target;
    Ok((i, e))
}

/// `<pathname> -> <contents of link>` (POSIX `ls`); the first ` -> ` splits.
fn split_link(s: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memmem::find(s, b" -> ") {
        Some(k) => (&s[..k], Some(&s[k + 4..])),
        None => (s, None),
    }
}

/// `total <n>`: the block count `ls -l` prints first. Not an entry.
pub fn is_total(line: &[u8]) -> bool {
    let r: IResult<&[u8], _> =
        (tag(&b"total "[..]), take_while1(|c: u8| c.is_ascii_digit())).parse(line);
    matches!(r, Ok((rest, _)) if rest.is_empty())
}

/// A file-type character and nine permission characters, then a blank.
pub fn looks_like(line: &[u8]) -> bool {
    is_total(line) || (entry_type, permissions, space1).parse(line).is_ok()
}
