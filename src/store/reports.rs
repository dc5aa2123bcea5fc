//! The administrators' reports: the aggregates maintained at ingest (`record_in`, from the
//! batch's transaction; [`record_refused`], from the events handler) and the reads the report
//! rules (`crate::reports`) roll up. A report reads these small tables, the roster, the audit
//! log, the review decisions and the check-ins; never the events.

use std::collections::{BTreeMap, HashSet};

use diesel::dsl::{count, count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::upsert::excluded;

use crate::db::schema::{
    audit_log, checkins, class_teachers, classes, enrolments, flags, report_activity,
    report_rejections, report_tool_days, review_decisions, schools, skill_states, skills, students,
    users,
};
use crate::db::{to_millis, DbConnection};
use crate::ingest::Event;
use crate::on_backend;
use crate::reports::adoption::{self, ActivityRow, CheckIn, ClassInfo, ClassRead, Decision};
use crate::reports::data_quality::{self, RejectionRow, ToolDayRow};
use crate::reports::facts::{self, Activity, EventFact, Refusals, ToolDay};
use crate::reports::{day_start, Range};

use super::sqlite_values;

/// The statements that write the aggregates, for each backend's concrete connection.
pub(crate) trait ReportSql: Connection {
    fn upsert_activity(
        &mut self,
        org: &str,
        rows: &BTreeMap<facts::ActivityKey, Activity>,
    ) -> QueryResult<()>;
    fn upsert_tool_days(
        &mut self,
        org: &str,
        rows: &BTreeMap<facts::ToolDayKey, ToolDay>,
    ) -> QueryResult<()>;
    fn upsert_rejections(
        &mut self,
        org: &str,
        day: i64,
        rows: &BTreeMap<(String, String), i64>,
    ) -> QueryResult<()>;
}

macro_rules! report_sql {
    () => {
        fn upsert_tool_days(
            &mut self,
            org: &str,
            rows: &BTreeMap<facts::ToolDayKey, ToolDay>,
        ) -> QueryResult<()> {
            use report_tool_days as t;
            let values: Vec<_> = rows
                .iter()
                .map(|((day, tool), d)| {
                    (
                        t::org_id.eq(org),
                        t::day.eq(*day),
                        t::tool.eq(*tool),
                        t::received.eq(d.received),
                        t::duplicates.eq(d.duplicates),
                        t::late.eq(d.late),
                        t::max_late_ms.eq(d.max_late_ms),
                        t::future.eq(d.future),
                        t::max_future_ms.eq(d.max_future_ms),
                        t::sum_future_ms.eq(d.sum_future_ms),
                        t::without_time.eq(d.without_time),
                    )
                })
                .collect();
            if values.is_empty() {
                return Ok(());
            }
            // Adds to what is stored: the same rule as facts::ToolDay::add.
            diesel::insert_into(t::table)
                .values(&values)
                .on_conflict((t::org_id, t::day, t::tool))
                .do_update()
                .set((
                    t::received.eq(t::received + excluded(t::received)),
                    t::duplicates.eq(t::duplicates + excluded(t::duplicates)),
                    t::late.eq(t::late + excluded(t::late)),
                    t::max_late_ms.eq(sql::<BigInt>(
                        "CASE WHEN excluded.max_late_ms > report_tool_days.max_late_ms \
                         THEN excluded.max_late_ms ELSE report_tool_days.max_late_ms END",
                    )),
                    t::future.eq(t::future + excluded(t::future)),
                    t::max_future_ms.eq(sql::<BigInt>(
                        "CASE WHEN excluded.max_future_ms > report_tool_days.max_future_ms \
                         THEN excluded.max_future_ms ELSE report_tool_days.max_future_ms END",
                    )),
                    t::sum_future_ms.eq(t::sum_future_ms + excluded(t::sum_future_ms)),
                    t::without_time.eq(t::without_time + excluded(t::without_time)),
                ))
                .execute(self)?;
            Ok(())
        }

        fn upsert_rejections(
            &mut self,
            org: &str,
            day: i64,
            rows: &BTreeMap<(String, String), i64>,
        ) -> QueryResult<()> {
            use report_rejections as t;
            let values: Vec<_> = rows
                .iter()
                .map(|((tool, code), n)| {
                    (
                        t::org_id.eq(org),
                        t::day.eq(day),
                        t::tool.eq(tool),
                        t::code.eq(code),
                        t::events.eq(*n),
                    )
                })
                .collect();
            if values.is_empty() {
                return Ok(());
            }
            diesel::insert_into(t::table)
                .values(&values)
                .on_conflict((t::org_id, t::day, t::tool, t::code))
                .do_update()
                .set(t::events.eq(t::events + excluded(t::events)))
                .execute(self)?;
            Ok(())
        }
    };
}

impl ReportSql for diesel::SqliteConnection {
    report_sql!();

    fn upsert_activity(
        &mut self,
        org: &str,
        rows: &BTreeMap<facts::ActivityKey, Activity>,
    ) -> QueryResult<()> {
        let rows: Vec<_> = rows
            .iter()
            .map(|((week, class, student), a)| {
                let (events, timed, ms) = (a.events, a.timed_events, a.practice_ms);
                (
                    org, week, class, student, events, timed, ms, a.first_at, a.last_at,
                )
            })
            .collect();
        // Adds to what is stored: the same rule as facts::Activity::add. A statement that
        // stays prepared (store::sqlite_values), not parsed again for every batch.
        sqlite_values::execute(
            self,
            "INSERT INTO report_activity (org_id, week_start, class_id, student_id, events, \
             timed_events, practice_ms, first_at, last_at) VALUES",
            "ON CONFLICT (org_id, week_start, class_id, student_id) DO UPDATE SET \
             events = report_activity.events + excluded.events, \
             timed_events = report_activity.timed_events + excluded.timed_events, \
             practice_ms = report_activity.practice_ms + excluded.practice_ms, \
             first_at = min(report_activity.first_at, excluded.first_at), \
             last_at = max(report_activity.last_at, excluded.last_at)",
            &rows,
        )?;
        Ok(())
    }
}

impl ReportSql for diesel::PgConnection {
    report_sql!();

    fn upsert_activity(
        &mut self,
        org: &str,
        rows: &BTreeMap<facts::ActivityKey, Activity>,
    ) -> QueryResult<()> {
        use diesel::sql_types::{Array, Text};
        if rows.is_empty() {
            return Ok(());
        }
        // Column arrays rather than a VALUES list of a row per student; adds to what is
        // stored by the same rule as facts::Activity::add.
        let col = |f: fn(&Activity) -> i64| rows.values().map(f).collect::<Vec<_>>();
        diesel::sql_query(
            "INSERT INTO report_activity (org_id, week_start, class_id, student_id, events, \
             timed_events, practice_ms, first_at, last_at) \
             SELECT $1, u.* FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bigint[], \
             $6::bigint[], $7::bigint[], $8::bigint[], $9::bigint[]) AS u \
             ON CONFLICT (org_id, week_start, class_id, student_id) DO UPDATE SET \
             events = report_activity.events + excluded.events, \
             timed_events = report_activity.timed_events + excluded.timed_events, \
             practice_ms = report_activity.practice_ms + excluded.practice_ms, \
             first_at = LEAST(report_activity.first_at, excluded.first_at), \
             last_at = GREATEST(report_activity.last_at, excluded.last_at)",
        )
        .bind::<Text, _>(org)
        .bind::<Array<BigInt>, _>(rows.keys().map(|k| k.0).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.keys().map(|k| k.1).collect::<Vec<_>>())
        .bind::<Array<Text>, _>(rows.keys().map(|k| k.2).collect::<Vec<_>>())
        .bind::<Array<BigInt>, _>(col(|a| a.events))
        .bind::<Array<BigInt>, _>(col(|a| a.timed_events))
        .bind::<Array<BigInt>, _>(col(|a| a.practice_ms))
        .bind::<Array<BigInt>, _>(col(|a| a.first_at))
        .bind::<Array<BigInt>, _>(col(|a| a.last_at))
        .execute(self)?;
        Ok(())
    }
}

fn fact_of(e: &Event) -> EventFact<'_> {
    EventFact {
        class_id: &e.class_id,
        student_id: &e.student_id,
        tool: e.tool.as_deref().unwrap_or(""),
        occurred_at: to_millis(e.occurred_at),
        response_ms: e.response_ms,
    }
}

