//! The request guard: what every request passes before a handler sees it, and what every error
//! answer becomes on its way out.
//!
//! - a cap on connections open at once: a request on a connection beyond it is answered 503
//!   `overloaded` (`Retry-After`) and the connection closed, instead of the connection waiting
//!   unanswered in the listen queue;
//! - a cap on requests in flight (503 `overloaded`, `Retry-After`), so that slow clients cannot
//!   take every file descriptor and starve `/healthz`, which is exempt from both caps;
//! - a deadline for reading the body (408 `body_timeout`), the header deadline being the HTTP
//!   layer's own (`Settings::header_deadline`);
//! - no control characters in the path or the query (400 `invalid_characters`): PostgreSQL
//!   refuses a NUL in text, and ids never hold one;
//! - bodies are JSON (or CSV for a roster), never compressed: 415 otherwise;
//! - any error answer that is not JSON yet (actix's own 404/405/413 text) becomes
//!   `{"error": {"code", "message"}}` with the same status.
//!
//! [`Gate`] is the one bounded count behind the caps, and behind the ingest writer's queue
//! (`api::events`: 503 `writer_busy` when too many batches wait).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{header, Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpResponse};

use crate::error::ErrorBody;

/// How many of something are open at once, and the most that may be.
#[derive(Debug)]
pub struct Gate {
    cap: usize,
    open: AtomicUsize,
}

/// One place in a [`Gate`], given back when dropped.
#[derive(Debug)]
pub struct Pass(Arc<Gate>);

impl Gate {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Gate {
            cap,
            open: AtomicUsize::new(0),
        })
    }

    /// A place, or None when `cap` are taken.
    pub fn enter(self: &Arc<Self>) -> Option<Pass> {
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.cap {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Pass(Arc::clone(self)))
    }

    /// How many places are taken now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Drop for Pass {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The guard's limits, shared by every worker.
#[derive(Debug)]
pub struct Guard {
    pub body_deadline: Duration,
    requests: Arc<Gate>,
    connections: Arc<Gate>,
}

impl Guard {
    pub fn new(body_deadline: Duration, max_in_flight: usize, max_connections: usize) -> Arc<Self> {
        Arc::new(Guard {
            body_deadline,
            requests: Gate::new(max_in_flight),
            connections: Gate::new(max_connections),
        })
    }

    /// Counts a new connection; for `HttpServer::on_connect`, which keeps what it is given in
    /// the connection's data until the connection closes.
    pub fn on_connect(&self, data: &mut actix_web::dev::Extensions) {
        data.insert(Connection(self.connections.enter()));
    }
}

/// A connection's place under the cap; None when it came beyond it.
struct Connection(Option<Pass>);

/// Counts one request in flight while alive.
struct InFlight {
    _pass: Pass,
}

impl InFlight {
    fn enter(gate: &Arc<Gate>) -> Option<Self> {
        let pass = gate.enter()?;
        crate::metrics::metrics().http_in_flight.inc();
        Some(InFlight { _pass: pass })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        crate::metrics::metrics().http_in_flight.dec();
    }
}

/// 503 `overloaded`, to be retried in a second.
fn overloaded() -> HttpResponse {
    HttpResponse::ServiceUnavailable()
        .insert_header((header::RETRY_AFTER, "1"))
        .json(ErrorBody::new(
            "overloaded",
            "the service is busy; try again in a second",
        ))
}

/// The path the roster upload takes: the one body that may be CSV.
const ROSTER_PATH: &str = "/api/v1/admin/roster";

pub async fn guard(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(guard) = req
        .app_data::<web::Data<Arc<Guard>>>()
        .map(|g| Arc::clone(g))
    else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let _counted = if req.path() == "/healthz" {
        None
    } else {
        let beyond_cap = req
            .conn_data::<Connection>()
            .is_some_and(|connection| connection.0.is_none());
        if beyond_cap {
            // Closed after the answer, so its place goes to a connection under the cap.
            let mut response = overloaded();
            response
                .head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
            return Ok(req.into_response(response));
        }
        match InFlight::enter(&guard.requests) {
            Some(counted) => Some(counted),
            None => return Ok(req.into_response(overloaded())),
        }
    };

    if let Some(refusal) = refusal(&req) {
        return Ok(req.into_response(refusal));
    }

    let deadline = guard.body_deadline;
    let (http, payload) = req.into_parts();
    let payload = with_deadline(payload, deadline);
    let req = ServiceRequest::from_parts(http, payload);
    let response = next.call(req).await?.map_into_boxed_body();
    Ok(as_json_error(response))
}

