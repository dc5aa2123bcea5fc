//! `POST /api/v1/events`: storage of every field, validation, idempotency, limits, and the
//! rostering entities that events create.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use huddle::auth::Role;
use huddle::db::schema::{classes, enrolments, items, orgs, skills, students};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{
    ago, assert_error, assert_error_shape, both_backends, event, event_with, events, id_of,
    TestApp, ORG,
};

both_backends!(
    a_valid_batch_is_stored_with_every_field,
    optional_fields_get_their_defaults,
    an_empty_batch_is_answered_with_zeroes,
    each_invalid_event_gets_its_code_and_its_valid_neighbours_are_stored,
    the_edges_of_the_valid_ranges_are_accepted,
    a_resent_batch_counts_as_duplicates_and_changes_nothing,
    the_same_id_with_other_content_is_a_conflict_and_the_original_stays,
    repeats_inside_one_batch_are_sorted_out,
    a_batch_resent_after_a_partial_failure_stores_only_what_was_missing,
    an_event_id_of_another_organisation_is_its_own_event,
    five_thousand_events_are_accepted,
    five_thousand_and_one_events_are_too_many,
    a_body_of_8_mib_is_read_and_one_byte_more_is_too_large,
    malformed_json_is_a_400_with_the_error_shape,
    json_that_is_not_a_batch_is_a_422,
    unknown_classes_students_skills_and_items_are_created_under_the_org,
    the_same_class_id_in_two_orgs_stays_two_classes,
    concurrent_batches_of_the_same_events_store_each_once,
    a_rejected_conflicting_event_creates_nothing,
);

/// The `rejected` entries as (index, event_id, code), checking each entry's shape on the way.
fn rejections(answer: &Value) -> Vec<(u64, Option<String>, String)> {
    answer["rejected"]
        .as_array()
        .expect("a rejected array")
        .iter()
        .map(|r| {
            let message = r["error"]["message"].as_str().unwrap_or_default();
            assert!(!message.trim().is_empty(), "a plain message: {r}");
            (
                r["index"].as_u64().expect("an index"),
                r["event_id"].as_str().map(str::to_owned),
                r["error"]["code"].as_str().expect("a code").to_owned(),
            )
        })
        .collect()
}

fn counts(answer: &Value) -> (u64, u64, usize) {
    (
        answer["accepted"].as_u64().expect("accepted"),
        answer["duplicates"].as_u64().expect("duplicates"),
        answer["rejected"].as_array().expect("rejected").len(),
    )
}

fn millis(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
        .timestamp_millis()
}

fn uuid(event_id: &str) -> Uuid {
    Uuid::parse_str(event_id).expect("a UUID")
}

async fn stored_ids(app: &TestApp) -> BTreeSet<Uuid> {
    app.stored_events()
        .await
        .into_iter()
        .map(|r| r.event.event_id)
        .collect()
}

