//! The classes a caller may see (`GET /api/v1/classes`), and a class for its teacher: `overview`, `insights`, `groups` and saved group `plans`.
//! Every read comes from the maintained state (`store::classes`), worded by `insights`.

use std::collections::HashMap;

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access::{audit_read, audit_read_marked, authorise, Scope};
use super::params::{self, Id, NamesQuery, Query, QueryParams, Whole};
use super::students::{FlagView, SkillView};
use super::AppState;
use crate::auth::{policy, Caller};
use crate::config::MAX_SMALL_BODY_BYTES;
use crate::db::{from_millis, to_millis};
use crate::error::{ApiError, ErrorBody};
use crate::insights::groups::{self, Apart, Group};
use crate::insights::student::Certainty;
use crate::insights::{self, ClassData, Decision, DecisionRecord, GroupBounds, Insight};
use crate::items::{self, Example};
use crate::store;
use crate::store::audit::Subject;

/// A skill of the class.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkillRef {
    #[schema(example = "fractions.add-unlike")]
    pub skill_id: String,
    pub name: Option<String>,
    #[schema(example = "fractions")]
    pub domain: String,
}

/// One student of the overview.
#[derive(Debug, Serialize, ToSchema)]
pub struct OverviewStudent {
    #[schema(example = "stu-0042")]
    pub student_id: String,
    pub name: String,
    /// The skills the student has practised.
    pub skills: Vec<SkillView>,
    pub flags: Vec<FlagView>,
}

/// `GET /api/v1/classes/{class_id}/overview`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Overview {
    #[schema(example = "class-5b")]
    pub class_id: String,
    #[schema(value_type = String)]
    pub generated_at: DateTime<Utc>,
    pub skills: Vec<SkillRef>,
    pub students: Vec<OverviewStudent>,
}

/// `GET /api/v1/classes/{class_id}/insights`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Insights {
    pub class_id: String,
    #[schema(value_type = String)]
    pub generated_at: DateTime<Utc>,
    /// Most useful first.
    pub insights: Vec<InsightView>,
}

/// An insight with the example problems of its "why" panel.
#[derive(Debug, Serialize, ToSchema)]
pub struct InsightView {
    #[serde(flatten)]
    pub insight: Insight,
    /// For a difficulty with one skill: up to 3 problems its students got wrong lately, with
    /// the most common wrong answers.
    pub examples: Vec<Example>,
}

/// A suggested group with the example problems of its card.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    #[serde(flatten)]
    pub group: Group,
    /// Up to 3 problems of the focus skill the group got wrong lately, with the most common
    /// wrong answers (`items_to_revisit` holds their ids).
    pub examples: Vec<Example>,
}

/// `GET /api/v1/classes/{class_id}/groups`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Groups {
    pub class_id: String,
    #[schema(value_type = String)]
    pub generated_at: DateTime<Utc>,
    pub min_size: usize,
    pub max_size: usize,
    pub groups: Vec<GroupView>,
    /// Students whose most needed skill has an estimate awaiting review: not grouped.
    pub needs_review: Vec<Apart>,
    /// Students who mastered everything they practised.
    pub ready_for_challenge: Vec<String>,
    /// Students with too few answers, or no one to share a need with.
    pub not_grouped: Vec<Apart>,
    /// What the page calls each student of the class (roster name, anonymised label or id).
    pub names: std::collections::BTreeMap<String, String>,
}

use crate::util::rfc3339;

fn flag_view(f: &insights::FlagView) -> FlagView {
    FlagView {
        kind: f.kind.clone(),
        skill_id: f.skill_id.clone(),
        since: rfc3339(f.since),
        until: f.ended_at.map(rfc3339),
        active: f.ended_at.is_none(),
        evidence: f.sentence.clone(),
        data: serde_json::json!({"hits": f.count, "actions": f.of}),
    }
}

