//! Corrective actions (CAPA): handlers and quality leads raise actions from incidents, owners
//! work them, someone other than the owner verifies they worked, and an action found not
//! effective comes back as a follow-up. Who sees and may do what, the status machine,
//! overdue, concurrency, the trail, listing, and what actions mean for closing an incident.

use std::collections::BTreeSet;

use candour_tests::*;
use futures_util::future::join;
use serde_json::{json, Value};

const FEEDBACK: &str = "Thank you for reporting: rails are now checked at every handover.";
/// Olive, a member of staff who owns actions but handles no department.
const OLIVE: &str = "olive@candour.test";
/// Oscar, another owner.
const OSCAR: &str = "oscar@candour.test";

fn set(values: &Value) -> BTreeSet<String> {
    values
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {values}"))
        .iter()
        .map(|v| v.as_str().expect("string").to_string())
        .collect()
}

fn set_of(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|s| s.to_string()).collect()
}

fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

fn ids(values: &[&Value]) -> BTreeSet<String> {
    values.iter().map(|v| id(v)).collect()
}

fn id_set(ids: Vec<String>) -> BTreeSet<String> {
    let n = ids.len();
    let set: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(set.len(), n, "a list repeats an action: {set:?}");
    set
}

/// An incident reported in cardiology by Alice.
async fn cardiac_incident(app: &TestApp, h: &Hospital) -> Value {
    app.report_incident(&h.alice, incident_input(&h.cardiology))
        .await
}

/// An incident reported in neurology by Bob.
async fn neuro_incident(app: &TestApp, h: &Hospital) -> Value {
    app.report_incident(&h.bob, incident_input(&h.neurology))
        .await
}

/// An action on `incident` owned by `owner`, raised by `token`, with `patch` over the defaults.
async fn raise(app: &TestApp, token: &str, incident: &Value, owner: &str, patch: Value) -> Value {
    app.create_corrective_action(
        token,
        with(corrective_action_input(&id(incident), owner), patch),
    )
    .await
}

/// The action as the quality lead sees it now, to prove a refused change changed nothing.
async fn as_quinn(app: &TestApp, h: &Hospital, action: &Value) -> Value {
    app.corrective_action(&h.quinn, &id(action)).await
}

#[track_caller]
fn assert_invisible(resp: &GqlResponse, secret: &str) {
    assert!(
        resp.data()["node"].is_null(),
        "the action is not returned: {resp}"
    );
    if let Some(code) = resp.error_code() {
        assert_eq!(code, "NOT_FOUND", "{resp}");
    }
    assert!(
        !resp.body.to_string().contains(secret),
        "nothing about the action leaks: {resp}"
    );
}

async fn incident_actions(app: &TestApp, token: &str, incident: &Value) -> GqlResponse {
    app.gql(
        Some(token),
        "query($id: ID!) { incident(id: $id) { id correctiveActions { id title status } } }",
        json!({ "id": incident["id"] }),
    )
    .await
}

// --- raising actions -----------------------------------------------------------------------

#[tokio::test]
async fn a_handler_raises_a_corrective_action_on_their_departments_incident() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let due = days_from_today(14);

    let action = raise(
        &app,
        &h.hana,
        &incident,
        "Olive.Owner@Candour.TEST",
        json!({ "dueDate": due }),
    )
    .await;

    assert_eq!(action["status"], "OPEN");
    assert_eq!(action["version"], 1);
    assert_eq!(action["priority"], "MEDIUM", "MEDIUM by default");
    assert_eq!(action["title"], "Check trolley rails at every handover");
    assert_eq!(
        action["description"],
        "Add trolley rails to the handover checklist and audit it weekly."
    );
    assert_eq!(action["dueDate"], due.as_str());
    assert_eq!(action["overdue"], false);
    assert_eq!(action["ownerEmail"], "olive.owner@candour.test");
    assert!(
        action["owner"].is_null(),
        "nobody with that email has signed in: {action}"
    );
    assert_eq!(action["source"]["__typename"], "Incident");
    assert_eq!(action["source"]["id"], incident["id"]);
    assert_eq!(action["department"]["id"], h.cardiology.as_str());
    assert_eq!(action["department"]["code"], "CARD");
    for field in [
        "effective",
        "verificationNote",
        "cancellationReason",
        "followUp",
        "followUpOf",
        "completedAt",
        "verifiedAt",
    ] {
        assert!(action[field].is_null(), "{field} is null: {action}");
    }
    assert!(parse_time(&action["createdAt"]) >= parse_time(&incident["reportedAt"]));

    let reread = app.corrective_action(&h.hana, &id(&action)).await;
    assert_eq!(without(reread, &["__typename"]), action);
}

#[tokio::test]
async fn a_quality_lead_and_a_managing_service_account_may_raise_actions_anywhere() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = neuro_incident(&app, &h).await;

    let by_quinn = raise(
        &app,
        &h.quinn,
        &incident,
        OLIVE,
        json!({ "priority": "URGENT" }),
    )
    .await;
    assert_eq!(by_quinn["status"], "OPEN");
    assert_eq!(by_quinn["priority"], "URGENT");
    assert_eq!(by_quinn["department"]["code"], "NEUR");

    let manager = app.service(&["incidents:manage"]);
    let by_service = raise(&app, &manager, &incident, OSCAR, json!({})).await;
    assert_eq!(by_service["status"], "OPEN");
    assert_eq!(by_service["version"], 1);

    assert_eq!(
        id_set(
            app.corrective_action_ids(&h.quinn, json!({ "sourceId": incident["id"] }))
                .await
        ),
        ids(&[&by_quinn, &by_service])
    );
}

#[tokio::test]
async fn those_who_may_see_the_incident_but_not_manage_it_are_forbidden_to_raise_actions() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let reader = app.service(&["incidents:read"]);

    for (who, token) in [("the reporter", &h.alice), ("a reading service", &reader)] {
        let resp = app
            .try_create_corrective_action(token, corrective_action_input(&id(&incident), OLIVE))
            .await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
    }

    let list = app.list_corrective_actions(&h.quinn, json!({})).await;
    assert_eq!(list.assert_ok()["correctiveActions"]["totalCount"], 0);
}

