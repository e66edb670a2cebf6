//! Every way a token can fail is UNAUTHENTICATED, and a failed token grants nothing.

use candour_tests::*;
use serde_json::json;

const WHO_AM_I: &str = "{ me { subject roles } }";

#[track_caller]
fn assert_unauthenticated(resp: &GqlResponse) {
    assert_eq!(resp.status, 200, "an executed request answers 200: {resp}");
    resp.assert_error("UNAUTHENTICATED", None);
    assert!(
        resp.data().is_null() || resp.data()["me"].is_null(),
        "no identity is returned: {resp}"
    );
}

#[tokio::test]
async fn a_valid_token_identifies_the_caller() {
    let app = spawn_app().await;

    let resp = app
        .gql(Some(&app.staff("alice")), WHO_AM_I, json!({}))
        .await;

    assert_eq!(resp.assert_ok()["me"]["subject"], "alice");
}

#[tokio::test]
async fn without_a_token_nobody_is_signed_in() {
    let app = spawn_app().await;

    assert_unauthenticated(&app.gql(None, WHO_AM_I, json!({})).await);
    let departments = app.gql(None, "{ departments { code } }", json!({})).await;
    assert_eq!(departments.status, 200, "{departments}");
    departments.assert_error("UNAUTHENTICATED", None);
    let incidents = app
        .gql(None, "{ incidents { totalCount } }", json!({}))
        .await;
    incidents.assert_error("UNAUTHENTICATED", None);
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app().await;
    let token = app.token(TokenSpec::quality_lead("quinn").expired());

    assert_unauthenticated(&app.gql(Some(&token), WHO_AM_I, json!({})).await);
}

#[tokio::test]
async fn a_token_without_an_expiry_is_refused() {
    let app = spawn_app().await;
    let token = app.token(TokenSpec::quality_lead("quinn").without_exp());

    assert_unauthenticated(&app.gql(Some(&token), WHO_AM_I, json!({})).await);
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_refused() {
    let app = spawn_app().await;
    let forged = sign_hs256(
        &TokenSpec::admin("mallory").claims(),
        "not-the-server-secret-but-just-as-long-0123456789",
    );

    assert_unauthenticated(&app.gql(Some(&forged), WHO_AM_I, json!({})).await);
    let create = app
        .try_create_department(&forged, json!({ "code": "EVIL", "name": "Evil" }))
        .await;
    create.assert_error("UNAUTHENTICATED", None);
    let departments = app
        .gql(
            Some(&app.admin("ada")),
            "{ departments { code } }",
            json!({}),
        )
        .await;
    assert_eq!(departments.assert_ok()["departments"], json!([]));
}

#[tokio::test]
async fn an_unsigned_alg_none_token_is_refused() {
    let app = spawn_app().await;
    let token = unsigned_token(&TokenSpec::admin("mallory").claims());

    assert_unauthenticated(&app.gql(Some(&token), WHO_AM_I, json!({})).await);
}

#[tokio::test]
async fn a_token_with_a_tampered_payload_is_refused() {
    let app = spawn_app().await;
    let genuine = app.staff("alice");
    let forged_claims = TokenSpec::quality_lead("alice").claims();
    let parts: Vec<&str> = genuine.split('.').collect();
    use base64::Engine as _;
    let forged_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&forged_claims).unwrap());
    let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);

    assert_unauthenticated(&app.gql(Some(&tampered), WHO_AM_I, json!({})).await);
}

#[tokio::test]
async fn a_malformed_token_is_refused() {
    let app = spawn_app().await;

    for garbage in ["not-a-jwt", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..", "Zm9v.YmFy"] {
        assert_unauthenticated(&app.gql(Some(garbage), WHO_AM_I, json!({})).await);
    }
    for header in ["Bearer", "Bearer ", "Basic YWxpY2U6c2VjcmV0", "alice"] {
        assert_unauthenticated(&app.gql_with_authorization(header, WHO_AM_I).await);
    }
}

#[tokio::test]
async fn when_an_issuer_is_configured_tokens_must_come_from_it() {
    let app = spawn_app_with(|s| s.jwt_issuer = Some("https://idp.trust.nhs.example".into())).await;

    let right = app.token(TokenSpec::staff("alice").issuer("https://idp.trust.nhs.example"));
    let resp = app.gql(Some(&right), WHO_AM_I, json!({})).await;
    assert_eq!(resp.assert_ok()["me"]["subject"], "alice");

    let wrong = app.token(TokenSpec::staff("alice").issuer("https://evil.example"));
    assert_unauthenticated(&app.gql(Some(&wrong), WHO_AM_I, json!({})).await);
    let missing = app.token(TokenSpec::staff("alice"));
    assert_unauthenticated(&app.gql(Some(&missing), WHO_AM_I, json!({})).await);
}

#[tokio::test]
async fn when_an_audience_is_configured_tokens_must_be_meant_for_it() {
    let app = spawn_app_with(|s| s.jwt_audience = Some("candour".into())).await;

    let right = app.token(TokenSpec::staff("alice").audience("candour"));
    let resp = app.gql(Some(&right), WHO_AM_I, json!({})).await;
    assert_eq!(resp.assert_ok()["me"]["subject"], "alice");

    let wrong = app.token(TokenSpec::staff("alice").audience("pharmacy-system"));
    assert_unauthenticated(&app.gql(Some(&wrong), WHO_AM_I, json!({})).await);
    let missing = app.token(TokenSpec::staff("alice"));
    assert_unauthenticated(&app.gql(Some(&missing), WHO_AM_I, json!({})).await);
}

#[tokio::test]
async fn an_unauthenticated_error_says_nothing_about_the_token() {
    let app = spawn_app().await;
    let token = app.token(TokenSpec::quality_lead("quinn").expired());

    let resp = app.gql(Some(&token), WHO_AM_I, json!({})).await;

    resp.assert_error("UNAUTHENTICATED", None);
    let text = resp.body.to_string();
    assert!(!text.contains(&token), "the token is echoed back: {resp}");
    assert!(!text.contains(JWT_SECRET), "the secret leaked: {resp}");
}
