//! Drawing tree items straight into Wireshark's tree from the native module.
//!
//! Every data packet of a transfer shows the same handful of generated items (channel, mode, setup
//! frame, command, file, ...). Added from Lua, each item costs a `TvbRange` and a `TreeItem`
//! userdata, argument checks and, later, garbage collection: on a large capture that is most of the
//! fallback's time. Here the module adds them itself with libwireshark's exported
//! `proto_tree_add_*` functions, which the host process already has loaded (looked up with `dlsym`,
//! as `ws_log` is), so the module still links against no Wireshark library and loads into any
//! version whose Lua it was built for.
//!
//! A field's id comes from `proto_registrar_get_id_byname`, so no `ProtoField` is read. Two things
//! are read from memory rather than called, each checked before it is trusted:
//! - a `TreeItem` userdata holds a pointer to `struct _wslua_treeitem { proto_item *item;
//!   proto_tree *tree; ... }`, the same first two members from Wireshark 1.x to 4.6; a subtree of
//!   an item is that very node, so `item == tree` is checked;
//! - `proto_item_set_generated` is an inline function, not an export: it sets `FI_GENERATED` (0x2)
//!   in `field_info.flags`, the 32-bit word after the `hfinfo` pointer and five ints, found through
//!   `proto_node.finfo` (the fifth pointer up to 4.4, the sixth from 4.6, by
//!   `epan_get_version_number`). The flag is only set after the node's `finfo->hfinfo->id` (the
//!   `int` after name, abbrev, type, display, strings, bitmask and blurb) was read back as the
//!   field just added; on any other version, or a mismatch, nothing is drawn natively.
//!
//! Anything this cannot draw exactly as the Lua code would (items with an expert info, nested
//! items, a tree whose layout does not check out) is left to the script: [`draw`] then returns
//! `false` and draws nothing.

use ftplens::fields::{FIELDS, FieldType};
use ftplens::present::{Item, Value};
use std::ffi::{CString, c_char, c_int, c_void};
use std::net::IpAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

type Tree = *mut c_void;
type Tvb = *mut c_void;

/// `nstime_t` (wsutil/nstime.h): seconds and nanoseconds.
#[repr(C)]
struct NsTime {
    secs: libc::time_t,
    nsecs: c_int,
}

type IdByName = unsafe extern "C" fn(*const c_char) -> c_int;
type AddString = unsafe extern "C" fn(Tree, c_int, Tvb, c_int, c_int, *const c_char) -> Tree;
type AddU64 = unsafe extern "C" fn(Tree, c_int, Tvb, c_int, c_int, u64) -> Tree;
type AddU32 = unsafe extern "C" fn(Tree, c_int, Tvb, c_int, c_int, u32) -> Tree;
type AddTime = unsafe extern "C" fn(Tree, c_int, Tvb, c_int, c_int, *const NsTime) -> Tree;
type AddIpv6 = unsafe extern "C" fn(Tree, c_int, Tvb, c_int, c_int, *const [u8; 16]) -> Tree;
type AddNoneFormat =
    unsafe extern "C" fn(Tree, c_int, Tvb, c_int, c_int, *const c_char, ...) -> Tree;
type VersionNumber = unsafe extern "C" fn(*mut c_int, *mut c_int, *mut c_int);

/// The libwireshark functions used, with the signatures of epan/proto.h (the same in 4.0 to 4.6;
/// where 4.2 widened a value from 32 to 64 bits, the value is passed as 64 bits, which both read).
struct Api {
    id_by_name: IdByName,
    add_string: AddString,
    add_uint64: AddU64,
    add_uint: AddU32,
    add_boolean: AddU64,
    add_time: AddTime,
    add_ipv4: AddU32,
    add_ipv6: AddIpv6,
    add_none_format: AddNoneFormat,
    /// Which word of `proto_node` holds `finfo` (see the module doc).
    finfo_word: usize,
}

fn symbol(name: &std::ffi::CStr) -> Option<*mut c_void> {
    // SAFETY: dlsym with a NUL-terminated name; RTLD_DEFAULT searches the host process.
    let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr()) };
    (!p.is_null()).then_some(p)
}

