//! Knowledge tracing through the service: events in, estimates out (`GET /api/v1/students/…`),
//! late events, re-sends, refits and rebuilds, on both backends.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, TimeDelta, TimeZone, Utc};
use diesel::prelude::*;
use huddle::auth::Role;
use huddle::db::schema::skill_models;
use huddle::kt::SkillModel;
use huddle::sim::{Config, Simulation};
use huddle::store::state;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{assert_error, both_backends, TestApp, ORG};

const SKILL: &str = "fractions.add-unlike";

/// A fixed morning, days before now: 09:00 UTC `days_ago` days back, plus `minutes`.
fn at(days_ago: i64, minutes: i64) -> String {
    let today = Utc::now().date_naive();
    let day = today - TimeDelta::days(days_ago);
    let t: DateTime<Utc> = Utc.from_utc_datetime(&day.and_hms_opt(9, 0, 0).unwrap_or_default())
        + TimeDelta::minutes(minutes);
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An event of `student` on SKILL at `item`.
fn answer(student: &str, item: &str, outcome: &str, when: String) -> Value {
    json!({
        "event_id": Uuid::new_v4().to_string(),
        "occurred_at": when,
        "student_id": student,
        "class_id": "class-5b",
        "skill_id": SKILL,
        "item_id": item,
        "outcome": outcome,
        "session_id": "sess-1",
    })
}

fn with(mut e: Value, patch: Value) -> Value {
    for (k, v) in patch.as_object().expect("an object") {
        e[k] = v.clone();
    }
    e
}

async fn student(app: &TestApp, id: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url(&format!("/api/v1/students/{id}")))
        .bearer_auth(app.token(Role::Admin, ORG))
        .send()
        .await
        .expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// The student's view of SKILL.
async fn skill_of(app: &TestApp, id: &str) -> Value {
    let (status, body) = student(app, id).await;
    assert_eq!(status, 200, "{body}");
    body["skills"]
        .as_array()
        .and_then(|s| s.iter().find(|k| k["skill_id"] == SKILL))
        .cloned()
        .unwrap_or_else(|| panic!("no {SKILL} in {body}"))
}

fn estimate(skill: &Value) -> f64 {
    skill["estimate"].as_f64().expect("an estimate")
}

fn prior() -> f64 {
    SkillModel::default().params.prior
}

async fn stored_states(app: &TestApp) -> BTreeMap<(String, String), state::StateRow> {
    app.db
        .read(|conn| state::all_states(conn, ORG))
        .await
        .expect("reading the states")
}

async fn estimates_move_the_right_way(app: TestApp) {
    let right: Vec<Value> = (0..4)
        .map(|i| answer("stu-right", &format!("i{i}"), "correct", at(1, i)))
        .collect();
    let wrong: Vec<Value> = (0..4)
        .map(|i| answer("stu-wrong", &format!("i{i}"), "incorrect", at(1, i)))
        .collect();
    app.post_batch(&right[..1]).await;
    app.post_batch(&wrong[..1]).await;
    let (r1, w1) = (
        estimate(&skill_of(&app, "stu-right").await),
        estimate(&skill_of(&app, "stu-wrong").await),
    );
    assert!(r1 > prior() && w1 < prior(), "{r1} {w1}");
    app.post_batch(&right[1..]).await;
    app.post_batch(&wrong[1..]).await;
    let r = skill_of(&app, "stu-right").await;
    let w = skill_of(&app, "stu-wrong").await;
    assert!(estimate(&r) > r1 && estimate(&w) < w1, "{r} {w}");
    assert_eq!(r["opportunities"], 4);
    assert_eq!(r["domain"], "fractions");
    for key in ["low", "high"] {
        assert!(r[key].as_f64().is_some(), "{r}");
    }
    assert!(r["low"].as_f64() <= r["estimate"].as_f64());
    assert_eq!(
        w["status"], "learning",
        "4 answers are not enough to struggle"
    );
    assert!(["low", "medium", "high"].contains(&r["confidence"].as_str().unwrap_or("")));
    let (_, body) = student(&app, "stu-right").await;
    assert_eq!(body["student_id"], "stu-right");
    assert_eq!(body["flags"], json!([]));
}

async fn only_first_attempts_count(app: TestApp) {
    app.post_batch(&[
        answer("stu-a", "i1", "incorrect", at(1, 0)),
        with(
            answer("stu-a", "i1", "correct", at(1, 1)),
            json!({"attempt": 2}),
        ),
        // A later first event at the same item (the tool does not count attempts).
        answer("stu-a", "i1", "correct", at(1, 2)),
        // The first event seen at i2 is a second attempt: feedback came first.
        with(
            answer("stu-a", "i2", "correct", at(1, 3)),
            json!({"attempt": 2}),
        ),
    ])
    .await;
    let s = skill_of(&app, "stu-a").await;
    assert_eq!(s["opportunities"], 1, "{s}");
    assert!(estimate(&s) < prior(), "{s}");

    // Retries arriving in a later batch do not count either.
    app.post_batch(&[answer("stu-a", "i1", "correct", at(1, 5))])
        .await;
    assert_eq!(skill_of(&app, "stu-a").await, s);
}

async fn skipped_and_bottom_out_count_as_incorrect(app: TestApp) {
    app.post_batch(&[
        answer("stu-wrong", "i1", "incorrect", at(1, 0)),
        answer("stu-skip", "i1", "skipped", at(1, 0)),
        with(
            answer("stu-hint", "i1", "correct", at(1, 0)),
            json!({"hint_bottom_out": true, "hints_used": 3}),
        ),
        answer("stu-right", "i1", "correct", at(1, 0)),
    ])
    .await;
    let wrong = skill_of(&app, "stu-wrong").await;
    let strip = |mut v: Value| {
        v.as_object_mut().map(|o| o.remove("student_id"));
        v
    };
    assert_eq!(
        strip(skill_of(&app, "stu-skip").await),
        strip(wrong.clone())
    );
    assert_eq!(
        strip(skill_of(&app, "stu-hint").await),
        strip(wrong.clone())
    );
    assert!(estimate(&skill_of(&app, "stu-right").await) > estimate(&wrong));
}

async fn mastery_needs_correct_answers_on_two_days(app: TestApp) {
    // Twelve right first tries in one sitting: a high estimate, not mastery.
    let streak: Vec<Value> = (0..12)
        .map(|i| answer("stu-streak", &format!("i{i}"), "correct", at(2, i)))
        .collect();
    // The same evidence over two days, in two sessions.
    let spaced: Vec<Value> = (0..12)
        .map(|i| {
            let (day, session) = if i < 6 { (2, "s-mon") } else { (1, "s-tue") };
            with(
                answer("stu-spaced", &format!("i{i}"), "correct", at(day, i)),
                json!({ "session_id": session }),
            )
        })
        .collect();
    app.post_batch(&streak).await;
    app.post_batch(&spaced).await;
    let one_day = skill_of(&app, "stu-streak").await;
    let two_days = skill_of(&app, "stu-spaced").await;
    assert!(estimate(&one_day) >= 0.95, "{one_day}");
    assert_eq!(one_day["status"], "learning", "{one_day}");
    assert_eq!(estimate(&one_day), estimate(&two_days));
    assert_eq!(two_days["status"], "mastered", "{two_days}");

    // Without session ids, sessions come from 30 minutes of inactivity: also two days.
    let derived: Vec<Value> = spaced
        .iter()
        .map(|e| {
            let mut e = with(e.clone(), json!({"student_id": "stu-derived"}));
            e["event_id"] = json!(Uuid::new_v4().to_string());
            e.as_object_mut().map(|o| o.remove("session_id"));
            e
        })
        .collect();
    app.post_batch(&derived).await;
    assert_eq!(skill_of(&app, "stu-derived").await["status"], "mastered");
}

/// A student's history, with some events held back and sent a day "later".
fn history(student: &str) -> Vec<Value> {
    let outcomes = [
        "correct",
        "incorrect",
        "correct",
        "skipped",
        "correct",
        "correct",
    ];
    let mut events = Vec::new();
    for day in 0..3 {
        for (i, outcome) in outcomes.iter().enumerate() {
            let item = format!("d{day}-i{}", i % 4);
            let minutes = i as i64 * 7 + if i == 5 { 45 } else { 0 };
            let mut e = answer(student, &item, outcome, at(4 - day, minutes));
            if day == 1 {
                e.as_object_mut().map(|o| o.remove("session_id"));
            }
            events.push(e);
        }
    }
    events
}

async fn a_late_event_gives_the_same_state_as_in_order_arrival(app: TestApp) {
    let in_order = history("stu-in-order");
    app.post_batch(&in_order).await;

    let late = history("stu-late");
    // Day 0's third and day 1's first answers arrive last, after the rest.
    let held = [2, 6];
    let first: Vec<Value> = late
        .iter()
        .enumerate()
        .filter(|(i, _)| !held.contains(i))
        .map(|(_, e)| e.clone())
        .collect();
    app.post_batch(&first).await;
    let before = skill_of(&app, "stu-late").await;
    for i in held {
        app.post_batch(&[late[i].clone()]).await;
    }
    let after = skill_of(&app, "stu-late").await;
    assert_ne!(before, after, "the late events changed nothing");

    let states = stored_states(&app).await;
    let a = &states[&("stu-in-order".to_owned(), SKILL.to_owned())];
    let b = &states[&("stu-late".to_owned(), SKILL.to_owned())];
    assert_eq!(a.state, b.state);
    assert_eq!(a.last_occurred_at, b.last_occurred_at);
    assert_eq!(a.session_start, b.session_start);
}

async fn re_sent_duplicates_change_nothing(app: TestApp) {
    let batch = history("stu-0042");
    app.post_batch(&batch).await;
    let before = stored_states(&app).await;
    let view = skill_of(&app, "stu-0042").await;
    let answer = app.post_batch(&batch).await;
    assert_eq!(answer["duplicates"], batch.len());
    let after = stored_states(&app).await;
    assert_eq!(before.len(), after.len());
    for (key, row) in &before {
        let again = &after[key];
        assert_eq!(
            (&row.state, row.last_occurred_at, row.last_seq),
            (&again.state, again.last_occurred_at, again.last_seq)
        );
    }
    assert_eq!(skill_of(&app, "stu-0042").await, view);
}

async fn students_are_read_only_within_the_org_by_admins(app: TestApp) {
    app.post_batch(&[answer("stu-1", "i1", "correct", at(1, 0))])
        .await;
    let (status, _) = student(&app, "stu-1").await;
    assert_eq!(status, 200);
    let (status, body) = student(&app, "stu-unknown").await;
    assert_eq!(status, 404, "{body}");
    // Another organisation's administrator does not see it.
    let other = app
        .client
        .get(app.url("/api/v1/students/stu-1"))
        .bearer_auth(app.token(Role::Admin, "district-2"))
        .send()
        .await
        .expect("GET");
    assert_error(other, 404, "not_found").await;
    for role in [Role::Tool, Role::Teacher] {
        let response = app
            .client
            .get(app.url("/api/v1/students/stu-1"))
            .bearer_auth(app.token(role, ORG))
            .send()
            .await
            .expect("GET");
        assert_error(response, 403, "forbidden").await;
    }
    let refit = app
        .client
        .post(app.url("/api/v1/admin/refit"))
        .bearer_auth(app.tool_token())
        .send()
        .await
        .expect("POST");
    assert_error(refit, 403, "forbidden").await;
}

/// A simulated class as contract events: `students` students on `skills` skills. Students
/// with an odd number send no session ids (sessions are then derived).
fn simulated(students: usize, skills: usize, days: u32, seed: u64) -> Vec<Value> {
    let out = Simulation::new(Config {
        students,
        skills,
        days,
        seed,
        ..Config::default()
    })
    .run();
    out.events
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(out.wire(e)).expect("an event");
            if e.student % 2 == 1 {
                v.as_object_mut().map(|o| o.remove("session_id"));
            }
            v
        })
        .collect()
}

