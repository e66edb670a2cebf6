//! Information governance: patient details sealed at rest with a keyed hash for look-up,
//! the hash-chained trail (sequence and head), the access log, break-glass grants, legal
//! holds and disposal tombstones.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Incident {
    Table,
    Id,
    PatientNhsSealed,
    PatientNameSealed,
    PatientDobSealed,
    PatientNhsHash,
    DisposedAt,
}

#[derive(DeriveIden)]
enum Audit {
    Table,
    DisposedAt,
}

#[derive(DeriveIden)]
enum ImprovementProject {
    Table,
    DisposedAt,
}

#[derive(DeriveIden)]
enum TrailEvent {
    Table,
    Id,
    Seq,
}

#[derive(DeriveIden)]
enum TrailHead {
    Table,
    Id,
    Seq,
    Hash,
    SealedAt,
}

#[derive(DeriveIden)]
enum AccessEvent {
    Table,
    Id,
    At,
    ActorId,
    ActorLabel,
    ActorRoles,
    EntityType,
    EntityId,
    Fields,
    RequestId,
    Purpose,
    BreakGlass,
    PatientKey,
}

#[derive(DeriveIden)]
enum BreakGlassGrant {
    Table,
    Id,
    IncidentId,
    StaffId,
    Subject,
    ActorLabel,
    Justification,
    GrantedAt,
    ExpiresAt,
    ReviewedAt,
    ReviewedBy,
    ReviewNote,
}

