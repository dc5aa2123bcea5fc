//! Administrators' reports, as pure functions over figures the store rolls up: model health
//! (is the model still predicting well) and fairness (does it work as well for every group).
//! How each is computed and why its thresholds: docs/reports.md.

pub mod fairness;
pub mod model_health;

#[cfg(test)]
mod drift_check;
