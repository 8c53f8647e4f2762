//! FHIRPath text to an expression tree: a lexer and a precedence-climbing parser for the
//! grammar of the FHIRPath specification (operators, invocations, indexers, literals,
//! environment variables), restricted to the functions [`Func`] lists.

use std::sync::atomic::AtomicU32;

/// A parse failure, with the byte offset where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Where in the text.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (at offset {})", self.message, self.offset)
    }
}

impl std::error::Error for ParseError {}

/// A member name with a one-entry cache of its element index for the last type it was
/// looked up in: `(type index + 1) << 16 | element index`, `0xffff` for "no such element".
#[derive(Debug)]
pub(crate) struct Name {
    pub(crate) text: Box<str>,
    pub(crate) cache: AtomicU32,
}

impl Name {
    fn new(text: &str) -> Name {
        Name {
            text: text.into(),
            cache: AtomicU32::new(0),
        }
    }
}

/// A type specifier of `is`, `as`, `ofType`: `Quantity`, `FHIR.Patient`, `System.String`.
#[derive(Debug, Clone)]
pub(crate) struct TypeSpec {
    /// `Some("System")` or `Some("FHIR")` when qualified.
    pub(crate) namespace: Option<Box<str>>,
    pub(crate) name: Box<str>,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Union,
    Eq,
    Ne,
    Equiv,
    NotEquiv,
    Lt,
    Gt,
    Le,
    Ge,
    And,
    Or,
    Xor,
    Implies,
    In,
    Contains,
    Concat,
    Add,
    Sub,
    Mul,
    Div,
    IntDiv,
    Mod,
}

/// The functions the evaluator has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Where,
    Select,
    Exists,
    Empty,
    First,
    Last,
    Tail,
    Count,
    Not,
    OfType,
    As,
    Is,
    Extension,
    HasExtension,
    Resolve,
    HasValue,
    StartsWith,
    EndsWith,
    Contains,
    Distinct,
    All,
    Matches,
    IsDistinct,
    Trace,
    Iif,
    Length,
    ToInteger,
    ToString,
    Substring,
    HtmlChecks,
    Children,
    Descendants,
    Combine,
    Single,
    Union,
    Intersect,
    Exclude,
    Repeat,
    AllTrue,
    AllFalse,
    AnyTrue,
    AnyFalse,
    Replace,
    ReplaceMatches,
    LowBoundary,
    HighBoundary,
    Comparable,
}

impl Func {
    fn from_name(name: &str) -> Option<(Func, usize, usize)> {
        use Func::*;
        Some(match name {
            "where" => (Where, 1, 1),
            "select" => (Select, 1, 1),
            "exists" => (Exists, 0, 1),
            "empty" => (Empty, 0, 0),
            "first" => (First, 0, 0),
            "last" => (Last, 0, 0),
            "tail" => (Tail, 0, 0),
            "count" => (Count, 0, 0),
            "not" => (Not, 0, 0),
            "ofType" => (OfType, 1, 1),
            "as" => (As, 1, 1),
            "is" => (Is, 1, 1),
            "extension" => (Extension, 1, 1),
            "hasExtension" => (HasExtension, 1, 1),
            "resolve" => (Resolve, 0, 0),
            "hasValue" => (HasValue, 0, 0),
            "startsWith" => (StartsWith, 1, 1),
            "endsWith" => (EndsWith, 1, 1),
            "contains" => (Contains, 1, 1),
            "distinct" => (Distinct, 0, 0),
            "all" => (All, 1, 1),
            "matches" => (Matches, 1, 1),
            "isDistinct" => (IsDistinct, 0, 0),
            "trace" => (Trace, 1, 2),
            "iif" => (Iif, 2, 3),
            "length" => (Length, 0, 0),
            "toInteger" => (ToInteger, 0, 0),
            "toString" => (ToString, 0, 0),
            "substring" => (Substring, 1, 2),
            "htmlChecks" => (HtmlChecks, 0, 0),
            "children" => (Children, 0, 0),
            "descendants" => (Descendants, 0, 0),
            "combine" => (Combine, 1, 1),
            "single" => (Single, 0, 0),
            "union" => (Union, 1, 1),
            "intersect" => (Intersect, 1, 1),
            "exclude" => (Exclude, 1, 1),
            "repeat" => (Repeat, 1, 1),
            "allTrue" => (AllTrue, 0, 0),
            "allFalse" => (AllFalse, 0, 0),
            "anyTrue" => (AnyTrue, 0, 0),
            "anyFalse" => (AnyFalse, 0, 0),
            "replace" => (Replace, 2, 2),
            "replaceMatches" => (ReplaceMatches, 2, 2),
            "lowBoundary" => (LowBoundary, 0, 1),
            "highBoundary" => (HighBoundary, 0, 1),
            "comparable" => (Comparable, 1, 1),
            _ => return None,
        })
    }

