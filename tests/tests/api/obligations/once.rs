//! E-F. Each reminder once, whatever runs or restarts; and audits about to start.

use super::*;

// --- E. Once, whatever runs ------------------------------------------------------------------

#[tokio::test]
async fn a_restarted_scheduler_does_not_send_a_reminder_again() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    let hana_id = app.staff_id(&h.hana).await;
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
    let owed_ref = reference_of(&owed);
    let missed = json!({ "kind": ["OBLIGATION_MISSED"], "reference": owed_ref });
    let t = parse_time(&doc["dueAt"]) + chrono::Duration::minutes(1);

    // Instance A, just after the deadline: missed.
    let a = scheduler_at(app, t).await;
    wait_for_notifications(app, &h.quinn, missed.clone(), 3).await;
    for to in [HANA, QUINN, QUALITY_LIST] {
        wait_for_email(&d.mail, to, &["Missed:", &owed_ref]).await;
    }
    a.stop(true).await;

    // Instance B, the same clock, after A stopped.
    let c = canary(&d).await;
    let b = scheduler_at(app, t).await;
    wait_for_pass(&d, &c).await;
    b.stop(true).await;

    // Instance C, an hour later.
    let c = canary(&d).await;
    let later = scheduler_at(app, t + chrono::Duration::hours(1)).await;
    wait_for_pass(&d, &c).await;
    later.stop(true).await;

    assert_eq!(
        pairs(&notifications(app, &h.quinn, missed).await),
        once_each(&[
            ("OBLIGATION_MISSED", HANA),
            ("OBLIGATION_MISSED", QUINN),
            ("OBLIGATION_MISSED", QUALITY_LIST),
        ])
    );
    // Give the dispatcher time to send anything a restart might have queued.
    tokio::time::sleep(SETTLE).await;
    for to in [HANA, QUINN, QUALITY_LIST] {
        assert_eq!(emails(&d.mail, to, &["Missed:", &owed_ref]), 1, "{to}");
    }
}

#[tokio::test]
async fn two_schedulers_running_at_once_raise_each_reminder_once() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    let hana_id = app.staff_id(&h.hana).await;
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
    let owed_ref = reference_of(&owed);
    // A working day well after the duty of candour's deadline.
    let today = first_day_from(london_today() + days(30), is_working_day);
    app.create_corrective_action(
        &h.hana,
        with(
            corrective_action_input(&id(&owed), OLIVE),
            json!({ "dueDate": today.to_string() }),
        ),
    )
    .await;
    app.create_corrective_action(
        &h.hana,
        with(
            corrective_action_input(&id(&owed), OSCAR),
            json!({ "dueDate": (today - days(3)).to_string() }),
        ),
    )
    .await;
    app.plan_audit(
        &h.hana,
        with(
            audit_input(&h.cardiology),
            json!({
                "plannedStart": (today + days(2)).to_string(),
                "plannedEnd": (today + days(20)).to_string(),
                "leadEmail": LENA,
            }),
        ),
    )
    .await;
    let clock = london_at(today, 10, 0, 0);

    let (a, b) = join(scheduler_at(app, clock), scheduler_at(app, clock)).await;
    let expected = once_each(&[
        ("ACTION_DUE_TODAY", OLIVE),
        ("ACTION_OVERDUE", OSCAR),
        ("AUDIT_DUE", LENA),
        ("OBLIGATION_MISSED", HANA),
        ("OBLIGATION_MISSED", QUINN),
        ("OBLIGATION_MISSED", QUALITY_LIST),
    ]);
    wait_for_notifications(
        app,
        &h.quinn,
        json!({ "kind": REMINDER_KINDS }),
        expected.len(),
    )
    .await;
    // Both keep running for a few more passes.
    tokio::time::sleep(SETTLE + SETTLE).await;
    join(a.stop(true), b.stop(true)).await;

    let raised = notifications(app, &h.quinn, json!({ "kind": REMINDER_KINDS })).await;
    assert_eq!(pairs(&raised), expected, "{:#?}", pairs_listed(&raised));

    let due_text = long_date(today);
    wait_for_email(&d.mail, OLIVE, &["due today", &due_text]).await;
    wait_for_email(&d.mail, OSCAR, &["overdue since"]).await;
    wait_for_email(&d.mail, LENA, &["Audit due to start"]).await;
    wait_for_email(&d.mail, HANA, &["Missed:", &owed_ref]).await;
    wait_for_email(&d.mail, QUINN, &["Missed:", &owed_ref]).await;
    wait_for_email(&d.mail, QUALITY_LIST, &["Missed:", &owed_ref]).await;
    tokio::time::sleep(SETTLE).await;
    assert_eq!(emails(&d.mail, OLIVE, &["due today"]), 1);
    assert_eq!(emails(&d.mail, OSCAR, &["overdue since"]), 1);
    assert_eq!(emails(&d.mail, LENA, &["Audit due"]), 1);
    assert_eq!(emails(&d.mail, HANA, &["Missed:"]), 1);
    assert_eq!(emails(&d.mail, QUINN, &["Missed:"]), 1);
    assert_eq!(emails(&d.mail, QUALITY_LIST, &["Missed:"]), 1);
    let ids: Vec<String> = d
        .mail
        .received()
        .iter()
        .map(|m| m.message_id.clone())
        .collect();
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an email was sent twice: {ids:#?}");
}