/// Posts `events` in shuffled batches of random sizes: many arrive late.
async fn post_shuffled(app: &TestApp, mut events: Vec<Value>, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    // Mostly in order, as tools send; a quarter of the events moved anywhere.
    let n = events.len();
    for _ in 0..n / 4 {
        let (a, b) = (rng.random_range(0..n), rng.random_range(0..n));
        events.swap(a, b);
    }
    let mut rest = events.as_slice();
    while !rest.is_empty() {
        let size = rng.random_range(1..400).min(rest.len());
        let mut batch = rest[..size].to_vec();
        batch.shuffle(&mut rng);
        let answer = app.post_batch(&batch).await;
        assert_eq!(answer["accepted"], size, "{answer}");
        rest = &rest[size..];
    }
}

/// The stored states, then the states a rebuild from the events writes: they must agree.
async fn assert_online_equals_rebuild(app: &TestApp) -> usize {
    let online = stored_states(app).await;
    let written = app
        .db
        .write(huddle::db::Changes::Records, |conn| {
            state::rebuild(conn, ORG, None, &Default::default())
        })
        .await
        .expect("rebuilding");
    assert_eq!(written, online.len());
    let rebuilt = stored_states(app).await;
    assert_eq!(online.len(), rebuilt.len());
    for (key, row) in &online {
        let again = &rebuilt[key];
        assert_eq!(
            (
                &row.state,
                row.last_occurred_at,
                row.last_seq,
                row.session_start
            ),
            (
                &again.state,
                again.last_occurred_at,
                again.last_seq,
                again.session_start
            ),
            "{key:?}"
        );
    }
    online.len()
}

