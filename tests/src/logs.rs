//! The server's logs, captured for the whole suite.
//!
//! Every test server in this process logs (at debug, as JSON, with the server's own filter)
//! into one capture. Sensitive values the tests send (descriptions, patient details,
//! comments, justifications…) are registered as they go out; a log line holding any of them
//! is a leak. Each `TestApp` checks for leaks when it is dropped, so a leak anywhere in the
//! suite fails a test.
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

#[derive(Default)]
struct Capture {
    lines: Mutex<Vec<String>>,
    sensitive: Mutex<Vec<String>>,
    leaks: Mutex<Vec<String>>,
}

static CAPTURE: OnceLock<Capture> = OnceLock::new();

fn capture() -> &'static Capture {
    CAPTURE.get_or_init(Capture::default)
}

/// Installs the capturing subscriber once per process.
pub fn install() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let settings = candour::config::Settings {
            log_level: "debug".into(),
            log_format: candour::config::LogFormat::Json,
            ..Default::default()
        };
        candour::telemetry::init_with_writer(&settings, || CaptureWriter);
    });
}

struct CaptureWriter;

impl Write for CaptureWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf).to_string();
        let c = capture();
        let lower = text.to_lowercase();
        for value in c.sensitive.lock().unwrap().iter() {
            if lower.contains(value) {
                c.leaks
                    .lock()
                    .unwrap()
                    .push(format!("{value:?} in log line {text}"));
            }
        }
        // CANDOUR_TEST_LOGS=1 echoes the server's warnings and errors to the test's output,
        // for finding why a request failed (the capture itself is never printed).
        if std::env::var_os("CANDOUR_TEST_LOGS").is_some()
            && (text.contains("\"level\":\"ERROR\"") || text.contains("\"level\":\"WARN\""))
        {
            eprint!("{text}");
        }
        c.lines.lock().unwrap().push(text);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Keys whose string values are sensitive wherever they appear in a request's variables.
const SENSITIVE_KEYS: &[&str] = &[
    "description",
    "nhsNumber",
    "immediateActions",
    "findings",
    "body",
    "justification",
    "note",
];

/// Keys that are sensitive inside a `patient` object.
const PATIENT_KEYS: &[&str] = &["name", "dateOfBirth", "nhsNumber"];

/// Registers the sensitive values in an outgoing GraphQL request body.
pub fn register_request(body: &Value) {
    let mut found = Vec::new();
    walk(body, false, &mut found);
    if found.is_empty() {
        return;
    }
    let mut sensitive = capture().sensitive.lock().unwrap();
    for v in found {
        if !sensitive.contains(&v) {
            sensitive.push(v);
        }
    }
}

/// Registers one value as sensitive (for values sent some other way).
pub fn register(value: &str) {
    let v = value.trim().to_lowercase();
    if v.chars().count() >= 6 {
        let mut sensitive = capture().sensitive.lock().unwrap();
        if !sensitive.contains(&v) {
            sensitive.push(v);
        }
    }
}

fn walk(v: &Value, in_patient: bool, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let sensitive = SENSITIVE_KEYS.contains(&k.as_str())
                    || (in_patient && PATIENT_KEYS.contains(&k.as_str()));
                if sensitive {
                    if let Value::String(s) = child {
                        let s = s.trim().to_lowercase();
                        // An NHS number is the same number with or without its spaces or
                        // dashes, and the server keeps it without them: a leak of
                        // "9434765919" must be caught when "943 476 5919" was sent.
                        if k == "nhsNumber" {
                            let bare: String = s
                                .chars()
                                .filter(|c| !c.is_whitespace() && *c != '-')
                                .collect();
                            if bare != s && bare.chars().count() >= 6 {
                                out.push(bare);
                            }
                        }
                        // Short values ("Jo", "x") would match unrelated text.
                        if s.chars().count() >= 6 {
                            out.push(s);
                        }
                    }
                }
                walk(child, k == "patient", out);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, in_patient, out)),
        _ => {}
    }
}

/// Every captured line so far (all servers of this process).
pub fn lines() -> Vec<String> {
    capture().lines.lock().unwrap().clone()
}

/// Leaks found so far.
pub fn leaks() -> Vec<String> {
    capture().leaks.lock().unwrap().clone()
}

/// Panics naming the first leak, unless the thread is already panicking.
pub fn assert_no_leaks() {
    let leaks = leaks();
    if !leaks.is_empty() && !std::thread::panicking() {
        panic!(
            "{} sensitive value(s) reached the server's logs; first: {}",
            leaks.len(),
            leaks[0]
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_nhs_number_is_registered_as_sent_and_without_spaces_or_dashes() {
        let mut found = Vec::new();
        walk(
            &serde_json::json!({ "input": {
                "patient": { "nhsNumber": "943 476 5919", "name": "Josephine Quillfeather" },
                "filter": { "nhsNumber": "485-777-3457" },
            } }),
            false,
            &mut found,
        );
        for expected in [
            "943 476 5919",
            "9434765919",
            "485-777-3457",
            "4857773457",
            "josephine quillfeather",
        ] {
            assert!(found.iter().any(|f| f == expected), "{expected}: {found:?}");
        }
    }
}
