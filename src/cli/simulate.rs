//! `huddle simulate --students N --days D [--seed S] --out DIR`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context;

use crate::sim::{Config, Simulation};

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    #[arg(long)]
    pub students: usize,
    /// School days (weekdays) of practice.
    #[arg(long)]
    pub days: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory for events.jsonl and truth.jsonl (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 6)]
    pub skills: usize,
    /// Classes (0 = one per 25 students).
    #[arg(long, default_value_t = 0)]
    pub classes: usize,
    /// Skills practised per school day.
    #[arg(long, default_value_t = 2)]
    pub skills_per_day: usize,
    /// Also write kt.csv (student_id,skill_id,correct,order) of the opportunities, for `huddle kt`.
    #[arg(long)]
    pub kt_csv: bool,
    /// Behaviour profiles of the students: `diligent` (all), `mixed` (a plausible class:
    /// diligent, struggling, rapid guessers, hint abusers, gamers, giver-uppers, idle), or
    /// weights such as `diligent=80,gamer=10,rapid_guesser=10`. With profiles, truth.jsonl
    /// also has one `"type": "day"` line per student and school day.
    #[arg(long, default_value = "diligent", value_parser = crate::sim::ProfileMix::parse)]
    pub profiles: crate::sim::ProfileMix,
    /// Model drift: from school day DAY (0-based) on, skill SKILL_INDEX gets easier to guess
    /// and teaches less (guess +0.25, learn ×0.3), e.g. `--drift 2@20`.
    #[arg(long, value_parser = crate::sim::Drift::parse)]
    pub drift: Option<crate::sim::Drift>,
    /// Items per skill (each student meets each item once).
    #[arg(long, default_value_t = 40)]
    pub items_per_skill: usize,
}

fn create(path: &std::path::Path) -> anyhow::Result<BufWriter<File>> {
    let f = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.students > 0, "--students must be at least 1");
    anyhow::ensure!(args.days > 0, "--days must be at least 1");
    let config = Config {
        students: args.students,
        days: args.days,
        seed: args.seed,
        skills: args.skills.max(1),
        classes: args.classes,
        skills_per_day: args.skills_per_day.max(1),
        profiles: args.profiles.clone(),
        drift: args.drift,
        items_per_skill: args.items_per_skill.max(1),
        ..Config::default()
    };
    let out = Simulation::new(config).run();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;

    let mut w = create(&args.out.join("events.jsonl"))?;
    for e in &out.events {
        serde_json::to_writer(&mut w, &out.wire(e))?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    let mut w = create(&args.out.join("truth.jsonl"))?;
    for t in &out.truth {
        serde_json::to_writer(&mut w, &out.truth_line(t))?;
        w.write_all(b"\n")?;
    }
    for d in &out.days {
        serde_json::to_writer(&mut w, &out.day_line(d))?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    let mut opportunities = 0usize;
    if args.kt_csv {
        let mut w = create(&args.out.join("kt.csv"))?;
        writeln!(w, "student_id,skill_id,correct,order")?;
        for (student, skill, correct, order) in out.kt_rows() {
            writeln!(w, "{student},{skill},{},{order}", u8::from(correct))?;
            opportunities += 1;
        }
        w.flush()?;
    } else {
        opportunities = out.events.iter().filter(|e| e.attempt == 1).count();
    }
    super::print_line(
        &serde_json::json!({
            "events": out.events.len(),
            "opportunities": opportunities,
            "students": out.students.len(),
            "classes": out.class_ids.len(),
            "skills": out.skills.len(),
            "days": args.days,
            "profiles": out.students.iter().fold(
                std::collections::BTreeMap::<&str, usize>::new(),
                |mut m, s| {
                    *m.entry(s.profile.as_str()).or_default() += 1;
                    m
                },
            ),
            "seed": args.seed,
            "out": args.out.display().to_string(),
        })
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_events_and_truth_as_json_lines() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("sim");
        run(SimulateArgs {
            students: 12,
            days: 3,
            seed: 9,
            out: out.clone(),
            skills: 2,
            classes: 0,
            skills_per_day: 2,
            kt_csv: true,
            profiles: crate::sim::ProfileMix::diligent(),
            drift: None,
            items_per_skill: 40,
        })
        .expect("simulate runs");
        let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
        let events = read("events.jsonl");
        assert!(events.lines().count() > 12);
        for line in events.lines() {
            let v: serde_json::Value =
                serde_json::from_str(line).expect("one JSON object per line");
            assert!(v["event_id"].is_string() && v["outcome"].is_string());
        }
        let truth = read("truth.jsonl");
        assert_eq!(
            truth.lines().count(),
            12 * 2,
            "one line per student and skill"
        );
        let csv = read("kt.csv");
        assert!(csv.starts_with("student_id,skill_id,correct,order\n"));
    }

    #[test]
    fn profiles_add_a_truth_line_per_student_and_day() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("sim");
        run(SimulateArgs {
            students: 40,
            days: 5,
            seed: 3,
            out: out.clone(),
            skills: 2,
            classes: 0,
            skills_per_day: 2,
            kt_csv: false,
            profiles: crate::sim::ProfileMix::mixed(),
            drift: Some(crate::sim::Drift { skill: 0, day: 2 }),
            items_per_skill: 40,
        })
        .expect("simulate runs");
        let truth = std::fs::read_to_string(out.join("truth.jsonl")).unwrap_or_default();
        let lines: Vec<serde_json::Value> = truth
            .lines()
            .map(|l| serde_json::from_str(l).expect("JSON"))
            .collect();
        let days: Vec<&serde_json::Value> = lines.iter().filter(|l| l["type"] == "day").collect();
        assert_eq!(days.len(), 40 * 5, "one line per student and school day");
        assert!(days
            .iter()
            .all(|d| d["behaviours"].is_array() && d["date"].is_string()));
        assert!(lines.iter().any(|l| l["profile"] == "rapid_guesser"));
        let flagged = days
            .iter()
            .filter(|d| d["behaviours"] != serde_json::json!([]))
            .count();
        assert!(flagged > 0, "some misbehaviour in a mixed class");
    }

    #[test]
    fn profile_weights_parse_with_clear_errors() {
        use crate::sim::{Profile, ProfileMix};
        let mix = ProfileMix::parse("diligent=80,gamer=20").expect("valid");
        assert_eq!(mix.0, vec![(Profile::Diligent, 80), (Profile::Gamer, 20)]);
        assert!(ProfileMix::parse("bored=3")
            .unwrap_err()
            .contains("unknown profile"));
        assert!(ProfileMix::parse("gamer").is_err());
        assert!(ProfileMix::parse("gamer=0").is_err());
    }
}
