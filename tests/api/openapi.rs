//! The OpenAPI document cannot drift: it must equal the checked-in `docs/openapi.json`.
//! `UPDATE_SNAPSHOTS=1 cargo test openapi` rewrites the file after a deliberate change.

use std::path::PathBuf;

use serde_json::Value;

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

/// A parameter's schema, following a reference into the components.
fn schema_of<'a>(document: &'a Value, parameter: &'a Value) -> &'a Value {
    let schema = &parameter["schema"];
    match schema["$ref"].as_str() {
        Some(target) => {
            let name = target.trim_start_matches("#/components/schemas/");
            &document["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Does `value` fit `schema` (a string schema: pattern, minLength, maxLength)? Lengths count
/// characters, as JSON Schema does.
fn fits(schema: &Value, value: &str) -> bool {
    let pattern = schema["pattern"].as_str().expect("a pattern");
    let pattern = regex_lite::Regex::new(pattern).expect("a pattern regex-lite reads");
    let length = value.chars().count() as u64;
    pattern.is_match(value)
        && schema["minLength"].as_u64().is_none_or(|min| length >= min)
        && schema["maxLength"].as_u64().is_none_or(|max| length <= max)
}

/// Every id parameter of the document (in a path or a query string), as (operation, name,
/// schema).
fn id_parameters(document: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().expect("a name");
                if name.ends_with("_id") || name.ends_with("Id") {
                    let at = format!("{method} {path} ({})", parameter["in"]);
                    found.push((at, name.to_owned(), schema_of(document, parameter)));
                }
            }
        }
    }
    found
}

/// Ids in a path or a query string are declared with the rule the server holds ids to, so a
/// client that generates requests from the document (schemathesis in `.ci/run`) sends ids that
/// could exist: `is_valid_id`'s pattern and length, or for a review item the shape of the ids
/// `GET /api/v1/reviews` gives.
#[test]
fn every_id_parameter_is_declared_with_the_servers_rule() {
    let document: Value =
        serde_json::from_str(&huddle::api::openapi::document()).expect("valid JSON");
    let long = "x".repeat(huddle::ingest::MAX_ID_LEN);
    let too_long = "x".repeat(huddle::ingest::MAX_ID_LEN + 1);
    let samples = [
        "stu-0042",
        "a",
        "A.b_c:d-9",
        "..",
        "plan-0123456789abcdef0123456789abcdef",
        "3f2a9c0d-1e4b-4a67-8b9c-0d1e2f3a4b5c",
        &long,
        &too_long,
        "",
        "a\0b",
        "a/b",
        "a b",
        " stu-1",
        "stu-1\n",
        "stu-1\r\n",
        "a%2Fb",
        "a?b",
        "a#b",
        "a+b",
        "é",
        "stu-\u{1d7d8}",
        "ｓｔｕ",
    ];
    let ids = id_parameters(&document);
    let paths = ids.iter().filter(|(at, _, _)| at.ends_with("(\"path\")"));
    assert!(paths.count() >= 20, "{ids:?}");
    assert!(
        ids.iter().any(|(at, _, _)| at.ends_with("(\"query\")")),
        "the ids of query strings are checked too"
    );
    for (at, name, schema) in &ids {
        assert_eq!(schema["type"], "string", "{at} {name}: {schema}");
        if name == "review_id" {
            continue;
        }
        assert_eq!(
            schema["pattern"],
            huddle::ingest::ID_PATTERN,
            "{at} {name}: {schema}"
        );
        assert_eq!(
            schema["maxLength"],
            huddle::ingest::MAX_ID_LEN,
            "{at} {name}: {schema}"
        );
        for sample in samples {
            assert_eq!(
                fits(schema, sample),
                huddle::ingest::is_valid_id(sample),
                "{at} {name}: the document and is_valid_id disagree on {sample:?}"
            );
        }
    }
}

/// A review item's id is read back into its kind, student and skill (`parse_review_id`): the
/// document's pattern fits every id the queue gives, and what it refuses the server refuses
/// too (it accepts some the server then finds nothing for: the hex must also decode).
#[test]
fn the_review_id_pattern_fits_the_ids_the_queue_gives() {
    use huddle::insights::reviews::{parse_review_id, review_id};
    let document: Value =
        serde_json::from_str(&huddle::api::openapi::document()).expect("valid JSON");
    let ids = id_parameters(&document);
    let reviews: Vec<_> = ids
        .iter()
        .filter(|(_, name, _)| name == "review_id")
        .collect();
    assert!(!reviews.is_empty());
    let long = "x".repeat(huddle::ingest::MAX_ID_LEN);
    let given = [
        review_id("estimate", "stu-0042", "fractions.add-unlike"),
        review_id("flag:rushing", "s:1", ""),
        review_id("flag:wheel_spinning", &long, &long),
    ];
    let junk = [
        "",
        "rv-",
        "rv--",
        "rv-65-",
        "rv-6-73-",
        "rv-zz-73-",
        "rv-65--6b",
        "xx-65-73-6b",
        "rv-65-73-6b-",
        "rv-65-73-6b\n",
        "rv-65 -73-6b",
        "stu-0042",
    ];
    for (at, _, schema) in reviews {
        for id in &given {
            assert!(parse_review_id(id).is_some(), "{id}");
            assert!(fits(schema, id), "{at}: the document refuses {id}");
        }
        for id in junk {
            assert!(!fits(schema, id), "{at}: the document takes {id:?}");
            assert!(parse_review_id(id).is_none(), "{id:?}");
        }
    }
}
