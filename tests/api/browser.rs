//! The dashboard in a real browser: runs the end-to-end tests of `tests/e2e/` (Node's test
//! runner, playwright-core driving Debian's headless Chromium) against this build's binary.
//! Needs `node`/`npm` and `/usr/bin/chromium` (`apt-get install chromium`; `.ci/run` installs it).

use std::path::Path;
use std::process::Command;

#[test]
fn the_dashboard_works_in_headless_chromium() {
    let e2e = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "the dashboard tests need Chromium at {chromium}: apt-get install chromium"
    );
    if !e2e.join("node_modules/playwright-core").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&e2e)
            .status()
            .expect("npm (Node.js) is needed for the dashboard tests");
        assert!(status.success(), "npm ci in tests/e2e failed");
    }
    let output = Command::new("node")
        .args(["--test", "--test-concurrency=1", "--test-reporter=spec"])
        .arg(".")
        .current_dir(&e2e)
        .env("HUDDLE_BIN", env!("CARGO_BIN_EXE_huddle"))
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node is needed for the dashboard tests");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the browser tests failed:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !report.contains("tests 0"),
        "no browser test ran:\n{report}"
    );
}
