//! The host side of the C ABI, and the only module of the host with `unsafe` code: opening a
//! library, reading its version and descriptor, and calling its functions.
//!
//! Everything read from a library is copied into owned Rust values here; the library itself is
//! leaked (never unloaded), so the function pointers kept in the registry stay valid for the
//! life of the process.
#![allow(
    unsafe_code,
    reason = "loading dynamic libraries and calling through the plugin C ABI"
)]

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use idem_matching::{ArgType, FunctionError, FunctionImpl, Value};
use idem_plugin_abi::{
    ABI_VERSION, ABI_VERSION_SYMBOL, CallFn, DESCRIPTOR_SYMBOL, FLAG_DETERMINISTIC,
    FLAG_HANDLES_NULLS, PluginDescriptor, RawStr, RawValue, STATUS_ERROR, STATUS_OK, STATUS_PANIC,
    TAG_BOOLEAN, TAG_NULL, TAG_NUMBER, TAG_TEXT,
};
use libloading::Library;

use crate::error::{PluginError, Result};

/// A plugin's descriptor, copied out of the library.
#[derive(Debug)]
pub(crate) struct RawPlugin {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) functions: Vec<RawFunction>,
    call: CallFn,
}

/// One function of a [`RawPlugin`].
#[derive(Debug)]
pub(crate) struct RawFunction {
    pub(crate) name: String,
    pub(crate) arg_types: Vec<ArgType>,
    pub(crate) return_type: ArgType,
    pub(crate) deterministic: bool,
    pub(crate) handles_nulls: bool,
    index: usize,
    return_tag: u32,
}

