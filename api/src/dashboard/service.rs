//! The dashboard's figures, each read from the rollups (plus the deltas not yet folded, in
//! the same snapshot), never by scanning incidents; scoped to what the caller may see.
use std::collections::{BTreeMap, HashMap};

use chrono::{Days, Months, NaiveDate};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::model::*;
use super::period::{self, Bucket, Grain, Interval, Piece};
use super::rollup::{self, dim, metric, IncidentFacts, TRUST};
use super::sketch;
use crate::auth::{Role, Scope as TokenScope};
use crate::context::{AppState, RequestCtx};
use crate::dashboard::plain::{Ints, PlainList, ScalarList};
use crate::error::{AppError, AppResult};
use crate::incident::model::{HarmLevel, IncidentKind, IncidentStatus};
use entities::{
    action_rollup, audit, audit_finding, corrective_action, department, improvement_project,
    measure,
};

/// The longest period a dashboard covers.
const MAX_YEARS: u32 = 50;
/// The most buckets one series may have.
const MAX_BUCKETS: usize = 3_700;

/// Which departments and days the figures cover.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The departments covered, by code; None: the whole trust.
    pub departments: Option<Vec<department::Model>>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub today: NaiveDate,
}

impl Scope {
    /// Which rollup rows hold the scope's figures.
    fn row_departments(&self) -> Vec<Uuid> {
        match &self.departments {
            None => vec![TRUST],
            Some(d) => d.iter().map(|d| d.id).collect(),
        }
    }

    fn department_ids(&self) -> Option<Vec<Uuid>> {
        self.departments
            .as_ref()
            .map(|d| d.iter().map(|d| d.id).collect())
    }

    fn covers(&self, department_id: Uuid) -> bool {
        self.departments
            .as_ref()
            .is_none_or(|d| d.iter().any(|d| d.id == department_id))
    }
}

