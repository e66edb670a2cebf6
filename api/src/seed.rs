//! `candour seed --incidents N`: realistic synthetic data for demonstrations and
//! benchmarks. Eight healthcare-science departments, their staff, N incidents over the
//! last five years (more in winter, fewer at weekends, slowly growing, as reporting does),
//! with the reviews, learning and corrective actions their age implies, a sealed trail
//! event for each, and a programme of audits and improvement projects with measures.
//!
//! Rows go in with multi-row INSERTs in large transactions, and trail events are sealed
//! into the hash chain as they are written (holding the sealer's lock), so a million
//! incidents need neither the request path nor a sealer backlog. Run it on a database no
//! server is writing to: it numbers references itself.
use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, SubsecRound, TimeZone, Utc, Weekday};
use entities::{
    audit, audit_finding, corrective_action, department, improvement_project, incident, measure,
    measurement, staff, trail_event, trail_head,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, DbBackend, DbErr, EntityTrait, IntoActiveModel, Set, Statement};
use uuid::Uuid;

use crate::db::Db;
use crate::trail::chain::{link_hash, GENESIS, SEALER_LOCK};

pub struct Options {
    pub incidents: u64,
    /// The random seed: the same seed on an empty database gives the same data.
    pub seed: u64,
    /// The trust's time zone (`timezone`): the dashboard's rollups count local days.
    pub timezone: String,
}

#[derive(Debug, Default)]
pub struct Report {
    pub departments: u64,
    pub staff: u64,
    pub incidents: u64,
    pub corrective_actions: u64,
    pub trail_events: u64,
    pub audits: u64,
    pub improvement_projects: u64,
    pub measurements: u64,
    pub seconds: f64,
}

const DEPARTMENTS: [(&str, &str); 8] = [
    ("CARD", "Cardiac physiology"),
    ("CLEN", "Clinical engineering"),
    ("NUCM", "Nuclear medicine"),
    ("RADP", "Radiation protection"),
    ("AUDI", "Audiology"),
    ("GENL", "Genomics laboratory"),
    ("BLTR", "Blood and transplant"),
    ("STER", "Sterile services"),
];

/// Incident kinds most usual in each department (the rest are spread evenly).
fn kinds_for(code: &str) -> &'static [&'static str] {
    match code {
        "CARD" | "AUDI" => &["PATIENT_SAFETY", "PATIENT_SAFETY", "EQUIPMENT"],
        "CLEN" => &["EQUIPMENT", "EQUIPMENT", "STAFF_SAFETY"],
        "NUCM" | "RADP" => &["RADIATION", "RADIATION", "PATIENT_SAFETY"],
        "GENL" => &["PATIENT_SAFETY", "INFORMATION_GOVERNANCE", "OTHER"],
        "BLTR" => &["PATIENT_SAFETY", "PATIENT_SAFETY", "OTHER"],
        _ => &["EQUIPMENT", "ENVIRONMENT", "STAFF_SAFETY"],
    }
}

const ALL_KINDS: [&str; 7] = [
    "PATIENT_SAFETY",
    "STAFF_SAFETY",
    "EQUIPMENT",
    "RADIATION",
    "INFORMATION_GOVERNANCE",
    "ENVIRONMENT",
    "OTHER",
];