    /// Whether the function takes a type specifier rather than an expression.
    fn takes_type(self) -> bool {
        matches!(self, Func::OfType | Func::As | Func::Is)
    }
}

/// Environment variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Var {
    /// `%resource`
    Resource,
    /// `%rootResource`: the container of a contained resource, else `%resource`
    RootResource,
    /// `%context`
    Context,
    /// `%ucum`, `%sct`, `%loinc`, `%vs-…`, `%ext-…`: constant strings
    Constant(Box<str>),
}

/// An expression tree.
#[derive(Debug)]
pub(crate) enum Expr {
    /// `$this`, or the input of a path's first step.
    This,
    Var(Var),
    String(Box<str>),
    Integer(i64),
    Decimal(f64),
    Bool(bool),
    /// `{}`
    Empty,
    /// A member or type name applied to each item of the target.
    Member(Box<Expr>, Name),
    Index(Box<Expr>, Box<Expr>),
    Call(Box<Expr>, Func, Vec<Expr>, Option<TypeSpec>),
    Binary(Op, Box<Expr>, Box<Expr>),
    Is(Box<Expr>, TypeSpec),
    As(Box<Expr>, TypeSpec),
    Negate(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// A delimited identifier in backquotes.
    Quoted(String),
    String(String),
    Integer(i64),
    Decimal(f64),
    Var(String),
    Special(String),
    Punct(&'static str),
    End,
}

fn lex(text: &str) -> Result<Vec<(Tok, usize)>, ParseError> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    let err = |offset: usize, message: String| ParseError { offset, message };
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let end = text[i + 2..]
                .find("*/")
                .ok_or_else(|| err(i, "unterminated comment".into()))?;
            i += end + 4;
            continue;
        }
        let tok = if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            Tok::Ident(text[start..i].to_string())
        } else if c.is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if b.get(i) == Some(&b'.') && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                Tok::Decimal(
                    text[start..i]
                        .parse()
                        .map_err(|_| err(start, "bad number".into()))?,
                )
            } else {
                Tok::Integer(
                    text[start..i]
                        .parse()
                        .map_err(|_| err(start, "bad number".into()))?,
                )
            }
        } else if c == b'\'' || c == b'`' || c == b'"' {
            // A double-quoted string is not in the grammar, but R5's eld-11 has one, and
            // the reference implementations read it as a string.
            let mut s = String::new();
            i += 1;
            loop {
                match b.get(i) {
                    None => return Err(err(start, "unterminated string".into())),
                    Some(&q) if q == c => {
                        i += 1;
                        break;
                    }
                    Some(b'\\') => {
                        let e = *b.get(i + 1).ok_or_else(|| err(i, "bad escape".into()))?;
                        i += 2;
                        match e {
                            b'n' => s.push('\n'),
                            b't' => s.push('\t'),
                            b'r' => s.push('\r'),
                            b'f' => s.push('\u{c}'),
                            b'u' => {
                                let hex = text
                                    .get(i..i + 4)
                                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                                    .and_then(char::from_u32)
                                    .ok_or_else(|| err(i, "bad unicode escape".into()))?;
                                s.push(hex);
                                i += 4;
                            }
                            other => s.push(other as char),
                        }
                    }
                    Some(_) => {
                        let ch = text[i..].chars().next().expect("in bounds");
                        s.push(ch);
                        i += ch.len_utf8();
                    }
                }
            }
            if c != b'`' {
                Tok::String(s)
            } else {
                Tok::Quoted(s)
            }
        } else if c == b'%' {
            i += 1;
            if b.get(i) == Some(&b'`') || b.get(i) == Some(&b'\'') {
                let q = b[i];
                let close = text[i + 1..]
                    .find(q as char)
                    .ok_or_else(|| err(start, "unterminated variable".into()))?;
                let name = text[i + 1..i + 1 + close].to_string();
                i += close + 2;
                Tok::Var(name)
            } else {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-')
                {
                    i += 1;
                }
                Tok::Var(text[start + 1..i].to_string())
            }
        } else if c == b'$' {
            i += 1;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            Tok::Special(text[start..i].to_string())
        } else {
            const PUNCT: &[&str] = &[
                "<=", ">=", "!=", "!~", ".", "(", ")", "[", "]", "{", "}", ",", "|", "=", "~", "<",
                ">", "+", "-", "*", "/", "&",
            ];
            let p = PUNCT
                .iter()
                .find(|p| text[i..].starts_with(**p))
                .ok_or_else(|| err(i, format!("unexpected character '{}'", c as char)))?;
            i += p.len();
            Tok::Punct(p)
        };
        out.push((tok, start));
    }
    out.push((Tok::End, text.len()));
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
}