/// The caller's scope: quality leads and `incidents:read` service accounts every
/// department, handlers theirs; anyone else is FORBIDDEN. `department_ids` narrows it (a
/// department outside the caller's scope is FORBIDDEN).
pub async fn scope(
    state: &AppState,
    rc: &RequestCtx,
    department_ids: Option<Vec<Uuid>>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> AppResult<Scope> {
    let p = rc.principal()?;
    let everything = p.has_role(Role::QualityLead) || p.has_scope(TokenScope::IncidentsRead);
    if !everything && !p.has_role(Role::Handler) {
        return Err(AppError::forbidden(
            "the dashboard is for quality leads, and for handlers for their departments",
        ));
    }
    let mut all = crate::org::service::departments_cached(state).await?;
    if let Some(ids) = &department_ids {
        // One created through another instance in the last minute.
        if ids.iter().any(|id| !all.iter().any(|d| d.id == *id)) {
            all = crate::org::service::departments(state).await?;
        }
    }
    let allowed = |d: &department::Model| everything || p.handles_department(&d.code);
    let departments = match department_ids {
        Some(ids) => {
            let mut chosen = Vec::with_capacity(ids.len());
            for id in ids {
                let Some(d) = all.iter().find(|d| d.id == id) else {
                    return Err(AppError::invalid("departmentIds", "no such department")
                        .because(crate::record::text::reason::UNKNOWN));
                };
                if !allowed(d) {
                    return Err(AppError::forbidden(
                        "a handler's dashboard covers their own departments",
                    ));
                }
                if !chosen.iter().any(|c: &department::Model| c.id == id) {
                    chosen.push(d.clone());
                }
            }
            chosen.sort_by(|a, b| a.code.cmp(&b.code));
            Some(chosen)
        }
        None if everything => None,
        None => Some(all.iter().filter(|d| allowed(d)).cloned().collect()),
    };
    let today = state.settings.today();
    let to = to.unwrap_or(today);
    let from = match from {
        Some(f) => f,
        None => to
            .checked_sub_months(Months::new(12))
            .and_then(|d| d.succ_opt())
            .unwrap_or(to),
    };
    if from > to {
        return Err(AppError::invalid("from", "from must not be after to"));
    }
    if to
        .checked_sub_months(Months::new(12 * MAX_YEARS))
        .is_some_and(|earliest| from < earliest)
    {
        return Err(AppError::invalid(
            "from",
            format!("a dashboard covers at most {MAX_YEARS} years"),
        ));
    }
    Ok(Scope {
        departments,
        from,
        to,
        today,
    })
}

/// The departments the figures cover.
pub async fn departments(state: &AppState, scope: &Scope) -> AppResult<Vec<department::Model>> {
    Ok(match &scope.departments {
        Some(d) => d.clone(),
        None => crate::org::service::departments_cached(state).await?,
    })
}

fn interval_grain(i: TimeInterval) -> (Interval, Grain) {
    match i {
        TimeInterval::Day => (Interval::Day, Grain::Day),
        TimeInterval::Week => (Interval::Week, Grain::Week),
        TimeInterval::Month => (Interval::Month, Grain::Month),
    }
}

/// The buckets of a series and, for each whole piece of rollup that makes them up, which
/// bucket it belongs to.
struct Layout {
    buckets: Vec<Bucket>,
    pieces: HashMap<Piece, usize>,
}

impl Layout {
    fn new(scope: &Scope, interval: TimeInterval) -> AppResult<Self> {
        let (interval, grain) = interval_grain(interval);
        let buckets = period::buckets(scope.from, scope.to, interval);
        if buckets.len() > MAX_BUCKETS {
            return Err(AppError::invalid(
                "interval",
                format!("a series has at most {MAX_BUCKETS} buckets: choose a longer interval or a shorter period"),
            ));
        }
        let mut pieces = HashMap::new();
        for (i, b) in buckets.iter().enumerate() {
            for p in period::cover(b.start, b.end, grain) {
                pieces.insert(p, i);
            }
        }
        Ok(Self { buckets, pieces })
    }

    fn runs(&self) -> Vec<period::Run> {
        let pieces: Vec<Piece> = self.pieces.keys().copied().collect();
        period::runs(&pieces)
    }

    /// The bucket holding `day`, if it is in the period.
    fn bucket_of(&self, day: NaiveDate) -> Option<usize> {
        let i = self.buckets.partition_point(|b| b.end < day);
        self.buckets
            .get(i)
            .filter(|b| b.start <= day && day <= b.end)
            .map(|_| i)
    }

    fn index(&self, grain: i16, bucket: NaiveDate) -> Option<usize> {
        let grain = Grain::from_code(grain)?;
        self.pieces
            .get(&Piece {
                grain,
                start: bucket,
            })
            .copied()
    }
}

/// The fixed values of a split, in order, with their words.
async fn split_values(
    state: &AppState,
    scope: &Scope,
    split: IncidentDimension,
) -> AppResult<Vec<(String, String)>> {
    let harms = |max: i16| -> Vec<(String, String)> {
        (0..=max)
            .map(|r| HarmLevel::from_rank(r).as_str())
            .map(|k| (k.to_string(), words(k)))
            .collect()
    };
    Ok(match split {
        IncidentDimension::Kind => IncidentKind::ALL
            .iter()
            .map(|k| (k.as_str().to_string(), words(k.as_str())))
            .collect(),
        IncidentDimension::PhysicalHarm => harms(HarmLevel::Fatal.rank()),
        IncidentDimension::PsychologicalHarm => harms(HarmLevel::Severe.rank()),
        IncidentDimension::Status => IncidentStatus::ALL
            .iter()
            .map(|s| (s.as_str().to_string(), words(s.as_str())))
            .collect(),
        IncidentDimension::NearMiss => vec![
            ("true".into(), "Near miss".into()),
            ("false".into(), "Not a near miss".into()),
        ],
        IncidentDimension::Department => departments(state, scope)
            .await?
            .into_iter()
            .map(|d| (d.code, d.name))
            .collect(),
        IncidentDimension::Category => state
            .settings
            .incident_categories
            .iter()
            .map(|c| (c.clone(), c.clone()))
            .collect(),
    })
}

fn dimension_code(split: IncidentDimension) -> i16 {
    match split {
        IncidentDimension::Kind => dim::KIND,
        IncidentDimension::PhysicalHarm => dim::PHYSICAL_HARM,
        IncidentDimension::PsychologicalHarm => dim::PSYCHOLOGICAL_HARM,
        IncidentDimension::Category => dim::CATEGORY,
        IncidentDimension::Status => dim::STATUS,
        IncidentDimension::NearMiss => dim::NEAR_MISS,
        IncidentDimension::Department => dim::ALL,
    }
}

/// The value of a split for one incident's facts.
fn split_key(f: &IncidentFacts, split: IncidentDimension, codes: &HashMap<Uuid, String>) -> String {
    if split == IncidentDimension::Department {
        return codes.get(&f.department_id).cloned().unwrap_or_default();
    }
    let d = dimension_code(split);
    f.dimensions()
        .into_iter()
        .find(|(code, _)| *code == d)
        .map(|(_, v)| v)
        .unwrap_or_default()
}

/// Incidents reported in the period, bucket by bucket, optionally split.
pub async fn incident_counts(
    state: &AppState,
    scope: &Scope,
    interval: TimeInterval,
    split: Option<IncidentDimension>,
) -> AppResult<IncidentCountSeries> {
    let layout = Layout::new(scope, interval)?;
    let by_department = split == Some(IncidentDimension::Department);
    let codes: HashMap<Uuid, String> = departments(state, scope)
        .await?
        .into_iter()
        .map(|d| (d.id, d.code))
        .collect();
    // Split by department: each department's own rows; otherwise the scope's rows.
    let row_departments: Vec<Uuid> = if by_department {
        codes.keys().copied().collect()
    } else {
        scope.row_departments()
    };
    let mut dimensions = vec![dim::ALL];
    if let Some(s) = split.filter(|_| !by_department) {
        dimensions.push(dimension_code(s));
    }
    let n = layout.buckets.len();
    let mut totals = vec![0i64; n];
    let mut splits: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); n];

    let (rows, pending) = rollup::counts(
        &state.db.conn,
        &state.rollups,
        &row_departments,
        &dimensions,
        &layout.runs(),
        scope.department_ids().as_deref(),
    )
    .await?;

    for r in rows.iter() {
        let Some(i) = layout.index(r.grain, r.bucket) else {
            continue;
        };
        if r.dimension == dim::ALL {
            totals[i] += r.n;
            if by_department {
                let code = codes.get(&r.department_id).cloned().unwrap_or_default();
                *splits[i].entry(code).or_insert(0) += r.n;
            }
        } else if let Some(n) = splits[i].get_mut(&r.value) {
            *n += r.n;
        } else {
            splits[i].insert(r.value.clone(), r.n);
        }
    }
    for (sign, f) in &pending {
        if !scope.covers(f.department_id) {
            continue;
        }
        let Some(i) = layout.bucket_of(f.reported_day) else {
            continue;
        };
        totals[i] += sign;
        if let Some(s) = split {
            *splits[i].entry(split_key(f, s, &codes)).or_insert(0) += sign;
        }
    }

    // Every bucket lists the same values in the same order: the fixed ones, then any
    // other value seen (categories outside the taxonomy, or free text), by name.
    let mut values: Vec<(String, String)> = match split {
        Some(s) => split_values(state, scope, s).await?,
        None => Vec::new(),
    };
    if split.is_some() {
        let mut extra: Vec<String> = splits
            .iter()
            .flat_map(|m| m.iter().filter(|(_, c)| **c != 0).map(|(k, _)| k.clone()))
            .filter(|k| !values.iter().any(|(v, _)| v == k))
            .collect();
        extra.sort();
        extra.dedup();
        for k in extra {
            let label = if k.is_empty() {
                "Uncategorised".to_string()
            } else {
                k.clone()
            };
            values.push((k, label));
        }
    }
    let counts_of = |m: &BTreeMap<String, i64>| -> Vec<SplitCount> {
        values
            .iter()
            .map(|(key, label)| SplitCount {
                key: key.clone(),
                label: label.clone(),
                count: m.get(key).copied().unwrap_or(0),
            })
            .collect()
    };
    let mut overall: BTreeMap<String, i64> = BTreeMap::new();
    for m in &splits {
        for (k, c) in m {
            *overall.entry(k.clone()).or_insert(0) += c;
        }
    }
    let numbers_of = |m: &BTreeMap<String, i64>| -> Ints {
        ScalarList(
            values
                .iter()
                .map(|(key, _)| m.get(key).copied().unwrap_or(0))
                .collect(),
        )
    };
    Ok(IncidentCountSeries {
        interval,
        split_by: split,
        total: totals.iter().sum(),
        totals: PlainList(counts_of(&overall)),
        keys: ScalarList(values.iter().map(|(k, _)| k.clone()).collect()),
        labels: ScalarList(values.iter().map(|(_, l)| l.clone()).collect()),
        buckets: PlainList(
            layout
                .buckets
                .iter()
                .enumerate()
                .map(|(i, b)| IncidentCountBucket {
                    start: b.start.into(),
                    end: b.end.into(),
                    total: totals[i],
                    split: counts_of(&splits[i]),
                    counts: numbers_of(&splits[i]),
                })
                .collect(),
        ),
    })
}

