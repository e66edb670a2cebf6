//! Several dispatchers on one database: every email sent exactly once.

use super::*;

// =============================================================================================
// Several dispatchers
// =============================================================================================

#[tokio::test]
async fn two_dispatchers_on_one_database_send_every_email_exactly_once() {
    let mail = MailServer::start().await;
    let first = app_mailing(&mail, |_| {}).await;
    let second = first.another_instance(|_| {}).await;
    let h = first.hospital().await;
    let harriet = first.handler("harriet", &["CARD"]);
    first.sign_in(&[&h.hana, &harriet]).await;
    second.sign_in(&[&h.quinn]).await;

    const INCIDENTS: usize = 30;
    let mut references = Vec::new();
    for chunk in 0..INCIDENTS / 5 {
        let reports = (0..5).map(|i| {
            let app = if (chunk + i) % 2 == 0 {
                &first
            } else {
                &second
            };
            report_low(app, &h.alice, &h.cardiology)
        });
        for incident in futures_util::future::join_all(reports).await {
            references.push(reference_of(&incident));
        }
    }
    let expected = 2 * INCIDENTS;

    let outbox = all_sent(&first, &h.quinn, json!({}), expected).await;
    let messages = mail.wait_for(expected, WAIT).await;
    let arrived = arrivals(&messages);
    let duplicates: Vec<_> = arrived.iter().filter(|(_, n)| **n > 1).collect();
    assert!(duplicates.is_empty(), "sent more than once: {duplicates:?}");
    assert_eq!(messages.len(), expected);
    assert_eq!(
        arrived.keys().cloned().collect::<BTreeSet<_>>(),
        outbox
            .iter()
            .map(|n| n["messageId"].as_str().unwrap().to_string())
            .collect::<BTreeSet<_>>()
    );
    for reference in &references {
        assert_eq!(
            to_set(&about(&mail, reference)),
            set_of(&[HANA, HARRIET]),
            "{reference}"
        );
    }
    let mut workers: BTreeMap<String, usize> = BTreeMap::new();
    for n in &outbox {
        let sends: Vec<&Value> = n["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["outcome"] == "SENT")
            .collect();
        assert_eq!(sends.len(), 1, "one successful send recorded: {n}");
        *workers
            .entry(sends[0]["worker"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
    }
    assert!(workers.len() <= 2, "{workers:?}");
    eprintln!("emails sent per dispatcher: {workers:?}");
    let m = metrics(&second).await;
    assert_eq!(
        (m.sent, m.queued, m.retrying, m.dead),
        (expected as i64, 0, 0, 0)
    );
}

#[tokio::test]
async fn an_email_taken_by_a_dispatcher_that_dies_is_sent_once_by_another() {
    let mail = MailServer::start().await;
    let black_hole = BlackHoleSmtp::start();
    // Lease longer than the SMTP timeout (the configuration insists); both long enough for
    // the test to see the send hang and stop the instance before it gives up.
    let doomed = spawn_app_with(|s| {
        mail_settings(s, &black_hole.url());
        s.notify.smtp_timeout_secs = 8;
        s.notify.lease_secs = 9;
    })
    .await;
    let h = doomed.hospital().await;
    doomed.sign_in(&[&h.hana, &h.quinn]).await;

    let incident = report_low(&doomed, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);
    eventually(
        "the first dispatcher to connect to the mail server",
        WAIT,
        || async { black_hole.connections() >= 1 },
    )
    .await;
    // Taken and mid-send: no attempt recorded yet.
    let rows = notifications(&doomed, &h.quinn, json!({ "reference": reference })).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["status"], "QUEUED", "{rows:?}");
    assert!(
        outcomes(&rows[0]).is_empty(),
        "still sending, nothing recorded yet: {rows:?}"
    );
    doomed.stop(false).await;

    let survivor = doomed
        .another_instance(|s| {
            s.smtp_url = Some(Secret::from(mail.url()));
            s.notify.smtp_timeout_secs = 5;
            s.notify.lease_secs = 6;
        })
        .await;
    let sent = wait_for_outbox(
        &survivor,
        &h.quinn,
        json!({ "reference": reference }),
        "the email sent by the surviving dispatcher once the lease ran out",
        |rows| rows.len() == 1 && rows[0]["status"] == "SENT",
    )
    .await;
    let deliveries = sent[0]["deliveries"].as_array().unwrap().clone();
    assert_eq!(
        deliveries.len(),
        1,
        "the dead dispatcher recorded nothing: {sent:?}"
    );
    assert_eq!(deliveries[0]["outcome"], "SENT");
    assert_eq!(sent[0]["attempts"], 1);

    let messages = mail.wait_for(1, WAIT).await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].to, vec![HANA]);
    assert_eq!(
        messages[0].message_id,
        sent[0]["messageId"].as_str().unwrap()
    );

    // The worker on record is the survivor's: it sends the next email under the same name.
    let next = report_low(&survivor, &h.alice, &h.cardiology).await;
    let next_sent = all_sent(
        &survivor,
        &h.quinn,
        json!({ "reference": reference_of(&next) }),
        1,
    )
    .await;
    assert_eq!(
        next_sent[0]["deliveries"][0]["worker"], deliveries[0]["worker"],
        "recorded by the second instance's dispatcher"
    );
    mail.wait_for(2, WAIT).await;
    assert_eq!(arrivals(&mail.received()).values().max(), Some(&1));
    assert_eq!(about(&mail, &reference).len(), 1, "sent exactly once");
}

