//! The virus scanner: ClamAV's clamd, a real process. Files wait unseen until it has
//! scanned them, wait longer while it cannot be reached, and are destroyed when it finds
//! the EICAR test file in them.

use candour_tests::clamd::{docx_with, eicar, free_port, Clamd, EICAR_SIGNATURE};

use super::*;

fn scanned_by(address: String) -> impl FnOnce(&mut Settings) {
    move |s| {
        s.attachments.scanner = Some(address);
        s.attachments.scan_poll_ms = 100;
        s.attachments.scan_retry_initial_ms = 200;
    }
}

#[tokio::test]
async fn a_file_waits_unseen_while_the_scanner_is_away_and_is_released_once_scanned() {
    let port = free_port();
    let app = spawn_app_with(scanned_by(format!("tcp://127.0.0.1:{port}"))).await;
    let h = app.hospital().await;
    let doc = pdf("statement of events");
    let up = app.upload_ok(&h.alice, "statement.pdf", doc.clone()).await;
    assert_eq!(up["status"], "AWAITING_SCAN");
    let incident = report_with_files(&app, &h.alice, &h.cardiology, &[&id_of(&up)]).await;
    // clamd is not running: the file waits, listed but not to be opened by anyone.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let files = files_on(&app, &h.hana, &id_of(&incident)).await;
    assert_eq!(files[0]["status"], "AWAITING_SCAN");
    assert!(files[0]["downloadUrl"].is_null() && files[0]["scannedAt"].is_null());
    let got = app.download(Some(&h.hana), &id_of(&up)).await;
    assert_eq!(got.status, 409);
    got.json().assert_error("CONFLICT", None);

    let _clamd = Clamd::start_on(port).await;
    let file = app
        .wait_for_attachment(&h.hana, &id_of(&incident), &id_of(&up), "AVAILABLE")
        .await;
    assert!(!file["scannedAt"].is_null());
    let got = app.download(Some(&h.hana), &id_of(&up)).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, doc);
    let rules = app
        .gql(Some(&h.alice), "{ attachmentRules { scanned } }", json!({}))
        .await;
    assert_eq!(rules.assert_ok()["attachmentRules"]["scanned"], true);
}

#[tokio::test]
async fn the_eicar_test_file_is_refused_and_destroyed() {
    // clamd starts once the report is in, so the files are attached before they are scanned.
    let port = free_port();
    let app = spawn_app_with(scanned_by(format!("tcp://127.0.0.1:{port}"))).await;
    let h = app.hospital().await;
    // On its own the EICAR file is no type Candour takes: it is refused before it is kept.
    let bare = app.upload(Some(&h.alice), "eicar.com", eicar()).await;
    assert_eq!(bare.status, 400);
    assert_eq!(rows_in(&app, "attachment").await, 0);

    // Inside a Word document it passes the type check, and the scanner finds it.
    let clean = app
        .upload_ok(&h.alice, "clean.pdf", pdf("nothing to see"))
        .await;
    let infected = app
        .upload_ok(&h.alice, "statement.docx", docx_with("eicar.com", &eicar()))
        .await;
    assert_eq!(
        infected["contentType"],
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    let incident = report_with_files(
        &app,
        &h.alice,
        &h.cardiology,
        &[&id_of(&clean), &id_of(&infected)],
    )
    .await;
    let _clamd = Clamd::start_on(port).await;
    let file = app
        .wait_for_attachment(&h.hana, &id_of(&incident), &id_of(&infected), "INFECTED")
        .await;
    // clamd names it from our database (adding .UNOFFICIAL, as it does for any database
    // not ClamAV's own).
    assert!(
        file["malware"]
            .as_str()
            .unwrap()
            .starts_with(EICAR_SIGNATURE),
        "{file}"
    );
    assert!(file["downloadUrl"].is_null());
    let got = app.download(Some(&h.hana), &id_of(&infected)).await;
    assert_eq!(got.status, 409);
    app.wait_for_attachment(&h.hana, &id_of(&incident), &id_of(&clean), "AVAILABLE")
        .await;
    assert_eq!(
        rows_in(&app, "attachment_chunk").await,
        1,
        "only the clean file's bytes are kept"
    );
    let history = app.history(&h.quinn, &id_of(&incident)).await;
    let event = history
        .iter()
        .find(|e| e["action"] == "attachment.infected")
        .expect("the trail records the refusal");
    assert_eq!(event["actorLabel"], "system:virus-scanner");

    // An infected upload not yet attached cannot be attached once the scanner has seen it.
    let second = app
        .upload_ok(&h.alice, "again.docx", docx_with("eicar.com", &eicar()))
        .await;
    let other = report_with_files(&app, &h.alice, &h.cardiology, &[]).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let resp = app
            .attach_files(&h.alice, &id_of(&other), &[&id_of(&second)])
            .await;
        if resp.errors().is_empty() {
            // Attached before the scan: it must then be found infected where it is.
            app.wait_for_attachment(&h.hana, &id_of(&other), &id_of(&second), "INFECTED")
                .await;
            break;
        }
        resp.assert_error("BAD_USER_INPUT", Some("attachmentIds"));
        if resp.errors()[0]["message"]
            .as_str()
            .unwrap()
            .contains("virus")
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