fn overview_of(data: &ClassData) -> Overview {
    let skills: HashMap<&str, &insights::SkillInfo> = data
        .skills
        .iter()
        .map(|s| (s.skill_id.as_str(), s))
        .collect();
    let mut by_student: HashMap<&str, Vec<SkillView>> = HashMap::new();
    for c in &data.cells {
        if let Some(info) = skills.get(c.skill_id.as_str()) {
            let mut view = SkillView::from_cell(c, info);
            // A teacher's decision holds here as on every page, and so do the words of
            // certainty the student page uses.
            view.needs_review = data.needs_review(c);
            let confirmed = data.decisions.confirmed(
                &c.student_id,
                &c.skill_id,
                insights::reviews::ESTIMATE,
                i64::from(c.estimate.opportunities),
            );
            let certainty = Certainty::of(c.estimate.confidence, view.needs_review, confirmed);
            view.certainty = Some(certainty);
            view.certainty_sentence = Some(certainty.sentence().to_owned());
            by_student.entry(&c.student_id).or_default().push(view);
        }
    }
    // The flags that describe the present and that no decision set aside.
    let flags: Vec<&insights::FlagView> = data
        .current_flags()
        .into_iter()
        .filter(|f| {
            !data
                .decisions
                .holding_flag(
                    &f.student_id,
                    f.skill_id.as_deref().unwrap_or(""),
                    &insights::reviews::flag_kind_key(&f.kind),
                    f.since,
                )
                .is_some_and(|d| d.decision.silences())
        })
        .collect();
    Overview {
        class_id: data.class_id.clone(),
        generated_at: from_millis(data.now),
        skills: data
            .skills
            .iter()
            .map(|s| SkillRef {
                skill_id: s.skill_id.clone(),
                name: s.name.clone(),
                domain: s.domain.clone(),
            })
            .collect(),
        students: data
            .students
            .iter()
            .map(|s| OverviewStudent {
                student_id: s.student_id.clone(),
                name: s.name.clone(),
                skills: by_student.remove(s.student_id.as_str()).unwrap_or_default(),
                flags: flags
                    .iter()
                    .filter(|f| f.student_id == s.student_id)
                    .map(|f| flag_view(f))
                    .collect(),
            })
            .collect(),
    }
}

/// Serialised overviews by (organisation, class), each with the state version it was built
/// from and when that version was last checked. A read within [`OVERVIEW_FRESH`] of the last
/// check is answered from memory; a later one checks the version (one aggregate over the
/// class's state rows) and sends the stored bytes when nothing changed, instead of decoding
/// and serialising every student × skill again. At most `OVERVIEW_CACHE_CLASSES` classes.
///
/// The version covers the states, flags and decisions, not names: each entry also keeps
/// [`Db::entity_writes`](crate::db::Db::entity_writes) as it was when the entry was built, and
/// is used only while that count holds. A roster, an erasure or a purge on any node changes it
/// (on PostgreSQL through `NOTIFY`, `cluster`).
#[derive(Default)]
pub struct OverviewCache {
    entries: std::sync::Mutex<HashMap<(String, String), Kept>>,
}

struct Kept {
    version: store::classes::StateVersion,
    /// The entity-write count the entry was built under.
    entities: u64,
    checked: std::time::Instant,
    bytes: web::Bytes,
}

/// Classes whose overview is kept (about 350 KB each for 30 students × 50 skills).
pub const OVERVIEW_CACHE_CLASSES: usize = 256;
/// How long an overview is sent without checking the state (a dashboard at most this late).
pub const OVERVIEW_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

