//! PSIRF learning responses as records of their own: a lead, a department, a timeframe
//! agreed with those affected, a status, findings, and links to the incidents a response
//! covers and the improvement projects it raised. A corrective action may be raised from a
//! learning response; an incident keeps the reason a handler chose another response than
//! the patient safety incident response plan suggested.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LearningResponse {
    Table,
    Id,
    Kind,
    Title,
    DepartmentId,
    LeadEmail,
    AgreedDueDate,
    TimeframeAgreedWith,
    Status,
    StatusReason,
    Findings,
    StartedAt,
    EndedAt,
    CreatedById,
    CreatedAt,
    UpdatedAt,
    Version,
    DisposedAt,
}

#[derive(DeriveIden)]
enum LearningResponseLink {
    Table,
    Id,
    LearningResponseId,
    IncidentId,
    ImprovementProjectId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CorrectiveAction {
    Table,
    LearningResponseId,
}

#[derive(DeriveIden)]
enum Incident {
    Table,
    Id,
    LearningResponseOverrideReason,
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use LearningResponse as R;
        use LearningResponseLink as L;
        manager
            .create_table(
                Table::create()
                    .table(R::Table)
                    .col(ColumnDef::new(R::Id).uuid().not_null().primary_key())
                    // PSII, AFTER_ACTION_REVIEW, SWARM_HUDDLE, MDT_REVIEW, THEMATIC_REVIEW.
                    .col(ColumnDef::new(R::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(R::Title).string_len(200).not_null())
                    .col(ColumnDef::new(R::DepartmentId).uuid().not_null())
                    .col(ColumnDef::new(R::LeadEmail).string_len(320).not_null())
                    .col(ColumnDef::new(R::AgreedDueDate).date().not_null())
                    .col(ColumnDef::new(R::TimeframeAgreedWith).text().null())
                    .col(ColumnDef::new(R::Status).string_len(16).not_null())
                    .col(ColumnDef::new(R::StatusReason).text().null())
                    .col(ColumnDef::new(R::Findings).text().null())
                    .col(ts_null(R::StartedAt))
                    // Completion or cancellation: retention runs from it.
                    .col(ts_null(R::EndedAt))
                    .col(ColumnDef::new(R::CreatedById).uuid().null())
                    .col(ts(R::CreatedAt))
                    .col(ts(R::UpdatedAt))
                    .col(ColumnDef::new(R::Version).integer().not_null())
                    .col(ts_null(R::DisposedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(R::Table, R::DepartmentId)
                            .to(Department::Table, Department::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(L::Table)
                    .col(ColumnDef::new(L::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(L::LearningResponseId).uuid().not_null())
                    // Exactly one of the two is set.
                    .col(ColumnDef::new(L::IncidentId).uuid().null())
                    .col(ColumnDef::new(L::ImprovementProjectId).uuid().null())
                    .col(ts(L::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(L::Table, L::LearningResponseId)
                            .to(R::Table, R::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(L::Table, L::IncidentId)
                            .to(Incident::Table, Incident::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(L::Table, L::ImprovementProjectId)
                            .to(ImprovementProject::Table, ImprovementProject::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Open responses by department and agreed date: the dashboard's overdue count.
        for (name, table, cols) in [
            (
                "ix_learning_response_department_status",
                R::Table.into_iden(),
                vec![
                    R::DepartmentId.into_iden(),
                    R::Status.into_iden(),
                    R::AgreedDueDate.into_iden(),
                ],
            ),
            (
                "ix_learning_response_created",
                R::Table.into_iden(),
                vec![R::CreatedAt.into_iden(), R::Id.into_iden()],
            ),
            (
                "ix_learning_link_response",
                L::Table.into_iden(),
                vec![L::LearningResponseId.into_iden()],
            ),
            (
                "ix_learning_link_incident",
                L::Table.into_iden(),
                vec![L::IncidentId.into_iden()],
            ),
            (
                "ix_learning_link_project",
                L::Table.into_iden(),
                vec![L::ImprovementProjectId.into_iden()],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        // One column per statement: SQLite's ALTER TABLE adds a single column at a time.
        // The new source column has no foreign key: SQLite cannot add one to an existing
        // table; the service checks the response exists when the action is raised.
        manager
            .alter_table(
                Table::alter()
                    .table(CorrectiveAction::Table)
                    .add_column(
                        ColumnDef::new(CorrectiveAction::LearningResponseId)
                            .uuid()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_action_learning_response")
                    .table(CorrectiveAction::Table)
                    .col(CorrectiveAction::LearningResponseId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Incident::Table)
                    .add_column(
                        ColumnDef::new(Incident::LearningResponseOverrideReason)
                            .text()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_action_learning_response")
                    .table(CorrectiveAction::Table)
                    .to_owned(),
            )
            .await?;
        for (table, col) in [
            (
                CorrectiveAction::Table.into_iden(),
                CorrectiveAction::LearningResponseId.into_iden(),
            ),
            (
                Incident::Table.into_iden(),
                Incident::LearningResponseOverrideReason.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        manager
            .drop_table(Table::drop().table(LearningResponseLink::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(LearningResponse::Table).to_owned())
            .await
    }
}
