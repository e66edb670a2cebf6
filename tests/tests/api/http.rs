//! GraphQL over HTTP as integrators meet it: methods, media types, status codes, size and
//! shape limits, batches, health endpoints and request ids.

use std::collections::HashSet;

use candour_tests::*;
use serde_json::{json, Value};

const ME: &str = "{ me { subject } }";

fn is_valid_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

#[track_caller]
fn assert_bad_request(resp: &GqlResponse) {
    assert_eq!(resp.status, 400, "{resp}");
    resp.assert_error("BAD_USER_INPUT", None);
}

// --- health --------------------------------------------------------------------------------

#[tokio::test]
async fn the_server_reports_itself_live_and_ready() {
    let app = spawn_app().await;

    let live = app.get("/healthz").await;
    assert_eq!(live.status, 200, "{live}");
    let ready = app.get("/readyz").await;
    assert_eq!(
        ready.status, 200,
        "a migrated, reachable database is ready: {ready}"
    );
}

// --- request ids ---------------------------------------------------------------------------

#[tokio::test]
async fn every_response_carries_a_request_id_of_its_own() {
    let app = spawn_app().await;
    let token = app.staff("alice");

    let responses = vec![
        app.get("/healthz").await,
        app.get("/readyz").await,
        app.gql(Some(&token), ME, json!({})).await,
        app.gql(None, ME, json!({})).await,
        app.post_raw(
            Some("application/json"),
            Some(GRAPHQL_RESPONSE_JSON),
            None,
            "{oops",
        )
        .await,
        app.get_graphql(None, GRAPHQL_RESPONSE_JSON, &[("query", "mutation { x }")])
            .await,
        app.get("/no-such-page").await,
    ];

    let mut ids = HashSet::new();
    for resp in &responses {
        let id = resp
            .header("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id on {resp}"));
        assert!(
            is_valid_request_id(&id),
            "generated id {id:?} is not a valid request id"
        );
        ids.insert(id);
    }
    assert_eq!(ids.len(), responses.len(), "request ids repeat: {ids:?}");
}

#[tokio::test]
async fn a_valid_request_id_from_the_client_is_echoed() {
    let app = spawn_app().await;
    let longest = "a".repeat(64);

    for id in [
        "abc-123_X.y",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        longest.as_str(),
    ] {
        let resp = app
            .gql_with_headers(
                Some(&app.staff("alice")),
                ME,
                json!({}),
                &[("x-request-id", id)],
            )
            .await;
        assert_eq!(resp.request_id(), id);
        let health = app
            .client
            .get(app.url("/healthz"))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(health.headers()["x-request-id"], id);
    }
}

#[tokio::test]
async fn an_invalid_request_id_from_the_client_is_replaced() {
    let app = spawn_app().await;
    let too_long = "a".repeat(65);

    for id in [
        too_long.as_str(),
        "has space",
        "semi;colon",
        "<script>",
        "ünïcode",
    ] {
        let resp = app
            .gql_with_headers(
                Some(&app.staff("alice")),
                ME,
                json!({}),
                &[("x-request-id", id)],
            )
            .await;
        resp.assert_ok();
        let answered = resp.request_id();
        assert_ne!(answered, id, "invalid id echoed");
        assert!(is_valid_request_id(&answered), "{answered:?}");
    }
}

// --- methods and media types ---------------------------------------------------------------

#[tokio::test]
async fn a_query_may_be_sent_with_get() {
    let app = spawn_app().await;
    let token = app.staff("alice");

    let resp = app
        .get_graphql(
            Some(&token),
            GRAPHQL_RESPONSE_JSON,
            &[
                (
                    "query",
                    "query Who($x: Boolean!) { me { subject @include(if: $x) } }",
                ),
                ("variables", r#"{"x": true}"#),
                ("operationName", "Who"),
            ],
        )
        .await;

    assert_eq!(resp.assert_ok()["me"]["subject"], "alice");
}

#[tokio::test]
async fn a_mutation_over_get_is_refused_with_405() {
    let app = spawn_app().await;
    let ada = app.admin("ada");

    let resp = app
        .get_graphql(
            Some(&ada),
            GRAPHQL_RESPONSE_JSON,
            &[(
                "query",
                r#"mutation { createDepartment(input: {code: "CARD", name: "Cardiology"}) { department { id } } }"#,
            )],
        )
        .await;

    assert_eq!(resp.status, 405, "{resp}");
    let list = app
        .gql(Some(&ada), "{ departments { code } }", json!({}))
        .await;
    assert_eq!(
        list.assert_ok()["departments"],
        json!([]),
        "the GET changed nothing"
    );
}

#[tokio::test]
async fn a_post_that_is_not_json_is_refused_with_415() {
    let app = spawn_app().await;
    let body = serde_json::to_vec(&json!({ "query": ME })).unwrap();

    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let resp = app
            .post_raw(
                content_type,
                Some(GRAPHQL_RESPONSE_JSON),
                Some(&app.staff("alice")),
                body.clone(),
            )
            .await;
        assert_eq!(resp.status, 415, "Content-Type {content_type:?}: {resp}");
    }
}

