//! Relay cursor pagination: page sizes, opaque cursors and `PageInfo`.
use async_graphql::SimpleObject;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{de::DeserializeOwned, Serialize};

use crate::error::{AppError, AppResult};

pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// Relay page information.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// True when this page was asked for with `after` (there are items before it).
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}

/// Checks `first` against the configured maximum.
pub fn page_size(first: Option<i32>, max: u64) -> AppResult<u64> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE.min(max)),
        Some(n) if n < 0 => Err(AppError::invalid("first", "first must not be negative")),
        Some(n) if n as u64 > max => Err(AppError::invalid(
            "first",
            format!("first may be at most {max}"),
        )),
        Some(n) => Ok(n as u64),
    }
}

/// A position in an ordered list: the sort value and the id that breaks ties.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Position {
    pub v: serde_json::Value,
    pub id: uuid::Uuid,
}

/// Rows after a keyset position `(value, id)` in the given direction.
pub fn after_position<C, I>(
    column: C,
    value: sea_orm::Value,
    id_column: I,
    id: uuid::Uuid,
    ascending: bool,
) -> sea_orm::Condition
where
    C: sea_orm::ColumnTrait,
    I: sea_orm::ColumnTrait,
{
    use sea_orm::sea_query::Expr;
    use sea_orm::Condition;
    let (beyond, tie) = if ascending {
        (Expr::col(column).gt(value.clone()), id_column.gt(id))
    } else {
        (Expr::col(column).lt(value.clone()), id_column.lt(id))
    };
    Condition::any()
        .add(beyond)
        .add(Condition::all().add(Expr::col(column).eq(value)).add(tie))
}

/// Cursors are opaque to clients: base64 of the JSON keyset position.
pub fn encode_cursor<T: Serialize>(key: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

pub fn decode_cursor<T: DeserializeOwned>(cursor: &str) -> AppResult<T> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| AppError::invalid("after", "after is not a cursor from this list"))
}

/// One page of `query` in the order of its time-ordered (UUID v7) `id` column, after the
/// cursor's id; and whether more follow.
pub async fn id_page<E, C>(
    conn: &C,
    query: sea_orm::Select<E>,
    id: E::Column,
    first: u64,
    after: Option<uuid::Uuid>,
    newest_first: bool,
) -> AppResult<(Vec<E::Model>, bool)>
where
    E: sea_orm::EntityTrait,
    C: sea_orm::ConnectionTrait,
{
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    let mut q = query;
    if let Some(a) = after {
        q = q.filter(if newest_first { id.lt(a) } else { id.gt(a) });
    }
    q = if newest_first {
        q.order_by_desc(id)
    } else {
        q.order_by_asc(id)
    };
    let mut rows = q.limit(first + 1).all(conn).await?;
    let more = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok((rows, more))
}

/// Counts a connection's rows on demand (`totalCount` costs a query only when asked for).
pub type TotalCount = Box<
    dyn Fn(
            std::sync::Arc<crate::context::AppState>,
        ) -> futures_util::future::BoxFuture<'static, AppResult<u64>>
        + Send
        + Sync,
>;

/// `totalCount` for the rows `query` selects.
pub fn count_of<E>(query: sea_orm::Select<E>) -> TotalCount
where
    E: sea_orm::EntityTrait,
    E::Model: Sync,
{
    Box::new(move |state| {
        let q = query.clone();
        Box::pin(async move {
            use sea_orm::PaginatorTrait;
            Ok(q.count(&state.db.conn).await?)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes() {
        assert_eq!(page_size(None, 100).unwrap(), 20);
        assert_eq!(page_size(Some(0), 100).unwrap(), 0);
        assert!(page_size(Some(-1), 100).is_err());
        assert!(page_size(Some(101), 100).is_err());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = encode_cursor(&(3, "x"));
        assert_eq!(
            decode_cursor::<(i32, String)>(&c).unwrap(),
            (3, "x".to_string())
        );
        assert!(decode_cursor::<(i32, String)>("%%%").is_err());
    }
}
