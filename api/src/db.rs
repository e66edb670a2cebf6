//! The database handle: one pool for SQLite or PostgreSQL, write transactions that are safe
//! on both, and a per-request count of SQL statements for diagnostics.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, TransactionTrait,
};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

use crate::config::Settings;

tokio::task_local! {
    /// Counts the statements run while serving one request (see `count_statements`).
    static STATEMENTS: Arc<Statements>;
}

/// The statements one request ran: how many and, with diagnostics on, which (the head of
/// each statement's SQL: parameterised, so it carries no values).
#[derive(Default)]
pub struct Statements {
    count: AtomicU64,
    heads: Option<std::sync::Mutex<Vec<String>>>,
    /// How many times the request's own task has been polled (see `settle`).
    polls: AtomicU64,
}

impl Statements {
    fn note(&self, sql: &str) {
        self.count.fetch_add(1, Ordering::Relaxed);
        if let Some(heads) = &self.heads {
            let head: String = sql
                .split_whitespace()
                .take(8)
                .collect::<Vec<_>>()
                .join(" ")
                .chars()
                .filter(|c| c.is_ascii_graphic() || *c == ' ')
                .take(80)
                .collect();
            heads.lock().expect("statement log").push(head);
        }
    }

    /// Adds another task's statements (done on this request's behalf).
    pub fn add(&self, other: &Statements) {
        self.count
            .fetch_add(other.count.load(Ordering::Relaxed), Ordering::Relaxed);
        if let (Some(mine), Some(theirs)) = (&self.heads, &other.heads) {
            let theirs = theirs.lock().expect("statement log").clone();
            mine.lock().expect("statement log").extend(theirs);
        }
    }

    /// Waits until the request's task stops being polled: it has gone idle, waiting on
    /// DataLoader batches. async-graphql resolves a list's rows in a FuturesUnordered that
    /// yields to the scheduler every couple of rows (each row's own field set wakes it), so
    /// a page of 50 registers its keys over some 25 turns of the scheduler; under load
    /// those turns can outlast the DataLoader's 1 ms delay and the batch would go out
    /// with part of the page (two queries instead of one). Yielding until the request is
    /// idle lets every key of the level in first. Bounded, in case a request never idles.
    async fn settle(&self) {
        for _ in 0..1024 {
            let before = self.polls.load(Ordering::Relaxed);
            tokio::task::yield_now().await;
            if self.polls.load(Ordering::Relaxed) == before {
                return;
            }
        }
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    pub fn heads(&self) -> Vec<String> {
        self.heads
            .as_ref()
            .map(|h| h.lock().expect("statement log").clone())
            .unwrap_or_default()
    }
}

/// Runs `fut` counting the SQL statements it executes (and, when `log`, keeping their
/// heads); returns the result and what it ran.
pub async fn count_statements<F: std::future::Future>(
    fut: F,
    log: bool,
) -> (F::Output, Arc<Statements>) {
    let stats = Arc::new(Statements {
        count: AtomicU64::new(0),
        heads: log.then(Default::default),
        polls: AtomicU64::new(0),
    });
    let counted = CountPolls {
        inner: std::pin::pin!(fut),
        stats: stats.clone(),
    };
    let out = STATEMENTS.scope(stats.clone(), counted).await;
    (out, stats)
}

/// Counts the polls of the future it wraps.
struct CountPolls<'a, F> {
    inner: std::pin::Pin<&'a mut F>,
    stats: Arc<Statements>,
}

impl<F: std::future::Future> std::future::Future for CountPolls<'_, F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.stats.polls.fetch_add(1, Ordering::Relaxed);
        self.inner.as_mut().poll(cx)
    }
}

/// The current request's statement counter, if any (for work done on its behalf by
/// another task, such as the access-log writer).
pub fn statement_counter() -> Option<Arc<Statements>> {
    STATEMENTS.try_with(|c| c.clone()).ok()
}

