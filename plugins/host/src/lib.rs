//! Loads idem comparator plugins and registers their functions with the scorer's registry.
//!
//! [`Plugins::load`] opens every library of a plugin directory (and any extra paths) once, at
//! process start, checks each one's ABI version, copies its descriptor and registers its
//! functions next to the built-ins; any problem (ABI mismatch, name clash, a file that is not a
//! plugin) fails the whole load, so a process never runs with a partial set. Libraries are
//! never unloaded. Calls are panic-safe: a plugin's panic or error becomes a
//! [`idem_matching::FunctionError`] naming the plugin and the function.

pub mod conformance;
mod error;
mod ffi;
#[cfg(feature = "test-support")]
#[doc(hidden)]
pub mod testing;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use idem_matching::{ArgType, Arity, FunctionDef, FunctionRegistry};
use serde::Serialize;
use sha2::{Digest, Sha256};

pub use error::{PluginError, Result};

/// One loaded plugin, as listed by `GET /api/v1/plugins` and recorded with each run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadedPlugin {
    /// The plugin's name (unique).
    pub name: String,
    /// The version the plugin declares.
    pub version: String,
    /// The library file it was loaded from.
    pub path: PathBuf,
    /// SHA-256 of the library file (hex), tying results to the exact code.
    pub sha256: String,
    /// Its functions, in declaration order.
    pub functions: Vec<PluginFunction>,
}

/// One function of a [`LoadedPlugin`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PluginFunction {
    /// The name settings use.
    pub name: String,
    /// Number of arguments (exact).
    pub arity: usize,
    /// `text`, `number` or `boolean` per argument.
    pub argument_types: Vec<&'static str>,
    /// `text`, `number` or `boolean`.
    pub return_type: &'static str,
    /// Whether equal arguments always give equal results.
    pub deterministic: bool,
}

/// The loaded plugins and the registry of built-in and plugin functions.
#[derive(Clone)]
pub struct Plugins {
    loaded: Vec<LoadedPlugin>,
    registry: Arc<FunctionRegistry>,
}

impl fmt::Debug for Plugins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plugins")
            .field("loaded", &self.loaded)
            .finish_non_exhaustive()
    }
}

fn type_name(t: ArgType) -> &'static str {
    match t {
        ArgType::Text => "text",
        ArgType::Number => "number",
        ArgType::Boolean => "boolean",
        ArgType::Timestamp => "timestamp",
        ArgType::Any => "any",
    }
}

fn is_library(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e == std::env::consts::DLL_EXTENSION)
}

/// The library files of `dir`, sorted by name (other files are ignored).
fn libraries_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |source| PluginError::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if is_library(&path) && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn sha256_of(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).map_err(|source| PluginError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(format!("{:x}", Sha256::digest(&bytes)))
}

impl Plugins {
    /// No plugins: the built-in functions only.
    pub fn builtins_only() -> Plugins {
        Plugins {
            loaded: Vec::new(),
            registry: Arc::new(FunctionRegistry::with_builtins()),
        }
    }

    /// Loads every library file (`*.so` / `*.dylib` / `*.dll`) in `dir` and every path in
    /// `extra` (a path given twice is loaded once), and registers their functions after the
    /// built-ins. Fails on the first library that cannot be used; nothing is registered then.
    pub fn load(dir: Option<&Path>, extra: &[PathBuf]) -> Result<Plugins> {
        let mut paths = match dir {
            Some(dir) => libraries_in(dir)?,
            None => Vec::new(),
        };
        paths.extend(extra.iter().cloned());
        let mut registry = FunctionRegistry::with_builtins();
        let mut loaded: Vec<LoadedPlugin> = Vec::new();
        let mut seen: Vec<PathBuf> = Vec::new();
        for path in paths {
            let path = path.canonicalize().map_err(|source| PluginError::Io {
                path: path.clone(),
                source,
            })?;
            if seen.contains(&path) {
                continue;
            }
            seen.push(path.clone());
            let sha256 = sha256_of(&path)?;
            let raw = ffi::open(&path)?;
            if let Some(first) = loaded.iter().find(|p| p.name == raw.name) {
                return Err(PluginError::DuplicatePlugin {
                    name: raw.name,
                    first: first.path.clone(),
                    second: path,
                });
            }
            let mut functions = Vec::with_capacity(raw.functions.len());
            for f in &raw.functions {
                let def = FunctionDef {
                    name: f.name.clone(),
                    aliases: Vec::new(),
                    arity: Arity::Exact(f.arg_types.len()),
                    arg_types: f.arg_types.clone(),
                    return_type: f.return_type,
                    deterministic: f.deterministic,
                    null_propagating: !f.handles_nulls,
                    implementation: ffi::implementation(&raw, f, &path),
                    specializer: None,
                };
                registry
                    .register(def)
                    .map_err(|source| PluginError::Register {
                        plugin: raw.name.clone(),
                        path: path.clone(),
                        function: f.name.clone(),
                        source,
                    })?;
                functions.push(PluginFunction {
                    name: f.name.clone(),
                    arity: f.arg_types.len(),
                    argument_types: f.arg_types.iter().map(|t| type_name(*t)).collect(),
                    return_type: type_name(f.return_type),
                    deterministic: f.deterministic,
                });
            }
            tracing::info!(
                plugin = %raw.name,
                version = %raw.version,
                path = %path.display(),
                %sha256,
                functions = functions.len(),
                "Loaded comparator plugin."
            );
            loaded.push(LoadedPlugin {
                name: raw.name,
                version: raw.version,
                path,
                sha256,
                functions,
            });
        }
        Ok(Plugins {
            loaded,
            registry: Arc::new(registry),
        })
    }

    /// The loaded plugins, in load order.
    pub fn plugins(&self) -> &[LoadedPlugin] {
        &self.loaded
    }

    /// Built-in and plugin functions, for compiling settings.
    pub fn registry(&self) -> Arc<FunctionRegistry> {
        self.registry.clone()
    }

    /// The loaded plugins as JSON: an array of `{name, version, path, sha256, functions:
    /// [{name, arity, argument_types, return_type, deterministic}]}` (empty without plugins).
    pub fn manifest(&self) -> serde_json::Value {
        serde_json::to_value(&self.loaded).expect("plugin metadata serialises")
    }
}
