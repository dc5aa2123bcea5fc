//! Graceful shutdown of the real binary, on each backend: SIGTERM while batches are in flight
//! loses no acknowledged event, stores none twice, and the process exits within the shutdown
//! timeout docs/operations.md promises.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use huddle::auth::{Claims, Keys, Role};
use huddle::db::schema::events;
use huddle::db::{Db, DbUrl};
use secrecy::SecretString;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{
    both_backends, events as make_events, id_of, Backend, Served, TestDatabase, ORG,
};

const BATCHES: usize = 8;
const EVENTS_PER_BATCH: usize = 2_500;
/// Each batch repeats this many events of the previous one, so concurrent batches race on the
/// same ids.
const OVERLAP: usize = 200;
/// The server's shutdown timeout (startup.rs), plus a margin.
const EXIT_LIMIT: Duration = Duration::from_secs(40);

/// What one batch's request came to.
struct Outcome {
    sent: Vec<String>,
    /// Status and answer, or the transport error.
    result: Result<(u16, Value), String>,
    finished: Instant,
}

async fn sigterm_finishes_in_flight_batches_and_loses_no_acknowledged_event(backend: Backend) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let secret = "shutdown-test-secret-0123456789abcdefghij";
    let secret_file = dir.path().join("jwt.secret");
    std::fs::write(&secret_file, secret).expect("writing the secret");
    let database = TestDatabase::create(backend);
    let database_url = match &database.url {
        DbUrl::Sqlite(path) => format!("sqlite://{}", path.display()),
        DbUrl::Postgres(url) => url.clone(),
    };
    let mut served = Served::start(
        &[
            "--database-url",
            &database_url,
            "--jwt-secret-file",
            &secret_file.to_string_lossy(),
            "--workers",
            "2",
        ],
        dir.path().join("serve.log"),
    )
    .await;

    let keys = Keys::new(&SecretString::from(secret.to_owned()));
    let token = keys
        .sign(&Claims::new(
            "tool-1",
            Role::Tool,
            ORG,
            Duration::from_secs(600),
        ))
        .expect("a token");
    let mut batches: Vec<Vec<Value>> = Vec::new();
    for i in 0..BATCHES {
        let mut batch = make_events(EVENTS_PER_BATCH - OVERLAP);
        // The first batch takes its repeats from the last one, made below.
        if i > 0 {
            batch.extend(batches[i - 1][..OVERLAP].iter().cloned());
        }
        batches.push(batch);
    }
    let last_head: Vec<Value> = batches[BATCHES - 1][..OVERLAP].to_vec();
    batches[0].extend(last_head);

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("a client");
    let done = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for batch in batches {
        let client = client.clone();
        let url = format!("{}/api/v1/events", served.address);
        let token = token.clone();
        let done = done.clone();
        handles.push(actix_web::rt::spawn(async move {
            let sent: Vec<String> = batch.iter().map(|e| id_of(e).to_owned()).collect();
            let result = async {
                let response = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({ "events": batch }))
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                let status = response.status().as_u16();
                let body: Value = response.json().await.map_err(|e| e.to_string())?;
                Ok((status, body))
            }
            .await;
            done.fetch_add(1, Ordering::SeqCst);
            Outcome {
                sent,
                result,
                finished: Instant::now(),
            }
        }));
    }

    // SIGTERM as soon as the first batch is answered: the others are in flight.
    let wait_from = Instant::now();
    while done.load(Ordering::SeqCst) == 0 {
        assert!(
            wait_from.elapsed() < Duration::from_secs(60),
            "no batch was answered:\n{}",
            served.log_text()
        );
        actix_web::rt::time::sleep(Duration::from_millis(1)).await;
    }
    let terminated_at = Instant::now();
    served.terminate();

    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await.expect("a request task"));
    }
    // Idle keep-alive connections would hold the server until their timeout.
    drop(client);
    let status = served.wait_for_exit(EXIT_LIMIT).await;
    let exited_after = terminated_at.elapsed();
    let log = served.log_text();
    let status = status.unwrap_or_else(|| panic!("still running after {EXIT_LIMIT:?}:\n{log}"));
    assert!(status.success(), "huddle exited with {status}:\n{log}");

    let url = database.url.clone();
    let db = huddle::db::blocking(move || Db::open(&url, 1))
        .await
        .expect("the database");
    let stored: Vec<Vec<u8>> = db
        .read(|conn| Ok(events::table.select(events::event_id).load(conn)?))
        .await
        .expect("reading the events");
    let stored_set: BTreeSet<Vec<u8>> = stored.iter().cloned().collect();
    assert_eq!(stored.len(), stored_set.len(), "an event was stored twice");

    let mut answered_after_sigterm = 0;
    let mut sent_anywhere = BTreeSet::new();
    for outcome in &outcomes {
        let ids: Vec<Vec<u8>> = outcome
            .sent
            .iter()
            .map(|id| Uuid::parse_str(id).expect("a UUID").as_bytes().to_vec())
            .collect();
        sent_anywhere.extend(ids.iter().cloned());
        match &outcome.result {
            Ok((200, answer)) => {
                if outcome.finished > terminated_at {
                    answered_after_sigterm += 1;
                }
                let rejected = answer["rejected"].as_array().expect("rejected");
                assert!(rejected.is_empty(), "valid events were refused: {answer}");
                let accepted = answer["accepted"].as_u64().expect("accepted");
                let duplicates = answer["duplicates"].as_u64().expect("duplicates");
                assert_eq!(accepted + duplicates, ids.len() as u64, "{answer}");
                // Accepted or a duplicate of a stored one: every event of the batch is there.
                for id in &ids {
                    assert!(stored_set.contains(id), "an acknowledged event was lost");
                }
            }
            Ok((status, answer)) => {
                panic!("a batch was answered {status} during shutdown: {answer}\n{log}")
            }
            // Refused at the door after SIGTERM: allowed, the tool will retry.
            Err(_) => {}
        }
    }
    eprintln!(
        "shutdown ({backend:?}): {} of {BATCHES} batches answered 200, {answered_after_sigterm} \
         of them after SIGTERM; exit {:.1} s after it",
        outcomes
            .iter()
            .filter(|o| matches!(o.result, Ok((200, _))))
            .count(),
        exited_after.as_secs_f64()
    );
    assert!(
        stored_set.is_subset(&sent_anywhere),
        "the database holds events nobody sent"
    );
    assert!(
        answered_after_sigterm >= 1,
        "no batch in flight at SIGTERM was finished ({} answered in all)",
        outcomes.iter().filter(|o| o.result.is_ok()).count()
    );
}

both_backends!(backend: sigterm_finishes_in_flight_batches_and_loses_no_acknowledged_event);
