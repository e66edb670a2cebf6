//! The filters and orders are the GraphQL lists': the same input gives the same rows in the
//! same order.

use super::*;

/// A small register: kinds, harms, near misses, statuses and departments of every sort.
async fn register(app: &TestApp, h: &Hospital) -> Vec<Value> {
    let mut out = Vec::new();
    for (i, (dept, kind, harm, near_miss)) in [
        (&h.cardiology, "PATIENT_SAFETY", "LOW", false),
        (&h.cardiology, "EQUIPMENT", "NONE", true),
        (&h.cardiology, "RADIATION", "MODERATE", false),
        (&h.neurology, "PATIENT_SAFETY", "SEVERE", false),
        (&h.neurology, "STAFF_SAFETY", "LOW", false),
        (&h.neurology, "OTHER", "NONE", true),
        (&h.cardiology, "PATIENT_SAFETY", "NONE", false),
    ]
    .into_iter()
    .enumerate()
    {
        let occurred = chrono::Utc::now() - chrono::Duration::hours(30 - i as i64 * 3);
        out.push(
            report(
                app,
                &h.alice,
                dept,
                json!({
                    "title": format!("Register entry {i} {kind}"),
                    "kind": kind,
                    "physicalHarm": harm,
                    "nearMiss": near_miss,
                    "occurredAt": rfc3339(occurred),
                }),
            )
            .await,
        );
    }
    // Two under review.
    app.triage(&h.hana, &out[0], json!({})).await;
    app.triage(&h.nina, &out[3], json!({})).await;
    out
}

#[tokio::test]
async fn an_incident_export_holds_the_rows_of_the_graphql_list_for_the_same_filter_and_order() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let register = register(&app, &h).await;
    let middle = parse_time(&register[3]["reportedAt"]);

    for (filter, order) in [
        (Value::Null, Value::Null),
        (json!({ "status": ["UNDER_REVIEW"] }), Value::Null),
        (
            json!({ "status": ["REPORTED", "UNDER_REVIEW"], "kind": "PATIENT_SAFETY" }),
            Value::Null,
        ),
        (
            json!({ "departmentId": h.neurology }),
            json!({ "field": "OCCURRED_AT", "direction": "ASC" }),
        ),
        (
            json!({ "minPhysicalHarm": "LOW" }),
            json!({ "field": "PHYSICAL_HARM", "direction": "DESC" }),
        ),
        (json!({ "nearMiss": true }), Value::Null),
        (json!({ "search": "entry 2" }), Value::Null),
        (
            json!({ "reportedAfter": rfc3339(middle) }),
            json!({ "field": "REPORTED_AT", "direction": "ASC" }),
        ),
        (
            json!({ "reportedBefore": rfc3339(middle), "mine": true }),
            Value::Null,
        ),
    ] {
        for token in [&h.quinn, &h.hana] {
            let file = app
                .export_with(Some(token), "incidents.csv", &filter, &order, &[])
                .await;
            let listed = app
                .list_ids(
                    token,
                    "incidents",
                    ("IncidentFilter", Some("IncidentOrder")),
                    &filter,
                    &order,
                )
                .await;
            assert_eq!(
                file.column("id"),
                listed,
                "filter {filter} order {order}: the export and the list agree, in order"
            );
        }
    }
    // The filters did filter (the comparison above is not between two empty lists only).
    let under_review = app
        .export(
            &h.quinn,
            "incidents.csv",
            json!({ "status": ["UNDER_REVIEW"] }),
        )
        .await;
    assert_eq!(under_review.rows().len(), 2);
    assert!(under_review
        .column("status")
        .iter()
        .all(|s| s == "UNDER_REVIEW"));
}

#[tokio::test]
async fn action_audit_and_obligation_exports_hold_the_rows_of_their_lists() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let register = register(&app, &h).await;
    app.sign_in(&[&h.alice, &h.bob]).await;
    for (i, incident) in register.iter().enumerate().take(4) {
        let token = if i < 3 { &h.hana } else { &h.nina };
        let owner = if i % 2 == 0 {
            "alice@candour.test"
        } else {
            "bob@candour.test"
        };
        app.create_corrective_action(
            token,
            with(
                corrective_action_input(&id(incident), owner),
                json!({ "dueDate": days_from_today(i as i64 * 5 - 3) }),
            ),
        )
        .await;
    }
    for (filter, order) in [
        (Value::Null, Value::Null),
        (json!({ "overdue": true }), Value::Null),
        (
            json!({ "ownerEmail": "bob@candour.test" }),
            json!({ "field": "CREATED_AT", "direction": "DESC" }),
        ),
        (
            json!({ "departmentId": h.cardiology, "status": ["OPEN"] }),
            Value::Null,
        ),
    ] {
        for token in [&h.quinn, &h.hana, &h.alice] {
            let file = app
                .export_with(Some(token), "corrective-actions.csv", &filter, &order, &[])
                .await;
            let listed = app
                .list_ids(
                    token,
                    "correctiveActions",
                    ("CorrectiveActionFilter", Some("CorrectiveActionOrder")),
                    &filter,
                    &order,
                )
                .await;
            assert_eq!(
                file.column("id"),
                listed,
                "actions, filter {filter} order {order}"
            );
        }
    }

    for (title, dept, start) in [
        ("Hand hygiene", &h.cardiology, 3),
        ("Consent forms", &h.neurology, 40),
        ("Hand-over notes", &h.cardiology, 90),
    ] {
        app.plan_audit(
            &h.quinn,
            json!({
                "title": title, "departmentId": dept, "standard": "NICE QS61",
                "plannedStart": days_from_today(start), "plannedEnd": days_from_today(start + 20),
            }),
        )
        .await;
    }
    for (filter, order) in [
        (Value::Null, Value::Null),
        (
            json!({ "search": "hand" }),
            json!({ "field": "PLANNED_START", "direction": "DESC" }),
        ),
        (json!({ "departmentId": h.neurology }), Value::Null),
    ] {
        let file = app
            .export_with(Some(&h.hana), "audits.csv", &filter, &order, &[])
            .await;
        let listed = app
            .list_ids(
                &h.hana,
                "audits",
                ("AuditFilter", Some("AuditOrder")),
                &filter,
                &order,
            )
            .await;
        assert_eq!(
            file.column("id"),
            listed,
            "audits, filter {filter} order {order}"
        );
        assert!(!listed.is_empty());
    }

    // Moderate and severe harm owe the duty of candour.
    for filter in [
        Value::Null,
        json!({ "kind": ["DUTY_OF_CANDOUR"] }),
        json!({ "incidentId": id(&register[2]) }),
        json!({ "status": ["WITHDRAWN"] }),
    ] {
        for token in [&h.quinn, &h.nina] {
            let file = app
                .export_with(Some(token), "obligations.csv", &filter, &Value::Null, &[])
                .await;
            let listed = app
                .list_ids(
                    token,
                    "obligations",
                    ("ObligationFilter", None),
                    &filter,
                    &Value::Null,
                )
                .await;
            assert_eq!(file.column("id"), listed, "obligations, filter {filter}");
        }
    }
    let all = app.export(&h.quinn, "obligations.csv", Value::Null).await;
    assert_eq!(all.rows().len(), 2, "the moderate and the severe incident");
    assert!(all.column("kind").iter().all(|k| k == "DUTY_OF_CANDOUR"));
    let refs = all.column("reference");
    assert!(refs.contains(&reference_of(&register[2])));
}