/// Incidents reported, and closed, in each bucket.
pub async fn reported_vs_closed(
    state: &AppState,
    scope: &Scope,
    interval: TimeInterval,
) -> AppResult<Vec<ReportedClosedBucket>> {
    let layout = Layout::new(scope, interval)?;
    let n = layout.buckets.len();
    let (mut reported, mut closed) = (vec![0i64; n], vec![0i64; n]);
    let (rows, pending) = rollup::counts(
        &state.db.conn,
        &state.rollups,
        &scope.row_departments(),
        &[dim::ALL, dim::CLOSED],
        &layout.runs(),
        scope.department_ids().as_deref(),
    )
    .await?;
    for r in rows.iter() {
        if let Some(i) = layout.index(r.grain, r.bucket) {
            match r.dimension {
                dim::ALL => reported[i] += r.n,
                _ => closed[i] += r.n,
            }
        }
    }
    for (sign, f) in &pending {
        if !scope.covers(f.department_id) {
            continue;
        }
        if let Some(i) = layout.bucket_of(f.reported_day) {
            reported[i] += sign;
        }
        if let Some(i) = f.closed.and_then(|(day, _)| layout.bucket_of(day)) {
            closed[i] += sign;
        }
    }
    Ok(layout
        .buckets
        .iter()
        .enumerate()
        .map(|(i, b)| ReportedClosedBucket {
            start: b.start.into(),
            end: b.end.into(),
            reported: reported[i],
            closed: closed[i],
        })
        .collect())
}

