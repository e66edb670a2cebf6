//! Break-glass: one record opened, read-only, for a limited time and for review.

use super::*;

// ---------------------------------------------------------------------------------------------
// Break-glass
// ---------------------------------------------------------------------------------------------

const BREAK_GLASS: &str = "mutation($input: BreakGlassInput!) { breakGlass(input: $input) {
  grant { id incidentId holderLabel justification grantedAt expiresAt active reviewedAt
          incidentReference holder { name } }
  incident { id reference description patient { nhsNumber name } breakGlass }
} }";

const JUSTIFICATION: &str = "Patient transferred to us overnight; need the fall history now";

async fn break_glass(
    app: &TestApp,
    token: &str,
    incident_id: &str,
    justification: &str,
) -> GqlResponse {
    app.gql(
        Some(token),
        BREAK_GLASS,
        json!({ "input": { "incidentId": incident_id, "justification": justification } }),
    )
    .await
}

#[tokio::test]
async fn break_glass_needs_a_justification_of_twenty_characters() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    for short in ["", "Need it", "  nineteen chars ok  ", &"x".repeat(19)] {
        let resp = break_glass(&app, &h.nina, &id(&incident), short).await;
        resp.assert_error("BAD_USER_INPUT", Some("justification"));
    }
    read_incident(&app, &h.nina, &id(&incident), "title")
        .await
        .assert_error("NOT_FOUND", None);

    let resp = break_glass(&app, &h.nina, &id(&incident), &"x".repeat(20)).await;
    resp.assert_ok();
}

#[tokio::test]
async fn break_glass_is_refused_to_service_accounts_and_to_those_who_need_none() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    let service = break_glass(
        &app,
        &app.service(&["incidents:write"]),
        &id(&incident),
        JUSTIFICATION,
    )
    .await;
    service.assert_error("FORBIDDEN", None);

    for (who, token) in [
        ("the department's handler", &h.hana),
        ("a quality lead", &h.quinn),
    ] {
        let resp = break_glass(&app, token, &id(&incident), JUSTIFICATION).await;
        resp.assert_error("BAD_USER_INPUT", None);
        assert!(
            resp.data().is_null() || resp.data()["breakGlass"].is_null(),
            "{who}: {resp}"
        );
    }

    // A well-formed incident id that only another Candour database knows.
    let elsewhere = spawn_app().await;
    let other = elsewhere.hospital().await;
    let foreign = report(&elsewhere, &other.alice, incident_input(&other.cardiology)).await;
    let unknown = break_glass(&app, &h.nina, &id(&foreign), JUSTIFICATION).await;
    unknown.assert_error("NOT_FOUND", None);

    let grants = app
        .gql(
            Some(&ig_officer(&app)),
            "{ breakGlassGrants(first: 10) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        grants.assert_ok()["breakGlassGrants"]["edges"],
        json!([]),
        "{grants}"
    );
}