impl OverviewCache {
    /// The overview and its students if it was checked within [`OVERVIEW_FRESH`].
    fn fresh(&self, org: &str, class: &str, entities: u64) -> Option<(Vec<String>, web::Bytes)> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(&(org.to_owned(), class.to_owned()))
            .filter(|k| k.entities == entities && k.checked.elapsed() < OVERVIEW_FRESH)
            .map(|k| (k.version.students.clone(), k.bytes.clone()))
    }

    /// The overview if it was built from `version`; marks it checked.
    fn get(
        &self,
        org: &str,
        class: &str,
        version: &store::classes::StateVersion,
        entities: u64,
    ) -> Option<web::Bytes> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let kept = entries
            .get_mut(&(org.to_owned(), class.to_owned()))
            .filter(|k| &k.version == version && k.entities == entities)?;
        kept.checked = std::time::Instant::now();
        Some(kept.bytes.clone())
    }

    /// Forgets the organisation's overviews: a teacher's decision shows on the next read.
    pub fn forget(&self, org: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|(o, _), _| o != org);
    }

    fn put(
        &self,
        org: &str,
        class: &str,
        version: store::classes::StateVersion,
        entities: u64,
        bytes: web::Bytes,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= OVERVIEW_CACHE_CLASSES {
            // Simple and bounded: start afresh rather than track recency.
            entries.clear();
        }
        let kept = Kept {
            version,
            entities,
            checked: std::time::Instant::now(),
            bytes,
        };
        entries.insert((org.to_owned(), class.to_owned()), kept);
    }
}

/// Stable labels instead of names, in every sentence and list (`?anonymise=true`).
pub(super) fn anonymise(data: &mut ClassData, org: &str) {
    for s in &mut data.students {
        s.name = crate::privacy::anonymised_label(org, &s.student_id);
    }
}

/// The class's data, or 404.
async fn load(state: &AppState, org: &str, class: &str) -> Result<ClassData, ApiError> {
    let (org, class) = (org.to_owned(), class.to_owned());
    let now = to_millis(Utc::now());
    let t = state.signals.thresholds;
    state
        .db
        .read(move |conn| store::classes::class_data(conn, &org, &class, now, &t))
        .await?
        .ok_or_else(|| ApiError::not_found("no class with this id in your organisation"))
}

/// The class's data with its recent help on skills, which the follow-up insight reads.
async fn load_with_helps(state: &AppState, org: &str, class: &str) -> Result<ClassData, ApiError> {
    let (org, class) = (org.to_owned(), class.to_owned());
    let now = to_millis(Utc::now());
    let t = state.signals.thresholds;
    state
        .db
        .read(move |conn| {
            let Some(mut data) = store::classes::class_data(conn, &org, &class, now, &t)? else {
                return Ok(None);
            };
            let plans = store::plans::list(conn, &org, &class)?;
            data.helps = store::attention::helps(conn, &org, &class, &plans, &data.decisions, now)?;
            Ok(Some(data))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("no class with this id in your organisation"))
}

/// The class's students and skills: estimate, interval, status, confidence, flags.
///
/// Read from the maintained state in a handful of indexed queries, whatever the number of
/// stored events.
#[utoipa::path(tag = "classes",
    params(("class_id" = inline(Id), Path, description = "The class id tools send in events"), NamesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Students × skills", body = Overview),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not read this class", body = ErrorBody),
        (status = 404, description = "No such class in the caller's organisation", body = ErrorBody),
    ))]
