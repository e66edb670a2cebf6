//! Attachments: evidence files on incidents, corrective actions, audit findings and
//! improvement projects. The bytes live in the database (so every instance on one
//! PostgreSQL sees them), sealed chunk by chunk with the data key.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Attachment {
    Table,
    Id,
    OwnerType,
    OwnerId,
    UploaderKey,
    UploadedBy,
    FileName,
    ContentType,
    SizeBytes,
    Sha256,
    ChunkCount,
    KeyId,
    Complete,
    ScanStatus,
    ScanSignature,
    ScanAttempts,
    ScanAfter,
    ScannedAt,
    MetadataRemoved,
    CreatedAt,
    AttachedAt,
    RemovedAt,
    RemovedBy,
    RemovalReason,
    DisposedAt,
}

#[derive(DeriveIden)]
enum AttachmentChunk {
    Table,
    AttachmentId,
    N,
    Sealed,
}

fn ts_null<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Attachment as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(ColumnDef::new(A::Id).uuid().not_null().primary_key())
                    // The record it belongs to (Incident, CorrectiveAction, AuditFinding,
                    // ImprovementProject); both null while it is an upload not yet attached.
                    .col(ColumnDef::new(A::OwnerType).string_len(30).null())
                    .col(ColumnDef::new(A::OwnerId).uuid().null())
                    // A keyed hash of the uploader's subject while unattached, so that only
                    // they can attach it; cleared when it is attached.
                    .col(ColumnDef::new(A::UploaderKey).string_len(64).null())
                    // The staff member who attached it (null for an anonymous report).
                    .col(ColumnDef::new(A::UploadedBy).uuid().null())
                    .col(ColumnDef::new(A::FileName).string_len(255).not_null())
                    // Decided by sniffing the content, never taken from the client.
                    .col(ColumnDef::new(A::ContentType).string_len(100).not_null())
                    .col(ColumnDef::new(A::SizeBytes).big_integer().not_null())
                    .col(ColumnDef::new(A::Sha256).string_len(64).not_null())
                    .col(ColumnDef::new(A::ChunkCount).integer().not_null())
                    .col(ColumnDef::new(A::KeyId).string_len(50).not_null())
                    // False while the upload is still arriving.
                    .col(ColumnDef::new(A::Complete).boolean().not_null())
                    // AWAITING_SCAN, CLEAN, INFECTED, NOT_SCANNED (no scanner configured).
                    .col(ColumnDef::new(A::ScanStatus).string_len(20).not_null())
                    .col(ColumnDef::new(A::ScanSignature).string_len(200).null())
                    .col(ColumnDef::new(A::ScanAttempts).integer().not_null())
                    // When the scanner may next take it (a claim or a retry).
                    .col(ts_null(A::ScanAfter))
                    .col(ts_null(A::ScannedAt))
                    // What was taken out on the way in (EXIF, XMP, ...), comma-separated.
                    .col(
                        ColumnDef::new(A::MetadataRemoved)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(A::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ts_null(A::AttachedAt))
                    .col(ts_null(A::RemovedAt))
                    .col(ColumnDef::new(A::RemovedBy).uuid().null())
                    .col(ColumnDef::new(A::RemovalReason).text().null())
                    .col(ts_null(A::DisposedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_attachment_owner")
                    .table(A::Table)
                    .col(A::OwnerType)
                    .col(A::OwnerId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_attachment_scan")
                    .table(A::Table)
                    .col(A::ScanStatus)
                    .col(A::ScanAfter)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_attachment_unattached")
                    .table(A::Table)
                    .col(A::OwnerId)
                    .col(A::CreatedAt)
                    .to_owned(),
            )
            .await?;
        use AttachmentChunk as C;
        manager
            .create_table(
                Table::create()
                    .table(C::Table)
                    .col(ColumnDef::new(C::AttachmentId).uuid().not_null())
                    .col(ColumnDef::new(C::N).integer().not_null())
                    // Nonce, ciphertext and tag (AES-256-GCM), bound to the attachment,
                    // the chunk's place and the number of chunks.
                    .col(ColumnDef::new(C::Sealed).blob().not_null())
                    .primary_key(Index::create().col(C::AttachmentId).col(C::N))
                    .foreign_key(
                        ForeignKey::create()
                            .from(C::Table, C::AttachmentId)
                            .to(A::Table, A::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AttachmentChunk::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Attachment::Table).to_owned())
            .await
    }
}
