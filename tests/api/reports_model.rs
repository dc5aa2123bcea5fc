//! Model health, refit jobs and fairness: the reports over simulated districts equal figures
//! computed here from the raw events (the model's predictions recomputed with `huddle::kt`),
//! a simulated drift is reported, and CSV, errors and permissions behave.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use huddle::auth::Role;
use huddle::kt::Params;
use huddle::sim::{Config, Drift, ProfileMix, Simulation};
use serde_json::{json, Value};

use crate::helpers::{assert_error, both_backends, TestApp, ORG};

/// Simulated events in time order, without response times (so no answer is a rapid guess and
/// the evidence rules here need no timing norms).
fn simulated(config: Config) -> Vec<Value> {
    let out = Simulation::new(config).run();
    out.events
        .iter()
        .map(|e| {
            let mut v = serde_json::to_value(out.wire(e)).expect("an event");
            v.as_object_mut().map(|o| o.remove("response_ms"));
            v
        })
        .collect()
}

async fn post_in_order(app: &TestApp, events: &[Value]) {
    for batch in events.chunks(1_000) {
        let answer = app.post_batch(batch).await;
        assert_eq!(answer["accepted"], batch.len(), "{answer}");
    }
}

/// One answer that counts, with the prediction made before it.
#[derive(Debug, Clone)]
struct Predicted {
    student: String,
    day: NaiveDate,
    skill: String,
    p: f64,
    correct: bool,
}

/// The evidence rules and the online update, from the raw events in time order: the first
/// event of a student at an item counts if it is attempt 1; skips and bottom-out hints are
/// wrong; P(correct) is predicted before each answer updates the estimate.
fn predictions(events: &[Value], params: &dyn Fn(&str) -> Params) -> Vec<Predicted> {
    let mut sorted: Vec<&Value> = events.iter().collect();
    // Stable: equal times keep arrival order, as the service does.
    sorted.sort_by_key(|e| time(e));
    let mut seen: HashSet<(String, String, String)> = HashSet::new();
    let mut p_known: HashMap<(String, String), f64> = HashMap::new();
    let mut out = Vec::new();
    for e in sorted {
        let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
        let (student, skill, item) = (s("student_id"), s("skill_id"), s("item_id"));
        if !seen.insert((student.clone(), skill.clone(), item)) {
            continue;
        }
        if e["attempt"].as_i64().unwrap_or(1) != 1 {
            continue;
        }
        let correct = e["outcome"] == "correct" && e["hint_bottom_out"] != true;
        let par = params(&skill);
        // The belief is kept as log-odds, as the online update documents.
        let belief = p_known
            .entry((student.clone(), skill.clone()))
            .or_insert(huddle::kt::params::logit(par.prior));
        out.push(Predicted {
            student,
            day: time(e).date_naive(),
            skill,
            p: par.predict_log_odds(*belief),
            correct,
        });
        *belief = par.update_log_odds(*belief, correct);
    }
    out
}

