//! The mail fixture itself: a real SMTP server that a real SMTP client (lettre, as the server
//! uses) can send to, stop, and bring back on the same port.

use std::time::{Duration, Instant};

use candour_tests::mail::{BlackHoleSmtp, MailServer};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

const WAIT: Duration = Duration::from_secs(10);

/// Plain SMTP to a loopback port (`from_url` needs one of lettre's TLS features).
fn transport(port: u16, timeout: Duration) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .timeout(Some(timeout))
        .build()
}

fn email(n: u32, secret: &str) -> Message {
    let text = format!(
        "Incident {n} needs your review.\nDetails: {secret} and a line long enough to be \
         wrapped by quoted-printable soft line breaks, café, ünïcödé, 0123456789 0123456789.\n"
    );
    let html = format!("<p>Incident {n} needs your <b>review</b>.</p><p>{secret} &amp; more</p>");
    Message::builder()
        .from("Candour <noreply@candour.test>".parse::<Mailbox>().unwrap())
        .to("Alice Handler <Alice.Handler@Example.org>".parse().unwrap())
        .to("bob@example.org".parse().unwrap())
        .bcc("hidden@example.org".parse().unwrap())
        .subject(format!("[Candour] Incident {n} — review needed"))
        .message_id(Some(format!("<incident-{n}.fixture@candour.test>")))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(text),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(html),
                ),
        )
        .unwrap()
}

#[tokio::test]
async fn a_real_smtp_server_receives_stops_and_comes_back_on_the_same_port() {
    let started = Instant::now();
    let mut server = MailServer::start().await;
    assert_eq!(server.url(), format!("smtp://127.0.0.1:{}", server.port()));
    assert!(server.received().is_empty());

    let secret = "Patient-Name-Zebedee-Quartermain";
    transport(server.port(), Duration::from_secs(3))
        .send(email(1, secret))
        .await
        .expect("the first email is accepted");

    let received = server.wait_for(1, WAIT).await;
    assert_eq!(received.len(), 1);
    let m = &received[0];
    assert_eq!(m.to, ["alice.handler@example.org", "bob@example.org"]);
    assert_eq!(m.from, "noreply@candour.test");
    assert_eq!(m.subject, "[Candour] Incident 1 — review needed");
    assert_eq!(m.message_id, "incident-1.fixture@candour.test");
    assert!(
        m.text.contains("Incident 1 needs your review.") && m.text.contains("café, ünïcödé"),
        "text part: {:?}",
        m.text
    );
    let html = m.html.as_deref().expect("an HTML part");
    assert!(
        html.contains("<b>review</b>") && html.contains("&amp; more"),
        "{html}"
    );
    assert!(m.header("MIME-Version").is_some());
    assert!(m
        .header("content-type")
        .unwrap()
        .starts_with("multipart/alternative"));
    assert!(m.header("Bcc").is_none(), "Bcc is not sent in the headers");
    assert_eq!(
        m.envelope_to(),
        [
            "alice.handler@example.org",
            "bob@example.org",
            "hidden@example.org"
        ]
    );
    assert!(m.all_text().contains(secret));
    assert!(!m.all_text().contains("Some-Other-Patient"));

    // Down: the port refuses connections and a send fails; what arrived is kept.
    server.stop().await;
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", server.port())).is_err(),
        "a stopped server's port refuses connections"
    );
    let error = transport(server.port(), Duration::from_secs(3))
        .send(email(2, secret))
        .await
        .expect_err("sending to a stopped server fails");
    assert!(!error.is_permanent(), "{error}");
    assert_eq!(server.received().len(), 1);

    // Back on the same port and Maildir.
    let port = server.port();
    server.restart().await;
    assert_eq!(server.port(), port);
    transport(server.port(), Duration::from_secs(3))
        .send(email(3, secret))
        .await
        .expect("the email after the restart is accepted");
    let both = server.wait_for(2, WAIT).await;
    let ids: Vec<&str> = both.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "incident-1.fixture@candour.test",
            "incident-3.fixture@candour.test"
        ]
    );
    let third = server
        .wait_for_matching(|m| m.subject.contains("Incident 3"), 1, WAIT)
        .await;
    assert_eq!(third.len(), 1);

    eprintln!("mail fixture round trip took {:?}", started.elapsed());
}

/// lettre's own `timeout` covers only the TCP connect: against a server that accepts and then
/// never answers, `send` waits forever. Whoever sends must bound it (`tokio::time::timeout`).
#[tokio::test]
async fn a_black_hole_accepts_and_never_answers() {
    let hole = BlackHoleSmtp::start();
    assert_eq!(hole.url(), format!("smtp://127.0.0.1:{}", hole.port()));
    let started = Instant::now();
    let mailer = transport(hole.port(), Duration::from_millis(500));
    let outcome = tokio::time::timeout(Duration::from_secs(1), mailer.send(email(1, "x"))).await;
    assert!(
        outcome.is_err(),
        "a send to the black hole is still waiting after 1 s (lettre's timeout does not \
         cover replies), got {outcome:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(hole.connections(), 1);

    // Dropping it closes the connection and the port.
    let port = hole.port();
    drop(hole);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[tokio::test]
#[should_panic(expected = "expected at least 1 email(s)")]
async fn waiting_for_mail_that_never_comes_panics_with_what_arrived() {
    let server = MailServer::start().await;
    server.wait_for(1, Duration::from_millis(200)).await;
}