/// What seeded incidents are about, so that searching them is like searching a trust's: a
/// subject is in about one incident in 120 (8,000 of 1,000,000), a problem in one in 40, a
/// setting in one in 30 (docs/BENCHMARKS.md, "Search").
const SUBJECTS: [&str; 120] = [
    "syringe driver",
    "infusion pump",
    "defibrillator",
    "ECG machine",
    "blood pressure monitor",
    "pulse oximeter",
    "ventilator",
    "gamma camera",
    "CT scanner",
    "audiometer",
    "centrifuge",
    "autoclave",
    "dosimeter",
    "hearing aid",
    "sequencer",
    "blood warmer",
    "ultrasound probe",
    "linear accelerator",
    "sterile tray",
    "specimen fridge",
    "glucometer",
    "nebuliser",
    "suction unit",
    "patient hoist",
    "pressure mattress",
    "bed rail",
    "wheelchair",
    "stretcher",
    "thermometer",
    "tympanometer",
    "holter recorder",
    "treadmill",
    "echocardiograph",
    "spirometer",
    "endoscope",
    "washer disinfector",
    "cell counter",
    "analyser",
    "pipette",
    "biosafety cabinet",
    "freezer",
    "incubator",
    "microscope",
    "label printer",
    "barcode scanner",
    "pneumatic tube",
    "cannula",
    "catheter",
    "pacemaker",
    "implantable loop recorder",
    "capnograph",
    "oxygen cylinder",
    "anaesthetic machine",
    "diathermy",
    "tourniquet",
    "x-ray tube",
    "fluoroscopy unit",
    "mammography unit",
    "MRI coil",
    "PET tracer",
    "radionuclide generator",
    "lead apron",
    "shielding screen",
    "contamination monitor",
    "survey meter",
    "brachytherapy source",
    "treatment couch",
    "immobilisation mask",
    "otoscope",
    "cochlear implant",
    "tinnitus masker",
    "impression syringe",
    "DNA extractor",
    "PCR cycler",
    "gel imager",
    "thermal cycler",
    "plasma thawer",
    "platelet agitator",
    "apheresis machine",
    "cross-match sample",
    "blood bag",
    "cool box",
    "transport box",
    "instrument set",
    "laparoscope",
    "surgical drill",
    "sterilisation indicator",
    "wristband",
    "request form",
    "consent form",
    "worklist",
    "referral letter",
    "result report",
    "medication chart",
    "warfarin dose",
    "insulin pen",
    "heparin infusion",
    "contrast agent",
    "radiopharmaceutical",
    "dose calibrator",
    "patient record",
    "clinic letter",
    "appointment",
    "discharge summary",
    "handover sheet",
    "fire door",
    "sharps bin",
    "clinical waste",
    "spillage kit",
    "eyewash station",
    "ladder",
    "lift",
    "staff rota",
    "chaperone",
    "interpreter",
    "transport booking",
    "specimen label",
    "sample tube",
    "walking frame",
    "commode",
];

const PROBLEMS: [&str; 40] = [
    "alarm failed",
    "gave a wrong reading",
    "was not calibrated",
    "stopped mid procedure",
    "was found damaged",
    "was used out of service",
    "showed an error code",
    "was past its service date",
    "was missing",
    "overheated",
    "leaked",
    "lost power",
    "was mislabelled",
    "was sent to the wrong ward",
    "was not cleaned",
    "was contaminated",
    "was set up incorrectly",
    "gave no warning",
    "froze",
    "was dropped",
    "was left unattended",
    "caused a delay",
    "was not checked",
    "was given twice",
    "was not given",
    "was lost in transit",
    "expired",
    "cracked",
    "jammed",
    "was connected to the wrong patient",
    "disconnected",
    "battery ran flat",
    "display failed",
    "software crashed",
    "printed the wrong name",
    "read the wrong barcode",
    "was stored at the wrong temperature",
    "was not documented",
    "was delayed by a fault",
    "tripped the circuit",
];

const SETTINGS: [&str; 30] = [
    "during the morning clinic",
    "at handover",
    "on the night shift",
    "in the recovery bay",
    "during a home visit",
    "in outpatients",
    "during transfer",
    "in the cardiac catheter lab",
    "during an exercise test",
    "in the hot lab",
    "at the bedside",
    "in the emergency department",
    "during a ward round",
    "in theatre",
    "at the weekend",
    "during a power cut",
    "while short staffed",
    "during training",
    "in the mobile unit",
    "at the satellite clinic",
    "during calibration",
    "on a bank holiday",
    "during an audit",
    "in the isolation room",
    "during a fire drill",
    "while the lift was out of order",
    "during the evening list",
    "in the decontamination room",
    "during a network outage",
    "at the start of the list",
];

