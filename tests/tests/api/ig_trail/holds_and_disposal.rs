//! Legal holds and disposal: a hold spares a record, disposal leaves a tombstone, and only
//! the IG officer does either.

use super::*;

#[tokio::test]
async fn a_legal_hold_is_placed_once_with_a_reason_and_listed() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let closed = app
        .close_low_harm(&h.quinn, &low_harm(&app, &h).await)
        .await;

    let blank = try_place_hold(&app, &ig, &closed["id"], "   ").await;
    blank.assert_error("BAD_USER_INPUT", Some("reason"));
    assert!(active_holds(&app, &ig).await.is_empty());

    let hold = place_hold(&app, &ig, &closed["id"], "Coroner's inquest pending").await;
    assert_eq!(hold["active"], true, "{hold}");
    assert_eq!(hold["recordId"], closed["id"], "{hold}");
    assert_eq!(hold["recordType"], "Incident", "{hold}");
    assert_eq!(hold["reason"], "Coroner's inquest pending", "{hold}");
    assert_eq!(hold["placedBy"], "iris", "{hold}");
    assert!(hold["releasedAt"].is_null(), "{hold}");
    assert!(hold["id"].is_string(), "{hold}");

    let again = try_place_hold(&app, &ig, &closed["id"], "A second hold").await;
    again.assert_error("CONFLICT", None);

    let listed = active_holds(&app, &ig).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], hold["id"]);
    assert_eq!(listed[0]["recordId"], closed["id"]);

    let due = retention_due(&app, &ig, json!({})).await;
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(
        due[0]["legalHold"], true,
        "still listed, shown as held: {due:?}"
    );

    // The hold and its release are in the record's trail.
    let released = try_release_hold(&app, &ig, &hold["id"], "Inquest concluded").await;
    released.assert_ok();
    let released = &released.data()["releaseLegalHold"]["legalHold"];
    assert_eq!(released["active"], false, "{released}");
    assert_eq!(released["releaseReason"], "Inquest concluded", "{released}");
    assert!(released["releasedAt"].is_string(), "{released}");
    assert!(active_holds(&app, &ig).await.is_empty());
    try_release_hold(&app, &ig, &hold["id"], "Again")
        .await
        .assert_error("CONFLICT", None);
    let trail = all_events(&app, &ig, json!({ "recordId": closed["id"] })).await;
    let actions = actions_of(&trail);
    assert_eq!(
        &actions[..2],
        ["legal_hold.released", "legal_hold.placed"],
        "{actions:?}"
    );

    // Another hold may be placed once the first is released.
    let second = place_hold(&app, &ig, &closed["id"], "New claim received").await;
    assert_eq!(second["active"], true);
    assert_ne!(second["id"], hold["id"]);
}

/// An incident's stored content: what disposal removes.
const INCIDENT_CONTENT: &[&str] = &[
    "description",
    "location",
    "category",
    "immediate_actions",
    "findings",
    "learning_summary",
    "feedback_to_reporter",
    "status_reason",
    "patient_nhs_sealed",
    "patient_name_sealed",
    "patient_dob_sealed",
    "patient_nhs_hash",
    // The first migration's plaintext columns, kept empty since patients are sealed.
    "patient_nhs_number",
    "patient_name",
    "patient_date_of_birth",
    "equipment_asset_id",
    "equipment_manufacturer",
    "equipment_model",
    "equipment_serial_number",
    "follow_up_code_hash",
];

/// Content columns the disposal story's closed incident never fills.
const NEVER_SET_HERE: &[&str] = &[
    "status_reason",
    "patient_nhs_number",
    "patient_name",
    "patient_date_of_birth",
    "follow_up_code_hash",
];

/// Words of the disposal story's closed incident, which no stored column may keep.
const INCIDENT_WORDS: &[&str] = &[
    "Mary Example",
    "9434765919",
    "1950-06-01",
    "slid off",
    "Ward 7",
    "Dr Jones",
    "rails left down",
    "checked at every handover",
    "checked at handover",
    "Falls",
    "TR-0042",
    "Acme",
    "SN-77812",
];

