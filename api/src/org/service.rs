use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use chrono::Utc;
use sea_orm::sea_query::{OnConflict, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use crate::auth::{Principal, Role};
use crate::context::{AppState, RequestCtx};
use crate::error::{is_unique_violation, AppError, AppResult};
use crate::trail::{self, Actor, Diff};
use entities::{department, staff};

/// How long a staff record's last-seen time may lag before it is written again.
const STAFF_REFRESH: Duration = Duration::from_secs(15 * 60);

/// A new department: code as used in tokens' `departments` claim.
pub struct NewDepartment {
    pub code: String,
    pub name: String,
    pub site: Option<String>,
    /// The ODS code of the department's site (LFPSE's location organisation).
    pub ods_code: Option<String>,
}

fn parse_department(input: NewDepartment) -> AppResult<NewDepartment> {
    // Codes are compared exactly with tokens' `departments` claims, so they are taken as
    // given (upper case) rather than rewritten.
    let code = input.code.trim().to_string();
    if !(2..=16).contains(&code.len())
        || !code
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(AppError::invalid(
            "code",
            "a department code is 2 to 16 upper-case letters, digits, '-' or '_'",
        ));
    }
    let name = input.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::invalid(
            "name",
            "a department name is 1 to 200 characters",
        ));
    }
    let site = input
        .site
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    if site.as_ref().is_some_and(|s| s.chars().count() > 200) {
        return Err(AppError::invalid(
            "site",
            "a site is at most 200 characters",
        ));
    }
    let ods_code = input
        .ods_code
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty());
    if ods_code
        .as_deref()
        .is_some_and(|c| !crate::lfpse::taxonomy::is_ods_code(c))
    {
        return Err(AppError::invalid(
            "odsCode",
            "an ODS code is 3 to 6 letters and digits, such as RGT01",
        )
        .because(crate::record::text::reason::MALFORMED));
    }
    Ok(NewDepartment {
        code,
        name,
        site,
        ods_code,
    })
}

pub async fn create_department(
    state: &AppState,
    rc: &RequestCtx,
    input: NewDepartment,
) -> AppResult<department::Model> {
    let principal = rc.principal()?;
    principal.require_role(Role::Admin, "creating a department")?;
    let input = parse_department(input)?;
    let model = department::Model {
        id: Uuid::now_v7(),
        code: input.code,
        name: input.name,
        site: input.site,
        ods_code: input.ods_code,
        created_at: Utc::now(),
    };
    let tx = state.db.begin_write().await?;
    let staff_id = rc.staff_in(state, &*tx).await?;
    let am: department::ActiveModel = model.clone().into();
    if let Err(e) = department::Entity::insert(am)
        .exec_without_returning(&*tx)
        .await
    {
        return Err(if is_unique_violation(&e) {
            AppError::Duplicate(format!("a department with code {} exists", model.code))
        } else {
            e.into()
        });
    }
    let mut diff = Diff::new();
    diff.field("code", None, Some(&model.code))
        .field("name", None, Some(&model.name))
        .field("site", None, model.site.as_ref())
        .field("odsCode", None, model.ods_code.as_ref());
    trail::record(
        &*tx,
        rc,
        &Actor::of(principal, staff_id),
        "Department",
        model.id,
        "department.created",
        diff,
    )
    .await?;
    tx.commit().await?;
    state
        .departments
        .lock()
        .expect("department cache")
        .insert(model.id, model.clone());
    Ok(model)
}

pub async fn departments(state: &AppState) -> AppResult<Vec<department::Model>> {
    let all = department::Entity::find()
        .order_by_asc(department::Column::Code)
        .all(&state.db.conn)
        .await?;
    let mut cache = state.departments.lock().expect("department cache");
    for d in &all {
        cache.insert(d.id, d.clone());
    }
    *state.departments_listed.lock().expect("department cache") = Some(Instant::now());
    Ok(all)
}

/// Every department, by code, from this instance's cache when it was read from the
/// database less than a minute ago (departments are few and change rarely; one created
/// through this instance is in the cache at once, through another within the minute).
pub async fn departments_cached(state: &AppState) -> AppResult<Vec<department::Model>> {
    let fresh = state
        .departments_listed
        .lock()
        .expect("department cache")
        .is_some_and(|at| at.elapsed() < Duration::from_secs(60));
    if !fresh {
        return departments(state).await;
    }
    let mut all: Vec<department::Model> = state
        .departments
        .lock()
        .expect("department cache")
        .values()
        .cloned()
        .collect();
    all.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(all)
}

/// One department by id, from the cache when possible.
pub async fn department(state: &AppState, id: Uuid) -> AppResult<Option<department::Model>> {
    if let Some(d) = state.departments.lock().expect("department cache").get(&id) {
        return Ok(Some(d.clone()));
    }
    let found = department::Entity::find_by_id(id)
        .one(&state.db.conn)
        .await?;
    if let Some(d) = &found {
        state
            .departments
            .lock()
            .expect("department cache")
            .insert(id, d.clone());
    }
    Ok(found)
}

