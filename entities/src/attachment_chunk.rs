use sea_orm::entity::prelude::*;

/// One sealed piece of an attachment's bytes.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "attachment_chunk")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub attachment_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub n: i32,
    #[sea_orm(column_type = "Blob")]
    pub sealed: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