/// Adds the events this transaction inserted to the aggregates: one upsert per table. Called
/// by `events::append_in` in the batch's transaction, with the new events only, so a re-sent
/// or replayed event never counts twice.
pub(crate) fn record_in<C: ReportSql>(
    c: &mut C,
    org: &str,
    inserted: &[&Event],
    received_at: i64,
) -> QueryResult<()> {
    let facts: Vec<EventFact> = inserted.iter().map(|e| fact_of(e)).collect();
    c.upsert_activity(org, &facts::fold_activity(&facts))?;
    c.upsert_tool_days(org, &facts::fold_received(&facts, received_at))
}

/// Records a batch's refused events and duplicates (the events handler, after the append).
pub fn record_refused(
    conn: &mut DbConnection,
    org: &str,
    received_at: chrono::DateTime<chrono::Utc>,
    refusals: &Refusals,
) -> anyhow::Result<()> {
    if refusals.is_empty() {
        return Ok(());
    }
    let day = day_start(to_millis(received_at));
    let dups: BTreeMap<facts::ToolDayKey, ToolDay> = refusals
        .duplicates
        .iter()
        .map(|(tool, n)| {
            let d = ToolDay {
                duplicates: *n,
                ..ToolDay::default()
            };
            ((day, tool.as_str()), d)
        })
        .collect();
    on_backend!(conn, |c| c.transaction(|c| {
        c.upsert_rejections(org, day, &refusals.rejected)?;
        c.upsert_tool_days(org, &dups)
    }))?;
    Ok(())
}

