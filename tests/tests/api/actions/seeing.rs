//! Who sees which actions: owners, handlers of the department, quality leads.

use super::*;

#[tokio::test]
async fn the_owner_sees_their_action_in_a_department_they_do_not_handle() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let mine = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;
    let theirs = raise(
        &app,
        &h.hana,
        &incident,
        OSCAR,
        json!({ "title": "Zanzibar retraining for porters" }),
    )
    .await;
    let olive = app.staff("olive");

    let seen = app.corrective_action(&olive, &id(&mine)).await;
    assert_eq!(seen["title"], mine["title"]);
    assert_eq!(seen["status"], "OPEN");
    assert_invisible(
        &app.fetch_corrective_action(&olive, &id(&theirs)).await,
        "Zanzibar",
    );
    assert_eq!(
        app.corrective_action_ids(&olive, json!({})).await,
        vec![id(&mine)]
    );
    assert_eq!(
        app.corrective_action_ids(&olive, json!({ "mine": true }))
            .await,
        vec![id(&mine)]
    );
    let list = app.list_corrective_actions(&olive, json!({})).await;
    assert_eq!(list.assert_ok()["correctiveActions"]["totalCount"], 1);

    // Owning an action does not open up the incident it came from.
    app.fetch_incident(&olive, &id(&incident))
        .await
        .assert_error("NOT_FOUND", None);

    // A handler who owns an action elsewhere sees it too.
    let ninas = raise(&app, &h.hana, &incident, "nina@candour.test", json!({})).await;
    app.corrective_action(&h.nina, &id(&ninas)).await;
    assert_eq!(
        app.corrective_action_ids(&h.nina, json!({})).await,
        vec![id(&ninas)]
    );
    assert_eq!(
        app.corrective_action_ids(&h.nina, json!({ "mine": true }))
            .await,
        vec![id(&ninas)]
    );
}

#[tokio::test]
async fn the_owner_learns_nothing_about_an_incident_they_may_not_see_through_their_action() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "title": "Zanzibar-title-secret fall in corridor" }),
            ),
        )
        .await;
    let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;
    let olive = app.staff("olive");

    let resp = app
        .gql(
            Some(&olive),
            "query($id: ID!) { node(id: $id) { ... on CorrectiveAction {
               id title source { ... on Incident { id reference title description } }
             } } }",
            json!({ "id": action["id"] }),
        )
        .await;

    assert_eq!(resp.data()["node"]["id"], action["id"], "{resp}");
    let text = resp.body.to_string();
    assert!(
        !text.contains("Zanzibar-title-secret")
            && !text.contains(incident["reference"].as_str().unwrap()),
        "the incident's details leak to the action's owner: {resp}"
    );
}

#[tokio::test]
async fn handlers_see_their_departments_actions_and_quality_leads_see_all() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let cardiac = cardiac_incident(&app, &h).await;
    let neuro = neuro_incident(&app, &h).await;
    let card_action = raise(
        &app,
        &h.hana,
        &cardiac,
        OLIVE,
        json!({ "title": "Zanzibar-cardiac rails checklist" }),
    )
    .await;
    let neuro_action = raise(
        &app,
        &h.nina,
        &neuro,
        OSCAR,
        json!({ "title": "Zanzibar-neuro bed alarms" }),
    )
    .await;

    assert_eq!(
        app.corrective_action_ids(&h.hana, json!({})).await,
        vec![id(&card_action)]
    );
    app.corrective_action(&h.hana, &id(&card_action)).await;
    assert_invisible(
        &app.fetch_corrective_action(&h.hana, &id(&neuro_action))
            .await,
        "Zanzibar",
    );

    assert_eq!(
        app.corrective_action_ids(&h.nina, json!({})).await,
        vec![id(&neuro_action)]
    );
    assert_invisible(
        &app.fetch_corrective_action(&h.nina, &id(&card_action))
            .await,
        "Zanzibar",
    );

    assert_eq!(
        distinct(
            app.corrective_action_ids(&h.quinn, json!({})).await,
            "action"
        ),
        ids(&[&card_action, &neuro_action])
    );
    let all = app.list_corrective_actions(&h.quinn, json!({})).await;
    assert_eq!(all.assert_ok()["correctiveActions"]["totalCount"], 2);

    // Reporting the incident does not show its actions.
    for (who, token) in [("alice", &h.alice), ("bob", &h.bob)] {
        let list = app.list_corrective_actions(token, json!({})).await;
        assert_eq!(
            list.assert_ok()["correctiveActions"]["totalCount"],
            0,
            "{who}: {list}"
        );
        assert!(node_ids(&list.data()["correctiveActions"]).is_empty());
        for action in [&card_action, &neuro_action] {
            assert_invisible(
                &app.fetch_corrective_action(token, &id(action)).await,
                "Zanzibar",
            );
        }
    }
}

#[tokio::test]
async fn an_incident_lists_its_actions_oldest_first_but_not_to_its_reporter() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let quiet = cardiac_incident(&app, &h).await;
    let first = raise(&app, &h.hana, &incident, OLIVE, json!({ "title": "First" })).await;
    let second = raise(
        &app,
        &h.quinn,
        &incident,
        OSCAR,
        // Due sooner, to show the incident lists by age, not due date.
        json!({ "title": "Second", "dueDate": days_from_today(2) }),
    )
    .await;
    let third = raise(&app, &h.hana, &incident, OLIVE, json!({ "title": "Third" })).await;

    for token in [&h.hana, &h.quinn] {
        let resp = incident_actions(&app, token, &incident).await;
        let listed: Vec<String> = resp.assert_ok()["incident"]["correctiveActions"]
            .as_array()
            .unwrap_or_else(|| panic!("correctiveActions is a list: {resp}"))
            .iter()
            .map(id)
            .collect();
        assert_eq!(listed, vec![id(&first), id(&second), id(&third)], "{resp}");
    }

    let resp = incident_actions(&app, &h.alice, &incident).await;
    assert_eq!(resp.assert_ok()["incident"]["id"], incident["id"]);
    assert!(
        resp.data()["incident"]["correctiveActions"].is_null(),
        "the reporter is not shown the actions: {resp}"
    );

    let resp = incident_actions(&app, &h.hana, &quiet).await;
    assert_eq!(
        resp.assert_ok()["incident"]["correctiveActions"],
        json!([]),
        "{resp}"
    );
}

#[tokio::test]
async fn an_owner_is_matched_by_email_whatever_its_case_and_appears_once_signed_in() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let action = raise(
        &app,
        &h.hana,
        &incident,
        "Nora.Newbie@Candour.TEST",
        json!({}),
    )
    .await;
    assert_eq!(action["ownerEmail"], "nora.newbie@candour.test");
    assert!(action["owner"].is_null(), "{action}");

    let nora = app.staff_with_email("nora", "NORA.newbie@candour.test");
    let nora_id = app.staff_id(&nora).await;

    let now = as_quinn(&app, &h, &action).await;
    assert_eq!(now["owner"]["id"], nora_id.as_str(), "{now}");
    assert_eq!(now["owner"]["name"], "Nora Test");

    app.corrective_action(&nora, &id(&action)).await;
    assert_eq!(
        app.corrective_action_ids(&nora, json!({ "mine": true }))
            .await,
        vec![id(&action)]
    );
    let started = app
        .update_action(&nora, &action, json!({ "status": "IN_PROGRESS" }))
        .await;
    assert_eq!(started["status"], "IN_PROGRESS");
}

// --- the status machine --------------------------------------------------------------------
