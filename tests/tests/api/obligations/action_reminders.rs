//! D. The deadline scheduler reminds owners of corrective actions, on working days, and
//! escalates to the handler.

use super::*;

// --- D. Corrective actions -------------------------------------------------------------------

#[tokio::test]
async fn a_corrective_action_is_reminded_once_at_each_occasion_then_escalated_to_the_handler() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    let hana_id = app.staff_id(&h.hana).await;
    let handled = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let handled = app
        .triage(&h.hana, &handled, json!({ "handlerId": hana_id }))
        .await;
    let unhandled = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    // A due date whose reminders all fall on working days.
    let due = first_day_from(london_today() + days(40), |d| {
        [-7, -1, 0, 1, 13, 14]
            .iter()
            .all(|n| is_working_day(d + days(*n)))
    });
    app.create_corrective_action(
        &h.hana,
        with(
            corrective_action_input(&id(&handled), OLIVE),
            json!({ "dueDate": due.to_string() }),
        ),
    )
    .await;
    // Under way still counts as open.
    let started = app
        .create_corrective_action(
            &h.hana,
            with(
                corrective_action_input(&id(&unhandled), OSCAR),
                json!({ "dueDate": due.to_string() }),
            ),
        )
        .await;
    app.update_action(&h.hana, &started, json!({ "status": "IN_PROGRESS" }))
        .await;
    // Done: never reminded.
    let done = app
        .create_corrective_action(
            &h.hana,
            with(
                corrective_action_input(&id(&handled), CARL),
                json!({ "dueDate": due.to_string() }),
            ),
        )
        .await;
    app.update_action(&h.hana, &done, json!({ "status": "COMPLETED" }))
        .await;
    let at = |n: i64| london_at(due + days(n), 9, 0, 0);
    let due_text = long_date(due);

    // A week before: due soon, to each owner.
    let s = scheduler_at(app, at(-7)).await;
    let soon =
        wait_for_notifications(app, &h.quinn, json!({ "kind": ["ACTION_DUE_SOON"] }), 2).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;
    assert_eq!(
        pairs(&soon),
        once_each(&[("ACTION_DUE_SOON", OLIVE), ("ACTION_DUE_SOON", OSCAR)])
    );
    let email = wait_for_email(&d.mail, OLIVE, &["due in 7 days", &due_text]).await;
    assert!(
        email.all_text().contains(&reference_of(&handled)),
        "{}",
        email.raw
    );

    // The day before: still due soon, but that occasion has been raised.
    let c = canary(&d).await;
    let s = scheduler_at(app, at(-1)).await;
    wait_for_pass(&d, &c).await;
    s.stop(true).await;
    assert_eq!(action_and_audit_reminders(&d).await.len(), 2);

    // The day: due today.
    let s = scheduler_at(app, at(0)).await;
    wait_for_notifications(app, &h.quinn, json!({ "kind": ["ACTION_DUE_TODAY"] }), 2).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;

    // The day after: overdue.
    let s = scheduler_at(app, at(1)).await;
    wait_for_notifications(app, &h.quinn, json!({ "kind": ["ACTION_OVERDUE"] }), 2).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;

    // Thirteen days overdue: nothing new.
    let c = canary(&d).await;
    let s = scheduler_at(app, at(13)).await;
    wait_for_pass(&d, &c).await;
    s.stop(true).await;
    assert_eq!(action_and_audit_reminders(&d).await.len(), 6);

    // Fourteen days overdue: escalated, to the incident's handler (or the quality leads when
    // it has none), not to the owner.
    let s = scheduler_at(app, at(14)).await;
    wait_for_notifications(app, &h.quinn, json!({ "kind": ["ACTION_ESCALATED"] }), 3).await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;

    let reminders = action_and_audit_reminders(&d).await;
    assert_eq!(
        pairs(&reminders),
        once_each(&[
            ("ACTION_DUE_SOON", OLIVE),
            ("ACTION_DUE_SOON", OSCAR),
            ("ACTION_DUE_TODAY", OLIVE),
            ("ACTION_DUE_TODAY", OSCAR),
            ("ACTION_OVERDUE", OLIVE),
            ("ACTION_OVERDUE", OSCAR),
            ("ACTION_ESCALATED", HANA),
            ("ACTION_ESCALATED", QUINN),
            ("ACTION_ESCALATED", QUALITY_LIST),
        ]),
        "{:#?}",
        pairs_listed(&reminders)
    );

    // And the SMTP server received each once.
    let escalated = wait_for_email(&d.mail, HANA, &["Escalation", &reference_of(&handled)]).await;
    assert!(
        escalated.all_text().contains(&due_text),
        "{}",
        escalated.raw
    );
    wait_for_email(&d.mail, QUINN, &["Escalation", &reference_of(&unhandled)]).await;
    for owner in [OLIVE, OSCAR] {
        wait_for_email(&d.mail, owner, &["overdue since", &due_text]).await;
        wait_for_email(&d.mail, owner, &["due today", &due_text]).await;
        assert_eq!(
            emails(&d.mail, owner, &["due in 7 days", &due_text]),
            1,
            "{owner}"
        );
        assert_eq!(emails(&d.mail, owner, &["due in"]), 1, "{owner}");
        assert_eq!(
            emails(&d.mail, owner, &["due today", &due_text]),
            1,
            "{owner}"
        );
        assert_eq!(
            emails(&d.mail, owner, &["overdue since", &due_text]),
            1,
            "{owner}"
        );
        assert_eq!(emails(&d.mail, owner, &["Escalation"]), 0, "{owner}");
    }
    wait_for_email(
        &d.mail,
        QUALITY_LIST,
        &["Escalation", &reference_of(&unhandled)],
    )
    .await;
    assert_eq!(emails(&d.mail, HANA, &["Escalation"]), 1);
    assert_eq!(emails(&d.mail, QUINN, &["Escalation"]), 1);
    assert_eq!(emails(&d.mail, QUALITY_LIST, &["Escalation"]), 1);
    assert_eq!(
        emails(&d.mail, CARL, &["Corrective action"]),
        1,
        "only the assignment: a completed action is not reminded"
    );
}

