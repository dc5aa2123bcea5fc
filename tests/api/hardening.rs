//! The findings of an outside probe, each kept fixed: bad bytes, a class-limited tool's reach,
//! slow clients, CSV formulas, lockouts, date overflows, rate-limit keys, erased text on disk,
//! the audit of plans, values in messages, plan fields, skill names, event-id namespaces,
//! error shapes and content types, and the OpenAPI document and token times.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use huddle::auth::{Claims, Role};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::accounts::{add_user, get_as, login, token_for, PASSWORD};
use crate::helpers::{assert_error, both_backends, event_with, Backend, TestApp, ORG};

both_backends!(
    nul_bytes_and_control_characters_are_refused_not_a_500,
    a_class_limited_tool_cannot_enrol_another_class_s_student,
    csv_reports_defuse_formulas,
    a_stranger_cannot_lock_a_teacher_out,
    extreme_dates_are_refused_not_a_panic,
    plans_are_audited_and_anonymised_reads_marked,
    messages_do_not_quote_request_values,
    plan_fields_are_validated,
    a_tool_never_renames_a_skill,
    event_ids_are_per_organisation_and_never_nil,
    errors_are_json_and_bodies_json_only,
    token_times_are_checked,
);

/// A class `class-5b` with `stu-1` and `stu-2` practising `fractions.add-unlike`, and an admin
/// token.
async fn class_with_students(app: &TestApp) -> String {
    let events: Vec<Value> = ["stu-1", "stu-2"]
        .iter()
        .map(|s| event_with(json!({"student_id": s, "skill_name": "Adding fractions"})))
        .collect();
    app.post_batch(&events).await;
    app.token(Role::Admin, ORG)
}

async fn send_as(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    body: Value,
) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("a request")
}

async fn nul_bytes_and_control_characters_are_refused_not_a_500(app: TestApp) {
    let admin = class_with_students(&app).await;
    // Sign-in with a NUL in the email: the ordinary answer, no database error.
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": "a\u{0}@b", "password": "x"}))
        .send()
        .await
        .expect("POST");
    assert_error(response, 401, "invalid_credentials").await;
    // In path ids and query values.
    for path in [
        "/api/v1/students/x%00",
        "/api/v1/reviews/r%00",
        "/api/v1/classes/class-5b/overview?anonymise=%00",
        "/api/v1/admin/audit?subject_id=stu%001",
        "/api/v1/students/%1B%5B31m",
    ] {
        let response = get_as(&app, &admin, path).await;
        assert_error(response, 400, "invalid_characters").await;
    }
    // In a note and a plan's fields.
    let response = send_as(
        &app,
        reqwest::Method::POST,
        &admin,
        "/api/v1/classes/class-5b/plans",
        json!({"focus_skill_id": "fractions.add-unlike", "students": ["stu-1"], "note": "a\u{0}b"}),
    )
    .await;
    assert_error(response, 422, "invalid_note").await;
    let response = send_as(
        &app,
        reqwest::Method::POST,
        &admin,
        "/api/v1/classes/class-5b/plans",
        json!({"focus_skill_id": "fractions\u{0}", "students": ["stu-1\u{0}"]}),
    )
    .await;
    assert_error(response, 422, "invalid_plan").await;
    let response = send_as(
        &app,
        reqwest::Method::POST,
        &admin,
        "/api/v1/classes/class-5b/plans",
        json!({"focus_skill_id": "fractions.add-unlike", "students": ["stu-1\u{0}"],
               "note": "\u{1b}[2Jcleared"}),
    )
    .await;
    assert_error(response, 422, "invalid_note").await;
    // Events: free text with control characters is refused one by one.
    let answer = app
        .post_batch(&[event_with(
            json!({"tool": "t\u{0}", "skill_name": "\u{1b}[31m"}),
        )])
        .await;
    assert_eq!(answer["rejected"][0]["error"]["code"], "invalid_label");
}

