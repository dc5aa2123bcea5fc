//! The lesson: `GET …/now` (the sitting and each student's state), check-ins, the live stream.

use std::time::Duration;

use huddle::auth::Role;
use serde_json::{json, Value};

use crate::accounts::{add_user, token_for};
use crate::helpers::{
    ago, assert_error, both_backends, event_with, Backend, Served, TestApp, TestDatabase, ORG,
};

both_backends!(
    every_state_rule_on_known_answers,
    fewer_than_three_students_are_no_sitting,
    a_checkin_clears_needs_a_person_until_new_evidence,
    checkins_are_audited_exported_and_erased,
    checkin_input_is_checked,
    only_the_classes_teacher_reads_now,
    the_stream_pushes_new_answers_and_checkins,
    stream_tickets_are_for_one_class_and_expire,
    a_user_holds_at_most_four_streams,
    attention_names_the_unseen_and_follows_up_help,
    the_adoption_report_counts_checkins_and_the_students_checked_in_with,
    what_followed_a_checkin_or_a_finished_plan_is_a_today_insight,
    what_followed_an_insight_marked_done_is_followed_up,
    the_now_read_and_the_stream_agree_on_a_busy_class,
);

const CLASS: &str = "class-now";
const SKILL: &str = "fractions.add-unlike";

/// An answer of `student` in [`CLASS`] `seconds` ago; `patch` changes any field.
fn answer(student: &str, seconds: i64, outcome: &str, patch: Value) -> Value {
    let mut e = event_with(json!({
        "student_id": student,
        "class_id": CLASS,
        "skill_id": SKILL,
        "item_id": format!("item-{}", seconds),
        "occurred_at": ago(seconds),
        "outcome": outcome,
        "response_ms": 20_000,
    }));
    for (k, v) in patch.as_object().expect("an object") {
        e[k] = v.clone();
    }
    e
}

/// A run of answers by `student`, one per `outcomes` char (c, i, s), the last `last` seconds
/// ago and the others 30 seconds apart before it.
fn run(student: &str, outcomes: &str, last: i64, patch: Value) -> Vec<Value> {
    let n = outcomes.len() as i64;
    outcomes
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let outcome = match c {
                'c' => "correct",
                'i' => "incorrect",
                _ => "skipped",
            };
            answer(
                student,
                last + (n - 1 - i as i64) * 30,
                outcome,
                patch.clone(),
            )
        })
        .collect()
}

fn admin(app: &TestApp) -> String {
    app.token(Role::Admin, ORG)
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn now(app: &TestApp) -> Value {
    let (status, body) = get_json(app, &admin(app), &format!("/api/v1/classes/{CLASS}/now")).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn student<'a>(now: &'a Value, id: &str) -> &'a Value {
    now["students"]
        .as_array()
        .expect("students")
        .iter()
        .find(|s| s["student_id"] == id)
        .unwrap_or_else(|| panic!("{id} is missing from {now}"))
}

async fn checkin(app: &TestApp, token: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/classes/{CLASS}/checkins")))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("POST checkins")
}

