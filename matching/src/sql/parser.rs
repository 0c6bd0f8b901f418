//! Recursive-descent (precedence-climbing) parser from tokens to an [`Expr`] tree.

use super::lexer::{SyntaxError, Tok, Token, tokenize};
use crate::value::{ArithOp, CastType};

/// Which record of the pair a column reference reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Side {
    L,
    R,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BinOp {
    And,
    Or,
    Cmp(CmpOp),
    Arith(ArithOp),
    Concat,
}

/// Parsed expression (not yet resolved against a schema or registry).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    /// `l.col`, `"col_l"`, ...: `side` is set when qualified with `l.`/`r.`.
    Column {
        side: Option<Side>,
        name: String,
        pos: usize,
    },
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    Binary {
        op: BinOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Cast {
        expr: Box<Expr>,
        ty: CastType,
        try_cast: bool,
    },
    Call {
        name: String,
        args: Vec<Expr>,
        pos: usize,
    },
}

const RESERVED: [&str; 21] = [
    "and", "or", "not", "is", "null", "in", "case", "when", "then", "else", "end", "cast", "as",
    "true", "false", "from", "for", "between", "try_cast", "like", "ilike",
];

/// Parses a whole expression.
pub(crate) fn parse(src: &str) -> Result<Expr, SyntaxError> {
    let tokens = tokenize(src)?;
    let mut p = Parser { tokens, i: 0 };
    let e = p.expr()?;
    match &p.peek().tok {
        Tok::Eof => Ok(e),
        _ => Err(p.err("unexpected trailing input")),
    }
}

struct Parser {
    tokens: Vec<Token>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> &Token {
        &self.tokens[self.i]
    }

    fn peek_at(&self, k: usize) -> &Tok {
        &self.tokens[(self.i + k).min(self.tokens.len() - 1)].tok
    }

    fn next(&mut self) -> Token {
        let t = self.tokens[self.i].clone();
        if self.i + 1 < self.tokens.len() {
            self.i += 1;
        }
        t
    }