const CATEGORIES: [&str; 6] = [
    "Identification",
    "Device",
    "Diagnostics",
    "Sample handling",
    "Communication",
    "Radiation dose",
];

/// Rows per INSERT, within SQLite's 32,766 and PostgreSQL's 65,535 bound values.
fn rows_per_insert(columns: usize) -> usize {
    (30_000 / columns).max(1)
}

/// Incidents per transaction.
const CHUNK: usize = 20_000;

struct Dept {
    id: Uuid,
    code: &'static str,
    handlers: Vec<Uuid>,
}

pub async fn run(db: &Db, opts: Options) -> Result<Report, DbErr> {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let now = Utc::now().trunc_subsecs(6);
    let mut report = Report::default();

    // Departments (kept when they exist).
    let existing: HashMap<String, Uuid> = department::Entity::find()
        .all(&db.conn)
        .await?
        .into_iter()
        .map(|d| (d.code, d.id))
        .collect();
    let mut depts = Vec::new();
    {
        let tx = db.begin_write().await?;
        for (code, name) in DEPARTMENTS {
            let id = match existing.get(code) {
                Some(id) => *id,
                None => {
                    let id = Uuid::now_v7();
                    department::Entity::insert(
                        department::Model {
                            id,
                            code: code.into(),
                            name: name.into(),
                            site: Some("Main site".into()),
                            ods_code: None,
                            created_at: now,
                        }
                        .into_active_model(),
                    )
                    .exec_without_returning(&*tx)
                    .await?;
                    report.departments += 1;
                    id
                }
            };
            depts.push(Dept {
                id,
                code,
                handlers: Vec::new(),
            });
        }
        tx.commit_quiet().await?;
    }

    // Staff: per department three handlers and twenty staff; four quality leads.
    let mut staff_rows = Vec::new();
    let mut staff_of: HashMap<Uuid, Vec<String>> = HashMap::new();
    let run_tag = &Uuid::new_v4().simple().to_string()[..6];
    let mut person = |roles: &[&str], codes: &[&str], n: usize| {
        let subject = format!("seed-{run_tag}-{n:04}");
        let email = format!("seed.{run_tag}.{n:04}@candour.invalid");
        let id = Uuid::now_v7();
        staff_rows.push(staff::Model {
            id,
            subject,
            name: Some(format!("Seeded person {n}")),
            email: Some(email.clone()),
            roles: serde_json::to_string(roles).unwrap_or_default(),
            department_codes: serde_json::to_string(codes).unwrap_or_default(),
            first_seen_at: now,
            last_seen_at: now,
        });
        (id, email)
    };
    let mut n = 0;
    for d in depts.iter_mut() {
        for _ in 0..3 {
            n += 1;
            let (id, email) = person(&["staff", "handler"], &[d.code], n);
            d.handlers.push(id);
            staff_of.entry(d.id).or_default().push(email);
        }
        for _ in 0..20 {
            n += 1;
            let (_, email) = person(&["staff"], &[], n);
            staff_of.entry(d.id).or_default().push(email);
        }
    }
    for _ in 0..4 {
        n += 1;
        person(&["staff", "quality_lead"], &[], n);
    }
    let reporters: Vec<Uuid> = staff_rows.iter().map(|s| s.id).collect();
    report.staff = staff_rows.len() as u64;
    {
        let tx = db.begin_write().await?;
        for chunk in staff_rows.chunks(rows_per_insert(8)) {
            staff::Entity::insert_many(
                chunk
                    .iter()
                    .cloned()
                    .map(IntoActiveModel::into_active_model),
            )
            .exec_without_returning(&*tx)
            .await?;
        }
        tx.commit_quiet().await?;
    }

    // When the incidents were reported: five years back, seasonal, weekly and growing.
    let start = now - Duration::days(5 * 365);
    let span = (now - start).num_seconds();
    let mut times: Vec<i64> = Vec::with_capacity(opts.incidents as usize);
    while (times.len() as u64) < opts.incidents {
        let t = start + Duration::seconds(rng.gen_range(0..span));
        let day = t.date_naive();
        let winter =
            1.0 + 0.3 * (2.0 * std::f64::consts::PI * (day.ordinal() as f64 - 15.0) / 365.25).cos();
        let week = match day.weekday() {
            Weekday::Sat | Weekday::Sun => 0.55,
            _ => 1.0,
        };
        let growth = 0.8 + 0.4 * (t - start).num_seconds() as f64 / span as f64;
        if rng.gen::<f64>() * 1.8 < winter * week * growth {
            times.push(t.timestamp_micros());
        }
    }
    times.sort_unstable();

    // References continue each year's sequence.
    let mut counters: HashMap<i32, i64> = HashMap::new();
    for year in start.year()..=now.year() {
        counters.insert(
            year,
            crate::incident::reference::last_used(&db.conn, "INC", year).await?,
        );
    }

    for chunk in times.chunks(CHUNK) {
        let mut incidents = Vec::with_capacity(chunk.len());
        let mut events = Vec::with_capacity(chunk.len());
        let mut actions = Vec::new();
        for &micros in chunk {
            let reported_at = Utc.timestamp_micros(micros).single().unwrap_or(now);
            let year = reported_at.year();
            let seq = counters.entry(year).or_insert(0);
            *seq += 1;
            let reference = format!("INC-{year}-{:06}", *seq);
            let d = &depts[rng.gen_range(0..depts.len())];
            let kind = if rng.gen_bool(0.8) {
                kinds_for(d.code)[rng.gen_range(0..3)]
            } else {
                ALL_KINDS[rng.gen_range(0..ALL_KINDS.len())]
            };
            let harm: i16 = match rng.gen_range(0..1000) {
                0..=549 => 0,
                550..=849 => 1,
                850..=949 => 2,
                950..=989 => 3,
                _ => 4,
            };
            let psych: i16 = if harm >= 2 && rng.gen_bool(0.3) { 2 } else { 0 };
            let near_miss = harm == 0 && rng.gen_bool(0.4);
            let age = (now - reported_at).num_days();
            let roll: f64 = rng.gen();
            let status = if age > 120 {
                if roll < 0.88 {
                    "CLOSED"
                } else if roll < 0.97 {
                    "DECLINED"
                } else {
                    "ACTIONS_IN_PROGRESS"
                }
            } else if age > 30 {
                if roll < 0.55 {
                    "CLOSED"
                } else if roll < 0.62 {
                    "DECLINED"
                } else if roll < 0.8 {
                    "ACTIONS_IN_PROGRESS"
                } else {
                    "INVESTIGATING"
                }
            } else if roll < 0.35 {
                "REPORTED"
            } else if roll < 0.7 {
                "UNDER_REVIEW"
            } else {
                "INVESTIGATING"
            };
            let triaged = status != "REPORTED";
            let triaged_at = triaged.then(|| {
                let hours = if harm >= 2 {
                    rng.gen_range(1..24)
                } else {
                    rng.gen_range(2..240)
                };
                (reported_at + Duration::hours(hours)).min(now)
            });
            let closed_at = (status == "CLOSED" || status == "DECLINED").then(|| {
                let days = rng.gen_range(3..(if harm >= 2 { 120 } else { 60 }));
                (triaged_at.unwrap_or(reported_at) + Duration::days(days)).min(now)
            });
            let serious = harm >= 2 || psych >= 2;
            let closed = status == "CLOSED";
            let id = Uuid::new_v7(uuid::Timestamp::from_unix(
                uuid::NoContext,
                reported_at.timestamp() as u64,
                reported_at.timestamp_subsec_nanos(),
            ));
            let occurred_at = reported_at - Duration::minutes(rng.gen_range(5..(60 * 48)));
            let anonymous = rng.gen_bool(0.04);
            incidents.push(incident::Model {
                id,
                reference: reference.clone(),
                title: {
                    let subject = SUBJECTS[rng.gen_range(0..SUBJECTS.len())];
                    let problem = PROBLEMS[rng.gen_range(0..PROBLEMS.len())];
                    let mut t = format!("{subject} {problem}");
                    t[..1].make_ascii_uppercase();
                    t
                },
                description: format!(
                    "Seen {} in {}. {} {}.",
                    SETTINGS[rng.gen_range(0..SETTINGS.len())],
                    d.code,
                    SUBJECTS[rng.gen_range(0..SUBJECTS.len())],
                    PROBLEMS[rng.gen_range(0..PROBLEMS.len())],
                ),
                occurred_at,
                reported_at,
                department_id: d.id,
                location: Some(format!("Room {}", rng.gen_range(1..40))),
                event_type: "INCIDENT".into(),
                kind: kind.into(),
                category: Some(CATEGORIES[rng.gen_range(0..CATEGORIES.len())].into()),
                near_miss,
                physical_harm: harm,
                psychological_harm: psych,
                immediate_actions: None,
                patient_nhs_sealed: None,
                patient_name_sealed: None,
                patient_dob_sealed: None,
                patient_nhs_hash: None,
                equipment_asset_id: (kind == "EQUIPMENT")
                    .then(|| format!("ASSET-{:05}", rng.gen_range(1..20_000))),
                equipment_manufacturer: None,
                equipment_model: None,
                equipment_serial_number: None,
                anonymous,
                follow_up_code_hash: None,
                reporter_id: (!anonymous).then(|| reporters[rng.gen_range(0..reporters.len())]),
                handler_id: triaged.then(|| d.handlers[rng.gen_range(0..d.handlers.len())]),
                learning_response: (triaged && serious).then(|| "AFTER_ACTION_REVIEW".into()),
                learning_summary: (closed && serious)
                    .then(|| "Checks added to the procedure.".into()),
                findings: None,
                feedback_to_reporter: closed.then(|| "Thank you: reviewed and acted on.".into()),
                duty_of_candour_applies: Some(false),
                status: status.into(),
                status_reason: (status == "DECLINED").then(|| "Not an incident.".into()),
                duplicate_of_id: None,
                triaged_at,
                closed_at,
                version: 1 + i32::from(triaged) + i32::from(closed_at.is_some()),
                updated_at: closed_at.or(triaged_at).unwrap_or(reported_at),
                disposed_at: None,
                regulatory_facts: "[]".into(),
                lfpse_answers: None,
                learning_response_override_reason: None,
            });
            events.push(trail_event::Model {
                id: Uuid::now_v7(),
                occurred_at: reported_at,
                actor_id: None,
                actor_label: Some("candour seed".into()),
                actor_roles: None,
                entity_type: "Incident".into(),
                entity_id: id,
                action: "incident.reported".into(),
                changes:
                    serde_json::json!([{"field": "reference", "before": null, "after": reference}])
                        .to_string(),
                request_id: None,
                seq: None,
                prev_hash: None,
                hash: None,
            });
            if triaged && status != "DECLINED" && (serious || rng.gen_bool(0.15)) {
                let created = triaged_at.unwrap_or(reported_at);
                let due = created.date_naive() + Days::new(rng.gen_range(14..60));
                let (a_status, completed) = match status {
                    "CLOSED" => ("VERIFIED", true),
                    "ACTIONS_IN_PROGRESS" if rng.gen_bool(0.5) => ("IN_PROGRESS", false),
                    _ => ("OPEN", false),
                };
                let owners = &staff_of[&d.id];
                actions.push(corrective_action::Model {
                    id: Uuid::now_v7(),
                    source_type: "INCIDENT".into(),
                    incident_id: Some(id),
                    audit_finding_id: None,
                    improvement_project_id: None,
                    learning_response_id: None,
                    department_id: d.id,
                    title: "Update the procedure and brief the team".into(),
                    description: None,
                    owner_email: owners[rng.gen_range(0..owners.len())].clone(),
                    due_date: due,
                    priority: if harm >= 3 { "HIGH" } else { "MEDIUM" }.into(),
                    status: a_status.into(),
                    effective: completed.then_some(true),
                    verification_note: None,
                    cancellation_reason: None,
                    note: None,
                    follow_up_of_id: None,
                    completed_at: completed.then(|| closed_at.unwrap_or(now) - Duration::days(1)),
                    verified_at: completed.then(|| closed_at.unwrap_or(now)),
                    created_by_id: None,
                    created_at: created,
                    updated_at: closed_at.unwrap_or(created),
                    version: 1,
                });
            }
        }
        let tx = db.begin_write().await?;
        for rows in incidents.chunks(rows_per_insert(46)) {
            incident::Entity::insert_many(
                rows.iter().cloned().map(IntoActiveModel::into_active_model),
            )
            .exec_without_returning(&*tx)
            .await?;
        }
        for rows in actions.chunks(rows_per_insert(24)) {
            corrective_action::Entity::insert_many(
                rows.iter().cloned().map(IntoActiveModel::into_active_model),
            )
            .exec_without_returning(&*tx)
            .await?;
        }
        report.trail_events += seal_into(db, &*tx, events).await?;
        tx.commit_quiet().await?;
        report.incidents += incidents.len() as u64;
        report.corrective_actions += actions.len() as u64;
    }
    {
        let tx = db.begin_write().await?;
        for (year, last) in &counters {
            crate::incident::reference::mark_used(&*tx, "INC", *year, *last).await?;
        }
        tx.commit_quiet().await?;
    }

    // The audit programme: two audits a year per department, each with three criteria,
    // re-audits linked to the one before; and two improvement projects per department
    // with monthly measurements.
    let tx = db.begin_write().await?;
    let mut audits = Vec::new();
    let mut findings = Vec::new();
    let mut projects = Vec::new();
    let mut measures = Vec::new();
    let mut measurements = Vec::new();
    for d in &depts {
        let mut previous: Option<Uuid> = None;
        for half in 0..10 {
            let planned_start = (start + Duration::days(182 * half + 30)).date_naive();
            if planned_start > now.date_naive() {
                break;
            }
            let id = Uuid::now_v7();
            let done = planned_start + Days::new(60) < now.date_naive();
            audits.push(audit::Model {
                id,
                title: format!("{} record-keeping audit", d.code),
                department_id: d.id,
                standard: "Local records standard".into(),
                planned_start,
                planned_end: planned_start + Days::new(30),
                lead_email: staff_of[&d.id].first().cloned(),
                status: if done { "CLOSED" } else { "IN_PROGRESS" }.into(),
                reaudit_of_id: previous,
                started_at: Some(day_start(planned_start)),
                reported_at: done.then(|| day_start(planned_start + Days::new(35))),
                closed_at: done.then(|| day_start(planned_start + Days::new(45))),
                created_by_id: None,
                created_at: day_start(planned_start) - Duration::days(30),
                updated_at: day_start(planned_start),
                version: 3,
                disposed_at: None,
            });
            for (c, target) in [
                ("Consent recorded", 95.0),
                ("Operator identified", 100.0),
                ("Dose recorded", 90.0),
            ] {
                let sample = 40;
                let compliant = (f64::from(sample) * rng.gen_range(0.78..1.0)).round() as i32;
                findings.push(audit_finding::Model {
                    id: Uuid::now_v7(),
                    audit_id: id,
                    criterion: c.into(),
                    criterion_key: c.to_lowercase(),
                    target_percent: target,
                    sample_size: sample,
                    compliant_count: compliant,
                    recorded_by_id: None,
                    recorded_at: day_start(planned_start + Days::new(20)),
                });
            }
            previous = Some(id);
        }
        for p in 0..2 {
            let id = Uuid::now_v7();
            let started = now - Duration::days(rng.gen_range(200..900));
            projects.push(improvement_project::Model {
                id,
                title: format!("{} improvement project {}", d.code, p + 1),
                aim: "Reduce repeat tests by a third within a year".into(),
                department_id: d.id,
                sponsor_email: None,
                lead_email: staff_of[&d.id].first().cloned(),
                status: "ACTIVE".into(),
                status_reason: None,
                started_at: Some(started),
                closed_at: None,
                created_by_id: None,
                created_at: started,
                updated_at: started,
                version: 2,
                disposed_at: None,
            });
            let m = Uuid::now_v7();
            measures.push(measure::Model {
                id: m,
                project_id: id,
                name: "Repeat test rate".into(),
                kind: "OUTCOME".into(),
                unit: "%".into(),
                target: Some(3.0),
                better_when: "LOWER".into(),
                created_at: started,
            });
            let months = (now - started).num_days() / 30;
            for k in 0..months {
                let at = started + Duration::days(30 * k);
                // Improving after month 6, with noise.
                let level = if k < 6 { 8.0 } else { 5.0 };
                measurements.push(measurement::Model {
                    id: Uuid::now_v7(),
                    measure_id: m,
                    value: ((level + rng.gen_range(-1.2..1.2)) * 10.0_f64).round() / 10.0,
                    at,
                    recorded_by_id: None,
                    created_at: at,
                });
            }
        }
    }
    for rows in audits.chunks(rows_per_insert(19)) {
        audit::Entity::insert_many(rows.iter().cloned().map(IntoActiveModel::into_active_model))
            .exec_without_returning(&*tx)
            .await?;
    }
    for rows in findings.chunks(rows_per_insert(9)) {
        audit_finding::Entity::insert_many(
            rows.iter().cloned().map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(&*tx)
        .await?;
    }
    for rows in projects.chunks(rows_per_insert(15)) {
        improvement_project::Entity::insert_many(
            rows.iter().cloned().map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(&*tx)
        .await?;
    }
    for rows in measures.chunks(rows_per_insert(8)) {
        measure::Entity::insert_many(rows.iter().cloned().map(IntoActiveModel::into_active_model))
            .exec_without_returning(&*tx)
            .await?;
    }
    for rows in measurements.chunks(rows_per_insert(6)) {
        measurement::Entity::insert_many(
            rows.iter().cloned().map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(&*tx)
        .await?;
    }
    tx.commit_quiet().await?;
    report.audits = audits.len() as u64;
    report.improvement_projects = projects.len() as u64;
    report.measurements = measurements.len() as u64;
    // The rows went in without the request path, so the dashboard counts them afresh.
    let tz = opts.timezone.parse().unwrap_or(chrono_tz::Europe::London);
    crate::dashboard::rollup::rebuild(db, tz, &opts.timezone).await?;
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn day_start(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(9, 0, 0).expect("a time"))
}

/// Inserts `events` already sealed into the chain after its head, and moves the head, in
/// the caller's transaction (holding the sealer's lock on PostgreSQL; SQLite's write turn
/// on SQLite).
async fn seal_into<C: ConnectionTrait>(
    db: &Db,
    tx: &C,
    mut events: Vec<trail_event::Model>,
) -> Result<u64, DbErr> {
    if events.is_empty() {
        return Ok(0);
    }
    if db.backend() == DbBackend::Postgres {
        tx.execute(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [SEALER_LOCK.into()],
        ))
        .await?;
    }
    let head = trail_head::Entity::find_by_id(1).one(tx).await?;
    let (mut seq, mut hash) = head
        .map(|h| (h.seq, h.hash))
        .unwrap_or((0, GENESIS.to_string()));
    for e in events.iter_mut() {
        seq += 1;
        let next = link_hash(&hash, e, seq);
        e.seq = Some(seq);
        e.prev_hash = Some(hash);
        e.hash = Some(next.clone());
        hash = next;
    }
    for rows in events.chunks(rows_per_insert(14)) {
        trail_event::Entity::insert_many(
            rows.iter().cloned().map(IntoActiveModel::into_active_model),
        )
        .exec_without_returning(tx)
        .await?;
    }
    trail_head::Entity::insert(trail_head::ActiveModel {
        id: Set(1),
        seq: Set(seq),
        hash: Set(hash),
        sealed_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::column(trail_head::Column::Id)
            .update_columns([
                trail_head::Column::Seq,
                trail_head::Column::Hash,
                trail_head::Column::SealedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(tx)
    .await?;
    Ok(events.len() as u64)
}
