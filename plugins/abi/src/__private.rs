//! Runtime behind [`crate::declare_plugin!`]: builds the descriptor once and implements the
//! single [`CallFn`] entry point (argument conversion, panic catching, result hand-over).
//! Not a public API: only the macro's expansion calls it.
//!
//! Every cdylib links its own copy of this crate, so the statics here are per plugin.
#![allow(
    unsafe_code,
    reason = "the plugin side of the FFI boundary: raw pointers from the host, Sync for the descriptor"
)]

use std::any::Any;
use std::borrow::Cow;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

use crate::raw::{
    CallFn, FunctionDescriptor, PluginDescriptor, RawStr, RawValue, STATUS_ERROR, STATUS_OK,
    STATUS_PANIC, TAG_BOOLEAN, TAG_NULL, TAG_NUMBER, TAG_TEXT,
};
use crate::value::{Function, Value};

struct Registered {
    descriptor: PluginDescriptor,
    // The descriptor points into these; they are never mutated after construction.
    _function_descriptors: Vec<FunctionDescriptor>,
    _arg_types: Vec<Vec<u32>>,
    functions: Vec<Function>,
}

// SAFETY: `Registered` is built once, never mutated afterwards, and its raw pointers only
// point into its own immutable heap data (and 'static strings), so sharing it is sound.
unsafe impl Sync for Registered {}
// SAFETY: as above; nothing in it is tied to the thread that built it.
unsafe impl Send for Registered {}

static REGISTERED: OnceLock<Option<Registered>> = OnceLock::new();

/// The plugin's descriptor, built on first use; null if building it panicked.
pub fn descriptor(
    abi_version: u32,
    name: &'static str,
    version: &'static str,
    functions: fn() -> Vec<Function>,
) -> *const PluginDescriptor {
    let registered = REGISTERED.get_or_init(|| {
        let functions = catch_unwind(functions).ok()?;
        let arg_types: Vec<Vec<u32>> = functions
            .iter()
            .map(|f| f.args.iter().map(|t| t.tag()).collect())
            .collect();
        let function_descriptors: Vec<FunctionDescriptor> = functions
            .iter()
            .zip(&arg_types)
            .map(|(f, types)| FunctionDescriptor {
                name: RawStr::new(&f.name),
                arg_types: types.as_ptr(),
                arg_count: types.len(),
                return_type: f.returns.tag(),
                flags: f.flags,
            })
            .collect();
        Some(Registered {
            descriptor: PluginDescriptor {
                abi_version,
                name: RawStr::new(name),
                version: RawStr::new(version),
                functions: function_descriptors.as_ptr(),
                function_count: function_descriptors.len(),
                call: call as CallFn,
            },
            _function_descriptors: function_descriptors,
            _arg_types: arg_types,
            functions,
        })
    });
    registered
        .as_ref()
        .map_or(std::ptr::null(), |r| &r.descriptor)
}

thread_local! {
    /// Text results and messages of the last call on this thread.
    static OUT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Stores `s` in this thread's result slot and borrows it (valid until the next call into
/// this library on this thread).
fn hand_over(s: String) -> RawStr {
    OUT.try_with(|slot| {
        let mut slot = slot.borrow_mut();
        *slot = s;
        RawStr::new(&slot)
    })
    .unwrap_or(RawStr::new("thread is exiting"))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Converts one host value. Unknown tags become an error message.
///
/// # Safety
/// A `TAG_TEXT` value's `text` must point to `len` bytes of valid UTF-8 that outlive `'a`.
unsafe fn from_raw<'a>(raw: &RawValue) -> Result<Value<'a>, String> {
    Ok(match raw.tag {
        TAG_NULL => Value::Null,
        TAG_NUMBER => Value::Number(raw.number),
        TAG_BOOLEAN => Value::Boolean(raw.boolean != 0),
        TAG_TEXT if raw.text.len == 0 => Value::Text(Cow::Borrowed("")),
        TAG_TEXT => {
            // SAFETY: the caller guarantees ptr/len describe live UTF-8 bytes for 'a (the
            // host passes Rust `&str`s that it keeps alive for the whole call).
            let s = unsafe {
                std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                    raw.text.ptr,
                    raw.text.len,
                ))
            };
            Value::Text(Cow::Borrowed(s))
        }
        other => return Err(format!("unknown value tag {other}")),
    })
}

fn to_raw(v: Value<'_>) -> RawValue {
    match v {
        Value::Null => RawValue::NULL,
        Value::Number(n) => RawValue {
            tag: TAG_NUMBER,
            number: n,
            ..RawValue::NULL
        },
        Value::Boolean(b) => RawValue {
            tag: TAG_BOOLEAN,
            boolean: u8::from(b),
            ..RawValue::NULL
        },
        // Borrowed text is an argument's (alive until the host has copied the result) or
        // 'static: no copy needed.
        Value::Text(Cow::Borrowed(s)) => RawValue {
            tag: TAG_TEXT,
            text: RawStr::new(s),
            ..RawValue::NULL
        },
        Value::Text(Cow::Owned(s)) => RawValue {
            tag: TAG_TEXT,
            text: hand_over(s),
            ..RawValue::NULL
        },
    }
}

fn failure(status: u32, message: String) -> (u32, RawValue) {
    let value = RawValue {
        tag: TAG_TEXT,
        text: hand_over(message),
        ..RawValue::NULL
    };
    (status, value)
}

