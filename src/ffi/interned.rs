//! NUL-terminated copies of the core's static strings (reply meanings, command descriptions, mode
//! and outcome names, registry texts), made once per process and never freed: C callers may keep
//! the pointers for as long as the library is loaded, as Wireshark keeps registration strings.

use crate::present::c_text;
use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::sync::RwLock;

/// The copy of `s`. The set of static strings is finite (the registries and RFC tables of this
/// crate: a few hundred), so the table stays small. Keyed by address and length, so a lookup is a
/// few integer compares.
pub(crate) fn intern(s: &'static str) -> &'static CStr {
    let key = (s.as_ptr() as usize, s.len());
    if let Some(&found) = INTERNED.read().unwrap_or_else(|p| p.into_inner()).get(&key) {
        return found;
    }
    let mut table = INTERNED.write().unwrap_or_else(|p| p.into_inner());
    table.entry(key).or_insert_with(|| {
        Box::leak(
            CString::new(c_text(s).into_owned())
                .unwrap_or_default()
                .into_boxed_c_str(),
        )
    })
}

/// A BTreeMap rather than a HashMap: its nodes are referenced from their start, so valgrind sees
/// the table (and the leaked copies) as reachable rather than "possibly lost".
static INTERNED: RwLock<BTreeMap<(usize, usize), &'static CStr>> = RwLock::new(BTreeMap::new());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_copy_per_string() {
        let a: &'static str = "Service ready for new user.";
        let p = intern(a).as_ptr();
        assert_eq!(intern(a).as_ptr(), p);
        assert_eq!(intern(a).to_str().unwrap(), a);
        assert_eq!(intern("with\0nul").to_str().unwrap(), "with\u{fffd}nul");
    }
}
