//! Limits checked once per distinct document, before the schema sees it: the depth of its
//! selections, counted by what they cost (below), the number of aliases, and a clear
//! refusal of introspection when it is switched off (the schema builder's own switch
//! answers null without saying why); and the parsed documents themselves, kept so that the
//! same query text is not parsed again. Complexity is set on the builder and checked by
//! async-graphql's validation; before that, a document whose fields number more than the
//! complexity limit once its fragments are spread is refused here, counted with each
//! fragment's size worked out once (a fragment that spreads another twice, thirty times
//! over, would otherwise be spread a billion times by validation).
//!
//! Depth counts each field one level, with two rules for the schema's own description,
//! where fields are not rows and `first` does not bound a list:
//! - `ofType` is a single link that ends within a type's wrappers (`[Incident!]!` is three
//!   deep), so a chain of them counts as no level at all, and a chain longer than
//!   `MAX_OF_TYPE` is refused. Every standard client (graphql-js's
//!   `getIntrospectionQuery`, and GraphiQL, Apollo and graphql-codegen, which send it)
//!   follows `ofType` seven to nine times, which async-graphql's own depth rule refused.
//! - A type's lists that lead back to types (`fields`, `inputFields`, `interfaces`,
//!   `possibleTypes`) hold as many entries as the schema has, and `first` does not bound
//!   them: at most `MAX_SCHEMA_LISTS` of them may nest, so that
//!   `__type { fields { type { fields { type { fields ... } } } } }` (every field of every
//!   field's type, again and again) is refused at once. This is graphql-js's own
//!   `MaxIntrospectionDepthRule`; the standard query nests one.
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::Name;
use async_graphql::ServerError;

/// Documents longer than this are parsed every time (clients send the same few queries;
/// a long one is rarely repeated).
const MAX_CACHED_QUERY: usize = 32 * 1024;
/// Distinct documents kept; when full the cache starts again (a client that sends
/// ever-new documents gains nothing from it, and costs it nothing either).
const MAX_CACHED_DOCUMENTS: usize = 1_000;

/// Parsed, checked documents by query text.
pub struct Documents {
    max_depth: usize,
    max_complexity: usize,
    max_aliases: usize,
    introspection: bool,
    cache: Mutex<HashMap<String, Arc<ExecutableDocument>>>,
}