#[tokio::test]
async fn json_with_a_charset_is_still_json() {
    let app = spawn_app().await;

    let resp = app
        .post_raw(
            Some("application/json; charset=utf-8"),
            Some(GRAPHQL_RESPONSE_JSON),
            Some(&app.staff("alice")),
            serde_json::to_vec(&json!({ "query": ME })).unwrap(),
        )
        .await;

    assert_eq!(resp.assert_ok()["me"]["subject"], "alice");
}

#[tokio::test]
async fn malformed_requests_are_a_400_never_a_server_error() {
    let app = spawn_app().await;

    for body in [
        "{",
        "not json",
        "",
        "[",
        "null",
        "42",
        "\"query\"",
        "{}",
        r#"{"query": 1}"#,
        r#"{"query": "{ me { subject } }", "variables": "nope"}"#,
    ] {
        let resp = app
            .post_raw(
                Some("application/json"),
                Some(GRAPHQL_RESPONSE_JSON),
                Some(&app.staff("alice")),
                body,
            )
            .await;
        assert_eq!(resp.status, 400, "body {body:?}: {resp}");
    }
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_refused_with_413() {
    let app = spawn_app().await;
    let padding = "x".repeat(1024 * 1024 + 1);
    let body =
        serde_json::to_vec(&json!({ "query": ME, "variables": { "padding": padding } })).unwrap();

    let resp = app
        .post_raw(
            Some("application/json"),
            Some(GRAPHQL_RESPONSE_JSON),
            Some(&app.staff("alice")),
            body,
        )
        .await;

    assert_eq!(resp.status, 413, "{resp}");
}

#[tokio::test]
async fn a_large_body_within_the_limit_is_accepted() {
    let app = spawn_app().await;
    let padding = "x".repeat(512 * 1024);
    let body =
        serde_json::to_vec(&json!({ "query": ME, "variables": { "padding": padding } })).unwrap();

    let resp = app
        .post_raw(
            Some("application/json"),
            Some(GRAPHQL_RESPONSE_JSON),
            Some(&app.staff("alice")),
            body,
        )
        .await;

    assert_eq!(resp.assert_ok()["me"]["subject"], "alice");
}

#[tokio::test]
async fn graphql_response_json_answers_in_kind_with_400_for_unparseable_or_invalid_documents() {
    let app = spawn_app().await;
    let token = app.staff("alice");

    let ok = app.gql(Some(&token), ME, json!({})).await;
    assert!(
        ok.content_type().starts_with(GRAPHQL_RESPONSE_JSON),
        "{:?}",
        ok.content_type()
    );

    let unparseable = app.gql(Some(&token), "{ me { subject ", json!({})).await;
    assert_bad_request(&unparseable);
    assert!(unparseable
        .content_type()
        .starts_with(GRAPHQL_RESPONSE_JSON));

    let invalid = app
        .gql(Some(&token), "{ me { noSuchField } }", json!({}))
        .await;
    assert_bad_request(&invalid);

    let wrong_variable = app
        .gql(
            Some(&token),
            "query($id: ID!) { incident(id: $id) { id } }",
            json!({ "id": { "not": "an id" } }),
        )
        .await;
    assert_bad_request(&wrong_variable);
}

#[tokio::test]
async fn an_executed_request_is_200_even_when_a_field_is_forbidden() {
    let app = spawn_app().await;

    let resp = app
        .try_create_department(
            &app.staff("alice"),
            json!({ "code": "CARD", "name": "Cardiology" }),
        )
        .await;

    assert_eq!(resp.status, 200, "{resp}");
    resp.assert_error("FORBIDDEN", None);
}

#[tokio::test]
async fn plain_json_clients_get_200_for_any_well_formed_request() {
    let app = spawn_app().await;

    let resp = app
        .post_raw(
            Some("application/json"),
            Some("application/json"),
            Some(&app.staff("alice")),
            serde_json::to_vec(&json!({ "query": "{ me { subject " })).unwrap(),
        )
        .await;

    assert_eq!(resp.status, 200, "{resp}");
    assert!(
        resp.content_type().starts_with("application/json"),
        "{:?}",
        resp.content_type()
    );
    resp.assert_error("BAD_USER_INPUT", None);
}

#[tokio::test]
async fn a_client_that_accepts_only_html_cannot_post_graphql() {
    let app = spawn_app().await;

    let resp = app
        .post_raw(
            Some("application/json"),
            Some("text/html"),
            Some(&app.staff("alice")),
            serde_json::to_vec(&json!({ "query": ME })).unwrap(),
        )
        .await;

    assert_eq!(resp.status, 406, "{resp}");
}

#[tokio::test]
async fn a_browser_gets_graphiql() {
    let app = spawn_app().await;

    let resp = app.get_graphql(None, "text/html", &[]).await;

    assert_eq!(resp.status, 200, "{resp}");
    assert!(
        resp.content_type().starts_with("text/html"),
        "{:?}",
        resp.content_type()
    );
    let html = resp.body.as_str().unwrap_or_default().to_lowercase();
    assert!(html.contains("graphiql"), "not the GraphiQL page: {resp}");
}

// --- batches -------------------------------------------------------------------------------

#[tokio::test]
async fn a_batch_answers_each_operation_in_order() {
    let app = spawn_app().await;
    let token = app.quality_lead("quinn");

    let resp = app
        .post_graphql(
            Some(&token),
            &json!([
                { "query": "{ me { subject } }" },
                { "query": "{ incidents { totalCount } }" },
            ]),
        )
        .await;

    assert_eq!(resp.status, 200, "{resp}");
    let results = resp
        .body
        .as_array()
        .unwrap_or_else(|| panic!("not a batch answer: {resp}"));
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["data"]["me"]["subject"], "quinn");
    assert_eq!(results[1]["data"]["incidents"]["totalCount"], 0);
}

