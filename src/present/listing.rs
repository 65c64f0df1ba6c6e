//! Directory-listing entries as tree items: what the data tree shows for each line of a LIST, NLST
//! or MLSD data connection ([`crate::parse::listing`] parses the lines).

use super::{ItemRef, Target, ValueRef};
use crate::fields::Field;
use crate::parse::listing::Entry;
use std::borrow::Cow;

/// Where an entry's line lies in the frame being shown: `(offset, length)` of its name, when the
/// name's bytes are in that frame's payload.
pub type NameSpan = Option<(usize, usize)>;

/// The items of one listing entry: a label naming it ("hello.txt (file, 512 bytes)"), and under it
/// each field the listing gave. Fields the form does not carry are left out, not shown empty. The
/// type and form names are the core's static texts, so a host keeps them without a copy.
pub(crate) fn entry_items(entry: &Entry<'_>, name_at: NameSpan) -> Vec<ItemRef<'static>> {
    let text = |b: &[u8]| ValueRef::Str(Cow::Owned(String::from_utf8_lossy(b).into_owned()));
    let name = String::from_utf8_lossy(entry.name).into_owned();
    let mut label = format!("{name} ({}", entry.kind.name());
    if let Some(size) = entry.size {
        label.push_str(&format!(", {size} bytes"));
    }
    label.push(')');
    let item = |field, depth, value, at: NameSpan| {
        let (offset, length) = at.unwrap_or((0, 0));
        ItemRef {
            target: Target::Frame,
            field,
            depth,
            offset,
            length,
            generated: at.is_none(),
            value,
            expert: None,
        }
    };
    let mut items = vec![
        item(
            Field::DataListing,
            0,
            ValueRef::Str(Cow::Owned(label)),
            None,
        ),
        item(
            Field::DataListingName,
            1,
            ValueRef::Str(Cow::Owned(name)),
            name_at,
        ),
        item(
            Field::DataListingType,
            1,
            ValueRef::Static(entry.kind.name()),
            None,
        ),
    ];
    if let Some(size) = entry.size {
        items.push(item(Field::DataListingSize, 1, ValueRef::Uint(size), None));
    }
    if let Some(t) = entry.modify {
        items.push(item(
            Field::DataListingModify,
            1,
            ValueRef::Str(Cow::Owned(t.iso())),
            None,
        ));
    }
    if let Some(p) = entry.perm {
        items.push(item(Field::DataListingPerm, 1, text(p), None));
    }
    if let Some(t) = entry.target {
        items.push(item(Field::DataListingTarget, 1, text(t), None));
    }
    items.push(item(
        Field::DataListingForm,
        1,
        ValueRef::Static(entry.form.name()),
        None,
    ));
    items
}

/// Where `name` lies inside `payload`, when it borrows from it (an entry whose line was not split
/// across frames): only addresses are compared, nothing is read.
pub fn span_in(payload: &[u8], name: &[u8]) -> NameSpan {
    let start = payload.as_ptr() as usize;
    let at = name.as_ptr() as usize;
    let off = at.checked_sub(start)?;
    (off + name.len() <= payload.len()).then_some((off, name.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::listing::{Expect, Item as Line, ListingLimits, ListingParser};
    use crate::present::Value;

    /// Each item as (field name, depth, value), its text owned for comparison.
    fn values(items: &[ItemRef<'_>]) -> Vec<(&'static str, u32, Value)> {
        items
            .iter()
            .map(|i| {
                (
                    crate::fields::FIELDS[i.field as usize].abbrev,
                    i.depth,
                    i.clone().into_owned().value,
                )
            })
            .collect()
    }

    /// An `ls -l` line as vsftpd sends it: every field the form carries, under one label, and the
    /// name highlighted where it lies in the payload.
    #[test]
    fn unix_line_gives_name_type_size_perm_and_form() {
        let payload = b"-rw-r--r--    1 0        0             512 Dec 07 00:33 hello.txt\r\n";
        let mut parser = ListingParser::new(Expect::List, ListingLimits::default());
        let mut got = Vec::new();
        parser.feed(payload, &mut |l| {
            if let Line::Entry(e) = l {
                got = entry_items(&e, span_in(payload, e.name));
            }
        });
        let v = values(&got);
        assert_eq!(
            v[0],
            (
                "ftplens-data.listing",
                0,
                Value::Str("hello.txt (file, 512 bytes)".into())
            )
        );
        assert!(v.contains(&(
            "ftplens-data.listing.name",
            1,
            Value::Str("hello.txt".into())
        )));
        assert!(v.contains(&("ftplens-data.listing.size", 1, Value::Uint(512))));
        assert!(v.contains(&(
            "ftplens-data.listing.perm",
            1,
            Value::Str("rw-r--r--".into())
        )));
        assert!(v.contains(&("ftplens-data.listing.form", 1, Value::Str("unix".into()))));
        let name = got
            .iter()
            .find(|i| i.field == Field::DataListingName)
            .unwrap();
        // "hello.txt" starts 9 bytes before the CRLF.
        assert_eq!(
            (name.offset, name.length, name.generated),
            (payload.len() - 11, 9, false)
        );
    }

    /// An NLST name has no size, time or permissions: those fields are absent, not empty.
    #[test]
    fn a_bare_name_carries_only_name_type_and_form() {
        let mut parser = ListingParser::new(Expect::Names, ListingLimits::default());
        let mut got = Vec::new();
        parser.feed(b"readme.txt\r\n", &mut |l| {
            if let Line::Entry(e) = l {
                got = entry_items(&e, None);
            }
        });
        let names: Vec<_> = values(&got).into_iter().map(|v| v.0).collect();
        assert_eq!(
            names,
            [
                "ftplens-data.listing",
                "ftplens-data.listing.name",
                "ftplens-data.listing.type",
                "ftplens-data.listing.form"
            ]
        );
        assert!(got.iter().all(|i| i.generated));
    }

    #[test]
    fn a_name_outside_the_payload_has_no_span() {
        let a = b"abc";
        let b = b"abc";
        assert_eq!(span_in(a, &a[1..]), Some((1, 2)));
        assert_eq!(span_in(&a[..1], &b[..]), None);
    }
}
