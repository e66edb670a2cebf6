//! Text checks shared by every record. Each refusal carries a reason code and the limit
//! (`extensions.reason`, `extensions.limit`), so that the pages read the code, not the
//! wording.
use crate::error::{AppError, AppResult};

/// Why a value was refused: the codes clients may rely on (`extensions.reason`).
pub mod reason {
    /// Nothing but white space where a value is needed.
    pub const BLANK: &str = "BLANK";
    /// Longer than `extensions.limit` characters.
    pub const TOO_LONG: &str = "TOO_LONG";
    /// A date or time later than now allows.
    pub const IN_FUTURE: &str = "IN_FUTURE";
    /// Names something that does not exist (or is not yours to see).
    pub const UNKNOWN: &str = "UNKNOWN";
    /// Not one of the values configured.
    pub const NOT_ALLOWED: &str = "NOT_ALLOWED";
    /// Not of the form the field takes (an email address, an NHS number, a cursor...).
    pub const MALFORMED: &str = "MALFORMED";
    /// Of the right form, but its check digit is wrong (an NHS number).
    pub const CHECK_DIGIT: &str = "CHECK_DIGIT";
    /// Already recorded, and it is recorded once.
    pub const DUPLICATE: &str = "DUPLICATE";
    /// Well-formed, but against a rule of the record (the message says which).
    pub const RULE: &str = "RULE";
}

/// A free-text field that is too long.
pub fn too_long(field: &str, max: usize) -> AppError {
    AppError::invalid(field, format!("{field} must be at most {max} characters"))
        .because(reason::TOO_LONG)
        .limit(max)
}

/// A needed field that is blank.
pub fn blank(field: &str) -> AppError {
    AppError::invalid(field, format!("{field} must not be blank")).because(reason::BLANK)
}

/// Trims a text field; blank becomes None; longer than `max` characters (as Unicode scalar
/// values) is bad input.
pub fn optional(field: &str, value: Option<String>, max: usize) -> AppResult<Option<String>> {
    let Some(v) = value else { return Ok(None) };
    let v = v.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if v.chars().count() > max {
        return Err(too_long(field, max));
    }
    Ok(Some(v.to_string()))
}

/// Trims a text field that must have a value of at most `max` characters.
pub fn required(field: &str, value: String, max: usize) -> AppResult<String> {
    optional(field, Some(value), max)?.ok_or_else(|| blank(field))
}

/// An email address, lower-cased (addresses are matched case-insensitively).
pub fn email(field: &str, value: &str) -> AppResult<String> {
    let e = value.trim().to_lowercase();
    let valid = e.len() <= 320
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !e.chars().any(char::is_whitespace);
    if valid {
        Ok(e)
    } else {
        Err(
            AppError::invalid(field, format!("{field} must be an email address"))
                .because(reason::MALFORMED),
        )
    }
}

/// A LIKE pattern that finds `s` anywhere, case-insensitively (compare with LOWER(col)),
/// with `%`, `_` and `\` taken literally (escape character `\`).
pub fn like_pattern(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('%');
    for c in s.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// A condition that some of `columns` contains `search` (case-insensitive, literal), or
/// None for a blank search.
pub fn contains_any<C: sea_orm::ColumnTrait>(
    columns: &[C],
    search: Option<&str>,
) -> Option<sea_orm::Condition> {
    use sea_orm::sea_query::{Expr, Func, LikeExpr, SimpleExpr};
    let s = search.map(str::trim).filter(|s| !s.is_empty())?;
    let pattern = like_pattern(s);
    let mut any = sea_orm::Condition::any();
    for col in columns {
        let lower: SimpleExpr = Func::lower(Expr::col(*col)).into();
        any = any.add(Expr::expr(lower).like(LikeExpr::new(pattern.clone()).escape('\\')));
    }
    Some(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason_of(e: AppError) -> (&'static str, Option<usize>) {
        match e {
            AppError::Invalid { reason, limit, .. } => (reason, limit),
            other => panic!("expected bad input, got {other:?}"),
        }
    }

    #[test]
    fn text_is_trimmed_blank_is_none_and_long_is_refused_with_its_limit() {
        assert_eq!(
            optional("f", Some("  a b ".into()), 3).unwrap(),
            Some("a b".into())
        );
        assert_eq!(optional("f", Some("   ".into()), 3).unwrap(), None);
        assert_eq!(optional("f", None, 3).unwrap(), None);
        // Characters, not bytes.
        assert!(optional("f", Some("ééé".into()), 3).is_ok());
        assert_eq!(
            reason_of(optional("f", Some("abcd".into()), 3).unwrap_err()),
            (reason::TOO_LONG, Some(3))
        );
        assert_eq!(
            reason_of(required("f", " ".into(), 3).unwrap_err()),
            (reason::BLANK, None)
        );
    }

    #[test]
    fn emails_are_checked_and_lower_cased() {
        assert_eq!(
            email("ownerEmail", " Sam.Jones@Trust.NHS.uk ").unwrap(),
            "sam.jones@trust.nhs.uk"
        );
        for bad in [
            "",
            "sam",
            "sam@",
            "@trust.nhs.uk",
            "sam@trust",
            "s am@trust.nhs.uk",
        ] {
            assert!(email("ownerEmail", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