#[tokio::test]
async fn action_reminders_wait_out_a_bank_holiday_weekend_and_resume_on_the_next_working_day() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    // A bank holiday Monday from the calendar, with its weekend before it and a working
    // Tuesday after.
    let holiday = BANK_HOLIDAYS
        .iter()
        .map(|s| date(s))
        .filter(|d| *d > london_today() + days(14))
        .find(|d| d.weekday() == Weekday::Mon && is_working_day(*d + days(1)))
        .expect("a bank holiday Monday ahead in the calendar: extend BANK_HOLIDAYS");
    let tuesday = holiday + days(1);
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    // Due on the holiday itself, and on the Tuesday after.
    app.create_corrective_action(
        &h.hana,
        with(
            corrective_action_input(&id(&incident), OLIVE),
            json!({ "dueDate": holiday.to_string() }),
        ),
    )
    .await;
    app.create_corrective_action(
        &h.hana,
        with(
            corrective_action_input(&id(&incident), OSCAR),
            json!({ "dueDate": tuesday.to_string() }),
        ),
    )
    .await;
    // And an audit starting that Thursday.
    app.plan_audit(
        &h.hana,
        with(
            audit_input(&h.cardiology),
            json!({
                "plannedStart": (tuesday + days(2)).to_string(),
                "plannedEnd": (tuesday + days(30)).to_string(),
                "leadEmail": LENA,
            }),
        ),
    )
    .await;

    // Saturday, Sunday and the holiday Monday: all three fall due within the week (one on
    // the Monday), yet nothing is raised about them.
    for day in [holiday - days(2), holiday - days(1), holiday] {
        assert!(!is_working_day(day));
        let c = canary(&d).await;
        let s = scheduler_at(app, london_at(day, 12, 0, 0)).await;
        wait_for_pass(&d, &c).await;
        s.stop(true).await;
        let raised = action_and_audit_reminders(&d).await;
        assert!(
            raised.is_empty(),
            "nothing about actions or audits on {day} ({}): {:#?}",
            day.weekday(),
            pairs_listed(&raised)
        );
    }

    // Tuesday: the occasion each is at now, and only that.
    let s = scheduler_at(app, london_at(tuesday, 9, 0, 0)).await;
    wait_for_notifications(
        app,
        &h.quinn,
        json!({ "kind": ["ACTION_OVERDUE", "ACTION_DUE_TODAY", "AUDIT_DUE"] }),
        3,
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;

    let raised = action_and_audit_reminders(&d).await;
    assert_eq!(
        pairs(&raised),
        once_each(&[
            ("ACTION_OVERDUE", OLIVE),
            ("ACTION_DUE_TODAY", OSCAR),
            ("AUDIT_DUE", LENA),
        ]),
        "{:#?}",
        pairs_listed(&raised)
    );
    wait_for_email(&d.mail, OLIVE, &["overdue since", &long_date(holiday)]).await;
    wait_for_email(&d.mail, OSCAR, &["due today", &long_date(tuesday)]).await;
    wait_for_email(
        &d.mail,
        LENA,
        &["Audit due to start", &long_date(tuesday + days(2))],
    )
    .await;
    for owner in [OLIVE, OSCAR] {
        assert_eq!(emails(&d.mail, owner, &["due in"]), 0, "{owner}");
    }
}

#[tokio::test]
async fn the_schedulers_today_is_londons_today() {
    let d = drill().await;
    let (app, h) = (&d.app, &d.h);
    // A working day in British Summer Time.
    let due = first_day_from(london_today() + days(1), |d| {
        is_working_day(d) && is_bst(london_at(d, 12, 0, 0))
    });
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    app.create_corrective_action(
        &h.hana,
        with(
            corrective_action_input(&id(&incident), OLIVE),
            json!({ "dueDate": due.to_string() }),
        ),
    )
    .await;

    // 23:30 UTC the evening before is 00:30 on the due date in London: due today, not
    // due tomorrow.
    let clock = (due - days(1)).and_hms_opt(23, 30, 0).unwrap().and_utc();
    assert_eq!(london_date(clock), due);
    let s = scheduler_at(app, clock).await;
    wait_for_notifications(
        app,
        &h.quinn,
        json!({ "kind": ["ACTION_DUE_SOON", "ACTION_DUE_TODAY"] }),
        1,
    )
    .await;
    tokio::time::sleep(SETTLE).await;
    s.stop(true).await;

    let raised = action_and_audit_reminders(&d).await;
    assert_eq!(
        pairs(&raised),
        once_each(&[("ACTION_DUE_TODAY", OLIVE)]),
        "{:#?}",
        pairs_listed(&raised)
    );
    wait_for_email(&d.mail, OLIVE, &["due today", &long_date(due)]).await;
}
