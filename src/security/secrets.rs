//! Secrets: API tokens (random, stored as a SHA-256 digest) and passwords
//! (argon2id). A token has 256 bits from the OS random source, so a fast
//! digest is enough for it; passwords are guessable, so they get a slow hash,
//! and a short-lived in-memory cache keeps a busy Basic-auth client from
//! paying that slow hash on every request.

use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};
use sha2::{Digest, Sha256};

use crate::db::models::User;
use crate::security::expiring::{ExpiringMap, Overflow};

/// Random bytes in a token (shown as twice as many hex digits).
const TOKEN_BYTES: usize = 32;

/// A new API token: 64 hex digits from the OS random source.
pub fn generate_token() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// What is stored for a token: its SHA-256, in hex.
pub fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// An argon2id hash of a password, as a PHC string.
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Remembers logins whose password was verified recently, as a keyed digest
/// of login, password and the stored hash it was checked against (never the
/// password itself), so that repeated Basic-auth requests skip argon2.
/// Because the stored hash is part of the digest, a password changed or
/// removed in the database (`syncd users password`, from another process)
/// stops matching at the next sign-in, which reads the stored hash anyway.
/// Entries expire; a wrong password never matches an entry. When full,
/// the cache is cleared (see `expiring`).
pub struct PasswordCache {
    key: [u8; 32],
    /// Each login's fingerprint.
    entries: ExpiringMap<String, [u8; 32]>,
}

impl PasswordCache {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        let mut key = [0u8; 32];
        // Without OS randomness the cache still works; its key is then only
        // as secret as the process memory, which holds the entries anyway.
        let _ = getrandom::fill(&mut key);
        PasswordCache {
            key,
            entries: ExpiringMap::new(ttl, max_entries, Overflow::Clear),
        }
    }

    fn fingerprint(&self, login: &str, password: &str, stored: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.key);
        for part in [login, stored] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        h.update(password.as_bytes());
        h.finalize().into()
    }

    /// Whether this login and password were verified against this stored
    /// hash within the TTL.
    pub fn lookup(&self, login: &str, password: &str, stored: &str) -> bool {
        // Digested whether or not the login has an entry, so the time
        // taken does not tell. Constant-time enough: both sides are keyed
        // digests the caller cannot compute, so early exit leaks nothing
        // useful.
        let fingerprint = self.fingerprint(login, password, stored);
        self.entries.get(login) == Some(fingerprint)
    }

    pub fn remember(&self, login: &str, password: &str, stored: &str) {
        let fingerprint = self.fingerprint(login, password, stored);
        self.entries.insert(login.to_string(), fingerprint);
    }
}

/// Users recently found by their token's digest, kept for a short while
/// so that a busy client costs no database round trip to sign in. The TTL
/// bounds how long a token replaced by `syncd users token` (another
/// process) keeps working in a running server.
pub struct TokenCache {
    entries: ExpiringMap<String, User>,
}

impl TokenCache {
    pub fn new(ttl: Duration, max_entries: usize) -> Self {
        TokenCache {
            entries: ExpiringMap::new(ttl, max_entries, Overflow::Clear),
        }
    }

    pub fn get(&self, digest: &str) -> Option<User> {
        self.entries.get(digest)
    }

    pub fn put(&self, digest: String, user: User) {
        self.entries.insert(digest, user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_stored_as_digests() {
        let a = generate_token().unwrap();
        let b = generate_token().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        let d = token_digest(&a);
        assert_eq!(d.len(), 64);
        assert_ne!(d, a);
        assert_eq!(d, token_digest(&a));
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("s3cret").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert_ne!(h, hash_password("s3cret").unwrap(), "salted");
    }

    #[test]
    fn cache_matches_only_the_same_login_and_password() {
        let cache = PasswordCache::new(Duration::from_secs(60), 10);
        cache.remember("alice", "pw", "$hash1");
        assert!(cache.lookup("alice", "pw", "$hash1"));
        assert!(!cache.lookup("alice", "pw2", "$hash1"));
        assert!(!cache.lookup("bob", "pw", "$hash1"));
        assert!(
            !cache.lookup("alice", "pw", "$hash2"),
            "a changed stored hash does not match"
        );
        let short = PasswordCache::new(Duration::from_millis(0), 10);
        let tokens = TokenCache::new(Duration::from_secs(60), 1);
        let user = |id| User {
            id,
            login: "a".into(),
            name: "a".into(),
            email_address: None,
            user_group_manager: true,
            created_at: Default::default(),
            updated_at: Default::default(),
        };
        tokens.put("d1".into(), user(1));
        assert_eq!(tokens.get("d1").map(|u| u.id), Some(1));
        tokens.put("d2".into(), user(2));
        assert_eq!(tokens.get("d1"), None, "full: the old entries went");
        assert_eq!(tokens.get("d2").map(|u| u.id), Some(2));
        let expired = TokenCache::new(Duration::from_millis(0), 10);
        expired.put("d".into(), user(3));
        assert_eq!(expired.get("d"), None);
        short.remember("alice", "pw", "$hash1");
        assert!(!short.lookup("alice", "pw", "$hash1"));
    }
}
