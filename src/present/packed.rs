//! Packed items: the compact form in which a dissector keeps tree items for later passes.
//!
//! Wireshark dissects a packet again each time it is shown (`tshark -2`, a click in the GUI), but by
//! then the session that made the packet's items has moved on, so the plugin keeps what the first
//! pass produced. Kept as `ftplens_item` structs with copied strings, a 227 reply cost about 1.1 KB;
//! packed, its items take about 300 bytes, in one allocation. A run of packed items is a byte string;
//! runs concatenate (two runs back to back are one run), so a data channel's items can grow by
//! appending.
//!
//! One item:
//!
//! ```text
//! head    u8      bits 0-2 value kind, bit 3 generated, bit 4 span follows, bit 5 expert follows
//! field   varint  index into the field registry (src/fields.rs)
//! depth   u8      nesting (0 = directly under the protocol item)
//! span    varint offset, varint length                         (bit 4: only when length > 0)
//! value   kind 0 text:  varint n, n bytes, NUL (no NUL inside: U+FFFD replaces it)
//!         kind 1 uint, kind 2 bool, kind 3 frame number: varint
//!         kind 4 time:  8 bytes, f64 little-endian
//!         kind 5 IPv4:  4 bytes;  kind 6 IPv6: 16 bytes
//!         kind 7 static text (a reply meaning, a command description, a mode name): varint index
//!                into this process's table of interned texts ([`intern`])
//! expert  varint index, then text as above                    (bit 5)
//! ```
//!
//! Varints are LEB128 (7 bits a byte, low first, at most 10 bytes). Decoding checks every length
//! against the input and never reads past it: a damaged run gives an error, not a crash.

use super::{ItemRef, Target, ValueRef, c_text};
use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::net::IpAddr;
use std::sync::RwLock;

const KIND_TEXT: u8 = 0;
const KIND_UINT: u8 = 1;
const KIND_BOOL: u8 = 2;
const KIND_FRAME: u8 = 3;
const KIND_TIME: u8 = 4;
const KIND_IPV4: u8 = 5;
const KIND_IPV6: u8 = 6;
const KIND_STATIC: u8 = 7;
const KIND_MASK: u8 = 0b111;
const GENERATED: u8 = 1 << 3;
const HAS_SPAN: u8 = 1 << 4;
const HAS_EXPERT: u8 = 1 << 5;

/// One destination's items, packed: `bytes[range]` of the buffer [`pack`] filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub target: Target,
    pub range: std::ops::Range<usize>,
}

/// Pack `items` into `out`, one run per destination (this frame, each earlier frame, each data
/// channel), in the order the destinations first appear; items keep their order within a run.
/// Appends to `out` and `runs`.
pub(crate) fn pack(items: &[ItemRef<'_>], out: &mut Vec<u8>, runs: &mut Vec<Run>) {
    let mut targets: Vec<Target> = Vec::new();
    for it in items {
        if !targets.contains(&it.target) {
            targets.push(it.target);
        }
    }
    for target in targets {
        let start = out.len();
        for it in items.iter().filter(|it| it.target == target) {
            pack_item(it, out);
        }
        runs.push(Run {
            target,
            range: start..out.len(),
        });
    }
}

fn pack_item(it: &ItemRef<'_>, out: &mut Vec<u8>) {
    let kind = match it.value {
        ValueRef::Str(_) => KIND_TEXT,
        ValueRef::Static(_) => KIND_STATIC,
        ValueRef::Uint(_) => KIND_UINT,
        ValueRef::Bool(_) => KIND_BOOL,
        ValueRef::Frame(_) => KIND_FRAME,
        ValueRef::Time(_) => KIND_TIME,
        ValueRef::Ip(IpAddr::V4(_)) => KIND_IPV4,
        ValueRef::Ip(IpAddr::V6(_)) => KIND_IPV6,
    };
    let span = it.length > 0;
    let mut head = kind;
    if it.generated {
        head |= GENERATED;
    }
    if span {
        head |= HAS_SPAN;
    }
    if it.expert.is_some() {
        head |= HAS_EXPERT;
    }
    out.push(head);
    put_varint(out, it.field as u64);
    out.push(u8::try_from(it.depth).unwrap_or(u8::MAX));
    if span {
        put_varint(out, it.offset as u64);
        put_varint(out, it.length as u64);
    }
    match &it.value {
        ValueRef::Str(s) => put_text(out, s),
        ValueRef::Static(s) => put_varint(out, u64::from(intern(s).0)),
        ValueRef::Uint(n) | ValueRef::Frame(n) => put_varint(out, *n),
        ValueRef::Bool(b) => put_varint(out, u64::from(*b)),
        ValueRef::Time(t) => out.extend_from_slice(&t.to_le_bytes()),
        ValueRef::Ip(IpAddr::V4(a)) => out.extend_from_slice(&a.octets()),
        ValueRef::Ip(IpAddr::V6(a)) => out.extend_from_slice(&a.octets()),
    }
    if let Some((expert, message)) = &it.expert {
        put_varint(out, *expert as u64);
        put_text(out, message);
    }
}

/// Texts from fixed tables, each copied once, NUL-terminated, for the life of the process: their
/// index (what a packed run stores) and the copy. The set is finite (the registries and RFC tables
/// of this crate: a few hundred strings), so the table stays small. Keyed by address, so a lookup is
/// a few integer compares.
pub(crate) fn intern(s: &'static str) -> (u32, &'static CStr) {
    let key = (s.as_ptr() as usize, s.len());
    if let Some(&found) = INTERNED
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .index
        .get(&key)
    {
        return found;
    }
    let mut table = INTERNED.write().unwrap_or_else(|p| p.into_inner());
    let Interned { texts, index } = &mut *table;
    *index.entry(key).or_insert_with(|| {
        let c: &'static CStr = Box::leak(
            CString::new(c_text(s).into_owned())
                .unwrap_or_default()
                .into_boxed_c_str(),
        );
        texts.push(c);
        ((texts.len() - 1) as u32, c)
    })
}

