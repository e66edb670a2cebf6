//! Email templates: minijinja, with the built-in set embedded in the binary and an
//! operator's folder (`notify.templates_dir`) taking precedence file by file. Each kind has
//! `<kind>.subject`, `<kind>.txt` and `<kind>.html`; HTML is auto-escaped.
use std::path::PathBuf;

use minijinja::{AutoEscape, Environment, Value};

/// The built-in templates, by file name.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "_layout.html",
        include_str!("../../templates/email/_layout.html"),
    ),
    (
        "_footer.txt",
        include_str!("../../templates/email/_footer.txt"),
    ),
    (
        "incident_reported.subject",
        include_str!("../../templates/email/incident_reported.subject"),
    ),
    (
        "incident_reported.txt",
        include_str!("../../templates/email/incident_reported.txt"),
    ),
    (
        "incident_reported.html",
        include_str!("../../templates/email/incident_reported.html"),
    ),
    (
        "serious_incident_reported.subject",
        include_str!("../../templates/email/serious_incident_reported.subject"),
    ),
    (
        "serious_incident_reported.txt",
        include_str!("../../templates/email/serious_incident_reported.txt"),
    ),
    (
        "serious_incident_reported.html",
        include_str!("../../templates/email/serious_incident_reported.html"),
    ),
    (
        "action_assigned.subject",
        include_str!("../../templates/email/action_assigned.subject"),
    ),
    (
        "action_assigned.txt",
        include_str!("../../templates/email/action_assigned.txt"),
    ),
    (
        "action_assigned.html",
        include_str!("../../templates/email/action_assigned.html"),
    ),
    (
        "action_due_soon.subject",
        include_str!("../../templates/email/action_due_soon.subject"),
    ),
    (
        "action_due_soon.txt",
        include_str!("../../templates/email/action_due_soon.txt"),
    ),
    (
        "action_due_soon.html",
        include_str!("../../templates/email/action_due_soon.html"),
    ),
    (
        "action_due_today.subject",
        include_str!("../../templates/email/action_due_today.subject"),
    ),
    (
        "action_due_today.txt",
        include_str!("../../templates/email/action_due_today.txt"),
    ),
    (
        "action_due_today.html",
        include_str!("../../templates/email/action_due_today.html"),
    ),
    (
        "action_overdue.subject",
        include_str!("../../templates/email/action_overdue.subject"),
    ),
    (
        "action_overdue.txt",
        include_str!("../../templates/email/action_overdue.txt"),
    ),
    (
        "action_overdue.html",
        include_str!("../../templates/email/action_overdue.html"),
    ),
    (
        "action_escalated.subject",
        include_str!("../../templates/email/action_escalated.subject"),
    ),
    (
        "action_escalated.txt",
        include_str!("../../templates/email/action_escalated.txt"),
    ),
    (
        "action_escalated.html",
        include_str!("../../templates/email/action_escalated.html"),
    ),
    (
        "incident_closed.subject",
        include_str!("../../templates/email/incident_closed.subject"),
    ),
    (
        "incident_closed.txt",
        include_str!("../../templates/email/incident_closed.txt"),
    ),
    (
        "incident_closed.html",
        include_str!("../../templates/email/incident_closed.html"),
    ),
    (
        "audit_due.subject",
        include_str!("../../templates/email/audit_due.subject"),
    ),
    (
        "audit_due.txt",
        include_str!("../../templates/email/audit_due.txt"),
    ),
    (
        "audit_due.html",
        include_str!("../../templates/email/audit_due.html"),
    ),
    (
        "obligation_due_soon.subject",
        include_str!("../../templates/email/obligation_due_soon.subject"),
    ),
    (
        "obligation_due_soon.txt",
        include_str!("../../templates/email/obligation_due_soon.txt"),
    ),
    (
        "obligation_due_soon.html",
        include_str!("../../templates/email/obligation_due_soon.html"),
    ),
    (
        "obligation_missed.subject",
        include_str!("../../templates/email/obligation_missed.subject"),
    ),
    (
        "obligation_missed.txt",
        include_str!("../../templates/email/obligation_missed.txt"),
    ),
    (
        "obligation_missed.html",
        include_str!("../../templates/email/obligation_missed.html"),
    ),
];

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The templates, ready to render.
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// The built-in set, with any file of the same name in `dir` in its place. Every
    /// template is compiled here, so a broken override stops the server at start with
    /// the file's name rather than failing an email later.
    pub fn load(dir: Option<PathBuf>) -> Result<Self, String> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        env.set_loader(move |name| {
            if let Some(dir) = &dir {
                // Only plain file names: a template may not reach outside its folder.
                if !name.contains(['/', '\\']) && !name.starts_with('.') {
                    match std::fs::read_to_string(dir.join(name)) {
                        Ok(s) => return Ok(Some(s)),
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(minijinja::Error::new(
                                minijinja::ErrorKind::InvalidOperation,
                                format!("cannot read template {name}: {e}"),
                            ))
                        }
                    }
                }
            }
            Ok(BUILT_IN
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| s.to_string()))
        });
        for (name, _) in BUILT_IN {
            env.get_template(name)
                .map_err(|e| format!("email template {name}: {e}"))?;
        }
        Ok(Self { env })
    }

    /// Renders one kind's subject, text and HTML with `vars`.
    pub fn render(&self, kind: &str, vars: &serde_json::Value) -> Result<Rendered, String> {
        let subject = self.subject(kind, vars)?;
        let (text, html) = self.bodies(kind, vars, &subject)?;
        Ok(Rendered {
            subject,
            text,
            html,
        })
    }

    /// One kind's subject line with `vars` (its first non-blank line, at most 250
    /// characters).
    pub fn subject(&self, kind: &str, vars: &serde_json::Value) -> Result<String, String> {
        let name = format!("{kind}.subject");
        let rendered = self
            .env
            .get_template(&name)
            .and_then(|t| t.render(Value::from(minijinja::value::Serde(vars))))
            .map_err(|e| format!("email template {name}: {e}"))?;
        Ok(rendered
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or(kind)
            .chars()
            .take(250)
            .collect())
    }

    /// One kind's text and HTML bodies with `vars` (the HTML also sees the `subject`).
    pub fn bodies(
        &self,
        kind: &str,
        vars: &serde_json::Value,
        subject: &str,
    ) -> Result<(String, String), String> {
        let text = self
            .env
            .get_template(&format!("{kind}.txt"))
            .and_then(|t| t.render(Value::from(minijinja::value::Serde(vars))))
            .map_err(|e| format!("email template {kind}.txt: {e}"))?;
        let mut with_subject = vars.clone();
        if let Some(map) = with_subject.as_object_mut() {
            map.insert("subject".into(), serde_json::Value::String(subject.into()));
        }
        let html = self
            .env
            .get_template(&format!("{kind}.html"))
            .and_then(|t| t.render(Value::from(minijinja::value::Serde(&with_subject))))
            .map_err(|e| format!("email template {kind}.html: {e}"))?;
        Ok((text, html))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_kind_renders_and_html_is_escaped() {
        let t = Templates::load(None).unwrap();
        for kind in crate::notify::NotificationKind::ALL {
            let r = t
                .render(
                    kind.template(),
                    &serde_json::json!({
                        "reference": "INC-2026-000001",
                        "department": "Cardiology <Physiology>",
                        "due": "2026-12-01",
                        "link": "https://candour.example/incidents/INC-2026-000001",
                        "mandatory": kind.mandatory(),
                    }),
                )
                .unwrap();
            assert!(!r.subject.is_empty(), "{kind:?}");
            assert!(!r.subject.contains('\n'));
            assert!(r.text.contains("Candour"), "{kind:?}: {}", r.text);
            assert!(!r.html.contains("<Physiology>"), "{kind:?}");
        }
    }

    #[test]
    fn a_folder_overrides_one_template_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("action_assigned.subject"),
            "Action for you by {{ due }}",
        )
        .unwrap();
        let t = Templates::load(Some(dir.path().to_path_buf())).unwrap();
        let r = t
            .render("action_assigned", &serde_json::json!({"due": "2026-12-01"}))
            .unwrap();
        assert_eq!(r.subject, "Action for you by 2026-12-01");
        assert!(r.text.contains("2026-12-01"));
    }

    #[test]
    fn a_broken_override_stops_loading_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("audit_due.txt"), "{% if %}").unwrap();
        let e = Templates::load(Some(dir.path().to_path_buf()))
            .err()
            .unwrap();
        assert!(e.contains("audit_due.txt"), "{e}");
    }
}
