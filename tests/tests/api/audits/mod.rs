//! Clinical audits: handlers and quality leads plan audits of a department against a
//! standard, start them, record each criterion's compliance, report them, raise corrective
//! actions on the non-conformities and close them; a re-audit shows how compliance moved.
//! Who may do what, the cycle, the arithmetic, concurrency, the trail, listing and cost.

mod cycle;
mod findings;
mod planning;
mod programme;
mod reaudit_and_history;

use candour_tests::*;
use futures_util::future::join;
use serde_json::{json, Value};

/// Lena, who leads audits but handles no department.
const LEAD: &str = "lena.lead@candour.test";
/// Olive, a member of staff who owns corrective actions.
const OLIVE: &str = "olive@candour.test";

#[track_caller]
fn assert_percent(value: &Value, expected: f64, what: &str) {
    let v = value
        .as_f64()
        .unwrap_or_else(|| panic!("{what}: expected {expected}, got {value}"));
    assert!(
        (v - expected).abs() < 1e-6,
        "{what}: expected {expected}, got {v}"
    );
}

/// The audit's finding for this criterion (exactly as recorded).
#[track_caller]
fn finding(audit: &Value, criterion: &str) -> Value {
    audit["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {audit}"))
        .iter()
        .find(|f| f["criterion"] == criterion)
        .unwrap_or_else(|| panic!("no finding {criterion:?} in {audit}"))
        .clone()
}

fn findings(audit: &Value) -> Vec<Value> {
    audit["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("no findings in {audit}"))
        .clone()
}

/// A cardiology audit planned by the quality lead, with `patch` over the defaults.
async fn planned(app: &TestApp, h: &Hospital, patch: Value) -> Value {
    app.plan_audit(&h.quinn, with(audit_input(&h.cardiology), patch))
        .await
}

/// A cardiology audit planned by the quality lead and started by Hana.
async fn started(app: &TestApp, h: &Hospital, patch: Value) -> Value {
    let audit = planned(app, h, patch).await;
    app.move_audit(&h.hana, &audit, "IN_PROGRESS").await
}

/// Record one criterion's result; returns the audit.
async fn record(
    app: &TestApp,
    token: &str,
    audit: &Value,
    criterion: &str,
    target: f64,
    sample: i64,
    compliant: i64,
) -> Value {
    app.record_audit_finding(
        token,
        finding_input(&id(audit), criterion, target, sample, compliant),
    )
    .await
}

/// A cardiology audit started, with these findings recorded by Hana, and reported.
async fn reported_with(app: &TestApp, h: &Hospital, results: &[(&str, f64, i64, i64)]) -> Value {
    let mut audit = started(app, h, json!({})).await;
    for (criterion, target, sample, compliant) in results {
        audit = record(
            app, &h.hana, &audit, criterion, *target, *sample, *compliant,
        )
        .await;
    }
    app.move_audit(&h.hana, &audit, "REPORTED").await
}

/// A corrective action raised from a finding, owned by Olive.
async fn raise_on(app: &TestApp, token: &str, finding: &Value) -> Value {
    app.create_corrective_action(token, corrective_action_input(&id(finding), OLIVE))
        .await
}

// --- planning ------------------------------------------------------------------------------
