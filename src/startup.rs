//! Building and running the HTTP application.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use crate::auth::Keys;
use crate::config::Settings;
use crate::db::Db;
use crate::store::state::RefitOptions;

/// What every handler can reach.
pub struct AppState {
    pub db: Db,
    /// How `POST /api/v1/admin/refit` refits.
    pub refit: RefitOptions,
    /// Class overviews already serialised, checked against the state's version on each read.
    pub overviews: crate::api::OverviewCache,
}

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Opens the database (applying migrations) and binds the listener; `run_until_stopped`
    /// then serves. Binding to port 0 picks a free port, which `port()` tells.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let database = settings.database.clone();
        let pool_size = settings.pool_size;
        let db = crate::db::blocking(move || Db::open(&database, pool_size)).await?;

        let listener = TcpListener::bind(&settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let port = listener.local_addr()?.port();
        if let Some(every) = settings.refit_interval.filter(|d| !d.is_zero()) {
            spawn_refit_job(db.clone(), every, settings.refit);
        }
        let state = web::Data::new(AppState {
            db,
            refit: settings.refit,
            overviews: Default::default(),
        });
        let keys = web::Data::new(Keys::new(&settings.jwt_secret));
        let settings = Arc::new(settings);

        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(TracingLogger::default())
                .app_data(state.clone())
                .app_data(keys.clone())
                .configure(crate::api::routes)
        })
        // On SIGTERM/SIGINT, stop accepting and give in-flight batches time to commit.
        .shutdown_timeout(30)
        .listen(listener)?;
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
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

/// Refits every organisation's models every `every`, on the blocking pool: the fit runs outside
/// any transaction and each write is short (see `store::state::refit_db`), so ingest goes on.
/// The task ends with the server's runtime.
fn spawn_refit_job(db: Db, every: std::time::Duration, opts: RefitOptions) {
    actix_web::rt::spawn(async move {
        loop {
            // A period between the end of one refit and the start of the next.
            actix_web::rt::time::sleep(every).await;
            let db = db.clone();
            let done = crate::db::blocking(move || {
                let orgs = {
                    let mut conn = db.conn()?;
                    crate::store::state::orgs(&mut conn)?
                };
                let mut summaries = Vec::new();
                for org in orgs {
                    summaries.push(crate::store::state::refit_db(&db, &org, &opts)?);
                }
                Ok(summaries)
            })
            .await;
            match done {
                Ok(summaries) => {
                    for s in summaries {
                        tracing::info!(
                            org = %s.org,
                            skills = s.skills.len(),
                            states = s.states_written,
                            seconds = s.seconds,
                            "background refit"
                        );
                    }
                }
                Err(e) => tracing::error!(error = format!("{e:#}"), "background refit failed"),
            }
        }
    });
}
