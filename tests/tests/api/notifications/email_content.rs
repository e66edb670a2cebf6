//! What an email says, and does not: the reference and a link, never a patient or the report.

use super::*;

// =============================================================================================
// What an email says, and does not
// =============================================================================================

#[tokio::test]
async fn emails_carry_the_reference_and_a_link_but_never_a_patient_or_the_report() {
    let mail = MailServer::start().await;
    let app = app_mailing(&mail, with_lists).await;
    let h = app.hospital().await;
    let olive = app.staff_with_email("olive", OLIVE);
    app.sign_in(&[&h.hana, &h.nina, &h.quinn, &olive]).await;

    let title_serious = "Zebedee Quartermain slid from trolley on ward 7B";
    let title_low = "Marmaduke Fothergill given wrong dressing";
    let description = "Side rails were left down while the porter fetched a blanket.";
    let immediate = "Checked for injury by Dr Persimmon and rails raised.";
    let patient = json!({ "nhsNumber": "9434765919", "name": "Zebedee Quartermain", "dateOfBirth": "1950-03-04" });
    let comment = "Spoke to the family of Mr Quartermain at the bedside.";

    let serious = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "title": title_serious, "description": description,
                        "immediateActions": immediate, "patient": patient,
                        "physicalHarm": "MODERATE", "location": "Ward 7B bay 3" }),
            ),
        )
        .await;
    app.comment(&h.hana, &id(&serious), comment).await;
    let low = app
        .report_incident(
            &h.alice,
            with(
                incident_input(&h.cardiology),
                json!({ "title": title_low, "description": description,
                        "immediateActions": immediate, "patient": patient }),
            ),
        )
        .await;
    app.comment(&h.quinn, &id(&low), comment).await;
    app.create_corrective_action(&h.hana, corrective_action_input(&id(&serious), OLIVE))
        .await;
    let triaged = app
        .triage(
            &h.quinn,
            &low,
            json!({ "feedbackToReporter": "Thank you: dressings are now double-checked.",
                    "learningSummary": "A second check of dressings before they are applied.",
                    "findings": "Nurse Clementine picked the wrong pack." }),
        )
        .await;
    app.transition(&h.quinn, &triaged, "CLOSED").await;

    // Serious: Hana, Quinn and both lists; low: Hana and the list; the action: Olive; the
    // closure: Alice.
    let outbox = all_sent(&app, &h.quinn, json!({}), 8).await;
    let messages = mail.wait_for(8, WAIT).await;
    assert_eq!(messages.len(), 8, "one email per notification");

    let by_message_id: BTreeMap<String, &Value> = outbox
        .iter()
        .map(|n| (n["messageId"].as_str().expect("messageId").to_string(), n))
        .collect();
    assert_eq!(
        by_message_id.len(),
        8,
        "every notification has its own Message-ID"
    );
    assert_eq!(
        arrivals(&messages).keys().cloned().collect::<BTreeSet<_>>(),
        by_message_id.keys().cloned().collect::<BTreeSet<_>>(),
        "the Message-IDs that arrived are the outbox's"
    );

    let secrets = [
        title_serious,
        title_low,
        description,
        immediate,
        "9434765919",
        "943 476 5919",
        "Zebedee",
        "Quartermain",
        "1950-03-04",
        "04/03/1950",
        comment,
        "Nurse Clementine",
        "Dr Persimmon",
        "Ward 7B",
        "Alice Test",
        "Hana Test",
        "Quinn Test",
        "Olive Test",
        "Ada Test",
    ];
    for m in &messages {
        assert_says_nothing_of(m, &secrets);

        let n = by_message_id[&m.message_id];
        assert_eq!(
            m.header("Message-ID"),
            Some(format!("<{}>", m.message_id).as_str()),
            "{:?}",
            m.headers
        );
        assert!(
            m.message_id.ends_with(&format!("@{MESSAGE_HOST}")),
            "Message-ID on the public host: {}",
            m.message_id
        );
        assert_eq!(m.to, vec![n["recipient"].as_str().unwrap().to_string()]);
        assert_eq!(m.from, FROM_ADDRESS);
        assert_eq!(m.subject, n["subject"].as_str().unwrap());
        assert_eq!(m.header("Auto-Submitted"), Some("auto-generated"));
        let content_type = m.header("Content-Type").unwrap_or_default().to_lowercase();
        assert!(
            content_type.starts_with("multipart/alternative"),
            "text and HTML alternatives: {content_type}"
        );
        assert!(!m.text.trim().is_empty(), "a text part: {}", m.raw);
        let html = m
            .html
            .clone()
            .unwrap_or_else(|| panic!("an HTML part: {}", m.raw));
        let links = hrefs(&html);

        let reference = n["reference"]
            .as_str()
            .expect("every email here names an incident");
        assert!(m.text.contains(reference), "{}", m.text);
        assert!(html_unescape(&html).contains(reference), "{html}");
        if n["kind"] == "ACTION_ASSIGNED" {
            let link = format!("{PUBLIC_URL}/actions/");
            assert!(m.text.contains(&link), "{}", m.text);
            assert!(links.iter().any(|l| l.starts_with(&link)), "{links:?}");
        } else {
            assert!(m.subject.contains(reference), "{}", m.subject);
            let link = format!("{PUBLIC_URL}/incidents/{reference}");
            assert!(m.text.contains(&link), "{}", m.text);
            assert!(links.contains(&link), "{links:?} in {html}");
        }
    }
}