#[tokio::test]
async fn a_source_the_caller_cannot_see_or_that_is_no_incident_is_refused_on_source_id() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    // A well-formed incident id that only another Candour database knows.
    let elsewhere = spawn_app().await;
    let other = elsewhere.hospital().await;
    let foreign = elsewhere
        .report_incident(&other.alice, incident_input(&other.cardiology))
        .await;

    for (who, token, source) in [
        ("staff who did not report it", &h.bob, id(&incident)),
        ("a handler of another department", &h.nina, id(&incident)),
        ("a quality lead, unknown incident", &h.quinn, id(&foreign)),
        (
            "a quality lead, a department",
            &h.quinn,
            h.cardiology.clone(),
        ),
        (
            "a quality lead, not an id",
            &h.quinn,
            "not-an-incident".to_string(),
        ),
    ] {
        let resp = app
            .try_create_corrective_action(token, corrective_action_input(&source, OLIVE))
            .await;
        assert_eq!(
            (resp.error_code().as_deref(), resp.error_field().as_deref()),
            (Some("BAD_USER_INPUT"), Some("sourceId")),
            "{who}: {resp}"
        );
    }

    let list = app.list_corrective_actions(&h.quinn, json!({})).await;
    assert_eq!(list.assert_ok()["correctiveActions"]["totalCount"], 0);
}

#[tokio::test]
async fn a_closed_or_declined_incident_takes_no_new_actions() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let closed = app
        .close_low_harm(&h.quinn, &cardiac_incident(&app, &h).await)
        .await;
    let declined = app
        .transition_because(
            &h.quinn,
            &cardiac_incident(&app, &h).await,
            "DECLINED",
            "Not an incident",
        )
        .await;

    for incident in [&closed, &declined] {
        for token in [&h.quinn, &h.hana] {
            let resp = app
                .try_create_corrective_action(token, corrective_action_input(&id(incident), OLIVE))
                .await;
            resp.assert_error("BAD_USER_INPUT", Some("sourceId"));
        }
    }
    let list = app.list_corrective_actions(&h.quinn, json!({})).await;
    assert_eq!(list.assert_ok()["correctiveActions"]["totalCount"], 0);
}

#[tokio::test]
async fn a_blank_title_or_a_bad_owner_email_is_refused_on_its_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;

    for title in ["", "   "] {
        let resp = app
            .try_create_corrective_action(
                &h.hana,
                with(
                    corrective_action_input(&id(&incident), OLIVE),
                    json!({ "title": title }),
                ),
            )
            .await;
        resp.assert_error("BAD_USER_INPUT", Some("title"));
    }
    for email in ["not-an-email", "", "olive at candour.test"] {
        let resp = app
            .try_create_corrective_action(&h.hana, corrective_action_input(&id(&incident), email))
            .await;
        resp.assert_error("BAD_USER_INPUT", Some("ownerEmail"));
    }
    let list = app.list_corrective_actions(&h.quinn, json!({})).await;
    assert_eq!(list.assert_ok()["correctiveActions"]["totalCount"], 0);
}

#[tokio::test]
async fn an_action_may_be_recorded_with_a_due_date_already_past() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let due = days_from_today(-10);

    let action = raise(&app, &h.hana, &incident, OLIVE, json!({ "dueDate": due })).await;

    assert_eq!(action["status"], "OPEN");
    assert_eq!(action["dueDate"], due.as_str());
    assert_eq!(action["overdue"], true, "{action}");
}

// --- who sees actions ----------------------------------------------------------------------

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
        id_set(app.corrective_action_ids(&h.quinn, json!({})).await),
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

#[tokio::test]
async fn an_action_is_started_completed_and_verified_effective() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;

    let started = app
        .update_action(&h.hana, &action, json!({ "status": "IN_PROGRESS" }))
        .await;
    assert_eq!(started["status"], "IN_PROGRESS");
    assert_eq!(started["version"], 2);
    assert!(started["completedAt"].is_null(), "{started}");

    let completed = app
        .update_action(&h.hana, &started, json!({ "status": "COMPLETED" }))
        .await;
    assert_eq!(completed["status"], "COMPLETED");
    assert_eq!(completed["version"], 3);
    let completed_at = parse_time(&completed["completedAt"]);
    assert!(completed_at >= parse_time(&action["createdAt"]));
    assert!(completed["verifiedAt"].is_null(), "{completed}");

    let verified = app
        .update_action(
            &h.quinn,
            &completed,
            json!({ "status": "VERIFIED", "effective": true,
                    "note": "Audit of 20 handovers: rails up every time." }),
        )
        .await;
    assert_eq!(verified["status"], "VERIFIED");
    assert_eq!(verified["version"], 4);
    assert_eq!(verified["effective"], true);
    assert_eq!(
        verified["verificationNote"],
        "Audit of 20 handovers: rails up every time."
    );
    assert!(parse_time(&verified["verifiedAt"]) >= completed_at);
    assert_eq!(verified["completedAt"], completed["completedAt"]);
    assert!(
        verified["followUp"].is_null(),
        "an effective action needs no follow-up: {verified}"
    );

    let reread = as_quinn(&app, &h, &action).await;
    assert_eq!(reread["status"], "VERIFIED");
    assert_eq!(reread["version"], 4);
}

#[tokio::test]
async fn an_action_may_be_completed_straight_from_open() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;

    let completed = app
        .update_action(&h.quinn, &action, json!({ "status": "COMPLETED" }))
        .await;

    assert_eq!(completed["status"], "COMPLETED");
    assert_eq!(completed["version"], 2);
    assert!(completed["completedAt"].is_string(), "{completed}");
}

