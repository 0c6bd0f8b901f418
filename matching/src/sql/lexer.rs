//! Tokenizer for the SQL expression subset used in Splink conditions and blocking rules.

/// A token kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    /// Bare identifier or keyword (original spelling).
    Ident(String),
    /// `"double quoted"` identifier.
    Quoted(String),
    /// `'single quoted'` string literal.
    Str(String),
    /// Numeric literal text.
    Num(String),
    /// Operator or punctuation.
    Sym(&'static str),
    /// End of input.
    Eof,
}

/// A token with its 0-based character position in the source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) pos: usize,
}

/// A syntax error at a character position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) pos: usize,
    pub(crate) message: String,
}

const SYMBOLS: [&str; 19] = [
    "::", "||", "<>", "!=", "<=", ">=", "==", "(", ")", ",", ".", "+", "-", "*", "/", "%", "=",
    "<", ">",
];

/// Splits `src` into tokens; the last token is always [`Tok::Eof`].
pub(crate) fn tokenize(src: &str) -> Result<Vec<Token>, SyntaxError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        if c == '\'' || c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(SyntaxError {
                            pos: start,
                            message: format!(
                                "unterminated {}",
                                if c == '"' {
                                    "quoted identifier"
                                } else {
                                    "string literal"
                                }
                            ),
                        });
                    }
                    Some(&d) if d == c => {
                        if chars.get(i + 1) == Some(&c) {
                            s.push(c);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&d) => {
                        s.push(d);
                        i += 1;
                    }
                }
            }
            let tok = if c == '"' {
                Tok::Quoted(s)
            } else {
                Tok::Str(s)
            };
            out.push(Token { tok, pos: start });
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let mut s = String::new();
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                s.push(chars[i]);
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    s.extend(&chars[i..j]);
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        s.push(chars[i]);
                        i += 1;
                    }
                }
            }
            if s.matches('.').count() > 1 {
                return Err(SyntaxError {
                    pos: start,
                    message: format!("malformed number '{s}'"),
                });
            }
            out.push(Token {
                tok: Tok::Num(s),
                pos: start,
            });
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let mut s = String::new();
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                s.push(chars[i]);
                i += 1;
            }
            out.push(Token {
                tok: Tok::Ident(s),
                pos: start,
            });
            continue;
        }
        let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
        match SYMBOLS.iter().find(|s| rest.starts_with(**s)) {
            Some(sym) => {
                i += sym.chars().count();
                let sym = if *sym == "==" { "=" } else { sym };
                out.push(Token {
                    tok: Tok::Sym(sym),
                    pos: start,
                });
            }
            None => {
                return Err(SyntaxError {
                    pos: start,
                    message: format!("unexpected character '{c}'"),
                });
            }
        }
    }
    out.push(Token {
        tok: Tok::Eof,
        pos: chars.len(),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_quotes_numbers_and_operators() {
        let t = tokenize(r#"l."first_name" = 'O''Hara' AND x::int >= 1.5e3 || "a""b""#).unwrap();
        let kinds: Vec<Tok> = t.into_iter().map(|t| t.tok).collect();
        assert_eq!(
            kinds,
            vec![
                Tok::Ident("l".into()),
                Tok::Sym("."),
                Tok::Quoted("first_name".into()),
                Tok::Sym("="),
                Tok::Str("O'Hara".into()),
                Tok::Ident("AND".into()),
                Tok::Ident("x".into()),
                Tok::Sym("::"),
                Tok::Ident("int".into()),
                Tok::Sym(">="),
                Tok::Num("1.5e3".into()),
                Tok::Sym("||"),
                Tok::Quoted("a\"b".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn reports_position_of_bad_input() {
        assert_eq!(tokenize("a = 'x").unwrap_err().pos, 4);
        assert_eq!(tokenize("a ? b").unwrap_err().pos, 2);
    }
}
