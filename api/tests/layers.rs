//! The layers of the code, checked on its source: a service calls only the services of the
//! domains below it (docs/architecture.md draws them), the shared record machinery depends
//! on nothing of a domain, pure rules never touch the database, and no service depends on
//! the GraphQL layer. A new import that breaks a layer fails here, naming the file.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The domains from the bottom up; a domain may call the services of those before it. The
/// base (the record machinery, auth, errors, the database, settings) is below them all.
const LAYERS: &[&[&str]] = &[
    &[
        "record",
        "auth",
        "protect",
        "db",
        "config",
        "error",
        "context",
        "telemetry",
    ],
    &["trail"],
    &["org"],
    &["dashboard", "notify", "lfpse", "live", "attachment"],
    &["incident"],
    &["audit", "improvement", "governance"],
    &["learning"],
    &["action"],
    &["webhook", "search"],
];

/// Modules that decide who may do what with a record's dependants by asking every record's
/// own service (attachments: which record a file is on, and the caller's rights on it).
/// Like the edges that call them, they sit above every layer; the rest of their domain is
/// checked as any other.
const ABOVE: &[&str] = &["attachment/owners.rs"];

/// Modules with no database in them (the states, the rules, the vocabularies): any layer
/// may read any domain's.
const PURE: &[&str] = &["model", "workflow", "rules", "taxonomy", "mapping"];

fn layer_of(domain: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&domain))
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every Rust file under `dir`, with its path from `src/`.
fn files(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(src())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, std::fs::read_to_string(&path).unwrap()));
        }
    }
}

/// The code of a file without its comments (a doc comment may name any module).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `crate::domain::module` paths a file names, as (domain, module).
fn uses(code: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let ident = |s: &str| -> String {
            s.chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect()
        };
        let domain = ident(rest);
        let after = &rest[domain.len()..];
        let module = after.strip_prefix("::").map(ident).unwrap_or_default();
        out.push((domain, module));
    }
    out
}

/// The layer violations in the source: (file, what it names).
fn violations() -> Vec<(String, String)> {
    let mut all = Vec::new();
    files(&src(), &mut all);
    let mut found = Vec::new();
    for (path, text) in &all {
        let mut parts = path.split('/');
        let first = parts.next().unwrap();
        let Some(file) = parts.next() else { continue };
        let domain = first;
        // The GraphQL layer (graphql/ and each domain's graphql.rs), the FHIR API, the CSV
        // export and the web pages may use any service; they are above every layer.
        if domain == "graphql"
            || domain == "web"
            || domain == "fhir"
            || domain == "export"
            || file == "graphql.rs"
            || ABOVE.contains(&path.as_str())
        {
            continue;
        }
        let Some(mine) = layer_of(domain) else {
            continue;
        };
        let module = file.trim_end_matches(".rs");
        let pure = PURE.contains(&module);
        let code = code(text);
        for (to, sub) in uses(&code) {
            if to == domain {
                continue;
            }
            let named = format!("crate::{to}::{sub}");
            if to == "graphql" {
                found.push((
                    path.clone(),
                    format!("{named} (a service on the GraphQL layer)"),
                ));
                continue;
            }
            let Some(theirs) = layer_of(&to) else {
                continue;
            };
            if domain == "record" && !["auth", "error"].contains(&to.as_str()) {
                found.push((
                    path.clone(),
                    format!("{named} (the record machinery on {to})"),
                ));
            } else if pure && theirs > 0 && !PURE.contains(&sub.as_str()) {
                found.push((
                    path.clone(),
                    format!("{named} (a pure module on a service)"),
                ));
            } else if theirs >= mine && theirs > 0 && !PURE.contains(&sub.as_str()) {
                found.push((path.clone(), format!("{named} (a layer up or across)")));
            }
        }
        if pure
            && ["sea_orm", "AppState", "ConnectionTrait"]
                .iter()
                .any(|t| code.contains(t))
        {
            found.push((path.clone(), "the database (in a pure module)".into()));
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn services_call_only_the_layers_below_them() {
    let found = violations();
    assert!(
        found.is_empty(),
        "imports against the layers of docs/architecture.md:\n{}",
        found
            .iter()
            .map(|(f, what)| format!("  {f}: {what}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_domain_has_a_layer() {
    let mut domains = BTreeMap::new();
    for entry in std::fs::read_dir(src()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            domains.insert(name.clone(), layer_of(&name).is_some());
        }
    }
    domains.remove("graphql");
    domains.remove("web");
    domains.remove("fhir");
    domains.remove("export");
    let missing: Vec<_> = domains
        .iter()
        .filter(|(_, has)| !**has)
        .map(|(d, _)| d)
        .collect();
    assert!(
        missing.is_empty(),
        "domains with no layer in LAYERS: {missing:?}"
    );
}

#[test]
fn the_check_sees_a_call_up_the_layers() {
    // The parser the checks rely on finds what a file names.
    assert_eq!(
        uses("use crate::incident::service::list;\n let x = crate::trail::record(a);"),
        vec![
            ("incident".to_string(), "service".to_string()),
            ("trail".to_string(), "record".to_string())
        ]
    );
    assert_eq!(code("let a = 1; // crate::action::service"), "let a = 1; ");
}
