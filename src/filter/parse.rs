//! The filter grammar (ONEROSTER.md §3.5), liberally read:
//!
//! ```text
//! expr      = term *( AND term ) / term *( OR term )   ; one operator per level
//! term      = "(" expr ")" / predicate                  ; parentheses are an extension
//! predicate = field op "'" value "'"                    ; '' inside a value is a quote
//! op        = "=" / "!=" / ">" / ">=" / "<" / "<=" / "~"
//! ```
//!
//! Keywords are case-insensitive. Outside quotes `+` is whitespace (a form-encoded space the
//! caller left alone); inside quotes it is a literal `+`, as in e-mail addresses.

use crate::domain::datetime::parse_datetime;

use super::fields::is_field_byte;
use super::{Expr, Field, FilterError, Op, Predicate, Resource, ValueKind};

/// Parentheses may nest this deep.
pub const MAX_DEPTH: usize = 16;
/// A filter may hold this many predicates.
pub const MAX_PREDICATES: usize = 100;

/// What the messages about an unquoted value say.
const QUOTES: &str = "values go in single quotes";

/// Parses a percent-decoded `filter` value (in which `+` was not turned into a space).
pub fn parse_filter(resource: Resource, input: &str) -> Result<Expr, FilterError> {
    parse_exact(resource, input).map_err(|e| match e {
        // The commonest mistake is a value without quotes (`givenName=Bob`, `status:active`,
        // an unquoted date whose ':' stops the lexer): say so, with the filter as it should
        // be written when quoting the values makes it parse.
        FilterError::Syntax { position, message } => match requoted(input) {
            Some(fixed) if parse_exact(resource, &fixed).is_ok() => {
                let rule = if message.contains(QUOTES) {
                    String::new()
                } else {
                    format!(" ({QUOTES})")
                };
                FilterError::Syntax {
                    position,
                    message: format!("{message}{rule}; did you mean {fixed}"),
                }
            }
            _ => FilterError::Syntax { position, message },
        },
        other => other,
    })
}

/// `input` with every unquoted value after an operator put in single quotes (a `:` between a
/// field and its value read as `=`); `None` when there is none. A guess for the error
/// message only: what it returns is parsed again before it is shown.
fn requoted(input: &str) -> Option<String> {
    let b = input.as_bytes();
    let mut out = String::with_capacity(input.len() + 8);
    let mut i = 0;
    // Whether the last thing copied was a field name (a `:` after it is an operator).
    let mut after_field = false;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' => {
                // A quoted value, copied as is ('' inside it is a quote).
                let mut j = i + 1;
                while j < b.len() {
                    if b[j] == b'\'' {
                        if b.get(j + 1) == Some(&b'\'') {
                            j += 2;
                            continue;
                        }
                        break;
                    }
                    j += 1;
                }
                let end = (j + 1).min(b.len());
                out.push_str(&input[i..end]);
                i = end;
                after_field = false;
            }
            b'=' | b'~' | b'!' | b'<' | b'>' | b':' if c != b':' || after_field => {
                let mut j = i + 1;
                if c != b':' && b.get(j) == Some(&b'=') {
                    j += 1;
                }
                out.push_str(if c == b':' { "=" } else { &input[i..j] });
                while j < b.len() && matches!(b[j], b' ' | b'+') {
                    j += 1;
                }
                let v = j;
                if v < b.len() && b[v] != b'\'' {
                    while j < b.len() && !matches!(b[j], b' ' | b'\t' | b'+' | b'(' | b')') {
                        j += 1;
                    }
                    // Quotes are ASCII: the slice falls on character boundaries.
                    out.push('\'');
                    out.push_str(&input[v..j].replace('\'', "''"));
                    out.push('\'');
                }
                i = j;
                after_field = false;
            }
            _ => {
                let ch = input[i..].chars().next().unwrap_or(' ');
                after_field = is_field_byte(c) || (after_field && c == b' ');
                out.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    (out != input).then_some(out)
}

