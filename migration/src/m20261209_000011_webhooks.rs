//! Webhooks: the endpoints admins register, the deliveries queued for them (an outbox,
//! sent as email is), and how far along the sealed trail deliveries have been queued.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoint {
    Table,
    Id,
    Url,
    Description,
    Events,
    DepartmentIds,
    Kinds,
    MinHarm,
    Secret,
    Enabled,
    DisabledReason,
    Failures,
    CreatedAt,
    CreatedBy,
    Version,
}

#[derive(DeriveIden)]
enum WebhookDelivery {
    Table,
    Id,
    EndpointId,
    EventSeq,
    EventType,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    LeasedBy,
    LastStatus,
    LastError,
    CreatedAt,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum WebhookCursor {
    Table,
    Id,
    Seq,
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
        use WebhookEndpoint as E;
        manager
            .create_table(
                Table::create()
                    .table(E::Table)
                    .col(ColumnDef::new(E::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(E::Url).string_len(2000).not_null())
                    .col(ColumnDef::new(E::Description).string_len(500).null())
                    // JSON arrays: the events sent, and the filters (empty: any).
                    .col(ColumnDef::new(E::Events).text().not_null())
                    .col(ColumnDef::new(E::DepartmentIds).text().not_null())
                    .col(ColumnDef::new(E::Kinds).text().not_null())
                    .col(ColumnDef::new(E::MinHarm).small_integer().null())
                    // The signing secret, sealed with the data key.
                    .col(ColumnDef::new(E::Secret).text().not_null())
                    .col(ColumnDef::new(E::Enabled).boolean().not_null())
                    .col(ColumnDef::new(E::DisabledReason).string_len(300).null())
                    // Failed attempts in a row, whatever the delivery: disabling counts them.
                    .col(ColumnDef::new(E::Failures).integer().not_null())
                    .col(ts(E::CreatedAt))
                    .col(ColumnDef::new(E::CreatedBy).string_len(300).not_null())
                    .col(ColumnDef::new(E::Version).integer().not_null())
                    .to_owned(),
            )
            .await?;
        use WebhookDelivery as D;
        manager
            .create_table(
                Table::create()
                    .table(D::Table)
                    .col(ColumnDef::new(D::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(D::EndpointId).uuid().not_null())
                    // The trail event announced (null for a test delivery).
                    .col(ColumnDef::new(D::EventSeq).big_integer().null())
                    .col(ColumnDef::new(D::EventType).string_len(60).not_null())
                    // The body sent, the same on every attempt (the signature covers it).
                    .col(ColumnDef::new(D::Payload).text().not_null())
                    // QUEUED (waiting or between attempts), DELIVERED, DEAD.
                    .col(ColumnDef::new(D::Status).string_len(20).not_null())
                    .col(ColumnDef::new(D::Attempts).integer().not_null())
                    .col(ts(D::NextAttemptAt))
                    .col(ts_null(D::LeaseUntil))
                    .col(ColumnDef::new(D::LeasedBy).string_len(100).null())
                    .col(ColumnDef::new(D::LastStatus).integer().null())
                    .col(ColumnDef::new(D::LastError).string_len(300).null())
                    .col(ts(D::CreatedAt))
                    .col(ts_null(D::DeliveredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(D::Table, D::EndpointId)
                            .to(E::Table, E::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // One delivery of an event per endpoint, however many instances queue it.
        manager
            .create_index(
                Index::create()
                    .name("ux_webhook_delivery_endpoint_event")
                    .table(D::Table)
                    .col(D::EndpointId)
                    .col(D::EventSeq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_delivery_due")
                    .table(D::Table)
                    .col(D::Status)
                    .col(D::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookCursor::Table)
                    .col(
                        ColumnDef::new(WebhookCursor::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(WebhookCursor::Seq).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            WebhookCursor::Table.into_iden(),
            WebhookDelivery::Table.into_iden(),
            WebhookEndpoint::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        Ok(())
    }
}