#[tokio::test]
async fn break_glass_opens_one_incident_to_its_holder_for_reading_only() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let neighbour = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let incident_id = id(&incident);
    let before = Utc::now();

    let resp = break_glass(&app, &h.nina, &incident_id, JUSTIFICATION).await;
    let payload = &resp.assert_ok()["breakGlass"];
    let grant = &payload["grant"];
    assert_eq!(grant["incidentId"], incident_id.as_str());
    assert_eq!(grant["holderLabel"], "nina");
    assert_eq!(grant["holder"]["name"], "Nina Test");
    assert_eq!(grant["justification"], JUSTIFICATION);
    assert_eq!(grant["incidentReference"], incident["reference"]);
    assert_eq!(grant["active"], true);
    assert!(grant["reviewedAt"].is_null(), "{grant}");
    let granted_at = parse_time(&grant["grantedAt"]);
    assert!(
        granted_at >= before - Duration::seconds(5)
            && granted_at <= Utc::now() + Duration::seconds(5),
        "{grant}"
    );
    assert_eq!(
        parse_time(&grant["expiresAt"]) - granted_at,
        Duration::minutes(60),
        "the default grant lasts an hour: {grant}"
    );
    let opened = &payload["incident"];
    assert_eq!(opened["breakGlass"], true);
    assert!(opened["description"].is_string(), "{resp}");
    assert_eq!(opened["patient"]["nhsNumber"], NHS);

    // Nina reads it by every path, marked as break-glass.
    let read = read_incident(
        &app,
        &h.nina,
        &incident_id,
        "breakGlass description patient { name }",
    )
    .await;
    let seen = &read.assert_ok()["incident"];
    assert_eq!(seen["breakGlass"], true);
    assert_eq!(seen["patient"]["name"], PATIENT_NAME);
    let by_reference = app
        .gql(
            Some(&h.nina),
            "query($r: String!) { incidentByReference(reference: $r) { id breakGlass } }",
            json!({ "r": incident["reference"] }),
        )
        .await;
    assert_eq!(
        by_reference.assert_ok()["incidentByReference"]["breakGlass"],
        true
    );
    let node = app
        .gql(
            Some(&h.nina),
            "query($id: ID!) { node(id: $id) { ... on Incident { id breakGlass } } }",
            json!({ "id": incident_id }),
        )
        .await;
    assert_eq!(node.assert_ok()["node"]["id"], incident_id.as_str());
    // Not in her lists, and nothing else of the department opens.
    assert!(!app
        .visible_incident_ids(&h.nina)
        .await
        .contains(&incident_id));
    read_incident(&app, &h.nina, &id(&neighbour), "title")
        .await
        .assert_error("NOT_FOUND", None);

    // Other outsiders still cannot see it.
    for (who, token) in [
        ("another neurology handler", app.handler("nell", &["NEUR"])),
        ("staff who did not report it", h.bob.clone()),
        ("an admin", h.ada.clone()),
    ] {
        let resp = read_incident(&app, &token, &incident_id, "title").await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("NOT_FOUND"),
            "{who}: {resp}"
        );
    }

    // Read-only.
    let triage = app
        .gql(
            Some(&h.nina),
            "mutation($input: TriageIncidentInput!) { triageIncident(input: $input) { incident { id } } }",
            json!({ "input": { "incidentId": incident_id, "expectedVersion": incident["version"], "category": "Falls" } }),
        )
        .await;
    triage.assert_error("FORBIDDEN", None);
    let comment = app
        .try_comment(&h.nina, &incident_id, "Seen under break-glass.")
        .await;
    comment.assert_error("FORBIDDEN", None);
    let unchanged = read_incident(
        &app,
        &h.hana,
        &incident_id,
        "version category comments { body }",
    )
    .await;
    let unchanged = &unchanged.assert_ok()["incident"];
    assert_eq!(unchanged["version"], incident["version"]);
    assert!(unchanged["category"].is_null(), "{unchanged}");
    assert_eq!(unchanged["comments"], json!([]));

    // Every read under the grant is logged as break-glass; nobody else's is.
    let glass = access_log(&app, json!({ "breakGlass": true })).await;
    let glass_requests: HashSet<String> = glass
        .iter()
        .map(|e| e["requestId"].as_str().unwrap().to_string())
        .collect();
    for r in [&resp, &read] {
        assert!(
            glass_requests.contains(&r.request_id()),
            "{}",
            pretty(&glass)
        );
    }
    assert!(
        glass.iter().all(|e| e["actorLabel"] == "nina"
            && e["breakGlass"] == true
            && e["recordId"] == incident_id.as_str()),
        "{}",
        pretty(&glass)
    );
    let read_event = only_event_about(&events_of(&app, &read).await, &incident_id).clone();
    assert_eq!(read_event["breakGlass"], true);
    assert_eq!(fields(&read_event), strs(&["description", "patient"]));
    let ordinary = access_log(&app, json!({ "breakGlass": false })).await;
    assert!(!ordinary.is_empty());
    assert!(
        ordinary.iter().all(|e| e["actorLabel"] != "nina"),
        "{}",
        pretty(&ordinary)
    );

    // The grant is on the incident's record, without the justification's words.
    let history = app.history(&h.hana, &incident_id).await;
    let glass_events: Vec<&Value> = history
        .iter()
        .filter(|e| e["action"] == "incident.break_glass")
        .collect();
    assert_eq!(glass_events.len(), 1, "{}", pretty(&history));
    assert_eq!(glass_events[0]["actorLabel"], "nina");
    assert_eq!(glass_events[0]["requestId"], resp.request_id().as_str());
    assert!(
        !serde_json::to_string(&history)
            .unwrap()
            .contains("overnight"),
        "the justification is copied into the trail: {}",
        pretty(&history)
    );
}

