//! `GET /fhir/AdverseEvent?date=ge2026-01-01&_count=50`: a searchset Bundle of the incidents
//! the caller may see, newest reported first, with `next` links to the last page.
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use serde::Serialize;

use super::outcome::Outcome;
use super::{adverse_event, resource_url, Call};
use crate::context::AppState;
use crate::incident::model::{IncidentOrderField, IncidentQuery};
use crate::incident::service::Columns;
use crate::lfpse::mapping::{AdverseEvent, REFERENCE_SYSTEM};
use crate::record::stored::OrderDirection;

/// The search as asked: each parameter checked, so a bad one is refused by name.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Search {
    pub from: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
    pub reference: Option<String>,
    pub count: Option<u64>,
    pub cursor: Option<String>,
    /// The parameters to repeat in `self` and `next` links (not `_cursor`).
    pub kept: Vec<(String, String)>,
}

fn decode(s: &str) -> Result<String, ()> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(())?;
                let hex = std::str::from_utf8(hex).map_err(|_| ())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ())
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The instants a FHIR date or dateTime covers: [start, end). Partial dates are days,
/// months or years in the trust's time zone.
fn span(value: &str, tz: chrono_tz::Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let local = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    let parts: Vec<&str> = value.split('-').collect();
    match (value.len(), parts.as_slice()) {
        (4, [y]) => {
            let y: i32 = y.parse().ok()?;
            Some((
                local(NaiveDate::from_ymd_opt(y, 1, 1)?)?,
                local(NaiveDate::from_ymd_opt(y + 1, 1, 1)?)?,
            ))
        }
        (7, [y, m]) => {
            let (y, m): (i32, u32) = (y.parse().ok()?, m.parse().ok()?);
            let start = NaiveDate::from_ymd_opt(y, m, 1)?;
            let end = if m == 12 {
                NaiveDate::from_ymd_opt(y + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(y, m + 1, 1)?
            };
            Some((local(start)?, local(end)?))
        }
        (10, _) => {
            let d = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
            Some((local(d)?, local(d.succ_opt()?)?))
        }
        _ => {
            // A dateTime with its offset: one second.
            let t = DateTime::parse_from_rfc3339(value)
                .ok()?
                .with_timezone(&Utc);
            Some((t, t + chrono::Duration::seconds(1)))
        }
    }
}

impl Search {
    pub fn parse(query: &str, tz: chrono_tz::Tz, max_count: u64) -> Result<Self, Outcome> {
        let mut s = Search::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let key =
                decode(k).map_err(|_| Outcome::invalid("query", "the query is not URL-encoded"))?;
            let value = decode(v).map_err(|_| {
                Outcome::invalid(key.clone(), format!("{} is not URL-encoded", shown(&key)))
            })?;
            match key.as_str() {
                "date" => {
                    let bad = || {
                        Outcome::invalid(
                            "date",
                            "date must be a date or dateTime with an optional prefix eq, gt, ge, lt or le, such as ge2026-01-01",
                        )
                    };
                    let (prefix, rest) = match value.get(..2) {
                        Some(p @ ("eq" | "gt" | "ge" | "lt" | "le")) => (p, &value[2..]),
                        Some("ne" | "sa" | "eb" | "ap") => {
                            return Err(Outcome::invalid(
                                "date",
                                "the date prefixes ne, sa, eb and ap are not supported",
                            ))
                        }
                        _ => ("eq", value.as_str()),
                    };
                    let (start, end) = span(rest, tz).ok_or_else(bad)?;
                    let (lo, hi) = match prefix {
                        "gt" => (Some(end), None),
                        "ge" => (Some(start), None),
                        "lt" => (None, Some(start)),
                        "le" => (None, Some(end)),
                        _ => (Some(start), Some(end)),
                    };
                    if let Some(lo) = lo {
                        s.from = Some(s.from.map_or(lo, |f| f.max(lo)));
                    }
                    if let Some(hi) = hi {
                        s.before = Some(s.before.map_or(hi, |b| b.min(hi)));
                    }
                    s.kept.push((key, value));
                }
                "identifier" => {
                    let reference = match value.split_once('|') {
                        Some((system, v)) if system.is_empty() || system == REFERENCE_SYSTEM => v,
                        Some(_) => {
                            return Err(Outcome::invalid(
                                "identifier",
                                format!("identifier searches Candour's references only ({REFERENCE_SYSTEM}|INC-2026-000123)"),
                            ))
                        }
                        None => value.as_str(),
                    };
                    if reference.trim().is_empty() || reference.len() > 40 {
                        return Err(Outcome::invalid("identifier", "identifier needs a reference such as INC-2026-000123"));
                    }
                    if s.reference.is_some() {
                        return Err(Outcome::invalid("identifier", "identifier may be given once"));
                    }
                    s.reference = Some(reference.trim().to_string());
                    s.kept.push((key, value));
                }
                "_count" => {
                    let n: u64 = value.parse().map_err(|_| {
                        Outcome::invalid("_count", format!("_count must be a whole number from 1 to {max_count}"))
                    })?;
                    if n == 0 || n > max_count {
                        return Err(Outcome::invalid(
                            "_count",
                            format!("_count must be a whole number from 1 to {max_count}"),
                        ));
                    }
                    s.count = Some(n);
                    s.kept.push((key, value));
                }
                "_cursor" => {
                    if value.is_empty() || value.len() > 400 {
                        return Err(Outcome::invalid("_cursor", "_cursor is not a cursor from this search"));
                    }
                    s.cursor = Some(value);
                }
                // The format is JSON whatever it says (checked when the call began).
                "_format" => {}
                _ => {
                    return Err(Outcome::invalid(
                        key.clone(),
                        format!(
                            "{} is not a search parameter of AdverseEvent here (date, identifier, _count)",
                            shown(&key)
                        ),
                    ))
                }
            }
        }
        Ok(s)
    }

    fn link(&self, base: &str, cursor: Option<&str>) -> String {
        let mut q: Vec<String> = self
            .kept
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect();
        if let Some(c) = cursor {
            q.push(format!("_cursor={}", encode(c)));
        }
        if q.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", q.join("&"))
        }
    }
}

