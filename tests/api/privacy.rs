//! Privacy: the audit log, names from the roster and the anonymised mode, export, erasure,
//! retention; and the safe defaults (security headers, CORS, rate limit, logs).

use std::io::Write;
use std::time::Duration;

use huddle::auth::Role;
use huddle::config::RateLimit;
use serde_json::{json, Value};

use crate::accounts::{add_user, get_as, token_for, PASSWORD};
use crate::helpers::{
    ago, assert_error, both_backends, event_with, huddle_command, Backend, Served, TestApp, ORG,
};

both_backends!(
    reads_of_a_student_are_audited_and_listed_for_admins,
    names_come_from_the_roster_and_can_be_anonymised,
    a_bad_roster_is_refused_whole,
    an_export_holds_everything_about_the_student,
    an_export_of_a_student_erased_after_the_access_check_finds_nothing,
    exports_racing_an_erasure_are_whole_or_not_found,
    erasure_leaves_only_an_audit_entry_without_the_id,
    retention_purges_old_events_and_keeps_the_estimates,
    security_headers_are_on_every_answer_and_cors_is_closed,
);

async fn put_roster(app: &TestApp, body: Vec<u8>, content_type: &str) -> reqwest::Response {
    app.client
        .put(app.url("/api/v1/admin/roster"))
        .bearer_auth(app.token(Role::Admin, ORG))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("PUT roster")
}

