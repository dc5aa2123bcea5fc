//! Building and running the HTTP application.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::{Condition, DefaultHeaders, Next};
use actix_web::{web, App, HttpResponse, HttpServer};
use anyhow::Context;
use tracing_actix_web::{RootSpanBuilder, TracingLogger};
use utoipa_actix_web::AppExt;

use crate::api::AppState;
use crate::auth::Keys;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{ApiError, ErrorBody};
use crate::ratelimit::RateLimiter;

pub use crate::jobs::purge_all;

/// How long a graceful stop (SIGTERM, SIGINT) waits for requests in flight: batches waiting for
/// the writer are bounded (`Settings::max_queued_batches`), so they commit well within it.
pub const SHUTDOWN_SECONDS: u64 = 30;

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Opens the database (applying migrations) and binds the listener; `run_until_stopped`
    /// then serves. Binding to port 0 picks a free port, which `port()` tells.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let database = settings.database.clone();
        let replica = settings.read_database.clone();
        let pool_size = settings.pool_size;
        let writer_cache = settings.sqlite_writer_cache_mib;
        let db = crate::db::blocking(move || {
            crate::auth::passwords::prepare();
            if database.is_sqlite() {
                crate::db::page_memory::reserve(pool_size, writer_cache);
            }
            let db = Db::open(&database, pool_size)?;
            db.set_writer_cache(writer_cache)?;
            match &replica {
                Some(url) => db.with_replica(url, pool_size),
                None => Ok(db),
            }
        })
        .await?;

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        spawn_refit_recovery(db.clone(), settings.signals);
        let cluster = crate::cluster::Cluster::start(&db);
        crate::jobs::spawn(db.clone(), cluster.clone(), background_jobs(&settings));
        let live = crate::live::Hub::start(&db, &settings.jwt_secret);
        let state = web::Data::new(AppState {
            appender: crate::store::events::Appender::new(db.clone(), settings.signals),
            writer_queue: crate::guard::Gate::new(settings.max_queued_batches),
            db,
            refit: settings.refit,
            login: settings.login,
            overviews: Default::default(),
            audit: Default::default(),
            live,
            lesson: settings.lesson,
            signals: settings.signals,
            cluster,
        });
        let keys = web::Data::new(Keys::new(&settings.jwt_secret));
        let limiter = settings
            .rate_limit
            .map(|limit| web::Data::new(RateLimiter::new(limit)));
        let metrics_access = web::Data::new(crate::api::metrics::MetricsAccess(
            settings.metrics_token.clone(),
        ));
        let guard = crate::guard::Guard::new(
            settings.body_deadline,
            settings.max_in_flight,
            settings.max_connections,
        );
        let counter = Arc::clone(&guard);
        let guard = web::Data::new(guard);
        let settings = Arc::new(settings);
        let cors_origins = settings.cors_origins.clone();

        let mut server = HttpServer::new(move || {
            let mut app = App::new()
                // Innermost first: the rate limit runs after CORS and the headers, so a 429
                // carries them too.
                .wrap(actix_web::middleware::from_fn(rate_limit))
                .wrap(Condition::new(
                    !cors_origins.is_empty(),
                    cors(&cors_origins),
                ))
                // Errors of the extractors become JSON here, inside the security headers.
                .wrap(actix_web::middleware::from_fn(crate::guard::guard))
                .wrap(actix_web::middleware::from_fn(record_request))
                .wrap(security_headers())
                .wrap(TracingLogger::<PrivateRootSpan>::new())
                .app_data(guard.clone())
                .app_data(metrics_access.clone())
                .app_data(state.clone())
                .app_data(keys.clone())
                .app_data(web::PathConfig::default().error_handler(|_, _| {
                    ApiError::bad_request("invalid_path", "the path cannot be read").into()
                }));
            if let Some(limiter) = &limiter {
                app = app.app_data(limiter.clone());
            }
            crate::api::routes(app.into_utoipa_app()).into_app()
        })
        .on_connect(move |_, data| counter.on_connect(data))
        // On SIGTERM/SIGINT, stop accepting and give in-flight batches time to commit.
        .shutdown_timeout(SHUTDOWN_SECONDS)
        .client_request_timeout(settings.header_deadline);
        let workers = if settings.workers > 0 {
            server = server.workers(settings.workers);
            settings.workers
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        };
        // actix counts connections per worker, and stops accepting at its own cap. The guard
        // answers requests on connections beyond `max_connections` (503, closed), so actix's
        // cap is twice that: room for those answers, and a bound on descriptors all the same.
        let accepted = settings.max_connections.saturating_mul(2);
        server = server
            .max_connections(accepted.div_ceil(workers).max(1))
            .listen(listener)?;
        Ok(Application {
            port,
            server: server.run(),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Counts each request by its route pattern and status, and times it (`GET /metrics`).
async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = std::time::Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let result = next.call(req).await;
    let status = match &result {
        Ok(response) => response.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let m = crate::metrics::metrics();
    m.http_requests
        .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
        .inc();
    m.http_seconds
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    result
}

/// The background jobs the settings ask for (run by the leading node, `jobs`).
fn background_jobs(settings: &Settings) -> Vec<crate::jobs::Job> {
    use crate::jobs::Job;
    let refit = settings
        .refit_interval
        .filter(|d| !d.is_zero())
        .map(|every| Job::Refit {
            every,
            opts: settings.refit,
            signals: settings.signals,
        });
    let retention = settings
        .retention_days
        .filter(|&d| d > 0)
        .map(|days| Job::Retention {
            days,
            every: settings.retention_interval,
        });
    refit.into_iter().chain(retention).collect()
}

/// Finishes, in the background, a refit that a crash cut short (its models stored, not every
/// state recomputed from them): `store::state::finish_interrupted_refits`.
fn spawn_refit_recovery(db: Db, signals: crate::signals::Settings) {
    actix_web::rt::spawn(async move {
        let done = crate::db::blocking(move || {
            crate::store::state::finish_interrupted_refits(&db, &signals)
        })
        .await;
        match done {
            Ok(0) => {}
            Ok(states) => tracing::info!(states, "an interrupted refit was finished"),
            Err(e) => tracing::error!(error = format!("{e:#}"), "finishing a refit failed"),
        }
    });
}

/// Headers for every answer, the dashboard's included: no framing (clickjacking), no type
/// sniffing, scripts and styles from Huddle itself only, no referrer leaking ids in URLs, and
/// nothing kept in shared caches (answers hold children's data).
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::CACHE_CONTROL, "no-store"))
}