async fn every_state_rule_on_known_answers(app: TestApp) {
    let mut events = Vec::new();
    // Needs a person: 3 of the last 4 first tries wrong.
    events.extend(run("stuck", "ccicii", 20, json!({})));
    // Many tries without 3 right in a row.
    events.extend(run("spinning", "cicicciicc", 15, json!({})));
    // Guessing: answers in 300 ms (under any rapid-guess threshold).
    events.extend(run("guesser", "ciici", 25, json!({"response_ms": 300})));
    // Clicking through 3 hints to the answer in 3 seconds.
    events.extend(run(
        "clicker",
        "ccc",
        30,
        json!({"hints_used": 3, "hint_bottom_out": true, "response_ms": 3000}),
    ));
    // Giving up: skips.
    events.extend(run("skipper", "ccss", 10, json!({})));
    // Idle: nothing for 5 minutes.
    events.extend(run("quiet", "cc", 300, json!({})));
    // Doing well: 5 right first tries without hints.
    events.extend(run("strong", "icccccc", 5, json!({})));
    // Working.
    events.extend(run("busy", "cic", 40, json!({})));
    // Not here: stuck yesterday, nothing today. Old flags are history, not now.
    events.extend(run("absent", "iiiiii", 26 * 3600, json!({})));
    let body = app.post_batch(&events).await;
    assert_eq!(body["accepted"], events.len(), "{body}");

    let now = now(&app).await;
    assert_eq!(now["sitting"]["active"], true, "{now}");
    let states: Vec<(&str, &str)> = now["students"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["student_id"].as_str().unwrap(),
                s["state"].as_str().unwrap(),
            )
        })
        .collect();
    let expect = [
        ("stuck", "needs_person"),
        ("spinning", "needs_person"),
        ("guesser", "guessing"),
        ("clicker", "hints"),
        ("skipper", "giving_up"),
        ("quiet", "idle"),
        ("busy", "working"),
        ("strong", "doing_well"),
        ("absent", "not_here"),
    ];
    for (id, state) in expect {
        assert!(
            states.contains(&(id, state)),
            "{id} should be {state}: {states:?}"
        );
    }
    // Ordered needs-a-person first, not here last.
    let rank = |st: &str| expect.iter().map(|e| e.1).position(|x| x == st).unwrap();
    let ranks: Vec<usize> = states.iter().map(|(_, st)| rank(st)).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{states:?}");

    let stuck = student(&now, "stuck");
    assert!(
        stuck["reason"]
            .as_str()
            .unwrap()
            .contains("3 of the last 4"),
        "{stuck}"
    );
    assert_eq!(stuck["skill_id"], SKILL);
    assert_eq!(stuck["answers"], 6);
    assert_eq!(stuck["first_tries_right"], 3);
    assert_eq!(stuck["minutes_since_last_answer"], 0);
    assert!(stuck["since"].is_string());
    assert!(student(&now, "spinning")["reason"]
        .as_str()
        .unwrap()
        .contains("10 tries"));
    let quiet = student(&now, "quiet");
    assert_eq!(quiet["minutes_since_last_answer"], 5, "{quiet}");
    assert!(
        quiet["reason"].as_str().unwrap().contains("5 minutes"),
        "{quiet}"
    );
    assert_eq!(student(&now, "absent")["answers"], 0);
}

async fn fewer_than_three_students_are_no_sitting(app: TestApp) {
    let mut events = run("a", "iiii", 10, json!({}));
    events.extend(run("b", "cccc", 10, json!({})));
    app.post_batch(&events).await;
    let now = now(&app).await;
    assert!(now["sitting"].is_null(), "{now}");
    assert_eq!(student(&now, "a")["state"], "not_here");

    app.post_batch(&run("c", "c", 5, json!({}))).await;
    let now = self::now(&app).await;
    assert_eq!(now["sitting"]["active"], true, "{now}");
    assert_eq!(student(&now, "a")["state"], "needs_person");
}