/// [`parse_filter`] without the hint.
fn parse_exact(resource: Resource, input: &str) -> Result<Expr, FilterError> {
    let tokens = lex(input)?;
    let mut p = Parser {
        input,
        tokens,
        at: 0,
        resource,
        predicates: 0,
    };
    if p.peek().tok == Tok::End {
        return Err(p.error(0, "the filter is empty".into()));
    }
    let expr = p.expr(0)?;
    let t = p.peek();
    if t.tok != Tok::End {
        return Err(p.error(t.start, format!("unexpected {}", describe(&t.tok))));
    }
    Ok(expr)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Field(String),
    And,
    Or,
    Op(Op),
    Value(String),
    Open,
    Close,
    End,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    /// Byte offset in the input.
    start: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Field(name) => format!("{name:?}"),
        Tok::And => "AND".into(),
        Tok::Or => "OR".into(),
        Tok::Op(op) => format!("operator {op}"),
        Tok::Value(v) => format!("value '{v}'"),
        Tok::Open => "'('".into(),
        Tok::Close => "')'".into(),
        Tok::End => "the end of the filter".into(),
    }
}

/// 1-based character position of a byte offset.
fn position(input: &str, byte: usize) -> usize {
    input.get(..byte).map_or(0, |s| s.chars().count()) + 1
}

