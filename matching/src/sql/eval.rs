//! Evaluation of compiled [`Node`]s over a pair of records, with SQL three-valued logic.

use std::borrow::Cow;
use std::cmp::Ordering;

use super::compile::Node;
use super::parser::{CmpOp, Side};
use crate::error::EvalError;

/// The evaluator's error: boxed, so that its results (evaluated for every level of every pair)
/// fit in registers instead of being returned through memory.
pub(crate) type Fail = Box<EvalError>;
use crate::records::{NULL, RecordSet};
use crate::value::{ArithOp, Value, arith, cast, render, sql_cmp};

/// Where column values come from.
pub(crate) trait Ctx<'a> {
    /// The text of a column of one side (None = NULL).
    fn text(&self, side: Side, col: usize) -> Option<&'a str>;
    /// The dictionary code of a column of one side ([`NULL`] for NULL).
    fn code(&self, side: Side, col: usize) -> u32;
    /// The UTF-8 bytes of a column of one side (None = NULL).
    fn bytes(&self, side: Side, col: usize) -> Option<&'a [u8]> {
        self.text(side, col).map(str::as_bytes)
    }
}

/// A pair of records of one [`RecordSet`] by position.
#[derive(Clone, Copy)]
pub(crate) struct PairCtx<'a> {
    pub(crate) rs: &'a RecordSet,
    pub(crate) l: usize,
    pub(crate) r: usize,
}

impl<'a> Ctx<'a> for PairCtx<'a> {
    #[inline]
    fn text(&self, side: Side, col: usize) -> Option<&'a str> {
        let i = if side == Side::L { self.l } else { self.r };
        self.rs.value(i, col)
    }

    #[inline]
    fn code(&self, side: Side, col: usize) -> u32 {
        let i = if side == Side::L { self.l } else { self.r };
        self.rs.code(i, col)
    }

    #[inline]
    fn bytes(&self, side: Side, col: usize) -> Option<&'a [u8]> {
        let i = if side == Side::L { self.l } else { self.r };
        self.rs.bytes(i, col)
    }
}

/// No record at all: used for constant folding, where no column is referenced.
pub(crate) struct NoRow;

impl<'a> Ctx<'a> for NoRow {
    fn text(&self, _: Side, _: usize) -> Option<&'a str> {
        None
    }
    fn code(&self, _: Side, _: usize) -> u32 {
        NULL
    }
}

/// SQL truth of a value: None for NULL.
fn truth(v: &Value<'_>) -> Result<Option<bool>, Fail> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(*b)),
        Value::Int(i) => Ok(Some(*i != 0)),
        Value::Float(f) => Ok(Some(*f != 0.0)),
        other => Err(Box::new(EvalError::Type(format!(
            "expected a BOOLEAN, got {}",
            other.type_name()
        )))),
    }
}

fn bool_or_null(b: Option<bool>) -> Value<'static> {
    b.map_or(Value::Null, Value::Bool)
}

fn cmp_holds(op: CmpOp, ord: Ordering) -> bool {
    match op {
        CmpOp::Eq => ord == Ordering::Equal,
        CmpOp::Ne => ord != Ordering::Equal,
        CmpOp::Lt => ord == Ordering::Less,
        CmpOp::Le => ord != Ordering::Greater,
        CmpOp::Gt => ord == Ordering::Greater,
        CmpOp::Ge => ord != Ordering::Less,
    }
}

