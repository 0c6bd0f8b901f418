//! Compiles parsed expressions into [`Node`] trees with resolved columns and functions.

use std::sync::Arc;

use super::eval::NoRow;
use super::lexer::SyntaxError;
use super::parser::{BinOp, CmpOp, Expr, Side, parse};
use crate::functions::{BytesTest, FunctionDef, FunctionImpl, FunctionRegistry};
use crate::schema::Schema;
use crate::value::{ArithOp, CastType, Value};

/// A compiled expression node.
#[derive(Clone)]
pub(crate) enum Node {
    Const(Value<'static>),
    Col {
        side: Side,
        col: usize,
    },
    /// `a = b` between two plain column references (compared by dictionary code when the
    /// columns are the same).
    EqCols {
        a: (Side, usize),
        b: (Side, usize),
    },
    /// `a IS NULL OR b IS NULL OR ...` over plain column references (every comparison's null
    /// level): TRUE if any of the columns is NULL, else FALSE (never NULL).
    AnyNull(Vec<(Side, usize)>),
    Not(Box<Node>),
    Neg(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cmp {
        op: CmpOp,
        l: Box<Node>,
        r: Box<Node>,
    },
    /// `f(a, b) op rhs` where `f` is a built-in `TextMetric`, `a` and `b` plain column
    /// references and `rhs` a number (every fuzzy comparison level): the metric is called on
    /// the columns' bytes, its value compared like [`Node::Cmp`] would.
    Metric {
        def: Arc<FunctionDef>,
        metric: fn(&[u8], &[u8]) -> Value<'static>,
        /// When the condition is `distance <= 1` (or `< 2`): the metric's own test of that,
        /// used instead (for non-NULL values).
        within_one: Option<BytesTest>,
        a: (Side, usize),
        b: (Side, usize),
        op: CmpOp,
        rhs: Value<'static>,
    },
    Arith {
        op: ArithOp,
        l: Box<Node>,
        r: Box<Node>,
    },
    Concat(Box<Node>, Box<Node>),
    IsNull {
        e: Box<Node>,
        negated: bool,
    },
    In {
        e: Box<Node>,
        list: Vec<Node>,
        negated: bool,
    },
    Between {
        e: Box<Node>,
        lo: Box<Node>,
        hi: Box<Node>,
        negated: bool,
    },
    Case {
        operand: Option<Box<Node>>,
        whens: Vec<(Node, Node)>,
        otherwise: Option<Box<Node>>,
    },
    Cast {
        e: Box<Node>,
        ty: CastType,
        try_cast: bool,
    },
    Call {
        def: Arc<FunctionDef>,
        imp: FunctionImpl,
        args: Vec<Node>,
    },
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::Const(v) => write!(f, "Const({v:?})"),
            Node::Col { side, col } => write!(f, "Col({side:?},{col})"),
            Node::EqCols { a, b } => write!(f, "EqCols({a:?},{b:?})"),
            Node::Metric {
                def, a, b, op, rhs, ..
            } => write!(f, "{}({a:?},{b:?}) {op:?} {rhs:?}", def.name),
            Node::Call { def, args, .. } => write!(f, "{}({args:?})", def.name),
            _ => write!(f, "Node(..)"),
        }
    }
}

/// A compile problem at a character position of the source (if known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CompileError {
    pub(crate) pos: Option<usize>,
    pub(crate) message: String,
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.pos {
            Some(p) => write!(f, "{} at position {p}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl From<SyntaxError> for CompileError {
    fn from(e: SyntaxError) -> Self {
        Self {
            pos: Some(e.pos),
            message: format!("cannot parse condition: {}", e.message),
        }
    }
}

/// Parses and compiles `src`, returning every problem found.
pub(crate) fn compile_condition(
    src: &str,
    schema: &Schema,
    registry: &FunctionRegistry,
) -> Result<Node, Vec<CompileError>> {
    let expr = parse(src).map_err(|e| vec![CompileError::from(e)])?;
    let mut c = Compiler {
        schema,
        registry,
        errors: Vec::new(),
    };
    let node = c.compile(&expr);
    if c.errors.is_empty() {
        Ok(node)
    } else {
        Err(c.errors)
    }
}

/// Checks only the syntax of `src`.
pub(crate) fn check_syntax(src: &str) -> Result<(), CompileError> {
    parse(src).map(|_| ()).map_err(CompileError::from)
}

struct Compiler<'s> {
    schema: &'s Schema,
    registry: &'s FunctionRegistry,
    errors: Vec<CompileError>,
}