#[get("/api/v1/classes/{class_id}/overview")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn overview(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    names: Query<NamesQuery>,
) -> Result<HttpResponse, ApiError> {
    let class = path.into_inner();
    authorise(&state, &caller, Scope::Class(&class)).await?;
    if names.anonymise() {
        // Not kept: the kept overview carries names.
        let mut data = load(&state, &caller.org, &class).await?;
        anonymise(&mut data, &caller.org);
        audit_read_marked(
            &state,
            &caller,
            "class.overview",
            Subject::Class(class.clone()),
            true,
        )
        .await?;
        return Ok(HttpResponse::Ok().json(overview_of(&data)));
    }
    // Read before the state: an entity write meanwhile makes what is built here unusable.
    let entities = state.db.entity_writes();
    if let Some((_, body)) = state.overviews.fresh(&caller.org, &class, entities) {
        audit_read(
            &state,
            &caller,
            "class.overview",
            Subject::Class(class.clone()),
        )
        .await?;
        return Ok(HttpResponse::Ok()
            .content_type("application/json")
            .body(body));
    }
    let (org, id) = (caller.org.clone(), class.clone());
    let cache = state.clone();
    let now = to_millis(Utc::now());
    let (_, body) = state
        .db
        .read(move |conn| {
            let Some(version) = store::classes::class_version(conn, &org, &id)? else {
                return Ok(None);
            };
            let students = version.students.clone();
            if let Some(bytes) = cache.overviews.get(&org, &id, &version, entities) {
                return Ok(Some((students, bytes)));
            }
            let t = cache.signals.thresholds;
            let data =
                store::classes::data_for_students(conn, &org, &id, students.clone(), now, &t)?;
            let bytes = web::Bytes::from(serde_json::to_vec(&overview_of(&data))?);
            cache
                .overviews
                .put(&org, &id, version, entities, bytes.clone());
            Ok(Some((students, bytes)))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("no class with this id in your organisation"))?;
    audit_read(
        &state,
        &caller,
        "class.overview",
        Subject::Class(class.clone()),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct InsightsQuery {
    /// At most this many insights (1–100); all by default.
    #[param(value_type = Option<usize>)]
    limit: Option<Whole<1, 100>>,
}

impl QueryParams for InsightsQuery {
    fn code(_: &str) -> &'static str {
        "invalid_limit"
    }
}

/// Plain-language insights about the class, most useful first.
///
/// Struggling students (by skill, or by domain when several skills of one domain are weak),
/// behaviour flags, and progress (most of the class mastered a skill, students ready for a
/// challenge). Dismissed calls stay silent until new evidence arrives.
#[utoipa::path(tag = "classes",
    params(("class_id" = inline(Id), Path, description = "The class id"), InsightsQuery, NamesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The insights", body = Insights),
        (status = 400, description = "A bad limit", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not read this class", body = ErrorBody),
        (status = 404, description = "No such class", body = ErrorBody),
    ))]
#[get("/api/v1/classes/{class_id}/insights")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn get_insights(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: Query<InsightsQuery>,
    names: Query<NamesQuery>,
) -> Result<HttpResponse, ApiError> {
    let class = path.into_inner();
    authorise(&state, &caller, Scope::Class(&class)).await?;
    let limit = query.limit.map(Whole::get);
    let mut data = load_with_helps(&state, &caller.org, &class).await?;
    let hide_names = names.anonymise();
    if hide_names {
        anonymise(&mut data, &caller.org);
    }
    audit_read_marked(
        &state,
        &caller,
        "class.insights",
        Subject::Class(class.clone()),
        hide_names,
    )
    .await?;
    let mut list = insights::class::insights(&data);
    if let Some(limit) = limit {
        list.truncate(limit);
    }
    let org = caller.org.clone();
    let now = data.now;
    let list = state
        .db
        .read(move |conn| {
            list.into_iter()
                .map(|insight| {
                    let examples = match &insight.skill_id {
                        Some(skill) if !insight.positive => {
                            examples_of(conn, &org, &data, &insight.students, skill)?
                        }
                        _ => Vec::new(),
                    };
                    Ok(InsightView { insight, examples })
                })
                .collect::<anyhow::Result<Vec<_>>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(Insights {
        class_id: class,
        generated_at: from_millis(now),
        insights: list,
    }))
}

/// A decision on a review item (confirm or dismiss) or an insight (done or dismiss; confirm
/// also accepted).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// confirm, dismiss, or (insights only) done.
    pub decision: Decision,
    /// An optional note (at most 2,000 characters).
    pub note: Option<String>,
}

/// What deciding on an insight recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct InsightDecided {
    pub insight_id: String,
    pub decision: Decision,
    /// Student × skill decisions recorded (one per student the insight names).
    pub recorded: usize,
    pub decided_by: String,
    #[schema(value_type = String)]
    pub decided_at: DateTime<Utc>,
}

