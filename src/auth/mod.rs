//! Who is calling and what they may do: token claims and keys, the caller extractor, the
//! policy, passwords, sign-in throttling and the signing secret. Knows nothing of the domain.

mod caller;
mod claims;
pub mod passwords;
pub mod policy;
mod secret;
pub mod throttle;

pub use caller::Caller;
pub use claims::{Claims, Keys, Role, TokenError};
pub use secret::load_or_create_secret;

/// Sign-in tokens last a school day: long enough for a teacher's day, short enough that a
/// token left on a shared classroom computer is dead by the next morning.
pub const LOGIN_TOKEN_TTL: std::time::Duration = std::time::Duration::from_secs(8 * 3600);