/// The free-text columns of a corrective action, which disposal of its incident empties
/// (its title becomes "Disposed record").
const ACTION_TEXT: &[&str] = &[
    "description",
    "note",
    "verification_note",
    "cancellation_reason",
];

/// Words of the disposal story's actions, break-glass grant and review, which no stored
/// column may keep.
const LINKED_WORDS: &[&str] = &[
    "rail checks",
    "night transfer rota",
    "night sisters",
    "four weeks",
    "trolleys are all being replaced",
    "transferred to neurology",
    "on the neurology ward",
];

/// Every stored row of `table` linked to the incident, each of `columns` present, and
/// every word of `words` somewhere among them: the content disposal must remove is there
/// to remove.
#[track_caller]
fn assert_filled(rows: &[Row], columns: &[&str], words: &[&str]) {
    for c in columns {
        assert!(
            rows.iter()
                .any(|r| col(r, c).is_some_and(|v| !v.is_empty())),
            "no {c} stored to dispose of: {rows:?}"
        );
    }
    let text = format!("{rows:?}").to_lowercase();
    for w in words {
        assert!(
            text.contains(&w.to_lowercase()),
            "{w:?} not stored: {rows:?}"
        );
    }
}

#[tokio::test]
async fn disposal_leaves_a_tombstone_and_spares_held_records_until_released() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");
    let patient =
        json!({ "nhsNumber": "9434765919", "name": "Mary Example", "dateOfBirth": "1950-06-01" });

    let reported = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({
                    // Moderate as reported, none on review: the duty of candour it owed is
                    // withdrawn, with a reason.
                    "physicalHarm": "MODERATE",
                    "patient": patient,
                    "location": "Ward 7 side room",
                    "immediateActions": "Rails raised; Dr Jones examined the patient.",
                    "equipment": { "assetId": "TR-0042", "manufacturer": "Acme Beds",
                                   "model": "Glide 3", "serialNumber": "SN-77812" },
                }),
            ),
        )
        .await;
    app.comment(
        &h.quinn,
        reported["id"].as_str().unwrap(),
        "Family informed.",
    )
    .await;
    let reported = app
        .incident(&h.quinn, reported["id"].as_str().unwrap())
        .await;
    let triaged = app
        .triage(
            &h.quinn,
            &reported,
            json!({
                "physicalHarm": "NONE",
                "category": "Falls",
                "findings": "Bed rails left down after the night transfer.",
                "learningSummary": "Rails checked at every handover.",
                "feedbackToReporter": "Thank you: the trolley rails are now checked at handover.",
            }),
        )
        .await;
    let incident_id = triaged["id"].as_str().unwrap();
    // Its corrective actions, one verified and one cancelled, with notes.
    let action = |title: &str, description: &str| {
        with(
            corrective_action_input(incident_id, "ward.manager@trust.example"),
            json!({ "title": title, "description": description }),
        )
    };
    let done = app
        .create_corrective_action(
            &h.quinn,
            action(
                "Brief Mary Example's family on the rail checks",
                "Dr Jones to add rail checks to the night transfer rota.",
            ),
        )
        .await;
    let done = app
        .update_action(
            &h.quinn,
            &done,
            json!({ "status": "IN_PROGRESS", "note": "Rota drafted with the night sisters." }),
        )
        .await;
    let done = app
        .update_action(&h.quinn, &done, json!({ "status": "COMPLETED" }))
        .await;
    app.update_action(
        &h.quinn,
        &done,
        json!({ "status": "VERIFIED", "effective": true,
                "note": "No falls from trolleys in four weeks." }),
    )
    .await;
    let dropped = app
        .create_corrective_action(
            &h.quinn,
            action(
                "Replace the trolley Mary Example fell from",
                "Order a trolley with rail checks built in.",
            ),
        )
        .await;
    app.update_action(
        &h.quinn,
        &dropped,
        json!({ "status": "CANCELLED",
                "note": "Superseded: the ward's trolleys are all being replaced." }),
    )
    .await;
    // A break-glass grant on it, reviewed.
    let glass = app
        .gql(
            Some(&h.nina),
            "mutation($input: BreakGlassInput!) { breakGlass(input: $input) { grant { id } } }",
            json!({ "input": { "incidentId": incident_id,
                    "justification": "Mary Example transferred to neurology overnight" } }),
        )
        .await;
    let grant = glass.assert_ok()["breakGlass"]["grant"]["id"].clone();
    app.gql(
        Some(&ig),
        "mutation($input: ReviewBreakGlassInput!) { reviewBreakGlass(input: $input) { grant { id } } }",
        json!({ "input": { "grantId": grant,
                "note": "Justified: Mary Example was on the neurology ward." } }),
    )
    .await
    .assert_ok();
    let triaged = app.incident(&h.quinn, incident_id).await;
    let closed = app.close_low_harm(&h.quinn, &triaged).await;
    // Stored before disposal: the content the tombstone must lose is there to lose.
    let before = stored_row(&app, "incident", &closed["id"], INCIDENT_CONTENT).await;
    for c in INCIDENT_CONTENT {
        let filled = col(&before, c).is_some_and(|v| !v.is_empty());
        assert_eq!(filled, !NEVER_SET_HERE.contains(c), "{c}: {before:?}");
    }
    let comments = stored_rows(
        &app,
        "incident_comment",
        "incident_id",
        &closed["id"],
        &["body"],
    )
    .await;
    assert_eq!(comments.len(), 1, "{comments:?}");
    let mut action_columns = ACTION_TEXT.to_vec();
    action_columns.extend(["title", "status"]);
    let actions = stored_rows(
        &app,
        "corrective_action",
        "incident_id",
        &closed["id"],
        &action_columns,
    )
    .await;
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_filled(&actions, ACTION_TEXT, &LINKED_WORDS[..5]);
    const GRANT_COLUMNS: &[&str] = &["justification", "review_note", "reviewed_at"];
    let grants = stored_rows(
        &app,
        "break_glass_grant",
        "incident_id",
        &closed["id"],
        GRANT_COLUMNS,
    )
    .await;
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_filled(&grants, GRANT_COLUMNS, &LINKED_WORDS[5..]);
    const OBLIGATION_COLUMNS: &[&str] = &["kind", "status", "withdrawn_reason"];
    let obligations = stored_rows(
        &app,
        "obligation",
        "incident_id",
        &closed["id"],
        OBLIGATION_COLUMNS,
    )
    .await;
    assert_eq!(obligations.len(), 1, "{obligations:?}");
    assert_eq!(col(&obligations[0], "status"), Some("WITHDRAWN"));
    assert_filled(&obligations, &["withdrawn_reason"], &[]);
    let declined = app
        .transition_because(
            &h.hana,
            &low_harm(&app, &h).await,
            "DECLINED",
            "Duplicate of a report made by phone",
        )
        .await;
    let held = app
        .close_low_harm(&h.quinn, &low_harm(&app, &h).await)
        .await;
    let hold = place_hold(&app, &ig, &held["id"], "Litigation: claim received").await;

    assert_eq!(patient_records(&app, &ig).await.len(), 1);

    let report = dispose(&app, &ig).await;
    assert_eq!(
        report,
        json!({ "incidents": 2, "audits": 0, "improvementProjects": 0, "held": 1 }),
        "the closed and declined incidents go; the held one stays"
    );

    // A tombstone: identity and dates kept, content gone.
    let tomb = record(&app, &h.quinn, &closed["id"]).await;
    assert_eq!(tomb["reference"], closed["reference"], "{tomb}");
    assert_eq!(tomb["status"], "CLOSED", "{tomb}");
    assert_eq!(tomb["title"], "Disposed record", "{tomb}");
    assert!(tomb["description"].is_null(), "{tomb}");
    assert!(tomb["patient"].is_null(), "{tomb}");
    assert!(
        tomb["comments"].is_null() || tomb["comments"].as_array().is_some_and(|c| c.is_empty()),
        "{tomb}"
    );
    assert!(tomb["disposedAt"].is_string(), "{tomb}");
    assert!(
        parse_time(&tomb["disposedAt"]) >= parse_time(&closed["closedAt"]),
        "{tomb}"
    );
    let text = tomb.to_string();
    for secret in ["Mary Example", "9434765919", "Family informed", "slid off"] {
        assert!(!text.contains(secret), "{secret} survived disposal: {tomb}");
    }
    assert!(
        patient_records(&app, &ig).await.is_empty(),
        "the patient is no longer named"
    );

    let history = app.history(&h.quinn, closed["id"].as_str().unwrap()).await;
    let disposed: Vec<_> = history
        .iter()
        .filter(|e| e["action"] == "incident.disposed")
        .collect();
    assert_eq!(disposed.len(), 1, "{history:?}");
    assert_eq!(disposed[0]["actor"]["name"], "Iris Test", "{history:?}");
    let said: Vec<&str> = disposed[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    for linked in ["correctiveActions", "breakGlassGrants", "obligations"] {
        assert!(said.contains(&linked), "{linked} not named: {said:?}");
    }
    let trail_text = serde_json::to_string(&history).unwrap();
    for secret in ["Mary Example"].iter().chain(LINKED_WORDS) {
        assert!(!trail_text.contains(secret), "{secret}: {trail_text}");
    }

    // What the database holds: the tombstone, and none of the content.
    let mut columns = INCIDENT_CONTENT.to_vec();
    columns.extend(["reference", "title", "status", "closed_at", "disposed_at"]);
    let stored = stored_row(&app, "incident", &closed["id"], &columns).await;
    assert_emptied(&stored, INCIDENT_CONTENT, INCIDENT_WORDS);
    assert_eq!(col(&stored, "reference"), closed["reference"].as_str());
    assert_eq!(col(&stored, "title"), Some("Disposed record"));
    assert_eq!(col(&stored, "status"), Some("CLOSED"));
    assert!(col(&stored, "closed_at").is_some(), "{stored:?}");
    assert!(col(&stored, "disposed_at").is_some(), "{stored:?}");
    let comments = stored_rows(
        &app,
        "incident_comment",
        "incident_id",
        &closed["id"],
        &["body"],
    )
    .await;
    assert!(
        comments.is_empty(),
        "comments survived disposal: {comments:?}"
    );
    // The linked records stay, counted and dated, without their words.
    let words: Vec<&str> = INCIDENT_WORDS.iter().chain(LINKED_WORDS).copied().collect();
    let actions = stored_rows(
        &app,
        "corrective_action",
        "incident_id",
        &closed["id"],
        &action_columns,
    )
    .await;
    let mut statuses: Vec<_> = actions.iter().map(|a| col(a, "status")).collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [Some("CANCELLED"), Some("VERIFIED")],
        "{actions:?}"
    );
    for a in &actions {
        assert_emptied(a, ACTION_TEXT, &words);
        assert_eq!(col(a, "title"), Some("Disposed record"), "{a:?}");
    }
    let grants = stored_rows(
        &app,
        "break_glass_grant",
        "incident_id",
        &closed["id"],
        GRANT_COLUMNS,
    )
    .await;
    assert_eq!(grants.len(), 1, "{grants:?}");
    assert_emptied(&grants[0], &["justification", "review_note"], &words);
    assert!(col(&grants[0], "reviewed_at").is_some(), "{grants:?}");
    let obligations = stored_rows(
        &app,
        "obligation",
        "incident_id",
        &closed["id"],
        OBLIGATION_COLUMNS,
    )
    .await;
    assert_eq!(obligations.len(), 1, "{obligations:?}");
    assert_emptied(&obligations[0], &["withdrawn_reason"], &words);
    assert_eq!(col(&obligations[0], "status"), Some("WITHDRAWN"));

    let declined_now = record(&app, &h.quinn, &declined["id"]).await;
    assert_eq!(declined_now["title"], "Disposed record", "{declined_now}");
    assert!(declined_now["disposedAt"].is_string(), "{declined_now}");
    let stored = stored_row(&app, "incident", &declined["id"], &columns).await;
    assert_emptied(
        &stored,
        INCIDENT_CONTENT,
        &["Duplicate of a report", "slid off"],
    );
    assert_eq!(col(&stored, "status"), Some("DECLINED"));

    // The held incident is untouched.
    for untouched in [&held] {
        let now = record(&app, &h.quinn, &untouched["id"]).await;
        assert_eq!(
            now["title"], "Patient fell from trolley in corridor",
            "{now}"
        );
        assert!(now["description"].is_string(), "{now}");
        assert!(now["disposedAt"].is_null(), "{now}");
    }
    let due = retention_due(&app, &ig, json!({})).await;
    assert_eq!(
        record_ids(&due),
        sorted(&[&held["id"]]),
        "disposed records are no longer due"
    );

    // Disposal is done once.
    assert_eq!(
        dispose(&app, &ig).await,
        json!({ "incidents": 0, "audits": 0, "improvementProjects": 0, "held": 1 })
    );

    // Released, the held record goes at the next disposal.
    try_release_hold(&app, &ig, &hold["id"], "Claim withdrawn")
        .await
        .assert_ok();
    assert_eq!(
        dispose(&app, &ig).await,
        json!({ "incidents": 1, "audits": 0, "improvementProjects": 0, "held": 0 })
    );
    let gone = record(&app, &h.quinn, &held["id"]).await;
    assert_eq!(gone["title"], "Disposed record", "{gone}");
    assert!(gone["disposedAt"].is_string(), "{gone}");
    assert!(retention_due(&app, &ig, json!({})).await.is_empty());

    // The chain holds through disposal, the disposals in it.
    let integrity = sealed(&app, &ig).await;
    assert_eq!(integrity["intact"], true, "{integrity}");
    let everything = all_events(&app, &ig, json!({})).await;
    assert_eq!(integrity["checkedEvents"], everything.len(), "{integrity}");
    let disposals = all_events(&app, &ig, json!({ "action": "incident.disposed" })).await;
    assert_eq!(disposals.len(), 3);
}

