//! Who hears of what: handlers, quality leads, owners and reporters, each by email.

use super::*;

// =============================================================================================
// Who hears of what
// =============================================================================================

#[tokio::test]
async fn a_handler_hears_of_a_low_harm_incident_in_their_department_and_nobody_else_does() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, with_lists).await;
    let h = app.hospital().await;
    let harriet = app.handler("harriet", &["CARD"]);
    app.sign_in(&[&h.hana, &harriet, &h.nina, &h.quinn, &h.alice, &h.bob])
        .await;

    let incident = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);

    // Written with the report: the outbox already holds exactly these.
    let rows = notifications(&app, &h.quinn, json!({ "reference": reference })).await;
    assert_eq!(
        recipients(&rows),
        set_of(&[HANA, HARRIET, CARDIOLOGY_LIST]),
        "cardiology's handlers and its list; not neurology's handler, not the quality leads"
    );
    assert_eq!(kinds(&rows), set_of(&["INCIDENT_REPORTED"]));
    assert!(rows.iter().all(|r| r["mandatory"] == false), "{rows:?}");

    all_sent(&app, &h.quinn, json!({ "reference": reference }), 3).await;
    let messages = mail
        .wait_for_matching(|m| m.subject.contains(&reference), 3, WAIT)
        .await;
    assert_eq!(to_set(&messages), set_of(&[HANA, HARRIET, CARDIOLOGY_LIST]));
    for m in &messages {
        assert_eq!(m.to.len(), 1, "one recipient per email: {:?}", m.to);
        assert_eq!(m.envelope_to(), m.to, "nobody hidden in Bcc");
    }
    let everything = mail.received();
    for nobody in [NINA, QUINN, QUALITY_LIST, NEUROLOGY_LIST, ALICE] {
        assert!(
            everything
                .iter()
                .all(|m| !m.envelope_to().contains(&nobody.to_string())),
            "{nobody} was not told of a low-harm cardiology incident: {:?}",
            to_of(&everything)
        );
    }
}

#[tokio::test]
async fn moderate_harm_reaches_the_departments_handlers_and_every_quality_lead() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, with_lists).await;
    let h = app.hospital().await;
    let quentin = app.quality_lead("quentin");
    app.sign_in(&[&h.hana, &h.nina, &h.quinn, &quentin, &h.alice])
        .await;

    let physical = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "physicalHarm": "MODERATE" }),
            ),
        )
        .await;
    let psychological = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "physicalHarm": "NONE", "psychologicalHarm": "MODERATE" }),
            ),
        )
        .await;

    let everyone = set_of(&[HANA, CARDIOLOGY_LIST, QUINN, QUENTIN, QUALITY_LIST]);
    for incident in [&physical, &psychological] {
        let reference = reference_of(incident);
        let rows = notifications(&app, &h.quinn, json!({ "reference": reference })).await;
        assert_eq!(recipients(&rows), everyone, "{reference}");
        assert_eq!(
            kinds(&rows),
            set_of(&["SERIOUS_INCIDENT_REPORTED"]),
            "a serious incident is announced as such, not also as a plain report"
        );
        assert!(rows.iter().all(|r| r["mandatory"] == true), "{rows:?}");

        all_sent(&app, &h.quinn, json!({ "reference": reference }), 5).await;
        let messages = mail
            .wait_for_matching(|m| m.subject.contains(&reference), 5, WAIT)
            .await;
        assert_eq!(to_set(&messages), everyone, "{reference}");
        assert!(
            messages
                .iter()
                .all(|m| m.subject.to_lowercase().contains("moderate harm or worse")),
            "{:?}",
            messages.iter().map(|m| &m.subject).collect::<Vec<_>>()
        );
    }
    assert!(
        mail.received()
            .iter()
            .all(|m| !m.envelope_to().contains(&NINA.to_string())
                && !m.envelope_to().contains(&NEUROLOGY_LIST.to_string())),
        "neurology hears nothing of cardiology's incidents"
    );
}

