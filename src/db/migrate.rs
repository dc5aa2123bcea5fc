//! Embedded migrations, applied at start. On PostgreSQL an advisory lock makes nodes that start
//! together take turns, so two of them never apply the same migration at once.

use diesel::connection::SimpleConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::DbConnection;

const SQLITE: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// An arbitrary constant that names Huddle's migration lock.
const MIGRATION_LOCK: i64 = 0x4855_4444_4c45;

pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<()> {
    match conn {
        DbConnection::Sqlite(c) => {
            c.run_pending_migrations(SQLITE)
                .map_err(anyhow::Error::msg)?;
        }
        DbConnection::Postgresql(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))?;
            let result = c.run_pending_migrations(POSTGRES).map(|_| ());
            c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"))?;
            result.map_err(anyhow::Error::msg)?;
        }
    }
    Ok(())
}

/// Reverts every migration (tests run up, down, up).
pub fn revert_all_migrations(conn: &mut DbConnection) -> anyhow::Result<()> {
    match conn {
        DbConnection::Sqlite(c) => c.revert_all_migrations(SQLITE).map(|_| ()),
        DbConnection::Postgresql(c) => c.revert_all_migrations(POSTGRES).map(|_| ()),
    }
    .map_err(anyhow::Error::msg)
}
