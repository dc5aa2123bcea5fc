//! `huddle backup`: a consistent copy of the database while the service runs.
//!
//! SQLite: `VACUUM INTO` writes a compacted copy of one read transaction's snapshot (writers
//! go on meanwhile), which is then checked (`PRAGMA quick_check`) and made its owner's only.
//! PostgreSQL: `pg_dump --format=custom`, restored with `pg_restore` (docs/operations.md).

use std::path::Path;

use anyhow::Context;
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};

use super::DbUrl;

/// What a backup wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backup {
    pub bytes: u64,
    /// The events in the copy (SQLite; PostgreSQL's dump is not read back).
    pub events: Option<i64>,
}

#[derive(QueryableByName)]
struct Check {
    #[diesel(sql_type = diesel::sql_types::Text)]
    quick_check: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Writes a copy of the database at `url` to `out`, which must not exist yet.
pub fn backup(url: &DbUrl, out: &Path) -> anyhow::Result<Backup> {
    anyhow::ensure!(
        !out.exists(),
        "{} exists already; choose a new file",
        out.display()
    );
    match url {
        DbUrl::Sqlite(path) => sqlite(path, out),
        DbUrl::Postgres(url) => postgres(url, out),
    }
}

fn sqlite(path: &Path, out: &Path) -> anyhow::Result<Backup> {
    anyhow::ensure!(path.exists(), "there is no database at {}", path.display());
    let out_text = out
        .to_str()
        .context("the backup's path must be valid UTF-8")?;
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())
        .with_context(|| format!("opening {}", path.display()))?;
    diesel::sql_query("PRAGMA busy_timeout = 10000").execute(&mut conn)?;
    diesel::sql_query("VACUUM INTO ?")
        .bind::<diesel::sql_types::Text, _>(out_text)
        .execute(&mut conn)
        .with_context(|| format!("writing the copy to {}", out.display()))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o600))?;
    }
    let mut copy = SqliteConnection::establish(out_text)?;
    let check: Vec<Check> = diesel::sql_query("PRAGMA quick_check").load(&mut copy)?;
    anyhow::ensure!(
        check.len() == 1 && check[0].quick_check == "ok",
        "the copy failed its integrity check"
    );
    let events: Count =
        diesel::sql_query("SELECT COUNT(*) AS n FROM events").get_result(&mut copy)?;
    Ok(Backup {
        bytes: std::fs::metadata(out)?.len(),
        events: Some(events.n),
    })
}

fn postgres(url: &str, out: &Path) -> anyhow::Result<Backup> {
    let status = std::process::Command::new("pg_dump")
        .args(["--format=custom", "--no-owner", "--file"])
        .arg(out)
        .arg(url)
        .status()
        .context("running pg_dump (install PostgreSQL's client tools)")?;
    anyhow::ensure!(status.success(), "pg_dump failed ({status})");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(Backup {
        bytes: std::fs::metadata(out)?.len(),
        events: None,
    })
}
