//! D. The deadline scheduler reminds of open obligations two working days ahead and
//! reports them missed.

use super::*;

// --- D. Obligations --------------------------------------------------------------------------

#[tokio::test]
async fn an_open_obligation_is_reminded_two_working_days_ahead_and_reported_missed_even_at_a_weekend(
) {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    let harry = app.handler("harry", &["CARD"]);
    app.sign_in(&[&harry]).await;
    let hana_id = app.staff_id(&h.hana).await;

    // Owed to the patient, Hana handling it.
    let owed = report(
        app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let owed = app
        .triage(&h.hana, &owed, json!({ "handlerId": hana_id }))
        .await;
    let doc = the(
        &obligations_of(app, &h.hana, &owed).await,
        "DUTY_OF_CANDOUR",
    );
    // Owed too, but met at once.
    let met = report(
        app,
        &h.alice,
        &h.cardiology,
        json!({ "physicalHarm": "MODERATE" }),
    )
    .await;
    let met_doc = the(&obligations_of(app, &h.hana, &met).await, "DUTY_OF_CANDOUR");
    record_step(
        app,
        &h.hana,
        json!({ "obligationId": met_doc["id"], "step": "WRITTEN_NOTIFICATION" }),
    )
    .await;
    assert_eq!(met_doc["dueAt"], doc["dueAt"], "the same deadline");
    // Long overdue, but withdrawn: not owed, so never reminded.
    let dropped = report(
        app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "STAFF_SAFETY",
            "occurredAt": rfc(Utc::now() - days(60)),
            "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"],
        }),
    )
    .await;
    app.triage(&h.hana, &dropped, json!({ "regulatoryFacts": [] }))
        .await;

    let due_at = parse_time(&doc["dueAt"]);
    let remind_from = london_at(sub_working_days(london_date(due_at), 2), 0, 0, 0)
        .min(due_at - chrono::Duration::hours(24));
    let owed_ref = reference_of(&owed);
    let about =
        |r: &str| json!({ "kind": ["OBLIGATION_DUE_SOON", "OBLIGATION_MISSED"], "reference": r });

    // A minute before two working days out: nothing yet.
    let c = canary(&d).await;
    let s = scheduler_at(app, remind_from - chrono::Duration::minutes(1)).await;
    wait_for_pass(&d, &c).await;
    s.stop(true).await;
    assert_eq!(
        notifications(app, &h.quinn, about(&owed_ref)).await,
        Vec::<Value>::new()
    );

    // From then: due soon, to the quality leads and the incident's handler (not the
    // department's other handlers or its address, not another department's handlers).
    let s = scheduler_at(app, remind_from + chrono::Duration::minutes(1)).await;
    let soon = wait_for_notifications(app, &h.quinn, about(&owed_ref), 3).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;
    let soon_now = notifications(app, &h.quinn, about(&owed_ref)).await;
    assert_eq!(
        pairs(&soon_now),
        once_each(&[
            ("OBLIGATION_DUE_SOON", HANA),
            ("OBLIGATION_DUE_SOON", QUINN),
            ("OBLIGATION_DUE_SOON", QUALITY_LIST),
        ]),
        "{soon:#?}"
    );
    assert!(soon_now.iter().all(|n| n["reference"] == owed_ref.as_str()));
    let email = wait_for_email(&d.mail, HANA, &["Due", &owed_ref]).await;
    assert!(
        email.all_text().contains(&format!("/incidents/{owed_ref}")),
        "a link to the incident: {}",
        email.text
    );
    assert!(
        !email.all_text().contains("Patient fell from trolley"),
        "never the title: {}",
        email.raw
    );

    // A breach of personal data, reported now, no handler assigned yet.
    let breach = report(
        app,
        &h.alice,
        &h.cardiology,
        json!({ "kind": "INFORMATION_GOVERNANCE", "physicalHarm": "NONE", "regulatoryFacts": ["RISK_TO_INDIVIDUALS"] }),
    )
    .await;
    let breach_ref = reference_of(&breach);

    // The Saturday after the duty of candour fell due: both missed, weekend or not.
    let saturday = first_day_from(london_date(due_at) + days(1), |d| {
        d.weekday() == Weekday::Sat
    });
    let s = scheduler_at(app, london_at(saturday, 12, 0, 0)).await;
    wait_for_notifications(
        app,
        &h.quinn,
        json!({ "kind": ["OBLIGATION_MISSED"], "reference": owed_ref }),
        3,
    )
    .await;
    wait_for_notifications(
        app,
        &h.quinn,
        json!({ "kind": ["OBLIGATION_MISSED"], "reference": breach_ref }),
        5,
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;

    assert_eq!(
        pairs(&notifications(app, &h.quinn, about(&owed_ref)).await),
        once_each(&[
            ("OBLIGATION_DUE_SOON", HANA),
            ("OBLIGATION_DUE_SOON", QUINN),
            ("OBLIGATION_DUE_SOON", QUALITY_LIST),
            ("OBLIGATION_MISSED", HANA),
            ("OBLIGATION_MISSED", QUINN),
            ("OBLIGATION_MISSED", QUALITY_LIST),
        ])
    );
    assert_eq!(
        pairs(&notifications(app, &h.quinn, about(&breach_ref)).await),
        once_each(&[
            ("OBLIGATION_MISSED", HANA),
            ("OBLIGATION_MISSED", HARRY),
            ("OBLIGATION_MISSED", CARDIOLOGY_LIST),
            ("OBLIGATION_MISSED", QUINN),
            ("OBLIGATION_MISSED", QUALITY_LIST),
        ]),
        "no handler yet: the department's handlers and its address"
    );
    assert_eq!(
        notifications(app, &h.quinn, about(&reference_of(&met))).await,
        Vec::<Value>::new(),
        "a met obligation is never reminded"
    );
    assert_eq!(
        notifications(app, &h.quinn, about(&reference_of(&dropped))).await,
        Vec::<Value>::new(),
        "a withdrawn obligation is never reminded"
    );
    let to_nina = notifications(
        app,
        &h.quinn,
        json!({ "kind": ["OBLIGATION_DUE_SOON", "OBLIGATION_MISSED"], "recipient": NINA }),
    )
    .await;
    assert!(
        to_nina
            .iter()
            .all(|n| n["reference"] != owed_ref.as_str() && n["reference"] != breach_ref.as_str()),
        "nothing about cardiology to neurology's handler: {to_nina:#?}"
    );

    for to in [HANA, QUINN, QUALITY_LIST] {
        wait_for_email(&d.mail, to, &["Missed:", &owed_ref]).await;
        wait_for_email(&d.mail, to, &["Missed:", &breach_ref]).await;
        assert_eq!(emails(&d.mail, to, &["Missed:", &owed_ref]), 1, "{to}");
        assert_eq!(emails(&d.mail, to, &["Due", &owed_ref]), 1, "{to}");
        // (Its serious-incident email names it; no reminder does.)
        assert_eq!(
            emails(&d.mail, to, &["Due", &reference_of(&met)]),
            0,
            "{to}"
        );
        assert_eq!(
            emails(&d.mail, to, &["Missed:", &reference_of(&met)]),
            0,
            "{to}"
        );
    }
    wait_for_email(&d.mail, HARRY, &["Missed:", &breach_ref]).await;
    wait_for_email(&d.mail, CARDIOLOGY_LIST, &["Missed:", &breach_ref]).await;
    assert_eq!(emails(&d.mail, HARRY, &["Missed:", &owed_ref]), 0);
    assert_eq!(emails(&d.mail, CARDIOLOGY_LIST, &["Missed:", &owed_ref]), 0);
}