#[tokio::test]
async fn a_batch_larger_than_ten_is_refused() {
    let app = spawn_app().await;
    let token = app.staff("alice");
    let batch = |n: usize| Value::Array((0..n).map(|_| json!({ "query": ME })).collect());

    let ten = app.post_graphql(Some(&token), &batch(10)).await;
    assert_eq!(ten.status, 200, "{ten}");
    assert_eq!(ten.body.as_array().map(Vec::len), Some(10));

    let eleven = app.post_graphql(Some(&token), &batch(11)).await;
    assert_bad_request(&eleven);
}

#[tokio::test]
async fn the_batch_limit_is_configurable() {
    let app = spawn_app_with(|s| s.limits.max_batch = 2).await;
    let token = app.staff("alice");
    let batch = |n: usize| Value::Array((0..n).map(|_| json!({ "query": ME })).collect());

    assert_eq!(app.post_graphql(Some(&token), &batch(2)).await.status, 200);
    assert_bad_request(&app.post_graphql(Some(&token), &batch(3)).await);
}

// --- query limits --------------------------------------------------------------------------

fn nested_duplicate_of(levels: usize) -> String {
    let mut selection = "id".to_string();
    for _ in 0..levels {
        selection = format!("duplicateOf {{ {selection} }}");
    }
    format!("query($id: ID!) {{ incident(id: $id) {{ {selection} }} }}")
}

#[tokio::test]
async fn a_query_nested_too_deep_is_refused() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let id = json!({ "id": incident["id"] });

    let shallow = app
        .gql(Some(&h.quinn), &nested_duplicate_of(8), id.clone())
        .await;
    shallow.assert_ok();

    let deep = app.gql(Some(&h.quinn), &nested_duplicate_of(20), id).await;
    assert_bad_request(&deep);
}

#[tokio::test]
async fn a_query_with_too_many_aliases_is_refused() {
    let app = spawn_app().await;
    let token = app.staff("alice");
    let aliases = |n: usize| {
        let fields: Vec<String> = (0..n).map(|i| format!("a{i}: me {{ subject }}")).collect();
        format!("{{ {} }}", fields.join(" "))
    };

    let thirty = app.gql(Some(&token), &aliases(30), json!({})).await;
    assert_eq!(thirty.assert_ok()["a29"]["subject"], "alice");

    let forty = app.gql(Some(&token), &aliases(40), json!({})).await;
    assert_bad_request(&forty);
}

