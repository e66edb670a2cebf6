//! Keyset lists: every list of records is read in the order of a sort key with the id
//! breaking ties, a page at a time after an opaque cursor. A new list names its sort key
//! (`ColumnOrder` or `IdOrder`) and calls `list`.
use std::future::Future;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::future::BoxFuture;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, Order, QueryFilter,
    QueryOrder, QuerySelect, Select,
};
use serde::{de::DeserializeOwned, Serialize};
use uuid::Uuid;

use super::OrderDirection;
use crate::error::{AppError, AppResult};

/// The page size when a list is asked for without `first`.
pub const DEFAULT_PAGE_SIZE: u64 = 20;

/// Checks `first` against the configured maximum.
pub fn page_size(first: Option<i32>, max: u64) -> AppResult<u64> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE.min(max)),
        Some(n) if n < 0 => Err(AppError::invalid("first", "first must not be negative")
            .because(super::text::reason::MALFORMED)),
        Some(n) if n as u64 > max => Err(AppError::invalid(
            "first",
            format!("first may be at most {max}"),
        )
        .because(super::text::reason::TOO_LONG)
        .limit(max as usize)),
        Some(n) => Ok(n as u64),
    }
}

/// A position in an ordered list: the sort value and the id that breaks ties.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug)]
pub struct Position {
    pub v: serde_json::Value,
    pub id: Uuid,
}

/// Where a row stands in its list, encoded as a cursor only when a client asks for it.
#[derive(Clone, Debug)]
pub enum Cursor {
    /// A sort value and an id.
    Position(Position),
    /// The id alone, for lists in id (time) order.
    Id(Uuid),
    /// Any other place (a list merged from several).
    Other(serde_json::Value),
}

impl Cursor {
    /// The opaque cursor a client sends back as `after`.
    pub fn encode(&self) -> String {
        match self {
            Self::Position(p) => encode_cursor(p),
            Self::Id(id) => encode_cursor(id),
            Self::Other(v) => encode_cursor(v),
        }
    }
}

/// Cursors are opaque to clients: base64 of the JSON keyset position.
pub fn encode_cursor<T: Serialize>(key: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// The position a cursor holds; BAD_USER_INPUT when it is not one of this list's.
pub fn decode_cursor<T: DeserializeOwned>(cursor: &str) -> AppResult<T> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(not_a_cursor)
}

/// The refusal of a cursor from another list (or none at all).
pub fn not_a_cursor() -> AppError {
    AppError::invalid("after", "after is not a cursor from this list")
        .because(super::text::reason::MALFORMED)
}

/// Rows after a keyset position `(value, id)` in the given direction.
pub fn after_position<C, I>(
    column: C,
    value: sea_orm::Value,
    id_column: I,
    id: Uuid,
    ascending: bool,
) -> Condition
where
    C: ColumnTrait,
    I: ColumnTrait,
{
    let (beyond, tie) = if ascending {
        (Expr::col(column).gt(value.clone()), id_column.gt(id))
    } else {
        (Expr::col(column).lt(value.clone()), id_column.lt(id))
    };
    Condition::any()
        .add(beyond)
        .add(Condition::all().add(Expr::col(column).eq(value)).add(tie))
}

/// How a list is ordered, and where each row stands in it.
pub trait SortKey {
    type Entity: EntityTrait;
    /// Orders a query by the key, then by id.
    fn order(&self, q: Select<Self::Entity>) -> Select<Self::Entity>;
    /// The rows after a cursor this key gave; BAD_USER_INPUT for any other.
    fn after(&self, cursor: &str) -> AppResult<Condition>;
    /// Where a row stands.
    fn cursor(&self, m: &<Self::Entity as EntityTrait>::Model) -> Cursor;
}

type Model<E> = <E as EntityTrait>::Model;

/// Lists ordered by one column (a date, a harm level), then by id.
pub struct ColumnOrder<E: EntityTrait> {
    pub column: E::Column,
    pub id: E::Column,
    pub direction: OrderDirection,
    /// The row's sort value, as it goes into a cursor.
    pub value: fn(&Model<E>) -> serde_json::Value,
    /// A cursor's sort value as SQL; None when it is not of the column's type.
    pub parse: fn(serde_json::Value) -> Option<sea_orm::Value>,
    pub id_of: fn(&Model<E>) -> Uuid,
}

/// The order of a list by one column of `entity` (a module with `Entity`, `Column` and
/// `Model`, and an `id` column), then by id: `column_order!(audit::PlannedStart,
/// planned_start: NaiveDate, direction)`, the field holding the column's value and its
/// type (how a cursor's value is read back).
#[macro_export]
macro_rules! column_order {
    ($entity:ident :: $column:ident, $field:ident : $ty:ty, $direction:expr) => {
        $crate::record::keyset::ColumnOrder::<$entity::Entity> {
            column: $entity::Column::$column,
            id: $entity::Column::Id,
            direction: $direction,
            value: |m| ::serde_json::json!(m.$field),
            parse: $crate::record::keyset::typed::<$ty>,
            id_of: |m| m.id,
        }
    };
}

/// Parses a cursor's sort value as a `T` (for `ColumnOrder::parse`).
pub fn typed<T: DeserializeOwned + Into<sea_orm::Value>>(
    v: serde_json::Value,
) -> Option<sea_orm::Value> {
    serde_json::from_value::<T>(v).ok().map(Into::into)
}