#[tokio::test]
async fn status_changes_outside_the_workflow_are_refused_on_the_status_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;

    // Every target with what it would otherwise need, so only the status can be wrong.
    let attempt = |to: &str| match to {
        "VERIFIED" => json!({ "status": "VERIFIED", "effective": true }),
        "CANCELLED" => json!({ "status": "CANCELLED", "note": "No longer needed" }),
        other => json!({ "status": other }),
    };
    let refuse = |action: Value, targets: &'static [&'static str]| {
        let app = &app;
        let h = &h;
        let attempt = &attempt;
        async move {
            for to in targets {
                let resp = app.try_update_action(&h.quinn, &action, attempt(to)).await;
                assert_eq!(
                    (resp.error_code().as_deref(), resp.error_field().as_deref()),
                    (Some("BAD_USER_INPUT"), Some("status")),
                    "{} -> {to}: {resp}",
                    action["status"]
                );
            }
            let now = as_quinn(app, h, &action).await;
            assert_eq!(now["status"], action["status"], "{now}");
            assert_eq!(now["version"], action["version"], "{now}");
        }
    };

    let open = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;
    refuse(open.clone(), &["VERIFIED", "OPEN"]).await;

    let in_progress = app
        .update_action(&h.quinn, &open, json!({ "status": "IN_PROGRESS" }))
        .await;
    refuse(in_progress.clone(), &["OPEN", "IN_PROGRESS", "VERIFIED"]).await;

    let completed = app
        .update_action(&h.quinn, &in_progress, json!({ "status": "COMPLETED" }))
        .await;
    refuse(completed.clone(), &["OPEN", "IN_PROGRESS", "COMPLETED"]).await;

    let verified = app
        .update_action(&h.quinn, &completed, attempt("VERIFIED"))
        .await;
    refuse(
        verified,
        &["OPEN", "IN_PROGRESS", "COMPLETED", "VERIFIED", "CANCELLED"],
    )
    .await;

    let cancelled = app
        .update_action(
            &h.quinn,
            &raise(&app, &h.hana, &incident, OLIVE, json!({})).await,
            attempt("CANCELLED"),
        )
        .await;
    refuse(
        cancelled,
        &["OPEN", "IN_PROGRESS", "COMPLETED", "VERIFIED", "CANCELLED"],
    )
    .await;
}

#[tokio::test]
async fn verifying_needs_a_verdict_and_only_verifying_takes_one() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let open = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;

    for changes in [
        json!({ "status": "IN_PROGRESS", "effective": true }),
        json!({ "status": "COMPLETED", "effective": false }),
        json!({ "status": "CANCELLED", "note": "No longer needed", "effective": true }),
    ] {
        let resp = app
            .try_update_action(&h.quinn, &open, changes.clone())
            .await;
        assert_eq!(
            (resp.error_code().as_deref(), resp.error_field().as_deref()),
            (Some("BAD_USER_INPUT"), Some("effective")),
            "{changes}: {resp}"
        );
    }
    assert_eq!(as_quinn(&app, &h, &open).await["version"], 1);

    let completed = app
        .update_action(&h.quinn, &open, json!({ "status": "COMPLETED" }))
        .await;
    let resp = app
        .try_update_action(
            &h.quinn,
            &completed,
            json!({ "status": "VERIFIED", "note": "Looks fine" }),
        )
        .await;
    resp.assert_error("BAD_USER_INPUT", Some("effective"));
    let now = as_quinn(&app, &h, &open).await;
    assert_eq!(now["status"], "COMPLETED");
    assert_eq!(now["version"], completed["version"]);
}

#[tokio::test]
async fn cancelling_needs_a_reason_and_shows_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let open = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;

    for changes in [
        json!({ "status": "CANCELLED" }),
        json!({ "status": "CANCELLED", "note": "" }),
        json!({ "status": "CANCELLED", "note": "   " }),
    ] {
        let resp = app.try_update_action(&h.hana, &open, changes.clone()).await;
        assert_eq!(
            (resp.error_code().as_deref(), resp.error_field().as_deref()),
            (Some("BAD_USER_INPUT"), Some("note")),
            "{changes}: {resp}"
        );
    }
    assert_eq!(as_quinn(&app, &h, &open).await["status"], "OPEN");

    let cancelled = app
        .update_action(
            &h.hana,
            &open,
            json!({ "status": "CANCELLED", "note": "Trolleys replaced with beds" }),
        )
        .await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(
        cancelled["cancellationReason"],
        "Trolleys replaced with beds"
    );
    assert_eq!(cancelled["version"], 2);

    // From IN_PROGRESS and COMPLETED too.
    let in_progress = app
        .update_action(
            &h.hana,
            &raise(&app, &h.hana, &incident, OLIVE, json!({})).await,
            json!({ "status": "IN_PROGRESS" }),
        )
        .await;
    let completed = app
        .update_action(
            &h.hana,
            &raise(&app, &h.hana, &incident, OLIVE, json!({})).await,
            json!({ "status": "COMPLETED" }),
        )
        .await;
    for action in [in_progress, completed] {
        let cancelled = app
            .update_action(
                &h.quinn,
                &action,
                json!({ "status": "CANCELLED", "note": "Superseded by the new policy" }),
            )
            .await;
        assert_eq!(
            cancelled["status"], "CANCELLED",
            "from {}",
            action["status"]
        );
        assert_eq!(
            cancelled["cancellationReason"],
            "Superseded by the new policy"
        );
    }
}

// --- who may change an action --------------------------------------------------------------

#[tokio::test]
async fn the_owner_works_their_action_but_may_not_verify_cancel_or_replan_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;
    let olive = app.staff("olive");

    for changes in [
        json!({ "dueDate": days_from_today(30) }),
        json!({ "ownerEmail": OSCAR }),
        json!({ "title": "Something easier" }),
        json!({ "priority": "LOW" }),
        json!({ "status": "CANCELLED", "note": "Not my job" }),
    ] {
        let resp = app
            .try_update_action(&olive, &action, changes.clone())
            .await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{changes}: {resp}"
        );
    }
    assert_eq!(as_quinn(&app, &h, &action).await["version"], 1);

    let started = app
        .update_action(
            &olive,
            &action,
            json!({ "status": "IN_PROGRESS", "note": "Checklist drafted with ward managers." }),
        )
        .await;
    assert_eq!(started["status"], "IN_PROGRESS");
    assert_eq!(started["version"], 2);
    let completed = app
        .update_action(
            &olive,
            &started,
            json!({ "status": "COMPLETED", "note": "Checklist in use on all wards." }),
        )
        .await;
    assert_eq!(completed["status"], "COMPLETED");
    assert_eq!(completed["version"], 3);

    for changes in [
        json!({ "status": "VERIFIED", "effective": true }),
        json!({ "status": "CANCELLED", "note": "Not my job" }),
    ] {
        let resp = app
            .try_update_action(&olive, &completed, changes.clone())
            .await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{changes}: {resp}"
        );
    }

    let now = as_quinn(&app, &h, &action).await;
    assert_eq!(now["status"], "COMPLETED");
    assert_eq!(now["version"], 3);
    assert_eq!(now["title"], action["title"]);
    assert_eq!(now["priority"], "MEDIUM");
    assert_eq!(now["ownerEmail"], OLIVE);
    assert_eq!(now["dueDate"], action["dueDate"]);
}

