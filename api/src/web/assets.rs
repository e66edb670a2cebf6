//! Every file the pages load, built into the binary. The URL is `/assets/` and `path`; the
//! files live in `api/web/`. A test checks that no file there is left out.

pub struct Asset {
    pub path: &'static str,
    pub body: &'static [u8],
}

macro_rules! embed {
    ($($path:literal => $file:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $file)),
        }),*]
    };
}

pub const ASSETS: &[Asset] = embed![
    "candour.css" => "assets/candour.css",
    "graphiql-page.css" => "assets/graphiql-page.css",
    "favicon.svg" => "assets/favicon.svg",
    "js/graphiql-init.js" => "assets/js/graphiql-init.js",
    "js/lib/api.js" => "assets/js/lib/api.js",
    "js/lib/charts.js" => "assets/js/lib/charts.js",
    "js/lib/dom.js" => "assets/js/lib/dom.js",
    "js/lib/draft.js" => "assets/js/lib/draft.js",
    "js/lib/errors.js" => "assets/js/lib/errors.js",
    "js/lib/format.js" => "assets/js/lib/format.js",
    "js/lib/export.js" => "assets/js/lib/export.js",
    "js/lib/forms.js" => "assets/js/lib/forms.js",
    "js/lib/labels.js" => "assets/js/lib/labels.js",
    "js/lib/layout.js" => "assets/js/lib/layout.js",
    "js/lib/search-box.js" => "assets/js/lib/search-box.js",
    "js/lib/session.js" => "assets/js/lib/session.js",
    "js/lib/validate.js" => "assets/js/lib/validate.js",
    "js/pages/action.js" => "assets/js/pages/action.js",
    "js/pages/audit.js" => "assets/js/pages/audit.js",
    "js/pages/dashboard.js" => "assets/js/pages/dashboard.js",
    "js/pages/follow-up.js" => "assets/js/pages/follow-up.js",
    "js/pages/home.js" => "assets/js/pages/home.js",
    "js/pages/incident.js" => "assets/js/pages/incident.js",
    "js/pages/my-reports.js" => "assets/js/pages/my-reports.js",
    "js/pages/not-found.js" => "assets/js/pages/not-found.js",
    "js/pages/queue.js" => "assets/js/pages/queue.js",
    "js/pages/report.js" => "assets/js/pages/report.js",
    "js/pages/sign-in.js" => "assets/js/pages/sign-in.js",
    "vendor/graphiql/graphiql.min.js" => "vendor/graphiql/graphiql.min.js",
    "vendor/graphiql/graphiql.min.css" => "vendor/graphiql/graphiql.min.css",
    "vendor/graphiql/react.production.min.js" => "vendor/graphiql/react.production.min.js",
    "vendor/graphiql/react-dom.production.min.js" => "vendor/graphiql/react-dom.production.min.js",
    "vendor/graphiql/LICENSE.graphiql" => "vendor/graphiql/LICENSE.graphiql",
    "vendor/graphiql/LICENSE.react" => "vendor/graphiql/LICENSE.react",
    "vendor/graphiql/LICENSE.react-dom" => "vendor/graphiql/LICENSE.react-dom",
    "vendor/graphiql/THIRD-PARTY-LICENSES.txt" => "vendor/graphiql/THIRD-PARTY-LICENSES.txt",
    "vendor/graphiql/README.md" => "vendor/graphiql/README.md",
];

/// The media type of an asset, from its extension.
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("md") => "text/markdown; charset=utf-8",
        _ => "text/plain; charset=utf-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn files(dir: &Path, out: &mut Vec<String>, root: &Path) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files(&path, out, root);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }

    #[test]
    fn every_file_of_the_pages_is_embedded() {
        let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut on_disk = Vec::new();
        files(&web.join("assets"), &mut on_disk, &web.join("assets"));
        let mut vendored = Vec::new();
        files(&web.join("vendor"), &mut vendored, &web);
        on_disk.extend(vendored);
        for f in on_disk {
            assert!(
                ASSETS.iter().any(|a| a.path == f),
                "api/web/{f} is not in ASSETS (api/src/web/assets.rs)"
            );
        }
    }

    #[test]
    fn scripts_are_served_as_javascript() {
        assert_eq!(content_type("js/x.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("a.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("LICENSE.react"), "text/plain; charset=utf-8");
    }
}
