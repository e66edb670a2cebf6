//! Relay page information. Cursors, keysets and page sizes are the records' own
//! (`record::keyset`); the connection types are in `connection`.
use async_graphql::SimpleObject;

/// Relay page information.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct PageInfo {
    pub has_next_page: bool,
    /// True when this page was asked for with `after` (there are items before it).
    pub has_previous_page: bool,
    pub start_cursor: Option<String>,
    pub end_cursor: Option<String>,
}
