//! The C ABI that an idem comparator plugin implements, and the safe Rust face of it.
//!
//! A plugin is a dynamic library (`crate-type = ["cdylib"]`) that exports two `extern "C"`
//! symbols: [`ABI_VERSION_SYMBOL`] (returns the [`ABI_VERSION`] it was built against) and
//! [`DESCRIPTOR_SYMBOL`] (returns a [`PluginDescriptor`]: the plugin's name, version and
//! functions). Only `#[repr(C)]` types cross the boundary, so the host and the plugin may be
//! built by different compilers, or the plugin written in C.
//!
//! Rust authors never touch the raw types: they write plain functions over [`Value`] and
//! declare them with [`declare_plugin!`], which generates both exports and catches panics at
//! the boundary:
//!
//! ```
//! use idem_plugin_abi::{Function, Type, Value, declare_plugin};
//!
//! fn shout(args: &[Value<'_>]) -> Result<Value<'static>, String> {
//!     match &args[0] {
//!         Value::Text(s) => Ok(Value::from(s.to_uppercase())),
//!         other => Err(format!("expected text, got {}", other.type_name())),
//!     }
//! }
//!
//! fn functions() -> Vec<Function> {
//!     vec![Function::new("shout", &[Type::Text], Type::Text, shout)]
//! }
//!
//! declare_plugin!(name: "shout", version: "1.0.0", functions: functions);
//! # fn main() {}
//! ```

mod raw;
mod value;

#[doc(hidden)]
pub mod __private;

pub use raw::{
    CallFn, FLAG_DETERMINISTIC, FLAG_HANDLES_NULLS, FunctionDescriptor, PluginDescriptor, RawStr,
    RawValue, STATUS_ERROR, STATUS_OK, STATUS_PANIC, TAG_BOOLEAN, TAG_NULL, TAG_NUMBER, TAG_TEXT,
};
pub use value::{Function, FunctionFn, Type, Value};

/// The version of this ABI. The host refuses a library that reports another one. Bump it on
/// any change to the layout or meaning of the `#[repr(C)]` types or the exported symbols.
pub const ABI_VERSION: u32 = 1;

/// Name of the exported `extern "C" fn() -> u32` returning the library's ABI version. The host
/// calls it before anything else, so it must keep this name and signature in every version.
pub const ABI_VERSION_SYMBOL: &str = "idem_plugin_abi_version";

/// Name of the exported `extern "C" fn() -> *const PluginDescriptor`.
pub const DESCRIPTOR_SYMBOL: &str = "idem_plugin_descriptor";

/// Declares a plugin: generates the two exported symbols of the ABI.
///
/// `name` and `version` are string expressions (typically the crate's name and
/// `env!("CARGO_PKG_VERSION")`); `functions` is a `fn() -> Vec<Function>` called once, the
/// first time the host asks for the descriptor. Use it once per library.
#[macro_export]
macro_rules! declare_plugin {
    (name: $name:expr, version: $version:expr, functions: $functions:expr $(,)?) => {
        $crate::declare_plugin!(
            @abi $crate::ABI_VERSION,
            name: $name,
            version: $version,
            functions: $functions
        );
    };
    // Hidden: build against another ABI version (used by the host's tests only).
    (@abi $abi:expr, name: $name:expr, version: $version:expr, functions: $functions:expr $(,)?) => {
        /// The ABI version this plugin was built against.
        #[allow(unsafe_code, reason = "no_mangle exports the symbol the host looks up")]
        // SAFETY: the symbol name is unique to this ABI and this macro is used once per library.
        #[unsafe(no_mangle)]
        pub extern "C" fn idem_plugin_abi_version() -> u32 {
            $abi
        }

        /// The plugin's descriptor; it lives as long as the library.
        #[allow(unsafe_code, reason = "no_mangle exports the symbol the host looks up")]
        // SAFETY: the symbol name is unique to this ABI and this macro is used once per library.
        #[unsafe(no_mangle)]
        pub extern "C" fn idem_plugin_descriptor() -> *const $crate::PluginDescriptor {
            $crate::__private::descriptor($abi, $name, $version, $functions)
        }
    };
}
