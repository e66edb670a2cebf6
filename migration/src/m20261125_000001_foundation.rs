//! Departments, staff, incidents with their comments and duty-of-candour steps,
//! the per-year reference counter, idempotency keys and the change trail.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Department {
    Table,
    Id,
    Code,
    Name,
    Site,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Staff {
    Table,
    Id,
    Subject,
    Name,
    Email,
    Roles,
    DepartmentCodes,
    FirstSeenAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum Incident {
    Table,
    Id,
    Reference,
    Title,
    Description,
    OccurredAt,
    ReportedAt,
    DepartmentId,
    Location,
    EventType,
    Kind,
    Category,
    NearMiss,
    PhysicalHarm,
    PsychologicalHarm,
    ImmediateActions,
    PatientNhsNumber,
    PatientName,
    PatientDateOfBirth,
    EquipmentAssetId,
    EquipmentManufacturer,
    EquipmentModel,
    EquipmentSerialNumber,
    Anonymous,
    FollowUpCodeHash,
    ReporterId,
    HandlerId,
    LearningResponse,
    LearningSummary,
    Findings,
    FeedbackToReporter,
    DutyOfCandourApplies,
    Status,
    StatusReason,
    DuplicateOfId,
    TriagedAt,
    ClosedAt,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IncidentComment {
    Table,
    Id,
    IncidentId,
    AuthorId,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CandourStep {
    Table,
    Id,
    IncidentId,
    Step,
    TakenAt,
    RecordedById,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ReferenceCounter {
    Table,
    Prefix,
    Year,
    LastValue,
}

#[derive(DeriveIden)]
enum IdempotencyKey {
    Table,
    KeyHash,
    IncidentId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum TrailEvent {
    Table,
    Id,
    OccurredAt,
    ActorId,
    ActorLabel,
    ActorRoles,
    EntityType,
    EntityId,
    Action,
    Changes,
    RequestId,
    PrevHash,
    Hash,
}

fn uuid_pk<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .uuid()
        .not_null()
        .primary_key()
        .to_owned()
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

fn text_null<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).text().null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Department::Table)
                    .col(uuid_pk(Department::Id))
                    .col(
                        ColumnDef::new(Department::Code)
                            .string_len(16)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Department::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Department::Site).string_len(200).null())
                    .col(ts(Department::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Staff::Table)
                    .col(uuid_pk(Staff::Id))
                    .col(
                        ColumnDef::new(Staff::Subject)
                            .string_len(255)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Staff::Name).string_len(200).null())
                    .col(ColumnDef::new(Staff::Email).string_len(320).null())
                    // The roles and department codes of the subject's latest token, JSON arrays,
                    // so that notifications can find a department's handlers.
                    .col(ColumnDef::new(Staff::Roles).text().not_null())
                    .col(ColumnDef::new(Staff::DepartmentCodes).text().not_null())
                    .col(ts(Staff::FirstSeenAt))
                    .col(ts(Staff::LastSeenAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Incident::Table)
                    .col(uuid_pk(Incident::Id))
                    .col(
                        ColumnDef::new(Incident::Reference)
                            .string_len(20)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Incident::Title).string_len(200).not_null())
                    .col(ColumnDef::new(Incident::Description).text().not_null())
                    .col(ts(Incident::OccurredAt))
                    .col(ts(Incident::ReportedAt))
                    .col(ColumnDef::new(Incident::DepartmentId).uuid().not_null())
                    .col(ColumnDef::new(Incident::Location).string_len(200).null())
                    .col(
                        ColumnDef::new(Incident::EventType)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Incident::Kind).string_len(32).not_null())
                    .col(ColumnDef::new(Incident::Category).string_len(100).null())
                    .col(ColumnDef::new(Incident::NearMiss).boolean().not_null())
                    // Harm is stored as its LFPSE rank (0 none .. 4 fatal) so that it orders and
                    // filters ("moderate or worse") with plain comparisons.
                    .col(
                        ColumnDef::new(Incident::PhysicalHarm)
                            .small_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Incident::PsychologicalHarm)
                            .small_integer()
                            .not_null(),
                    )
                    .col(text_null(Incident::ImmediateActions))
                    .col(
                        ColumnDef::new(Incident::PatientNhsNumber)
                            .string_len(10)
                            .null(),
                    )
                    .col(ColumnDef::new(Incident::PatientName).string_len(200).null())
                    .col(ColumnDef::new(Incident::PatientDateOfBirth).date().null())
                    .col(
                        ColumnDef::new(Incident::EquipmentAssetId)
                            .string_len(100)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Incident::EquipmentManufacturer)
                            .string_len(200)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Incident::EquipmentModel)
                            .string_len(200)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Incident::EquipmentSerialNumber)
                            .string_len(100)
                            .null(),
                    )
                    .col(ColumnDef::new(Incident::Anonymous).boolean().not_null())
                    // SHA-256 of an anonymous reporter's follow-up code; the code itself is
                    // shown once and never stored.
                    .col(
                        ColumnDef::new(Incident::FollowUpCodeHash)
                            .string_len(64)
                            .null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Incident::ReporterId).uuid().null())
                    .col(ColumnDef::new(Incident::HandlerId).uuid().null())
                    .col(
                        ColumnDef::new(Incident::LearningResponse)
                            .string_len(32)
                            .null(),
                    )
                    .col(text_null(Incident::LearningSummary))
                    .col(text_null(Incident::Findings))
                    .col(text_null(Incident::FeedbackToReporter))
                    .col(
                        ColumnDef::new(Incident::DutyOfCandourApplies)
                            .boolean()
                            .null(),
                    )
                    .col(ColumnDef::new(Incident::Status).string_len(24).not_null())
                    .col(text_null(Incident::StatusReason))
                    .col(ColumnDef::new(Incident::DuplicateOfId).uuid().null())
                    .col(ts_null(Incident::TriagedAt))
                    .col(ts_null(Incident::ClosedAt))
                    .col(ColumnDef::new(Incident::Version).integer().not_null())
                    .col(ts(Incident::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Incident::Table, Incident::DepartmentId)
                            .to(Department::Table, Department::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Incident::Table, Incident::ReporterId)
                            .to(Staff::Table, Staff::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Incident::Table, Incident::HandlerId)
                            .to(Staff::Table, Staff::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Incident::Table, Incident::DuplicateOfId)
                            .to(Incident::Table, Incident::Id),
                    )
                    .to_owned(),
            )
            .await?;

        // The list page's default order and its keyset pagination.
        for (name, cols) in [
            (
                "ix_incident_reported_at",
                vec![Incident::ReportedAt, Incident::Id],
            ),
            (
                "ix_incident_occurred_at",
                vec![Incident::OccurredAt, Incident::Id],
            ),
            (
                "ix_incident_department_reported",
                vec![Incident::DepartmentId, Incident::ReportedAt],
            ),
            ("ix_incident_reporter", vec![Incident::ReporterId]),
            ("ix_incident_status", vec![Incident::Status]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Incident::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(IncidentComment::Table)
                    .col(uuid_pk(IncidentComment::Id))
                    .col(
                        ColumnDef::new(IncidentComment::IncidentId)
                            .uuid()
                            .not_null(),
                    )
                    .col(ColumnDef::new(IncidentComment::AuthorId).uuid().null())
                    .col(ColumnDef::new(IncidentComment::Body).text().not_null())
                    .col(ts(IncidentComment::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IncidentComment::Table, IncidentComment::IncidentId)
                            .to(Incident::Table, Incident::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(IncidentComment::Table, IncidentComment::AuthorId)
                            .to(Staff::Table, Staff::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_incident_comment_incident")
                    .table(IncidentComment::Table)
                    .col(IncidentComment::IncidentId)
                    .col(IncidentComment::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CandourStep::Table)
                    .col(uuid_pk(CandourStep::Id))
                    .col(ColumnDef::new(CandourStep::IncidentId).uuid().not_null())
                    .col(ColumnDef::new(CandourStep::Step).string_len(32).not_null())
                    .col(ts(CandourStep::TakenAt))
                    .col(ColumnDef::new(CandourStep::RecordedById).uuid().null())
                    .col(ts(CandourStep::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(CandourStep::Table, CandourStep::IncidentId)
                            .to(Incident::Table, Incident::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_candour_step_incident")
                    .table(CandourStep::Table)
                    .col(CandourStep::IncidentId)
                    .to_owned(),
            )
            .await?;

        // One row per (prefix, year): incremented with an upsert inside the reporting
        // transaction, so references are unique and never reused on both databases.
        manager
            .create_table(
                Table::create()
                    .table(ReferenceCounter::Table)
                    .col(
                        ColumnDef::new(ReferenceCounter::Prefix)
                            .string_len(8)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ReferenceCounter::Year).integer().not_null())
                    .col(
                        ColumnDef::new(ReferenceCounter::LastValue)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ReferenceCounter::Prefix)
                            .col(ReferenceCounter::Year),
                    )
                    .to_owned(),
            )
            .await?;

        // A hash of (reporter, client key), never the reporter: so an anonymous report's
        // double-submit is caught without storing who sent it.
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKey::Table)
                    .col(
                        ColumnDef::new(IdempotencyKey::KeyHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(IdempotencyKey::IncidentId).uuid().not_null())
                    .col(ts(IdempotencyKey::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(IdempotencyKey::Table, IdempotencyKey::IncidentId)
                            .to(Incident::Table, Incident::Id),
                    )
                    .to_owned(),
            )
            .await?;

        // Append-only. prev_hash/hash are filled by the hash chain (SHA-256 over the previous
        // hash and the event's canonical form).
        manager
            .create_table(
                Table::create()
                    .table(TrailEvent::Table)
                    .col(uuid_pk(TrailEvent::Id))
                    .col(ts(TrailEvent::OccurredAt))
                    .col(ColumnDef::new(TrailEvent::ActorId).uuid().null())
                    .col(
                        ColumnDef::new(TrailEvent::ActorLabel)
                            .string_len(255)
                            .null(),
                    )
                    .col(ColumnDef::new(TrailEvent::ActorRoles).text().null())
                    .col(
                        ColumnDef::new(TrailEvent::EntityType)
                            .string_len(40)
                            .not_null(),
                    )
                    .col(ColumnDef::new(TrailEvent::EntityId).uuid().not_null())
                    .col(ColumnDef::new(TrailEvent::Action).string_len(64).not_null())
                    .col(ColumnDef::new(TrailEvent::Changes).text().not_null())
                    .col(ColumnDef::new(TrailEvent::RequestId).string_len(64).null())
                    .col(ColumnDef::new(TrailEvent::PrevHash).string_len(64).null())
                    .col(ColumnDef::new(TrailEvent::Hash).string_len(64).null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_trail_event_entity")
                    .table(TrailEvent::Table)
                    .col(TrailEvent::EntityType)
                    .col(TrailEvent::EntityId)
                    .col(TrailEvent::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            TrailEvent::Table.into_iden(),
            IdempotencyKey::Table.into_iden(),
            ReferenceCounter::Table.into_iden(),
            CandourStep::Table.into_iden(),
            IncidentComment::Table.into_iden(),
            Incident::Table.into_iden(),
            Staff::Table.into_iden(),
            Department::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
