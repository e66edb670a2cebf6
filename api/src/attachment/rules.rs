//! The rules of attachments that need no I/O: which types are taken (by their content),
//! what a stored file is called, what an anonymous report may carry.
use crate::config::Attachments;

/// A type Candour knows how to recognise, with the extension a file of it should have.
struct Known {
    mime: &'static str,
    extensions: &'static [&'static str],
    /// Whether every piece of metadata that could name a person can be taken out (so an
    /// anonymous report may carry it).
    cleanable: bool,
}

const KNOWN: &[Known] = &[
    Known {
        mime: "image/jpeg",
        extensions: &["jpg", "jpeg"],
        cleanable: true,
    },
    Known {
        mime: "image/png",
        extensions: &["png"],
        cleanable: true,
    },
    Known {
        mime: "image/webp",
        extensions: &["webp"],
        cleanable: true,
    },
    Known {
        mime: "image/gif",
        extensions: &["gif"],
        cleanable: false,
    },
    Known {
        mime: "application/pdf",
        extensions: &["pdf"],
        cleanable: false,
    },
    Known {
        mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        extensions: &["docx"],
        cleanable: false,
    },
    Known {
        mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        extensions: &["xlsx"],
        cleanable: false,
    },
    Known {
        mime: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        extensions: &["pptx"],
        cleanable: false,
    },
];

fn known(mime: &str) -> Option<&'static Known> {
    KNOWN.iter().find(|k| k.mime == mime)
}

/// Bytes looked at to decide a file's type: OOXML files are recognised by the names of
/// the parts near the start of their zip.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// Checks the `[attachments]` settings: Err names the key and says what is wrong.
pub fn check(a: &Attachments) -> Result<(), (&'static str, String)> {
    if a.max_bytes == 0 || a.max_image_bytes == 0 || a.max_per_record == 0 {
        return Err((
            "attachments",
            "max_bytes, max_image_bytes and max_per_record must be at least 1".into(),
        ));
    }
    for t in &a.allowed_types {
        if known(t).is_none() {
            let names: Vec<&str> = KNOWN.iter().map(|k| k.mime).collect();
            return Err((
                "attachments.allowed_types",
                format!(
                    "{t:?} is not a type Candour recognises ({})",
                    names.join(", ")
                ),
            ));
        }
    }
    if let Some(s) = &a.scanner {
        if Scanner::parse(s).is_none() {
            return Err((
                "attachments.scanner",
                "must be tcp://host:port or unix:/path/to/clamd.ctl".into(),
            ));
        }
    }
    if a.scan_timeout_secs == 0 || a.scan_poll_ms == 0 || a.unattached_hours == 0 {
        return Err((
            "attachments",
            "scan_timeout_secs, scan_poll_ms and unattached_hours must be at least 1".into(),
        ));
    }
    Ok(())
}

/// The largest photo taken: its own limit, and never more than any file's.
pub fn max_photo_bytes(a: &Attachments) -> u64 {
    a.max_image_bytes.min(a.max_bytes)
}

/// Where clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scanner {
    Tcp(String),
    Unix(String),
}

impl Scanner {
    pub fn parse(s: &str) -> Option<Self> {
        if let Some(addr) = s.strip_prefix("tcp://") {
            let (host, port) = addr.rsplit_once(':')?;
            (!host.is_empty() && port.parse::<u16>().is_ok()).then(|| Self::Tcp(addr.into()))
        } else {
            let path = s.strip_prefix("unix:")?;
            let path = path.strip_prefix("//").unwrap_or(path);
            path.starts_with('/').then(|| Self::Unix(path.into()))
        }
    }
}

/// The type of a file from its first bytes, if it is one the settings take.
pub fn sniff(head: &[u8], allowed: &[String]) -> Result<&'static str, String> {
    let found = infer::get(head).map(|t| t.mime_type());
    match found.and_then(known) {
        Some(k) if allowed.iter().any(|a| a == k.mime) => Ok(k.mime),
        _ => {
            let what = match found {
                Some(m) => format!("its content is {m}"),
                None => "its content is not a type Candour recognises".into(),
            };
            Err(format!(
                "this file cannot be attached: {what}; the types taken are {} (decided from the content, not the file name)",
                allowed.join(", ")
            ))
        }
    }
}

/// Whether `mime` is a photo whose metadata is removed on the way in.
pub fn is_photo(mime: &str) -> bool {
    matches!(mime, "image/jpeg" | "image/png" | "image/webp")
}

/// Whether an anonymous report may carry a file of this type: one whose metadata Candour
/// can remove entirely (documents keep their author's name inside them).
pub fn anonymous_may_carry(mime: &str) -> bool {
    known(mime).is_some_and(|k| k.cleanable)
}

/// The types an anonymous report may carry, for messages.
pub fn anonymous_types() -> Vec<&'static str> {
    KNOWN
        .iter()
        .filter(|k| k.cleanable)
        .map(|k| k.mime)
        .collect()
}

