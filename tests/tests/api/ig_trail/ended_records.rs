//! Retention of audits and improvement projects: they fall due their configured years after
//! they end and are disposed of like incidents.

use super::*;

// ---------------------------------------------------------------------------------------------
// Retention of audits and improvement projects
// ---------------------------------------------------------------------------------------------

/// What the retention story reads of an audit or an improvement project.
const ENDED_RECORD: &str = "query($id: ID!) { node(id: $id) {
  __typename
  ... on Audit { id title standard status version closedAt retentionUntil disposedAt
                 findings { id criterion } }
  ... on ImprovementProject { id title aim status statusReason version closedAt retentionUntil
                 disposedAt pdsaCycles { id title plan do study act } }
} }";

async fn ended_record(app: &TestApp, token: &str, id: &Value) -> Value {
    let resp = app
        .gql(Some(token), ENDED_RECORD, json!({ "id": id }))
        .await;
    resp.assert_ok();
    let node = resp.data()["node"].clone();
    assert!(node["id"] == *id, "record {id} not returned: {resp}");
    node
}

/// Words of the audits' and projects' free text, which disposal must leave nowhere (in any
/// case: a criterion's key is the criterion lower-cased).
const AUDIT_WORDS: &[&str] = &[
    "GMC Decision making",
    "Consent form countersigned",
    "Risks discussed",
];
const PROJECT_WORDS: &[&str] = &[
    "Halve inpatient falls",
    "Mrs Patel",
    "Rails checked",
    "Falls fell",
    "Adopt ward-wide",
    "funding withdrawn",
];

/// One improvement-project mutation that must succeed; returns the project.
async fn project_mutation(
    app: &TestApp,
    token: &str,
    mutation: &str,
    input_type: &str,
    input: Value,
) -> Value {
    let resp = app
        .gql(
            Some(token),
            &format!(
                "mutation($input: {input_type}!) {{
                   {mutation}(input: $input) {{ improvementProject {{
                     id status version pdsaCycles {{ id version }}
                   }} }}
                 }}"
            ),
            json!({ "input": input }),
        )
        .await;
    resp.assert_ok();
    resp.data()[mutation]["improvementProject"].clone()
}

/// A cardiology improvement project run by the quality lead through one full PDSA cycle,
/// then ended: `CLOSED`, or `ABANDONED` with a reason.
async fn ended_project(app: &TestApp, h: &Hospital, title: &str, end: &str) -> Value {
    let q = &h.quinn;
    let started = project_mutation(
        app,
        q,
        "startImprovementProject",
        "StartImprovementProjectInput",
        json!({
            "title": title,
            "aim": "Halve inpatient falls on the cardiac ward after Mrs Patel's fall.",
            "departmentId": h.cardiology,
            "measures": [{ "name": "Falls per 1,000 bed days", "kind": "OUTCOME",
                           "unit": "falls per 1,000 bed days", "target": 2.5,
                           "betterWhen": "LOWER" }],
        }),
    )
    .await;
    let move_to = |project: Value, to: &str, reason: Option<&str>| {
        let input = json!({ "projectId": project["id"], "to": to,
                            "expectedVersion": project["version"], "reason": reason });
        project_mutation(
            app,
            q,
            "transitionImprovementProject",
            "TransitionImprovementProjectInput",
            input,
        )
    };
    let active = move_to(started, "ACTIVE", None).await;
    raise_completed_action(app, h, &active["id"]).await;
    let with_cycle = project_mutation(
        app,
        q,
        "addPdsaCycle",
        "AddPdsaCycleInput",
        json!({ "projectId": active["id"], "title": "Rails checked with Mrs Patel's family",
                "plan": "Predict 30% fewer falls over four weeks.", "startDate": "2026-10-05" }),
    )
    .await;
    let cycle = &with_cycle["pdsaCycles"][0];
    let acted = project_mutation(
        app,
        q,
        "updatePdsaCycle",
        "UpdatePdsaCycleInput",
        json!({ "cycleId": cycle["id"], "expectedVersion": cycle["version"], "stage": "ACT",
                "do": "Rails checked at every handover.", "study": "Falls fell from 6 to 3.",
                "act": "Adopt ward-wide.", "outcome": "ADOPT", "endDate": "2026-11-02" }),
    )
    .await;
    let reason = (end == "ABANDONED").then_some("The ward's funding withdrawn.");
    let ended = move_to(acted, end, reason).await;
    assert_eq!(ended["status"], end, "{ended}");
    ended_record(app, q, &ended["id"]).await
}