async fn audit(app: &TestApp, query: &str) -> Value {
    let response = get_as(
        app,
        &app.token(Role::Admin, ORG),
        &format!("/api/v1/admin/audit{query}"),
    )
    .await;
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

async fn reads_of_a_student_are_audited_and_listed_for_admins(app: TestApp) {
    let teacher = add_user(&app, "t@school.example", Role::Teacher, ORG, &["class-5b"]).await;
    app.post_batch(&[event_with(
        json!({"student_id": "stu-1", "class_id": "class-5b"}),
    )])
    .await;
    let token = token_for(&app, &teacher, Role::Teacher, ORG);
    assert_eq!(
        get_as(&app, &token, "/api/v1/students/stu-1")
            .await
            .status(),
        200
    );
    assert_eq!(
        get_as(&app, &token, "/api/v1/students/stu-1?anonymise=true")
            .await
            .status(),
        200
    );
    // A refused read is not a read: nothing recorded.
    let stranger = add_user(&app, "s@school.example", Role::Teacher, ORG, &["class-x"]).await;
    let other = token_for(&app, &stranger, Role::Teacher, ORG);
    assert_eq!(
        get_as(&app, &other, "/api/v1/students/stu-1")
            .await
            .status(),
        403
    );

    let page = audit(&app, "").await;
    let entries = page["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2, "{page}");
    // Newest first.
    assert_eq!(entries[0]["detail"], "anonymised");
    for e in entries {
        assert_eq!(e["actor"], teacher.as_str());
        assert_eq!(e["actor_role"], "teacher");
        assert_eq!(e["action"], "student.read");
        assert_eq!(e["subject_kind"], "student");
        assert_eq!(e["subject_id"], "stu-1");
        assert!(e["at"].as_str().expect("a time").ends_with('Z'));
    }
    // Filters and pages.
    let one = audit(&app, "?limit=1").await;
    assert_eq!(one["entries"].as_array().expect("entries").len(), 1);
    let before = one["next_before"].as_i64().expect("a next page");
    let next = audit(&app, &format!("?limit=1&before={before}")).await;
    assert_eq!(next["entries"][0]["detail"], Value::Null);
    assert_eq!(audit(&app, "?subject_id=stu-2").await["entries"], json!([]));
    assert_eq!(audit(&app, "?from=2999-01-01").await["entries"], json!([]));
    assert_eq!(
        audit(&app, &format!("?actor={teacher}&to=2999-01-01")).await["entries"]
            .as_array()
            .expect("entries")
            .len(),
        2
    );
    // Another organisation's administrator sees none of it.
    let foreign = get_as(
        &app,
        &app.token(Role::Admin, "district-2"),
        "/api/v1/admin/audit",
    )
    .await;
    let body: Value = foreign.json().await.expect("JSON");
    assert_eq!(body["entries"], json!([]));
    // Teachers cannot list it.
    assert_error(
        get_as(&app, &token, "/api/v1/admin/audit").await,
        403,
        "forbidden",
    )
    .await;
}

async fn names_come_from_the_roster_and_can_be_anonymised(app: TestApp) {
    let admin = app.token(Role::Admin, ORG);
    app.post_batch(&[event_with(json!({"student_id": "stu-1"}))])
        .await;
    // Before any roster: no name, only the pseudonymous id.
    let before: Value = get_as(&app, &admin, "/api/v1/students/stu-1")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(before["name"], Value::Null);

    let csv = "student_id,display_name,class_id,group\nstu-1,Maya Lopez,class-5b,g-north\nstu-2,Sam Okafor,class-5b,\n";
    let response = put_roster(&app, csv.as_bytes().to_vec(), "text/csv").await;
    assert_eq!(response.status(), 200);
    let summary: Value = response.json().await.expect("JSON");
    assert_eq!(
        summary,
        json!({"students_created": 1, "students_updated": 1, "enrolments_created": 1})
    );

    let named: Value = get_as(&app, &admin, "/api/v1/students/stu-1")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(named["name"], "Maya Lopez");
    assert_eq!(named["anonymised"], false);
    let anon: Value = get_as(&app, &admin, "/api/v1/students/stu-1?anonymise=true")
        .await
        .json()
        .await
        .expect("JSON");
    let label = anon["name"].as_str().expect("a label");
    assert!(label.starts_with("Student "), "{label}");
    assert!(!anon.to_string().contains("Maya"), "{anon}");
    assert_eq!(anon["anonymised"], true);
    // Stable: the same label every time, and another student gets another one.
    let again: Value = get_as(&app, &admin, "/api/v1/students/stu-1?anonymise=true")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(again["name"], label);
    let other: Value = get_as(&app, &admin, "/api/v1/students/stu-2?anonymise=true")
        .await
        .json()
        .await
        .expect("JSON");
    assert_ne!(other["name"], label);

    // JSON works too, and an empty name removes it.
    let response = put_roster(
        &app,
        json!({"students": [{"student_id": "stu-1", "display_name": ""}]})
            .to_string()
            .into_bytes(),
        "application/json",
    )
    .await;
    assert_eq!(response.status(), 200);
    let cleared: Value = get_as(&app, &admin, "/api/v1/students/stu-1")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(cleared["name"], Value::Null);
    // The roster enrolled stu-2 in class-5b: its teacher can now read them.
    let teacher = add_user(&app, "t@school.example", Role::Teacher, ORG, &["class-5b"]).await;
    let t = token_for(&app, &teacher, Role::Teacher, ORG);
    let seen: Value = get_as(&app, &t, "/api/v1/students/stu-2")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(seen["name"], "Sam Okafor");
    // Uploads are audited.
    let page = audit(&app, "").await;
    assert!(page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .any(|e| e["action"] == "roster.upload"));
}

async fn a_bad_roster_is_refused_whole(app: TestApp) {
    let csv = "student_id,name\nstu-ok,Good Name\nnot ok,Bad Id\n";
    let message = assert_error(
        put_roster(&app, csv.as_bytes().to_vec(), "text/csv").await,
        422,
        "invalid_roster",
    )
    .await;
    assert!(message.contains("line 3"), "{message}");
    let none = assert_error(
        put_roster(&app, b"name\nA\n".to_vec(), "text/csv").await,
        422,
        "invalid_roster",
    )
    .await;
    assert!(none.contains("student_id"), "{none}");
    assert_error(
        put_roster(&app, b"{\"students\": [".to_vec(), "application/json").await,
        400,
        "malformed_json",
    )
    .await;
    assert_error(
        put_roster(&app, b"{\"students\": 3}".to_vec(), "application/json").await,
        422,
        "invalid_roster",
    )
    .await;
    // Nothing of the refused upload was kept.
    let response = get_as(
        &app,
        &app.token(Role::Admin, ORG),
        "/api/v1/students/stu-ok",
    )
    .await;
    assert_error(response, 404, "not_found").await;
}

async fn an_export_holds_everything_about_the_student(app: TestApp) {
    let events = [
        event_with(json!({"student_id": "stu-1", "item_id": "i1", "occurred_at": ago(600)})),
        event_with(json!({"student_id": "stu-1", "item_id": "i2", "outcome": "incorrect"})),
        event_with(json!({"student_id": "stu-2"})),
    ];
    app.post_batch(&events).await;
    put_roster(
        &app,
        b"student_id,name,group\nstu-1,Maya Lopez,g1\n".to_vec(),
        "text/csv",
    )
    .await;
    let response = get_as(
        &app,
        &app.token(Role::Admin, ORG),
        "/api/v1/students/stu-1/export",
    )
    .await;
    assert_eq!(response.status(), 200);
    let export: Value = response.json().await.expect("JSON");
    assert_eq!(export["student_id"], "stu-1");
    assert_eq!(export["display_name"], "Maya Lopez");
    assert_eq!(export["group"], "g1");
    let ids: Vec<&str> = export["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["event_id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        [
            crate::helpers::id_of(&events[0]),
            crate::helpers::id_of(&events[1])
        ]
    );
    assert_eq!(export["events"][1]["outcome"], "incorrect");
    assert_eq!(export["skill_states"].as_array().expect("states").len(), 1);
    assert_eq!(export["items_seen"].as_array().expect("items").len(), 2);
    assert_eq!(export["enrolments"][0]["class_id"], "class-5b");
    // The derived rows erasure deletes are exported too.
    let weekly: i64 = export["weekly_activity"]
        .as_array()
        .expect("weekly activity")
        .iter()
        .map(|w| w["events"].as_i64().expect("events"))
        .sum();
    assert_eq!(weekly, 2);
    assert!(!export["prediction_tallies"]
        .as_array()
        .expect("prediction tallies")
        .is_empty());
    assert!(
        export["detector_state"].is_object(),
        "{}",
        export["detector_state"]
    );
    assert!(!export.to_string().contains("stu-2"), "only this student");
    let page = audit(&app, "?subject_id=stu-1").await;
    assert_eq!(page["entries"][0]["action"], "student.export");
}

/// An erasure may come between the export's access check and its read: the read then finds no
/// student (the handler's 404), never a failure (a 500).
async fn an_export_of_a_student_erased_after_the_access_check_finds_nothing(app: TestApp) {
    app.post_batch(&[event_with(json!({"student_id": "stu-gone"}))])
        .await;
    let caller = huddle::auth::Caller {
        sub: "admin-1".into(),
        role: Role::Admin,
        org: ORG.into(),
        classes: None,
    };
    let who = caller.clone();
    let access = app
        .db
        .read(move |conn| huddle::store::access::student_access(conn, &who, "stu-gone"))
        .await
        .expect("the access facts");
    let scope = huddle::auth::policy::may_manage_student(&caller, &access).expect("a scope");
    let erased = app
        .client
        .delete(app.url("/api/v1/students/stu-gone"))
        .bearer_auth(app.token(Role::Admin, ORG))
        .send()
        .await
        .expect("DELETE");
    assert_eq!(erased.status(), 200);
    let thresholds = huddle::signals::Thresholds::default();
    let export = app
        .db
        .read(move |conn| huddle::store::privacy::export_student(conn, &scope, &thresholds))
        .await
        .expect("an export of an erased student is not an error");
    assert!(export.is_none(), "{export:?}");
}

/// Exports racing an erasure: each answer is the whole export (every section as it was before
/// the erasure began) or a 404, never a student with part of their rows gone. Four readers
/// export in a loop until they meet the 404, the erasure lands at a different moment each round.
async fn exports_racing_an_erasure_are_whole_or_not_found(app: TestApp) {
    let admin = app.token(Role::Admin, ORG);
    let (mut whole, mut rounds_with_both) = (0, 0);
    for round in 0..25_u64 {
        let student = format!("stu-race-{round}");
        let events: Vec<Value> = (0..40_i64)
            .map(|i| {
                event_with(json!({
                    "student_id": student,
                    "skill_id": format!("k.{}", i % 4),
                    "item_id": format!("i{}", i % 10),
                    "outcome": if i % 3 == 0 { "incorrect" } else { "correct" },
                    "occurred_at": ago(3_600 - i * 30),
                }))
            })
            .collect();
        app.post_batch(&events).await;
        let path = format!("/api/v1/students/{student}/export");
        let response = get_as(&app, &admin, &path).await;
        assert_eq!(response.status(), 200);
        let reference: Value = response.json().await.expect("JSON");
        for section in [
            "enrolments",
            "events",
            "skill_states",
            "items_seen",
            "weekly_activity",
            "prediction_tallies",
        ] {
            let rows = reference[section].as_array().expect(section);
            assert!(!rows.is_empty(), "{section} is empty before the erasure");
        }
        assert_eq!(reference["events"].as_array().map(Vec::len), Some(40));
        let reader = || async {
            let mut answers = Vec::new();
            for _ in 0..2_000 {
                let response = get_as(&app, &admin, &path).await;
                let status = response.status().as_u16();
                let body: Value = response.json().await.expect("a JSON answer");
                answers.push((status, body));
                if status != 200 {
                    break;
                }
            }
            answers
        };
        let erase = async {
            actix_web::rt::time::sleep(Duration::from_millis(3 + round % 7 * 4)).await;
            let response = app
                .client
                .delete(app.url(&format!("/api/v1/students/{student}")))
                .bearer_auth(&admin)
                .send()
                .await
                .expect("DELETE");
            assert_eq!(response.status(), 200);
        };
        let (a, b, c, d, ()) = tokio::join!(reader(), reader(), reader(), reader(), erase);
        let (mut ok, mut not_found) = (0, 0);
        for (status, body) in [a, b, c, d].into_iter().flatten() {
            match status {
                200 => {
                    let differ: Vec<&String> = reference
                        .as_object()
                        .expect("an object")
                        .iter()
                        .filter(|(section, rows)| body[section.as_str()] != **rows)
                        .map(|(section, _)| section)
                        .collect();
                    assert!(
                        differ.is_empty(),
                        "round {round}: an export during the erasure differs in {differ:?} \
                         from the export before: {body}"
                    );
                    ok += 1;
                }
                404 => {
                    assert_eq!(body["error"]["code"], "not_found", "{body}");
                    not_found += 1;
                }
                other => panic!("round {round}: an export answered {other}: {body}"),
            }
        }
        assert_eq!(not_found, 4, "round {round}: every reader ends on the 404");
        whole += ok;
        rounds_with_both += usize::from(ok > 0);
    }
    assert!(
        whole > 0 && rounds_with_both > 0,
        "the exports never overlapped the erasures"
    );
}

async fn erasure_leaves_only_an_audit_entry_without_the_id(app: TestApp) {
    let admin = app.token(Role::Admin, ORG);
    app.post_batch(&[
        event_with(json!({"student_id": "stu-gone"})),
        event_with(json!({"student_id": "stu-gone", "item_id": "i2"})),
        event_with(json!({"student_id": "stu-stays"})),
    ])
    .await;
    put_roster(
        &app,
        b"student_id,name\nstu-gone,Erin Erased\n".to_vec(),
        "text/csv",
    )
    .await;
    assert_eq!(
        get_as(&app, &admin, "/api/v1/students/stu-gone")
            .await
            .status(),
        200
    );
    let class = stored_class(&app).await;
    let plan: Value = app
        .client
        .post(app.url(&format!("/api/v1/classes/{class}/plans")))
        .bearer_auth(&admin)
        .json(&json!({"focus_skill_id": "fractions.add-unlike", "students": ["stu-gone", "stu-stays"]}))
        .send()
        .await
        .expect("POST plan")
        .json()
        .await
        .expect("JSON");

    let response = app
        .client
        .delete(app.url("/api/v1/students/stu-gone"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["erased"], true);
    assert_eq!(body["rows"]["events"], 2, "{body}");
    assert_eq!(body["rows"]["students"], 1, "{body}");
    assert_eq!(body["rows"]["flags"], 0, "{body}");
    assert_eq!(body["rows"]["group_plans"], 1, "{body}");
    let kept: Value = get_as(
        &app,
        &admin,
        &format!("/api/v1/plans/{}", plan["id"].as_str().expect("id")),
    )
    .await
    .json()
    .await
    .expect("JSON");
    assert_eq!(
        kept["students"],
        json!(["stu-stays"]),
        "the erased student left the plan"
    );

    // Gone everywhere: events, states, the student row; the other student untouched.
    let stored = app.stored_events().await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event.student_id, "stu-stays");
    assert_error(
        get_as(&app, &admin, "/api/v1/students/stu-gone").await,
        404,
        "not_found",
    )
    .await;
    assert_error(
        get_as(&app, &admin, "/api/v1/students/stu-gone/export").await,
        404,
        "not_found",
    )
    .await;
    let states = app
        .db
        .read(|c| huddle::store::state::all_states(c, ORG))
        .await
        .expect("states");
    assert!(states.keys().all(|(s, _)| s == "stu-stays"));
    // The audit log keeps who and when, but not the id (nor the name) anywhere.
    let page = audit(&app, "").await;
    let text = page.to_string();
    assert!(
        !text.contains("stu-gone") && !text.contains("Erin"),
        "{text}"
    );
    // The newest entry about a student (reading the plan since is an entry about its class).
    let erase = page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["subject_kind"] == "student")
        .expect("the erasure");
    assert_eq!(erase["action"], "student.erase");
    assert_eq!(erase["subject_id"], Value::Null);
    assert!(erase["detail"]
        .as_str()
        .expect("counts")
        .contains("events=2"));
    assert!(page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .any(|e| e["action"] == "student.read" && e["subject_id"].is_null()));
    // A second erasure: nothing to erase.
    let again = app
        .client
        .delete(app.url("/api/v1/students/stu-gone"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("DELETE");
    assert_error(again, 404, "not_found").await;
}

async fn retention_purges_old_events_and_keeps_the_estimates(app: TestApp) {
    let days = |d: i64| ago(d * 86_400);
    app.post_batch(&[
        event_with(json!({"student_id": "stu-1", "item_id": "old-1", "occurred_at": days(40)})),
        event_with(json!({"student_id": "stu-1", "item_id": "old-2", "occurred_at": days(35)})),
        event_with(json!({"student_id": "stu-1", "item_id": "new-1", "occurred_at": days(1)})),
    ])
    .await;
    let admin = app.token(Role::Admin, ORG);
    let before: Value = get_as(&app, &admin, "/api/v1/students/stu-1")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(before["events_purged_before"], Value::Null);

    let db = app.db.clone();
    let purged = huddle::db::blocking(move || huddle::startup::purge_all(&db, 30))
        .await
        .expect("purge");
    assert_eq!(purged, 2);
    let left: Vec<String> = app
        .stored_events()
        .await
        .into_iter()
        .map(|e| e.event.item_id)
        .collect();
    assert_eq!(left, ["new-1"]);
    // The estimate still counts all three answers, and the page says what was purged.
    let after: Value = get_as(&app, &admin, "/api/v1/students/stu-1")
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(after["skills"], before["skills"]);
    assert_eq!(after["skills"][0]["opportunities"], 3);
    let cut = after["events_purged_before"]
        .as_str()
        .expect("a purge mark");
    let cut = chrono::DateTime::parse_from_rfc3339(cut).expect("RFC 3339");
    let age = chrono::Utc::now().signed_duration_since(cut);
    assert!((age.num_hours() - 30 * 24).abs() <= 1, "{age:?}");
    // Nothing more to purge.
    let db = app.db.clone();
    assert_eq!(
        huddle::db::blocking(move || huddle::startup::purge_all(&db, 30))
            .await
            .expect("purge"),
        0
    );
}

async fn security_headers_are_on_every_answer_and_cors_is_closed(app: TestApp) {
    for path in ["/", "/healthz", "/api/v1/classes", "/nowhere"] {
        let response = app.get(path).await;
        let h = response.headers();
        let csp = h
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(
            h.get("x-content-type-options").expect("nosniff"),
            "nosniff",
            "{path}"
        );
        assert_eq!(
            h.get("x-frame-options").expect("frame denial"),
            "DENY",
            "{path}"
        );
        assert_eq!(
            h.get("referrer-policy").expect("referrer"),
            "no-referrer",
            "{path}"
        );
    }
    // No CORS configured: a browser on another origin gets no permission, preflight or not.
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("Origin", "https://elsewhere.example")
        .send()
        .await
        .expect("GET");
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/classes"))
        .header("Origin", "https://elsewhere.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .expect("OPTIONS");
    assert!(preflight
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[actix_web::test]
async fn cors_opens_to_configured_origins_only() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.cors_origins = vec!["https://dashboard.school.example".into()];
    })
    .await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/classes"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "GET")
            .header("Access-Control-Request-Headers", "authorization")
            .send()
    };
    let ok = preflight("https://dashboard.school.example")
        .await
        .expect("OPTIONS");
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .expect("allowed"),
        "https://dashboard.school.example"
    );
    let other = preflight("https://elsewhere.example")
        .await
        .expect("OPTIONS");
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[actix_web::test]
async fn the_rate_limit_answers_429_with_retry_after_per_token() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.rate_limit = Some(RateLimit {
            per_minute: 60,
            burst: 3,
        });
    })
    .await;
    let admin = app.token(Role::Admin, ORG);
    for _ in 0..3 {
        assert_eq!(get_as(&app, &admin, "/api/v1/classes").await.status(), 200);
    }
    let response = get_as(&app, &admin, "/api/v1/classes").await;
    let retry: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry), "{retry}");
    assert_error(response, 429, "rate_limited").await;
    // Another token has its own allowance; the health check is never limited.
    let other = app.token(Role::Teacher, ORG);
    assert_eq!(get_as(&app, &other, "/api/v1/classes").await.status(), 200);
    for _ in 0..5 {
        assert_eq!(app.get("/healthz").await.status(), 200);
    }
    // Without a token, the client address is limited.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(app.get("/openapi.json").await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

