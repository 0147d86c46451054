//! Access tokens of external OAuth issuers (Keycloak, Auth0, ...): RS256/ES256 keys from the
//! issuer's JWKS, cached by `kid` and refetched when a token names a `kid` not seen yet (key
//! rotation), at most once a second per issuer.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::RwLock;

use crate::config::ExternalIssuer;

const MIN_REFETCH: Duration = Duration::from_secs(1);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

struct Keys {
    by_kid: HashMap<String, (DecodingKey, Algorithm)>,
    fetched: Option<Instant>,
}

pub struct External {
    pub cfg: ExternalIssuer,
    keys: RwLock<Keys>,
    /// One JWKS fetch at a time; the others wait for its result.
    fetching: tokio::sync::Mutex<()>,
    http: reqwest::Client,
}

impl External {
    pub fn new(cfg: ExternalIssuer) -> Self {
        let http = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            cfg,
            keys: RwLock::new(Keys {
                by_kid: HashMap::new(),
                fetched: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
            http,
        }
    }

    /// The key for `kid`. A miss fetches the JWKS once for all waiting requests (single
    /// flight), without holding the cache's lock across the fetch: tokens with known keys are
    /// verified meanwhile.
    async fn key(&self, kid: &str) -> Result<(DecodingKey, Algorithm), String> {
        if let Some(k) = self.keys.read().await.by_kid.get(kid) {
            return Ok(k.clone());
        }
        let _gate = self.fetching.lock().await;
        {
            let keys = self.keys.read().await;
            if let Some(k) = keys.by_kid.get(kid) {
                // Fetched by the request ahead of us.
                return Ok(k.clone());
            }
            if keys.fetched.is_some_and(|t| t.elapsed() < MIN_REFETCH) {
                return Err(format!("unknown key id `{kid}`"));
            }
        }
        let fetched = self.fetch().await;
        let mut keys = self.keys.write().await;
        keys.fetched = Some(Instant::now());
        keys.by_kid = fetched?;
        keys.by_kid
            .get(kid)
            .cloned()
            .ok_or_else(|| format!("unknown key id `{kid}`"))
    }

    async fn fetch(&self) -> Result<HashMap<String, (DecodingKey, Algorithm)>, String> {
        let set: JwkSet = self
            .http
            .get(&self.cfg.jwks_url)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| format!("cannot fetch the issuer's keys: {e}"))?
            .json()
            .await
            .map_err(|e| format!("the issuer's JWKS is not valid: {e}"))?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let alg = match &jwk.algorithm {
                    jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                    _ => return None,
                };
                DecodingKey::from_jwk(jwk).ok().map(|k| (kid, (k, alg)))
            })
            .collect())
    }

    /// Verifies an RS256/ES256 token of this issuer; answers its claims.
    pub async fn verify(
        &self,
        token: &str,
        alg: Algorithm,
        kid: Option<&str>,
    ) -> Result<Value, String> {
        let kid = kid.ok_or("the token names no key id (`kid`)")?;
        let (key, key_alg) = self.key(kid).await?;
        if key_alg != alg {
            return Err(format!(
                "key `{kid}` is for {key_alg:?}, the token says {alg:?}"
            ));
        }
        let mut v = Validation::new(alg);
        v.set_issuer(&[&self.cfg.issuer]);
        v.set_audience(&[&self.cfg.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.validate_nbf = true;
        v.leeway = 30;
        jsonwebtoken::decode::<Value>(token, &key, &v)
            .map(|d| d.claims)
            .map_err(|e| e.to_string())
    }
}

/// The `iss` a token claims, read before its signature is checked, to pick the issuer's keys.
pub fn claimed_issuer(token: &str) -> Option<String> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("iss")?.as_str().map(str::to_string)
}
