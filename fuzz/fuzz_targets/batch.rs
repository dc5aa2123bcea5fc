//! A batch body: any bytes, prepared as `POST /api/v1/events` does (never a panic; every
//! event is accounted for once: kept, refused or counted as a repeat of an earlier one).
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).expect("a time");
    let Ok(prepared) = huddle::ingest::prepare(data, now) else {
        return;
    };
    // How many events the batch carries: the body read as `prepare` reads it.
    let sent = serde_json::from_slice::<huddle::ingest::Batch>(data)
        .expect("a batch prepare took")
        .events
        .len();
    assert!(sent <= huddle::ingest::MAX_BATCH_EVENTS);
    assert_eq!(
        prepared.events.len() + prepared.rejected.len() + prepared.duplicates,
        sent
    );
    // Kept and refused events name their position in the batch: each position once at most.
    let mut positions = HashSet::new();
    let kept = prepared.events.iter().map(|(index, _)| *index);
    for index in kept.chain(prepared.rejected.iter().map(|r| r.index)) {
        assert!(index < sent, "position {index} of {sent}");
        assert!(positions.insert(index), "position {index} twice");
    }
    // The events kept: in the batch's order, each id once.
    assert!(prepared.events.windows(2).all(|w| w[0].0 < w[1].0));
    let mut ids = HashSet::new();
    assert!(prepared.events.iter().all(|(_, e)| ids.insert(e.event_id)));
});