/// Mark an insight done, or dismiss it ("wait and see"), with an optional reason.
///
/// Records the decision for each student × skill the insight rests on; done and dismissed
/// insights stay away for them until new evidence arrives (for a flag: until a new flag
/// starts), and done ones are what the follow-up ("after you acted") looks at. `confirm`
/// records agreement and silences nothing. Audited.
#[utoipa::path(tag = "classes",
    params(("class_id" = inline(Id), Path, description = "The class id"),
           ("insight_id" = inline(Id), Path, description = "The insight's id")),
    request_body = DecisionBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Recorded", body = InsightDecided),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not decide for this class", body = ErrorBody),
        (status = 404, description = "No such class, or no such insight now", body = ErrorBody),
        (status = 422, description = "Not a decision", body = ErrorBody),
    ))]
#[post("/api/v1/classes/{class_id}/insights/{insight_id}")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn decide_insight(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = params::read_body(payload, MAX_SMALL_BODY_BYTES).await?;
    let (class, insight_id) = path.into_inner();
    authorise(&state, &caller, Scope::Class(&class)).await?;
    let body: DecisionBody = params::json(
        &body,
        "invalid_decision",
        r#"{"decision": "confirm", "dismiss" or "done", "note": "…"}"#,
    )?;
    let note = params::note(body.note)?;
    let data = load_with_helps(&state, &caller.org, &class).await?;
    let insight = insights::class::insights(&data)
        .into_iter()
        .find(|i| i.id == insight_id)
        .ok_or_else(|| {
            ApiError::not_found("no such insight in this class now; reload the insights")
        })?;
    let now = to_millis(Utc::now());
    let records: Vec<DecisionRecord> = insight
        .basis
        .iter()
        .map(|b| DecisionRecord {
            student_id: b.student_id.clone(),
            skill_id: b.skill_id.clone(),
            kind: b.kind.clone(),
            decision: body.decision,
            note: note.clone(),
            // Flags are measured against the decision time (a later flag is new evidence).
            marker: if b.kind.starts_with("flag:") {
                now
            } else {
                b.marker
            },
            decided_by: caller.sub.clone(),
            decided_at: now,
            insight_id: Some(insight.id.clone()),
        })
        .collect();
    let org = caller.org.clone();
    let recorded = records.len();
    state
        .db
        .write(crate::db::Changes::Records, move |conn| {
            store::reviews::record_decisions(conn, &org, &records)
        })
        .await?;
    state.overviews.forget(&caller.org);
    super::audit::record(
        &state,
        &caller,
        "insight.decide",
        Subject::Class(class.clone()),
        None,
    )
    .await?;
    Ok(HttpResponse::Ok().json(InsightDecided {
        insight_id,
        decision: body.decision,
        recorded,
        decided_by: caller.sub,
        decided_at: from_millis(now),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct GroupsQuery {
    /// Smallest group (default 2, 1–30).
    #[param(value_type = Option<usize>)]
    min_size: Option<Whole<1, 30>>,
    /// Largest group (default 6, 1–30, at least min_size).
    #[param(value_type = Option<usize>)]
    max_size: Option<Whole<1, 30>>,
}

impl QueryParams for GroupsQuery {
    fn code(_: &str) -> &'static str {
        "invalid_group_size"
    }
}

/// Example problems are looked for in this window of the students' answers.
const EXAMPLES_WINDOW_MS: i64 = 30 * insights::DAY_MS;
/// Example problems per group or insight.
const EXAMPLES_SHOWN: usize = 3;

/// The problems of `skill` these students got wrong most lately (first tries), with their
/// most common wrong answers: the catalogue's prompts, else the items' labels.
fn examples_of(
    conn: &mut crate::db::DbConnection,
    org: &str,
    data: &ClassData,
    students: &[String],
    skill: &str,
) -> anyhow::Result<Vec<Example>> {
    let answers =
        store::items::first_answers(conn, org, students, skill, data.now - EXAMPLES_WINDOW_MS)?;
    if answers.iter().all(|a| a.correct) {
        return Ok(Vec::new());
    }
    let catalogue = store::items::catalogue(conn, org, skill)?;
    let skill = items::SkillRef {
        skill_id: skill,
        name: data.skill(skill).and_then(|s| s.name.as_deref()),
    };
    Ok(items::examples(
        &answers,
        students,
        &catalogue,
        &skill,
        EXAMPLES_SHOWN,
    ))
}

/// Suggested small groups: students who share the skill they most need.
///
/// Deterministic; a student is in at most one group; students whose estimate awaits review
/// are listed apart.
#[utoipa::path(tag = "classes",
    params(("class_id" = inline(Id), Path, description = "The class id"), GroupsQuery, NamesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The groups", body = Groups),
        (status = 400, description = "Bad sizes", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not read this class", body = ErrorBody),
        (status = 404, description = "No such class", body = ErrorBody),
    ))]
#[get("/api/v1/classes/{class_id}/groups")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn get_groups(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: Query<GroupsQuery>,
    names: Query<NamesQuery>,
) -> Result<HttpResponse, ApiError> {
    let class = path.into_inner();
    authorise(&state, &caller, Scope::Class(&class)).await?;
    let defaults = GroupBounds::default();
    let min = query.min_size.map_or(defaults.min, Whole::get);
    let max = query.max_size.map_or(defaults.max, Whole::get);
    let bounds =
        GroupBounds::new(min, max).map_err(|m| ApiError::bad_request("invalid_group_size", m))?;
    let (org, id) = (caller.org.clone(), class.clone());
    let now = to_millis(Utc::now());
    let hide_names = names.anonymise();
    let t = state.signals.thresholds;
    let (data, suggestions, views) = state
        .db
        .read(move |conn| {
            let data = store::classes::class_data(conn, &org, &id, now, &t)?;
            let Some(mut data) = data else {
                return Ok(None);
            };
            if hide_names {
                anonymise(&mut data, &org);
            }
            let mut s = groups::suggest(&data, bounds);
            let views = std::mem::take(&mut s.groups)
                .into_iter()
                .map(|mut group| {
                    let examples =
                        examples_of(conn, &org, &data, &group.students, &group.focus_skill_id)?;
                    group.items_to_revisit = examples.iter().map(|e| e.item_id.clone()).collect();
                    Ok(GroupView { group, examples })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(Some((data, s, views)))
        })
        .await?
        .ok_or_else(|| ApiError::not_found("no class with this id in your organisation"))?;
    audit_read_marked(
        &state,
        &caller,
        "class.groups",
        Subject::Class(class.clone()),
        hide_names,
    )
    .await?;
    Ok(HttpResponse::Ok().json(Groups {
        class_id: class,
        generated_at: from_millis(now),
        min_size: bounds.min,
        max_size: bounds.max,
        groups: views,
        needs_review: suggestions.needs_review,
        ready_for_challenge: suggestions.ready_for_challenge,
        not_grouped: suggestions.not_grouped,
        names: data
            .students
            .into_iter()
            .map(|s| (s.student_id, s.name))
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct ClassList {
    pub classes: Vec<ClassView>,
}

#[derive(Serialize, ToSchema)]
pub struct ClassView {
    #[schema(example = "class-5b")]
    pub class_id: String,
    pub name: Option<String>,
    pub school_id: Option<String>,
    /// Students enrolled (by the roster or by their tools' events).
    pub students: i64,
}

/// The classes the caller may see.
///
/// A teacher gets the classes they teach; an administrator every class of their organisation.
#[utoipa::path(tag = "classes",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The classes, by id", body = ClassList),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "A tool token", body = ErrorBody),
    ))]
#[get("/api/v1/classes")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn list_classes(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let filter = policy::may_list_classes(&caller)?;
    let rows = state
        .db
        .read(move |conn| crate::store::access::visible_classes(conn, &filter))
        .await?;
    Ok(HttpResponse::Ok().json(ClassList {
        classes: rows
            .into_iter()
            .map(|r| ClassView {
                class_id: r.class_id,
                name: r.name,
                school_id: r.school_id,
                students: r.students,
            })
            .collect(),
    }))
}
