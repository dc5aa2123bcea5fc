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

#[test]
fn each_class_gets_its_wheel_spinners_who_never_learn_their_skill_and_practise_it_most() {
    let config = Config {
        students: 60,
        classes: 3,
        days: 20,
        skills: 9,
        profiles: ProfileMix::mixed(),
        wheel_spinners_per_class: 2,
        ..small()
    };
    let out = Simulation::new(config.clone()).run();
    let spinners: Vec<&Student> = out
        .students
        .iter()
        .filter(|s| s.profile == Profile::WheelSpinner)
        .collect();
    for class in 0..3 {
        assert_eq!(spinners.iter().filter(|s| s.class == class).count(), 2);
    }
    // The mix's other profiles keep their numbers: only diligent students were chosen.
    let without = Simulation::new(Config {
        wheel_spinners_per_class: 0,
        ..config
    })
    .run();
    let count = |o: &Output, p: Profile| o.students.iter().filter(|s| s.profile == p).count();
    for p in Profile::ALL {
        let expected = match p {
            Profile::Diligent => count(&without, p) - 6,
            Profile::WheelSpinner => 6,
            _ => count(&without, p),
        };
        assert_eq!(count(&out, p), expected, "{p:?}");
    }
    // Each spinner's skill: unknown throughout, and met far more often than the others meet
    // it.
    let mut fastest: Vec<&Skill> = out.skills.iter().collect();
    fastest.sort_by(|a, b| b.params.learn.total_cmp(&a.params.learn));
    for s in &spinners {
        let i = out.students.iter().position(|x| x.id == s.id).unwrap_or(0) as u32;
        let mut by_skill: Vec<&Truth> = out.truth.iter().filter(|t| t.student == i).collect();
        by_skill.sort_by_key(|t| std::cmp::Reverse(t.steps.len()));
        let stuck = by_skill[0];
        let skill = &out.skills[stuck.skill as usize];
        assert!(
            fastest[..2].iter().any(|f| f.id == skill.id),
            "{}",
            skill.id
        );
        assert!(!stuck.known_at_start && stuck.steps.iter().all(|st| !st.known_after));
        let others: Vec<usize> = out
            .truth
            .iter()
            .filter(|t| t.skill == stuck.skill && t.student != i)
            .map(|t| t.steps.len())
            .collect();
        let mean = others.iter().sum::<usize>() as f64 / others.len().max(1) as f64;
        assert!(
            stuck.steps.len() as f64 >= 1.8 * mean,
            "{} tries against {mean:.1}",
            stuck.steps.len()
        );
    }
    assert_eq!(
        ProfileMix::parse("diligent=9,wheel_spinner=1").map(|m| m.0),
        Ok(vec![(Profile::Diligent, 9), (Profile::WheelSpinner, 1)])
    );
}