async fn a_checkin_clears_needs_a_person_until_new_evidence(app: TestApp) {
    let mut events = run("stuck", "ciii", 60, json!({}));
    events.extend(run("b", "cc", 30, json!({})));
    events.extend(run("c", "cc", 30, json!({})));
    app.post_batch(&events).await;
    assert_eq!(student(&now(&app).await, "stuck")["state"], "needs_person");

    let r = checkin(
        &app,
        &admin(&app),
        json!({"student_ids": ["stuck"], "skill_id": SKILL, "note": "common denominators"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["checkins"][0]["student_id"], "stuck");
    assert_eq!(body["checkins"][0]["note"], "common denominators");
    assert_eq!(body["checkins"][0]["checked_by"], "admin-test");

    let now = now(&app).await;
    let stuck = student(&now, "stuck");
    assert_eq!(stuck["state"], "working", "{stuck}");
    assert!(
        stuck["reason"].as_str().unwrap().contains("checked in"),
        "{stuck}"
    );
    assert_eq!(stuck["last_checkin_at"], body["checkins"][0]["at"]);

    // Answers after the check-in: two wrong are not yet enough; 3 of 4 wrong again are.
    let after = |outcome: &str| answer("stuck", -1, outcome, json!({}));
    app.post_batch(&[after("incorrect"), after("correct")])
        .await;
    assert_eq!(student(&self::now(&app).await, "stuck")["state"], "working");
    app.post_batch(&[after("incorrect"), after("incorrect")])
        .await;
    assert_eq!(
        student(&self::now(&app).await, "stuck")["state"],
        "needs_person"
    );
}

async fn checkins_are_audited_exported_and_erased(app: TestApp) {
    let mut events = run("stuck", "ciii", 60, json!({}));
    events.extend(run("other", "cc", 30, json!({})));
    app.post_batch(&events).await;
    let teacher = add_user(&app, "t@school.test", Role::Teacher, ORG, &[CLASS]).await;
    let token = token_for(&app, &teacher, Role::Teacher, ORG);
    let r = checkin(&app, &token, json!({"student_ids": ["stuck", "other"]})).await;
    assert_eq!(r.status(), 201);

    let (_, audit) = get_json(
        &app,
        &admin(&app),
        "/api/v1/admin/audit?action=student.checkin",
    )
    .await;
    let entries = audit["entries"].as_array().cloned().unwrap_or_default();
    let checkins: Vec<&Value> = entries
        .iter()
        .filter(|e| e["action"] == "student.checkin")
        .collect();
    assert_eq!(checkins.len(), 2, "{audit}");
    assert!(
        checkins
            .iter()
            .all(|e| e["actor"] == teacher.as_str() || e["actor_sub"] == teacher.as_str()),
        "{audit}"
    );

    let (status, export) = get_json(&app, &admin(&app), "/api/v1/students/stuck/export").await;
    assert_eq!(status, 200);
    assert_eq!(export["checkins"].as_array().unwrap().len(), 1, "{export}");
    assert_eq!(export["checkins"][0]["checked_by"], teacher.as_str());

    let r = app
        .client
        .delete(app.url("/api/v1/students/stuck"))
        .bearer_auth(admin(&app))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let left: Vec<String> = app
        .read(|conn| {
            use diesel::prelude::*;
            use huddle::db::schema::checkins;
            checkins::table.select(checkins::student_id).load(conn)
        })
        .await;
    assert_eq!(left, vec!["other".to_string()]);
}

async fn checkin_input_is_checked(app: TestApp) {
    app.post_batch(&run("a", "c", 30, json!({}))).await;
    let token = admin(&app);
    let cases = [
        (json!({"student_ids": []}), 422, "invalid_checkin"),
        (json!({"student_ids": ["a", "a"]}), 422, "invalid_checkin"),
        (json!({"student_ids": ["nobody"]}), 422, "unknown_student"),
        (json!({"student_ids": "a"}), 422, "invalid_checkin"),
        (
            json!({"student_ids": ["a"], "colour": 1}),
            422,
            "invalid_checkin",
        ),
        (
            json!({"student_ids": ["a"], "note": "x".repeat(2001)}),
            422,
            "note_too_long",
        ),
    ];
    for (body, status, code) in cases {
        assert_error(checkin(&app, &token, body).await, status, code).await;
    }
    let r = app
        .client
        .post(app.url(&format!("/api/v1/classes/{CLASS}/checkins")))
        .bearer_auth(&token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "malformed_json").await;
    let r = app
        .client
        .post(app.url("/api/v1/classes/no-such-class/checkins"))
        .bearer_auth(&token)
        .json(&json!({"student_ids": ["a"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A tool may not check in.
    let r = checkin(&app, &app.tool_token(), json!({"student_ids": ["a"]})).await;
    assert_eq!(r.status(), 403);
}

async fn only_the_classes_teacher_reads_now(app: TestApp) {
    app.post_batch(&run("a", "c", 30, json!({}))).await;
    app.post_batch(&[event_with(
        json!({"class_id": "other-class", "student_id": "z"}),
    )])
    .await;
    let mine = add_user(&app, "mine@school.test", Role::Teacher, ORG, &[CLASS]).await;
    let theirs = add_user(
        &app,
        "theirs@school.test",
        Role::Teacher,
        ORG,
        &["other-class"],
    )
    .await;
    let path = format!("/api/v1/classes/{CLASS}/now");
    let (status, _) = get_json(&app, &token_for(&app, &mine, Role::Teacher, ORG), &path).await;
    assert_eq!(status, 200);
    let (status, body) = get_json(&app, &token_for(&app, &theirs, Role::Teacher, ORG), &path).await;
    assert_eq!(status, 403, "{body}");
    let r = checkin(
        &app,
        &token_for(&app, &theirs, Role::Teacher, ORG),
        json!({"student_ids": ["a"]}),
    )
    .await;
    assert_eq!(r.status(), 403);
    let (status, _) = get_json(&app, &app.tool_token(), &path).await;
    assert_eq!(status, 403);
    let r = app.get(&path).await;
    assert_eq!(r.status(), 401);
}

/// Asks for a stream ticket for `class`.
async fn ticket(app: &TestApp, token: &str, class: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/classes/{class}/now/ticket")))
        .bearer_auth(token)
        .send()
        .await
        .expect("POST ticket")
}

/// Reads server-sent events from a response, one `data` payload at a time.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn next(&mut self, within: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event: ") {
                        event = e.to_owned();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push_str(d);
                    }
                }
                if data.is_empty() {
                    continue;
                }
                return Some((event, serde_json::from_str(&data).expect("JSON data")));
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next `now` event in which `pred` holds.
    async fn until(&mut self, within: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let (event, data) = self.next(left).await?;
            if event == "now" && pred(&data) {
                return Some(data);
            }
        }
    }
}

async fn open_stream(app: &TestApp, token: &str) -> Events {
    let t: Value = ticket(app, token, CLASS).await.json().await.unwrap();
    let url = app.url(t["stream_url"].as_str().expect("a stream_url"));
    let response = app.client.get(url).send().await.expect("GET stream");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    Events {
        response,
        buffer: String::new(),
    }
}

fn state_of(now: &Value, id: &str) -> Option<String> {
    now["students"]
        .as_array()?
        .iter()
        .find(|s| s["student_id"] == id)
        .and_then(|s| s["state"].as_str().map(str::to_owned))
}

async fn the_stream_pushes_new_answers_and_checkins(app: TestApp) {
    let mut events = run("a", "cc", 60, json!({}));
    events.extend(run("b", "cc", 60, json!({})));
    events.extend(run("c", "cc", 60, json!({})));
    app.post_batch(&events).await;
    let teacher = add_user(&app, "t@school.test", Role::Teacher, ORG, &[CLASS]).await;
    let token = token_for(&app, &teacher, Role::Teacher, ORG);
    let mut stream = open_stream(&app, &token).await;
    let first = stream
        .until(Duration::from_secs(5), |_| true)
        .await
        .expect("a first event");
    assert_eq!(state_of(&first, "a").as_deref(), Some("working"), "{first}");

    // Three wrong answers: the stream shows "a" needs a person within 2 seconds.
    let posted = std::time::Instant::now();
    app.post_batch(&run("a", "iii", 1, json!({}))).await;
    let pushed = stream
        .until(Duration::from_secs(2), |n| {
            state_of(n, "a").as_deref() == Some("needs_person")
        })
        .await
        .expect("the new answers pushed within 2 s");
    assert!(posted.elapsed() < Duration::from_secs(2));
    assert_eq!(pushed["sitting"]["active"], true);

    // A check-in clears the tile, pushed too.
    let r = checkin(&app, &token, json!({"student_ids": ["a"]})).await;
    assert_eq!(r.status(), 201);
    stream
        .until(Duration::from_secs(2), |n| {
            state_of(n, "a").as_deref() == Some("working")
        })
        .await
        .expect("the check-in pushed within 2 s");
}

/// `GET …/now` folds the sitting's answers student by student as it reads them; the stream
/// works from the class's answers read whole and kept. On a busy class (two skills, every
/// kind of answer, an earlier sitting, an idle student, check-ins with answers after one) both
/// show the same sitting and the same students.
async fn the_now_read_and_the_stream_agree_on_a_busy_class(app: TestApp) {
    let mut events = Vec::new();
    for s in ["old-1", "old-2", "old-3"] {
        events.extend(run(s, "iiii", 3 * 3_600, json!({})));
    }
    let mut x: u64 = 7;
    for i in 0..10i64 {
        // Student 9 stopped 5 minutes ago.
        let last = if i == 9 { 300 } else { 20 };
        for k in 0..24i64 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = x >> 33;
            let response_ms = [300, 2_500, 20_000][((r >> 9) % 3) as usize];
            let patch = json!({
                "skill_id": if r & 16 == 0 { SKILL } else { "fractions.compare" },
                "attempt": 1 + (r >> 5) % 2,
                "hints_used": (r >> 6) % 3,
                "hint_bottom_out": (r >> 8) % 4 == 0,
                "response_ms": response_ms,
            });
            let outcome = ["correct", "correct", "incorrect", "skipped"][(r % 4) as usize];
            events.push(answer(
                &format!("s{i}"),
                last + (23 - k) * 30 + i,
                outcome,
                patch,
            ));
        }
    }
    app.post_batch(&events).await;
    let teacher = add_user(&app, "t@school.test", Role::Teacher, ORG, &[CLASS]).await;
    let token = token_for(&app, &teacher, Role::Teacher, ORG);
    let r = checkin(&app, &token, json!({"student_ids": ["s1", "s2"]})).await;
    assert_eq!(r.status(), 201);
    tokio::time::sleep(Duration::from_millis(20)).await;
    app.post_batch(&run("s1", "ic", 0, json!({}))).await;

    let mut streamed = Value::Null;
    let mut stream = open_stream(&app, &token).await;
    // The first frame is the stream's own read (as GET …/now); the next comes from the live
    // view.
    for _ in 0..2 {
        streamed = stream
            .until(Duration::from_secs(20), |_| true)
            .await
            .expect("a frame");
    }
    let (status, read) = get_json(&app, &token, &format!("/api/v1/classes/{CLASS}/now")).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["sitting"], streamed["sitting"]);
    assert!(read["sitting"]["active"].as_bool().unwrap(), "{read}");
    let students = |now: &Value| -> Vec<Value> {
        let mut list = now["students"].as_array().expect("students").clone();
        for s in &mut list {
            // Worked out at each one's own moment.
            s.as_object_mut()
                .unwrap()
                .remove("minutes_since_last_answer");
        }
        list
    };
    assert_eq!(students(&read), students(&streamed));
    let states: std::collections::HashSet<&str> = read["students"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["state"].as_str())
        .collect();
    assert!(states.len() >= 4, "a varied class: {states:?}");
    assert_eq!(state_of(&read, "s9").as_deref(), Some("idle"), "{read}");
    assert_eq!(state_of(&read, "old-1").as_deref(), Some("not_here"));
}