fn time(e: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(e["occurred_at"].as_str().unwrap_or_default())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

/// The figures, computed directly: AUC by counting every (right, wrong) pair (predictions in
/// the same bin of 0.02 tie), RMSE, calibration error over ten bins of 0.1.
struct Figures {
    answers: u64,
    auc: f64,
    expected_auc: f64,
    rmse: f64,
    ece: f64,
    mean_predicted: f64,
    observed: f64,
}

fn figures(answers: &[&Predicted]) -> Figures {
    let bin = |p: f64, n: f64| ((p * n) as usize).min(n as usize - 1);
    let right: Vec<usize> = answers
        .iter()
        .filter(|a| a.correct)
        .map(|a| bin(a.p, 50.0))
        .collect();
    let wrong: Vec<usize> = answers
        .iter()
        .filter(|a| !a.correct)
        .map(|a| bin(a.p, 50.0))
        .collect();
    let mut wins = 0.0;
    for r in &right {
        for w in &wrong {
            wins += if r > w {
                1.0
            } else if r == w {
                0.5
            } else {
                0.0
            };
        }
    }
    // The AUC the model expects: each answer counted p right and 1 − p wrong.
    let mut expected = 0.0;
    for a in answers {
        for b in answers {
            let (ba, bb) = (bin(a.p, 50.0), bin(b.p, 50.0));
            let s = if ba > bb {
                1.0
            } else if ba == bb {
                0.5
            } else {
                0.0
            };
            expected += a.p * (1.0 - b.p) * s;
        }
    }
    let sum_p: f64 = answers.iter().map(|a| a.p).sum();
    let n = answers.len() as f64;
    let expected_auc = expected / (sum_p * (n - sum_p));
    let sq: f64 = answers
        .iter()
        .map(|a| (f64::from(u8::from(a.correct)) - a.p).powi(2))
        .sum();
    let mut by_bin: BTreeMap<usize, (f64, f64)> = BTreeMap::new();
    for a in answers {
        // Ten bins of 0.1 as unions of the fifty of 0.02 (the documented definition).
        let e = by_bin.entry(bin(a.p, 50.0) / 5).or_default();
        e.0 += a.p;
        e.1 += f64::from(u8::from(a.correct));
    }
    Figures {
        answers: answers.len() as u64,
        auc: wins / (right.len() as f64 * wrong.len() as f64),
        expected_auc,
        rmse: (sq / n).sqrt(),
        ece: by_bin.values().map(|(p, y)| (p - y).abs()).sum::<f64>() / n,
        mean_predicted: answers.iter().map(|a| a.p).sum::<f64>() / n,
        observed: right.len() as f64 / n,
    }
}

fn assert_figures(got: &Value, want: &Figures, what: &str) {
    assert_eq!(got["answers"], want.answers, "{what}: {got}");
    for (key, w) in [
        ("auc", want.auc),
        ("expected_auc", want.expected_auc),
        ("rmse", want.rmse),
        ("ece", want.ece),
        ("mean_predicted", want.mean_predicted),
        ("observed", want.observed),
    ] {
        let g = got[key].as_f64().unwrap_or(f64::NAN);
        assert!((g - w).abs() < 1e-9, "{what}: {key} {g} != {w} ({got})");
    }
}

async fn get_json(app: &TestApp, path: &str) -> Value {
    let r = app
        .client
        .get(app.url(path))
        .bearer_auth(app.token(Role::Admin, ORG))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200, "{path}");
    r.json().await.expect("JSON")
}

fn skill<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["skills"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["skill_id"] == id))
        .unwrap_or_else(|| panic!("no skill {id} in {report}"))
}

fn small_district(seed: u64) -> Config {
    Config {
        students: 60,
        skills: 2,
        days: 12,
        seed,
        ..Config::default()
    }
}

