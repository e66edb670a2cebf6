//! Many instances on one database: two dispatchers never send one version twice nor two
//! versions of one incident out of turn, and a version taken by an instance that dies
//! mid-send is sent by another once its lease runs out.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

#[tokio::test]
async fn two_instances_on_one_database_never_send_the_same_version_twice() {
    let lfpse = LfpseServer::start().await;
    // Every answer takes a while, so the two dispatchers overlap.
    lfpse.script(&vec![Answer::Slow { secs: 0.15 }; 60]).await;
    let first = app_submitting(&lfpse, |s| s.lfpse.batch = 4).await;
    let second = first.another_instance(|_| {}).await;
    let h = first.hospital().await;
    let instances = [&first, &second];

    let mut incidents = Vec::new();
    for i in 0..12 {
        let app = instances[i % 2];
        incidents.push(
            app.report_incident(&h.alice, incident_input(&h.cardiology))
                .await,
        );
    }
    eventually("every report submitted", || async {
        submissions(&first, &h.quinn, &["SENT"]).await.len() == 12
    })
    .await;
    // A second version of each, changed through either instance.
    for (i, incident) in incidents.iter().enumerate() {
        instances[(i + 1) % 2]
            .triage(&h.quinn, incident, json!({ "physicalHarm": "MODERATE" }))
            .await;
    }
    eventually("every second version submitted", || async {
        submissions(&second, &h.quinn, &["SENT"]).await.len() == 24
    })
    .await;
    for incident in &incidents {
        submitted(&first, &h.quinn, &id(incident), 2).await;
    }

    let requests = lfpse.requests().await;
    assert_eq!(requests.len(), 24, "one request per version: {requests:?}");
    assert!(requests.iter().all(|r| r.answered.is_some_and(|s| s < 300)));
    let posts: Vec<String> = requests
        .iter()
        .filter(|r| r.method == "POST")
        .map(reference_sent)
        .collect();
    let created: BTreeSet<String> = posts.iter().cloned().collect();
    assert_eq!(
        (posts.len(), created.len()),
        (12, 12),
        "each incident created once: {posts:?}"
    );
    let mut updates: BTreeMap<String, usize> = BTreeMap::new();
    for r in requests.iter().filter(|r| r.method == "PUT") {
        *updates
            .entry(r.updated_id().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(updates.len(), 12, "{updates:?}");
    assert!(
        updates.values().all(|n| *n == 1),
        "each updated once: {updates:?}"
    );
    // In turn: each incident's update came after LFPSE answered its create.
    for incident in &incidents {
        let mine = about(&requests, &reference_of(incident));
        assert_eq!(
            mine.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(),
            ["POST", "PUT"],
            "{mine:?}"
        );
    }
}

#[tokio::test]
async fn a_version_taken_by_an_instance_that_dies_is_sent_by_another_after_its_lease() {
    let lfpse = LfpseServer::start().await;
    lfpse.script(&[Answer::Hang { secs: 30.0 }]).await;
    // Lease longer than the timeout (the configuration insists); both long enough for the
    // test to see the send hang and stop the instance before it gives up.
    let doomed = app_submitting(&lfpse, |s| {
        s.lfpse.timeout_secs = 8;
        s.lfpse.lease_secs = 9;
    })
    .await;
    let h = doomed.hospital().await;
    let incident = doomed
        .report_incident(&h.alice, incident_input(&h.cardiology))
        .await;
    lfpse.wait_for(1, WAIT).await;
    // Taken and mid-send: nothing recorded yet.
    let l = lfpse_of(&doomed, &h.quinn, &id(&incident)).await;
    assert_eq!(
        (l["status"].as_str(), l["attempts"].as_i64()),
        (Some("QUEUED"), Some(0)),
        "{l}"
    );
    doomed.stop(false).await;

    let survivor = doomed
        .another_instance(|s| {
            s.lfpse.timeout_secs = 2;
            s.lfpse.lease_secs = 3;
        })
        .await;
    let l = submitted(&survivor, &h.quinn, &id(&incident), 1).await;
    assert_eq!(l["attempts"], 1, "the dead instance recorded nothing: {l}");
    assert_eq!(l["reference"], "W100001");
    let requests = lfpse.requests().await;
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].answered, None);
    assert_eq!(requests[1].answered, Some(201));
    assert!(
        requests[1].at - requests[0].at >= 8.0,
        "not before the lease ran out"
    );
    let rows = submissions(&survivor, &h.quinn, &[]).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
}
