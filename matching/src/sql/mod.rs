//! The SQL expression subset: tokenizer, parser, compiler to [`Node`] trees and evaluator.
//!
//! Conditions are never executed by a database: they are parsed here, resolved against the
//! [`crate::Schema`] and the [`crate::FunctionRegistry`], constant-folded, and evaluated with
//! SQL three-valued logic over a pair of records.

mod compile;
mod eval;
mod lexer;
mod parser;

pub(crate) use compile::{CompileError, Node, check_syntax, compile_condition};
pub(crate) use eval::PairCtx;
pub(crate) use parser::{CmpOp, Side};
