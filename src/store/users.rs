//! Teachers' and administrators' accounts, their classes, and the sign-in failure counts.

use diesel::prelude::*;

use crate::auth::throttle::{Failures, LoginPolicy};
use crate::auth::Role;
use crate::db::schema::{class_teachers, classes, login_failures, orgs, users};
use crate::db::DbConnection;

/// An account as sign-in needs it.
#[derive(Debug, Clone)]
pub struct LoginUser {
    pub user_id: String,
    pub org_id: String,
    pub role: Role,
    pub password_hash: Option<String>,
}

/// A new account; `password_hash` from `auth::passwords::hash_password`.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub role: Role,
    pub org: String,
    pub name: Option<String>,
    pub classes: Vec<String>,
    pub password_hash: Option<String>,
}

/// Emails compare without case or surrounding spaces.
pub fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Adds an account (creating its organisation and classes when new) and assigns its classes;
/// gives back the new user id. An email already in use is an error.
pub fn add_user(conn: &mut DbConnection, user: &NewUser) -> anyhow::Result<String> {
    anyhow::ensure!(
        user.role != Role::Tool,
        "accounts are for teachers and administrators; tools get tokens (huddle token)"
    );
    let email = normalise_email(&user.email);
    anyhow::ensure!(
        email.contains('@') && email.len() <= 320,
        "{email:?} is not an email address"
    );
    let now = crate::db::to_millis(chrono::Utc::now());
    let user_id = format!("user-{}", uuid::Uuid::new_v4().simple());
    conn.transaction(|conn| {
        let taken: i64 = users::table
            .filter(users::email.eq(&email))
            .count()
            .get_result(conn)?;
        anyhow::ensure!(taken == 0, "an account with this email already exists");
        ensure_org(conn, &user.org, now)?;
        diesel::insert_into(users::table)
            .values((
                users::user_id.eq(&user_id),
                users::org_id.eq(&user.org),
                users::email.eq(&email),
                users::name.eq(&user.name),
                users::role.eq(user.role.as_str()),
                users::password_hash.eq(&user.password_hash),
                users::created_at.eq(now),
            ))
            .execute(conn)?;
        assign_classes(conn, &user.org, &user_id, &user.classes, now)?;
        Ok(user_id.clone())
    })
}

/// Makes `user_id` a teacher of `class_ids` (created when new) in `org`.
pub fn assign_classes(
    conn: &mut DbConnection,
    org: &str,
    user_id: &str,
    class_ids: &[String],
    now: i64,
) -> anyhow::Result<()> {
    for class in class_ids {
        crate::on_backend!(conn, |c| {
            diesel::insert_into(classes::table)
                .values((
                    classes::org_id.eq(org),
                    classes::class_id.eq(class),
                    classes::created_at.eq(now),
                ))
                .on_conflict_do_nothing()
                .execute(c)?;
            diesel::insert_into(class_teachers::table)
                .values((
                    class_teachers::org_id.eq(org),
                    class_teachers::class_id.eq(class),
                    class_teachers::user_id.eq(user_id),
                ))
                .on_conflict_do_nothing()
                .execute(c)
        })?;
    }
    Ok(())
}