async fn a_valid_batch_is_stored_with_every_field(app: TestApp) {
    // Sub-millisecond digits and an offset: stored as UTC milliseconds.
    let occurred = (Utc::now() - chrono::TimeDelta::minutes(3))
        .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).expect("an offset"))
        .format("%Y-%m-%dT%H:%M:%S%.6f%:z")
        .to_string();
    let full = json!({
        "event_id": Uuid::new_v4().to_string(),
        "occurred_at": occurred,
        "student_id": "stu-0042",
        "class_id": "class-5b",
        "skill_id": "fractions.add-unlike",
        "item_id": "frac-add-017",
        "outcome": "incorrect",
        "attempt": 3,
        "response_ms": 5400,
        "hints_used": 2,
        "hint_bottom_out": true,
        "session_id": "a1b2c3",
        "skill_name": "Adding fractions with unlike denominators",
        "tool": "fractions-tutor",
        "a_field_huddle_does_not_know": {"is": "ignored"}
    });
    let skipped = event_with(json!({"outcome": "skipped", "student_id": "stu-0043"}));
    let before = Utc::now().timestamp_millis();
    let answer = app.post_batch(&[full.clone(), skipped.clone()]).await;
    let after = Utc::now().timestamp_millis();
    assert_eq!(
        answer,
        json!({"accepted": 2, "duplicates": 0, "rejected": []})
    );

    let rows = app.stored_events().await;
    assert_eq!(rows.len(), 2);
    let row = &rows[0];
    assert_eq!(row.event.event_id, uuid(id_of(&full)));
    assert_eq!(row.org_id, ORG);
    assert_eq!(row.event.student_id, "stu-0042");
    assert_eq!(row.event.class_id, "class-5b");
    assert_eq!(row.event.skill_id, "fractions.add-unlike");
    assert_eq!(row.event.item_id, "frac-add-017");
    // Truncated (not rounded) to the millisecond.
    assert_eq!(row.event.occurred_at.timestamp_millis(), millis(&occurred));
    assert_eq!(row.event.outcome.as_str(), "incorrect");
    assert_eq!(row.event.attempt, 3);
    assert_eq!(row.event.response_ms, Some(5400));
    assert_eq!(row.event.hints_used, 2);
    assert!(row.event.hint_bottom_out);
    assert_eq!(row.event.session_id.as_deref(), Some("a1b2c3"));
    assert_eq!(
        row.event.skill_name.as_deref(),
        Some("Adding fractions with unlike denominators")
    );
    assert_eq!(row.event.tool.as_deref(), Some("fractions-tutor"));
    assert!(
        (before..=after).contains(&row.received_at),
        "received_at {} not within the request ({before}..={after})",
        row.received_at
    );
    assert_eq!(rows[1].event.event_id, uuid(id_of(&skipped)));
    assert_eq!(rows[1].event.outcome.as_str(), "skipped");
    assert_eq!(rows[1].event.student_id, "stu-0043");
    assert!(rows[0].seq < rows[1].seq, "seq is the arrival order");
}

async fn optional_fields_get_their_defaults(app: TestApp) {
    let minimal = event();
    let nulls = event_with(json!({
        "attempt": null, "response_ms": null, "hints_used": null, "hint_bottom_out": null,
    }));
    // Explicit JSON nulls mean "not sent" too.
    let mut explicit_nulls = event();
    for field in [
        "attempt",
        "response_ms",
        "hints_used",
        "hint_bottom_out",
        "session_id",
    ] {
        explicit_nulls[field] = Value::Null;
    }
    let answer = app.post_batch(&[minimal, nulls, explicit_nulls]).await;
    assert_eq!(counts(&answer), (3, 0, 0), "{answer}");
    for row in app.stored_events().await {
        assert_eq!(row.event.attempt, 1);
        assert_eq!(row.event.hints_used, 0);
        assert!(!row.event.hint_bottom_out);
        assert_eq!(row.event.response_ms, None);
        assert_eq!(row.event.session_id, None);
        assert_eq!(row.event.skill_name, None);
        assert_eq!(row.event.tool, None);
    }
}

async fn an_empty_batch_is_answered_with_zeroes(app: TestApp) {
    let answer = app.post_batch(&[]).await;
    assert_eq!(
        answer,
        json!({"accepted": 0, "duplicates": 0, "rejected": []})
    );
    assert_eq!(app.count_events().await, 0);
}