#[tokio::test]
async fn nobody_verifies_an_action_they_own() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;

    // Hana handles cardiology and owns this one; Quinn owns the other.
    for (owner_email, owner, verifier) in [
        ("hana@candour.test", &h.hana, &h.quinn),
        ("quinn@candour.test", &h.quinn, &h.hana),
    ] {
        let action = raise(&app, &h.hana, &incident, owner_email, json!({})).await;
        let completed = app
            .update_action(owner, &action, json!({ "status": "COMPLETED" }))
            .await;

        let resp = app
            .try_update_action(
                owner,
                &completed,
                json!({ "status": "VERIFIED", "effective": true }),
            )
            .await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{owner_email} verifying their own action: {resp}"
        );
        assert_eq!(as_quinn(&app, &h, &action).await["status"], "COMPLETED");

        let verified = app
            .update_action(
                verifier,
                &completed,
                json!({ "status": "VERIFIED", "effective": true }),
            )
            .await;
        assert_eq!(verified["status"], "VERIFIED");
    }
}

#[tokio::test]
async fn those_who_cannot_see_an_action_cannot_change_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;

    for (who, token) in [
        ("the reporter", &h.alice),
        ("other staff", &h.bob),
        ("another department's handler", &h.nina),
    ] {
        for changes in [
            json!({ "status": "IN_PROGRESS" }),
            json!({ "title": "Hijacked" }),
        ] {
            let resp = app.try_update_action(token, &action, changes).await;
            assert_eq!(
                resp.error_code().as_deref(),
                Some("NOT_FOUND"),
                "{who}: {resp}"
            );
            assert!(
                !resp.body.to_string().contains("trolley rails"),
                "{who} learns nothing: {resp}"
            );
        }
    }
    let now = as_quinn(&app, &h, &action).await;
    assert_eq!(now["version"], 1);
    assert_eq!(now["status"], "OPEN");
}

#[tokio::test]
async fn a_handler_replans_and_reassigns_an_action() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;
    let olive = app.staff("olive");
    let oscar = app.staff("oscar");
    app.corrective_action(&olive, &id(&action)).await;
    let due = days_from_today(21);

    let replanned = app
        .update_action(
            &h.hana,
            &action,
            json!({ "dueDate": due, "ownerEmail": "Oscar@Candour.Test",
                    "title": "Check rails at handover and at transfer", "priority": "HIGH" }),
        )
        .await;

    assert_eq!(replanned["dueDate"], due.as_str());
    assert_eq!(replanned["ownerEmail"], OSCAR);
    assert_eq!(
        replanned["title"],
        "Check rails at handover and at transfer"
    );
    assert_eq!(replanned["priority"], "HIGH");
    assert_eq!(replanned["status"], "OPEN");
    assert_eq!(replanned["version"], 2);

    // The action moves with its owner.
    assert_invisible(
        &app.fetch_corrective_action(&olive, &id(&action)).await,
        "Check rails at handover and at transfer",
    );
    assert!(app
        .corrective_action_ids(&olive, json!({ "mine": true }))
        .await
        .is_empty());
    assert_eq!(
        app.corrective_action_ids(&oscar, json!({ "mine": true }))
            .await,
        vec![id(&action)]
    );

    let history = app.corrective_action_history(&h.quinn, &id(&action)).await;
    let updated: Vec<&Value> = history
        .iter()
        .filter(|e| e["action"] == "corrective_action.updated")
        .collect();
    assert_eq!(updated.len(), 1, "{history:?}");
    let fields = set(&Value::Array(
        updated[0]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["field"].clone())
            .collect(),
    ));
    for field in ["dueDate", "ownerEmail", "title", "priority"] {
        assert!(
            fields.contains(field),
            "{field} change recorded: {}",
            updated[0]
        );
    }
}

#[tokio::test]
async fn allowed_transitions_tell_each_viewer_what_they_may_do_now() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;
    let olive = app.staff("olive");
    let aid = id(&action);
    let allowed = |token: String| {
        let app = &app;
        let aid = aid.clone();
        async move { set(&app.corrective_action(&token, &aid).await["allowedTransitions"]) }
    };

    assert_eq!(
        allowed(h.quinn.clone()).await,
        set_of(&["IN_PROGRESS", "COMPLETED", "CANCELLED"])
    );
    assert_eq!(
        allowed(h.hana.clone()).await,
        set_of(&["IN_PROGRESS", "COMPLETED", "CANCELLED"])
    );
    assert_eq!(
        allowed(olive.clone()).await,
        set_of(&["IN_PROGRESS", "COMPLETED"])
    );

    let started = app
        .update_action(&olive, &action, json!({ "status": "IN_PROGRESS" }))
        .await;
    assert_eq!(set(&started["allowedTransitions"]), set_of(&["COMPLETED"]));
    assert_eq!(
        allowed(h.quinn.clone()).await,
        set_of(&["COMPLETED", "CANCELLED"])
    );

    let completed = app
        .update_action(&olive, &started, json!({ "status": "COMPLETED" }))
        .await;
    assert_eq!(set(&completed["allowedTransitions"]), set_of(&[]));
    assert_eq!(
        allowed(h.quinn.clone()).await,
        set_of(&["VERIFIED", "CANCELLED"])
    );

    let verified = app
        .update_action(
            &h.quinn,
            &completed,
            json!({ "status": "VERIFIED", "effective": true }),
        )
        .await;
    assert_eq!(set(&verified["allowedTransitions"]), set_of(&[]));
    assert_eq!(allowed(h.hana.clone()).await, set_of(&[]));

    // A handler who owns a completed action may cancel it but not verify it.
    let hanas = raise(&app, &h.quinn, &incident, "hana@candour.test", json!({})).await;
    let hanas = app
        .update_action(&h.hana, &hanas, json!({ "status": "COMPLETED" }))
        .await;
    assert_eq!(set(&hanas["allowedTransitions"]), set_of(&["CANCELLED"]));
}

