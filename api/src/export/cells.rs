//! How rows become CSV bytes: RFC 4180 quoting by the `csv` crate, CRLF line ends, a
//! UTF-8 byte order mark first (so Excel reads the file as UTF-8), and every cell that a
//! spreadsheet would take for a formula made inert.
use std::borrow::Cow;

use crate::error::{AppError, AppResult};

/// The UTF-8 byte order mark the file starts with.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A cell as written: one that begins with `=`, `+`, `-`, `@`, a tab or a carriage return
/// gets a leading single quote, so a spreadsheet shows it as text instead of running it as
/// a formula (OWASP, "CSV Injection"). Titles and notes are typed by staff and by other
/// systems: `=HYPERLINK(...)` in a title must not become a link that leaks data.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => Cow::Owned(format!("'{cell}")),
        _ => Cow::Borrowed(cell),
    }
}

/// Appends `rows` (each as long as the header) to `out` as CSV records.
pub fn write<S: AsRef<str>>(
    out: &mut Vec<u8>,
    rows: impl IntoIterator<Item = impl IntoIterator<Item = S>>,
) -> AppResult<()> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    for row in rows {
        let cells: Vec<S> = row.into_iter().collect();
        w.write_record(cells.iter().map(|c| neutralise(c.as_ref()).into_owned()))
            .map_err(|_| AppError::Internal("writing CSV".into()))?;
    }
    w.flush()
        .map_err(|_| AppError::Internal("writing CSV".into()))?;
    Ok(())
}

/// A time as the GraphQL API gives it (RFC 3339).
pub fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339()
}

/// An optional time; blank when none.
pub fn maybe_time(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(time).unwrap_or_default()
}

/// `true` or `false`.
pub fn flag(b: bool) -> String {
    b.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_of(rows: Vec<Vec<&str>>) -> String {
        let mut out = Vec::new();
        write(&mut out, rows).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn formulas_are_made_inert() {
        for cell in ["=1+1", "+44", "-2", "@SUM(1)", "\tx", "\rx"] {
            assert_eq!(neutralise(cell), format!("'{cell}"), "{cell:?}");
        }
        for cell in ["", "INC-2026-000001", "a=b", "2026-01-01", "'quoted"] {
            assert_eq!(neutralise(cell), cell, "{cell:?}");
        }
    }

    #[test]
    fn rows_are_quoted_as_rfc_4180_says_with_crlf() {
        assert_eq!(
            csv_of(vec![
                vec!["a", "b,c", "say \"hi\""],
                vec!["two\nlines", "", "=HYPERLINK(\"http://x\")"]
            ]),
            "a,\"b,c\",\"say \"\"hi\"\"\"\r\n\"two\nlines\",,\"'=HYPERLINK(\"\"http://x\"\")\"\r\n"
        );
    }
}
