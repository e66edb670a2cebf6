//! What a learning response raises: corrective actions (the response as their one source)
//! and improvement projects.

use super::*;

async fn start_project(app: &TestApp, token: &str, department_id: &str) -> Value {
    let resp = app
        .gql(
            Some(token),
            "mutation($input: StartImprovementProjectInput!) {
               startImprovementProject(input: $input) { improvementProject { id title } }
             }",
            json!({ "input": {
                "title": "Safer trolley transfers",
                "aim": "No falls from trolleys in the cardiac corridor by June 2027.",
                "departmentId": department_id,
                "measures": [{ "name": "Falls from trolleys", "kind": "OUTCOME",
                               "unit": "falls per month", "betterWhen": "LOWER" }],
            } }),
        )
        .await;
    resp.assert_ok();
    resp.data()["startImprovementProject"]["improvementProject"].clone()
}

#[tokio::test]
async fn actions_and_a_project_are_raised_from_a_learning_response() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let a = cardiac_incident(&app, &h, "Fall from trolley, bay 1").await;
    let project = start_project(&app, &h.hana, &h.cardiology).await;
    let review = plan(
        &app,
        &h.hana,
        with(
            plan_input(&h.cardiology, &[&a]),
            json!({ "improvementProjectIds": [project["id"]] }),
        ),
    )
    .await;
    assert_eq!(review["improvementProjects"][0]["id"], project["id"]);

    let first = app
        .create_corrective_action(
            &h.hana,
            corrective_action_input(&id(&review), "olive@candour.test"),
        )
        .await;
    let second = app
        .create_corrective_action(
            &h.quinn,
            with(
                corrective_action_input(&id(&review), "olive@candour.test"),
                json!({ "title": "Rails up before every transfer" }),
            ),
        )
        .await;
    assert_eq!(
        first["department"]["code"], "CARD",
        "the response's department"
    );
    assert_eq!(
        first["source"],
        json!({ "__typename": "LearningResponseRecord" })
    );

    let resp = read(&app, &h.hana, &review).await;
    resp.assert_ok();
    let now = &resp.data()["node"];
    let actions = now["correctiveActions"].as_array().unwrap();
    assert_eq!(
        actions.iter().map(id).collect::<Vec<_>>(),
        vec![id(&first), id(&second)]
    );
    assert_eq!(actions[0]["source"]["__typename"], "LearningResponseRecord");
    assert_eq!(actions[0]["source"]["id"], review["id"]);
    // The incident's own actions are the incident's, not the response's.
    let incident = app
        .gql(
            Some(&h.hana),
            "query($id: ID!) { incident(id: $id) { correctiveActions { id } } }",
            json!({ "id": a["id"] }),
        )
        .await;
    incident.assert_ok();
    assert_eq!(incident.data()["incident"]["correctiveActions"], json!([]));

    // A project started later is linked to the response that raised it.
    let later = start_project(&app, &h.quinn, &h.cardiology).await;
    let linked = response_of(
        &mutate(
            &app,
            &h.hana,
            "linkLearningResponse",
            "LinkLearningResponseInput",
            json!({ "learningResponseId": review["id"], "improvementProjectIds": [later["id"]] }),
        )
        .await,
        "linkLearningResponse",
    );
    assert_eq!(
        linked["improvementProjects"]
            .as_array()
            .unwrap()
            .iter()
            .map(id)
            .collect::<Vec<_>>(),
        vec![id(&project), id(&later)]
    );
}

#[tokio::test]
async fn only_those_who_govern_a_response_raise_actions_and_a_cancelled_one_takes_none() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lena = app.staff_with_email("lena", LEAD);
    let review = plan(&app, &h.hana, plan_input(&h.cardiology, &[])).await;

    app.try_create_corrective_action(&lena, corrective_action_input(&id(&review), LEAD))
        .await
        .assert_error("FORBIDDEN", None);
    app.try_create_corrective_action(&h.nina, corrective_action_input(&id(&review), LEAD))
        .await
        .assert_error("BAD_USER_INPUT", Some("sourceId"));

    let cancelled = response_of(
        &try_move(
            &app,
            &h.hana,
            &review,
            "CANCELLED",
            Some("Merged into the trust review"),
        )
        .await,
        "transitionLearningResponse",
    );
    assert_eq!(cancelled["status"], "CANCELLED");
    app.try_create_corrective_action(&h.hana, corrective_action_input(&id(&review), LEAD))
        .await
        .assert_error("BAD_USER_INPUT", Some("sourceId"));
    let resp = read(&app, &h.quinn, &review).await;
    resp.assert_ok();
    assert_eq!(resp.data()["node"]["correctiveActions"], json!([]));
}
