#![no_main]
// See ftplens_fuzz::drivers::dissect: a capture through the Wireshark glue's core.
libfuzzer_sys::fuzz_target!(|data: &[u8]| ftplens_fuzz::drivers::dissect(data));