impl Api {
    fn load() -> Option<Api> {
        macro_rules! sym {
            ($name:literal, $t:ty) => {
                // SAFETY: the symbol is libwireshark's function of that name, whose C signature is
                // $t (epan/proto.h, epan/epan.h).
                unsafe { std::mem::transmute::<*mut c_void, $t>(symbol($name)?) }
            };
        }
        let version = sym!(c"epan_get_version_number", VersionNumber);
        let (mut major, mut minor, mut micro) = (0, 0, 0);
        // SAFETY: three writable ints.
        unsafe { version(&mut major, &mut minor, &mut micro) };
        let finfo_word = match (major, minor) {
            (4, 0..=4) => 4,
            (4, 5..=6) => 5,
            _ => return None,
        };
        Some(Api {
            id_by_name: sym!(c"proto_registrar_get_id_byname", IdByName),
            add_string: sym!(c"proto_tree_add_string", AddString),
            add_uint64: sym!(c"proto_tree_add_uint64", AddU64),
            add_uint: sym!(c"proto_tree_add_uint", AddU32),
            add_boolean: sym!(c"proto_tree_add_boolean", AddU64),
            add_time: sym!(c"proto_tree_add_time", AddTime),
            add_ipv4: sym!(c"proto_tree_add_ipv4", AddU32),
            add_ipv6: sym!(c"proto_tree_add_ipv6", AddIpv6),
            add_none_format: sym!(c"proto_tree_add_none_format", AddNoneFormat),
            finfo_word,
        })
    }
}

static API: OnceLock<Option<Api>> = OnceLock::new();
/// Wireshark's id of each registry field, by registry position (-1: not registered).
static FIELD_IDS: OnceLock<Vec<c_int>> = OnceLock::new();

fn api() -> Option<&'static Api> {
    API.get_or_init(Api::load).as_ref()
}

fn field_ids(api: &Api) -> &'static [c_int] {
    FIELD_IDS.get_or_init(|| {
        FIELDS
            .iter()
            .map(|f| match CString::new(f.abbrev) {
                // SAFETY: a NUL-terminated field name; the registrar only reads it.
                Ok(name) => unsafe { (api.id_by_name)(name.as_ptr()) },
                Err(_) => -1,
            })
            .collect()
    })
}

/// One generated item, ready to add: its registry field and its value in the form the `add`
/// function takes.
pub struct Drawable {
    field: usize,
    value: DrawValue,
}

enum DrawValue {
    Label(CString),
    Str(CString),
    Uint(u64),
    Frame(u32),
    Bool(bool),
    Time(f64),
    Ipv4([u8; 4]),
    Ipv6([u8; 16]),
}

/// `it` as a [`Drawable`], or `None` when only the script can draw it as it should be (an expert
/// info, a nested item, an item that covers bytes, a value its field's type does not take).
pub fn drawable(it: &Item) -> Option<Drawable> {
    if it.expert.is_some() || it.depth != 0 || it.length != 0 {
        return None;
    }
    let field = it.field as usize;
    let ftype = FIELDS.get(field)?.ftype;
    let cstr = |s: &str| CString::new(crate::text(s).replace('\0', "")).ok();
    let value = match (ftype, &it.value) {
        (FieldType::None, Value::Label(s) | Value::Str(s)) if !s.is_empty() => {
            DrawValue::Label(cstr(s)?)
        }
        (FieldType::String, Value::Label(s) | Value::Str(s)) => DrawValue::Str(cstr(s)?),
        (FieldType::Uint, Value::Uint(n) | Value::Frame(n)) => DrawValue::Uint(*n),
        (FieldType::Frame, Value::Uint(n) | Value::Frame(n)) => DrawValue::Frame(*n as u32),
        (FieldType::Bool, Value::Bool(b)) => DrawValue::Bool(*b),
        (FieldType::RelTime, Value::Time(t)) => DrawValue::Time(*t),
        (FieldType::Ipv4, Value::Ip(IpAddr::V4(a))) => DrawValue::Ipv4(a.octets()),
        (FieldType::Ipv6, Value::Ip(IpAddr::V6(a))) => DrawValue::Ipv6(a.octets()),
        _ => return None,
    };
    Some(Drawable { field, value })
}