fn fingerprint(p: &Principal) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&p.name, &p.email, &p.roles, &p.department_codes).hash(&mut h);
    h.finish()
}

/// Whether this instance wrote the person's staff record, with these claims, lately
/// enough not to write it again; and its id.
pub fn staff_seen_lately(state: &AppState, p: &Principal) -> Option<Uuid> {
    let fp = fingerprint(p);
    let seen = state.staff_seen.lock().expect("staff cache");
    match seen.get(&p.subject) {
        Some((id, seen_fp, at)) if *seen_fp == fp && at.elapsed() < STAFF_REFRESH => Some(*id),
        _ => None,
    }
}

/// The id of a person's staff record, if Candour has seen them before. Writes nothing.
pub async fn known_staff_id(state: &AppState, p: &Principal) -> AppResult<Option<Uuid>> {
    if let Some((id, _, _)) = state
        .staff_seen
        .lock()
        .expect("staff cache")
        .get(&p.subject)
    {
        return Ok(Some(*id));
    }
    Ok(staff::Entity::find()
        .select_only()
        .column(staff::Column::Id)
        .filter(staff::Column::Subject.eq(p.subject.as_str()))
        .into_tuple()
        .one(&state.db.conn)
        .await?)
}

/// Inserts or refreshes a person's staff record from their token's claims, on `conn` (the
/// caller's write transaction, so that the record is kept only if the change is), and
/// returns its id.
pub async fn write_staff<C: ConnectionTrait>(conn: &C, p: &Principal) -> AppResult<Uuid> {
    // Seen on which day, not when: a time to the minute, read beside an anonymous report's
    // time, could point to the one person who opened Candour just before it.
    let now = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .map(|d| d.and_utc())
        .unwrap_or_else(Utc::now);
    let roles: Vec<&str> = p.roles.iter().map(|r| r.claim()).collect();
    let stmt = Query::insert()
        .into_table(staff::Entity)
        .columns([
            staff::Column::Id,
            staff::Column::Subject,
            staff::Column::Name,
            staff::Column::Email,
            staff::Column::Roles,
            staff::Column::DepartmentCodes,
            staff::Column::FirstSeenAt,
            staff::Column::LastSeenAt,
        ])
        .values_panic([
            // Random, not time-ordered: a UUID v7 would tell the millisecond the person
            // was first seen.
            Uuid::new_v4().into(),
            p.subject.clone().into(),
            p.name.clone().into(),
            // Lower case: owners of actions are matched by email, which is case-insensitive.
            p.email.as_deref().map(str::to_lowercase).into(),
            serde_json::to_string(&roles).unwrap_or_default().into(),
            serde_json::to_string(&p.department_codes)
                .unwrap_or_default()
                .into(),
            now.into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::column(staff::Column::Subject)
                .update_columns([
                    staff::Column::Name,
                    staff::Column::Email,
                    staff::Column::Roles,
                    staff::Column::DepartmentCodes,
                    staff::Column::LastSeenAt,
                ])
                .to_owned(),
        )
        .returning_col(staff::Column::Id)
        .to_owned();
    let row = conn
        .query_one(conn.get_database_backend().build(&stmt))
        .await?
        .ok_or_else(|| AppError::Internal("staff upsert returned no row".into()))?;
    Ok(row.try_get("", "id")?)
}

/// Inserts or refreshes the staff record for a person from their token's claims, on its
/// own, and returns its id. Writes at most once per STAFF_REFRESH per subject unless
/// claims change. For a request that was answered without refusal (staff are known from
/// their tokens) and for the access log.
pub async fn upsert_staff(state: &AppState, p: &Principal) -> AppResult<Uuid> {
    if let Some(id) = staff_seen_lately(state, p) {
        return Ok(id);
    }
    let fp = fingerprint(p);
    let db = &state.db;
    let id = {
        let _turn = db.write_turn().await;
        write_staff(&db.conn, p).await?
    };
    // Roles, departments or email may have changed: whom emails go to follows at once.
    state.notifier.recipients.staff_changed();
    state
        .staff_seen
        .lock()
        .expect("staff cache")
        .insert(p.subject.clone(), (id, fp, Instant::now()));
    Ok(id)
}

pub async fn staff_by_ids<C: ConnectionTrait>(
    conn: &C,
    ids: &[Uuid],
) -> AppResult<Vec<staff::Model>> {
    Ok(staff::Entity::find()
        .filter(staff::Column::Id.is_in(ids.iter().copied()))
        .all(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dept(code: &str) -> NewDepartment {
        NewDepartment {
            code: code.into(),
            name: "Cardiology".into(),
            site: None,
            ods_code: None,
        }
    }

    #[test]
    fn codes_are_normalised_and_checked() {
        assert_eq!(parse_department(dept(" CARD ")).unwrap().code, "CARD");
        for bad in ["C", "CARDIOLOGY-DEPT-X1", "CA RD", "CÄRD", "", "card"] {
            assert!(parse_department(dept(bad)).is_err(), "{bad}");
        }
    }
}
