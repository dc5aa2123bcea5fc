//! `GET /api/v1/admin/audit`, and the helper handlers use to record reads.

use actix_web::{get, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::params::Id;
use super::AppState;
use crate::auth::{policy, Caller};
use crate::error::{ApiError, ErrorBody};
use crate::store::audit::{AuditQuery, Subject};

/// Records an audit entry before the data is sent: a read that cannot be accounted for is
/// not served. Entries of concurrent requests share one transaction (group commit), so a
/// class page read by many at once costs one synced write, not one each.
pub(crate) async fn record(
    state: &AppState,
    caller: &Caller,
    action: &'static str,
    subject: Subject,
    detail: Option<&'static str>,
) -> Result<(), ApiError> {
    let (done, written) = tokio::sync::oneshot::channel();
    let entry = Entry {
        caller: caller.clone(),
        action,
        subject,
        detail,
        done,
    };
    let start_writer = {
        let mut queue = state.audit.lock().unwrap_or_else(|p| p.into_inner());
        queue.pending.push(entry);
        !std::mem::replace(&mut queue.writing, true)
    };
    if start_writer {
        let (db, queue) = (state.db.clone(), state.audit.clone());
        actix_web::rt::spawn(async move { write_pending(&db, &queue).await });
    }
    match written.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(message)) => Err(ApiError::Internal(anyhow::anyhow!(message))),
        Err(_) => Err(ApiError::Internal(anyhow::anyhow!(
            "the audit writer stopped"
        ))),
    }
}

/// Audit entries waiting for the writer, and whether it runs.
#[derive(Default)]
pub struct AuditQueue {
    pending: Vec<Entry>,
    writing: bool,
}

struct Entry {
    caller: Caller,
    action: &'static str,
    subject: Subject,
    detail: Option<&'static str>,
    done: tokio::sync::oneshot::Sender<Result<(), String>>,
}

/// Writes what is pending, one transaction per round, until nothing is left.
async fn write_pending(db: &crate::db::Db, queue: &std::sync::Mutex<AuditQueue>) {
    loop {
        let batch = {
            let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
            if queue.pending.is_empty() {
                queue.writing = false;
                return;
            }
            std::mem::take(&mut queue.pending)
        };
        let rows: Vec<_> = batch
            .iter()
            .map(|e| (e.caller.clone(), e.action, e.subject.clone(), e.detail))
            .collect();
        let result = db
            .write(crate::db::Changes::Records, move |conn| {
                use diesel::Connection;
                conn.transaction(|c| {
                    for (caller, action, subject, detail) in rows {
                        crate::store::audit::record(c, &caller, action, subject, detail)?;
                    }
                    Ok(())
                })
            })
            .await
            .map_err(|e| format!("{e:#}"));
        for entry in batch {
            let _ = entry.done.send(result.clone());
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Entries at or after this time (RFC 3339 or YYYY-MM-DD).
    from: Option<String>,
    /// Entries before this time (RFC 3339 or YYYY-MM-DD, that day excluded).
    to: Option<String>,
    /// Only entries about this student (or class).
    #[param(inline, value_type = Option<Id>)]
    subject_id: Option<String>,
    /// Only entries of this user (a token's `sub`).
    actor: Option<String>,
    /// The next page: entries older than this id (the previous page's `next_before`).
    before: Option<i64>,
    /// At most this many entries (default 100, at most 1,000).
    limit: Option<i64>,
}

impl super::params::QueryParams for AuditParams {}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntryView>,
    /// Pass as `before` for the next page; absent on the last page.
    pub next_before: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntryView {
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    /// Who: a user id, or a tool's name.
    pub actor: String,
    pub actor_role: String,
    /// What: student.read, student.export, student.erase, roster.upload, class.overview, ...
    #[schema(example = "student.read")]
    pub action: String,
    /// student, class or organisation.
    pub subject_kind: String,
    /// The student's or class's id; absent for an erased student.
    pub subject_id: Option<String>,
    pub detail: Option<String>,
}

fn time(value: Option<&str>, field: &str) -> Result<Option<i64>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(value) {
        return Ok(Some(t.timestamp_millis()));
    }
    if let Some(d) = crate::reports::parse_date(value) {
        return Ok(Some(
            d.and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp_millis(),
        ));
    }
    Err(ApiError::bad_request(
        "invalid_query",
        format!("{field} must be a date (YYYY-MM-DD) or an RFC 3339 time"),
    ))
}

/// The audit log of the caller's organisation.
///
/// Who read or changed student-level data, what and when, newest first. Administrators only.
#[utoipa::path(tag = "administration",
    params(AuditParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of the audit log", body = AuditPage),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 401, description = "No valid token", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
#[get("/api/v1/admin/audit")]
#[tracing::instrument(skip_all, fields(org = %caller.org))]
pub async fn list_audit(
    caller: Caller,
    state: web::Data<AppState>,
    params: super::params::Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    policy::may_administer(&caller)?;
    let p = params.0;
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be between 1 and 1000",
        ));
    }
    let query = AuditQuery {
        from: time(p.from.as_deref(), "from")?,
        to: time(p.to.as_deref(), "to")?,
        subject_id: p.subject_id,
        actor_sub: p.actor,
        before_id: p.before,
        limit,
    };
    let org = caller.org;
    let entries = state
        .db
        .read(move |conn| crate::store::audit::list(conn, &org, &query))
        .await?;
    let next_before = (entries.len() as i64 == limit)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(HttpResponse::Ok().json(AuditPage {
        entries: entries
            .into_iter()
            .map(|e| AuditEntryView {
                id: e.id,
                at: crate::util::rfc3339(e.at),
                actor: e.actor_sub,
                actor_role: e.actor_role,
                action: e.action,
                subject_kind: e.subject_kind,
                subject_id: e.subject_id,
                detail: e.detail,
            })
            .collect(),
        next_before,
    }))
}