async fn online_states_equal_a_rebuild(app: TestApp) {
    post_shuffled(&app, simulated(30, 3, 6, 11), 3).await;
    let states = assert_online_equals_rebuild(&app).await;
    assert!(states >= 30, "{states}");
}

async fn refit_stores_models_and_recomputes_states(app: TestApp) {
    // 60 students on 2 skills (enough to fit), and 3 students on a skill of their own.
    let mut events = simulated(60, 2, 8, 5);
    let few: Vec<Value> = (0..3)
        .flat_map(|s| {
            (0..5).map(move |i| {
                with(
                    answer(
                        &format!("stu-few-{s}"),
                        &format!("i{i}"),
                        "correct",
                        at(3, i),
                    ),
                    json!({"skill_id": "rare.skill"}),
                )
            })
        })
        .collect();
    events.extend(few);
    post_shuffled(&app, events, 9).await;
    let before = stored_states(&app).await;

    let response = app
        .client
        .post(app.url("/api/v1/admin/refit"))
        .bearer_auth(app.token(Role::Admin, ORG))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 200);
    let summary: Value = response.json().await.expect("JSON");
    let skills = summary["skills"].as_array().expect("skills");
    assert_eq!(skills.len(), 2, "{summary}");
    for skill in skills {
        assert!(skill["students"].as_u64() >= Some(50), "{skill}");
        assert!(skill["guess"].as_f64() < Some(0.5), "{skill}");
    }
    assert_eq!(summary["skills_skipped"], 1, "{summary}");
    assert_eq!(summary["students_recomputed"], 60, "{summary}");

    let models: Vec<(String, Option<i64>, i32)> = app
        .read(|c| {
            skill_models::table
                .select((
                    skill_models::skill_id,
                    skill_models::fitted_at,
                    skill_models::students,
                ))
                .order(skill_models::skill_id)
                .load(c)
        })
        .await;
    assert_eq!(models.len(), 2);
    assert!(models.iter().all(|(_, at, n)| at.is_some() && *n >= 50));

    // The refitted skills' states changed; the small skill kept the defaults.
    let after = stored_states(&app).await;
    let fitted: Vec<&str> = models.iter().map(|(s, _, _)| s.as_str()).collect();
    let changed = before
        .iter()
        .filter(|(k, row)| fitted.contains(&k.1.as_str()) && after[*k].state != row.state)
        .count();
    assert!(changed > 0, "no state moved after the refit");
    let rare = ("stu-few-0".to_owned(), "rare.skill".to_owned());
    assert_eq!(before[&rare].state, after[&rare].state);

    // New events use the fitted models, and the online path still equals a rebuild.
    post_shuffled(&app, simulated(60, 2, 2, 77), 4).await;
    assert_online_equals_rebuild(&app).await;
}

