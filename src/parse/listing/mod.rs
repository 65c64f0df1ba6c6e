//! Directory listings: what `LIST`, `NLST`, `MLSD` and `MLST` carry, one entry per line.
//!
//! RFC 959 leaves the `LIST` format to the server ("the information on a file may vary widely from
//! system to system", section 4.1.3), so real servers send one of a few conventions. Each has its
//! own small module, and each rule there cites where its form is written down:
//!
//! | form | module | source |
//! |---|---|---|
//! | `type=file;size=42;modify=20211130080000; name` | [`mlsd`] | RFC 3659 section 7 (MLSD, MLST) |
//! | `-rw-r--r--  1 root root 512 Dec  7 00:33 hello.txt` | [`unix`] | POSIX.1-2017 `ls`, STDOUT, `-l` |
//! | `04-27-00  09:09PM       <DIR>          licensed` | [`dos`] | the MS-DOS style of IIS |
//! | `+i8388621.48594,m825718503,r,s280,\tdjb.html` | [`eplf`] | EPLF, D. J. Bernstein, 1996 |
//! | `hello.txt` | here | RFC 959 4.1.3 NLST: a name per line |
//!
//! [`detect`] picks the form of one `LIST` line; [`ListingParser`] takes the data connection's bytes
//! in chunks of any size (a line may be split across chunks), hands out [`Entry`] values that borrow
//! the bytes (no copy unless a line was split), and is capped: at most `max_entries` entries and
//! `max_line` bytes per line, each cap reported once when hit.
//!
//! ```
//! use ftplens::parse::listing::{EntryType, Expect, Item, ListingLimits, ListingParser};
//!
//! let mut parser = ListingParser::new(Expect::List, ListingLimits::default());
//! let mut names = Vec::new();
//! let mut on_item = |item: Item<'_>| {
//!     if let Item::Entry(e) = item {
//!         names.push((String::from_utf8_lossy(e.name).into_owned(), e.kind, e.size));
//!     }
//! };
//! // Two chunks as TCP delivered them; the second line is split between them.
//! parser.feed(b"drwxr-xr-x 2 0 0 4096 Jun 01  2022 sub\r\n-rw-r--r-- 1 0 0 5", &mut on_item);
//! parser.feed(b"12 Dec 07 00:33 hello.txt\r\n", &mut on_item);
//! parser.finish(&mut on_item);
//! assert_eq!(names, [
//!     ("sub".to_string(), EntryType::Dir, Some(4096)),
//!     ("hello.txt".to_string(), EntryType::File, Some(512)),
//! ]);
//! assert_eq!(parser.stats().entries, 2);
//! ```

pub mod dos;
pub mod eplf;
pub mod mlsd;
mod stream;
pub mod time;
pub mod unix;

pub use stream::{Cap, Expect, Item, ListingLimits, ListingParser, ListingStats};
pub use time::Time;

use std::fmt;

/// Which convention a line was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// RFC 3659 section 7 facts (`MLSD` data, `MLST` reply).
    Mlsd,
    /// `ls -l` (POSIX.1-2017 `ls`).
    Unix,
    /// The MS-DOS style of IIS and other Windows servers.
    Dos,
    /// Easily Parsed LIST Format.
    Eplf,
    /// A bare name, as `NLST` sends (RFC 959 4.1.3).
    Name,
}

impl Form {
    /// Every form, in a fixed order.
    pub const ALL: [Form; 5] = [Form::Mlsd, Form::Unix, Form::Dos, Form::Eplf, Form::Name];

    /// A stable lower-case name for records and display filters.
    pub fn name(self) -> &'static str {
        match self {
            Form::Mlsd => "mlsd",
            Form::Unix => "unix",
            Form::Dos => "dos",
            Form::Eplf => "eplf",
            Form::Name => "name",
        }
    }
}

/// What an entry is. MLSD's `cdir` and `pdir` (the listed directory and its parent, RFC 3659
/// 7.5.1) are directories; their names (`.`, `..` or a path) say which.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryType {
    File,
    Dir,
    /// A symbolic link (`l` in `ls -l`, `OS.unix=slink`/`OS.unix=symlink` in MLSD).
    Link,
    /// Devices, pipes, sockets, MLSD's other `OS.` types, EPLF entries that are neither `r` nor `/`.
    Other,
    /// The form says nothing (an NLST name).
    Unknown,
}

impl EntryType {
    /// A stable lower-case name for records and display filters.
    pub fn name(self) -> &'static str {
        match self {
            EntryType::File => "file",
            EntryType::Dir => "dir",
            EntryType::Link => "link",
            EntryType::Other => "other",
            EntryType::Unknown => "unknown",
        }
    }
}