/// Longest file name kept, in characters.
pub const MAX_NAME: usize = 200;

/// The name a file is stored under: the last part of what the client sent (no folders),
/// without control characters, and with the extension of the type it really is (a PNG
/// sent as `scan.pdf` is kept as `scan.png`, so it opens as what it is).
pub fn file_name(given: &str, mime: &str) -> String {
    let base = given
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\u{202e}' | '\u{202d}'))
        .collect::<String>();
    let base = base.trim().trim_matches('.').trim();
    let Some(k) = known(mime) else {
        return truncate(if base.is_empty() { "attachment" } else { base });
    };
    let (stem, ext) = match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.trim().is_empty() => (stem.trim(), Some(ext)),
        _ => (base, None),
    };
    if ext.is_some_and(|e| k.extensions.contains(&e.to_ascii_lowercase().as_str())) {
        return truncate(base);
    }
    let stem = if stem.is_empty() { "attachment" } else { stem };
    let ext = k.extensions[0];
    let stem: String = stem.chars().take(MAX_NAME - ext.len() - 1).collect();
    format!("{stem}.{ext}")
}

fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_NAME {
        return s.to_string();
    }
    match s.rsplit_once('.') {
        Some((stem, ext)) if ext.len() <= 10 => {
            let stem: String = stem.chars().take(MAX_NAME - ext.len() - 1).collect();
            format!("{stem}.{ext}")
        }
        _ => s.chars().take(MAX_NAME).collect(),
    }
}

/// The name an anonymous report's file is kept under: nothing the reporter chose.
pub fn anonymous_name(n: usize, mime: &str) -> String {
    let ext = known(mime).map(|k| k.extensions[0]).unwrap_or("bin");
    format!("evidence-{n}.{ext}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<String> {
        Attachments::default().allowed_types
    }

    #[test]
    fn types_come_from_the_content() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(sniff(png, &allowed()).unwrap(), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n", &allowed()).unwrap(), "application/pdf");
        assert_eq!(
            sniff(b"\xff\xd8\xff\xe0\0\x10JFIF", &allowed()).unwrap(),
            "image/jpeg"
        );
        let html = b"<!DOCTYPE html><html><script>alert(1)</script></html>";
        assert!(sniff(html, &allowed()).is_err());
        assert!(sniff(b"MZ\x90\0\x03\0\0\0", &allowed())
            .unwrap_err()
            .contains("content"));
        assert!(sniff(b"", &allowed()).is_err());
        // A type Candour knows is still refused when the settings leave it out.
        assert!(sniff(png, &["application/pdf".into()]).is_err());
    }

    #[test]
    fn stored_names_say_what_the_file_is() {
        assert_eq!(file_name("scan.pdf", "image/png"), "scan.png");
        assert_eq!(file_name("photo.JPG", "image/jpeg"), "photo.JPG");
        assert_eq!(
            file_name("C:\\Users\\jo\\Desktop\\dose.pdf", "application/pdf"),
            "dose.pdf"
        );
        assert_eq!(
            file_name("../../etc/passwd", "application/pdf"),
            "passwd.pdf"
        );
        assert_eq!(file_name("", "image/png"), "attachment.png");
        assert_eq!(file_name(".png", "image/png"), "png.png");
        assert_eq!(file_name("a\u{202e}gnp.exe", "image/png"), "agnp.png");
        assert_eq!(file_name("x\"y\r\n.pdf", "application/pdf"), "xy.pdf");
        let long = format!("{}.pdf", "a".repeat(500));
        let kept = file_name(&long, "application/pdf");
        assert_eq!(kept.chars().count(), MAX_NAME);
        assert!(kept.ends_with(".pdf"));
        assert_eq!(anonymous_name(2, "image/jpeg"), "evidence-2.jpg");
    }

    #[test]
    fn anonymous_reports_carry_only_what_can_be_cleaned() {
        assert!(anonymous_may_carry("image/jpeg"));
        assert!(anonymous_may_carry("image/png"));
        assert!(!anonymous_may_carry("application/pdf"));
        assert!(!anonymous_may_carry("image/gif"));
    }

    #[test]
    fn settings_are_checked() {
        assert!(check(&Attachments::default()).is_ok());
        let mut a = Attachments::default();
        a.allowed_types.push("text/html".into());
        assert_eq!(check(&a).unwrap_err().0, "attachments.allowed_types");
        let a = Attachments {
            scanner: Some("clamd:3310".into()),
            ..Attachments::default()
        };
        assert_eq!(check(&a).unwrap_err().0, "attachments.scanner");
        for ok in [
            "tcp://127.0.0.1:3310",
            "unix:/run/clamav/clamd.ctl",
            "unix:///run/clamd.sock",
        ] {
            assert!(Scanner::parse(ok).is_some(), "{ok}");
        }
        let a = Attachments {
            max_per_record: 0,
            ..Attachments::default()
        };
        assert!(check(&a).is_err());
    }
}
