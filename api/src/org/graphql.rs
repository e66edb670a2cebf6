//! Departments, staff and the viewer in the GraphQL schema.
use async_graphql::{Context, InputObject, Object, SimpleObject, ID};

use super::service::{self, NewDepartment};
use crate::auth::Role;
use crate::graphql::{request, state};
use crate::record::ids::{self, Kind};
use entities::{department, staff};

pub struct Department(pub department::Model);

/// A hospital department (service) that incidents, audits and projects belong to.
#[Object]
impl Department {
    /// The department's global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Department, self.0.id)
    }
    /// Short code, as used in tokens' `departments` claim (e.g. `CARD`).
    async fn code(&self) -> &str {
        &self.0.code
    }
    /// The department's name, e.g. `Cardiology`.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Hospital site, where a trust has several.
    async fn site(&self) -> Option<&str> {
        self.0.site.as_deref()
    }
    /// The ODS code of the department's site, sent to LFPSE as where the event happened;
    /// null when the trust's code (`lfpse.ods_code`) stands for it.
    async fn ods_code(&self) -> Option<&str> {
        self.0.ods_code.as_deref()
    }
}

pub struct StaffMember(pub staff::Model);

/// A member of staff, known from their sign-in.
#[Object]
impl StaffMember {
    /// The staff member's global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Staff, self.0.id)
    }
    /// Their name, from the `name` claim of the token they last used; null when it had none.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// Their email (lower case), from the `email` claim of the token they last used; null
    /// when it had none.
    async fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }
}

/// Roles a person holds (token claim values in brackets).
#[derive(async_graphql::Enum, Clone, Copy, PartialEq, Eq)]
pub enum RoleName {
    /// Every signed-in person (`staff`).
    Staff,
    /// Handles incidents of their departments (`handler`).
    Handler,
    /// Quality lead across all departments (`quality_lead`).
    QualityLead,
    /// Information-governance officer (`ig_officer`).
    IgOfficer,
    /// Administrator (`admin`).
    Admin,
}

impl From<Role> for RoleName {
    fn from(r: Role) -> Self {
        match r {
            Role::Staff => Self::Staff,
            Role::Handler => Self::Handler,
            Role::QualityLead => Self::QualityLead,
            Role::IgOfficer => Self::IgOfficer,
            Role::Admin => Self::Admin,
        }
    }
}

/// The signed-in caller.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Viewer {
    /// The token's subject.
    pub subject: String,
    /// The token's `name` claim, if any.
    pub name: Option<String>,
    /// The token's `email` claim, if any.
    pub email: Option<String>,
    /// The roles the token grants; every person has STAFF, service accounts none.
    pub roles: Vec<RoleName>,
    /// Department codes from the token; handlers handle these departments.
    pub department_codes: Vec<String>,
    /// A service account's Candour scopes (empty for people).
    pub scopes: Vec<String>,
    /// Whether the token is a service account's (limited to its scopes).
    pub service_account: bool,
}

#[async_graphql::ComplexObject]
impl Viewer {
    /// The caller's staff record (null for service accounts). Asking for it records the
    /// caller as staff, as any request answered in full does.
    async fn staff(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<StaffMember>> {
        let rc = request(ctx);
        let p = rc.principal()?;
        if p.is_service() {
            return Ok(None);
        }
        let id = service::upsert_staff(state(ctx), p).await?;
        let found = service::staff_by_ids(&state(ctx).db.conn, &[id]).await?;
        Ok(found.into_iter().next().map(StaffMember))
    }

    /// The departments named in the token that exist in Candour.
    async fn departments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Department>> {
        let all = service::departments(state(ctx)).await?;
        Ok(all
            .into_iter()
            .filter(|d| self.department_codes.contains(&d.code))
            .map(Department)
            .collect())
    }
}

#[derive(Default)]
pub struct OrgQuery;

#[Object]
impl OrgQuery {
    /// Who the caller is, as Candour sees them.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        let p = request(ctx).principal()?;
        Ok(Viewer {
            subject: p.subject.clone(),
            name: p.name.clone(),
            email: p.email.clone(),
            roles: p.roles.iter().map(|r| RoleName::from(*r)).collect(),
            department_codes: p.department_codes.iter().cloned().collect(),
            scopes: p
                .scopes
                .iter()
                .flatten()
                .map(|s| s.as_str().to_string())
                .collect(),
            service_account: p.is_service(),
        })
    }

    /// All departments, by code.
    async fn departments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Department>> {
        request(ctx).principal()?;
        Ok(service::departments(state(ctx))
            .await?
            .into_iter()
            .map(Department)
            .collect())
    }
}

/// A new department (admins only).
#[derive(InputObject)]
pub struct CreateDepartmentInput {
    /// 2 to 16 upper-case letters, digits, `-` or `_`; unique; as in tokens' `departments`.
    pub code: String,
    /// The department's name (1 to 200 characters).
    pub name: String,
    /// The hospital site, where a trust has several (at most 200 characters).
    pub site: Option<String>,
    /// The ODS code of the site (3 to 6 letters and digits, e.g. `RGT01`), for LFPSE.
    pub ods_code: Option<String>,
}

/// The result of `createDepartment`.
#[derive(SimpleObject)]
pub struct DepartmentPayload {
    /// The department created.
    pub department: Department,
}

#[derive(Default)]
pub struct OrgMutation;

#[Object]
impl OrgMutation {
    /// Adds a department. Admins only; a code already in use is CONFLICT.
    async fn create_department(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new department.")] input: CreateDepartmentInput,
    ) -> async_graphql::Result<DepartmentPayload> {
        let d = service::create_department(
            state(ctx),
            request(ctx),
            NewDepartment {
                code: input.code,
                name: input.name,
                site: input.site,
                ods_code: input.ods_code,
            },
        )
        .await?;
        Ok(DepartmentPayload {
            department: Department(d),
        })
    }
}
