//! The file itself: what a spreadsheet or a script receives.

use super::*;

#[tokio::test]
async fn an_export_is_a_utf8_csv_download_with_a_bom_crlf_rows_and_rfc_4180_quoting() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let title = "Scan booked twice, \"urgent\" flag lost";
    let description = "Second line of the story,\nwith a comma and \"quotes\".\r\nThird line.";
    let incident = report(
        &app,
        &h.alice,
        &h.cardiology,
        json!({ "title": title, "description": description, "location": "Echo room 2 – Wing C" }),
    )
    .await;

    let file = app.export(&h.hana, "incidents.csv", Value::Null).await;
    assert_eq!(file.status, 200);
    assert_eq!(
        file.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let disposition = file.header("content-disposition").unwrap();
    let today = chrono::Utc::now().date_naive();
    let named = |d: chrono::NaiveDate| format!("attachment; filename=\"incidents-{d}.csv\"");
    assert!(
        [today.pred_opt().unwrap(), today, today.succ_opt().unwrap()]
            .into_iter()
            .any(|d| disposition == named(d)),
        "a dated attachment: {disposition}"
    );
    assert_eq!(
        file.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(file.header("cache-control").as_deref(), Some("no-store"));

    let text = file.text();
    assert!(
        text.starts_with("id,reference,title,status,"),
        "the header row names the GraphQL fields: {text}"
    );
    // Every record ends CRLF; the only bare LF is the one inside the quoted description.
    assert!(text.ends_with("\r\n"));
    assert_eq!(
        text.matches("\r\n").count(),
        3,
        "header, the row, and the CRLF in the text"
    );
    assert_eq!(text.replace("\r\n", "").matches('\n').count(), 1);

    let rows = file.rows();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(row["id"], id(&incident));
    assert_eq!(row["reference"], reference_of(&incident));
    assert_eq!(row["title"], title);
    assert_eq!(
        row["description"], description,
        "quoted and read back whole"
    );
    assert_eq!(row["location"], "Echo room 2 – Wing C", "UTF-8 kept");
    assert_eq!(row["departmentCode"], "CARD");
    assert_eq!(row["status"], "REPORTED");
    assert_eq!(row["physicalHarm"], "LOW");
    assert_eq!(row["nearMiss"], "false");
    assert_eq!(
        parse_time(&json!(row["reportedAt"])),
        parse_time(&incident["reportedAt"])
    );
}

#[tokio::test]
async fn cells_a_spreadsheet_would_run_as_formulas_are_neutralised() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let titles = [
        "=HYPERLINK(\"http://x\")",
        "@SUM(1)",
        "+44 7700 900123 called",
        "-1 units given",
        "Plain title",
    ];
    for t in titles {
        report(
            &app,
            &h.alice,
            &h.cardiology,
            json!({ "title": t, "description": "=cmd|' /C calc'!A0" }),
        )
        .await;
    }

    let file = app.export(&h.hana, "incidents.csv", Value::Null).await;
    let mut got = file.column("title");
    got.sort();
    let mut want: Vec<String> = titles
        .iter()
        .map(|t| {
            if t.starts_with(['=', '@', '+', '-']) {
                format!("'{t}")
            } else {
                t.to_string()
            }
        })
        .collect();
    want.sort();
    assert_eq!(got, want);
    for d in file.column("description") {
        assert_eq!(d, "'=cmd|' /C calc'!A0", "free text is neutralised too");
    }
}

#[tokio::test]
async fn an_empty_list_exports_the_header_row_alone() {
    let app = spawn_app().await;
    let h = app.hospital().await;
    let file = app.export(&h.hana, "incidents.csv", Value::Null).await;
    assert_eq!(file.rows().len(), 0);
    assert_eq!(file.columns()[0], "id");
    assert!(file.text().ends_with("\r\n"));
}
