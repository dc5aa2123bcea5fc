//! Today, read in one minute, through the service on both backends: insights built from the
//! present only, a short list with a first screen of five, insights that agree with the
//! groups, done and dismissed insights, and a review queue a teacher can keep, whose
//! decisions show on every page at once.

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use huddle::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{assert_error, both_backends, TestApp, ORG};

const CLASS: &str = "class-4a";
const NINES: &str = "multiplication.nines";
const ADD: &str = "fractions.add-unlike";

fn stu(i: usize) -> String {
    format!("stu-{i:02}")
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One first attempt of `student` on `skill` at `t`, on item `item`.
fn answer(student: &str, skill: &str, item: &str, correct: bool, t: DateTime<Utc>) -> Value {
    json!({
        "event_id": Uuid::new_v4().to_string(),
        "occurred_at": time(t),
        "student_id": student,
        "class_id": CLASS,
        "skill_id": skill,
        "skill_name": if skill == NINES { "Multiplication facts: the 9s" } else { "Adding fractions" },
        "item_id": format!("{skill}:{item}"),
        "outcome": if correct { "correct" } else { "incorrect" },
        "response_ms": 9000,
        "session_id": format!("{student}-{}", t.format("%Y%m%d")),
    })
}

/// `n` answers a minute apart from `start`, right or wrong as `pattern` says (cycled).
fn run(
    student: &str,
    skill: &str,
    start: DateTime<Utc>,
    n: usize,
    pattern: &[bool],
    tag: &str,
) -> Vec<Value> {
    (0..n)
        .map(|i| {
            answer(
                student,
                skill,
                &format!("{tag}{i}"),
                pattern[i % pattern.len()],
                start + TimeDelta::minutes(i as i64),
            )
        })
        .collect()
}

fn days_ago(d: i64) -> DateTime<Utc> {
    Utc::now() - TimeDelta::days(d) - TimeDelta::hours(1)
}

async fn get(app: &TestApp, path: &str) -> Value {
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

async fn post(app: &TestApp, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .bearer_auth(app.token(Role::Admin, ORG))
        .json(body)
        .send()
        .await
        .expect("POST")
}

fn list(v: &Value, key: &str) -> Vec<Value> {
    v[key].as_array().cloned().unwrap_or_default()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

async fn insights(app: &TestApp) -> Vec<Value> {
    list(
        &get(app, &format!("/api/v1/classes/{CLASS}/insights")).await,
        "insights",
    )
}

/// Wrong answers on a skill with the default model (learnt at 10% a try) that make a student
/// stuck: past the 47 tries such a skill usually takes, over three days.
const STUCK_PER_DAY: usize = 16;

/// Wrong answers on the 9s on each of three days, starting at the times given: many tries
/// over three days without progress, more than the skill usually takes, which is what
/// "stuck" means.
fn stuck_on_nines(student: &str, days: [DateTime<Utc>; 3], tag: &str) -> Vec<Value> {
    days.iter()
        .enumerate()
        .flat_map(|(i, d)| {
            run(
                student,
                NINES,
                *d,
                STUCK_PER_DAY,
                &[false],
                &format!("{tag}{i}-"),
            )
        })
        .collect()
}

/// stu-01 was stuck on the 9s days ago and has since mastered them; stu-02 is stuck now.
async fn stuck_then_mastered(app: &TestApp) {
    let mut events = stuck_on_nines(&stu(1), [days_ago(9), days_ago(8), days_ago(7)], "a");
    // Mastered on three separate days, the last one two days ago: fewer school days than the
    // idle rule's three, whatever the time of day the test runs.
    for (d, tag) in [(4, "b"), (3, "c"), (2, "d")] {
        events.extend(run(&stu(1), NINES, days_ago(d), 4, &[true], tag));
    }
    events.extend(stuck_on_nines(
        &stu(2),
        [
            days_ago(2),
            days_ago(1),
            Utc::now() - TimeDelta::minutes(40),
        ],
        "e",
    ));
    app.post_batch(&events).await;
}

async fn only_the_present(app: TestApp) {
    stuck_then_mastered(&app).await;
    let student = get(&app, &format!("/api/v1/students/{}", stu(1))).await;
    let nines = list(&student, "skills")
        .into_iter()
        .find(|k| k["skill_id"] == NINES)
        .expect("the 9s");
    assert_eq!(nines["status"], "mastered", "{student}");
    // The ended episode is on the student's own page, as history.
    assert!(
        list(&student, "flags")
            .iter()
            .any(|f| f["kind"] == "wheel_spinning" && f["active"] == false),
        "{student}"
    );
    let all = insights(&app).await;
    for i in &all {
        assert!(
            !strings(&i["students"]).contains(&stu(1)) || i["positive"] == true,
            "stu-01 is past it: {i}"
        );
    }
    // stu-02, stuck now, is on Today once: struggling, with the many tries in the detail.
    let about: Vec<&Value> = all
        .iter()
        .filter(|i| strings(&i["students"]).contains(&stu(2)))
        .collect();
    assert_eq!(about.len(), 1, "{all:?}");
    assert_eq!(
        about[0]["headline"],
        "stu-02 is struggling with multiplication facts: the 9s."
    );
    assert!(
        about[0]["detail"]
            .as_str()
            .is_some_and(|d| d.ends_with("More practice alone is not helping.")),
        "{}",
        about[0]
    );
    // The queue holds no item about the episode that ended days ago, even among decided ones.
    let queue = get(
        &app,
        &format!("/api/v1/reviews?class_id={CLASS}&status=all"),
    )
    .await;
    assert!(
        !list(&queue, "reviews")
            .iter()
            .any(|r| r["student_id"] == stu(1) && r["kind"] == "flag"),
        "{queue}"
    );
    // The grid shows no stale flag either.
    let overview = get(&app, &format!("/api/v1/classes/{CLASS}/overview")).await;
    let first = list(&overview, "students")
        .into_iter()
        .find(|s| s["student_id"] == stu(1))
        .expect("stu-01");
    assert_eq!(first["flags"], json!([]), "{first}");
}

/// A busy class: 7 strugglers on ADD (stuck on it too), 3 stuck on the 9s, the rest
/// mastered the 9s or are getting there.
async fn busy_class(app: &TestApp) {
    let mut events = Vec::new();
    for i in 1..=27 {
        let s = stu(i);
        match i {
            1..=7 => {
                events.extend(run(&s, ADD, days_ago(3), STUCK_PER_DAY, &[false], "x"));
                events.extend(run(&s, ADD, days_ago(2), STUCK_PER_DAY, &[false], "y"));
                events.extend(run(&s, ADD, days_ago(1), STUCK_PER_DAY, &[false], "v"));
            }
            8..=10 => events.extend(stuck_on_nines(
                &s,
                [
                    days_ago(2),
                    days_ago(1),
                    Utc::now() - TimeDelta::minutes(30),
                ],
                "z",
            )),
            // Getting there: nothing to act on.
            25..=27 => events.extend(run(&s, ADD, days_ago(1), 6, &[true, true, false], "w")),
            _ => {
                for (d, tag) in [(3, "p"), (2, "q"), (1, "r")] {
                    events.extend(run(&s, NINES, days_ago(d), 3, &[true], tag));
                }
            }
        }
    }
    app.post_batch(&events).await;
}

async fn a_budget_of_attention(app: TestApp) {
    busy_class(&app).await;
    let all = insights(&app).await;
    assert!(!all.is_empty() && all.len() <= 15, "{all:?}");
    let first: Vec<&Value> = all.iter().filter(|i| i["first_screen"] == true).collect();
    assert!(!first.is_empty() && first.len() <= 5, "{first:?}");
    // The first screen is the head of the list, ranked by score.
    assert!(all
        .iter()
        .take(first.len())
        .all(|i| i["first_screen"] == true));
    let scores: Vec<f64> = all.iter().filter_map(|i| i["score"].as_f64()).collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    // One insight per kind and skill: the three stuck students are one insight, and being
    // stuck is not told twice.
    let stuck: Vec<&Value> = all
        .iter()
        .filter(|i| strings(&i["students"]).contains(&stu(8)))
        .collect();
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert_eq!(
        strings(&stuck[0]["students"]),
        vec![stu(8), stu(9), stu(10)]
    );
    assert!(
        stuck[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("All of them have tried many times without progress.")),
        "{}",
        stuck[0]
    );
    // The rest of the class in one line.
    let last = all.last().expect("a list");
    assert_eq!(last["kind"], "doing_well", "{last}");
    // No headline longer than 20 words, no model terms on the first screen.
    for i in &all {
        let h = i["headline"].as_str().unwrap_or("");
        assert!(h.split_whitespace().count() <= 20, "{h}");
        for word in ["estimate", "probability", "model", "BKT", "%"] {
            assert!(
                !h.contains(word) && !i["action"].as_str().unwrap_or("").contains(word),
                "{i}"
            );
        }
    }

    // Done: it stays away until the evidence changes, and the decision is audited.
    let struggling = all
        .iter()
        .find(|i| i["kind"] == "struggling_skill" && i["skill_id"] == ADD)
        .expect("a struggling insight")
        .clone();
    let r = post(
        &app,
        &format!(
            "/api/v1/classes/{CLASS}/insights/{}",
            struggling["id"].as_str().unwrap_or("")
        ),
        &json!({"decision": "done", "note": "sat with them on Monday"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("JSON");
    assert_eq!(body["decision"], "done");
    // Seven estimates, and the seven stuck flags the insight tells of.
    assert_eq!(body["recorded"], 14);
    let after = insights(&app).await;
    assert!(
        !after
            .iter()
            .any(|i| i["kind"] == "struggling_skill" && i["skill_id"] == ADD),
        "{after:?}"
    );
    let audit = get(&app, "/api/v1/admin/audit?limit=50").await;
    assert!(
        list(&audit, "entries")
            .iter()
            .any(|e| e["action"] == "insight.decide"),
        "{audit}"
    );
    // A new answer of stu-01 on ADD: new evidence, stu-01 is back.
    app.post_batch(&run(
        &stu(1),
        ADD,
        Utc::now() - TimeDelta::minutes(5),
        1,
        &[false],
        "n",
    ))
    .await;
    let back = insights(&app).await;
    let again = back
        .iter()
        .find(|i| i["kind"] == "struggling_skill" && i["skill_id"] == ADD)
        .unwrap_or_else(|| panic!("{back:?}"));
    assert_eq!(strings(&again["students"]), vec![stu(1)]);

    // Dismiss with a reason; a bad decision is refused.
    let stuck_id = stuck[0]["id"].as_str().unwrap_or("").to_owned();
    let r = post(
        &app,
        &format!("/api/v1/classes/{CLASS}/insights/{stuck_id}"),
        &json!({"decision": "dismiss", "note": "they are on a new unit"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    // The stuck flags it told of are set aside with it, and it stays away on later reads.
    for _ in 0..2 {
        let after = insights(&app).await;
        assert!(
            !after
                .iter()
                .any(|i| strings(&i["students"]).contains(&stu(8))),
            "{after:?}"
        );
    }
    // New evidence on stu-08 brings stu-08 back, alone: the others' evidence has not changed.
    app.post_batch(&run(
        &stu(8),
        NINES,
        Utc::now() - TimeDelta::minutes(2),
        1,
        &[false],
        "m",
    ))
    .await;
    let back = insights(&app).await;
    let about: Vec<&Value> = back
        .iter()
        .filter(|i| {
            let s = strings(&i["students"]);
            s.contains(&stu(8)) || s.contains(&stu(9))
        })
        .collect();
    assert_eq!(about.len(), 1, "{back:?}");
    assert_eq!(strings(&about[0]["students"]), vec![stu(8)]);
    let r = post(
        &app,
        &format!("/api/v1/classes/{CLASS}/insights/{stuck_id}"),
        &json!({"decision": "later"}),
    )
    .await;
    assert_error(r, 422, "invalid_decision").await;
}

async fn insights_and_groups_agree(app: TestApp) {
    busy_class(&app).await;
    let all = insights(&app).await;
    let groups = get(&app, &format!("/api/v1/classes/{CLASS}/groups")).await;
    let group_list = list(&groups, "groups");
    let struggling = all
        .iter()
        .find(|i| i["kind"] == "struggling_skill" && i["skill_id"] == ADD)
        .unwrap_or_else(|| panic!("{all:?}"));
    let students = strings(&struggling["students"]);
    let linked = strings(&struggling["group_ids"]);
    assert!(!linked.is_empty(), "{struggling}");
    let mut placed = Vec::new();
    for id in &linked {
        let g = group_list
            .iter()
            .find(|g| g["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} is not among {groups}"));
        assert_eq!(g["focus_skill_id"], ADD);
        placed.extend(strings(&g["students"]));
    }
    // The same students, or the action says where the others are.
    let others: Vec<&String> = students.iter().filter(|s| !placed.contains(s)).collect();
    let action = struggling["action"].as_str().unwrap_or("");
    assert!(action.starts_with("Sit for 10 minutes with"), "{action}");
    if !others.is_empty() {
        assert!(
            action.matches('.').count() >= 2,
            "{action} should place {others:?}"
        );
    }
    // Every group's reason is one sentence.
    for g in &group_list {
        let reason = g["reason"].as_str().unwrap_or("");
        assert_eq!(reason.matches(". ").count(), 0, "{reason}");
        assert!(reason.ends_with('.'), "{reason}");
    }
    // Ready for a challenge is on Today, the same students as the groups say.
    let ready = all
        .iter()
        .find(|i| i["kind"] == "ready_for_challenge" || i["kind"] == "mastered_skill")
        .unwrap_or_else(|| panic!("{all:?}"));
    assert_eq!(ready["positive"], true);
    // Never "move on" from a skill someone still works on.
    for i in &all {
        if i["action"]
            .as_str()
            .is_some_and(|a| a.starts_with("Move on from"))
        {
            let skill = &i["skill_id"];
            assert!(
                !all.iter()
                    .any(|o| o["positive"] == false && &o["skill_id"] == skill),
                "{i}"
            );
            assert!(
                !group_list.iter().any(|g| &g["focus_skill_id"] == skill),
                "{i}"
            );
        }
    }
}

/// Twelve students with a few answers each on ADD: many uncertain calls.
async fn uncertain_class(app: &TestApp) {
    let mut events = Vec::new();
    for i in 1..=12 {
        events.extend(run(
            &stu(i),
            ADD,
            days_ago(1),
            4,
            &[false, true, false],
            "u",
        ));
    }
    // stu-20 has not practised for over a week: gone quiet.
    events.extend(run(&stu(20), ADD, days_ago(9), 3, &[true], "q"));
    app.post_batch(&events).await;
}

async fn a_review_queue_a_teacher_can_keep(app: TestApp) {
    uncertain_class(&app).await;
    let open = get(&app, &format!("/api/v1/reviews?class_id={CLASS}")).await;
    let items = list(&open, "reviews");
    assert_eq!(items.len(), 5, "{open}");
    let total = open["total"].as_u64().unwrap_or(0);
    assert!(total >= 12, "{open}");
    assert_eq!(open["held_back"].as_u64(), Some(total - 5));
    for r in &items {
        assert!(
            r["confirm_means"]
                .as_str()
                .is_some_and(|s| s.starts_with("Confirm: ")),
            "{r}"
        );
        assert!(
            r["dismiss_means"]
                .as_str()
                .is_some_and(|s| s.starts_with("Dismiss: ")),
            "{r}"
        );
    }
    let priorities: Vec<u64> = items
        .iter()
        .filter_map(|r| r["priority"].as_u64())
        .collect();
    assert!(
        priorities.windows(2).all(|w| w[0] >= w[1]),
        "{priorities:?}"
    );
    // Configurable per day; the organisation-wide count is the true total, paged.
    let seven = get(&app, &format!("/api/v1/reviews?class_id={CLASS}&per_day=7")).await;
    assert_eq!(list(&seven, "reviews").len(), 7);
    let org = get(&app, "/api/v1/reviews?limit=3&offset=2").await;
    assert_eq!(list(&org, "reviews").len(), 3);
    assert_eq!(org["total"].as_u64(), Some(total));

    // A decision shows everywhere at once.
    let item = items[0].clone();
    let (student, skill) = (
        item["student_id"].as_str().unwrap_or("").to_owned(),
        item["skill_id"].as_str().unwrap_or("").to_owned(),
    );
    let cell = |overview: &Value| {
        list(overview, "students")
            .into_iter()
            .find(|s| s["student_id"] == student.as_str())
            .and_then(|s| {
                list(&s, "skills")
                    .into_iter()
                    .find(|k| k["skill_id"] == skill.as_str())
            })
            .expect("the cell")
    };
    assert_eq!(
        cell(&get(&app, &format!("/api/v1/classes/{CLASS}/overview")).await)["needs_review"],
        true
    );
    let r = post(
        &app,
        &format!("/api/v1/reviews/{}", item["id"].as_str().unwrap_or("")),
        &json!({"decision": "confirm"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        cell(&get(&app, &format!("/api/v1/classes/{CLASS}/overview")).await)["needs_review"],
        false
    );
    let page = get(&app, &format!("/api/v1/students/{student}")).await;
    let k = list(&page, "skills")
        .into_iter()
        .find(|k| k["skill_id"] == skill.as_str())
        .expect("skill");
    assert_eq!(k["needs_review"], false, "{page}");
    let groups = get(&app, &format!("/api/v1/classes/{CLASS}/groups")).await;
    assert!(
        !list(&groups, "needs_review")
            .iter()
            .any(|a| a["student_id"] == student.as_str()),
        "{groups}"
    );
    let open = get(&app, &format!("/api/v1/reviews?class_id={CLASS}")).await;
    let left = list(&open, "reviews");
    assert!(!left.iter().any(|r| r["id"] == item["id"]));
    // Today's decision counts against today's five.
    assert_eq!(left.len(), 4, "{open}");
    let audit = get(&app, "/api/v1/admin/audit?limit=50").await;
    assert!(
        list(&audit, "entries")
            .iter()
            .any(|e| e["action"] == "review.decide"),
        "{audit}"
    );

    // Dismissing an insight records decisions on the flags behind it, but uses up no review
    // item of the day: four are still open.
    let quiet = insights(&app)
        .await
        .into_iter()
        .find(|i| i["flag_kind"] == "idle")
        .expect("a gone-quiet insight");
    let r = post(
        &app,
        &format!(
            "/api/v1/classes/{CLASS}/insights/{}",
            quiet["id"].as_str().unwrap_or("")
        ),
        &json!({"decision": "dismiss", "note": "away on holiday"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let open = get(&app, &format!("/api/v1/reviews?class_id={CLASS}")).await;
    let left = list(&open, "reviews");
    assert_eq!(left.len(), 4, "{open}");
    assert!(
        !left
            .iter()
            .any(|r| r["student_id"] == stu(20) && r["kind"] == "flag"),
        "{open}"
    );

    // Bad input.
    let id = left[0]["id"].as_str().unwrap_or("").to_owned();
    let r = post(
        &app,
        &format!("/api/v1/reviews/{id}"),
        &json!({"decision": "done"}),
    )
    .await;
    assert_error(r, 422, "invalid_decision").await;
    let r = app
        .client
        .get(app.url(&format!("/api/v1/reviews?class_id={CLASS}&per_day=0")))
        .bearer_auth(app.token(Role::Admin, ORG))
        .send()
        .await
        .expect("GET");
    assert_error(r, 400, "invalid_per_day").await;
}

/// The student page: progress toward the mastery rule, one word for certainty (a confirmed
/// call says so, a call awaiting review is never "sure"), and a sudden fall explained.
async fn the_student_page_builds_trust(app: TestApp) {
    // stu-01: right on three days, then four wrong answers today.
    let mut events = Vec::new();
    for (d, tag) in [(10, "a"), (8, "b"), (6, "c")] {
        events.extend(run(&stu(1), ADD, days_ago(d), 6, &[true], tag));
    }
    events.extend(run(
        &stu(1),
        ADD,
        Utc::now() - TimeDelta::minutes(30),
        4,
        &[false],
        "d",
    ));
    // stu-02: right four times, all on one day.
    events.extend(run(&stu(2), ADD, days_ago(1), 4, &[true], "e"));
    // stu-03: an uncertain call, mixed answers.
    events.extend(run(&stu(3), ADD, days_ago(1), 6, &[false, true], "f"));
    app.post_batch(&events).await;

    let skill = |page: &Value| {
        list(page, "skills")
            .into_iter()
            .find(|k| k["skill_id"] == ADD)
            .expect("the skill")
    };
    let first = skill(&get(&app, &format!("/api/v1/students/{}", stu(1))).await);
    let fall = first["fall"].as_str().unwrap_or_default();
    assert!(
        fall.starts_with("4 wrong answers today after 18 right ones over "),
        "{first}"
    );
    assert_eq!(first["mastery"]["right_days"], 3, "{first}");

    let second = skill(&get(&app, &format!("/api/v1/students/{}", stu(2))).await);
    assert_eq!(
        second["mastery"]["sentence"], "Right on 1 of the 2 separate days needed.",
        "{second}"
    );
    assert!(second.get("fall").is_none(), "{second}");

    let page = get(&app, &format!("/api/v1/students/{}", stu(3))).await;
    let third = skill(&page);
    assert_eq!(third["needs_review"], true, "{third}");
    assert_eq!(third["certainty"], "not_sure_yet");
    assert_eq!(third["certainty_sentence"], "Huddle is not sure yet.");
    let id = list(
        &get(
            &app,
            &format!("/api/v1/reviews?class_id={CLASS}&per_day=100"),
        )
        .await,
        "reviews",
    )
    .into_iter()
    .find(|r| r["student_id"] == stu(3) && r["kind"] == "estimate")
    .and_then(|r| r["id"].as_str().map(str::to_owned))
    .expect("stu-03's review item");
    let r = post(
        &app,
        &format!("/api/v1/reviews/{id}"),
        &json!({"decision": "confirm"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let third = skill(&get(&app, &format!("/api/v1/students/{}", stu(3))).await);
    assert_eq!(third["certainty"], "confirmed", "{third}");
    assert_eq!(third["certainty_sentence"], "You checked this.");
    assert_eq!(third["needs_review"], false);
}

both_backends!(
    the_student_page_builds_trust,
    only_the_present,
    a_budget_of_attention,
    insights_and_groups_agree,
    a_review_queue_a_teacher_can_keep,
);
