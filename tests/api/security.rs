//! Security over every endpoint, table-driven: no token, an expired one, a wrong signature,
//! `alg: none`, a tampered payload, a role that may not, another organisation's token, a
//! teacher of another class. Always 401 or 403 (404 for another organisation's administrator,
//! who is told the id is not in their organisation) with the JSON error shape, never data,
//! and nothing changed. Every new endpoint goes into [`endpoints`].

use std::time::Duration;

use huddle::auth::{Claims, Role};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::accounts::{add_user, token_for};
use crate::helpers::{assert_error, both_backends, event_with, TestApp, ORG, TEST_SECRET};

both_backends!(
    every_endpoint_refuses_bad_tokens_and_wrong_callers,
    bodies_too_large_or_malformed_are_refused_cleanly,
);

/// One endpoint and who may call it.
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub body: Option<Value>,
    /// Roles the endpoint serves; the others get 403.
    pub allowed: &'static [Role],
    /// Student- or class-level data: a teacher of another class gets 403.
    pub teacher_scoped: bool,
}

/// The student and class the fixture's data is about; never to appear in a refused answer.
const STUDENT: &str = "stu-secret-0042";
const CLASS: &str = "class-secret-5b";
const NAME: &str = "Maya Secretname";

/// Every endpoint that needs a token. Append new endpoints here.
pub fn endpoints() -> Vec<Endpoint> {
    use Role::*;
    let student = format!("/api/v1/students/{STUDENT}");
    let class = format!("/api/v1/classes/{CLASS}");
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    vec![
        Endpoint {
            method: "POST",
            path: "/api/v1/events",
            body: Some(json!({"events": [event_with(json!({"class_id": "class-x"}))]})),
            allowed: &[Tool, Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "PUT",
            path: "/api/v1/items",
            body: Some(
                json!({"items": [{"item_id": "item-x", "skill_id": "skill-x", "prompt": "7 × 8", "answer": "56"}]}),
            ),
            allowed: &[Tool, Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/classes",
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "GET",
            path: leak(student.clone()),
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        Endpoint {
            method: "GET",
            path: leak(format!("{student}?anonymise=true")),
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        Endpoint {
            method: "GET",
            path: leak(format!("{student}/export")),
            body: None,
            allowed: &[Admin],
            teacher_scoped: true,
        },
        Endpoint {
            method: "GET",
            path: leak(format!("{class}/overview")),
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        Endpoint {
            method: "GET",
            path: leak(format!("{class}/overview?anonymise=true")),
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        Endpoint {
            method: "GET",
            path: leak(format!("{class}/insights")),
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        Endpoint {
            method: "POST",
            path: leak(format!("{class}/insights/insight-unknown")),
            body: Some(json!({"decision": "dismiss"})),
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        Endpoint {
            method: "GET",
            path: leak(format!("{class}/groups")),
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        Endpoint {
            method: "GET",
            path: leak(format!("{class}/plans")),
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        Endpoint {
            method: "POST",
            path: leak(format!("{class}/plans")),
            body: Some(json!({"focus_skill_id": "fractions.add-unlike", "students": [STUDENT]})),
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        // The lesson: who needs a person now, stream tickets, check-ins, attention.
        Endpoint {
            method: "GET",
            path: leak(format!("{class}/now")),
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        Endpoint {
            method: "POST",
            path: leak(format!("{class}/now/ticket")),
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        Endpoint {
            // A served stream never ends, so the table asks for an unknown class's: refused
            // to everyone but an administrator, who finds no such class.
            method: "GET",
            path: "/api/v1/classes/class-unknown/now/stream",
            body: None,
            allowed: &[Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "POST",
            path: leak(format!("{class}/checkins")),
            body: Some(json!({"student_ids": [STUDENT]})),
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        Endpoint {
            method: "GET",
            path: leak(format!("{class}/attention")),
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        Endpoint {
            method: "GET",
            path: leak(format!("{student}/checkins")),
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        // Unknown ids: refused before anything is looked up, found by nobody.
        Endpoint {
            method: "GET",
            path: "/api/v1/plans/plan-unknown",
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "PATCH",
            path: "/api/v1/plans/plan-unknown",
            body: Some(json!({"done": true})),
            allowed: &[Teacher, Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "GET",
            path: leak(format!("/api/v1/reviews?class_id={CLASS}")),
            body: None,
            allowed: &[Teacher, Admin],
            teacher_scoped: true,
        },
        Endpoint {
            method: "POST",
            path: "/api/v1/reviews/review-unknown",
            body: Some(json!({"decision": "confirm"})),
            allowed: &[Teacher, Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/admin/audit",
            body: None,
            allowed: &[Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "PUT",
            path: "/api/v1/admin/roster",
            body: Some(json!({"students": [{"student_id": "stu-new", "display_name": "New"}]})),
            allowed: &[Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/admin/adoption",
            body: None,
            allowed: &[Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/admin/data-quality",
            body: None,
            allowed: &[Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "POST",
            path: "/api/v1/admin/refit",
            body: None,
            allowed: &[Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/admin/model-health",
            body: None,
            allowed: &[Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "POST",
            path: "/api/v1/admin/model-health/refit",
            body: None,
            allowed: &[Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/admin/model-health/refit/job-unknown",
            body: None,
            allowed: &[Admin],
            teacher_scoped: false,
        },
        Endpoint {
            method: "GET",
            path: "/api/v1/admin/fairness",
            body: None,
            allowed: &[Admin],
            teacher_scoped: false,
        },
        // Destructive: keep last, its success check erases the fixture's student.
        Endpoint {
            method: "DELETE",
            path: leak(student),
            body: None,
            allowed: &[Admin],
            teacher_scoped: true,
        },
    ]
}

async fn send(app: &TestApp, e: &Endpoint, authorization: Option<&str>) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(e.method.as_bytes()).expect("a method");
    let mut request = app.client.request(method, app.url(e.path));
    if let Some(a) = authorization {
        request = request.header("Authorization", a);
    }
    if let Some(body) = &e.body {
        request = request.json(body);
    }
    request.send().await.expect("a request")
}

/// A refused answer: the status and code, the error shape, and none of the fixture's data.
async fn refused(response: reqwest::Response, status: u16, code: &str, what: &str) {
    let actual = response.status().as_u16();
    let text = response.text().await.expect("a body");
    assert_eq!(actual, status, "{what}: {text}");
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{what}: not JSON: {text}"));
    crate::helpers::assert_error_shape(&body, code);
    for secret in [STUDENT, CLASS, NAME] {
        assert!(!text.contains(secret), "{what} leaked {secret}: {text}");
    }
}

fn b64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The fixture: a class with a named student and their events, two teachers.
async fn fixture(app: &TestApp) -> (String, String) {
    let teacher = add_user(app, "teacher@school.example", Role::Teacher, ORG, &[CLASS]).await;
    let stranger = add_user(
        app,
        "stranger@school.example",
        Role::Teacher,
        ORG,
        &["class-other"],
    )
    .await;
    app.post_batch(&[event_with(
        json!({"student_id": STUDENT, "class_id": CLASS}),
    )])
    .await;
    let roster = app
        .client
        .put(app.url("/api/v1/admin/roster"))
        .bearer_auth(app.token(Role::Admin, ORG))
        .json(&json!({"students": [{"student_id": STUDENT, "display_name": NAME, "class_id": CLASS}]}))
        .send()
        .await
        .expect("PUT roster");
    assert_eq!(roster.status(), 200);
    (teacher, stranger)
}

async fn every_endpoint_refuses_bad_tokens_and_wrong_callers(app: TestApp) {
    let (teacher, stranger) = fixture(&app).await;
    let org_events = || async {
        app.stored_events()
            .await
            .into_iter()
            .filter(|e| e.org_id == ORG)
            .count()
    };
    let events_before = org_events().await;
    let now = chrono::Utc::now().timestamp();

    let mut expired = Claims::new("admin-x", Role::Admin, ORG, Duration::from_secs(3600));
    expired.iat = now - 7200;
    expired.exp = now - 3600;
    let other_secret = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &Claims::new("admin-x", Role::Admin, ORG, Duration::from_secs(3600)),
        &EncodingKey::from_secret(b"not-the-server-secret-but-long-enough-000"),
    )
    .expect("signing");
    let admin_claims =
        json!({"sub": "admin-x", "role": "admin", "org": ORG, "iat": now, "exp": now + 3600});
    let alg_none = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(admin_claims.to_string().as_bytes())
    );
    let hs512 = jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        &admin_claims,
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .expect("signing");
    let tampered = {
        let genuine = app.token(Role::Tool, ORG);
        let parts: Vec<&str> = genuine.split('.').collect();
        format!(
            "{}.{}.{}",
            parts[0],
            b64url(admin_claims.to_string().as_bytes()),
            parts[2]
        )
    };
    let bad_tokens: Vec<(String, u16, &str, &str)> = vec![
        ("Bearer".into(), 401, "invalid_token", "an empty bearer"),
        (
            format!("Basic {}", app.token(Role::Admin, ORG)),
            401,
            "invalid_token",
            "another scheme",
        ),
        (
            format!("Bearer {}", app.sign(&expired)),
            401,
            "token_expired",
            "an expired token",
        ),
        (
            format!("Bearer {other_secret}"),
            401,
            "invalid_signature",
            "a wrong signature",
        ),
        (
            format!("Bearer {alg_none}"),
            401,
            "invalid_token",
            "alg none",
        ),
        (
            format!("Bearer {hs512}"),
            401,
            "invalid_token",
            "another algorithm",
        ),
        (
            format!("Bearer {tampered}"),
            401,
            "invalid_signature",
            "a tampered payload",
        ),
        ("Bearer not.a.token".into(), 401, "invalid_token", "garbage"),
    ];

    for e in endpoints() {
        let label = |what: &str| format!("{} {}: {what}", e.method, e.path);
        refused(
            send(&app, &e, None).await,
            401,
            "missing_token",
            &label("no token"),
        )
        .await;
        for (header, status, code, what) in &bad_tokens {
            refused(
                send(&app, &e, Some(header)).await,
                *status,
                code,
                &label(what),
            )
            .await;
        }
        for role in [Role::Tool, Role::Teacher, Role::Admin] {
            let own = match role {
                Role::Teacher => token_for(&app, &teacher, role, ORG),
                _ => app.token(role, ORG),
            };
            if !e.allowed.contains(&role) {
                refused(
                    send(&app, &e, Some(&format!("Bearer {own}"))).await,
                    403,
                    "forbidden",
                    &label(&format!("{role:?}")),
                )
                .await;
            }
            // Another organisation's token of any role sees none of this organisation's data.
            let foreign = match role {
                Role::Teacher => token_for(&app, &teacher, role, "district-2"),
                _ => app.token(role, "district-2"),
            };
            let response = send(&app, &e, Some(&format!("Bearer {foreign}"))).await;
            let status = response.status().as_u16();
            let text = response.text().await.expect("a body");
            for secret in [STUDENT, CLASS, NAME] {
                assert!(
                    !text.contains(secret),
                    "{}: another org's {role:?} got {secret}: {text}",
                    label("foreign")
                );
            }
            if e.teacher_scoped {
                assert!(
                    [403, 404].contains(&status),
                    "{}: {status} {text}",
                    label("foreign")
                );
            }
        }
        if e.teacher_scoped && e.allowed.contains(&Role::Teacher) {
            let other = token_for(&app, &stranger, Role::Teacher, ORG);
            refused(
                send(&app, &e, Some(&format!("Bearer {other}"))).await,
                403,
                "forbidden",
                &label("a teacher of another class"),
            )
            .await;
        }
    }
    // (Another organisation's tool may write its own organisation's events.)
    assert_eq!(
        org_events().await,
        events_before,
        "refused callers changed nothing"
    );

    // The same requests with the right caller are served: the refusals above were not an
    // accident of a broken request.
    for e in endpoints() {
        for role in e.allowed {
            let token = match role {
                Role::Teacher => token_for(&app, &teacher, *role, ORG),
                _ => app.token(*role, ORG),
            };
            let response = send(&app, &e, Some(&format!("Bearer {token}"))).await;
            let status = response.status().as_u16();
            let text = response.text().await.expect("a body");
            // An unknown id is not found by anyone allowed to ask.
            let served = if e.path.contains("-unknown") {
                status == 404
            } else {
                (200..300).contains(&status)
            };
            assert!(
                served,
                "{} {} as {role:?}: {status} {text}",
                e.method, e.path
            );
            if e.method == "DELETE" {
                break;
            }
        }
    }
}

async fn bodies_too_large_or_malformed_are_refused_cleanly(app: TestApp) {
    let admin = app.token(Role::Admin, ORG);
    let nine_mib = vec![b' '; 9 * 1024 * 1024];
    for (method, path) in [
        ("POST", "/api/v1/events"),
        ("PUT", "/api/v1/admin/roster"),
        ("PUT", "/api/v1/items"),
        ("POST", "/api/v1/auth/login"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let send = |body: Vec<u8>| {
            app.client
                .request(method.clone(), app.url(path))
                .bearer_auth(&admin)
                .header("Content-Type", "application/json")
                .body(body)
                .send()
        };
        assert_error(
            send(nine_mib.clone()).await.expect("a request"),
            413,
            "payload_too_large",
        )
        .await;
        assert_error(
            send(b"{\"events\": [".to_vec()).await.expect("a request"),
            400,
            "malformed_json",
        )
        .await;
    }
    // Bad query strings and paths answer in the error shape too.
    let response = app
        .client
        .get(app.url("/api/v1/admin/audit?limit=lots"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("GET");
    assert_error(response, 400, "invalid_query").await;
    let response = app
        .client
        .get(app.url("/api/v1/students/x?anonymise=maybe"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("GET");
    assert_error(response, 400, "invalid_query").await;
    let response = app
        .client
        .get(app.url("/api/v1/admin/audit?from=yesterday"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("GET");
    assert_error(response, 400, "invalid_query").await;
}

/// Endpoints anyone may call.
const PUBLIC: [&str; 4] = ["/healthz", "/openapi.json", "/api/v1/auth/login", "/"];
/// Endpoints behind a token that is not a Huddle JWT, tested where they are:
/// `/metrics` takes the operators' token (operations.rs); the Now stream takes a short-lived
/// stream ticket, since a browser's EventSource sends no header (now.rs tests both ways in).
const OWN_TOKEN: [&str; 2] = ["/metrics", "/api/v1/classes/{class_id}/now/stream"];

/// Every endpoint of the OpenAPI document either is public or declares the bearer token and is
/// in [`endpoints`], so a new endpoint cannot skip the security tests.
#[test]
fn every_documented_endpoint_is_in_the_security_table() {
    let doc: Value = serde_json::from_str(&huddle::api::openapi::document()).expect("JSON");
    let table: Vec<(String, String)> = endpoints()
        .iter()
        .map(|e| {
            (
                e.method.to_lowercase(),
                e.path.split('?').next().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (path, operations) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            if PUBLIC.contains(&path.as_str()) || OWN_TOKEN.contains(&path.as_str()) {
                continue;
            }
            assert!(
                operation["security"].to_string().contains("bearer"),
                "{method} {path} does not declare the bearer token"
            );
            let covered = table.iter().any(|(m, p)| {
                m == method
                    && p.split('/').count() == path.split('/').count()
                    && p.split('/')
                        .zip(path.split('/'))
                        .all(|(a, b)| a == b || b.starts_with('{'))
            });
            assert!(
                covered,
                "{method} {path} is missing from security::endpoints()"
            );
        }
    }
}
