//! idem's HTTP API (axum) and the pieces of the `idem` binary: configuration and commands.

pub mod auth;
pub mod cli;
pub mod config;
mod demo;
pub mod error;
pub mod routes;

use std::sync::Arc;

use idem_engine::Engine;
use idem_matching::FunctionRegistry;
use idem_plugin_host::Plugins;

pub use routes::app;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The workflow engine (and through it the database pool).
    pub engine: Engine,
    /// How requests are authenticated.
    pub auth: auth::Auth,
    /// The comparison functions settings may use: built-ins and loaded plugins.
    pub functions: Arc<FunctionRegistry>,
    /// The comparator plugins loaded at start (`functions` holds their functions).
    pub plugins: Arc<Plugins>,
}