#[actix_web::test]
async fn the_default_rate_limit_lets_a_busy_tool_through() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for _ in 0..200 {
        let response = app.post_events(&json!({"events": []})).await;
        assert_eq!(response.status(), 200);
    }
}

/// The real binary: `huddle user add` reads the password from stdin; signing in, a roster and
/// reads leave no token, password, email or name in the log.
#[actix_web::test]
async fn the_log_holds_no_tokens_passwords_or_names() {
    let dir = tempfile::tempdir().expect("a directory");
    let url = format!("sqlite://{}", dir.path().join("h.db").display());
    let mut child = huddle_command()
        .args([
            "user",
            "add",
            "--email",
            "Log.Admin@school.example",
            "--role",
            "admin",
            "--org",
            ORG,
            "--password-stdin",
            "--database-url",
            &url,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("huddle user add");
    writeln!(child.stdin.take().expect("stdin"), "{PASSWORD}").expect("writing the password");
    let output = child.wait_with_output().expect("huddle user add");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout)
        .trim()
        .starts_with("user-"));

    let served = Served::start(&["--database-url", &url], dir.path().join("serve.log")).await;
    let client = reqwest::Client::new();
    let login: Value = client
        .post(format!("{}/api/v1/auth/login", served.address))
        .json(&json!({"email": "log.admin@school.example", "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("JSON");
    let token = login["token"].as_str().expect("a token").to_owned();
    let wrong = client
        .post(format!("{}/api/v1/auth/login", served.address))
        .json(&json!({"email": "log.admin@school.example", "password": "a wrong password"}))
        .send()
        .await
        .expect("login");
    assert_eq!(wrong.status(), 401);
    let roster = client
        .put(format!("{}/api/v1/admin/roster", served.address))
        .bearer_auth(&token)
        .json(&json!({"students": [{"student_id": "stu-log", "display_name": "Zora Lognamed"}]}))
        .send()
        .await
        .expect("roster");
    assert_eq!(roster.status(), 200);
    let read = client
        .get(format!(
            "{}/api/v1/students/stu-log?anonymise=false",
            served.address
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("read");
    assert_eq!(read.status(), 200);
    let page: Value = read.json().await.expect("JSON");
    assert_eq!(page["name"], "Zora Lognamed");
    actix_web::rt::time::sleep(Duration::from_millis(200)).await;

    let log = served.log_text();
    assert!(
        log.contains("signed in") && log.contains("roster applied"),
        "the log is written:\n{log}"
    );
    let signature = token.rsplit('.').next().expect("a signature");
    for secret in [
        signature,
        PASSWORD,
        "a wrong password",
        "Zora",
        "log.admin",
        "Log.Admin",
        "anonymise=",
    ] {
        assert!(!log.contains(secret), "the log holds {secret:?}:\n{log}");
    }
}

#[actix_web::test]
async fn the_retention_job_purges_in_the_background() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.retention_days = Some(30);
        s.retention_interval = Duration::from_millis(100);
    })
    .await;
    app.post_batch(&[
        event_with(json!({"item_id": "old", "occurred_at": ago(40 * 86_400)})),
        event_with(json!({"item_id": "new"})),
    ])
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while app.count_events().await > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the old event was not purged"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.stored_events().await[0].event.item_id, "new");
}

#[actix_web::test]
async fn error_messages_never_quote_the_values_sent() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "a@b.example", "password": 998877665544_u64}))
        .send()
        .await
        .expect("POST");
    let message = assert_error(response, 422, "invalid_body").await;
    assert!(!message.contains("998877665544"), "{message}");
    let response = put_roster(
        &app,
        json!({"students": "Maya Quotedname"})
            .to_string()
            .into_bytes(),
        "application/json",
    )
    .await;
    let message = assert_error(response, 422, "invalid_roster").await;
    assert!(!message.contains("Quotedname"), "{message}");
}

/// The class the test events were sent for.
async fn stored_class(app: &TestApp) -> String {
    app.stored_events()
        .await
        .first()
        .map(|e| e.event.class_id.clone())
        .expect("an event")
}
