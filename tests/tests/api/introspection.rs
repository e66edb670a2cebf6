//! Standard GraphQL clients read the schema by introspection before anything else: the
//! queries that graphql-js, GraphiQL, Apollo and graphql-codegen send pass at the default
//! limits, and what would make introspection expensive is still refused, whether through
//! real fields, `__type` or `ofType`.

use candour_tests::*;
use serde_json::json;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/introspection");

/// The queries the clients send (tests/fixtures/introspection/generate.mjs writes them
/// with graphql-js itself).
fn client_queries() -> Vec<(&'static str, String)> {
    ["graphql-js", "graphiql", "apollo", "codegen"]
        .into_iter()
        .map(|name| {
            let path = format!("{FIXTURES}/{name}.graphql");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
            (name, text)
        })
        .collect()
}

/// The names of every type the checked-in SDL defines.
fn sdl_type_names() -> Vec<String> {
    let sdl = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql"))
        .expect("schema.graphql");
    sdl.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let keyword = words.next()?;
            let name = words.next()?;
            let identifier = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            let definition = match keyword {
                "type" | "input" | "enum" | "interface" => line.trim_end().ends_with('{'),
                "scalar" | "union" => true,
                _ => false,
            };
            (identifier && definition && !line.starts_with(' ')).then(|| name.to_string())
        })
        .collect()
}