async fn a_class_limited_tool_cannot_enrol_another_class_s_student(app: TestApp) {
    // stu-a practises in class-a (an organisation-wide tool); class-b has its own student.
    app.post_batch(&[
        event_with(json!({"student_id": "stu-a", "class_id": "class-a"})),
        event_with(json!({"student_id": "stu-b", "class_id": "class-b"})),
    ])
    .await;
    let teacher_b = add_user(&app, "b@school.example", Role::Teacher, ORG, &["class-b"]).await;
    let teacher_b = token_for(&app, &teacher_b, Role::Teacher, ORG);
    let limited = app.sign(
        &Claims::new("tool-b", Role::Tool, ORG, Duration::from_secs(600))
            .with_classes(vec!["class-b".into()]),
    );
    let answer: Value = app
        .post_events_as(
            &limited,
            &json!({"events": [
                event_with(json!({"student_id": "stu-a", "class_id": "class-b"})),
                event_with(json!({"student_id": "stu-b", "class_id": "class-b"})),
                event_with(json!({"student_id": "stu-new", "class_id": "class-b"})),
            ]}),
        )
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["accepted"], 2, "{answer}");
    assert_eq!(answer["rejected"][0]["index"], 0, "{answer}");
    assert_eq!(
        answer["rejected"][0]["error"]["code"],
        "student_not_in_class"
    );
    // class-b's teacher still cannot read stu-a; their own students they can.
    let response = get_as(&app, &teacher_b, "/api/v1/students/stu-a").await;
    assert_error(response, 403, "forbidden").await;
    for own in ["stu-b", "stu-new"] {
        let response = get_as(&app, &teacher_b, &format!("/api/v1/students/{own}")).await;
        assert_eq!(response.status(), 200, "{own}");
    }
}

async fn csv_reports_defuse_formulas(app: TestApp) {
    app.post_batch(&[event_with(
        json!({"tool": "=HYPERLINK(\"http://x.example\",\"go\")"}),
    )])
    .await;
    let admin = app.token(Role::Admin, ORG);
    let text = get_as(
        &app,
        &admin,
        "/api/v1/admin/data-quality?format=csv&section=tools",
    )
    .await
    .text()
    .await
    .expect("CSV");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let cells: Vec<String> = reader
        .records()
        .flat_map(|r| {
            r.expect("a row")
                .iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        cells.iter().any(|c| c.starts_with("'=HYPERLINK")),
        "the tool's name is kept, defused: {text}"
    );
    assert!(
        !cells.iter().any(|c| c.starts_with('=')),
        "no cell starts a formula: {text}"
    );
}

/// A client whose requests come from another loopback address.
fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address.parse::<std::net::IpAddr>().expect("an address"))
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client")
}

async fn a_stranger_cannot_lock_a_teacher_out(app: TestApp) {
    add_user(&app, "teacher@school.example", Role::Teacher, ORG, &[]).await;
    let stranger = client_from("127.0.0.2");
    let policy = huddle::auth::throttle::LoginPolicy::default();
    let mut statuses = Vec::new();
    for _ in 0..policy.lock_after + 2 {
        let response = stranger
            .post(app.url("/api/v1/auth/login"))
            .json(&json!({"email": "teacher@school.example", "password": "guess"}))
            .send()
            .await
            .expect("POST");
        statuses.push(response.status().as_u16());
    }
    assert_eq!(
        statuses.last(),
        Some(&429),
        "the stranger's address is locked: {statuses:?}"
    );
    // The teacher, from their own address, signs in at once.
    let started = Instant::now();
    let response = login(&app, "teacher@school.example", PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(2));
}