    fn err(&self, msg: &str) -> SyntaxError {
        let t = self.peek();
        let found = match &t.tok {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Quoted(s) => format!("\"{s}\""),
            Tok::Str(s) => format!("string '{s}'"),
            Tok::Num(s) => format!("number {s}"),
            Tok::Sym(s) => format!("'{s}'"),
            Tok::Eof => "end of input".into(),
        };
        SyntaxError {
            pos: t.pos,
            message: format!("{msg} (found {found})"),
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), SyntaxError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.err(&format!("expected {}", kw.to_uppercase())))
        }
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(&self.peek().tok, Tok::Sym(x) if *x == s)
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if self.is_sym(s) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<(), SyntaxError> {
        if self.eat_sym(s) {
            Ok(())
        } else {
            Err(self.err(&format!("expected '{s}'")))
        }
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.and()?;
        while self.eat_kw("or") {
            let right = self.and()?;
            left = bin(BinOp::Or, left, right);
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.not()?;
        while self.eat_kw("and") {
            let right = self.not()?;
            left = bin(BinOp::And, left, right);
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Expr, SyntaxError> {
        if self.eat_kw("not") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.concat()?;
        loop {
            if self.eat_kw("is") {
                let negated = self.eat_kw("not");
                self.expect_kw("null")?;
                left = Expr::IsNull {
                    expr: Box::new(left),
                    negated,
                };
                continue;
            }
            let negated = self.is_kw("not")
                && matches!(self.peek_at(1), Tok::Ident(s) if s.eq_ignore_ascii_case("in") || s.eq_ignore_ascii_case("between"));
            if negated {
                self.next();
            }
            if self.eat_kw("in") {
                self.expect_sym("(")?;
                let mut list = vec![self.expr()?];
                while self.eat_sym(",") {
                    list.push(self.expr()?);
                }
                self.expect_sym(")")?;
                left = Expr::In {
                    expr: Box::new(left),
                    list,
                    negated,
                };
                continue;
            }
            if self.eat_kw("between") {
                let low = self.concat()?;
                self.expect_kw("and")?;
                let high = self.concat()?;
                left = Expr::Between {
                    expr: Box::new(left),
                    low: Box::new(low),
                    high: Box::new(high),
                    negated,
                };
                continue;
            }
            let op = match &self.peek().tok {
                Tok::Sym("=") => CmpOp::Eq,
                Tok::Sym("<>") | Tok::Sym("!=") => CmpOp::Ne,
                Tok::Sym("<") => CmpOp::Lt,
                Tok::Sym("<=") => CmpOp::Le,
                Tok::Sym(">") => CmpOp::Gt,
                Tok::Sym(">=") => CmpOp::Ge,
                _ => return Ok(left),
            };
            self.next();
            let right = self.concat()?;
            left = bin(BinOp::Cmp(op), left, right);
        }
    }

    fn concat(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.additive()?;
        while self.eat_sym("||") {
            let right = self.additive()?;
            left = bin(BinOp::Concat, left, right);
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.multiplicative()?;
        loop {
            let op = if self.eat_sym("+") {
                ArithOp::Add
            } else if self.eat_sym("-") {
                ArithOp::Sub
            } else {
                return Ok(left);
            };
            let right = self.multiplicative()?;
            left = bin(BinOp::Arith(op), left, right);
        }
    }

    fn multiplicative(&mut self) -> Result<Expr, SyntaxError> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat_sym("*") {
                ArithOp::Mul
            } else if self.eat_sym("/") {
                ArithOp::Div
            } else if self.eat_sym("%") {
                ArithOp::Mod
            } else {
                return Ok(left);
            };
            let right = self.unary()?;
            left = bin(BinOp::Arith(op), left, right);
        }
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        if self.eat_sym("-") {
            return Ok(match self.unary()? {
                Expr::Int(i) => Expr::Int(-i),
                Expr::Float(f) => Expr::Float(-f),
                e => Expr::Neg(Box::new(e)),
            });
        }
        if self.eat_sym("+") {
            return self.unary();
        }
        let mut e = self.primary()?;
        while self.eat_sym("::") {
            let ty = self.type_name()?;
            e = Expr::Cast {
                expr: Box::new(e),
                ty,
                try_cast: false,
            };
        }
        Ok(e)
    }

    fn type_name(&mut self) -> Result<CastType, SyntaxError> {
        let t = self.peek().clone();
        let Tok::Ident(name) = &t.tok else {
            return Err(self.err("expected a type name"));
        };
        let Some(ty) = CastType::from_name(name) else {
            return Err(SyntaxError {
                pos: t.pos,
                message: format!("unknown type '{name}'"),
            });
        };
        self.next();
        if name.eq_ignore_ascii_case("double") {
            self.eat_kw("precision");
        }
        if self.eat_sym("(") {
            // VARCHAR(n), DECIMAL(p, s): the modifiers do not change evaluation here.
            while !self.eat_sym(")") {
                if matches!(self.peek().tok, Tok::Eof) {
                    return Err(self.err("expected ')'"));
                }
                self.next();
            }
        }
        Ok(ty)
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        if !matches!(
            self.peek().tok,
            Tok::Num(_) | Tok::Str(_) | Tok::Sym("(") | Tok::Quoted(_) | Tok::Ident(_)
        ) {
            return Err(self.err("expected an expression"));
        }
        let t = self.next();
        match t.tok {
            Tok::Num(s) => {
                if !s.contains(['.', 'e', 'E'])
                    && let Ok(i) = s.parse::<i64>()
                {
                    return Ok(Expr::Int(i));
                }
                s.parse::<f64>().map(Expr::Float).map_err(|_| SyntaxError {
                    pos: t.pos,
                    message: format!("malformed number '{s}'"),
                })
            }
            Tok::Str(s) => Ok(Expr::Text(s)),
            Tok::Sym("(") => {
                let e = self.expr()?;
                self.expect_sym(")")?;
                Ok(e)
            }
            Tok::Quoted(name) => self.column_or_qualified(name, t.pos),
            Tok::Ident(name) => self.ident(name, t.pos),
            _ => unreachable!("checked above"),
        }
    }

    fn column_or_qualified(&mut self, name: String, pos: usize) -> Result<Expr, SyntaxError> {
        if self.is_sym(".") {
            let side = match name.to_ascii_lowercase().as_str() {
                "l" => Side::L,
                "r" => Side::R,
                _ => {
                    return Err(SyntaxError {
                        pos,
                        message: format!("unknown table alias '{name}' (use l. or r.)"),
                    });
                }
            };
            self.next();
            let t = self.next();
            return match t.tok {
                Tok::Ident(c) | Tok::Quoted(c) => Ok(Expr::Column {
                    side: Some(side),
                    name: c,
                    pos,
                }),
                _ => {
                    self.i -= 1;
                    Err(self.err("expected a column name after '.'"))
                }
            };
        }
        Ok(Expr::Column {
            side: None,
            name,
            pos,
        })
    }

    fn ident(&mut self, name: String, pos: usize) -> Result<Expr, SyntaxError> {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "null" => return Ok(Expr::Null),
            "true" => return Ok(Expr::Bool(true)),
            "false" => return Ok(Expr::Bool(false)),
            "case" => return self.case(),
            "cast" | "try_cast" => {
                self.expect_sym("(")?;
                let expr = self.expr()?;
                self.expect_kw("as")?;
                let ty = self.type_name()?;
                self.expect_sym(")")?;
                return Ok(Expr::Cast {
                    expr: Box::new(expr),
                    ty,
                    try_cast: lower == "try_cast",
                });
            }
            _ => {}
        }
        if self.is_sym("(") {
            self.next();
            return self.call(name, lower, pos);
        }
        if RESERVED.contains(&lower.as_str()) {
            return Err(SyntaxError {
                pos,
                message: format!("unexpected keyword '{name}'"),
            });
        }
        self.column_or_qualified(name, pos)
    }

    fn call(&mut self, name: String, lower: String, pos: usize) -> Result<Expr, SyntaxError> {
        let mut args = Vec::new();
        if lower == "extract" {
            // EXTRACT(EPOCH FROM x) -> epoch(x)
            let t = self.next();
            match t.tok {
                Tok::Ident(p) if p.eq_ignore_ascii_case("epoch") => {}
                _ => {
                    return Err(SyntaxError {
                        pos: t.pos,
                        message: "only EXTRACT(EPOCH FROM x) is supported".into(),
                    });
                }
            }
            self.expect_kw("from")?;
            args.push(self.expr()?);
            self.expect_sym(")")?;
            return Ok(Expr::Call {
                name: "epoch".into(),
                args,
                pos,
            });
        }
        if self.eat_sym(")") {
            return Ok(Expr::Call { name, args, pos });
        }
        args.push(self.expr()?);
        if (lower == "substring" || lower == "substr") && self.is_kw("from") {
            self.next();
            args.push(self.expr()?);
            if self.eat_kw("for") {
                args.push(self.expr()?);
            }
            self.expect_sym(")")?;
            return Ok(Expr::Call { name, args, pos });
        }
        while self.eat_sym(",") {
            args.push(self.expr()?);
        }
        self.expect_sym(")")?;
        Ok(Expr::Call { name, args, pos })
    }

    fn case(&mut self) -> Result<Expr, SyntaxError> {
        let operand = if self.is_kw("when") {
            None
        } else {
            Some(Box::new(self.expr()?))
        };
        let mut whens = Vec::new();
        while self.eat_kw("when") {
            let cond = self.expr()?;
            self.expect_kw("then")?;
            let value = self.expr()?;
            whens.push((cond, value));
        }
        if whens.is_empty() {
            return Err(self.err("expected WHEN"));
        }
        let otherwise = if self.eat_kw("else") {
            Some(Box::new(self.expr()?))
        } else {
            None
        };
        self.expect_kw("end")?;
        Ok(Expr::Case {
            operand,
            whens,
            otherwise,
        })
    }
}

