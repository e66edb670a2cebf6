//! Lists answered in one step. async-graphql resolves every item of a list, and every
//! field of an object, as a future of its own; a chart's series is hundreds of numbers and
//! small objects, computed before they are asked for, and these give them to the response
//! at once. In the schema they are plain `[Int!]!`, `[String!]!` and `[T!]!`.
use std::borrow::Cow;

use async_graphql::indexmap::IndexMap;
use async_graphql::parser::types::{Field, Selection};
use async_graphql::registry::Registry;
use async_graphql::{
    ContextSelectionSet, Name, OutputType, Positioned, ServerError, ServerResult, Value,
};

/// `[Int!]!`, `[String!]!`, …: a list of scalars resolved at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScalarList<T>(pub Vec<T>);

/// `[Int!]!`, resolved at once.
pub type Ints = ScalarList<i64>;
/// `[String!]!`, resolved at once.
pub type Strings = ScalarList<String>;

impl<T> OutputType for ScalarList<T>
where
    T: OutputType + Clone + Into<Value>,
{
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        _ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        Ok(Value::List(
            self.0.iter().cloned().map(Into::into).collect(),
        ))
    }
}

/// An object whose fields are all computed before they are asked for (a dashboard
/// series' buckets). async-graphql resolves each field of each object as a future of its
/// own; a [`Plain`] object is answered in one synchronous walk of the selection set
/// instead. Its schema type is still the ordinary `SimpleObject` derived on it (names,
/// descriptions, validation); only the resolution differs. Skipped fields (`@skip`,
/// `@include`) are gone from the document before execution, as for every object.
pub trait Plain: OutputType {
    /// The value of field `name`. `ctx` is the field's own selection set, for a field that
    /// is an object or a list of objects.
    fn field(&self, name: &str, ctx: &ContextSelectionSet<'_>) -> ServerResult<Value>;
}

/// One [`Plain`] object as its selection set asks for it.
pub fn plain_object<T: Plain>(ctx: &ContextSelectionSet<'_>, item: &T) -> ServerResult<Value> {
    let mut map = IndexMap::new();
    fill(ctx, item, &mut map)?;
    Ok(Value::Object(map))
}

/// A list of [`Plain`] objects as the selection set asks for each.
pub fn plain_list<T: Plain>(ctx: &ContextSelectionSet<'_>, items: &[T]) -> ServerResult<Value> {
    items
        .iter()
        .map(|item| plain_object(ctx, item))
        .collect::<ServerResult<Vec<_>>>()
        .map(Value::List)
}

fn fill<T: Plain>(
    ctx: &ContextSelectionSet<'_>,
    item: &T,
    out: &mut IndexMap<Name, Value>,
) -> ServerResult<()> {
    let type_name = T::type_name();
    for selection in &ctx.item.node.items {
        match &selection.node {
            Selection::Field(f) => {
                let key = f.node.response_key().node.clone();
                let name = f.node.name.node.as_str();
                let value = if name == "__typename" {
                    Value::String(type_name.to_string())
                } else {
                    item.field(name, &ctx.with_selection_set(&f.node.selection_set))?
                };
                merge(out, key, value);
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                let Some(fragment) = ctx.query_env.fragments.get(name) else {
                    return Err(ServerError::new(
                        format!(r#"Unknown fragment "{name}"."#),
                        Some(spread.pos),
                    ));
                };
                if fragment.node.type_condition.node.on.node.as_str() == type_name {
                    fill(
                        &ctx.with_selection_set(&fragment.node.selection_set),
                        item,
                        out,
                    )?;
                }
            }
            Selection::InlineFragment(fragment) => {
                let applies = fragment
                    .node
                    .type_condition
                    .as_ref()
                    .is_none_or(|c| c.node.on.node.as_str() == type_name);
                if applies {
                    fill(
                        &ctx.with_selection_set(&fragment.node.selection_set),
                        item,
                        out,
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// A response key selected twice: its selections merge, as async-graphql merges them.
fn merge(target: &mut IndexMap<Name, Value>, key: Name, value: Value) {
    match (target.get_mut(&key), value) {
        (None, value) => {
            target.insert(key, value);
        }
        (Some(Value::Object(old)), Value::Object(new)) => {
            for (k, v) in new {
                merge(old, k, v);
            }
        }
        (Some(Value::List(old)), Value::List(new)) => {
            for (o, n) in old.iter_mut().zip(new) {
                if let (Value::Object(o), Value::Object(n)) = (o, n) {
                    for (k, v) in n {
                        merge(o, k, v);
                    }
                }
            }
        }
        _ => {}
    }
}

/// A list of [`Plain`] objects: `[T!]!` in the schema, resolved in one step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlainList<T>(pub Vec<T>);

impl<T: Plain + Sync> OutputType for PlainList<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        plain_list(ctx, &self.0)
    }
}
