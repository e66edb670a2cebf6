//! Failures: a mail server outage, dead letters and retries, certificates.

use super::*;

// =============================================================================================
// Failures
// =============================================================================================

#[tokio::test]
async fn emails_wait_out_a_mail_server_outage_and_each_arrives_once_when_it_is_back() {
    let mut mail = MailServer::start().await;
    let app = app_mailing(&mail, |s| s.notify.max_attempts = 1000).await;
    let h = app.hospital().await;
    app.sign_in(&[&h.hana, &h.nina, &h.quinn]).await;
    mail.stop().await;

    let mut references = Vec::new();
    for department in [&h.cardiology, &h.neurology, &h.cardiology, &h.neurology] {
        references.push(reference_of(&report_low(&app, &h.alice, department).await));
    }
    let rows = wait_for_outbox(
        &app,
        &h.quinn,
        json!({}),
        "4 emails retrying after failed attempts",
        |rows| {
            rows.len() == 4
                && rows.iter().all(|r| {
                    r["status"] == "RETRYING"
                        && r["attempts"].as_i64().unwrap_or(0) >= 1
                        && outcomes(r).iter().all(|o| o == "FAILED")
                })
        },
    )
    .await;
    for r in &rows {
        assert!(r["nextAttemptAt"].is_string(), "when it is tried next: {r}");
        assert!(r["sentAt"].is_null());
        let error = r["lastError"].as_str().unwrap_or_else(|| panic!("{r}"));
        assert!(!error.is_empty());
        for d in r["deliveries"].as_array().unwrap() {
            assert_eq!(d["outcome"], "FAILED");
            assert!(d["error"].is_string(), "{d}");
        }
    }
    assert_eq!(
        notifications(&app, &h.quinn, json!({ "status": ["RETRYING"] }))
            .await
            .len(),
        4
    );
    let during = wait_for_metrics(&app, "4 retrying", |m| {
        m.retrying == 4 && m.failed_attempts >= 4
    })
    .await;
    assert_eq!(
        (during.queued, during.sent, during.dead),
        (0, 0, 0),
        "{during:?}"
    );
    assert!(mail.received().is_empty());

    mail.restart().await;
    let outbox = all_sent(&app, &h.quinn, json!({}), 4).await;
    let messages = mail.wait_for(4, WAIT).await;
    let arrived = arrivals(&messages);
    let expected: BTreeSet<String> = outbox
        .iter()
        .map(|n| n["messageId"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        arrived.keys().cloned().collect::<BTreeSet<_>>(),
        expected,
        "none lost"
    );
    assert!(
        arrived.values().all(|n| *n == 1),
        "none sent twice: {arrived:?}"
    );
    for reference in &references {
        assert_eq!(about(&mail, reference).len(), 1, "{reference}");
    }

    let mut failed = 0;
    for n in &outbox {
        let o = outcomes(n);
        assert_eq!(o.last().map(String::as_str), Some("SENT"), "{n}");
        assert!(o[..o.len() - 1].iter().all(|x| x == "FAILED"), "{n}");
        assert!(o.len() >= 2, "failed at least once, then sent: {n}");
        assert_eq!(n["attempts"].as_u64(), Some(o.len() as u64), "{n}");
        failed += o.len() as i64 - 1;
    }
    let after = metrics(&app).await;
    assert_eq!(
        after,
        OutboxMetrics {
            queued: 0,
            retrying: 0,
            sent: 4,
            dead: 0,
            failed_attempts: failed,
        }
    );
    assert!(after.failed_attempts >= during.failed_attempts);
}

#[tokio::test]
async fn a_dead_lettered_email_is_sent_when_a_quality_lead_retries_it() {
    let mut mail = MailServer::start().await;
    let app = app_mailing(&mail, |s| s.notify.max_attempts = 2).await;
    let h = app.hospital().await;
    app.sign_in(&[&h.hana, &h.quinn]).await;
    mail.stop().await;

    let secret = "Patient Zebedee Quartermain, NHS 9434765919";
    let first = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "description": secret }),
            ),
        )
        .await;
    let second = report_low(&app, &h.alice, &h.cardiology).await;
    let dead = wait_for_outbox(&app, &h.quinn, json!({}), "2 dead emails", |rows| {
        rows.len() == 2 && rows.iter().all(|r| r["status"] == "DEAD")
    })
    .await;
    for n in &dead {
        assert_eq!(n["attempts"], 2, "{n}");
        assert_eq!(outcomes(n), ["FAILED", "FAILED"], "{n}");
        assert!(n["nextAttemptAt"].is_null(), "{n}");
        let error = n["lastError"].as_str().unwrap_or_else(|| panic!("{n}"));
        for leak in ["Zebedee", "9434765919", HANA, "Patient fell from trolley"] {
            assert!(!error.contains(leak), "{error}");
        }
    }
    assert_eq!(
        notifications(&app, &h.quinn, json!({ "status": ["DEAD"] }))
            .await
            .len(),
        2
    );
    let m = metrics(&app).await;
    assert_eq!(
        (m.dead, m.queued, m.retrying, m.sent),
        (2, 0, 0, 0),
        "{m:?}"
    );
    assert_eq!(m.failed_attempts, 4, "{m:?}");

    mail.restart().await;
    let by_reference = |incident: &Value| {
        dead.iter()
            .find(|n| n["reference"] == incident["reference"])
            .cloned()
            .unwrap_or_else(|| panic!("no email about {incident}"))
    };
    let to_retry = by_reference(&first);
    let left_dead = by_reference(&second);

    for token in [&h.hana, &h.alice] {
        retry_notification(&app, token, &id(&to_retry))
            .await
            .assert_error("FORBIDDEN", None);
    }
    let resp = retry_notification(&app, &h.quinn, &id(&to_retry)).await;
    resp.assert_ok();
    let requeued = &resp.data()["retryNotification"]["notification"];
    assert_eq!(requeued["status"], "QUEUED");
    assert_eq!(requeued["attempts"], 0, "attempts start again");
    assert_eq!(requeued["messageId"], to_retry["messageId"]);

    let sent = wait_for_outbox(
        &app,
        &h.quinn,
        json!({ "reference": reference_of(&first) }),
        "the retried email sent",
        |rows| rows.len() == 1 && rows[0]["status"] == "SENT",
    )
    .await;
    assert_eq!(outcomes(&sent[0]), ["FAILED", "FAILED", "SENT"]);
    assert_eq!(sent[0]["attempts"], 1);
    let messages = mail.wait_for(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].message_id,
        to_retry["messageId"].as_str().unwrap(),
        "the same Message-ID as before"
    );
    assert_says_nothing_of(&messages[0], &[secret, "Zebedee", "9434765919"]);

    // Only a dead email can be retried; the other stays dead until someone retries it.
    retry_notification(&app, &h.quinn, &id(&to_retry))
        .await
        .assert_error("BAD_USER_INPUT", Some("notificationId"));
    retry_notification(&app, &h.quinn, &id(&first))
        .await
        .assert_error("BAD_USER_INPUT", Some("notificationId"));
    let still = notifications(&app, &h.quinn, json!({ "status": ["DEAD"] })).await;
    assert_eq!(
        still.iter().map(id).collect::<Vec<_>>(),
        vec![id(&left_dead)]
    );
    let m = metrics(&app).await;
    assert_eq!(
        (m.dead, m.sent, m.queued, m.retrying),
        (1, 1, 0, 0),
        "{m:?}"
    );
    assert_eq!(mail.received().len(), 1);
}
