//! The test harness: the real application on port 0, its own database per test (a temp-file
//! SQLite or a fresh PostgreSQL database), an HTTP client, tokens and events.

use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use diesel::prelude::*;
use diesel::{Connection, PgConnection, RunQueryDsl, SqliteConnection};
use huddle::auth::{Claims, Keys, Role};
use huddle::config::Settings;
use huddle::db::schema::events;
use huddle::db::{Db, DbConnection, DbUrl};
use huddle::startup::Application;
use huddle::store::events::StoredEvent;
use secrecy::SecretString;
use serde_json::{json, Value};
use uuid::Uuid;

/// The secret every in-process test app signs with.
pub const TEST_SECRET: &str = "integration-test-secret-0123456789abcdef";
/// The organisation the default tool token acts for.
pub const ORG: &str = "district-1";

/// Turns each `async fn name(app: TestApp)` into two tests, `name::sqlite` and
/// `name::postgres`, each starting its own application on its own database. (A module per
/// scenario because `macro_rules!` cannot glue identifiers; `cargo test ::postgres` picks one
/// backend.)
macro_rules! both_backends {
    // Tests that start their own application (settings of their own) take the backend.
    (backend: $($(#[$meta:meta])* $name:ident),+ $(,)?) => {
        $(
            mod $name {
                $(#[$meta])*
                #[actix_web::test]
                async fn sqlite() {
                    super::$name($crate::helpers::Backend::Sqlite).await;
                }

                $(#[$meta])*
                #[actix_web::test]
                async fn postgres() {
                    super::$name($crate::helpers::Backend::Postgres).await;
                }
            }
        )+
    };
    ($($(#[$meta:meta])* $name:ident),+ $(,)?) => {
        $(
            mod $name {
                $(#[$meta])*
                #[actix_web::test]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await;
                    super::$name(app).await;
                }

                $(#[$meta])*
                #[actix_web::test]
                async fn postgres() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await;
                    super::$name(app).await;
                }
            }
        )+
    };
}

pub(crate) use both_backends;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database of its own for one test; removed when dropped.
pub struct TestDatabase {
    pub url: DbUrl,
    /// Keeps the SQLite file alive for the test's duration.
    _dir: Option<tempfile::TempDir>,
    /// The PostgreSQL database to drop at the end, with the server URL to drop it from.
    pg: Option<(String, String)>,
}

/// The server holding the per-test PostgreSQL databases.
pub fn postgres_admin_url() -> String {
    std::env::var("HUDDLE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[after_scheme..]
        .find('/')
        .map_or(base.len(), |i| after_scheme + i);
    let mut out = format!("{}/{db}", &base[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

impl TestDatabase {
    pub fn create(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = DbUrl::Sqlite(dir.path().join("huddle.db"));
                TestDatabase {
                    url,
                    _dir: Some(dir),
                    pg: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("huddle_test_{}", Uuid::new_v4().simple());
                let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
                    panic!("PostgreSQL is not reachable at {admin} (set HUDDLE_TEST_POSTGRES_URL): {e}")
                });
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("creating the test database");
                TestDatabase {
                    url: DbUrl::Postgres(with_database(&admin, &name)),
                    _dir: None,
                    pg: Some((admin, name)),
                }
            }
        }
    }

    /// A connection made with diesel directly (not through the application's pool).
    pub fn connect(&self) -> DbConnection {
        match &self.url {
            DbUrl::Sqlite(path) => DbConnection::Sqlite(
                SqliteConnection::establish(&path.to_string_lossy()).expect("opening SQLite"),
            ),
            DbUrl::Postgres(url) => {
                DbConnection::Postgresql(PgConnection::establish(url).expect("connecting"))
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Best effort: a leftover database is harmless, a panic in drop is not.
        if let Some((admin, name)) = &self.pg {
            if let Ok(mut conn) = PgConnection::establish(admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// The running application and what a test needs to talk to it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub keys: Keys,
    /// Direct access to the application's database, for checking what was stored.
    pub db: Db,
    // Dropped last: the database outlives the handle above.
    _database: TestDatabase,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// [`TestApp::spawn`] with settings changed by `configure` (rate limits, CORS, ...).
    pub async fn spawn_with(backend: Backend, configure: impl FnOnce(&mut Settings)) -> Self {
        let database = TestDatabase::create(backend);
        let secret = SecretString::from(TEST_SECRET.to_owned());
        let mut settings = Settings::new(database.url.clone(), secret.clone());
        settings.bind = "127.0.0.1:0".into();
        settings.workers = 2;
        settings.pool_size = 4;
        configure(&mut settings);
        let app = Application::build(settings)
            .await
            .expect("building the application");
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());

        let url = database.url.clone();
        let db = huddle::db::blocking(move || Db::open(&url, 2))
            .await
            .expect("opening the test's own handle on the database");
        TestApp {
            address,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("an HTTP client"),
            keys: Keys::new(&secret),
            db,
            _database: database,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A valid token of `role` for `org`, one hour long.
    pub fn token(&self, role: Role, org: &str) -> String {
        self.sign(&Claims::new(
            format!("{}-test", role.as_str()),
            role,
            org,
            Duration::from_secs(3600),
        ))
    }

    pub fn sign(&self, claims: &Claims) -> String {
        self.keys.sign(claims).expect("signing a token")
    }

    pub fn tool_token(&self) -> String {
        self.token(Role::Tool, ORG)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET failed")
    }

    /// Posts `body` (any JSON) to the events endpoint with a tool token of [`ORG`].
    pub async fn post_events(&self, body: &Value) -> reqwest::Response {
        self.post_events_as(&self.tool_token(), body).await
    }

    pub async fn post_events_as(&self, token: &str, body: &Value) -> reqwest::Response {
        self.post_raw(Some(token), body.to_string().into_bytes())
            .await
    }

    /// Posts raw bytes to the events endpoint; `token` None sends no Authorization header.
    pub async fn post_raw(&self, token: Option<&str>, body: Vec<u8>) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/api/v1/events"))
            .header("Content-Type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("POST failed")
    }

    /// Posts a batch of `events` and expects a 200: the parsed answer.
    pub async fn post_batch(&self, events: &[Value]) -> Value {
        let response = self.post_events(&json!({ "events": events })).await;
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON answer");
        assert_eq!(status, 200, "the batch was not taken: {body}");
        body
    }

    /// Every stored event, in arrival order.
    pub async fn stored_events(&self) -> Vec<StoredEvent> {
        self.db
            .read(|conn| {
                Ok(huddle::on_backend!(conn, |c| events::table
                    .order(events::seq)
                    .select(StoredEvent::as_select())
                    .load(c))?)
            })
            .await
            .expect("reading the events")
    }

    pub async fn count_events(&self) -> i64 {
        self.db
            .read(|conn| Ok(events::table.count().get_result::<i64>(conn)?))
            .await
            .expect("counting the events")
    }

    /// Runs a read of the test's own with a connection to the application's database.
    pub async fn read<T, F>(&self, f: F) -> T
    where
        F: FnOnce(&mut DbConnection) -> QueryResult<T> + Send + 'static,
        T: Send + 'static,
    {
        self.db
            .read(move |conn| Ok(f(conn)?))
            .await
            .expect("reading the database")
    }
}

/// A valid event with a fresh UUID v4, that happened a minute ago.
pub fn event() -> Value {
    json!({
        "event_id": Uuid::new_v4().to_string(),
        "occurred_at": ago(60),
        "student_id": "stu-0042",
        "class_id": "class-5b",
        "skill_id": "fractions.add-unlike",
        "item_id": "frac-add-017",
        "outcome": "correct",
    })
}

/// `event()` with `patch` applied: a `null` value removes the field.
pub fn event_with(patch: Value) -> Value {
    let mut e = event();
    let fields = e.as_object_mut().expect("an object");
    for (key, value) in patch.as_object().expect("the patch is an object") {
        if value.is_null() {
            fields.remove(key);
        } else {
            fields.insert(key.clone(), value.clone());
        }
    }
    e
}

/// `n` distinct valid events.
pub fn events(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            event_with(json!({
                "student_id": format!("stu-{:04}", i % 30),
                "item_id": format!("item-{}", i % 50),
            }))
        })
        .collect()
}

/// RFC 3339 time `seconds` before now (negative: in the future), to the millisecond.
pub fn ago(seconds: i64) -> String {
    (Utc::now() - chrono::TimeDelta::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn id_of(event: &Value) -> &str {
    event["event_id"].as_str().expect("an event_id")
}

/// Asserts the contract's error shape and code; gives back the message.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> String {
    let actual = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let text = response.text().await.expect("a body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    assert!(
        content_type.starts_with("application/json"),
        "errors are JSON, got content-type {content_type:?}: {text}"
    );
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the error body is not JSON ({e}): {text}"));
    assert_error_shape(&body, code);
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// `{"error": {"code": code, "message": "<non-empty>"}}` and nothing else at the top.
pub fn assert_error_shape(body: &Value, code: &str) {
    let object = body.as_object().expect("the error body is an object");
    assert_eq!(object.len(), 1, "only `error` at the top: {body}");
    assert_eq!(body["error"]["code"], code, "wrong code: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(!message.trim().is_empty(), "a plain message: {body}");
}

/// The real binary, `huddle serve`, as a child process on a free port.
pub struct Served {
    pub child: std::process::Child,
    pub address: String,
    /// The server's log, shown when a test fails.
    pub log: std::path::PathBuf,
}

impl Served {
    /// Starts `huddle serve --bind 127.0.0.1:PORT` with `args` and waits until `/healthz` answers.
    pub async fn start(args: &[&str], log: std::path::PathBuf) -> Self {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("an address").port()
        };
        let bind = format!("127.0.0.1:{port}");
        let log_file = std::fs::File::create(&log).expect("a log file");
        let child = huddle_command()
            .arg("serve")
            .args(["--bind", &bind])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(log_file.try_clone().expect("the log file"))
            .stderr(log_file)
            .spawn()
            .expect("starting huddle serve");
        let mut served = Served {
            child,
            address: format!("http://{bind}"),
            log,
        };
        served.wait_until_healthy().await;
        served
    }

    async fn wait_until_healthy(&mut self) {
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(format!("{}/healthz", self.address)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            if let Some(status) = self.child.try_wait().expect("the child's status") {
                panic!("huddle serve exited with {status}:\n{}", self.log_text());
            }
            assert!(
                std::time::Instant::now() < deadline,
                "huddle serve did not become healthy:\n{}",
                self.log_text()
            );
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM, as a service manager does.
    pub fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM failed");
    }

    /// Waits up to `limit` for the process to exit; None if it is still running.
    pub async fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child's status") {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // Only our own child, by its handle; harmless if it already exited.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `huddle` binary with none of the caller's HUDDLE_* settings leaking in.
pub fn huddle_command() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_huddle"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("HUDDLE_") {
            command.env_remove(key);
        }
    }
    command
}
