//! The trust's identity provider (`oidc_issuer`, OpenID Connect; Microsoft Entra ID in most
//! trusts): its signing keys come from the `jwks_uri` its discovery document
//! (`<issuer>/.well-known/openid-configuration`) names, and are kept:
//!
//! - fetched at start, again every `oidc.refresh_secs`, and again when a token names a key
//!   id they do not hold (the provider has rotated): at most once per
//!   `oidc.refetch_min_secs`, so a flood of tokens with made-up key ids costs the provider
//!   one request a minute;
//! - while the provider cannot be reached, or answers anything but a usable key set, the
//!   keys held stay in use (a failed fetch never empties them);
//! - the discovery document's `issuer` must be `oidc_issuer` exactly (OpenID Connect
//!   Discovery 1.0, section 4.3), and tokens must carry it as `iss`.
//!
//! Claims are read as `oidc` says: which claim holds the person's id, name, email, roles,
//! departments and groups, and what each role value or group id means here.
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use serde_json::Value;

use super::token::{keys_of, KeyEntry};
use super::{Claims, Role, Scope, TokenError};
use crate::config::Oidc;

/// The identity provider, and the keys last fetched from it.
pub struct Provider {
    issuer: String,
    settings: Oidc,
    client: reqwest::Client,
    keys: RwLock<Arc<Vec<KeyEntry>>>,
    /// When keys were last asked for (whether or not the provider answered).
    last_attempt: Mutex<Option<Instant>>,
    /// One fetch at a time; tokens waiting for it then look at what it brought.
    fetching: tokio::sync::Mutex<()>,
}

/// What the provider publishes about itself that Candour reads.
#[derive(serde::Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl Provider {
    pub fn new(issuer: &str, settings: &Oidc) -> Result<Self, String> {
        let mut client = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("candour/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &settings.ca_file {
            let pem =
                std::fs::read(path).map_err(|e| format!("oidc.ca_file {}: {e}", path.display()))?;
            for cert in reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("oidc.ca_file {}: {e}", path.display()))?
            {
                client = client.add_root_certificate(cert);
            }
        }
        Ok(Self {
            issuer: issuer.to_string(),
            settings: settings.clone(),
            client: client
                .build()
                .map_err(|e| format!("oidc: cannot build an HTTP client: {e}"))?,
            keys: RwLock::new(Arc::new(Vec::new())),
            last_attempt: Mutex::new(None),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// The keys held now.
    pub(crate) fn keys(&self) -> Arc<Vec<KeyEntry>> {
        self.keys.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// How many keys are held.
    pub fn key_count(&self) -> usize {
        self.keys().len()
    }

    /// Fetches the discovery document and the key set, and holds the keys if there is at
    /// least one usable; otherwise keeps those it had. Returns how many it holds now.
    pub async fn fetch(&self) -> Result<usize, String> {
        let _one = self.fetching.lock().await;
        self.fetch_now().await
    }

    async fn fetch_now(&self) -> Result<usize, String> {
        *self.last_attempt.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        let fetched = self.fetch_keys().await;
        match fetched {
            Ok(keys) => {
                let n = keys.len();
                *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
                tracing::info!(keys = n, "identity provider keys fetched");
                Ok(n)
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    keys_kept = self.key_count(),
                    "identity provider keys could not be fetched; the keys held stay in use"
                );
                Err(e)
            }
        }
    }

    async fn fetch_keys(&self) -> Result<Vec<KeyEntry>, String> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let discovery: Discovery = self.get_json(&url).await?;
        if discovery.issuer != self.issuer {
            return Err(format!(
                "the discovery document names the issuer {:?}, not {:?}",
                discovery.issuer, self.issuer
            ));
        }
        let jwks = reqwest::Url::parse(&discovery.jwks_uri)
            .map_err(|_| "the discovery document's jwks_uri is not a URL".to_string())?;
        if !matches!(jwks.scheme(), "https" | "http") {
            return Err("the discovery document's jwks_uri is not http(s)".into());
        }
        let set: JwkSet = self.get_json(jwks.as_str()).await?;
        let keys = keys_of(&set)?;
        if keys.is_empty() {
            return Err("the key set holds no RS256 or ES256 signing key".into());
        }
        Ok(keys)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let resp = self
            .client
            .get(url)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    format!("{url}: no answer in time")
                } else {
                    format!("{url}: cannot be reached")
                }
            })?;
        if !resp.status().is_success() {
            return Err(format!("{url}: answered {}", resp.status().as_u16()));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|_| format!("{url}: the answer broke off"))?;
        serde_json::from_slice(&body)
            .map_err(|_| format!("{url}: the answer is not what was expected"))
    }

    /// A token named a key id the keys held do not have: fetches them again unless that
    /// was done (or tried) less than `oidc.refetch_min_secs` ago. Returns whether the token
    /// is worth checking again (new keys may have come, from this fetch or one it waited
    /// for).
    pub async fn refetch_for_unknown_key(&self) -> bool {
        let waited_since = Instant::now();
        let _one = self.fetching.lock().await;
        let last = *self.last_attempt.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(last) = last {
            // Another request fetched while this one waited: look at what it brought.
            if last >= waited_since {
                return true;
            }
            if last.elapsed() < Duration::from_secs(self.settings.refetch_min_secs) {
                return false;
            }
        }
        self.fetch_now().await.is_ok()
    }

    /// Keeps the keys fresh until `stop`: every `oidc.refresh_secs`, and every
    /// `oidc.refetch_min_secs` while none are held (the provider was down at start).
    pub fn spawn_refresher(self: Arc<Self>, stop: tokio_util::sync::CancellationToken) {
        tokio::spawn(async move {
            loop {
                let wait = if self.key_count() == 0 {
                    self.settings.refetch_min_secs
                } else {
                    self.settings.refresh_secs.max(1)
                };
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(wait)) => {}
                }
                let _ = self.fetch().await;
            }
        });
    }

    /// The token's claims read as `oidc` says.
    pub(crate) fn claims(&self, token: &Value) -> Result<Claims, TokenError> {
        let s = &self.settings;
        let text = |claim: &str| token.get(claim).and_then(Value::as_str).map(str::to_string);
        let sub = text(&s.subject_claim).ok_or(TokenError::MissingClaim)?;
        let exp = token
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(TokenError::MissingClaim)?;
        let mut roles: Vec<String> = Vec::new();
        let mut scopes: Vec<String> = words(token.get(&s.scope_claim))
            .into_iter()
            .filter(|w| Scope::parse(w).is_some())
            .collect();
        let mut meaning = |value: &str| {
            if Role::parse(value).is_some() {
                roles.push(value.to_string());
            } else if Scope::parse(value).is_some() {
                scopes.push(value.to_string());
            }
        };
        for value in words(token.get(&s.roles_claim)) {
            let mapped = s.role_values.get(&value).cloned().unwrap_or(value);
            meaning(&mapped);
        }
        let groups = words(token.get(&s.groups_claim));
        for g in &groups {
            if let Some(role) = s.group_roles.get(g) {
                meaning(role);
            }
        }
        let mut departments = words(token.get(&s.departments_claim));
        departments.extend(
            groups
                .iter()
                .filter_map(|g| s.group_departments.get(g).cloned()),
        );
        departments.sort();
        departments.dedup();
        scopes.sort();
        scopes.dedup();
        Ok(Claims {
            sub,
            name: text(&s.name_claim),
            email: text(&s.email_claim),
            roles,
            departments,
            scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
            exp,
            iat: token.get("iat").and_then(Value::as_i64),
            iss: text("iss"),
            aud: None,
        })
    }
}

