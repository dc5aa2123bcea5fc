//! Accounts and sign-in: login answers, throttling and lockout, the classes a caller sees,
//! teachers' access to their students, tool tokens limited to classes.

use std::time::Duration;

use huddle::auth::{passwords, Claims, Role};
use huddle::store::users::NewUser;
use serde_json::{json, Value};

use crate::helpers::{assert_error, both_backends, event_with, TestApp, ORG};

both_backends!(
    a_teacher_signs_in_and_reads_their_classes,
    wrong_credentials_get_one_answer_whatever_the_email,
    repeated_failures_lock_the_email_for_a_while,
    parallel_guesses_get_no_more_tries_than_serial_ones,
    bad_login_bodies_are_refused_cleanly,
    teachers_see_their_students_only,
    class_access_facts_feed_the_policy,
    a_tool_token_limited_to_classes_writes_only_those,
);

pub const PASSWORD: &str = "correct horse battery staple";

/// Adds an account of `org` teaching `classes`, with [`PASSWORD`]; gives back its user id.
pub async fn add_user(
    app: &TestApp,
    email: &str,
    role: Role,
    org: &str,
    classes: &[&str],
) -> String {
    let user = NewUser {
        email: email.to_owned(),
        role,
        org: org.to_owned(),
        name: None,
        classes: classes.iter().map(|c| c.to_string()).collect(),
        password_hash: Some(passwords::hash_password(PASSWORD).expect("hashing")),
    };
    app.db
        .write(huddle::db::Changes::Entities, move |conn| {
            huddle::store::users::add_user(conn, &user)
        })
        .await
        .expect("adding a user")
}

/// A token as sign-in would give it to `user_id`.
pub fn token_for(app: &TestApp, user_id: &str, role: Role, org: &str) -> String {
    app.sign(&Claims::new(user_id, role, org, Duration::from_secs(3600)))
}

pub async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("POST login")
}

pub async fn get_as(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET")
}

async fn a_teacher_signs_in_and_reads_their_classes(app: TestApp) {
    let teacher = add_user(
        &app,
        "Ms.Rivera@School.example",
        Role::Teacher,
        ORG,
        &["class-5b", "class-6a"],
    )
    .await;
    add_user(
        &app,
        "other@school.example",
        Role::Teacher,
        ORG,
        &["class-7c"],
    )
    .await;
    add_user(&app, "admin@school.example", Role::Admin, ORG, &[]).await;
    app.post_batch(&[event_with(json!({"class_id": "class-5b"}))])
        .await;

    // Emails match without case or spaces.
    let response = login(&app, "  ms.rivera@school.example ", PASSWORD).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["role"], "teacher");
    assert_eq!(body["org"], ORG);
    assert_eq!(body["user_id"], teacher.as_str());
    assert_eq!(body["token_type"], "Bearer");
    let token = body["token"].as_str().expect("a token");
    let claims = app.keys.verify(token).expect("a valid token");
    assert_eq!(claims.sub, teacher);
    assert_eq!(claims.role, Role::Teacher);
    // A school day, and nothing personal in the claims.
    assert_eq!(claims.exp - claims.iat, 8 * 3600);
    let payload = token.split('.').nth(1).expect("a payload");
    assert!(!payload.is_empty());
    assert!(!String::from_utf8_lossy(&decode_b64url(payload)).contains("rivera"));

    let classes: Value = get_as(&app, token, "/api/v1/classes")
        .await
        .json()
        .await
        .expect("JSON");
    let ids: Vec<&str> = classes["classes"]
        .as_array()
        .expect("classes")
        .iter()
        .map(|c| c["class_id"].as_str().expect("an id"))
        .collect();
    assert_eq!(ids, ["class-5b", "class-6a"], "{classes}");
    assert_eq!(classes["classes"][0]["students"], 1);

    let admin: Value = login(&app, "admin@school.example", PASSWORD)
        .await
        .json()
        .await
        .expect("JSON");
    assert_eq!(admin["role"], "admin");
    let all: Value = get_as(
        &app,
        admin["token"].as_str().expect("token"),
        "/api/v1/classes",
    )
    .await
    .json()
    .await
    .expect("JSON");
    assert_eq!(
        all["classes"].as_array().expect("classes").len(),
        3,
        "{all}"
    );

    // A tool cannot list classes.
    let response = get_as(&app, &app.tool_token(), "/api/v1/classes").await;
    assert_error(response, 403, "forbidden").await;
}

