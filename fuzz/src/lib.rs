//! Fuzz drivers for ftplens; see `drivers.rs` and `fuzz/README.md`.
pub mod drivers;
