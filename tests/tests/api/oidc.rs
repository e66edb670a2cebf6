//! Staff sign in through the trust's identity provider (`oidc_issuer`): Candour reads its
//! discovery document and key set from a real provider process, follows its key rotation,
//! keeps serving while it is down, will not hammer it, and reads Entra ID's claims through
//! the configured mapping.

use std::collections::BTreeMap;
use std::time::Duration;

use candour_tests::idp::{IdentityProvider, SigningKey, DISCOVERY_PATH, JWKS_PATH};
use candour_tests::*;
use serde_json::{json, Value};

const AUDIENCE: &str = "api://candour";
const ME_QUERY: &str = "{ me { subject name email roles departmentCodes serviceAccount } }";

/// Candour pointed at the provider, reading Entra ID's claims: the person by `oid`, their
/// email from `preferred_username`, app roles and group ids mapped.
async fn candour_signing_in_with(idp: &IdentityProvider, refetch_min_secs: u64) -> TestApp {
    let issuer = idp.issuer();
    spawn_app_with(move |s| {
        s.jwt_secret = None;
        s.oidc_issuer = Some(issuer);
        s.jwt_audience = Some(AUDIENCE.into());
        s.oidc.subject_claim = "oid".into();
        s.oidc.email_claim = "preferred_username".into();
        s.oidc.role_values = BTreeMap::from([
            ("Candour.QualityLead".into(), "quality_lead".into()),
            ("Candour.Incidents.Read".into(), "incidents:read".into()),
        ]);
        s.oidc.group_roles = BTreeMap::from([("0b5e-handlers".into(), "handler".into())]);
        s.oidc.group_departments = BTreeMap::from([("7c1d-cardiology".into(), "CARD".into())]);
        s.oidc.refetch_min_secs = refetch_min_secs;
    })
    .await
}

fn entra_claims(idp: &IdentityProvider, oid: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": idp.issuer(), "aud": AUDIENCE, "exp": now + 600, "iat": now, "nbf": now,
        "oid": oid, "sub": format!("pairwise-{oid}"), "name": "Hana Handler",
        "preferred_username": "hana@trust.nhs.uk",
        "roles": ["Candour.QualityLead"],
        "groups": ["0b5e-handlers", "7c1d-cardiology", "ffff-unrelated"],
        "scp": "User.Read",
    })
}

async fn me(app: &TestApp, token: &str) -> GqlResponse {
    app.gql(Some(token), ME_QUERY, json!({})).await
}

#[track_caller]
fn assert_refused(resp: &GqlResponse, what: &str) {
    assert_eq!(
        resp.status, 200,
        "{what}: an executed request answers 200: {resp}"
    );
    resp.assert_error("UNAUTHENTICATED", None);
    assert!(
        resp.data().is_null() || resp.data()["me"].is_null(),
        "{what}: no identity is returned: {resp}"
    );
}

