//! Relay cursor connections: one generic `Connection<T>` and `Edge<T>` for every list,
//! with the concrete names integrators know (`IncidentConnection`, `AccessLogConnection`…).
use std::borrow::Cow;

use async_graphql::{Context, Object, OutputType, TypeName};

use super::pagination::PageInfo;
use crate::record::keyset::{Cursor, Page, Total};

type GqlResult<T> = async_graphql::Result<T>;

/// A node type that is listed in a connection, and the names of its edge and connection.
pub trait Listed: OutputType {
    const EDGE: &'static str;
    const CONNECTION: &'static str;
}

/// Names the connection of a node type: `listed!(Incident => "IncidentEdge", "IncidentConnection")`.
#[macro_export]
macro_rules! listed {
    ($($node:ty => $edge:literal, $connection:literal);+ $(;)?) => {$(
        impl $crate::graphql::connection::Listed for $node {
            const EDGE: &'static str = $edge;
            const CONNECTION: &'static str = $connection;
        }
    )+};
}

/// One item of a list page, with the cursor that continues the list after it.
pub struct Edge<T> {
    cursor: Cursor,
    node: T,
}

impl<T: Listed> TypeName for Edge<T> {
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed(T::EDGE)
    }
}

/// One item of a list page, with the cursor that continues the list after it.
#[Object(name_type)]
impl<T: Listed> Edge<T> {
    /// Send this back as `after` for the items that follow this one.
    async fn cursor(&self) -> String {
        // Encoded only when asked for: a page's rows rarely all need one.
        self.cursor.encode()
    }
    /// The item.
    async fn node(&self) -> &T {
        &self.node
    }
}

/// A page of a list, and how many items the whole list holds.
pub struct Connection<T> {
    edges: Vec<Edge<T>>,
    page_info: PageInfo,
    total: Total,
}

impl<T: Listed> TypeName for Connection<T> {
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed(T::CONNECTION)
    }
}

/// A page of a list, and how many items the whole list holds.
#[Object(name_type)]
impl<T: Listed> Connection<T> {
    /// The items of this page, each with its cursor.
    async fn edges(&self) -> &[Edge<T>] {
        &self.edges
    }
    /// Where this page is in the list.
    async fn page_info(&self) -> &PageInfo {
        &self.page_info
    }
    /// How many items match the filter (all pages).
    async fn total_count(&self, ctx: &Context<'_>) -> GqlResult<i64> {
        let st = ctx.data_unchecked::<std::sync::Arc<crate::context::AppState>>();
        Ok((self.total)(st.db.conn.clone()).await? as i64)
    }
}

impl<T: Listed> Connection<T> {
    /// A page of a list, each row made into its node.
    pub fn of<M>(page: Page<M>, mut node: impl FnMut(M) -> T) -> Self {
        let edges: Vec<Edge<T>> = page
            .rows
            .into_iter()
            .map(|(m, cursor)| Edge {
                cursor,
                node: node(m),
            })
            .collect();
        Self {
            page_info: PageInfo {
                has_next_page: page.has_next,
                has_previous_page: page.had_after,
                start_cursor: edges.first().map(|e| e.cursor.encode()),
                end_cursor: edges.last().map(|e| e.cursor.encode()),
            },
            edges,
            total: page.total,
        }
    }
}
