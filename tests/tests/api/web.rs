//! The intranet pages over HTTP: every page and asset comes from the server itself, under a
//! strict Content-Security-Policy, with validators for caching; unknown paths are 404; and
//! GraphiQL loads nothing from anywhere else.

use candour_tests::*;

const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const PAGES: &[&str] = &[
    "/",
    "/sign-in",
    "/report",
    "/my-reports",
    "/follow-up",
    "/queue",
    "/incidents/INC-2026-000001",
    "/actions/Q29ycmVjdGl2ZUFjdGlvbjox",
    "/audits/QXVkaXQ6MQ",
    "/dashboard",
];

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The `src` and `href` values of a page that point into the site.
fn local_references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let rest = &html[i + attr.len()..];
            let value = &rest[..rest.find('"').unwrap()];
            out.push(value.to_string());
        }
    }
    out
}

#[tokio::test]
async fn every_page_is_served_with_a_strict_content_security_policy() {
    let app = spawn_app().await;
    for path in PAGES {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        assert_eq!(header(&resp, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&resp, "content-security-policy"), PAGE_CSP, "{path}");
        assert_eq!(header(&resp, "x-content-type-options"), "nosniff");
        assert_eq!(header(&resp, "referrer-policy"), "no-referrer");
        assert_eq!(header(&resp, "x-frame-options"), "DENY");
        assert_eq!(header(&resp, "cache-control"), "no-cache");
        assert!(header(&resp, "etag").starts_with('"'), "{path}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("<main"), "{path}");
        for r in local_references(&html) {
            assert!(
                (r.starts_with('/') && !r.starts_with("//")) || r.starts_with('#'),
                "{path} refers to {r}, which is not on this server"
            );
        }
    }
}

#[tokio::test]
async fn everything_a_page_loads_is_served_from_the_binary() {
    let app = spawn_app().await;
    let html = app
        .client
        .get(app.url("/report"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let script = app
        .client
        .get(app.url("/assets/js/pages/report.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(script.status(), 200);
    assert_eq!(
        header(&script, "content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(header(&script, "x-content-type-options"), "nosniff");
    let source = script.text().await.unwrap();
    assert!(source.contains("reportIncident"), "not the report script");
    for r in local_references(&html)
        .into_iter()
        .filter(|r| r.starts_with("/assets/"))
    {
        let resp = app.client.get(app.url(&r)).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{r}");
    }
    // Imports between modules resolve too.
    for module in ["lib/validate.js", "lib/session.js", "lib/charts.js"] {
        let resp = app
            .client
            .get(app.url(&format!("/assets/js/{module}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{module}");
    }
}

#[tokio::test]
async fn a_page_the_browser_already_has_is_not_sent_again() {
    let app = spawn_app().await;
    for path in ["/report", "/assets/candour.css"] {
        let first = app.client.get(app.url(path)).send().await.unwrap();
        let etag = header(&first, "etag");
        let again = app
            .client
            .get(app.url(path))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(header(&again, "etag"), etag);
        assert_eq!(header(&again, "content-security-policy"), PAGE_CSP);
        assert!(again.bytes().await.unwrap().is_empty());
        let stale = app
            .client
            .get(app.url(path))
            .header("if-none-match", "\"something-else\"")
            .send()
            .await
            .unwrap();
        assert_eq!(stale.status(), 200, "{path}");
    }
    let head = app.client.head(app.url("/report")).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert!(!header(&head, "etag").is_empty());
}

#[tokio::test]
async fn unknown_paths_are_not_found() {
    let app = spawn_app().await;
    for path in [
        "/nowhere",
        "/assets/js/pages/nowhere.js",
        "/assets/../Cargo.toml",
        "/assets/",
        "/incidents",
        "/incidents/INC-2026-000001/more",
        "/report/extra",
    ] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        assert_eq!(header(&resp, "content-security-policy"), PAGE_CSP, "{path}");
        assert!(resp.text().await.unwrap().contains("Page not found"));
    }
    // The pages are read-only: a form posted to them by a browser without script goes
    // nowhere (and what it held is not logged).
    let posted = app
        .client
        .post(app.url("/report"))
        .form(&[("title", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 404);
}

#[tokio::test]
async fn graphiql_comes_from_the_server_itself() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let csp = header(&resp, "content-security-policy");
    assert!(
        csp.starts_with("default-src 'none'; script-src 'self'; style-src 'self' 'sha256-"),
        "{csp}"
    );
    assert!(
        !csp.contains("unsafe-eval") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = resp.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"));
    let refs = local_references(&html);
    assert!(
        refs.iter()
            .any(|r| r == "/assets/vendor/graphiql/graphiql.min.js"),
        "{refs:?}"
    );
    for r in refs {
        let asset = app.client.get(app.url(&r)).send().await.unwrap();
        assert_eq!(asset.status(), 200, "{r}");
    }
    for licence in [
        "LICENSE.graphiql",
        "LICENSE.react",
        "THIRD-PARTY-LICENSES.txt",
    ] {
        let resp = app
            .client
            .get(app.url(&format!("/assets/vendor/graphiql/{licence}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{licence}");
    }
}
