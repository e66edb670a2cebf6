//! Plan-do-study-act cycles.

use super::*;

// ---------------------------------------------------------------------------------------------
// PDSA cycles
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_pdsa_cycle_moves_forward_from_plan_to_act_and_decides_its_outcome_at_act() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let lead = app.staff_with_email("lena", LEAD);
    let p = start(&app, &h.quinn, project_input(&h.cardiology)).await;
    let p = move_to(&app, &h.quinn, &p, "ACTIVE").await;

    try_add_cycle(
        &app,
        &h.alice,
        json!({ "projectId": p["id"], "title": "Not mine", "startDate": "2026-10-01" }),
    )
    .await
    .assert_error("FORBIDDEN", None);

    let resp = try_add_cycle(
        &app,
        &lead,
        json!({
            "projectId": p["id"], "title": "Bed rails check at handover",
            "plan": "Predict 30% fewer falls over four weeks.", "startDate": "2026-10-05",
        }),
    )
    .await;
    let with_cycle = project_of(&resp, "addPdsaCycle");
    assert_eq!(
        with_cycle["version"], p["version"],
        "cycles leave the version alone"
    );
    let cycles = with_cycle["pdsaCycles"].as_array().unwrap();
    assert_eq!(cycles.len(), 1, "{resp}");
    let cycle = cycles[0].clone();
    assert_eq!(cycle["stage"], "PLAN");
    assert_eq!(cycle["plan"], "Predict 30% fewer falls over four weeks.");
    assert!(
        cycle["outcome"].is_null() && cycle["endDate"].is_null(),
        "{cycle}"
    );

    // PLAN -> DO, by the lead.
    let resp = try_update_cycle(
        &app,
        &lead,
        &cycle,
        json!({ "stage": "DO", "do": "Rails checked at every handover for four weeks." }),
    )
    .await;
    let doing = cycle_in(&project_of(&resp, "updatePdsaCycle"), &id(&cycle));
    assert_eq!(doing["stage"], "DO");
    assert_eq!(doing["plan"], cycle["plan"], "what is not given stays");
    assert!(
        doing["version"].as_i64() > cycle["version"].as_i64(),
        "{doing}"
    );

    // A stale cycle version conflicts.
    try_update_cycle(&app, &lead, &cycle, json!({ "study": "late" }))
        .await
        .assert_error("CONFLICT", None);

    // DO -> STUDY, by the handler; no outcome yet, and no going back.
    let resp = try_update_cycle(
        &app,
        &h.hana,
        &doing,
        json!({ "stage": "STUDY", "study": "Falls fell from 6 to 3." }),
    )
    .await;
    let studying = cycle_in(&project_of(&resp, "updatePdsaCycle"), &id(&cycle));
    assert_eq!(studying["stage"], "STUDY");
    for back in ["PLAN", "DO"] {
        try_update_cycle(&app, &lead, &studying, json!({ "stage": back }))
            .await
            .assert_error("BAD_USER_INPUT", Some("stage"));
    }
    try_update_cycle(&app, &lead, &studying, json!({ "outcome": "ADOPT" }))
        .await
        .assert_error("BAD_USER_INPUT", Some("outcome"));
    try_update_cycle(&app, &lead, &studying, json!({ "endDate": "2026-10-04" }))
        .await
        .assert_error("BAD_USER_INPUT", Some("endDate"));
    try_update_cycle(&app, &h.nina, &studying, json!({ "stage": "ACT" }))
        .await
        .assert_error("FORBIDDEN", None);

    // STUDY -> ACT with the outcome and an end date, in one update.
    let resp = try_update_cycle(
        &app,
        &lead,
        &studying,
        json!({ "stage": "ACT", "act": "Adopt ward-wide.", "outcome": "ADOPT", "endDate": "2026-11-02" }),
    )
    .await;
    let acted = cycle_in(&project_of(&resp, "updatePdsaCycle"), &id(&cycle));
    assert_eq!(acted["stage"], "ACT");
    assert_eq!(acted["outcome"], "ADOPT");
    assert_eq!(acted["endDate"], "2026-11-02");
    assert_eq!(acted["do"], doing["do"]);
    assert_eq!(acted["study"], "Falls fell from 6 to 3.");
    try_update_cycle(&app, &lead, &acted, json!({ "stage": "STUDY" }))
        .await
        .assert_error("BAD_USER_INPUT", Some("stage"));

    // A later stage may be reached in one step; an end date may equal the start date.
    let resp = try_add_cycle(
        &app,
        &h.quinn,
        json!({ "projectId": p["id"], "title": "Falls champion", "startDate": "2026-09-01" }),
    )
    .await;
    let both = project_of(&resp, "addPdsaCycle");
    let titles: Vec<&str> = both["pdsaCycles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles,
        vec!["Falls champion", "Bed rails check at handover"],
        "cycles by start date: {resp}"
    );
    let second = both["pdsaCycles"][0].clone();
    try_update_cycle(
        &app,
        &h.quinn,
        &second,
        json!({ "stage": "DO", "endDate": "2026-08-31" }),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("endDate"));
    let resp = try_update_cycle(
        &app,
        &h.quinn,
        &second,
        json!({ "stage": "ACT", "outcome": "ABANDON", "endDate": "2026-09-01" }),
    )
    .await;
    let jumped = cycle_in(&project_of(&resp, "updatePdsaCycle"), &id(&second));
    assert_eq!(jumped["stage"], "ACT");
    assert_eq!(jumped["outcome"], "ABANDON");

    // Once the project is closed, cycles are frozen.
    let closed = move_to(&app, &h.quinn, &p, "CLOSED").await;
    try_add_cycle(
        &app,
        &lead,
        json!({ "projectId": closed["id"], "title": "Too late", "startDate": "2026-11-01" }),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("projectId"));
    try_update_cycle(&app, &lead, &jumped, json!({ "act": "More notes" }))
        .await
        .assert_error("BAD_USER_INPUT", Some("cycleId"));
}
