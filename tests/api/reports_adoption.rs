//! The adoption and data-quality reports over a simulated district, on both backends: every
//! figure is compared with the same figure computed here, independently, from the raw events
//! the test sent (and the pages, decisions and refusals it caused); sums must add up; the CSV
//! must say what the JSON says.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use chrono::{Datelike, NaiveDate, TimeDelta, Utc};
use huddle::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::accounts::{add_user, token_for};
use crate::helpers::{ago, assert_error, both_backends, TestApp, ORG};

const CAP_MS: i64 = 5 * 60 * 1000;
use huddle::util::DAY_MS;

both_backends!(
    reports_over_a_simulated_district_equal_figures_from_the_raw_events,
    reports_refuse_bad_queries_and_non_administrators,
);

/// The Monday (UTC) of the week of `ms`, as a date.
fn monday(ms: i64) -> NaiveDate {
    let day = chrono::DateTime::from_timestamp_millis(ms)
        .expect("a time")
        .date_naive();
    day - TimeDelta::days(i64::from(day.weekday().num_days_from_monday()))
}

fn ms(v: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(v["occurred_at"].as_str().expect("occurred_at"))
        .expect("RFC 3339")
        .timestamp_millis()
}

fn practice(e: &Value) -> i64 {
    e["response_ms"].as_i64().map_or(0, |r| r.min(CAP_MS))
}

async fn get(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET")
}

async fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let r = get(app, token, path).await;
    let status = r.status();
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn n(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not a number: {v}"))
}

