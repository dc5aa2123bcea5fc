use super::*;

fn small() -> Config {
    Config {
        students: 30,
        days: 6,
        skills: 3,
        seed: 7,
        ..Config::default()
    }
}

fn valid_item_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-'))
}

#[test]
fn same_seed_same_output_other_seed_other_output() {
    let a = Simulation::new(small()).run();
    assert_eq!(a, Simulation::new(small()).run());
    let b = Simulation::new(Config { seed: 8, ..small() }).run();
    assert_ne!(a.events, b.events);
}

#[test]
fn events_have_the_contract_shape() {
    let out = Simulation::new(small()).run();
    assert!(!out.events.is_empty());
    let v = serde_json::to_value(out.wire(&out.events[0])).unwrap_or_default();
    for key in [
        "event_id",
        "occurred_at",
        "student_id",
        "class_id",
        "skill_id",
        "item_id",
        "outcome",
        "attempt",
        "response_ms",
        "hints_used",
        "hint_bottom_out",
        "session_id",
        "skill_name",
        "tool",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    let at = v["occurred_at"].as_str().unwrap_or_default();
    assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
    assert!(Uuid::parse_str(v["event_id"].as_str().unwrap_or_default()).is_ok());
    for e in &out.events {
        let w = out.wire(e);
        assert!(valid_item_id(&w.item_id), "{}", w.item_id);
        assert!(
            w.response_ms
                .is_some_and(|ms| (0..=3_600_000).contains(&ms))
                && w.attempt >= 1
        );
        assert!(!matches!(e.at.weekday(), Weekday::Sat | Weekday::Sun));
    }
    let mut ids: Vec<_> = out.events.iter().map(|e| e.event_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), out.events.len(), "event ids are unique");
    assert!(
        out.events.windows(2).all(|w| w[0].at <= w[1].at),
        "time order"
    );
}

#[test]
fn truth_matches_the_first_attempts() {
    let out = Simulation::new(small()).run();
    let firsts: std::collections::HashMap<Uuid, &Event> = out
        .events
        .iter()
        .filter(|e| e.attempt == 1)
        .map(|e| (e.event_id, e))
        .collect();
    let steps: usize = out.truth.iter().map(|t| t.steps.len()).sum();
    assert_eq!(steps, firsts.len());
    for t in &out.truth {
        let mut known = t.known_at_start;
        for s in &t.steps {
            assert_eq!(s.known_before, known, "states chain");
            known = s.known_after;
            let e = firsts[&s.event_id];
            let w = out.wire(e);
            assert_eq!(
                s.correct,
                crate::kt::observation_outcome(w.outcome, w.hint_bottom_out)
            );
            // Without forgetting, knowledge is never lost.
            assert!(!s.known_before || s.known_after);
        }
    }
    let line = serde_json::to_value(out.truth_line(&out.truth[0])).unwrap_or_default();
    assert!(line["params"]["learn"].is_f64() && line["steps"].is_array());
}

#[test]
fn sessions_spread_over_several_days() {
    let out = Simulation::new(small()).run();
    let days: std::collections::HashSet<_> = out
        .events
        .iter()
        .filter(|e| e.student == 0 && e.skill == 0)
        .map(|e| e.at.date_naive())
        .collect();
    assert!(days.len() >= 2, "{days:?}");
}
