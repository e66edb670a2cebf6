//! Who finds what: department scoping, own reports, the description only for its readers,
//! and the access log of what a search showed.

use super::*;

#[tokio::test]
async fn the_same_word_in_two_departments_is_found_by_each_handler_only_in_their_own() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let cardiac = report(
        &app,
        &h.alice,
        &h.cardiology,
        "Syringe driver alarm ignored",
        "It alarmed.",
    )
    .await;
    let neuro = report(
        &app,
        &h.bob,
        &h.neurology,
        "Syringe driver ran dry",
        "It ran dry.",
    )
    .await;
    let (c, n) = (
        cardiac["id"].as_str().unwrap().to_string(),
        neuro["id"].as_str().unwrap().to_string(),
    );

    assert_eq!(found(&app, &h.hana, "syringe").await, vec![c.clone()]);
    assert_eq!(found(&app, &h.nina, "syringe").await, vec![n.clone()]);
    let mut all = found(&app, &h.quinn, "syringe").await;
    all.sort();
    let mut both = vec![c.clone(), n.clone()];
    both.sort();
    assert_eq!(all, both, "a quality lead finds both");
    // Staff find what they reported, and nothing else.
    assert_eq!(found(&app, &h.alice, "syringe").await, vec![c.clone()]);
    assert_eq!(found(&app, &h.bob, "syringe").await, vec![n.clone()]);
    assert!(found(&app, &app.staff("carol"), "syringe").await.is_empty());
    // A service account that reads incidents finds both; one that only writes, neither.
    assert_eq!(
        found(&app, &app.service(&["incidents:read"]), "syringe")
            .await
            .len(),
        2
    );
    assert!(found(&app, &app.service(&["incidents:write"]), "syringe")
        .await
        .is_empty());

    // totalCount counts what the caller may see, not what exists.
    let resp = try_search(&app, &h.hana, "syringe", json!({})).await;
    assert_eq!(resp.assert_ok()["search"]["totalCount"], 1);
}

#[tokio::test]
async fn a_word_only_in_a_description_is_found_only_by_those_who_may_read_it_and_is_logged() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        "Patient fell from trolley",
        "The xylophone-shaped bed rail snapped under load.",
    )
    .await;
    let id = incident["id"].as_str().unwrap();

    // Those who cannot read the description (other departments, other staff) never find
    // the incident by its words, and learn nothing of it.
    for token in [&h.nina, &h.bob, &app.admin("adam")] {
        let resp = try_search(&app, token, "xylophone", json!({})).await;
        let data = resp.assert_ok();
        assert_eq!(data["search"]["edges"], json!([]), "{resp}");
        assert_eq!(data["search"]["totalCount"], 0);
        assert!(access_events_of(&app, &resp).await.is_empty());
    }

    // The handler finds it; the description's match is shown, and that read is logged.
    let resp = try_search(&app, &h.hana, "xylophone", json!({})).await;
    let edges = resp.assert_ok()["search"]["edges"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(edges.len(), 1, "{resp}");
    let hit = &edges[0]["node"];
    assert_eq!(hit["record"]["id"], id);
    assert_eq!(fields(hit), vec!["description"]);
    assert_eq!(matched_in(hit, "description"), vec!["xylophone"]);
    let events = access_events_of(&app, &resp).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["recordType"], "Incident");
    assert_eq!(events[0]["recordId"], id);
    assert_eq!(events[0]["fields"], json!(["description"]));

    // The reporter reads their own words, so finds them too.
    assert_eq!(
        found(&app, &h.alice, "xylophone").await,
        vec![id.to_string()]
    );

    // A match in the title alone shows no description and logs no read.
    let resp = try_search(&app, &h.hana, "trolley", json!({})).await;
    let hit = resp.assert_ok()["search"]["edges"][0]["node"].clone();
    assert_eq!(fields(&hit), vec!["title"]);
    assert!(access_events_of(&app, &resp).await.is_empty());
}

#[tokio::test]
async fn a_word_split_between_title_and_description_is_found_only_by_a_reader_of_both() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        "Defibrillator pads expired",
        "Found during the quarterly resuscitation trolley check.",
    )
    .await;
    let id = incident["id"].as_str().unwrap().to_string();

    // Every word must match: the handler reads both fields and finds it.
    let hit = &hits(&app, &h.hana, "defibrillator quarterly").await[0];
    assert_eq!(hit["record"]["id"], id.as_str());
    let mut f = fields(hit);
    f.sort();
    assert_eq!(f, vec!["description", "title"]);
    // One word that is nowhere: nothing.
    assert!(found(&app, &h.hana, "defibrillator monthly")
        .await
        .is_empty());
    // Another department's handler cannot combine them, nor find the title alone.
    assert!(found(&app, &h.nina, "defibrillator quarterly")
        .await
        .is_empty());
    assert!(found(&app, &h.nina, "defibrillator").await.is_empty());
}

#[tokio::test]
async fn actions_are_found_by_their_owners_and_their_departments_handlers() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let action = app
        .create_corrective_action(
            &h.hana,
            with(
                corrective_action_input(incident["id"].as_str().unwrap(), "olly@candour.test"),
                json!({ "title": "Replace the worn castors", "description": "Order quadruple-locking castors." }),
            ),
        )
        .await;
    let id = action["id"].as_str().unwrap().to_string();
    let olly = app.staff("olly");

    assert_eq!(found(&app, &h.hana, "castors").await, vec![id.clone()]);
    assert_eq!(found(&app, &olly, "castors").await, vec![id.clone()]);
    assert!(found(&app, &h.nina, "castors").await.is_empty());
    assert!(found(&app, &h.bob, "castors").await.is_empty());

    // An action's description is free text: showing its match is a logged read.
    let resp = try_search(&app, &olly, "quadruple", json!({})).await;
    let hit = resp.assert_ok()["search"]["edges"][0]["node"].clone();
    assert_eq!(hit["kind"], "CORRECTIVE_ACTION");
    assert_eq!(hit["record"]["__typename"], "CorrectiveAction");
    assert_eq!(matched_in(&hit, "description"), vec!["quadruple"]);
    let events = access_events_of(&app, &resp).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["recordType"], "CorrectiveAction");
    assert_eq!(events[0]["fields"], json!(["description"]));

    // A new owner finds it at once; the one before no longer does.
    app.update_action(
        &h.hana,
        &action,
        json!({ "ownerEmail": "priya@candour.test" }),
    )
    .await;
    let priya = app.staff("priya");
    assert_eq!(found(&app, &priya, "castors").await, vec![id.clone()]);
    assert!(found(&app, &olly, "castors").await.is_empty());
    assert_eq!(found(&app, &h.hana, "castors").await, vec![id.clone()]);
}