async fn stream_tickets_are_for_one_class_and_expire(app: TestApp) {
    app.post_batch(&run("a", "c", 30, json!({}))).await;
    app.post_batch(&[event_with(
        json!({"class_id": "other-class", "student_id": "z"}),
    )])
    .await;
    let mine = add_user(&app, "mine@school.test", Role::Teacher, ORG, &[CLASS]).await;
    let token = token_for(&app, &mine, Role::Teacher, ORG);
    // No ticket for another teacher's class.
    assert_eq!(ticket(&app, &token, "other-class").await.status(), 403);
    // My class's ticket does not open another class's stream.
    let t: Value = ticket(&app, &token, CLASS).await.json().await.unwrap();
    let t = t["ticket"].as_str().unwrap();
    let r = app
        .get(&format!(
            "/api/v1/classes/other-class/now/stream?ticket={t}"
        ))
        .await;
    assert_eq!(r.status(), 403);
    // A forged ticket, and no ticket at all.
    let r = app
        .get(&format!("/api/v1/classes/{CLASS}/now/stream?ticket=x{t}"))
        .await;
    assert_error(r, 401, "invalid_ticket").await;
    let r = app
        .get(&format!("/api/v1/classes/{CLASS}/now/stream"))
        .await;
    assert_eq!(r.status(), 401);
    // A ticket is no bearer token.
    let (status, _) = get_json(&app, t, &format!("/api/v1/classes/{CLASS}/now")).await;
    assert_eq!(status, 401);
    // A token about to expire: the stream ends with an `end` event when it does.
    let short = app.sign(&huddle::auth::Claims::new(
        mine.clone(),
        Role::Teacher,
        ORG,
        Duration::from_secs(2),
    ));
    let mut stream = open_stream(&app, &short).await;
    let mut ended = false;
    while let Some((event, _)) = stream.next(Duration::from_secs(6)).await {
        if event == "end" {
            ended = true;
            break;
        }
    }
    assert!(ended, "the stream ends when its token expires");
}