async fn extreme_dates_are_refused_not_a_panic(app: TestApp) {
    let admin = app.token(Role::Admin, ORG);
    for path in [
        "/api/v1/admin/model-health?as_of=-262143-01-01",
        "/api/v1/admin/model-health?as_of=262142-12-31",
        "/api/v1/admin/model-health?as_of=0001-01-01",
    ] {
        let response = get_as(&app, &admin, path).await;
        assert_error(response, 400, "invalid_query").await;
    }
    for path in [
        "/api/v1/admin/adoption?to=-262143-01-01",
        "/api/v1/admin/data-quality?from=-262143-01-01&to=-262143-01-02",
    ] {
        let response = get_as(&app, &admin, path).await;
        assert_error(response, 400, "invalid_date").await;
    }
    let response = get_as(&app, &admin, "/api/v1/admin/audit?from=-262143-01-01").await;
    assert_error(response, 400, "invalid_query").await;
    // The service still answers.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

async fn plans_are_audited_and_anonymised_reads_marked(app: TestApp) {
    let admin = class_with_students(&app).await;
    let plan: Value = send_as(
        &app,
        reqwest::Method::POST,
        &admin,
        "/api/v1/classes/class-5b/plans",
        json!({"focus_skill_id": "fractions.add-unlike", "students": ["stu-1", "stu-2"]}),
    )
    .await
    .json()
    .await
    .expect("a plan");
    let id = plan["id"].as_str().expect("an id").to_owned();
    assert_eq!(
        get_as(&app, &admin, "/api/v1/classes/class-5b/plans")
            .await
            .status(),
        200
    );
    assert_eq!(
        get_as(&app, &admin, &format!("/api/v1/plans/{id}"))
            .await
            .status(),
        200
    );
    let response = send_as(
        &app,
        reqwest::Method::PATCH,
        &admin,
        &format!("/api/v1/plans/{id}"),
        json!({"done": true}),
    )
    .await;
    assert_eq!(response.status(), 200);
    for path in [
        "/api/v1/classes/class-5b/overview?anonymise=true",
        "/api/v1/classes/class-5b/insights?anonymise=true",
        "/api/v1/classes/class-5b/groups?anonymise=true",
    ] {
        assert_eq!(get_as(&app, &admin, path).await.status(), 200, "{path}");
    }
    let log: Value = get_as(&app, &admin, "/api/v1/admin/audit?limit=100")
        .await
        .json()
        .await
        .expect("the audit log");
    let entries = log["entries"].as_array().expect("entries");
    let has = |action: &str, detail: Option<&str>| {
        entries.iter().any(|e| {
            e["action"] == action
                && e["subject_id"] == "class-5b"
                && detail.is_none_or(|d| e["detail"] == d)
        })
    };
    for action in ["plan.create", "plans.read", "plan.read", "plan.done"] {
        assert!(has(action, None), "{action} missing: {log}");
    }
    for action in ["class.overview", "class.insights", "class.groups"] {
        assert!(has(action, Some("anonymised")), "{action} unmarked: {log}");
    }
}

async fn messages_do_not_quote_request_values(app: TestApp) {
    let admin = class_with_students(&app).await;
    let secret = "stu-SECRET-4242";
    for body in [
        json!({"focus_skill_id": "fractions.add-unlike", "students": secret}),
        json!({"focus_skill_id": "fractions.add-unlike", "students": [secret]}),
        json!({"focus_skill_id": "fractions.add-unlike", "students": ["stu-1", "stu-1"]}),
    ] {
        let response = send_as(
            &app,
            reqwest::Method::POST,
            &admin,
            "/api/v1/classes/class-5b/plans",
            body,
        )
        .await;
        assert_eq!(response.status(), 422);
        let text = response.text().await.expect("a body");
        assert!(!text.contains(secret) && !text.contains("stu-1"), "{text}");
    }
}

async fn plan_fields_are_validated(app: TestApp) {
    let admin = class_with_students(&app).await;
    let huge = "a".repeat(250_000);
    let cases = [
        (
            json!({"focus_skill_id": huge, "students": ["stu-1"]}),
            "invalid_plan",
        ),
        (
            json!({"focus_skill_id": "", "students": ["stu-1"]}),
            "invalid_plan",
        ),
        (
            json!({"focus_skill_id": "no.such-skill", "students": ["stu-1"]}),
            "unknown_skill",
        ),
        (
            json!({"focus_skill_id": "fractions.add-unlike", "students": ["stu-1"],
                   "group_id": "g".repeat(10_000)}),
            "invalid_plan",
        ),
    ];
    for (body, code) in cases {
        let response = send_as(
            &app,
            reqwest::Method::POST,
            &admin,
            "/api/v1/classes/class-5b/plans",
            body,
        )
        .await;
        assert_error(response, 422, code).await;
    }
}

async fn a_tool_never_renames_a_skill(app: TestApp) {
    app.post_batch(&[event_with(json!({"skill_name": "Adding fractions"}))])
        .await;
    let limited = app.sign(
        &Claims::new("tool-b", Role::Tool, ORG, Duration::from_secs(600))
            .with_classes(vec!["class-5b".into()]),
    );
    let response = app
        .post_events_as(
            &limited,
            &json!({"events": [event_with(json!({"skill_name": "Click here to win"}))]}),
        )
        .await;
    assert_eq!(response.status(), 200);
    // An organisation-wide tool cannot either.
    app.post_batch(&[event_with(json!({"skill_name": "Renamed"}))])
        .await;
    let names: Vec<Option<String>> = app
        .read(|c| {
            use diesel::prelude::*;
            use huddle::db::schema::skills;
            skills::table
                .filter(skills::skill_id.eq("fractions.add-unlike"))
                .select(skills::name)
                .load(c)
        })
        .await;
    assert_eq!(names, [Some("Adding fractions".to_owned())]);
}

async fn event_ids_are_per_organisation_and_never_nil(app: TestApp) {
    let shared = event_with(json!({"student_id": "stu-x"}));
    app.post_batch(std::slice::from_ref(&shared)).await;
    // Another organisation sends an event with the same id first... its own is stored.
    let other = app.token(Role::Tool, "district-2");
    let mut theirs = shared.clone();
    theirs["student_id"] = json!("stu-other");
    let answer: Value = app
        .post_events_as(&other, &json!({"events": [theirs.clone()]}))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["accepted"], 1, "{answer}");
    // ...and each one's re-send is a duplicate in its own organisation.
    let answer: Value = app
        .post_events_as(&other, &json!({"events": [theirs]}))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["duplicates"], 1, "{answer}");
    let answer = app.post_batch(&[shared]).await;
    assert_eq!(answer["duplicates"], 1, "{answer}");
    // A fresh id of ours is not taken by a later one of theirs.
    let fresh = event_with(json!({}));
    let answer: Value = app
        .post_events_as(&other, &json!({"events": [fresh.clone()]}))
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(answer["accepted"], 1, "{answer}");
    let answer = app.post_batch(&[fresh]).await;
    assert_eq!(answer["accepted"], 1, "{answer}");

    let answer = app
        .post_batch(&[event_with(json!({"event_id": Uuid::nil().to_string()}))])
        .await;
    assert_eq!(answer["rejected"][0]["error"]["code"], "invalid_event_id");
    assert_eq!(app.count_events().await, 4);
}

