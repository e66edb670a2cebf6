//! Anonymous reporting: the reporter leaves no trace in any table, trail or request.

use super::*;

// ---------------------------------------------------------------------------------------------
// Anonymous reporting
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn after_an_anonymous_report_no_table_holds_the_reporters_subject_name_or_email() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let unique = uuid::Uuid::new_v4().simple().to_string();
    let subject = format!("anon-reporter-{unique}");
    let name = format!("Ottoline Fairweather-{}", &unique[..12]);
    let email = format!("ottoline.{}@wards.example", &unique[12..24]);
    let mut spec = TokenSpec::staff(&subject);
    spec.name = Some(name.clone());
    spec.email = Some(email.clone());
    let reporter = app.token(spec);
    // A log line naming the reporter would tie them to the report as surely as a row.
    for value in [&subject, &name, &email] {
        logs::register(value);
    }
    let marker = format!("Syringe driver alarm {}", &unique[24..]);

    let payload = report_payload(
        &app,
        &reporter,
        with(
            report_with_patient(&h.cardiology, NHS),
            json!({ "anonymous": true, "title": marker, "idempotencyKey": format!("form-{unique}") }),
        ),
    )
    .await;
    let code = payload["followUpCode"]
        .as_str()
        .expect("a follow-up code")
        .to_string();
    assert!(
        code.chars().count() >= 32,
        "a follow-up code of {} characters is guessable",
        code.chars().count()
    );
    // Whoever holds the code reads what was fed back: it is kept out of the logs too.
    logs::register(&code);
    // The reporter checks on it later, and the department handles it.
    let follow_up = app
        .gql(
            None,
            "query($c: String!) { followUp(code: $c) { reference status } }",
            json!({ "c": code }),
        )
        .await;
    follow_up.assert_ok();
    app.incident_full(&h.hana, &id(&payload["incident"])).await;
    app.comment(&h.hana, &id(&payload["incident"]), "Pump sent to EBME.")
        .await;

    let rows = every_row_as_text(&app).await;
    let tables: BTreeSet<&str> = rows.iter().map(|(t, _)| t.as_str()).collect();
    for expected in ["incident", "staff", "trail_event", "access_event"] {
        assert!(
            tables.contains(expected),
            "no rows read from {expected}: {tables:?}"
        );
    }
    // The scan does see what the report stored...
    assert!(
        rows.iter()
            .any(|(t, r)| t == "incident" && r.contains(&marker)),
        "the scan did not find the report's title in the incident table"
    );
    // ...and nothing of who made it, nor the follow-up code (kept only as its hash).
    for needle in [&subject, &name, &email, &reporter, &code] {
        let needle = needle.to_lowercase();
        let found: Vec<&(String, String)> = rows
            .iter()
            .filter(|(_, r)| r.to_lowercase().contains(&needle))
            .collect();
        assert!(
            found.is_empty(),
            "the anonymous reporter's {needle:?} is stored: {found:#?}"
        );
    }
}

#[tokio::test]
async fn a_known_reporters_staff_record_is_untouched_by_their_anonymous_report() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    // Olwen has used Candour before under her old surname, so she has a staff record.
    let mut before = TokenSpec::staff("olwen");
    before.name = Some("Olwen Marchbank".into());
    before.email = Some("olwen.marchbank@wards.example".into());
    let old_token = app.token(before);
    app.gql(Some(&old_token), "{ me { subject } }", json!({}))
        .await
        .assert_ok();
    let staff_rows = |rows: Vec<(String, String)>| -> Vec<String> {
        rows.into_iter()
            .filter(|(t, r)| t == "staff" && r.contains("olwen"))
            .map(|(_, r)| r)
            .collect()
    };
    let stored_before = staff_rows(every_row_as_text(&app).await);
    assert_eq!(stored_before.len(), 1, "{stored_before:?}");

    // Her token now carries a new name: any request that named her would update the record
    // at once (the claims changed), so an untouched record shows that nothing did.
    let mut after = TokenSpec::staff("olwen");
    after.name = Some("Olwen Tregarthen".into());
    after.email = Some("olwen.tregarthen@wards.example".into());
    let new_token = app.token(after);
    // Only this anonymous report carries her new name and email: no log line may hold them.
    // (Her subject, "olwen", is too short to register and is hers in named requests too.)
    logs::register("Olwen Tregarthen");
    logs::register("olwen.tregarthen@wards.example");
    let payload = report_payload(
        &app,
        &new_token,
        with(
            incident_input(&h.cardiology),
            json!({ "anonymous": true, "idempotencyKey": uuid::Uuid::new_v4().to_string() }),
        ),
    )
    .await;
    assert!(payload["followUpCode"].is_string(), "{payload}");

    let rows = every_row_as_text(&app).await;
    assert_eq!(
        staff_rows(rows.clone()),
        stored_before,
        "the anonymous report touched her staff record"
    );
    for needle in ["tregarthen", "Tregarthen"] {
        let found: Vec<&(String, String)> =
            rows.iter().filter(|(_, r)| r.contains(needle)).collect();
        assert!(found.is_empty(), "{needle} is stored: {found:#?}");
    }
}