/// The interned text with this index.
fn interned(index: u32) -> Option<&'static CStr> {
    INTERNED
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .texts
        .get(index as usize)
        .copied()
}

/// The interned texts in order, and by the address and length of their static original. A BTreeMap
/// rather than a HashMap: its nodes are referenced from their start, so valgrind sees the table (and
/// the leaked copies) as reachable rather than "possibly lost".
struct Interned {
    texts: Vec<&'static CStr>,
    index: BTreeMap<(usize, usize), (u32, &'static CStr)>,
}

static INTERNED: RwLock<Interned> = RwLock::new(Interned {
    texts: Vec::new(),
    index: BTreeMap::new(),
});

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Length, bytes, NUL; a NUL inside the text becomes U+FFFD, so that the C side reads a C string.
fn put_text(out: &mut Vec<u8>, s: &str) {
    let s = c_text(s);
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// A decoded item; its text borrows the packed bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PackedItem<'a> {
    pub field: u32,
    pub depth: u32,
    /// Offset and length in the fed buffer; length 0 when the item is not tied to bytes.
    pub offset: u32,
    pub length: u32,
    pub generated: bool,
    pub value: PackedValue<'a>,
    /// Expert registry index and message.
    pub expert: Option<(u32, &'a CStr)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PackedValue<'a> {
    Text(&'a CStr),
    Uint(u64),
    Bool(bool),
    Frame(u64),
    Time(f64),
    Ipv4([u8; 4]),
    Ipv6([u8; 16]),
}

/// Why a run could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnpackError {
    /// The run ends inside an item.
    Truncated,
    /// A byte that no packer writes (unknown kind, over-long varint, text without its NUL).
    Invalid,
}

/// Decode the item at `*pos` of `data` and move `*pos` past it; `Ok(None)` at the end of the run.
pub fn unpack_next<'a>(
    data: &'a [u8],
    pos: &mut usize,
) -> Result<Option<PackedItem<'a>>, UnpackError> {
    if *pos >= data.len() {
        return Ok(None);
    }
    let mut r = Reader { data, pos: *pos };
    let head = r.byte()?;
    if head & !(KIND_MASK | GENERATED | HAS_SPAN | HAS_EXPERT) != 0 {
        return Err(UnpackError::Invalid);
    }
    let field = r.varint_u32()?;
    let depth = u32::from(r.byte()?);
    let (offset, length) = if head & HAS_SPAN != 0 {
        (r.varint_u32()?, r.varint_u32()?)
    } else {
        (0, 0)
    };
    let value = match head & KIND_MASK {
        KIND_TEXT => PackedValue::Text(r.text()?),
        KIND_UINT => PackedValue::Uint(r.varint()?),
        KIND_BOOL => PackedValue::Bool(r.varint()? != 0),
        KIND_FRAME => PackedValue::Frame(r.varint()?),
        KIND_TIME => PackedValue::Time(f64::from_le_bytes(r.array()?)),
        KIND_IPV4 => PackedValue::Ipv4(r.array()?),
        KIND_IPV6 => PackedValue::Ipv6(r.array()?),
        _ => PackedValue::Text(interned(r.varint_u32()?).ok_or(UnpackError::Invalid)?),
    };
    let expert = if head & HAS_EXPERT != 0 {
        Some((r.varint_u32()?, r.text()?))
    } else {
        None
    };
    *pos = r.pos;
    Ok(Some(PackedItem {
        field,
        depth,
        offset,
        length,
        generated: head & GENERATED != 0,
        value,
        expert,
    }))
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], UnpackError> {
        let end = self.pos.checked_add(n).ok_or(UnpackError::Truncated)?;
        let bytes = self.data.get(self.pos..end).ok_or(UnpackError::Truncated)?;
        self.pos = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, UnpackError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], UnpackError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn varint(&mut self) -> Result<u64, UnpackError> {
        let mut n: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(UnpackError::Invalid);
            }
            n |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(UnpackError::Invalid)
    }

    fn varint_u32(&mut self) -> Result<u32, UnpackError> {
        u32::try_from(self.varint()?).map_err(|_| UnpackError::Invalid)
    }

    fn text(&mut self) -> Result<&'a CStr, UnpackError> {
        let n = usize::try_from(self.varint()?).map_err(|_| UnpackError::Invalid)?;
        let with_nul = self.take(n.checked_add(1).ok_or(UnpackError::Invalid)?)?;
        CStr::from_bytes_with_nul(with_nul).map_err(|_| UnpackError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::Field;
    use crate::present::{Item, Value, item_refs, items};
    use crate::{Direction, Session};

    /// Every item of a packed run, as [`Item`]s again (with the run's target).
    fn unpack_all(data: &[u8], target: Target) -> Vec<Item> {
        let mut pos = 0;
        let mut out = Vec::new();
        while let Some(p) = unpack_next(data, &mut pos).expect("valid run") {
            let text = |c: &CStr| c.to_str().expect("utf-8").to_string();
            out.push(Item {
                target,
                field: crate::fields::Field::from_index(p.field as usize).expect("field"),
                depth: p.depth,
                offset: p.offset as usize,
                length: p.length as usize,
                generated: p.generated,
                value: match p.value {
                    PackedValue::Text(c) => Value::Str(text(c)),
                    PackedValue::Uint(n) => Value::Uint(n),
                    PackedValue::Bool(b) => Value::Bool(b),
                    PackedValue::Frame(n) => Value::Frame(n),
                    PackedValue::Time(t) => Value::Time(t),
                    PackedValue::Ipv4(a) => Value::Ip(a.into()),
                    PackedValue::Ipv6(a) => Value::Ip(a.into()),
                },
                expert: p.expert.map(|(e, m)| {
                    (
                        crate::fields::Expert::from_index(e as usize).expect("expert"),
                        text(m),
                    )
                }),
            });
        }
        out
    }

    /// A whole session's feeds: for each, the items regrouped by destination from the packed runs
    /// equal the unpacked items, with the offsets of generated items (which no presenter reads)
    /// left out.
    #[test]
    fn runs_round_trip_a_session() {
        let mut s = Session::new(
            Some("192.168.1.106:57658".parse().unwrap()),
            Some("192.168.1.109:21".parse().unwrap()),
            Default::default(),
        );
        let feeds: [(Direction, &[u8]); 9] = [
            (Direction::ToClient, b"220 ready\r\n"),
            (Direction::ToServer, b"USER alice\r\nPASS s3\0cret\r\n"),
            (
                Direction::ToClient,
                b"331 Password?\r\n230-Welcome\r\n 2 lines\r\n230 ok\r\n",
            ),
            (Direction::ToServer, b"PORT 10,0,0,9,4,1\r\n"),
            (Direction::ToClient, b"200 PORT ok\r\n"),
            (
                Direction::ToServer,
                b"EPSV\r\nTYPE I\r\nREST 100\r\nRETR /pub/a.bin\r\n",
            ),
            (
                Direction::ToClient,
                b"229 Entering Extended Passive Mode (|||50000|)\r\n350 ok\r\n",
            ),
            (
                Direction::ToClient,
                b"200 ok\r\n150 opening\r\n226 done\r\n",
            ),
            (Direction::ToServer, b"SITE \xff\xfe\r\n"),
        ];
        let mut kinds = std::collections::BTreeSet::new();
        for (frame, (dir, bytes)) in feeds.into_iter().enumerate() {
            let events = s.feed(dir, bytes, frame as u64 + 1, frame as f64).to_vec();
            let refs = item_refs(&events);
            let mut out = Vec::new();
            let mut runs = Vec::new();
            pack(&refs, &mut out, &mut runs);
            let mut regrouped = Vec::new();
            for run in &runs {
                regrouped.extend(unpack_all(&out[run.range.clone()], run.target));
            }
            let mut want = items(&events);
            want.sort_by_key(|i| runs.iter().position(|r| r.target == i.target));
            for i in &mut want {
                if i.length == 0 {
                    i.offset = 0;
                }
                // C strings: a NUL inside becomes U+FFFD.
                if let Value::Str(t) = &mut i.value {
                    *t = t.replace('\0', "\u{fffd}");
                }
                if let Some((_, m)) = &mut i.expert {
                    *m = m.replace('\0', "\u{fffd}");
                }
                let v = std::mem::discriminant(&i.value);
                kinds.insert(format!("{v:?}"));
            }
            assert_eq!(regrouped, want, "feed {frame}");
        }
        assert!(
            kinds.len() >= 6,
            "the session exercises most value kinds: {kinds:?}"
        );
    }

    #[test]
    fn runs_concatenate() {
        let mut s = Session::default();
        s.feed(Direction::ToServer, b"PASV\r\n", 1, 0.0);
        let ev = s
            .feed(Direction::ToClient, b"227 (10,0,0,1,4,1)\r\n", 2, 0.5)
            .to_vec();
        let refs = item_refs(&ev);
        let (mut a, mut runs) = (Vec::new(), Vec::new());
        pack(&refs, &mut a, &mut runs);
        let once = a.clone();
        a.extend_from_slice(&once);
        let n = unpack_all(&once, Target::Frame).len();
        assert_eq!(unpack_all(&a, Target::Frame).len(), 2 * n);
    }

    #[test]
    fn a_227_packs_small() {
        let mut s = Session::default();
        s.feed(Direction::ToServer, b"PASV\r\n", 1, 0.0);
        let ev = s
            .feed(
                Direction::ToClient,
                b"227 Entering Passive Mode (192,168,1,109,104,134).\r\n",
                2,
                0.5,
            )
            .to_vec();
        let (mut out, mut runs) = (Vec::new(), Vec::new());
        pack(&item_refs(&ev), &mut out, &mut runs);
        let structs = items(&ev).len() * std::mem::size_of::<crate::ffi::sys::ftplens_item>();
        assert!(
            out.len() * 3 < structs,
            "packed {} bytes, {} as structs",
            out.len(),
            structs
        );
        assert!(runs.iter().any(|r| r.target == Target::Earlier(1)));
        assert!(runs.iter().any(|r| matches!(r.target, Target::Channel(_))));
    }

    #[test]
    fn damaged_runs_are_errors() {
        let mut s = Session::default();
        let ev = s
            .feed(Direction::ToServer, b"USER alice\r\n", 1, 0.0)
            .to_vec();
        let (mut out, mut runs) = (Vec::new(), Vec::new());
        pack(&item_refs(&ev), &mut out, &mut runs);
        // Every cut inside the run fails cleanly (or ends at an item boundary).
        for cut in 0..out.len() {
            let mut pos = 0;
            loop {
                match unpack_next(&out[..cut], &mut pos) {
                    Ok(Some(_)) => continue,
                    Ok(None) => {
                        assert_eq!(pos, cut);
                        break;
                    }
                    Err(e) => {
                        assert_eq!(e, UnpackError::Truncated, "cut at {cut}");
                        break;
                    }
                }
            }
        }
        let mut pos = 0;
        assert_eq!(
            unpack_next(&[0xc0], &mut pos),
            Err(UnpackError::Invalid),
            "unknown head bits"
        );
        assert_eq!(
            unpack_next(
                &[KIND_UINT, 0x80 | 1, 0xff, 0xff, 0xff, 0xff, 0x0f],
                &mut pos
            ),
            Err(UnpackError::Invalid),
            "a field index above u32"
        );
        let text_without_nul = [KIND_TEXT, Field::RequestArg as u8, 0, 1, b'x', b'y'];
        assert_eq!(
            unpack_next(&text_without_nul, &mut pos),
            Err(UnpackError::Invalid)
        );
        let unknown_static = [KIND_STATIC, Field::ResponseClass as u8, 1, 0xff, 0xff, 0x3f];
        assert_eq!(
            unpack_next(&unknown_static, &mut pos),
            Err(UnpackError::Invalid),
            "a static text index nobody interned"
        );
        assert_eq!(pos, 0, "a failed decode does not move the position");
    }
}
