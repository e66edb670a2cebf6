//! Steps the stories share: reading ids and references out of answers, comparing lists as
//! sets, and looking behind the API at the database itself. Every story file gets them with
//! `use candour_tests::*;`.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::TestApp;

/// The `id` of a record in an answer (an incident, an action, an audit...).
#[track_caller]
pub fn id(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

/// The ids of several records, as a set.
#[track_caller]
pub fn ids(values: &[&Value]) -> BTreeSet<String> {
    values.iter().map(|v| id(v)).collect()
}

/// The `reference` of an incident (`INC-2025-000042`).
#[track_caller]
pub fn reference_of(incident: &Value) -> String {
    incident["reference"]
        .as_str()
        .unwrap_or_else(|| panic!("no reference in {incident}"))
        .to_string()
}

/// A JSON list of strings (enum values, ids...) as a set, so order does not matter.
#[track_caller]
pub fn set(values: &Value) -> BTreeSet<String> {
    values
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {values}"))
        .iter()
        .map(|v| v.as_str().expect("string").to_string())
        .collect()
}

/// The set a test expects, written as a slice of strings.
pub fn set_of(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|s| s.to_string()).collect()
}

/// Ids read from a list as a set, after checking the list named no `what` twice.
#[track_caller]
pub fn distinct(ids: Vec<String>, what: &str) -> BTreeSet<String> {
    let n = ids.len();
    let set: BTreeSet<String> = ids.into_iter().collect();
    assert_eq!(set.len(), n, "a list repeats an {what}: {set:?}");
    set
}

/// The `action` of each event in a history or trail, in order.
#[track_caller]
pub fn actions_of(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["action"].as_str().expect("action").to_string())
        .collect()
}

impl TestApp {
    /// A connection of its own to this server's database, to look behind the API (what is
    /// stored, and how) or to set up what no API call may.
    pub async fn db(&self) -> sea_orm::DatabaseConnection {
        sea_orm::Database::connect(&self.database_url)
            .await
            .unwrap_or_else(|e| panic!("connect to the test database {}: {e}", self.database_url))
    }

    /// Each token's person makes a first request, so the server knows them (their email,
    /// their roles) before anything is sent to or assigned by them.
    pub async fn sign_in(&self, tokens: &[&str]) {
        for t in tokens {
            self.gql(Some(t), "{ me { subject } }", serde_json::json!({}))
                .await
                .assert_ok();
        }
    }
}