/// CORS for the configured origins only (`--cors-origin`); without any, the middleware is off
/// and browsers refuse cross-origin calls.
fn cors(origins: &[String]) -> actix_cors::Cors {
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin)
        })
        .allowed_methods(["GET", "POST", "PUT", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::HeaderName::from_static("x-experience-api-version"),
        ])
        .max_age(3600)
}

/// Per-token rate limit (per client address without a token), answered 429 with Retry-After.
/// The health check is exempt: load balancers poll it.
async fn rate_limit(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let limiter = req.app_data::<web::Data<RateLimiter>>().cloned();
    if let Some(limiter) = limiter.filter(|_| req.path() != "/healthz") {
        if let Err(wait) = limiter.check(&rate_key(&req), std::time::Instant::now()) {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            let response = HttpResponse::TooManyRequests()
                .insert_header((header::RETRY_AFTER, seconds.max(1).to_string()))
                .json(ErrorBody::new(
                    "rate_limited",
                    format!("too many requests; try again in {} s", seconds.max(1)),
                ));
            return Ok(req.into_response(response).map_into_right_body());
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// The bucket a request draws from: the identity of a token that verifies (its organisation
/// and subject: every token of one tool shares it), else the client address. A token that does
/// not verify draws from its address's bucket, so sending junk tokens earns no allowance.
fn rate_key(req: &ServiceRequest) -> String {
    let claims = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .zip(req.app_data::<web::Data<Keys>>())
        .and_then(|(token, keys)| keys.verify(token.trim()).ok());
    match claims {
        Some(c) => format!("sub:{}:{}:{}", c.org.len(), c.org, c.sub),
        None => format!("ip:{}", crate::api::client_ip(req.request())),
    }
}

/// The request span without the query string or any header but the user agent: tokens travel
/// in the Authorization header (never logged) and the path is logged as its route pattern, so
/// ids in paths stay out of the logs too.
pub struct PrivateRootSpan;

impl RootSpanBuilder for PrivateRootSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            request_id = %uuid::Uuid::new_v4(),
            exception.message = tracing::field::Empty,
        )
    }

    /// The status and, for an error, its stable code only: an error's message may quote what
    /// the request held (an id, a rejected value), which stays out of the log.
    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let (status, error) = match outcome {
            Ok(response) => (response.status(), response.response().error()),
            Err(error) => (error.as_response_error().status_code(), Some(error)),
        };
        span.record("http.status_code", i64::from(status.as_u16()));
        span.record(
            "otel.status_code",
            if status.is_server_error() {
                "ERROR"
            } else {
                "OK"
            },
        );
        if let Some(error) = error {
            let code = error
                .as_error::<ApiError>()
                .map_or("http_error", ApiError::code);
            span.record("exception.message", code);
        }
    }
}