async fn a_user_holds_at_most_four_streams(app: TestApp) {
    app.post_batch(&run("a", "c", 30, json!({}))).await;
    let token = admin(&app);
    let mut open = Vec::new();
    for _ in 0..4 {
        open.push(open_stream(&app, &token).await);
    }
    let t: Value = ticket(&app, &token, CLASS).await.json().await.unwrap();
    let r = app.get(t["stream_url"].as_str().unwrap()).await;
    assert_error(r, 429, "too_many_streams").await;
    // Closing one frees its place (at the latest when the server next writes to it).
    drop(open.pop());
    let mut opened = false;
    for _ in 0..200 {
        let t: Value = ticket(&app, &token, CLASS).await.json().await.unwrap();
        let r = app.get(t["stream_url"].as_str().unwrap()).await;
        if r.status() == 200 {
            opened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(opened, "a closed stream gives its place back");
}

async fn attention_names_the_unseen_and_follows_up_help(app: TestApp) {
    // "helped" got 5 first tries wrong, then the teacher sat with them, then 4 of 5 right.
    let mut events = run("helped", "iiiii", 600, json!({}));
    events.extend(run("flagged", "c", 900, json!({})));
    events.extend(run("never", "c", 900, json!({})));
    app.post_batch(&events).await;
    let token = admin(&app);
    let r = checkin(
        &app,
        &token,
        json!({"student_ids": ["helped"], "skill_id": SKILL}),
    )
    .await;
    assert_eq!(r.status(), 201);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let after: Vec<Value> = "ccicc"
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let outcome = if c == 'c' { "correct" } else { "incorrect" };
            answer("helped", -(i as i64 + 1), outcome, json!({}))
        })
        .collect();
    app.post_batch(&after).await;

    let path = format!("/api/v1/classes/{CLASS}/attention");
    let (status, a) = get_json(&app, &token, &path).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["school_days"], 10);
    let unseen: Vec<&str> = a["students"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["unseen"] == true)
        .map(|s| s["student_id"].as_str().unwrap())
        .collect();
    assert_eq!(unseen.len(), 2, "{a}");
    assert!(!unseen.contains(&"helped"));
    let headline = a["headline"].as_str().unwrap();
    assert!(
        headline.starts_with("You have not checked in with "),
        "{headline}"
    );
    assert!(
        headline.contains("flagged") && headline.contains("never"),
        "{headline}"
    );
    let helped = a["students"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["student_id"] == "helped")
        .unwrap();
    assert_eq!(helped["last_attention_kind"], "check_in");
    assert_eq!(helped["school_days_since"], 0);

    let f = &a["followups"][0];
    assert_eq!(f["kind"], "check_in", "{a}");
    assert_eq!(f["students"][0]["before_right"], 0);
    assert_eq!(f["students"][0]["after_right"], 4);
    let sentence = f["sentence"].as_str().unwrap();
    assert!(
        sentence.starts_with("After you sat with helped today"),
        "{sentence}"
    );
    assert!(!sentence.contains("because"));

    let (status, c) = get_json(&app, &token, "/api/v1/students/helped/checkins").await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(
        c["checkins"][0]["sentence"],
        "Before: 0 of 5 right. After: 4 of 5 right."
    );
    let (status, _) = get_json(&app, &token, &format!("{path}?school_days=0")).await;
    assert_eq!(status, 400);
}

