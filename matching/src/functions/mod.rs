//! The function registry: every named function a condition can call, built-in or plugin.
//!
//! Built-ins ([`FunctionRegistry::with_builtins`]) are registered through the same
//! [`FunctionRegistry::register`] call that the plugin host uses, so they get no special
//! treatment in the compiler.

mod dates;
mod misc;
mod strings;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::error::{FunctionError, RegistryError};
use crate::value::Value;

/// A function implementation. It receives the evaluated arguments and returns a value that may
/// borrow from them (so `coalesce` does not copy text).
pub type FunctionImpl =
    Arc<dyn for<'a> Fn(&[Value<'a>]) -> Result<Value<'a>, FunctionError> + Send + Sync>;

/// Given the arguments that are compile-time constants (`None` for the others), optionally
/// returns a specialised implementation (e.g. with a pre-compiled regex). An error here is a
/// settings validation error (e.g. an invalid regex literal).
pub type Specializer = Arc<
    dyn Fn(&[Option<Value<'static>>]) -> Result<Option<FunctionImpl>, FunctionError> + Send + Sync,
>;

/// How many arguments a function takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    /// Exactly this many.
    Exact(usize),
    /// Between `min` and `max`, inclusive.
    Range(usize, usize),
    /// At least this many (variadic).
    AtLeast(usize),
}

impl Arity {
    /// Whether `n` arguments are accepted.
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Exact(k) => n == k,
            Arity::Range(lo, hi) => (lo..=hi).contains(&n),
            Arity::AtLeast(lo) => n >= lo,
        }
    }
}

impl fmt::Display for Arity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arity::Exact(k) => write!(f, "{k}"),
            Arity::Range(lo, hi) => write!(f, "{lo} to {hi}"),
            Arity::AtLeast(lo) => write!(f, "at least {lo}"),
        }
    }
}

/// Declared type of an argument or a return value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    /// VARCHAR.
    Text,
    /// INTEGER or DOUBLE.
    Number,
    /// BOOLEAN.
    Boolean,
    /// TIMESTAMP / DATE.
    Timestamp,
    /// Anything.
    Any,
}

impl ArgType {
    pub(crate) fn admits(self, v: &Value<'_>) -> bool {
        matches!(
            (self, v),
            (ArgType::Any, _)
                | (_, Value::Null)
                | (ArgType::Text, Value::Text(_))
                | (ArgType::Number, Value::Int(_) | Value::Float(_))
                | (ArgType::Boolean, Value::Bool(_))
                | (ArgType::Timestamp, Value::Timestamp(_) | Value::Text(_))
        )
    }
}

/// One registered function.
#[derive(Clone)]
pub struct FunctionDef {
    /// Canonical name (matched case-insensitively).
    pub name: String,
    /// Other names for the same function (e.g. `jaro_winkler` for `jaro_winkler_similarity`).
    pub aliases: Vec<String>,
    /// Accepted argument count.
    pub arity: Arity,
    /// Declared argument types; the last one repeats for variadic functions.
    pub arg_types: Vec<ArgType>,
    /// Declared return type.
    pub return_type: ArgType,
    /// Same inputs always give the same output (allows constant folding).
    pub deterministic: bool,
    /// If any argument is NULL the result is NULL without calling the implementation.
    pub null_propagating: bool,
    /// The implementation.
    pub implementation: FunctionImpl,
    /// Optional compile-time specialisation on constant arguments.
    pub specializer: Option<Specializer>,
}

impl fmt::Debug for FunctionDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FunctionDef")
            .field("name", &self.name)
            .field("aliases", &self.aliases)
            .field("arity", &self.arity)
            .field("arg_types", &self.arg_types)
            .field("return_type", &self.return_type)
            .field("deterministic", &self.deterministic)
            .field("null_propagating", &self.null_propagating)
            .finish_non_exhaustive()
    }
}

impl FunctionDef {
    /// A deterministic, NULL-propagating function.
    pub fn new<F>(
        name: &str,
        arity: Arity,
        arg_types: &[ArgType],
        return_type: ArgType,
        f: F,
    ) -> Self
    where
        F: for<'a> Fn(&[Value<'a>]) -> Result<Value<'a>, FunctionError> + Send + Sync + 'static,
    {
        Self {
            name: name.to_string(),
            aliases: Vec::new(),
            arity,
            arg_types: arg_types.to_vec(),
            return_type,
            deterministic: true,
            null_propagating: true,
            implementation: Arc::new(f),
            specializer: None,
        }
    }

    /// Adds alternative names.
    pub fn aliases(mut self, names: &[&str]) -> Self {
        self.aliases.extend(names.iter().map(|s| s.to_string()));
        self
    }

    /// Marks the function as handling NULL arguments itself (e.g. `coalesce`).
    pub fn handles_nulls(mut self) -> Self {
        self.null_propagating = false;
        self
    }

    /// Marks the function as non-deterministic (never constant-folded).
    pub fn non_deterministic(mut self) -> Self {
        self.deterministic = false;
        self
    }

    /// Sets a compile-time specialiser.
    pub fn specializer(mut self, s: Specializer) -> Self {
        self.specializer = Some(s);
        self
    }

    /// Declared type of argument `i`.
    pub fn arg_type(&self, i: usize) -> ArgType {
        self.arg_types
            .get(i)
            .or(self.arg_types.last())
            .copied()
            .unwrap_or(ArgType::Any)
    }
}