fn decode_b64url(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64url") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

async fn wrong_credentials_get_one_answer_whatever_the_email(app: TestApp) {
    add_user(&app, "known@school.example", Role::Teacher, ORG, &[]).await;
    let started = std::time::Instant::now();
    let wrong_password = login(&app, "known@school.example", "not the password").await;
    let known_time = started.elapsed();
    let started = std::time::Instant::now();
    let unknown = login(&app, "nobody@school.example", "not the password").await;
    let unknown_time = started.elapsed();
    let a = assert_error(wrong_password, 401, "invalid_credentials").await;
    let b = assert_error(unknown, 401, "invalid_credentials").await;
    assert_eq!(a, b, "the same message: no hint whether the email exists");
    // Both verify an argon2 hash (a dummy one for the unknown email): comparable timing.
    let (fast, slow) = if known_time < unknown_time {
        (known_time, unknown_time)
    } else {
        (unknown_time, known_time)
    };
    assert!(
        slow < fast * 5 + Duration::from_millis(200),
        "{known_time:?} vs {unknown_time:?}"
    );
    // An account without a password cannot sign in.
    let user = NewUser {
        email: "nopassword@school.example".into(),
        role: Role::Teacher,
        org: ORG.into(),
        name: None,
        classes: vec![],
        password_hash: None,
    };
    app.db
        .write(huddle::db::Changes::Entities, move |c| {
            huddle::store::users::add_user(c, &user)
        })
        .await
        .expect("add");
    let response = login(&app, "nopassword@school.example", "").await;
    assert_error(response, 401, "invalid_credentials").await;
}

async fn repeated_failures_lock_the_email_for_a_while(app: TestApp) {
    add_user(&app, "target@school.example", Role::Admin, ORG, &[]).await;
    let policy = huddle::auth::throttle::LoginPolicy::default();
    let mut slowest = Duration::ZERO;
    for _ in 0..policy.lock_after {
        let started = std::time::Instant::now();
        let response = login(&app, "target@school.example", "guess").await;
        slowest = slowest.max(started.elapsed());
        assert_error(response, 401, "invalid_credentials").await;
    }
    assert!(
        slowest >= policy.delay_step,
        "failures past the free ones are slowed: {slowest:?}"
    );
    // Locked now: even the right password is refused, with Retry-After.
    let response = login(&app, "target@school.example", PASSWORD).await;
    let retry: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .expect("text")
        .parse()
        .expect("seconds");
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    assert_error(response, 429, "too_many_attempts").await;
    // An unknown email is locked the same way (no hint that the first one exists)...
    for _ in 0..policy.lock_after {
        login(&app, "ghost@school.example", "guess").await;
    }
    assert_error(
        login(&app, "ghost@school.example", "guess").await,
        429,
        "too_many_attempts",
    )
    .await;
    // ...and another account is not locked by them.
    add_user(&app, "bystander@school.example", Role::Teacher, ORG, &[]).await;
    assert_eq!(
        login(&app, "bystander@school.example", PASSWORD)
            .await
            .status(),
        200
    );
}

async fn bad_login_bodies_are_refused_cleanly(app: TestApp) {
    let post = |body: Vec<u8>| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    assert_error(
        post(b"{not json".to_vec()).await.expect("POST"),
        400,
        "malformed_json",
    )
    .await;
    assert_error(
        post(b"{\"email\": \"a@b\"}".to_vec()).await.expect("POST"),
        422,
        "invalid_body",
    )
    .await;
    assert_error(
        post(b"[1, 2]".to_vec()).await.expect("POST"),
        422,
        "invalid_body",
    )
    .await;
    let huge = format!(
        "{{\"email\": \"a@b\", \"password\": \"{}\"}}",
        "x".repeat(20_000)
    );
    assert_error(
        post(huge.into_bytes()).await.expect("POST"),
        413,
        "payload_too_large",
    )
    .await;
    // A long password within the body limit is simply wrong.
    assert_error(
        login(&app, "a@b.example", &"y".repeat(5_000)).await,
        401,
        "invalid_credentials",
    )
    .await;
}

async fn teachers_see_their_students_only(app: TestApp) {
    let mine = add_user(
        &app,
        "mine@school.example",
        Role::Teacher,
        ORG,
        &["class-5b"],
    )
    .await;
    let theirs = add_user(
        &app,
        "theirs@school.example",
        Role::Teacher,
        ORG,
        &["class-7c"],
    )
    .await;
    app.post_batch(&[
        event_with(json!({"student_id": "stu-a", "class_id": "class-5b"})),
        event_with(json!({"student_id": "stu-b", "class_id": "class-7c"})),
    ])
    .await;
    let token = token_for(&app, &mine, Role::Teacher, ORG);
    let response = get_as(&app, &token, "/api/v1/students/stu-a").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["student_id"], "stu-a");
    assert_eq!(body["skills"].as_array().expect("skills").len(), 1);
    // Another teacher's student, and a student that does not exist: the same 403.
    let other = get_as(&app, &token, "/api/v1/students/stu-b").await;
    let m1 = assert_error(other, 403, "forbidden").await;
    let none = get_as(&app, &token, "/api/v1/students/stu-nobody").await;
    let m2 = assert_error(none, 403, "forbidden").await;
    assert_eq!(m1, m2);
    // The other teacher sees theirs, not mine.
    let token_b = token_for(&app, &theirs, Role::Teacher, ORG);
    assert_eq!(
        get_as(&app, &token_b, "/api/v1/students/stu-b")
            .await
            .status(),
        200
    );
    assert_error(
        get_as(&app, &token_b, "/api/v1/students/stu-a").await,
        403,
        "forbidden",
    )
    .await;
    // A teacher's token for another organisation sees nothing here.
    let foreign = token_for(&app, &mine, Role::Teacher, "district-2");
    assert_error(
        get_as(&app, &foreign, "/api/v1/students/stu-a").await,
        403,
        "forbidden",
    )
    .await;
    // An administrator reads any student of the organisation.
    let admin = app.token(Role::Admin, ORG);
    assert_eq!(
        get_as(&app, &admin, "/api/v1/students/stu-b")
            .await
            .status(),
        200
    );
}

