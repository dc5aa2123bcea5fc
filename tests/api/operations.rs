//! Operations: `huddle backup` and its restore, and `GET /metrics`.

use std::time::Duration;

use huddle::auth::Role;
use huddle::config::Settings;
use huddle::db::DbUrl;
use huddle::startup::Application;
use secrecy::SecretString;
use serde_json::Value;

use crate::helpers::{
    both_backends, events, huddle_command, Backend, TestApp, TestDatabase, ORG, TEST_SECRET,
};

both_backends!(a_backup_restores_to_the_same_answers);

const METRICS_TOKEN: &str = "scrape-token-for-tests";

/// The application on an existing database; gives back its address.
async fn serve(url: DbUrl) -> String {
    let mut settings = Settings::new(url, SecretString::from(TEST_SECRET.to_owned()));
    settings.bind = "127.0.0.1:0".into();
    settings.workers = 1;
    settings.pool_size = 2;
    let app = Application::build(settings)
        .await
        .expect("the restored app");
    let address = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    address
}

async fn student_page(client: &reqwest::Client, address: &str, token: &str) -> Value {
    let mut page: Value = client
        .get(format!("{address}/api/v1/students/stu-0001"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    // Times of the read itself differ.
    if let Some(fields) = page.as_object_mut() {
        fields.remove("generated_at");
    }
    page
}

async fn a_backup_restores_to_the_same_answers(app: TestApp) {
    app.post_batch(&events(200)).await;
    let admin = app.token(Role::Admin, ORG);
    let before = student_page(&app.client, &app.address, &admin).await;
    assert!(
        before["skills"].as_array().is_some_and(|s| !s.is_empty()),
        "{before}"
    );

    // Backed up while the service runs, by the real binary.
    let dir = tempfile::tempdir().expect("a directory");
    let out = dir.path().join("huddle.backup");
    let url = match app.db.url() {
        DbUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        DbUrl::Postgres(url) => url.clone(),
    };
    let output = huddle_command()
        .args(["backup", "--database-url", &url, "--out"])
        .arg(&out)
        .output()
        .expect("huddle backup");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("wrote "));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out)
            .expect("the backup")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A second backup to the same file is refused, not written over.
    let again = huddle_command()
        .args(["backup", "--database-url", &url, "--out"])
        .arg(&out)
        .output()
        .expect("huddle backup");
    assert!(!again.status.success());
    // Later events are not in it.
    app.post_batch(&events(5)).await;

    // Restored into a database of its own, then served.
    let backend = if url.starts_with("sqlite") {
        Backend::Sqlite
    } else {
        Backend::Postgres
    };
    let restored = TestDatabase::create(backend);
    match &restored.url {
        DbUrl::Sqlite(path) => {
            std::fs::copy(&out, path).expect("copying the backup into place");
        }
        DbUrl::Postgres(target) => {
            let status = std::process::Command::new("pg_restore")
                .args(["--no-owner", "--dbname", target])
                .arg(&out)
                .status()
                .expect("pg_restore");
            assert!(status.success());
        }
    }
    let address = serve(restored.url.clone()).await;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client");
    let after = student_page(&client, &address, &admin).await;
    assert_eq!(after, before);
    let url = restored.url.clone();
    let count = huddle::db::blocking(move || {
        let db = huddle::db::Db::open(&url, 1)?;
        let mut conn = db.conn()?;
        use diesel::prelude::*;
        Ok(huddle::db::schema::events::table
            .count()
            .get_result::<i64>(&mut conn)?)
    })
    .await
    .expect("counting");
    assert_eq!(count, 200);
}