/// Time to triage (`metric::TRIAGE`, of incidents triaged in the period) or to close
/// (`metric::CLOSE`, of incidents closed in the period).
pub async fn durations(state: &AppState, scope: &Scope, which: i16) -> AppResult<DurationSummary> {
    let pieces = period::cover(scope.from, scope.to, Grain::Year);
    let (mut s, pending) = rollup::durations(
        &state.db.conn,
        &state.rollups,
        &scope.row_departments(),
        which,
        &period::runs(&pieces),
        scope.department_ids().as_deref(),
    )
    .await?;
    for (sign, f) in &pending {
        if !scope.covers(f.department_id) {
            continue;
        }
        let at = if which == metric::TRIAGE {
            f.triaged
        } else {
            f.closed
        };
        if let Some((day, secs)) = at {
            if scope.from <= day && day <= scope.to {
                s.add(sketch::bin(secs), *sign);
            }
        }
    }
    let hours = |q: f64| s.quantile(q).map(|secs| (secs / 36.0).round() / 100.0);
    Ok(DurationSummary {
        count: s.count(),
        median_hours: hours(0.5),
        p90_hours: hours(0.9),
    })
}

/// The age bands of open incidents, in days since the report.
const BANDS: [(i32, Option<i32>, &str); 5] = [
    (0, Some(6), "Under a week"),
    (7, Some(29), "1 to 4 weeks"),
    (30, Some(89), "1 to 3 months"),
    (90, Some(179), "3 to 6 months"),
    (180, None, "Over 6 months"),
];

