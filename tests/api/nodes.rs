//! Several nodes on one database: three `huddle serve` processes on one PostgreSQL with events
//! of the same students sent to all of them (the state equals a replay, the jobs never run
//! twice, the lead moves when the leader is killed); caches that another node's write makes
//! stale; reads from a real streaming replica; every table keyed by organisation.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use diesel::prelude::*;
use huddle::auth::Role;
use huddle::config::Settings;
use huddle::db::schema::skill_states;
use huddle::db::{Changes, Db, DbUrl};
use huddle::startup::Application;
use huddle::store::job_runs::{self, JobRun};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::helpers::{
    both_backends, event_with, Backend, Served, TestApp, TestDatabase, ORG, TEST_SECRET,
};

const METRICS_TOKEN: &str = "scrape-token-for-node-tests";

/// Events of `students` students on two skills, `per_skill` answers each, in time order from
/// `start` (seconds ago), one second apart; right or wrong by a fixed pattern.
fn answers(students: usize, per_skill: usize, start: i64) -> Vec<Value> {
    let mut out = Vec::new();
    let mut t = start;
    for i in 0..per_skill {
        for s in 0..students {
            for skill in ["fractions.add", "fractions.compare"] {
                let outcome = if (s * 7 + i * 3 + skill.len()) % 5 < 3 {
                    "correct"
                } else {
                    "incorrect"
                };
                out.push(event_with(json!({
                    "student_id": format!("stu-{s:02}"),
                    "class_id": "class-5b",
                    "skill_id": skill,
                    "item_id": format!("{skill}-{i}"),
                    "outcome": outcome,
                    "occurred_at": crate::helpers::ago(t),
                })));
                t -= 1;
            }
        }
    }
    out
}

/// Sends `events` in batches of `size`, batch k to node k mod n, all at once; every batch must
/// be taken.
async fn send_to_all(client: &reqwest::Client, nodes: &[&str], token: &str, events: &[Value]) {
    let mut handles = Vec::new();
    for (k, batch) in events.chunks(6).enumerate() {
        let request = client
            .post(format!("{}/api/v1/events", nodes[k % nodes.len()]))
            .bearer_auth(token)
            .json(&json!({ "events": batch }))
            .send();
        handles.push(actix_web::rt::spawn(async move {
            let response = request.await.expect("POST");
            let status = response.status();
            assert_eq!(status, 200, "{}", response.text().await.unwrap_or_default());
        }));
    }
    for handle in handles {
        handle.await.expect("a batch");
    }
}

