//! The intranet pages: plain HTML, CSS and ES modules built into the binary, each page a
//! client of the public GraphQL API. Nothing is fetched from anywhere but Candour itself,
//! and every response carries a Content-Security-Policy that allows nothing else.
//!
//! A page is `layout.html` with the page's `<main>` and script filled in, assembled once
//! on first use. Pages and assets are served with an ETag and `Cache-Control: no-cache`:
//! browsers keep them and revalidate, so a new release is picked up at once without
//! hashed file names (which would need a build step to rewrite the imports).
mod assets;

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{guard, web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

/// The policy of every page: scripts, styles, fonts and requests from Candour only; no
/// inline script or style, no eval, no framing, no forms posting elsewhere.
pub const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; \
    base-uri 'none'; frame-ancestors 'none'";

/// GraphiQL's policy: the same, except that its stylesheet carries its fonts as data: URLs,
/// and one inline stylesheet is allowed by its hash: the scroll lock its dialogs add to the
/// page (react-remove-scroll-bar, with no scroll bar to make room for, as on this page that
/// never scrolls). No other inline style, and no inline script, runs.
pub const GRAPHIQL_CSP: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'sha256-Y/huXlwoYkVyQlxwSVcCi1RCDGDCSVBzDt0hYP9qlTc='; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; form-action 'self'; \
    base-uri 'none'; frame-ancestors 'none'";

/// The pages, by the path they are served at (`{}` matches one path segment).
const PAGES: &[PageSpec] = &[
    PageSpec::new(
        "/",
        "home",
        "Candour",
        include_str!("../../web/pages/home.html"),
    ),
    PageSpec::new(
        "/sign-in",
        "sign-in",
        "Sign in",
        include_str!("../../web/pages/sign-in.html"),
    ),
    PageSpec::new(
        "/report",
        "report",
        "Report an incident",
        include_str!("../../web/pages/report.html"),
    ),
    PageSpec::new(
        "/my-reports",
        "my-reports",
        "My reports",
        include_str!("../../web/pages/my-reports.html"),
    ),
    PageSpec::new(
        "/follow-up",
        "follow-up",
        "Follow up an anonymous report",
        include_str!("../../web/pages/follow-up.html"),
    ),
    PageSpec::new(
        "/queue",
        "queue",
        "Work queue",
        include_str!("../../web/pages/queue.html"),
    ),
    PageSpec::new(
        "/incidents/{}",
        "incident",
        "Incident",
        include_str!("../../web/pages/incident.html"),
    ),
    PageSpec::new(
        "/actions/{}",
        "action",
        "Corrective action",
        include_str!("../../web/pages/action.html"),
    ),
    PageSpec::new(
        "/audits/{}",
        "audit",
        "Audit",
        include_str!("../../web/pages/audit.html"),
    ),
    PageSpec::new(
        "/dashboard",
        "dashboard",
        "Dashboard",
        include_str!("../../web/pages/dashboard.html"),
    ),
];

const LAYOUT: &str = include_str!("../../web/layout.html");
const NOT_FOUND: &str = include_str!("../../web/pages/not-found.html");
const GRAPHIQL: &str = include_str!("../../web/graphiql.html");

struct PageSpec {
    path: &'static str,
    script: &'static str,
    title: &'static str,
    main: &'static str,
}

impl PageSpec {
    const fn new(
        path: &'static str,
        script: &'static str,
        title: &'static str,
        main: &'static str,
    ) -> Self {
        Self {
            path,
            script,
            title,
            main,
        }
    }
}

/// A response body ready to serve: its bytes, media type and validator.
struct Prepared {
    body: Vec<u8>,
    content_type: &'static str,
    etag: String,
}

impl Prepared {
    fn new(body: Vec<u8>, content_type: &'static str) -> Self {
        let digest = Sha256::digest(&body);
        let etag = format!(
            "\"{}\"",
            digest[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        Self {
            body,
            content_type,
            etag,
        }
    }
}

struct Site {
    pages: HashMap<&'static str, Prepared>,
    not_found: Prepared,
    graphiql: Prepared,
    assets: HashMap<&'static str, Prepared>,
}

fn render(title: &str, script: &str, main: &str) -> Vec<u8> {
    LAYOUT
        .replace("{{title}}", title)
        .replace("{{script}}", script)
        .replace("{{main}}", main)
        .into_bytes()
}

fn site() -> &'static Site {
    static SITE: OnceLock<Site> = OnceLock::new();
    SITE.get_or_init(|| Site {
        pages: PAGES
            .iter()
            .map(|p| {
                let body = render(p.title, p.script, p.main);
                (p.path, Prepared::new(body, "text/html; charset=utf-8"))
            })
            .collect(),
        not_found: Prepared::new(
            render("Page not found", "not-found", NOT_FOUND),
            "text/html; charset=utf-8",
        ),
        graphiql: Prepared::new(GRAPHIQL.as_bytes().to_vec(), "text/html; charset=utf-8"),
        assets: assets::ASSETS
            .iter()
            .map(|a| {
                (
                    a.path,
                    Prepared::new(a.body.to_vec(), assets::content_type(a.path)),
                )
            })
            .collect(),
    })
}

/// Registers the pages and `/assets/...` (next to `/graphql` and the probes).
pub fn routes(cfg: &mut web::ServiceConfig) {
    let get_or_head = || web::route().guard(guard::Any(guard::Get()).or(guard::Head()));
    for p in PAGES {
        let path = p.path.replace("{}", "{segment}");
        cfg.route(
            &path,
            get_or_head().to(move |req: HttpRequest| page(req, p.path)),
        );
    }
    cfg.route("/assets/{path:.*}", get_or_head().to(asset));
}

async fn page(req: HttpRequest, key: &'static str) -> HttpResponse {
    match site().pages.get(key) {
        Some(p) => serve(&req, p, PAGE_CSP, StatusCode::OK),
        None => not_found(&req),
    }
}

async fn asset(req: HttpRequest) -> HttpResponse {
    let path = req.match_info().query("path");
    match site().assets.get(path) {
        Some(a) => serve(&req, a, PAGE_CSP, StatusCode::OK),
        None => not_found(&req),
    }
}

/// Any path nobody serves: 404, with a page a person can find their way back from.
pub async fn not_found_service(req: HttpRequest) -> HttpResponse {
    not_found(&req)
}

fn not_found(_req: &HttpRequest) -> HttpResponse {
    let mut resp = HttpResponse::NotFound();
    security_headers(&mut resp, PAGE_CSP);
    resp.insert_header((header::CONTENT_TYPE, site().not_found.content_type))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(site().not_found.body.clone())
}

/// GraphiQL, for a browser asking for `/graphql`: served from the binary, like the pages.
pub fn graphiql(req: &HttpRequest) -> HttpResponse {
    serve(req, &site().graphiql, GRAPHIQL_CSP, StatusCode::OK)
}

fn security_headers(resp: &mut actix_web::HttpResponseBuilder, csp: &'static str) {
    resp.insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header(("cross-origin-opener-policy", "same-origin"))
        .insert_header(("cross-origin-resource-policy", "same-origin"));
}

fn serve(req: &HttpRequest, p: &Prepared, csp: &'static str, status: StatusCode) -> HttpResponse {
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == p.etag || t.trim() == "*"));
    let mut resp = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::build(status)
    };
    security_headers(&mut resp, csp);
    if let Ok(etag) = HeaderValue::from_str(&p.etag) {
        resp.insert_header((header::ETAG, etag));
    }
    resp.insert_header((header::CACHE_CONTROL, "no-cache"));
    if fresh {
        return resp.finish();
    }
    resp.insert_header((header::CONTENT_TYPE, p.content_type))
        .body(p.body.clone())
}

