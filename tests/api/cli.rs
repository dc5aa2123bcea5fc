//! `huddle token`: a token the running service accepts, signed with a secret created once
//! (mode 0600) beside the SQLite file and reused.

use std::path::Path;

use huddle::auth::{Keys, Role};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::{event, huddle_command, Served};

/// Runs `huddle token …`; the token it printed.
fn token(args: &[&str]) -> String {
    let output = huddle_command()
        .arg("token")
        .args(args)
        .output()
        .expect("running huddle token");
    assert!(
        output.status.success(),
        "huddle token failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let token = stdout.trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {stdout:?}");
    token
}

fn keys_from(path: &Path) -> Keys {
    let secret = std::fs::read_to_string(path).expect("the secret file");
    Keys::new(&SecretString::from(secret.trim().to_owned()))
}

#[actix_web::test]
async fn a_printed_token_is_accepted_by_the_service_and_the_secret_is_created_once() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("x.db").display());
    let secret_file = dir.path().join("x.db.secret");

    let first = token(&["--role", "tool", "--org", "d1", "--database-url", &url]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file)
            .expect("a secret beside the database")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the secret is private");
    }
    let secret = std::fs::read(&secret_file).expect("the secret");
    let second = token(&[
        "--role",
        "admin",
        "--org",
        "d1",
        "--sub",
        "ops-1",
        "--ttl",
        "30m",
        "--database-url",
        &url,
    ]);
    assert_eq!(
        std::fs::read(&secret_file).expect("the secret"),
        secret,
        "reused"
    );

    let keys = keys_from(&secret_file);
    let claims = keys.verify(&first).expect("signed with the secret on disk");
    assert_eq!((claims.role, claims.org.as_str()), (Role::Tool, "d1"));
    assert_eq!(claims.sub, "tool", "the role is the default subject");
    assert!(
        (claims.exp - claims.iat - 24 * 3600).abs() <= 1,
        "default ttl 24h"
    );
    let claims = keys.verify(&second).expect("signed with the same secret");
    assert_eq!((claims.role, claims.sub.as_str()), (Role::Admin, "ops-1"));
    assert_eq!(claims.exp - claims.iat, 30 * 60);

    // The service, on the same database and so the same secret, takes the printed token.
    let served = Served::start(&["--database-url", &url], dir.path().join("serve.log")).await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/api/v1/events", served.address))
        .bearer_auth(&first)
        .json(&json!({ "events": [event()] }))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 200, "{}", served.log_text());
    let answer: Value = response.json().await.expect("JSON");
    assert_eq!(answer["accepted"], 1);
    // The service did not replace the secret either.
    assert_eq!(std::fs::read(&secret_file).expect("the secret"), secret);
}

#[test]
fn a_configured_secret_file_is_used_and_the_flag_wins_over_the_environment() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let from_env = dir.path().join("env.secret");
    let from_flag = dir.path().join("flag.secret");
    std::fs::write(&from_env, "secret-from-the-environment-0123456789").expect("write");
    std::fs::write(&from_flag, "secret-from-the-command-line-012345678\n").expect("write");
    let url = format!("sqlite://{}", dir.path().join("y.db").display());

    let output = huddle_command()
        .args([
            "token",
            "--role",
            "tool",
            "--org",
            "d1",
            "--database-url",
            &url,
        ])
        .env("HUDDLE_JWT_SECRET_FILE", &from_env)
        .output()
        .expect("huddle token");
    assert!(output.status.success());
    let by_env = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(keys_from(&from_env).verify(by_env.trim()).is_ok());

    let output = huddle_command()
        .args([
            "token",
            "--role",
            "tool",
            "--org",
            "d1",
            "--database-url",
            &url,
        ])
        .arg("--jwt-secret-file")
        .arg(&from_flag)
        .env("HUDDLE_JWT_SECRET_FILE", &from_env)
        .output()
        .expect("huddle token");
    assert!(output.status.success());
    let by_flag = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(keys_from(&from_flag).verify(by_flag.trim()).is_ok());
    assert!(keys_from(&from_env).verify(by_flag.trim()).is_err());
    assert!(
        !dir.path().join("y.db.secret").exists(),
        "no secret is made when one is configured"
    );
}

#[test]
fn bad_token_requests_fail_without_printing_a_token() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("z.db").display());
    let short = dir.path().join("short.secret");
    std::fs::write(&short, "too-short").expect("write");
    for args in [
        vec!["--role", "superuser", "--org", "d1", "--database-url", &url],
        vec!["--role", "tool", "--org", "", "--database-url", &url],
        vec!["--role", "tool", "--database-url", &url],
        vec![
            "--role",
            "tool",
            "--org",
            "d1",
            "--ttl",
            "soon",
            "--database-url",
            &url,
        ],
        vec![
            "--role",
            "tool",
            "--org",
            "d1",
            "--database-url",
            "mysql://x",
        ],
        vec![
            "--role",
            "tool",
            "--org",
            "d1",
            "--database-url",
            &url,
            "--jwt-secret-file",
            short.to_str().expect("a path"),
        ],
        // PostgreSQL has no file to put a secret beside.
        vec![
            "--role",
            "tool",
            "--org",
            "d1",
            "--database-url",
            "postgres://x@127.0.0.1/y",
        ],
    ] {
        let output = huddle_command()
            .arg("token")
            .args(&args)
            .output()
            .expect("huddle token");
        assert!(!output.status.success(), "{args:?} should fail");
        assert!(output.stdout.is_empty(), "{args:?} printed a token");
    }
}