/// Each bad event, the code it must get, and whether its `event_id` is echoed.
fn bad_events() -> Vec<(Value, &'static str)> {
    let long = "x".repeat(129);
    let mut cases = Vec::new();
    for field in [
        "event_id",
        "occurred_at",
        "student_id",
        "class_id",
        "skill_id",
        "item_id",
        "outcome",
    ] {
        cases.push((event_with(json!({ field: null })), "missing_field"));
    }
    for bad in ["not-a-uuid", "", "0b6e1c1e-6f0a-4c57-9a43-3f1f4d0e8c1"] {
        cases.push((event_with(json!({"event_id": bad})), "invalid_event_id"));
    }
    for bad in [
        "yesterday",
        "2026-11-20T09:15:03",
        "2026-13-40T09:15:03Z",
        "",
    ] {
        cases.push((event_with(json!({"occurred_at": bad})), "invalid_timestamp"));
    }
    cases.push((
        event_with(json!({"occurred_at": ago(-6 * 60)})),
        "future_timestamp",
    ));
    cases.push((
        event_with(json!({"occurred_at": ago(-24 * 3600)})),
        "future_timestamp",
    ));
    for (field, code) in [
        ("student_id", "invalid_student_id"),
        ("class_id", "invalid_class_id"),
        ("skill_id", "invalid_skill_id"),
        ("item_id", "invalid_item_id"),
    ] {
        for bad in ["a b", "", long.as_str(), "é", "x/y", "x;y"] {
            cases.push((event_with(json!({ field: bad })), code));
        }
    }
    for bad in ["right", "", "Correct"] {
        cases.push((event_with(json!({"outcome": bad})), "invalid_outcome"));
    }
    for bad in [0, -1] {
        cases.push((event_with(json!({"attempt": bad})), "invalid_attempt"));
    }
    for bad in [-1, 3_600_001] {
        cases.push((
            event_with(json!({"response_ms": bad})),
            "invalid_response_ms",
        ));
    }
    cases.push((event_with(json!({"hints_used": -1})), "invalid_hints_used"));
    for patch in [
        json!({"response_ms": "fast"}),
        json!({"attempt": 1.5}),
        json!({"hint_bottom_out": "yes"}),
        json!({"student_id": 42}),
        json!({"outcome": true}),
        json!({"event_id": 7}),
    ] {
        cases.push((event_with(patch), "invalid_type"));
    }
    for not_an_object in [json!(5), json!("event"), json!(null), json!([])] {
        cases.push((not_an_object, "invalid_event"));
    }
    cases
}