/// A parameter name as given, shortened, for a message.
fn shown(key: &str) -> String {
    let k: String = key.chars().take(40).collect();
    format!("\"{k}\"")
}

pub async fn search(req: HttpRequest, state: web::Data<Arc<AppState>>) -> HttpResponse {
    let call = match Call::begin(&req, &state).await {
        Ok(c) => c,
        Err(o) => return o.response(),
    };
    super::counted(&state, async {
        let result = run(&call, req.query_string()).await;
        call.finish(result).await
    })
    .await
}

async fn run(call: &Call, query: &str) -> Result<(StatusCode, Vec<u8>), Outcome> {
    let state = &call.state;
    super::may_read(&call.rc)?;
    let max = state.settings.limits.max_page_size;
    let s = Search::parse(query, state.settings.tz(), max)?;
    let first = s.count.unwrap_or(20.min(max));
    let q = IncidentQuery {
        occurred_after: s.from,
        occurred_before: s.before,
        reference: s.reference.clone(),
        ..Default::default()
    };
    let page = crate::incident::service::list(
        state,
        &call.rc,
        q,
        (IncidentOrderField::ReportedAt, OrderDirection::Desc),
        first,
        s.cursor.clone(),
        Columns::All,
    )
    .await
    .map_err(|e| match e {
        crate::error::AppError::Invalid { field, .. } if field == "after" => {
            Outcome::invalid("_cursor", "_cursor is not a cursor from this search")
        }
        e => Outcome::from(e),
    })?;
    let base = format!(
        "{}/fhir/AdverseEvent",
        state.settings.public_url.trim_end_matches('/')
    );
    let mut link = vec![Link {
        relation: "self",
        url: s.link(&base, s.cursor.as_deref()),
    }];
    if page.has_next {
        if let Some((_, last)) = page.rows.last() {
            link.push(Link {
                relation: "next",
                url: s.link(&base, Some(&last.encode())),
            });
        }
    }
    let mut served = Vec::with_capacity(page.rows.len());
    for ((m, access), _) in &page.rows {
        served.push((
            resource_url(state, m.id),
            adverse_event(state, &call.rc, m, *access).await?,
        ));
    }
    let bundle = Bundle {
        resource_type: "Bundle",
        kind: "searchset",
        timestamp: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        link,
        entry: served
            .iter()
            .map(|(full_url, r)| Entry {
                full_url,
                resource: r.resource(&state.lfpse),
                search: Mode { mode: "match" },
            })
            .collect(),
    };
    // Written straight out: no `Value` tree is built for a page.
    let body = serde_json::to_vec(&bundle).map_err(|_| Outcome::internal())?;
    Ok((StatusCode::OK, body))
}