#[tokio::test]
async fn an_ig_officer_reviews_each_break_glass_grant_once() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let opened = break_glass(&app, &h.nina, &id(&incident), JUSTIFICATION).await;
    let grant_id = opened.assert_ok()["breakGlass"]["grant"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let iggy = ig_officer(&app);

    let list = |unreviewed_only: bool| {
        let app = &app;
        let iggy = iggy.clone();
        async move {
            let resp = app
                .gql(
                    Some(&iggy),
                    "query($u: Boolean) { breakGlassGrants(first: 20, unreviewedOnly: $u) {
                       edges { node { id incidentId holderLabel justification active reviewedAt reviewedBy reviewNote } }
                     } }",
                    json!({ "u": unreviewed_only }),
                )
                .await;
            resp.assert_ok()["breakGlassGrants"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"].clone())
                .collect::<Vec<Value>>()
        }
    };
    let waiting = list(true).await;
    assert_eq!(waiting.len(), 1, "{}", pretty(&waiting));
    assert_eq!(waiting[0]["id"], grant_id.as_str());
    assert_eq!(waiting[0]["incidentId"], id(&incident).as_str());
    assert_eq!(waiting[0]["holderLabel"], "nina");
    assert_eq!(waiting[0]["justification"], JUSTIFICATION);

    let review_query =
        "mutation($input: ReviewBreakGlassInput!) { reviewBreakGlass(input: $input) {
      grant { id reviewedAt reviewedBy reviewNote } } }";
    let note = "Confirmed with the on-call consultant: appropriate.";
    for (who, token) in [
        ("the holder", &h.nina),
        ("a quality lead", &h.quinn),
        ("an admin", &h.ada),
    ] {
        let resp = app
            .gql(
                Some(token),
                review_query,
                json!({ "input": { "grantId": grant_id, "note": note } }),
            )
            .await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
        let listing = app
            .gql(
                Some(token),
                "{ breakGlassGrants(first: 5) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            listing.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {listing}"
        );
    }

    let before = Utc::now();
    let reviewed = app
        .gql(
            Some(&iggy),
            review_query,
            json!({ "input": { "grantId": grant_id, "note": note } }),
        )
        .await;
    let grant = &reviewed.assert_ok()["reviewBreakGlass"]["grant"];
    assert_eq!(grant["id"], grant_id.as_str());
    assert_eq!(grant["reviewedBy"], "iggy");
    assert_eq!(grant["reviewNote"], note);
    let reviewed_at = parse_time(&grant["reviewedAt"]);
    assert!(reviewed_at >= before - Duration::seconds(5), "{grant}");

    assert_eq!(list(true).await, Vec::<Value>::new());
    let all = list(false).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["reviewedBy"], "iggy");
    assert_eq!(all[0]["reviewNote"], note);

    let again = app
        .gql(
            Some(&iggy),
            review_query,
            json!({ "input": { "grantId": grant_id, "note": "Second look." } }),
        )
        .await;
    again.assert_error("CONFLICT", None);
    assert_eq!(
        list(false).await[0]["reviewNote"],
        note,
        "the first review stands"
    );
}

#[tokio::test]
async fn a_break_glass_grant_lasts_the_configured_minutes() {
    let app = spawn_app_with(|s| s.break_glass_minutes = 1).await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;

    let resp = break_glass(&app, &h.nina, &id(&incident), JUSTIFICATION).await;
    let grant = &resp.assert_ok()["breakGlass"]["grant"];
    let granted_at = parse_time(&grant["grantedAt"]);
    let expires_at = parse_time(&grant["expiresAt"]);
    assert_eq!(expires_at - granted_at, Duration::minutes(1), "{grant}");
    assert!(
        (expires_at - Utc::now()).num_seconds() <= 60,
        "expires a minute from now: {grant}"
    );
    assert_eq!(grant["active"], true);
}

#[tokio::test]
async fn an_expired_break_glass_grant_no_longer_opens_the_record() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report(&app, &h.alice, report_with_patient(&h.cardiology, NHS)).await;
    let incident_id = id(&incident);
    break_glass(&app, &h.nina, &incident_id, JUSTIFICATION)
        .await
        .assert_ok();
    let during = read_incident(&app, &h.nina, &incident_id, "breakGlass description").await;
    assert_eq!(during.assert_ok()["incident"]["breakGlass"], true);

    // The grant's time runs out (moved into the past behind the API).
    let db = app.db().await;
    let backend = db.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "UPDATE break_glass_grant SET expires_at = $1 WHERE subject = $2"
        }
        _ => "UPDATE break_glass_grant SET expires_at = ? WHERE subject = ?",
    };
    let expired = Utc::now() - Duration::minutes(1);
    let done = db
        .execute(Statement::from_sql_and_values(
            backend,
            sql,
            [expired.into(), "nina".into()],
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(done.rows_affected(), 1);
    let _ = db.close().await;

    // Closed again by every path, as if it had never been opened...
    let direct = read_incident(&app, &h.nina, &incident_id, "description patient { name }").await;
    direct.assert_error("NOT_FOUND", None);
    assert!(
        direct.data().is_null() || direct.data()["incident"].is_null(),
        "{direct}"
    );
    let by_reference = app
        .gql(
            Some(&h.nina),
            "query($r: String!) { incidentByReference(reference: $r) { id description } }",
            json!({ "r": incident["reference"] }),
        )
        .await;
    by_reference.assert_error("NOT_FOUND", None);
    let node = app
        .gql(
            Some(&h.nina),
            "query($id: ID!) { node(id: $id) { id ... on Incident { description } } }",
            json!({ "id": incident_id }),
        )
        .await;
    assert!(node.data()["node"].is_null(), "{node}");

    // ...and those attempts read nothing, so they are not in the access log.
    for attempt in [&direct, &by_reference, &node] {
        assert_eq!(
            events_of(&app, attempt).await,
            Vec::<Value>::new(),
            "an attempt after expiry wrote an access event"
        );
    }
    let grants = app
        .gql(
            Some(&ig_officer(&app)),
            "{ breakGlassGrants(first: 10) { edges { node { holderLabel active } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        grants.assert_ok()["breakGlassGrants"]["edges"],
        json!([{ "node": { "holderLabel": "nina", "active": false } }]),
        "{grants}"
    );
}