/// What the adoption report is computed from, for the weeks `range` touches.
pub fn adoption_input(
    conn: &mut DbConnection,
    org: &str,
    range: &Range,
) -> anyhow::Result<adoption::Input> {
    let (lo, hi) = range.week_bounds();
    let activity = report_activity::table
        .filter(report_activity::org_id.eq(org))
        .filter(report_activity::week_start.ge(lo))
        .filter(report_activity::week_start.lt(hi))
        .select((
            report_activity::week_start,
            report_activity::class_id,
            report_activity::student_id,
            report_activity::events,
            report_activity::timed_events,
            report_activity::practice_ms,
        ))
        .load::<(i64, String, String, i64, i64, i64)>(conn)?
        .into_iter()
        .map(
            |(week_start, class_id, student_id, events, timed_events, practice_ms)| ActivityRow {
                week_start,
                class_id,
                student_id,
                events,
                timed_events,
                practice_ms,
            },
        )
        .collect();
    let classes = classes::table
        .filter(classes::org_id.eq(org))
        .select((classes::class_id, classes::school_id, classes::name))
        .load::<(String, Option<String>, Option<String>)>(conn)?
        .into_iter()
        .map(|(class_id, school_id, name)| ClassInfo {
            class_id,
            school_id,
            name,
        })
        .collect();
    let schools = schools::table
        .filter(schools::org_id.eq(org))
        .select((schools::school_id, schools::name))
        .load::<(String, Option<String>)>(conn)?
        .into_iter()
        .collect();
    let enrolments = enrolments::table
        .filter(enrolments::org_id.eq(org))
        .select((enrolments::class_id, enrolments::student_id))
        .load(conn)?;
    let teaching = class_teachers::table
        .inner_join(users::table)
        .filter(class_teachers::org_id.eq(org))
        .filter(users::role.eq("teacher"))
        .select((class_teachers::class_id, class_teachers::user_id))
        .load(conn)?;
    let reads = audit_log::table
        .filter(audit_log::org_id.eq(org))
        .filter(audit_log::at.ge(lo))
        .filter(audit_log::at.lt(hi))
        .filter(audit_log::actor_role.eq("teacher"))
        .filter(audit_log::subject_kind.eq("class"))
        .filter(audit_log::action.eq_any(adoption::CLASS_PAGES.to_vec()))
        .select((
            audit_log::at,
            audit_log::actor_sub,
            audit_log::subject_id,
            audit_log::action,
        ))
        .load::<(i64, String, Option<String>, String)>(conn)?
        .into_iter()
        .filter_map(|(at, user_id, class, action)| {
            Some(ClassRead {
                at,
                user_id,
                class_id: class?,
                action,
            })
        })
        .collect();
    let decisions = review_decisions::table
        .filter(review_decisions::org_id.eq(org))
        .filter(review_decisions::decided_at.ge(lo))
        .filter(review_decisions::decided_at.lt(hi))
        .select((
            review_decisions::decided_at,
            review_decisions::student_id,
            review_decisions::decided_by,
        ))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(at, student_id, decided_by)| Decision {
            at,
            student_id,
            decided_by,
        })
        .collect();
    let checkins = checkins::table
        .filter(checkins::org_id.eq(org))
        .filter(checkins::at.ge(lo))
        .filter(checkins::at.lt(hi))
        .select((checkins::at, checkins::class_id, checkins::student_id))
        .load::<(i64, String, String)>(conn)?
        .into_iter()
        .map(|(at, class_id, student_id)| CheckIn {
            at,
            class_id,
            student_id,
        })
        .collect();
    Ok(adoption::Input {
        activity,
        classes,
        schools,
        enrolments,
        teaching,
        reads,
        decisions,
        checkins,
    })
}