/// A searchset Bundle, as it is written out.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bundle<'a> {
    resource_type: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    link: Vec<Link>,
    entry: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Link {
    relation: &'static str,
    url: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry<'a> {
    full_url: &'a str,
    resource: AdverseEvent<'a>,
    search: Mode,
}

#[derive(Serialize)]
struct Mode {
    mode: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONDON: chrono_tz::Tz = chrono_tz::Europe::London;

    #[test]
    fn dates_bound_the_search_in_the_trusts_time_zone() {
        let s = Search::parse("date=ge2026-07-01&date=lt2026-08", LONDON, 100).unwrap();
        // Midnight in London in summer is 23:00 UTC the day before.
        assert_eq!(s.from.unwrap().to_rfc3339(), "2026-06-30T23:00:00+00:00");
        assert_eq!(s.before.unwrap().to_rfc3339(), "2026-07-31T23:00:00+00:00");
        let eq = Search::parse("date=2026-01-15", LONDON, 100).unwrap();
        assert_eq!(eq.from.unwrap().to_rfc3339(), "2026-01-15T00:00:00+00:00");
        assert_eq!(eq.before.unwrap().to_rfc3339(), "2026-01-16T00:00:00+00:00");
        let gt = Search::parse("date=gt2026", LONDON, 100).unwrap();
        assert_eq!(gt.from.unwrap().to_rfc3339(), "2027-01-01T00:00:00+00:00");
        let t = Search::parse("date=le2026-03-01T10%3A00%3A00Z", LONDON, 100).unwrap();
        assert_eq!(t.before.unwrap().to_rfc3339(), "2026-03-01T10:00:01+00:00");
    }

    #[test]
    fn bad_parameters_are_refused_by_name() {
        for (q, expr) in [
            ("date=tomorrow", "date"),
            ("date=ne2026-01-01", "date"),
            ("date=2026-13-01", "date"),
            ("_count=0", "_count"),
            ("_count=101", "_count"),
            ("_count=ten", "_count"),
            ("patient=123", "patient"),
            ("identifier=http://other|X", "identifier"),
            ("_cursor=", "_cursor"),
        ] {
            let o = Search::parse(q, LONDON, 100).unwrap_err();
            assert_eq!(o.expression.as_deref(), Some(expr), "{q}");
            assert_eq!(o.status, StatusCode::BAD_REQUEST, "{q}");
        }
    }

    #[test]
    fn links_repeat_the_search_with_the_cursor() {
        let s = Search::parse("date=ge2026-01-01&_count=5&_cursor=abc", LONDON, 100).unwrap();
        assert_eq!(
            s.link("http://h/fhir/AdverseEvent", Some("xyz")),
            "http://h/fhir/AdverseEvent?date=ge2026-01-01&_count=5&_cursor=xyz"
        );
        assert_eq!(
            Search::parse(
                &format!(
                    "identifier={}%7CINC-2026-000001",
                    "urn%3Acandour%3Aincident-reference"
                ),
                LONDON,
                100
            )
            .unwrap()
            .reference
            .as_deref(),
            Some("INC-2026-000001")
        );
    }
}