#[tokio::test]
async fn a_refused_document_in_a_batch_is_answered_in_its_place_and_the_rest_run() {
    let app = spawn_app().await;
    let token = app.staff("alice");
    let forty: Vec<String> = (0..40).map(|i| format!("a{i}: me {{ subject }}")).collect();
    let too_many = format!("{{ {} }}", forty.join(" "));
    // Twice each: the second time the parsed document comes from the server's cache, and
    // must be refused (or run) just the same.
    for _ in 0..2 {
        let resp = app
            .post_graphql(
                Some(&token),
                &json!([
                    { "query": ME },
                    { "query": too_many },
                    { "query": "{ me { name } " },
                    { "query": "{ me { subject } }" },
                ]),
            )
            .await;
        assert_eq!(resp.status, 200, "{resp}");
        let results = resp.body.as_array().expect("a batch answer");
        assert_eq!(results.len(), 4, "{resp}");
        assert!(results[0]["errors"].is_null(), "{resp}");
        assert_eq!(results[3]["data"]["me"]["subject"], "alice");
        for refused in [&results[1], &results[2]] {
            assert!(refused.get("data").is_none(), "nothing ran: {refused}");
            assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
        }
        assert!(
            results[1]["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("aliases"),
            "{resp}"
        );
    }
}

#[tokio::test]
async fn a_query_over_the_complexity_budget_is_refused() {
    let app = spawn_app_with(|s| s.limits.max_complexity = 10).await;
    let token = app.staff("alice");

    let cheap = app
        .gql(Some(&token), "{ me { subject name } }", json!({}))
        .await;
    cheap.assert_ok();

    let expensive = app
        .gql(
            Some(&token),
            "{ me { subject name email roles departmentCodes scopes serviceAccount
                    staff { id name email } } departments { id code name site } }",
            json!({}),
        )
        .await;
    assert_bad_request(&expensive);
}

#[tokio::test]
async fn the_depth_limit_is_configurable() {
    let app = spawn_app_with(|s| s.limits.max_depth = 3).await;
    let token = app.quality_lead("quinn");

    // Refused while validating, before any incident is looked up.
    let resp = app
        .gql(
            Some(&token),
            &nested_duplicate_of(4),
            json!({ "id": "anything" }),
        )
        .await;
    assert_bad_request(&resp);

    let shallow = app.gql(Some(&token), ME, json!({})).await;
    assert_eq!(shallow.assert_ok()["me"]["subject"], "quinn");
}

#[tokio::test]
async fn introspection_is_on_by_default() {
    let app = spawn_app().await;

    let resp = app
        .gql(
            None,
            "{ __schema { queryType { name } mutationType { name } } }",
            json!({}),
        )
        .await;

    let schema = &resp.assert_ok()["__schema"];
    assert_eq!(schema["queryType"]["name"], "Query");
    assert_eq!(schema["mutationType"]["name"], "Mutation");
}

#[tokio::test]
async fn introspection_can_be_switched_off() {
    let app = spawn_app_with(|s| s.limits.introspection = false).await;
    let token = app.quality_lead("quinn");

    for query in [
        "{ __schema { queryType { name } } }",
        "{ __type(name: \"Incident\") { fields { name } } }",
    ] {
        let resp = app.gql(Some(&token), query, json!({})).await;
        resp.assert_error("BAD_USER_INPUT", None);
        assert!(
            !resp.body.to_string().contains("reportedAt"),
            "the schema leaked: {resp}"
        );
    }
    // Ordinary queries still work.
    app.gql(Some(&token), ME, json!({})).await.assert_ok();
}

#[tokio::test]
async fn response_fields_come_back_in_the_order_the_query_asked_for_them() {
    let app = spawn_app().await;
    let token = app.staff("alice");
    for (query, first, second) in [
        (
            "{ me { subject serviceAccount } }",
            "\"subject\"",
            "\"serviceAccount\"",
        ),
        (
            "{ me { serviceAccount subject } }",
            "\"serviceAccount\"",
            "\"subject\"",
        ),
    ] {
        let text = app
            .client
            .post(app.url("/graphql"))
            .bearer_auth(&token)
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let (a, b) = (text.find(first).unwrap(), text.find(second).unwrap());
        assert!(a < b, "{query} answered {text}");
    }
}
