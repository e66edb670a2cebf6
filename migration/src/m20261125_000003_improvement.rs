//! Improvement projects (Model for Improvement): measures with their time series, PDSA
//! cycles, and links to the incidents and audits that prompted them.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ImprovementProject {
    Table,
    Id,
    Title,
    Aim,
    DepartmentId,
    SponsorEmail,
    LeadEmail,
    Status,
    StatusReason,
    StartedAt,
    ClosedAt,
    CreatedById,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum Measure {
    Table,
    Id,
    ProjectId,
    Name,
    Kind,
    Unit,
    Target,
    BetterWhen,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Measurement {
    Table,
    Id,
    MeasureId,
    Value,
    At,
    RecordedById,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PdsaCycle {
    Table,
    Id,
    ProjectId,
    Title,
    Plan,
    Do,
    Study,
    Act,
    Stage,
    Outcome,
    StartDate,
    EndDate,
    CreatedAt,
    UpdatedAt,
    Version,
}

#[derive(DeriveIden)]
enum ImprovementLink {
    Table,
    Id,
    ProjectId,
    IncidentId,
    AuditId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Department {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Incident {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Audit {
    Table,
    Id,
}

fn fk(
    from: (impl IntoIden + 'static, impl IntoIden + 'static),
    to: (impl IntoIden + 'static, impl IntoIden + 'static),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        use ImprovementProject as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(ColumnDef::new(P::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(P::Title).string_len(200).not_null())
                    .col(ColumnDef::new(P::Aim).text().not_null())
                    .col(ColumnDef::new(P::DepartmentId).uuid().not_null())
                    .col(ColumnDef::new(P::SponsorEmail).string_len(320).null())
                    .col(ColumnDef::new(P::LeadEmail).string_len(320).null())
                    .col(ColumnDef::new(P::Status).string_len(16).not_null())
                    .col(ColumnDef::new(P::StatusReason).text().null())
                    .col(
                        ColumnDef::new(P::StartedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(P::ClosedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(P::CreatedById).uuid().null())
                    .col(
                        ColumnDef::new(P::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(P::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(P::Version).integer().not_null())
                    .foreign_key(&mut fk(
                        (P::Table, P::DepartmentId),
                        (Department::Table, Department::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Measure::Table)
                    .col(ColumnDef::new(Measure::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Measure::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(Measure::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Measure::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(Measure::Unit).string_len(50).not_null())
                    .col(ColumnDef::new(Measure::Target).double().null())
                    .col(ColumnDef::new(Measure::BetterWhen).string_len(8).not_null())
                    .col(
                        ColumnDef::new(Measure::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        (Measure::Table, Measure::ProjectId),
                        (P::Table, P::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Measurement::Table)
                    .col(
                        ColumnDef::new(Measurement::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Measurement::MeasureId).uuid().not_null())
                    .col(ColumnDef::new(Measurement::Value).double().not_null())
                    .col(
                        ColumnDef::new(Measurement::At)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Measurement::RecordedById).uuid().null())
                    .col(
                        ColumnDef::new(Measurement::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        (Measurement::Table, Measurement::MeasureId),
                        (Measure::Table, Measure::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PdsaCycle::Table)
                    .col(
                        ColumnDef::new(PdsaCycle::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(PdsaCycle::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(PdsaCycle::Title).string_len(200).not_null())
                    .col(ColumnDef::new(PdsaCycle::Plan).text().null())
                    .col(ColumnDef::new(PdsaCycle::Do).text().null())
                    .col(ColumnDef::new(PdsaCycle::Study).text().null())
                    .col(ColumnDef::new(PdsaCycle::Act).text().null())
                    .col(ColumnDef::new(PdsaCycle::Stage).string_len(8).not_null())
                    .col(ColumnDef::new(PdsaCycle::Outcome).string_len(8).null())
                    .col(ColumnDef::new(PdsaCycle::StartDate).date().not_null())
                    .col(ColumnDef::new(PdsaCycle::EndDate).date().null())
                    .col(
                        ColumnDef::new(PdsaCycle::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(PdsaCycle::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(PdsaCycle::Version).integer().not_null())
                    .foreign_key(&mut fk(
                        (PdsaCycle::Table, PdsaCycle::ProjectId),
                        (P::Table, P::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ImprovementLink::Table)
                    .col(
                        ColumnDef::new(ImprovementLink::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ImprovementLink::ProjectId).uuid().not_null())
                    .col(ColumnDef::new(ImprovementLink::IncidentId).uuid().null())
                    .col(ColumnDef::new(ImprovementLink::AuditId).uuid().null())
                    .col(
                        ColumnDef::new(ImprovementLink::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(&mut fk(
                        (ImprovementLink::Table, ImprovementLink::ProjectId),
                        (P::Table, P::Id),
                    ))
                    .foreign_key(&mut fk(
                        (ImprovementLink::Table, ImprovementLink::IncidentId),
                        (Incident::Table, Incident::Id),
                    ))
                    .foreign_key(&mut fk(
                        (ImprovementLink::Table, ImprovementLink::AuditId),
                        (Audit::Table, Audit::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, table, cols) in [
            (
                "ix_measure_project",
                Measure::Table.into_iden(),
                vec![Measure::ProjectId.into_iden()],
            ),
            (
                "ix_measurement_measure_at",
                Measurement::Table.into_iden(),
                vec![
                    Measurement::MeasureId.into_iden(),
                    Measurement::At.into_iden(),
                ],
            ),
            (
                "ix_pdsa_project",
                PdsaCycle::Table.into_iden(),
                vec![PdsaCycle::ProjectId.into_iden()],
            ),
            (
                "ix_improvement_link_project",
                ImprovementLink::Table.into_iden(),
                vec![ImprovementLink::ProjectId.into_iden()],
            ),
            (
                "ix_improvement_link_incident",
                ImprovementLink::Table.into_iden(),
                vec![ImprovementLink::IncidentId.into_iden()],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ImprovementLink::Table.into_iden(),
            PdsaCycle::Table.into_iden(),
            Measurement::Table.into_iden(),
            Measure::Table.into_iden(),
            ImprovementProject::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
