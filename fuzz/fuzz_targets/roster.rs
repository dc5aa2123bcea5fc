//! A roster upload: any bytes, read as JSON and as CSV (never a panic).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for csv in [false, true] {
        if let Ok(entries) = huddle::privacy::parse_roster(data, csv) {
            for entry in entries {
                assert!(!entry.student_id.is_empty());
            }
        }
    }
});
