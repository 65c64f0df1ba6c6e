#![no_main]
// See ftplens_fuzz::drivers::listing for the input format and the invariants checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftplens_fuzz::drivers::listing(data));
