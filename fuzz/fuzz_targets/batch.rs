//! A batch body: any bytes, prepared as `POST /api/v1/events` does (never a panic; every
//! event is accounted for once).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
    if let Ok(prepared) = huddle::ingest::prepare(data, now) {
        assert!(prepared.events.len() + prepared.rejected.len() + prepared.duplicates <= huddle::ingest::MAX_BATCH_EVENTS);
    }
});
