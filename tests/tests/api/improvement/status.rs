//! A project's status: from proposed to sustained, closed or abandoned.

use super::*;

// ---------------------------------------------------------------------------------------------
// Status
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_project_runs_from_proposed_through_active_and_sustaining_to_closed() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lead = app.staff_with_email("lena", LEAD);
    let proposed = start(&app, &h.quinn, project_input(&h.cardiology)).await;
    assert_eq!(
        set(&proposed["allowedTransitions"]),
        set_of(&["ACTIVE", "ABANDONED"]),
        "{proposed}"
    );
    let as_lead = read_project(&app, &lead, &id(&proposed)).await;
    assert_eq!(
        as_lead["allowedTransitions"],
        json!([]),
        "the lead may not move it"
    );

    // Not to be skipped, and not by the lead, staff or another department's handler.
    for to in ["SUSTAINING", "CLOSED", "PROPOSED"] {
        try_move(&app, &h.quinn, &proposed, to, None)
            .await
            .assert_error("BAD_USER_INPUT", Some("to"));
    }
    for token in [&lead, &h.alice, &h.nina] {
        try_move(&app, token, &proposed, "ACTIVE", None)
            .await
            .assert_error("FORBIDDEN", None);
    }

    let active = move_to(&app, &h.hana, &proposed, "ACTIVE").await;
    assert!(active["version"].as_i64().unwrap() > 1, "{active}");
    let started_at = parse_time(&active["startedAt"]);
    assert!(
        (Utc::now() - started_at).num_seconds().abs() < 60,
        "{active}"
    );
    assert!(active["closedAt"].is_null(), "{active}");

    // Someone working from the version they read first is told it changed.
    let stale = try_move(&app, &h.quinn, &proposed, "ACTIVE", None).await;
    stale.assert_error("CONFLICT", None);
    assert_eq!(
        stale.errors()[0]["extensions"]["currentVersion"],
        active["version"],
        "{stale}"
    );
    try_move(&app, &h.quinn, &active, "ACTIVE", None)
        .await
        .assert_error("BAD_USER_INPUT", Some("to"));
    try_move(&app, &h.quinn, &active, "PROPOSED", None)
        .await
        .assert_error("BAD_USER_INPUT", Some("to"));

    let sustaining = move_to(&app, &h.quinn, &active, "SUSTAINING").await;
    assert!(sustaining["version"].as_i64() > active["version"].as_i64());
    assert_eq!(
        sustaining["startedAt"], active["startedAt"],
        "startedAt stays"
    );
    try_move(&app, &lead, &sustaining, "CLOSED", None)
        .await
        .assert_error("FORBIDDEN", None);
    let closed = move_to(&app, &h.hana, &sustaining, "CLOSED").await;
    let closed_at = parse_time(&closed["closedAt"]);
    assert!(
        (Utc::now() - closed_at).num_seconds().abs() < 60,
        "{closed}"
    );
    assert_eq!(closed["allowedTransitions"], json!([]), "CLOSED is final");

    for to in ["PROPOSED", "ACTIVE", "SUSTAINING", "CLOSED"] {
        try_move(&app, &h.quinn, &closed, to, None)
            .await
            .assert_error("BAD_USER_INPUT", Some("to"));
    }
    try_move(&app, &h.quinn, &closed, "ABANDONED", Some("Too late"))
        .await
        .assert_error("BAD_USER_INPUT", Some("to"));
    assert_eq!(
        read_project(&app, &h.alice, &id(&closed)).await["status"],
        "CLOSED"
    );
}

#[tokio::test]
async fn an_active_project_may_close_without_sustaining_and_any_open_project_may_be_abandoned_with_a_reason(
) {
    let app = spawn_app().await;
    let h = app.hospital().await;

    // ACTIVE -> CLOSED.
    let p = start(&app, &h.quinn, project_input(&h.cardiology)).await;
    let active = move_to(&app, &h.quinn, &p, "ACTIVE").await;
    let closed = move_to(&app, &h.hana, &active, "CLOSED").await;
    assert!(closed["closedAt"].is_string(), "{closed}");

    // PROPOSED, ACTIVE and SUSTAINING may each be abandoned, always with a reason.
    for path in [&[][..], &["ACTIVE"][..], &["ACTIVE", "SUSTAINING"][..]] {
        let mut p = start(&app, &h.hana, project_input(&h.cardiology)).await;
        for to in path {
            p = move_to(&app, &h.hana, &p, to).await;
        }
        try_move(&app, &h.hana, &p, "ABANDONED", None)
            .await
            .assert_error("BAD_USER_INPUT", Some("reason"));
        try_move(&app, &h.hana, &p, "ABANDONED", Some(""))
            .await
            .assert_error("BAD_USER_INPUT", Some("reason"));
        try_move(&app, &h.alice, &p, "ABANDONED", Some("Not my call"))
            .await
            .assert_error("FORBIDDEN", None);
        let resp = try_move(
            &app,
            &h.quinn,
            &p,
            "ABANDONED",
            Some("The ward is closing for refurbishment."),
        )
        .await;
        let abandoned = project_of(&resp, "transitionImprovementProject");
        assert_eq!(abandoned["status"], "ABANDONED", "after {path:?}: {resp}");
        assert_eq!(
            abandoned["statusReason"],
            "The ward is closing for refurbishment."
        );
        assert!(abandoned["closedAt"].is_string(), "{abandoned}");
        assert_eq!(abandoned["allowedTransitions"], json!([]));
        for to in ["PROPOSED", "ACTIVE", "SUSTAINING", "CLOSED"] {
            try_move(&app, &h.quinn, &abandoned, to, Some("Try again"))
                .await
                .assert_error("BAD_USER_INPUT", Some("to"));
        }
    }
}