both_backends!(
    estimates_move_the_right_way,
    only_first_attempts_count,
    skipped_and_bottom_out_count_as_incorrect,
    mastery_needs_correct_answers_on_two_days,
    a_late_event_gives_the_same_state_as_in_order_arrival,
    re_sent_duplicates_change_nothing,
    students_are_read_only_within_the_org_by_admins,
    online_states_equal_a_rebuild,
    refit_stores_models_and_recomputes_states,
);

/// Two nodes on one PostgreSQL database receive batches of the same students at once: the
/// per-student locks keep every update, so the states equal a rebuild.
#[actix_web::test]
async fn two_nodes_never_lose_a_state_update_on_postgres() {
    use huddle::config::Settings;
    use huddle::startup::Application;
    use secrecy::SecretString;

    let app = TestApp::spawn(crate::helpers::Backend::Postgres).await;
    let mut settings = Settings::new(
        app.db.url().clone(),
        SecretString::from(crate::helpers::TEST_SECRET.to_owned()),
    );
    settings.bind = "127.0.0.1:0".into();
    settings.workers = 2;
    let second = Application::build(settings).await.expect("a second node");
    let second_address = format!("http://127.0.0.1:{}", second.port());
    actix_web::rt::spawn(second.run_until_stopped());

    // In time order, as tools send: every batch is applied on top of the stored state, so
    // an update lost to a race would stay lost.
    let events = simulated(6, 2, 10, 21);
    let token = app.tool_token();
    let mut handles = Vec::new();
    for (k, batch) in events.chunks(4).enumerate() {
        let node = if k % 2 == 0 {
            app.address.clone()
        } else {
            second_address.clone()
        };
        let (client, token, body) = (
            app.client.clone(),
            token.clone(),
            json!({ "events": batch }),
        );
        handles.push(actix_web::rt::spawn(async move {
            // As a tool does: a batch refused while the node's writer queue is full
            // (503 with Retry-After) is sent again.
            loop {
                let response = client
                    .post(format!("{node}/api/v1/events"))
                    .bearer_auth(&token)
                    .json(&body)
                    .send()
                    .await
                    .expect("POST");
                let status = response.status();
                if status == 503 {
                    actix_web::rt::time::sleep(std::time::Duration::from_millis(200)).await;
                    continue;
                }
                assert_eq!(status, 200, "{}", response.text().await.unwrap_or_default());
                break;
            }
        }));
    }
    for handle in handles {
        handle.await.expect("a request");
    }
    assert_eq!(app.count_events().await, events.len() as i64);
    assert_online_equals_rebuild(&app).await;
}
