//! Departments (configured by admins) and staff (known from their tokens).
pub mod graphql;
pub mod service;
