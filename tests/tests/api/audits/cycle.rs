//! An audit's cycle: started, reported, closed; who may move it, and conflicts.

use super::*;

#[tokio::test]
async fn an_audit_is_started_reported_and_closed() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = planned(&app, &h, json!({})).await;

    let in_progress = app.move_audit(&h.hana, &audit, "IN_PROGRESS").await;
    assert_eq!(in_progress["status"], "IN_PROGRESS");
    assert_eq!(in_progress["version"], 2);
    let started_at = parse_time(&in_progress["startedAt"]);
    assert!(in_progress["reportedAt"].is_null() && in_progress["closedAt"].is_null());
    assert_eq!(
        set(&in_progress["allowedTransitions"]),
        set_of(&["REPORTED"])
    );

    let with_finding = record(
        &app,
        &h.hana,
        &in_progress,
        "Consent documented",
        90.0,
        40,
        38,
    )
    .await;
    let reported = app.move_audit(&h.quinn, &with_finding, "REPORTED").await;
    assert_eq!(reported["status"], "REPORTED");
    assert_eq!(
        reported["version"],
        with_finding["version"].as_i64().unwrap() + 1
    );
    let reported_at = parse_time(&reported["reportedAt"]);
    assert!(reported_at >= started_at, "{reported}");
    assert!(reported["closedAt"].is_null());
    assert_eq!(
        set(&reported["allowedTransitions"]),
        set_of(&["IN_PROGRESS", "CLOSED"])
    );

    // No non-conformity: nothing to act on before closing.
    let closed = app.move_audit(&h.hana, &reported, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
    assert_eq!(closed["version"], reported["version"].as_i64().unwrap() + 1);
    assert!(parse_time(&closed["closedAt"]) >= reported_at, "{closed}");
    assert_eq!(parse_time(&closed["startedAt"]), started_at);
    assert_eq!(closed["allowedTransitions"], json!([]));

    let reread = app.audit(&h.alice, &id(&audit)).await;
    assert_eq!(reread["status"], "CLOSED");
    assert_eq!(reread["version"], closed["version"]);
    assert_eq!(reread["closedAt"], closed["closedAt"]);
}

#[tokio::test]
async fn a_reported_audit_goes_back_in_progress_for_more_findings() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let reported = reported_with(&app, &h, &[("Consent documented", 90.0, 40, 38)]).await;

    let reopened = app.move_audit(&h.quinn, &reported, "IN_PROGRESS").await;
    assert_eq!(reopened["status"], "IN_PROGRESS");
    assert_eq!(
        reopened["version"],
        reported["version"].as_i64().unwrap() + 1
    );
    assert!(reopened["startedAt"].is_string(), "{reopened}");

    let more = record(&app, &h.hana, &reopened, "Capacity assessed", 80.0, 20, 19).await;
    assert_eq!(findings(&more).len(), 2, "{more}");
    let again = app.move_audit(&h.hana, &more, "REPORTED").await;
    assert_eq!(again["status"], "REPORTED");
    assert!(parse_time(&again["reportedAt"]) >= parse_time(&reported["reportedAt"]));
    let closed = app.move_audit(&h.hana, &again, "CLOSED").await;
    assert_eq!(closed["status"], "CLOSED");
}

#[tokio::test]
async fn an_audit_is_not_reported_without_findings() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = started(&app, &h, json!({})).await;

    app.try_move_audit(&h.quinn, &audit, "REPORTED")
        .await
        .assert_error("BAD_USER_INPUT", Some("findings"));

    let now = app.audit(&h.quinn, &id(&audit)).await;
    assert_eq!(now["status"], "IN_PROGRESS");
    assert_eq!(now["version"], audit["version"]);
    assert!(now["reportedAt"].is_null(), "{now}");
}

#[tokio::test]
async fn moves_outside_the_cycle_are_refused_on_to() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let planned_audit = planned(&app, &h, json!({})).await;
    let in_progress = app
        .move_audit(&h.hana, &planned(&app, &h, json!({})).await, "IN_PROGRESS")
        .await;
    let in_progress = record(
        &app,
        &h.hana,
        &in_progress,
        "Consent documented",
        90.0,
        10,
        10,
    )
    .await;
    let reported = reported_with(&app, &h, &[("Consent documented", 90.0, 10, 10)]).await;
    let closed = app
        .move_audit(
            &h.hana,
            &reported_with(&app, &h, &[("Consent documented", 90.0, 10, 10)]).await,
            "CLOSED",
        )
        .await;

    for (audit, refused) in [
        (&planned_audit, &["PLANNED", "REPORTED", "CLOSED"][..]),
        (&in_progress, &["PLANNED", "IN_PROGRESS", "CLOSED"][..]),
        (&reported, &["PLANNED", "REPORTED"][..]),
        (
            &closed,
            &["PLANNED", "IN_PROGRESS", "REPORTED", "CLOSED"][..],
        ),
    ] {
        for to in refused {
            for token in [&h.quinn, &h.hana] {
                let resp = app.try_move_audit(token, audit, to).await;
                assert_eq!(
                    (resp.error_code().as_deref(), resp.error_field().as_deref()),
                    (Some("BAD_USER_INPUT"), Some("to")),
                    "{} -> {to}: {resp}",
                    audit["status"]
                );
            }
        }
        let now = app.audit(&h.quinn, &id(audit)).await;
        assert_eq!(now["status"], audit["status"]);
        assert_eq!(now["version"], audit["version"]);
    }
}