async fn metrics_count_requests_and_events_behind_a_token(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.metrics_token = Some(SecretString::from(METRICS_TOKEN.to_owned()));
    })
    .await;
    let mut batch = events(3);
    batch.push(crate::helpers::event_with(
        serde_json::json!({"outcome": "maybe"}),
    ));
    app.post_batch(&batch).await;
    app.post_batch(&batch[..1]).await;
    let scrape = |token: Option<&str>| {
        let mut request = app.client.get(app.url("/metrics"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    crate::helpers::assert_error(scrape(None).await.expect("GET"), 401, "invalid_token").await;
    let huddle_jwt = app.token(Role::Admin, ORG);
    crate::helpers::assert_error(
        scrape(Some(&huddle_jwt)).await.expect("GET"),
        401,
        "invalid_token",
    )
    .await;
    let response = scrape(Some(METRICS_TOKEN)).await.expect("GET");
    assert_eq!(response.status(), 200);
    assert!(response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/plain")));
    let text = response.text().await.expect("the metrics");
    for line in [
        r#"huddle_http_requests_total{method="POST",route="/api/v1/events",status="200"}"#,
        r#"huddle_http_request_duration_seconds_bucket{method="POST",route="/api/v1/events",le="0.1"}"#,
        r#"huddle_events_total{code="",result="accepted"}"#,
        r#"huddle_events_total{code="",result="duplicate"}"#,
        r#"huddle_events_total{code="invalid_outcome",result="rejected"}"#,
        "huddle_http_requests_in_flight",
        "huddle_writer_queue_depth",
        "huddle_leader",
        "huddle_live_streams",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    assert!(!text.contains("stu-"), "no ids in labels");
}

both_backends!(backend: metrics_count_requests_and_events_behind_a_token);

#[actix_web::test]
async fn metrics_are_off_without_a_token() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let response = app.get("/metrics").await;
    crate::helpers::assert_error(response, 404, "not_found").await;
}

/// A `huddle user add` beside the server (another connection to the SQLite file) writes while
/// one of the server's writes has read and not yet written: SQLite then refuses that write at
/// once ("database is locked"). It is answered 503 `database_busy` with `Retry-After`, not 500,
/// and the other connection's write is stored.
#[test]
fn a_write_overtaken_by_another_connection_to_the_file_is_answered_retry_later() {
    use actix_web::ResponseError;
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;
    use huddle::db::{Changes, Db};
    use huddle::error::ApiError;

    let dir = tempfile::tempdir().expect("a directory");
    let path = dir.path().join("huddle.db");
    let url = DbUrl::parse(&format!("sqlite://{}", path.display())).expect("a URL");
    let db = Db::open(&url, 1).expect("the database");
    db.write_blocking(Changes::Records, |conn| {
        conn.batch_execute("CREATE TABLE probe (x INTEGER)")?;
        Ok(())
    })
    .expect("a table");
    let (read, other_may_write) = std::sync::mpsc::channel();
    let other = std::thread::spawn(move || -> anyhow::Result<()> {
        let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())?;
        conn.batch_execute("PRAGMA busy_timeout = 10000")?;
        other_may_write.recv()?;
        conn.batch_execute("INSERT INTO probe VALUES (2)")?;
        Ok(())
    });
    let written = db.write_blocking(Changes::Records, |conn| {
        conn.transaction(|conn| {
            conn.batch_execute("SELECT count(*) FROM probe")?;
            read.send(())?;
            std::thread::sleep(Duration::from_millis(300));
            conn.batch_execute("INSERT INTO probe VALUES (1)")?;
            Ok(())
        })
    });
    other
        .join()
        .expect("the other thread")
        .expect("the other write");
    let error = ApiError::from(written.expect_err("SQLite refuses the overtaken write"));
    let answer = error.error_response();
    assert_eq!(answer.status().as_u16(), 503);
    assert_eq!(
        answer.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    assert_eq!(error.code(), "database_busy");
    let rows: i64 = diesel::sql_query("SELECT count(*) AS n FROM probe")
        .get_result::<Count>(&mut *db.conn().expect("a connection"))
        .expect("a count")
        .n;
    assert_eq!(rows, 1, "the other connection's write is stored");
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