// --- F. Audits -------------------------------------------------------------------------------

#[tokio::test]
async fn an_audit_about_to_start_reminds_its_lead_or_else_the_quality_leads() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    let today = first_day_from(london_today() + days(30), |d| {
        is_working_day(d) && is_working_day(d + days(1))
    });
    let plan = |title: &str, start: NaiveDate, lead: Option<&str>| {
        with(
            audit_input(&h.cardiology),
            json!({
                "title": title,
                "plannedStart": start.to_string(),
                "plannedEnd": (start + days(14)).to_string(),
                "leadEmail": lead,
            }),
        )
    };
    let led = app
        .plan_audit(
            &h.hana,
            plan("Hand hygiene audit", today + days(7), Some(LENA)),
        )
        .await;
    app.plan_audit(&h.hana, plan("Falls audit", today, None))
        .await;
    app.plan_audit(
        &h.hana,
        plan("Consent audit", today + days(8), Some("fred@candour.test")),
    )
    .await;
    app.plan_audit(&h.hana, plan("Overdue audit", today - days(1), None))
        .await;
    let started = app
        .plan_audit(
            &h.quinn,
            plan("Sepsis audit", today + days(2), Some("sam@candour.test")),
        )
        .await;
    app.move_audit(&h.quinn, &started, "IN_PROGRESS").await;

    // Today: those starting within the week, to their lead or the quality leads.
    let s = scheduler_at(app, london_at(today, 9, 0, 0)).await;
    wait_for_notifications(app, &h.quinn, json!({ "kind": ["AUDIT_DUE"] }), 3).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;
    assert_eq!(
        pairs(&notifications(app, &h.quinn, json!({ "kind": ["AUDIT_DUE"] })).await),
        once_each(&[
            ("AUDIT_DUE", LENA),
            ("AUDIT_DUE", QUINN),
            ("AUDIT_DUE", QUALITY_LIST),
        ])
    );

    // Tomorrow: the one eight days out now starts within the week; the others are not
    // reminded again.
    let s = scheduler_at(app, london_at(today + days(1), 9, 0, 0)).await;
    wait_for_notifications(app, &h.quinn, json!({ "kind": ["AUDIT_DUE"] }), 4).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;
    assert_eq!(
        pairs(&notifications(app, &h.quinn, json!({ "kind": ["AUDIT_DUE"] })).await),
        once_each(&[
            ("AUDIT_DUE", LENA),
            ("AUDIT_DUE", QUINN),
            ("AUDIT_DUE", QUALITY_LIST),
            ("AUDIT_DUE", "fred@candour.test"),
        ])
    );

    let email = wait_for_email(
        &d.mail,
        LENA,
        &[
            "Audit due to start",
            &long_date(today + days(7)),
            "Hand hygiene audit",
        ],
    )
    .await;
    assert!(
        email.all_text().contains(&format!("/audits/{}", id(&led))),
        "a link to the audit: {}",
        email.text
    );
    wait_for_email(&d.mail, QUINN, &["Audit due to start", "Falls audit"]).await;
    wait_for_email(
        &d.mail,
        QUALITY_LIST,
        &["Audit due to start", "Falls audit"],
    )
    .await;
    wait_for_email(&d.mail, "fred@candour.test", &["Consent audit"]).await;
    assert_eq!(
        emails(&d.mail, "sam@candour.test", &[]),
        0,
        "an audit under way"
    );
    assert_eq!(emails(&d.mail, LENA, &["Audit due"]), 1);
}
