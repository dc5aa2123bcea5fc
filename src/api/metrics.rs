//! `GET /metrics`: Prometheus metrics for operators, behind their own token.

use actix_web::http::header;
use actix_web::{get, web, HttpRequest, HttpResponse};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ErrorBody};

/// The operators' token for `/metrics` (`--metrics-token`); without one, `/metrics` is off.
pub struct MetricsAccess(pub Option<SecretString>);

/// Prometheus metrics (text format 0.0.4).
///
/// For operators, not for people: send `Authorization: Bearer <metrics token>`, the token set
/// with `--metrics-token` (not a Huddle JWT). Without a token configured, 404. Requests by
/// route pattern and status with latency histograms, events accepted, duplicate and rejected by
/// code, requests in flight, the writer's queue, background refits and their durations, refused
/// sign-ins, whether the node leads, open live streams.
#[utoipa::path(tag = "operations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The metrics", body = String, content_type = "text/plain"),
        (status = 401, description = "No metrics token, or the wrong one", body = ErrorBody),
        (status = 404, description = "Metrics are off (no --metrics-token)", body = ErrorBody),
    ))]
#[get("/metrics")]
pub async fn metrics(
    req: HttpRequest,
    access: Option<web::Data<MetricsAccess>>,
    state: Option<web::Data<super::AppState>>,
) -> Result<HttpResponse, ApiError> {
    let Some(expected) = access.as_ref().and_then(|a| a.0.as_ref()) else {
        return Err(ApiError::not_found(
            "metrics are off: start the service with --metrics-token",
        ));
    };
    let sent = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    // Digests of equal length compared whole: the time taken tells nothing of the token.
    let same = Sha256::digest(sent.trim().as_bytes())
        .iter()
        .zip(Sha256::digest(expected.expose_secret().as_bytes()).iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0;
    if !same {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "/metrics needs Authorization: Bearer <metrics token>",
        ));
    }
    let m = crate::metrics::metrics();
    if let Some(state) = state {
        m.live_streams
            .set(i64::try_from(state.live.open_streams()).unwrap_or(i64::MAX));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(m.render()))
}
