//! Information governance from the command line: generating and rotating the data key, and
//! verifying the audit trail.

use super::*;

#[test]
fn generate_data_key_prints_a_fresh_256_bit_key_each_time() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().unwrap();
    let first = generate_data_key(dir.path());
    let second = generate_data_key(dir.path());
    for key in [&first, &second] {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key)
            .unwrap_or_else(|e| panic!("{key:?} is not base64: {e}"));
        assert_eq!(bytes.len(), 32, "{key:?}");
    }
    assert_ne!(first, second, "a new key each time");
}

#[tokio::test]
async fn verify_trail_vouches_for_an_intact_chain_and_names_the_first_broken_link() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let key = generate_data_key(dir.path());
    let envs = [
        ("CANDOUR_DATABASE_URL", db.as_str()),
        ("CANDOUR_JWT_SECRET", SECRET),
        ("CANDOUR_DATA_KEY", key.as_str()),
    ];
    let server = start(dir.path(), &envs).await;
    let card = cardiology(dir.path(), &server.base).await;
    report(dir.path(), &server.base, &card, json!({})).await;
    report(dir.path(), &server.base, &card, json!({})).await;
    let conn = connect(&db).await;
    wait_until_sealed(&conn).await;
    drop(server);

    let out = run(dir.path(), &envs, &["verify-trail"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(text.starts_with("trail intact:"), "{text}");
    assert!(text.contains("3 events checked"), "{text}");
    let (seq, hash) = head(&conn).await;
    assert_eq!(seq, 3);
    assert!(
        text.contains(&format!("head {seq} {hash}")),
        "the head is printed to anchor it: {text}"
    );

    let edited = conn
        .execute_unprepared("UPDATE trail_event SET changes = '[]' WHERE seq = 2")
        .await
        .unwrap();
    assert_eq!(edited.rows_affected(), 1);
    let out = run(dir.path(), &envs, &["verify-trail"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    assert!(text.starts_with("trail BROKEN at event 2"), "{text}");
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}

#[tokio::test]
async fn rotating_the_data_key_reseals_patients_so_only_the_new_key_is_needed() {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let k1 = generate_data_key(dir.path());
    let k2 = generate_data_key(dir.path());
    let (id1, id2) = (key_id(&k1), key_id(&k2));
    assert_ne!(id1, id2);
    let with_key = |current: &str, previous: Option<&str>| {
        let mut envs = vec![
            ("CANDOUR_DATABASE_URL".to_string(), db.clone()),
            ("CANDOUR_JWT_SECRET".to_string(), SECRET.to_string()),
            ("CANDOUR_DATA_KEY".to_string(), current.to_string()),
        ];
        if let Some(p) = previous {
            envs.push(("CANDOUR_DATA_KEY_PREVIOUS".to_string(), p.to_string()));
        }
        envs
    };
    let k1_only = with_key(&k1, None);
    let k2_only = with_key(&k2, None);
    let rotating = with_key(&k2, Some(&k1));
    let handler = token(dir.path(), "hana", "handler", &["CARD"]);
    let ig = token(dir.path(), "iris", "ig_officer", &[]);
    let read_patient =
        "query($id: ID!) { incident(id: $id) { id patient { nhsNumber name dateOfBirth } } }";

    // Reported under K1.
    let server = start(dir.path(), &borrow(&k1_only)).await;
    let card = cardiology(dir.path(), &server.base).await;
    let incident = report(
        dir.path(),
        &server.base,
        &card,
        json!({ "patient": { "nhsNumber": NHS, "name": "Mary Example", "dateOfBirth": "1950-06-01" } }),
    )
    .await;
    drop(server);
    let conn = connect(&db).await;
    let before = sealed_nhs_number(&conn).await;
    assert!(before.starts_with(&format!("v1.{id1}.")), "{before}");
    assert!(!before.contains(NHS), "{before}");

    // Rotated to K2, K1 still listed as previous.
    let out = run(dir.path(), &borrow(&rotating), &["rotate-data-key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("re-sealed 1 incidents"), "{text}");
    assert!(text.contains(&id2), "names the new key: {text}");
    let after = sealed_nhs_number(&conn).await;
    assert!(after.starts_with(&format!("v1.{id2}.")), "{after}");
    assert!(!after.contains(NHS), "{after}");

    // Again: nothing left to re-seal.
    let out = run(dir.path(), &borrow(&rotating), &["rotate-data-key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("re-sealed 0 incidents"),
        "{}",
        stdout(&out)
    );
    assert_eq!(sealed_nhs_number(&conn).await, after, "left as it was");

    // K2 alone opens the patient's details and finds them by NHS number.
    let server = start(dir.path(), &borrow(&k2_only)).await;
    let data = gql(
        &server.base,
        &handler,
        read_patient,
        json!({ "id": incident }),
    )
    .await;
    assert_eq!(
        data["incident"]["patient"],
        json!({ "nhsNumber": NHS, "name": "Mary Example", "dateOfBirth": "1950-06-01" })
    );
    let data = gql(
        &server.base,
        &ig,
        "query($n: String!) { subjectAccessReport(nhsNumber: $n) { incidents { id } } }",
        json!({ "n": NHS }),
    )
    .await;
    assert_eq!(
        data["subjectAccessReport"]["incidents"],
        json!([{ "id": incident }]),
        "found by the look-up hash under the new key"
    );
    drop(server);

    // K1 alone no longer opens them: an INTERNAL error for that field, not a crash.
    let server = start(dir.path(), &borrow(&k1_only)).await;
    let (status, body) = post(
        &server.base,
        &handler,
        read_patient,
        json!({ "id": incident }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INTERNAL",
        "{body}"
    );
    assert!(body["data"]["incident"]["patient"].is_null(), "{body}");
    assert_eq!(body["data"]["incident"]["id"], incident.as_str(), "{body}");
    let text = body.to_string();
    assert!(!text.contains(NHS) && !text.contains("Mary"), "{text}");
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "the server is still up");
}

/// The ids of the access events `accessLog` finds by the patient's NHS number.
async fn reads_found_by_nhs_number(base: &str, ig: &str) -> Vec<String> {
    let data = gql(
        base,
        ig,
        "query($n: String) { accessLog(first: 100, filter: { nhsNumber: $n }) {
           edges { node { id } } pageInfo { hasNextPage } } }",
        json!({ "n": NHS }),
    )
    .await;
    assert_eq!(data["accessLog"]["pageInfo"]["hasNextPage"], false);
    let mut ids: Vec<String> = data["accessLog"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

/// The incidents a subject-access report finds for the patient.
async fn subject_access(base: &str, ig: &str) -> Value {
    gql(
        base,
        ig,
        "query($n: String!) { subjectAccessReport(nhsNumber: $n) { incidents { id } } }",
        json!({ "n": NHS }),
    )
    .await["subjectAccessReport"]["incidents"]
        .clone()
}

#[tokio::test]
async fn only_the_new_key_opens_no_patient_until_rotation_then_their_reads_are_found_by_nhs_number()
{
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(dir.path()).await;
    let k1 = generate_data_key(dir.path());
    let k2 = generate_data_key(dir.path());
    let (id1, id2) = (key_id(&k1), key_id(&k2));
    let k1_only = keyed(&db, &k1, None);
    let k2_only = keyed(&db, &k2, None);
    let rotating = keyed(&db, &k2, Some(&k1));
    let handler = token(dir.path(), "hana", "handler", &["CARD"]);
    let ig = token(dir.path(), "iris", "ig_officer", &[]);
    let read_patient =
        "query($id: ID!) { incident(id: $id) { id patient { nhsNumber name dateOfBirth } } }";
    let mary = json!({ "nhsNumber": NHS, "name": "Mary Example", "dateOfBirth": "1950-06-01" });

    // Under K1: reported, read by its handler, and a subject-access report made.
    let server = start(dir.path(), &borrow(&k1_only)).await;
    let card = cardiology(dir.path(), &server.base).await;
    let incident = report(dir.path(), &server.base, &card, json!({ "patient": mary })).await;
    let data = gql(
        &server.base,
        &handler,
        read_patient,
        json!({ "id": incident }),
    )
    .await;
    assert_eq!(data["incident"]["patient"], mary);
    assert_eq!(
        subject_access(&server.base, &ig).await,
        json!([{ "id": incident }])
    );
    let reads_under_k1 = reads_found_by_nhs_number(&server.base, &ig).await;
    assert!(
        reads_under_k1.len() >= 2,
        "the handler's read and the subject-access report: {reads_under_k1:?}"
    );
    drop(server);
    let conn = connect(&db).await;
    let sealed_under_k1 = sealed_nhs_number(&conn).await;
    assert!(
        sealed_under_k1.starts_with(&format!("v1.{id1}.")),
        "{sealed_under_k1}"
    );

    // K2 alone, before rotating: the patient cannot be opened. An error for that field, not
    // garbage, and the server stays up.
    let server = start(dir.path(), &borrow(&k2_only)).await;
    let (status, body) = post(
        &server.base,
        &handler,
        read_patient,
        json!({ "id": incident }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INTERNAL",
        "{body}"
    );
    assert!(body["data"]["incident"]["patient"].is_null(), "{body}");
    assert_eq!(body["data"]["incident"]["id"], incident.as_str(), "{body}");
    let text = body.to_string();
    assert!(
        !text.contains(NHS) && !text.contains("Mary") && !text.contains("1950"),
        "{text}"
    );
    // Nor found by NHS number: look-ups hash under the keys the server has.
    assert_eq!(subject_access(&server.base, &ig).await, json!([]));
    let found = reads_found_by_nhs_number(&server.base, &ig).await;
    assert!(
        reads_under_k1.iter().all(|r| !found.contains(r)),
        "{found:?}"
    );
    let ready = reqwest::get(format!("{}/readyz", server.base))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200, "the server is still up");
    drop(server);
    assert_eq!(
        sealed_nhs_number(&conn).await,
        sealed_under_k1,
        "the server changed nothing it could not open"
    );

    // Rotating needs the key that sealed them: without it, it says so and changes nothing.
    let out = run(dir.path(), &borrow(&k2_only), &["rotate-data-key"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("data_key_previous"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert_eq!(sealed_nhs_number(&conn).await, sealed_under_k1);

    // Rotated, with K1 as the previous key.
    let out = run(dir.path(), &borrow(&rotating), &["rotate-data-key"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with(&format!("re-sealed 1 incidents under key {id2}; re-keyed ")),
        "{text}"
    );
    let rekeyed: usize = text
        .rsplit_once("re-keyed ")
        .and_then(|(_, n)| n.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count of re-keyed entries: {text}"));
    assert!(rekeyed >= reads_under_k1.len(), "{text}");

    // K2 alone, after: the patient reads in clear, the subject-access report finds them, and
    // every read recorded under K1 is found by their NHS number.
    let server = start(dir.path(), &borrow(&k2_only)).await;
    let data = gql(
        &server.base,
        &handler,
        read_patient,
        json!({ "id": incident }),
    )
    .await;
    assert_eq!(data["incident"]["patient"], mary);
    assert_eq!(
        subject_access(&server.base, &ig).await,
        json!([{ "id": incident }])
    );
    let found = reads_found_by_nhs_number(&server.base, &ig).await;
    for read in &reads_under_k1 {
        assert!(found.contains(read), "{read} not found: {found:?}");
    }
}