fn is_open_status(s: &str) -> bool {
    matches!(
        s,
        "REPORTED" | "UNDER_REVIEW" | "INVESTIGATING" | "ACTIONS_IN_PROGRESS"
    )
}

/// Open incidents now, by how long ago they were reported (the period does not apply).
pub async fn open_by_age(state: &AppState, scope: &Scope) -> AppResult<Vec<AgeBand>> {
    let today = scope.today;
    let day = |n: i32| today.checked_sub_days(Days::new(n as u64)).unwrap_or(today);
    // Bounded bands from their pieces; the oldest is every open incident less the others,
    // from the year rows.
    let mut pieces: HashMap<Piece, usize> = HashMap::new();
    for (i, (min, max, _)) in BANDS.iter().enumerate() {
        if let Some(max) = max {
            for p in period::cover(day(*max), day(*min), Grain::Month) {
                pieces.insert(p, i);
            }
        }
    }
    let piece_list: Vec<Piece> = pieces.keys().copied().collect();
    let mut runs = period::runs(&piece_list);
    runs.push(period::Run {
        grain: Grain::Year,
        // Any year (within what both databases store as a date).
        first: NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or(today),
        last: today,
    });
    let (rows, pending) = rollup::counts(
        &state.db.conn,
        &state.rollups,
        &scope.row_departments(),
        &[dim::STATUS],
        &runs,
        scope.department_ids().as_deref(),
    )
    .await?;
    let mut counts = [0i64; BANDS.len()];
    let mut all_open = 0i64;
    for r in rows.iter().filter(|r| is_open_status(&r.value)) {
        if r.grain == Grain::Year.code() {
            all_open += r.n;
        } else if let Some(g) = Grain::from_code(r.grain) {
            if let Some(i) = pieces.get(&Piece {
                grain: g,
                start: r.bucket,
            }) {
                counts[*i] += r.n;
            }
        }
    }
    let last = BANDS.len() - 1;
    counts[last] = all_open - counts[..last].iter().sum::<i64>();
    for (sign, f) in &pending {
        if !scope.covers(f.department_id) || !is_open_status(&f.status) {
            continue;
        }
        let age = (today - f.reported_day).num_days().max(0) as i32;
        if let Some(i) = BANDS
            .iter()
            .position(|(min, max, _)| age >= *min && max.is_none_or(|m| age <= m))
        {
            counts[i] += sign;
        }
    }
    Ok(BANDS
        .iter()
        .zip(counts)
        .map(|((min, max, label), count)| AgeBand {
            label: (*label).into(),
            min_days: *min,
            max_days: *max,
            count,
        })
        .collect())
}

/// Corrective actions of the scope's departments: now (open, overdue) and over all time
/// (completed on time, verified), in all, by department and by owner.
pub async fn actions(state: &AppState, scope: &Scope) -> AppResult<ActionFigures> {
    let mut q = action_rollup::Entity::find();
    if let Some(ids) = scope.department_ids() {
        q = q.filter(action_rollup::Column::DepartmentId.is_in(ids));
    }
    let rows = q.all(&state.db.conn).await?;
    let mut total = ActionCounts::default();
    let mut by_department: BTreeMap<Uuid, ActionCounts> = BTreeMap::new();
    let mut by_owner: BTreeMap<String, ActionCounts> = BTreeMap::new();
    for r in rows {
        let mut c = ActionCounts::default();
        if rollup::is_open(&r.status) {
            c.open = r.n;
            if r.due_date < scope.today {
                c.overdue = r.n;
            }
        } else if rollup::is_done(&r.status) {
            c.completed = r.n;
            if r.flags & rollup::ON_TIME != 0 {
                c.completed_on_time = r.n;
            }
            if r.status == "VERIFIED" {
                c.verified = r.n;
                if r.flags & rollup::EFFECTIVE != 0 {
                    c.verified_effective = r.n;
                }
            }
        } else {
            continue;
        }
        total.add(&c);
        by_department.entry(r.department_id).or_default().add(&c);
        by_owner.entry(r.owner_email).or_default().add(&c);
    }
    let mut owners: Vec<ActionGroup> = by_owner
        .into_iter()
        .filter(|(_, c)| *c != ActionCounts::default())
        .map(|(email, counts)| ActionGroup {
            department_id: None,
            owner_email: Some(email),
            counts,
        })
        .collect();
    // Who most needs chasing first.
    owners.sort_by(|a, b| {
        (b.counts.overdue, b.counts.open)
            .cmp(&(a.counts.overdue, a.counts.open))
            .then_with(|| a.owner_email.cmp(&b.owner_email))
    });
    let mut departments: Vec<ActionGroup> = by_department
        .into_iter()
        .filter(|(_, c)| *c != ActionCounts::default())
        .map(|(id, counts)| ActionGroup {
            department_id: Some(id),
            owner_email: None,
            counts,
        })
        .collect();
    let codes: HashMap<Uuid, String> = crate::org::service::departments_cached(state)
        .await?
        .into_iter()
        .map(|d| (d.id, d.code))
        .collect();
    departments.sort_by_key(|g| g.department_id.and_then(|id| codes.get(&id).cloned()));
    Ok(ActionFigures {
        counts: total,
        by_department: departments,
        by_owner: owners,
    })
}