// --- follow-ups ----------------------------------------------------------------------------

#[tokio::test]
async fn an_action_verified_not_effective_is_followed_up_in_thirty_days() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .triage(
            &h.quinn,
            &cardiac_incident(&app, &h).await,
            json!({ "feedbackToReporter": FEEDBACK }),
        )
        .await;
    let action = raise(
        &app,
        &h.hana,
        &incident,
        OLIVE,
        json!({ "priority": "HIGH" }),
    )
    .await;
    let completed = app
        .update_action(&h.hana, &action, json!({ "status": "COMPLETED" }))
        .await;

    let before = london_today();
    let verified = app
        .update_action(
            &h.quinn,
            &completed,
            json!({ "status": "VERIFIED", "effective": false,
                    "note": "Rails still found down on night shift." }),
        )
        .await;
    let after = london_today();

    assert_eq!(verified["status"], "VERIFIED");
    assert_eq!(verified["effective"], false);
    assert_eq!(
        verified["verificationNote"],
        "Rails still found down on night shift."
    );
    let follow_up = &verified["followUp"];
    assert!(follow_up.is_object(), "a follow-up was raised: {verified}");
    assert_ne!(follow_up["id"], action["id"]);
    assert_eq!(follow_up["status"], "OPEN");
    assert_eq!(follow_up["version"], 1);
    assert_eq!(follow_up["priority"], "HIGH");
    assert_eq!(follow_up["ownerEmail"], OLIVE);
    assert_eq!(follow_up["source"]["id"], incident["id"]);
    assert!(
        follow_up["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("Follow-up: ")),
        "{follow_up}"
    );
    let due = follow_up["dueDate"].as_str().unwrap().to_string();
    let expected: BTreeSet<String> = [before, after]
        .iter()
        .map(|d| (*d + chrono::Duration::days(30)).to_string())
        .collect();
    assert!(
        expected.contains(&due),
        "due {due}, expected one of {expected:?}"
    );

    let read = app.corrective_action(&h.quinn, &id(follow_up)).await;
    assert_eq!(read["followUpOf"]["id"], action["id"]);
    assert!(read["followUp"].is_null(), "{read}");
    assert_eq!(read["department"]["code"], "CARD");
    assert_eq!(read["overdue"], false);
    assert_eq!(
        as_quinn(&app, &h, &action).await["followUp"]["id"],
        follow_up["id"]
    );

    // It is the incident's, and the owner's, like the original.
    let resp = incident_actions(&app, &h.hana, &incident).await;
    let listed: Vec<String> = resp.assert_ok()["incident"]["correctiveActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(listed, vec![id(&action), id(follow_up)]);
    let olive = app.staff("olive");
    assert_eq!(
        id_set(
            app.corrective_action_ids(&olive, json!({ "mine": true }))
                .await
        ),
        ids(&[&action, follow_up])
    );

    // And, open, it holds the incident open.
    let current = app.incident(&h.quinn, &id(&incident)).await;
    app.try_transition_to(&h.quinn, &current, "CLOSED")
        .await
        .assert_error("BAD_USER_INPUT", Some("correctiveActions"));
}

#[tokio::test]
async fn the_verifier_may_set_when_the_follow_up_is_due() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;
    let completed = app
        .update_action(&h.hana, &action, json!({ "status": "COMPLETED" }))
        .await;
    let due = days_from_today(7);

    let verified = app
        .update_action(
            &h.hana,
            &completed,
            json!({ "status": "VERIFIED", "effective": false, "dueDate": due }),
        )
        .await;

    assert_eq!(verified["followUp"]["dueDate"], due.as_str(), "{verified}");
    assert_eq!(verified["followUp"]["status"], "OPEN");
    assert_eq!(verified["followUp"]["priority"], "MEDIUM");
}

// --- overdue -------------------------------------------------------------------------------

/// Actions in every state around today: returns (overdue ones, the rest).
async fn due_around_today(app: &TestApp, h: &Hospital) -> (Vec<Value>, Vec<Value>) {
    let incident = cardiac_incident(app, h).await;
    let due = |days: i64| json!({ "dueDate": days_from_today(days) });
    let raise_due = |days: i64, title: &str| {
        raise(
            app,
            &h.hana,
            &incident,
            OLIVE,
            with(due(days), json!({ "title": title })),
        )
    };

    let open_past = raise_due(-1, "open, due yesterday").await;
    let started_past = raise_due(-3, "in progress, due three days ago").await;
    let started_past = app
        .update_action(&h.hana, &started_past, json!({ "status": "IN_PROGRESS" }))
        .await;

    let open_today = raise_due(0, "open, due today").await;
    let open_tomorrow = raise_due(1, "open, due tomorrow").await;
    let completed_past = raise_due(-5, "completed late").await;
    let completed_past = app
        .update_action(&h.hana, &completed_past, json!({ "status": "COMPLETED" }))
        .await;
    let verified_past = raise_due(-5, "verified late").await;
    let verified_past = app
        .update_action(&h.hana, &verified_past, json!({ "status": "COMPLETED" }))
        .await;
    let verified_past = app
        .update_action(
            &h.quinn,
            &verified_past,
            json!({ "status": "VERIFIED", "effective": true }),
        )
        .await;
    let cancelled_past = raise_due(-5, "cancelled late").await;
    let cancelled_past = app
        .update_action(
            &h.hana,
            &cancelled_past,
            json!({ "status": "CANCELLED", "note": "Superseded" }),
        )
        .await;

    (
        vec![open_past, started_past],
        vec![
            open_today,
            open_tomorrow,
            completed_past,
            verified_past,
            cancelled_past,
        ],
    )
}

#[tokio::test]
async fn an_action_is_overdue_only_when_past_due_and_not_done() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let (overdue, rest) = due_around_today(&app, &h).await;

    for (action, expected) in overdue
        .iter()
        .map(|a| (a, true))
        .chain(rest.iter().map(|a| (a, false)))
    {
        let read = as_quinn(&app, &h, action).await;
        assert_eq!(
            read["overdue"], expected,
            "{} (status {}, due {}): {read}",
            read["title"], read["status"], read["dueDate"]
        );
    }
}

