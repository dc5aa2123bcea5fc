//! Who may post events: every refused token is a 401 (403 for a teacher) with the error shape,
//! and stores nothing.

use std::time::Duration;

use huddle::auth::{Claims, Keys, Role};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::{assert_error, both_backends, event, TestApp, ORG, TEST_SECRET};

both_backends!(
    a_tool_and_an_admin_may_post_events,
    no_token_is_a_401,
    a_malformed_authorization_header_is_a_401,
    an_expired_token_is_a_401,
    a_token_signed_with_another_secret_is_a_401,
    a_token_with_a_tampered_payload_is_a_401,
    an_unsigned_alg_none_token_is_a_401,
    a_token_with_another_algorithm_is_a_401,
    a_token_with_an_unknown_role_or_missing_claims_is_a_401,
    a_teacher_token_is_a_403,
);

/// base64url without padding, as JWTs use it.
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

fn claims_json(role: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"sub": "x", "role": role, "org": ORG, "iat": now, "exp": now + 3600})
}

/// A token signed with the test secret over any claims and header, bypassing `Keys`.
fn raw_token(alg: Algorithm, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        claims,
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .expect("signing")
}

/// Posts one valid event with `authorization` as the header's whole value.
async fn post_with_header(app: &TestApp, authorization: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/events"))
        .header("Authorization", authorization)
        .json(&json!({ "events": [event()] }))
        .send()
        .await
        .expect("POST failed")
}

async fn refused(app: &TestApp, token: &str, code: &str) {
    let response = app
        .post_events_as(token, &json!({ "events": [event()] }))
        .await;
    assert_error(response, 401, code).await;
    assert_eq!(
        app.count_events().await,
        0,
        "a refused caller stores nothing"
    );
}

async fn a_tool_and_an_admin_may_post_events(app: TestApp) {
    for role in [Role::Tool, Role::Admin] {
        let response = app
            .post_events_as(&app.token(role, ORG), &json!({ "events": [event()] }))
            .await;
        assert_eq!(response.status(), 200, "{role:?}");
        let answer: Value = response.json().await.expect("JSON");
        assert_eq!(answer["accepted"], 1, "{role:?}: {answer}");
    }
    // Lower-case scheme, as some clients send it.
    let response = post_with_header(&app, &format!("bearer {}", app.tool_token())).await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.count_events().await, 3);
}

async fn no_token_is_a_401(app: TestApp) {
    let response = app
        .post_raw(None, json!({"events": [event()]}).to_string().into_bytes())
        .await;
    assert_error(response, 401, "missing_token").await;
    // Authentication comes before reading the body: a bad body without a token is still a 401.
    let response = app.post_raw(None, b"{not json".to_vec()).await;
    assert_error(response, 401, "missing_token").await;
    assert_eq!(app.count_events().await, 0);
}

async fn a_malformed_authorization_header_is_a_401(app: TestApp) {
    let token = app.tool_token();
    for header in [
        format!("Token {token}"),
        format!("Basic {token}"),
        token.clone(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer not.a.jwt".to_owned(),
        "Bearer abc".to_owned(),
    ] {
        let response = post_with_header(&app, &header).await;
        assert_error(response, 401, "invalid_token").await;
    }
    assert_eq!(app.count_events().await, 0);
}

async fn an_expired_token_is_a_401(app: TestApp) {
    let mut claims = Claims::new("tool-x", Role::Tool, ORG, Duration::from_secs(3600));
    claims.iat -= 7200;
    claims.exp = claims.iat + 3600;
    refused(&app, &app.sign(&claims), "token_expired").await;
}

async fn a_token_signed_with_another_secret_is_a_401(app: TestApp) {
    let other = Keys::new(&SecretString::from(
        "another-secret-that-is-long-enough-0001".to_owned(),
    ));
    let claims = Claims::new("tool-x", Role::Tool, ORG, Duration::from_secs(3600));
    refused(
        &app,
        &other.sign(&claims).expect("signing"),
        "invalid_signature",
    )
    .await;
}

async fn a_token_with_a_tampered_payload_is_a_401(app: TestApp) {
    // A genuine token for another org, its payload swapped for ours: the signature no longer fits.
    let token = app.token(Role::Tool, "district-2");
    let parts: Vec<&str> = token.split('.').collect();
    let payload = b64url(claims_json("tool").to_string().as_bytes());
    let forged = format!("{}.{payload}.{}", parts[0], parts[2]);
    refused(&app, &forged, "invalid_signature").await;
}

async fn an_unsigned_alg_none_token_is_a_401(app: TestApp) {
    let header = b64url(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64url(claims_json("admin").to_string().as_bytes());
    refused(&app, &format!("{header}.{payload}."), "invalid_token").await;
    // With a signature part that is not empty, and with "None" spelled otherwise.
    let valid = app.tool_token();
    let signature = valid.rsplit('.').next().expect("a signature");
    refused(
        &app,
        &format!("{header}.{payload}.{signature}"),
        "invalid_token",
    )
    .await;
    let header = b64url(br#"{"alg":"None","typ":"JWT"}"#);
    refused(&app, &format!("{header}.{payload}."), "invalid_token").await;
}

async fn a_token_with_another_algorithm_is_a_401(app: TestApp) {
    // Signed with the right secret, but HS512: only HS256 is accepted.
    let token = raw_token(Algorithm::HS512, &claims_json("tool"));
    let response = app
        .post_events_as(&token, &json!({ "events": [event()] }))
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(app.count_events().await, 0);
}

async fn a_token_with_an_unknown_role_or_missing_claims_is_a_401(app: TestApp) {
    for claims in [
        claims_json("superuser"),
        claims_json("Tool"),
        claims_json(""),
        {
            let mut c = claims_json("tool");
            c.as_object_mut().expect("object").remove("exp");
            c
        },
        {
            let mut c = claims_json("tool");
            c.as_object_mut().expect("object").remove("org");
            c
        },
        {
            let mut c = claims_json("tool");
            c.as_object_mut().expect("object").remove("sub");
            c
        },
    ] {
        let token = raw_token(Algorithm::HS256, &claims);
        let response = app
            .post_events_as(&token, &json!({ "events": [event()] }))
            .await;
        assert_error(response, 401, "invalid_token").await;
    }
    // The same claims with a known role pass: the refusals above are about the claims.
    let token = raw_token(Algorithm::HS256, &claims_json("tool"));
    let response = app
        .post_events_as(&token, &json!({ "events": [event()] }))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.count_events().await, 1);
}

async fn a_teacher_token_is_a_403(app: TestApp) {
    let response = app
        .post_events_as(
            &app.token(Role::Teacher, ORG),
            &json!({ "events": [event()] }),
        )
        .await;
    assert_error(response, 403, "forbidden").await;
    assert_eq!(app.count_events().await, 0);
}