async fn the_adoption_report_counts_checkins_and_the_students_checked_in_with(app: TestApp) {
    let mut events = Vec::new();
    for s in ["a", "b", "c", "d"] {
        events.extend(run(s, "cc", 60, json!({})));
    }
    app.post_batch(&events).await;
    let token = admin(&app);
    // One tap for a and b, then a again: three check-ins, two of four students.
    for ids in [json!(["a", "b"]), json!(["a"])] {
        let r = checkin(&app, &token, json!({ "student_ids": ids })).await;
        assert_eq!(r.status(), 201);
    }

    let today = chrono::Utc::now().format("%Y-%m-%d");
    let path = format!("/api/v1/admin/adoption?from={today}&to={today}");
    let (status, report) = get_json(&app, &token, &path).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["consistent"], true, "{report}");
    let row = report["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class_id"] == CLASS)
        .expect("the class's row");
    assert_eq!(row["checkins"], 3, "{row}");
    assert_eq!(row["enrolled"], 4, "{row}");
    assert_eq!(row["enrolled_checked_in"], 2, "{row}");
    assert_eq!(row["share_checked_in"], 0.5, "{row}");
    let week = report["weeks"].as_array().unwrap().last().unwrap();
    assert_eq!(week["checkins"], 3, "{week}");
    assert_eq!(week["share_checked_in"], 0.5, "{week}");
    assert_eq!(report["totals"]["checkins"], 3);

    let r = app
        .client
        .get(app.url(&format!("{path}&format=csv&section=weeks")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("GET csv");
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let cells: Vec<&str> = lines.next().unwrap().split(',').collect();
    let cell = |name: &str| cells[header.iter().position(|h| *h == name).expect(name)];
    assert_eq!(
        (
            cell("checkins"),
            cell("enrolled_checked_in"),
            cell("share_checked_in")
        ),
        ("3", "2", "0.5")
    );
}

/// Answers of `student` after the help, in the next seconds, one per `outcomes` char (c, i).
fn after_help(student: &str, outcomes: &str) -> Vec<Value> {
    outcomes
        .chars()
        .enumerate()
        .map(|(i, c)| {
            let outcome = if c == 'c' { "correct" } else { "incorrect" };
            let item = format!("after-{}", uuid::Uuid::new_v4());
            answer(
                student,
                -(i as i64 + 1),
                outcome,
                json!({ "item_id": item }),
            )
        })
        .collect()
}

async fn insights(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, body) = get_json(app, token, &format!("/api/v1/classes/{CLASS}/insights")).await;
    assert_eq!(status, 200, "{body}");
    body["insights"].as_array().expect("insights").clone()
}