/// An audit and its re-audits, oldest first, with each criterion's compliance per cycle.
pub struct AuditSeries {
    pub cycles: Vec<audit::Model>,
    pub criteria: Vec<CriterionTrend>,
}

/// The audit series of the scope's departments with a cycle planned to start in the
/// period (every cycle of such a series is shown, so the trend can be read).
pub async fn audit_series(state: &AppState, scope: &Scope) -> AppResult<Vec<AuditSeries>> {
    let mut q = audit::Entity::find()
        .filter(audit::Column::DisposedAt.is_null())
        .order_by_asc(audit::Column::PlannedStart)
        .order_by_asc(audit::Column::Id);
    if let Some(ids) = scope.department_ids() {
        q = q.filter(audit::Column::DepartmentId.is_in(ids));
    }
    let audits = q.all(&state.db.conn).await?;
    let by_id: HashMap<Uuid, &audit::Model> = audits.iter().map(|a| (a.id, a)).collect();
    let root_of = |a: &audit::Model| -> Uuid {
        let mut cur = a;
        // Bounded: a chain cannot be longer than the audits there are.
        for _ in 0..by_id.len() {
            match cur.reaudit_of_id.and_then(|p| by_id.get(&p)) {
                Some(prev) => cur = prev,
                None => break,
            }
        }
        cur.id
    };
    let mut series: BTreeMap<(NaiveDate, Uuid), Vec<&audit::Model>> = BTreeMap::new();
    let mut root_start: HashMap<Uuid, NaiveDate> = HashMap::new();
    for a in &audits {
        let root = root_of(a);
        let start = by_id
            .get(&root)
            .map_or(a.planned_start, |r| r.planned_start);
        root_start.insert(root, start);
        series.entry((start, root)).or_default().push(a);
    }
    let chosen: Vec<Vec<&audit::Model>> = series
        .into_values()
        .filter(|cycles| {
            cycles
                .iter()
                .any(|c| scope.from <= c.planned_start && c.planned_start <= scope.to)
        })
        .collect();
    let ids: Vec<Uuid> = chosen.iter().flatten().map(|a| a.id).collect();
    let findings = if ids.is_empty() {
        Vec::new()
    } else {
        audit_finding::Entity::find()
            .filter(audit_finding::Column::AuditId.is_in(ids))
            .order_by_asc(audit_finding::Column::Criterion)
            .all(&state.db.conn)
            .await?
    };
    let mut of_audit: HashMap<Uuid, Vec<&audit_finding::Model>> = HashMap::new();
    for f in &findings {
        of_audit.entry(f.audit_id).or_default().push(f);
    }
    Ok(chosen
        .into_iter()
        .map(|cycles| {
            let mut criteria: BTreeMap<String, CriterionTrend> = BTreeMap::new();
            for c in &cycles {
                for f in of_audit.get(&c.id).into_iter().flatten() {
                    let compliance = crate::audit::workflow::compliance_percent(
                        f.sample_size,
                        f.compliant_count,
                    );
                    criteria
                        .entry(f.criterion_key.clone())
                        .or_insert_with(|| CriterionTrend {
                            criterion: f.criterion.clone(),
                            points: Vec::new(),
                        })
                        .points
                        .push(CompliancePoint {
                            audit_id: crate::record::ids::encode(
                                crate::record::ids::Kind::Audit,
                                c.id,
                            ),
                            planned_start: c.planned_start.into(),
                            compliance_percent: compliance,
                            target_percent: f.target_percent,
                            non_conformity: crate::audit::workflow::is_non_conformity(
                                f.target_percent,
                                f.sample_size,
                                f.compliant_count,
                            ),
                        });
                }
            }
            AuditSeries {
                cycles: cycles.into_iter().cloned().collect(),
                criteria: criteria.into_values().collect(),
            }
        })
        .collect())
}

