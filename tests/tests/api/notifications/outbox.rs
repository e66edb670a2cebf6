//! The outbox: every email, its status and its deliveries, for quality leads only.

use super::*;

// =============================================================================================
// The outbox
// =============================================================================================

#[tokio::test]
async fn a_quality_lead_sees_every_email_its_status_and_its_deliveries_and_others_may_not() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, |_| {}).await;
    let h = app.hospital().await;
    app.sign_in(&[&h.hana, &h.nina, &h.quinn]).await;
    let cardiac = report_low(&app, &h.alice, &h.cardiology).await;
    let neuro = report_low(&app, &h.bob, &h.neurology).await;
    app.create_corrective_action(&h.hana, corrective_action_input(&id(&cardiac), OLIVE))
        .await;
    let outbox = all_sent(&app, &h.quinn, json!({}), 3).await;
    mail.wait_for(3, WAIT).await;

    let kinds_in_order: Vec<&str> = outbox.iter().map(|n| n["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds_in_order,
        ["ACTION_ASSIGNED", "INCIDENT_REPORTED", "INCIDENT_REPORTED"],
        "newest first"
    );
    assert_eq!(outbox[1]["recipient"], NINA);
    assert_eq!(outbox[2]["recipient"], HANA);
    let created: Vec<chrono::DateTime<chrono::Utc>> =
        outbox.iter().map(|n| parse_time(&n["createdAt"])).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");
    for n in &outbox {
        assert_eq!(n["status"], "SENT", "{n}");
        assert_eq!(n["attempts"], 1, "{n}");
        assert!(n["lastError"].is_null(), "{n}");
        assert!(n["nextAttemptAt"].is_null(), "{n}");
        assert!(
            parse_time(&n["sentAt"]) >= parse_time(&n["createdAt"]),
            "{n}"
        );
        let deliveries = n["deliveries"].as_array().unwrap();
        assert_eq!(deliveries.len(), 1, "{n}");
        assert_eq!(deliveries[0]["outcome"], "SENT");
        assert!(deliveries[0]["error"].is_null());
        assert!(
            !deliveries[0]["worker"].as_str().unwrap_or("").is_empty(),
            "which dispatcher sent it: {n}"
        );
    }

    // Filters.
    let count = |filter: Value| {
        let app = &app;
        let quinn = h.quinn.clone();
        async move {
            let resp =
                list_notifications(app, &quinn, json!({ "first": 10, "filter": filter })).await;
            resp.assert_ok();
            let total = resp.data()["notifications"]["totalCount"].as_i64().unwrap();
            let recipients: Vec<String> = resp.data()["notifications"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["recipient"].as_str().unwrap().to_string())
                .collect();
            assert_eq!(total as usize, recipients.len(), "{filter}: {resp}");
            recipients
        }
    };
    assert_eq!(count(json!({ "status": ["SENT"] })).await.len(), 3);
    assert!(count(json!({ "status": ["DEAD"] })).await.is_empty());
    assert!(count(json!({ "status": ["QUEUED", "RETRYING"] }))
        .await
        .is_empty());
    assert_eq!(count(json!({ "status": ["DEAD", "SENT"] })).await.len(), 3);
    assert_eq!(
        count(json!({ "kind": ["ACTION_ASSIGNED"] })).await,
        vec![OLIVE]
    );
    assert_eq!(
        count(json!({ "kind": ["INCIDENT_REPORTED"], "status": ["SENT"] }))
            .await
            .len(),
        2
    );
    assert!(count(json!({ "kind": ["INCIDENT_CLOSED"] }))
        .await
        .is_empty());
    assert_eq!(
        count(json!({ "reference": reference_of(&cardiac) })).await,
        vec![OLIVE, HANA],
        "the action's email is about its incident too"
    );
    assert_eq!(
        count(json!({ "reference": reference_of(&neuro).to_lowercase() })).await,
        vec![NINA]
    );
    assert_eq!(
        count(json!({ "recipient": "Nina@Candour.Test" })).await,
        vec![NINA]
    );
    assert!(count(json!({ "reference": "INC-1999-000001" }))
        .await
        .is_empty());

    // Pages.
    let page1 = list_notifications(&app, &h.quinn, json!({ "first": 2 })).await;
    page1.assert_ok();
    let p1 = &page1.data()["notifications"];
    assert_eq!(p1["totalCount"], 3);
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    let page2 = list_notifications(
        &app,
        &h.quinn,
        json!({ "first": 2, "after": p1["pageInfo"]["endCursor"] }),
    )
    .await;
    page2.assert_ok();
    let p2 = &page2.data()["notifications"];
    assert_eq!(p2["pageInfo"]["hasNextPage"], false);
    let mut ids: Vec<String> = node_ids(p1);
    ids.extend(node_ids(p2));
    assert_eq!(
        ids,
        outbox.iter().map(id).collect::<Vec<_>>(),
        "two pages, in order, nothing repeated"
    );

    // Nobody else reads the outbox.
    let staff = app.staff("sam");
    for (who, token) in [
        ("a handler", &h.hana),
        ("a member of staff", &h.alice),
        ("an admin", &h.ada),
        ("a member of staff", &staff),
    ] {
        let resp = list_notifications(&app, token, json!({ "first": 10 })).await;
        resp.assert_error("FORBIDDEN", None);
        assert!(
            resp.data().is_null() || resp.data()["notifications"].is_null(),
            "{who} sees nothing: {resp}"
        );
        assert!(!resp.body.to_string().contains(HANA), "{who}: {resp}");
    }
}
