//! `search(query:, filter:, first:, after:)` in the GraphQL schema.
use async_graphql::{Context, InputObject, Object, SimpleObject, Union, ID};

use super::model::{SearchKind, Terms};
use super::service::{self, Found, Hit, SearchQuery};
use crate::action::graphql::CorrectiveAction;
use crate::audit::graphql::Audit;
use crate::graphql::connection::Connection;
use crate::graphql::{request, state};
use crate::improvement::graphql::ImprovementProject;
use crate::incident::graphql::Incident;
use crate::record::ids::{self, Kind};
use crate::record::keyset::page_size;

type GqlResult<T> = async_graphql::Result<T>;

/// Which records to search.
#[derive(InputObject, Default)]
pub struct SearchFilter {
    /// The kinds of record; every kind when not given.
    pub kinds: Option<Vec<SearchKind>>,
    /// Only records of this department.
    pub department_id: Option<ID>,
}

/// A record search found.
#[derive(Union)]
pub enum SearchRecord {
    Incident(Incident),
    CorrectiveAction(CorrectiveAction),
    Audit(Audit),
    ImprovementProject(ImprovementProject),
}

/// A piece of a highlight: a matched word, or the text around it.
#[derive(SimpleObject)]
pub struct HighlightFragment {
    /// The text, as written (plain text, never markup).
    pub text: String,
    /// Whether this piece is a word the query matched.
    pub matched: bool,
}

/// Where a result matched: a field and its matched words in context (a short extract of a
/// long field, with `…` where text was left out).
#[derive(SimpleObject)]
pub struct SearchHighlight {
    /// The field's name as the record's type has it (`title`, `description`,
    /// `learningSummary`…).
    pub field: String,
    /// The extract, in pieces.
    pub fragments: Vec<HighlightFragment>,
}

/// One search result.
pub struct SearchHit(Hit);

crate::listed!(SearchHit => "SearchHitEdge", "SearchHitConnection");

/// One search result: the record, what kind it is, how well it matched, and where.
#[Object]
impl SearchHit {
    /// The record found.
    async fn record(&self) -> SearchRecord {
        match &self.0.found {
            Found::Incident(m, a) => SearchRecord::Incident(Incident::new((**m).clone(), *a)),
            Found::CorrectiveAction(m, a) => {
                SearchRecord::CorrectiveAction(CorrectiveAction::new(m.clone(), *a))
            }
            Found::Audit(m, a) => SearchRecord::Audit(Audit::new(m.clone(), *a)),
            Found::ImprovementProject(m, a) => {
                SearchRecord::ImprovementProject(ImprovementProject::new(m.clone(), *a))
            }
        }
    }
    /// The kind of record.
    async fn kind(&self) -> SearchKind {
        self.0.kind
    }
    /// How well it matched (higher is better); comparable within one search only.
    async fn score(&self) -> f64 {
        self.0.score
    }
    /// The fields that matched, with their matched words: only fields the caller may read
    /// (a highlight of a free-text field is a read of it, and is in the access log).
    async fn highlights(&self) -> Vec<SearchHighlight> {
        self.0
            .highlights
            .iter()
            .map(|h| SearchHighlight {
                field: h.field.to_string(),
                fragments: h
                    .fragments
                    .iter()
                    .map(|f| HighlightFragment {
                        text: f.text.clone(),
                        matched: f.matched,
                    })
                    .collect(),
            })
            .collect()
    }
}

#[derive(Default)]
pub struct SearchQueryRoot;

#[Object]
impl SearchQueryRoot {
    /// Finds incidents, corrective actions, audits and improvement projects by their words,
    /// best match first, among the records the caller may see. Every word must be found
    /// (`word*` finds words that begin so); words are matched by their stem (`failed`
    /// finds `failing`). An incident's description is searched only for those who may
    /// read it. Results can be paged up to the 1,000th.
    #[graphql(complexity = "first.unwrap_or(20).clamp(1, 100) as usize * child_complexity")]
    async fn search(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The words to find: at most 10 words, 200 characters.")] query: String,
        #[graphql(desc = "Which records; every kind the caller may see when not given.")]
        filter: Option<SearchFilter>,
        #[graphql(
            desc = "How many to return: 20 when not given, at most `limits.max_page_size` (100 by default)."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "A cursor from the previous page (`pageInfo.endCursor`): the results continue after it."
        )]
        after: Option<String>,
    ) -> GqlResult<Connection<SearchHit>> {
        let st = state(ctx);
        let rc = request(ctx);
        rc.principal()?;
        let first = page_size(first, st.settings.limits.max_page_size)?;
        let terms = Terms::parse(&query)?;
        let f = filter.unwrap_or_default();
        let q = SearchQuery {
            terms,
            kinds: f.kinds.unwrap_or_default(),
            department_id: f
                .department_id
                .as_ref()
                .map(|id| ids::decode_as(Kind::Department, id, "departmentId"))
                .transpose()?,
        };
        let page = service::search(st, rc, q, first, after).await?;
        Ok(Connection::of(page, SearchHit))
    }
}