fn plus_years(t: chrono::DateTime<chrono::Utc>, years: u32) -> chrono::DateTime<chrono::Utc> {
    t.checked_add_months(chrono::Months::new(years * 12))
        .unwrap()
}

#[tokio::test]
async fn audits_and_improvement_projects_fall_due_their_configured_years_after_they_end() {
    let app = spawn_app_with(|s| {
        s.retention.audit_years = 2;
        s.retention.improvement_project_years = 3;
    })
    .await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");

    let old_audit = closed_audit(&app, &h, "Consent audit 2023").await;
    let recent_audit = closed_audit(&app, &h, "Consent audit 2024").await;
    let closed = ended_project(&app, &h, "Fewer falls", "CLOSED").await;
    let abandoned = ended_project(&app, &h, "Safer transfers", "ABANDONED").await;
    let planned = app.plan_audit(&h.quinn, audit_input(&h.cardiology)).await;

    // The date runs from the end, for the years configured for the kind of record.
    let audit_now = ended_record(&app, &h.quinn, &old_audit["id"]).await;
    assert_eq!(
        parse_time(&audit_now["retentionUntil"]),
        plus_years(parse_time(&audit_now["closedAt"]), 2),
        "{audit_now}"
    );
    for project in [&closed, &abandoned] {
        assert!(project["closedAt"].is_string(), "{project}");
        assert_eq!(
            parse_time(&project["retentionUntil"]),
            plus_years(parse_time(&project["closedAt"]), 3),
            "{project}"
        );
    }
    let running = ended_record(&app, &h.quinn, &planned["id"]).await;
    assert!(running["retentionUntil"].is_null(), "not ended: {running}");
    assert!(
        retention_due(&app, &ig, json!({})).await.is_empty(),
        "nothing has been kept its years yet"
    );

    // Years later (their ends moved back behind the API): past the schedule by a day, or a
    // day short of it.
    let audit_end = years_ago(2, 1);
    ended_at(&app, "audit", &old_audit["id"], audit_end).await;
    ended_at(&app, "audit", &recent_audit["id"], years_ago(2, -1)).await;
    let closed_end = years_ago(3, 1);
    ended_at(&app, "improvement_project", &closed["id"], closed_end).await;
    let abandoned_end = years_ago(3, 2);
    ended_at(&app, "improvement_project", &abandoned["id"], abandoned_end).await;

    let due = retention_due(&app, &ig, json!({})).await;
    assert_eq!(
        due.iter()
            .map(|d| d["recordType"].clone())
            .collect::<Vec<_>>(),
        ["AUDIT", "IMPROVEMENT_PROJECT", "IMPROVEMENT_PROJECT"],
        "by type: {due:?}"
    );
    assert_eq!(
        record_ids(&due),
        sorted(&[&old_audit["id"], &closed["id"], &abandoned["id"]]),
        "the audit a day short of its two years is not due: {due:?}"
    );
    for (record, ended, years) in [
        (&old_audit, audit_end, 2),
        (&closed, closed_end, 3),
        (&abandoned, abandoned_end, 3),
    ] {
        let d = due.iter().find(|d| d["recordId"] == record["id"]).unwrap();
        assert_eq!(d["label"], record["title"], "{d}");
        assert_eq!(d["legalHold"], false, "{d}");
        assert_eq!(parse_time(&d["endedAt"]), ended, "{d}");
        assert_eq!(
            parse_time(&d["retentionUntil"]),
            plus_years(ended, years),
            "{d}"
        );
    }
    assert_eq!(
        record_ids(&retention_due(&app, &ig, json!({ "recordType": "AUDIT" })).await),
        sorted(&[&old_audit["id"]])
    );
    assert_eq!(
        record_ids(&retention_due(&app, &ig, json!({ "recordType": "IMPROVEMENT_PROJECT" })).await),
        sorted(&[&closed["id"], &abandoned["id"]])
    );
    assert!(
        retention_due(&app, &ig, json!({ "recordType": "INCIDENT" }))
            .await
            .is_empty()
    );

    // Disposal takes what is due, and only that.
    assert_eq!(
        dispose(&app, &ig).await,
        json!({ "incidents": 0, "audits": 1, "improvementProjects": 2, "held": 0 })
    );
    let kept = ended_record(&app, &h.quinn, &recent_audit["id"]).await;
    assert!(kept["disposedAt"].is_null(), "{kept}");
    assert!(
        kept["standard"].as_str().is_some_and(|s| !s.is_empty()),
        "{kept}"
    );
    assert!(retention_due(&app, &ig, json!({})).await.is_empty());
}

