//! Human references, `INC-2026-000123`: one sequence of numbers per prefix and year,
//! unique and never reused (a report that fails after taking a number leaves a gap).
//!
//! On PostgreSQL each year's numbers come from a database sequence: `nextval` takes no row
//! lock, so concurrent reports do not queue behind one counter row until each commits
//! (which once limited reporting to one commit at a time). A sequence is created the
//! first time a year is needed, starting after whatever the `reference_counter` row of
//! that year (the earlier scheme, and `candour seed`) had reached. On SQLite, where writers
//! take turns anyway, the counter row is incremented inside the reporting transaction.
use std::collections::HashSet;
use tokio::sync::Mutex;

use sea_orm::sea_query::{Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use crate::error::{AppError, AppResult};
use entities::reference_counter;

/// The years whose sequence this instance knows to exist. Held while one is created, so
/// that this instance's concurrent first reports of a year create it once.
#[derive(Default)]
pub struct Sequences(Mutex<HashSet<(&'static str, i32)>>);

/// The PostgreSQL sequence of a prefix (ASCII letters) and year.
fn sequence_name(prefix: &str, year: i32) -> String {
    let prefix: String = prefix
        .chars()
        .filter(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    format!("reference_{prefix}_{year}")
}

async fn counter_value<C: ConnectionTrait>(
    conn: &C,
    prefix: &str,
    year: i32,
) -> Result<i64, DbErr> {
    let backend = conn.get_database_backend();
    let stmt = Query::select()
        .column(reference_counter::Column::LastValue)
        .from(reference_counter::Entity)
        .and_where(Expr::col(reference_counter::Column::Prefix).eq(prefix))
        .and_where(Expr::col(reference_counter::Column::Year).eq(year))
        .to_owned();
    Ok(match conn.query_one(backend.build(&stmt)).await? {
        Some(row) => row.try_get("", "last_value")?,
        None => 0,
    })
}

/// The last number of the sequence as it stands now, or None when it does not exist yet.
async fn sequence_value<C: ConnectionTrait>(
    conn: &C,
    prefix: &str,
    year: i32,
) -> Result<Option<i64>, DbErr> {
    let name = sequence_name(prefix, year);
    let exists = conn
        .query_one(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS found FROM pg_class WHERE relkind = 'S' AND relname = $1",
            [name.clone().into()],
        ))
        .await?
        .is_some();
    if !exists {
        return Ok(None);
    }
    let row = conn
        .query_one(Statement::from_string(
            DbBackend::Postgres,
            format!("SELECT last_value, is_called FROM {name}"),
        ))
        .await?;
    Ok(match row {
        Some(r) => {
            let last: i64 = r.try_get("", "last_value")?;
            let called: bool = r.try_get("", "is_called")?;
            Some(if called { last } else { last - 1 })
        }
        None => None,
    })
}

impl Sequences {
    /// Creates the sequence of `year` (PostgreSQL) unless this instance knows it exists.
    /// Makes ready the numbers of `prefix` in `year`: on PostgreSQL, creates the year's
    /// sequence unless this instance knows it exists. Called before the reporting
    /// transaction begins, so that it never waits for a second connection while holding
    /// one.
    pub async fn prepare(
        &self,
        conn: &DatabaseConnection,
        prefix: &'static str,
        year: i32,
    ) -> AppResult<()> {
        if conn.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let mut known = self.0.lock().await;
        if known.contains(&(prefix, year)) {
            return Ok(());
        }
        if sequence_value(conn, prefix, year).await?.is_none() {
            let start = counter_value(conn, prefix, year).await? + 1;
            let created = conn
                .execute_unprepared(&format!(
                    "CREATE SEQUENCE IF NOT EXISTS {} MINVALUE 1 START WITH {start}",
                    sequence_name(prefix, year)
                ))
                .await;
            // IF NOT EXISTS does not stop two instances creating it at the same moment:
            // one of them fails, and finds the other's sequence there.
            if let Err(e) = created {
                if sequence_value(conn, prefix, year).await?.is_none() {
                    return Err(e.into());
                }
            }
        }
        known.insert((prefix, year));
        Ok(())
    }

    /// The next reference of `prefix` in `year` (made ready with `prepare`), taken inside
    /// the reporting transaction `tx`.
    pub async fn next<C: ConnectionTrait>(
        &self,
        tx: &C,
        prefix: &'static str,
        year: i32,
    ) -> AppResult<String> {
        let n: i64 = match tx.get_database_backend() {
            DbBackend::Postgres => {
                let row = tx
                    .query_one(Statement::from_string(
                        DbBackend::Postgres,
                        format!("SELECT nextval('{}') AS n", sequence_name(prefix, year)),
                    ))
                    .await?
                    .ok_or_else(|| AppError::Internal("nextval returned no row".into()))?;
                row.try_get("", "n")?
            }
            // The upsert locks the counter row until the transaction ends.
            backend => {
                let stmt = Query::insert()
                    .into_table(reference_counter::Entity)
                    .columns([
                        reference_counter::Column::Prefix,
                        reference_counter::Column::Year,
                        reference_counter::Column::LastValue,
                    ])
                    .values_panic([prefix.into(), year.into(), 1i64.into()])
                    .on_conflict(
                        OnConflict::columns([
                            reference_counter::Column::Prefix,
                            reference_counter::Column::Year,
                        ])
                        .value(
                            reference_counter::Column::LastValue,
                            Expr::col((
                                reference_counter::Entity,
                                reference_counter::Column::LastValue,
                            ))
                            .add(1),
                        )
                        .to_owned(),
                    )
                    .returning_col(reference_counter::Column::LastValue)
                    .to_owned();
                let row = tx.query_one(backend.build(&stmt)).await?.ok_or_else(|| {
                    AppError::Internal("reference counter returned no row".into())
                })?;
                row.try_get("", "last_value")?
            }
        };
        Ok(format!("{prefix}-{year}-{n:06}"))
    }
}

/// The last number used in a year, whichever scheme numbered it (for `candour seed`).
pub async fn last_used<C: ConnectionTrait>(
    conn: &C,
    prefix: &str,
    year: i32,
) -> Result<i64, DbErr> {
    let counter = counter_value(conn, prefix, year).await?;
    let sequence = match conn.get_database_backend() {
        DbBackend::Postgres => sequence_value(conn, prefix, year).await?.unwrap_or(0),
        _ => 0,
    };
    Ok(counter.max(sequence))
}

/// Records that numbers up to `last` are used in a year (for `candour seed`, which numbers
/// its incidents itself): the counter row, and on PostgreSQL the sequence if it exists.
pub async fn mark_used<C: ConnectionTrait>(
    conn: &C,
    prefix: &str,
    year: i32,
    last: i64,
) -> Result<(), DbErr> {
    let backend = conn.get_database_backend();
    let stmt = Query::insert()
        .into_table(reference_counter::Entity)
        .columns([
            reference_counter::Column::Prefix,
            reference_counter::Column::Year,
            reference_counter::Column::LastValue,
        ])
        .values_panic([prefix.into(), year.into(), last.into()])
        .on_conflict(
            OnConflict::columns([
                reference_counter::Column::Prefix,
                reference_counter::Column::Year,
            ])
            .update_column(reference_counter::Column::LastValue)
            .to_owned(),
        )
        .to_owned();
    conn.execute(backend.build(&stmt)).await?;
    if backend == DbBackend::Postgres && sequence_value(conn, prefix, year).await?.is_some() {
        // Forward only: a sequence never goes back to a number it has given out.
        let name = sequence_name(prefix, year);
        conn.execute_unprepared(&format!(
            "SELECT setval('{name}', GREATEST({last}, (SELECT last_value FROM {name})))"
        ))
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn sequence_names_are_plain_identifiers() {
        assert_eq!(super::sequence_name("INC", 2026), "reference_inc_2026");
        assert_eq!(
            super::sequence_name("I'; DROP", 2026),
            "reference_idrop_2026"
        );
    }
}
