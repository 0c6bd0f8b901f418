//! idem's HTTP API (axum) and the pieces of the `idem` binary: configuration and commands.

pub mod config;
pub mod error;
pub mod routes;

use idem_engine::Engine;

pub use routes::app;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The workflow engine (and through it the database pool).
    pub engine: Engine,
}
