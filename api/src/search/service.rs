//! One search over incidents, corrective actions, audits and improvement projects: ranked,
//! highlighted, and only ever through what the caller may read.
//!
//! Each kind is asked apart ("branches"), with the very conditions its own list uses for
//! who sees what. An incident is matched against its description only where the caller
//! may read that description (`incident::service::narrative_readable`), and against its
//! other fields elsewhere, so nobody finds an incident by words they could not read. A
//! highlight of a logged field (a description) is a read of it, and is noted for the
//! request's access log like any other.
use sea_orm::sea_query::{
    Alias, Expr, ExprTrait, Func, JoinType, Order, Query, SelectStatement, SimpleExpr,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, Statement,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::index::{self, Index, Reader};
use super::model::{fragments, Fragment, SearchKind, Terms, MARK_END, MARK_START, MAX_RESULTS};
use crate::context::{AppState, RequestCtx};
use crate::error::AppResult;
use crate::record::keyset::{decode_cursor, not_a_cursor, Cursor, Page, Total};
use entities::{audit, corrective_action as action, improvement_project as project, incident};

/// What to search for, and where.
pub struct SearchQuery {
    pub terms: Terms,
    /// The kinds of record; every kind when empty.
    pub kinds: Vec<SearchKind>,
    pub department_id: Option<Uuid>,
}

/// A record found, with the caller's access to it.
pub enum Found {
    Incident(Box<incident::Model>, crate::incident::workflow::Access),
    CorrectiveAction(action::Model, crate::action::workflow::Access),
    Audit(audit::Model, crate::audit::workflow::Access),
    ImprovementProject(project::Model, crate::improvement::workflow::Access),
}

/// A field's matched words in context.
pub struct Highlight {
    pub field: &'static str,
    pub fragments: Vec<Fragment>,
}

/// One result.
pub struct Hit {
    pub kind: SearchKind,
    pub score: f64,
    pub found: Found,
    pub highlights: Vec<Highlight>,
}

/// A place in a search's results: the number of results before the next page.
#[derive(Serialize, Deserialize)]
struct SearchCursor {
    search: u64,
}

/// One kind of record asked one way: matched against all its fields (`narrative`) or its
/// viewers' fields alone, among the rows `rows` selects.
struct Branch {
    index: &'static Index,
    narrative: bool,
    rows: Condition,
}

impl Branch {
    fn readable(&self) -> impl Iterator<Item = (usize, &'static index::Field)> {
        let narrative = self.narrative;
        self.index
            .fields
            .iter()
            .enumerate()
            .filter(move |(_, f)| narrative || f.reader == Reader::Viewer)
    }

    /// The match condition, on this backend.
    fn matches(&self, backend: DbBackend, terms: &Terms) -> SimpleExpr {
        let ix = self.index;
        // Placeholders: `$n` on PostgreSQL, `?` on SQLite (as sea-query reads them).
        match backend {
            DbBackend::Postgres => Expr::cust_with_values(
                format!("{} @@ to_tsquery('english', $1)", ix.vector(self.narrative)),
                [terms.tsquery()],
            ),
            _ => {
                let q = if self.narrative || !ix.has_narrative() {
                    terms.fts5()
                } else {
                    terms.fts5_in(&ix.viewer_columns())
                };
                Expr::cust_with_values(format!("{} MATCH ?", ix.fts), [q])
            }
        }
    }

    /// The rows matched. On PostgreSQL a select of the table itself. On SQLite a select of
    /// its FTS5 table joined to `search_row` under the table's name: that row holds the
    /// columns visibility reads (see `index`), so the caller's conditions apply to it as
    /// they would to the record, and no record is read to rank (see the migration
    /// `m20261212_000015_search_keys`).
    ///
    /// `few`: the rows wanted are named by id (a page's), so SQLite reads them first and
    /// then their FTS5 rows, rather than every match (`CROSS JOIN` keeps that order).
    fn select(&self, backend: DbBackend, terms: &Terms, few: bool) -> SelectStatement {
        let ix = self.index;
        let mut q = Query::select();
        let on = Expr::cust(format!("{}.n = {}.rowid", ix.table, ix.fts));
        if backend == DbBackend::Postgres {
            q.from(Alias::new(ix.table));
        } else if few {
            q.from_as(Alias::new("search_row"), Alias::new(ix.table))
                .join(JoinType::CrossJoin, Alias::new(ix.fts), on);
        } else {
            q.from(Alias::new(ix.fts)).join_as(
                JoinType::InnerJoin,
                Alias::new("search_row"),
                Alias::new(ix.table),
                on,
            );
        }
        q.cond_where(
            Condition::all()
                .add(self.matches(backend, terms))
                .add(self.rows.clone()),
        );
        q
    }

    /// The record's id in `select`.
    fn id(&self, backend: DbBackend) -> String {
        match backend {
            DbBackend::Postgres => format!("{}.id", self.index.table),
            _ => format!("{}.record_id", self.index.table),
        }
    }

    /// The best `limit` matches: (id, score).
    fn ranked(&self, backend: DbBackend, terms: &Terms, limit: u64) -> Statement {
        let ix = self.index;
        let mut q = self.select(backend, terms, false);
        q.expr_as(Expr::cust(self.id(backend)), Alias::new("id"));
        match backend {
            DbBackend::Postgres => q.expr_as(
                Expr::cust_with_values(
                    format!(
                        "ts_rank({}, to_tsquery('english', $1))::float8",
                        ix.vector(self.narrative)
                    ),
                    [terms.tsquery()],
                ),
                Alias::new("score"),
            ),
            _ => q.expr_as(Expr::cust(ix.bm25()), Alias::new("score")),
        };
        q.order_by_expr(Expr::cust("score"), Order::Desc)
            .order_by_expr(Expr::cust(self.id(backend)), Order::Asc)
            .limit(limit);
        backend.build(&q)
    }

    /// How many rows match.
    fn count(&self, backend: DbBackend, terms: &Terms) -> Statement {
        let mut q = self.select(backend, terms, false);
        q.expr_as(Expr::cust("count(*)"), Alias::new("n"));
        backend.build(&q)
    }

    /// The matched words of each readable field of the rows `ids`, marked.
    fn marked(&self, backend: DbBackend, terms: &Terms, ids: &[Uuid]) -> Statement {
        let ix = self.index;
        let mut q = self.select(backend, terms, true);
        q.expr_as(Expr::cust(self.id(backend)), Alias::new("id"));
        let (start, end) = (MARK_START.to_string(), MARK_END.to_string());
        for (i, f) in self.readable() {
            let alias = Alias::new(format!("f{i}"));
            match backend {
                DbBackend::Postgres => q.expr_as(
                    Expr::cust_with_values(
                        format!(
                            "ts_headline('english', translate(coalesce({}, ''), '-', U&'\\2011'), to_tsquery('english', $1), $2)",
                            f.sql
                        ),
                        [
                            terms.tsquery(),
                            format!(
                                "StartSel={start}, StopSel={end}, MaxWords=24, MinWords=8, MaxFragments=2, FragmentDelimiter=\" … \""
                            ),
                        ],
                    ),
                    alias,
                ),
                _ => q.expr_as(
                    Expr::cust_with_values(
                        format!("snippet({}, {i}, ?, ?, '…', 24)", ix.fts),
                        [start.clone(), end.clone()],
                    ),
                    alias,
                ),
            };
        }
        q.and_where(Expr::cust(self.id(backend)).is_in(ids.iter().copied()));
        backend.build(&q)
    }
}

/// The branches a caller's search runs: each kind asked for, limited to what they may see.
async fn branches(state: &AppState, rc: &RequestCtx, q: &SearchQuery) -> AppResult<Vec<Branch>> {
    let p = rc.principal()?;
    let kinds: Vec<SearchKind> = if q.kinds.is_empty() {
        SearchKind::ALL.to_vec()
    } else {
        let mut k = q.kinds.clone();
        k.sort();
        k.dedup();
        k
    };
    let mut out = Vec::new();
    for kind in kinds {
        let ix = index::of(kind);
        let department = |c: Condition, column: SimpleExpr| match q.department_id {
            Some(d) => c.add(Expr::expr(column).eq(d)),
            None => c,
        };
        let dept_col = |t: &str| Expr::cust(format!("{t}.department_id"));
        match kind {
            SearchKind::Incident => {
                let seen = crate::incident::service::visible(state, rc).await?;
                let narrative = crate::incident::service::narrative_readable(state, rc).await?;
                let covers_all = narrative == seen;
                let seen = department(seen, dept_col(ix.table));
                out.push(Branch {
                    index: ix,
                    narrative: true,
                    rows: if covers_all {
                        seen.clone()
                    } else {
                        Condition::all().add(seen.clone()).add(narrative.clone())
                    },
                });
                if covers_all {
                    // Every incident they see is one whose description they may read:
                    // nothing is left for matching without it.
                    continue;
                }
                // The rest of what they see, by its viewers' fields alone. A condition
                // that is NULL for a row (a missing reporter) is no grant, so it counts
                // as false here: NOT of NULL would drop the row from both branches.
                let not_narrative = Expr::expr(Func::coalesce([
                    SimpleExpr::from(narrative),
                    Expr::val(false).into(),
                ]))
                .not();
                out.push(Branch {
                    index: ix,
                    narrative: false,
                    rows: Condition::all().add(seen).add(not_narrative),
                });
            }
            SearchKind::CorrectiveAction => out.push(Branch {
                index: ix,
                narrative: true,
                rows: department(crate::action::service::visible(p), dept_col(ix.table)),
            }),
            SearchKind::Audit => out.push(Branch {
                index: ix,
                narrative: true,
                rows: department(crate::audit::service::visible(p), dept_col(ix.table)),
            }),
            SearchKind::ImprovementProject => out.push(Branch {
                index: ix,
                narrative: true,
                rows: department(crate::improvement::service::visible(p), dept_col(ix.table)),
            }),
        }
    }
    Ok(out)
}

/// A page of results, best first: up to `first` after the cursor `after`.
pub async fn search(
    state: &AppState,
    rc: &RequestCtx,
    q: SearchQuery,
    first: u64,
    after: Option<String>,
) -> AppResult<Page<Hit>> {
    let offset = match after.as_deref() {
        Some(a) => decode_cursor::<SearchCursor>(a)?.search,
        None => 0,
    };
    if offset > MAX_RESULTS {
        return Err(not_a_cursor());
    }
    let backend = state.db.backend();
    let branches = branches(state, rc, &q).await?;
    let limit = (offset + first + 1).min(MAX_RESULTS + 1);
    let mut ranked: Vec<(f64, usize, Uuid)> = Vec::new();
    for (b, branch) in branches.iter().enumerate() {
        let rows = state
            .db
            .conn
            .query_all(branch.ranked(backend, &q.terms, limit))
            .await?;
        for row in rows {
            ranked.push((row.try_get("", "score")?, b, row.try_get("", "id")?));
        }
    }
    // Best first; ties in a fixed order, so pages neither repeat nor skip.
    ranked.sort_by(|x, y| {
        y.0.total_cmp(&x.0)
            .then(branches[x.1].index.kind.cmp(&branches[y.1].index.kind))
            .then(x.2.cmp(&y.2))
    });
    let end = (offset + first).min(MAX_RESULTS) as usize;
    let has_next = ranked.len() > end;
    let page: Vec<(f64, usize, Uuid)> = ranked
        .into_iter()
        .skip(offset as usize)
        .take(end.saturating_sub(offset as usize))
        .collect();

    let mut rows = Vec::with_capacity(page.len());
    let mut found = load(state, rc, &branches, &page).await?;
    let mut marks = highlights(state, &branches, &q.terms, &page).await?;
    for (i, (score, b, id)) in page.iter().enumerate() {
        let Some(f) = found.remove(id) else { continue };
        let branch = &branches[*b];
        let highlights = marks.remove(id).unwrap_or_default();
        for h in &highlights {
            let logged = branch
                .index
                .fields
                .iter()
                .any(|f| f.name == h.field && f.logged);
            if logged {
                let patient = match &f {
                    Found::Incident(m, _) => m.patient_nhs_hash.as_deref(),
                    _ => None,
                };
                rc.access
                    .record(branch.index.entity, *id, h.field, false, patient);
            }
        }
        rows.push((
            Hit {
                kind: branch.index.kind,
                score: *score,
                found: f,
                highlights,
            },
            Cursor::Other(
                serde_json::to_value(SearchCursor {
                    search: offset + i as u64 + 1,
                })
                .unwrap_or_default(),
            ),
        ));
    }
    let counts: Vec<Statement> = branches
        .iter()
        .map(|b| b.count(backend, &q.terms))
        .collect();
    let total: Total = Box::new(move |conn| {
        let counts = counts.clone();
        Box::pin(async move {
            let mut n = 0u64;
            for s in counts {
                if let Some(row) = conn.query_one(s).await? {
                    n += row.try_get::<i64>("", "n")? as u64;
                }
            }
            Ok(n)
        })
    });
    Ok(Page {
        rows,
        has_next,
        had_after: offset > 0,
        total,
    })
}

/// The page's records, each with the caller's access (checked again: a record they may not
/// see is left out).
async fn load(
    state: &AppState,
    rc: &RequestCtx,
    branches: &[Branch],
    page: &[(f64, usize, Uuid)],
) -> AppResult<std::collections::HashMap<Uuid, Found>> {
    let ids = |kind: SearchKind| -> Vec<Uuid> {
        page.iter()
            .filter(|(_, b, _)| branches[*b].index.kind == kind)
            .map(|(_, _, id)| *id)
            .collect()
    };
    let conn = &state.db.conn;
    let mut out = std::collections::HashMap::new();
    // Each kind alike: its page rows in one query, each with the caller's access by the
    // kind's own service.
    macro_rules! load_kind {
        ($kind:expr, $entity:ident, $service:path, $wrap:expr) => {
            let wanted = ids($kind);
            if !wanted.is_empty() {
                for m in $entity::Entity::find()
                    .filter($entity::Column::Id.is_in(wanted))
                    .all(conn)
                    .await?
                {
                    let a = {
                        use $service as service;
                        service::access_to(state, rc, &m).await?
                    };
                    if a.view {
                        out.insert(m.id, $wrap(m, a));
                    }
                }
            }
        };
    }
    load_kind!(
        SearchKind::Incident,
        incident,
        crate::incident::service,
        |m, a| { Found::Incident(Box::new(m), a) }
    );
    load_kind!(
        SearchKind::CorrectiveAction,
        action,
        crate::action::service,
        Found::CorrectiveAction
    );
    load_kind!(
        SearchKind::Audit,
        audit,
        crate::audit::service,
        Found::Audit
    );
    load_kind!(
        SearchKind::ImprovementProject,
        project,
        crate::improvement::service,
        Found::ImprovementProject
    );
    Ok(out)
}

/// The highlights of the page's rows, per branch (each marks only the fields it matched).
async fn highlights(
    state: &AppState,
    branches: &[Branch],
    terms: &Terms,
    page: &[(f64, usize, Uuid)],
) -> AppResult<std::collections::HashMap<Uuid, Vec<Highlight>>> {
    let backend = state.db.backend();
    let mut out = std::collections::HashMap::new();
    for (b, branch) in branches.iter().enumerate() {
        let ids: Vec<Uuid> = page
            .iter()
            .filter(|(_, pb, _)| *pb == b)
            .map(|(_, _, id)| *id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        let rows = state
            .db
            .conn
            .query_all(branch.marked(backend, terms, &ids))
            .await?;
        for row in rows {
            let id: Uuid = row.try_get("", "id")?;
            let mut hs = Vec::new();
            for (i, f) in branch.readable() {
                let mut text: Option<String> = row.try_get("", &format!("f{i}"))?;
                if backend == DbBackend::Postgres {
                    // Hyphens were read as U+2011 (see the migration): shown as written.
                    text = text.map(|t| t.replace('\u{2011}', "-"));
                }
                if let Some(fragments) = text.as_deref().and_then(fragments) {
                    hs.push(Highlight {
                        field: f.name,
                        fragments,
                    });
                }
            }
            out.insert(id, hs);
        }
    }
    Ok(out)
}