async fn each_invalid_event_gets_its_code_and_its_valid_neighbours_are_stored(app: TestApp) {
    // Valid events at even places, one bad case at each odd place.
    let mut batch = Vec::new();
    let mut expected_rejections = Vec::new();
    let mut valid_ids = BTreeSet::new();
    for (bad, code) in bad_events() {
        let good = events(1).remove(0);
        valid_ids.insert(uuid(id_of(&good)));
        batch.push(good);
        // The event_id as sent comes back whenever it was a string.
        let sent_id = bad
            .get("event_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        expected_rejections.push((batch.len() as u64, sent_id, code.to_owned()));
        batch.push(bad);
    }
    let answer = app.post_batch(&batch).await;
    assert_eq!(rejections(&answer), expected_rejections);
    assert_eq!(answer["accepted"], valid_ids.len());
    assert_eq!(answer["duplicates"], 0);
    assert_eq!(stored_ids(&app).await, valid_ids);

    // Each case alone, too: a bad event is never stored and never counted.
    for (bad, code) in bad_events().into_iter().take(3) {
        let answer = app.post_batch(&[bad]).await;
        assert_eq!(counts(&answer), (0, 0, 1), "{answer}");
        assert_eq!(rejections(&answer)[0].2, code);
    }
    assert_eq!(app.count_events().await, valid_ids.len() as i64);
}

async fn the_edges_of_the_valid_ranges_are_accepted(app: TestApp) {
    let id128 = "A-z_0.9:x".repeat(15)[..128].to_owned();
    let batch = vec![
        event_with(json!({"occurred_at": ago(-4 * 60)})),
        event_with(json!({"occurred_at": "2001-02-03T04:05:06Z"})),
        event_with(json!({"response_ms": 0})),
        event_with(json!({"response_ms": 3_600_000})),
        event_with(json!({"attempt": 1, "hints_used": 0})),
        event_with(json!({"attempt": 2_147_483_647_i64, "hints_used": 40})),
        event_with(
            json!({"student_id": id128.clone(), "class_id": id128.clone(),
                          "skill_id": id128.clone(), "item_id": id128.clone()}),
        ),
        event_with(json!({"student_id": "a", "class_id": "b", "skill_id": "c", "item_id": "d"})),
        event_with(json!({"event_id": Uuid::new_v4().to_string().to_uppercase()})),
    ];
    let answer = app.post_batch(&batch).await;
    assert_eq!(counts(&answer), (batch.len() as u64, 0, 0), "{answer}");
    let rows = app.stored_events().await;
    assert_eq!(rows.len(), batch.len());
    assert_eq!(rows[2].event.response_ms, Some(0));
    assert_eq!(rows[3].event.response_ms, Some(3_600_000));
    assert_eq!(rows[5].event.attempt, i32::MAX);
    assert_eq!(rows[6].event.student_id, id128);
    // An upper-case UUID is the same key as its lower-case spelling.
    assert_eq!(rows[8].event.event_id, uuid(id_of(&batch[8])));
    let mut same = batch[8].clone();
    same["event_id"] = json!(id_of(&batch[8]).to_lowercase());
    let answer = app.post_batch(&[same]).await;
    assert_eq!(counts(&answer), (0, 1, 0), "{answer}");
}

async fn a_resent_batch_counts_as_duplicates_and_changes_nothing(app: TestApp) {
    let batch = events(3);
    let first = app.post_batch(&batch).await;
    assert_eq!(counts(&first), (3, 0, 0));
    let before = app.stored_events().await;

    let again = app.post_batch(&batch).await;
    assert_eq!(
        again,
        json!({"accepted": 0, "duplicates": 3, "rejected": []})
    );
    let after = app.stored_events().await;
    assert_eq!(
        format!("{before:?}"),
        format!("{after:?}"),
        "nothing changed"
    );

    // Re-sent among new events: only the new ones are stored.
    let mut mixed = batch.clone();
    mixed.extend(events(2));
    let answer = app.post_batch(&mixed).await;
    assert_eq!(counts(&answer), (2, 3, 0));
    assert_eq!(app.count_events().await, 5);
}

async fn the_same_id_with_other_content_is_a_conflict_and_the_original_stays(app: TestApp) {
    let original = event_with(json!({"outcome": "correct", "response_ms": 1000}));
    app.post_batch(std::slice::from_ref(&original)).await;
    let before = app.stored_events().await;

    let changes = [
        json!({"outcome": "incorrect"}),
        json!({"response_ms": 1001}),
        json!({"student_id": "stu-9999"}),
        json!({"occurred_at": ago(120)}),
        json!({"hints_used": 1}),
        json!({"tool": "another-tool"}),
    ];
    for change in changes {
        let mut changed = original.clone();
        for (k, v) in change.as_object().expect("an object") {
            changed[k] = v.clone();
        }
        let answer = app.post_batch(&[changed]).await;
        assert_eq!(
            rejections(&answer),
            vec![(
                0,
                Some(id_of(&original).to_owned()),
                "event_id_conflict".to_owned()
            )],
            "change {change}: {answer}"
        );
        assert_eq!(counts(&answer), (0, 0, 1));
    }
    let after = app.stored_events().await;
    assert_eq!(
        format!("{before:?}"),
        format!("{after:?}"),
        "the original stays"
    );
}

async fn repeats_inside_one_batch_are_sorted_out(app: TestApp) {
    let a = event();
    let b = event();
    let a_changed = {
        let mut e = a.clone();
        e["outcome"] = json!("incorrect");
        e
    };
    let answer = app
        .post_batch(&[a.clone(), a.clone(), b.clone(), a_changed, a.clone()])
        .await;
    assert_eq!(counts(&answer), (2, 2, 1), "{answer}");
    assert_eq!(
        rejections(&answer),
        vec![(
            3,
            Some(id_of(&a).to_owned()),
            "event_id_conflict".to_owned()
        )]
    );
    let rows = app.stored_events().await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].event.event_id, uuid(id_of(&a)));
    assert_eq!(
        rows[0].event.outcome.as_str(),
        "correct",
        "the first occurrence is kept"
    );
    assert_eq!(rows[1].event.event_id, uuid(id_of(&b)));
}

async fn a_batch_resent_after_a_partial_failure_stores_only_what_was_missing(app: TestApp) {
    let mut batch = events(4);
    batch[1]["outcome"] = json!("maybe");
    batch[3]["attempt"] = json!(0);
    let first = app.post_batch(&batch).await;
    assert_eq!(counts(&first), (2, 0, 2));
    let codes: Vec<(u64, String)> = rejections(&first)
        .into_iter()
        .map(|(i, _, c)| (i, c))
        .collect();
    assert_eq!(
        codes,
        vec![
            (1, "invalid_outcome".to_owned()),
            (3, "invalid_attempt".to_owned())
        ]
    );

    // The tool fixes the two and sends the whole batch again.
    batch[1]["outcome"] = json!("incorrect");
    batch[3]["attempt"] = json!(2);
    let second = app.post_batch(&batch).await;
    assert_eq!(
        second,
        json!({"accepted": 2, "duplicates": 2, "rejected": []})
    );
    let expected: BTreeSet<Uuid> = batch.iter().map(|e| uuid(id_of(e))).collect();
    assert_eq!(stored_ids(&app).await, expected);
    assert_eq!(app.count_events().await, 4);
}