async fn errors_are_json_and_bodies_json_only(app: TestApp) {
    let admin = class_with_students(&app).await;
    let tool = app.tool_token();
    // A body of another type, or compressed.
    let response = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&tool)
        .header("Content-Type", "text/plain")
        .body(json!({"events": []}).to_string())
        .send()
        .await
        .expect("POST");
    assert_error(response, 415, "unsupported_media_type").await;
    let response = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&tool)
        .header("Content-Type", "application/json")
        .header("Content-Encoding", "gzip")
        .body(vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3])
        .send()
        .await
        .expect("POST");
    assert_error(response, 415, "unsupported_encoding").await;
    // Bodies too large for plans, reviews and insights: JSON 413 with the security headers.
    let big = json!({"note": "x".repeat(300_000)});
    for path in [
        "/api/v1/classes/class-5b/plans",
        "/api/v1/reviews/some-review",
        "/api/v1/classes/class-5b/insights/some-insight",
    ] {
        let response = send_as(&app, reqwest::Method::POST, &admin, path, big.clone()).await;
        assert_eq!(
            response
                .headers()
                .get("x-content-type-options")
                .map(|v| v.as_bytes()),
            Some(&b"nosniff"[..]),
            "{path}"
        );
        assert_error(response, 413, "payload_too_large").await;
    }
    // A method a route does not take.
    let response = send_as(
        &app,
        reqwest::Method::DELETE,
        &admin,
        "/api/v1/classes",
        json!({}),
    )
    .await;
    let status = response.status().as_u16();
    assert!(status == 404 || status == 405, "{status}");
    let text = response.text().await.expect("a body");
    let body: Value = serde_json::from_str(&text).expect("JSON");
    assert!(body["error"]["code"].is_string(), "{text}");
}

