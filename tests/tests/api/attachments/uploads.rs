//! Uploading: the type from the content, names cleaned, photos' metadata gone from the
//! stored bytes, the bytes sealed at rest, limits, and refusals that leave nothing behind.

use super::*;

#[tokio::test]
async fn a_reporters_photo_and_document_reach_the_handler_as_they_were_sent_less_the_photos_exif() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let photo = fixture("gps-photo.jpg");
    assert!(contains(&photo, b"SN-4471-9923") && contains(&photo, b"Exif\0\0"));
    let doc = pdf("dose record for bay 3");
    let p = app.upload_ok(&h.alice, "IMG_2041.jpg", photo.clone()).await;
    let d = app
        .upload_ok(&h.alice, "dose record.pdf", doc.clone())
        .await;
    assert_eq!(p["contentType"], "image/jpeg");
    assert_eq!(p["metadataRemoved"], json!(["EXIF"]));
    assert_eq!(p["status"], "AVAILABLE", "no scanner is configured");
    assert_eq!(d["contentType"], "application/pdf");

    let incident =
        report_with_files(&app, &h.alice, &h.cardiology, &[&id_of(&p), &id_of(&d)]).await;
    let files = files_on(&app, &h.hana, &id_of(&incident)).await;
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["fileName"], "IMG_2041.jpg");
    assert_eq!(files[1]["fileName"], "dose record.pdf");
    assert_eq!(files[1]["uploadedBy"]["email"], "alice@candour.test");

    // The document comes back byte for byte, as a download that is never shown inline.
    let got = app
        .download(Some(&h.hana), files[1]["downloadUrl"].as_str().unwrap())
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, doc);
    assert_eq!(files[1]["sha256"], sha256_hex(&doc));
    assert_eq!(files[1]["size"], doc.len());
    let disposition = got.header("content-disposition").unwrap();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("dose record.pdf"), "{disposition}");
    assert_eq!(
        got.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert!(got
        .header("content-security-policy")
        .unwrap()
        .contains("sandbox"));
    assert_eq!(
        got.header("content-type").as_deref(),
        Some("application/pdf")
    );
    assert_eq!(got.header("cache-control").as_deref(), Some("no-store"));

    // The photo is the same picture without its camera's serial number or position.
    let got = app
        .download(Some(&h.hana), files[0]["downloadUrl"].as_str().unwrap())
        .await;
    assert_eq!(got.status, 200);
    let jpeg = got.bytes;
    assert!(
        jpeg.starts_with(b"\xff\xd8") && jpeg.ends_with(b"\xff\xd9"),
        "still a JPEG"
    );
    for gone in [
        &b"Exif\0\0"[..],
        b"SN-4471-9923",
        b"CandourCam",
        b"Model X1",
    ] {
        assert!(
            !contains(&jpeg, gone),
            "{} is still there",
            String::from_utf8_lossy(gone)
        );
    }
    assert!(jpeg.len() < photo.len());
    assert_eq!(
        files[0]["sha256"],
        sha256_hex(&jpeg),
        "the stored bytes are what was cleaned"
    );
    // What remains is the image itself: the frames after the header are untouched.
    let scan = |b: &[u8]| {
        b.windows(2)
            .position(|w| w == b"\xff\xda")
            .map(|i| b[i..].to_vec())
    };
    assert_eq!(scan(&jpeg), scan(&photo));
}

#[tokio::test]
async fn the_type_is_decided_by_the_content_not_the_name() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // A PNG called .pdf is a PNG, and is kept under a name that says so.
    let png = app
        .upload_ok(&h.alice, "scan.pdf", fixture("tiny.png"))
        .await;
    assert_eq!(png["contentType"], "image/png");
    assert_eq!(png["fileName"], "scan.png");
    // An HTML page called .png is refused: it is no type Candour takes.
    let html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>";
    let refused = app.upload(Some(&h.alice), "photo.png", html.to_vec()).await;
    assert_eq!(refused.status, 400);
    let r = refused.json();
    r.assert_error("BAD_USER_INPUT", Some("file"));
    assert!(
        r.errors()[0]["message"]
            .as_str()
            .unwrap()
            .contains("not the file name"),
        "{r}"
    );
    // Nor an executable, whatever it is called.
    let exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".to_vec();
    let refused = app.upload(Some(&h.alice), "report.pdf", exe).await;
    refused.json().assert_error("BAD_USER_INPUT", Some("file"));
    // An empty file, and a name given twice, are bad input too.
    let refused = app.upload(Some(&h.alice), "empty.pdf", Vec::new()).await;
    refused.json().assert_error("BAD_USER_INPUT", Some("file"));
    let twice = app
        .client
        .post(app.url("/attachments?fileName=a.pdf&fileName=b.pdf"))
        .bearer_auth(&h.alice)
        .body(pdf("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 400);
    // Folders and control characters never reach the stored name.
    let named = app
        .upload_ok(&h.alice, "..\\..\\C:\\temp\\\u{202e}fdp.exe", pdf("x"))
        .await;
    assert_eq!(named["fileName"], "fdp.pdf");
    // Only the accepted upload is stored.
    assert_eq!(rows_in(&app, "attachment").await, 2);
}

#[tokio::test]
async fn files_are_sealed_at_rest_and_come_back_whole_across_many_chunks() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let phrase = b"PATIENT-JOSEPHINE-QUILLFEATHER-9434765919";
    let mut big = big_pdf(1_300_000);
    for at in [100, 300_000, 1_299_000 - phrase.len()] {
        big[at..at + phrase.len()].copy_from_slice(phrase);
    }
    let up = app.upload_ok(&h.alice, "notes.pdf", big.clone()).await;
    let incident = report_with_files(&app, &h.alice, &h.cardiology, &[&id_of(&up)]).await;

    let chunks = stored_chunks(&app).await;
    assert_eq!(chunks.len(), 5, "1.3 MB in 256 KiB chunks");
    for c in &chunks {
        assert!(!contains(c, phrase), "a chunk holds the plaintext");
        assert!(!contains(c, b"%PDF"), "a chunk holds the plaintext");
    }
    if app.database_url.starts_with("sqlite:") {
        // The database file itself (and its write-ahead log) holds no plaintext either.
        let path = app
            .database_url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap()
            .to_string();
        for file in [path.clone(), format!("{path}-wal")] {
            if let Ok(bytes) = std::fs::read(&file) {
                assert!(!contains(&bytes, phrase), "{file} holds the plaintext");
            }
        }
    }
    let files = files_on(&app, &h.hana, &id_of(&incident)).await;
    let got = app.download(Some(&h.hana), &id_of(&files[0])).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.header("content-length").as_deref(), Some("1300000"));
    assert!(got.bytes == big, "the file comes back whole");
}