async fn an_event_id_of_another_organisation_is_its_own_event(app: TestApp) {
    let e = event();
    app.post_batch(std::slice::from_ref(&e)).await;
    let other = app.token(Role::Tool, "district-2");
    let response = app
        .post_events_as(&other, &json!({ "events": [e.clone()] }))
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(counts(&answer), (1, 0, 0), "{answer}");
    let rows = app.stored_events().await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].org_id, ORG);
    assert_eq!(rows[1].org_id, "district-2");
}

async fn five_thousand_events_are_accepted(app: TestApp) {
    let answer = app.post_batch(&events(5_000)).await;
    assert_eq!(
        answer,
        json!({"accepted": 5_000, "duplicates": 0, "rejected": []})
    );
    assert_eq!(app.count_events().await, 5_000);
}

async fn five_thousand_and_one_events_are_too_many(app: TestApp) {
    let response = app.post_events(&json!({ "events": events(5_001) })).await;
    assert_error(response, 413, "too_many_events").await;
    assert_eq!(app.count_events().await, 0, "nothing of it is stored");
}

/// A batch of one event padded with an unknown field to exactly `len` bytes.
fn padded_body(len: usize) -> Vec<u8> {
    let head = format!(r#"{{"events": [{}], "padding": ""#, event());
    let tail = "\"}";
    let mut body = head.into_bytes();
    body.resize(len - tail.len(), b'x');
    body.extend_from_slice(tail.as_bytes());
    assert_eq!(body.len(), len);
    body
}

async fn a_body_of_8_mib_is_read_and_one_byte_more_is_too_large(app: TestApp) {
    const LIMIT: usize = 8 * 1024 * 1024;
    let token = app.tool_token();
    let response = app.post_raw(Some(&token), padded_body(LIMIT)).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert_eq!(app.count_events().await, 1);

    let response = app.post_raw(Some(&token), padded_body(LIMIT + 1)).await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.expect("a JSON error");
    assert_error_shape(&body, body["error"]["code"].as_str().unwrap_or("?"));
    assert_eq!(app.count_events().await, 1, "nothing of it is stored");

    // Far larger: still a clean 413, not a dropped connection.
    let response = app.post_raw(Some(&token), padded_body(3 * LIMIT)).await;
    assert_eq!(response.status(), 413);
    assert_eq!(app.count_events().await, 1);
}

async fn malformed_json_is_a_400_with_the_error_shape(app: TestApp) {
    let token = app.tool_token();
    for body in [
        &b"{\"events\": ["[..],
        b"not json",
        b"",
        b"{\"events\": []} trailing",
        b"{\"events\": [{\"event_id\": \"x\",}]}",
        b"\xff\xfe",
    ] {
        let response = app.post_raw(Some(&token), body.to_vec()).await;
        assert_error(response, 400, "malformed_json").await;
    }
    assert_eq!(app.count_events().await, 0);
}

async fn json_that_is_not_a_batch_is_a_422(app: TestApp) {
    for body in [
        json!([]),
        json!({}),
        json!({"events": 3}),
        json!({"events": null}),
        json!({"events": {"0": event()}}),
        json!({"Events": [event()]}),
        json!([event()]),
        json!(3),
        json!("events"),
    ] {
        let response = app.post_events(&body).await;
        assert_error(response, 422, "invalid_batch").await;
    }
    assert_eq!(app.count_events().await, 0);
}

async fn unknown_classes_students_skills_and_items_are_created_under_the_org(app: TestApp) {
    let batch = vec![
        event_with(json!({"class_id": "class-5b", "student_id": "stu-1",
            "skill_id": "fractions.add-unlike", "item_id": "frac-1",
            "skill_name": "Adding fractions with unlike denominators"})),
        event_with(json!({"class_id": "class-5b", "student_id": "stu-2",
            "skill_id": "reading.main-idea.grade3", "item_id": "read-1"})),
        event_with(json!({"class_id": "class-6a", "student_id": "stu-2",
            "skill_id": "spelling", "item_id": "spell-1"})),
        event_with(json!({"class_id": "class-6a", "student_id": "stu-2",
            "skill_id": "spelling", "item_id": "spell-2"})),
    ];
    let answer = app.post_batch(&batch).await;
    assert_eq!(counts(&answer), (4, 0, 0));

    let org_rows: Vec<String> = app.read(|c| orgs::table.select(orgs::org_id).load(c)).await;
    assert_eq!(org_rows, vec![ORG.to_owned()]);
    let class_rows: Vec<(String, String)> = app
        .read(|c| {
            classes::table
                .select((classes::org_id, classes::class_id))
                .order(classes::class_id)
                .load(c)
        })
        .await;
    assert_eq!(
        class_rows,
        vec![
            (ORG.to_owned(), "class-5b".to_owned()),
            (ORG.to_owned(), "class-6a".to_owned())
        ]
    );
    let student_rows: Vec<(String, String)> = app
        .read(|c| {
            students::table
                .select((students::org_id, students::student_id))
                .order(students::student_id)
                .load(c)
        })
        .await;
    assert_eq!(
        student_rows,
        vec![
            (ORG.to_owned(), "stu-1".to_owned()),
            (ORG.to_owned(), "stu-2".to_owned())
        ]
    );
    let enrolment_rows: Vec<(String, String, String, String)> = app
        .read(|c| {
            enrolments::table
                .select((
                    enrolments::org_id,
                    enrolments::class_id,
                    enrolments::student_id,
                    enrolments::source,
                ))
                .order((enrolments::class_id, enrolments::student_id))
                .load(c)
        })
        .await;
    let e = |class: &str, student: &str| {
        (
            ORG.to_owned(),
            class.to_owned(),
            student.to_owned(),
            "event".to_owned(),
        )
    };
    assert_eq!(
        enrolment_rows,
        vec![
            e("class-5b", "stu-1"),
            e("class-5b", "stu-2"),
            e("class-6a", "stu-2")
        ]
    );
    let skills_now = skill_rows(&app).await;
    assert_eq!(
        skills_now,
        vec![
            (
                "fractions.add-unlike".to_owned(),
                Some("Adding fractions with unlike denominators".to_owned()),
                "fractions".to_owned()
            ),
            (
                "reading.main-idea.grade3".to_owned(),
                None,
                "reading".to_owned()
            ),
            ("spelling".to_owned(), None, "spelling".to_owned()),
        ]
    );
    let item_rows: Vec<(String, String, String)> = app
        .read(|c| {
            items::table
                .select((items::org_id, items::item_id, items::skill_id))
                .order(items::item_id)
                .load(c)
        })
        .await;
    let i = |item: &str, skill: &str| (ORG.to_owned(), item.to_owned(), skill.to_owned());
    assert_eq!(
        item_rows,
        vec![
            i("frac-1", "fractions.add-unlike"),
            i("read-1", "reading.main-idea.grade3"),
            i("spell-1", "spelling"),
            i("spell-2", "spelling"),
        ]
    );

    // A later event naming a skill gives it its name; one without a name keeps it.
    app.post_batch(&[event_with(
        json!({"skill_id": "spelling", "item_id": "spell-1",
        "class_id": "class-6a", "student_id": "stu-2", "skill_name": "Spelling"}),
    )])
    .await;
    app.post_batch(&[event_with(
        json!({"skill_id": "spelling", "item_id": "spell-1",
        "class_id": "class-6a", "student_id": "stu-2"}),
    )])
    .await;
    let spelling = skill_rows(&app).await.remove(2);
    assert_eq!(spelling.1.as_deref(), Some("Spelling"));
    let enrolled: i64 = app.read(|c| enrolments::table.count().get_result(c)).await;
    assert_eq!(enrolled, 3, "known enrolments are not repeated");
}

async fn skill_rows(app: &TestApp) -> Vec<(String, Option<String>, String)> {
    app.read(|c| {
        skills::table
            .filter(skills::org_id.eq(ORG))
            .select((skills::skill_id, skills::name, skills::domain))
            .order(skills::skill_id)
            .load(c)
    })
    .await
}

async fn the_same_class_id_in_two_orgs_stays_two_classes(app: TestApp) {
    let one =
        event_with(json!({"class_id": "class-5b", "student_id": "stu-1", "skill_id": "math.x"}));
    let two =
        event_with(json!({"class_id": "class-5b", "student_id": "stu-1", "skill_id": "math.x"}));
    app.post_batch(&[one]).await;
    let response = app
        .post_events_as(
            &app.token(Role::Tool, "district-2"),
            &json!({ "events": [two] }),
        )
        .await;
    assert_eq!(response.status(), 200);

    let class_rows: Vec<(String, String)> = app
        .read(|c| {
            classes::table
                .select((classes::org_id, classes::class_id))
                .order(classes::org_id)
                .load(c)
        })
        .await;
    assert_eq!(
        class_rows,
        vec![
            ("district-1".to_owned(), "class-5b".to_owned()),
            ("district-2".to_owned(), "class-5b".to_owned())
        ]
    );
    let per_org: Vec<(String, String)> = app
        .read(|c| {
            enrolments::table
                .select((enrolments::org_id, enrolments::student_id))
                .order(enrolments::org_id)
                .load(c)
        })
        .await;
    assert_eq!(per_org.len(), 2, "{per_org:?}");
    let orgs_of_events: BTreeSet<String> = app
        .stored_events()
        .await
        .into_iter()
        .map(|r| r.org_id)
        .collect();
    assert_eq!(
        orgs_of_events,
        BTreeSet::from(["district-1".to_owned(), "district-2".to_owned()])
    );
}

async fn concurrent_batches_of_the_same_events_store_each_once(app: TestApp) {
    // Four tools' retries racing: the same 1,000 events, each batch in another order.
    const N: usize = 1_000;
    let base = events(N);
    let orders: Vec<Vec<Value>> = (0..4)
        .map(|k| {
            let mut batch = base.clone();
            match k {
                0 => {}
                1 => batch.reverse(),
                2 => batch.rotate_left(N / 2),
                _ => {
                    // Evens then odds.
                    let (evens, odds): (Vec<_>, Vec<_>) =
                        batch.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
                    batch = evens.into_iter().chain(odds).map(|(_, e)| e).collect();
                }
            }
            batch
        })
        .collect();
    let token = app.tool_token();
    let requests = orders.iter().map(|batch| {
        app.client
            .post(app.url("/api/v1/events"))
            .bearer_auth(&token)
            .json(&json!({ "events": batch }))
            .send()
    });
    let mut handles = Vec::new();
    for request in requests {
        handles.push(actix_web::rt::spawn(async move {
            let response = request.await.expect("POST");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("JSON"))
        }));
    }
    let (mut accepted, mut duplicates) = (0, 0);
    for handle in handles {
        let (status, answer) = handle.await.expect("a request task");
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["rejected"], json!([]), "{answer}");
        accepted += answer["accepted"].as_u64().expect("accepted");
        duplicates += answer["duplicates"].as_u64().expect("duplicates");
    }
    assert_eq!((accepted, duplicates), (N as u64, 3 * N as u64));
    assert_eq!(app.count_events().await, N as i64);
}

async fn a_rejected_conflicting_event_creates_nothing(app: TestApp) {
    let original = event_with(json!({"skill_name": "Adding fractions"}));
    app.post_batch(std::slice::from_ref(&original)).await;
    let mut conflicting = original.clone();
    conflicting["student_id"] = json!("stu-9999");
    conflicting["class_id"] = json!("class-9z");
    conflicting["skill_name"] = json!("Something else");
    let answer = app.post_batch(&[conflicting]).await;
    assert_eq!(rejections(&answer)[0].2, "event_id_conflict");

    let student_count: i64 = app.read(|c| students::table.count().get_result(c)).await;
    let class_count: i64 = app.read(|c| classes::table.count().get_result(c)).await;
    assert_eq!(
        (student_count, class_count),
        (1, 1),
        "rows from a rejected event"
    );
    assert_eq!(
        skill_rows(&app).await[0].1.as_deref(),
        Some("Adding fractions"),
        "a rejected event renamed the skill"
    );
}
