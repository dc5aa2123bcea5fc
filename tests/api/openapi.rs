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