impl Compiler<'_> {
    fn err(&mut self, pos: Option<usize>, message: String) -> Node {
        self.errors.push(CompileError { pos, message });
        Node::Const(Value::Null)
    }

    fn column(&mut self, side: Option<Side>, name: &str, pos: usize) -> Node {
        if let Some(side) = side {
            return match self.schema.index_of(name) {
                Some(col) => Node::Col { side, col },
                None => self.err(Some(pos), format!("unknown column '{name}'")),
            };
        }
        let lower = name.to_ascii_lowercase();
        for (suffix, side) in [("_l", Side::L), ("_r", Side::R)] {
            if let Some(base) = lower.strip_suffix(suffix)
                && let Some(col) = self.schema.index_of(base)
            {
                return Node::Col { side, col };
            }
        }
        self.err(Some(pos), format!("unknown column '{name}' (expected <column>_l or <column>_r, or l.<column> / r.<column>)"))
    }

    fn b(&mut self, e: &Expr) -> Box<Node> {
        Box::new(self.compile(e))
    }

    fn compile(&mut self, e: &Expr) -> Node {
        let node = match e {
            Expr::Column { side, name, pos } => self.column(*side, name, *pos),
            Expr::Null => Node::Const(Value::Null),
            Expr::Bool(b) => Node::Const(Value::Bool(*b)),
            Expr::Int(i) => Node::Const(Value::Int(*i)),
            Expr::Float(f) => Node::Const(Value::Float(*f)),
            Expr::Text(s) => Node::Const(Value::string(s.clone())),
            Expr::Not(x) => Node::Not(self.b(x)),
            Expr::Neg(x) => Node::Neg(self.b(x)),
            Expr::Binary { op, left, right } => {
                let (l, r) = (self.b(left), self.b(right));
                match op {
                    BinOp::And => Node::And(l, r),
                    BinOp::Or => match (null_cols(&l), null_cols(&r)) {
                        (Some(mut a), Some(b)) => {
                            a.extend(b);
                            Node::AnyNull(a)
                        }
                        _ => Node::Or(l, r),
                    },
                    BinOp::Concat => Node::Concat(l, r),
                    BinOp::Arith(op) => Node::Arith { op: *op, l, r },
                    BinOp::Cmp(op) => match (&*l, &*r) {
                        (Node::Col { side: s1, col: c1 }, Node::Col { side: s2, col: c2 })
                            if *op == CmpOp::Eq =>
                        {
                            Node::EqCols {
                                a: (*s1, *c1),
                                b: (*s2, *c2),
                            }
                        }
                        (
                            Node::Call { def, args, .. },
                            Node::Const(rhs @ (Value::Int(_) | Value::Float(_))),
                        ) if let Some(metric) = self.registry.text_metric(def)
                            && let [
                                Node::Col { side: s1, col: c1 },
                                Node::Col { side: s2, col: c2 },
                            ] = args.as_slice() =>
                        {
                            let one = matches!(
                                (op, rhs),
                                (CmpOp::Le, Value::Int(1)) | (CmpOp::Lt, Value::Int(2))
                            );
                            Node::Metric {
                                def: def.clone(),
                                metric: metric.value,
                                within_one: metric.within_one.filter(|_| one),
                                a: (*s1, *c1),
                                b: (*s2, *c2),
                                op: *op,
                                rhs: rhs.clone(),
                            }
                        }
                        _ => Node::Cmp { op: *op, l, r },
                    },
                }
            }
            Expr::IsNull { expr, negated } => Node::IsNull {
                e: self.b(expr),
                negated: *negated,
            },
            Expr::In {
                expr,
                list,
                negated,
            } => Node::In {
                e: self.b(expr),
                list: list.iter().map(|x| self.compile(x)).collect(),
                negated: *negated,
            },
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => Node::Between {
                e: self.b(expr),
                lo: self.b(low),
                hi: self.b(high),
                negated: *negated,
            },
            Expr::Case {
                operand,
                whens,
                otherwise,
            } => Node::Case {
                operand: operand.as_ref().map(|o| self.b(o)),
                whens: whens
                    .iter()
                    .map(|(c, v)| (self.compile(c), self.compile(v)))
                    .collect(),
                otherwise: otherwise.as_ref().map(|o| self.b(o)),
            },
            Expr::Cast { expr, ty, try_cast } => Node::Cast {
                e: self.b(expr),
                ty: *ty,
                try_cast: *try_cast,
            },
            Expr::Call { name, args, pos } => self.call(name, args, *pos),
        };
        self.fold(node)
    }

    fn call(&mut self, name: &str, args: &[Expr], pos: usize) -> Node {
        let args: Vec<Node> = args.iter().map(|a| self.compile(a)).collect();
        let Some(def) = self.registry.get(name).cloned() else {
            return self.err(Some(pos), format!("unknown function '{name}'"));
        };
        if !def.arity.accepts(args.len()) {
            return self.err(
                Some(pos),
                format!(
                    "function '{name}' takes {} argument(s), got {}",
                    def.arity,
                    args.len()
                ),
            );
        }
        let consts: Vec<Option<Value<'static>>> = args
            .iter()
            .map(|a| {
                if let Node::Const(v) = a {
                    Some(v.clone())
                } else {
                    None
                }
            })
            .collect();
        for (i, c) in consts.iter().enumerate() {
            if let Some(v) = c
                && !def.arg_type(i).admits(v)
            {
                return self.err(
                    Some(pos),
                    format!(
                        "argument {} of '{name}' must be {:?}, got {}",
                        i + 1,
                        def.arg_type(i),
                        v.type_name()
                    ),
                );
            }
        }
        let mut imp = def.implementation.clone();
        if let Some(spec) = &def.specializer {
            match spec(&consts) {
                Ok(Some(s)) => imp = s,
                Ok(None) => {}
                Err(e) => return self.err(Some(pos), format!("function '{name}': {e}")),
            }
        }
        Node::Call { def, imp, args }
    }

    /// Evaluates nodes whose inputs are all constants (deterministic functions only).
    fn fold(&mut self, node: Node) -> Node {
        let foldable = match &node {
            Node::Const(_)
            | Node::Col { .. }
            | Node::EqCols { .. }
            | Node::AnyNull(_)
            | Node::Metric { .. } => false,
            Node::Call { def, args, .. } => def.deterministic && args.iter().all(is_const),
            Node::Not(a) | Node::Neg(a) => is_const(a),
            Node::And(a, b) | Node::Or(a, b) | Node::Concat(a, b) => is_const(a) && is_const(b),
            Node::Cmp { l, r, .. } | Node::Arith { l, r, .. } => is_const(l) && is_const(r),
            Node::IsNull { e, .. } | Node::Cast { e, .. } => is_const(e),
            Node::In { e, list, .. } => is_const(e) && list.iter().all(is_const),
            Node::Between { e, lo, hi, .. } => is_const(e) && is_const(lo) && is_const(hi),
            Node::Case { .. } => false,
        };
        if !foldable {
            return node;
        }
        match node.eval(&NoRow) {
            Ok(v) => Node::Const(v.into_owned()),
            Err(e) => self.err(None, format!("constant expression fails: {e}")),
        }
    }
}