/// A mail server that accepts connections and never answers, like [`BlackHoleSmtp`], but
/// also counts the connections a client still holds open (a client that gave up closes its
/// end): when none is open, nobody is in the middle of sending to it.
struct CountingBlackHole {
    url: String,
    open: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CountingBlackHole {
    fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        listener.set_nonblocking(true).expect("non-blocking");
        let open = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (open, stop) = (open.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut held: Vec<std::net::TcpStream> = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    if let Ok((stream, _)) = listener.accept() {
                        stream.set_nonblocking(true).expect("non-blocking");
                        held.push(stream);
                        open.fetch_add(1, Ordering::SeqCst);
                    }
                    held.retain_mut(|s| {
                        let mut buf = [0u8; 1024];
                        match s.read(&mut buf) {
                            Ok(0) => {
                                open.fetch_sub(1, Ordering::SeqCst);
                                false
                            }
                            Ok(_) => true,
                            Err(e) if e.kind() == ErrorKind::WouldBlock => true,
                            Err(_) => {
                                open.fetch_sub(1, Ordering::SeqCst);
                                false
                            }
                        }
                    });
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
        };
        Self {
            url: format!("smtp://127.0.0.1:{port}"),
            open,
            stop,
            thread: Some(thread),
        }
    }

    fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }
}

