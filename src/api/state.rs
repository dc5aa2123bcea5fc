//! What every handler can reach: the application's shared state, built once by
//! `startup::Application::build` and handed to each worker.

use std::sync::Arc;

use crate::auth::throttle::LoginPolicy;
use crate::db::Db;
use crate::kt::RefitOptions;

pub struct AppState {
    pub db: Db,
    /// How `POST /api/v1/admin/refit` refits.
    pub refit: RefitOptions,
    /// How failed sign-ins are slowed and locked.
    pub login: LoginPolicy,
    /// Class overviews already serialised, checked against the state's version on each read.
    pub overviews: super::OverviewCache,
    /// Audit entries waiting to be written together (`api::audit::record`).
    pub audit: Arc<std::sync::Mutex<super::AuditQueue>>,
    /// Appends events through `db`'s writer, remembering what it knows between batches.
    pub appender: crate::store::events::Appender,
    /// Batches waiting for the writer or being written; a batch beyond the cap is answered
    /// 503 `writer_busy` instead of waiting (`Settings::max_queued_batches`).
    pub writer_queue: Arc<crate::guard::Gate>,
    /// Live notices of new answers and check-ins, and the open streams (`live`).
    pub live: Arc<crate::live::Hub>,
    /// The lesson's rules (the sitting, the states).
    pub lesson: crate::lesson::Rules,
    /// The behaviour signals: on or off, and their thresholds (refits and reads use them).
    pub signals: crate::signals::Settings,
    /// This node's place among the nodes on one database: whether it leads, and its listener.
    pub cluster: Arc<crate::cluster::Cluster>,
}