async fn a_tool_token_limited_to_classes_writes_only_those(app: TestApp) {
    let claims = Claims::new("quiz", Role::Tool, ORG, Duration::from_secs(3600))
        .with_classes(vec!["class-5b".into(), "class-6a".into()]);
    let token = app.sign(&claims);
    let batch = json!({"events": [
        event_with(json!({"class_id": "class-5b"})),
        event_with(json!({"class_id": "class-9z"})),
        event_with(json!({"class_id": "class-6a"})),
    ]});
    let response = app.post_events_as(&token, &batch).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["accepted"], 2, "{body}");
    assert_eq!(body["rejected"][0]["index"], 1, "{body}");
    assert_eq!(body["rejected"][0]["error"]["code"], "class_not_allowed");
    let stored: Vec<String> = app
        .stored_events()
        .await
        .into_iter()
        .map(|e| e.event.class_id)
        .collect();
    assert_eq!(stored.len(), 2);
    assert!(!stored.contains(&"class-9z".to_owned()));
    // An unlimited tool token writes any class.
    let body = app
        .post_batch(&[event_with(json!({"class_id": "class-9z"}))])
        .await;
    assert_eq!(body["accepted"], 1);
}

#[actix_web::test]
async fn the_token_and_user_commands_work_from_the_command_line() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("a directory");
    let url = format!("sqlite://{}", dir.path().join("h.db").display());
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = crate::helpers::huddle_command()
            .args(args)
            .args(["--database-url", &url])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("huddle");
        let mut input = child.stdin.take().expect("stdin");
        if let Some(text) = stdin {
            writeln!(input, "{text}").expect("stdin");
        }
        drop(input);
        child.wait_with_output().expect("huddle")
    };
    let out = run(
        &[
            "token",
            "--role",
            "tool",
            "--org",
            ORG,
            "--classes",
            "class-5b,class-6a",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).expect("UTF-8");
    let secret = std::fs::read_to_string(dir.path().join("h.db.secret")).expect("the secret");
    let keys = huddle::auth::Keys::new(&secrecy::SecretString::from(secret.trim().to_owned()));
    let claims = keys.verify(token.trim()).expect("a valid token");
    assert_eq!(
        claims.classes,
        Some(vec!["class-5b".to_owned(), "class-6a".to_owned()])
    );
    assert!(!run(
        &["token", "--role", "teacher", "--org", ORG, "--classes", "c"],
        None
    )
    .status
    .success());

    // An account without a password, then one set from stdin; short passwords are refused.
    let out = run(
        &[
            "user",
            "add",
            "--email",
            "cli@school.example",
            "--role",
            "teacher",
            "--org",
            ORG,
            "--classes",
            "class-5b",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(
        &[
            "user",
            "add",
            "--email",
            "CLI@school.example",
            "--role",
            "admin",
            "--org",
            ORG,
        ],
        None,
    );
    assert!(!out.status.success(), "the email is taken");
    assert!(!run(
        &["user", "set-password", "--email", "cli@school.example"],
        Some("short")
    )
    .status
    .success());
    assert!(!run(
        &["user", "set-password", "--email", "nobody@school.example"],
        Some(PASSWORD)
    )
    .status
    .success());
    let out = run(
        &["user", "set-password", "--email", "cli@school.example"],
        Some(PASSWORD),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = huddle::db::Db::open(&huddle::db::DbUrl::parse(&url).expect("URL"), 1).expect("db");
    let user = db
        .read(|c| huddle::store::users::find_login(c, "cli@school.example"))
        .await
        .expect("read")
        .expect("the account");
    assert_eq!(user.role, Role::Teacher);
    assert!(passwords::verify_password(
        PASSWORD,
        user.password_hash.as_deref()
    ));
}

async fn parallel_guesses_get_no_more_tries_than_serial_ones(app: TestApp) {
    add_user(&app, "target@school.example", Role::Admin, ORG, &[]).await;
    let policy = huddle::auth::throttle::LoginPolicy::default();
    let guesses: Vec<_> = (0..20)
        .map(|i| {
            let request = app
                .client
                .post(app.url("/api/v1/auth/login"))
                .json(&json!({"email": "target@school.example", "password": format!("guess {i}")}))
                .send();
            actix_web::rt::spawn(async move { request.await.expect("POST").status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for g in guesses {
        statuses.push(g.await.expect("a guess"));
    }
    let checked = statuses.iter().filter(|&&s| s == 401).count();
    assert_eq!(checked, policy.lock_after as usize, "{statuses:?}");
    assert!(
        statuses.iter().all(|&s| s == 401 || s == 429),
        "{statuses:?}"
    );
    assert_eq!(
        login(&app, "target@school.example", PASSWORD)
            .await
            .status(),
        429
    );
}

#[actix_web::test]
async fn many_good_sign_ins_from_one_address_do_not_lock_it() {
    let app = TestApp::spawn_with(crate::helpers::Backend::Sqlite, |s| {
        s.login.lock_after = 3;
        s.login.delay_step = Duration::ZERO;
    })
    .await;
    add_user(&app, "a@school.example", Role::Teacher, ORG, &[]).await;
    for _ in 0..6 {
        assert_eq!(
            login(&app, "a@school.example", PASSWORD).await.status(),
            200
        );
    }
    // Failures for other emails from the same (shared) address never lock it for everyone.
    for i in 0..12 {
        let other = format!("b{i}@school.example");
        for _ in 0..3 {
            assert_eq!(login(&app, &other, "wrong").await.status(), 401);
        }
    }
    assert_eq!(
        login(&app, "a@school.example", PASSWORD).await.status(),
        200
    );
}

async fn class_access_facts_feed_the_policy(app: TestApp) {
    let mine = add_user(
        &app,
        "mine@school.example",
        Role::Teacher,
        ORG,
        &["class-5b"],
    )
    .await;
    add_user(
        &app,
        "theirs@school.example",
        Role::Teacher,
        ORG,
        &["class-7c"],
    )
    .await;
    /// (sub, role, org, class asked for, the scope's class or the error code)
    type Case<'a> = (
        &'a str,
        Role,
        &'a str,
        &'static str,
        Result<&'a str, &'a str>,
    );
    let cases: [Case; 6] = [
        (&mine, Role::Teacher, ORG, "class-5b", Ok("class-5b")),
        (&mine, Role::Teacher, ORG, "class-7c", Err("forbidden")),
        (
            &mine,
            Role::Teacher,
            "district-2",
            "class-5b",
            Err("forbidden"),
        ),
        ("boss", Role::Admin, ORG, "class-7c", Ok("class-7c")),
        ("boss", Role::Admin, ORG, "class-none", Err("not_found")),
        (
            "boss",
            Role::Admin,
            "district-2",
            "class-5b",
            Err("not_found"),
        ),
    ];
    for (sub, role, org, class, expected) in cases {
        let caller = huddle::auth::Caller {
            sub: sub.to_owned(),
            role,
            org: org.to_owned(),
            classes: None,
        };
        let who = caller.clone();
        let access = app
            .db
            .read(move |conn| huddle::store::access::class_access(conn, &who, class))
            .await
            .expect("access facts");
        let decided = huddle::auth::policy::may_read_class(&caller, &access);
        let got = decided.as_ref().map(|s| s.class_id()).map_err(|e| e.code());
        assert_eq!(got, expected, "{sub} {role:?} {org} {class}");
    }
}
