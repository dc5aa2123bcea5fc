//! Who is calling and what they may do: token claims and keys, the caller extractor, the
//! policy, and the signing secret. Knows nothing of the domain.

mod caller;
mod claims;
pub mod policy;
mod secret;

pub use caller::Caller;
pub use claims::{Claims, Keys, Role, TokenError};
pub use secret::load_or_create_secret;
