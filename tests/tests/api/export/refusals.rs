//! Refused exports: a status code and a JSON error naming what is wrong, and no file.

use super::*;

#[tokio::test]
async fn a_bad_filter_or_order_is_refused_with_400_naming_the_parameter() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    report(&app, &h.alice, &h.cardiology, json!({})).await;
    let raw = |s: &str| serde_json::from_str::<Value>(s).unwrap_or(Value::String(s.into()));
    for (list, filter, order, field) in [
        (
            "incidents.csv",
            Value::String("{not json".into()),
            Value::Null,
            "filter",
        ),
        (
            "incidents.csv",
            json!({ "status": ["NOT_A_STATUS"] }),
            Value::Null,
            "filter",
        ),
        (
            "incidents.csv",
            json!({ "stauts": ["REPORTED"] }),
            Value::Null,
            "filter.stauts",
        ),
        ("incidents.csv", json!(["REPORTED"]), Value::Null, "filter"),
        (
            "incidents.csv",
            json!({ "departmentId": "not-an-id" }),
            Value::Null,
            "filter.departmentId",
        ),
        (
            "incidents.csv",
            json!({ "reportedAfter": "yesterday" }),
            Value::Null,
            "filter",
        ),
        (
            "incidents.csv",
            Value::Null,
            json!({ "field": "TITLE", "direction": "ASC" }),
            "orderBy",
        ),
        (
            "corrective-actions.csv",
            json!({ "sourceId": h.cardiology }),
            Value::Null,
            "filter.sourceId",
        ),
        (
            "audits.csv",
            json!({ "plannedFrom": "2026-02-30" }),
            Value::Null,
            "filter",
        ),
        (
            "obligations.csv",
            json!({ "incidentId": "x" }),
            Value::Null,
            "filter.incidentId",
        ),
        (
            "obligations.csv",
            Value::Null,
            raw(r#"{"field":"DUE_AT"}"#),
            "orderBy",
        ),
    ] {
        // A string filter is sent as its text, unquoted.
        let (filter, sent_raw) = match &filter {
            Value::String(s) => (Value::Null, Some(s.clone())),
            _ => (filter, None),
        };
        let file = match sent_raw {
            Some(text) => {
                let resp = app
                    .client
                    .get(app.url(&format!("/export/{list}")))
                    .query(&[("filter", text.as_str())])
                    .bearer_auth(&h.quinn)
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let headers = resp.headers().clone();
                Exported {
                    status,
                    headers,
                    bytes: resp.bytes().await.unwrap().to_vec(),
                }
            }
            None => {
                app.export_with(Some(&h.quinn), list, &filter, &order, &[])
                    .await
            }
        };
        assert_eq!(
            file.status,
            400,
            "{list} {filter} {order}: {:?}",
            String::from_utf8_lossy(&file.bytes)
        );
        assert_eq!(
            file.header("content-type").as_deref(),
            Some("application/json")
        );
        file.refusal().assert_error("BAD_USER_INPUT", Some(field));
    }

    // An unknown parameter, and one given twice.
    let resp = app
        .client
        .get(app.url("/export/incidents.csv?filtr=%7B%7D"))
        .bearer_auth(&h.quinn)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["field"], "filtr");
    let resp = app
        .client
        .get(app.url("/export/incidents.csv?filter=%7B%7D&filter=%7B%7D"))
        .bearer_auth(&h.quinn)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
}

#[tokio::test]
async fn an_export_without_a_valid_token_is_401_and_leaves_no_trace() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    report_with_patient(&app, &h.alice, &h.cardiology).await;
    for list in [
        "incidents.csv",
        "corrective-actions.csv",
        "audits.csv",
        "obligations.csv",
    ] {
        let file = app
            .export_with(None, list, &Value::Null, &Value::Null, &[])
            .await;
        assert_eq!(file.status, 401, "{list}");
        assert_eq!(file.header("www-authenticate").as_deref(), Some("Bearer"));
        file.refusal().assert_error("UNAUTHENTICATED", None);
    }
    let expired = app.token(TokenSpec::quality_lead("quinn").expired());
    let file = app.export(&expired, "incidents.csv", Value::Null).await;
    assert_eq!(file.status, 401);
    assert!(!String::from_utf8_lossy(&file.bytes).contains(NHS));
}

#[tokio::test]
async fn a_service_account_needs_the_read_scope_and_obligations_are_for_reviewers() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;

    let writer = app.service(&["incidents:write"]);
    for list in [
        "incidents.csv",
        "corrective-actions.csv",
        "audits.csv",
        "obligations.csv",
    ] {
        let file = app.export(&writer, list, Value::Null).await;
        assert_eq!(file.status, 403, "{list}");
        file.refusal().assert_error("FORBIDDEN", None);
    }
    let reader = app.service(&["incidents:read"]);
    let file = app.export(&reader, "incidents.csv", Value::Null).await;
    assert_eq!(file.column("id"), vec![id(&incident)]);

    // The obligations board is for handlers and quality leads, as over GraphQL.
    let file = app.export(&h.alice, "obligations.csv", Value::Null).await;
    assert_eq!(file.status, 403);
    file.refusal().assert_error("FORBIDDEN", None);
    let file = app.export(&h.hana, "obligations.csv", Value::Null).await;
    assert_eq!(file.rows().len(), 1);
}

#[tokio::test]
async fn other_methods_and_unknown_exports_are_refused() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let resp = app
        .client
        .post(app.url("/export/incidents.csv"))
        .bearer_auth(&h.quinn)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
    let resp = app
        .client
        .get(app.url("/export/patients.csv"))
        .bearer_auth(&h.quinn)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
}
