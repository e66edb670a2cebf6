//! Enumerations stored as their GraphQL names, and the direction of a list's order.
use async_graphql::Enum;

/// Gives an enumeration `ALL`, `as_str` (its stored name) and `parse` (from the stored name).
///
/// ```ignore
/// stored_enum!(IncidentStatus { Reported => "REPORTED", Closed => "CLOSED" });
/// ```
#[macro_export]
macro_rules! stored_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            pub const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

/// Which way a list runs.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderDirection {
    /// Ascending: smallest, earliest or least first.
    Asc,
    /// Descending: largest, latest or most first.
    #[default]
    Desc,
}

impl OrderDirection {
    pub fn ascending(self) -> bool {
        self == Self::Asc
    }
}
