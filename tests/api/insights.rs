//! Insights, small groups, plans and the review queue through the service, on both backends:
//! simulated classroom situations go in as practice events, sentences and groups come out.

use std::collections::BTreeSet;

use chrono::{DateTime, SecondsFormat, TimeDelta, TimeZone, Utc};
use huddle::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{assert_error, both_backends, TestApp, ORG};

const CLASS: &str = "class-5b";
const ADD: &str = "fractions.add-unlike";
const ADD_NAME: &str = "Adding fractions with unlike denominators";
const MUL: &str = "fractions.multiply";
const FACTS: &str = "multiplication.facts";

/// 09:00 UTC `days_ago` days back, plus `minutes`.
fn at(days_ago: i64, minutes: i64) -> String {
    let day = Utc::now().date_naive() - TimeDelta::days(days_ago);
    let t: DateTime<Utc> = Utc.from_utc_datetime(&day.and_hms_opt(9, 0, 0).unwrap_or_default())
        + TimeDelta::minutes(minutes);
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn skill_name(skill: &str) -> &'static str {
    match skill {
        ADD => ADD_NAME,
        MUL => "Multiplying fractions",
        _ => "Multiplication facts",
    }
}

/// `n` first attempts of `student` on `skill`, at items `<prefix>0..`, all `outcome`, over
/// two days (two sessions), in class CLASS.
fn answers(student: &str, skill: &str, n: usize, outcome: &str, prefix: &str) -> Vec<Value> {
    (0..n)
        .map(|i| {
            let day = if i < n / 2 { 2 } else { 1 };
            json!({
                "event_id": Uuid::new_v4().to_string(),
                "occurred_at": at(day, i as i64),
                "student_id": student,
                "class_id": CLASS,
                "skill_id": skill,
                "skill_name": skill_name(skill),
                "item_id": format!("{prefix}{i}"),
                "outcome": outcome,
                "response_ms": 9000,
                "session_id": format!("{student}-day{day}"),
            })
        })
        .collect()
}

