//! One practice event: any JSON value, validated as an event (never a panic; a valid event
//! keeps its rules).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = serde_json::from_slice::<&RawValue>(data) else {
        return;
    };
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
    if let Ok(event) = huddle::ingest::validate(raw, now) {
        assert!(huddle::ingest::is_valid_id(&event.student_id));
        assert!(huddle::ingest::is_valid_id(&event.class_id));
        assert!(event.occurred_at <= now + chrono::TimeDelta::minutes(5));
    }
});