#[tokio::test]
async fn the_overdue_filter_splits_actions_exactly() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let (overdue, rest) = due_around_today(&app, &h).await;

    let listed = app
        .list_corrective_actions(
            &h.quinn,
            json!({ "first": 100, "filter": { "overdue": true } }),
        )
        .await;
    let connection = &listed.assert_ok()["correctiveActions"];
    assert_eq!(
        id_set(node_ids(connection)),
        ids(&overdue.iter().collect::<Vec<_>>())
    );
    assert_eq!(connection["totalCount"], overdue.len());
    assert!(connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["node"]["overdue"] == true));

    let listed = app
        .list_corrective_actions(
            &h.quinn,
            json!({ "first": 100, "filter": { "overdue": false } }),
        )
        .await;
    let connection = &listed.assert_ok()["correctiveActions"];
    assert_eq!(
        id_set(node_ids(connection)),
        ids(&rest.iter().collect::<Vec<_>>())
    );
    assert_eq!(connection["totalCount"], rest.len());
}

// --- optimistic concurrency ----------------------------------------------------------------

#[tokio::test]
async fn a_change_based_on_a_stale_version_is_a_conflict() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;
    let stale = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;
    let current = app
        .update_action(&h.hana, &stale, json!({ "status": "IN_PROGRESS" }))
        .await;
    assert_eq!(current["version"], 2);

    for changes in [
        json!({ "title": "Something else" }),
        json!({ "status": "COMPLETED" }),
        json!({ "status": "CANCELLED", "note": "Superseded" }),
    ] {
        let resp = app
            .try_update_action(&h.hana, &stale, changes.clone())
            .await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("CONFLICT"),
            "{changes}: {resp}"
        );
    }

    let now = as_quinn(&app, &h, &stale).await;
    assert_eq!(now["version"], 2);
    assert_eq!(now["status"], "IN_PROGRESS");
    assert_eq!(now["title"], stale["title"]);
}

#[tokio::test]
async fn two_people_changing_the_same_action_at_once_one_wins_the_other_conflicts() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;

    for round in 0..3 {
        let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;
        // Either change is legal after the other, so only the version can refuse the loser.
        let (a, b) = join(
            app.try_update_action(
                &h.hana,
                &action,
                json!({ "title": "Check rails at handover and at transfer" }),
            ),
            app.try_update_action(&h.quinn, &action, json!({ "priority": "HIGH" })),
        )
        .await;

        let outcomes = [&a, &b];
        let winners = outcomes.iter().filter(|r| r.errors().is_empty()).count();
        let conflicts = outcomes
            .iter()
            .filter(|r| r.error_code().as_deref() == Some("CONFLICT"))
            .count();
        assert_eq!(
            (winners, conflicts),
            (1, 1),
            "round {round}: exactly one succeeds and the other is CONFLICT:\n{a}\n{b}"
        );
        let now = as_quinn(&app, &h, &action).await;
        assert_eq!(now["version"], 2, "{now}");
        let title_changed = now["title"] == "Check rails at handover and at transfer";
        let priority_changed = now["priority"] == "HIGH";
        assert!(
            title_changed != priority_changed,
            "only the winner's change is kept: {now}"
        );
    }
}

// --- closing the incident ------------------------------------------------------------------

#[tokio::test]
async fn an_incident_cannot_close_while_an_action_is_open_or_in_progress() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .triage(
            &h.quinn,
            &cardiac_incident(&app, &h).await,
            json!({ "feedbackToReporter": FEEDBACK }),
        )
        .await;
    let incident_id = id(&incident);
    let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;

    let current = app.incident(&h.quinn, &incident_id).await;
    app.try_transition_to(&h.quinn, &current, "CLOSED")
        .await
        .assert_error("BAD_USER_INPUT", Some("correctiveActions"));

    let started = app
        .update_action(&h.hana, &action, json!({ "status": "IN_PROGRESS" }))
        .await;
    let current = app.incident(&h.quinn, &incident_id).await;
    app.try_transition_to(&h.quinn, &current, "CLOSED")
        .await
        .assert_error("BAD_USER_INPUT", Some("correctiveActions"));
    let now = app.incident(&h.quinn, &incident_id).await;
    assert_eq!(now["status"], "UNDER_REVIEW");
    assert!(now["closedAt"].is_null(), "{now}");

    app.update_action(&h.hana, &started, json!({ "status": "COMPLETED" }))
        .await;
    let current = app.incident(&h.quinn, &incident_id).await;
    let closed = app.transition(&h.quinn, &current, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
}

#[tokio::test]
async fn a_cancelled_action_does_not_hold_an_incident_open() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = app
        .triage(
            &h.quinn,
            &cardiac_incident(&app, &h).await,
            json!({ "feedbackToReporter": FEEDBACK }),
        )
        .await;
    let action = raise(&app, &h.hana, &incident, OLIVE, json!({})).await;
    let verified = raise(&app, &h.hana, &incident, OSCAR, json!({})).await;
    let verified = app
        .update_action(&h.hana, &verified, json!({ "status": "COMPLETED" }))
        .await;
    app.update_action(
        &h.quinn,
        &verified,
        json!({ "status": "VERIFIED", "effective": true }),
    )
    .await;
    app.update_action(
        &h.hana,
        &action,
        json!({ "status": "CANCELLED", "note": "Trolleys replaced with beds" }),
    )
    .await;

    let current = app.incident(&h.quinn, &id(&incident)).await;
    let closed = app.transition(&h.quinn, &current, "CLOSED").await;

    assert_eq!(closed["status"], "CLOSED");
}

// --- the trail -----------------------------------------------------------------------------