/// One listed file, borrowing the line it came from. Fields the form does not carry are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry<'a> {
    pub form: Form,
    pub name: &'a [u8],
    pub kind: EntryType,
    /// Bytes (MLSD `size`, or `sizd` for a directory; `ls -l` and DOS size column; EPLF `s`).
    pub size: Option<u64>,
    /// Last modification, as precise as the form gives it ([`Time::iso`] writes ISO 8601).
    pub modify: Option<Time>,
    /// The modification time as written on the wire.
    pub modify_raw: Option<&'a [u8]>,
    /// Permissions as written: the nine `rwx` characters of `ls -l` (with any access-method flag
    /// after them), or MLSD's `perm` fact (`adfr`, RFC 3659 7.5.5).
    pub perm: Option<&'a [u8]>,
    /// Unix permission bits: from the `ls -l` mode string, MLSD's `UNIX.mode` or EPLF's `up`.
    pub mode: Option<u32>,
    /// Owner and group as written (a name or a number).
    pub owner: Option<&'a [u8]>,
    pub group: Option<&'a [u8]>,
    /// A symbolic link's target (`ls -l`: `name -> target`).
    pub target: Option<&'a [u8]>,
    /// A device's major and minor numbers (`ls -l` writes them where the size goes).
    pub device: Option<(u32, u32)>,
    /// The server's file identity (MLSD `unique`, EPLF `i`).
    pub unique: Option<&'a [u8]>,
    /// MLSD: every fact as sent, for [`mlsd::facts`] to read any the fields above do not carry.
    pub facts: Option<&'a [u8]>,
}

impl<'a> Entry<'a> {
    /// An entry of `form` with only a name; the form parsers fill in the rest.
    pub fn named(form: Form, name: &'a [u8], kind: EntryType) -> Self {
        Entry {
            form,
            name,
            kind,
            size: None,
            modify: None,
            modify_raw: None,
            perm: None,
            mode: None,
            owner: None,
            group: None,
            target: None,
            device: None,
            unique: None,
            facts: None,
        }
    }
}

/// Why a line gave no entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListingError {
    /// No known form matches the line.
    UnknownForm,
    /// The line looks like `form` but breaks its grammar (a bad date, a number out of range...).
    Malformed(Form),
}

impl fmt::Display for ListingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListingError::UnknownForm => f.write_str("no known listing form"),
            ListingError::Malformed(form) => write!(f, "malformed {} listing line", form.name()),
        }
    }
}

/// The form of one `LIST` line, from its first bytes alone; `None` when none fits (the line may
/// still be a bare name, which only the command, NLST, can tell).
///
/// - EPLF lines start with `+` (EPLF: "the first byte is a plus sign");
/// - `ls -l` lines start with a file-type character and nine permission characters (POSIX `ls`);
/// - DOS lines start with a date `MM-DD-YY` or `YYYY-MM-DD`;
/// - MLSD lines have `fact=value;` before the first space (RFC 3659 7.2).
pub fn detect(line: &[u8]) -> Option<Form> {
    if line.first() == Some(&b'+') {
        return Some(Form::Eplf);
    }
    if unix::looks_like(line) {
        return Some(Form::Unix);
    }
    if dos::looks_like(line) {
        return Some(Form::Dos);
    }
    if mlsd::looks_like(line) {
        return Some(Form::Mlsd);
    }
    None
}

/// Parse one line (its line end already removed) in the given form. `Ok(None)` for lines that
/// carry no entry: an empty line, and `ls -l`'s `total N` header.
pub fn parse_line(form: Form, line: &[u8]) -> Result<Option<Entry<'_>>, ListingError> {
    let entry = match form {
        Form::Mlsd => mlsd::parse_entry(line),
        Form::Unix => {
            if unix::is_total(line) {
                return Ok(None);
            }
            unix::parse_entry(line)
        }
        Form::Dos => dos::parse_entry(line),
        Form::Eplf => eplf::parse_entry(line),
        Form::Name => return Ok(parse_name(line)),
    };
    entry
        .map(|(_, e)| Some(e))
        .map_err(|_| ListingError::Malformed(form))
}

/// An NLST line: the whole line is the name (RFC 959 4.1.3: "a list of file names"). Servers
/// differ on whether a directory's names carry its path (`sub/a.txt`); the name is kept as sent.
pub fn parse_name(line: &[u8]) -> Option<Entry<'_>> {
    (!line.is_empty()).then(|| Entry::named(Form::Name, line, EntryType::Unknown))
}

/// A decimal number of at most 20 digits, checked against u64 (never wraps).
fn decimal(i: &[u8]) -> nom::IResult<&[u8], u64> {
    use nom::Parser;
    nom::combinator::map_res(
        nom::bytes::complete::take_while_m_n(1, 20, |c: u8| c.is_ascii_digit()),
        digits_to_u64,
    )
    .parse(i)
}

/// Digits to u64 with checked arithmetic; an overflow is an error.
fn digits_to_u64(d: &[u8]) -> Result<u64, ()> {
    d.iter().try_fold(0u64, |acc, &c| {
        if !c.is_ascii_digit() {
            return Err(());
        }
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or(())
    })
}

/// Octal digits (Unix permission bits such as `0644`), at most 0o7777 plus file-type bits.
fn octal_mode(d: &[u8]) -> Option<u32> {
    if d.is_empty() || d.len() > 7 {
        return None;
    }
    d.iter().try_fold(0u32, |acc, &c| {
        (b'0'..=b'7')
            .contains(&c)
            .then(|| acc * 8 + u32::from(c - b'0'))
    })
}

#[cfg(test)]
mod tests;
