//! Bearer authentication (resource server): JWT access tokens from the built-in token endpoint
//! (HS256; `iss`, `aud`, `exp`, `nbf`, scope checked), and Capture's `base64(userId:secret)` API
//! secrets, kept as salted SHA-256 hashes and compared in constant time. The tenant is the
//! token's `sub` (the OAuth client id) or the secret's userId.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::errors::ApiError;
use super::AppState;

/// Files in the state dir holding generated secrets (`id salt hash` per line, hex).
pub const API_SECRETS_FILE: &str = "api-secrets";
pub const OAUTH_CLIENTS_FILE: &str = "oauth-clients";

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
        self.check(user, secret).then(|| user.to_string())
    }

    /// Whether `secret` is one of `user`'s, in constant time over the stored hashes.
    pub fn check(&self, user: &str, secret: &str) -> bool {
        let Some(entries) = self.by_user.get(user) else {
            return false;
        };
        let mut ok = subtle::Choice::from(0u8);
        for e in entries {
            ok |= digest(&e.salt, secret).ct_eq(&e.hash);
        }
        bool::from(ok)
    }

    /// Loads the secrets generated on an earlier start from `file` in the state dir.
    pub fn load_state(&mut self, dir: &Path, file: &str) -> std::io::Result<usize> {
        let path = dir.join(file);
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

    /// Makes a new secret for `user`, stores only its hash in `file` in the state dir, and
    /// returns the `user:secret` pair to print once.
    pub fn generate(&mut self, dir: &Path, file: &str, user: &str) -> std::io::Result<String> {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        let secret = hex::encode(bytes);
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let hash = digest(&salt, &secret);
        std::fs::create_dir_all(dir)?;
        let path = dir.join(file);
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
        Ok(format!("{user}:{secret}"))
    }
}

/// The JWT side of authentication: the key, and what every token must say.
pub struct JwtKeys {
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub issuer: String,
    pub audience: String,
    pub lifetime_seconds: u64,
    pub required_scope: String,
}

/// The claims of our access tokens.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub jti: String,
    #[serde(default)]
    pub scope: String,
}

/// Everything that authenticates requests.
pub struct Auth {
    pub api_secrets: ApiSecrets,
    pub oauth_clients: ApiSecrets,
    pub jwt: JwtKeys,
    pub externals: Vec<super::jwks::External>,
}

/// RFC 6750 `invalid_token`: 401 with the reason in the challenge.
fn invalid_token(why: impl std::fmt::Display) -> ApiError {
    let why = format!("invalid access token: {why}");
    ApiError::unauthorized(why.clone()).challenge(format!(
        "Bearer error=\"invalid_token\", error_description=\"{why}\""
    ))
}

impl JwtKeys {
    /// The tenant of a valid access token of ours, or the RFC 6750 error to answer.
    pub fn verify(&self, token: &str) -> Result<String, ApiError> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.validate_nbf = true;
        v.leeway = 30;
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &v).map_err(invalid_token)?;
        self.require_scope(data.claims.scope.split_whitespace())?;
        Ok(data.claims.sub)
    }

    /// RFC 6750 `insufficient_scope` (403) unless `scopes` has the required one.
    fn require_scope<'a>(&self, mut scopes: impl Iterator<Item = &'a str>) -> Result<(), ApiError> {
        if scopes.any(|s| s == self.required_scope) {
            return Ok(());
        }
        let scope = &self.required_scope;
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("the access token lacks the `{scope}` scope"),
        )
        .challenge(format!(
            "Bearer error=\"insufficient_scope\", scope=\"{scope}\""
        )))
    }
}

impl Auth {
    /// The tenant of a JWT access token: ours (HS256), or a trusted external issuer's
    /// (RS256/ES256 from its JWKS). Any other algorithm, `none` included, is refused, and an
    /// HS256 token is only ever checked against our own key (no key confusion).
    pub async fn verify_jwt(&self, token: &str) -> Result<String, ApiError> {
        let header = jsonwebtoken::decode_header(token).map_err(invalid_token)?;
        match header.alg {
            Algorithm::HS256 => self.jwt.verify(token),
            Algorithm::RS256 | Algorithm::ES256 => {
                let iss = super::jwks::claimed_issuer(token)
                    .ok_or_else(|| invalid_token("no `iss` claim"))?;
                let ext = self
                    .externals
                    .iter()
                    .find(|e| e.cfg.issuer == iss)
                    .ok_or_else(|| invalid_token(format!("issuer `{iss}` is not trusted")))?;
                let claims = ext
                    .verify(token, header.alg, header.kid.as_deref())
                    .await
                    .map_err(invalid_token)?;
                // `scope` (space-separated) or `scp` (a list), as issuers write it.
                let mut scopes: Vec<&str> = claims["scope"]
                    .as_str()
                    .unwrap_or("")
                    .split_whitespace()
                    .collect();
                if let Some(list) = claims["scp"].as_array() {
                    scopes.extend(list.iter().filter_map(Value::as_str));
                }
                self.jwt.require_scope(scopes.into_iter())?;
                claims[ext.cfg.tenant_claim.as_str()]
                    .as_str()
                    .filter(|t| !t.is_empty())
                    .map(|t| ext.cfg.tenant(t))
                    .ok_or_else(|| {
                        invalid_token(format!(
                            "no `{}` claim to name the tenant",
                            ext.cfg.tenant_claim
                        ))
                    })
            }
            other => Err(invalid_token(format!(
                "algorithm {other:?} is not accepted"
            ))),
        }
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
            .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <token>`"))?
            .trim();
        // A JWT has three dot-separated parts; base64(userId:secret) has none.
        if token.split('.').count() == 3 {
            return state.auth.verify_jwt(token).await.map(Tenant);
        }
        state
            .auth
            .api_secrets
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
        let pair = s.generate(&dir, API_SECRETS_FILE, "local").unwrap();
        let mut again = ApiSecrets::default();
        assert_eq!(again.load_state(&dir, API_SECRETS_FILE).unwrap(), 1);
        let (user, secret) = pair.split_once(':').unwrap();
        assert!(again.check(user, secret));
        let b64 = base64::engine::general_purpose::STANDARD.encode(&pair);
        assert_eq!(again.verify(&b64), Some("local".into()));
        let stored = std::fs::read_to_string(dir.join(API_SECRETS_FILE)).unwrap();
        assert!(!stored.contains(secret), "secret stored in clear");
        let _ = std::fs::remove_dir_all(dir);
    }
}
