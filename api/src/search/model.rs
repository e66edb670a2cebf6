//! What a search asks and what it finds, without the database: the words of a query (and
//! how each backend is asked for them), and highlighted text read back into fragments.
use async_graphql::Enum;

use crate::error::{AppError, AppResult};
use crate::record::text::reason;

/// The most characters a query may have.
pub const MAX_QUERY_CHARS: usize = 200;
/// The most words a query may have.
pub const MAX_WORDS: usize = 10;
/// The most characters of one word.
pub const MAX_WORD_CHARS: usize = 64;
/// How far a search can be paged: results after this many are not listed (narrow the
/// search instead). Ranking reads every match, so deep pages cost as much as the first.
pub const MAX_RESULTS: u64 = 1000;

/// The marks the databases put around a matched word in a highlight: control characters,
/// which no form or client sends in text. (Were one stored, it could only mis-mark a
/// fragment of a field the caller may read anyway.)
pub const MARK_START: char = '\u{2}';
pub const MARK_END: char = '\u{3}';

/// A kind of record search looks through.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SearchKind {
    /// Incidents and near misses.
    Incident,
    /// Corrective actions.
    CorrectiveAction,
    /// Clinical and quality audits.
    Audit,
    /// Improvement projects.
    ImprovementProject,
}

impl SearchKind {
    pub const ALL: [SearchKind; 4] = [
        SearchKind::Incident,
        SearchKind::CorrectiveAction,
        SearchKind::Audit,
        SearchKind::ImprovementProject,
    ];
}

/// One word of a query; `prefix` when written with a trailing `*` (`syring*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub prefix: bool,
}

/// The words of a query: every one must be found in a record (in any field the caller may
/// read) for it to match. Words are letters and digits; anything else separates them, as
/// the databases' tokenizers do, so a query never reaches either as syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub words: Vec<Word>,
}

fn bad(message: impl Into<String>, why: &'static str) -> AppError {
    AppError::invalid("query", message).because(why)
}

impl Terms {
    pub fn parse(query: &str) -> AppResult<Self> {
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(bad(
                format!("query is at most {MAX_QUERY_CHARS} characters"),
                reason::TOO_LONG,
            )
            .limit(MAX_QUERY_CHARS));
        }
        let mut words = Vec::new();
        let mut current = String::new();
        for c in query.chars() {
            if c.is_alphanumeric() {
                current.extend(c.to_lowercase());
                continue;
            }
            if !current.is_empty() {
                words.push(Word {
                    text: std::mem::take(&mut current),
                    prefix: c == '*',
                });
            }
        }
        if !current.is_empty() {
            words.push(Word {
                text: current,
                prefix: false,
            });
        }
        if words.is_empty() {
            return Err(bad(
                "query must hold at least one word (letters or digits)",
                reason::BLANK,
            ));
        }
        if words.len() > MAX_WORDS {
            return Err(bad(
                format!("query is at most {MAX_WORDS} words"),
                reason::TOO_LONG,
            )
            .limit(MAX_WORDS));
        }
        if words
            .iter()
            .any(|w| w.text.chars().count() > MAX_WORD_CHARS)
        {
            return Err(bad(
                format!("a word of the query is at most {MAX_WORD_CHARS} characters"),
                reason::TOO_LONG,
            )
            .limit(MAX_WORD_CHARS));
        }
        Ok(Self { words })
    }

    /// An FTS5 query for every word, in any column.
    pub fn fts5(&self) -> String {
        self.words
            .iter()
            .map(|w| format!("\"{}\"{}", w.text, if w.prefix { "*" } else { "" }))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// An FTS5 query for every word, found only in `columns`.
    pub fn fts5_in(&self, columns: &[&str]) -> String {
        format!("{{{}}} : ({})", columns.join(" "), self.fts5())
    }

    /// A PostgreSQL `to_tsquery` text for every word.
    pub fn tsquery(&self) -> String {
        self.words
            .iter()
            .map(|w| format!("{}{}", w.text, if w.prefix { ":*" } else { "" }))
            .collect::<Vec<_>>()
            .join(" & ")
    }
}

/// A piece of highlighted text: a matched word, or the text between.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    pub text: String,
    pub matched: bool,
}

