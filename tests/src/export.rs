//! CSV exports as a client downloads them: `GET /export/<list>.csv?filter=…&orderBy=…`
//! with a bearer token, the file read back with a CSV reader as a spreadsheet would.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::{GqlResponse, TestApp};

/// One export's answer: its status and headers, the raw bytes, and (for a file) its rows.
#[derive(Debug)]
pub struct Exported {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Exported {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    /// The answer as JSON (a refusal).
    #[track_caller]
    pub fn refusal(&self) -> GqlResponse {
        let body = serde_json::from_slice(&self.bytes).unwrap_or_else(|_| {
            panic!(
                "expected a JSON refusal, got HTTP {} {:?}",
                self.status,
                String::from_utf8_lossy(&self.bytes)
            )
        });
        GqlResponse {
            status: self.status,
            headers: self.headers.clone(),
            body,
        }
    }

    /// The file without its byte order mark, after checking it has one.
    #[track_caller]
    pub fn text(&self) -> &str {
        assert_eq!(
            self.status,
            200,
            "export refused: {:?}",
            String::from_utf8_lossy(&self.bytes)
        );
        assert!(
            self.bytes.starts_with(b"\xEF\xBB\xBF"),
            "the file starts with the UTF-8 byte order mark"
        );
        std::str::from_utf8(&self.bytes[3..]).expect("the file is UTF-8")
    }

    /// The header row.
    #[track_caller]
    pub fn columns(&self) -> Vec<String> {
        let mut r = reader(self.text());
        r.headers()
            .expect("a header row")
            .iter()
            .map(str::to_string)
            .collect()
    }

    /// Every row, by column name.
    #[track_caller]
    pub fn rows(&self) -> Vec<BTreeMap<String, String>> {
        let mut r = reader(self.text());
        let columns: Vec<String> = r
            .headers()
            .expect("a header row")
            .iter()
            .map(str::to_string)
            .collect();
        r.records()
            .map(|rec| {
                let rec = rec.expect("a well-formed CSV record");
                assert_eq!(rec.len(), columns.len(), "every row has every column");
                columns
                    .iter()
                    .cloned()
                    .zip(rec.iter().map(str::to_string))
                    .collect()
            })
            .collect()
    }

    /// One column of every row, in order.
    #[track_caller]
    pub fn column(&self, name: &str) -> Vec<String> {
        self.rows()
            .into_iter()
            .map(|r| {
                r.get(name)
                    .cloned()
                    .unwrap_or_else(|| panic!("no column {name}"))
            })
            .collect()
    }
}

fn reader(text: &str) -> csv::Reader<&[u8]> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes())
}

impl TestApp {
    /// `GET /export/{list}` with this token (none when None), `filter` and `orderBy` as JSON
    /// (left out when null), and any extra headers.
    pub async fn export_with(
        &self,
        token: Option<&str>,
        list: &str,
        filter: &Value,
        order_by: &Value,
        headers: &[(&str, &str)],
    ) -> Exported {
        let mut params = Vec::new();
        if !filter.is_null() {
            params.push(("filter", filter.to_string()));
        }
        if !order_by.is_null() {
            params.push(("orderBy", order_by.to_string()));
        }
        let mut req = self
            .client
            .get(self.url(&format!("/export/{list}")))
            .query(&params);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let resp = req.send().await.expect("GET /export");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.expect("read the export").to_vec();
        Exported {
            status,
            headers,
            bytes,
        }
    }

    /// `GET /export/{list}?filter=…` with this token.
    pub async fn export(&self, token: &str, list: &str, filter: Value) -> Exported {
        self.export_with(Some(token), list, &filter, &Value::Null, &[])
            .await
    }

    /// Every id of a GraphQL list (`incidents`, `correctiveActions`, `audits`,
    /// `obligations`) for this filter and order, page after page, in order.
    pub async fn list_ids(
        &self,
        token: &str,
        field: &str,
        input_types: (&str, Option<&str>),
        filter: &Value,
        order_by: &Value,
    ) -> Vec<String> {
        let (filter_type, order_type) = input_types;
        let (order_decl, order_arg) = match order_type {
            Some(t) => (format!(", $o: {t}"), ", orderBy: $o"),
            None => (String::new(), ""),
        };
        let query = format!(
            "query($f: {filter_type}, $after: String{order_decl}) {{
               {field}(first: 100, after: $after, filter: $f{order_arg}) {{
                 edges {{ node {{ id }} }} pageInfo {{ hasNextPage endCursor }}
               }}
             }}"
        );
        let mut ids = Vec::new();
        let mut after = Value::Null;
        loop {
            let mut vars = serde_json::json!({ "f": filter, "after": after });
            if order_type.is_some() {
                vars["o"] = order_by.clone();
            }
            let resp = self.gql(Some(token), &query, vars).await;
            let list = resp.assert_ok()[field].clone();
            ids.extend(crate::node_ids(&list));
            if list["pageInfo"]["hasNextPage"] != true {
                return ids;
            }
            after = list["pageInfo"]["endCursor"].clone();
        }
    }
}
