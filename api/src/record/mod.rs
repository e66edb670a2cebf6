//! What every record has, whatever its domain: the clock, text checks, stored enums, sort
//! direction, keyset lists with their cursors, the department-visibility condition and the
//! versioned save. Services depend on this module; it depends on no domain and never on
//! `graphql/`.
pub mod clock;
pub mod ids;
pub mod keyset;
pub mod scalars;
pub mod stored;
pub mod text;
pub mod versioned;
pub mod visibility;

pub use clock::now;
pub use keyset::{Page, SortKey};
pub use stored::OrderDirection;
