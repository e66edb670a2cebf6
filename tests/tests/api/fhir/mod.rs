//! FHIR for integrators: incidents read and searched as LFPSE AdverseEvents, raised from
//! other systems' AdverseEvents, every resource checked by an independent FHIR
//! implementation (`fhir.resources`), every error an OperationOutcome, department scoping
//! and service scopes as over GraphQL, and every read of a patient's details logged.

mod importing;
mod reading;
mod searching;

use candour_tests::fhir::*;
use candour_tests::*;
use serde_json::{json, Value};

/// A valid NHS number and the patient's details, which no FHIR resource may carry.
const NHS: &str = "9434765919";
const PATIENT_NAME: &str = "Josephine Quillfeather";
const PATIENT_DOB: &str = "1950-03-04";

/// The incident's UUID (its FHIR id) from its global id.
async fn fhir_id(app: &TestApp, token: &str, global_id: &str) -> String {
    let resp = app
        .gql(
            Some(token),
            "query($id: ID!) { incident(id: $id) { fhir } }",
            json!({ "id": global_id }),
        )
        .await;
    resp.assert_ok()["incident"]["fhir"]["id"]
        .as_str()
        .expect("fhir.id")
        .to_string()
}

/// The sub-extension values of the AdverseEvent's (or a contained resource's) extension
/// whose url ends with `stem-5`, for one element.
fn values(resource: &Value, stem: &str, element: &str) -> Vec<Value> {
    let suffix = format!("/StructureDefinition/{stem}-5");
    resource["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["url"].as_str().is_some_and(|u| u.ends_with(&suffix)))
        .flat_map(|e| e["extension"].as_array().cloned().unwrap_or_default())
        .filter(|s| s["url"] == element)
        .map(|s| {
            s.as_object()
                .unwrap()
                .iter()
                .find(|(k, _)| k.starts_with("value"))
                .map(|(_, v)| v.clone())
                .unwrap()
        })
        .collect()
}

fn contained<'a>(resource: &'a Value, id: &str) -> &'a Value {
    resource["contained"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no contained #{id} in {resource}"))
}

/// The access log's rows for one record, as (fields, actor label), for the IG officer.
async fn reads_of(app: &TestApp, record_id: &str) -> Vec<(String, String)> {
    let ig = app.ig_officer("iggy");
    let resp = app
        .gql(
            Some(&ig),
            "{ accessLog(first: 100) { edges { node { recordId fields actorLabel } } } }",
            json!({}),
        )
        .await;
    resp.assert_ok()["accessLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["recordId"] == record_id)
        .map(|n| {
            (
                n["fields"].to_string(),
                n["actorLabel"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}
