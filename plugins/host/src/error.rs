//! Why loading plugins failed. Every variant names the library file involved.

use std::path::PathBuf;

use idem_matching::RegistryError;

/// Result type of this crate.
pub type Result<T, E = PluginError> = std::result::Result<T, E>;

/// Loading a plugin failed; the process must not start with a partial set of plugins.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The plugin directory or a library file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The dynamic loader refused the file (not a library, missing dependency, ...).
    #[error("cannot load plugin library {path}: {source}")]
    Open {
        /// The library file.
        path: PathBuf,
        /// The loader's error.
        #[source]
        source: libloading::Error,
    },
    /// The library does not export the plugin ABI's symbols.
    #[error("{path} is not an idem plugin: it does not export `{symbol}`")]
    NotAPlugin {
        /// The library file.
        path: PathBuf,
        /// The missing symbol.
        symbol: &'static str,
    },
    /// The library was built against another version of the plugin ABI.
    #[error(
        "plugin library {path} was built for plugin ABI version {found}, but this idem \
         expects ABI version {expected}; rebuild it against idem-plugin-abi {expected}"
    )]
    AbiMismatch {
        /// The library file.
        path: PathBuf,
        /// The ABI version the library reports.
        found: u32,
        /// The ABI version of this host.
        expected: u32,
    },
    /// The library's descriptor is malformed (null, invalid UTF-8, unknown type tag, ...).
    #[error("plugin library {path} has an invalid descriptor: {reason}")]
    InvalidDescriptor {
        /// The library file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Two libraries declare the same plugin name.
    #[error("plugin name '{name}' is declared by both {first} and {second}")]
    DuplicatePlugin {
        /// The plugin name.
        name: String,
        /// The library loaded first.
        first: PathBuf,
        /// The library loaded second.
        second: PathBuf,
    },
    /// A plugin function's name is taken by a built-in or another plugin's function, or the
    /// definition is rejected by the registry.
    #[error("plugin '{plugin}' ({path}): cannot register function '{function}': {source}")]
    Register {
        /// The plugin name.
        plugin: String,
        /// The library file.
        path: PathBuf,
        /// The function name.
        function: String,
        /// The registry's reason (e.g. a name clash).
        #[source]
        source: RegistryError,
    },
}
