//! Schema assembly: each domain contributes its query and mutation parts; limits, the
//! Node interface and request-scoped data live here.
pub mod connection;
pub mod http;
pub mod limits;
pub mod loaders;
pub mod pagination;
pub mod ws;

use std::sync::Arc;

use async_graphql::{Context, Interface, MergedObject, Object, Schema, ID};
use sea_orm::EntityTrait;

use crate::action::graphql::{ActionMutation, ActionQuery, CorrectiveAction};
use crate::audit::graphql::{Audit, AuditFinding, AuditMutation, AuditQuery};
use crate::context::{AppState, RequestCtx};
use crate::governance::graphql::{GovernanceMutation, GovernanceQuery};
use crate::improvement::graphql::{
    ImprovementMutation, ImprovementProject, ImprovementQuery, Measure, PdsaCycle,
};
use crate::incident::graphql::{Incident, IncidentMutation, IncidentQuery};
use crate::org::graphql::{Department, OrgMutation, OrgQuery, StaffMember};
use crate::record::ids::{self, Kind};

/// An object with a global ID that `node(id:)` can fetch again.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "The object's global ID: opaque, stable, and unique across every kind."
))]
pub enum Node {
    Incident(Incident),
    Department(Department),
    StaffMember(StaffMember),
    CorrectiveAction(CorrectiveAction),
    Audit(Audit),
    AuditFinding(AuditFinding),
    ImprovementProject(ImprovementProject),
    Measure(Measure),
    PdsaCycle(PdsaCycle),
    LearningResponse(crate::learning::graphql::LearningResponse),
    Attachment(crate::attachment::graphql::Attachment),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global ID; null when it does not exist or is not yours to see.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global ID from any object's `id`.")] id: ID,
    ) -> async_graphql::Result<Option<Node>> {
        let rc = request(ctx);
        rc.principal()?;
        let Some((kind, uuid)) = ids::decode(&id) else {
            return Err(crate::error::AppError::invalid("id", "not a Candour ID")
                .because(crate::record::text::reason::MALFORMED)
                .into());
        };
        let st = state(ctx);
        Ok(match kind {
            Kind::Incident => match crate::incident::service::get(st, rc, uuid).await {
                Ok((model, access)) => Some(Node::Incident(Incident::new(model, access))),
                Err(crate::error::AppError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            Kind::Department => crate::org::service::department(st, uuid)
                .await?
                .map(|d| Node::Department(Department(d))),
            Kind::Staff => crate::org::service::staff_by_ids(&st.db.conn, &[uuid])
                .await?
                .into_iter()
                .next()
                .map(|s| Node::StaffMember(StaffMember(s))),
            Kind::CorrectiveAction => match crate::action::service::get(st, rc, uuid).await {
                Ok((m, access)) => Some(Node::CorrectiveAction(CorrectiveAction::new(m, access))),
                Err(crate::error::AppError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            Kind::Audit => match crate::audit::service::get(st, rc, uuid).await {
                Ok((m, access)) => Some(Node::Audit(Audit::new(m, access))),
                Err(crate::error::AppError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            Kind::AuditFinding => {
                let found = entities::audit_finding::Entity::find_by_id(uuid)
                    .one(&st.db.conn)
                    .await
                    .map_err(crate::error::AppError::from)?;
                match found {
                    Some(f) => match crate::audit::service::get(st, rc, f.audit_id).await {
                        Ok((a, _)) => {
                            Some(Node::AuditFinding(AuditFinding::new(f, a.reaudit_of_id)))
                        }
                        Err(crate::error::AppError::NotFound(_)) => None,
                        Err(e) => return Err(e.into()),
                    },
                    None => None,
                }
            }
            Kind::ImprovementProject => {
                match crate::improvement::service::get(st, rc, uuid).await {
                    Ok((m, access)) => {
                        Some(Node::ImprovementProject(ImprovementProject::new(m, access)))
                    }
                    Err(crate::error::AppError::NotFound(_)) => None,
                    Err(e) => return Err(e.into()),
                }
            }
            Kind::Measure => match crate::improvement::service::get_measure(st, rc, uuid).await {
                Ok(m) => Some(Node::Measure(Measure(m))),
                Err(crate::error::AppError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            Kind::PdsaCycle => match crate::improvement::service::get_pdsa(st, rc, uuid).await {
                Ok(m) => Some(Node::PdsaCycle(PdsaCycle(m))),
                Err(crate::error::AppError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            Kind::LearningResponse => match crate::learning::service::get(st, rc, uuid).await {
                Ok((m, access)) => Some(Node::LearningResponse(
                    crate::learning::graphql::LearningResponse::new(m, access),
                )),
                Err(crate::error::AppError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            Kind::Attachment => match crate::attachment::owners::get(st, rc, uuid).await {
                Ok((m, _)) => Some(Node::Attachment(crate::attachment::graphql::Attachment(m))),
                Err(crate::error::AppError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            Kind::Comment
            | Kind::TrailEvent
            | Kind::Measurement
            | Kind::AccessEvent
            | Kind::BreakGlassGrant
            | Kind::LegalHold
            | Kind::Notification
            | Kind::Obligation
            | Kind::LfpseSubmission
            | Kind::Webhook
            | Kind::WebhookDelivery => None,
        })
    }
}

/// Reads: every query Candour answers. Each needs a signed-in caller unless it says otherwise.
#[derive(MergedObject, Default)]
pub struct Query(
    OrgQuery,
    IncidentQuery,
    ActionQuery,
    AuditQuery,
    ImprovementQuery,
    crate::learning::graphql::LearningQuery,
    GovernanceQuery,
    crate::notify::graphql::NotifyQuery,
    crate::lfpse::graphql::LfpseQuery,
    crate::webhook::graphql::WebhookQuery,
    crate::dashboard::graphql::DashboardQuery,
    crate::search::graphql::SearchQueryRoot,
    crate::attachment::graphql::AttachmentQuery,
    NodeQuery,
);

/// Changes: every mutation Candour accepts. Each needs a signed-in caller.
#[derive(MergedObject, Default)]
pub struct Mutation(
    OrgMutation,
    IncidentMutation,
    ActionMutation,
    AuditMutation,
    ImprovementMutation,
    crate::learning::graphql::LearningMutation,
    GovernanceMutation,
    crate::notify::graphql::NotifyMutation,
    crate::lfpse::graphql::LfpseMutation,
    crate::webhook::graphql::WebhookMutation,
    crate::attachment::graphql::AttachmentMutation,
);

pub type CandourSchema = Schema<Query, Mutation, crate::live::graphql::LiveSubscription>;

pub fn build_schema(state: Option<Arc<AppState>>, limits: &crate::config::Limits) -> CandourSchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        crate::live::graphql::LiveSubscription,
    )
    .limit_complexity(limits.max_complexity)
    // Depth, alias and introspection limits are checked with each document's parse
    // (`limits::Documents`), before the schema sees it: an extension here would wrap
    // the resolution of every field of every response, and async-graphql's depth rule
    // counts introspection's `ofType` links as levels (which refused every standard
    // client's introspection query).
    .limit_recursive_depth(64);
    if !limits.introspection {
        builder = builder.disable_introspection();
    }
    if let Some(state) = state {
        builder = builder.data(state);
    }
    builder.finish()
}

/// The SDL the server serves (what `schema.graphql` must equal).
pub fn sdl() -> String {
    build_schema(None, &crate::config::Limits::default()).sdl()
}

pub fn state<'a>(ctx: &'a Context<'_>) -> &'a AppState {
    ctx.data_unchecked::<Arc<AppState>>()
}

pub fn request<'a>(ctx: &'a Context<'_>) -> &'a RequestCtx {
    ctx.data_unchecked::<RequestCtx>()
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};

    /// Every type, field, argument, input field and enum value the server serves carries a
    /// description: a doc comment on a struct that async-graphql does not read fails here.
    #[test]
    fn every_part_of_the_schema_is_described() {
        let doc = async_graphql::parser::parse_schema(super::sdl()).expect("the SDL parses");
        let mut missing = Vec::new();
        for def in &doc.definitions {
            let TypeSystemDefinition::Type(t) = def else {
                continue;
            };
            let t = &t.node;
            let name = t.name.node.as_str();
            // The built-in scalars and the introspection types are the specification's.
            if name.starts_with("__") {
                continue;
            }
            if t.description.is_none() {
                missing.push(name.to_string());
            }
            match &t.kind {
                TypeKind::Object(o) => {
                    for f in &o.fields {
                        let f = &f.node;
                        if f.description.is_none() {
                            missing.push(format!("{name}.{}", f.name.node));
                        }
                        for a in &f.arguments {
                            if a.node.description.is_none() {
                                missing
                                    .push(format!("{name}.{}({})", f.name.node, a.node.name.node));
                            }
                        }
                    }
                }
                TypeKind::InputObject(o) => {
                    for f in &o.fields {
                        if f.node.description.is_none() {
                            missing.push(format!("{name}.{}", f.node.name.node));
                        }
                    }
                }
                TypeKind::Enum(e) => {
                    for v in &e.values {
                        if v.node.description.is_none() {
                            missing.push(format!("{name}.{}", v.node.value.node));
                        }
                    }
                }
                TypeKind::Interface(o) => {
                    for f in &o.fields {
                        if f.node.description.is_none() {
                            missing.push(format!("{name}.{}", f.node.name.node));
                        }
                    }
                }
                TypeKind::Scalar | TypeKind::Union(_) => {}
            }
        }
        assert!(missing.is_empty(), "undescribed in the SDL: {missing:#?}");
    }
}
