//! Dashboard rollups: incident counts and duration sketches by day, week, month and year,
//! fed by a delta table that reporting and review write in their own transactions; and
//! corrective-action counts by department, owner, state and due date. The tables start
//! empty; `rollup_meta` says when they were last recounted from the records and in which
//! time zone, and a server that finds it missing (or in another zone) recounts at start.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IncidentRollupDelta {
    Table,
    Id,
    Sign,
    DepartmentId,
    ReportedDay,
    Kind,
    PhysicalHarm,
    PsychologicalHarm,
    Category,
    Status,
    NearMiss,
    TriagedDay,
    TriageSeconds,
    ClosedDay,
    CloseSeconds,
}

#[derive(DeriveIden)]
enum IncidentRollup {
    Table,
    DepartmentId,
    Grain,
    Dimension,
    Bucket,
    Value,
    N,
}

#[derive(DeriveIden)]
enum IncidentDurationRollup {
    Table,
    DepartmentId,
    Grain,
    Metric,
    Bucket,
    Sketch,
}

#[derive(DeriveIden)]
enum ActionRollup {
    Table,
    DepartmentId,
    OwnerEmail,
    Status,
    DueDate,
    Flags,
    N,
}

#[derive(DeriveIden)]
enum RollupMeta {
    Table,
    Id,
    Timezone,
    BuiltAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One row per change to an incident's counted facts (-1 for what it was, +1 for what
        // it is): inserts only, so concurrent reports never wait on a shared counter row.
        manager
            .create_table(
                Table::create()
                    .table(IncidentRollupDelta::Table)
                    .col(
                        ColumnDef::new(IncidentRollupDelta::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(IncidentRollupDelta::Sign)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentRollupDelta::DepartmentId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentRollupDelta::ReportedDay)
                            .date()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentRollupDelta::Kind)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentRollupDelta::PhysicalHarm)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentRollupDelta::PsychologicalHarm)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentRollupDelta::Category)
                            .string_len(100)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(IncidentRollupDelta::Status)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentRollupDelta::NearMiss)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentRollupDelta::TriagedDay)
                            .date()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(IncidentRollupDelta::TriageSeconds)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(IncidentRollupDelta::ClosedDay).date().null())
                    .col(
                        ColumnDef::new(IncidentRollupDelta::CloseSeconds)
                            .big_integer()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;

        // Counts. department_id is the nil UUID for the whole trust; the key's order serves
        // the dashboard's reads: one department (or the trust), one grain, one dimension, a
        // range of buckets.
        manager
            .create_table(
                Table::create()
                    .table(IncidentRollup::Table)
                    .col(
                        ColumnDef::new(IncidentRollup::DepartmentId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentRollup::Grain)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentRollup::Dimension)
                            .small_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(IncidentRollup::Bucket).date().not_null())
                    .col(
                        ColumnDef::new(IncidentRollup::Value)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(ColumnDef::new(IncidentRollup::N).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(IncidentRollup::DepartmentId)
                            .col(IncidentRollup::Grain)
                            .col(IncidentRollup::Dimension)
                            .col(IncidentRollup::Bucket)
                            .col(IncidentRollup::Value),
                    )
                    .to_owned(),
            )
            .await?;

        // Time to triage and to close: one mergeable sketch (a histogram of log-spaced bins)
        // per department, grain, metric and bucket.
        manager
            .create_table(
                Table::create()
                    .table(IncidentDurationRollup::Table)
                    .col(
                        ColumnDef::new(IncidentDurationRollup::DepartmentId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentDurationRollup::Grain)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentDurationRollup::Metric)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentDurationRollup::Bucket)
                            .date()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IncidentDurationRollup::Sketch)
                            .text()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(IncidentDurationRollup::DepartmentId)
                            .col(IncidentDurationRollup::Grain)
                            .col(IncidentDurationRollup::Metric)
                            .col(IncidentDurationRollup::Bucket),
                    )
                    .to_owned(),
            )
            .await?;

        // Corrective actions by department, owner and state; open ones by due date (overdue
        // depends on today), done ones by whether they were on time and found effective.
        manager
            .create_table(
                Table::create()
                    .table(ActionRollup::Table)
                    .col(ColumnDef::new(ActionRollup::DepartmentId).uuid().not_null())
                    .col(
                        ColumnDef::new(ActionRollup::OwnerEmail)
                            .string_len(320)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ActionRollup::Status)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ActionRollup::DueDate).date().not_null())
                    .col(
                        ColumnDef::new(ActionRollup::Flags)
                            .small_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ActionRollup::N).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(ActionRollup::DepartmentId)
                            .col(ActionRollup::OwnerEmail)
                            .col(ActionRollup::Status)
                            .col(ActionRollup::DueDate)
                            .col(ActionRollup::Flags),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RollupMeta::Table)
                    .col(
                        ColumnDef::new(RollupMeta::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RollupMeta::Timezone)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RollupMeta::BuiltAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IncidentRollupDelta::Table.into_iden(),
            IncidentRollup::Table.into_iden(),
            IncidentDurationRollup::Table.into_iden(),
            ActionRollup::Table.into_iden(),
            RollupMeta::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