/// Parses FHIRPath text into a tree.
pub(crate) fn parse(text: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        toks: lex(text)?,
        pos: 0,
    };
    let e = p.expr(0)?;
    match p.peek() {
        Tok::End => Ok(e),
        t => Err(p.error(format!("unexpected {t:?}"))),
    }
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn error(&self, message: String) -> ParseError {
        ParseError {
            offset: self.toks[self.pos].1,
            message,
        }
    }

    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Tok::Punct(q) if *q == p) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, p: &str) -> Result<(), ParseError> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(self.error(format!("expected '{p}', found {:?}", self.peek())))
        }
    }

    /// The binary operator at the cursor with its precedence (higher binds tighter).
    fn binary_op(&self) -> Option<(Op, u8)> {
        Some(match self.peek() {
            Tok::Punct(p) => match *p {
                "|" => (Op::Union, 7),
                "<" => (Op::Lt, 6),
                ">" => (Op::Gt, 6),
                "<=" => (Op::Le, 6),
                ">=" => (Op::Ge, 6),
                "=" => (Op::Eq, 5),
                "!=" => (Op::Ne, 5),
                "~" => (Op::Equiv, 5),
                "!~" => (Op::NotEquiv, 5),
                "&" => (Op::Concat, 9),
                "+" => (Op::Add, 9),
                "-" => (Op::Sub, 9),
                "*" => (Op::Mul, 10),
                "/" => (Op::Div, 10),
                _ => return None,
            },
            Tok::Ident(w) => match w.as_str() {
                "in" => (Op::In, 4),
                "contains" => (Op::Contains, 4),
                "and" => (Op::And, 3),
                "or" => (Op::Or, 2),
                "xor" => (Op::Xor, 2),
                "implies" => (Op::Implies, 1),
                "div" => (Op::IntDiv, 10),
                "mod" => (Op::Mod, 10),
                _ => return None,
            },
            _ => return None,
        })
    }

    /// Precedence climbing; `is` and `as` bind at level 8 (above `|`, below `&`).
    fn expr(&mut self, min: u8) -> Result<Expr, ParseError> {
        let mut left = self.unary()?;
        loop {
            if let Tok::Ident(w) = self.peek() {
                if (w == "is" || w == "as") && min <= 8 {
                    let is = w == "is";
                    self.next();
                    let spec = self.type_spec()?;
                    left = if is {
                        Expr::Is(Box::new(left), spec)
                    } else {
                        Expr::As(Box::new(left), spec)
                    };
                    continue;
                }
            }
            let Some((op, prec)) = self.binary_op() else {
                break;
            };
            if prec < min {
                break;
            }
            self.next();
            let right = self.expr(prec + 1)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.eat("-") {
            return Ok(Expr::Negate(Box::new(self.unary()?)));
        }
        if self.eat("+") {
            return self.unary();
        }
        let mut e = self.term()?;
        loop {
            if self.eat(".") {
                e = self.invocation(e)?;
            } else if self.eat("[") {
                let index = self.expr(0)?;
                self.expect("]")?;
                e = Expr::Index(Box::new(e), Box::new(index));
            } else {
                return Ok(e);
            }
        }
    }

    fn type_spec(&mut self) -> Result<TypeSpec, ParseError> {
        let first = match self.next() {
            Tok::Ident(s) | Tok::Quoted(s) => s,
            t => return Err(self.error(format!("expected a type name, found {t:?}"))),
        };
        if self.eat(".") {
            let name = match self.next() {
                Tok::Ident(s) | Tok::Quoted(s) => s,
                t => return Err(self.error(format!("expected a type name, found {t:?}"))),
            };
            return Ok(TypeSpec {
                namespace: Some(first.into()),
                name: name.into(),
            });
        }
        Ok(TypeSpec {
            namespace: None,
            name: first.into(),
        })
    }

    /// A name after `.` or at the start of a path: a member, or a function call.
    fn invocation(&mut self, target: Expr) -> Result<Expr, ParseError> {
        let name = match self.next() {
            Tok::Ident(s) | Tok::Quoted(s) => s,
            Tok::Special(s) if s == "$this" => return Ok(target),
            t => return Err(self.error(format!("expected a name, found {t:?}"))),
        };
        if !self.eat("(") {
            return Ok(Expr::Member(Box::new(target), Name::new(&name)));
        }
        let (func, min, max) = Func::from_name(&name)
            .ok_or_else(|| self.error(format!("the function {name}() is not supported")))?;
        let mut args = Vec::new();
        let mut spec = None;
        if !self.eat(")") {
            if func.takes_type() {
                spec = Some(self.type_spec()?);
            } else {
                args.push(self.expr(0)?);
                while self.eat(",") {
                    args.push(self.expr(0)?);
                }
            }
            self.expect(")")?;
        }
        let count = args.len() + usize::from(spec.is_some());
        if count < min || count > max {
            return Err(self.error(format!("{name}() takes {min} to {max} arguments")));
        }
        Ok(Expr::Call(Box::new(target), func, args, spec))
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            Tok::Punct("(") => {
                self.next();
                let e = self.expr(0)?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Punct("{") => {
                self.next();
                self.expect("}")?;
                Ok(Expr::Empty)
            }
            Tok::String(s) => {
                self.next();
                Ok(Expr::String(s.into()))
            }
            Tok::Integer(n) => {
                self.next();
                Ok(Expr::Integer(n))
            }
            Tok::Decimal(d) => {
                self.next();
                Ok(Expr::Decimal(d))
            }
            Tok::Var(v) => {
                self.next();
                Ok(Expr::Var(match v.as_str() {
                    "resource" => Var::Resource,
                    "rootResource" => Var::RootResource,
                    "context" => Var::Context,
                    "ucum" => Var::Constant("http://unitsofmeasure.org".into()),
                    "sct" => Var::Constant("http://snomed.info/sct".into()),
                    "loinc" => Var::Constant("http://loinc.org".into()),
                    _ => {
                        if let Some(rest) = v.strip_prefix("vs-") {
                            Var::Constant(format!("http://hl7.org/fhir/ValueSet/{rest}").into())
                        } else if let Some(rest) = v.strip_prefix("ext-") {
                            Var::Constant(
                                format!("http://hl7.org/fhir/StructureDefinition/{rest}").into(),
                            )
                        } else {
                            return Err(self.error(format!("unknown variable %{v}")));
                        }
                    }
                }))
            }
            Tok::Special(s) => {
                self.next();
                match s.as_str() {
                    "$this" => Ok(Expr::This),
                    _ => Err(self.error(format!("{s} is not supported"))),
                }
            }
            Tok::Ident(w) if w == "true" || w == "false" => {
                self.next();
                Ok(Expr::Bool(w == "true"))
            }
            Tok::Ident(_) | Tok::Quoted(_) => self.invocation(Expr::This),
            t => Err(self.error(format!("unexpected {t:?}"))),
        }
    }
}