fn is_const(n: &Node) -> bool {
    matches!(n, Node::Const(_))
}

/// The columns of `col IS NULL` or of an [`Node::AnyNull`].
fn null_cols(n: &Node) -> Option<Vec<(Side, usize)>> {
    match n {
        Node::IsNull { e, negated: false } => match **e {
            Node::Col { side, col } => Some(vec![(side, col)]),
            _ => None,
        },
        Node::AnyNull(cols) => Some(cols.clone()),
        _ => None,
    }
}

impl Node {
    /// Which sides of the pair the expression reads: (left, right).
    pub(crate) fn sides(&self) -> (bool, bool) {
        let mut acc = (false, false);
        self.visit_columns(&mut |s, _| match s {
            Side::L => acc.0 = true,
            Side::R => acc.1 = true,
        });
        acc
    }

    pub(crate) fn visit_columns(&self, f: &mut dyn FnMut(Side, usize)) {
        match self {
            Node::Const(_) => {}
            Node::Col { side, col } => f(*side, *col),
            Node::EqCols { a, b } | Node::Metric { a, b, .. } => {
                f(a.0, a.1);
                f(b.0, b.1);
            }
            Node::AnyNull(cols) => cols.iter().for_each(|&(s, c)| f(s, c)),
            Node::Not(a) | Node::Neg(a) | Node::IsNull { e: a, .. } | Node::Cast { e: a, .. } => {
                a.visit_columns(f)
            }
            Node::And(a, b) | Node::Or(a, b) | Node::Concat(a, b) => {
                a.visit_columns(f);
                b.visit_columns(f);
            }
            Node::Cmp { l, r, .. } | Node::Arith { l, r, .. } => {
                l.visit_columns(f);
                r.visit_columns(f);
            }
            Node::In { e, list, .. } => {
                e.visit_columns(f);
                list.iter().for_each(|x| x.visit_columns(f));
            }
            Node::Between { e, lo, hi, .. } => {
                e.visit_columns(f);
                lo.visit_columns(f);
                hi.visit_columns(f);
            }
            Node::Case {
                operand,
                whens,
                otherwise,
            } => {
                if let Some(o) = operand {
                    o.visit_columns(f);
                }
                for (c, v) in whens {
                    c.visit_columns(f);
                    v.visit_columns(f);
                }
                if let Some(o) = otherwise {
                    o.visit_columns(f);
                }
            }
            Node::Call { args, .. } => args.iter().for_each(|x| x.visit_columns(f)),
        }
    }

