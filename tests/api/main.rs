//! The integration tests, compiled as one binary: each test starts the real application on
//! port 0 with a database of its own, on SQLite and on PostgreSQL.

mod helpers;

mod accounts;
mod auth;
mod browser;
mod cli;
mod demo;
mod hardening;
mod health;
mod ingest;
mod insights;
mod items;
mod knowledge;
mod migrations;
mod nodes;
mod now;
mod openapi;
mod operations;
mod privacy;
mod reports_adoption;
mod reports_model;
mod security;
mod shutdown;
mod signals;
mod today;