/// A built-in string metric over the two texts' UTF-8 bytes: what the condition compiler calls
/// directly on two columns' dictionary bytes (no argument values, no dynamic call, no UTF-8
/// validation per value).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextMetric {
    /// The function's SQL value.
    pub(crate) value: fn(&[u8], &[u8]) -> Value<'static>,
    /// For edit distances: whether the distance is at most 1, decided without computing it.
    pub(crate) within_one: Option<BytesTest>,
}

/// A test of two texts' UTF-8 bytes.
pub(crate) type BytesTest = fn(&[u8], &[u8]) -> bool;

/// Functions by lower-case name (aliases included).
#[derive(Debug, Clone, Default)]
pub struct FunctionRegistry {
    by_name: BTreeMap<String, Arc<FunctionDef>>,
    /// The built-ins that are also a [`TextMetric`] (with two arguments), by canonical name;
    /// only [`Self::with_builtins`] adds them, and a name cannot be registered twice, so a
    /// function of this registry with such a name is that built-in.
    text_metrics: BTreeMap<&'static str, TextMetric>,
}

impl FunctionRegistry {
    /// An empty registry.
    pub fn empty() -> Self {
        Self::default()
    }

    /// A registry holding every built-in function.
    pub fn with_builtins() -> Self {
        let mut r = Self::empty();
        for def in strings::builtins()
            .into_iter()
            .chain(misc::builtins())
            .chain(dates::builtins())
        {
            r.register(def).expect("built-in function names are unique");
        }
        r.text_metrics = strings::text_metrics().into_iter().collect();
        r
    }

    /// Adds a function. Fails if its name or an alias is already taken (case-insensitive) or
    /// the definition is inconsistent.
    pub fn register(&mut self, def: FunctionDef) -> Result<(), RegistryError> {
        if def.name.trim().is_empty() {
            return Err(RegistryError::Invalid {
                name: def.name,
                reason: "empty name".into(),
            });
        }
        if let Arity::Range(lo, hi) = def.arity
            && lo > hi
        {
            return Err(RegistryError::Invalid {
                name: def.name,
                reason: "arity range is reversed".into(),
            });
        }
        let names: Vec<String> = std::iter::once(&def.name)
            .chain(&def.aliases)
            .map(|n| n.to_ascii_lowercase())
            .collect();
        for (i, n) in names.iter().enumerate() {
            if self.by_name.contains_key(n) || names[..i].contains(n) {
                return Err(RegistryError::NameClash(n.clone()));
            }
        }
        let def = Arc::new(def);
        for n in names {
            self.by_name.insert(n, def.clone());
        }
        Ok(())
    }

    /// Looks a function up by name or alias, case-insensitively.
    pub fn get(&self, name: &str) -> Option<&Arc<FunctionDef>> {
        self.by_name.get(&name.to_ascii_lowercase())
    }

    /// The [`TextMetric`] equal to `def` called with two arguments, if `def` is such a built-in.
    pub(crate) fn text_metric(&self, def: &FunctionDef) -> Option<TextMetric> {
        self.text_metrics.get(def.name.as_str()).copied()
    }

    /// Every registered function once (not once per alias), sorted by name.
    pub fn list(&self) -> Vec<Arc<FunctionDef>> {
        let mut out: Vec<Arc<FunctionDef>> = Vec::new();
        for (n, d) in &self.by_name {
            if d.name.eq_ignore_ascii_case(n) {
                out.push(d.clone());
            }
        }
        out
    }
}

/// Helpers shared by the built-in modules.
pub(crate) fn text_arg<'v>(
    args: &'v [Value<'_>],
    i: usize,
    fname: &str,
) -> Result<&'v str, FunctionError> {
    match &args[i] {
        Value::Text(s) => Ok(s),
        other => Err(FunctionError::new(format!(
            "{fname}: argument {} must be VARCHAR, got {}",
            i + 1,
            other.type_name()
        ))),
    }
}

pub(crate) fn int_arg(args: &[Value<'_>], i: usize, fname: &str) -> Result<i64, FunctionError> {
    match &args[i] {
        Value::Int(v) => Ok(*v),
        Value::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
        Value::Text(s) => s.trim().parse().map_err(|_| {
            FunctionError::new(format!("{fname}: argument {} must be an integer", i + 1))
        }),
        other => Err(FunctionError::new(format!(
            "{fname}: argument {} must be an integer, got {}",
            i + 1,
            other.type_name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_name_clashes_and_lists_each_function_once() {
        let mut r = FunctionRegistry::with_builtins();
        let n = r.list().len();
        let dup = FunctionDef::new(
            "LEVENSHTEIN",
            Arity::Exact(2),
            &[ArgType::Text],
            ArgType::Number,
            |_| Ok(Value::Null),
        );
        assert_eq!(
            r.register(dup).unwrap_err(),
            RegistryError::NameClash("levenshtein".into())
        );
        let alias_dup = FunctionDef::new("my_fn", Arity::Exact(1), &[], ArgType::Any, |_| {
            Ok(Value::Null)
        })
        .aliases(&["jaro_sim"]);
        assert_eq!(
            r.register(alias_dup).unwrap_err(),
            RegistryError::NameClash("jaro_sim".into())
        );
        assert!(
            r.get("my_fn").is_none(),
            "a failed registration adds nothing"
        );
        let ok = FunctionDef::new(
            "My_Fn",
            Arity::Range(1, 2),
            &[ArgType::Text],
            ArgType::Number,
            |_| Ok(Value::Int(1)),
        );
        r.register(ok).unwrap();
        assert_eq!(r.list().len(), n + 1);
        assert_eq!(r.get("MY_FN").unwrap().arity, Arity::Range(1, 2));
        assert!(r.get("jaro_winkler").is_some() && r.get("JARO_WINKLER_SIM").is_some());
    }
}
