//! CSV exports of the lists: the very rows the GraphQL lists give for the same filter and
//! order, under the same department scoping; only what the reader may read of each row,
//! every sensitive cell sent in the access log; a file spreadsheets open safely (UTF-8 with
//! a byte order mark, RFC 4180 quoting, CRLF, formulas made inert); refusals with a status
//! and a JSON error naming the parameter; and 100,000 rows streamed page by page.

mod files;
mod filters;
mod large;
mod refusals;
mod scoping;

use candour_tests::export::Exported;
use candour_tests::*;
use serde_json::{json, Value};

/// A valid NHS number, and the patient's details as reported.
const NHS: &str = "9434765919";
const PATIENT_NAME: &str = "Josephine Quillfeather";
const PATIENT_DOB: &str = "1950-03-04";

/// A report in `department` by the holder of `token`, the story's details over a valid one.
async fn report(app: &TestApp, token: &str, department: &str, patch: Value) -> Value {
    app.report_incident(token, with(incident_input(department), patch))
        .await
}

/// A report naming a patient, with immediate actions taken.
async fn report_with_patient(app: &TestApp, token: &str, department: &str) -> Value {
    report(
        app,
        token,
        department,
        json!({
            "immediateActions": "Rails raised; patient checked by the registrar.",
            "patient": { "nhsNumber": NHS, "name": PATIENT_NAME, "dateOfBirth": PATIENT_DOB },
        }),
    )
    .await
}

/// The access events one request wrote, by record id: the fields read.
async fn reads_in(app: &TestApp, request_id: &str) -> Vec<(String, Vec<String>, Option<String>)> {
    let ig = app.ig_officer("iggy");
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let resp = app
            .gql(
                Some(&ig),
                "query($after: String) { accessLog(first: 100, after: $after) {
                   edges { node { recordId fields requestId purpose } }
                   pageInfo { hasNextPage endCursor }
                 } }",
                json!({ "after": after }),
            )
            .await;
        let log = resp.assert_ok()["accessLog"].clone();
        for e in log["edges"].as_array().unwrap() {
            let n = &e["node"];
            if n["requestId"] == request_id {
                let mut fields: Vec<String> = serde_json::from_value(n["fields"].clone()).unwrap();
                fields.sort();
                out.push((
                    n["recordId"].as_str().unwrap().to_string(),
                    fields,
                    n["purpose"].as_str().map(str::to_string),
                ));
            }
        }
        if log["pageInfo"]["hasNextPage"] != true {
            out.sort();
            return out;
        }
        after = log["pageInfo"]["endCursor"].clone();
    }
}

/// The `x-request-id` an export was answered with.
#[track_caller]
fn request_id(file: &Exported) -> String {
    file.header("x-request-id")
        .expect("the export answers with its x-request-id")
}