impl Node {
    /// Whether the expression is TRUE (NULL and FALSE are not). The two tests of most levels
    /// (null levels, exact matches: a few code reads) are done inline, without a call to the
    /// recursive [`Node::truth`]: always inlined (as a call, its prologue, dispatch and
    /// epilogue took more instructions than the code reads, ten calls per scored pair).
    #[inline(always)]
    pub(crate) fn is_true<'a>(&'a self, ctx: &impl Ctx<'a>) -> Result<bool, Fail> {
        Ok(match self {
            Node::AnyNull(cols) => any_null(ctx, cols),
            Node::EqCols { a, b } => eq_cols(ctx, *a, *b) == Some(true),
            other => other.truth(ctx)? == Some(true),
        })
    }

    /// Three-valued truth of the expression.
    pub(crate) fn truth<'a>(&'a self, ctx: &impl Ctx<'a>) -> Result<Option<bool>, Fail> {
        match self {
            Node::And(a, b) => {
                let x = a.truth(ctx)?;
                if x == Some(false) {
                    return Ok(Some(false));
                }
                let y = b.truth(ctx)?;
                Ok(match (x, y) {
                    (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                })
            }
            Node::Or(a, b) => {
                let x = a.truth(ctx)?;
                if x == Some(true) {
                    return Ok(Some(true));
                }
                let y = b.truth(ctx)?;
                Ok(match (x, y) {
                    (_, Some(true)) => Some(true),
                    (Some(false), Some(false)) => Some(false),
                    _ => None,
                })
            }
            Node::Not(a) => Ok(a.truth(ctx)?.map(|b| !b)),
            Node::IsNull { e, negated } => Ok(Some(e.is_null_value(ctx)? != *negated)),
            Node::EqCols { a, b } => Ok(eq_cols(ctx, *a, *b)),
            Node::AnyNull(cols) => Ok(Some(any_null(ctx, cols))),
            Node::Cmp { op, l, r } => cmp_truth(ctx, *op, l, r),
            Node::Metric {
                metric,
                within_one,
                a,
                b,
                op,
                rhs,
                ..
            } => {
                let (Some(x), Some(y)) = (ctx.bytes(a.0, a.1), ctx.bytes(b.0, b.1)) else {
                    return Ok(None); // NULL-propagating
                };
                if let Some(within_one) = within_one {
                    return Ok(Some(within_one(x, y)));
                }
                Ok(sql_cmp(&metric(x, y), rhs)?.map(|o| cmp_holds(*op, o)))
            }
            other => truth(&other.eval(ctx)?),
        }
    }

    fn is_null_value<'a>(&'a self, ctx: &impl Ctx<'a>) -> Result<bool, Fail> {
        match self {
            Node::Col { side, col } => Ok(ctx.code(*side, *col) == NULL),
            other => Ok(other.eval(ctx)?.is_null()),
        }
    }

    /// Evaluates the expression to a value.
    pub(crate) fn eval<'a>(&'a self, ctx: &impl Ctx<'a>) -> Result<Value<'a>, Fail> {
        Ok(match self {
            Node::Const(v) => match v {
                Value::Text(s) => Value::Text(Cow::Borrowed(s.as_ref())),
                other => other.clone(),
            },
            Node::Col { side, col } => ctx.text(*side, *col).map_or(Value::Null, Value::str),
            Node::And(..)
            | Node::Or(..)
            | Node::Not(_)
            | Node::IsNull { .. }
            | Node::EqCols { .. }
            | Node::AnyNull(_)
            | Node::Cmp { .. }
            | Node::Metric { .. } => bool_or_null(self.truth(ctx)?),
            Node::Neg(a) => match a.eval(ctx)? {
                Value::Null => Value::Null,
                Value::Int(i) => Value::Int(i.checked_neg().ok_or(EvalError::Overflow("-"))?),
                Value::Float(f) => Value::Float(-f),
                other => arith(ArithOp::Sub, Value::Int(0), other)?,
            },
            Node::Arith { op, l, r } => arith(*op, l.eval(ctx)?, r.eval(ctx)?)?,
            Node::Concat(a, b) => {
                let (x, y) = (a.eval(ctx)?, b.eval(ctx)?);
                if x.is_null() || y.is_null() {
                    Value::Null
                } else {
                    Value::string(render(&x) + &render(&y))
                }
            }
            Node::In { e, list, negated } => {
                let x = e.eval(ctx)?;
                if x.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                let mut found = false;
                for item in list {
                    match sql_cmp(&x, &item.eval(ctx)?)? {
                        Some(Ordering::Equal) => {
                            found = true;
                            break;
                        }
                        None => saw_null = true,
                        Some(_) => {}
                    }
                }
                match (found, saw_null) {
                    (true, _) => Value::Bool(!negated),
                    (false, true) => Value::Null,
                    (false, false) => Value::Bool(*negated),
                }
            }
            Node::Between { e, lo, hi, negated } => {
                let x = e.eval(ctx)?;
                let ge = sql_cmp(&x, &lo.eval(ctx)?)?.map(|o| o != Ordering::Less);
                let le = sql_cmp(&x, &hi.eval(ctx)?)?.map(|o| o != Ordering::Greater);
                let both = match (ge, le) {
                    (Some(false), _) | (_, Some(false)) => Some(false),
                    (Some(true), Some(true)) => Some(true),
                    _ => None,
                };
                bool_or_null(both.map(|b| b != *negated))
            }
            Node::Case {
                operand,
                whens,
                otherwise,
            } => {
                let subject = match operand {
                    Some(o) => Some(o.eval(ctx)?),
                    None => None,
                };
                for (cond, value) in whens {
                    let hit = match &subject {
                        Some(s) => sql_cmp(s, &cond.eval(ctx)?)? == Some(Ordering::Equal),
                        None => cond.is_true(ctx)?,
                    };
                    if hit {
                        return value.eval(ctx);
                    }
                }
                match otherwise {
                    Some(o) => o.eval(ctx)?,
                    None => Value::Null,
                }
            }
            Node::Cast { e, ty, try_cast } => match cast(e.eval(ctx)?, *ty) {
                Ok(v) => v,
                Err(_) if *try_cast => Value::Null,
                Err(err) => return Err(Box::new(err)),
            },
            Node::Call { def, imp, args } => {
                // Up to four arguments (every built-in) live on the stack: no allocation per
                // call in the scoring loop.
                let mut small = [Value::Null, Value::Null, Value::Null, Value::Null];
                let mut large = Vec::new();
                let vals: &mut [Value<'a>] = if args.len() <= small.len() {
                    &mut small[..args.len()]
                } else {
                    large.resize(args.len(), Value::Null);
                    &mut large
                };
                for (a, slot) in args.iter().zip(vals.iter_mut()) {
                    let v = a.eval(ctx)?;
                    if def.null_propagating && v.is_null() {
                        return Ok(Value::Null);
                    }
                    *slot = v;
                }
                imp(vals).map_err(|source| {
                    Box::new(EvalError::Function {
                        function: def.name.clone(),
                        source,
                    })
                })?
            }
        })
    }
}

