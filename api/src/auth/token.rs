//! JWT verification (HS256 secret, or RS256/ES256 keys from a JWKS file) and minting.
use std::path::Path;

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};

use crate::config::{Secret, Settings};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub departments: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
}

/// Seconds a token is still accepted after its `exp` (clock skew between the identity
/// provider and this server).
pub const LEEWAY_SECS: u64 = 30;

/// Why a token was refused. Shown to the client in general terms only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    Expired,
    BadSignature,
    UnsupportedAlgorithm,
    UnknownKey,
    WrongIssuer,
    WrongAudience,
    MissingClaim,
}

impl TokenError {
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "the token is malformed",
            Self::Expired => "the token has expired",
            Self::BadSignature => "the token's signature is not valid",
            Self::UnsupportedAlgorithm => "the token's algorithm is not accepted",
            Self::UnknownKey => "the token was signed with an unknown key",
            Self::WrongIssuer => "the token's issuer is not accepted",
            Self::WrongAudience => "the token's audience is not accepted",
            Self::MissingClaim => "the token lacks a required claim",
        }
    }
}

impl From<jsonwebtoken::errors::Error> for TokenError {
    fn from(e: jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind as K;
        match e.kind() {
            K::ExpiredSignature | K::ImmatureSignature => Self::Expired,
            K::InvalidSignature => Self::BadSignature,
            K::InvalidAlgorithm | K::InvalidAlgorithmName => Self::UnsupportedAlgorithm,
            K::InvalidIssuer => Self::WrongIssuer,
            K::InvalidAudience => Self::WrongAudience,
            K::MissingRequiredClaim(_) => Self::MissingClaim,
            _ => Self::Malformed,
        }
    }
}

pub(crate) struct KeyEntry {
    kid: Option<String>,
    alg: Algorithm,
    key: DecodingKey,
}

enum Keys {
    Secret(DecodingKey),
    Jwks(Vec<KeyEntry>),
    /// The identity provider's, fetched and kept fresh.
    Oidc(std::sync::Arc<super::oidc::Provider>),
}

/// The RS256 and ES256 keys of a JWKS document (other kinds are skipped); an error names
/// the first key that cannot be used.
pub(crate) fn keys_of(set: &JwkSet) -> Result<Vec<KeyEntry>, String> {
    let mut out = Vec::new();
    for jwk in &set.keys {
        // Keys published for encryption only are not for checking signatures.
        if matches!(
            jwk.common.public_key_use,
            Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
        ) {
            continue;
        }
        let alg = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => Algorithm::RS256,
            AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
            _ => continue,
        };
        let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("unusable key: {e}"))?;
        out.push(KeyEntry {
            kid: jwk.common.key_id.clone(),
            alg,
            key,
        });
    }
    Ok(out)
}

/// The key among `entries` that signed a token with this header.
fn key_for<'k>(
    entries: &'k [KeyEntry],
    header: &jsonwebtoken::Header,
) -> Result<(&'k DecodingKey, Algorithm), TokenError> {
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
        return Err(TokenError::UnsupportedAlgorithm);
    }
    let entry = entries
        .iter()
        .find(|e| {
            e.alg == header.alg
                && match (&header.kid, &e.kid) {
                    (Some(want), Some(have)) => want == have,
                    (None, _) => entries.len() == 1,
                    (Some(_), None) => entries.len() == 1,
                }
        })
        .ok_or(TokenError::UnknownKey)?;
    Ok((&entry.key, entry.alg))
}

/// Verifies bearer tokens against the configured keys, issuer and audience.
pub struct Authenticator {
    keys: Keys,
    issuer: Option<String>,
    audience: Option<String>,
}

impl Authenticator {
    pub fn new(settings: &Settings, secret: Option<&Secret>) -> Result<Self, String> {
        if let Some(issuer) = &settings.oidc_issuer {
            let provider = super::oidc::Provider::new(issuer, &settings.oidc)?;
            return Ok(Self {
                keys: Keys::Oidc(std::sync::Arc::new(provider)),
                issuer: Some(issuer.clone()),
                audience: settings.jwt_audience.clone(),
            });
        }
        let keys = match (&settings.jwks_file, secret) {
            (Some(path), _) => Keys::Jwks(load_jwks(path)?),
            (None, Some(secret)) => {
                Keys::Secret(DecodingKey::from_secret(secret.expose_secret().as_bytes()))
            }
            (None, None) => {
                return Err("one of jwt_secret, jwks_file and oidc_issuer must be set".into())
            }
        };
        Ok(Self {
            keys,
            issuer: settings.jwt_issuer.clone(),
            audience: settings.jwt_audience.clone(),
        })
    }

