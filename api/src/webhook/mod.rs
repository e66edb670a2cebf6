//! Webhooks: the events of the sealed trail (the same ones subscribers hear, `live::feed`)
//! sent to the endpoints admins register, signed as the Standard Webhooks specification
//! describes. Deliveries are an outbox: queued from the trail (`fanout`) in the transaction
//! that moves the cursor along it, sent by a dispatcher on any instance (`dispatch`) with
//! retries, backoff, a dead letter and disabling of an endpoint that keeps failing.
pub mod dispatch;
pub mod fanout;
pub mod graphql;
pub mod service;

use std::net::IpAddr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::live::feed::{ActionEventType, IncidentEventType};

/// What an endpoint may be sent.
#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum WebhookEvent {
    /// `incident.reported`
    IncidentReported,
    /// `incident.triaged`
    IncidentTriaged,
    /// `incident.transitioned`
    IncidentTransitioned,
    /// `incident.commented`
    IncidentCommented,
    /// `incident.closed`
    IncidentClosed,
    /// `action.assigned`
    ActionAssigned,
    /// `action.due`
    ActionDue,
    /// `action.overdue`
    ActionOverdue,
    /// `action.verified`
    ActionVerified,
}

impl WebhookEvent {
    pub const ALL: [WebhookEvent; 9] = [
        Self::IncidentReported,
        Self::IncidentTriaged,
        Self::IncidentTransitioned,
        Self::IncidentCommented,
        Self::IncidentClosed,
        Self::ActionAssigned,
        Self::ActionDue,
        Self::ActionOverdue,
        Self::ActionVerified,
    ];

    /// The name in payloads (`type`) and in the stored list.
    pub fn name(self) -> &'static str {
        match self {
            Self::IncidentReported => "incident.reported",
            Self::IncidentTriaged => "incident.triaged",
            Self::IncidentTransitioned => "incident.transitioned",
            Self::IncidentCommented => "incident.commented",
            Self::IncidentClosed => "incident.closed",
            Self::ActionAssigned => "action.assigned",
            Self::ActionDue => "action.due",
            Self::ActionOverdue => "action.overdue",
            Self::ActionVerified => "action.verified",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }

    pub fn of_incident(t: IncidentEventType) -> Self {
        match t {
            IncidentEventType::Reported => Self::IncidentReported,
            IncidentEventType::Triaged => Self::IncidentTriaged,
            IncidentEventType::Transitioned => Self::IncidentTransitioned,
            IncidentEventType::Commented => Self::IncidentCommented,
            IncidentEventType::Closed => Self::IncidentClosed,
        }
    }

    pub fn of_action(t: ActionEventType) -> Self {
        match t {
            ActionEventType::Assigned => Self::ActionAssigned,
            ActionEventType::Due => Self::ActionDue,
            ActionEventType::Overdue => Self::ActionOverdue,
            ActionEventType::Verified => Self::ActionVerified,
        }
    }
}

/// The prefix of a signing secret (Standard Webhooks): `whsec_` then the key in base64.
const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: 32 random bytes.
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The `webhook-signature` header's value for a message: `v1,` and the base64 HMAC-SHA256,
/// under the secret's key, of `id.timestamp.body`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .unwrap_or_default();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes a key of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Whether an address is one no webhook may reach, whatever hosts are allowed: link-local
/// (which holds the cloud metadata services), unspecified, multicast and broadcast, and the
/// metadata addresses clouds give outside link-local.
pub fn forbidden_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.octets()[0] == 0
                || v4.octets() == [100, 100, 100, 200]
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_address(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xffc0) == 0xfe80
                || v6
                    == "fd00:ec2::254"
                        .parse::<std::net::Ipv6Addr>()
                        .expect("address")
        }
    }
}

/// Whether `host` is one of `allowed` (an exact name or address, or `*.domain` for the
/// names under it), compared without case.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    allowed.iter().any(|a| {
        let a = a.trim().trim_end_matches('.').to_ascii_lowercase();
        match a.strip_prefix("*.") {
            Some(domain) => host.ends_with(&format!(".{domain}")),
            None => host == a,
        }
    })
}

/// An endpoint URL checked against the policy: http(s), no credentials in it, a host that is
/// allowed, and (for an address) not a forbidden one. The message says what is wrong.
pub fn check_url(url: &str, allowed: &[String]) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url.trim()).map_err(|_| "not a URL".to_string())?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry credentials (the signature proves the sender)".into());
    }
    let host = match parsed.host() {
        Some(url::Host::Domain(d)) => d.to_string(),
        Some(url::Host::Ipv4(a)) => {
            if forbidden_address(IpAddr::V4(a)) {
                return Err("must not be a link-local, metadata or broadcast address".into());
            }
            a.to_string()
        }
        Some(url::Host::Ipv6(a)) => {
            if forbidden_address(IpAddr::V6(a)) {
                return Err("must not be a link-local, metadata or multicast address".into());
            }
            a.to_string()
        }
        None => return Err("must name a host".into()),
    };
    if !host_allowed(&host, allowed) {
        return Err(format!(
            "{host} is not among the hosts webhooks may be sent to (webhooks.allowed_hosts)"
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn hosts_are_allowed_by_name_or_domain_and_some_addresses_never() {
        let allowed = vec![
            "hooks.trust.nhs.uk".to_string(),
            "*.ie.nhs.uk".into(),
            "127.0.0.1".into(),
            "169.254.169.254".into(),
        ];
        assert!(check_url("https://hooks.trust.nhs.uk/candour", &allowed).is_ok());
        assert!(check_url("https://HOOKS.trust.nhs.uk./x", &allowed).is_ok());
        assert!(check_url("https://engine.ie.nhs.uk/x", &allowed).is_ok());
        assert!(check_url("http://127.0.0.1:9000/x", &allowed).is_ok());
        assert!(check_url("https://ie.nhs.uk/x", &allowed).is_err());
        assert!(check_url("https://evil.example/x", &allowed).is_err());
        assert!(check_url("ftp://hooks.trust.nhs.uk/x", &allowed).is_err());
        assert!(check_url("https://u:p@hooks.trust.nhs.uk/x", &allowed).is_err());
        // Allowed by name or not, the metadata service is never a webhook.
        assert!(check_url("http://169.254.169.254/latest/meta-data", &allowed).is_err());
        assert!(forbidden_address("fe80::1".parse().unwrap()));
        assert!(forbidden_address("::ffff:169.254.169.254".parse().unwrap()));
        assert!(forbidden_address("fd00:ec2::254".parse().unwrap()));
        assert!(!forbidden_address("10.1.2.3".parse().unwrap()));
    }
}
