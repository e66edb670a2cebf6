//! When LFPSE says no, or nothing: server errors and timeouts are retried with backoff, a
//! rate limit is waited out, the last failed attempt dead-letters the version for a
//! quality lead to retry, and a refusal is dead at once with LFPSE's issue codes and none
//! of the record's words.

use super::*;

#[tokio::test]
async fn server_errors_are_retried_until_lfpse_accepts() {
    let lfpse = LfpseServer::start().await;
    lfpse
        .script(&[Answer::Status(500), Answer::Status(503)])
        .await;
    let app = app_submitting(&lfpse, |_| {}).await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let l = submitted(&app, &h.quinn, &id(&incident), 1).await;
    assert_eq!(l["attempts"], 3, "{l}");
    assert!(l["lastError"].is_null(), "{l}");
    assert_eq!(l["reference"], "W100001");

    let requests = lfpse.requests().await;
    assert_eq!(
        requests.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [Some(500), Some(503), Some(201)],
        "{requests:?}"
    );
    assert!(
        requests.iter().all(|r| r.method == "POST"),
        "nothing was created before the third: {requests:?}"
    );
}

#[tokio::test]
async fn a_rate_limit_is_waited_out_as_lfpse_asks() {
    let lfpse = LfpseServer::start().await;
    lfpse
        .script(&[Answer::RateLimited { retry_after: 2 }])
        .await;
    let app = app_submitting(&lfpse, |_| {}).await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    // Between the attempts it waits, saying why.
    let waiting = wait_for_lfpse(
        &app,
        &h.quinn,
        &id(&incident),
        "a rate-limited attempt",
        |l| l["attempts"] == 1 && l["status"] == "QUEUED",
    )
    .await;
    assert!(
        waiting["lastError"].as_str().unwrap_or("").contains("429"),
        "{waiting}"
    );
    assert!(!waiting["nextAttemptAt"].is_null(), "{waiting}");

    submitted(&app, &h.quinn, &id(&incident), 1).await;
    let requests = lfpse.requests().await;
    assert_eq!(requests.len(), 2, "{requests:?}");
    let gap = requests[1].at - requests[0].at;
    assert!(
        gap >= 1.9,
        "Retry-After: 2 was honoured over a 50 ms backoff (waited {gap:.2} s)"
    );
}

#[tokio::test]
async fn a_submission_that_hangs_past_the_timeout_is_given_up_and_tried_again() {
    let lfpse = LfpseServer::start().await;
    lfpse.script(&[Answer::Hang { secs: 10.0 }]).await;
    let app = app_submitting(&lfpse, |s| {
        s.lfpse.timeout_secs = 1;
        s.lfpse.lease_secs = 2;
        // Slow enough to see the failure between the attempts.
        s.lfpse.backoff_initial_ms = 1500;
        s.lfpse.backoff_max_secs = 2;
    })
    .await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let waiting = wait_for_lfpse(&app, &h.quinn, &id(&incident), "a timed-out attempt", |l| {
        l["attempts"] == 1
    })
    .await;
    assert_eq!(waiting["status"], "QUEUED", "{waiting}");
    assert!(
        waiting["lastError"]
            .as_str()
            .unwrap_or("")
            .contains("timed out"),
        "{waiting}"
    );
    let l = submitted(&app, &h.quinn, &id(&incident), 1).await;
    assert_eq!(l["attempts"], 2, "{l}");
    let requests = lfpse.requests().await;
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].answered, None, "never answered");
    assert_eq!(requests[1].answered, Some(201));
}

