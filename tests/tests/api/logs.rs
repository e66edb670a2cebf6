//! Logs never carry sensitive values. The whole suite's server logs are captured (at debug,
//! with the server's own filter) and every test fails on drop if a value it sent as
//! sensitive shows up there; this story drives every sensitive path on purpose and checks
//! that the capture really holds this server's lines.
use candour_tests::*;
use serde_json::json;

#[tokio::test]
async fn no_nhs_number_patient_name_or_description_reaches_the_logs() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let description = "Zebra-striped infusion pump alarmed during the night shift twice";
    let name = "Persephone Quigglesworth";
    let input = with(
        incident_input(&h.cardiology),
        json!({
            "description": description,
            "immediateActions": "Swapped the pump for a spare from theatre stores",
            "patient": { "nhsNumber": "943 476 5919", "name": name, "dateOfBirth": "1931-07-19" },
        }),
    );
    let incident = app.report_incident(&h.alice, input.clone()).await;
    let id = incident["id"].as_str().unwrap();
    let reference = incident["reference"].as_str().unwrap().to_string();

    // Reads of every sensitive field, a comment, and refusals that name the field.
    app.incident_full(&h.hana, id).await;
    app.gql(
        Some(&h.hana),
        "mutation($i: CommentOnIncidentInput!) { commentOnIncident(input: $i) { incident { id } } }",
        json!({ "i": { "incidentId": id, "body": "Called the ward sister about Persephone's pump" } }),
    )
    .await
    .assert_ok();
    app.try_report_incident(
        &h.alice,
        with(
            input.clone(),
            json!({ "patient": { "nhsNumber": "9434765918", "name": "Bartholomew Wigglesby" } }),
        ),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("patient.nhsNumber"));
    app.try_report_incident(&h.alice, with(input.clone(), json!({ "anonymous": true })))
        .await
        .assert_ok();
    let ig = app.ig_officer("iris");
    app.gql(
        Some(&ig),
        "query($n: String!) { subjectAccessReport(nhsNumber: $n) { incidents { description patient { name } } } }",
        json!({ "n": "9434765919" }),
    )
    .await
    .assert_ok();
    app.gql(
        Some(&h.nina),
        "mutation($i: BreakGlassInput!) { breakGlass(input: $i) { incident { description patient { name } } } }",
        json!({ "i": { "incidentId": id, "justification": "Patient transferred to neurology overnight, need the pump history" } }),
    )
    .await
    .assert_ok();

    let lines = logs::lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&reference) && l.contains("incident reported")),
        "the capture holds this server's log lines"
    );
    for value in [
        "9434765919",
        "943 476 5919",
        "9434765918",
        "persephone",
        "quigglesworth",
        "wigglesby",
        "1931-07-19",
        "zebra-striped",
        "spare from theatre stores",
        "overnight, need the pump",
    ] {
        let hit = lines.iter().find(|l| l.to_lowercase().contains(value));
        assert!(hit.is_none(), "{value:?} reached the logs: {hit:?}");
    }
    logs::assert_no_leaks();
}