/// Add `items` under the tree a Lua `TreeItem` userdata wraps (`tree_ud`: the userdata's memory, as
/// `lua_topointer` gives it). Returns `false`, having added nothing, when the host lacks a function
/// or the userdata does not look like a `TreeItem`.
///
/// # Safety
/// `tree_ud` must be the memory of a live `TreeItem` userdata of the running Wireshark.
pub unsafe fn draw(tree_ud: *const c_void, items: &[Drawable]) -> bool {
    let Some(api) = api() else {
        return false;
    };
    if tree_ud.is_null() || LAYOUT_BAD.load(Ordering::Relaxed) {
        return false;
    }
    // SAFETY: a TreeItem userdata holds one pointer to struct _wslua_treeitem (see the module doc).
    let treeitem = unsafe { *tree_ud.cast::<*const [Tree; 2]>() };
    if treeitem.is_null() {
        return false;
    }
    // SAFETY: the struct starts with proto_item *item, proto_tree *tree.
    let [item, tree] = unsafe { *treeitem };
    if tree.is_null() {
        return true; // no tree (a first pass): nothing to draw, and these items carry no expert info
    }
    // A subtree of a proto_item is that very node (proto_item_add_subtree returns its item): a
    // cheap check that the two members are what they are taken to be.
    if item != tree {
        return false;
    }
    let ids = field_ids(api);
    for d in items {
        let Some(&hf) = ids.get(d.field) else {
            continue;
        };
        if hf < 0 {
            continue;
        }
        let tvb = std::ptr::null_mut(); // generated items cover no bytes
        // SAFETY: each call is libwireshark's own, with a live tree, a registered field id of the
        // type the function takes, no tvb and no bytes, and values that outlive the call (the
        // functions copy them).
        let pi = unsafe {
            match &d.value {
                DrawValue::Label(s) => {
                    (api.add_none_format)(tree, hf, tvb, 0, 0, c"%s".as_ptr(), s.as_ptr())
                }
                DrawValue::Str(s) => (api.add_string)(tree, hf, tvb, 0, 0, s.as_ptr()),
                DrawValue::Uint(n) => (api.add_uint64)(tree, hf, tvb, 0, 0, *n),
                DrawValue::Frame(n) => (api.add_uint)(tree, hf, tvb, 0, 0, *n),
                DrawValue::Bool(b) => (api.add_boolean)(tree, hf, tvb, 0, 0, u64::from(*b)),
                DrawValue::Time(t) => {
                    let secs = t.max(0.0);
                    let ts = NsTime {
                        secs: secs.floor() as libc::time_t,
                        nsecs: ((secs - secs.floor()) * 1e9) as c_int,
                    };
                    (api.add_time)(tree, hf, tvb, 0, 0, &ts)
                }
                DrawValue::Ipv4(a) => (api.add_ipv4)(tree, hf, tvb, 0, 0, u32::from_ne_bytes(*a)),
                DrawValue::Ipv6(a) => (api.add_ipv6)(tree, hf, tvb, 0, 0, a),
            }
        };
        // A node that is not the tree itself is the new item (an invisible tree hands back the
        // parent for a field nobody asked for, as Wireshark's C dissectors see it too).
        // SAFETY: pi is a node libwireshark just returned, with the layout checked in set_generated.
        if !pi.is_null() && pi != tree && !unsafe { set_generated(api, pi, hf) } {
            LAYOUT_BAD.store(true, Ordering::Relaxed);
            return true;
        }
    }
    true
}

/// Set once a node did not read back as expected: from then on the script draws everything.
static LAYOUT_BAD: AtomicBool = AtomicBool::new(false);

/// `proto_item_set_generated(pi)` for a node just added for field `hf`; `false` (nothing written)
/// when the node does not read back as that field's.
///
/// # Safety
/// `pi` must be a live `proto_node` of the running libwireshark.
unsafe fn set_generated(api: &Api, pi: Tree, hf: c_int) -> bool {
    // SAFETY: proto_node is a struct of pointers; finfo is word `finfo_word` (module doc).
    let finfo = unsafe { *pi.cast::<*mut u8>().add(api.finfo_word) };
    if finfo.is_null() {
        return true;
    }
    // SAFETY: field_info starts with its hfinfo pointer; header_field_info's id is the int at byte
    // 48 (two pointers, two ints, a pointer, a 64-bit mask and a pointer before it), in 4.0 to 4.6.
    let id = unsafe {
        let hfinfo = *finfo.cast::<*const u8>();
        if hfinfo.is_null() {
            return false;
        }
        *hfinfo.add(48).cast::<c_int>()
    };
    if id != hf {
        return false;
    }
    // SAFETY: flags is the u32 at byte 28 of field_info (a pointer and five ints before it).
    unsafe { *finfo.add(28).cast::<u32>() |= FI_GENERATED };
    true
}

/// `FI_GENERATED` of epan/proto.h.
const FI_GENERATED: u32 = 0x2;
