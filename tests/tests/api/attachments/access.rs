//! Who sees and opens a record's files, and the access log of every opening.

use super::*;
use uuid::Uuid;

/// The access events one request wrote: (record id, fields).
async fn reads_in(app: &TestApp, request_id: &str) -> Vec<(String, Vec<String>)> {
    let ig = app.ig_officer("iggy");
    let resp = app
        .gql(
            Some(&ig),
            "{ accessLog(first: 100) { edges { node { recordId fields requestId } } } }",
            json!({}),
        )
        .await;
    let mut out: Vec<(String, Vec<String>)> = resp.assert_ok()["accessLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .filter(|n| n["requestId"] == request_id)
        .map(|n| {
            (
                n["recordId"].as_str().unwrap().to_string(),
                serde_json::from_value(n["fields"].clone()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn only_those_who_may_read_the_description_see_the_files_and_each_opening_is_logged() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let up = app
        .upload_ok(&h.alice, "wound.png", fixture("tiny.png"))
        .await;
    let incident = report_with_files(&app, &h.alice, &h.cardiology, &[&id_of(&up)]).await;
    let incident_id = id_of(&incident);
    let file = id_of(&up);

    // The reporter and the department's handler see the file; the reporter can open it.
    assert_eq!(files_on(&app, &h.alice, &incident_id).await.len(), 1);
    assert_eq!(app.download(Some(&h.alice), &file).await.status, 200);
    // Another department's handler, and another member of staff, see nothing of it.
    for (who, token) in [("nina", &h.nina), ("bob", &h.bob)] {
        let got = app.download(Some(token), &file).await;
        assert_eq!(got.status, 404, "{who}");
        got.json().assert_error("NOT_FOUND", None);
        let listed = app.incident_attachments(token, &incident_id).await;
        listed.assert_error("NOT_FOUND", None);
    }
    let node = app
        .gql(
            Some(&h.nina),
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": file }),
        )
        .await;
    assert!(node.assert_ok()["node"].is_null());
    assert_eq!(app.download(None, &file).await.status, 401);

    // Hana's opening is in the access log under the incident and under the file, before
    // the bytes reached her.
    let got = app.download(Some(&h.hana), &file).await;
    assert_eq!(got.status, 200);
    let request = got.header("x-request-id").unwrap();
    assert_eq!(reads_in(&app, &request).await, {
        let mut v = vec![
            (file.clone(), vec!["content".to_string()]),
            (incident_id.clone(), vec!["attachments".to_string()]),
        ];
        v.sort();
        v
    });
    // Listing the files (their names are the reporter's words) is a read of the incident.
    let listed = app.incident_attachments(&h.hana, &incident_id).await;
    let reads = reads_in(&app, &listed.request_id()).await;
    assert!(
        reads
            .iter()
            .any(|(r, f)| *r == incident_id && f.contains(&"attachments".to_string())),
        "{reads:?}"
    );
}

#[tokio::test]
async fn an_anonymous_report_carries_photos_that_keep_nothing_of_their_reporter() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let doc = app
        .upload_ok(&h.alice, "my statement - Alice Smith.pdf", pdf("statement"))
        .await;
    let resp = app
        .try_report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "anonymous": true, "attachmentIds": [id_of(&doc)] }),
            ),
        )
        .await;
    resp.assert_error("BAD_USER_INPUT", Some("attachmentIds"));
    assert!(resp.errors()[0]["message"]
        .as_str()
        .unwrap()
        .contains("photos"));
    assert_eq!(rows_in(&app, "incident").await, 0);

    let photo = app
        .upload_ok(
            &h.alice,
            "IMG_alice_smith_ward7.jpg",
            fixture("gps-photo.jpg"),
        )
        .await;
    let resp = app
        .try_report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "anonymous": true, "attachmentIds": [id_of(&photo)] }),
            ),
        )
        .await;
    let incident = resp.assert_ok()["reportIncident"]["incident"].clone();
    let files = files_on(&app, &h.hana, &id_of(&incident)).await;
    assert_eq!(files.len(), 1);
    assert_eq!(
        files[0]["fileName"], "evidence-1.jpg",
        "not the name the reporter gave"
    );
    assert!(files[0]["uploadedBy"].is_null());
    let got = app.download(Some(&h.hana), &id_of(&files[0])).await;
    assert!(!contains(&got.bytes, b"SN-4471-9923") && !contains(&got.bytes, b"Exif"));
    // The trail names nobody for the file either.
    let history = app.history(&h.quinn, &id_of(&incident)).await;
    let added = history
        .iter()
        .find(|e| e["action"] == "attachment.added")
        .expect("the trail has the file");
    assert!(
        added["actor"].is_null() && added["actorLabel"].is_null() && added["requestId"].is_null(),
        "{added}"
    );
    // Nothing stored still holds the name the reporter chose.
    let db = app.db().await;
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT file_name, uploader_key, uploaded_by FROM attachment WHERE owner_id IS NOT NULL".to_string(),
        ))
        .await
        .unwrap();
    let names: Vec<String> = rows
        .iter()
        .map(|r| r.try_get::<String>("", "file_name").unwrap())
        .collect();
    assert_eq!(names, vec!["evidence-1.jpg".to_string()]);
    assert!(rows.iter().all(|r| r
        .try_get::<Option<Uuid>>("", "uploaded_by")
        .unwrap()
        .is_none()
        && r.try_get::<Option<String>>("", "uploader_key")
            .unwrap()
            .is_none()));
}

#[tokio::test]
async fn a_handler_removes_a_file_with_a_reason_and_its_bytes_go() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let up = app
        .upload_ok(&h.alice, "wrong patient.png", fixture("tiny.png"))
        .await;
    let incident = report_with_files(&app, &h.alice, &h.cardiology, &[&id_of(&up)]).await;
    let file = id_of(&up);
    app.remove_attachment(&h.alice, &file, "mine")
        .await
        .assert_error("FORBIDDEN", None);
    app.remove_attachment(&h.nina, &file, "not hers")
        .await
        .assert_error("NOT_FOUND", None);
    app.remove_attachment(&h.hana, &file, "  ")
        .await
        .assert_error("BAD_USER_INPUT", Some("reason"));
    assert_eq!(rows_in(&app, "attachment_chunk").await, 1);

    let resp = app
        .remove_attachment(&h.hana, &file, "Photo of another patient's chart")
        .await;
    let removed = resp.assert_ok()["removeAttachment"]["attachment"].clone();
    assert_eq!(removed["status"], "REMOVED");
    assert_eq!(removed["removalReason"], "Photo of another patient's chart");
    assert!(removed["downloadUrl"].is_null());
    assert_eq!(
        rows_in(&app, "attachment_chunk").await,
        0,
        "the bytes are deleted"
    );
    let got = app.download(Some(&h.hana), &file).await;
    assert_eq!(got.status, 409);
    got.json().assert_error("CONFLICT", None);
    app.remove_attachment(&h.hana, &file, "again")
        .await
        .assert_error("CONFLICT", None);
    let history = app.history(&h.quinn, &id_of(&incident)).await;
    let actions: Vec<&str> = history
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"attachment.added") && actions.contains(&"attachment.removed"),
        "{actions:?}"
    );
    // The list still says the file was there, and why it went.
    let files = files_on(&app, &h.hana, &id_of(&incident)).await;
    assert_eq!(files[0]["status"], "REMOVED");
}
