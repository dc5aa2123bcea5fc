//! The queries: appending events and the state derived from them, and the reads. SQL lives
//! here and in `db`; the rules live in the domain modules.

pub mod classes;
pub mod events;
pub mod history;
pub mod plans;
pub mod reviews;
pub mod state;