impl Drop for CountingBlackHole {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[tokio::test]
async fn emails_waiting_behind_hung_sends_are_not_sent_twice_when_another_dispatcher_helps() {
    let mail = MailServer::start().await;
    let hung = CountingBlackHole::start();
    // One dispatcher's mail server hangs: every send runs into the SMTP timeout. The lease
    // is longer than that timeout, as the configuration insists, "or a slow send could go
    // out twice".
    let stuck = spawn_app_with(|s| {
        mail_settings(s, &hung.url);
        s.notify.smtp_timeout_secs = 2;
        s.notify.lease_secs = 3;
        s.notify.max_attempts = 1000;
    })
    .await;
    let h = stuck.hospital().await;
    let mut leads = vec![h.quinn.clone()];
    for i in 0..11 {
        leads.push(stuck.quality_lead(&format!("lead{i}")));
    }
    let lead_refs: Vec<&str> = leads.iter().map(String::as_str).collect();
    stuck.sign_in(&lead_refs).await;
    stuck.sign_in(&[&h.hana]).await;

    // One serious incident: 13 emails, written in one transaction, taken in one batch.
    let incident = stuck
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "physicalHarm": "MODERATE" }),
            ),
        )
        .await;
    let reference = reference_of(&incident);
    let filter = json!({ "reference": reference });
    eventually("the stuck dispatcher to start sending", WAIT, || async {
        hung.open() >= 4
    })
    .await;

    // A second dispatcher with a working mail server joins.
    let helper = stuck
        .another_instance(|s| s.smtp_url = Some(Secret::from(mail.url())))
        .await;

    // Everything is sent, and the stuck dispatcher has given up on every send it began.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut settled = 0;
    let outbox = loop {
        let rows = notifications(&helper, &h.quinn, filter.clone()).await;
        let done = rows.len() == 13 && rows.iter().all(|r| r["status"] == "SENT");
        settled = if done && hung.open() == 0 {
            settled + 1
        } else {
            0
        };
        if settled >= 5 {
            break rows;
        }
        assert!(
            Instant::now() < deadline,
            "the outbox did not settle (open hung sends: {}): {}",
            hung.open(),
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // A send another dispatcher still had under way when its lease ran out must not undo
    // the helper's success, nor go out again.
    let overwritten: Vec<String> = outbox
        .iter()
        .filter(|n| {
            let o = outcomes(n);
            o.iter().position(|x| x == "SENT") != Some(o.len() - 1)
        })
        .map(|n| {
            format!(
                "{} {:?}",
                n["recipient"].as_str().unwrap_or(""),
                n["deliveries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| format!("{} by {}", d["outcome"], d["worker"]))
                    .collect::<Vec<_>>()
            )
        })
        .collect();
    let arrived = arrivals(&mail.received());
    let twice: Vec<_> = arrived.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty() && overwritten.is_empty(),
        "{} of 13 emails arrived more than once: {twice:?};\n\
         {} had attempts recorded after they were sent:\n{}",
        twice.len(),
        overwritten.len(),
        overwritten.join("\n")
    );
    assert_eq!(arrived.len(), 13);
}

// --- TLS ---------------------------------------------------------------------------------

#[tokio::test]
async fn email_goes_out_over_starttls_to_a_server_whose_certificate_a_configured_ca_signed() {
    let mail = MailServer::start_starttls().await;
    let url = mail.starttls_url();
    let ca = mail.ca_file();
    let app = spawn_app_with(move |s| {
        mail_settings(s, &url);
        s.smtp_ca_file = Some(ca);
    })
    .await;
    let h = app.hospital().await;
    app.sign_in(&[&h.hana, &h.quinn]).await;
    let incident = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);
    let sent = all_sent(&app, &h.quinn, json!({ "reference": reference }), 1).await;
    let received = mail.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].message_id,
        sent[0]["messageId"].as_str().unwrap()
    );
}

#[tokio::test]
async fn a_server_certificate_nobody_vouches_for_is_refused_and_the_email_waits() {
    // The same STARTTLS server, without its CA: the certificate does not verify, nothing
    // is sent in the clear, and the email is retried rather than lost.
    let mail = MailServer::start_starttls().await;
    let url = mail.starttls_url();
    let app = spawn_app_with(move |s| mail_settings(s, &url)).await;
    let h = app.hospital().await;
    app.sign_in(&[&h.hana, &h.quinn]).await;
    let incident = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);
    let rows = wait_for_outbox(
        &app,
        &h.quinn,
        json!({ "reference": reference }),
        "a failed attempt",
        |rows| rows.len() == 1 && rows[0]["attempts"].as_i64().unwrap_or(0) >= 1,
    )
    .await;
    assert_ne!(rows[0]["status"], "SENT", "{rows:?}");
    assert!(outcomes(&rows[0]).iter().all(|o| o == "FAILED"), "{rows:?}");
    assert!(mail.received().is_empty());
}

