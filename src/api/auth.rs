//! `POST /api/v1/auth/login`: an email and a password in, a short-lived token out.

use actix_web::{post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::AppState;
use crate::auth::throttle;
use crate::auth::{passwords, Claims, Keys, LOGIN_TOKEN_TTL};
use crate::config::MAX_LOGIN_BYTES;
use crate::error::{ApiError, ErrorBody};
use crate::store::users::ThrottleKey;

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "teacher@school.example")]
    email: String,
    password: String,
}

/// A token for the API (`Authorization: Bearer <token>`), valid for 8 hours.
#[derive(Serialize, ToSchema)]
pub struct LoginResponse {
    pub token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// When the token stops working (RFC 3339).
    pub expires_at: String,
    /// teacher or admin.
    pub role: String,
    pub org: String,
    /// The account's id (the token's `sub`).
    pub user_id: String,
}

fn invalid_credentials() -> ApiError {
    // One answer for an unknown email, a wrong password and an account without a password.
    ApiError::unauthorized("invalid_credentials", "the email or the password is wrong")
}

/// Throttle keys (docs/operations.md): the account and address pair, the account from every
/// address, and the address for every account. The email is hashed: the table must not collect
/// addresses typed by strangers.
fn keys_for(email: &str, ip: &str, policy: &throttle::LoginPolicy) -> [ThrottleKey; 3] {
    let digest = Sha256::digest(crate::store::users::normalise_email(email).as_bytes());
    let hex = crate::util::hex(&digest);
    [
        ThrottleKey {
            key: format!("pair:{hex}:{ip}"),
            lock_after: policy.lock_after,
        },
        ThrottleKey {
            key: format!("email:{hex}"),
            lock_after: throttle::NEVER_LOCKED,
        },
        ThrottleKey {
            key: format!("ip:{ip}"),
            lock_after: throttle::NEVER_LOCKED,
        },
    ]
}

/// Sign in.
///
/// Gives a token for 8 hours (a school day). Wrong credentials get the same answer whether or
/// not the email has an account. After 3 failures, answers to failures are slowed; after 8
/// failures of one email from one client address, that email is locked *from that address*
/// for a minute, twice as long after each further failure, up to 15 minutes: 429 with
/// `Retry-After`. Other addresses, and other emails from the same address, are not locked.
#[utoipa::path(tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = LoginResponse),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "The email or the password is wrong", body = ErrorBody),
        (status = 413, description = "The body is larger than 16 KiB", body = ErrorBody),
        (status = 422, description = "JSON without an email and a password", body = ErrorBody),
        (status = 429, description = "Too many failures: locked for a while (see Retry-After)", body = ErrorBody),
    ))]
#[post("/api/v1/auth/login")]
#[tracing::instrument(skip_all)]
pub async fn login(
    req: HttpRequest,
    state: web::Data<AppState>,
    keys_signing: web::Data<Keys>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = super::params::read_body(payload, MAX_LOGIN_BYTES).await?;
    let request: LoginRequest =
        super::params::json(&body, "invalid_body", r#"{"email": "…", "password": "…"}"#)?;
    let policy = state.login;
    let keys = keys_for(&request.email, &super::client_ip(&req), &policy);
    let now = crate::db::to_millis(chrono::Utc::now());

    // The attempt counts as a failure until the password is found right.
    let (started, keys) = state
        .db
        .write(crate::db::Changes::Records, move |conn| {
            let started = crate::store::users::begin_attempt(conn, &keys, now, &policy)?;
            Ok((started, keys))
        })
        .await?;
    let failures = match started {
        Ok(f) => f,
        Err(wait) => {
            tracing::info!("sign-in refused: locked");
            return Err(locked(wait));
        }
    };

    let email = request.email;
    // No account's email holds a control character (and PostgreSQL refuses a NUL in text).
    let user = if email.chars().any(char::is_control) {
        None
    } else {
        state
            .db
            .read(move |conn| crate::store::users::find_login(conn, &email))
            .await?
    };
    let password = request.password;
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let ok = password.len() <= passwords::MAX_PASSWORD_LEN
        && crate::db::blocking(move || Ok(passwords::verify_password(&password, hash.as_deref())))
            .await?;

    match user.filter(|_| ok) {
        Some(user) => {
            state
                .db
                .write(crate::db::Changes::Records, move |conn| {
                    let [pair, email, ip] = &keys;
                    crate::store::users::attempt_succeeded(conn, &[pair, email], ip, now, &policy)
                })
                .await?;
            let claims = Claims::new(&user.user_id, user.role, &user.org_id, LOGIN_TOKEN_TTL);
            let expires_at = crate::db::from_millis(claims.exp * 1000)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let token = keys_signing.sign(&claims)?;
            tracing::info!(user = %user.user_id, role = user.role.as_str(), "signed in");
            Ok(HttpResponse::Ok().json(LoginResponse {
                token,
                token_type: "Bearer",
                expires_at,
                role: user.role.as_str().to_owned(),
                org: user.org_id,
                user_id: user.user_id,
            }))
        }
        None => {
            let [pair, email, ip] = [failures[0].count, failures[1].count, failures[2].count];
            // Many failures of an account from many addresses, or from one address for many
            // accounts, slow the answers too (a quarter as fast): never more than max_delay.
            let delay = throttle::delay(pair.max(email / 4).max(ip / 4), &policy);
            tracing::info!(failures = pair, "sign-in failed");
            crate::metrics::metrics().sign_in_failures.inc();
            if !delay.is_zero() {
                actix_web::rt::time::sleep(delay).await;
            }
            Err(invalid_credentials())
        }
    }
}

fn locked(wait_ms: i64) -> ApiError {
    let seconds = (wait_ms + 999) / 1000;
    ApiError::too_many(
        "too_many_attempts",
        format!(
            "too many failed sign-ins; try again in {} minutes",
            (seconds + 59) / 60
        ),
        u64::try_from(seconds.max(1)).unwrap_or(1),
    )
}