#[tokio::test]
async fn every_change_to_an_action_is_in_its_history() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = cardiac_incident(&app, &h).await;

    let created = app
        .try_create_corrective_action(&h.hana, corrective_action_input(&id(&incident), OLIVE))
        .await;
    let action = created.assert_ok()["createCorrectiveAction"]["correctiveAction"].clone();
    let started = app
        .try_update_action(
            &app.staff("olive"),
            &action,
            json!({ "status": "IN_PROGRESS", "note": "Checklist drafted." }),
        )
        .await;
    let started_action = started.assert_ok()["updateCorrectiveAction"]["correctiveAction"].clone();
    let completed = app
        .try_update_action(&h.quinn, &started_action, json!({ "status": "COMPLETED" }))
        .await;
    completed.assert_ok();

    let history = app.corrective_action_history(&h.quinn, &id(&action)).await;

    let pretty = serde_json::to_string_pretty(&history).unwrap();
    let creations: Vec<&Value> = history
        .iter()
        .filter(|e| e["action"] == "corrective_action.created")
        .collect();
    assert_eq!(creations.len(), 1, "one creation event: {pretty}");
    assert_eq!(creations[0]["requestId"], created.request_id().as_str());
    assert_eq!(creations[0]["actor"]["name"], "Hana Test");

    let updates: Vec<&Value> = history
        .iter()
        .filter(|e| e["action"] == "corrective_action.updated")
        .collect();
    assert_eq!(updates.len(), 2, "one event per update: {pretty}");
    for (event, resp, actor, before, after) in [
        (updates[0], &started, "Olive Test", "OPEN", "IN_PROGRESS"),
        (
            updates[1],
            &completed,
            "Quinn Test",
            "IN_PROGRESS",
            "COMPLETED",
        ),
    ] {
        assert_eq!(event["requestId"], resp.request_id().as_str(), "{event}");
        assert_eq!(event["actor"]["name"], actor, "{event}");
        let status = event["changes"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["field"] == "status"))
            .unwrap_or_else(|| panic!("no status change: {event}"));
        assert_eq!(status["before"], before, "{event}");
        assert_eq!(status["after"], after, "{event}");
    }
    let times: Vec<_> = history.iter().map(|e| parse_time(&e["at"])).collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted, "history is oldest first: {pretty}");
}

// --- listing -------------------------------------------------------------------------------

/// Every page of `correctiveActions` for this order, `page` at a time, checking the page
/// info and total on the way; returns the nodes in order.
async fn all_pages(app: &TestApp, token: &str, order: Value, page: usize) -> Vec<Value> {
    let mut nodes: Vec<Value> = Vec::new();
    let mut after: Option<String> = None;
    let mut total = None;
    for _ in 0..50 {
        let resp = app
            .list_corrective_actions(
                token,
                json!({ "first": page, "after": after, "orderBy": order }),
            )
            .await;
        let connection = resp.assert_ok()["correctiveActions"].clone();
        let count = connection["totalCount"].as_u64().expect("totalCount");
        assert_eq!(*total.get_or_insert(count), count, "totalCount is stable");
        let edges = connection["edges"].as_array().unwrap();
        assert!(edges.len() <= page, "{resp}");
        nodes.extend(edges.iter().map(|e| e["node"].clone()));
        if !connection["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            assert_eq!(nodes.len() as u64, count, "pages add up to totalCount");
            return nodes;
        }
        assert_eq!(edges.len(), page, "only the last page is short: {resp}");
        after = Some(
            connection["pageInfo"]["endCursor"]
                .as_str()
                .expect("endCursor")
                .to_string(),
        );
    }
    panic!("paging never ended")
}

/// Twelve actions over four due dates (so pages split ties), raised out of date order.
async fn twelve_actions(app: &TestApp, h: &Hospital) -> BTreeSet<String> {
    let incident = cardiac_incident(app, h).await;
    let mut raised = BTreeSet::new();
    for i in 0..12i64 {
        let action = raise(
            app,
            &h.hana,
            &incident,
            OLIVE,
            json!({ "title": format!("Action {i}"), "dueDate": days_from_today(5 + (i * 7) % 4) }),
        )
        .await;
        raised.insert(id(&action));
    }
    raised
}

#[tokio::test]
async fn actions_page_to_the_end_soonest_due_first_without_gaps() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let raised = twelve_actions(&app, &h).await;

    let nodes = all_pages(&app, &h.quinn, Value::Null, 5).await;

    let listed: Vec<String> = nodes.iter().map(id).collect();
    assert_eq!(id_set(listed), raised);
    let due: Vec<&str> = nodes
        .iter()
        .map(|n| n["dueDate"].as_str().unwrap())
        .collect();
    let mut sorted = due.clone();
    sorted.sort();
    assert_eq!(due, sorted, "soonest due first by default");

    let explicit = all_pages(
        &app,
        &h.quinn,
        json!({ "field": "DUE_DATE", "direction": "ASC" }),
        4,
    )
    .await;
    let explicit_due: Vec<&str> = explicit
        .iter()
        .map(|n| n["dueDate"].as_str().unwrap())
        .collect();
    assert_eq!(explicit_due, sorted);
}

#[tokio::test]
async fn actions_order_by_due_date_or_creation_either_way() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let raised = twelve_actions(&app, &h).await;

    let by_due_desc = all_pages(
        &app,
        &h.quinn,
        json!({ "field": "DUE_DATE", "direction": "DESC" }),
        5,
    )
    .await;
    assert_eq!(id_set(by_due_desc.iter().map(id).collect()), raised);
    let due: Vec<&str> = by_due_desc
        .iter()
        .map(|n| n["dueDate"].as_str().unwrap())
        .collect();
    let mut expected = due.clone();
    expected.sort();
    expected.reverse();
    assert_eq!(due, expected, "latest due first");

    for (direction, page) in [("ASC", 5), ("DESC", 3)] {
        let nodes = all_pages(
            &app,
            &h.quinn,
            json!({ "field": "CREATED_AT", "direction": direction }),
            page,
        )
        .await;
        assert_eq!(id_set(nodes.iter().map(id).collect()), raised);
        let created: Vec<_> = nodes.iter().map(|n| parse_time(&n["createdAt"])).collect();
        let mut expected = created.clone();
        expected.sort();
        if direction == "DESC" {
            expected.reverse();
        }
        assert_eq!(created, expected, "CREATED_AT {direction}");
        let titles: Vec<&str> = nodes.iter().map(|n| n["title"].as_str().unwrap()).collect();
        let mut in_order: Vec<String> = (0..12).map(|i| format!("Action {i}")).collect();
        if direction == "DESC" {
            in_order.reverse();
        }
        assert_eq!(
            titles, in_order,
            "CREATED_AT {direction} is the order they were raised"
        );
    }
}

