//! The outbox keeps each email's template variables instead of its rendered bodies (they
//! are rendered when the email is sent): a report to a department's handlers writes a few
//! short rows, not two rendered bodies per handler. Rows from before keep their bodies.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notification {
    Table,
    Vars,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Notification::Table)
                    .add_column(ColumnDef::new(Notification::Vars).text().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Notification::Table)
                    .drop_column(Notification::Vars)
                    .to_owned(),
            )
            .await
    }
}
