//! Files on corrective actions, audit findings and improvement projects, and on an
//! incident after it was reported.

use super::*;

/// A record's `attachments` through `node(id)`.
async fn files_of(app: &TestApp, token: &str, record: &str, typename: &str) -> Value {
    let resp = app
        .gql(
            Some(token),
            &format!(
                "query($id: ID!) {{ node(id: $id) {{ ... on {typename} {{ attachments {{ {ATTACHMENT_FIELDS} }} }} }} }}"
            ),
            json!({ "id": record }),
        )
        .await;
    resp.assert_ok()["node"]["attachments"].clone()
}

#[tokio::test]
async fn files_are_added_to_actions_findings_projects_and_to_an_incident_under_review() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let incident = report_with_files(&app, &h.alice, &h.cardiology, &[]).await;

    // The handler adds a file to the incident after the report.
    let later = app
        .upload_ok(&h.hana, "ward round notes.pdf", pdf("notes"))
        .await;
    let added = app
        .attach_files(&h.hana, &id_of(&incident), &[&id_of(&later)])
        .await;
    let added = added.assert_ok()["attachFiles"]["attachments"].clone();
    assert_eq!(added[0]["uploadedBy"]["email"], "hana@candour.test");
    assert_eq!(
        files_of(&app, &h.alice, &id_of(&incident), "Incident")
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Bob (who neither reported nor handles it) may not.
    let bobs = app.upload_ok(&h.bob, "b.pdf", pdf("b")).await;
    app.attach_files(&h.bob, &id_of(&incident), &[&id_of(&bobs)])
        .await
        .assert_error("NOT_FOUND", None);

    // The owner of an action proves it done with a file.
    let action = app
        .create_corrective_action(
            &h.hana,
            corrective_action_input(&id_of(&incident), "bob@candour.test"),
        )
        .await;
    let added = app
        .attach_files(&h.bob, &id_of(&action), &[&id_of(&bobs)])
        .await;
    added.assert_ok();
    let on_action = files_of(&app, &h.quinn, &id_of(&action), "CorrectiveAction").await;
    assert_eq!(on_action[0]["fileName"], "b.pdf");
    let got = app
        .download(
            Some(&h.quinn),
            on_action[0]["downloadUrl"].as_str().unwrap(),
        )
        .await;
    assert_eq!(got.bytes, pdf("b"));

    // The audit's lead attaches the sample sheet to a finding.
    let audit = app.plan_audit(&h.quinn, audit_input(&h.cardiology)).await;
    let audit = app.move_audit(&h.quinn, &audit, "IN_PROGRESS").await;
    let audit = app
        .record_audit_finding(
            &h.quinn,
            finding_input(
                audit["id"].as_str().unwrap(),
                "Consent form signed",
                95.0,
                20,
                19,
            ),
        )
        .await;
    let finding = audit["findings"][0]["id"].as_str().unwrap().to_string();
    let sheet = app
        .upload_ok(&h.quinn, "sample.xlsx.pdf", pdf("sample"))
        .await;
    app.attach_files(&h.quinn, &finding, &[&id_of(&sheet)])
        .await
        .assert_ok();
    let on_finding = files_of(&app, &h.alice, &finding, "AuditFinding").await;
    assert_eq!(
        on_finding.as_array().unwrap().len(),
        1,
        "audits are open to all staff"
    );
    // Staff cannot add to an audit they do not run.
    let alices = app.upload_ok(&h.alice, "a.pdf", pdf("a")).await;
    app.attach_files(&h.alice, &finding, &[&id_of(&alices)])
        .await
        .assert_error("FORBIDDEN", None);

    // A project's lead adds its driver diagram.
    let resp = app
        .gql(
            Some(&h.quinn),
            "mutation($input: StartImprovementProjectInput!) { startImprovementProject(input: $input) { improvementProject { id } } }",
            json!({ "input": {
                "title": "Fewer missed ECG reviews",
                "aim": "All ECGs reviewed within 10 minutes by March",
                "departmentId": h.cardiology,
                "measures": [{ "name": "Reviewed in 10 minutes", "kind": "OUTCOME", "unit": "%", "betterWhen": "HIGHER" }],
            } }),
        )
        .await;
    let project = resp.assert_ok()["startImprovementProject"]["improvementProject"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let diagram = app
        .upload_ok(&h.quinn, "driver diagram.png", fixture("tiny.png"))
        .await;
    app.attach_files(&h.quinn, &project, &[&id_of(&diagram)])
        .await
        .assert_ok();
    let on_project = files_of(&app, &h.bob, &project, "ImprovementProject").await;
    assert_eq!(on_project[0]["contentType"], "image/png");
    // A record id of the wrong kind is bad input.
    app.attach_files(&h.quinn, &h.cardiology, &[&id_of(&alices)])
        .await
        .assert_error("BAD_USER_INPUT", Some("recordId"));
}
