//! Passwords: argon2id hashes in the PHC string format (salt and parameters inside).

use std::sync::OnceLock;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// Shorter passwords are refused when set (NIST SP 800-63B asks for at least 8).
pub const MIN_PASSWORD_LEN: usize = 10;
/// argon2 hashes any length, but a megabyte "password" is only a way to burn our CPU.
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why a new password is refused.
pub fn check_new_password(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        return Err(format!(
            "the password must have at least {MIN_PASSWORD_LEN} characters"
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(format!(
            "the password must have at most {MAX_PASSWORD_LEN} bytes"
        ));
    }
    Ok(())
}

/// An argon2id hash (the crate's defaults: 19 MiB, 2 passes, OWASP's recommendation).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// Does `password` match `hash`? `None` (an unknown email, or a user without a password) is
/// checked against a dummy hash, so the answer takes as long whether or not the account exists.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    let (hash, real) = match hash {
        Some(h) => (h, true),
        None => (dummy_hash(), false),
    };
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let matches = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    matches && real
}

/// Computes the dummy hash now (at start), so the first sign-in with an unknown email does not
/// take twice as long as the others and betray itself.
pub fn prepare() {
    let _ = dummy_hash();
}

fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password("no account has this password, it only spends time").unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong horse battery", Some(&hash)));
        // Salted: the same password hashes differently each time.
        assert_ne!(hash, hash_password("correct horse battery").unwrap());
    }

    #[test]
    fn no_hash_never_verifies() {
        assert!(!verify_password(
            "no account has this password, it only spends time",
            None
        ));
        assert!(!verify_password("anything", None));
        assert!(!verify_password("anything", Some("not a hash")));
    }

    #[test]
    fn new_passwords_have_a_length() {
        assert!(check_new_password("short").is_err());
        assert!(check_new_password("long enough now").is_ok());
        assert!(check_new_password(&"x".repeat(2000)).is_err());
    }
}