/// The expression without the branches of its unions that start with a type name the
/// resource cannot have (`Patient.name | Practitioner.name` evaluated on Patients drops
/// `Practitioner.name`): the core expressions shared by many types evaluate only their own
/// branch. `matches(name)` says whether a leading type name fits the resource.
pub(crate) fn prune(e: Expr, matches: &dyn Fn(&str) -> bool) -> Expr {
    match e {
        Expr::Binary(Op::Union, l, r) => {
            let l = prune(*l, matches);
            let r = prune(*r, matches);
            match (impossible(&l, matches), impossible(&r, matches)) {
                (true, true) => Expr::Empty,
                (true, false) => r,
                (false, true) => l,
                (false, false) => Expr::Binary(Op::Union, Box::new(l), Box::new(r)),
            }
        }
        other if impossible(&other, matches) => Expr::Empty,
        other => other,
    }
}

/// Whether `e` is a path that starts with a type name the resource cannot have, through steps
/// that give nothing for nothing (so the whole path gives nothing).
fn impossible(e: &Expr, matches: &dyn Fn(&str) -> bool) -> bool {
    match e {
        Expr::Empty => true,
        Expr::Member(target, name) => match **target {
            Expr::This => {
                name.text.starts_with(|c: char| c.is_ascii_uppercase()) && !matches(&name.text)
            }
            _ => impossible(target, matches),
        },
        Expr::Index(target, _) | Expr::As(target, _) => impossible(target, matches),
        Expr::Call(target, func, _, _) => {
            use Func::*;
            matches!(
                func,
                Where | Select | First | Last | Tail | OfType | As | Extension | Resolve | Distinct
            ) && impossible(target, matches)
        }
        Expr::Binary(Op::Union, l, r) => impossible(l, matches) && impossible(r, matches),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_forms_of_the_core_expressions() {
        for text in [
            "Patient.name",
            "(ActivityDefinition.useContext.value as CodeableConcept)",
            "Observation.subject.where(resolve() is Patient)",
            "Condition.onset.as(Age) | Condition.onset.as(Range)",
            "Bundle.entry[0].resource as Composition",
            "Patient.deceased.exists() and Patient.deceased != false",
            "Basic.extension('http://example.org').value",
            "(start | requestedPeriod.start).first()",
            "%resource.referenceSeq.chromosome",
            "Patient.telecom.where(system='phone')",
            "value.ofType(FHIR.Quantity)",
        ] {
            parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
        assert!(parse("Patient.name.foo()").is_err());
        assert!(parse("Patient.name.where(").is_err());
    }

    #[test]
    fn unions_keep_the_branches_of_the_type() {
        let e = parse("(A.x as Quantity) | B.y.where(z = 1) | A.w | C.v.exists()").unwrap();
        let pruned = prune(e, &|t| t == "A");
        let text = format!("{pruned:?}");
        assert!(!text.contains("\"y\""), "{text}");
        assert!(
            text.contains("\"x\"") && text.contains("\"w\"") && text.contains("\"v\""),
            "{text}"
        );
        assert!(matches!(
            prune(parse("B.y").unwrap(), &|t| t == "A"),
            Expr::Empty
        ));
    }

    #[test]
    fn as_binds_tighter_than_union() {
        let e = parse("a as X | b").unwrap();
        assert!(matches!(e, Expr::Binary(Op::Union, ref l, _) if matches!(**l, Expr::As(..))));
    }
}