#[tokio::test]
async fn triage_that_finds_moderate_harm_tells_the_quality_leads_once() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, |_| {}).await;
    let h = app.hospital().await;
    app.sign_in(&[&h.hana, &h.nina, &h.quinn, &h.alice]).await;

    let reported = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&reported);
    let filter = json!({ "reference": reference });
    let first = all_sent(&app, &h.quinn, filter.clone(), 1).await;
    assert_eq!(recipients(&first), set_of(&[HANA]));
    assert_eq!(first[0]["kind"], "INCIDENT_REPORTED");

    let moderate = app
        .triage(&h.hana, &reported, json!({ "physicalHarm": "MODERATE" }))
        .await;
    let serious = notifications(
        &app,
        &h.quinn,
        json!({ "reference": reference, "kind": ["SERIOUS_INCIDENT_REPORTED"] }),
    )
    .await;
    assert_eq!(
        recipients(&serious),
        set_of(&[HANA, QUINN]),
        "the handlers and the quality leads hear the harm was moderate"
    );

    // Triaged again, worse, then down and back up: the news was told once.
    let severe = app
        .triage(&h.hana, &moderate, json!({ "physicalHarm": "SEVERE" }))
        .await;
    let low = app
        .triage(&h.quinn, &severe, json!({ "physicalHarm": "LOW" }))
        .await;
    app.triage(&h.quinn, &low, json!({ "physicalHarm": "MODERATE" }))
        .await;

    let rows = all_sent(&app, &h.quinn, filter, 3).await;
    assert_eq!(
        rows.iter()
            .filter(|r| r["kind"] == "SERIOUS_INCIDENT_REPORTED")
            .count(),
        2,
        "no second round of serious-incident emails: {rows:?}"
    );
    let messages = mail
        .wait_for_matching(|m| m.subject.contains(&reference), 3, WAIT)
        .await;
    let to_quinn = messages.iter().filter(|m| m.to == [QUINN]).count();
    let to_hana = messages.iter().filter(|m| m.to == [HANA]).count();
    assert_eq!(to_quinn, 1, "Quinn is told once: {:?}", to_of(&messages));
    assert_eq!(to_hana, 2, "reported, then serious: {:?}", to_of(&messages));
    assert!(mail.received().iter().all(|m| m.to != [NINA.to_string()]));
}

#[tokio::test]
async fn a_corrective_action_is_emailed_to_its_owner_and_to_each_new_owner() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, |_| {}).await;
    let h = app.hospital().await;
    let olive = app.staff_with_email("olive", OLIVE);
    app.sign_in(&[&h.hana, &h.quinn, &olive]).await;
    let incident = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);

    let action = app
        .create_corrective_action(&h.hana, corrective_action_input(&id(&incident), OLIVE))
        .await;
    let assigned = json!({ "kind": ["ACTION_ASSIGNED"] });
    let rows = all_sent(&app, &h.quinn, assigned.clone(), 1).await;
    assert_eq!(recipients(&rows), set_of(&[OLIVE]));
    assert_eq!(
        rows[0]["reference"], reference,
        "an action's email names its incident"
    );

    // Changing something else emails nobody; a new owner is told (Oscar has never signed in).
    let retitled = app
        .update_action(
            &h.hana,
            &action,
            json!({ "title": "Check rails at transfer too" }),
        )
        .await;
    let reassigned = app
        .update_action(
            &h.hana,
            &retitled,
            json!({ "ownerEmail": "Oscar@Candour.Test" }),
        )
        .await;
    assert_eq!(reassigned["ownerEmail"], OSCAR);
    let rows = all_sent(&app, &h.quinn, assigned.clone(), 2).await;
    assert_eq!(recipients(&rows), set_of(&[OLIVE, OSCAR]));

    // Found not to have worked: the follow-up action is assigned to the owner afresh.
    let completed = app
        .update_action(&h.hana, &reassigned, json!({ "status": "COMPLETED" }))
        .await;
    let verified = app
        .update_action(
            &h.quinn,
            &completed,
            json!({ "status": "VERIFIED", "effective": false,
                    "note": "Rails found down again on the night shift by Sister Marigold." }),
        )
        .await;
    assert!(verified["followUp"].is_object(), "{verified}");
    let rows = all_sent(&app, &h.quinn, assigned, 3).await;
    let to_oscar = rows.iter().filter(|r| r["recipient"] == OSCAR).count();
    assert_eq!(to_oscar, 2, "the reassignment and the follow-up: {rows:?}");

    let messages = mail
        .wait_for_matching(|m| m.subject.starts_with("Corrective action"), 3, WAIT)
        .await;
    assert_eq!(to_of(&messages), vec![OLIVE, OSCAR, OSCAR]);
    for m in &messages {
        assert!(m.text.contains(&reference), "{}", m.text);
        assert!(
            m.text.contains(&format!("{PUBLIC_URL}/actions/")),
            "a link to the action: {}",
            m.text
        );
        assert_says_nothing_of(
            m,
            &["Sister Marigold", "Check rails", "Check trolley rails"],
        );
    }
}