    /// If this is an exact match on one column (`c_l = c_r`, or an AND of such on the same
    /// column), that column.
    pub(crate) fn exact_match_column(&self) -> Option<usize> {
        match self {
            Node::EqCols {
                a: (s1, c1),
                b: (s2, c2),
            } if c1 == c2 && s1 != s2 => Some(*c1),
            Node::And(a, b) => {
                let (x, y) = (a.exact_match_column()?, b.exact_match_column()?);
                (x == y).then_some(x)
            }
            _ => None,
        }
    }

    /// The column `c` if this is `c_l IS NULL OR c_r IS NULL` (a comparison's usual null
    /// level): TRUE exactly when one of the pair's two codes of `c` is NULL.
    pub(crate) fn null_level_column(&self) -> Option<usize> {
        match self {
            Node::AnyNull(cols) => match cols.as_slice() {
                [(s1, c1), (s2, c2)] if c1 == c2 && s1 != s2 => Some(*c1),
                _ => None,
            },
            _ => None,
        }
    }

    /// Splits a top-level AND chain into its conjuncts.
    pub(crate) fn conjuncts(self) -> Vec<Node> {
        match self {
            Node::And(a, b) => {
                let mut v = a.conjuncts();
                v.extend(b.conjuncts());
                v
            }
            other => vec![other],
        }
    }

    /// Re-joins conjuncts with AND (None for an empty list).
    pub(crate) fn and_all(nodes: Vec<Node>) -> Option<Node> {
        nodes
            .into_iter()
            .reduce(|a, b| Node::And(Box::new(a), Box::new(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::new(&["first_name", "last_name", "dob"])
    }

    fn compile(src: &str) -> Result<Node, Vec<CompileError>> {
        compile_condition(src, &schema(), &FunctionRegistry::with_builtins())
    }

    #[test]
    fn resolves_columns_in_both_notations() {
        assert!(matches!(
            compile(r#""FIRST_NAME_l" = first_name_r"#).unwrap(),
            Node::EqCols {
                a: (Side::L, 0),
                b: (Side::R, 0)
            }
        ));
        assert!(matches!(
            compile(r#"l."last_name" = r.last_name"#).unwrap(),
            Node::EqCols {
                a: (Side::L, 1),
                b: (Side::R, 1)
            }
        ));
        assert_eq!(
            compile("first_name_l = first_name_r")
                .unwrap()
                .exact_match_column(),
            Some(0)
        );
        assert_eq!(
            compile("first_name_l = last_name_r")
                .unwrap()
                .exact_match_column(),
            None
        );
    }

    #[test]
    fn reports_every_problem_with_position() {
        let errs = compile(
            "levenshtein(nope_l, first_name_r) <= 1 AND foo(dob_l) AND jaro_winkler(dob_l) > 0",
        )
        .unwrap_err();
        let msgs: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].contains("unknown column 'nope_l'") && msgs[0].contains("position 12"));
        assert!(msgs[1].contains("unknown function 'foo'") && msgs[1].contains("position 43"));
        assert!(msgs[2].contains("takes 2 to 3 argument(s), got 1"));
        let errs = compile("regexp_extract(dob_l, '(')").unwrap_err();
        assert!(errs[0].message.contains("invalid regular expression"));
        let errs = compile("levenshtein(dob_l, 3) < 1").unwrap_err();
        assert!(
            errs[0]
                .message
                .contains("argument 2 of 'levenshtein' must be Text")
        );
    }

    #[test]
    fn folds_constants() {
        assert!(matches!(
            compile("1 + 2 = 3").unwrap(),
            Node::Const(Value::Bool(true))
        ));
        assert!(
            matches!(compile("lower('AB') || 'c'").unwrap(), Node::Const(Value::Text(ref s)) if s == "abc")
        );
        let errs = compile("hamming('a', 'ab') = 1").unwrap_err();
        assert!(errs[0].message.contains("hamming"));
    }
}