/// `huddle_leader` on the node at `address`.
async fn leads(client: &reqwest::Client, address: &str) -> bool {
    let text = client
        .get(format!("{address}/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("the metrics");
    let value = text
        .lines()
        .find_map(|l| l.strip_prefix("huddle_leader "))
        .unwrap_or_else(|| panic!("no huddle_leader in:\n{text}"));
    value.trim() == "1"
}

async fn runs(db: &Db) -> Vec<JobRun> {
    db.read(|conn| Ok(job_runs::all(conn)?))
        .await
        .expect("reading job_runs")
}

type StateKey = (String, String);
type StateValue = (String, i64, i64, i64);

async fn states(db: &Db) -> BTreeMap<StateKey, StateValue> {
    let rows: Vec<(String, String, String, i64, i64, i64)> = db
        .read(|conn| {
            Ok(skill_states::table
                .filter(skill_states::org_id.eq(ORG))
                .select((
                    skill_states::student_id,
                    skill_states::skill_id,
                    skill_states::state,
                    skill_states::last_occurred_at,
                    skill_states::last_seq,
                    skill_states::session_start,
                ))
                .load(conn)?)
        })
        .await
        .expect("reading the states");
    rows.into_iter()
        .map(|(st, sk, s, a, b, c)| ((st, sk), (s, a, b, c)))
        .collect()
}

/// The stored states, then the states a replay of every stored event writes: equal.
async fn assert_state_equals_a_replay(db: &Db) {
    let online = states(db).await;
    assert!(!online.is_empty());
    db.write(Changes::Records, |conn| {
        huddle::store::state::rebuild(conn, ORG, None, &Default::default())
    })
    .await
    .expect("replaying");
    assert_eq!(online, states(db).await, "the state differs from a replay");
}

/// Runs of one job for one organisation never overlap: each starts after the one before it
/// finished, except after a run whose node was killed mid-way (`killed`: its node and when).
fn assert_no_overlap(runs: &[JobRun], killed: Option<(&str, i64)>) {
    let mut by_job: BTreeMap<(&str, &str), Vec<&JobRun>> = BTreeMap::new();
    for r in runs {
        by_job
            .entry((r.org_id.as_str(), r.job.as_str()))
            .or_default()
            .push(r);
    }
    for list in by_job.values_mut() {
        list.sort_by_key(|r| r.started_at);
        for pair in list.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let after_a = a.finished_at.is_some_and(|f| f <= b.started_at);
            let a_was_killed = killed.is_some_and(|(node, at)| {
                a.node.starts_with(node) && a.finished_at.is_none() && b.started_at >= at
            });
            assert!(
                after_a || a_was_killed,
                "two runs of {} overlap: {a:?} and {b:?}",
                a.job
            );
        }
    }
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + limit;
    while !check().await {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A tool token of [`ORG`] signed with the nodes' secret.
fn tool_token() -> String {
    huddle::auth::Keys::new(&SecretString::from(TEST_SECRET.to_owned()))
        .sign(&huddle::auth::Claims::new(
            "tool-test",
            Role::Tool,
            ORG,
            Duration::from_secs(3600),
        ))
        .expect("a token")
}

/// The indexes of the nodes whose `huddle_leader` is 1 (more than one fails the test).
async fn leaders(client: &reqwest::Client, nodes: &[&str]) -> Option<usize> {
    let mut leading = Vec::new();
    for (i, address) in nodes.iter().enumerate() {
        if leads(client, address).await {
            leading.push(i);
        }
    }
    assert!(leading.len() <= 1, "several nodes lead: {leading:?}");
    leading.first().copied()
}

/// Three real nodes on one PostgreSQL database, events of the same students sent to all three
/// at once, the leader killed half-way: every event is stored once, the state equals a single
/// replay, exactly one node leads at a time, the jobs' runs never overlap, and another node
/// takes the lead over and keeps the schedule.
#[actix_web::test]
async fn three_nodes_share_one_database_and_one_leader() {
    let database = TestDatabase::create(Backend::Postgres);
    let DbUrl::Postgres(url) = database.url.clone() else {
        unreachable!()
    };
    // The organisation exists before the nodes start, so the first purge has one to run for.
    let db_url = database.url.clone();
    let db = huddle::db::blocking(move || Db::open(&db_url, 2))
        .await
        .expect("a handle on the database");
    db.write(Changes::Entities, |conn| {
        use huddle::db::schema::orgs;
        diesel::insert_into(orgs::table)
            .values((orgs::org_id.eq(ORG), orgs::created_at.eq(now_ms())))
            .execute(conn)?;
        Ok(())
    })
    .await
    .expect("the organisation");

    let dir = tempfile::tempdir().expect("a directory");
    let secret = dir.path().join("secret");
    std::fs::write(&secret, TEST_SECRET).expect("the secret");
    let args = [
        "--database-url",
        url.as_str(),
        "--jwt-secret-file",
        secret.to_str().expect("a path"),
        "--refit-interval",
        "1s",
        "--retention-days",
        "3650",
        "--workers",
        "1",
        "--db-pool-size",
        "3",
        "--metrics-token",
        METRICS_TOKEN,
    ];
    let mut nodes = Vec::new();
    for i in 0..3 {
        nodes.push(Served::start(&args, dir.path().join(format!("node-{i}.log"))).await);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client");
    let token = tool_token();
    let addresses: Vec<String> = nodes.iter().map(|n| n.address.clone()).collect();
    let all: Vec<&str> = addresses.iter().map(String::as_str).collect();

    // Exactly one leads.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let leader = loop {
        if let Some(i) = leaders(&client, &all).await {
            break i;
        }
        assert!(std::time::Instant::now() < deadline, "no node leads");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    let leader_node = format!("{}-", nodes[leader].child.id());

    let first = answers(12, 6, 7200);
    send_to_all(&client, &all, &token, &first).await;
    // The leader runs the jobs: the refit every second, the purge at once.
    let (dbr, node) = (&db, leader_node.as_str());
    wait_for(
        "runs by the leader",
        Duration::from_secs(20),
        || async move {
            let runs = runs(dbr).await;
            runs.iter().filter(|r| r.job == "refit").count() >= 2
                && runs.iter().all(|r| r.node.starts_with(node))
        },
    )
    .await;

    // The leader dies without a word.
    nodes[leader].child.kill().expect("SIGKILL");
    nodes[leader].child.wait().expect("the killed node");
    let killed_at = now_ms();
    let rest: Vec<&str> = (0..3).filter(|&i| i != leader).map(|i| all[i]).collect();
    let second = answers(12, 6, 3600);
    send_to_all(&client, &rest, &token, &second).await;

    // Another node takes the lead over and runs the jobs.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let successor = loop {
        let leading = leaders(&client, &rest).await;
        let ran = runs(&db)
            .await
            .iter()
            .any(|r| r.started_at > killed_at && !r.node.starts_with(&leader_node));
        if let (Some(i), true) = (leading, ran) {
            break rest[i];
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no node took the lead over"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    let successor_node = nodes
        .iter()
        .find(|n| n.address == successor)
        .map(|n| format!("{}-", n.child.id()))
        .expect("the successor");

    // Stop everything, then check what was stored.
    for node in &mut nodes {
        let _ = node.child.kill();
        let _ = node.child.wait();
    }
    let total = (first.len() + second.len()) as i64;
    let stored: i64 = db
        .read(|conn| Ok(huddle::db::schema::events::table.count().get_result(conn)?))
        .await
        .expect("counting");
    assert_eq!(stored, total, "every event stored once");

    let runs = runs(&db).await;
    let nodes_that_ran: BTreeSet<&str> = runs.iter().map(|r| r.node.as_str()).collect();
    assert_eq!(nodes_that_ran.len(), 2, "{nodes_that_ran:?}");
    for r in &runs {
        let by_leader = r.node.starts_with(&leader_node) && r.started_at <= killed_at;
        let by_successor = r.node.starts_with(&successor_node) && r.started_at > killed_at;
        assert!(by_leader || by_successor, "a run by another node: {r:?}");
    }
    // The purge ran once, at the first leader's start: the successor kept its schedule (1 h).
    let purges: Vec<&JobRun> = runs.iter().filter(|r| r.job == "retention").collect();
    assert_eq!(purges.len(), 1, "{purges:?}");
    assert!(purges[0].node.starts_with(&leader_node), "{purges:?}");
    assert_no_overlap(&runs, Some((leader_node.as_str(), killed_at)));

    assert_state_equals_a_replay(&db).await;
}

/// The leader (the one process on SQLite, the one holding the lock on PostgreSQL) runs the
/// background jobs and records each organisation's run.
async fn the_leader_runs_the_jobs_and_records_them(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.refit_interval = Some(Duration::from_millis(500));
    })
    .await;
    app.post_batch(&answers(3, 2, 600)).await;
    let db = &app.db;
    wait_for("two refits", Duration::from_secs(20), || async move {
        runs(db)
            .await
            .iter()
            .filter(|r| r.job == "refit" && r.result.as_deref() == Some("ok"))
            .count()
            >= 2
    })
    .await;
    let runs = runs(&app.db).await;
    assert!(runs
        .iter()
        .all(|r| r.org_id == ORG && r.node == runs[0].node));
    assert_no_overlap(&runs, None);
}

both_backends!(backend: the_leader_runs_the_jobs_and_records_them);

async fn overview_names(client: &reqwest::Client, address: &str, token: &str) -> Vec<String> {
    let page: Value = client
        .get(format!("{address}/api/v1/classes/class-5b/overview"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    sorted_strings(&page, "students", "name")
}

/// The `field` of every entry of the page's `list`, sorted.
fn sorted_strings(page: &Value, list: &str, field: &str) -> Vec<String> {
    let mut values: Vec<String> = page[list]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .filter_map(|entry| entry[field].as_str().map(str::to_owned))
        .collect();
    values.sort();
    values
}

async fn put_roster(app: &TestApp, address: &str, csv: &str) {
    let response = app
        .client
        .put(format!("{address}/api/v1/admin/roster"))
        .bearer_auth(app.token(Role::Admin, ORG))
        .header("Content-Type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .expect("PUT roster");
    assert_eq!(response.status(), 200);
}

/// A roster that renames a student shows on the class overview at once, however the overview
/// was kept: its state version does not cover names. On PostgreSQL the roster goes to one node
/// and the overview is read from another, which hears of the change by `NOTIFY`.
async fn a_roster_on_one_node_renames_on_every_node(app: TestApp) {
    let other = match app.db.url() {
        DbUrl::Postgres(_) => {
            let mut settings = Settings::new(
                app.db.url().clone(),
                SecretString::from(TEST_SECRET.to_owned()),
            );
            settings.bind = "127.0.0.1:0".into();
            settings.workers = 1;
            settings.pool_size = 2;
            let node = Application::build(settings).await.expect("a second node");
            let address = format!("http://127.0.0.1:{}", node.port());
            actix_web::rt::spawn(node.run_until_stopped());
            address
        }
        DbUrl::Sqlite(_) => app.address.clone(),
    };
    app.post_batch(&answers(2, 2, 600)).await;
    put_roster(
        &app,
        &app.address,
        "student_id,display_name,class_id\nstu-00,Maya Lopez,class-5b\nstu-01,Sam Okafor,class-5b\n",
    )
    .await;
    let admin = app.token(Role::Admin, ORG);
    assert_eq!(
        overview_names(&app.client, &other, &admin).await,
        ["Maya Lopez", "Sam Okafor"]
    );
    put_roster(
        &app,
        &app.address,
        "student_id,display_name,class_id\nstu-00,Maya Rivera,class-5b\nstu-01,Sam Okafor,class-5b\n",
    )
    .await;
    // Past the overview's one second of freshness, the name must have changed.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let names = overview_names(&app.client, &other, &admin).await;
        if names == ["Maya Rivera", "Sam Okafor"] {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the overview kept the old name: {names:?}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

both_backends!(a_roster_on_one_node_renames_on_every_node);

/// Claims the refit of `org` through `db` (blocking), retrying while a scheduled refit holds it.
async fn claim_when_free(db: &Db, org: &str) -> huddle::cluster::RefitClaim {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (db, org2) = (db.clone(), org.to_owned());
        let claim = huddle::db::blocking(move || huddle::cluster::claim_refit(&db, &org2))
            .await
            .expect("claiming");
        if let Some(claim) = claim {
            return claim;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the claim never came free"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether another claim on `org` holds; a claim taken here is let go at once (off the async
/// runtime, as PostgreSQL's blocking client needs).
async fn is_claimed(db: &Db, org: &str) -> bool {
    let (db, org) = (db.clone(), org.to_owned());
    huddle::db::blocking(move || Ok(huddle::cluster::claim_refit(&db, &org)?.is_none()))
        .await
        .expect("claiming")
}

async fn release(claim: huddle::cluster::RefitClaim) {
    huddle::db::blocking(move || {
        drop(claim);
        Ok(())
    })
    .await
    .expect("releasing");
}

/// A refit of one organisation runs on one node at a time, whoever starts it: while another
/// node refits (its claim taken through a database handle of its own, on PostgreSQL a session
/// of its own), an administrator's refit is answered 409, a refit job fails saying why, and the
/// leader's scheduled refit skips the organisation; other organisations are not held up. Once
/// the other refit ends, each runs again.
async fn one_refit_of_an_organisation_at_a_time(backend: Backend) {
    let app = TestApp::spawn_with(backend, |s| {
        s.refit_interval = Some(Duration::from_millis(300));
        s.refit.min_students = 1;
    })
    .await;
    app.post_batch(&answers(3, 2, 600)).await;
    let url = app.db.url().clone();
    let other_node = huddle::db::blocking(move || Db::open(&url, 1))
        .await
        .expect("another handle on the database");
    let claim = claim_when_free(&other_node, ORG).await;
    assert!(
        is_claimed(&app.db, ORG).await,
        "two claims on one organisation"
    );
    assert!(
        !is_claimed(&app.db, "district-2").await,
        "another organisation is held up"
    );
    let claimed_at = now_ms();

    let admin = app.token(Role::Admin, ORG);
    let post = |path: &'static str| {
        app.client
            .post(app.url(path))
            .bearer_auth(&admin)
            .json(&json!({}))
            .send()
    };
    let refused = post("/api/v1/admin/refit").await.expect("POST");
    let message = crate::helpers::assert_error(refused, 409, "refit_running").await;
    assert!(message.contains("already running"), "{message}");

    let queued = post("/api/v1/admin/model-health/refit")
        .await
        .expect("POST");
    assert_eq!(queued.status(), 202);
    let job: Value = queued.json().await.expect("the job");
    let job_url = app.url(&format!(
        "/api/v1/admin/model-health/refit/{}",
        job["job_id"].as_str().expect("a job id")
    ));
    let (client, admin2, job_url2) = (&app.client, &admin, &job_url);
    wait_for(
        "the refit job to fail",
        Duration::from_secs(20),
        || async move {
            let job: Value = client
                .get(job_url2)
                .bearer_auth(admin2)
                .send()
                .await
                .expect("GET")
                .json()
                .await
                .expect("the job");
            assert_ne!(
                job["status"], "done",
                "a refit job ran beside another refit: {job}"
            );
            job["status"] == "failed"
                && job["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("already running"))
        },
    )
    .await;

    let db = &app.db;
    wait_for(
        "a skipped scheduled refit",
        Duration::from_secs(20),
        || async move {
            runs(db)
                .await
                .iter()
                .any(|r| r.job == "refit" && r.result.as_deref() == Some("skipped"))
        },
    )
    .await;
    let released_at = now_ms();
    release(claim).await;
    let during: Vec<JobRun> = runs(&app.db)
        .await
        .into_iter()
        .filter(|r| r.job == "refit" && r.started_at >= claimed_at)
        .filter(|r| r.finished_at.is_some_and(|f| f <= released_at))
        .collect();
    assert!(
        during
            .iter()
            .all(|r| r.result.as_deref() == Some("skipped")),
        "a scheduled refit ran beside another refit: {during:?}"
    );

    // Free again: the administrator's refit runs (once a scheduled one is not running).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let response = post("/api/v1/admin/refit").await.expect("POST");
        if response.status() == 200 {
            break;
        }
        crate::helpers::assert_error(response, 409, "refit_running").await;
        assert!(
            std::time::Instant::now() < deadline,
            "the refit stayed refused"
        );
    }
    wait_for(
        "a scheduled refit after the release",
        Duration::from_secs(20),
        || async move {
            runs(db).await.iter().any(|r| {
                r.job == "refit" && r.result.as_deref() == Some("ok") && r.started_at > released_at
            })
        },
    )
    .await;
    assert_no_overlap(&runs(&app.db).await, None);
}

both_backends!(backend: one_refit_of_an_organisation_at_a_time);

/// A run whose node died mid-way (its `job_runs` row never finished) is closed as
/// `interrupted` by the next leader, which runs the job again at once rather than a period
/// after the cut-short run started: a purge killed half-way resumes.
async fn a_run_cut_short_by_a_dead_node_runs_again_at_once(backend: Backend) {
    let database = TestDatabase::create(backend);
    let url = database.url.clone();
    let db = huddle::db::blocking(move || Db::open(&url, 2))
        .await
        .expect("a handle on the database");
    let cut_short = now_ms() - 60_000;
    db.write(Changes::Entities, move |conn| {
        use huddle::db::schema::orgs;
        diesel::insert_into(orgs::table)
            .values((orgs::org_id.eq(ORG), orgs::created_at.eq(cut_short)))
            .execute(conn)?;
        job_runs::start(conn, ORG, "refit", "dead-node", cut_short)?;
        Ok(())
    })
    .await
    .expect("a run cut short");
    let mut settings = Settings::new(
        database.url.clone(),
        SecretString::from(TEST_SECRET.to_owned()),
    );
    settings.bind = "127.0.0.1:0".into();
    settings.workers = 1;
    settings.pool_size = 2;
    // Without the cut-short run, the next refit would be an hour after it started.
    settings.refit_interval = Some(Duration::from_secs(3600));
    let node = Application::build(settings).await.expect("a node");
    actix_web::rt::spawn(node.run_until_stopped());

    let dbr = &db;
    wait_for(
        "the refit run again",
        Duration::from_secs(20),
        || async move {
            runs(dbr)
                .await
                .iter()
                .any(|r| r.node != "dead-node" && r.result.as_deref() == Some("ok"))
        },
    )
    .await;
    let runs = runs(&db).await;
    let dead: Vec<&JobRun> = runs.iter().filter(|r| r.node == "dead-node").collect();
    assert_eq!(dead.len(), 1, "{runs:?}");
    assert_eq!(dead[0].result.as_deref(), Some("interrupted"), "{runs:?}");
    assert_no_overlap(&runs, None);
}

both_backends!(backend: a_run_cut_short_by_a_dead_node_runs_again_at_once);

/// Tables that are not keyed by organisation, and why each may stay global.
const GLOBAL_TABLES: [(&str, &str); 2] = [
    (
        "users",
        "sign-in finds an account by its email before any organisation is known; staff accounts \
         only (no pupil data), small: a reference table on a distributed PostgreSQL",
    ),
    (
        "login_failures",
        "failed sign-ins counted by email and client address, before any organisation is known; \
         short-lived rows",
    ),
];

/// Every PostgreSQL table has `org_id` in its primary key and in every unique index, so the
/// schema can be distributed by organisation (Citus requires the distribution column in every
/// unique constraint); the exceptions are [`GLOBAL_TABLES`].
#[actix_web::test]
async fn every_table_is_keyed_by_organisation() {
    #[derive(QueryableByName, Debug)]
    struct Key {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table_name: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        index_name: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        is_primary: bool,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        has_org: bool,
    }
    #[derive(QueryableByName, Debug)]
    struct Table {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table_name: String,
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let (keys, tables) = app
        .read(|conn| {
            let keys: Vec<Key> = diesel::sql_query(
                "SELECT t.relname::text AS table_name, i.relname::text AS index_name,
                        x.indisprimary AS is_primary,
                        EXISTS (SELECT 1 FROM pg_attribute a
                                WHERE a.attrelid = t.oid AND a.attname = 'org_id'
                                  AND a.attnum = ANY (x.indkey)) AS has_org
                 FROM pg_index x
                 JOIN pg_class t ON t.oid = x.indrelid
                 JOIN pg_class i ON i.oid = x.indexrelid
                 JOIN pg_namespace n ON n.oid = t.relnamespace
                 WHERE n.nspname = 'public' AND x.indisunique
                   AND t.relname <> '__diesel_schema_migrations'",
            )
            .load(conn)?;
            let tables: Vec<Table> = diesel::sql_query(
                "SELECT tablename::text AS table_name FROM pg_tables
                 WHERE schemaname = 'public' AND tablename <> '__diesel_schema_migrations'",
            )
            .load(conn)?;
            Ok((keys, tables))
        })
        .await;
    let global: BTreeSet<&str> = GLOBAL_TABLES.iter().map(|(t, _)| *t).collect();
    assert!(tables.len() > 20, "{tables:?}");
    for t in &tables {
        if global.contains(t.table_name.as_str()) {
            continue;
        }
        let primary: Vec<&Key> = keys
            .iter()
            .filter(|k| k.table_name == t.table_name && k.is_primary)
            .collect();
        assert!(
            primary.iter().any(|k| k.has_org),
            "{}: no primary key with org_id",
            t.table_name
        );
    }
    let unkeyed: Vec<String> = keys
        .iter()
        .filter(|k| !k.has_org && !global.contains(k.table_name.as_str()))
        .map(|k| format!("{}.{}", k.table_name, k.index_name))
        .collect();
    assert!(
        unkeyed.is_empty(),
        "unique indexes without org_id: {unkeyed:?}"
    );
    // The allow-list names only tables that exist and are global indeed.
    for (table, _) in GLOBAL_TABLES {
        assert!(tables.iter().any(|t| t.table_name == table), "{table}");
        assert!(
            keys.iter()
                .any(|k| k.table_name == table && k.is_primary && !k.has_org),
            "{table} is keyed by organisation: take it off the list"
        );
    }
}

/// A streaming replica of the test server on a free loopback port: a cluster of its own
/// (`pg_createcluster`) filled by `pg_basebackup -R` from the primary. Dropping it stops and
/// deletes the cluster, also when the test fails; a cluster left by a killed test run is
/// deleted by the next one. Needs PostgreSQL's server tools (Debian's postgresql-common) and
/// root, as CI runs; pg_basebackup runs as the postgres user.
struct Replica {
    version: String,
    name: String,
    port: u16,
}

const REPLICA_PREFIX: &str = "huddle_replica_";

fn run(command: &mut std::process::Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A PostgreSQL tool run as the postgres user (root switches to it; that user runs it as is),
/// so the files it writes are the server's.
fn as_postgres(program: &str) -> std::process::Command {
    let root = run(std::process::Command::new("id").arg("-u")).trim() == "0";
    if root {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--", program]);
        c
    } else {
        std::process::Command::new(program)
    }
}

impl Replica {
    fn create(primary: &mut PgConnection) -> Self {
        #[derive(QueryableByName)]
        struct Setting {
            #[diesel(sql_type = diesel::sql_types::Text)]
            value: String,
        }
        let show = |c: &mut PgConnection, name: &str| -> String {
            diesel::sql_query(format!("SELECT current_setting('{name}') AS value"))
                .get_result::<Setting>(c)
                .expect("a setting")
                .value
        };
        let version = (show(primary, "server_version_num")
            .parse::<u32>()
            .expect("a version number")
            / 10_000)
            .to_string();
        let primary_port = show(primary, "port");

        // Replication connections from loopback, trusted like the others.
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let allowed = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_hba_file_rules WHERE 'replication' = ANY (database)",
        )
        .get_result::<Count>(primary)
        .expect("the hba rules")
        .n;
        if allowed == 0 {
            use std::io::Write;
            let hba = show(primary, "hba_file");
            std::fs::OpenOptions::new()
                .append(true)
                .open(&hba)
                .and_then(|mut f| f.write_all(b"host replication all 127.0.0.1/32 trust\n"))
                .unwrap_or_else(|e| panic!("allowing replication in {hba}: {e}"));
            diesel::sql_query("SELECT pg_reload_conf()")
                .execute(primary)
                .expect("reloading the configuration");
        }

        // Clusters left behind by test processes that no longer run.
        for line in run(std::process::Command::new("pg_lsclusters").arg("--no-header")).lines() {
            let mut fields = line.split_whitespace();
            let (Some(v), Some(name)) = (fields.next(), fields.next()) else {
                continue;
            };
            let pid = name
                .strip_prefix(REPLICA_PREFIX)
                .and_then(|rest| rest.split('_').next());
            if pid.is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()) {
                let _ = std::process::Command::new("pg_dropcluster")
                    .args(["--stop", v, name])
                    .output();
            }
        }

        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let replica = Replica {
            version,
            name: format!(
                "{REPLICA_PREFIX}{}_{}",
                std::process::id(),
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            port,
        };
        // From here on, dropping `replica` cleans up whatever was made.
        run(std::process::Command::new("pg_createcluster").args([
            &replica.version,
            &replica.name,
            "--port",
            &port.to_string(),
        ]));
        // pg_basebackup fills an empty directory: keep the new cluster's (its owner and mode).
        let data = format!("/var/lib/postgresql/{}/{}", replica.version, replica.name);
        for entry in std::fs::read_dir(&data).expect("the new cluster's directory") {
            let path = entry.expect("an entry").path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            }
            .expect("emptying the new cluster's directory");
        }
        run(as_postgres("pg_basebackup").args([
            "--host",
            "127.0.0.1",
            "--port",
            &primary_port,
            "--username",
            "postgres",
            "--pgdata",
            &data,
            "--write-recovery-conf",
            "--wal-method",
            "stream",
            "--checkpoint",
            "fast",
        ]));
        let hba = format!(
            "/etc/postgresql/{}/{}/pg_hba.conf",
            replica.version, replica.name
        );
        std::fs::write(
            &hba,
            "local all all trust\nhost all all 127.0.0.1/32 trust\n",
        )
        .expect("the replica's hba");
        run(std::process::Command::new("pg_ctlcluster").args([
            &replica.version,
            &replica.name,
            "start",
        ]));
        replica
    }

    /// `primary_url` (postgres://USER@HOST:PORT/DB) pointed at the replica.
    fn url_for(&self, primary_url: &DbUrl) -> String {
        let DbUrl::Postgres(url) = primary_url else {
            panic!("a PostgreSQL primary")
        };
        let database = url.rsplit('/').next().expect("a database name");
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = std::process::Command::new("pg_dropcluster")
            .args(["--stop", &self.version, &self.name])
            .output();
    }
}

async fn student_skills(app: &TestApp, student: &str) -> Vec<String> {
    let page: Value = app
        .client
        .get(app.url(&format!("/api/v1/students/{student}")))
        .bearer_auth(app.token(Role::Admin, ORG))
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    sorted_strings(&page, "skills", "skill_id")
}

/// `huddle serve --read-database-url` on a real streaming replica: the student page is read
/// from it (while its replay is paused it shows the state before the latest batch, which the
/// primary holds), and catches up when the replay resumes.
#[actix_web::test]
async fn reads_go_to_a_streaming_replica() {
    let replica = huddle::db::blocking(|| {
        let mut primary = PgConnection::establish(&crate::helpers::postgres_admin_url())?;
        Ok(Replica::create(&mut primary))
    })
    .await
    .expect("a replica");
    let mut replica_url = String::new();
    let app = TestApp::spawn_with(Backend::Postgres, |s| {
        replica_url = replica.url_for(&s.database);
        s.read_database = Some(DbUrl::Postgres(replica_url.clone()));
    })
    .await;
    let on_replica = move |sql: &'static str| {
        let url = replica_url.clone();
        huddle::db::blocking(move || {
            let mut c = PgConnection::establish(&url)?;
            #[derive(QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            Ok(diesel::sql_query(sql)
                .load::<Count>(&mut c)?
                .first()
                .map_or(0, |c| c.n))
        })
    };
    assert_eq!(
        on_replica("SELECT pg_is_in_recovery()::int::bigint AS n")
            .await
            .expect("asking the replica"),
        1,
        "a standby"
    );

    let batch = answers(2, 2, 600);
    app.post_batch(&batch).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while on_replica("SELECT count(*) AS n FROM events")
        .await
        .unwrap_or(0)
        < batch.len() as i64
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the replica did not catch up"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let before = student_skills(&app, "stu-00").await;
    assert_eq!(before, ["fractions.add", "fractions.compare"]);

    // With the replay paused, a new skill is on the primary but not on the page.
    on_replica("SELECT 0::bigint AS n FROM pg_wal_replay_pause()")
        .await
        .expect("pausing the replay");
    app.post_batch(&[event_with(json!({
        "student_id": "stu-00",
        "class_id": "class-5b",
        "skill_id": "geometry.angles",
    }))])
    .await;
    let on_primary: i64 = app
        .read(|c| {
            skill_states::table
                .filter(skill_states::skill_id.eq("geometry.angles"))
                .count()
                .get_result(c)
        })
        .await;
    assert_eq!(on_primary, 1);
    assert_eq!(
        student_skills(&app, "stu-00").await,
        before,
        "read from the replica"
    );

    on_replica("SELECT 0::bigint AS n FROM pg_wal_replay_resume()")
        .await
        .expect("resuming the replay");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while student_skills(&app, "stu-00").await.len() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the page did not catch up"
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    drop(app);
    drop(replica);
}
