//! The documented values of the reports' `format` and `section` query parameters. The
//! parameters are read as text (`api::reports::csv_section` forgives case and spaces, and checks
//! a section against the report's own list); these types list the values in the OpenAPI
//! document.

use utoipa::ToSchema;

/// `json` (default) or `csv`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ReportFormat {
    Json,
    Csv,
}

/// The adoption report's CSV tables.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum AdoptionSection {
    Weeks,
    Schools,
    Classes,
}

/// The data-quality report's CSV tables.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum DataQualitySection {
    Tools,
    Rejections,
    Skills,
}

/// The model-health report's CSV tables.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ModelHealthSection {
    Skills,
    Weeks,
}

/// The fairness report's CSV tables.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum FairnessSection {
    Groups,
    Flags,
    Warnings,
}