/// Before any refit, every skill uses the default model: the report's recent and weekly
/// accuracy equal the figures recomputed from the raw events.
async fn model_health_equals_figures_from_the_raw_events(app: TestApp) {
    let events = simulated(small_district(3));
    post_in_order(&app, &events).await;
    let defaults = Params::default();
    let predicted = predictions(&events, &|_| defaults);
    let last = predicted.iter().map(|a| a.day).max().expect("answers");
    let report = get_json(
        &app,
        &format!("/api/v1/admin/model-health?as_of={last}&weeks=2"),
    )
    .await;
    assert_eq!(report["as_of"], last.to_string());
    let window_from = last - chrono::Duration::days(6);
    assert_eq!(report["window_from"], window_from.to_string());
    let skills: BTreeMap<&str, ()> = predicted.iter().map(|a| (a.skill.as_str(), ())).collect();
    assert_eq!(report["summary"]["skills"], skills.len());
    for id in skills.keys() {
        let s = skill(&report, id);
        assert_eq!(s["fitted"], false, "{s}");
        assert!(s["fit_accuracy"].is_null());
        assert!(s["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("never fitted")));
        let recent: Vec<&Predicted> = predicted
            .iter()
            .filter(|a| a.skill == *id && a.day >= window_from && a.day <= last)
            .collect();
        assert_figures(&s["recent"], &figures(&recent), "recent");
        // Week 2 is the same 7 days; week 1 the 7 before.
        let weeks = s["weeks"].as_array().expect("weeks");
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[1]["week_start"], window_from.to_string());
        assert_figures(&weeks[1]["accuracy"], &figures(&recent), "week 2");
        let week1: Vec<&Predicted> = predicted
            .iter()
            .filter(|a| {
                a.skill == *id
                    && a.day >= window_from - chrono::Duration::days(7)
                    && a.day < window_from
            })
            .collect();
        assert_figures(&weeks[0]["accuracy"], &figures(&week1), "week 1");
    }
    // A re-sent batch is a duplicate and adds nothing.
    let again = app.post_batch(&events[..500]).await;
    assert_eq!(again["duplicates"], 500);
    let after = get_json(
        &app,
        &format!("/api/v1/admin/model-health?as_of={last}&weeks=2"),
    )
    .await;
    assert_eq!(after["skills"], report["skills"]);
}

/// A refit started from the report runs in the background: 202 with a job, progress and
/// result on the job, one at a time; the fitted skills then show their accuracy at fit time,
/// equal to the in-sample predictions recomputed here with the fitted parameters.
async fn refit_job_runs_in_the_background_and_stores_fit_accuracy(app: TestApp) {
    let events = simulated(small_district(5));
    post_in_order(&app, &events).await;
    let admin = app.token(Role::Admin, ORG);
    let started = app
        .client
        .post(app.url("/api/v1/admin/model-health/refit"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("POST");
    assert_eq!(started.status(), 202);
    let job: Value = started.json().await.expect("JSON");
    let id = job["job_id"].as_str().expect("a job id").to_owned();
    assert!(["queued", "running", "done"].contains(&job["status"].as_str().unwrap_or("")));

    let deadline = Instant::now() + Duration::from_secs(120);
    let done = loop {
        let j = get_json(&app, &format!("/api/v1/admin/model-health/refit/{id}")).await;
        if j["status"] == "done" || j["status"] == "failed" {
            break j;
        }
        assert!(Instant::now() < deadline, "the refit did not finish: {j}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["skills_done"], done["skills_total"]);
    assert_eq!(done["students_done"], done["students_total"]);
    let refitted = done["result"]["skills"].as_array().expect("skills");
    assert_eq!(refitted.len(), 2, "{done}");

    let report = get_json(&app, "/api/v1/admin/model-health").await;
    assert_eq!(report["refit"]["job_id"], id.as_str());
    // Fit-time accuracy: the fitted parameters' in-sample predictions over all answers.
    let params: HashMap<String, Params> = report["skills"]
        .as_array()
        .expect("skills")
        .iter()
        .map(|s| {
            let p = &s["params"];
            let f = |k: &str| p[k].as_f64().unwrap_or(f64::NAN);
            (
                s["skill_id"].as_str().unwrap_or_default().to_owned(),
                Params {
                    prior: f("prior"),
                    learn: f("learn"),
                    guess: f("guess"),
                    slip: f("slip"),
                    forget: f("forget"),
                },
            )
        })
        .collect();
    let predicted = predictions(&events, &|s| params[s]);
    for r in refitted {
        let id = r["skill_id"].as_str().expect("an id");
        let s = skill(&report, id);
        assert_eq!(s["fitted"], true);
        assert_eq!(s["params"]["guess"], r["guess"]);
        let all: Vec<&Predicted> = predicted.iter().filter(|a| a.skill == id).collect();
        assert_figures(&s["fit_accuracy"], &figures(&all), "fit time");
        // The old predictions were the default model's: none yet by the new one.
        assert_eq!(s["status"], "too_little_data", "{s}");
    }

    // One refit at a time: with one queued, another is refused.
    let queued = app
        .db
        .write(huddle::db::Changes::Records, |conn| {
            huddle::store::refit_jobs::create(conn, ORG, "someone")
        })
        .await
        .expect("queueing");
    assert!(matches!(queued, huddle::store::refit_jobs::Started::New(_)));
    let again = app
        .client
        .post(app.url("/api/v1/admin/model-health/refit"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("POST");
    assert_error(again, 409, "refit_running").await;

    // Other organisations' jobs are not found; teachers may not start or read jobs.
    let other = app
        .client
        .get(app.url(&format!("/api/v1/admin/model-health/refit/{id}")))
        .bearer_auth(app.token(Role::Admin, "district-2"))
        .send()
        .await
        .expect("GET");
    assert_error(other, 404, "not_found").await;
    let teacher = app
        .client
        .post(app.url("/api/v1/admin/model-health/refit"))
        .bearer_auth(app.token(Role::Teacher, ORG))
        .send()
        .await
        .expect("POST");
    assert_error(teacher, 403, "forbidden").await;
}

/// CSV on request (`?format=csv` or `Accept: text/csv`), one table per section; bad
/// parameters are clear 400s.
async fn reports_answer_csv_and_reject_bad_parameters(app: TestApp) {
    post_in_order(&app, &simulated(small_district(9))).await;
    let admin = app.token(Role::Admin, ORG);
    let get = |path: &str, accept: Option<&str>| {
        let mut r = app.client.get(app.url(path)).bearer_auth(&admin);
        if let Some(a) = accept {
            r = r.header("Accept", a);
        }
        r.send()
    };
    for (path, accept, header, rows) in [
        (
            "/api/v1/admin/model-health?format=csv",
            None,
            "skill_id,name,status",
            2,
        ),
        (
            "/api/v1/admin/model-health",
            Some("text/csv"),
            "skill_id,name,status",
            2,
        ),
        (
            "/api/v1/admin/model-health?format=csv&section=weeks&weeks=3",
            None,
            "skill_id,week_start,answers",
            6,
        ),
        (
            "/api/v1/admin/fairness?format=csv",
            None,
            "group,students,answers",
            1,
        ),
        (
            "/api/v1/admin/fairness?format=csv&section=flags",
            None,
            "group,kind,students",
            1,
        ),
    ] {
        let r = get(path, accept).await.expect("GET");
        assert_eq!(r.status(), 200, "{path}");
        assert_eq!(
            r.headers()["content-type"],
            "text/csv; charset=utf-8",
            "{path}"
        );
        let text = r.text().await.expect("text");
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let head: Vec<String> = reader
            .headers()
            .expect("a header")
            .iter()
            .map(str::to_owned)
            .collect();
        assert!(head.join(",").starts_with(header), "{path}: {head:?}");
        let records: Vec<_> = reader.records().collect::<Result<_, _>>().expect("CSV");
        assert!(records.len() >= rows, "{path}: {text}");
        assert!(records.iter().all(|r| r.len() == head.len()));
    }
    for (path, code) in [
        ("/api/v1/admin/model-health?format=xml", "invalid_format"),
        (
            "/api/v1/admin/model-health?format=csv&section=nope",
            "invalid_section",
        ),
        (
            "/api/v1/admin/model-health?as_of=yesterday",
            "invalid_query",
        ),
        ("/api/v1/admin/model-health?weeks=0", "invalid_query"),
        ("/api/v1/admin/fairness?section=nope", "invalid_section"),
    ] {
        assert_error(get(path, None).await.expect("GET"), 400, code).await;
    }
    let teacher = app
        .client
        .get(app.url("/api/v1/admin/fairness"))
        .bearer_auth(app.token(Role::Teacher, ORG))
        .send()
        .await
        .expect("GET");
    assert_error(teacher, 403, "forbidden").await;
}

/// Fairness per roster group: students, calibration (recomputed here from the raw events),
/// flag rates (counted here from the flags table), review outcomes; without groups it says so.
async fn fairness_per_group_equals_figures_from_the_raw_events(app: TestApp) {
    let events = simulated(Config {
        students: 80,
        skills: 2,
        days: 10,
        seed: 13,
        profiles: ProfileMix::mixed(),
        ..Config::default()
    });
    post_in_order(&app, &events).await;
    let admin = app.token(Role::Admin, ORG);
    let before = get_json(&app, "/api/v1/admin/fairness").await;
    assert_eq!(before["has_groups"], false);
    assert!(before["message"]
        .as_str()
        .is_some_and(|m| m.contains("no student a group")));

    // Groups: students with an even number "north", odd "south".
    let students: Vec<String> = {
        let mut s: Vec<String> = events
            .iter()
            .filter_map(|e| e["student_id"].as_str().map(str::to_owned))
            .collect();
        s.sort();
        s.dedup();
        s
    };
    let group_of = |s: &str| {
        let n: u32 = s.trim_start_matches("stu-").parse().unwrap_or(0);
        if n % 2 == 0 {
            "north"
        } else {
            "south"
        }
    };
    let roster: Vec<Value> = students
        .iter()
        .map(|s| json!({"student_id": s, "group": group_of(s)}))
        .collect();
    let r = app
        .client
        .put(app.url("/api/v1/admin/roster"))
        .bearer_auth(&admin)
        .json(&json!({ "students": roster }))
        .send()
        .await
        .expect("PUT roster");
    assert_eq!(r.status(), 200);

    // Decide two reviews: confirm one, dismiss another.
    let queue: Value = app
        .client
        .get(app.url("/api/v1/reviews"))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("JSON");
    let open = queue["reviews"].as_array().cloned().unwrap_or_default();
    let mut decided: Vec<(String, &str)> = Vec::new();
    for (item, decision) in open.iter().zip(["confirm", "dismiss"]) {
        let id = item["id"].as_str().expect("an id");
        let r = app
            .client
            .post(app.url(&format!("/api/v1/reviews/{id}")))
            .bearer_auth(&admin)
            .json(&json!({ "decision": decision }))
            .send()
            .await
            .expect("POST");
        assert_eq!(r.status(), 200);
        decided.push((
            item["student_id"].as_str().unwrap_or_default().to_owned(),
            decision,
        ));
    }

    let report = get_json(&app, "/api/v1/admin/fairness").await;
    assert_eq!(report["has_groups"], true, "{report}");
    let defaults = Params::default();
    let predicted = predictions(&events, &|_| defaults);
    // Flagged students per group and kind, from the flags table itself.
    let flags: Vec<(String, String)> = app
        .read(|c| {
            use diesel::prelude::*;
            use huddle::db::schema::flags;
            flags::table
                .select((flags::student_id, flags::kind))
                .distinct()
                .load(c)
        })
        .await;
    for g in ["north", "south"] {
        let row = report["groups"]
            .as_array()
            .and_then(|gs| gs.iter().find(|x| x["group"] == g))
            .unwrap_or_else(|| panic!("no group {g}: {report}"));
        let members = students.iter().filter(|s| group_of(s) == g).count();
        assert_eq!(row["students"], members);
        let answers: Vec<&Predicted> = predicted
            .iter()
            .filter(|a| group_of(&a.student) == g)
            .collect();
        let want = figures(&answers);
        let cal = &row["calibration"];
        assert_eq!(cal["answers"], want.answers);
        for (key, w) in [
            ("ece", want.ece),
            ("mean_predicted", want.mean_predicted),
            ("observed", want.observed),
        ] {
            let got = cal[key].as_f64().unwrap_or(f64::NAN);
            assert!((got - w).abs() < 1e-9, "{g} {key}: {got} != {w}");
        }
        let in_group: Vec<&(String, String)> =
            flags.iter().filter(|(s, _)| group_of(s) == g).collect();
        let any: HashSet<&str> = in_group.iter().map(|(s, _)| s.as_str()).collect();
        let rates = row["flag_rates"].as_array().expect("rates");
        let any_row = rates.iter().find(|r| r["kind"] == "any").expect("any");
        assert_eq!(any_row["students"], any.len(), "{g}: {row}");
        for r in rates.iter().filter(|r| r["kind"] != "any") {
            let kind = r["kind"].as_str().unwrap_or_default();
            let n = in_group.iter().filter(|(_, k)| k == kind).count();
            assert_eq!(r["students"], n, "{g} {kind}");
            let rate = r["rate"].as_f64().unwrap_or(f64::NAN);
            assert!((rate - n as f64 / members as f64).abs() < 1e-12);
        }
        let confirmed = decided
            .iter()
            .filter(|(s, d)| group_of(s) == g && *d == "confirm")
            .count();
        let dismissed = decided
            .iter()
            .filter(|(s, d)| group_of(s) == g && *d == "dismiss")
            .count();
        assert_eq!(row["reviews_confirmed"], confirmed);
        assert_eq!(row["reviews_dismissed"], dismissed);
        assert!(
            ["ok", "warning", "too_little_data"].contains(&row["status"].as_str().unwrap_or(""))
        );
    }
}

both_backends!(
    model_health_equals_figures_from_the_raw_events,
    refit_job_runs_in_the_background_and_stores_fit_accuracy,
    reports_answer_csv_and_reject_bad_parameters,
    fairness_per_group_equals_figures_from_the_raw_events,
    simulated_drift_is_reported_within_a_week,
);

/// A skill whose true parameters change halfway (easier to guess, more slips, less learning) is reported
/// drifting after a week of answers by the model fitted before the change; the others are not.
async fn simulated_drift_is_reported_within_a_week(app: TestApp) {
    let change = 20;
    let config = Config {
        students: 200,
        skills: 3,
        days: change + 5,
        seed: 2,
        items_per_skill: 200,
        drift: Some(Drift {
            skill: 1,
            day: change,
        }),
        ..Config::default()
    };
    let out = Simulation::new(config.clone()).run();
    let drifting_id = out.skills[1].id.clone();
    let events = simulated(config);
    // The first school day of the change.
    let first_after = out
        .events
        .iter()
        .map(|e| e.at.date_naive())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .nth(change as usize)
        .expect("enough days");
    let (before, after): (Vec<Value>, Vec<Value>) = events
        .into_iter()
        .partition(|e| time(e).date_naive() < first_after);
    post_in_order(&app, &before).await;
    let summary = app
        .client
        .post(app.url("/api/v1/admin/refit"))
        .bearer_auth(app.token(Role::Admin, ORG))
        .send()
        .await
        .expect("POST refit");
    assert_eq!(summary.status(), 200);
    post_in_order(&app, &after).await;
    let last = after
        .iter()
        .map(|e| time(e).date_naive())
        .max()
        .expect("after");
    let report = get_json(&app, &format!("/api/v1/admin/model-health?as_of={last}")).await;
    for s in report["skills"].as_array().expect("skills") {
        let want = if s["skill_id"] == drifting_id.as_str() {
            "drifting"
        } else {
            "ok"
        };
        assert_eq!(s["status"], want, "{s}");
        if want == "drifting" {
            assert!(s["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("drifting: refit recommended")));
        }
    }
    assert_eq!(report["summary"]["drifting"], 1);
}
