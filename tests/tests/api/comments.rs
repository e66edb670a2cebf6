//! Handlers and quality leads discuss an incident in internal comments the reporter does not
//! see.

use candour_tests::*;
use serde_json::{json, Value};

async fn reported(app: &TestApp, h: &Hospital) -> Value {
    app.report_incident(&h.alice, incident_input(&h.cardiology))
        .await
}

#[tokio::test]
async fn handlers_and_quality_leads_comment_and_comments_read_oldest_first() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported(&app, &h).await;
    let id = incident["id"].as_str().unwrap();

    let after_first = app.comment(&h.hana, id, "Spoke to the ward manager.").await;
    assert_eq!(after_first["comments"].as_array().unwrap().len(), 1);
    app.comment(&h.quinn, id, "Please check the handover sheet too.")
        .await;
    app.comment(&h.hana, id, "Handover sheet attached to the file.")
        .await;

    let full = app.incident_full(&h.quinn, id).await;
    let comments = full["comments"]
        .as_array()
        .expect("comments for a quality lead");
    let bodies: Vec<&str> = comments
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        vec![
            "Spoke to the ward manager.",
            "Please check the handover sheet too.",
            "Handover sheet attached to the file.",
        ]
    );
    let authors: Vec<&str> = comments
        .iter()
        .map(|c| c["author"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(authors, vec!["Hana Test", "Quinn Test", "Hana Test"]);
    let times: Vec<_> = comments
        .iter()
        .map(|c| parse_time(&c["createdAt"]))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");

    let as_hana = app.incident_full(&h.hana, id).await;
    assert_eq!(as_hana["comments"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn a_blank_comment_is_refused_on_the_body_field() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported(&app, &h).await;
    let id = incident["id"].as_str().unwrap();

    for body in ["", "  \n\t "] {
        let resp = app.try_comment(&h.hana, id, body).await;
        resp.assert_error("BAD_USER_INPUT", Some("body"));
    }
    let full = app.incident_full(&h.quinn, id).await;
    assert_eq!(full["comments"], json!([]));
}

#[tokio::test]
async fn the_reporter_may_not_comment() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported(&app, &h).await;
    let id = incident["id"].as_str().unwrap();

    let resp = app.try_comment(&h.alice, id, "Any news?").await;

    resp.assert_error("FORBIDDEN", None);
    let full = app.incident_full(&h.quinn, id).await;
    assert_eq!(full["comments"], json!([]));
}

#[tokio::test]
async fn the_reporter_does_not_see_internal_comments() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported(&app, &h).await;
    let id = incident["id"].as_str().unwrap();
    app.comment(&h.hana, id, "Internal: staffing was short that night.")
        .await;

    let resp = app
        .gql(
            Some(&h.alice),
            "query($id: ID!) { incident(id: $id) { id title comments { body } } }",
            json!({ "id": id }),
        )
        .await;

    let seen = &resp.data()["incident"];
    assert_eq!(
        seen["id"], id,
        "the reporter still sees their report: {resp}"
    );
    assert!(seen["comments"].is_null(), "comments are internal: {resp}");
    assert!(
        !resp.body.to_string().contains("staffing was short"),
        "comment text leaked to the reporter: {resp}"
    );
}

#[tokio::test]
async fn a_handler_of_another_department_cannot_comment() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported(&app, &h).await;
    let id = incident["id"].as_str().unwrap();

    let resp = app.try_comment(&h.nina, id, "Looks like ours?").await;

    resp.assert_error("NOT_FOUND", None);
    let full = app.incident_full(&h.quinn, id).await;
    assert_eq!(full["comments"], json!([]));
}

#[tokio::test]
async fn comments_posted_at_the_same_moment_are_all_kept() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = reported(&app, &h).await;
    let id = incident["id"].as_str().unwrap();
    let bodies: Vec<String> = (0..10)
        .map(|i| format!("Note {i} from the huddle"))
        .collect();

    let responses =
        futures_util::future::join_all(bodies.iter().map(|b| app.try_comment(&h.hana, id, b)))
            .await;

    for resp in &responses {
        resp.assert_ok();
    }
    let full = app.incident_full(&h.quinn, id).await;
    let mut kept: Vec<String> = full["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap().to_string())
        .collect();
    kept.sort();
    let mut expected = bodies.clone();
    expected.sort();
    assert_eq!(kept, expected);
}
