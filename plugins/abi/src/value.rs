//! The safe side of the ABI: what a plugin author's functions see and return.

use std::borrow::Cow;

use crate::raw::{FLAG_DETERMINISTIC, FLAG_HANDLES_NULLS, TAG_BOOLEAN, TAG_NUMBER, TAG_TEXT};

/// An argument or result value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// SQL NULL (arguments are NULL only for functions declared with
    /// [`Function::handles_nulls`]).
    Null,
    /// Text (VARCHAR). Arguments borrow the host's memory.
    Text(Cow<'a, str>),
    /// A number (integers arrive as exact `f64`s).
    Number(f64),
    /// A boolean.
    Boolean(bool),
}

impl<'a> Value<'a> {
    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// SQL type name, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Text(_) => "VARCHAR",
            Value::Number(_) => "DOUBLE",
            Value::Boolean(_) => "BOOLEAN",
        }
    }
}

impl From<String> for Value<'static> {
    fn from(s: String) -> Self {
        Value::Text(Cow::Owned(s))
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Text(Cow::Borrowed(s))
    }
}

impl From<f64> for Value<'static> {
    fn from(n: f64) -> Self {
        Value::Number(n)
    }
}

impl From<bool> for Value<'static> {
    fn from(b: bool) -> Self {
        Value::Boolean(b)
    }
}

/// Declared type of an argument or a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// VARCHAR.
    Text,
    /// DOUBLE.
    Number,
    /// BOOLEAN.
    Boolean,
}

impl Type {
    pub(crate) fn tag(self) -> u32 {
        match self {
            Type::Text => TAG_TEXT,
            Type::Number => TAG_NUMBER,
            Type::Boolean => TAG_BOOLEAN,
        }
    }
}

/// A plugin function: arguments in, a value (possibly borrowing an argument's text) or an
/// error message out. It is called from many threads at once, so it must not rely on
/// unsynchronised global state. A panic is caught and reported as an error by the host.
pub type FunctionFn = for<'a> fn(&[Value<'a>]) -> Result<Value<'a>, String>;

/// One function a plugin offers.
#[derive(Debug, Clone)]
pub struct Function {
    pub(crate) name: String,
    pub(crate) args: Vec<Type>,
    pub(crate) returns: Type,
    pub(crate) flags: u32,
    pub(crate) call: FunctionFn,
}

impl Function {
    /// A deterministic function that never sees NULL arguments (any NULL argument makes the
    /// result NULL without a call).
    pub fn new(name: &str, args: &[Type], returns: Type, call: FunctionFn) -> Self {
        Self {
            name: name.to_owned(),
            args: args.to_vec(),
            returns,
            flags: FLAG_DETERMINISTIC,
            call,
        }
    }

    /// Declares that the same arguments may give different results (never folded).
    pub fn non_deterministic(mut self) -> Self {
        self.flags &= !FLAG_DETERMINISTIC;
        self
    }

    /// Declares that the function is called with NULL arguments and decides itself.
    pub fn handles_nulls(mut self) -> Self {
        self.flags |= FLAG_HANDLES_NULLS;
        self
    }
}