async fn reports_over_a_simulated_district_equal_figures_from_the_raw_events(app: TestApp) {
    let admin = app.token(Role::Admin, ORG);
    let today = Utc::now().date_naive();
    // Ten school days ending about two weeks ago: every simulated event arrives late.
    let out = huddle::sim::Simulation::new(huddle::sim::Config {
        students: 36,
        days: 10,
        classes: 3,
        seed: 7,
        skills: 4,
        start: today - TimeDelta::days(30),
        ..Default::default()
    })
    .run();
    let mut sent: Vec<Value> = out
        .events
        .iter()
        .map(|e| serde_json::to_value(out.wire(e)).expect("an event"))
        .collect();
    assert!(sent.len() > 2_000, "a district's worth: {}", sent.len());
    let classes: Vec<String> = out.class_ids.clone();
    assert_eq!(classes.len(), 3);
    // Some answers without a response time, and one student answering in a second class.
    let wanderer = sent[0]["student_id"].clone();
    let home = sent[0]["class_id"].as_str().expect("class").to_owned();
    let elsewhere = classes
        .iter()
        .find(|c| **c != home)
        .expect("another class")
        .clone();
    let mut moved = 0;
    for (i, e) in sent.iter_mut().enumerate() {
        if i % 17 == 0 {
            e.as_object_mut().expect("object").remove("response_ms");
        }
        if e["student_id"] == wanderer && moved < 5 {
            e["class_id"] = json!(elsewhere);
            moved += 1;
        }
    }
    // Fresh answers (not late), two with the device's clock a little ahead (future-dated).
    let fresh = |seconds_ago: i64, student: &str| {
        json!({
            "event_id": Uuid::new_v4().to_string(), "occurred_at": ago(seconds_ago),
            "student_id": student, "class_id": classes[2], "skill_id": "extra.skill",
            "item_id": "x-1", "outcome": "correct", "response_ms": 7_000, "tool": "clock-ahead",
        })
    };
    sent.push(fresh(600, "stu-fresh"));
    sent.push(fresh(-240, "stu-fresh"));
    sent.push(fresh(-200, "stu-fresh"));

    // Schools from a roster upload: class 0 in North, class 1 in South, class 2 in none; a
    // student enrolled who never practises, and one with no class at all.
    let roster = json!({"students": [
        {"student_id": "stu-roster-only", "class_id": classes[0], "school_id": "north", "school_name": "North School"},
        {"student_id": "stu-r2", "class_id": classes[1], "school_id": "south"},
        {"student_id": "stu-nowhere", "display_name": "No Class"},
    ]});
    let r = app
        .client
        .put(app.url("/api/v1/admin/roster"))
        .bearer_auth(&admin)
        .json(&roster)
        .send()
        .await
        .expect("PUT roster");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());

    // Ingest in batches, then refused events and re-sends.
    let mut answers = Vec::new();
    for chunk in sent.chunks(700) {
        let a = app.post_batch(chunk).await;
        assert_eq!(n(&a["accepted"]), chunk.len() as i64, "{a}");
        answers.push(a);
    }
    let resent: Vec<Value> = sent[100..130].to_vec();
    let mut bad = resent.clone();
    bad.push(
        json!({"event_id": Uuid::new_v4().to_string(), "occurred_at": ago(60), "student_id": "s",
        "class_id": "c", "skill_id": "k", "item_id": "i", "outcome": "maybe", "tool": "quiz-x"}),
    );
    bad.push(
        json!({"event_id": Uuid::new_v4().to_string(), "occurred_at": ago(60), "student_id": "s",
        "class_id": "c", "skill_id": "k", "item_id": "i", "outcome": "wrong", "tool": "quiz-x"}),
    );
    bad.push(
        json!({"occurred_at": ago(60), "student_id": "s", "class_id": "c", "skill_id": "k",
        "item_id": "i", "outcome": "correct"}),
    );
    bad.push(
        json!({"event_id": Uuid::new_v4().to_string(), "occurred_at": ago(-3_600),
        "student_id": "s", "class_id": "c", "skill_id": "k", "item_id": "i", "outcome": "correct",
        "tool": "clock-ahead"}),
    );
    let twice = sent[5].clone();
    bad.push(twice.clone()); // a re-send, and repeated within the batch
    bad.push(twice.clone());
    let answer = app.post_batch(&bad).await;
    assert_eq!(n(&answer["accepted"]), 0, "{answer}");
    assert_eq!(n(&answer["duplicates"]), 32, "{answer}");
    let mut expected_rejections: BTreeMap<(String, String), i64> = BTreeMap::new();
    for r in answer["rejected"].as_array().expect("rejected") {
        let index = r["index"].as_u64().expect("index") as usize;
        let tool = bad[index]["tool"].as_str().unwrap_or("").to_owned();
        let code = r["error"]["code"].as_str().expect("code").to_owned();
        *expected_rejections.entry((tool, code)).or_default() += 1;
    }
    assert_eq!(expected_rejections.values().sum::<i64>(), 4);

    // A teacher of class 0 looks at it: overview twice, insights once; their page of a class
    // they do not teach is refused and counts nothing; the administrator's reads count nothing.
    let teacher = add_user(
        &app,
        "t0@school.example",
        Role::Teacher,
        ORG,
        &[&classes[0]],
    )
    .await;
    let t0 = token_for(&app, &teacher, Role::Teacher, ORG);
    for page in ["overview", "overview", "insights"] {
        get_json(&app, &t0, &format!("/api/v1/classes/{}/{page}", classes[0])).await;
    }
    let refused = get(
        &app,
        &t0,
        &format!("/api/v1/classes/{}/overview", classes[1]),
    )
    .await;
    assert_eq!(refused.status(), 403);
    get_json(
        &app,
        &admin,
        &format!("/api/v1/classes/{}/insights", classes[1]),
    )
    .await;
    // The teacher decides one review item of their class.
    let queue = get_json(
        &app,
        &t0,
        &format!("/api/v1/reviews?class_id={}", classes[0]),
    )
    .await;
    let item = queue["reviews"]
        .as_array()
        .and_then(|r| r.first())
        .cloned()
        .unwrap_or_else(|| {
            panic!("the simulated class has uncertain estimates to review: {queue}")
        });
    let decided = app
        .client
        .post(app.url(&format!(
            "/api/v1/reviews/{}",
            item["id"].as_str().expect("id")
        )))
        .bearer_auth(&t0)
        .json(&json!({"decision": "confirm"}))
        .send()
        .await
        .expect("POST decision");
    assert_eq!(decided.status(), 200);

    // ---- The figures, computed here from what was sent ----
    let school_of = |class: &str| -> Option<&'static str> {
        if class == classes[0] {
            Some("north")
        } else if class == classes[1] {
            Some("south")
        } else {
            None
        }
    };
    let mut week_events: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    let mut week_practice: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    let mut week_students: BTreeMap<NaiveDate, BTreeSet<String>> = BTreeMap::new();
    let mut class_events: BTreeMap<String, i64> = BTreeMap::new();
    let mut class_practice: BTreeMap<String, i64> = BTreeMap::new();
    let mut class_students: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut per_student: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for e in &sent {
        let (class, student) = (
            e["class_id"].as_str().expect("c"),
            e["student_id"].as_str().expect("s"),
        );
        let week = monday(ms(e));
        *week_events.entry(week).or_default() += 1;
        *week_practice.entry(week).or_default() += practice(e);
        week_students
            .entry(week)
            .or_default()
            .insert(student.into());
        *class_events.entry(class.into()).or_default() += 1;
        *class_practice.entry(class.into()).or_default() += practice(e);
        class_students
            .entry(class.into())
            .or_default()
            .insert(student.into());
        *per_student
            .entry(student.into())
            .or_default()
            .entry(class.into())
            .or_default() += 1;
    }
    // Home class: most answers, ties to the first id.
    let mut class_active: BTreeMap<String, i64> = BTreeMap::new();
    for counts in per_student.values() {
        let best = counts.values().max().expect("one class");
        let home = counts.iter().find(|(_, n)| *n == best).expect("a class").0;
        *class_active.entry(home.clone()).or_default() += 1;
    }
    // Enrolments: every class a student answered in, plus the roster's.
    let mut enrolled: BTreeMap<String, i64> = BTreeMap::new();
    for (class, students) in &class_students {
        *enrolled.entry(class.clone()).or_default() += students.len() as i64;
    }
    *enrolled.entry(classes[0].clone()).or_default() += 1;
    *enrolled.entry(classes[1].clone()).or_default() += 1;

    let from = (today - TimeDelta::days(35)).format("%Y-%m-%d").to_string();
    let to = today.format("%Y-%m-%d").to_string();
    let report = get_json(
        &app,
        &admin,
        &format!("/api/v1/admin/adoption?from={from}&to={to}"),
    )
    .await;
    assert_eq!(report["consistent"], true, "{report}");

    // Weeks.
    let weeks = report["weeks"].as_array().expect("weeks");
    assert_eq!(weeks.len(), 6, "{from}..{to} touches six weeks");
    for w in weeks {
        let week = NaiveDate::parse_from_str(w["week_start"].as_str().expect("week"), "%Y-%m-%d")
            .expect("date");
        assert_eq!(week.weekday(), chrono::Weekday::Mon);
        assert_eq!(
            n(&w["events"]),
            week_events.get(&week).copied().unwrap_or(0),
            "events of {week}"
        );
        assert_eq!(
            n(&w["practice_ms"]),
            week_practice.get(&week).copied().unwrap_or(0),
            "practice of {week}"
        );
        let expected_minutes =
            (week_practice.get(&week).copied().unwrap_or(0) as f64 / 6_000.0).round() / 10.0;
        assert_eq!(w["practice_minutes"].as_f64(), Some(expected_minutes));
        let active = week_students.get(&week).map_or(0, |s| s.len() as i64);
        assert_eq!(n(&w["active_students"]), active, "students of {week}");
        let this_week = week == monday(Utc::now().timestamp_millis());
        assert_eq!(
            n(&w["active_teachers"]),
            i64::from(this_week),
            "teachers of {week}"
        );
        assert_eq!(n(&w["insights_viewed"]), i64::from(this_week));
        assert_eq!(n(&w["teacher_views"]), 3 * i64::from(this_week));
        assert_eq!(n(&w["reviews_decided"]), i64::from(this_week));
    }

    // Classes.
    let rows = report["classes"].as_array().expect("classes");
    for class in &classes {
        let row = rows
            .iter()
            .find(|r| r["class_id"] == json!(class))
            .unwrap_or_else(|| panic!("{class} has a row"));
        assert_eq!(n(&row["events"]), class_events[class], "events of {class}");
        assert_eq!(
            n(&row["practice_ms"]),
            class_practice[class],
            "practice of {class}"
        );
        assert_eq!(
            n(&row["students_practised"]),
            class_students[class].len() as i64
        );
        assert_eq!(
            n(&row["active_students"]),
            class_active.get(class).copied().unwrap_or(0),
            "active in {class}"
        );
        assert_eq!(n(&row["enrolled"]), enrolled[class], "enrolled in {class}");
        assert_eq!(
            n(&row["enrolled_practising"]),
            class_students[class].len() as i64
        );
        assert_eq!(row["school_id"], json!(school_of(class)));
        let is_t0 = *class == classes[0];
        assert_eq!(n(&row["active_teachers"]), i64::from(is_t0));
        assert_eq!(n(&row["teacher_views"]), 3 * i64::from(is_t0));
        assert_eq!(n(&row["insights_viewed"]), i64::from(is_t0));
        assert_eq!(n(&row["reviews_decided"]), i64::from(is_t0));
    }

    // Schools add up to their classes, and the totals to the schools.
    let schools = report["schools"].as_array().expect("schools");
    assert_eq!(schools.len(), 3, "north, south, no school: {schools:?}");
    assert_eq!(schools[0]["school_id"], "north");
    assert_eq!(schools[0]["name"], "North School");
    assert_eq!(schools[2]["school_id"], Value::Null);
    let fields = [
        "active_students",
        "active_teachers",
        "events",
        "practice_ms",
        "enrolled",
        "teacher_views",
        "reviews_decided",
    ];
    for school in schools {
        for f in fields {
            let sum: i64 = rows
                .iter()
                .filter(|c| c["school_id"] == school["school_id"])
                .map(|c| n(&c[f]))
                .sum();
            assert_eq!(n(&school[f]), sum, "{f} of school {}", school["school_id"]);
        }
    }
    for f in fields {
        let sum: i64 = schools.iter().map(|s| n(&s[f])).sum();
        assert_eq!(n(&report["totals"][f]), sum, "{f} of the totals");
    }
    assert_eq!(
        n(&report["totals"]["active_students"]),
        per_student.len() as i64
    );
    assert_eq!(n(&report["totals"]["events"]), sent.len() as i64);
    let north_events: i64 = sent
        .iter()
        .filter(|e| e["class_id"] == json!(classes[0]))
        .count() as i64;
    assert_eq!(n(&schools[0]["events"]), north_events);

    // CSV: the classes table says what the JSON says.
    let r = get(
        &app,
        &admin,
        &format!("/api/v1/admin/adoption?from={from}&to={to}&format=csv&section=classes"),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        disposition.contains(&format!("huddle-adoption-classes-{from}-{to}.csv")),
        "{disposition}"
    );
    let text = r.text().await.expect("text");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().expect("header").clone();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} column"))
    };
    let records: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("a record")).collect();
    assert_eq!(records.len(), rows.len());
    for (record, row) in records.iter().zip(rows) {
        assert_eq!(
            record[col("class_id")],
            *row["class_id"].as_str().unwrap_or("")
        );
        for f in ["events", "active_students", "practice_ms", "enrolled"] {
            assert_eq!(record[col(f)].parse::<i64>().ok(), row[f].as_i64(), "{f}");
        }
    }
    // Accept: text/csv gives the weeks table by default.
    let r = app
        .client
        .get(app.url(&format!("/api/v1/admin/adoption?from={from}&to={to}")))
        .bearer_auth(&admin)
        .header("Accept", "text/csv")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("text");
    assert!(text.starts_with("week_start,active_students,"), "{text}");
    assert_eq!(text.lines().count(), 1 + weeks.len());

    // ---- Data quality, today: everything was received today ----
    let dq = get_json(
        &app,
        &admin,
        &format!("/api/v1/admin/data-quality?from={to}&to={to}"),
    )
    .await;
    let now = Utc::now().timestamp_millis();
    let totals = &dq["totals"];
    assert_eq!(n(&totals["received"]), sent.len() as i64);
    assert_eq!(n(&totals["duplicates"]), 32);
    assert_eq!(n(&totals["rejected"]), 4);
    let late = sent.iter().filter(|e| now - ms(e) >= DAY_MS).count() as i64;
    assert_eq!(
        late,
        sent.len() as i64 - 3,
        "all but the fresh answers are late"
    );
    assert_eq!(n(&totals["late"]), late);
    assert_eq!(n(&totals["future_dated"]), 2);
    assert_eq!(n(&totals["future_rejected"]), 1);
    let without = sent.iter().filter(|e| e["response_ms"].is_null()).count() as i64;
    assert_eq!(n(&totals["without_response_time"]), without);
    let clock = dq["tools"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["tool"] == "clock-ahead"))
        .expect("the clock-ahead tool");
    assert_eq!(n(&clock["future_dated"]), 2);
    assert_eq!(n(&clock["future_rejected"]), 1);
    let ahead = clock["max_clock_ahead_seconds"].as_f64().expect("seconds");
    // Four minutes ahead when built; less by the time it was sent.
    assert!((60.0..=240.0).contains(&ahead), "minutes ahead: {ahead}");
    // Duplicates and refusals by the tool the events named.
    let mut sent_dups: HashMap<String, i64> = HashMap::new();
    for e in resent.iter().chain([&twice, &twice]) {
        *sent_dups
            .entry(e["tool"].as_str().unwrap_or("").to_owned())
            .or_default() += 1;
    }
    for t in dq["tools"].as_array().expect("tools") {
        let tool = t["tool"].as_str().expect("tool");
        assert_eq!(
            n(&t["duplicates"]),
            sent_dups.get(tool).copied().unwrap_or(0),
            "duplicates of {tool:?}"
        );
        let received = sent
            .iter()
            .filter(|e| e["tool"].as_str().unwrap_or("") == tool)
            .count() as i64;
        assert_eq!(n(&t["received"]), received, "received of {tool:?}");
    }
    let got: BTreeMap<(String, String), i64> = dq["rejections"]
        .as_array()
        .expect("rejections")
        .iter()
        .map(|r| {
            (
                (
                    r["tool"].as_str().unwrap_or("").to_owned(),
                    r["code"].as_str().unwrap_or("").to_owned(),
                ),
                n(&r["events"]),
            )
        })
        .collect();
    assert_eq!(got, expected_rejections);
    // Students without a class; skills with fewer students than a fit needs.
    assert_eq!(n(&dq["students_without_class"]), 1);
    assert_eq!(n(&dq["students"]), per_student.len() as i64 + 3);
    let mut skill_students: HashMap<&str, HashSet<&str>> = HashMap::new();
    for e in &sent {
        skill_students
            .entry(e["skill_id"].as_str().expect("skill"))
            .or_default()
            .insert(e["student_id"].as_str().expect("s"));
    }
    let thin: HashMap<String, i64> = dq["skills_too_little_data"]
        .as_array()
        .expect("skills")
        .iter()
        .map(|s| {
            (
                s["skill_id"].as_str().unwrap_or("").to_owned(),
                n(&s["students"]),
            )
        })
        .collect();
    assert_eq!(
        thin.len(),
        skill_students.len(),
        "36 students: every skill is under 50"
    );
    for (skill, students) in &skill_students {
        assert_eq!(
            thin.get(*skill).copied(),
            Some(students.len() as i64),
            "{skill}"
        );
    }
    let shared: i64 = app
        .read(|conn| {
            use diesel::prelude::*;
            use huddle::db::schema::flags;
            flags::table
                .filter(flags::kind.eq("shared_account"))
                .count()
                .get_result(conn)
        })
        .await;
    assert_eq!(n(&dq["shared_account_flags"]), shared);

    // Data-quality CSV: the rejections table.
    let r = get(
        &app,
        &admin,
        &format!("/api/v1/admin/data-quality?from={to}&to={to}&format=csv&section=rejections"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("text");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let from_csv: BTreeMap<(String, String), i64> = reader
        .records()
        .map(|r| {
            let r = r.expect("record");
            (
                (r[0].to_owned(), r[1].to_owned()),
                r[2].parse().expect("a count"),
            )
        })
        .collect();
    assert_eq!(from_csv, expected_rejections);

    // Replaying every event changes no figure: duplicates are never counted as practice.
    for chunk in sent.chunks(700) {
        let a = app.post_batch(chunk).await;
        assert_eq!(n(&a["accepted"]), 0);
    }
    let again = get_json(
        &app,
        &admin,
        &format!("/api/v1/admin/adoption?from={from}&to={to}"),
    )
    .await;
    assert_eq!(again["classes"], report["classes"]);
    assert_eq!(again["totals"], report["totals"]);
    let dq_again = get_json(
        &app,
        &admin,
        &format!("/api/v1/admin/data-quality?from={to}&to={to}"),
    )
    .await;
    assert_eq!(n(&dq_again["totals"]["duplicates"]), 32 + sent.len() as i64);
    assert_eq!(n(&dq_again["totals"]["received"]), sent.len() as i64);
}

async fn reports_refuse_bad_queries_and_non_administrators(app: TestApp) {
    let admin = app.token(Role::Admin, ORG);
    for (query, code) in [
        ("from=yesterday", "invalid_date"),
        ("to=2026-13-01", "invalid_date"),
        ("from=2026-12-02&to=2026-12-01", "invalid_range"),
        ("from=2020-01-01&to=2026-12-01", "invalid_range"),
        ("format=xml", "invalid_format"),
        ("format=csv&section=students", "invalid_section"),
    ] {
        for report in ["adoption", "data-quality"] {
            let r = get(&app, &admin, &format!("/api/v1/admin/{report}?{query}")).await;
            assert_error(r, 400, code).await;
        }
    }
    for role in [Role::Teacher, Role::Tool] {
        for report in ["adoption", "data-quality"] {
            let r = get(
                &app,
                &app.token(role, ORG),
                &format!("/api/v1/admin/{report}"),
            )
            .await;
            assert_eq!(r.status(), 403, "{report} for {role:?}");
        }
    }
    // Another district's administrator sees none of this one's events.
    app.post_batch(&crate::helpers::events(10)).await;
    let other = get_json(
        &app,
        &app.token(Role::Admin, "district-2"),
        "/api/v1/admin/adoption",
    )
    .await;
    assert_eq!(n(&other["totals"]["events"]), 0);
    let mine = get_json(&app, &admin, "/api/v1/admin/adoption").await;
    assert_eq!(n(&mine["totals"]["events"]), 10);
    assert_eq!(
        mine["weeks"].as_array().map(Vec::len),
        Some(12),
        "12 weeks by default"
    );
}