pub(crate) fn ensure_org(conn: &mut DbConnection, org: &str, now: i64) -> anyhow::Result<()> {
    crate::on_backend!(conn, |c| diesel::insert_into(orgs::table)
        .values((orgs::org_id.eq(org), orgs::created_at.eq(now)))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(())
}

/// Sets the password hash of the account with `email`; false when there is none.
pub fn set_password(conn: &mut DbConnection, email: &str, hash: &str) -> anyhow::Result<bool> {
    let n = diesel::update(users::table.filter(users::email.eq(normalise_email(email))))
        .set(users::password_hash.eq(hash))
        .execute(conn)?;
    Ok(n > 0)
}

/// The account signing in with `email`, if any.
pub fn find_login(conn: &mut DbConnection, email: &str) -> anyhow::Result<Option<LoginUser>> {
    let row: Option<(String, String, String, Option<String>)> = users::table
        .filter(users::email.eq(normalise_email(email)))
        .select((
            users::user_id,
            users::org_id,
            users::role,
            users::password_hash,
        ))
        .first(conn)
        .optional()?;
    Ok(row.and_then(|(user_id, org_id, role, password_hash)| {
        let role = match role.as_str() {
            "teacher" => Role::Teacher,
            "admin" => Role::Admin,
            _ => return None,
        };
        Some(LoginUser {
            user_id,
            org_id,
            role,
            password_hash,
        })
    }))
}

/// The failures recorded for a throttle key.
pub fn failures(conn: &mut DbConnection, key: &str) -> anyhow::Result<Failures> {
    let row: Option<(i32, i64, Option<i64>)> = login_failures::table
        .filter(login_failures::throttle_key.eq(key))
        .select((
            login_failures::failures,
            login_failures::first_failed,
            login_failures::locked_until,
        ))
        .first(conn)
        .optional()?;
    Ok(
        row.map_or_else(Failures::default, |(count, first_failed, locked_until)| {
            Failures {
                count: u32::try_from(count).unwrap_or(0),
                first_failed,
                locked_until,
            }
        }),
    )
}

pub fn save_failures(conn: &mut DbConnection, key: &str, f: Failures) -> anyhow::Result<()> {
    let count = i32::try_from(f.count).unwrap_or(i32::MAX);
    crate::on_backend!(conn, |c| diesel::insert_into(login_failures::table)
        .values((
            login_failures::throttle_key.eq(key),
            login_failures::failures.eq(count),
            login_failures::first_failed.eq(f.first_failed),
            login_failures::locked_until.eq(f.locked_until),
        ))
        .on_conflict(login_failures::throttle_key)
        .do_update()
        .set((
            login_failures::failures.eq(count),
            login_failures::first_failed.eq(f.first_failed),
            login_failures::locked_until.eq(f.locked_until),
        ))
        .execute(c))?;
    Ok(())
}

pub fn clear_failures(conn: &mut DbConnection, key: &str) -> anyhow::Result<()> {
    diesel::delete(login_failures::table.filter(login_failures::throttle_key.eq(key)))
        .execute(conn)?;
    Ok(())
}

/// A sign-in attempt's throttle keys, each with the failures that lock it.
pub struct ThrottleKey {
    pub key: String,
    pub lock_after: u32,
}

/// Starts a sign-in attempt: unless a key is locked (then `Err(ms left)`), counts the attempt
/// as a failure *before* the password is checked, so that parallel guesses cannot all slip in
/// before the first failure is recorded; [`attempt_succeeded`] takes it back. Serialised per
/// key (SQLite has one writer; PostgreSQL takes a transaction advisory lock per key).
pub fn begin_attempt(
    conn: &mut DbConnection,
    keys: &[ThrottleKey],
    now: i64,
    policy: &LoginPolicy,
) -> anyhow::Result<Result<Vec<Failures>, i64>> {
    conn.transaction(|conn| {
        lock_keys(conn, keys)?;
        let mut current = Vec::with_capacity(keys.len());
        for k in keys {
            let f = failures(conn, &k.key)?.current(now, policy);
            if let Some(wait) = f.locked_for(now) {
                return Ok(Err(wait));
            }
            current.push(f);
        }
        let mut after = Vec::with_capacity(keys.len());
        for (k, f) in keys.iter().zip(current) {
            let next = f.after_failure(now, k.lock_after, policy);
            save_failures(conn, &k.key, next)?;
            after.push(next);
        }
        Ok(Ok(after))
    })
}

/// The attempt was right: the failures of `cleared` (the account's keys) are forgotten and the
/// client address's presumed failure is taken back (a school's many teachers share one address).
pub fn attempt_succeeded(
    conn: &mut DbConnection,
    cleared: &[&ThrottleKey],
    ip: &ThrottleKey,
    now: i64,
    policy: &LoginPolicy,
) -> anyhow::Result<()> {
    conn.transaction(|conn| {
        lock_keys(conn, std::slice::from_ref(ip))?;
        for key in cleared {
            clear_failures(conn, &key.key)?;
        }
        let f = failures(conn, &ip.key)?.current(now, policy);
        if f.count > 0 {
            save_failures(conn, &ip.key, f.undo_one(ip.lock_after))?;
        }
        Ok(())
    })
}

fn lock_keys(conn: &mut DbConnection, keys: &[ThrottleKey]) -> anyhow::Result<()> {
    if let DbConnection::Postgresql(c) = conn {
        use sha2::{Digest, Sha256};
        let mut ids: Vec<i64> = keys
            .iter()
            .map(|k| {
                let d = Sha256::digest(format!("huddle-login\0{}", k.key).as_bytes());
                i64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
            })
            .collect();
        ids.sort_unstable();
        ids.dedup();
        for id in ids {
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(id)
                .execute(c)?;
        }
    }
    Ok(())
}
