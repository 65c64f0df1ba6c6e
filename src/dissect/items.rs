//! Tree items as the dissector keeps them, and as a view lends them out.
//!
//! A control frame's items live as long as the capture file is open, so they are kept compact:
//! text from the core's fixed tables (reply meanings, command descriptions, mode and outcome names)
//! as a `&'static str` instead of a copy, other text as a boxed `str` without spare capacity, and
//! the expert message behind one pointer (most items have none). An item takes 48 bytes and no
//! copy of table text, against 112 and a copy for [`crate::present::Item`]: the items of a
//! brute-force capture of 700 short sessions (ftp-crack.pcap, 44,760 items) take about half the
//! memory.

use crate::fields::{Expert, Field};
use crate::present::{ItemRef, ValueRef};
use std::net::IpAddr;

/// One item of a frame's tree, borrowed from the dissector: every item is for the frame viewed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ItemView<'a> {
    pub field: Field,
    /// 0: directly under the protocol item; 1: under the last depth-0 item...
    pub depth: u32,
    /// Into this frame's payload; `length` 0 means generated (not tied to bytes).
    pub offset: usize,
    pub length: usize,
    /// Computed by ftplens rather than read from the bytes.
    pub generated: bool,
    pub value: ValueView<'a>,
    pub expert: Option<(Expert, &'a str)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueView<'a> {
    /// Text (for a field of type none: the label).
    Str(&'a str),
    Uint(u64),
    Bool(bool),
    Frame(u64),
    /// Seconds.
    Time(f64),
    Ip(IpAddr),
}

#[derive(Debug, Clone, PartialEq)]
enum Stored {
    Static(&'static str),
    Text(Box<str>),
    Uint(u64),
    Bool(bool),
    Frame(u64),
    Time(f64),
    Ip(IpAddr),
}

/// An item as kept.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredItem {
    field: Field,
    depth: u8,
    generated: bool,
    offset: u32,
    length: u32,
    value: Stored,
    expert: Option<Box<(Expert, Box<str>)>>,
}

impl StoredItem {
    /// Keep `it`, with its byte span moved `base` bytes on (the fed bytes began there in the
    /// frame's payload), or dropped (`keep_span` false: the item is shown on another frame).
    pub fn keep(it: &ItemRef<'_>, base: usize, keep_span: bool) -> Self {
        let (offset, length) = if keep_span && it.length > 0 {
            (it.offset + base, it.length)
        } else {
            (0, 0)
        };
        StoredItem {
            field: it.field,
            depth: u8::try_from(it.depth).unwrap_or(u8::MAX),
            generated: it.generated || length == 0,
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            length: u32::try_from(length).unwrap_or(0),
            value: match &it.value {
                ValueRef::Static(s) => Stored::Static(s),
                ValueRef::Str(s) => Stored::Text(s.as_ref().into()),
                ValueRef::Uint(n) => Stored::Uint(*n),
                ValueRef::Bool(b) => Stored::Bool(*b),
                ValueRef::Frame(n) => Stored::Frame(*n),
                ValueRef::Time(t) => Stored::Time(*t),
                ValueRef::Ip(ip) => Stored::Ip(*ip),
            },
            expert: it
                .expert
                .as_ref()
                .map(|(e, m)| Box::new((*e, m.as_ref().into()))),
        }
    }

    /// A generated item (no bytes of the frame behind it).
    pub fn generated(field: Field, value: ValueView<'_>) -> Self {
        StoredItem {
            field,
            depth: 0,
            generated: true,
            offset: 0,
            length: 0,
            value: match value {
                ValueView::Str(s) => Stored::Text(s.into()),
                ValueView::Uint(n) => Stored::Uint(n),
                ValueView::Bool(b) => Stored::Bool(b),
                ValueView::Frame(n) => Stored::Frame(n),
                ValueView::Time(t) => Stored::Time(t),
                ValueView::Ip(ip) => Stored::Ip(ip),
            },
            expert: None,
        }
    }

    pub fn set_expert(&mut self, expert: Expert, message: &str) {
        self.expert = Some(Box::new((expert, message.into())));
    }

    pub fn field(&self) -> Field {
        self.field
    }

    pub fn view(&self) -> ItemView<'_> {
        ItemView {
            field: self.field,
            depth: u32::from(self.depth),
            offset: self.offset as usize,
            length: self.length as usize,
            generated: self.generated,
            value: match &self.value {
                Stored::Static(s) => ValueView::Str(s),
                Stored::Text(s) => ValueView::Str(s),
                Stored::Uint(n) => ValueView::Uint(*n),
                Stored::Bool(b) => ValueView::Bool(*b),
                Stored::Frame(n) => ValueView::Frame(*n),
                Stored::Time(t) => ValueView::Time(*t),
                Stored::Ip(ip) => ValueView::Ip(*ip),
            },
            expert: self.expert.as_deref().map(|(e, m)| (*e, m.as_ref())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::present::Target;
    use std::borrow::Cow;

    #[test]
    fn an_item_is_kept_compact_and_whole() {
        // The size the module's documentation promises.
        assert!(std::mem::size_of::<StoredItem>() <= 48);
        let it = ItemRef {
            target: Target::Frame,
            field: Field::ResponseMeaning,
            depth: 1,
            offset: 4,
            length: 10,
            generated: false,
            value: ValueRef::Static("Service ready for new user"),
            expert: Some((Expert::TlsUpgrade, Cow::Borrowed("msg"))),
        };
        let kept = StoredItem::keep(&it, 6, true);
        assert_eq!(
            kept.view(),
            ItemView {
                field: Field::ResponseMeaning,
                depth: 1,
                offset: 10,
                length: 10,
                generated: false,
                value: ValueView::Str("Service ready for new user"),
                expert: Some((Expert::TlsUpgrade, "msg")),
            }
        );
        // Shown on another frame: no bytes of that frame behind it.
        let moved = StoredItem::keep(&it, 6, false);
        let moved = moved.view();
        assert_eq!((moved.offset, moved.length, moved.generated), (0, 0, true));
    }
}
