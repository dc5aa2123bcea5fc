pub mod cli;
pub mod kt;
pub mod sim;