fn message(resp: &GqlResponse) -> String {
    resp.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn every_standard_clients_introspection_query_is_answered_at_the_default_limits() {
    let app = spawn_app().await;
    let token = app.staff("alice");
    let expected = sdl_type_names();
    assert!(expected.len() > 100, "the SDL was not read: {expected:?}");

    for (client, query) in client_queries() {
        // Signed in or not, as a client tool first connects.
        for caller in [None, Some(token.as_str())] {
            let resp = app.gql(caller, &query, json!({})).await;
            assert_eq!(resp.status, 200, "{client}: {resp}");
            let data = resp.assert_ok();
            let schema = &data["__schema"];
            assert_eq!(schema["queryType"]["name"], "Query", "{client}");
            assert_eq!(schema["mutationType"]["name"], "Mutation", "{client}");
            let types = schema["types"].as_array().expect("types");
            let names: Vec<&str> = types.iter().filter_map(|t| t["name"].as_str()).collect();
            for name in &expected {
                assert!(names.contains(&name.as_str()), "{client}: {name} missing");
            }
            // The deepest wrapping the schema has comes back whole: a list of non-null
            // objects, non-null (`[IncidentEdge!]!`).
            let connection = types
                .iter()
                .find(|t| t["name"] == "IncidentConnection")
                .expect("IncidentConnection");
            let edges = connection["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["name"] == "edges")
                .expect("edges");
            let t = &edges["type"];
            assert_eq!(t["kind"], "NON_NULL", "{client}: {t}");
            assert_eq!(t["ofType"]["kind"], "LIST", "{client}: {t}");
            assert_eq!(t["ofType"]["ofType"]["kind"], "NON_NULL", "{client}: {t}");
            assert_eq!(
                t["ofType"]["ofType"]["ofType"]["name"], "IncidentEdge",
                "{client}: {t}"
            );
        }
    }
}

#[tokio::test]
async fn fields_of_fields_of_fields_through_the_schema_are_refused() {
    let app = spawn_app().await;
    for query in [
        // Every field of every field's type, again: it multiplies with the schema's size.
        "{ __type(name: \"Incident\") { fields { type { fields { type { fields { name } } } } } } }",
        "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }",
        "{ __schema { types { possibleTypes { interfaces { fields { name } } } } } }",
        // The same through fragments, and through a fragment that spreads itself.
        "query { __type(name: \"Incident\") { ...A } }
         fragment A on __Type { fields { type { ...B } } }
         fragment B on __Type { fields { type { ...C } } }
         fragment C on __Type { inputFields { name } }",
    ] {
        let resp = app.gql(None, query, json!({})).await;
        assert_eq!(resp.status, 400, "{query}: {resp}");
        resp.assert_error("BAD_USER_INPUT", None);
        assert!(
            message(&resp).contains("introspection depth"),
            "{query}: {resp}"
        );
    }
    // Two lists deep is what a client needs to see a type's fields' own fields, and passes.
    let two = app
        .gql(
            None,
            "{ __type(name: \"Incident\") { fields { name type { name fields { name } } } } }",
            json!({}),
        )
        .await;
    assert!(
        two.assert_ok()["__type"]["fields"]
            .as_array()
            .unwrap()
            .len()
            > 10
    );
}

fn of_type_chain(n: usize) -> String {
    let mut selection = "kind name".to_string();
    for _ in 0..n {
        selection = format!("kind name ofType {{ {selection} }}");
    }
    format!("{{ __type(name: \"Incident\") {{ fields {{ type {{ {selection} }} }} }} }}")
}

#[tokio::test]
async fn a_chain_of_of_type_is_followed_as_far_as_a_client_asks_and_no_further() {
    let app = spawn_app().await;
    // Ten links (graphql-js sends nine) count as no depth at all.
    let ten = app.gql(None, &of_type_chain(10), json!({})).await;
    ten.assert_ok();
    for n in [11, 40] {
        let resp = app.gql(None, &of_type_chain(n), json!({})).await;
        assert_eq!(resp.status, 400, "{n}: {resp}");
        resp.assert_error("BAD_USER_INPUT", None);
        assert!(message(&resp).contains("ofType"), "{n}: {resp}");
    }
    // Far deeper, the parser's own bound on nesting refuses it first.
    let resp = app.gql(None, &of_type_chain(500), json!({})).await;
    assert_eq!(resp.status, 400, "{resp}");
    resp.assert_error("BAD_USER_INPUT", None);
}

#[tokio::test]
async fn introspection_still_counts_towards_the_depth_of_real_fields() {
    let app = spawn_app_with(|s| s.limits.max_depth = 5).await;
    let token = app.quality_lead("quinn");
    // incidents, edges, node, department, name: five levels, allowed.
    let resp = app
        .gql(
            Some(&token),
            "{ incidents { edges { node { department { __typename name } } } } }",
            json!({}),
        )
        .await;
    resp.assert_ok();
    let resp = app
        .gql(
            Some(&token),
            "{ __schema { types { fields { type { ofType { ofType { name } } } } } } }",
            json!({}),
        )
        .await;
    // __schema, types, fields, type, name: five; the ofType links count as none.
    resp.assert_ok();
    let resp = app
        .gql(
            Some(&token),
            "{ __schema { types { fields { args { type { name } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(resp.status, 400, "{resp}");
    assert!(message(&resp).contains("nested too deep"), "{resp}");
}

#[tokio::test]
async fn a_document_that_spreads_fragments_exponentially_is_checked_once_per_fragment() {
    let app = spawn_app().await;
    // F29 spreads F28 twice, which spreads F27 twice ...: 2^29 fields if expanded.
    let mut doc =
        String::from("{ __schema { types { ...F29 } } }\nfragment F0 on __Type { name }\n");
    for i in 1..30 {
        doc.push_str(&format!(
            "fragment F{i} on __Type {{ ...F{p} ofType {{ ...F{p} }} }}\n",
            p = i - 1
        ));
    }
    let resp = app.gql(None, &doc, json!({})).await;
    assert_eq!(resp.status, 400, "{resp}");
    resp.assert_error("BAD_USER_INPUT", None);

    // Side by side rather than through ofType: no deeper, but 2^29 names if expanded.
    let mut doc =
        String::from("{ __schema { types { ...F29 } } }\nfragment F0 on __Type { name }\n");
    for i in 1..30 {
        doc.push_str(&format!(
            "fragment F{i} on __Type {{ ...F{p} a{i}: name ...F{p} }}\n",
            p = i - 1
        ));
    }
    let resp = app.gql(None, &doc, json!({})).await;
    assert_eq!(resp.status, 400, "{resp}");
    resp.assert_error("BAD_USER_INPUT", None);
    assert!(
        message(&resp).contains("fields once its fragments are spread"),
        "{resp}"
    );
    // The server is still answering.
    app.gql(None, "{ __schema { queryType { name } } }", json!({}))
        .await
        .assert_ok();
}