#[tokio::test]
async fn a_named_reporter_hears_what_was_learned_when_their_incident_closes() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, |_| {}).await;
    let h = app.hospital().await;
    app.sign_in(&[&h.quinn]).await;
    let incident = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);

    let triaged = app
        .triage(
            &h.quinn,
            &incident,
            json!({
                "learningSummary": "Rails are now checked at every handover.",
                "feedbackToReporter": "Thank you: your report changed the handover checklist.",
            }),
        )
        .await;
    app.transition(&h.quinn, &triaged, "CLOSED").await;

    let rows = all_sent(
        &app,
        &h.quinn,
        json!({ "reference": reference, "kind": ["INCIDENT_CLOSED"] }),
        1,
    )
    .await;
    assert_eq!(recipients(&rows), set_of(&[ALICE]));
    let messages = mail
        .wait_for_matching(|m| m.to == [ALICE.to_string()], 1, WAIT)
        .await;
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert!(m.subject.contains(&reference), "{}", m.subject);
    for part in [
        m.text.clone(),
        html_unescape(m.html.as_deref().unwrap_or("")),
    ] {
        assert!(
            part.contains("Rails are now checked at every handover."),
            "the learning summary: {part}"
        );
        assert!(
            part.contains("Thank you: your report changed the handover checklist."),
            "the feedback: {part}"
        );
    }
}

#[tokio::test]
async fn nobody_is_emailed_as_the_reporter_when_an_anonymous_report_closes() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, |_| {}).await;
    let h = app.hospital().await;
    app.sign_in(&[&h.quinn]).await;
    let incident = app
        .report_incident(
            &h.alice,
            with(incident_input(&h.cardiology), json!({ "anonymous": true })),
        )
        .await;
    let reference = reference_of(&incident);
    let closed = app.close_low_harm(&h.quinn, &incident).await;
    assert_eq!(closed["status"], "CLOSED");

    // For comparison, a named report closed afterwards does email its reporter.
    let named = report_low(&app, &h.bob, &h.cardiology).await;
    app.close_low_harm(&h.quinn, &named).await;
    all_sent(
        &app,
        &h.quinn,
        json!({ "reference": reference_of(&named), "kind": ["INCIDENT_CLOSED"] }),
        1,
    )
    .await;

    let rows = notifications(&app, &h.quinn, json!({ "reference": reference })).await;
    assert!(
        rows.is_empty(),
        "no handler known, no reporter on record: nobody to email about {reference}: {rows:?}"
    );
    mail.wait_for_matching(|m| m.to == ["bob@candour.test".to_string()], 1, WAIT)
        .await;
    assert!(
        about(&mail, &reference).is_empty(),
        "no email about the anonymous report: {:?}",
        to_of(&about(&mail, &reference))
    );
    assert!(mail.received().iter().all(|m| m.to != [ALICE.to_string()]));
}
