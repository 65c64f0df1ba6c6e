#![no_main]
// The CLI's capture reader and the whole analyser; every JSON record must parse.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    ftplens_fuzz::drivers::capture_with(data, &mut |line| {
        serde_json::from_str::<serde_json::Value>(line).expect("invalid JSON record");
    });
});