#[tokio::test]
async fn an_obligation_due_on_a_tuesday_is_reminded_from_the_start_of_the_friday_before() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    // RIDDOR runs 10 calendar days from the injury: an injury that happened 10 days before a
    // coming Tuesday is due at the end of that Tuesday.
    let tuesday = first_day_from(london_today() + days(3), |d| d.weekday() == Weekday::Tue);
    let occurred_at = london_at(tuesday - days(10), 12, 0, 0);
    let injury = report(
        app,
        &h.alice,
        &h.cardiology,
        json!({
            "kind": "STAFF_SAFETY",
            "occurredAt": rfc(occurred_at),
            "regulatoryFacts": ["REPORTABLE_STAFF_INJURY"],
        }),
    )
    .await;
    let riddor = the(&obligations_of(app, &h.hana, &injury).await, "RIDDOR");
    let due_at = parse_time(&riddor["dueAt"]);
    assert_eq!(due_at, end_of_london_day(tuesday));
    // Two working days before a Tuesday: the Friday (or earlier, around a bank holiday).
    let from_day = sub_working_days(tuesday, 2);
    assert!(from_day <= tuesday - days(4), "{from_day}");
    let remind_from = london_at(from_day, 0, 0, 0);
    let injury_ref = reference_of(&injury);
    let soon =
        json!({ "kind": ["OBLIGATION_DUE_SOON", "OBLIGATION_MISSED"], "reference": injury_ref });

    // The minute before that day starts: nothing.
    let c = canary(&d).await;
    let s = scheduler_at(app, remind_from - chrono::Duration::minutes(1)).await;
    wait_for_pass(&d, &c).await;
    s.stop(true).await;
    assert_eq!(
        notifications(app, &h.quinn, soon.clone()).await,
        Vec::<Value>::new()
    );

    // The minute after: due soon, to the quality leads and, with no handler assigned yet,
    // the department's handlers and its address.
    let s = scheduler_at(app, remind_from + chrono::Duration::minutes(1)).await;
    wait_for_notifications(app, &h.quinn, soon.clone(), 4).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;
    assert_eq!(
        pairs(&notifications(app, &h.quinn, soon).await),
        once_each(&[
            ("OBLIGATION_DUE_SOON", HANA),
            ("OBLIGATION_DUE_SOON", CARDIOLOGY_LIST),
            ("OBLIGATION_DUE_SOON", QUINN),
            ("OBLIGATION_DUE_SOON", QUALITY_LIST),
        ])
    );
    let email = wait_for_email(&d.mail, HANA, &["Due", &injury_ref]).await;
    assert!(
        email.subject.contains(&long_date(tuesday)),
        "the subject gives the due date: {}",
        email.subject
    );
}