impl<E: EntityTrait> ColumnOrder<E> {
    /// The condition for rows after `pos`.
    pub fn after_position(&self, pos: &Position) -> AppResult<Condition> {
        let value = (self.parse)(pos.v.clone()).ok_or_else(not_a_cursor)?;
        Ok(after_position(
            self.column,
            value,
            self.id,
            pos.id,
            self.direction.ascending(),
        ))
    }
}

impl<E: EntityTrait> SortKey for ColumnOrder<E> {
    type Entity = E;

    fn order(&self, q: Select<E>) -> Select<E> {
        let ord = if self.direction.ascending() {
            Order::Asc
        } else {
            Order::Desc
        };
        q.order_by(self.column, ord.clone()).order_by(self.id, ord)
    }

    fn after(&self, cursor: &str) -> AppResult<Condition> {
        self.after_position(&decode_cursor::<Position>(cursor)?)
    }

    fn cursor(&self, m: &Model<E>) -> Cursor {
        Cursor::Position(Position {
            v: (self.value)(m),
            id: (self.id_of)(m),
        })
    }
}

/// Lists in the order of their time-ordered (UUID v7) id: the trail, the access log,
/// holds, grants, emails.
pub struct IdOrder<E: EntityTrait> {
    pub id: E::Column,
    pub newest_first: bool,
    pub id_of: fn(&Model<E>) -> Uuid,
}

impl<E: EntityTrait> SortKey for IdOrder<E> {
    type Entity = E;

    fn order(&self, q: Select<E>) -> Select<E> {
        if self.newest_first {
            q.order_by_desc(self.id)
        } else {
            q.order_by_asc(self.id)
        }
    }

    fn after(&self, cursor: &str) -> AppResult<Condition> {
        let a: Uuid = decode_cursor(cursor)?;
        Ok(Condition::all().add(if self.newest_first {
            self.id.lt(a)
        } else {
            self.id.gt(a)
        }))
    }

    fn cursor(&self, m: &Model<E>) -> Cursor {
        Cursor::Id((self.id_of)(m))
    }
}

/// Counts a list's rows on demand (`totalCount` costs a query only when asked for), on the
/// connection it is given.
pub type Total =
    Box<dyn Fn(DatabaseConnection) -> BoxFuture<'static, AppResult<u64>> + Send + Sync>;

/// `totalCount` for the rows `query` selects.
pub fn count_of<E>(query: Select<E>) -> Total
where
    E: EntityTrait,
    E::Model: Sync,
{
    Box::new(move |conn| {
        let q = query.clone();
        Box::pin(async move {
            use sea_orm::PaginatorTrait;
            Ok(q.count(&conn).await?)
        })
    })
}

/// One page of a list: its rows with their places, whether more follow, and the count of
/// the whole list on demand.
pub struct Page<T> {
    pub rows: Vec<(T, Cursor)>,
    pub has_next: bool,
    /// Asked for with `after` (there are rows before it).
    pub had_after: bool,
    pub total: Total,
}

impl<T> Page<T> {
    /// The same page with each row made into something else.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            rows: self.rows.into_iter().map(|(t, c)| (f(t), c)).collect(),
            has_next: self.has_next,
            had_after: self.had_after,
            total: self.total,
        }
    }

    /// The same page with each row made into something else by a fallible, async step
    /// (the caller's access to each row, say).
    pub async fn try_map<U, F, Fut>(self, mut f: F) -> AppResult<Page<U>>
    where
        F: FnMut(T) -> Fut,
        Fut: Future<Output = AppResult<U>>,
    {
        let mut rows = Vec::with_capacity(self.rows.len());
        for (t, c) in self.rows {
            rows.push((f(t).await?, c));
        }
        Ok(Page {
            rows,
            has_next: self.has_next,
            had_after: self.had_after,
            total: self.total,
        })
    }
}

/// One page of `filtered` in the order of `key`: up to `first` rows after the cursor
/// `after`, read in one query (one row more than asked, to know whether more follow).
pub async fn list<K, C>(
    conn: &C,
    filtered: Select<K::Entity>,
    key: &K,
    first: u64,
    after: Option<&str>,
) -> AppResult<Page<Model<K::Entity>>>
where
    K: SortKey,
    C: ConnectionTrait,
    Model<K::Entity>: Sync,
{
    list_with(filtered, key, first, after, |q| async move {
        Ok(q.all(conn).await?)
    })
    .await
}

/// `list`, with the page's query run by `fetch` (for a list that reads fewer columns or
/// decodes its rows itself).
pub async fn list_with<K, F, Fut>(
    filtered: Select<K::Entity>,
    key: &K,
    first: u64,
    after: Option<&str>,
    fetch: F,
) -> AppResult<Page<Model<K::Entity>>>
where
    K: SortKey,
    F: FnOnce(Select<K::Entity>) -> Fut,
    Fut: Future<Output = AppResult<Vec<Model<K::Entity>>>>,
    Model<K::Entity>: Sync,
{
    let mut q = filtered.clone();
    if let Some(cursor) = after {
        q = q.filter(key.after(cursor)?);
    }
    let mut rows = fetch(key.order(q).limit(first + 1)).await?;
    let has_next = rows.len() as u64 > first;
    rows.truncate(first as usize);
    Ok(Page {
        rows: rows
            .into_iter()
            .map(|m| {
                let c = key.cursor(&m);
                (m, c)
            })
            .collect(),
        has_next,
        had_after: after.is_some(),
        total: count_of(filtered),
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
        let id = Uuid::now_v7();
        assert_eq!(decode_cursor::<Uuid>(&Cursor::Id(id).encode()).unwrap(), id);
    }
}