/// Spawns a DataLoader batch so that its statements count towards the current request's,
/// once the request has registered all its keys (see `Statements::settle`).
pub fn spawn_counted<F>(fut: F) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    match STATEMENTS.try_with(|c| c.clone()) {
        Ok(stats) => tokio::spawn(STATEMENTS.scope(stats.clone(), async move {
            stats.settle().await;
            fut.await
        })),
        Err(_) => tokio::spawn(fut),
    }
}

#[derive(Clone)]
pub struct Db {
    pub conn: DatabaseConnection,
    /// SQLite allows one writer at a time. Taking this lock before `BEGIN` keeps this
    /// process's writers in line; `begin_write` then takes the database's write lock at
    /// once, so writers in other processes (or instances) wait on busy_timeout instead of
    /// failing to upgrade a read (SQLITE_BUSY_SNAPSHOT).
    /// PostgreSQL needs no such lock: rows are locked where they are written.
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// Woken after each write commits, so the trail sealer seals new events promptly.
    pub trail_wake: Arc<Notify>,
    /// Woken after each write commits, so queued email goes out promptly.
    pub outbox_wake: Arc<Notify>,
    /// Woken after each write commits, so versions queued for LFPSE go out promptly.
    pub lfpse_wake: Arc<Notify>,
    /// Counts the seals of this instance's sealer, so those who follow the chain (the
    /// subscribers' feed, webhooks) hear at once that there is more of it.
    pub trail_sealed: Arc<tokio::sync::watch::Sender<u64>>,
}

/// A write transaction (and, on SQLite, this process's write turn).
pub struct WriteTx {
    pub tx: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
    wake: Arc<Notify>,
    outbox_wake: Arc<Notify>,
    lfpse_wake: Arc<Notify>,
}

impl std::ops::Deref for WriteTx {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.tx
    }
}

impl WriteTx {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.tx.commit().await?;
        self.wake.notify_one();
        self.outbox_wake.notify_one();
        self.lfpse_wake.notify_one();
        Ok(())
    }

    /// Commits without waking the trail sealer (the sealer's own commits).
    pub async fn commit_quiet(self) -> Result<(), DbErr> {
        self.tx.commit().await
    }
}

impl Db {
    pub async fn connect(settings: &Settings) -> Result<Self, DbErr> {
        let mut opts = ConnectOptions::new(settings.database_url.clone());
        opts.max_connections(settings.database_max_connections)
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            // No ping before every use of a pooled connection (a round trip for each query
            // outside a transaction, each transaction's start too). A connection that died
            // meanwhile fails its statement once and is dropped; idle ones are retired
            // before a server or a firewall would drop them.
            .test_before_acquire(false)
            .idle_timeout(Duration::from_secs(300))
            .max_lifetime(Duration::from_secs(1800))
            .sqlx_logging(false)
            // Applied to every pooled SQLite connection: WAL so readers never block the
            // writer, a busy timeout for other processes (e.g. `candour migrate`), foreign
            // keys enforced, NORMAL sync (durable at checkpoints, safe with WAL).
            .map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .create_if_missing(true)
            });
        let is_sqlite = settings.database_url.starts_with("sqlite:");
        let mut conn = Database::connect(opts).await?;
        conn.set_metric_callback(|info| {
            let _ = STATEMENTS.try_with(|c| c.note(&info.statement.sql));
        });
        Ok(Self {
            conn,
            sqlite_writer: is_sqlite.then(|| Arc::new(Mutex::new(()))),
            trail_wake: Arc::new(Notify::new()),
            outbox_wake: Arc::new(Notify::new()),
            lfpse_wake: Arc::new(Notify::new()),
            trail_sealed: Arc::new(tokio::sync::watch::Sender::new(0)),
        })
    }

    pub fn backend(&self) -> DbBackend {
        self.conn.get_database_backend()
    }

    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.conn, None).await
    }

    pub async fn pending_migrations(&self) -> Result<usize, DbErr> {
        Ok(Migrator::get_pending_migrations(&self.conn).await?.len())
    }

    /// This process's write turn on SQLite (nothing on PostgreSQL), for a single write
    /// statement outside a transaction.
    pub async fn write_turn(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.sqlite_writer {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }

    /// A read-only transaction that sees one consistent state of the database throughout
    /// (REPEATABLE READ on PostgreSQL; on SQLite, WAL readers see the state of their first
    /// read). Roll it back when done.
    pub async fn read_snapshot(&self) -> Result<DatabaseTransaction, DbErr> {
        match self.backend() {
            DbBackend::Postgres => {
                self.conn
                    .begin_with_config(
                        Some(sea_orm::IsolationLevel::RepeatableRead),
                        Some(sea_orm::AccessMode::ReadOnly),
                    )
                    .await
            }
            _ => self.conn.begin().await,
        }
    }

    pub async fn begin_write(&self) -> Result<WriteTx, DbErr> {
        let turn = self.write_turn().await;
        let tx = self.conn.begin().await?;
        if turn.is_some() {
            // Take SQLite's write lock now, as BEGIN IMMEDIATE would (sea-orm begins
            // deferred): a statement that writes nothing still opens the write transaction,
            // waiting on busy_timeout while another process or instance writes. Otherwise a
            // transaction that reads first fails to upgrade at its first write, at once and
            // without waiting (SQLITE_BUSY_SNAPSHOT), whenever another wrote meanwhile.
            tx.execute_unprepared("UPDATE seaql_migrations SET version = version WHERE 0")
                .await?;
        }
        Ok(WriteTx {
            tx,
            _turn: turn,
            wake: self.trail_wake.clone(),
            outbox_wake: self.outbox_wake.clone(),
            lfpse_wake: self.lfpse_wake.clone(),
        })
    }
}

