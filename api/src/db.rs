//! The database handle: one pool for SQLite or PostgreSQL, write transactions that are safe
//! on both, and a per-request count of SQL statements for diagnostics.
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, TransactionTrait,
};
use tokio::sync::{Mutex, Notify, OwnedMutexGuard};

use crate::config::Settings;

tokio::task_local! {
    /// Counts the statements run while serving one request (see `count_statements`).
    static STATEMENTS: Arc<AtomicU64>;
}

/// Runs `fut` counting the SQL statements it executes; returns the result and the count.
pub async fn count_statements<F: std::future::Future>(fut: F) -> (F::Output, u64) {
    let counter = Arc::new(AtomicU64::new(0));
    let out = STATEMENTS.scope(counter.clone(), fut).await;
    (out, counter.load(Ordering::Relaxed))
}

/// The current request's statement counter, if any (for work done on its behalf by
/// another task, such as the access-log writer).
pub fn statement_counter() -> Option<Arc<AtomicU64>> {
    STATEMENTS.try_with(|c| c.clone()).ok()
}

/// Spawns `fut` so that its statements count towards the current request's (DataLoader
/// batches run in tasks of their own).
pub fn spawn_counted<F>(fut: F) -> tokio::task::JoinHandle<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    match STATEMENTS.try_with(|c| c.clone()) {
        Ok(counter) => tokio::spawn(STATEMENTS.scope(counter, fut)),
        Err(_) => tokio::spawn(fut),
    }
}

#[derive(Clone)]
pub struct Db {
    pub conn: DatabaseConnection,
    /// SQLite allows one writer at a time. Taking this lock before `BEGIN` keeps this
    /// process's writers in line, so a transaction that read first never fails to upgrade
    /// to a write lock (SQLITE_BUSY_SNAPSHOT); other processes wait on busy_timeout.
    /// PostgreSQL needs no such lock: rows are locked where they are written.
    sqlite_writer: Option<Arc<Mutex<()>>>,
    /// Woken after each write commits, so the trail sealer seals new events promptly.
    pub trail_wake: Arc<Notify>,
    /// Woken after each write commits, so queued email goes out promptly.
    pub outbox_wake: Arc<Notify>,
}

/// A write transaction (and, on SQLite, this process's write turn).
pub struct WriteTx {
    pub tx: DatabaseTransaction,
    _turn: Option<OwnedMutexGuard<()>>,
    wake: Arc<Notify>,
    outbox_wake: Arc<Notify>,
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
        conn.set_metric_callback(|_info| {
            let _ = STATEMENTS.try_with(|c| c.fetch_add(1, Ordering::Relaxed));
        });
        Ok(Self {
            conn,
            sqlite_writer: is_sqlite.then(|| Arc::new(Mutex::new(()))),
            trail_wake: Arc::new(Notify::new()),
            outbox_wake: Arc::new(Notify::new()),
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

    pub async fn begin_write(&self) -> Result<WriteTx, DbErr> {
        let turn = self.write_turn().await;
        let tx = self.conn.begin().await?;
        Ok(WriteTx {
            tx,
            _turn: turn,
            wake: self.trail_wake.clone(),
            outbox_wake: self.outbox_wake.clone(),
        })
    }
}