#[tokio::test]
async fn staff_records_keep_the_day_people_were_seen_not_the_time() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    app.gql(Some(&h.alice), "{ me { subject } }", json!({}))
        .await
        .assert_ok();
    let db = app.db().await;
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT first_seen_at, last_seen_at FROM staff",
        ))
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        for column in ["first_seen_at", "last_seen_at"] {
            let t: chrono::DateTime<Utc> = r.try_get("", column).unwrap();
            assert_eq!(
                t.time(),
                chrono::NaiveTime::MIN,
                "{column} {t} holds a time of day"
            );
            assert!(Utc::now() - t < Duration::days(2), "{column} {t}");
        }
    }
    db.close().await.ok();
}

#[tokio::test]
async fn an_anonymous_report_is_refused_unless_it_is_alone_in_its_request() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let anonymous = with(
        incident_input(&h.cardiology),
        json!({ "anonymous": true, "title": "Anonymous report sent with company" }),
    );

    // In a batch, beside a read that would be logged under the reporter's name.
    let batch = app
        .post_graphql(
            Some(&h.bob),
            &json!([
                { "query": REPORT, "variables": { "input": anonymous } },
                { "query": "{ me { subject } }" },
            ]),
        )
        .await;
    assert_eq!(batch.status, 200, "{}", batch.body);
    let first = &batch.body[0];
    assert_eq!(
        first["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{first}"
    );
    assert_eq!(
        first["errors"][0]["extensions"]["field"], "anonymous",
        "{first}"
    );
    assert!(
        first["data"].is_null() || first["data"]["reportIncident"].is_null(),
        "{first}"
    );

    // In one operation beside another field.
    let two = app
        .gql(
            Some(&h.bob),
            "mutation($a: ReportIncidentInput!, $b: ReportIncidentInput!) {
               a: reportIncident(input: $a) { followUpCode }
               b: reportIncident(input: $b) { incident { id } } }",
            json!({ "a": anonymous, "b": incident_input(&h.cardiology) }),
        )
        .await;
    let errors = two.errors();
    assert!(
        errors.iter().any(|e| e["path"][0] == "a"
            && e["extensions"]["code"] == "BAD_USER_INPUT"
            && e["extensions"]["field"] == "anonymous"),
        "{}",
        two.body
    );

    // A guessable idempotency key would hand the receipt to whoever guessed it.
    app.gql(
        Some(&h.bob),
        REPORT,
        json!({ "input": with(anonymous.clone(), json!({ "idempotencyKey": "form-1" })) }),
    )
    .await
    .assert_error("BAD_USER_INPUT", Some("idempotencyKey"));

    // None of those made an anonymous incident; alone, it is taken.
    let titles = |resp: GqlResponse| -> Vec<String> {
        resp.assert_ok()["incidents"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["title"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = titles(app.list_incidents(&h.quinn, json!({ "first": 50 })).await);
    assert!(
        !listed
            .iter()
            .any(|t| t == "Anonymous report sent with company"),
        "{listed:?}"
    );
    let alone = report_payload(&app, &h.bob, anonymous).await;
    assert!(alone["followUpCode"].is_string(), "{alone}");
}

#[tokio::test]
async fn the_trail_keeps_no_free_text_and_reporters_do_not_read_it() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let marker = |what: &str| {
        format!(
            "{what} Wilberforce-{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        )
    };
    let (title, findings, learning, feedback, reason, note, action_title) = (
        marker("title"),
        marker("findings"),
        marker("learning"),
        marker("feedback"),
        marker("reason"),
        marker("note"),
        marker("action"),
    );
    let incident = report(
        &app,
        &h.alice,
        with(incident_input(&h.cardiology), json!({ "title": title })),
    )
    .await;
    let triaged = app
        .triage(
            &h.hana,
            &incident,
            json!({ "findings": findings, "learningSummary": learning, "feedbackToReporter": feedback }),
        )
        .await;
    let action = app
        .create_corrective_action(
            &h.hana,
            with(
                corrective_action_input(&id(&triaged), "owner@trust.example"),
                json!({ "title": action_title }),
            ),
        )
        .await;
    app.update_action(&h.hana, &action, json!({ "note": note }))
        .await;
    app.transition_because(&h.hana, &triaged, "DECLINED", &reason)
        .await;

    let rows = every_row_as_text(&app).await;
    for text in [
        &title,
        &findings,
        &learning,
        &feedback,
        &reason,
        &note,
        &action_title,
    ] {
        let in_trail: Vec<&(String, String)> = rows
            .iter()
            .filter(|(t, r)| t == "trail_event" && r.contains(text.as_str()))
            .collect();
        assert!(in_trail.is_empty(), "{text} is in the trail: {in_trail:#?}");
        assert!(
            rows.iter().any(|(_, r)| r.contains(text.as_str())),
            "the scan did not find {text} where it belongs"
        );
    }

    // The handler sees that the words changed, without them.
    let history = |token: String| {
        let app = &app;
        let incident_id = id(&incident);
        async move {
            let resp = app
                .gql(
                    Some(&token),
                    "query($id: ID!) { incident(id: $id) { history { action changes { field before after sensitive } } } }",
                    json!({ "id": incident_id }),
                )
                .await;
            resp.assert_ok()["incident"]["history"]
                .as_array()
                .unwrap()
                .clone()
        }
    };
    let handlers = history(h.hana.clone()).await;
    let text_changes: Vec<Value> = handlers
        .iter()
        .flat_map(|e| e["changes"].as_array().cloned().unwrap_or_default())
        .filter(|c| {
            [
                "title",
                "findings",
                "learningSummary",
                "feedbackToReporter",
                "statusReason",
            ]
            .contains(&c["field"].as_str().unwrap_or(""))
        })
        .collect();
    assert_eq!(text_changes.len(), 5, "{}", pretty(&handlers));
    for c in &text_changes {
        assert_eq!(c["sensitive"], true, "{c}");
        assert!(c["before"].is_null() && c["after"].is_null(), "{c}");
    }

    // Its reporter sees the status and feedback, not who reviewed it or how.
    assert_eq!(history(h.alice.clone()).await, Vec::<Value>::new());
}

#[tokio::test]
async fn the_follow_up_code_shows_status_and_learning_without_signing_in() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let payload = report_payload(
        &app,
        &h.bob,
        with(
            report_with_patient(&h.cardiology, NHS),
            json!({ "anonymous": true }),
        ),
    )
    .await;
    let code = payload["followUpCode"]
        .as_str()
        .expect("a follow-up code")
        .to_string();
    let incident = &payload["incident"];
    let triaged = app
        .gql(
            Some(&h.hana),
            "mutation($input: TriageIncidentInput!) { triageIncident(input: $input) { incident { id status } } }",
            json!({ "input": {
                "incidentId": id(incident), "expectedVersion": incident["version"],
                "learningSummary": "Rails are now checked at every handover.",
                "feedbackToReporter": "Thank you: the rails are now on the handover checklist.",
                "findings": "Internal: the night rota was short.",
            } }),
        )
        .await;
    triaged.assert_ok();

    let query = "query($c: String!) { followUp(code: $c) {
      reference status reportedAt closedAt learningSummary feedbackToReporter } }";
    let resp = app.gql(None, query, json!({ "c": code })).await;
    let follow_up = &resp.assert_ok()["followUp"];
    assert_eq!(follow_up["reference"], incident["reference"]);
    assert_eq!(follow_up["status"], "UNDER_REVIEW");
    assert_eq!(
        follow_up["learningSummary"],
        "Rails are now checked at every handover."
    );
    assert_eq!(
        follow_up["feedbackToReporter"],
        "Thank you: the rails are now on the handover checklist."
    );
    assert!(follow_up["closedAt"].is_null(), "{resp}");

    // Status and learning only: nothing else can even be asked for.
    let shape = app
        .gql(
            None,
            r#"{ __type(name: "AnonymousFollowUp") { fields { name } } }"#,
            json!({}),
        )
        .await;
    let names: BTreeSet<String> = shape.assert_ok()["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "closedAt",
            "feedbackToReporter",
            "learningSummary",
            "reference",
            "reportedAt",
            "status"
        ]
        .into_iter()
        .map(String::from)
        .collect::<BTreeSet<_>>()
    );
    let description = app
        .gql(
            None,
            "query($c: String!) { followUp(code: $c) { description } }",
            json!({ "c": code }),
        )
        .await;
    assert!(!description.errors().is_empty(), "{description}");

    let unknown = app
        .gql(
            None,
            query,
            json!({ "c": "ABCDEFGHJKMNPQRSTVWXYZ0123456789" }),
        )
        .await;
    assert!(unknown.assert_ok()["followUp"].is_null(), "{unknown}");
    assert_eq!(access_log(&app, json!({})).await, Vec::<Value>::new());
}

