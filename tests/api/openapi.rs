//! The OpenAPI document cannot drift: it must equal the checked-in `docs/openapi.json`.
//! `UPDATE_SNAPSHOTS=1 cargo test openapi` rewrites the file after a deliberate change.

use std::path::PathBuf;

#[test]
fn the_openapi_document_matches_the_checked_in_snapshot() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    let document = huddle::api::openapi::document();
    let parsed: serde_json::Value = serde_json::from_str(&document).expect("valid JSON");
    assert!(
        parsed["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "an OpenAPI 3 document"
    );
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("docs/")).expect("creating docs/");
        std::fs::write(&path, format!("{document}\n")).expect("writing the snapshot");
        return;
    }
    let snapshot = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): create it with UPDATE_SNAPSHOTS=1 cargo test openapi",
            path.display()
        )
    });
    assert!(
        snapshot.trim_end() == document.trim_end(),
        "the OpenAPI document changed; review it and run UPDATE_SNAPSHOTS=1 cargo test openapi \
         to update {}",
        path.display()
    );
}

fn references(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v.as_str()) {
                    ("$ref", Some(target)) => found.push(target.to_owned()),
                    _ => references(v, found),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

/// What a client (and schemathesis in `.ci/run`) may meet is described: every schema referred
/// to exists, every operation lists the request guard's answers (400 for a control character,
/// 503 when overloaded; 408, 413 and 415 for a body), and the reports that answer CSV say so.
#[test]
fn every_reference_resolves_and_every_operation_lists_the_guards_answers() {
    let document: serde_json::Value =
        serde_json::from_str(&huddle::api::openapi::document()).expect("valid JSON");
    let mut found = Vec::new();
    references(&document, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("a reference outside the schemas: {target}"));
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "{target} refers to no schema"
        );
    }
    let paths = document["paths"].as_object().expect("paths");
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("a path item") {
            let responses = &operation["responses"];
            let mut expected = vec!["400", "503"];
            if operation.get("requestBody").is_some() {
                expected.extend(["408", "413", "415"]);
            }
            for status in expected {
                assert!(
                    responses.get(status).is_some(),
                    "{method} {path} does not list {status}"
                );
            }
        }
    }
    for report in ["adoption", "data-quality", "model-health", "fairness"] {
        let ok = &paths[&format!("/api/v1/admin/{report}")]["get"]["responses"]["200"];
        assert!(
            ok["content"].get("text/csv").is_some(),
            "{report} answers CSV: {ok}"
        );
    }
}
