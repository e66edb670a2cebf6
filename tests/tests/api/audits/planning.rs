//! Planning audits in the programme, and who reads it.

use super::*;

#[tokio::test]
async fn a_quality_lead_plans_an_audit_in_the_programme() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let audit = app
        .plan_audit(
            &h.quinn,
            with(audit_input(&h.cardiology), json!({ "leadEmail": LEAD })),
        )
        .await;

    assert_eq!(audit["status"], "PLANNED");
    assert_eq!(audit["version"], 1);
    assert_eq!(audit["title"], "Consent documentation audit");
    assert_eq!(
        audit["standard"],
        "GMC Decision making and consent (2020), paragraphs 50-57"
    );
    assert_eq!(audit["plannedStart"], "2026-03-02");
    assert_eq!(audit["plannedEnd"], "2026-03-27");
    assert_eq!(audit["leadEmail"], LEAD);
    assert_eq!(audit["department"]["id"], h.cardiology.as_str());
    assert_eq!(audit["department"]["code"], "CARD");
    for field in ["startedAt", "reportedAt", "closedAt", "reauditOf"] {
        assert!(audit[field].is_null(), "{field} is null: {audit}");
    }
    assert_eq!(audit["findings"], json!([]));
    assert_eq!(set(&audit["allowedTransitions"]), set_of(&["IN_PROGRESS"]));

    let reread = app.audit(&h.quinn, &id(&audit)).await;
    assert_eq!(reread, audit);
}

#[tokio::test]
async fn a_handler_plans_audits_of_their_own_department_only() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    let by_hana = app.plan_audit(&h.hana, audit_input(&h.cardiology)).await;
    assert_eq!(by_hana["status"], "PLANNED");
    assert_eq!(by_hana["version"], 1);
    assert_eq!(by_hana["department"]["code"], "CARD");
    assert_eq!(
        set(&by_hana["allowedTransitions"]),
        set_of(&["IN_PROGRESS"])
    );
    let by_nina = app.plan_audit(&h.nina, audit_input(&h.neurology)).await;
    assert_eq!(by_nina["department"]["code"], "NEUR");

    for (who, token, department) in [
        ("a handler of another department", &h.nina, &h.cardiology),
        ("a handler of another department", &h.hana, &h.neurology),
        ("a member of staff", &h.alice, &h.cardiology),
        ("an admin", &h.ada, &h.cardiology),
    ] {
        let resp = app.try_plan_audit(token, audit_input(department)).await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
    }

    assert_eq!(
        distinct(app.audit_ids(&h.quinn, json!({})).await, "audit"),
        ids(&[&by_hana, &by_nina])
    );
}

#[tokio::test]
async fn planning_refuses_bad_input_on_its_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // Well-formed ids that only another Candour database knows.
    let elsewhere = spawn_app().await;
    let other = elsewhere.hospital().await;
    let foreign_department = elsewhere
        .create_department(&other.ada, "ONCO", "Oncology")
        .await;
    let foreign_audit = elsewhere
        .plan_audit(&other.quinn, audit_input(&other.cardiology))
        .await;

    for (patch, field) in [
        (json!({ "title": "" }), "title"),
        (json!({ "title": "   " }), "title"),
        (json!({ "standard": "" }), "standard"),
        (json!({ "standard": " \t " }), "standard"),
        (
            json!({ "plannedStart": "2026-03-02", "plannedEnd": "2026-03-01" }),
            "plannedEnd",
        ),
        (
            json!({ "departmentId": foreign_department }),
            "departmentId",
        ),
        (
            json!({ "departmentId": "not-a-department" }),
            "departmentId",
        ),
        (json!({ "reauditOfId": id(&foreign_audit) }), "reauditOfId"),
        (json!({ "reauditOfId": h.neurology }), "reauditOfId"),
        (json!({ "leadEmail": "not-an-email" }), "leadEmail"),
        (json!({ "leadEmail": "lena at candour.test" }), "leadEmail"),
    ] {
        let resp = app
            .try_plan_audit(&h.quinn, with(audit_input(&h.cardiology), patch.clone()))
            .await;
        assert_eq!(
            (resp.error_code().as_deref(), resp.error_field().as_deref()),
            (Some("BAD_USER_INPUT"), Some(field)),
            "{patch}: {resp}"
        );
    }
    assert_eq!(
        app.audit_ids(&h.quinn, json!({})).await,
        Vec::<String>::new()
    );

    // An audit may start and end on the same day.
    let one_day = app
        .plan_audit(
            &h.quinn,
            with(
                audit_input(&h.cardiology),
                json!({ "plannedStart": "2026-03-02", "plannedEnd": "2026-03-02" }),
            ),
        )
        .await;
    assert_eq!(one_day["plannedEnd"], "2026-03-02");
    assert_eq!(app.audit_ids(&h.quinn, json!({})).await, vec![id(&one_day)]);
}