#[tokio::test]
async fn disposing_of_audits_and_projects_keeps_tombstones_and_trail_and_spares_held_ones() {
    let app = spawn_with_zero_year_retention().await;
    let h = app.hospital().await;
    let ig = app.ig_officer("iris");

    let audit = closed_audit(&app, &h, "Consent audit 2023").await;
    let held_audit = closed_audit(&app, &h, "Consent audit 2024").await;
    let closed = ended_project(&app, &h, "Fewer falls", "CLOSED").await;
    let abandoned = ended_project(&app, &h, "Safer transfers", "ABANDONED").await;
    let held_project = ended_project(&app, &h, "Fewer pressure ulcers", "CLOSED").await;
    let audit_hold = place_hold(&app, &ig, &held_audit["id"], "Coroner's inquest pending").await;
    let project_hold = place_hold(&app, &ig, &held_project["id"], "Claim received").await;

    // The content disposal must remove is stored to begin with.
    let stored_audit = stored_row(&app, "audit", &audit["id"], &["standard"]).await;
    assert!(
        col(&stored_audit, "standard").is_some_and(|s| s.contains("GMC Decision making")),
        "{stored_audit:?}"
    );
    let stored = stored_row(
        &app,
        "improvement_project",
        &abandoned["id"],
        &["aim", "status_reason"],
    )
    .await;
    assert!(
        col(&stored, "aim").is_some_and(|s| s.contains("Mrs Patel")),
        "{stored:?}"
    );
    assert!(col(&stored, "status_reason").is_some(), "{stored:?}");

    let due = retention_due(&app, &ig, json!({})).await;
    assert_eq!(due.len(), 5, "{due:?}");
    for d in &due {
        let held = d["recordId"] == held_audit["id"] || d["recordId"] == held_project["id"];
        assert_eq!(d["legalHold"], held, "{d}");
    }

    assert_eq!(
        dispose(&app, &ig).await,
        json!({ "incidents": 0, "audits": 1, "improvementProjects": 2, "held": 2 }),
        "the held audit and project are spared"
    );

    // Through the API: tombstones, their identity and dates kept.
    let tomb = ended_record(&app, &h.quinn, &audit["id"]).await;
    assert_eq!(tomb["title"], audit["title"], "{tomb}");
    assert_eq!(tomb["status"], "CLOSED", "{tomb}");
    assert_eq!(tomb["closedAt"], audit["closedAt"], "{tomb}");
    assert!(tomb["disposedAt"].is_string(), "{tomb}");
    assert_eq!(tomb["standard"], "", "{tomb}");
    for project in [&closed, &abandoned] {
        let tomb = ended_record(&app, &h.quinn, &project["id"]).await;
        assert_eq!(tomb["title"], project["title"], "{tomb}");
        assert_eq!(tomb["status"], project["status"], "{tomb}");
        assert_eq!(tomb["closedAt"], project["closedAt"], "{tomb}");
        assert!(tomb["disposedAt"].is_string(), "{tomb}");
        assert_eq!(tomb["aim"], "", "{tomb}");
        assert!(tomb["statusReason"].is_null(), "{tomb}");
        let text = tomb.to_string().to_lowercase();
        for w in PROJECT_WORDS {
            assert!(
                !text.contains(&w.to_lowercase()),
                "{w:?} survived disposal: {tomb}"
            );
        }
    }
    let text = tomb.to_string().to_lowercase();
    for w in AUDIT_WORDS {
        assert!(
            !text.contains(&w.to_lowercase()),
            "{w:?} survived disposal: {tomb}"
        );
    }

    // In the database: the tombstone rows remain, none of the free text does.
    let stored = stored_row(
        &app,
        "audit",
        &audit["id"],
        &["title", "standard", "status", "closed_at", "disposed_at"],
    )
    .await;
    assert_emptied(&stored, &["standard"], AUDIT_WORDS);
    assert_eq!(col(&stored, "title"), audit["title"].as_str());
    assert_eq!(col(&stored, "status"), Some("CLOSED"));
    assert!(col(&stored, "disposed_at").is_some(), "{stored:?}");
    let findings = stored_rows(
        &app,
        "audit_finding",
        "audit_id",
        &audit["id"],
        &[
            "criterion",
            "criterion_key",
            "sample_size",
            "compliant_count",
        ],
    )
    .await;
    assert_eq!(
        findings.len(),
        2,
        "the findings' numbers are kept: {findings:?}"
    );
    for f in &findings {
        assert_emptied(f, &[], AUDIT_WORDS);
        assert_eq!(col(f, "sample_size"), Some("40"), "{f:?}");
    }
    assert_ne!(
        col(&findings[0], "criterion_key"),
        col(&findings[1], "criterion_key")
    );
    for project in [&closed, &abandoned] {
        let stored = stored_row(
            &app,
            "improvement_project",
            &project["id"],
            &[
                "title",
                "aim",
                "status",
                "status_reason",
                "closed_at",
                "disposed_at",
            ],
        )
        .await;
        assert_emptied(&stored, &["aim", "status_reason"], PROJECT_WORDS);
        assert_eq!(col(&stored, "title"), project["title"].as_str());
        assert_eq!(col(&stored, "status"), project["status"].as_str());
        assert!(col(&stored, "closed_at").is_some(), "{stored:?}");
        assert!(col(&stored, "disposed_at").is_some(), "{stored:?}");
        let cycles = stored_rows(
            &app,
            "pdsa_cycle",
            "project_id",
            &project["id"],
            &["title", "plan", "do", "study", "act", "stage"],
        )
        .await;
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        for c in &cycles {
            assert_emptied(c, &["plan", "do", "study", "act"], PROJECT_WORDS);
        }
    }

    // The actions raised from them keep their rows and lose their words.
    let action_columns = ["title", "description", "note", "status"];
    let mut actions = stored_rows(
        &app,
        "corrective_action",
        "audit_finding_id",
        &audit["findings"][0]["id"],
        &action_columns,
    )
    .await;
    for project in [&closed, &abandoned] {
        actions.extend(
            stored_rows(
                &app,
                "corrective_action",
                "improvement_project_id",
                &project["id"],
                &action_columns,
            )
            .await,
        );
    }
    assert_eq!(actions.len(), 3, "{actions:?}");
    for a in &actions {
        assert_emptied(a, &["description", "note"], &[ACTION_WORDS]);
        assert_eq!(col(a, "title"), Some("Disposed record"), "{a:?}");
        assert_eq!(col(a, "status"), Some("COMPLETED"), "the row stays: {a:?}");
    }
    let kept = stored_rows(
        &app,
        "corrective_action",
        "improvement_project_id",
        &held_project["id"],
        &action_columns,
    )
    .await;
    assert!(
        col(&kept[0], "description").is_some_and(|d| d.contains(ACTION_WORDS)),
        "a held project's action keeps its words: {kept:?}"
    );

    // The held ones keep everything.
    let kept = stored_row(
        &app,
        "audit",
        &held_audit["id"],
        &["standard", "disposed_at"],
    )
    .await;
    assert!(col(&kept, "disposed_at").is_none(), "{kept:?}");
    assert!(
        col(&kept, "standard").is_some_and(|s| s.contains("GMC")),
        "{kept:?}"
    );
    let kept = ended_record(&app, &h.quinn, &held_project["id"]).await;
    assert!(kept["disposedAt"].is_null(), "{kept}");
    assert_eq!(kept["aim"], held_project["aim"], "{kept}");
    assert_eq!(kept["pdsaCycles"], held_project["pdsaCycles"], "{kept}");

    // The trail says who disposed of what, and keeps none of the words.
    for (record, action) in [
        (&audit, "audit.disposed"),
        (&closed, "improvement_project.disposed"),
        (&abandoned, "improvement_project.disposed"),
    ] {
        let events = all_events(&app, &ig, json!({ "recordId": record["id"] })).await;
        assert_eq!(events[0]["action"], action, "newest first: {events:?}");
        assert_eq!(events[0]["actorLabel"], "iris", "{events:?}");
        assert_eq!(
            events.iter().filter(|e| e["action"] == action).count(),
            1,
            "{events:?}"
        );
    }
    assert_eq!(
        all_events(&app, &ig, json!({ "action": "audit.disposed" }))
            .await
            .len(),
        1
    );
    assert_eq!(
        all_events(
            &app,
            &ig,
            json!({ "action": "improvement_project.disposed" })
        )
        .await
        .len(),
        2
    );

    // Released, the held ones go at the next disposal.
    for hold in [&audit_hold, &project_hold] {
        try_release_hold(&app, &ig, &hold["id"], "Concluded")
            .await
            .assert_ok();
    }
    assert_eq!(
        dispose(&app, &ig).await,
        json!({ "incidents": 0, "audits": 1, "improvementProjects": 1, "held": 0 })
    );
    assert!(retention_due(&app, &ig, json!({})).await.is_empty());
    let gone = ended_record(&app, &h.quinn, &held_audit["id"]).await;
    assert!(gone["disposedAt"].is_string(), "{gone}");

    let integrity = sealed(&app, &ig).await;
    assert_eq!(integrity["intact"], true, "{integrity}");
}
