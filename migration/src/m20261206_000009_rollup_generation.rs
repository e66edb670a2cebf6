//! A generation number for the rollups, raised by every transaction that changes them (a
//! fold of deltas, a recount). Instances keep rollup rows they have read for as long as
//! the generation stands, and add the deltas not yet folded, which they read every time.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RollupMeta {
    Table,
    Generation,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RollupMeta::Table)
                    .add_column(
                        ColumnDef::new(RollupMeta::Generation)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(RollupMeta::Table)
                    .drop_column(RollupMeta::Generation)
                    .to_owned(),
            )
            .await
    }
}
