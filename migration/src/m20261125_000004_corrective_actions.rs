//! Corrective and preventive actions (CAPA), raised from exactly one source.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CorrectiveAction {
    Table,
    Id,
    SourceType,
    IncidentId,
    AuditFindingId,
    ImprovementProjectId,
    DepartmentId,
    Title,
    Description,
    OwnerEmail,
    DueDate,
    Priority,
    Status,
    Effective,
    VerificationNote,
    CancellationReason,
    Note,
    FollowUpOfId,
    CompletedAt,
    VerifiedAt,
    CreatedById,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum Incident {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum AuditFinding {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ImprovementProject {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Department {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use CorrectiveAction as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(ColumnDef::new(A::Id).uuid().not_null().primary_key())
                    // INCIDENT, AUDIT_FINDING or IMPROVEMENT_PROJECT: exactly one of the
                    // three source columns is set, the one the type names.
                    .col(ColumnDef::new(A::SourceType).string_len(32).not_null())
                    .col(ColumnDef::new(A::IncidentId).uuid().null())
                    .col(ColumnDef::new(A::AuditFindingId).uuid().null())
                    .col(ColumnDef::new(A::ImprovementProjectId).uuid().null())
                    // The source's department, copied so scoping needs no join.
                    .col(ColumnDef::new(A::DepartmentId).uuid().not_null())
                    .col(ColumnDef::new(A::Title).string_len(200).not_null())
                    .col(ColumnDef::new(A::Description).text().null())
                    .col(ColumnDef::new(A::OwnerEmail).string_len(320).not_null())
                    .col(ColumnDef::new(A::DueDate).date().not_null())
                    .col(ColumnDef::new(A::Priority).string_len(16).not_null())
                    .col(ColumnDef::new(A::Status).string_len(16).not_null())
                    .col(ColumnDef::new(A::Effective).boolean().null())
                    .col(ColumnDef::new(A::VerificationNote).text().null())
                    .col(ColumnDef::new(A::CancellationReason).text().null())
                    .col(ColumnDef::new(A::Note).text().null())
                    .col(ColumnDef::new(A::FollowUpOfId).uuid().null().unique_key())
                    .col(
                        ColumnDef::new(A::CompletedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(A::VerifiedAt)
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
                            .from(A::Table, A::IncidentId)
                            .to(Incident::Table, Incident::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(A::Table, A::AuditFindingId)
                            .to(AuditFinding::Table, AuditFinding::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(A::Table, A::ImprovementProjectId)
                            .to(ImprovementProject::Table, ImprovementProject::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(A::Table, A::DepartmentId)
                            .to(Department::Table, Department::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(A::Table, A::FollowUpOfId)
                            .to(A::Table, A::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("ix_action_incident", vec![A::IncidentId, A::CreatedAt]),
            ("ix_action_audit_finding", vec![A::AuditFindingId]),
            ("ix_action_project", vec![A::ImprovementProjectId]),
            (
                "ix_action_department_due",
                vec![A::DepartmentId, A::DueDate],
            ),
            ("ix_action_owner", vec![A::OwnerEmail]),
            ("ix_action_status_due", vec![A::Status, A::DueDate]),
        ] {
            let mut index = Index::create();
            index.name(name).table(A::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CorrectiveAction::Table).to_owned())
            .await
    }
}
