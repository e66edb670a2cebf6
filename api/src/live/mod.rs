//! Live events: GraphQL subscriptions, fed by the sealed trail (the websocket transport is
//! `graphql::ws`).
pub mod feed;
pub mod graphql;

pub use feed::Hub;