async fn token_times_are_checked(app: TestApp) {
    let now = chrono::Utc::now().timestamp();
    let sign = |claims: Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(crate::helpers::TEST_SECRET.as_bytes()),
        )
        .expect("signing")
    };
    let base = json!({"sub": "a", "role": "admin", "org": ORG, "exp": now + 7200, "iat": now});
    let mut not_yet = base.clone();
    not_yet["nbf"] = json!(now + 3600);
    let mut future_iat = base.clone();
    future_iat["iat"] = json!(now + 3600);
    for claims in [not_yet, future_iat] {
        let response = get_as(&app, &sign(claims), "/api/v1/classes").await;
        assert_error(response, 401, "token_not_yet_valid").await;
    }
    let mut started = base.clone();
    started["nbf"] = json!(now - 10);
    assert_eq!(
        get_as(&app, &sign(started), "/api/v1/classes")
            .await
            .status(),
        200
    );
    // The OpenAPI document: one Health schema for the service, enums for report options,
    // bounds for a plan's students.
    let doc: Value = app
        .get("/openapi.json")
        .await
        .json()
        .await
        .expect("the document");
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["ServiceHealth"].is_object());
    let healthz = &doc["paths"]["/healthz"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"]["$ref"];
    assert_eq!(healthz, "#/components/schemas/ServiceHealth");
    let students = &schemas["NewPlanBody"]["properties"]["students"];
    assert_eq!(students["minItems"], 1, "{students}");
    assert_eq!(students["maxItems"], 40, "{students}");
    let params = doc["paths"]["/api/v1/admin/adoption"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let section = params
        .iter()
        .find(|p| p["name"] == "section")
        .expect("section");
    let text = section.to_string();
    for value in ["weeks", "schools", "classes"] {
        assert!(text.contains(&format!("\"{value}\"")), "{text}");
    }
}

/// Reads one HTTP answer's status line and body from a raw connection (the server closes it
/// or sends a Content-Length).
fn read_answer(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("a timeout");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break;
                    }
                }
            }
            Err(_) => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn open(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://")).expect("a connection")
}

/// A sign-in request whose body never arrives in full.
fn slow_sign_in(app: &TestApp) -> TcpStream {
    let mut stream = open(app);
    stream
        .write_all(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .expect("writing");
    stream
}

async fn slow_clients_get_deadlines_and_a_cap(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.body_deadline = Duration::from_secs(1);
        s.header_deadline = Duration::from_secs(1);
        s.max_in_flight = 3;
    })
    .await;
    // A body that stops arriving: 408 in JSON.
    let answer = actix_web::rt::task::spawn_blocking({
        let mut stream = slow_sign_in(&app);
        move || read_answer(&mut stream)
    })
    .await
    .expect("the answer");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"body_timeout\""), "{answer}");
    // Headers that stop arriving: 408 from the HTTP layer.
    let answer = actix_web::rt::task::spawn_blocking({
        let mut stream = open(&app);
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost")
            .expect("writing");
        move || read_answer(&mut stream)
    })
    .await
    .expect("the answer");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    // Requests in flight beyond the cap: 503 in JSON, while /healthz still answers.
    let slow: Vec<TcpStream> = (0..3).map(|_| slow_sign_in(&app)).collect();
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let response = app
        .client
        .get(app.url("/api/v1/classes"))
        .bearer_auth(app.token(Role::Admin, ORG))
        .send()
        .await
        .expect("GET");
    assert!(response.headers().contains_key("retry-after"));
    assert_error(response, 503, "overloaded").await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    drop(slow);
    actix_web::rt::time::sleep(Duration::from_millis(1_500)).await;
    let response = app
        .client
        .get(app.url("/api/v1/classes"))
        .bearer_auth(app.token(Role::Admin, ORG))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200);
}

both_backends!(backend: slow_clients_get_deadlines_and_a_cap);

async fn junk_tokens_draw_from_the_address_s_allowance(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.rate_limit = Some(huddle::config::RateLimit {
            per_minute: 1,
            burst: 3,
        });
    })
    .await;
    for i in 0..3 {
        let response = get_as(&app, &format!("junk-{i}"), "/api/v1/classes").await;
        assert_eq!(response.status(), 401);
    }
    let response = get_as(&app, "junk-fresh", "/api/v1/classes").await;
    assert_error(response, 429, "rate_limited").await;
    // A real token has its own allowance.
    let admin = app.token(Role::Admin, ORG);
    assert_eq!(get_as(&app, &admin, "/api/v1/classes").await.status(), 200);
}