fn stu(i: usize) -> String {
    format!("stu-{i:02}")
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(app.token(Role::Admin, ORG))
        .send()
        .await
        .expect("GET");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get_ok(app: &TestApp, path: &str) -> Value {
    let (status, body) = get(app, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    body
}

async fn send(app: &TestApp, method: &str, path: &str, body: &Value) -> reqwest::Response {
    let request = match method {
        "PATCH" => app.client.patch(app.url(path)),
        _ => app.client.post(app.url(path)),
    };
    request
        .bearer_auth(app.token(Role::Admin, ORG))
        .json(body)
        .send()
        .await
        .expect("request")
}

/// 12 students: stu-01..06 got 6 answers of ADD wrong, the others right.
async fn strugglers(app: &TestApp) {
    let mut events = Vec::new();
    for i in 1..=12 {
        let outcome = if i <= 6 { "incorrect" } else { "correct" };
        events.extend(answers(&stu(i), ADD, 6, outcome, "add-"));
    }
    app.post_batch(&events).await;
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn struggling_insight(body: &Value) -> Option<Value> {
    body["insights"]
        .as_array()?
        .iter()
        .find(|i| i["kind"] == "struggling_skill" && i["skill_id"] == ADD)
        .cloned()
}

async fn overview_shows_students_by_skills(app: TestApp) {
    strugglers(&app).await;
    let body = get_ok(&app, &format!("/api/v1/classes/{CLASS}/overview")).await;
    assert_eq!(body["class_id"], CLASS);
    assert!(body["generated_at"].as_str().is_some());
    assert_eq!(
        body["skills"],
        json!([{"skill_id": ADD, "name": ADD_NAME, "domain": "fractions"}])
    );
    let students = body["students"].as_array().expect("students");
    assert_eq!(students.len(), 12);
    let first = &students[0];
    assert_eq!(first["student_id"], "stu-01");
    assert_eq!(first["name"], "stu-01");
    assert_eq!(first["flags"], json!([]));
    let skill = &first["skills"][0];
    for key in ["estimate", "low", "high"] {
        assert!(skill[key].as_f64().is_some(), "{skill}");
    }
    assert_eq!(skill["status"], "struggling");
    assert_eq!(skill["opportunities"], 6);
    assert!(skill["needs_review"].is_boolean());
    assert!(["low", "medium", "high"].contains(&skill["confidence"].as_str().unwrap_or("")));
    // The same per-skill object as the student's page, which adds what only it shows; the
    // words of certainty are the same.
    let page = get_ok(&app, "/api/v1/students/stu-01").await;
    let mut shared = page["skills"][0].clone();
    for only_there in ["mastery", "fall"] {
        shared.as_object_mut().map(|o| o.remove(only_there));
    }
    assert_eq!(shared, *skill);
    assert!(skill["certainty_sentence"]
        .as_str()
        .is_some_and(|s| s.starts_with("Huddle is")));

    // New evidence shows once the kept overview is older than its freshness window.
    app.post_batch(&answers(&stu(1), ADD, 1, "incorrect", "add-new-"))
        .await;
    actix_web::rt::time::sleep(huddle::api::OVERVIEW_FRESH + std::time::Duration::from_millis(100))
        .await;
    let body = get_ok(&app, &format!("/api/v1/classes/{CLASS}/overview")).await;
    assert_eq!(body["students"][0]["skills"][0]["opportunities"], 7);

    let (status, _) = get(&app, "/api/v1/classes/no-such-class/overview").await;
    assert_eq!(status, 404);
    for role in [Role::Tool, Role::Teacher] {
        let r = app
            .client
            .get(app.url(&format!("/api/v1/classes/{CLASS}/overview")))
            .bearer_auth(app.token(role, ORG))
            .send()
            .await
            .expect("GET");
        assert_error(r, 403, "forbidden").await;
    }
    let r = app
        .client
        .get(app.url(&format!("/api/v1/classes/{CLASS}/overview")))
        .bearer_auth(app.token(Role::Admin, "another-district"))
        .send()
        .await
        .expect("GET");
    assert_error(r, 404, "not_found").await;
}

async fn a_group_of_strugglers_reads_as_expected(app: TestApp) {
    // Six wrong answers each: struggling, but too few answers to assert it.
    strugglers(&app).await;
    let body = get_ok(&app, &format!("/api/v1/classes/{CLASS}/insights")).await;
    let first = &body["insights"][0];
    assert_eq!(
        first["headline"],
        "6 students may be struggling with adding fractions with unlike denominators."
    );
    // Every call waits for the teacher's review, so no group is formed yet: the action says so.
    assert_eq!(
        first["action"],
        "Check in with each of them on adding fractions with unlike denominators. All of them wait for your review."
    );
    assert_eq!(first["group_ids"], json!([]));
    assert_eq!(first["kind"], "struggling_skill");
    assert_eq!(first["skill_id"], ADD);
    assert_eq!(first["domain"], "fractions");
    assert_eq!(
        ids(&first["students"]),
        (1..=6).map(stu).collect::<Vec<_>>()
    );
    assert!(first["detail"]
        .as_str()
        .unwrap_or("")
        .contains("0 of 36 first tries right."));
    assert_eq!(first["based_on_answers"], 36);
    assert_eq!(first["first_screen"], true);
    assert!(first["id"].as_str().unwrap_or("").starts_with("ins-"));
    assert!(first["needs_review"].is_boolean());
    // Stable ids: the same data gives the same insights.
    assert_eq!(
        body["insights"],
        get_ok(&app, &format!("/api/v1/classes/{CLASS}/insights")).await["insights"]
    );
    let limited = get_ok(&app, &format!("/api/v1/classes/{CLASS}/insights?limit=1")).await;
    assert_eq!(limited["insights"].as_array().map(Vec::len), Some(1));
    let r = app
        .client
        .get(app.url(&format!("/api/v1/classes/{CLASS}/insights?limit=0")))
        .bearer_auth(app.token(Role::Admin, ORG))
        .send()
        .await
        .expect("GET");
    assert_error(r, 400, "invalid_limit").await;
}

async fn a_mastered_class_reads_as_expected(app: TestApp) {
    let mut events = Vec::new();
    for i in 1..=10 {
        events.extend(answers(&stu(i), FACTS, 6, "correct", "fact-"));
    }
    app.post_batch(&events).await;
    let body = get_ok(&app, &format!("/api/v1/classes/{CLASS}/insights")).await;
    assert_eq!(
        body["insights"][0]["headline"],
        "The whole class has mastered multiplication facts this week.",
        "{body}"
    );
    assert_eq!(body["insights"][0]["kind"], "mastered_skill");
    assert_eq!(body["insights"][0]["positive"], true);
    // Two more students who have not mastered it: most of the class.
    let mut more = answers(&stu(11), FACTS, 2, "incorrect", "fact-");
    more.extend(answers(&stu(12), FACTS, 2, "incorrect", "fact-"));
    app.post_batch(&more).await;
    let body = get_ok(&app, &format!("/api/v1/classes/{CLASS}/insights")).await;
    assert_eq!(
        body["insights"][0]["headline"],
        "Most of the class has mastered multiplication facts this week."
    );
}

/// 7 students far behind on ADD (16 wrong answers: a settled call), 3 on MUL, the rest fine.
async fn groups_class(app: &TestApp) {
    let mut events = Vec::new();
    for i in 1..=16 {
        let s = stu(i);
        match i {
            1..=7 => events.extend(answers(&s, ADD, 16, "incorrect", "add-")),
            8..=10 => events.extend(answers(&s, MUL, 16, "incorrect", "mul-")),
            // A mixed record: not settled, so apart for review.
            11 => {
                let mut mixed = answers(&s, ADD, 6, "correct", "add-");
                for e in mixed.iter_mut().skip(1).step_by(2) {
                    e["outcome"] = json!("incorrect");
                }
                events.extend(mixed);
            }
            _ => events.extend(answers(&s, ADD, 6, "correct", "add-")),
        }
    }
    app.post_batch(&events).await;
}

async fn groups_respect_sizes_and_never_share_a_student(app: TestApp) {
    groups_class(&app).await;
    // Sixteen wrong answers each: settled calls, asserted plainly; stu-11's mixed record is
    // struggling too but uncertain, which the detail says.
    let insights = get_ok(&app, &format!("/api/v1/classes/{CLASS}/insights")).await;
    let s = struggling_insight(&insights).expect("a struggling insight");
    assert_eq!(
        s["headline"],
        "8 students are struggling with adding fractions with unlike denominators."
    );
    assert_eq!(s["needs_review"], true);
    assert!(
        s["detail"].as_str().is_some_and(|d| d
            .ends_with("Huddle is not sure of 1 of these calls yet: it waits for your review.")),
        "{s}"
    );
    for (min, max) in [(2, 6), (3, 4), (2, 3)] {
        let path = format!("/api/v1/classes/{CLASS}/groups?min_size={min}&max_size={max}");
        let body = get_ok(&app, &path).await;
        assert_eq!(
            (body["min_size"].as_u64(), body["max_size"].as_u64()),
            (Some(min), Some(max))
        );
        let groups = body["groups"].as_array().expect("groups");
        assert!(!groups.is_empty());
        let mut seen = BTreeSet::new();
        for g in groups {
            let members = ids(&g["students"]);
            assert!(
                members.len() as u64 >= min && members.len() as u64 <= max,
                "{g}"
            );
            for m in members {
                assert!(seen.insert(m.clone()), "{m} is in two groups: {body}");
            }
            for key in ["id", "focus_skill_id", "focus", "reason"] {
                assert!(g[key].as_str().is_some_and(|s| !s.is_empty()), "{g}");
            }
        }
        let apart: Vec<String> = body["needs_review"]
            .as_array()
            .expect("needs_review")
            .iter()
            .filter_map(|a| a["student_id"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(apart, vec![stu(11)], "{body}");
        assert!(!seen.contains(&stu(11)));
        // The same data gives the same groups.
        let again = get_ok(&app, &path).await;
        assert_eq!(body["groups"], again["groups"]);
    }
    let body = get_ok(&app, &format!("/api/v1/classes/{CLASS}/groups")).await;
    let focus: Vec<(String, usize)> = body["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["focus_skill_id"].as_str().unwrap_or("").to_owned(),
                ids(&g["students"]).len(),
            )
        })
        .collect();
    assert_eq!(
        focus,
        vec![
            (ADD.to_owned(), 4),
            (ADD.to_owned(), 3),
            (MUL.to_owned(), 3)
        ]
    );
    let mul = &body["groups"][2];
    assert_eq!(mul["focus"], "multiplying fractions");
    assert_eq!(ids(&mul["students"]), vec![stu(8), stu(9), stu(10)]);
    // Every member missed every item: the first three by id.
    assert_eq!(mul["items_to_revisit"], json!(["mul-0", "mul-1", "mul-10"]));
    assert_eq!(
        body["ready_for_challenge"].as_array().map(Vec::len),
        Some(5)
    );

    for query in [
        "min_size=0",
        "min_size=5&max_size=3",
        "max_size=99",
        "min_size=two",
    ] {
        let r = app
            .client
            .get(app.url(&format!("/api/v1/classes/{CLASS}/groups?{query}")))
            .bearer_auth(app.token(Role::Admin, ORG))
            .send()
            .await
            .expect("GET");
        assert_error(r, 400, "invalid_group_size").await;
    }
}

async fn plans_are_saved_edited_and_kept(app: TestApp) {
    groups_class(&app).await;
    let groups = get_ok(&app, &format!("/api/v1/classes/{CLASS}/groups")).await;
    let g = &groups["groups"][0];
    let r = send(
        &app,
        "POST",
        &format!("/api/v1/classes/{CLASS}/plans"),
        &json!({"focus_skill_id": g["focus_skill_id"], "students": g["students"], "group_id": g["id"],
                "note": "Tuesday, back table"}),
    )
    .await;
    assert_eq!(r.status(), 201);
    let plan: Value = r.json().await.expect("JSON");
    let id = plan["id"].as_str().expect("an id").to_owned();
    assert_eq!(plan["students"], g["students"]);
    assert_eq!(plan["group_id"], g["id"]);
    assert_eq!(plan["done"], false);
    assert_eq!(plan["created_by"], "admin-test");

    // Edit the members and mark it done.
    let members = json!([stu(1), stu(2), stu(11)]);
    let r = send(
        &app,
        "PATCH",
        &format!("/api/v1/plans/{id}"),
        &json!({"students": members, "done": true}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let edited: Value = r.json().await.expect("JSON");
    assert_eq!(edited["students"], members);
    assert_eq!(edited["done"], true);
    assert!(edited["done_at"].as_str().is_some());
    assert_eq!(edited["note"], "Tuesday, back table");

    // Kept.
    let list = get_ok(&app, &format!("/api/v1/classes/{CLASS}/plans")).await;
    assert_eq!(list["plans"].as_array().map(Vec::len), Some(1));
    assert_eq!(list["plans"][0]["students"], members);
    assert_eq!(
        get_ok(&app, &format!("/api/v1/plans/{id}")).await["done"],
        true
    );

    // Bad input.
    let r = send(
        &app,
        "PATCH",
        &format!("/api/v1/plans/{id}"),
        &json!({"students": ["stu-99"]}),
    )
    .await;
    assert_error(r, 422, "unknown_student").await;
    let r = send(
        &app,
        "PATCH",
        &format!("/api/v1/plans/{id}"),
        &json!({"students": [stu(1), stu(1)]}),
    )
    .await;
    assert_error(r, 422, "invalid_plan").await;
    let r = send(
        &app,
        "POST",
        &format!("/api/v1/classes/{CLASS}/plans"),
        &json!({"students": [stu(1)]}),
    )
    .await;
    assert_error(r, 422, "invalid_plan").await;
    let r = send(
        &app,
        "PATCH",
        "/api/v1/plans/plan-nope",
        &json!({"done": true}),
    )
    .await;
    assert_error(r, 404, "not_found").await;
    let r = app
        .client
        .post(app.url(&format!("/api/v1/classes/{CLASS}/plans")))
        .bearer_auth(app.token(Role::Admin, ORG))
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("POST");
    assert_error(r, 400, "malformed_json").await;
}

async fn reviews(app: &TestApp, query: &str) -> Vec<Value> {
    get_ok(app, &format!("/api/v1/reviews?{query}")).await["reviews"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

async fn dismissal_and_new_evidence_behave_as_described(app: TestApp) {
    strugglers(&app).await;
    // Six wrong answers: struggling, but too few answers to be sure: in the queue.
    let open = reviews(&app, &format!("class_id={CLASS}")).await;
    let item = open
        .iter()
        .find(|r| r["student_id"] == "stu-01" && r["skill_id"] == ADD)
        .cloned()
        .unwrap_or_else(|| panic!("stu-01 is not in the queue: {open:?}"));
    assert_eq!(item["kind"], "estimate");
    assert_eq!(item["status"], "open");
    assert!(item["reason"]
        .as_str()
        .is_some_and(|r| r.contains("stu-01")));
    let id = item["id"].as_str().expect("an id").to_owned();

    let r = send(
        &app,
        "POST",
        &format!("/api/v1/reviews/{id}"),
        &json!({"decision": "dismiss", "note": "absent that week"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let decided: Value = r.json().await.expect("JSON");
    assert_eq!(decided["status"], "dismissed");
    assert_eq!(decided["decided_by"], "admin-test");
    assert_eq!(decided["evidence_marker"], 6);

    // Out of the open queue, listed as dismissed with who, when and the note.
    let open = reviews(&app, &format!("class_id={CLASS}")).await;
    assert!(!open.iter().any(|r| r["id"] == id.as_str()));
    let dismissed = reviews(&app, &format!("class_id={CLASS}&status=dismissed")).await;
    assert_eq!(dismissed.len(), 1);
    assert_eq!(dismissed[0]["note"], "absent that week");
    assert!(dismissed[0]["decided_at"].as_str().is_some());
    // The same insight is silent for that student and skill.
    let body = get_ok(&app, &format!("/api/v1/classes/{CLASS}/insights")).await;
    let s = struggling_insight(&body).expect("a struggling insight");
    assert_eq!(
        s["headline"],
        "5 students may be struggling with adding fractions with unlike denominators."
    );
    assert!(!ids(&s["students"]).contains(&stu(1)));

    // New evidence: the item is open again and the student is back.
    app.post_batch(&answers(&stu(1), ADD, 1, "incorrect", "add-new-"))
        .await;
    let open = reviews(&app, &format!("class_id={CLASS}")).await;
    assert!(open
        .iter()
        .any(|r| r["id"] == id.as_str() && r["status"] == "open"));
    let body = get_ok(&app, &format!("/api/v1/classes/{CLASS}/insights")).await;
    let s = struggling_insight(&body).expect("a struggling insight");
    assert!(ids(&s["students"]).contains(&stu(1)));

    // A confirmation is recorded and takes the item out of the open queue.
    let other = open
        .iter()
        .find(|r| r["student_id"] == "stu-02")
        .expect("stu-02")
        .clone();
    let r = send(
        &app,
        "POST",
        &format!("/api/v1/reviews/{}", other["id"].as_str().unwrap_or("")),
        &json!({"decision": "confirm"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let confirmed = reviews(&app, "status=confirmed").await;
    assert_eq!(confirmed.len(), 1);
    assert_eq!(confirmed[0]["student_id"], "stu-02");
    // The organisation-wide queue holds the class's open items too.
    assert!(reviews(&app, "")
        .await
        .iter()
        .any(|r| r["id"] == id.as_str()));

    // Dismissing an insight silences it for all its students until new evidence.
    let s = struggling_insight(&get_ok(&app, &format!("/api/v1/classes/{CLASS}/insights")).await)
        .expect("insight");
    let r = send(
        &app,
        "POST",
        &format!(
            "/api/v1/classes/{CLASS}/insights/{}",
            s["id"].as_str().unwrap_or("")
        ),
        &json!({"decision": "dismiss"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body = get_ok(&app, &format!("/api/v1/classes/{CLASS}/insights")).await;
    assert!(struggling_insight(&body).is_none(), "{body}");

    // Bad input.
    let r = send(
        &app,
        "POST",
        "/api/v1/reviews/rv-zz",
        &json!({"decision": "dismiss"}),
    )
    .await;
    assert_error(r, 404, "not_found").await;
    let r = send(
        &app,
        "POST",
        &format!("/api/v1/reviews/{id}"),
        &json!({"decision": "maybe"}),
    )
    .await;
    assert_error(r, 422, "invalid_decision").await;
    let r = send(
        &app,
        "POST",
        &format!("/api/v1/reviews/{id}"),
        &json!({"decision": "dismiss", "note": "x".repeat(2001)}),
    )
    .await;
    assert_error(r, 422, "note_too_long").await;
    let (status, _) = get(&app, "/api/v1/reviews?status=later").await;
    assert_eq!(status, 400);
    let (status, _) = get(&app, "/api/v1/reviews?class_id=nope").await;
    assert_eq!(status, 404);
}

async fn student_page_has_history_and_recent_answers(app: TestApp) {
    strugglers(&app).await;
    let page = get_ok(&app, "/api/v1/students/stu-08").await;
    let history = &page["history"];
    assert_eq!(history["complete"], true);
    let skill = &history["skills"][0];
    assert_eq!(skill["skill_id"], ADD);
    let points = skill["points"].as_array().expect("points");
    assert_eq!(points.len(), 6);
    // All right: the estimate rises, and the last point is today's estimate.
    let est: Vec<f64> = points
        .iter()
        .filter_map(|p| p["estimate"].as_f64())
        .collect();
    assert!(est.windows(2).all(|w| w[1] >= w[0]), "{est:?}");
    assert!((est[5] - page["skills"][0]["estimate"].as_f64().unwrap_or(-1.0)).abs() < 1e-12);
    let recent = page["recent"].as_array().expect("recent");
    assert_eq!(recent.len(), 6);
    assert_eq!(recent[0]["item_id"], "add-5", "newest first");
    assert_eq!(recent[0]["response_ms"], 9000);
    assert_eq!(recent[0]["outcome"], "correct");
    assert_eq!(page["name"], serde_json::Value::Null, "no roster name");
}

both_backends!(
    overview_shows_students_by_skills,
    a_group_of_strugglers_reads_as_expected,
    a_mastered_class_reads_as_expected,
    groups_respect_sizes_and_never_share_a_student,
    plans_are_saved_edited_and_kept,
    dismissal_and_new_evidence_behave_as_described,
    student_page_has_history_and_recent_answers,
    roster_names_show_and_anonymise_hides_them,
);

/// Names come from the roster; `?anonymise=true` (or `1`) replaces them everywhere a page shows
/// them (overview, insights' sentences, groups, now, attention, reviews, the student), with the
/// same stable label on every page.
async fn roster_names_show_and_anonymise_hides_them(app: TestApp) {
    strugglers(&app).await;
    let roster = app
        .client
        .put(app.url("/api/v1/admin/roster"))
        .bearer_auth(app.token(Role::Admin, ORG))
        .json(&json!({"students": [{"student_id": "stu-01", "display_name": "Maya Rivera"}]}))
        .send()
        .await
        .expect("PUT roster");
    assert_eq!(roster.status(), 200);
    let named = get_ok(&app, &format!("/api/v1/classes/{CLASS}/overview")).await;
    assert_eq!(named["students"][0]["name"], "Maya Rivera");
    let insights = get_ok(&app, &format!("/api/v1/classes/{CLASS}/insights")).await;
    assert!(insights.to_string().contains("Maya Rivera"), "{insights}");

    for path in ["overview", "insights", "groups"] {
        let body = get_ok(
            &app,
            &format!("/api/v1/classes/{CLASS}/{path}?anonymise=true"),
        )
        .await;
        assert!(!body.to_string().contains("Maya"), "{path}: {body}");
    }
    let hidden = get_ok(
        &app,
        &format!("/api/v1/classes/{CLASS}/overview?anonymise=true"),
    )
    .await;
    let label = hidden["students"][0]["name"]
        .as_str()
        .expect("a label")
        .to_owned();
    assert!(label.starts_with("Student "), "{label}");
    let page = get_ok(&app, "/api/v1/students/stu-01?anonymise=true").await;
    assert_eq!(page["name"], label.as_str(), "the same label on every page");

    // One switch on every page that shows names: `true` or `1`; any other value is refused
    // rather than read as "show the names".
    for page in [
        format!("/api/v1/classes/{CLASS}/overview"),
        format!("/api/v1/classes/{CLASS}/insights"),
        format!("/api/v1/classes/{CLASS}/groups"),
        format!("/api/v1/classes/{CLASS}/now"),
        format!("/api/v1/classes/{CLASS}/attention"),
        format!("/api/v1/reviews?class_id={CLASS}&status=all"),
        "/api/v1/students/stu-01".to_owned(),
    ] {
        let named = get_ok(&app, &page).await;
        assert!(named.to_string().contains("Maya Rivera"), "{page}: {named}");
        let join = if page.contains('?') { '&' } else { '?' };
        for on in ["true", "1"] {
            let hidden = get_ok(&app, &format!("{page}{join}anonymise={on}")).await;
            assert!(
                !hidden.to_string().contains("Maya"),
                "{page} {on}: {hidden}"
            );
            assert!(hidden.to_string().contains(&label), "{page} {on}: {hidden}");
        }
        let (status, body) = get(&app, &format!("{page}{join}anonymise=maybe")).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (400, &json!("invalid_query")),
            "{page}"
        );
    }
}