#[tokio::test]
async fn a_person_signs_in_with_the_providers_token_and_their_groups_mean_roles_and_departments() {
    let idp = IdentityProvider::start().await;
    let rsa = SigningKey::rs256_fixture("entra-rsa-1");
    let ec = SigningKey::es256("entra-ec-1");
    idp.publish(&[&rsa, &ec]);
    let app = candour_signing_in_with(&idp, 60).await;

    for key in [&rsa, &ec] {
        let resp = me(&app, &key.sign(&entra_claims(&idp, "5f0c-hana"))).await;
        let me = &resp.assert_ok()["me"];
        assert_eq!(me["subject"], "5f0c-hana", "the oid claim names the person");
        assert_eq!(me["email"], "hana@trust.nhs.uk");
        let roles: Vec<&str> = me["roles"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for role in ["STAFF", "HANDLER", "QUALITY_LEAD"] {
            assert!(roles.contains(&role), "{role} missing from {roles:?}");
        }
        assert_eq!(me["departmentCodes"], json!(["CARD"]));
        assert_eq!(me["serviceAccount"], false);
    }

    // An application (client credentials) with an app role Candour maps to a scope.
    let now = chrono::Utc::now().timestamp();
    let lims = ec.sign(&json!({
        "iss": idp.issuer(), "aud": AUDIENCE, "exp": now + 600, "oid": "app-lims",
        "roles": ["Candour.Incidents.Read"],
    }));
    let resp = me(&app, &lims).await;
    assert_eq!(resp.assert_ok()["me"]["serviceAccount"], true);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_when_a_token_first_names_it() {
    let idp = IdentityProvider::start().await;
    let old = SigningKey::es256("key-2026-11");
    idp.publish(&[&old]);
    let app = candour_signing_in_with(&idp, 1).await;
    me(&app, &old.sign(&entra_claims(&idp, "a1")))
        .await
        .assert_ok();
    let fetched = idp.requests(JWKS_PATH);
    assert_eq!(fetched, 1, "keys fetched once at start");

    // The provider rotates: a new key is published and tokens are signed with it.
    let new = SigningKey::es256("key-2026-12");
    idp.publish(&[&old, &new]);
    // (Past the least time between two fetches, which the fetch at start began.)
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let resp = me(&app, &new.sign(&entra_claims(&idp, "a1"))).await;
    assert_eq!(resp.assert_ok()["me"]["subject"], "a1");
    assert_eq!(idp.requests(JWKS_PATH), 2, "one fetch for the new key");

    // The old key is withdrawn: Candour keeps what it holds until it looks again, and it
    // has no reason to (every token names a key it holds).
    idp.publish(&[&new]);
    me(&app, &new.sign(&entra_claims(&idp, "a1")))
        .await
        .assert_ok();
    assert_eq!(idp.requests(JWKS_PATH), 2);
}

#[tokio::test]
async fn a_flood_of_tokens_naming_unknown_keys_costs_the_provider_one_request() {
    let idp = IdentityProvider::start().await;
    let key = SigningKey::es256("real");
    idp.publish(&[&key]);
    // At most one fetch in any 5 seconds; the one at start is more than 5 seconds ago when
    // the flood comes, so the first bad token does make Candour look.
    let app = candour_signing_in_with(&idp, 5).await;
    tokio::time::sleep(Duration::from_millis(5100)).await;
    let before = idp.requests(JWKS_PATH);

    let forged = SigningKey::es256("forged");
    let mut refused = 0;
    let requests: Vec<_> = (0..40)
        .map(|i| {
            let token = forged.sign_as(&format!("made-up-{i}"), &entra_claims(&idp, "x"));
            let app = &app;
            async move { me(app, &token).await }
        })
        .collect();
    for resp in futures_util::future::join_all(requests).await {
        assert_refused(&resp, "a made-up key id");
        refused += 1;
    }
    assert_eq!(refused, 40);
    assert_eq!(
        idp.requests(JWKS_PATH),
        before + 1,
        "40 bad tokens asked the provider for its keys once"
    );
    // Real tokens still pass.
    me(&app, &key.sign(&entra_claims(&idp, "x")))
        .await
        .assert_ok();
}

#[tokio::test]
async fn while_the_provider_is_down_the_keys_held_stay_in_use() {
    let mut idp = IdentityProvider::start().await;
    let key = SigningKey::es256("held");
    idp.publish(&[&key]);
    // A refetch may be tried every second, so the tokens below do make Candour try.
    let app = candour_signing_in_with(&idp, 1).await;
    me(&app, &key.sign(&entra_claims(&idp, "n1")))
        .await
        .assert_ok();

    idp.stop().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // A token naming a key Candour does not hold makes it try the provider, which is down:
    // refused as unknown, and nothing held is lost.
    let other = SigningKey::es256("unseen");
    let resp = me(&app, &other.sign(&entra_claims(&idp, "n1"))).await;
    assert_refused(&resp, "a key not held, the provider down");
    let resp = me(&app, &key.sign(&entra_claims(&idp, "n1"))).await;
    assert_eq!(resp.assert_ok()["me"]["subject"], "n1");
}

#[tokio::test]
async fn a_key_set_that_breaks_or_empties_does_not_replace_the_keys_held() {
    let idp = IdentityProvider::start().await;
    let key = SigningKey::es256("good");
    idp.publish(&[&key]);
    let app = candour_signing_in_with(&idp, 1).await;
    let stranger = SigningKey::es256("stranger");
    for broken in [
        "not json",
        "{\"keys\": []}",
        "{\"keys\": [{\"kty\": \"oct\", \"k\": \"AAAA\"}]}",
    ] {
        idp.publish_raw(broken);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        // The unknown kid makes Candour fetch the broken set.
        let before = idp.requests(JWKS_PATH);
        assert_refused(
            &me(&app, &stranger.sign(&entra_claims(&idp, "b"))).await,
            broken,
        );
        assert_eq!(idp.requests(JWKS_PATH), before + 1, "{broken}: fetched");
        me(&app, &key.sign(&entra_claims(&idp, "b")))
            .await
            .assert_ok();
    }
}

#[tokio::test]
async fn tokens_for_another_issuer_or_audience_are_refused() {
    let idp = IdentityProvider::start().await;
    let key = SigningKey::es256("k");
    idp.publish(&[&key]);
    let app = candour_signing_in_with(&idp, 60).await;

    let mut wrong_issuer = entra_claims(&idp, "w");
    wrong_issuer["iss"] = json!("https://login.microsoftonline.com/other-tenant/v2.0");
    let mut wrong_audience = entra_claims(&idp, "w");
    wrong_audience["aud"] = json!("api://another-app");
    let mut no_audience = entra_claims(&idp, "w");
    no_audience.as_object_mut().unwrap().remove("aud");
    let mut no_oid = entra_claims(&idp, "w");
    no_oid.as_object_mut().unwrap().remove("oid");
    let mut expired = entra_claims(&idp, "w");
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    for (what, claims) in [
        ("wrong issuer", wrong_issuer),
        ("wrong audience", wrong_audience),
        ("no audience", no_audience),
        ("no oid", no_oid),
        ("expired", expired),
    ] {
        let resp = me(&app, &key.sign(&claims)).await;
        assert_refused(&resp, what);
    }
    // An audience list holding Candour's is accepted, as the JWT specification allows.
    let mut listed = entra_claims(&idp, "w");
    listed["aud"] = json!(["api://another-app", AUDIENCE]);
    me(&app, &key.sign(&listed)).await.assert_ok();
}

#[tokio::test]
async fn a_discovery_document_naming_another_issuer_gives_no_keys() {
    let idp = IdentityProvider::start().await;
    let key = SigningKey::es256("k");
    idp.publish(&[&key]);
    // A provider (or someone in the way) that says it is someone else is not believed.
    idp.discovery_names("https://login.example/impostor");
    let app = candour_signing_in_with(&idp, 60).await;
    assert_eq!(idp.requests(DISCOVERY_PATH), 1);
    assert_eq!(idp.requests(JWKS_PATH), 0, "no keys taken from it");
    let resp = me(&app, &key.sign(&entra_claims(&idp, "i"))).await;
    assert_refused(&resp, "keys of an impostor");
}