fn follow_ups(list: &[Value]) -> Vec<&Value> {
    list.iter().filter(|i| i["kind"] == "after_help").collect()
}

async fn what_followed_a_checkin_or_a_finished_plan_is_a_today_insight(app: TestApp) {
    let mut events = Vec::new();
    for s in ["sat", "p1", "p2"] {
        events.extend(run(s, "iiiii", 600, json!({})));
    }
    app.post_batch(&events).await;
    let token = admin(&app);
    let r = checkin(
        &app,
        &token,
        json!({"student_ids": ["sat"], "skill_id": SKILL}),
    )
    .await;
    assert_eq!(r.status(), 201);
    // A plan for p1 and p2 on the skill, marked done.
    let r = app
        .client
        .post(app.url(&format!("/api/v1/classes/{CLASS}/plans")))
        .bearer_auth(&token)
        .json(&json!({"focus_skill_id": SKILL, "students": ["p1", "p2"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let plan: Value = r.json().await.unwrap();
    let r = app
        .client
        .patch(app.url(&format!("/api/v1/plans/{}", plan["id"].as_str().unwrap())))
        .bearer_auth(&token)
        .json(&json!({"done": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Two answers since: too few to say anything.
    let mut early = after_help("sat", "cc");
    early.extend(after_help("p1", "cc"));
    app.post_batch(&early).await;
    assert!(follow_ups(&insights(&app, &token).await).is_empty());

    // Then enough: sat 4 of 5 right; p1 5 of 5, p2 1 of 4.
    let mut more = after_help("sat", "icc");
    more.extend(after_help("p1", "ccc"));
    more.extend(after_help("p2", "iici"));
    app.post_batch(&more).await;
    let list = insights(&app, &token).await;
    let found = follow_ups(&list);
    assert_eq!(found.len(), 2, "{list:?}");
    let headlines: Vec<&str> = found
        .iter()
        .map(|i| i["headline"].as_str().unwrap())
        .collect();
    assert!(
        headlines.contains(
            &"After you sat with sat today, 4 of their next 5 answers were right (before: 0 of 5)."
        ),
        "{headlines:?}"
    );
    assert!(
        headlines.contains(
            &"After you worked with p1 and p2 today, 1 of 2 got most of their next answers right."
        ),
        "{headlines:?}"
    );
    for i in &found {
        let text = format!("{} {} {}", i["headline"], i["detail"], i["action"]);
        assert!(!text.contains("because"), "{text}");
        assert_eq!(i["skill_id"], SKILL);
    }
    let plan_insight = found
        .iter()
        .find(|i| i["students"] == json!(["p1", "p2"]))
        .unwrap();
    assert_eq!(
        plan_insight["action"],
        "Try another way in with p2: most of their answers since were wrong."
    );

    // Marked done, it stays away.
    let id = plan_insight["id"].as_str().unwrap();
    let r = app
        .client
        .post(app.url(&format!("/api/v1/classes/{CLASS}/insights/{id}")))
        .bearer_auth(&token)
        .json(&json!({"decision": "done"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let left = insights(&app, &token).await;
    assert!(left.iter().all(|i| i["id"] != id), "{left:?}");
    assert_eq!(follow_ups(&left).len(), 1);

    // The student page lists the plan with p2's own before and after.
    let (status, c) = get_json(&app, &token, "/api/v1/students/p2/checkins").await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["other_help"][0]["kind"], "group_plan", "{c}");
    assert_eq!(
        c["other_help"][0]["sentence"],
        "Before: 0 of 5 right. After: 1 of 4 right."
    );
}

async fn what_followed_an_insight_marked_done_is_followed_up(app: TestApp) {
    // "weak" answers wrong on the skill until an insight names them.
    let mut events = run("weak", "iiiiiiiiii", 900, json!({}));
    for s in ["b", "c"] {
        events.extend(run(s, "cc", 900, json!({})));
    }
    app.post_batch(&events).await;
    let token = admin(&app);
    let list = insights(&app, &token).await;
    let about = list
        .iter()
        .find(|i| {
            i["skill_id"] == SKILL && i["students"].as_array().unwrap().contains(&json!("weak"))
        })
        .unwrap_or_else(|| panic!("an insight about weak on the skill: {list:?}"));
    let id = about["id"].as_str().unwrap();
    let r = app
        .client
        .post(app.url(&format!("/api/v1/classes/{CLASS}/insights/{id}")))
        .bearer_auth(&token)
        .json(&json!({"decision": "done"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    tokio::time::sleep(Duration::from_millis(20)).await;
    app.post_batch(&after_help("weak", "ccicc")).await;

    let (status, a) = get_json(&app, &token, &format!("/api/v1/classes/{CLASS}/attention")).await;
    assert_eq!(status, 200, "{a}");
    let f = a["followups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "insight")
        .unwrap_or_else(|| panic!("a follow-up of the insight: {a}"));
    assert_eq!(f["students"][0]["before_right"], 0);
    assert_eq!(f["students"][0]["after_right"], 4);
    assert_eq!(
        f["sentence"],
        "After you acted on the note about weak today, 4 of their next 5 answers were right (before: 0 of 5)."
    );
    let found = follow_ups(&insights(&app, &token).await)
        .into_iter()
        .map(|i| i["headline"].clone())
        .collect::<Vec<_>>();
    assert_eq!(found, vec![f["sentence"].clone()]);
}

/// Two server processes on one PostgreSQL database: answers posted to one reach a stream held
/// by the other (LISTEN/NOTIFY).
#[actix_web::test]
async fn an_answer_posted_to_one_node_reaches_a_stream_on_another() {
    let database = TestDatabase::create(Backend::Postgres);
    let url = match &database.url {
        huddle::db::DbUrl::Postgres(u) => u.clone(),
        huddle::db::DbUrl::Sqlite(_) => unreachable!(),
    };
    let dir = tempfile::tempdir().expect("a temporary directory");
    let secret = "two-nodes-test-secret-0123456789abcdefghij";
    let secret_file = dir.path().join("jwt.secret");
    std::fs::write(&secret_file, secret).expect("writing the secret");
    let secret_path = secret_file.to_string_lossy().to_string();
    let args = [
        "--database-url",
        url.as_str(),
        "--jwt-secret-file",
        secret_path.as_str(),
    ];
    let one = Served::start(&args, dir.path().join("one.log")).await;
    let two = Served::start(&args, dir.path().join("two.log")).await;

    let keys = huddle::auth::Keys::new(&secrecy::SecretString::from(secret.to_owned()));
    let sign = |role: Role| {
        keys.sign(&huddle::auth::Claims::new(
            format!("{}-1", role.as_str()),
            role,
            ORG,
            Duration::from_secs(600),
        ))
        .unwrap()
    };
    let (tool, admin) = (sign(Role::Tool), sign(Role::Admin));
    let client = reqwest::Client::new();
    let post = |events: Vec<Value>| {
        let (client, tool, one) = (client.clone(), tool.clone(), one.address.clone());
        async move {
            let r = client
                .post(format!("{one}/api/v1/events"))
                .bearer_auth(tool)
                .json(&json!({ "events": events }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    };
    let mut events = run("a", "cc", 60, json!({}));
    events.extend(run("b", "cc", 60, json!({})));
    events.extend(run("c", "cc", 60, json!({})));
    post(events).await;

    // The stream is opened on node two.
    let t: Value = client
        .post(format!("{}/api/v1/classes/{CLASS}/now/ticket", two.address))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let response = client
        .get(format!(
            "{}{}",
            two.address,
            t["stream_url"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", two.log_text());
    let mut stream = Events {
        response,
        buffer: String::new(),
    };
    let first = stream
        .until(Duration::from_secs(5), |_| true)
        .await
        .unwrap();
    assert_eq!(state_of(&first, "a").as_deref(), Some("working"));

    // Three wrong answers posted to node one reach node two's stream within 2 seconds.
    post(run("a", "iii", 1, json!({}))).await;
    let pushed = stream
        .until(Duration::from_secs(2), |n| {
            state_of(n, "a").as_deref() == Some("needs_person")
        })
        .await;
    assert!(
        pushed.is_some(),
        "node two's stream did not hear of node one's answers:\n{}\n{}",
        one.log_text(),
        two.log_text()
    );
    drop(stream);
    drop((one, two));
}