/// Calls `f` on the converted arguments, catching any panic.
fn invoke(f: &Function, raw: &[RawValue]) -> (u32, RawValue) {
    const INLINE: usize = 4;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut inline: [Value<'_>; INLINE] = [Value::Null, Value::Null, Value::Null, Value::Null];
        let mut spilled = Vec::new();
        let args: &mut [Value<'_>] = if raw.len() <= INLINE {
            &mut inline[..raw.len()]
        } else {
            spilled.resize(raw.len(), Value::Null);
            &mut spilled
        };
        for (slot, r) in args.iter_mut().zip(raw) {
            // SAFETY: the host's CallFn contract: argument texts are live UTF-8 for the call.
            *slot = unsafe { from_raw(r) }?;
        }
        (f.call)(args).map(to_raw)
    }));
    match outcome {
        Ok(Ok(value)) => (STATUS_OK, value),
        Ok(Err(message)) => failure(STATUS_ERROR, message),
        Err(payload) => failure(STATUS_PANIC, panic_message(payload.as_ref())),
    }
}

/// The plugin's single [`CallFn`].
///
/// # Safety
/// See [`CallFn`]: `args` points to `arg_count` values, `out` is writable.
unsafe extern "C" fn call(
    function: usize,
    args: *const RawValue,
    arg_count: usize,
    out: *mut RawValue,
) -> u32 {
    let registered = REGISTERED.get().and_then(Option::as_ref);
    let (status, value) = match registered.and_then(|r| r.functions.get(function)) {
        None => failure(STATUS_ERROR, format!("no function number {function}")),
        Some(f) if f.args.len() != arg_count => failure(
            STATUS_ERROR,
            format!(
                "{} takes {} arguments, got {arg_count}",
                f.name,
                f.args.len()
            ),
        ),
        Some(f) => {
            let raw: &[RawValue] = if arg_count == 0 {
                &[]
            } else {
                // SAFETY: the host guarantees `args` points to `arg_count` initialised values.
                unsafe { std::slice::from_raw_parts(args, arg_count) }
            };
            invoke(f, raw)
        }
    };
    // SAFETY: the host guarantees `out` is valid for writes.
    unsafe { out.write(value) };
    status
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Type;

    fn first<'a>(args: &[Value<'a>]) -> Result<Value<'a>, String> {
        match args[0].as_str() {
            Some("panic") => panic!("boom"),
            Some("error") => Err("bad input".into()),
            Some("upper") => Ok(Value::from("UPPER".to_owned())),
            _ => Ok(args[0].clone()),
        }
    }

    fn functions() -> Vec<Function> {
        vec![Function::new("first", &[Type::Text], Type::Text, first).handles_nulls()]
    }

    fn text(v: &RawValue) -> &str {
        // SAFETY: the value came from `call`, which returns live UTF-8 text.
        unsafe { std::str::from_utf8(std::slice::from_raw_parts(v.text.ptr, v.text.len)).unwrap() }
    }

    fn invoke_raw(function: usize, args: &[RawValue]) -> (u32, RawValue) {
        let mut out = RawValue::NULL;
        // SAFETY: `args` and `out` are valid for the call.
        let status = unsafe { call(function, args.as_ptr(), args.len(), &mut out) };
        (status, out)
    }

    #[test]
    fn the_entry_point_converts_catches_and_reports() {
        // SAFETY: `descriptor` returns a pointer to a static descriptor.
        let d = unsafe { &*descriptor(7, "test", "1.2.3", functions) };
        assert_eq!((d.abi_version, d.function_count), (7, 1));
        let arg = |s: &str| RawValue {
            tag: TAG_TEXT,
            text: RawStr::new(s),
            ..RawValue::NULL
        };
        let input = String::from("kept");
        let (status, out) = invoke_raw(0, &[arg(&input)]);
        assert_eq!((status, out.tag), (STATUS_OK, TAG_TEXT));
        assert_eq!(
            out.text.ptr,
            input.as_ptr(),
            "a borrowed argument is not copied"
        );
        let (status, out) = invoke_raw(0, &[arg("upper")]);
        assert_eq!((status, text(&out)), (STATUS_OK, "UPPER"));
        let (status, out) = invoke_raw(0, &[arg("error")]);
        assert_eq!((status, text(&out)), (STATUS_ERROR, "bad input"));
        let (status, out) = invoke_raw(0, &[arg("panic")]);
        assert_eq!((status, text(&out)), (STATUS_PANIC, "boom"));
        let (status, out) = invoke_raw(0, &[RawValue::NULL]);
        assert_eq!((status, out.tag), (STATUS_OK, TAG_NULL));
        let (status, out) = invoke_raw(1, &[arg("x")]);
        assert_eq!((status, text(&out)), (STATUS_ERROR, "no function number 1"));
        let (status, out) = invoke_raw(0, &[]);
        assert_eq!(
            (status, text(&out)),
            (STATUS_ERROR, "first takes 1 arguments, got 0")
        );
        let bad_tag = RawValue {
            tag: 42,
            ..RawValue::NULL
        };
        let (status, out) = invoke_raw(0, &[bad_tag]);
        assert_eq!((status, text(&out)), (STATUS_ERROR, "unknown value tag 42"));
    }
}
