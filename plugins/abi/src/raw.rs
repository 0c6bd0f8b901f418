//! The `#[repr(C)]` types that cross the library boundary, and their integer constants.
//!
//! Tags, statuses and flags are plain `u32`s rather than Rust enums: a foreign library can
//! hand back any integer, and an out-of-range value must be an error, not undefined behaviour.

/// A UTF-8 string borrowed across the boundary: `len` bytes at `ptr` (`ptr` may dangle when
/// `len` is 0). Who owns the bytes and how long they live is stated where it is used.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawStr {
    /// First byte.
    pub ptr: *const u8,
    /// Length in bytes.
    pub len: usize,
}

impl RawStr {
    /// The empty string.
    pub const EMPTY: RawStr = RawStr {
        ptr: std::ptr::NonNull::<u8>::dangling().as_ptr(),
        len: 0,
    };

    /// Borrows `s` (the result is valid as long as `s` is).
    pub fn new(s: &str) -> RawStr {
        RawStr {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }
}

/// [`RawValue::tag`]: SQL NULL.
pub const TAG_NULL: u32 = 0;
/// [`RawValue::tag`]: text in [`RawValue::text`].
pub const TAG_TEXT: u32 = 1;
/// [`RawValue::tag`]: a number in [`RawValue::number`].
pub const TAG_NUMBER: u32 = 2;
/// [`RawValue::tag`]: a boolean in [`RawValue::boolean`] (0 = false, anything else = true).
pub const TAG_BOOLEAN: u32 = 3;

/// An argument or a result. Only the field named by `tag` is meaningful.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct RawValue {
    /// One of the `TAG_*` constants.
    pub tag: u32,
    /// The boolean, for [`TAG_BOOLEAN`].
    pub boolean: u8,
    /// The number, for [`TAG_NUMBER`].
    pub number: f64,
    /// The text, for [`TAG_TEXT`] (and the message of an error status).
    pub text: RawStr,
}

impl RawValue {
    /// SQL NULL.
    pub const NULL: RawValue = RawValue {
        tag: TAG_NULL,
        boolean: 0,
        number: 0.0,
        text: RawStr::EMPTY,
    };
}

/// [`CallFn`] status: the result is in `out`.
pub const STATUS_OK: u32 = 0;
/// [`CallFn`] status: the function failed; `out.text` is the message.
pub const STATUS_ERROR: u32 = 1;
/// [`CallFn`] status: the function panicked (caught at the boundary); `out.text` is the
/// panic message.
pub const STATUS_PANIC: u32 = 2;

/// [`FunctionDescriptor::flags`]: the same arguments always give the same result (the host
/// may evaluate calls with constant arguments once, at settings compile time).
pub const FLAG_DETERMINISTIC: u32 = 1;
/// [`FunctionDescriptor::flags`]: the function is called with NULL arguments too. Without it
/// the host returns NULL for any NULL argument without calling the plugin.
pub const FLAG_HANDLES_NULLS: u32 = 2;

/// Calls function number `function` (its index in [`PluginDescriptor::functions`]) with
/// `arg_count` arguments at `args` and writes the result to `out`; returns a `STATUS_*`.
///
/// The host guarantees: `args` points to `arg_count` initialised values whose text stays
/// valid during the call, `out` is writable, `arg_count` equals the function's declared arity.
/// The plugin guarantees: the function may be called from many threads at once; it never
/// unwinds out of the call; text written to `out` stays valid until the next call into this
/// library on the same thread (or is one of the argument texts).
pub type CallFn = unsafe extern "C" fn(
    function: usize,
    args: *const RawValue,
    arg_count: usize,
    out: *mut RawValue,
) -> u32;

/// One function of a plugin.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct FunctionDescriptor {
    /// The name used in settings (matched case-insensitively).
    pub name: RawStr,
    /// `arg_count` argument types (`TAG_TEXT`, `TAG_NUMBER` or `TAG_BOOLEAN`).
    pub arg_types: *const u32,
    /// The arity (exact).
    pub arg_count: usize,
    /// Result type (`TAG_TEXT`, `TAG_NUMBER` or `TAG_BOOLEAN`); a result may also be NULL.
    pub return_type: u32,
    /// `FLAG_*` bits.
    pub flags: u32,
}

/// What [`crate::DESCRIPTOR_SYMBOL`] returns. It and everything it points to live as long as
/// the library is loaded and never change.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PluginDescriptor {
    /// Repeats the ABI version (a sanity check for hand-written plugins).
    pub abi_version: u32,
    /// The plugin's name (unique among loaded plugins).
    pub name: RawStr,
    /// The plugin's version, free text (semver recommended).
    pub version: RawStr,
    /// `function_count` function descriptors.
    pub functions: *const FunctionDescriptor,
    /// Number of functions.
    pub function_count: usize,
    /// The entry point for every function of this plugin.
    pub call: CallFn,
}