#[tokio::test]
async fn only_an_ig_officer_reviews_retention_holds_and_disposes() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let closed = app
        .close_low_harm(&h.quinn, &low_harm(&app, &h).await)
        .await;

    for (who, token) in [
        ("staff", &h.alice),
        ("handler", &h.hana),
        ("quality lead", &h.quinn),
        ("admin", &h.ada),
    ] {
        let resp = try_retention_due(&app, token, json!({})).await;
        assert_eq!(resp.status, 200, "{who}: {resp}");
        resp.assert_error("FORBIDDEN", None);
        try_place_hold(&app, token, &closed["id"], "Because I say so")
            .await
            .assert_error("FORBIDDEN", None);
        app.gql(
            Some(token),
            "{ legalHolds { edges { node { id } } } }",
            json!({}),
        )
        .await
        .assert_error("FORBIDDEN", None);
        app.gql(Some(token), DISPOSE, json!({}))
            .await
            .assert_error("FORBIDDEN", None);
    }

    // Nothing was disposed of or held by anyone else's attempt.
    let now = record(&app, &h.quinn, &closed["id"]).await;
    assert!(now["disposedAt"].is_null(), "{now}");
    let ig = app.ig_officer("iris");
    assert!(active_holds(&app, &ig).await.is_empty());
    assert_eq!(retention_due(&app, &ig, json!({})).await.len(), 1);
}
