//! Relay page information. Cursors, keysets and page sizes are the records' own
//! (`record::keyset`); the connection types are in `connection`.
use async_graphql::SimpleObject;

/// Relay page information.
#[derive(SimpleObject, Clone, Debug, Default)]
pub struct PageInfo {
    /// True when more items follow this page: ask again with `after: endCursor`.
    pub has_next_page: bool,
    /// True when this page was asked for with `after` (there are items before it).
    pub has_previous_page: bool,
    /// The cursor of this page's first item; null for an empty page.
    pub start_cursor: Option<String>,
    /// The cursor of this page's last item, to send as `after` for the next page; null for
    /// an empty page.
    pub end_cursor: Option<String>,
}
