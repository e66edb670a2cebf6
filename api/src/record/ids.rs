//! Relay global IDs: opaque to clients, `base64url("Kind:uuid")` inside.
use async_graphql::ID;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use uuid::Uuid;

use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Incident,
    Department,
    Staff,
    Comment,
    TrailEvent,
    CorrectiveAction,
    Audit,
    AuditFinding,
    ImprovementProject,
    Measure,
    Measurement,
    PdsaCycle,
    AccessEvent,
    BreakGlassGrant,
    LegalHold,
    Notification,
    Obligation,
    LfpseSubmission,
    Webhook,
    WebhookDelivery,
    LearningResponse,
    Attachment,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Incident => "Incident",
            Self::Department => "Department",
            Self::Staff => "StaffMember",
            Self::Comment => "IncidentComment",
            Self::TrailEvent => "TrailEvent",
            Self::CorrectiveAction => "CorrectiveAction",
            Self::Audit => "Audit",
            Self::AuditFinding => "AuditFinding",
            Self::ImprovementProject => "ImprovementProject",
            Self::Measure => "Measure",
            Self::Measurement => "Measurement",
            Self::PdsaCycle => "PdsaCycle",
            Self::AccessEvent => "AccessEvent",
            Self::BreakGlassGrant => "BreakGlassGrant",
            Self::LegalHold => "LegalHold",
            Self::Notification => "Notification",
            Self::Obligation => "Obligation",
            Self::LfpseSubmission => "LfpseSubmission",
            Self::Webhook => "Webhook",
            Self::WebhookDelivery => "WebhookDelivery",
            Self::LearningResponse => "LearningResponse",
            Self::Attachment => "Attachment",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Incident" => Self::Incident,
            "Department" => Self::Department,
            "StaffMember" => Self::Staff,
            "IncidentComment" => Self::Comment,
            "TrailEvent" => Self::TrailEvent,
            "CorrectiveAction" => Self::CorrectiveAction,
            "Audit" => Self::Audit,
            "AuditFinding" => Self::AuditFinding,
            "ImprovementProject" => Self::ImprovementProject,
            "Measure" => Self::Measure,
            "Measurement" => Self::Measurement,
            "PdsaCycle" => Self::PdsaCycle,
            "AccessEvent" => Self::AccessEvent,
            "BreakGlassGrant" => Self::BreakGlassGrant,
            "LegalHold" => Self::LegalHold,
            "Notification" => Self::Notification,
            "Obligation" => Self::Obligation,
            "LfpseSubmission" => Self::LfpseSubmission,
            "Webhook" => Self::Webhook,
            "WebhookDelivery" => Self::WebhookDelivery,
            "LearningResponse" => Self::LearningResponse,
            "Attachment" => Self::Attachment,
            _ => return None,
        })
    }
}

pub fn encode(kind: Kind, id: Uuid) -> ID {
    ID(URL_SAFE_NO_PAD.encode(format!("{}:{}", kind.as_str(), id)))
}

pub fn decode(id: &str) -> Option<(Kind, Uuid)> {
    let raw = URL_SAFE_NO_PAD.decode(id.trim_end_matches('=')).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let (kind, uuid) = text.split_once(':')?;
    Some((Kind::parse(kind)?, Uuid::parse_str(uuid).ok()?))
}

/// Decodes an ID that must be of `kind`; anything else is bad input on `field`.
pub fn decode_as(kind: Kind, id: &ID, field: &str) -> AppResult<Uuid> {
    match decode(id) {
        Some((k, uuid)) if k == kind => Ok(uuid),
        _ => Err(AppError::invalid(
            field,
            format!("{field} is not the ID of a {}", kind.as_str()),
        )
        .because(crate::record::text::reason::MALFORMED)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_keep_their_kind() {
        let u = Uuid::now_v7();
        let id = encode(Kind::Incident, u);
        assert_eq!(decode(&id), Some((Kind::Incident, u)));
        assert!(decode_as(Kind::Department, &id, "departmentId").is_err());
        assert!(decode("not-an-id").is_none());
    }
}