#[derive(DeriveIden)]
enum LegalHold {
    Table,
    Id,
    EntityType,
    EntityId,
    Reason,
    PlacedBy,
    PlacedAt,
    ReleasedAt,
    ReleasedBy,
    ReleaseReason,
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

async fn add_column<T: IntoTableRef>(
    manager: &SchemaManager<'_>,
    table: T,
    col: ColumnDef,
) -> Result<(), DbErr> {
    // One column per statement: SQLite's ALTER TABLE adds a single column at a time.
    manager
        .alter_table(Table::alter().table(table).add_column(col).to_owned())
        .await
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoIden + 'static,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(col);
    }
    if unique {
        index.unique();
    }
    manager.create_index(index.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Patient details, each sealed (AES-256-GCM, `v1.<key id>.<base64>`), and a keyed
        // hash of the NHS number for exact look-up. The plaintext columns of the first
        // migration are emptied into these at start-up, when the key is known.
        for col in [
            Incident::PatientNhsSealed,
            Incident::PatientNameSealed,
            Incident::PatientDobSealed,
        ] {
            add_column(
                manager,
                Incident::Table,
                ColumnDef::new(col).text().null().to_owned(),
            )
            .await?;
        }
        add_column(
            manager,
            Incident::Table,
            ColumnDef::new(Incident::PatientNhsHash)
                .string_len(64)
                .null()
                .to_owned(),
        )
        .await?;
        index(
            manager,
            "ix_incident_patient_nhs_hash",
            Incident::Table,
            vec![Incident::PatientNhsHash.into_iden()],
            false,
        )
        .await?;
        add_column(manager, Incident::Table, ts_null(Incident::DisposedAt)).await?;
        add_column(manager, Audit::Table, ts_null(Audit::DisposedAt)).await?;
        add_column(
            manager,
            ImprovementProject::Table,
            ts_null(ImprovementProject::DisposedAt),
        )
        .await?;

        // The chain: a trail event's place (seq) is given when it is sealed, after its
        // transaction committed; the head row holds the latest sealed place and hash.
        add_column(
            manager,
            TrailEvent::Table,
            ColumnDef::new(TrailEvent::Seq)
                .big_integer()
                .null()
                .to_owned(),
        )
        .await?;
        index(
            manager,
            "ux_trail_event_seq",
            TrailEvent::Table,
            vec![TrailEvent::Seq.into_iden()],
            true,
        )
        .await?;
        // The sealer's search for unsealed events: a partial index holds only those, so
        // finding them stays cheap however long the sealed trail grows.
        manager
            .create_index(
                Index::create()
                    .name("ix_trail_event_unsealed")
                    .table(TrailEvent::Table)
                    .col(TrailEvent::Id)
                    .and_where(Expr::col(TrailEvent::Seq).is_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TrailHead::Table)
                    .col(
                        ColumnDef::new(TrailHead::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(TrailHead::Seq).big_integer().not_null())
                    .col(ColumnDef::new(TrailHead::Hash).string_len(64).not_null())
                    .col(ts(TrailHead::SealedAt))
                    .to_owned(),
            )
            .await?;

        use AccessEvent as A;
        manager
            .create_table(
                Table::create()
                    .table(A::Table)
                    .col(ColumnDef::new(A::Id).uuid().not_null().primary_key())
                    .col(ts(A::At))
                    .col(ColumnDef::new(A::ActorId).uuid().null())
                    .col(ColumnDef::new(A::ActorLabel).string_len(300).null())
                    .col(ColumnDef::new(A::ActorRoles).string_len(300).null())
                    .col(ColumnDef::new(A::EntityType).string_len(40).not_null())
                    .col(ColumnDef::new(A::EntityId).uuid().not_null())
                    // Comma-separated GraphQL field names, e.g. `description,patient`.
                    .col(ColumnDef::new(A::Fields).string_len(500).not_null())
                    .col(ColumnDef::new(A::RequestId).string_len(64).null())
                    .col(ColumnDef::new(A::Purpose).string_len(200).null())
                    .col(ColumnDef::new(A::BreakGlass).boolean().not_null())
                    // The keyed hash of the patient's NHS number, when the record names one.
                    .col(ColumnDef::new(A::PatientKey).string_len(64).null())
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("ix_access_event_entity", A::EntityId),
            ("ix_access_event_actor", A::ActorId),
            ("ix_access_event_patient", A::PatientKey),
            ("ix_access_event_at", A::At),
        ] {
            index(manager, name, A::Table, vec![col.into_iden()], false).await?;
        }

        use BreakGlassGrant as B;
        manager
            .create_table(
                Table::create()
                    .table(B::Table)
                    .col(ColumnDef::new(B::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(B::IncidentId).uuid().not_null())
                    .col(ColumnDef::new(B::StaffId).uuid().null())
                    // The token subject the grant is for.
                    .col(ColumnDef::new(B::Subject).string_len(255).not_null())
                    .col(ColumnDef::new(B::ActorLabel).string_len(300).not_null())
                    .col(ColumnDef::new(B::Justification).text().not_null())
                    .col(ts(B::GrantedAt))
                    .col(ts(B::ExpiresAt))
                    .col(ts_null(B::ReviewedAt))
                    .col(ColumnDef::new(B::ReviewedBy).string_len(300).null())
                    .col(ColumnDef::new(B::ReviewNote).text().null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(B::Table, B::IncidentId)
                            .to(Incident::Table, Incident::Id),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_break_glass_incident_subject",
            B::Table,
            vec![B::IncidentId.into_iden(), B::Subject.into_iden()],
            false,
        )
        .await?;
        index(
            manager,
            "ix_break_glass_granted",
            B::Table,
            vec![B::GrantedAt.into_iden()],
            false,
        )
        .await?;

        use LegalHold as L;
        manager
            .create_table(
                Table::create()
                    .table(L::Table)
                    .col(ColumnDef::new(L::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(L::EntityType).string_len(40).not_null())
                    .col(ColumnDef::new(L::EntityId).uuid().not_null())
                    .col(ColumnDef::new(L::Reason).text().not_null())
                    .col(ColumnDef::new(L::PlacedBy).string_len(300).not_null())
                    .col(ts(L::PlacedAt))
                    .col(ts_null(L::ReleasedAt))
                    .col(ColumnDef::new(L::ReleasedBy).string_len(300).null())
                    .col(ColumnDef::new(L::ReleaseReason).text().null())
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "ix_legal_hold_entity",
            L::Table,
            vec![L::EntityId.into_iden()],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LegalHold::Table.into_iden(),
            BreakGlassGrant::Table.into_iden(),
            AccessEvent::Table.into_iden(),
            TrailHead::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
