use actix_web::{get, web, HttpResponse};
use diesel::connection::SimpleConnection;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use crate::error::ErrorBody;

/// The service's own health (the models' health is in `/api/v1/admin/model-health`).
#[derive(Serialize, ToSchema)]
pub struct ServiceHealth {
    /// Always `ok` in a 200.
    #[schema(example = "ok")]
    status: &'static str,
}

/// 200 when the service can reach its database.
#[utoipa::path(tag = "operations",
    responses((status = 200, body = ServiceHealth), (status = 503, body = ErrorBody)))]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match state
        .db
        .read(|conn| Ok(conn.batch_execute("SELECT 1")?))
        .await
    {
        Ok(()) => HttpResponse::Ok().json(ServiceHealth { status: "ok" }),
        Err(err) => {
            tracing::warn!(error = format!("{err:#}"), "health check failed");
            HttpResponse::ServiceUnavailable().json(ErrorBody::new(
                "database_unavailable",
                "the service cannot reach its database",
            ))
        }
    }
}