/// A claim's values: a list of strings, or one string of space-separated words.
fn words(claim: Option<&Value>) -> Vec<String> {
    match claim {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn provider(settings: Oidc) -> Provider {
        Provider::new("https://login.example/tenant/v2.0", &settings).unwrap()
    }

    #[test]
    fn entra_id_roles_and_groups_are_read_through_the_mapping() {
        let p = provider(Oidc {
            subject_claim: "oid".into(),
            email_claim: "preferred_username".into(),
            role_values: [(
                "Candour.QualityLead".to_string(),
                "quality_lead".to_string(),
            )]
            .into(),
            group_roles: [("g-handlers".to_string(), "handler".to_string())].into(),
            group_departments: [
                ("g-card".to_string(), "CARD".to_string()),
                ("g-nm".to_string(), "NUCMED".to_string()),
            ]
            .into(),
            ..Oidc::default()
        });
        let c = p
            .claims(&json!({
                "oid": "5f0c-person", "sub": "pairwise", "exp": 2_000_000_000,
                "name": "Ann Example", "preferred_username": "ann@trust.nhs.uk",
                "roles": ["Candour.QualityLead", "Something.Else"],
                "groups": ["g-handlers", "g-card", "g-nm", "g-unknown"],
                "scp": "User.Read",
            }))
            .unwrap();
        assert_eq!(c.sub, "5f0c-person");
        assert_eq!(c.email.as_deref(), Some("ann@trust.nhs.uk"));
        assert_eq!(c.roles, vec!["quality_lead", "handler"]);
        assert_eq!(c.departments, vec!["CARD", "NUCMED"]);
        assert_eq!(c.scope, None);
    }

    #[test]
    fn an_application_role_can_make_a_service_account() {
        let p = provider(Oidc {
            role_values: [("Incidents.Read".to_string(), "incidents:read".to_string())].into(),
            ..Oidc::default()
        });
        let c = p
            .claims(&json!({ "sub": "lims", "exp": 2_000_000_000, "roles": ["Incidents.Read"] }))
            .unwrap();
        assert_eq!(c.scope.as_deref(), Some("incidents:read"));
        let principal = crate::auth::Principal::from_claims(c);
        assert!(principal.is_service());
    }

    #[test]
    fn a_token_without_the_subject_claim_is_refused() {
        let p = provider(Oidc {
            subject_claim: "oid".into(),
            ..Oidc::default()
        });
        assert_eq!(
            p.claims(&json!({ "sub": "x", "exp": 2_000_000_000 }))
                .unwrap_err(),
            TokenError::MissingClaim
        );
    }
}