/// Findings below target in the scope's audits with no corrective action completed (or
/// verified) yet: non-conformities still open, whenever they were found.
pub async fn non_conformities_open(state: &AppState, scope: &Scope) -> AppResult<i64> {
    let mut audits = audit::Entity::find()
        .filter(audit::Column::DisposedAt.is_null())
        .select_only_id();
    if let Some(ids) = scope.department_ids() {
        audits = audits.filter(audit::Column::DepartmentId.is_in(ids));
    }
    let findings = audit_finding::Entity::find()
        .filter(audit_finding::Column::AuditId.in_subquery(sea_orm::QueryTrait::into_query(audits)))
        .all(&state.db.conn)
        .await?;
    let below: Vec<&audit_finding::Model> = findings
        .iter()
        .filter(|f| {
            crate::audit::workflow::is_non_conformity(
                f.target_percent,
                f.sample_size,
                f.compliant_count,
            )
        })
        .collect();
    if below.is_empty() {
        return Ok(0);
    }
    let resolved: Vec<Option<Uuid>> = corrective_action::Entity::find()
        .select_only()
        .column(corrective_action::Column::AuditFindingId)
        .filter(
            corrective_action::Column::AuditFindingId
                .is_in(below.iter().map(|f| f.id).collect::<Vec<_>>()),
        )
        .filter(corrective_action::Column::Status.is_in(["COMPLETED", "VERIFIED"]))
        .into_tuple()
        .all(&state.db.conn)
        .await?;
    Ok(below
        .iter()
        .filter(|f| !resolved.contains(&Some(f.id)))
        .count() as i64)
}

trait SelectOnlyId {
    fn select_only_id(self) -> Self;
}

impl SelectOnlyId for sea_orm::Select<audit::Entity> {
    fn select_only_id(self) -> Self {
        self.select_only().column(audit::Column::Id)
    }
}

/// The measures of the scope's improvement projects that are under way (ACTIVE or
/// SUSTAINING), project by project.
pub async fn improvement_measures(
    state: &AppState,
    scope: &Scope,
) -> AppResult<Vec<(improvement_project::Model, measure::Model)>> {
    let mut q = improvement_project::Entity::find()
        .filter(improvement_project::Column::Status.is_in(["ACTIVE", "SUSTAINING"]))
        .filter(improvement_project::Column::DisposedAt.is_null())
        .order_by_asc(improvement_project::Column::Title)
        .order_by_asc(improvement_project::Column::Id);
    if let Some(ids) = scope.department_ids() {
        q = q.filter(improvement_project::Column::DepartmentId.is_in(ids));
    }
    let projects = q.all(&state.db.conn).await?;
    if projects.is_empty() {
        return Ok(Vec::new());
    }
    let measures = measure::Entity::find()
        .filter(measure::Column::ProjectId.is_in(projects.iter().map(|p| p.id).collect::<Vec<_>>()))
        .order_by_asc(measure::Column::Name)
        .all(&state.db.conn)
        .await?;
    Ok(projects
        .into_iter()
        .flat_map(|p| {
            measures
                .iter()
                .filter(|m| m.project_id == p.id)
                .map(|m| (p.clone(), m.clone()))
                .collect::<Vec<_>>()
        })
        .collect())
}
