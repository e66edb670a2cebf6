//! Lists of scalars answered in one step. async-graphql resolves every item of a list as a
//! future of its own, scalars too; a chart's series is hundreds of numbers, and this gives
//! them to the response at once. In the schema they are plain `[Int!]!` and `[String!]!`.
use std::borrow::Cow;

use async_graphql::parser::types::Field;
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, OutputType, Positioned, ServerResult, Value};

/// `[Int!]!`, resolved at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ints(pub Vec<i64>);

impl OutputType for Ints {
    fn type_name() -> Cow<'static, str> {
        <Vec<i64> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<i64> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<i64> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        _ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Ok(Value::List(
            self.0.iter().map(|n| Value::from(*n)).collect(),
        ))
    }
}

/// `[String!]!`, resolved at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Strings(pub Vec<String>);

impl OutputType for Strings {
    fn type_name() -> Cow<'static, str> {
        <Vec<String> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<String> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<String> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        _ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Ok(Value::List(
            self.0.iter().map(|s| Value::String(s.clone())).collect(),
        ))
    }
}
