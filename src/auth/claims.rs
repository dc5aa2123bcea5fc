use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// What a token lets its holder be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A student practice tool: writes events for its organisation.
    Tool,
    /// Reads the classes they teach.
    Teacher,
    /// Reads everything of their organisation.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Tool => "tool",
            Role::Teacher => "teacher",
            Role::Admin => "admin",
        }
    }
}

/// The claims of a Huddle token (contract: `sub`, `role`, `org`, `exp`, `iat`). Nothing
/// personal: `sub` is a user id or a tool's name, never an email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    pub org: String,
    pub exp: i64,
    pub iat: i64,
    /// A tool token may be limited to these classes (`huddle token --classes`); absent means
    /// every class of the organisation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classes: Option<Vec<String>>,
}

impl Claims {
    pub fn new(sub: impl Into<String>, role: Role, org: impl Into<String>, ttl: Duration) -> Self {
        let iat = chrono::Utc::now().timestamp();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2);
        Claims {
            sub: sub.into(),
            role,
            org: org.into(),
            exp: iat.saturating_add(ttl),
            iat,
            classes: None,
        }
    }

    /// The same claims limited to `classes`.
    pub fn with_classes(mut self, classes: Vec<String>) -> Self {
        self.classes = Some(classes);
        self
    }
}

/// Why a token was refused; each becomes a 401 with its own code.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired; ask for a new one")]
    Expired,
    #[error("the token's signature does not match")]
    BadSignature,
    /// `nbf` in the future, or issued (`iat`) in the future.
    #[error("the token is not valid yet; check the clock of the machine that made it")]
    NotYetValid,
    #[error("the token is not a valid Huddle token: {0}")]
    Invalid(String),
}

impl TokenError {
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Expired => "token_expired",
            TokenError::BadSignature => "invalid_signature",
            TokenError::NotYetValid => "token_not_yet_valid",
            TokenError::Invalid(_) => "invalid_token",
        }
    }
}

/// Clock difference allowed between the machine that made a token and this one.
const LEEWAY_SECONDS: u64 = 30;

/// Signing and verification keys (HS256) made from the configured secret.
pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl Keys {
    pub fn new(secret: &SecretString) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        // Only HS256 is accepted: a token naming another algorithm (or `none`) is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        // `nbf`, when a token has one, is checked too (with the same leeway).
        validation.validate_nbf = true;
        Keys {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            validation,
        }
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.encoding,
        )?)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        match jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation) {
            Ok(data)
                if data.claims.iat
                    > chrono::Utc::now().timestamp() + LEEWAY_SECONDS as i64 =>
            {
                Err(TokenError::NotYetValid)
            }
            Ok(data) => Ok(data.claims),
            Err(err) => Err(match err.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
                    TokenError::Invalid("only HS256 tokens are accepted".into())
                }
                ErrorKind::MissingRequiredClaim(claim) => {
                    TokenError::Invalid(format!("the claim {claim:?} is missing"))
                }
                ErrorKind::Json(_) => TokenError::Invalid(
                    "its claims must be sub, role (tool, teacher or admin), org, exp and iat (and optionally classes)"
                        .into(),
                ),
                _ => TokenError::Invalid("it could not be decoded".into()),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(secret: &str) -> Keys {
        Keys::new(&SecretString::from(secret.to_owned()))
    }

    #[test]
    fn signed_tokens_verify_with_the_same_secret_only() {
        let claims = Claims::new("tool-1", Role::Tool, "district-1", Duration::from_secs(60));
        let token = keys("a-long-enough-secret-for-tests-0001")
            .sign(&claims)
            .unwrap();
        assert_eq!(
            keys("a-long-enough-secret-for-tests-0001").verify(&token),
            Ok(claims)
        );
        assert_eq!(
            keys("another-secret-entirely-for-tests-02").verify(&token),
            Err(TokenError::BadSignature)
        );
    }

    #[test]
    fn a_class_list_survives_signing_and_is_absent_by_default() {
        let k = keys("a-long-enough-secret-for-tests-0001");
        let plain = Claims::new("t", Role::Tool, "o", Duration::from_secs(60));
        let token = k.sign(&plain).unwrap();
        assert_eq!(k.verify(&token).unwrap().classes, None);
        let limited = plain.with_classes(vec!["c1".into()]);
        let token = k.sign(&limited).unwrap();
        assert_eq!(k.verify(&token).unwrap().classes, Some(vec!["c1".into()]));
    }

    #[test]
    fn expired_tokens_are_refused() {
        let mut claims = Claims::new("t", Role::Admin, "o", Duration::from_secs(60));
        claims.exp = claims.iat - 3600;
        let k = keys("a-long-enough-secret-for-tests-0001");
        assert_eq!(
            k.verify(&k.sign(&claims).unwrap()),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn tokens_from_the_future_are_refused() {
        let k = keys("a-long-enough-secret-for-tests-0001");
        let mut claims = Claims::new("t", Role::Admin, "o", Duration::from_secs(7200));
        claims.iat += 3600;
        assert_eq!(
            k.verify(&k.sign(&claims).unwrap()),
            Err(TokenError::NotYetValid)
        );
        // A little clock difference is allowed.
        claims.iat -= 3600 - 10;
        assert!(k.verify(&k.sign(&claims).unwrap()).is_ok());
    }

    #[test]
    fn unsigned_tokens_are_refused() {
        // {"alg":"none","typ":"JWT"} . {"sub":"x","role":"admin","org":"o","exp":9999999999,"iat":0} .
        let token = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIiwib3JnIjoibyIsImV4cCI6OTk5OTk5OTk5OSwiaWF0IjowfQ.";
        let err = keys("a-long-enough-secret-for-tests-0001")
            .verify(token)
            .unwrap_err();
        assert_eq!(err.code(), "invalid_token");
    }
}
