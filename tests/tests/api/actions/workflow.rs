//! An action's workflow: started, completed, verified or cancelled, replanned, and followed
//! up when it did not work.

use super::*;

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
        distinct(
            app.corrective_action_ids(&olive, json!({ "mine": true }))
                .await,
            "action"
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
