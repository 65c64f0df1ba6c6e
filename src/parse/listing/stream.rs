//! The data connection's bytes, in chunks, to entries: line reassembly with caps.

use super::{Entry, Form, ListingError, detect, parse_line};

/// What the command that opened the data connection leads us to expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// LIST (or STAT with a path): each line's form is detected on its own ([`detect`]).
    List,
    /// NLST: a name per line (RFC 959 4.1.3).
    Names,
    /// MLSD: RFC 3659 facts per line.
    Facts,
}

impl Expect {
    /// What a command's data connection carries, by verb (case-insensitive): `LIST` (RFC 959
    /// 4.1.3), `NLST` (4.1.3), `MLSD` (RFC 3659 7.1). `None` for any other verb.
    pub fn for_command(verb: &[u8]) -> Option<Expect> {
        let v = verb.to_ascii_uppercase();
        match v.as_slice() {
            b"LIST" => Some(Expect::List),
            b"NLST" => Some(Expect::Names),
            b"MLSD" => Some(Expect::Facts),
            _ => None,
        }
    }
}

/// The caps of one listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListingLimits {
    /// Entries handed out; later lines are counted as dropped, not parsed.
    pub max_entries: usize,
    /// Bytes kept of one line (line end excluded); the rest of a longer line is skipped.
    pub max_line: usize,
}

impl Default for ListingLimits {
    /// 100,000 entries, 4,096-byte lines (Linux's PATH_MAX plus room for the other columns).
    fn default() -> Self {
        ListingLimits {
            max_entries: 100_000,
            max_line: 4096,
        }
    }
}

/// Which cap was hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cap {
    /// A line came after `max_entries` entries: it and the rest of the listing are dropped.
    MaxEntries,
    /// A line was longer than `max_line`; it is not parsed.
    MaxLine,
}

impl Cap {
    /// A stable name for records and expert info.
    pub fn name(self) -> &'static str {
        match self {
            Cap::MaxEntries => "listing_max_entries",
            Cap::MaxLine => "listing_line_too_long",
        }
    }
}

/// What [`ListingParser::feed`] hands out, in the order of the lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item<'a> {
    Entry(Entry<'a>),
    /// A line that gave no entry, with the reason.
    Unparsed {
        line: &'a [u8],
        error: ListingError,
    },
    /// A cap was hit: each line too long is reported; `MaxEntries` once, at the first line dropped.
    Cap(Cap),
}

/// Counts over the whole listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListingStats {
    pub lines: u64,
    pub entries: u64,
    pub unparsed: u64,
    pub long_lines: u64,
    /// Lines not looked at because `max_entries` was reached.
    pub dropped: u64,
    /// How many entries of each form (read with [`ListingStats::of`]).
    by_form: [u64; Form::ALL.len()],
}

impl ListingStats {
    /// The count of one form.
    pub fn of(&self, form: Form) -> u64 {
        self.by_form[form_index(form)]
    }
}

fn form_index(form: Form) -> usize {
    Form::ALL.iter().position(|f| *f == form).unwrap_or(0)
}

/// A streaming listing parser: feed it the data connection's bytes in any chunks.
///
/// Lines end at LF; a CR before it is dropped (listings go in TYPE A, RFC 959 3.1.1.1, so lines
/// end in CRLF, but bare LF is common). Whole lines inside a chunk are parsed where they lie; only
/// a line split across chunks is copied, into a buffer of at most `max_line` bytes.
#[derive(Debug, Clone)]
pub struct ListingParser {
    expect: Expect,
    limits: ListingLimits,
    /// The start of a line the previous chunk ended inside.
    partial: Vec<u8>,
    /// The current line passed `max_line`: skip to the next LF.
    skipping: bool,
    stats: ListingStats,
}

impl ListingParser {
    pub fn new(expect: Expect, limits: ListingLimits) -> Self {
        ListingParser {
            expect,
            limits,
            partial: Vec::new(),
            skipping: false,
            stats: ListingStats::default(),
        }
    }

    pub fn stats(&self) -> &ListingStats {
        &self.stats
    }

    /// True once `max_entries` has been reached: the caller may stop feeding.
    pub fn is_full(&self) -> bool {
        self.stats.entries >= self.limits.max_entries as u64
    }

    /// Parse every line `chunk` completes; keep an unfinished last line for the next call.
    pub fn feed(&mut self, chunk: &[u8], out: &mut dyn FnMut(Item<'_>)) {
        let mut rest = chunk;
        while let Some(k) = memchr::memchr(b'\n', rest) {
            let piece = &rest[..k];
            rest = &rest[k + 1..];
            if std::mem::take(&mut self.skipping) {
                continue; // the end of a line already reported as too long
            }
            if self.partial.is_empty() {
                self.line(piece, out);
            } else if self.fits(piece) {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(piece);
                self.line(&line, out);
                line.clear();
                self.partial = line; // keep the allocation
            } else {
                self.partial.clear();
                self.long_line(out);
            }
        }
        if rest.is_empty() || self.skipping {
            return;
        }
        if self.fits(rest) {
            self.partial.extend_from_slice(rest);
        } else {
            self.partial.clear();
            self.skipping = true;
            self.long_line(out);
        }
    }

    /// The end of the data: a last line without a line end is still a line.
    pub fn finish(&mut self, out: &mut dyn FnMut(Item<'_>)) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, out);
        }
        self.skipping = false;
    }

    /// Would the partial line plus `bytes` stay within `max_line`? One byte more is allowed for
    /// the CR of a CRLF.
    fn fits(&self, bytes: &[u8]) -> bool {
        self.partial.len().saturating_add(bytes.len()) <= self.limits.max_line.saturating_add(1)
    }

    fn long_line(&mut self, out: &mut dyn FnMut(Item<'_>)) {
        self.stats.lines += 1;
        if self.refuse(out) {
            return;
        }
        self.stats.long_lines += 1;
        out(Item::Cap(Cap::MaxLine));
    }

    /// Past `max_entries`: count the line as dropped (reporting the cap at the first one).
    fn refuse(&mut self, out: &mut dyn FnMut(Item<'_>)) -> bool {
        if !self.is_full() {
            return false;
        }
        self.stats.dropped += 1;
        if self.stats.dropped == 1 {
            out(Item::Cap(Cap::MaxEntries));
        }
        true
    }

    /// One complete line, line end not yet removed.
    fn line(&mut self, raw: &[u8], out: &mut dyn FnMut(Item<'_>)) {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.len() > self.limits.max_line {
            self.long_line(out);
            return;
        }
        self.stats.lines += 1;
        if self.refuse(out) {
            return;
        }
        let form = match self.expect {
            Expect::Names => Some(Form::Name),
            Expect::Facts => Some(Form::Mlsd),
            Expect::List => detect(line),
        };
        let parsed = match form {
            Some(form) => parse_line(form, line),
            None if line.is_empty() => Ok(None),
            None => Err(ListingError::UnknownForm),
        };
        match parsed {
            Ok(Some(entry)) => {
                self.stats.entries += 1;
                self.stats.by_form[form_index(entry.form)] += 1;
                out(Item::Entry(entry));
            }
            Ok(None) => {}
            Err(error) => {
                self.stats.unparsed += 1;
                out(Item::Unparsed { line, error });
            }
        }
    }
}