both_backends!(backend: junk_tokens_draw_from_the_address_s_allowance);

async fn erased_text_leaves_the_file(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let marker = "ERASEME-7f3a9c";
    let events: Vec<Value> = (0..50)
        .map(|i| {
            event_with(
                json!({"student_id": "stu-gone", "session_id": format!("{marker}-{i}"),
                              "item_id": format!("item-{i}")}),
            )
        })
        .collect();
    app.post_batch(&events).await;
    let admin = app.token(Role::Admin, ORG);
    let response = app
        .client
        .delete(app.url("/api/v1/students/stu-gone"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), 200);
    assert_eq!(app.count_events().await, 0);
    let huddle::db::DbUrl::Sqlite(path) = app.db.url().clone() else {
        return; // PostgreSQL: its files are the server's, outside Huddle's reach.
    };
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path)
        .expect("the file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "the database is its owner's only");
    app.read(|c| {
        use diesel::connection::SimpleConnection;
        c.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")
    })
    .await;
    let bytes = std::fs::read(&path).expect("the file");
    let found = bytes.windows(marker.len()).any(|w| w == marker.as_bytes());
    assert!(!found, "erased text is still in the database file");
}

both_backends!(backend: erased_text_leaves_the_file);

async fn connections_beyond_the_cap_are_answered_not_left_waiting(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.max_connections = 2;
        s.header_deadline = Duration::from_secs(30);
    })
    .await;
    // Two idle connections take the cap.
    let idle: Vec<TcpStream> = (0..2).map(|_| open(&app)).collect();
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    // A fresh client: no connection of its own kept from before.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a client");
    let admin = app.token(Role::Admin, ORG);
    let response = client
        .get(app.url("/api/v1/classes"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("an answer, not a wait");
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    assert_eq!(
        response.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    assert_eq!(
        response
            .headers()
            .get("x-content-type-options")
            .map(|v| v.as_bytes()),
        Some(&b"nosniff"[..])
    );
    assert_error(response, 503, "overloaded").await;
    // The health check is never refused.
    let health = client.get(app.url("/healthz")).send().await.expect("GET");
    assert_eq!(health.status(), 200);
    // Once the idle connections close, their places are free again.
    drop(idle);
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    let response = client
        .get(app.url("/api/v1/classes"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 200);
}

both_backends!(backend: connections_beyond_the_cap_are_answered_not_left_waiting);

/// What a client sees when the HTTP parser refuses a request before the application sees it:
/// actix-http answers from its connection dispatcher with a bare status (no body, no security
/// headers) and closes the connection; docs/operations.md says why this cannot be JSON.
async fn the_http_parser_s_own_refusals_are_bare_and_close(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let send = |request: Vec<u8>| {
        let mut stream = open(&app);
        actix_web::rt::task::spawn_blocking(move || {
            stream.write_all(&request).expect("writing");
            read_answer(&mut stream)
        })
    };
    let malformed = send(b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_vec())
        .await
        .expect("the answer");
    // More headers than the parser takes (96): its 431, like a head beyond its 128 KiB.
    let mut many = b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..100 {
        many.extend(format!("X-Header-{i}: a\r\n").as_bytes());
    }
    many.extend(b"\r\n");
    let too_large = send(many).await.expect("the answer");
    for (answer, status) in [(malformed, "400"), (too_large, "431")] {
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{answer}"
        );
        let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
        assert!(body.is_empty(), "{answer}");
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{answer}"
        );
    }
    // The service goes on.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

both_backends!(backend: the_http_parser_s_own_refusals_are_bare_and_close);

async fn a_writer_that_falls_behind_answers_503_not_an_endless_queue(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.max_queued_batches = 1;
        // On a loaded machine the uploads may take a while; this test is not about that.
        s.header_deadline = Duration::from_secs(60);
    })
    .await;
    // The organisation, class and students exist: the batches below only add events.
    let first = crate::helpers::events(10);
    assert_eq!(app.post_batch(&first).await["accepted"], 10);

    // Three full batches at once, for a writer that takes one at a time and lets one wait:
    // the first to be read takes the writer for longer than the others take to be read.
    let started = Instant::now();
    let send = |batch: Vec<Value>| {
        let request = app
            .client
            .post(app.url("/api/v1/events"))
            .bearer_auth(app.tool_token())
            .json(&json!({ "events": batch }));
        actix_web::rt::spawn(async move {
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => panic!("no answer after {:?}: {e:?}", started.elapsed()),
            };
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap_or_default().to_owned());
            let body: Value = response.json().await.expect("JSON");
            (status, retry_after, body, started.elapsed())
        })
    };
    let batches: Vec<Vec<Value>> = (0..3).map(|_| crate::helpers::events(2_000)).collect();
    let tasks: Vec<_> = batches.iter().map(|b| send(b.clone())).collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.expect("a batch"));
    }
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert!(
        statuses.iter().all(|&s| s == 200 || s == 503) && statuses.contains(&503),
        "a batch beyond the queue is refused, not kept waiting: {statuses:?}"
    );
    // The batch that waited its turn in the queue is the last written: a refusal comes before
    // it, without waiting for a place (the first written may be done by then on a fast writer).
    let last_written = answers
        .iter()
        .filter(|a| a.0 == 200)
        .map(|a| a.3)
        .max()
        .expect("a batch was written");
    let written = statuses.iter().filter(|&&s| s == 200).count() as i64;
    let mut stored = 10 + 2_000 * written;
    for (i, (status, retry_after, body, at)) in answers.iter().enumerate() {
        if *status == 200 {
            assert_eq!(body["accepted"], 2_000, "{body}");
            continue;
        }
        assert_eq!(retry_after.as_deref(), Some("1"), "{body}");
        crate::helpers::assert_error_shape(body, "writer_busy");
        assert!(
            *at < last_written,
            "the refusal came at once, not after the wait ({at:?}, {last_written:?})"
        );
        // Nothing of a refused batch was stored; sent again, it is.
        assert_eq!(app.count_events().await, stored);
        let again = app.post_batch(&batches[i]).await;
        assert_eq!(again["accepted"], 2_000, "{again}");
        stored += 2_000;
    }
    assert_eq!(app.count_events().await, stored);
}