    /// The identity provider whose keys this checks tokens against, if it is one.
    pub fn provider(&self) -> Option<&std::sync::Arc<super::oidc::Provider>> {
        match &self.keys {
            Keys::Oidc(p) => Some(p),
            _ => None,
        }
    }

    /// Verifies a bearer token; a token from the identity provider naming a key it does not
    /// yet hold has the keys fetched again first (at most once per `oidc.refetch_min_secs`,
    /// however many such tokens come).
    pub async fn authenticate(&self, token: &str) -> Result<Claims, TokenError> {
        match self.verify(token) {
            Err(TokenError::UnknownKey) => match &self.keys {
                Keys::Oidc(provider) if provider.refetch_for_unknown_key().await => {
                    self.verify(token)
                }
                _ => Err(TokenError::UnknownKey),
            },
            verified => verified,
        }
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = LEEWAY_SECS;
        // A configured issuer or audience must be present, not merely right when present.
        let mut required = vec!["exp", "sub"];
        if self.issuer.is_some() {
            required.push("iss");
        }
        if self.audience.is_some() {
            required.push("aud");
        }
        v.set_required_spec_claims(&required);
        match &self.issuer {
            Some(iss) => v.set_issuer(&[iss]),
            None => v.iss = None,
        }
        match &self.audience {
            Some(aud) => v.set_audience(&[aud]),
            None => v.validate_aud = false,
        }
        v
    }

    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        // decode_header refuses `alg: none` (no such Algorithm), which is what we want.
        let header = jsonwebtoken::decode_header(token)?;
        let claims = match &self.keys {
            Keys::Secret(key) => {
                if header.alg != Algorithm::HS256 {
                    return Err(TokenError::UnsupportedAlgorithm);
                }
                jsonwebtoken::decode::<Claims>(token, key, &self.validation(Algorithm::HS256))?
                    .claims
            }
            Keys::Jwks(entries) => {
                let (key, alg) = key_for(entries, &header)?;
                jsonwebtoken::decode::<Claims>(token, key, &self.validation(alg))?.claims
            }
            Keys::Oidc(provider) => {
                let keys = provider.keys();
                let (key, alg) = key_for(&keys, &header)?;
                // The person is named by `oidc.subject_claim` (Entra ID: `oid`), which
                // `claims` requires; `sub` need not be there.
                let mut validation = self.validation(alg);
                validation.set_required_spec_claims(&["exp", "iss", "aud"]);
                let data = jsonwebtoken::decode::<serde_json::Value>(token, key, &validation)?;
                provider.claims(&data.claims)?
            }
        };
        if claims.sub.trim().is_empty() {
            return Err(TokenError::MissingClaim);
        }
        Ok(claims)
    }
}

fn load_jwks(path: &Path) -> Result<Vec<KeyEntry>, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("jwks_file {}: {e}", path.display()))?;
    let set: JwkSet = serde_json::from_str(&text)
        .map_err(|e| format!("jwks_file {}: not a JWKS document: {e}", path.display()))?;
    let out = keys_of(&set).map_err(|e| format!("jwks_file {}: {e}", path.display()))?;
    if out.is_empty() {
        return Err(format!(
            "jwks_file {}: no RS256 or ES256 keys",
            path.display()
        ));
    }
    Ok(out)
}

/// Signs claims: HS256 with the secret, or RS256/ES256 with a PEM private key.
pub fn mint(
    claims: &Claims,
    secret: Option<&Secret>,
    private_key: Option<(&[u8], Algorithm, Option<String>)>,
) -> Result<String, String> {
    match (private_key, secret) {
        (Some((pem, alg, kid)), _) => {
            let key = match alg {
                Algorithm::RS256 => EncodingKey::from_rsa_pem(pem),
                Algorithm::ES256 => EncodingKey::from_ec_pem(pem),
                _ => return Err("only RS256 and ES256 private keys are supported".into()),
            }
            .map_err(|e| format!("private key: {e}"))?;
            let mut header = Header::new(alg);
            header.kid = kid;
            jsonwebtoken::encode(&header, claims, &key).map_err(|e| e.to_string())
        }
        (None, Some(secret)) => jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
        )
        .map_err(|e| e.to_string()),
        (None, None) => Err("minting needs jwt_secret, or --private-key for RS256/ES256".into()),
    }
}

pub const DEV_SECRET_FILE: &str = ".candour-dev-secret";