fn bin(op: BinOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(side: Option<Side>, name: &str, pos: usize) -> Expr {
        Expr::Column {
            side,
            name: name.into(),
            pos,
        }
    }

    #[test]
    fn parses_precedence_and_columns() {
        let e = parse(r#""a_l" IS NULL OR "a_r" IS NULL AND NOT x_l = 1"#).unwrap();
        let Expr::Binary {
            op: BinOp::Or,
            right,
            ..
        } = e
        else {
            panic!("expected OR at top: {e:?}")
        };
        let Expr::Binary {
            op: BinOp::And,
            right: inner,
            ..
        } = *right
        else {
            panic!("expected AND")
        };
        assert!(matches!(*inner, Expr::Not(_)));
        assert_eq!(
            parse("l.\"First\"").unwrap(),
            col(Some(Side::L), "First", 0)
        );
        assert_eq!(parse("R.x").unwrap(), col(Some(Side::R), "x", 0));
    }

    #[test]
    fn parses_special_forms() {
        assert!(
            matches!(parse("SUBSTRING(x_l FROM 1 FOR 3)").unwrap(), Expr::Call { ref args, .. } if args.len() == 3)
        );
        assert!(matches!(
            parse("x_l::date").unwrap(),
            Expr::Cast {
                ty: CastType::Date,
                ..
            }
        ));
        assert!(matches!(
            parse("CAST(x_l AS VARCHAR(10))").unwrap(),
            Expr::Cast {
                ty: CastType::Text,
                ..
            }
        ));
        assert!(matches!(
            parse("x_l NOT IN ('a', 'b')").unwrap(),
            Expr::In { negated: true, .. }
        ));
        assert!(matches!(
            parse("CASE WHEN a_l > 1 THEN 1 ELSE 0 END").unwrap(),
            Expr::Case { .. }
        ));
        assert!(
            matches!(parse("EXTRACT(EPOCH FROM t_l)").unwrap(), Expr::Call { ref name, .. } if name == "epoch")
        );
        assert_eq!(parse("-1").unwrap(), Expr::Int(-1));
    }

    #[test]
    fn reports_error_positions() {
        assert_eq!(parse("a_l = ").unwrap_err().pos, 6);
        assert_eq!(parse("(a_l = b_r").unwrap_err().pos, 10);
        assert_eq!(parse("a_l = b_r c").unwrap_err().pos, 10);
        assert_eq!(parse("x.a = 1").unwrap_err().pos, 0);
    }
}
