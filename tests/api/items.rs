//! Items a teacher can read, on both backends: tools and administrators describe items
//! (`PUT /api/v1/items`); an administrator's description stands; group cards and the "why"
//! of an insight show example problems with the most common wrong answers, or the item as a
//! question of its skill; the students' answers (`response`) are validated, exported, erased
//! and purged.

use chrono::{SecondsFormat, TimeDelta, Utc};
use diesel::prelude::*;
use huddle::auth::{Claims, Role};
use huddle::db::schema::{events, items};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{assert_error, both_backends, event_with, TestApp, ORG};

both_backends!(
    groups_and_insights_show_the_problems_and_the_common_wrong_answers,
    an_administrator_s_description_stands_and_an_item_keeps_its_skill,
    bad_descriptions_are_refused_one_by_one,
    answers_are_checked_exported_erased_and_purged,
);

const CLASS: &str = "class-4a";
const NINES: &str = "multiplication.facts-9";

async fn put_items(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.client
        .put(app.url("/api/v1/items"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("PUT items")
}

/// PUTs `body` and expects a 200: the parsed answer.
async fn describe(app: &TestApp, token: &str, body: Value) -> Value {
    let response = put_items(app, token, &body).await;
    let status = response.status();
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn get(app: &TestApp, path: &str) -> Value {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(app.token(Role::Admin, ORG))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.expect("JSON")
}

/// A first try of `student` on item `n` of the 9s, `minutes` ago, answering `response`.
fn answer(student: &str, n: u32, correct: bool, minutes: i64, response: Option<&str>) -> Value {
    let at =
        (Utc::now() - TimeDelta::minutes(minutes)).to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut e = json!({
        "event_id": Uuid::new_v4().to_string(),
        "occurred_at": at,
        "student_id": student,
        "class_id": CLASS,
        "skill_id": NINES,
        "skill_name": "Multiplication facts: the 9s",
        "item_id": format!("{NINES}:{n:03}"),
        "outcome": if correct { "correct" } else { "incorrect" },
        "response_ms": 9000,
    });
    if let Some(r) = response {
        e["response"] = r.into();
    }
    e
}

/// Six students struggling with the 9s (a group), each on items 1 to 12 and 14: all six
/// wrong on items 6 and 14, five of six on the others (one or two right answers each, before
/// the wrong ones). On item 6 ("9 × 6 = 54") four of them answered
/// 56 and one 45; item 14 is not described and its answers were not sent.
async fn six_struggling_students(app: &TestApp) {
    let mut batch = Vec::new();
    for s in 0..6u32 {
        let student = format!("stu-{s}");
        for n in (1..=12u32).chain([14]) {
            let correct = n != 6 && n != 14 && n % 6 == s;
            let right = (9 * n).to_string();
            let response = match (n, s) {
                _ if correct => Some(right.as_str()),
                (6, 0..=3) => Some("56"),
                (6, 4) => Some("45"),
                (6 | 14, _) => None,
                _ => Some("1"),
            };
            // The right answers first, then the run of wrong ones: clearly struggling.
            let minutes = if correct { 200 } else { 100 } - i64::from(n);
            batch.push(answer(&student, n, correct, minutes, response));
        }
    }
    let answer = app.post_batch(&batch).await;
    assert_eq!(answer["accepted"], batch.len(), "{answer}");
}

async fn groups_and_insights_show_the_problems_and_the_common_wrong_answers(app: TestApp) {
    let items: Vec<Value> = (1..=13)
        .map(|n| {
            json!({"item_id": format!("{NINES}:{n:03}"), "skill_id": NINES,
            "prompt": format!("9 × {n}"), "answer": (9 * n).to_string()})
        })
        .collect();
    let answer = describe(&app, &app.tool_token(), json!({ "items": items })).await;
    assert_eq!(
        (answer["stored"].as_u64(), answer["unchanged"].as_u64()),
        (Some(13), Some(0)),
        "{answer}"
    );
    // Sent again: nothing changes.
    let again = describe(&app, &app.tool_token(), json!({ "items": items })).await;
    assert_eq!(
        (again["stored"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(13))
    );
    six_struggling_students(&app).await;

    let groups = get(&app, &format!("/api/v1/classes/{CLASS}/groups")).await;
    let group = &groups["groups"][0];
    assert_eq!(
        group["students"].as_array().map(Vec::len),
        Some(6),
        "{groups}"
    );
    let examples = group["examples"].as_array().expect("examples");
    assert_eq!(examples.len(), 3, "{group}");
    let sentences: Vec<&str> = examples
        .iter()
        .filter_map(|e| e["sentence"].as_str())
        .collect();
    // The items most of them got wrong; the common wrong answers named; an item without a
    // description reads as a question of its skill.
    assert_eq!(
        sentences,
        [
            "9 × 6 — 4 of 6 answered 56, 1 answered 45",
            "Question 14 of multiplication facts: the 9s — 6 of 6 got it wrong",
            "9 × 1 — 5 of 6 answered 1",
        ]
    );
    let six = &examples[0];
    assert_eq!(six["answer"], "54");
    assert_eq!(
        (six["answered"].as_u64(), six["wrong"].as_u64()),
        (Some(6), Some(6))
    );
    assert_eq!(
        six["wrong_answers"][0],
        json!({"response": "56", "students": 4})
    );
    let ids: Vec<&Value> = examples.iter().map(|e| &e["item_id"]).collect();
    let revisit: Vec<&Value> = group["items_to_revisit"]
        .as_array()
        .expect("ids")
        .iter()
        .collect();
    assert_eq!(ids, revisit, "the contract's item ids are the examples'");
    for s in &sentences {
        assert!(
            !s.contains('#') && !s.contains(NINES),
            "a problem, not an id: {s}"
        );
    }

    // The insight about the 9s shows the same problems in its "why".
    let insights = get(&app, &format!("/api/v1/classes/{CLASS}/insights")).await;
    let nines = insights["insights"]
        .as_array()
        .expect("insights")
        .iter()
        .find(|i| i["skill_id"] == NINES && i["positive"] == false)
        .unwrap_or_else(|| panic!("an insight about the 9s: {insights}"));
    assert_eq!(nines["examples"], group["examples"], "{nines}");
    assert!(insights["insights"]
        .as_array()
        .expect("insights")
        .iter()
        .all(|i| i["examples"].is_array()));

    // The student page's recent answers show the problem and what the student answered;
    // item 14, not described, reads as a question of its skill.
    let page = get(&app, "/api/v1/students/stu-0").await;
    let recent = page["recent"].as_array().expect("recent");
    let of = |n: u32| {
        recent
            .iter()
            .find(|a| a["item_id"] == format!("{NINES}:{n:03}"))
            .unwrap_or_else(|| panic!("item {n}: {page}"))
    };
    assert_eq!(
        (&of(6)["problem"], &of(6)["response"]),
        (&json!("9 × 6"), &json!("56"))
    );
    assert_eq!(of(12)["problem"], "9 × 12");
    assert_eq!(of(12)["response"], "108", "right, as answered");
    assert_eq!(
        (&of(14)["problem"], &of(14)["response"]),
        (
            &json!("Question 14 of multiplication facts: the 9s"),
            &Value::Null
        )
    );
}

async fn an_administrator_s_description_stands_and_an_item_keeps_its_skill(app: TestApp) {
    let admin = app.token(Role::Admin, ORG);
    let item = |prompt: &str| json!({"items": [{"item_id": "m9-006", "skill_id": NINES, "prompt": prompt, "answer": "54"}]});
    let by_tool = describe(&app, &app.tool_token(), item("9 × 6")).await;
    assert_eq!(by_tool["stored"], 1);
    // An administrator replaces a tool's description...
    assert_eq!(
        describe(&app, &admin, item("Nine times six")).await["stored"],
        1
    );
    // ... and no tool replaces an administrator's, limited to some classes or not.
    let limited = app.sign(
        &Claims::new(
            "tool-4a",
            Role::Tool,
            ORG,
            std::time::Duration::from_secs(600),
        )
        .with_classes(vec![CLASS.into()]),
    );
    for token in [app.tool_token(), limited.clone()] {
        let refused = describe(&app, &token, item("6 × 9")).await;
        assert_eq!(refused["stored"], 0, "{refused}");
        assert_eq!(refused["rejected"][0]["index"], 0);
        assert_eq!(refused["rejected"][0]["item_id"], "m9-006");
        assert_eq!(
            refused["rejected"][0]["error"]["code"],
            "described_by_admin"
        );
    }
    let stored: (Option<String>, Option<String>) = app
        .read(|c| {
            items::table
                .filter(items::org_id.eq(ORG))
                .filter(items::item_id.eq("m9-006"))
                .select((items::prompt, items::described_by))
                .first(c)
        })
        .await;
    assert_eq!(
        stored,
        (Some("Nine times six".into()), Some("admin".into()))
    );
    // A class-limited tool describes items nobody else has.
    let new = json!({"items": [{"item_id": "m9-007", "skill_id": NINES, "prompt": "9 × 7"}]});
    assert_eq!(describe(&app, &limited, new).await["stored"], 1);

    // An item an event put under one skill stays there.
    app.post_batch(&[event_with(
        json!({"item_id": "frac-1", "skill_id": "fractions.add-unlike"}),
    )])
    .await;
    let moved = json!({"items": [
        {"item_id": "frac-1", "skill_id": NINES, "prompt": "1/2 + 1/3"},
        {"item_id": "frac-1", "skill_id": "fractions.add-unlike", "prompt": "1/2 + 1/3"},
    ]});
    let answer = describe(&app, &admin, moved).await;
    assert_eq!(answer["stored"], 1, "{answer}");
    assert_eq!(answer["rejected"][0]["index"], 0);
    assert_eq!(
        answer["rejected"][0]["error"]["code"],
        "item_skill_mismatch"
    );
    // Items of another organisation are its own.
    let other = app.token(Role::Tool, "district-2");
    assert_eq!(describe(&app, &other, item("x")).await["stored"], 1);
    let ours: Option<String> = app
        .read(|c| {
            items::table
                .filter(items::org_id.eq(ORG))
                .filter(items::item_id.eq("m9-006"))
                .select(items::prompt)
                .first(c)
        })
        .await;
    assert_eq!(ours.as_deref(), Some("Nine times six"));
}

async fn bad_descriptions_are_refused_one_by_one(app: TestApp) {
    let tool = app.tool_token();
    let ok =
        |id: &str| json!({"item_id": id, "skill_id": NINES, "prompt": "9 × 6", "answer": "54"});
    let mut long = ok("long");
    long["prompt"] = "x".repeat(201).into();
    let mut line = ok("line");
    line["prompt"] = "9 ×\n6".into();
    let mut escape = ok("escape");
    escape["answer"] = "\u{1b}[2J54".into();
    let mut most = ok("most");
    most["prompt"] = "é".repeat(200).into();
    let answer = describe(
        &app,
        &tool,
        json!({"items": [ok("a"), long, json!({"item_id": "b", "skill_id": NINES}), line, ok("bad id"), escape, 5, most]}),
    )
    .await;
    assert_eq!(answer["stored"], 2, "{answer}");
    let codes: Vec<(u64, &str)> = answer["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap_or(99),
                r["error"]["code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            (1, "invalid_prompt"),
            (2, "missing_field"),
            (3, "invalid_prompt"),
            (4, "invalid_item_id"),
            (5, "invalid_answer"),
            (6, "invalid_item")
        ]
    );
    for r in answer["rejected"].as_array().expect("rejected") {
        assert!(r["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    let stored: i64 = app
        .read(|c| {
            items::table
                .filter(items::org_id.eq(ORG))
                .count()
                .get_result(c)
        })
        .await;
    assert_eq!(stored, 2);

    let too_many: Vec<Value> = (0..1001).map(|i| ok(&format!("i{i}"))).collect();
    assert_error(
        put_items(&app, &tool, &json!({ "items": too_many })).await,
        413,
        "too_many_items",
    )
    .await;
    assert_error(
        put_items(&app, &tool, &json!({"items": 5})).await,
        422,
        "invalid_body",
    )
    .await;
    assert_error(
        put_items(&app, &tool, &json!([ok("a")])).await,
        422,
        "invalid_body",
    )
    .await;
    let teacher = app.token(Role::Teacher, ORG);
    assert_error(
        put_items(&app, &teacher, &json!({"items": [ok("t")]})).await,
        403,
        "forbidden",
    )
    .await;
    let empty = describe(&app, &tool, json!({"items": []})).await;
    assert_eq!(empty, json!({"stored": 0, "unchanged": 0, "rejected": []}));
}

async fn answers_are_checked_exported_erased_and_purged(app: TestApp) {
    let days = |d: i64| crate::helpers::ago(d * 86_400);
    let longest = "é".repeat(200);
    let answer = app
        .post_events(&json!({"events": [
            event_with(json!({"student_id": "stu-1", "item_id": "i1", "response": "  54 ", "outcome": "incorrect"})),
            event_with(json!({"student_id": "stu-1", "item_id": "i2", "response": longest})),
            event_with(json!({"student_id": "stu-1", "item_id": "i3", "response": "x".repeat(201)})),
            event_with(json!({"student_id": "stu-1", "item_id": "i4", "response": "5\n4"})),
            event_with(json!({"student_id": "stu-1", "item_id": "i5", "response": 54})),
            event_with(json!({"student_id": "stu-1", "item_id": "i6", "response": ""})),
            event_with(json!({"student_id": "stu-1", "item_id": "old", "response": "old answer", "occurred_at": days(40)})),
            event_with(json!({"student_id": "stu-2", "item_id": "i1", "response": "12"})),
        ]}))
        .await;
    assert_eq!(answer.status(), 200);
    let answer: Value = answer.json().await.expect("JSON");
    assert_eq!(answer["accepted"], 5, "{answer}");
    let codes: Vec<(u64, &str)> = answer["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .map(|r| {
            (
                r["index"].as_u64().unwrap_or(99),
                r["error"]["code"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        codes,
        [
            (2, "invalid_response"),
            (3, "invalid_response"),
            (4, "invalid_type")
        ]
    );
    // Stored as given: spaces kept, nothing cut; an empty answer is no answer.
    let stored: Vec<(String, Option<String>)> = app
        .read(|c| {
            events::table
                .filter(events::student_id.eq("stu-1"))
                .order(events::item_id)
                .select((events::item_id, events::response))
                .load(c)
        })
        .await;
    assert_eq!(
        stored,
        [
            ("i1".to_owned(), Some("  54 ".to_owned())),
            ("i2".to_owned(), Some(longest.clone())),
            ("i6".to_owned(), None),
            ("old".to_owned(), Some("old answer".to_owned())),
        ]
    );

    // Exported with the rest of the student's events.
    let admin = app.token(Role::Admin, ORG);
    let export = get(&app, "/api/v1/students/stu-1/export").await;
    let responses: Vec<&Value> = export["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| &e["response"])
        .collect();
    assert!(responses.contains(&&json!("  54 ")), "{export}");
    assert!(responses.contains(&&json!(longest)));

    // Purged with old events.
    let db = app.db.clone();
    let purged = huddle::db::blocking(move || huddle::startup::purge_all(&db, 30))
        .await
        .expect("purge");
    assert_eq!(purged, 1);
    let old: i64 = app
        .read(|c| {
            events::table
                .filter(events::response.eq("old answer"))
                .count()
                .get_result(c)
        })
        .await;
    assert_eq!(old, 0, "the purge removes the answer with its event");

    // Erased with the student.
    let response = app
        .client
        .delete(app.url("/api/v1/students/stu-1"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), 200);
    let responses: Vec<(String, Option<String>)> = app
        .read(|c| {
            events::table
                .filter(events::response.is_not_null())
                .select((events::student_id, events::response))
                .load(c)
        })
        .await;
    assert_eq!(responses, [("stu-2".to_owned(), Some("12".to_owned()))]);
}