/// A request refused before any handler: control characters in the path or query, a body
/// of another type than JSON, a compressed body.
fn refusal(req: &ServiceRequest) -> Option<HttpResponse> {
    let uri = req.uri();
    if has_encoded_control(uri.path()) || uri.query().is_some_and(has_encoded_control) {
        return Some(HttpResponse::BadRequest().json(ErrorBody::new(
            "invalid_characters",
            "the path or the query holds a control character",
        )));
    }
    if let Some(encoding) = req.headers().get(header::CONTENT_ENCODING) {
        let identity = encoding
            .to_str()
            .is_ok_and(|e| e.trim().eq_ignore_ascii_case("identity"));
        if !identity {
            return Some(unsupported(
                "unsupported_encoding",
                "send the body uncompressed (no Content-Encoding)",
            ));
        }
    }
    let has_body = [Method::POST, Method::PUT, Method::PATCH].contains(req.method());
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE).filter(|_| has_body) {
        let csv_allowed = req.path() == ROSTER_PATH;
        if !acceptable_type(content_type.to_str().unwrap_or(""), csv_allowed) {
            return Some(unsupported(
                "unsupported_media_type",
                if csv_allowed {
                    "send the body as application/json or text/csv"
                } else {
                    "send the body as application/json"
                },
            ));
        }
    }
    None
}

fn unsupported(code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(StatusCode::UNSUPPORTED_MEDIA_TYPE).json(ErrorBody::new(code, message))
}

/// `application/json`, `application/…+json` (xAPI, Caliper), or `text/csv` where allowed;
/// parameters such as `charset` are ignored.
pub fn acceptable_type(content_type: &str, csv_allowed: bool) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
        || (csv_allowed && essence == "text/csv")
}

/// A percent-encoded control character (`%00`–`%1F`, `%7F`) or a raw one.
pub fn has_encoded_control(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().any(|c| c.is_ascii_control())
        || b.windows(3).any(|w| {
            w[0] == b'%'
                && match (w[1], w[2].to_ascii_uppercase()) {
                    (b'0' | b'1', c) => c.is_ascii_hexdigit(),
                    (b'7', b'F') => true,
                    _ => false,
                }
        })
}

/// The body as a stream that fails with `TimedOut` once `deadline` has passed since the
/// request arrived: `api::params::read_body` answers that 408.
fn with_deadline(payload: Payload, deadline: Duration) -> Payload {
    use futures_util::StreamExt;
    let until = actix_web::rt::time::Instant::now() + deadline;
    let stream = futures_util::stream::unfold(Some(payload), move |state| async move {
        let mut payload = state?;
        let left = until.saturating_duration_since(actix_web::rt::time::Instant::now());
        match actix_web::rt::time::timeout(left, payload.next()).await {
            Ok(Some(chunk)) => Some((chunk, Some(payload))),
            Ok(None) => None,
            Err(_) => Some((
                Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the body did not arrive in time",
                ))),
                None,
            )),
        }
    });
    let boxed: std::pin::Pin<
        Box<dyn futures_util::Stream<Item = Result<web::Bytes, PayloadError>>>,
    > = Box::pin(stream);
    Payload::from(boxed)
}

/// Whether a body read failed on the deadline.
pub fn timed_out(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// The answer 408 `body_timeout`.
pub fn body_timeout() -> crate::error::ApiError {
    crate::error::ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "body_timeout",
        "the body did not arrive in time; send it again",
    )
}

/// An error answer with a body that is not JSON gets the error shape, with a code from its
/// status (actix's extractors answer plain text).
fn as_json_error(response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        return response;
    }
    let timed_out_body = response
        .response()
        .error()
        .and_then(|e| e.as_error::<PayloadError>())
        .is_some_and(timed_out);
    let (status, (code, message)) = if timed_out_body {
        let s = StatusCode::REQUEST_TIMEOUT;
        (s, describe(s))
    } else {
        (status, describe(status))
    };
    let (req, old) = response.into_parts();
    let mut new = HttpResponse::build(status).json(ErrorBody::new(code, message));
    // Headers such as Retry-After or Allow stay.
    for (name, value) in old.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            new.headers_mut().insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, new)
}

fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status {
        StatusCode::BAD_REQUEST => ("bad_request", "the request cannot be read"),
        StatusCode::NOT_FOUND => ("not_found", "there is nothing here"),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this method is not allowed here"),
        StatusCode::REQUEST_TIMEOUT => ("body_timeout", "the request did not arrive in time"),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the body is too large"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            "unsupported_media_type",
            "send the body as application/json",
        ),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => {
            ("headers_too_large", "the request's headers are too large")
        }
        s if s.is_server_error() => (
            "internal_error",
            "something went wrong on our side; the request can be retried",
        ),
        _ => ("bad_request", "the request was refused"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_found_encoded_or_raw() {
        assert!(has_encoded_control("/api/v1/students/x%00"));
        assert!(has_encoded_control("a=%1b%5B31m"));
        assert!(has_encoded_control("a=%7f"));
        assert!(!has_encoded_control("/api/v1/students/stu-0042"));
        assert!(!has_encoded_control("as_of=2026-01-01&q=%20%2F"));
    }

    #[test]
    fn json_and_csv_only_where_allowed() {
        assert!(acceptable_type("application/json; charset=utf-8", false));
        assert!(acceptable_type("application/ld+json", false));
        assert!(acceptable_type("text/csv", true));
        assert!(!acceptable_type("text/csv", false));
        assert!(!acceptable_type("application/x-www-form-urlencoded", false));
        assert!(!acceptable_type("", false));
    }
}
