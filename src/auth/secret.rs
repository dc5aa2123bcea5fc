use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use secrecy::SecretString;

use crate::db::DbUrl;

/// Shorter secrets make HS256 tokens guessable.
const MIN_SECRET_LEN: usize = 32;

/// The token-signing secret: from the configured file, or else (SQLite only) from a file beside
/// the database, created with random content and mode 0600 the first time. There is no
/// built-in default secret.
pub fn load_or_create_secret(
    configured: Option<&Path>,
    db: &DbUrl,
) -> anyhow::Result<SecretString> {
    let path = match (configured, db) {
        (Some(path), _) => return read_secret(path),
        (None, DbUrl::Sqlite(db_file)) => beside(db_file),
        (None, DbUrl::Postgres(_)) => anyhow::bail!(
            "no JWT secret configured: with PostgreSQL, set --jwt-secret-file or HUDDLE_JWT_SECRET_FILE"
        ),
    };
    if path.exists() {
        return read_secret(&path);
    }
    create_secret(&path)
}

fn beside(db_file: &Path) -> PathBuf {
    let mut name = db_file
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_else(|| "huddle.db".into());
    name.push(".secret");
    db_file.with_file_name(name)
}

fn read_secret(path: &Path) -> anyhow::Result<SecretString> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the JWT secret file {}", path.display()))?;
    let secret = text.trim();
    anyhow::ensure!(
        secret.len() >= MIN_SECRET_LEN,
        "the JWT secret in {} is shorter than {MIN_SECRET_LEN} characters",
        path.display()
    );
    Ok(SecretString::from(secret.to_owned()))
}

fn create_secret(path: &Path) -> anyhow::Result<SecretString> {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = crate::util::hex(&bytes);

    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(secret.as_bytes())?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "created a new JWT secret");
            Ok(SecretString::from(secret))
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_secret(path),
        Err(e) => Err(e).with_context(|| format!("creating the JWT secret {}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn a_secret_is_created_once_beside_the_database_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let db = DbUrl::Sqlite(dir.path().join("huddle.db"));
        let first = load_or_create_secret(None, &db).unwrap();
        let second = load_or_create_secret(None, &db).unwrap();
        assert_eq!(first.expose_secret(), second.expose_secret());
        let file = dir.path().join("huddle.db.secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn postgres_needs_a_configured_secret() {
        let db = DbUrl::Postgres("postgres://localhost/x".into());
        assert!(load_or_create_secret(None, &db).is_err());
    }

    #[test]
    fn short_secrets_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        std::fs::write(&path, "short").unwrap();
        let db = DbUrl::Postgres("postgres://localhost/x".into());
        assert!(load_or_create_secret(Some(&path), &db).is_err());
    }
}
