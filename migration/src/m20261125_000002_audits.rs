//! Clinical and quality audits and their findings per criterion.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Audit {
    Table,
    Id,
    Title,
    DepartmentId,
    Standard,
    PlannedStart,
    PlannedEnd,
    LeadEmail,
    Status,
    ReauditOfId,
    StartedAt,
    ReportedAt,
    ClosedAt,
    CreatedById,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum AuditFinding {
    Table,
    Id,
    AuditId,
    Criterion,
    CriterionKey,
    TargetPercent,
    SampleSize,
    CompliantCount,
    RecordedById,
    RecordedAt,
}

#[derive(DeriveIden)]
enum Department {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use Audit as A;
        use AuditFinding as F;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(ColumnDef::new(A::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(A::Title).string_len(200).not_null())
                    .col(ColumnDef::new(A::DepartmentId).uuid().not_null())
                    .col(ColumnDef::new(A::Standard).text().not_null())
                    .col(ColumnDef::new(A::PlannedStart).date().not_null())
                    .col(ColumnDef::new(A::PlannedEnd).date().not_null())
                    .col(ColumnDef::new(A::LeadEmail).string_len(320).null())
                    .col(ColumnDef::new(A::Status).string_len(16).not_null())
                    .col(ColumnDef::new(A::ReauditOfId).uuid().null())
                    .col(
                        ColumnDef::new(A::StartedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(A::ReportedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(A::ClosedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(A::CreatedById).uuid().null())
                    .col(
                        ColumnDef::new(A::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(A::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(A::Version).integer().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(A::Table, A::DepartmentId)
                            .to(Department::Table, Department::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(A::Table, A::ReauditOfId)
                            .to(A::Table, A::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_planned")
                    .table(A::Table)
                    .col(A::PlannedStart)
                    .col(A::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_reaudit_of")
                    .table(A::Table)
                    .col(A::ReauditOfId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(F::Table)
                    .col(ColumnDef::new(F::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(F::AuditId).uuid().not_null())
                    .col(ColumnDef::new(F::Criterion).string_len(500).not_null())
                    // The criterion trimmed and lower-cased: one finding per criterion per
                    // audit, and the key that matches criteria across re-audits.
                    .col(ColumnDef::new(F::CriterionKey).string_len(500).not_null())
                    .col(ColumnDef::new(F::TargetPercent).double().not_null())
                    .col(ColumnDef::new(F::SampleSize).integer().not_null())
                    .col(ColumnDef::new(F::CompliantCount).integer().not_null())
                    .col(ColumnDef::new(F::RecordedById).uuid().null())
                    .col(
                        ColumnDef::new(F::RecordedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(F::Table, F::AuditId)
                            .to(A::Table, A::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_audit_finding_criterion")
                    .table(F::Table)
                    .col(F::AuditId)
                    .col(F::CriterionKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditFinding::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Audit::Table).to_owned())
            .await
    }
}