#[tokio::test]
async fn limits_on_size_and_count_are_kept_and_a_refusal_leaves_nothing() {
    let app = spawn_app_with(|s| {
        s.attachments.max_bytes = 600_000;
        s.attachments.max_image_bytes = 600_000;
        s.attachments.max_per_record = 2;
    })
    .await;
    let h = app.hospital().await;
    let refused = app
        .upload(Some(&h.alice), "big.pdf", big_pdf(700_000))
        .await;
    assert_eq!(refused.status, 413);
    let r = refused.json();
    r.assert_error("BAD_USER_INPUT", Some("file"));
    assert_eq!(r.errors()[0]["extensions"]["reason"], "TOO_LONG");
    assert_eq!(rows_in(&app, "attachment").await, 0);
    assert_eq!(rows_in(&app, "attachment_chunk").await, 0);

    let rules = app
        .gql(
            Some(&h.alice),
            "{ attachmentRules { maxBytes maxPerRecord allowedTypes anonymousTypes scanned } }",
            json!({}),
        )
        .await;
    let rules = rules.assert_ok()["attachmentRules"].clone();
    assert_eq!(rules["maxBytes"], 600_000);
    assert_eq!(rules["maxPerRecord"], 2);
    assert_eq!(rules["scanned"], false);
    assert!(rules["anonymousTypes"]
        .as_array()
        .unwrap()
        .contains(&json!("image/jpeg")));

    let ids: Vec<String> = {
        let mut v = Vec::new();
        for n in 0..3 {
            v.push(id_of(
                &app.upload_ok(&h.alice, &format!("p{n}.pdf"), pdf("x"))
                    .await,
            ));
        }
        v
    };
    let all: Vec<&str> = ids.iter().map(String::as_str).collect();
    // Three files on a report that may carry two: the report is refused whole.
    let resp = app
        .try_report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "attachmentIds": all }),
            ),
        )
        .await;
    resp.assert_error("BAD_USER_INPUT", Some("attachmentIds"));
    assert_eq!(rows_in(&app, "incident").await, 0, "no half-made report");
    // The same two files twice in one list is refused too.
    let resp = app
        .try_report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "attachmentIds": [&ids[0], &ids[0]] }),
            ),
        )
        .await;
    resp.assert_error("BAD_USER_INPUT", Some("attachmentIds"));
    let incident = report_with_files(&app, &h.alice, &h.cardiology, &all[..2]).await;
    let more = app
        .attach_files(&h.hana, &id_of(&incident), &all[2..])
        .await;
    more.assert_error("BAD_USER_INPUT", Some("attachmentIds"));
    assert_eq!(files_on(&app, &h.hana, &id_of(&incident)).await.len(), 2);
    // Someone else's upload cannot be attached, nor one attached already.
    let bobs = id_of(&app.upload_ok(&h.bob, "b.pdf", pdf("b")).await);
    let other = report_with_files(&app, &h.alice, &h.cardiology, &[]).await;
    app.attach_files(&h.alice, &id_of(&other), &[&bobs])
        .await
        .assert_error("BAD_USER_INPUT", Some("attachmentIds"));
    app.attach_files(&h.alice, &id_of(&other), &[&ids[0]])
        .await
        .assert_error("BAD_USER_INPUT", Some("attachmentIds"));
    // Bob's upload is still his to attach to his own report.
    let his = report_with_files(&app, &h.bob, &h.cardiology, &[&bobs]).await;
    assert_eq!(files_on(&app, &h.hana, &id_of(&his)).await.len(), 1);
}

#[tokio::test]
async fn uploads_need_a_signed_in_caller_and_downloads_name_nothing_they_may_not_see() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let refused = app.upload(None, "a.pdf", pdf("a")).await;
    assert_eq!(refused.status, 401);
    refused.json().assert_error("UNAUTHENTICATED", None);
    let reader = app.service(&["incidents:read"]);
    let refused = app.upload(Some(&reader), "a.pdf", pdf("a")).await;
    assert_eq!(refused.status, 403);
    assert_eq!(rows_in(&app, "attachment").await, 0);
    for path in ["/attachments/not-an-id", "/attachments/SW5jaWRlbnQ6MDE5MmY"] {
        let got = app.download(Some(&h.hana), path).await;
        assert_eq!(got.status, 404, "{path}");
        got.json().assert_error("NOT_FOUND", None);
    }
    let got = app
        .client
        .delete(app.url("/attachments/x"))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 405);
}