/// The link that signs someone in to the pages with `token`: the token travels in the
/// fragment, which browsers never send to a server, so it is in no access log. The page
/// moves it into the tab's session storage and takes it out of the address bar.
pub fn sign_in_link(public_url: &str, token: &str) -> String {
    format!("{}/#token={token}", public_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_links_carry_the_token_in_the_fragment() {
        assert_eq!(
            sign_in_link("https://candour.trust.nhs.uk/", "a.b.c"),
            "https://candour.trust.nhs.uk/#token=a.b.c"
        );
        assert_eq!(
            sign_in_link("http://127.0.0.1:8080", "a.b.c"),
            "http://127.0.0.1:8080/#token=a.b.c"
        );
    }

    #[test]
    fn every_page_has_its_script_and_a_main_and_no_inline_code() {
        for p in PAGES {
            let html = String::from_utf8(render(p.title, p.script, p.main)).unwrap();
            let script = format!("/assets/js/pages/{}.js", p.script);
            assert!(
                site().assets.contains_key(&script["/assets/".len()..]),
                "{} has no {script}",
                p.path
            );
            assert!(html.contains("<main"), "{}", p.path);
            assert!(!html.contains("{{"), "{} left a placeholder", p.path);
            for banned in [
                " style=",
                "<style",
                " onclick=",
                " onsubmit=",
                "javascript:",
            ] {
                assert!(!html.contains(banned), "{} has {banned:?}", p.path);
            }
            // Every <script> is a file (CSP: no inline script).
            for (i, _) in html.match_indices("<script") {
                let tag = &html[i..html[i..].find('>').map(|e| i + e).unwrap()];
                assert!(tag.contains(" src=\"/assets/"), "{}: {tag}", p.path);
            }
        }
    }

    #[test]
    fn every_asset_a_page_names_is_embedded() {
        let mut html: Vec<String> = PAGES
            .iter()
            .map(|p| String::from_utf8(render(p.title, p.script, p.main)).unwrap())
            .collect();
        html.push(GRAPHIQL.to_string());
        for page in html {
            for (i, _) in page.match_indices("\"/assets/") {
                let rest = &page[i + "\"/assets/".len()..];
                let path = &rest[..rest.find('"').unwrap()];
                assert!(site().assets.contains_key(path), "missing asset {path}");
            }
        }
    }

    #[test]
    fn etags_follow_content() {
        let a = Prepared::new(b"one".to_vec(), "text/plain");
        let b = Prepared::new(b"two".to_vec(), "text/plain");
        assert_ne!(a.etag, b.etag);
        assert_eq!(a.etag, Prepared::new(b"one".to_vec(), "text/plain").etag);
        assert!(a.etag.starts_with('"') && a.etag.ends_with('"'));
    }
}