both_backends!(backend: a_writer_that_falls_behind_answers_503_not_an_endless_queue);

/// A refit that a crash cut short (its models stored, its states not all recomputed) is
/// finished at the next start: the mark its models' transaction left is found, every state is
/// recomputed under the stored models, and the mark goes. A refit that ends leaves no mark.
async fn a_refit_cut_short_is_finished_at_the_next_start(backend: Backend) {
    use diesel::prelude::*;
    use huddle::db::schema::{refit_pending, skill_states};
    let app = TestApp::spawn_with(backend, |s| s.refit.min_students = 1).await;
    app.post_batch(&crate::helpers::events(300)).await;
    let admin = app.token(Role::Admin, ORG);
    let response = send_as(
        &app,
        reqwest::Method::POST,
        &admin,
        "/api/v1/admin/refit",
        json!({}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let marks = || app.read(|c| refit_pending::table.count().get_result::<i64>(c));
    assert_eq!(marks().await, 0, "a finished refit leaves no mark");
    let before = app
        .db
        .read(|c| huddle::store::state::all_states(c, ORG))
        .await
        .expect("the states");

    // What a crash after the models' transaction leaves: the mark, and states behind.
    app.db
        .write(huddle::db::Changes::Records, |c| {
            diesel::update(skill_states::table)
                .set(skill_states::state.eq("{}"))
                .execute(c)?;
            diesel::insert_into(refit_pending::table)
                .values((refit_pending::org_id.eq(ORG), refit_pending::since.eq(1i64)))
                .execute(c)?;
            Ok(())
        })
        .await
        .expect("the crash's leftovers");
    let db = app.db.clone();
    let written = huddle::db::blocking(move || {
        huddle::store::state::finish_interrupted_refits(&db, &Default::default())
    })
    .await
    .expect("finishing");
    assert_eq!(written, before.len());
    assert_eq!(marks().await, 0);
    let after = app
        .db
        .read(|c| huddle::store::state::all_states(c, ORG))
        .await
        .expect("the states");
    assert_eq!(before.len(), after.len());
    for (key, row) in &before {
        assert_eq!(row.state, after[key].state, "{key:?}");
    }
}

both_backends!(backend: a_refit_cut_short_is_finished_at_the_next_start);