/// What the data-quality report is computed from, for the days of `range`.
pub fn data_quality_input(
    conn: &mut DbConnection,
    org: &str,
    range: &Range,
    min_students: usize,
) -> anyhow::Result<data_quality::Input> {
    let (lo, hi) = (range.start_ms(), range.end_ms());
    let tool_days = report_tool_days::table
        .filter(report_tool_days::org_id.eq(org))
        .filter(report_tool_days::day.ge(lo))
        .filter(report_tool_days::day.lt(hi))
        .select((
            (
                report_tool_days::day,
                report_tool_days::tool,
                report_tool_days::received,
                report_tool_days::duplicates,
                report_tool_days::late,
                report_tool_days::max_late_ms,
            ),
            (
                report_tool_days::future,
                report_tool_days::max_future_ms,
                report_tool_days::sum_future_ms,
                report_tool_days::without_time,
            ),
        ))
        .load::<((i64, String, i64, i64, i64, i64), (i64, i64, i64, i64))>(conn)?
        .into_iter()
        .map(
            |(
                (day, tool, received, duplicates, late, max_late_ms),
                (future, max_future_ms, sum_future_ms, without_time),
            )| {
                ToolDayRow {
                    day,
                    tool,
                    figures: ToolDay {
                        received,
                        duplicates,
                        late,
                        max_late_ms,
                        future,
                        max_future_ms,
                        sum_future_ms,
                        without_time,
                    },
                }
            },
        )
        .collect();
    let rejections = report_rejections::table
        .filter(report_rejections::org_id.eq(org))
        .filter(report_rejections::day.ge(lo))
        .filter(report_rejections::day.lt(hi))
        .select((
            report_rejections::day,
            report_rejections::tool,
            report_rejections::code,
            report_rejections::events,
        ))
        .load::<(i64, String, String, i64)>(conn)?
        .into_iter()
        .map(|(day, tool, code, events)| RejectionRow {
            day,
            tool,
            code,
            events,
        })
        .collect();
    // Shared-account flags that were going on at some time in the range.
    let shared: Vec<String> = flags::table
        .filter(flags::org_id.eq(org))
        .filter(flags::kind.eq("shared_account"))
        .filter(flags::started_at.lt(hi))
        .filter(flags::ended_at.is_null().or(flags::ended_at.ge(lo)))
        .select(flags::student_id)
        .load(conn)?;
    let shared_students = shared.iter().collect::<HashSet<_>>().len() as u64;
    let student_count: i64 = students::table
        .filter(students::org_id.eq(org))
        .count()
        .get_result(conn)?;
    // Every enrolment names a known student (a foreign key): the rest have no class.
    let enrolled: i64 = enrolments::table
        .filter(enrolments::org_id.eq(org))
        .select(count(enrolments::student_id).aggregate_distinct())
        .get_result(conn)?;
    let without_class = (student_count - enrolled).max(0);
    let counts: BTreeMap<String, i64> = skill_states::table
        .filter(skill_states::org_id.eq(org))
        .group_by(skill_states::skill_id)
        .select((skill_states::skill_id, count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .collect();
    let skill_students = skills::table
        .filter(skills::org_id.eq(org))
        .select(skills::skill_id)
        .load::<String>(conn)?
        .into_iter()
        .map(|s| {
            let n = counts.get(&s).copied().unwrap_or(0) as u64;
            (s, n)
        })
        .collect();
    Ok(data_quality::Input {
        tool_days,
        rejections,
        shared_account_students: shared_students,
        shared_account_flags: shared.len() as u64,
        students: student_count as u64,
        students_without_class: without_class as u64,
        skill_students,
        min_students: min_students as u64,
    })
}
