pub mod cli;
pub mod kt;
