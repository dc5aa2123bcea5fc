//! Live updates for the lesson: the notify stage of the write path and the stream side.
//!
//! After a batch commits, the handler says "new answers"; after a check-in, "class X's
//! check-ins changed". On SQLite (one node) the notice goes straight to an in-process broadcast;
//! on PostgreSQL it is sent with `NOTIFY huddle_now`, and every node's listener (its own
//! connection, `LISTEN huddle_now`) puts it on its broadcast, so a stream held by one node hears
//! of answers ingested by another. A notice carries no data: it wakes the node's live view
//! (`feed`), which reads the new events by seq once for all its streams, so a missed notice
//! costs a moment's delay (the live view also looks every second), never a wrong picture.
//!
//! Streams are opened with a short-lived ticket (`EventSource` sends no header) and counted
//! per user; see docs/lesson.md.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

mod feed;

pub use feed::{read_class, read_now, skill_names, ClassRead, NowData, NowRead, Picture, Pictures};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::auth::Role;
use crate::db::{Db, DbConnection};

/// The PostgreSQL channel the nodes notify each other on.
const CHANNEL: &str = "huddle_now";
/// Notices kept for the live view while it reads; if it falls further behind it reads every
/// class's check-ins again (a notice carries no data, so nothing is lost).
const BUFFER: usize = 1024;
/// Open streams per user on one node.
pub const STREAMS_PER_USER: usize = 4;
/// How long a stream ticket may be used to open a stream.
pub const TICKET_TTL: Duration = Duration::from_secs(60);
const TICKET_AUDIENCE: &str = "huddle-now-stream";

/// A class of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClassKey {
    pub org: String,
    pub class: String,
}

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// New answers were stored (the live view finds them by seq).
    Answers,
    /// A class's check-ins changed.
    Checkins(ClassKey),
}

impl Notice {
    fn payload(&self) -> String {
        match self {
            Notice::Answers => "answers".into(),
            Notice::Checkins(k) => format!("checkins\u{1f}{}\u{1f}{}", k.org, k.class),
        }
    }

    fn parse(payload: &str) -> Option<Self> {
        if payload == "answers" {
            return Some(Notice::Answers);
        }
        let (org, class) = payload
            .strip_prefix("checkins\u{1f}")?
            .split_once('\u{1f}')?;
        Some(Notice::Checkins(ClassKey {
            org: org.to_owned(),
            class: class.to_owned(),
        }))
    }
}

/// What a stream ticket holds: who opened it, for which class, until when the stream may run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub sub: String,
    /// The caller's role and organisation (named apart from a token's so a ticket is never
    /// taken for one).
    pub stream_role: Role,
    pub stream_org: String,
    pub class_id: String,
    /// The expiry of the token the ticket was asked with: the stream ends then (s).
    pub until: i64,
    pub exp: i64,
    pub aud: String,
}

pub struct Hub {
    tx: broadcast::Sender<Notice>,
    /// Send notices through PostgreSQL (several nodes) rather than in process.
    through_postgres: bool,
    streams: Mutex<HashMap<String, usize>>,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The classes this node's streams watch (see `feed`) ...
    watched: Mutex<feed::Watched>,
    /// ... and the live view's wake-up when one more is watched.
    wake: tokio::sync::Notify,
}

impl Hub {
    /// The hub of one node. On PostgreSQL it starts the listener thread, which ends when the
    /// hub is dropped.
    pub fn start(db: &Db, secret: &SecretString) -> Arc<Hub> {
        let (tx, _) = broadcast::channel(BUFFER);
        let bytes = secret.expose_secret().as_bytes();
        let url = match db.url() {
            crate::db::DbUrl::Postgres(url) => Some(url.clone()),
            crate::db::DbUrl::Sqlite(_) => None,
        };
        let hub = Arc::new(Hub {
            tx,
            through_postgres: url.is_some(),
            streams: Mutex::default(),
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            watched: Mutex::default(),
            wake: tokio::sync::Notify::new(),
        });
        if let Some(url) = url {
            let weak = Arc::downgrade(&hub);
            std::thread::Builder::new()
                .name("huddle-listen".into())
                .spawn(move || listen(&url, &weak))
                .ok();
        }
        hub
    }