/// Inserts a change makes together, sent as one: on PostgreSQL one statement (each insert a
/// data-modifying `WITH` part; foreign keys are checked at its end, so order does not
/// matter), one round trip instead of one each; on SQLite, in order, one by one (there a
/// statement is a call inside the process, not a round trip).
#[derive(Default)]
pub struct Inserts(Vec<sea_orm::sea_query::InsertStatement>);

impl Inserts {
    pub fn push(&mut self, statement: sea_orm::sea_query::InsertStatement) {
        self.0.push(statement);
    }

    pub fn extend(
        &mut self,
        statements: impl IntoIterator<Item = sea_orm::sea_query::InsertStatement>,
    ) {
        self.0.extend(statements);
    }

    pub async fn run<C: ConnectionTrait>(self, conn: &C) -> Result<(), DbErr> {
        let backend = conn.get_database_backend();
        if backend != DbBackend::Postgres || self.0.len() < 2 {
            for s in &self.0 {
                conn.execute(backend.build(s)).await?;
            }
            return Ok(());
        }
        conn.execute(combined(&self.0)).await?;
        Ok(())
    }
}

/// PostgreSQL: `WITH i1 AS (INSERT ...), i2 AS (INSERT ...) INSERT ...`, with each part's
/// parameters renumbered after the ones before it. The parts' SQL holds no literal values
/// (every value is a parameter), so a `$` in it is always a placeholder.
fn combined(statements: &[sea_orm::sea_query::InsertStatement]) -> sea_orm::Statement {
    use sea_orm::sea_query::PostgresQueryBuilder;
    let mut sql = String::from("WITH ");
    let mut values: Vec<sea_orm::Value> = Vec::new();
    let last = statements.len() - 1;
    for (i, s) in statements.iter().enumerate() {
        let (part, part_values) = s.build(PostgresQueryBuilder);
        let renumbered = renumber(&part, values.len());
        values.extend(part_values.0);
        if i < last {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("i{i} AS ({renumbered})"));
        } else {
            sql.push(' ');
            sql.push_str(&renumbered);
        }
    }
    sea_orm::Statement::from_sql_and_values(DbBackend::Postgres, sql, values)
}