#[tokio::test]
async fn the_trail_of_an_anonymous_report_names_no_one_and_no_request() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let resp = app
        .gql(
            Some(&h.bob),
            REPORT,
            json!({ "input": with(incident_input(&h.cardiology), json!({ "anonymous": true })) }),
        )
        .await;
    resp.assert_ok();
    let incident_id = id(&resp.data()["reportIncident"]["incident"]);
    // A named report, for contrast.
    let named = app
        .gql(
            Some(&h.alice),
            REPORT,
            json!({ "input": incident_input(&h.cardiology) }),
        )
        .await;
    named.assert_ok();

    // Not even the reporter can find it again as theirs.
    read_incident(&app, &h.bob, &incident_id, "title")
        .await
        .assert_error("NOT_FOUND", None);
    assert!(!app
        .visible_incident_ids(&h.bob)
        .await
        .contains(&incident_id));

    let history = app.history(&h.hana, &incident_id).await;
    let reported: Vec<&Value> = history
        .iter()
        .filter(|e| e["action"] == "incident.reported")
        .collect();
    assert_eq!(reported.len(), 1, "{}", pretty(&history));
    assert!(reported[0]["actorLabel"].is_null(), "{}", reported[0]);
    assert!(reported[0]["actor"].is_null(), "{}", reported[0]);
    assert!(reported[0]["requestId"].is_null(), "{}", reported[0]);

    let trail = app
        .gql(
            Some(&ig_officer(&app)),
            "query($action: String) { auditTrail(first: 50, filter: { action: $action }) {
               edges { node { entityType action actorLabel actorRoles requestId actor { name } } } } }",
            json!({ "action": "incident.reported" }),
        )
        .await;
    let events: Vec<Value> = trail.assert_ok()["auditTrail"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    assert_eq!(events.len(), 2, "{trail}");
    // Newest first: the named report, then the anonymous one.
    assert_eq!(events[0]["actorLabel"], "alice");
    assert_eq!(events[0]["requestId"], named.request_id().as_str());
    let anonymous = &events[1];
    assert!(anonymous["actorLabel"].is_null(), "{anonymous}");
    assert!(anonymous["actorRoles"].is_null(), "{anonymous}");
    assert!(anonymous["actor"].is_null(), "{anonymous}");
    assert!(anonymous["requestId"].is_null(), "{anonymous}");
    assert!(
        !trail.body.to_string().contains(&resp.request_id()),
        "the anonymous report's request id is in the trail: {trail}"
    );
}
