//! Notifications and deadlines: the email outbox with its delivery attempts, per-user
//! preferences, and the regulatory obligations (each a clock) with the steps taken on them.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Incident {
    Table,
    RegulatoryFacts,
}

#[derive(DeriveIden)]
enum Notification {
    Table,
    Id,
    Kind,
    Mandatory,
    DedupeKey,
    Recipient,
    RecipientStaffId,
    Subject,
    BodyText,
    BodyHtml,
    MessageId,
    EntityType,
    EntityId,
    Reference,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LeasedBy,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum NotificationAttempt {
    Table,
    Id,
    NotificationId,
    AttemptedAt,
    Worker,
    Outcome,
    Error,
}

#[derive(DeriveIden)]
enum NotificationPreference {
    Table,
    StaffId,
    Kind,
    Enabled,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Obligation {
    Table,
    Id,
    IncidentId,
    DepartmentId,
    Kind,
    Name,
    OwedTo,
    StartedAt,
    DueAt,
    CompletedBy,
    Status,
    ExternalReference,
    SubmittedAt,
    WithdrawnReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ObligationStep {
    Table,
    Id,
    ObligationId,
    Step,
    TakenAt,
    ExternalReference,
    RecordedById,
    CreatedAt,
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
        // The facts regulatory obligations follow from, beyond kind and harm: a JSON array
        // of names such as "RISK_TO_INDIVIDUALS".
        manager
            .alter_table(
                Table::alter()
                    .table(Incident::Table)
                    .add_column(
                        ColumnDef::new(Incident::RegulatoryFacts)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .to_owned(),
            )
            .await?;

        use Notification as N;
        manager
            .create_table(
                Table::create()
                    .table(N::Table)
                    .col(ColumnDef::new(N::Id).uuid().not_null().primary_key())
                    .col(text(N::Kind, 40))
                    .col(ColumnDef::new(N::Mandatory).boolean().not_null())
                    .col(text(N::DedupeKey, 300))
                    .col(text(N::Recipient, 320))
                    .col(ColumnDef::new(N::RecipientStaffId).uuid().null())
                    .col(text(N::Subject, 300))
                    .col(ColumnDef::new(N::BodyText).text().not_null())
                    .col(ColumnDef::new(N::BodyHtml).text().not_null())
                    .col(text(N::MessageId, 200))
                    .col(text_null(N::EntityType, 40))
                    .col(ColumnDef::new(N::EntityId).uuid().null())
                    .col(text_null(N::Reference, 40))
                    .col(text(N::Status, 20))
                    .col(ColumnDef::new(N::Attempts).integer().not_null())
                    .col(ts(N::NextAttemptAt))
                    .col(ts_null(N::LeaseUntil))
                    .col(text_null(N::LeasedBy, 100))
                    .col(text_null(N::LastError, 300))
                    .col(ts(N::CreatedAt))
                    .col(ts_null(N::SentAt))
                    .to_owned(),
            )
            .await?;
        // Each email at most once: a rule or reminder names its occasion and recipient,
        // and a second insert of the same key (another instance, a restart) is a no-op.
        manager
            .create_index(
                Index::create()
                    .name("ux_notification_dedupe_key")
                    .table(N::Table)
                    .col(N::DedupeKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The dispatcher's search: due emails in the order they fell due.
        manager
            .create_index(
                Index::create()
                    .name("ix_notification_due")
                    .table(N::Table)
                    .col(N::Status)
                    .col(N::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_notification_entity")
                    .table(N::Table)
                    .col(N::EntityId)
                    .to_owned(),
            )
            .await?;

        use NotificationAttempt as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(ColumnDef::new(A::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(A::NotificationId).uuid().not_null())
                    .col(ts(A::AttemptedAt))
                    .col(text(A::Worker, 100))
                    .col(text(A::Outcome, 20))
                    .col(text_null(A::Error, 300))
                    .foreign_key(
                        ForeignKey::create()
                            .from(A::Table, A::NotificationId)
                            .to(N::Table, N::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_notification_attempt_notification")
                    .table(A::Table)
                    .col(A::NotificationId)
                    .to_owned(),
            )
            .await?;

        use NotificationPreference as P;
        manager
            .create_table(
                Table::create()
                    .table(P::Table)
                    .col(ColumnDef::new(P::StaffId).uuid().not_null())
                    .col(text(P::Kind, 40))
                    .col(ColumnDef::new(P::Enabled).boolean().not_null())
                    .col(ts(P::UpdatedAt))
                    .primary_key(Index::create().col(P::StaffId).col(P::Kind))
                    .to_owned(),
            )
            .await?;

        use Obligation as O;
        manager
            .create_table(
                Table::create()
                    .table(O::Table)
                    .col(ColumnDef::new(O::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(O::IncidentId).uuid().not_null())
                    .col(ColumnDef::new(O::DepartmentId).uuid().not_null())
                    .col(text(O::Kind, 40))
                    .col(text(O::Name, 200))
                    .col(text(O::OwedTo, 200))
                    .col(ts(O::StartedAt))
                    .col(ts(O::DueAt))
                    .col(text(O::CompletedBy, 40))
                    .col(text(O::Status, 20))
                    .col(text_null(O::ExternalReference, 100))
                    .col(ts_null(O::SubmittedAt))
                    .col(text_null(O::WithdrawnReason, 300))
                    .col(ts(O::CreatedAt))
                    .col(ts(O::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_obligation_incident_kind")
                    .table(O::Table)
                    .col(O::IncidentId)
                    .col(O::Kind)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The board and the scheduler: open clocks by due time.
        manager
            .create_index(
                Index::create()
                    .name("ix_obligation_status_due")
                    .table(O::Table)
                    .col(O::Status)
                    .col(O::DueAt)
                    .to_owned(),
            )
            .await?;

        use ObligationStep as S;
        manager
            .create_table(
                Table::create()
                    .table(S::Table)
                    .col(ColumnDef::new(S::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(S::ObligationId).uuid().not_null())
                    .col(text(S::Step, 40))
                    .col(ts(S::TakenAt))
                    .col(text_null(S::ExternalReference, 100))
                    .col(ColumnDef::new(S::RecordedById).uuid().null())
                    .col(ts(S::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(S::Table, S::ObligationId)
                            .to(O::Table, O::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_obligation_step_obligation")
                    .table(S::Table)
                    .col(S::ObligationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            ObligationStep::Table.into_iden(),
            Obligation::Table.into_iden(),
            NotificationPreference::Table.into_iden(),
            NotificationAttempt::Table.into_iden(),
            Notification::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Incident::Table)
                    .drop_column(Incident::RegulatoryFacts)
                    .to_owned(),
            )
            .await
    }
}
