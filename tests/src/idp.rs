//! A real identity provider process for black-box tests of OpenID Connect sign-in: it
//! serves a discovery document and a key set over HTTP (`tests/fixtures/idp_server.py`,
//! Python's standard library), as Microsoft Entra ID does, never a mock inside the server.
//!
//! The test holds the private keys ([`SigningKey`], ES256 made by rcgen, or the RS256 key
//! of `api/tests/fixtures`), publishes their public halves ([`IdentityProvider::publish`]),
//! signs tokens with them, rotates keys by publishing others, stops the provider
//! ([`IdentityProvider::stop`]) and counts what Candour asked it for
//! ([`IdentityProvider::requests`]).

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tokio::process::Child;

/// The path of the key set, as the discovery document names it.
pub const JWKS_PATH: &str = "/keys";
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// A private key the test signs tokens with, and its public JWK.
pub struct SigningKey {
    pub kid: String,
    alg: Algorithm,
    key: EncodingKey,
    pub jwk: Value,
}

impl SigningKey {
    /// A new P-256 key (ES256).
    pub fn es256(kid: &str) -> SigningKey {
        let pair = rcgen::KeyPair::generate().expect("a P-256 key");
        let raw = pair.public_key_raw();
        assert_eq!(raw.len(), 65, "an uncompressed P-256 point");
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        SigningKey {
            kid: kid.to_string(),
            alg: Algorithm::ES256,
            key: EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("PKCS#8 PEM"),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                "x": b64(&raw[1..33]), "y": b64(&raw[33..]),
            }),
        }
    }

    /// The RS256 key of `api/tests/fixtures` (rs256.pem; its public half is the `test-rsa`
    /// entry of jwks.json), published under `kid`.
    pub fn rs256_fixture(kid: &str) -> SigningKey {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../api/tests/fixtures");
        let pem = std::fs::read(format!("{dir}/rs256.pem")).expect("rs256.pem");
        let set: Value =
            serde_json::from_str(&std::fs::read_to_string(format!("{dir}/jwks.json")).unwrap())
                .unwrap();
        let mut jwk = set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kid"] == "test-rsa")
            .expect("the test-rsa key")
            .clone();
        jwk["kid"] = json!(kid);
        SigningKey {
            kid: kid.to_string(),
            alg: Algorithm::RS256,
            key: EncodingKey::from_rsa_pem(&pem).expect("an RSA key"),
            jwk,
        }
    }

    /// A token with these claims, signed with this key and naming its kid.
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }

    /// A token signed with this key but naming another kid.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(kid.to_string());
        jsonwebtoken::encode(&header, claims, &self.key).expect("a signed token")
    }
}

pub struct IdentityProvider {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl IdentityProvider {
    /// Starts the provider, publishing a discovery document (issuer: [`Self::issuer`]) and
    /// an empty key set.
    pub async fn start() -> IdentityProvider {
        let dir = tempfile::Builder::new()
            .prefix("candour-idp-")
            .tempdir()
            .expect("a temporary directory for the identity provider");
        let port_file = dir.path().join("port");
        let log = dir.path().join("server.log");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/idp_server.py");
        let (child, port) = crate::python::start_server(
            "identity provider",
            script,
            &[dir.path().as_os_str()],
            &port_file,
            &log,
        )
        .await;
        let idp = IdentityProvider {
            port,
            dir,
            child: Some(child),
        };
        idp.discovery_names(&idp.issuer());
        idp.publish(&[]);
        idp
    }

    /// The issuer: the provider's root, where its discovery document is found (Entra ID's
    /// is `https://login.microsoftonline.com/<tenant>/v2.0`).
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Writes the discovery document, naming `issuer` as the issuer.
    pub fn discovery_names(&self, issuer: &str) {
        let doc = json!({
            "issuer": issuer,
            "jwks_uri": format!("http://127.0.0.1:{}{JWKS_PATH}", self.port),
            "authorization_endpoint": format!("http://127.0.0.1:{}/authorize", self.port),
            "token_endpoint": format!("http://127.0.0.1:{}/token", self.port),
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
        });
        write(&self.dir.path().join("openid-configuration.json"), &doc);
    }

    /// Publishes these keys (and no others) in the key set.
    pub fn publish(&self, keys: &[&SigningKey]) {
        let set = json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
        write(&self.dir.path().join("jwks.json"), &set);
    }

    /// Publishes this text as the key set, whatever it is.
    pub fn publish_raw(&self, text: &str) {
        std::fs::write(self.dir.path().join("jwks.json.tmp"), text).unwrap();
        std::fs::rename(
            self.dir.path().join("jwks.json.tmp"),
            self.dir.path().join("jwks.json"),
        )
        .unwrap();
    }

    /// How many requests for `path` the provider has had.
    pub fn requests(&self, path: &str) -> usize {
        std::fs::read_to_string(self.dir.path().join("requests.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| *l == path)
            .count()
    }

    /// Stops the provider: from now on nothing answers at its address.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }
}

fn write(path: &std::path::Path, value: &Value) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, value.to_string()).expect("write the provider's file");
    std::fs::rename(&tmp, path).expect("publish the provider's file");
}
