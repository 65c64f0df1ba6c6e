//! The header's anomaly constants, segment flags and `ftplens_limits` fields, held to the core's
//! registries at compile time: the anomaly table of `crate::session::events`, the `TCP_*` flags of
//! `crate::dissect` and [`crate::limits::LIMITS`] are the single source, and `include/ftplens.h`
//! must say the same (build.rs reads the header's side into `header_registry.rs`; the assertions
//! below compare). A mismatch fails the build.

use super::sys::*;
use crate::Anomaly;
use crate::limits::LIMITS;

include!(concat!(env!("OUT_DIR"), "/header_registry.rs"));

/// String equality, ASCII case-insensitive when `fold_case`, usable in constants.
const fn same(a: &str, b: &str, fold_case: bool) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        let (x, y) = if fold_case {
            (a[i].to_ascii_lowercase(), b[i].to_ascii_lowercase())
        } else {
            (a[i], b[i])
        };
        if x != y {
            return false;
        }
        i += 1;
    }
    true
}

const _: () = {
    assert!(
        FTPLENS_ANOMALY_NONE == 0,
        "include/ftplens.h: FTPLENS_ANOMALY_NONE must be 0"
    );
    assert!(
        FTPLENS_ANOMALY_COUNT as usize == Anomaly::ALL.len() + 1,
        "include/ftplens.h: FTPLENS_ANOMALY_COUNT must be one past the last anomaly"
    );
    let mut i = 0;
    while i < Anomaly::ALL.len() {
        let a = Anomaly::ALL[i];
        assert!(
            anomaly_constant(a) == a as u32,
            "include/ftplens.h: an FTPLENS_ANOMALY_* value differs from the anomaly table's number"
        );
        i += 1;
    }
    let mut i = 0;
    while i < ANOMALY_CONSTANT_NAMES.len() {
        let (a, constant) = ANOMALY_CONSTANT_NAMES[i];
        assert!(
            same(a.name(), constant, true),
            "include/ftplens.h: an FTPLENS_ANOMALY_* constant is not named after its anomaly"
        );
        i += 1;
    }
    // The segment flags: the header's bits are the core's.
    assert!(
        FTPLENS_TCP_SYN as u8 == crate::dissect::TCP_SYN
            && FTPLENS_TCP_FIN as u8 == crate::dissect::TCP_FIN
            && FTPLENS_TCP_RST as u8 == crate::dissect::TCP_RST
            && FTPLENS_TCP_SYN_ACK as u8 == crate::dissect::TCP_SYN_ACK
            && FTPLENS_TCP_HIDES_REORDERED as u8 == crate::dissect::TCP_HIDES_REORDERED,
        "include/ftplens.h: an FTPLENS_TCP_* bit differs from the core's (crate::dissect::TCP_*)"
    );
    assert!(
        LIMIT_FIELDS.len() == LIMITS.len(),
        "include/ftplens.h: ftplens_limits must have one field per limit of LIMITS"
    );
    let mut i = 0;
    while i < LIMITS.len() {
        assert!(
            same(LIMIT_FIELDS[i], LIMITS[i].name, false),
            "include/ftplens.h: the fields of ftplens_limits must be the limits of LIMITS, in order"
        );
        i += 1;
    }
};