impl Documents {
    pub fn new(limits: &crate::config::Limits) -> Self {
        Self {
            max_depth: limits.max_depth,
            max_complexity: limits.max_complexity,
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
        if let Err(too_deep) = check_depth(&doc, self.max_depth) {
            return Err(ServerError::new(too_deep, None));
        }
        // Complexity counts at least one per field as it is spread; refused here, before
        // async-graphql's validation would spread it (which takes as long as the spreading).
        let fields = expanded_fields(&doc);
        if fields > self.max_complexity as u64 {
            return Err(ServerError::new(
                format!(
                    "the query selects more than {} fields once its fragments are spread",
                    self.max_complexity
                ),
                None,
            ));
        }
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

/// The longest chain of `ofType` a query may follow (graphql-js sends 7, or 9 from v17).
pub const MAX_OF_TYPE: usize = 10;
/// How many of a type's lists that lead back to types may nest inside one another (as
/// graphql-js's `MaxIntrospectionDepthRule` allows).
pub const MAX_SCHEMA_LISTS: usize = 2;

/// Fields of `__Type` that list further types: what nests into a fan-out.
fn is_schema_list(name: &str) -> bool {
    matches!(
        name,
        "fields" | "inputFields" | "interfaces" | "possibleTypes"
    )
}

/// Where a walk stands: how deep, how long the current `ofType` chain is, whether it is
/// inside `__schema`/`__type`, and how many of the schema's lists enclose it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct At {
    depth: usize,
    of_type: usize,
    introspecting: bool,
    lists: usize,
}

struct DepthWalk<'d> {
    doc: &'d ExecutableDocument,
    max_depth: usize,
    /// Fragments already walked from a given place: each is walked once per place, so a
    /// document that spreads fragments many times over costs no more to check than its
    /// fragments and the places they can be spread at.
    seen: HashSet<(&'d str, At)>,
    /// The fragments being walked, to stop at a cycle (which validation then reports).
    stack: Vec<&'d str>,
}

impl<'d> DepthWalk<'d> {
    fn walk(&mut self, set: &'d SelectionSet, at: At) -> Result<(), String> {
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let name = f.node.name.node.as_str();
                    let next = if name == "ofType" && at.introspecting {
                        if at.of_type + 1 > MAX_OF_TYPE {
                            return Err(format!(
                                "the query follows ofType more than {MAX_OF_TYPE} times; no type is wrapped that deep"
                            ));
                        }
                        At {
                            of_type: at.of_type + 1,
                            ..at
                        }
                    } else {
                        let introspecting =
                            at.introspecting || matches!(name, "__schema" | "__type");
                        let lists =
                            at.lists + usize::from(at.introspecting && is_schema_list(name));
                        if lists > MAX_SCHEMA_LISTS {
                            return Err(format!(
                                "Maximum introspection depth exceeded: at most {MAX_SCHEMA_LISTS} of fields, inputFields, interfaces and possibleTypes may nest"
                            ));
                        }
                        let next = At {
                            depth: at.depth + 1,
                            of_type: 0,
                            introspecting,
                            lists,
                        };
                        if next.depth > self.max_depth {
                            return Err(format!(
                                "Query is nested too deep: more than {} levels (a chain of ofType counts as none)",
                                self.max_depth
                            ));
                        }
                        next
                    };
                    self.walk(&f.node.selection_set.node, next)?;
                }
                Selection::InlineFragment(fr) => self.walk(&fr.node.selection_set.node, at)?,
                Selection::FragmentSpread(spread) => {
                    let name: &'d Name = &spread.node.fragment_name.node;
                    let Some(fragment) = self.doc.fragments.get(name) else {
                        // Unknown fragments are validation's to report.
                        continue;
                    };
                    let name = name.as_str();
                    if self.stack.contains(&name) || !self.seen.insert((name, at)) {
                        continue;
                    }
                    self.stack.push(name);
                    let walked = self.walk(&fragment.node.selection_set.node, at);
                    self.stack.pop();
                    walked?;
                }
            }
        }
        Ok(())
    }
}

/// Refuses a document whose operations nest deeper than `max_depth` (fragments followed),
/// counted as the module's head describes; the error says which limit it passed.
pub fn check_depth(doc: &ExecutableDocument, max_depth: usize) -> Result<(), String> {
    let mut walk = DepthWalk {
        doc,
        max_depth,
        seen: HashSet::new(),
        stack: Vec::new(),
    };
    let start = At {
        depth: 0,
        of_type: 0,
        introspecting: false,
        lists: 0,
    };
    for (_, op) in doc.operations.iter() {
        walk.walk(&op.node.selection_set.node, start)?;
    }
    Ok(())
}

/// How many fields the document's operations select once every fragment is spread (each
/// fragment's count worked out once; a cycle counts nothing, validation reports it).
pub fn expanded_fields(doc: &ExecutableDocument) -> u64 {
    fn count<'d>(
        doc: &'d ExecutableDocument,
        set: &'d SelectionSet,
        sizes: &mut HashMap<&'d str, u64>,
        stack: &mut Vec<&'d str>,
    ) -> u64 {
        let mut n: u64 = 0;
        for item in &set.items {
            let more = match &item.node {
                Selection::Field(f) => {
                    1u64.saturating_add(count(doc, &f.node.selection_set.node, sizes, stack))
                }
                Selection::InlineFragment(fr) => {
                    count(doc, &fr.node.selection_set.node, sizes, stack)
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    if let Some(size) = sizes.get(name) {
                        *size
                    } else if stack.contains(&name) {
                        0
                    } else if let Some(fragment) =
                        doc.fragments.get(&spread.node.fragment_name.node)
                    {
                        stack.push(name);
                        let size = count(doc, &fragment.node.selection_set.node, sizes, stack);
                        stack.pop();
                        sizes.insert(name, size);
                        size
                    } else {
                        0
                    }
                }
            };
            n = n.saturating_add(more);
        }
        n
    }
    let mut sizes = HashMap::new();
    let mut stack = Vec::new();
    doc.operations
        .iter()
        .map(|(_, op)| count(doc, &op.node.selection_set.node, &mut sizes, &mut stack))
        .fold(0u64, u64::saturating_add)
}
