//! Which rows of a departmental record the caller may see, as a condition on its table.
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{ColumnTrait, Condition};

use crate::auth::{Principal, Role, Scope};

/// A condition that is never true: the caller sees none of the rows.
pub fn nothing() -> Condition {
    Condition::all().add(Expr::val(1).eq(0))
}

/// Rows whose department (`column`, a department id) is one of `codes`.
pub fn in_departments<'a, C: ColumnTrait>(
    column: C,
    codes: impl IntoIterator<Item = &'a String>,
) -> Condition {
    Condition::all().add(
        column.in_subquery(
            Query::select()
                .column(entities::department::Column::Id)
                .from(entities::department::Entity)
                .and_where(entities::department::Column::Code.is_in(codes.into_iter().cloned()))
                .to_owned(),
        ),
    )
}

/// Whether the caller sees every department's records: quality leads, and service
/// accounts that read or manage incidents.
pub fn sees_all(p: &Principal) -> bool {
    p.has_role(Role::QualityLead)
        || p.has_scope(Scope::IncidentsRead)
        || p.has_scope(Scope::IncidentsManage)
}

/// The rows a caller may see of a departmental record: all of them for those who see all
/// departments, else those of the departments they handle, and `own` (the rows that are
/// theirs: what they reported, the actions they own) whichever department.
pub fn departmental<C: ColumnTrait>(
    p: &Principal,
    department: C,
    own: Option<Condition>,
) -> Condition {
    if sees_all(p) {
        return Condition::all();
    }
    let mut any = Condition::any();
    if p.has_role(Role::Handler) && !p.department_codes.is_empty() {
        any = any.add(in_departments(department, &p.department_codes));
    }
    if let Some(own) = own {
        any = any.add(own);
    }
    if any.is_empty() {
        return nothing();
    }
    any
}
