//! EPLF, the Easily Parsed LIST Format (D. J. Bernstein, 1996, <http://cr.yp.to/ftp/list/eplf.html>).
//!
//! ```text
//! EPLF: a plus sign, then facts separated by commas, each fact one letter and its value, then a
//!       TAB, then the name:   +i8388621.48594,m825718503,r,s280,<TAB>djb.html
//!   r         RETR may work: a file
//!   /         CWD may work: a directory
//!   s<n>      size in bytes
//!   m<n>      modification time, seconds since the Unix epoch (UTC)
//!   i<id>     an identifier: two entries with the same one are the same file
//!   up<o>     Unix permission bits, in octal
//! Unknown facts are ignored.
//! ```

use super::{Entry, EntryType, Form, Time, digits_to_u64, octal_mode};
use nom::{
    IResult, Parser,
    bytes::complete::{tag, take_till},
    combinator::{rest, verify},
    multi::many0,
    sequence::terminated,
};

/// `fact ","`: everything up to the comma (a TAB ends the facts).
fn fact(i: &[u8]) -> IResult<&[u8], &[u8]> {
    terminated(take_till(|c| c == b',' || c == b'\t'), tag(&b","[..])).parse(i)
}

/// One EPLF line as an [`Entry`].
pub fn parse_entry(line: &[u8]) -> IResult<&[u8], Entry<'_>> {
    let (i, _) = tag(&b"+"[..]).parse(line)?;
    let (i, facts) = many0(fact).parse(i)?;
    let (i, _) = tag(&b"\t"[..]).parse(i)?;
    let (i, name) = verify(rest, |n: &[u8]| !n.is_empty()).parse(i)?;
    let mut e = Entry::named(Form::Eplf, name, EntryType::Other);
    for f in facts {
        match f {
            [b'r'] => e.kind = EntryType::File,
            [b'/'] => e.kind = EntryType::Dir,
            [b's', n @ ..] => e.size = digits_to_u64(n).ok(),
            [b'm', n @ ..] => {
                e.modify_raw = Some(n);
                e.modify = digits_to_u64(n)
                    .ok()
                    .and_then(|s| i64::try_from(s).ok())
                    .and_then(Time::from_unix);
            }
            [b'i', id @ ..] => e.unique = Some(id),
            [b'u', b'p', o @ ..] => e.mode = octal_mode(o),
            _ => {}
        }
    }
    Ok((i, e))
}
