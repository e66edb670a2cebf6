//! Choosing what to receive.

use super::*;

// =============================================================================================
// Choosing what to receive
// =============================================================================================

#[tokio::test]
async fn a_handler_who_switches_off_new_incident_emails_gets_none_while_colleagues_still_do() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, with_lists).await;
    let h = app.hospital().await;
    let harriet = app.handler("harriet", &["CARD"]);
    app.sign_in(&[&h.hana, &harriet, &h.quinn]).await;

    let before = preferences(&app, &h.hana).await;
    assert_eq!(before.len(), 11, "every kind is listed: {before:?}");
    assert!(
        before.values().all(|(enabled, _)| *enabled),
        "all on at first"
    );
    for kind in [
        "SERIOUS_INCIDENT_REPORTED",
        "ACTION_ESCALATED",
        "OBLIGATION_DUE_SOON",
        "OBLIGATION_MISSED",
    ] {
        assert_eq!(before[kind], (true, true), "{kind} is mandatory");
    }
    assert_eq!(before["INCIDENT_REPORTED"], (true, false));

    let resp = set_preference(&app, &h.hana, "INCIDENT_REPORTED", false).await;
    resp.assert_ok();
    assert_eq!(
        resp.data()["setNotificationPreference"]["preference"],
        json!({ "kind": "INCIDENT_REPORTED", "enabled": false, "mandatory": false })
    );
    for kind in ["SERIOUS_INCIDENT_REPORTED", "OBLIGATION_MISSED"] {
        set_preference(&app, &h.hana, kind, false)
            .await
            .assert_error("BAD_USER_INPUT", Some("kind"));
    }
    let after = preferences(&app, &h.hana).await;
    assert_eq!(after["INCIDENT_REPORTED"], (false, false));
    assert_eq!(after["SERIOUS_INCIDENT_REPORTED"], (true, true));
    assert_eq!(
        after.values().filter(|(enabled, _)| !enabled).count(),
        1,
        "only the one switched off: {after:?}"
    );
    assert_eq!(
        preferences(&app, &harriet).await["INCIDENT_REPORTED"],
        (true, false),
        "a choice is personal"
    );

    let quiet = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&quiet);
    let rows = all_sent(&app, &h.quinn, json!({ "reference": reference }), 2).await;
    assert_eq!(recipients(&rows), set_of(&[HARRIET, CARDIOLOGY_LIST]));

    // Serious incidents cannot be switched off.
    let serious = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "physicalHarm": "SEVERE" }),
            ),
        )
        .await;
    let rows = all_sent(
        &app,
        &h.quinn,
        json!({ "reference": reference_of(&serious) }),
        5,
    )
    .await;
    assert!(recipients(&rows).contains(HANA), "{rows:?}");

    // Switched back on, Hana hears of the next one.
    set_preference(&app, &h.hana, "INCIDENT_REPORTED", true)
        .await
        .assert_ok();
    assert_eq!(
        preferences(&app, &h.hana).await["INCIDENT_REPORTED"],
        (true, false)
    );
    let heard = report_low(&app, &h.alice, &h.cardiology).await;
    let rows = all_sent(
        &app,
        &h.quinn,
        json!({ "reference": reference_of(&heard) }),
        3,
    )
    .await;
    assert_eq!(recipients(&rows), set_of(&[HANA, HARRIET, CARDIOLOGY_LIST]));

    let messages = mail
        .wait_for_matching(|m| m.subject.contains(&reference), 2, WAIT)
        .await;
    assert_eq!(to_set(&messages), set_of(&[HARRIET, CARDIOLOGY_LIST]));
    mail.wait_for(10, WAIT).await;
    assert!(
        about(&mail, &reference)
            .iter()
            .all(|m| m.to != [HANA.to_string()]),
        "Hana got no email about {reference}"
    );
}
