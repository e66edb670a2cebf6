//! Notifications and deadlines. So far: the working-day calendar deadlines are counted in.
pub mod calendar;