#[tokio::test]
async fn after_the_last_attempt_a_submission_is_dead_listed_for_quality_leads_and_a_retry_sends_it()
{
    let lfpse = LfpseServer::start().await;
    lfpse
        .script(&[
            Answer::Status(500),
            Answer::Status(502),
            Answer::Status(500),
        ])
        .await;
    let app = app_submitting(&lfpse, |s| s.lfpse.max_attempts = 3).await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let failed = wait_for_lfpse(&app, &h.quinn, &id(&incident), "the dead letter", |l| {
        l["status"] == "FAILED"
    })
    .await;
    assert_eq!(failed["attempts"], 3, "{failed}");
    assert!(failed["reference"].is_null(), "{failed}");
    let error = failed["lastError"].as_str().unwrap_or("");
    assert!(error.contains("HTTP 500"), "{failed}");
    assert!(
        !error.contains("Failure while handling"),
        "LFPSE's words: {error}"
    );

    let dead = submissions(&app, &h.quinn, &["DEAD"]).await;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(
        dead[0]["incidentReference"],
        reference_of(&incident).as_str()
    );
    assert_eq!(dead[0]["status"], "DEAD");
    assert!(dead[0]["nextAttemptAt"].is_null());
    assert!(submissions(&app, &h.quinn, &["SENT"]).await.is_empty());

    // Only quality leads see the queue and retry, and a refusal writes nothing.
    let trail_before = count(&app, "trail_event", "entity_type = 'LfpseSubmission'").await;
    let resp = app
        .gql(Some(&h.hana), SUBMISSIONS, json!({ "status": ["DEAD"] }))
        .await;
    resp.assert_error("FORBIDDEN", None);
    let retry = |token: String, submission: Value| {
        let app = &app;
        async move {
            app.gql(
                Some(&token),
                "mutation($input: RetryLfpseSubmissionInput!) {
                   retryLfpseSubmission(input: $input) {
                     submission { id status attempts lastError nextAttemptAt version }
                   }
                 }",
                json!({ "input": { "submissionId": submission } }),
            )
            .await
        }
    };
    retry(h.hana.clone(), dead[0]["id"].clone())
        .await
        .assert_error("FORBIDDEN", None);
    let nobody = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("LfpseSubmission:{}", uuid::Uuid::now_v7()))
    };
    retry(h.quinn.clone(), json!(nobody))
        .await
        .assert_error("NOT_FOUND", None);
    retry(h.quinn.clone(), incident["id"].clone())
        .await
        .assert_error("BAD_USER_INPUT", Some("submissionId"));
    assert_eq!(
        count(&app, "trail_event", "entity_type = 'LfpseSubmission'").await,
        trail_before
    );
    assert_eq!(
        count(&app, "lfpse_submission", "status = 'DEAD' AND attempts = 3").await,
        1
    );

    let resp = retry(h.quinn.clone(), dead[0]["id"].clone()).await;
    let again = &resp.assert_ok()["retryLfpseSubmission"]["submission"];
    assert_eq!(again["status"], "QUEUED", "{resp}");
    assert_eq!(again["attempts"], 0, "{resp}");
    assert!(again["lastError"].is_null(), "{resp}");
    let l = submitted(&app, &h.quinn, &id(&incident), 1).await;
    assert_eq!(l["reference"], "W100001");
    assert_eq!(l["attempts"], 1, "{l}");
    assert_eq!(lfpse.requests().await.len(), 4);
    assert_eq!(
        count(
            &app,
            "trail_event",
            "entity_type = 'LfpseSubmission' AND action = 'lfpse.retried'"
        )
        .await,
        trail_before + 1
    );

    // A submission that was sent is not retried.
    retry(h.quinn.clone(), dead[0]["id"].clone())
        .await
        .assert_error("CONFLICT", None);
    assert!(submissions(&app, &h.quinn, &["DEAD"]).await.is_empty());
}

#[tokio::test]
async fn a_refusal_is_dead_at_once_keeping_lfpses_issue_codes_and_none_of_the_words() {
    let lfpse = LfpseServer::start().await;
    let description = "Patient was left on a trolley with the side rails down and slid off.";
    lfpse
        .script(&[Answer::Outcome {
            status: 400,
            body: json!({
                "resourceType": "OperationOutcome",
                "issue": [{
                    "severity": "error",
                    "code": "invalid",
                    "details": {
                        "coding": [{ "system": "https://lfpse.example/codes", "code": "VE-0042" }],
                        "text": format!("Element description: '{description}' is too vague"),
                    },
                    "diagnostics": format!("AdverseEvent.description = {description}"),
                    "expression": ["AdverseEvent.description"],
                }],
            }),
        }])
        .await;
    let app = app_submitting(&lfpse, |_| {}).await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let l = wait_for_lfpse(&app, &h.quinn, &id(&incident), "the refusal", |l| {
        l["status"] == "FAILED"
    })
    .await;
    assert_eq!(l["attempts"], 1, "dead at once: {l}");
    let error = l["lastError"].as_str().unwrap_or("");
    assert!(error.contains("400"), "{error}");
    assert!(error.contains("invalid"), "{error}");
    assert!(error.contains("VE-0042"), "{error}");
    for words in ["trolley", "too vague", "description"] {
        assert!(
            !error.to_lowercase().contains(words),
            "{words:?} in {error}"
        );
    }
    // Not tried again on its own.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(lfpse.requests().await.len(), 1);
    let dead = submissions(&app, &h.quinn, &["DEAD"]).await;
    assert_eq!(dead[0]["lastError"], l["lastError"]);
}

#[tokio::test]
async fn without_an_lfpse_url_versions_wait_in_the_queue_until_an_instance_has_one() {
    let lfpse = LfpseServer::start().await;
    let app = app_submitting(&lfpse, |s| s.lfpse.url = None).await;
    let h = app.hospital().await;
    let incident = app
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    let l = lfpse_of(&app, &h.quinn, &id(&incident)).await;
    assert_eq!(l["status"], "QUEUED", "{l}");
    assert_eq!(l["attempts"], 0, "{l}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(lfpse.requests().await.is_empty());

    let url = lfpse.url();
    let sender = app
        .another_instance(move |s| s.lfpse.url = Some(Secret::from(url)))
        .await;
    submitted(&sender, &h.quinn, &id(&incident), 1).await;
    assert_eq!(lfpse.requests().await.len(), 1);
}