#[tokio::test]
async fn a_ca_file_that_is_not_a_certificate_stops_the_server_at_start() {
    let mail = MailServer::start_starttls().await;
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("ca.pem");
    std::fs::write(&bad, "not a certificate").unwrap();
    let mut settings = candour::config::Settings {
        database_url: format!("sqlite://{}/candour.db?mode=rwc", dir.path().display()),
        bind: "127.0.0.1:0".into(),
        jwt_secret: Some(Secret::from(JWT_SECRET.to_string())),
        data_key: Some(Secret::from(candour::protect::generate_key())),
        ..Settings::default()
    };
    mail_settings(&mut settings, &mail.starttls_url());
    settings.smtp_ca_file = Some(bad);
    let err = candour::startup::Application::build(settings)
        .await
        .err()
        .expect("a bad CA file stops the server");
    assert!(err.to_string().contains("smtp_ca_file"), "{err}");
}

#[tokio::test]
async fn the_outbox_keeps_variables_and_an_email_queued_with_its_bodies_before_still_goes_out() {
    use sea_orm::{ConnectionTrait, Statement};
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, |_| {}).await;
    let h = app.hospital().await;
    app.sign_in(&[&h.hana]).await;
    let incident = report_low(&app, &h.alice, &h.cardiology).await;
    let reference = reference_of(&incident);
    let fresh = mail
        .wait_for_matching(|m| m.subject.contains(&reference), 1, WAIT)
        .await;
    assert!(fresh[0].text.contains(&reference), "{}", fresh[0].text);

    let db = app.db().await;
    let backend = db.get_database_backend();
    // New rows keep the template's variables, not two rendered bodies each.
    let row = db
        .query_one(Statement::from_string(
            backend,
            format!("SELECT body_text, body_html, vars FROM notification WHERE reference = '{reference}'"),
        ))
        .await
        .unwrap()
        .unwrap();
    let (text, html, vars): (String, String, Option<String>) = (
        row.try_get("", "body_text").unwrap(),
        row.try_get("", "body_html").unwrap(),
        row.try_get("", "vars").unwrap(),
    );
    assert_eq!((text.as_str(), html.as_str()), ("", ""));
    assert!(vars.unwrap().contains(&reference));

    // An email queued by an earlier version, its bodies rendered when it was queued.
    let id = uuid::Uuid::now_v7();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => format!(
            "INSERT INTO notification (id, kind, mandatory, dedupe_key, recipient, subject, body_text, body_html, message_id, status, attempts, next_attempt_at, created_at)
             VALUES ('{id}', 'INCIDENT_REPORTED', false, 'legacy|{HANA}', '{HANA}', 'Queued before the upgrade', 'The stored text body.', '<p>The stored HTML body.</p>', '{id}@candour.test', 'QUEUED', 0, now(), now())"
        ),
        _ => format!(
            "INSERT INTO notification (id, kind, mandatory, dedupe_key, recipient, subject, body_text, body_html, message_id, status, attempts, next_attempt_at, created_at)
             VALUES (X'{}', 'INCIDENT_REPORTED', 0, 'legacy|{HANA}', '{HANA}', 'Queued before the upgrade', 'The stored text body.', '<p>The stored HTML body.</p>', '{id}@candour.test', 'QUEUED', 0, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
            id.simple()
        ),
    };
    db.execute(Statement::from_string(backend, sql))
        .await
        .unwrap();
    db.close().await.ok();
    let legacy = mail
        .wait_for_matching(|m| m.subject == "Queued before the upgrade", 1, WAIT)
        .await;
    assert_eq!(legacy[0].text.trim(), "The stored text body.");
    assert!(legacy[0]
        .html
        .as_deref()
        .is_some_and(|h| h.contains("The stored HTML body.")));
}
