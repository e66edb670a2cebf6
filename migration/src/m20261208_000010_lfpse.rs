//! LFPSE: what the national service asks that Candour did not hold (each department's ODS
//! site code, the answers to the national form's questions), and the submission queue, one
//! row per version of an incident that LFPSE should receive.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Incident {
    Table,
    LfpseAnswers,
}

#[derive(DeriveIden)]
enum Department {
    Table,
    OdsCode,
}

#[derive(DeriveIden)]
enum LfpseSubmission {
    Table,
    Id,
    IncidentId,
    Seq,
    ContentHash,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LeasedBy,
    LastError,
    CreatedAt,
    SubmittedAt,
    Method,
    LfpseId,
    LfpseVersion,
    Reference,
}

fn ts<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn ts_null<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn text<T: IntoIden>(col: T, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).not_null().to_owned()
}

fn text_null<T: IntoIden>(col: T, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The national form's answers that Candour has no column of its own for: a JSON
        // object from "Extension.Element" (taxonomy names) to a list of codes or one value.
        manager
            .alter_table(
                Table::alter()
                    .table(Incident::Table)
                    .add_column(ColumnDef::new(Incident::LfpseAnswers).text().null())
                    .to_owned(),
            )
            .await?;
        // The ODS code of the site a department works at (LFPSE's Organisation); the
        // trust's own code comes from the configuration.
        manager
            .alter_table(
                Table::alter()
                    .table(Department::Table)
                    .add_column(text_null(Department::OdsCode, 10))
                    .to_owned(),
            )
            .await?;

        use LfpseSubmission as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(ColumnDef::new(S::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(S::IncidentId).uuid().not_null())
                    // 1 for the first version queued, then 2, 3, ...
                    .col(ColumnDef::new(S::Seq).integer().not_null())
                    // What the version held (a hash of the resource), so an unchanged
                    // resource queues nothing.
                    .col(text(S::ContentHash, 64))
                    // QUEUED, SENT, SUPERSEDED (a later send carried it), DEAD.
                    .col(text(S::Status, 20))
                    .col(ColumnDef::new(S::Attempts).integer().not_null())
                    .col(ts(S::NextAttemptAt))
                    .col(ts_null(S::LeaseUntil))
                    .col(text_null(S::LeasedBy, 100))
                    .col(text_null(S::LastError, 300))
                    .col(ts(S::CreatedAt))
                    .col(ts_null(S::SubmittedAt))
                    // CREATE (POST) or UPDATE (PUT), once sent.
                    .col(text_null(S::Method, 10))
                    // LFPSE's resource id, its meta.versionId and the national reference.
                    .col(text_null(S::LfpseId, 100))
                    .col(text_null(S::LfpseVersion, 40))
                    .col(text_null(S::Reference, 60))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_lfpse_submission_incident_seq")
                    .table(S::Table)
                    .col(S::IncidentId)
                    .col(S::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The dispatcher's search: due versions in the order they fell due.
        manager
            .create_index(
                Index::create()
                    .name("ix_lfpse_submission_due")
                    .table(S::Table)
                    .col(S::Status)
                    .col(S::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LfpseSubmission::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Department::Table)
                    .drop_column(Department::OdsCode)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Incident::Table)
                    .drop_column(Incident::LfpseAnswers)
                    .to_owned(),
            )
            .await
    }
}
