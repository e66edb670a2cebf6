//! Who is calling: the `Principal` taken from a JWT, its roles, department scoping and a
//! service account's scopes. Decisions about records live in each domain's policy; this
//! module only says who the caller is and what they hold.
pub mod oidc;
mod token;

pub(crate) use token::write_private;
pub use token::{dev_secret, mint as mint_token, Authenticator, Claims, TokenError, LEEWAY_SECS};

use std::collections::BTreeSet;

use crate::error::AppError;

/// Roles as they appear in the token's `roles` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Staff,
    Handler,
    QualityLead,
    IgOfficer,
    Admin,
}

impl Role {
    pub fn parse(claim: &str) -> Option<Self> {
        Some(match claim {
            "staff" => Self::Staff,
            "handler" => Self::Handler,
            "quality_lead" => Self::QualityLead,
            "ig_officer" => Self::IgOfficer,
            "admin" => Self::Admin,
            _ => return None,
        })
    }

    pub fn claim(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Handler => "handler",
            Self::QualityLead => "quality_lead",
            Self::IgOfficer => "ig_officer",
            Self::Admin => "admin",
        }
    }
}

/// What a service account may do, from its `scope` claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Read incidents of every department.
    IncidentsRead,
    /// Report incidents and comment on them.
    IncidentsWrite,
    /// Triage and progress incidents of every department (not close or reopen).
    IncidentsManage,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "incidents:read" => Self::IncidentsRead,
            "incidents:write" => Self::IncidentsWrite,
            "incidents:manage" => Self::IncidentsManage,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::IncidentsRead => "incidents:read",
            Self::IncidentsWrite => "incidents:write",
            Self::IncidentsManage => "incidents:manage",
        }
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub subject: String,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Always contains `Staff` for people; empty for service accounts.
    pub roles: BTreeSet<Role>,
    /// Department codes the caller handles (token `departments` claim).
    pub department_codes: BTreeSet<String>,
    /// `Some` when the token is a service account's: it may do only what these list.
    pub scopes: Option<BTreeSet<Scope>>,
}

impl Principal {
    /// A token whose `scope` claim names any Candour scope is a service account, limited to
    /// those scopes whatever roles it also carries. Other scope values (`openid`, ...) that
    /// identity providers add to people's tokens are ignored.
    pub fn from_claims(claims: Claims) -> Self {
        let scopes: BTreeSet<Scope> = claims
            .scope
            .as_deref()
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(Scope::parse)
            .collect();
        let service = !scopes.is_empty();
        let mut roles: BTreeSet<Role> = BTreeSet::new();
        if !service {
            roles.insert(Role::Staff);
            roles.extend(claims.roles.iter().filter_map(|r| Role::parse(r)));
        }
        Self {
            subject: claims.sub,
            name: claims.name.filter(|n| !n.trim().is_empty()),
            email: claims.email.filter(|e| e.contains('@')),
            roles,
            department_codes: if service {
                BTreeSet::new()
            } else {
                claims.departments.into_iter().collect()
            },
            scopes: service.then_some(scopes),
        }
    }

    pub fn is_service(&self) -> bool {
        self.scopes.is_some()
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        self.scopes.as_ref().is_some_and(|s| s.contains(&scope))
    }

    pub fn handles_department(&self, code: &str) -> bool {
        self.has_role(Role::Handler) && self.department_codes.contains(code)
    }

    /// A label for the trail: people by subject, service accounts marked as such.
    pub fn label(&self) -> String {
        if self.is_service() {
            format!("service:{}", self.subject)
        } else {
            self.subject.clone()
        }
    }

    pub fn require_role(&self, role: Role, doing: &str) -> Result<(), AppError> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "{doing} needs the {} role",
                role.claim()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(roles: &[&str], scope: Option<&str>) -> Claims {
        Claims {
            sub: "u1".into(),
            name: Some("U One".into()),
            email: Some("u1@example.nhs.uk".into()),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            departments: vec!["CARD".into()],
            scope: scope.map(str::to_string),
            exp: 0,
            iss: None,
            aud: None,
            iat: None,
        }
    }

    #[test]
    fn every_person_is_staff_and_unknown_roles_are_ignored() {
        let p = Principal::from_claims(claims(&["handler", "superuser"], None));
        assert!(p.has_role(Role::Staff));
        assert!(p.has_role(Role::Handler));
        assert_eq!(p.roles.len(), 2);
        assert!(p.handles_department("CARD"));
        assert!(!p.handles_department("NUCM"));
    }

    #[test]
    fn a_candour_scope_makes_a_service_account_without_roles() {
        let p = Principal::from_claims(claims(&["quality_lead"], Some("openid incidents:read")));
        assert!(p.is_service());
        assert!(p.roles.is_empty());
        assert!(p.has_scope(Scope::IncidentsRead));
        assert!(!p.has_scope(Scope::IncidentsWrite));
        assert!(!p.handles_department("CARD"));
    }

    #[test]
    fn identity_provider_scopes_alone_leave_a_person() {
        let p = Principal::from_claims(claims(&[], Some("openid profile")));
        assert!(!p.is_service());
        assert!(p.has_role(Role::Staff));
    }
}