// --- reading -------------------------------------------------------------------------------

#[tokio::test]
async fn every_signed_in_person_reads_the_whole_audit_programme() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let cardiac = planned(&app, &h, json!({ "title": "Zanzibar consent audit" })).await;
    let cardiac = app.move_audit(&h.hana, &cardiac, "IN_PROGRESS").await;
    let cardiac = record(&app, &h.hana, &cardiac, "Consent documented", 95.0, 40, 38).await;
    let neuro = app
        .plan_audit(
            &h.nina,
            with(
                audit_input(&h.neurology),
                json!({ "title": "Zanzibar falls audit" }),
            ),
        )
        .await;
    let reader = app.service(&["incidents:read"]);
    let olive = app.staff_with_email("olive", OLIVE);

    for (who, token) in [
        ("staff", &h.alice),
        ("other staff", &h.bob),
        ("staff with no department", &olive),
        ("a handler of another department", &h.nina),
        ("a handler", &h.hana),
        ("an admin", &h.ada),
        ("a quality lead", &h.quinn),
        ("a reading service", &reader),
    ] {
        assert_eq!(
            distinct(app.audit_ids(token, json!({})).await, "audit"),
            ids(&[&cardiac, &neuro]),
            "{who} lists every audit"
        );
        let seen = app.audit(token, &id(&cardiac)).await;
        assert_eq!(seen["title"], "Zanzibar consent audit", "{who}");
        assert_eq!(seen["status"], "IN_PROGRESS", "{who}");
        assert_eq!(seen["findings"].as_array().map(Vec::len), Some(1), "{who}");
        assert_percent(
            &seen["findings"][0]["compliancePercent"],
            95.0,
            &format!("{who} reads the finding"),
        );
        let seen = app.audit(token, &id(&neuro)).await;
        assert_eq!(seen["title"], "Zanzibar falls audit", "{who}");
    }

    // Reading is not managing: those who may not move an audit are offered no moves.
    for (who, token) in [("staff", &h.alice), ("a handler of NEUR", &h.nina)] {
        let seen = app.audit(token, &id(&cardiac)).await;
        assert_eq!(seen["allowedTransitions"], json!([]), "{who}: {seen}");
    }

    // A service account without incidents:read sees no audit.
    let writer = app.service(&["incidents:write"]);
    let list = app.list_audits(&writer, json!({ "first": 100 })).await;
    if list.errors().is_empty() {
        assert_eq!(list.data()["audits"]["totalCount"], 0, "{list}");
        assert_eq!(list.data()["audits"]["edges"], json!([]), "{list}");
    }
    assert!(!list.body.to_string().contains("Zanzibar"), "{list}");
    let node = app.fetch_audit(&writer, &id(&cardiac)).await;
    assert!(node.data()["node"].is_null(), "{node}");
    assert!(!node.body.to_string().contains("Zanzibar"), "{node}");

    // Nobody signed in: nothing.
    let anonymous = app
        .gql(None, "{ audits(first: 10) { totalCount } }", json!({}))
        .await;
    anonymous.assert_error("UNAUTHENTICATED", None);
}

// --- the cycle -----------------------------------------------------------------------------