fn lex(input: &str) -> Result<Vec<Token>, FilterError> {
    let b = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |at: usize, message: String| FilterError::Syntax {
        position: position(input, at),
        message,
    };
    while i < b.len() {
        let start = i;
        let c = b[i];
        let tok = match c {
            b' ' | b'\t' | b'\r' | b'\n' | b'+' => {
                i += 1;
                continue;
            }
            b'(' => {
                i += 1;
                Tok::Open
            }
            b')' => {
                i += 1;
                Tok::Close
            }
            b'=' | b'~' => {
                i += 1;
                Tok::Op(if c == b'=' { Op::Eq } else { Op::Contains })
            }
            b'!' | b'<' | b'>' => {
                let eq = b.get(i + 1) == Some(&b'=');
                i += 1 + usize::from(eq);
                Tok::Op(match (c, eq) {
                    (b'!', true) => Op::Ne,
                    (b'!', false) => return Err(err(start, "'!' must be followed by '='".into())),
                    (b'<', false) => Op::Lt,
                    (b'<', true) => Op::Le,
                    (_, false) => Op::Gt,
                    (_, true) => Op::Ge,
                })
            }
            b'\'' => {
                let mut value = String::new();
                let mut j = i + 1;
                loop {
                    // Quotes are ASCII, so every slice below falls on a character boundary.
                    let Some(k) = b[j..].iter().position(|&x| x == b'\'') else {
                        return Err(err(start, "unterminated quoted value".into()));
                    };
                    value.push_str(&input[j..j + k]);
                    j += k + 1;
                    if b.get(j) == Some(&b'\'') {
                        value.push('\'');
                        j += 1;
                    } else {
                        break;
                    }
                }
                i = j;
                Tok::Value(value)
            }
            _ if is_field_byte(c) => {
                while i < b.len() && is_field_byte(b[i]) {
                    i += 1;
                }
                let word = &input[start..i];
                if word.eq_ignore_ascii_case("and") {
                    Tok::And
                } else if word.eq_ignore_ascii_case("or") {
                    Tok::Or
                } else {
                    Tok::Field(word.to_owned())
                }
            }
            _ => {
                let ch = input[start..].chars().next().unwrap_or('?');
                let rule = match out.last() {
                    Some(Token {
                        tok: Tok::Op(_), ..
                    }) => format!(" ({QUOTES})"),
                    _ => String::new(),
                };
                return Err(err(start, format!("unexpected character {ch:?}{rule}")));
            }
        };
        out.push(Token { tok, start });
    }
    out.push(Token {
        tok: Tok::End,
        start: b.len(),
    });
    Ok(out)
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    at: usize,
    resource: Resource,
    predicates: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Token {
        // The lexer always ends the list with `End`, and `next` never moves past it.
        self.tokens[self.at.min(self.tokens.len() - 1)].clone()
    }

    fn next(&mut self) -> Token {
        let t = self.peek();
        if t.tok != Tok::End {
            self.at += 1;
        }
        t
    }

    fn error(&self, byte: usize, message: String) -> FilterError {
        FilterError::Syntax {
            position: position(self.input, byte),
            message,
        }
    }

    fn expr(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let mut items = vec![self.term(depth)?];
        let mut logic: Option<Tok> = None;
        loop {
            let t = self.peek();
            if !matches!(t.tok, Tok::And | Tok::Or) {
                break;
            }
            match &logic {
                Some(l) if *l != t.tok => {
                    return Err(self.error(
                        t.start,
                        "AND and OR cannot be mixed without parentheses".into(),
                    ));
                }
                _ => logic = Some(t.tok.clone()),
            }
            self.next();
            items.push(self.term(depth)?);
        }
        Ok(match logic {
            None => items.pop().expect("one term"),
            Some(Tok::And) => Expr::And(items),
            Some(_) => Expr::Or(items),
        })
    }

    fn term(&mut self, depth: usize) -> Result<Expr, FilterError> {
        let t = self.next();
        match t.tok {
            Tok::Open => {
                if depth >= MAX_DEPTH {
                    return Err(
                        self.error(t.start, format!("parentheses nest deeper than {MAX_DEPTH}"))
                    );
                }
                let e = self.expr(depth + 1)?;
                let close = self.next();
                if close.tok != Tok::Close {
                    return Err(self.error(
                        close.start,
                        format!("expected ')' but found {}", describe(&close.tok)),
                    ));
                }
                Ok(e)
            }
            Tok::Field(name) => self.predicate(name, t.start).map(Expr::Pred),
            other => Err(self.error(
                t.start,
                format!("expected a field name but found {}", describe(&other)),
            )),
        }
    }

    fn predicate(&mut self, name: String, start: usize) -> Result<Predicate, FilterError> {
        self.predicates += 1;
        if self.predicates > MAX_PREDICATES {
            return Err(self.error(start, format!("more than {MAX_PREDICATES} predicates")));
        }
        let t = self.next();
        let Tok::Op(op) = t.tok else {
            return Err(self.error(
                t.start,
                format!(
                    "expected an operator after {name:?} but found {}",
                    describe(&t.tok)
                ),
            ));
        };
        let t = self.next();
        let Tok::Value(value) = t.tok else {
            return Err(self.error(
                t.start,
                format!(
                    "expected a value after {name}{op} but found {} ({QUOTES})",
                    describe(&t.tok)
                ),
            ));
        };
        let field = Field::resolve(self.resource, &name).ok_or(FilterError::UnknownField(name))?;
        check(&field, op, &value)?;
        Ok(Predicate { field, op, value })
    }
}

impl Predicate {
    /// Checks what the parser checks after resolving the field: a datetime value must parse,
    /// `~` does not apply to datetimes, lists have no order and their elements no commas.
    pub fn validate(&self) -> Result<(), FilterError> {
        check(&self.field, self.op, &self.value)
    }
}

/// Rejects what storage could not answer sensibly.
fn check(field: &Field, op: Op, value: &str) -> Result<(), FilterError> {
    let unsupported = || FilterError::UnsupportedOperator {
        field: field.name(),
        op,
    };
    let invalid = |reason| FilterError::InvalidValue {
        field: field.name(),
        value: value.to_owned(),
        reason,
    };
    if field.kind() == ValueKind::DateTime {
        if op == Op::Contains {
            return Err(unsupported());
        }
        if parse_datetime(value).is_none() {
            return Err(invalid(
                "expected a datetime such as 2024-04-01T00:00:00.000Z",
            ));
        }
    }
    if let Field::List(_) = field {
        if op.is_ordering() {
            return Err(unsupported());
        }
        if matches!(op, Op::Eq | Op::Ne) && value.contains(',') {
            return Err(invalid("a list element cannot contain a comma"));
        }
    }
    Ok(())
}
