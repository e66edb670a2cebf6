//! An attachment's bytes at rest: chunks of `CHUNK` bytes, each sealed with AES-256-GCM
//! under the data key and bound to its attachment, its place and whether it is the last.
//! A chunk moved to another file or place, a chunk dropped from the end, or one from an
//! earlier version of the same file does not open.
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::Db;
use crate::protect::{KeyRing, ProtectError};
use entities::{attachment, attachment_chunk};

/// Bytes of a file per stored chunk: what a request holds of it at a time.
pub const CHUNK: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {}", crate::error::db_error_kind(.0))]
    Db(#[from] sea_orm::DbErr),
    #[error("a stored chunk does not open: {0}")]
    Open(ProtectError),
}

impl From<StoreError> for crate::error::AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Db(e) => e.into(),
            StoreError::Open(e) => crate::error::AppError::Internal(format!("attachment: {e}")),
        }
    }
}

fn aad(id: Uuid, n: i32, last: bool) -> Vec<u8> {
    format!("attachment:{id}:{n}:{}", if last { "last" } else { "more" }).into_bytes()
}

/// Writes a file's bytes as they arrive. A chunk is sealed only once the next byte (or the
/// end) is known, because the last chunk is sealed as the last.
pub struct ChunkWriter<'k> {
    id: Uuid,
    keys: &'k KeyRing,
    pending: Vec<u8>,
    written: i32,
    size: u64,
    hash: Sha256,
}

impl<'k> ChunkWriter<'k> {
    pub fn new(id: Uuid, keys: &'k KeyRing) -> Self {
        Self {
            id,
            keys,
            pending: Vec::with_capacity(CHUNK),
            written: 0,
            size: 0,
            hash: Sha256::new(),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Takes more bytes, writing each full chunk that is known not to be the last.
    pub async fn push(&mut self, db: &Db, mut bytes: &[u8]) -> Result<(), StoreError> {
        self.size += bytes.len() as u64;
        self.hash.update(bytes);
        while !bytes.is_empty() {
            if self.pending.len() == CHUNK {
                // More follows: the chunk held is not the last.
                let full = std::mem::replace(&mut self.pending, Vec::with_capacity(CHUNK));
                self.write(db, &full, false).await?;
            }
            let room = CHUNK - self.pending.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            self.pending.extend_from_slice(now);
            bytes = rest;
        }
        Ok(())
    }

    /// Writes the last chunk: (size, SHA-256 hex, chunks).
    pub async fn finish(mut self, db: &Db) -> Result<(u64, String, i32), StoreError> {
        let last = std::mem::take(&mut self.pending);
        self.write(db, &last, true).await?;
        let hash = self
            .hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok((self.size, hash, self.written))
    }

    async fn write(&mut self, db: &Db, plain: &[u8], last: bool) -> Result<(), StoreError> {
        let n = self.written;
        let sealed = self.keys.seal_bytes(&aad(self.id, n, last), plain);
        let row = attachment_chunk::ActiveModel {
            attachment_id: sea_orm::Set(self.id),
            n: sea_orm::Set(n),
            sealed: sea_orm::Set(sealed),
        };
        // Each chunk is its own short write: a slow upload never holds SQLite's writer.
        let _turn = db.write_turn().await;
        attachment_chunk::Entity::insert(row).exec(&db.conn).await?;
        self.written += 1;
        Ok(())
    }
}

/// Chunk `n` of `m`, opened.
pub async fn read_chunk<C: ConnectionTrait>(
    conn: &C,
    keys: &KeyRing,
    m: &attachment::Model,
    n: i32,
) -> Result<Vec<u8>, StoreError> {
    let row = attachment_chunk::Entity::find_by_id((m.id, n))
        .one(conn)
        .await?
        .ok_or_else(|| StoreError::Open(ProtectError::Malformed))?;
    keys.open_bytes(
        &m.key_id,
        &aad(m.id, n, n + 1 == m.chunk_count),
        &row.sealed,
    )
    .map_err(StoreError::Open)
}

/// Deletes a file's bytes (its row stays, as the record of what was there).
pub async fn delete_chunks<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<u64, sea_orm::DbErr> {
    Ok(attachment_chunk::Entity::delete_many()
        .filter(attachment_chunk::Column::AttachmentId.eq(id))
        .exec(conn)
        .await?
        .rows_affected)
}

/// Re-seals every attachment under an earlier key with the current one (`candour
/// rotate-data-key`), one file per transaction; Err names the file that did not open.
pub async fn rotate(db: &Db, keys: &KeyRing) -> Result<u64, (String, StoreError)> {
    let current = keys.current_key_id().to_string();
    let mut done = 0;
    loop {
        let stale = attachment::Entity::find()
            .filter(attachment::Column::KeyId.ne(current.clone()))
            .filter(attachment::Column::Complete.eq(true))
            .order_by_asc(attachment::Column::Id)
            .limit(50)
            .all(&db.conn)
            .await
            .map_err(|e| (String::new(), e.into()))?;
        if stale.is_empty() {
            return Ok(done);
        }
        for m in stale {
            let what = format!("attachment {}", m.id);
            let tx = db
                .begin_write()
                .await
                .map_err(|e| (what.clone(), e.into()))?;
            let present: Vec<i32> = attachment_chunk::Entity::find()
                .select_only()
                .column(attachment_chunk::Column::N)
                .filter(attachment_chunk::Column::AttachmentId.eq(m.id))
                .into_tuple()
                .all(&*tx)
                .await
                .map_err(|e| (what.clone(), e.into()))?;
            for n in present {
                let plain = read_chunk(&*tx, keys, &m, n)
                    .await
                    .map_err(|e| (what.clone(), e))?;
                let last = n + 1 == m.chunk_count;
                attachment_chunk::Entity::update_many()
                    .col_expr(
                        attachment_chunk::Column::Sealed,
                        keys.seal_bytes(&aad(m.id, n, last), &plain).into(),
                    )
                    .filter(attachment_chunk::Column::AttachmentId.eq(m.id))
                    .filter(attachment_chunk::Column::N.eq(n))
                    .exec(&*tx)
                    .await
                    .map_err(|e| (what.clone(), e.into()))?;
            }
            attachment::Entity::update_many()
                .col_expr(attachment::Column::KeyId, current.clone().into())
                .filter(attachment::Column::Id.eq(m.id))
                .exec(&*tx)
                .await
                .map_err(|e| (what.clone(), e.into()))?;
            tx.commit().await.map_err(|e| (what.clone(), e.into()))?;
            done += 1;
        }
    }
}