/// `$n` placeholders moved up by `offset`.
fn renumber(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$' {
            let mut n = String::new();
            while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                n.push(*d);
                chars.next();
            }
            match n.parse::<usize>() {
                Ok(n) => out.push_str(&(n + offset).to_string()),
                Err(_) => out.push_str(&n),
            }
        }
    }
    out
}

/// The columns of one row by position, decoded by the driver itself. sea-orm's model
/// decoding formats every column's name for every row (and an error message for every
/// NULL), which on a page of 50 incidents was a fifth of the server's time; a list that
/// decodes many rows finds each column's position once and reads them with this.
pub struct Cells<'a>(pub &'a sea_orm::QueryResult);

impl Cells<'_> {
    /// The value at `index` (an `Option` for a nullable column).
    pub fn at<T>(&self, index: usize) -> Result<T, DbErr>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres>
            + sqlx::Type<sqlx::Postgres>
            + for<'r> sqlx::Decode<'r, sqlx::Sqlite>
            + sqlx::Type<sqlx::Sqlite>,
    {
        use sqlx::Row;
        let decoded = if let Some(row) = self.0.try_as_pg_row() {
            row.try_get(index)
        } else if let Some(row) = self.0.try_as_sqlite_row() {
            row.try_get(index)
        } else {
            return Err(DbErr::Custom("a row from an unknown driver".into()));
        };
        decoded.map_err(|e| DbErr::Custom(format!("column {index}: {e}")))
    }

    /// The position of each of `names` in this row (None where absent).
    pub fn positions(&self, names: &[&str]) -> Vec<Option<usize>> {
        use sqlx::{Column, Row};
        let columns: Vec<&str> = if let Some(row) = self.0.try_as_pg_row() {
            row.columns().iter().map(|c| c.name()).collect()
        } else if let Some(row) = self.0.try_as_sqlite_row() {
            row.columns().iter().map(|c| c.name()).collect()
        } else {
            Vec::new()
        };
        names
            .iter()
            .map(|n| columns.iter().position(|c| c == n))
            .collect()
    }
}

/// `items` in chunks of few distinct sizes, for multi-row INSERTs: `max` (a power of two)
/// as often as it fits, then the powers of two that make up the rest. sqlx keeps a prepared
/// statement for every distinct SQL text on every pooled connection, and an INSERT of each
/// batch size is a text of its own, and batches of every size would fill SQLite's
/// connections with large statements.
pub fn shaped_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    debug_assert!(max.is_power_of_two());
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = if rest.len() >= max {
            max
        } else {
            1 << (usize::BITS - 1 - rest.len().leading_zeros())
        };
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn inserts_come_in_few_shapes() {
        let sizes = |n: usize| -> Vec<usize> {
            let v: Vec<u32> = (0..n as u32).collect();
            super::shaped_chunks(&v, 8).map(<[u32]>::len).collect()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(8), [8]);
        assert_eq!(sizes(23), [8, 8, 4, 2, 1]);
        let v: Vec<u32> = (0..23).collect();
        let back: Vec<u32> = super::shaped_chunks(&v, 8).flatten().copied().collect();
        assert_eq!(back, v, "every row once, in order");
    }

    use sea_orm::sea_query::{Alias, Query};

    #[test]
    fn inserts_combine_into_one_statement_with_their_parameters_in_order() {
        let a = Query::insert()
            .into_table(Alias::new("a"))
            .columns([Alias::new("x"), Alias::new("y")])
            .values_panic([1.into(), "one".into()])
            .to_owned();
        let b = Query::insert()
            .into_table(Alias::new("b"))
            .columns([Alias::new("z")])
            .values_panic([2.into()])
            .values_panic([3.into()])
            .to_owned();
        let s = super::combined(&[a, b]);
        assert_eq!(
            s.sql,
            r#"WITH i0 AS (INSERT INTO "a" ("x", "y") VALUES ($1, $2)) INSERT INTO "b" ("z") VALUES ($3), ($4)"#
        );
        assert_eq!(s.values.map(|v| v.0.len()), Some(4));
        assert_eq!(super::renumber("$1 and $12, $", 10), "$11 and $22, $");
    }
}