#[tokio::test]
async fn only_quality_leads_and_the_departments_handlers_move_an_audit() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = planned(&app, &h, json!({ "leadEmail": LEAD })).await;
    let lead = app.staff_with_email("lena", LEAD);
    let reader = app.service(&["incidents:read"]);

    for (who, token) in [
        ("staff", &h.alice),
        ("a handler of another department", &h.nina),
        ("an admin", &h.ada),
        ("the audit's lead", &lead),
        ("a reading service", &reader),
    ] {
        let resp = app.try_move_audit(token, &audit, "IN_PROGRESS").await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("FORBIDDEN"),
            "{who}: {resp}"
        );
        let seen = app.audit(token, &id(&audit)).await;
        assert_eq!(seen["allowedTransitions"], json!([]), "{who}: {seen}");
    }
    let now = app.audit(&h.quinn, &id(&audit)).await;
    assert_eq!(now["status"], "PLANNED");
    assert_eq!(now["version"], 1);

    let by_hana = app.move_audit(&h.hana, &audit, "IN_PROGRESS").await;
    assert_eq!(by_hana["status"], "IN_PROGRESS");
    let by_hana = record(&app, &lead, &by_hana, "Consent documented", 90.0, 10, 10).await;
    let lead_view = app.audit(&lead, &id(&audit)).await;
    assert_eq!(lead_view["allowedTransitions"], json!([]), "{lead_view}");
    app.try_move_audit(&lead, &by_hana, "REPORTED")
        .await
        .assert_error("FORBIDDEN", None);
    let by_quinn = app.move_audit(&h.quinn, &by_hana, "REPORTED").await;
    assert_eq!(by_quinn["status"], "REPORTED");
}

// --- optimistic concurrency ----------------------------------------------------------------

#[tokio::test]
async fn a_move_based_on_a_stale_version_is_a_conflict() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = started(&app, &h, json!({})).await;
    let stale = record(&app, &h.hana, &audit, "Consent documented", 90.0, 10, 10).await;
    let current = app.move_audit(&h.hana, &stale, "REPORTED").await;

    // Both moves are legal from REPORTED: only the version refuses them.
    for to in ["IN_PROGRESS", "CLOSED"] {
        let resp = app.try_move_audit(&h.quinn, &stale, to).await;
        assert_eq!(
            resp.error_code().as_deref(),
            Some("CONFLICT"),
            "{to}: {resp}"
        );
    }
    let ahead = with(
        current.clone(),
        json!({ "version": current["version"].as_i64().unwrap() + 1 }),
    );
    app.try_move_audit(&h.quinn, &ahead, "CLOSED")
        .await
        .assert_error("CONFLICT", None);

    let now = app.audit(&h.quinn, &id(&audit)).await;
    assert_eq!(now["status"], "REPORTED");
    assert_eq!(now["version"], current["version"]);
    assert!(now["closedAt"].is_null(), "{now}");
}

#[tokio::test]
async fn repeating_a_move_someone_else_already_made_is_a_conflict() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let audit = planned(&app, &h, json!({})).await;
    let started_by_hana = app.move_audit(&h.hana, &audit, "IN_PROGRESS").await;

    // Quinn still sees the audit PLANNED at version 1: the move was legal from what Quinn
    // saw, and what has changed since is the version.
    app.try_move_audit(&h.quinn, &audit, "IN_PROGRESS")
        .await
        .assert_error("CONFLICT", None);

    let with_finding = record(
        &app,
        &h.hana,
        &started_by_hana,
        "Consent documented",
        90.0,
        10,
        10,
    )
    .await;
    let reported = app.move_audit(&h.hana, &with_finding, "REPORTED").await;
    app.try_move_audit(&h.quinn, &with_finding, "REPORTED")
        .await
        .assert_error("CONFLICT", None);

    let now = app.audit(&h.quinn, &id(&audit)).await;
    assert_eq!(now["status"], "REPORTED");
    assert_eq!(now["version"], reported["version"]);
}

#[tokio::test]
async fn two_people_starting_the_same_audit_at_once_one_wins_the_other_conflicts() {
    let app = spawn_app().await;
    let h = app.hospital().await;

    for round in 0..3 {
        let audit = planned(&app, &h, json!({ "title": format!("Audit {round}") })).await;
        let (a, b) = join(
            app.try_move_audit(&h.hana, &audit, "IN_PROGRESS"),
            app.try_move_audit(&h.quinn, &audit, "IN_PROGRESS"),
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
        let now = app.audit(&h.quinn, &id(&audit)).await;
        assert_eq!(now["status"], "IN_PROGRESS");
        assert_eq!(now["version"], 2, "{now}");
        let history = app.audit_history(&h.quinn, &id(&audit)).await;
        let moves = history
            .iter()
            .filter(|e| e["action"] == "audit.transitioned")
            .count();
        assert_eq!(
            moves, 1,
            "only the winner's move is in the trail: {history:?}"
        );
    }
}

// --- findings ------------------------------------------------------------------------------
