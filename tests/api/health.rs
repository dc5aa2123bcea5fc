//! Health, the API description and unknown paths.

use serde_json::Value;

use crate::helpers::{assert_error, both_backends, TestApp};

both_backends!(
    healthz_answers_ok_when_the_database_is_reachable,
    openapi_json_is_an_openapi_3_document_with_the_ingestion_paths,
    an_unknown_path_is_a_json_404,
);

async fn healthz_answers_ok_when_the_database_is_reachable(app: TestApp) {
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["status"], "ok");
}

async fn openapi_json_is_an_openapi_3_document_with_the_ingestion_paths(app: TestApp) {
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("valid JSON");
    let version = body["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3."), "OpenAPI 3.x, got {version}");
    let paths = body["paths"].as_object().expect("paths");
    assert!(paths.contains_key("/api/v1/events"), "{paths:?}");
    assert!(paths.contains_key("/healthz"), "{paths:?}");
    assert!(paths["/api/v1/events"]["post"].is_object());
}

async fn an_unknown_path_is_a_json_404(app: TestApp) {
    assert_error(app.get("/api/v1/nothing-here").await, 404, "not_found").await;
    // A documented path asked with a method it does not have: 405, saying which it has.
    let response = app.get("/api/v1/events").await;
    let allow = response.headers().get("allow").cloned();
    assert_eq!(allow.as_ref().and_then(|v| v.to_str().ok()), Some("POST"));
    assert_error(response, 405, "method_not_allowed").await;
    let response = app
        .client
        .put(app.url("/api/v1/students/stu-1"))
        .send()
        .await
        .expect("PUT");
    let allow = response.headers().get("allow").cloned();
    let allow = allow.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("");
    assert!(allow.contains("GET") && allow.contains("DELETE"), "{allow}");
    assert_error(response, 405, "method_not_allowed").await;
}
