//! The checked-in `schema.graphql` is exactly what the server serves, so integrators can
//! trust the file and reviewers see every contract change in a diff.

use candour_tests::*;

const REGENERATE: &str = "regenerate it with: cargo run -p candour -- schema > schema.graphql";

#[tokio::test]
async fn the_checked_in_schema_is_the_one_the_server_serves() {
    let app = spawn_app().await;
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let checked_in = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {path} ({e}); {REGENERATE}"));

    let resp = app.get("/schema.graphql").await;
    assert_eq!(resp.status, 200, "GET /schema.graphql: {resp}");
    let served = resp
        .body
        .as_str()
        .unwrap_or_else(|| panic!("GET /schema.graphql did not answer SDL text: {resp}"));

    if served.trim_end() != checked_in.trim_end() {
        let first_difference = served
            .lines()
            .zip(checked_in.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(i, (a, b))| format!("line {}: served {a:?}, checked in {b:?}", i + 1))
            .unwrap_or_else(|| {
                format!(
                    "one is a prefix of the other ({} vs {} lines)",
                    served.lines().count(),
                    checked_in.lines().count()
                )
            });
        panic!("schema.graphql is out of date ({first_difference}); {REGENERATE}");
    }
}

#[tokio::test]
async fn the_served_schema_names_the_contract_integrators_rely_on() {
    let app = spawn_app().await;

    let resp = app.get("/schema.graphql").await;
    let sdl = resp.body.as_str().unwrap_or_default();

    for name in [
        "type Query",
        "type Mutation",
        "interface Node",
        "type Incident implements Node",
        "type Department implements Node",
        "enum IncidentStatus",
        "input ReportIncidentInput",
        "input TriageIncidentInput",
        "input TransitionIncidentInput",
        "input CommentOnIncidentInput",
        "input CreateDepartmentInput",
        "type IncidentConnection",
        "incidentByReference(",
        "recordDutyOfCandourStep(",
    ] {
        assert!(sdl.contains(name), "the served SDL lacks {name:?}: {resp}");
    }
}
