//! Small helpers shared across modules: a hash that never changes, hex, times as the API writes
//! them, the length of a day.

use std::hash::Hasher;

/// A day in milliseconds, the unit times are stored in (UTC, no leap seconds).
pub const DAY_MS: i64 = 86_400_000;

/// FNV-1a (64 bits) of `parts` joined by NUL bytes: the same value on every run, machine and
/// Rust version, for what is stored or must not move (session keys, insight ids, fit seeds,
/// lock keys). Not for untrusted keys of a hash map (no protection against collisions).
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut h = fnv::FnvHasher::default();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            h.write(&[0]);
        }
        h.write(part.as_bytes());
    }
    h.finish()
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A stored time (milliseconds since the Unix epoch) as the API writes it: RFC 3339, UTC,
/// milliseconds, `Z` (`2026-11-20T09:15:03.000Z`).
pub fn rfc3339(ms: i64) -> String {
    rfc3339_of(&crate::db::from_millis(ms))
}

/// The same for a time already decoded.
pub fn rfc3339_of(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Serialises a time as [`rfc3339_of`] writes it (`#[serde(serialize_with = …)]`).
pub fn serialize_rfc3339<S: serde::Serializer>(
    t: &chrono::DateTime<chrono::Utc>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(&rfc3339_of(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_hash_is_fnv1a_with_nul_between_parts() {
        // Published FNV-1a test vectors.
        assert_eq!(stable_hash(&[""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(&["a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash(&["foobar"]), 0x8594_4171_f739_67e8);
        assert_eq!(
            stable_hash(&["org", "student"]),
            stable_hash(&["org\0student"])
        );
        assert_ne!(stable_hash(&["ab", "c"]), stable_hash(&["a", "bc"]));
    }

    #[test]
    fn hex_and_times() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(hex(&[]), "");
        assert_eq!(rfc3339(1_795_000_503_007), "2026-11-18T11:15:03.007Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(DAY_MS, 24 * 60 * 60 * 1000);
    }
}