#[tokio::test]
async fn actions_filter_by_status_department_source_due_date_and_owner() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let cardiac_a = cardiac_incident(&app, &h).await;
    let cardiac_b = cardiac_incident(&app, &h).await;
    let neuro = neuro_incident(&app, &h).await;

    let a1 = raise(
        &app,
        &h.hana,
        &cardiac_a,
        OLIVE,
        json!({ "dueDate": days_from_today(5) }),
    )
    .await;
    let a2 = raise(
        &app,
        &h.hana,
        &cardiac_a,
        OSCAR,
        json!({ "dueDate": days_from_today(40) }),
    )
    .await;
    let a2 = app
        .update_action(&h.hana, &a2, json!({ "status": "IN_PROGRESS" }))
        .await;
    let b1 = raise(
        &app,
        &h.hana,
        &cardiac_b,
        OLIVE,
        json!({ "dueDate": days_from_today(-3) }),
    )
    .await;
    let b1 = app
        .update_action(&h.hana, &b1, json!({ "status": "COMPLETED" }))
        .await;
    let c1 = raise(
        &app,
        &h.nina,
        &neuro,
        OSCAR,
        json!({ "dueDate": days_from_today(10) }),
    )
    .await;
    let c1 = app
        .update_action(
            &h.nina,
            &c1,
            json!({ "status": "CANCELLED", "note": "Covered by the trust-wide policy" }),
        )
        .await;

    for (filter, expected) in [
        (json!({ "status": ["OPEN", "IN_PROGRESS"] }), vec![&a1, &a2]),
        (json!({ "status": ["COMPLETED"] }), vec![&b1]),
        (json!({ "status": ["CANCELLED", "VERIFIED"] }), vec![&c1]),
        (json!({ "departmentId": h.neurology }), vec![&c1]),
        (json!({ "departmentId": h.cardiology }), vec![&a1, &a2, &b1]),
        (json!({ "sourceId": cardiac_a["id"] }), vec![&a1, &a2]),
        (json!({ "sourceId": neuro["id"] }), vec![&c1]),
        (
            json!({ "dueBefore": days_from_today(20) }),
            vec![&a1, &b1, &c1],
        ),
        (json!({ "dueBefore": days_from_today(-10) }), vec![]),
        (json!({ "ownerEmail": OSCAR }), vec![&a2, &c1]),
        (
            json!({ "departmentId": h.cardiology, "status": ["OPEN", "COMPLETED"] }),
            vec![&a1, &b1],
        ),
    ] {
        let resp = app
            .list_corrective_actions(&h.quinn, json!({ "first": 100, "filter": filter }))
            .await;
        let connection = &resp.assert_ok()["correctiveActions"];
        assert_eq!(
            id_set(node_ids(connection)),
            ids(&expected),
            "filter {filter}: {resp}"
        );
        assert_eq!(
            connection["totalCount"],
            expected.len(),
            "filter {filter}: {resp}"
        );
    }

    // A handler's filters work within what they may see.
    assert_eq!(
        app.corrective_action_ids(&h.hana, json!({ "departmentId": h.neurology }))
            .await,
        Vec::<String>::new()
    );
}

// --- cost ----------------------------------------------------------------------------------

#[tokio::test]
async fn reading_actions_through_a_page_of_incidents_does_not_query_per_row() {
    let app = spawn_app_with(|s| s.diagnostics.sql_statement_count = true).await;
    let h = app.hospital().await;
    // Signed-in owners (so `owner` resolves) and one who never signed in.
    for token in [&h.alice, &h.bob, &h.hana] {
        app.staff_id(token).await;
    }
    let owners = [
        "alice@candour.test",
        "bob@candour.test",
        "hana@candour.test",
        "not.yet@candour.test",
    ];
    for i in 0..45usize {
        let incident = cardiac_incident(&app, &h).await;
        let first = raise(
            &app,
            &h.quinn,
            &incident,
            owners[i % 4],
            json!({ "title": format!("Action {i}a") }),
        )
        .await;
        raise(
            &app,
            &h.quinn,
            &incident,
            owners[(i + 1) % 4],
            json!({ "title": format!("Action {i}b") }),
        )
        .await;
        if i % 3 == 0 {
            let completed = app
                .update_action(&h.quinn, &first, json!({ "status": "COMPLETED" }))
                .await;
            app.update_action(
                &h.quinn,
                &completed,
                json!({ "status": "VERIFIED", "effective": false }),
            )
            .await;
        }
    }
    let query = "query($first: Int) { incidents(first: $first) { edges { node {
                   correctiveActions { title owner { name } followUp { title } }
                 } } } }";

    // Three samples per page size, keeping the fewest (see listing.rs: a DataLoader batch
    // may split under load; an N+1 shows in every sample).
    let mut samples: Vec<(usize, u64)> = Vec::new();
    for first in [5, 40, 5, 40, 5, 40] {
        let resp = app
            .gql(Some(&h.quinn), query, json!({ "first": first }))
            .await;
        let edges = resp.assert_ok()["incidents"]["edges"].as_array().unwrap();
        assert_eq!(edges.len(), first, "{resp}");
        let actions: Vec<&Value> = edges
            .iter()
            .flat_map(|e| {
                e["node"]["correctiveActions"]
                    .as_array()
                    .unwrap_or_else(|| panic!("correctiveActions listed: {e}"))
                    .iter()
            })
            .collect();
        assert!(
            edges.iter().all(|e| e["node"]["correctiveActions"]
                .as_array()
                .is_some_and(|a| a.len() >= 2)),
            "every incident lists its actions: {resp}"
        );
        if first == 40 {
            assert!(actions.iter().any(|a| a["owner"]["name"].is_string()));
            assert!(actions.iter().any(|a| a["owner"].is_null()));
            assert!(actions.iter().any(|a| a["followUp"]["title"].is_string()));
        }
        let statements: u64 = resp
            .header("x-sql-statements")
            .unwrap_or_else(|| panic!("no x-sql-statements header with diagnostics on: {resp:?}"))
            .parse()
            .expect("x-sql-statements is a number");
        samples.push((first, statements));
    }
    let fewest = |n: usize| {
        samples
            .iter()
            .filter(|(first, _)| *first == n)
            .map(|(_, s)| *s)
            .min()
            .unwrap()
    };

    assert_eq!(
        fewest(5),
        fewest(40),
        "SQL statements grow with the page (an N+1 under correctiveActions): \
         (first, statements) samples {samples:?}"
    );
}