fn invalid(path: &Path, reason: impl Into<String>) -> PluginError {
    PluginError::InvalidDescriptor {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Copies a descriptor string.
///
/// # Safety
/// `s` must describe `len` readable bytes (a library's descriptor guarantees this).
unsafe fn read_str(path: &Path, s: RawStr, what: &str) -> Result<String> {
    if s.len == 0 {
        return Ok(String::new());
    }
    if s.ptr.is_null() {
        return Err(invalid(path, format!("{what} is a null pointer")));
    }
    // SAFETY: the caller guarantees ptr/len describe readable bytes.
    let bytes = unsafe { std::slice::from_raw_parts(s.ptr, s.len) };
    String::from_utf8(bytes.to_vec()).map_err(|_| invalid(path, format!("{what} is not UTF-8")))
}

fn arg_type(path: &Path, tag: u32, what: &str) -> Result<ArgType> {
    match tag {
        TAG_TEXT => Ok(ArgType::Text),
        TAG_NUMBER => Ok(ArgType::Number),
        TAG_BOOLEAN => Ok(ArgType::Boolean),
        other => Err(invalid(
            path,
            format!("{what} has unknown type tag {other}"),
        )),
    }
}

/// Opens the library at `path`, checks its ABI version and copies its descriptor. The library
/// stays loaded for the rest of the process, whether this succeeds or not.
pub(crate) fn open(path: &Path) -> Result<RawPlugin> {
    // SAFETY: loading a library runs its initialisers. That is the trust boundary of the plugin
    // directory: idem loads only the files an operator put there (documented in the README).
    let library = unsafe { Library::new(path) }.map_err(|source| PluginError::Open {
        path: path.to_owned(),
        source,
    })?;
    // Never unloaded: unloading while a function pointer or thread-local of the library is
    // still alive is unsound, and a failed load leaves nothing that calls into it.
    let library: &'static Library = Box::leak(Box::new(library));
    let not_a_plugin = |symbol| PluginError::NotAPlugin {
        path: path.to_owned(),
        symbol,
    };

    // SAFETY: every ABI version exports this symbol with exactly this signature.
    let version_fn = unsafe { library.get::<unsafe extern "C" fn() -> u32>(ABI_VERSION_SYMBOL) }
        .map_err(|_| not_a_plugin(ABI_VERSION_SYMBOL))?;
    // SAFETY: the function takes nothing and returns a u32 (see above).
    let found = unsafe { version_fn() };
    if found != ABI_VERSION {
        return Err(PluginError::AbiMismatch {
            path: path.to_owned(),
            found,
            expected: ABI_VERSION,
        });
    }

    // SAFETY: the library speaks our ABI version, which defines this signature.
    let descriptor_fn = unsafe {
        library.get::<unsafe extern "C" fn() -> *const PluginDescriptor>(DESCRIPTOR_SYMBOL)
    }
    .map_err(|_| not_a_plugin(DESCRIPTOR_SYMBOL))?;
    // SAFETY: as above; the function returns a pointer to a descriptor or null.
    let descriptor = unsafe { descriptor_fn() };
    // SAFETY: a non-null descriptor is valid and immutable while the library is loaded
    // (forever, see above).
    let Some(d) = (unsafe { descriptor.as_ref() }) else {
        return Err(invalid(path, "the descriptor is null (building it failed)"));
    };
    read_descriptor(path, d)
}

fn read_descriptor(path: &Path, d: &PluginDescriptor) -> Result<RawPlugin> {
    if d.abi_version != ABI_VERSION {
        return Err(PluginError::AbiMismatch {
            path: path.to_owned(),
            found: d.abi_version,
            expected: ABI_VERSION,
        });
    }
    // SAFETY (this block and the loop): the ABI guarantees every pointer of a descriptor is
    // valid for its stated length for as long as the library is loaded.
    let name = unsafe { read_str(path, d.name, "the plugin name") }?;
    let version = unsafe { read_str(path, d.version, "the plugin version") }?;
    if name.trim().is_empty() {
        return Err(invalid(path, "the plugin name is empty"));
    }
    let descriptors = if d.function_count == 0 {
        &[][..]
    } else if d.functions.is_null() {
        return Err(invalid(path, "the function list is a null pointer"));
    } else {
        // SAFETY: see above.
        unsafe { std::slice::from_raw_parts(d.functions, d.function_count) }
    };
    let mut functions = Vec::with_capacity(descriptors.len());
    for (index, f) in descriptors.iter().enumerate() {
        // SAFETY: see above.
        let fname = unsafe { read_str(path, f.name, "a function name") }?;
        let tags = if f.arg_count == 0 {
            &[][..]
        } else if f.arg_types.is_null() {
            return Err(invalid(
                path,
                format!("{fname}: argument types are a null pointer"),
            ));
        } else {
            // SAFETY: see above.
            unsafe { std::slice::from_raw_parts(f.arg_types, f.arg_count) }
        };
        let arg_types = tags
            .iter()
            .enumerate()
            .map(|(i, t)| arg_type(path, *t, &format!("{fname}: argument {}", i + 1)))
            .collect::<Result<Vec<_>>>()?;
        functions.push(RawFunction {
            return_type: arg_type(path, f.return_type, &format!("{fname}: the result"))?,
            name: fname,
            arg_types,
            deterministic: f.flags & FLAG_DETERMINISTIC != 0,
            handles_nulls: f.flags & FLAG_HANDLES_NULLS != 0,
            index,
            return_tag: f.return_type,
        });
    }
    Ok(RawPlugin {
        name,
        version,
        functions,
        call: d.call,
    })
}

fn tag_name(tag: u32) -> String {
    match tag {
        TAG_NULL => "NULL".into(),
        TAG_TEXT => "text".into(),
        TAG_NUMBER => "a number".into(),
        TAG_BOOLEAN => "a boolean".into(),
        other => format!("unknown type tag {other}"),
    }
}

/// What a registered plugin function needs to make a call and to explain a failure.
struct Callee {
    call: CallFn,
    index: usize,
    arity: usize,
    return_tag: u32,
    /// "plugin 'nickname' 0.1.0 (/path/libx.so), function nickname_match"
    origin: Arc<str>,
}

/// Arguments kept on the stack up to this many (every example plugin fits).
const INLINE_ARGS: usize = 4;

impl Callee {
    fn call<'a>(&self, args: &[Value<'a>]) -> Result<Value<'a>, FunctionError> {
        if args.len() != self.arity {
            return Err(FunctionError::new(format!(
                "{}: expects {} arguments, got {}",
                self.origin,
                self.arity,
                args.len()
            )));
        }
        // Timestamps have no ABI type: they are passed as their text, kept alive here.
        let rendered: Vec<String> = args
            .iter()
            .filter_map(|a| match a {
                Value::Timestamp(t) => Some(t.to_string()),
                _ => None,
            })
            .collect();
        let mut rendered = rendered.iter();
        let mut inline = [RawValue::NULL; INLINE_ARGS];
        let mut spilled = Vec::new();
        let raw: &mut [RawValue] = if args.len() <= INLINE_ARGS {
            &mut inline[..args.len()]
        } else {
            spilled.resize(args.len(), RawValue::NULL);
            &mut spilled
        };
        for (slot, arg) in raw.iter_mut().zip(args) {
            *slot = match arg {
                Value::Null => RawValue::NULL,
                Value::Bool(b) => RawValue {
                    tag: TAG_BOOLEAN,
                    boolean: u8::from(*b),
                    ..RawValue::NULL
                },
                Value::Int(i) => RawValue {
                    tag: TAG_NUMBER,
                    number: *i as f64,
                    ..RawValue::NULL
                },
                Value::Float(f) => RawValue {
                    tag: TAG_NUMBER,
                    number: *f,
                    ..RawValue::NULL
                },
                Value::Text(s) => RawValue {
                    tag: TAG_TEXT,
                    text: RawStr::new(s),
                    ..RawValue::NULL
                },
                Value::Timestamp(_) => RawValue {
                    tag: TAG_TEXT,
                    text: RawStr::new(rendered.next().expect("rendered above")),
                    ..RawValue::NULL
                },
            };
        }
        let mut out = RawValue::NULL;
        // SAFETY: `raw` holds `arity` initialised values whose texts borrow `args` and
        // `rendered`, both alive until this function returns; `out` is a valid place. The
        // plugin catches its own panics (ABI contract), so nothing unwinds into us.
        let status = unsafe { (self.call)(self.index, raw.as_ptr(), raw.len(), &mut out) };
        match status {
            STATUS_OK => self.result(&out),
            STATUS_ERROR => Err(FunctionError::new(format!(
                "{} failed: {}",
                self.origin,
                self.text(&out)?
            ))),
            STATUS_PANIC => Err(FunctionError::new(format!(
                "{} panicked: {}",
                self.origin,
                self.text(&out)?
            ))),
            other => Err(FunctionError::new(format!(
                "{} returned unknown status {other}",
                self.origin
            ))),
        }
    }

    /// Copies a text the plugin returned (it is only valid until the next call on this thread).
    fn text(&self, v: &RawValue) -> Result<String, FunctionError> {
        if v.tag != TAG_TEXT {
            return Err(FunctionError::new(format!(
                "{} returned a message that is not text",
                self.origin
            )));
        }
        if v.text.len == 0 {
            return Ok(String::new());
        }
        // SAFETY: the ABI guarantees a returned text is `len` readable bytes that stay valid
        // until the next call into the library on this thread; we copy it right away.
        let bytes = unsafe { std::slice::from_raw_parts(v.text.ptr, v.text.len) };
        std::str::from_utf8(bytes).map(str::to_owned).map_err(|_| {
            FunctionError::new(format!("{} returned text that is not UTF-8", self.origin))
        })
    }

    fn result<'a>(&self, v: &RawValue) -> Result<Value<'a>, FunctionError> {
        if v.tag != TAG_NULL && v.tag != self.return_tag {
            return Err(FunctionError::new(format!(
                "{} returned {} but declares {}",
                self.origin,
                tag_name(v.tag),
                tag_name(self.return_tag)
            )));
        }
        Ok(match v.tag {
            TAG_NULL => Value::Null,
            TAG_NUMBER => Value::Float(v.number),
            TAG_BOOLEAN => Value::Bool(v.boolean != 0),
            _ => Value::Text(Cow::Owned(self.text(v)?)),
        })
    }
}

/// The registry implementation of `function`: a panic-safe call through the C ABI.
pub(crate) fn implementation(
    plugin: &RawPlugin,
    function: &RawFunction,
    path: &Path,
) -> FunctionImpl {
    let callee = Callee {
        call: plugin.call,
        index: function.index,
        arity: function.arg_types.len(),
        return_tag: function.return_tag,
        origin: format!(
            "plugin '{}' {} ({}), function {}",
            plugin.name,
            plugin.version,
            path.display(),
            function.name
        )
        .into(),
    };
    Arc::new(move |args| callee.call(args))
}