/// The HS256 secret in use: the configured one, or in development a generated secret kept
/// in `.candour-dev-secret` (created and announced on first run). Production never gets one.
pub fn dev_secret(settings: &Settings) -> Result<Option<Secret>, String> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(Some(secret.clone()));
    }
    if settings.jwks_file.is_some()
        || settings.oidc_issuer.is_some()
        || settings.environment == crate::config::Environment::Production
    {
        return Ok(None);
    }
    if let Ok(existing) = std::fs::read_to_string(DEV_SECRET_FILE) {
        let existing = existing.trim().to_string();
        if existing.len() >= 32 {
            return Ok(Some(Secret::from(existing)));
        }
    }
    use rand::Rng;
    let generated: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(48)
        .map(char::from)
        .collect();
    write_private(DEV_SECRET_FILE, &generated)
        .map_err(|e| format!("cannot write {DEV_SECRET_FILE}: {e}"))?;
    eprintln!(
        "candour: no jwt_secret configured; generated a development secret in {DEV_SECRET_FILE}:\n  {generated}\n\
         Mint tokens with `candour token`. Set CANDOUR_JWT_SECRET (or CANDOUR_JWKS_FILE) for real use."
    );
    Ok(Some(Secret::from(generated)))
}

pub(crate) fn write_private(path: &str, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            jwt_secret: Some(Secret::from("x".repeat(40))),
            ..Settings::default()
        }
    }

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "alice".into(),
            name: None,
            email: None,
            roles: vec![],
            departments: vec![],
            scope: None,
            exp,
            iat: None,
            iss: None,
            aud: None,
        }
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    #[test]
    fn a_minted_token_verifies() {
        let s = settings();
        let auth = Authenticator::new(&s, s.jwt_secret.as_ref()).unwrap();
        let t = mint(&claims(now() + 60), s.jwt_secret.as_ref(), None).unwrap();
        assert_eq!(auth.verify(&t).unwrap().sub, "alice");
    }

    #[test]
    fn expired_and_foreign_tokens_are_refused() {
        let s = settings();
        let auth = Authenticator::new(&s, s.jwt_secret.as_ref()).unwrap();
        let old = mint(&claims(now() - 3600), s.jwt_secret.as_ref(), None).unwrap();
        assert_eq!(auth.verify(&old).unwrap_err(), TokenError::Expired);
        let other = Secret::from("y".repeat(40));
        let forged = mint(&claims(now() + 60), Some(&other), None).unwrap();
        assert_eq!(auth.verify(&forged).unwrap_err(), TokenError::BadSignature);
    }

    #[test]
    fn alg_none_is_refused() {
        let s = settings();
        let auth = Authenticator::new(&s, s.jwt_secret.as_ref()).unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let token = format!(
            "{}.{}.",
            b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            b64.encode(format!(r#"{{"sub":"alice","exp":{}}}"#, now() + 60))
        );
        assert!(auth.verify(&token).is_err());
    }

    #[test]
    fn issuer_and_audience_are_checked_when_configured() {
        let mut s = settings();
        s.jwt_issuer = Some("https://idp.trust.nhs.uk".into());
        s.jwt_audience = Some("candour".into());
        let auth = Authenticator::new(&s, s.jwt_secret.as_ref()).unwrap();
        let mut c = claims(now() + 60);
        c.iss = Some("https://idp.trust.nhs.uk".into());
        c.aud = Some("candour".into());
        assert!(auth
            .verify(&mint(&c, s.jwt_secret.as_ref(), None).unwrap())
            .is_ok());
        c.aud = Some("other".into());
        let t = mint(&c, s.jwt_secret.as_ref(), None).unwrap();
        assert_eq!(auth.verify(&t).unwrap_err(), TokenError::WrongAudience);
        c.aud = Some("candour".into());
        c.iss = Some("https://evil.example".into());
        let t = mint(&c, s.jwt_secret.as_ref(), None).unwrap();
        assert_eq!(auth.verify(&t).unwrap_err(), TokenError::WrongIssuer);
        c.iss = None;
        let t = mint(&c, s.jwt_secret.as_ref(), None).unwrap();
        assert_eq!(auth.verify(&t).unwrap_err(), TokenError::MissingClaim);
        c.iss = Some("https://idp.trust.nhs.uk".into());
        c.aud = None;
        let t = mint(&c, s.jwt_secret.as_ref(), None).unwrap();
        assert_eq!(auth.verify(&t).unwrap_err(), TokenError::MissingClaim);
    }
}