/// The fragments of text the database marked (`MARK_START`…`MARK_END` around each match);
/// None when nothing in it was marked.
pub fn fragments(marked: &str) -> Option<Vec<Fragment>> {
    if !marked.contains(MARK_START) {
        return None;
    }
    let mut out: Vec<Fragment> = Vec::new();
    let mut text = String::new();
    let mut matched = false;
    let flush = |text: &mut String, matched: bool, out: &mut Vec<Fragment>| {
        if text.is_empty() {
            return;
        }
        match out.last_mut() {
            Some(last) if last.matched == matched => last.text.push_str(text),
            _ => out.push(Fragment {
                text: text.clone(),
                matched,
            }),
        }
        text.clear();
    };
    for c in marked.chars() {
        match c {
            MARK_START => {
                flush(&mut text, matched, &mut out);
                matched = true;
            }
            MARK_END => {
                flush(&mut text, matched, &mut out);
                matched = false;
            }
            c => text.push(c),
        }
    }
    flush(&mut text, matched, &mut out);
    out.iter().any(|f| f.matched).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(q: &str) -> Vec<(String, bool)> {
        Terms::parse(q)
            .unwrap()
            .words
            .into_iter()
            .map(|w| (w.text, w.prefix))
            .collect()
    }

    #[test]
    fn a_query_is_its_words_lower_cased_with_anything_else_between_them() {
        assert_eq!(
            words("Syringe-driver  FAILED!"),
            vec![
                ("syringe".into(), false),
                ("driver".into(), false),
                ("failed".into(), false)
            ]
        );
        assert_eq!(
            words("INC-2026-000123"),
            vec![
                ("inc".into(), false),
                ("2026".into(), false),
                ("000123".into(), false)
            ]
        );
        assert_eq!(
            words("infus* pump"),
            vec![("infus".into(), true), ("pump".into(), false)]
        );
        assert_eq!(words("Café"), vec![("café".into(), false)]);
    }

    #[test]
    fn query_syntax_never_reaches_the_databases() {
        let t = Terms::parse(r#"a" OR title:* NEAR(b) & !c | d:* ' ; -- {x}"#).unwrap();
        for w in &t.words {
            assert!(w.text.chars().all(char::is_alphanumeric), "{w:?}");
        }
        assert_eq!(t.fts5(), r#""a" "or" "title" "near" "b" "c" "d" "x""#);
        assert_eq!(t.tsquery(), "a & or & title & near & b & c & d & x");
        // A prefix is a `*` right after the word, and nothing else.
        assert_eq!(
            Terms::parse("pump* d *x").unwrap().tsquery(),
            "pump:* & d & x"
        );
        assert_eq!(
            Terms::parse("pump")
                .unwrap()
                .fts5_in(&["title", "location"]),
            r#"{title location} : ("pump")"#
        );
    }

    #[test]
    fn empty_long_and_wordy_queries_are_refused_by_name() {
        for q in ["", "   ", "*** --- ???"] {
            let e = Terms::parse(q).unwrap_err();
            assert!(
                matches!(e, AppError::Invalid { ref field, .. } if field == "query"),
                "{q:?}"
            );
        }
        assert!(Terms::parse(&"a ".repeat(11)).is_err());
        assert!(Terms::parse(&"a".repeat(65)).is_err());
        assert!(Terms::parse(&"a".repeat(201)).is_err());
        assert!(Terms::parse(&"a ".repeat(10)).is_ok());
    }

    #[test]
    fn marked_text_reads_back_as_fragments() {
        assert_eq!(fragments("no match here"), None);
        assert_eq!(
            fragments("the \u{2}syringe\u{3} \u{2}driver\u{3} alarmed"),
            Some(vec![
                Fragment {
                    text: "the ".into(),
                    matched: false
                },
                Fragment {
                    text: "syringe".into(),
                    matched: true
                },
                Fragment {
                    text: " ".into(),
                    matched: false
                },
                Fragment {
                    text: "driver".into(),
                    matched: true
                },
                Fragment {
                    text: " alarmed".into(),
                    matched: false
                },
            ])
        );
        assert_eq!(fragments("\u{2}\u{3}"), None);
    }
}