    /// Tells every node that answers of these classes were stored. Called after the commit;
    /// a failure is logged, never the request's (the data is stored; the live view also looks
    /// for new events every second).
    pub async fn notify(&self, db: &Db, _org: &str, classes: Vec<String>) {
        if !classes.is_empty() {
            self.send(db, Notice::Answers).await;
        }
    }

    /// Tells every node that the class's check-ins changed.
    pub async fn notify_checkins(&self, db: &Db, org: &str, class: &str) {
        let key = ClassKey {
            org: org.to_owned(),
            class: class.to_owned(),
        };
        self.send(db, Notice::Checkins(key)).await;
    }

    async fn send(&self, db: &Db, notice: Notice) {
        if !self.through_postgres {
            let _ = self.tx.send(notice);
            return;
        }
        let sent = db
            .write(crate::db::Changes::Records, move |conn| {
                if let DbConnection::Postgresql(c) = conn {
                    use diesel::RunQueryDsl;
                    diesel::sql_query("SELECT pg_notify($1, $2)")
                        .bind::<diesel::sql_types::Text, _>(CHANNEL)
                        .bind::<diesel::sql_types::Text, _>(notice.payload())
                        .execute(c)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "the live notice could not be sent");
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.tx.subscribe()
    }

    /// A place for one more stream of `user`, or `None` at [`STREAMS_PER_USER`].
    pub fn open_stream(self: &Arc<Self>, user: &str) -> Option<StreamSlot> {
        let mut streams = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let n = streams.entry(user.to_owned()).or_default();
        if *n >= STREAMS_PER_USER {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            hub: self.clone(),
            user: user.to_owned(),
        })
    }

    /// Streams open on this node (for metrics and tests).
    pub fn open_streams(&self) -> usize {
        self.streams
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .sum()
    }

    /// A ticket to open the class's stream, valid [`TICKET_TTL`].
    pub fn ticket(
        &self,
        sub: &str,
        role: Role,
        org: &str,
        class: &str,
        until: i64,
        now: i64,
    ) -> anyhow::Result<(String, i64)> {
        let exp = (now + TICKET_TTL.as_secs() as i64).min(until);
        let t = Ticket {
            sub: sub.to_owned(),
            stream_role: role,
            stream_org: org.to_owned(),
            class_id: class.to_owned(),
            until,
            exp,
            aud: TICKET_AUDIENCE.to_owned(),
        };
        Ok((
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &t, &self.encoding)?,
            exp,
        ))
    }

    /// The ticket's content if it is genuine and unexpired.
    pub fn check_ticket(&self, ticket: &str) -> Option<Ticket> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_audience(&[TICKET_AUDIENCE]);
        v.set_required_spec_claims(&["exp", "aud", "sub"]);
        v.leeway = 0;
        jsonwebtoken::decode::<Ticket>(ticket, &self.decoding, &v)
            .ok()
            .map(|d| d.claims)
    }
}

/// One open stream's place in the per-user count; given back when dropped.
pub struct StreamSlot {
    hub: Arc<Hub>,
    user: String,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut streams = self.hub.streams.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = streams.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                streams.remove(&self.user);
            }
        }
    }
}

/// The listener: its own connection, `LISTEN`, every notice onto the hub's broadcast;
/// reconnects after a failure, ends when the hub is gone.
fn listen(url: &str, hub: &Weak<Hub>) {
    while hub.strong_count() > 0 {
        let mut client = match postgres::Client::connect(url, postgres::NoTls) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "the live listener could not connect; retrying");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        loop {
            use postgres::fallible_iterator::FallibleIterator;
            let Some(hub) = hub.upgrade() else { return };
            let mut notes = client.notifications();
            let mut iter = notes.timeout_iter(Duration::from_millis(500));
            match iter.next() {
                Ok(Some(n)) => {
                    if let Some(k) = Notice::parse(n.payload()) {
                        let _ = hub.tx.send(k);
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the live listener lost its connection");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_survives_the_notify_payload() {
        let k = Notice::Checkins(ClassKey {
            org: "district-1".into(),
            class: "class-5b".into(),
        });
        assert_eq!(Notice::parse(&k.payload()), Some(k));
        assert_eq!(
            Notice::parse(&Notice::Answers.payload()),
            Some(Notice::Answers)
        );
        assert_eq!(Notice::parse("checkins\u{1f}no separator"), None);
        assert_eq!(Notice::parse("district-1\u{1f}class-5b"), None);
    }
}
