//! The lesson as it happens: `GET …/now` (each student's state in the current sitting), the
//! same pushed as Server-Sent Events (`POST …/now/ticket`, `GET …/now/stream`), and check-ins
//! (`POST …/checkins`). The rules live in `lesson`, the queries in `store::checkins`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::access::{audit_read, authorise, Scope};
use super::params::{self, Id, NamesQuery, Query, QueryParams};
use super::AppState;
use crate::auth::{Caller, Keys};
use crate::config::MAX_SMALL_BODY_BYTES;
use crate::db::{from_millis, to_millis};
use crate::error::{ApiError, ErrorBody};
use crate::lesson::State;
use crate::live::{self, ClassKey, NowData, Pictures};
use crate::store;
use crate::store::audit::Subject;

/// A client that has not taken the previous frame within this time is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// At most this many students in one check-in (a class).
const MAX_CHECKIN_STUDENTS: usize = 40;

/// The class's current (or last) sitting.
#[derive(Debug, Serialize, ToSchema)]
pub struct SittingView {
    /// True while the class is practising.
    pub active: bool,
    #[schema(value_type = String)]
    pub started_at: DateTime<Utc>,
    #[schema(value_type = Option<String>)]
    pub ended_at: Option<DateTime<Utc>>,
}

/// One student now.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudentNowView {
    pub student_id: String,
    /// The roster name, a stable label with `?anonymise=true`, or absent.
    pub name: Option<String>,
    /// needs_person, guessing, hints, giving_up, idle, working, doing_well or not_here.
    #[schema(value_type = String, example = "needs_person")]
    pub state: State,
    /// When the state began.
    #[schema(value_type = Option<String>)]
    pub since: Option<DateTime<Utc>>,
    /// The plain reason, for the tile.
    pub reason: String,
    /// The skill of the latest answer.
    pub skill_id: Option<String>,
    pub skill_name: Option<String>,
    /// Answers in this sitting (all attempts), first tries and first tries right.
    pub answers: usize,
    pub first_tries: usize,
    pub first_tries_right: usize,
    #[schema(value_type = Option<String>)]
    pub last_answer_at: Option<DateTime<Utc>>,
    pub minutes_since_last_answer: Option<i64>,
    /// The teacher's latest check-in with the student (any day).
    #[schema(value_type = Option<String>)]
    pub last_checkin_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/classes/{class_id}/now`.
#[derive(Debug, Serialize, ToSchema)]
pub struct NowView {
    pub class_id: String,
    #[schema(value_type = String)]
    pub generated_at: DateTime<Utc>,
    /// Null when the class has not practised in the last four hours.
    pub sitting: Option<SittingView>,
    /// Students needing a person first, then guessing, hints, giving up, idle, working, doing
    /// well, not here; within a state, the longest waiting first.
    pub students: Vec<StudentNowView>,
}

/// Reads the class and works out its "now"; `None` when there is no such class.
pub async fn now_view(
    state: &AppState,
    org: &str,
    class: &str,
    anonymise: bool,
) -> Result<Option<NowView>, ApiError> {
    let (org, class) = (org.to_owned(), class.to_owned());
    let rules = state.lesson;
    let thresholds = state.signals.thresholds;
    Ok(state
        .db
        .read(move |conn| {
            let now = to_millis(Utc::now());
            let read = live::read_now(conn, &org, &class, now, !anonymise, &rules, &thresholds)?;
            let Some(read) = read else {
                return Ok(None);
            };
            let data = NowData {
                generated_at: now,
                skill_names: Arc::new(live::skill_names(conn, &org, &read.class)?),
                class: read.class,
                names: Arc::new(read.names),
                last_checkins: Arc::new(read.last_checkins),
            };
            Ok(Some(view(&org, &class, &data, anonymise)))
        })
        .await?)
}

/// The class's "now" as a reader sees it: names, or stable labels with `anonymise`.
fn view(org: &str, class: &str, data: &NowData, anonymise: bool) -> NowView {
    let now = data.generated_at;
    let students = data
        .class
        .students
        .iter()
        .map(|(id, s)| StudentNowView {
            name: crate::privacy::shown_name(
                org,
                id,
                data.names.get(id).map(String::as_str),
                anonymise,
            ),
            last_checkin_at: data.last_checkins.get(id).copied().map(from_millis),
            student_id: id.clone(),
            state: s.state,
            since: s.since.map(from_millis),
            reason: s.reason.clone(),
            skill_name: s
                .skill_id
                .as_ref()
                .and_then(|k| data.skill_names.get(k).cloned().flatten()),
            skill_id: s.skill_id.clone(),
            answers: s.answers,
            first_tries: s.first_tries,
            first_tries_right: s.first_tries_right,
            last_answer_at: s.last_answer_at.map(from_millis),
            minutes_since_last_answer: s.last_answer_at.map(|at| (now - at).max(0) / 60_000),
        })
        .collect();
    NowView {
        class_id: class.to_owned(),
        generated_at: from_millis(now),
        sitting: data.class.sitting.map(|s| SittingView {
            active: s.is_active(),
            started_at: from_millis(s.started_at),
            ended_at: s.ended_at.map(from_millis),
        }),
        students,
    }
}

fn no_class() -> ApiError {
    ApiError::not_found("no class with this id in your organisation")
}

/// Who needs a person right now: each enrolled student's state in the class's current sitting.
///
/// Computed from this sitting's answers only (and the teacher's check-ins in it); the rules
/// are in docs/lesson.md. `?anonymise=true` replaces names with stable labels.
#[utoipa::path(tag = "lesson",
    params(("class_id" = inline(Id), Path, description = "The class id"), NamesQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The class now", body = NowView),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not read this class", body = ErrorBody),
        (status = 404, description = "No such class", body = ErrorBody),
    ))]
#[get("/api/v1/classes/{class_id}/now")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn get_now(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    names: Query<NamesQuery>,
) -> Result<HttpResponse, ApiError> {
    let class = path.into_inner();
    let anonymise = names.anonymise();
    authorise(&state, &caller, Scope::Class(&class)).await?;
    audit_read(&state, &caller, "class.now", Subject::Class(class.clone())).await?;
    let view = now_view(&state, &caller.org, &class, anonymise)
        .await?
        .ok_or_else(no_class)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(view))
}

/// A stream ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamTicket {
    /// Pass as `?ticket=` to `GET …/now/stream` within a minute.
    pub ticket: String,
    #[schema(value_type = String)]
    pub expires_at: DateTime<Utc>,
    /// The stream's path with the ticket.
    pub stream_url: String,
}

/// The `exp` of the bearer token the caller was verified with (seconds).
fn token_expiry(req: &HttpRequest, keys: &Keys) -> Option<i64> {
    let h = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = h
        .strip_prefix("Bearer ")
        .or_else(|| h.strip_prefix("bearer "))?;
    keys.verify(token.trim()).ok().map(|c| c.exp)
}

/// A one-minute ticket to open the class's live stream.
///
/// A browser's `EventSource` cannot send an Authorization header: the page asks for a ticket
/// with its token and opens `…/now/stream?ticket=…`. The ticket names the caller and the class
/// only; the stream it opens ends when the token it was asked with expires.
#[utoipa::path(tag = "lesson",
    params(("class_id" = inline(Id), Path, description = "The class id")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "A ticket", body = StreamTicket),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not read this class", body = ErrorBody),
        (status = 404, description = "No such class", body = ErrorBody),
    ))]
#[post("/api/v1/classes/{class_id}/now/ticket")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn post_ticket(
    caller: Caller,
    state: web::Data<AppState>,
    keys: web::Data<Keys>,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let class = path.into_inner();
    authorise(&state, &caller, Scope::Class(&class)).await?;
    let (org, c) = (caller.org.clone(), class.clone());
    let exists = state
        .db
        .read(move |conn| store::classes::class_exists(conn, &org, &c))
        .await?;
    if !exists {
        return Err(no_class());
    }
    let now = Utc::now().timestamp();
    let until = token_expiry(&req, &keys).unwrap_or(now);
    let (ticket, exp) =
        state
            .live
            .ticket(&caller.sub, caller.role, &caller.org, &class, until, now)?;
    let stream_url = format!(
        "/api/v1/classes/{}/now/stream?ticket={ticket}",
        utf8_path(&class)
    );
    Ok(HttpResponse::Created().json(StreamTicket {
        ticket,
        expires_at: DateTime::from_timestamp(exp, 0).unwrap_or_default(),
        stream_url,
    }))
}

/// Class ids are `A-Za-z0-9._:-` when they come from events; a roster's may hold more.
fn utf8_path(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._:-".contains(c) {
                c.to_string()
            } else {
                c.to_string().bytes().map(|b| format!("%{b:02X}")).collect()
            }
        })
        .collect()
}

fn frame(event: &str, data: &impl Serialize) -> web::Bytes {
    let json = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
    web::Bytes::from(format!("event: {event}\ndata: {json}\n\n"))
}

/// How a stream is opened without an Authorization header.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// A stream ticket from POST …/now/ticket
    ticket: Option<String>,
}

impl QueryParams for StreamQuery {}

/// The class now, pushed as Server-Sent Events.
///
/// Each `now` event carries the whole `GET …/now` answer: sent at once, after every answer or
/// check-in of the class (from any node), and at least every 15 seconds. Authenticated by
/// `?ticket=` (`POST …/now/ticket`) or an Authorization header. The stream ends with an `end`
/// event when the token it was opened with expires; a client that does not read for 10 seconds
/// is dropped; a user may hold 4 streams at once.
#[utoipa::path(tag = "lesson",
    params(("class_id" = inline(Id), Path, description = "The class id"), StreamQuery, NamesQuery),
    responses(
        (status = 200, description = "text/event-stream of `now` events (NowView)", content_type = "text/event-stream", body = String),
        (status = 401, description = "No valid ticket or token", body = ErrorBody),
        (status = 403, description = "Not allowed to read this class", body = ErrorBody),
        (status = 404, description = "No such class", body = ErrorBody),
        (status = 429, description = "Too many open streams for this user", body = ErrorBody),
    ))]
#[get("/api/v1/classes/{class_id}/now/stream")]
#[tracing::instrument(skip_all)]
pub async fn get_stream(
    state: web::Data<AppState>,
    keys: web::Data<Keys>,
    path: web::Path<String>,
    query: Query<StreamQuery>,
    names: Query<NamesQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let class = path.into_inner();
    let anonymise = names.anonymise();
    let (caller, until) = match &query.ticket {
        Some(t) => {
            let t = state.live.check_ticket(t).ok_or_else(|| {
                ApiError::unauthorized(
                    "invalid_ticket",
                    "the stream ticket is not valid or has expired: ask for a new one",
                )
            })?;
            if t.class_id != class {
                return Err(ApiError::forbidden("this ticket is for another class"));
            }
            let caller = Caller {
                sub: t.sub,
                role: t.stream_role,
                org: t.stream_org,
                classes: None,
            };
            (caller, t.until)
        }
        None => {
            use actix_web::FromRequest;
            let caller = Caller::extract(&req).await?;
            let until = token_expiry(&req, &keys).unwrap_or(0);
            (caller, until)
        }
    };
    authorise(&state, &caller, Scope::Class(&class)).await?;
    let slot = state.live.open_stream(&caller.sub).ok_or_else(|| {
        ApiError::too_many(
            "too_many_streams",
            format!(
                "you have {} live streams open already: close one first",
                crate::live::STREAMS_PER_USER
            ),
            5,
        )
    })?;
    audit_read(
        &state,
        &caller,
        "class.now_stream",
        Subject::Class(class.clone()),
    )
    .await?;
    let key = ClassKey {
        org: caller.org.clone(),
        class: class.clone(),
    };
    // The first frame is read for this stream; the next ones are the class's pictures read
    // after it, shared with every stream of the class on this server.
    let opened = Instant::now();
    let mut pictures = state.live.watch(
        &state.db,
        state.lesson,
        state.signals.thresholds,
        key.clone(),
    );
    let first = now_view(&state, &caller.org, &class, anonymise)
        .await?
        .ok_or_else(no_class)?;

    let (tx, rx) = tokio::sync::mpsc::channel::<web::Bytes>(1);
    let lasts = Duration::from_secs(u64::try_from(until - Utc::now().timestamp()).unwrap_or(0));
    actix_web::rt::spawn(async move {
        let _slot = slot;
        let end = tokio::time::sleep(lasts);
        tokio::pin!(end);
        let mut next = frame("now", &first);
        loop {
            // A client that does not take the frame in time is dropped, not buffered for.
            if tx.send_timeout(next, SEND_TIMEOUT).await.is_err() {
                break;
            }
            tokio::select! {
                _ = &mut end => {
                    let bye = frame("end", &serde_json::json!({"reason": "token_expired"}));
                    let _ = tx.send_timeout(bye, SEND_TIMEOUT).await;
                    break;
                }
                // The client went away: give the stream's place back now.
                _ = tx.closed() => break,
                picture = newer(&mut pictures, opened) => match picture {
                    Some(p) => next = frame("now", &view(&key.org, &key.class, &p.data, anonymise)),
                    // The class is gone, or the server stops.
                    None => break,
                },
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// The class's next picture read after `opened`; `None` when no more will come.
async fn newer(pictures: &mut Pictures, opened: Instant) -> Option<Arc<live::Picture>> {
    loop {
        pictures.changed().await.ok()?;
        let p = pictures.borrow_and_update().clone();
        if let Some(p) = p.filter(|p| p.read_at >= opened) {
            return Some(p);
        }
    }
}

/// `POST /api/v1/classes/{class_id}/checkins`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCheckins {
    /// Students of the class, 1 to 40, each once.
    pub student_ids: Vec<String>,
    /// The skill the teacher helped with, if one.
    pub skill_id: Option<String>,
    /// A short note (at most 2,000 characters).
    pub note: Option<String>,
}

/// A stored check-in.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckinView {
    #[schema(example = "checkin-7d0c6c2b8f7e4d1a9c3b2a1f0e9d8c7b")]
    pub id: String,
    pub class_id: String,
    pub student_id: String,
    pub skill_id: Option<String>,
    pub note: Option<String>,
    /// The user who checked in.
    pub checked_by: String,
    #[schema(value_type = String)]
    pub at: DateTime<Utc>,
}

impl From<store::checkins::CheckinRow> for CheckinView {
    fn from(r: store::checkins::CheckinRow) -> Self {
        CheckinView {
            id: r.checkin_id,
            class_id: r.class_id,
            student_id: r.student_id,
            skill_id: r.skill_id,
            note: r.note,
            checked_by: r.checked_by,
            at: from_millis(r.at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Checkins {
    pub checkins: Vec<CheckinView>,
}

fn check_checkin(body: &NewCheckins, enrolled: &[String]) -> Result<(), ApiError> {
    if body.student_ids.is_empty() || body.student_ids.len() > MAX_CHECKIN_STUDENTS {
        return Err(ApiError::unprocessable(
            "invalid_checkin",
            format!("a check-in names from 1 to {MAX_CHECKIN_STUDENTS} students"),
        ));
    }
    super::params::class_students(
        "student_ids",
        &body.student_ids,
        enrolled,
        "invalid_checkin",
    )
}

/// The teacher checked in with students.
///
/// Stored with who and when, audited, shown on the student page and in the student's export.
/// In the current sitting it clears the students' needs-a-person (and guessing, hints, giving
/// up) state until new answers show it again.
#[utoipa::path(tag = "lesson",
    params(("class_id" = inline(Id), Path, description = "The class id")),
    request_body = NewCheckins,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Stored", body = Checkins),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "The token may not act for this class", body = ErrorBody),
        (status = 404, description = "No such class", body = ErrorBody),
        (status = 422, description = "Not a valid check-in (unknown student, ...)", body = ErrorBody),
    ))]
#[post("/api/v1/classes/{class_id}/checkins")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn post_checkins(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = params::read_body(payload, MAX_SMALL_BODY_BYTES).await?;
    let class = path.into_inner();
    authorise(&state, &caller, Scope::Class(&class)).await?;
    let body: NewCheckins = params::json(
        &body,
        "invalid_checkin",
        r#"{"student_ids": ["…"], "skill_id": "…", "note": "…"}"#,
    )?;
    let note = params::note(body.note.clone())?;
    let skill = body
        .skill_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if skill.as_ref().is_some_and(|s| s.chars().count() > 128) {
        return Err(ApiError::unprocessable(
            "invalid_checkin",
            "skill_id is at most 128 characters",
        ));
    }
    let (org, c, who) = (caller.org.clone(), class.clone(), caller.clone());
    let at = to_millis(Utc::now());
    let rows = state
        .db
        .write(crate::db::Changes::Records, move |conn| {
            use diesel::Connection;
            if !store::classes::class_exists(conn, &org, &c)? {
                return Ok(Err(no_class()));
            }
            let enrolled = store::classes::class_students(conn, &org, &c)?;
            if let Err(e) = check_checkin(&body, &enrolled) {
                return Ok(Err(e));
            }
            conn.transaction(|conn| {
                let rows = store::checkins::insert(
                    conn,
                    &org,
                    &c,
                    &body.student_ids,
                    skill.as_deref(),
                    note.as_deref(),
                    &who.sub,
                    at,
                )?;
                for r in &rows {
                    store::audit::record(
                        conn,
                        &who,
                        "student.checkin",
                        Subject::Student(r.student_id.clone()),
                        None,
                    )?;
                }
                Ok::<_, anyhow::Error>(Ok(rows))
            })
        })
        .await??;
    state
        .live
        .notify_checkins(&state.db, &caller.org, &class)
        .await;
    Ok(HttpResponse::Created().json(Checkins {
        checkins: rows.into_iter().map(CheckinView::from).collect(),
    }))
}
