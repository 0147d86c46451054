//! Bearer authentication. For now: Capture's `base64(userId:secret)` API secrets, kept as
//! salted SHA-256 hashes and compared in constant time; the tenant is the userId.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::errors::ApiError;
use super::AppState;

/// File in the state dir holding generated secrets (`userId salt hash` per line, hex).
const SECRETS_FILE: &str = "api-secrets";

struct Hashed {
    salt: [u8; 16],
    hash: [u8; 32],
}

#[derive(Default)]
pub struct ApiSecrets {
    by_user: HashMap<String, Vec<Hashed>>,
}

fn digest(salt: &[u8], secret: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(secret.as_bytes());
    h.finalize().into()
}

impl ApiSecrets {
    pub fn add(&mut self, user: &str, secret: &str) {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let hash = digest(&salt, secret);
        self.by_user
            .entry(user.to_string())
            .or_default()
            .push(Hashed { salt, hash });
    }

    pub fn is_empty(&self) -> bool {
        self.by_user.is_empty()
    }

    pub fn len(&self) -> usize {
        self.by_user.values().map(Vec::len).sum()
    }

    /// The tenant a bearer token authenticates, if any.
    pub fn verify(&self, token: &str) -> Option<String> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .ok()?;
        let text = String::from_utf8(raw).ok()?;
        let (user, secret) = text.split_once(':')?;
        let entries = self.by_user.get(user)?;
        let mut ok = subtle::Choice::from(0u8);
        for e in entries {
            ok |= digest(&e.salt, secret).ct_eq(&e.hash);
        }
        bool::from(ok).then(|| user.to_string())
    }

    /// Loads the secrets generated on an earlier start from the state dir.
    pub fn load_state(&mut self, dir: &Path) -> std::io::Result<usize> {
        let path = dir.join(SECRETS_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut n = 0;
        for line in text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let mut parts = line.split_whitespace();
            let (Some(user), Some(salt), Some(hash)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let (Ok(salt), Ok(hash)) = (hex::decode(salt), hex::decode(hash)) else {
                continue;
            };
            let (Ok(salt), Ok(hash)) = (<[u8; 16]>::try_from(salt), <[u8; 32]>::try_from(hash))
            else {
                continue;
            };
            self.by_user
                .entry(user.to_string())
                .or_default()
                .push(Hashed { salt, hash });
            n += 1;
        }
        Ok(n)
    }

    /// Makes a new secret for `user`, stores only its hash in the state dir, and returns the
    /// bearer token to print once.
    pub fn generate(&mut self, dir: &Path, user: &str) -> std::io::Result<String> {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let secret = hex::encode(bytes);
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let hash = digest(&salt, &secret);
        std::fs::create_dir_all(dir)?;
        let path = dir.join(SECRETS_FILE);
        let mut opts = std::fs::OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&path)?;
        writeln!(f, "{user} {} {}", hex::encode(salt), hex::encode(hash))?;
        self.by_user
            .entry(user.to_string())
            .or_default()
            .push(Hashed { salt, hash });
        Ok(base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
    }
}

/// The authenticated tenant of a request.
pub struct Tenant(pub String);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing Authorization header (Bearer token)"))?;
        let value = header
            .to_str()
            .map_err(|_| ApiError::unauthorized("Authorization header is not valid text"))?;
        let token = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
            .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <token>`"))?;
        state
            .secrets
            .verify(token)
            .map(Tenant)
            .ok_or_else(|| ApiError::unauthorized("invalid bearer token"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_hashed_secrets() {
        let mut s = ApiSecrets::default();
        s.add("alice", "s3cret");
        let b64 = |t: &str| base64::engine::general_purpose::STANDARD.encode(t);
        assert_eq!(s.verify(&b64("alice:s3cret")), Some("alice".into()));
        assert_eq!(s.verify(&b64("alice:wrong")), None);
        assert_eq!(s.verify(&b64("bob:s3cret")), None);
        assert_eq!(s.verify("not base64!"), None);
        assert_eq!(s.verify(&b64("no-colon")), None);
    }

    #[test]
    fn generated_secret_survives_reload() {
        let dir = std::env::temp_dir().join(format!("pp-secrets-{}", uuid::Uuid::new_v4()));
        let mut s = ApiSecrets::default();
        let token = s.generate(&dir, "local").unwrap();
        let mut again = ApiSecrets::default();
        assert_eq!(again.load_state(&dir).unwrap(), 1);
        assert_eq!(again.verify(&token), Some("local".into()));
        let stored = std::fs::read_to_string(dir.join(SECRETS_FILE)).unwrap();
        let raw = String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(&token)
                .unwrap(),
        )
        .unwrap();
        assert!(
            !stored.contains(raw.split_once(':').unwrap().1),
            "secret stored in clear"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
