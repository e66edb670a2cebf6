//! Due dates: an action is overdue only when past due and not done.

use super::*;

/// Actions in every state around today: returns (overdue ones, the rest).
async fn due_around_today(app: &TestApp, h: &Hospital) -> (Vec<Value>, Vec<Value>) {
    let incident = cardiac_incident(app, h).await;
    let due = |days: i64| json!({ "dueDate": days_from_today(days) });
    let raise_due = |days: i64, title: &str| {
        raise(
            app,
            &h.hana,
            &incident,
            OLIVE,
            with(due(days), json!({ "title": title })),
        )
    };

    let open_past = raise_due(-1, "open, due yesterday").await;
    let started_past = raise_due(-3, "in progress, due three days ago").await;
    let started_past = app
        .update_action(&h.hana, &started_past, json!({ "status": "IN_PROGRESS" }))
        .await;

    let open_today = raise_due(0, "open, due today").await;
    let open_tomorrow = raise_due(1, "open, due tomorrow").await;
    let completed_past = raise_due(-5, "completed late").await;
    let completed_past = app
        .update_action(&h.hana, &completed_past, json!({ "status": "COMPLETED" }))
        .await;
    let verified_past = raise_due(-5, "verified late").await;
    let verified_past = app
        .update_action(&h.hana, &verified_past, json!({ "status": "COMPLETED" }))
        .await;
    let verified_past = app
        .update_action(
            &h.quinn,
            &verified_past,
            json!({ "status": "VERIFIED", "effective": true }),
        )
        .await;
    let cancelled_past = raise_due(-5, "cancelled late").await;
    let cancelled_past = app
        .update_action(
            &h.hana,
            &cancelled_past,
            json!({ "status": "CANCELLED", "note": "Superseded" }),
        )
        .await;

    (
        vec![open_past, started_past],
        vec![
            open_today,
            open_tomorrow,
            completed_past,
            verified_past,
            cancelled_past,
        ],
    )
}

#[tokio::test]
async fn an_action_is_overdue_only_when_past_due_and_not_done() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let (overdue, rest) = due_around_today(&app, &h).await;

    for (action, expected) in overdue
        .iter()
        .map(|a| (a, true))
        .chain(rest.iter().map(|a| (a, false)))
    {
        let read = as_quinn(&app, &h, action).await;
        assert_eq!(
            read["overdue"], expected,
            "{} (status {}, due {}): {read}",
            read["title"], read["status"], read["dueDate"]
        );
    }
}

#[tokio::test]
async fn the_overdue_filter_splits_actions_exactly() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let (overdue, rest) = due_around_today(&app, &h).await;

    let listed = app
        .list_corrective_actions(
            &h.quinn,
            json!({ "first": 100, "filter": { "overdue": true } }),
        )
        .await;
    let connection = &listed.assert_ok()["correctiveActions"];
    assert_eq!(
        distinct(node_ids(connection), "action"),
        ids(&overdue.iter().collect::<Vec<_>>())
    );
    assert_eq!(connection["totalCount"], overdue.len());
    assert!(connection["edges"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["node"]["overdue"] == true));

    let listed = app
        .list_corrective_actions(
            &h.quinn,
            json!({ "first": 100, "filter": { "overdue": false } }),
        )
        .await;
    let connection = &listed.assert_ok()["correctiveActions"];
    assert_eq!(
        distinct(node_ids(connection), "action"),
        ids(&rest.iter().collect::<Vec<_>>())
    );
    assert_eq!(connection["totalCount"], rest.len());
}

// --- optimistic concurrency ----------------------------------------------------------------