/// The truth of `l op r`. Kept out of [`Node::truth`] (which the scoring loop calls for every
/// level) so that the values it holds do not make every call of that function pay for them.
#[inline(never)]
fn cmp_truth<'a>(
    ctx: &impl Ctx<'a>,
    op: CmpOp,
    l: &'a Node,
    r: &'a Node,
) -> Result<Option<bool>, Fail> {
    let (x, y) = (l.eval(ctx)?, r.eval(ctx)?);
    Ok(sql_cmp(&x, &y)?.map(|o| cmp_holds(op, o)))
}

#[inline(always)]
fn any_null<'a>(ctx: &impl Ctx<'a>, cols: &[(Side, usize)]) -> bool {
    cols.iter().any(|&(s, c)| ctx.code(s, c) == NULL)
}

#[inline(always)]
fn eq_cols<'a>(ctx: &impl Ctx<'a>, a: (Side, usize), b: (Side, usize)) -> Option<bool> {
    if a.1 == b.1 {
        let (x, y) = (ctx.code(a.0, a.1), ctx.code(b.0, b.1));
        if x == NULL || y == NULL {
            None
        } else {
            Some(x == y)
        }
    } else {
        eq_texts(ctx, a, b)
    }
}

/// `a = b` for two different columns: their texts compared (rare: kept out of the inlined
/// [`eq_cols`]).
#[inline(never)]
fn eq_texts<'a>(ctx: &impl Ctx<'a>, a: (Side, usize), b: (Side, usize)) -> Option<bool> {
    match (ctx.text(a.0, a.1), ctx.text(b.0, b.1)) {
        (Some(x), Some(y)) => Some(x == y),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::functions::FunctionRegistry;
    use crate::records::RecordSetBuilder;
    use crate::schema::Schema;
    use crate::sql::compile_condition;

    fn eval_on(
        src: &str,
        l: [Option<&str>; 2],
        r: [Option<&str>; 2],
    ) -> Result<Value<'static>, EvalError> {
        let schema = Schema::new(&["a", "b"]);
        let mut bld = RecordSetBuilder::new(schema.clone());
        bld.push(1, &l).unwrap();
        bld.push(2, &r).unwrap();
        let rs = bld.build();
        let node = compile_condition(src, &schema, &FunctionRegistry::with_builtins()).unwrap();
        node.eval(&PairCtx {
            rs: &rs,
            l: 0,
            r: 1,
        })
        .map(Value::into_owned)
        .map_err(|e| *e)
    }

    fn ev(src: &str) -> Value<'static> {
        eval_on(src, [Some("x"), None], [Some("x"), Some("y")]).unwrap()
    }

    #[test]
    fn three_valued_logic() {
        assert_eq!(ev("a_l = a_r"), Value::Bool(true));
        assert_eq!(ev("b_l = b_r"), Value::Null);
        assert_eq!(ev("b_l = b_r OR a_l = a_r"), Value::Bool(true));
        assert_eq!(ev("b_l = b_r OR a_l <> a_r"), Value::Null);
        assert_eq!(ev("b_l = b_r AND a_l <> a_r"), Value::Bool(false));
        assert_eq!(ev("NOT (b_l = b_r)"), Value::Null);
        assert_eq!(ev("b_l IS NULL AND b_r IS NOT NULL"), Value::Bool(true));
        // Null levels compile to one `AnyNull` test (never NULL itself).
        assert_eq!(ev("a_l IS NULL OR a_r IS NULL"), Value::Bool(false));
        assert_eq!(
            ev("a_l IS NULL OR b_l IS NULL OR a_r IS NULL"),
            Value::Bool(true)
        );
        assert_eq!(ev("b_r IS NULL OR b_l IS NULL"), Value::Bool(true));
        assert_eq!(ev("a_l IS NULL OR b_l = b_r"), Value::Null);
        let schema = Schema::new(&["a", "b"]);
        let reg = FunctionRegistry::with_builtins();
        let node = compile_condition("a_l IS NULL OR (b_l IS NULL OR a_r IS NULL)", &schema, &reg);
        assert!(
            matches!(node, Ok(Node::AnyNull(ref cols)) if cols.len() == 3),
            "{node:?}"
        );
        assert_eq!(ev("levenshtein(b_l, b_r) <= 2"), Value::Null);
        assert_eq!(ev("a_l IN ('y', NULL)"), Value::Null);
        assert_eq!(ev("a_l IN ('y', 'x')"), Value::Bool(true));
        assert_eq!(ev("a_l NOT IN ('y', 'z')"), Value::Bool(true));
        assert_eq!(ev("2 BETWEEN 1 AND 3"), Value::Bool(true));
    }

    #[test]
    fn expressions_evaluate_like_duckdb() {
        assert_eq!(ev("a_l || b_r"), Value::str("xy"));
        assert_eq!(ev("a_l || b_l"), Value::Null);
        assert_eq!(
            ev("CASE WHEN b_l IS NULL THEN 'none' ELSE b_l END"),
            Value::str("none")
        );
        assert_eq!(ev("CASE a_l WHEN 'x' THEN 1 ELSE 2 END"), Value::Int(1));
        assert_eq!(ev("CASE WHEN b_l = 'q' THEN 1 END"), Value::Null);
        assert_eq!(ev("CAST('12' AS INT) + 1"), Value::Int(13));
        assert_eq!(ev("'2.5'::double * 2"), Value::Float(5.0));
        assert_eq!(ev("1 / 0"), Value::Float(f64::INFINITY));
        assert_eq!(ev("7 % 0"), Value::Null);
        assert_eq!(ev("coalesce(b_l, a_r)"), Value::str("x"));
        assert_eq!(ev("SUBSTRING(b_r FROM 1 FOR 1)"), Value::str("y"));
        assert_eq!(ev("TRY_CAST('zz' AS INT)"), Value::Null);
        assert_eq!(
            ev(
                "abs(epoch(try_strptime('2020-01-05', '%Y-%m-%d')) - epoch(try_strptime('2020-01-04', '%Y-%m-%d'))) <= 86400"
            ),
            Value::Bool(true)
        );
        assert_eq!(ev("-(2) * 3"), Value::Int(-6));
    }

    #[test]
    fn metric_levels_evaluate_like_calls() {
        let schema = Schema::new(&["a", "b"]);
        let reg = FunctionRegistry::with_builtins();
        let node = compile_condition("jaro_winkler_similarity(a_l, b_r) >= 0.9", &schema, &reg);
        assert!(matches!(node, Ok(Node::Metric { .. })), "{node:?}");
        let words = [
            Some("martha"),
            Some("marhta"),
            Some("mrtha"),
            Some("über"),
            Some("u"),
            None,
        ];
        for f in [
            "levenshtein",
            "damerau_levenshtein",
            "jaro_similarity",
            "jaro_winkler_sim",
        ] {
            for cond in ["<= 1", "< 2", "> 2", "= 0", ">= 0.9", "< 0.8"] {
                // `|| ''` keeps the generic call (its argument is not a plain column).
                let (metric, call) = (
                    format!("{f}(a_l, a_r) {cond}"),
                    format!("{f}(a_l || '', a_r) {cond}"),
                );
                for l in words {
                    for r in words {
                        assert_eq!(
                            eval_on(&metric, [l, None], [r, None]).unwrap(),
                            eval_on(&call, [l, None], [r, None]).unwrap(),
                            "{metric} on {l:?}, {r:?}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn function_errors_name_the_function() {
        let err = eval_on(
            "hamming(a_l, b_r) = 1",
            [Some("abc"), None],
            [None, Some("ab")],
        )
        .unwrap_err();
        assert!(
            matches!(err, EvalError::Function { ref function, .. } if function == "hamming"),
            "{err}"
        );
        assert!(err.to_string().contains("hamming") && err.to_string().contains("equal length"));
        assert!(eval_on("CAST(a_l AS INT) = 1", [Some("x"), None], [None, None]).is_err());
    }
}
