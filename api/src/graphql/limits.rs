//! Limits async-graphql does not provide itself (the number of aliases in a document, and
//! a clear refusal of introspection when it is switched off: the schema builder's own
//! switch answers null without saying why), checked once per distinct document; and the
//! parsed documents themselves, kept so that the same query text is not parsed again.
//! Depth and complexity are set on the builder and checked by async-graphql's validation.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::ServerError;

/// Documents longer than this are parsed every time (clients send the same few queries;
/// a long one is rarely repeated).
const MAX_CACHED_QUERY: usize = 32 * 1024;
/// Distinct documents kept; when full the cache starts again (a client that sends
/// ever-new documents gains nothing from it, and costs it nothing either).
const MAX_CACHED_DOCUMENTS: usize = 1_000;

/// Parsed, checked documents by query text.
pub struct Documents {
    max_aliases: usize,
    introspection: bool,
    cache: Mutex<HashMap<String, Arc<ExecutableDocument>>>,
}

impl Documents {
    pub fn new(limits: &crate::config::Limits) -> Self {
        Self {
            max_aliases: limits.max_aliases,
            introspection: limits.introspection,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The document of `query`, parsed and checked against the limits (from the cache when
    /// it was seen before); the error is the client's to fix.
    pub fn parse(&self, query: &str) -> Result<Arc<ExecutableDocument>, ServerError> {
        if let Some(doc) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(query)
        {
            return Ok(doc.clone());
        }
        let doc = async_graphql::parser::parse_query(query).map_err(ServerError::from)?;
        let n = aliases_in(&doc);
        if n > self.max_aliases {
            return Err(ServerError::new(
                format!(
                    "the query uses {n} aliases; at most {} are allowed",
                    self.max_aliases
                ),
                None,
            ));
        }
        if !self.introspection && uses_introspection(&doc) {
            return Err(ServerError::new(
                "introspection is switched off on this server",
                None,
            ));
        }
        let doc = Arc::new(doc);
        if query.len() <= MAX_CACHED_QUERY {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= MAX_CACHED_DOCUMENTS {
                cache.clear();
            }
            cache.insert(query.to_string(), doc.clone());
        }
        Ok(doc)
    }

    /// Gives `request` its parsed document, so that the schema does not parse it again.
    pub fn prepare(&self, request: &mut async_graphql::Request) -> Result<(), ServerError> {
        let doc = self.parse(&request.query)?;
        request.set_parsed_query((*doc).clone());
        Ok(())
    }
}

fn asks_introspection(set: &SelectionSet) -> bool {
    set.items.iter().any(|item| match &item.node {
        Selection::Field(f) => matches!(f.node.name.node.as_str(), "__schema" | "__type"),
        Selection::InlineFragment(fr) => asks_introspection(&fr.node.selection_set.node),
        Selection::FragmentSpread(_) => false,
    })
}

/// Whether any operation or fragment selects `__schema` or `__type`.
pub fn uses_introspection(doc: &ExecutableDocument) -> bool {
    doc.operations
        .iter()
        .any(|(_, op)| asks_introspection(&op.node.selection_set.node))
        || doc
            .fragments
            .values()
            .any(|f| asks_introspection(&f.node.selection_set.node))
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + count_aliases(&f.node.selection_set.node)
            }
            Selection::InlineFragment(fr) => count_aliases(&fr.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Aliases across every operation and fragment of the document (each fragment counted once;
/// depth and complexity limits bound what spreading it many times costs).
pub fn aliases_in(doc: &ExecutableDocument) -> usize {
    let ops: usize = doc
        .operations
        .iter()
        .map(|(_, op)| count_aliases(&op.node.selection_set.node))
        .sum();
    let frags: usize = doc
        .fragments
        .values()
        .map(|f| count_aliases(&f.node.selection_set.node))
        .sum();
    ops + frags
}
