//! JSON Patch ([RFC 6902](https://www.rfc-editor.org/rfc/rfc6902)) with JSON Pointer
//! ([RFC 6901](https://www.rfc-editor.org/rfc/rfc6901)), applied to the untyped
//! [`Value`] of fhir-model: what a FHIR `PATCH` with `application/json-patch+json` does.
//!
//! [`parse_patch`] reads a patch document into [`PatchOp`]s, checking its shape and the syntax
//! of its pointers; [`apply_patch`] applies the operations in order, all or nothing. Numbers
//! keep their exact text (`1.50` stays `1.50`), and objects keep their member order: `add`
//! replaces an existing member where it stands and appends a new one at the end.
//!
//! ```
//! use fhir_model::json::{self, Value};
//! use fhir_rocket::patch::{apply_patch, parse_patch};
//!
//! let mut patient = Value::parse(
//!     r#"{"resourceType":"Patient","name":[{"family":"Doe","given":["Jane"]}]}"#,
//! )
//! .unwrap();
//! let ops = parse_patch(
//!     r#"[
//!         {"op": "test", "path": "/name/0/family", "value": "Doe"},
//!         {"op": "replace", "path": "/name/0/family", "value": "Roe"},
//!         {"op": "add", "path": "/name/0/given/-", "value": "Ann"},
//!         {"op": "add", "path": "/active", "value": true}
//!     ]"#,
//! )
//! .unwrap();
//! apply_patch(&mut patient, &ops).unwrap();
//! assert_eq!(
//!     json::to_string(&patient),
//!     r#"{"resourceType":"Patient","name":[{"family":"Roe","given":["Jane","Ann"]}],"active":true}"#
//! );
//!
//! // All or nothing: the second operation fails, so the first is not kept either.
//! let ops = parse_patch(
//!     r#"[{"op": "remove", "path": "/active"}, {"op": "remove", "path": "/telecom"}]"#,
//! )
//! .unwrap();
//! let err = apply_patch(&mut patient, &ops).unwrap_err();
//! assert_eq!(err.to_string(), "operation 1 (remove /telecom): no such member 'telecom'");
//! assert!(patient.get("active").is_some());
//! ```

use std::fmt;

use fhir_model::json::{self, Value};

/// One operation of a JSON Patch document.
///
/// `path` and `from` are JSON Pointers as written (escaped with `~0` and `~1`); `""` is the
/// whole document. Operations built in code are checked when applied, like parsed ones.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PatchOp {
    /// Adds `value` at `path`: sets an object member (replacing one of that name, in its
    /// place), inserts into an array (`-` appends), or replaces the whole document.
    Add {
        /// Where to add.
        path: String,
        /// What to add.
        value: Value,
    },
    /// Removes the value at `path`, which must exist.
    Remove {
        /// What to remove.
        path: String,
    },
    /// Replaces the value at `path`, which must exist.
    Replace {
        /// What to replace.
        path: String,
        /// The new value.
        value: Value,
    },
    /// Removes the value at `from` and adds it at `path`.
    Move {
        /// What to move; must not be a proper prefix of `path`.
        from: String,
        /// Where to add it.
        path: String,
    },
    /// Adds a copy of the value at `from` at `path`.
    Copy {
        /// What to copy.
        from: String,
        /// Where to add the copy.
        path: String,
    },
    /// Checks that the value at `path` equals `value` (object member order and the spelling
    /// of numbers do not matter).
    Test {
        /// What to check.
        path: String,
        /// The expected value.
        value: Value,
    },
}

impl PatchOp {
    /// The `op` name: `add`, `remove`, `replace`, `move`, `copy` or `test`.
    pub fn name(&self) -> &'static str {
        match self {
            PatchOp::Add { .. } => "add",
            PatchOp::Remove { .. } => "remove",
            PatchOp::Replace { .. } => "replace",
            PatchOp::Move { .. } => "move",
            PatchOp::Copy { .. } => "copy",
            PatchOp::Test { .. } => "test",
        }
    }

    /// The target location (`path`).
    pub fn path(&self) -> &str {
        match self {
            PatchOp::Add { path, .. }
            | PatchOp::Remove { path }
            | PatchOp::Replace { path, .. }
            | PatchOp::Move { path, .. }
            | PatchOp::Copy { path, .. }
            | PatchOp::Test { path, .. } => path,
        }
    }

    /// The source location (`from`) of `move` and `copy`.
    pub fn from(&self) -> Option<&str> {
        match self {
            PatchOp::Move { from, .. } | PatchOp::Copy { from, .. } => Some(from),
            _ => None,
        }
    }

    /// A short description for messages, like `replace /name/0/family`.
    fn describe(&self) -> String {
        match self.from() {
            Some(from) => format!(
                "{} from {} to {}",
                self.name(),
                show_pointer(from),
                show_pointer(self.path())
            ),
            None => format!("{} {}", self.name(), show_pointer(self.path())),
        }
    }
}

/// What kind of failure a [`PatchError`] is, for choosing a response status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatchErrorKind {
    /// The patch itself is malformed: not JSON, not an array of operation objects, an unknown
    /// or incomplete operation, or a pointer that is not a JSON Pointer.
    InvalidPatch,
    /// The patch is well formed but cannot be applied to this document: a location that does
    /// not exist, an array index out of bounds, a value moved into itself, ...
    CannotApply,
    /// A `test` operation found a different value.
    TestFailed,
}

/// Why a patch could not be parsed or applied.
///
/// Displays as `operation 2 (replace /name/0/family): no such member 'name'`; errors about
/// the document as a whole have no operation index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchError {
    index: Option<usize>,
    operation: Option<String>,
    kind: PatchErrorKind,
    message: String,
}

impl PatchError {
    /// The index (from 0) of the failing operation, if the error is about one.
    pub fn index(&self) -> Option<usize> {
        self.index
    }

    /// The failing operation as described in the message (like `replace /name/0/family`), if
    /// the error happened while applying it.
    pub fn operation(&self) -> Option<&str> {
        self.operation.as_deref()
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> PatchErrorKind {
        self.kind
    }

    /// What went wrong, without the operation prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn whole(message: String) -> Self {
        PatchError {
            index: None,
            operation: None,
            kind: PatchErrorKind::InvalidPatch,
            message,
        }
    }
}

impl fmt::Display for PatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.index, &self.operation) {
            (Some(i), Some(op)) => write!(f, "operation {i} ({op}): {}", self.message),
            (Some(i), None) => write!(f, "operation {i}: {}", self.message),
            (None, _) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for PatchError {}

/// Parses a JSON Patch document (a JSON array of operation objects) from text.
///
/// Each operation needs an `op` member naming one of the six operations and the members that
/// operation defines (`path`, plus `value` or `from`), each given once; `path` and `from` must
/// be JSON Pointers. Other members are ignored, as RFC 6902 section 4 requires.
///
/// ```
/// use fhir_rocket::patch::{parse_patch, PatchOp};
/// let ops = parse_patch(r#"[{"op": "remove", "path": "/a~1b"}]"#).unwrap();
/// assert_eq!(ops, vec![PatchOp::Remove { path: "/a~1b".into() }]);
///
/// let err = parse_patch(r#"[{"op": "remove", "path": "/a"}, {"op": "delete", "path": "/b"}]"#)
///     .unwrap_err();
/// assert_eq!(err.index(), Some(1));
/// assert!(err.to_string().starts_with("operation 1: unknown operation 'delete'"), "{err}");
/// ```
pub fn parse_patch(text: &str) -> Result<Vec<PatchOp>, PatchError> {
    let document = Value::parse(text).map_err(|e| {
        PatchError::whole(format!(
            "the patch is not valid JSON: {} (line {}, column {})",
            e.message(),
            e.line(),
            e.column()
        ))
    })?;
    let Value::Array(items) = document else {
        return Err(PatchError::whole(format!(
            "a JSON Patch document must be an array of operations, not {}",
            document.kind()
        )));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            parse_op(item).map_err(|message| PatchError {
                index: Some(i),
                operation: None,
                kind: PatchErrorKind::InvalidPatch,
                message,
            })
        })
        .collect()
}

/// One member of an operation object: how often it occurs and its first value.
#[derive(Default)]
struct Member {
    count: usize,
    value: Option<Value>,
}

impl Member {
    fn take(&mut self, name: &str) -> Result<Value, String> {
        match (self.count, self.value.take()) {
            (1, Some(value)) => Ok(value),
            (0, _) | (_, None) => Err(format!("missing member '{name}'")),
            _ => Err(format!("duplicate member '{name}'")),
        }
    }

    fn take_pointer(&mut self, name: &str) -> Result<String, String> {
        match self.take(name)? {
            Value::String(pointer) => {
                parse_pointer(&pointer).map_err(|e| format!("member '{name}': {e}"))?;
                Ok(pointer)
            }
            other => Err(format!(
                "member '{name}' must be a string (a JSON Pointer), not {}",
                other.kind()
            )),
        }
    }
}

fn parse_op(item: Value) -> Result<PatchOp, String> {
    let Value::Object(members) = item else {
        return Err(format!(
            "an operation must be an object, not {}",
            item.kind()
        ));
    };
    let (mut op, mut path, mut from, mut value) = Default::default();
    for (key, v) in members {
        let member: &mut Member = match key.as_str() {
            "op" => &mut op,
            "path" => &mut path,
            "from" => &mut from,
            "value" => &mut value,
            _ => continue,
        };
        member.count += 1;
        if member.value.is_none() {
            member.value = Some(v);
        }
    }
    let name = match op.take("op")? {
        Value::String(name) => name,
        other => {
            return Err(format!(
                "member 'op' must be a string, not {}",
                other.kind()
            ))
        }
    };
    Ok(match name.as_str() {
        "add" => PatchOp::Add {
            path: path.take_pointer("path")?,
            value: value.take("value")?,
        },
        "remove" => PatchOp::Remove {
            path: path.take_pointer("path")?,
        },
        "replace" => PatchOp::Replace {
            path: path.take_pointer("path")?,
            value: value.take("value")?,
        },
        "move" => PatchOp::Move {
            from: from.take_pointer("from")?,
            path: path.take_pointer("path")?,
        },
        "copy" => PatchOp::Copy {
            from: from.take_pointer("from")?,
            path: path.take_pointer("path")?,
        },
        "test" => PatchOp::Test {
            path: path.take_pointer("path")?,
            value: value.take("value")?,
        },
        _ => {
            return Err(format!(
                "unknown operation '{name}' (expected add, remove, replace, move, copy or test)"
            ))
        }
    })
}

/// Applies the operations in order to `target`; all or nothing: on error `target` is
/// unchanged.
///
/// ```
/// use fhir_model::json::{self, Value};
/// use fhir_rocket::patch::{apply_patch, PatchErrorKind, PatchOp};
/// let mut doc = Value::parse(r#"{"a":[1,2]}"#).unwrap();
/// let ops = [
///     PatchOp::Add { path: "/a/-".into(), value: Value::Number("3.50".into()) },
///     PatchOp::Test { path: "/a/2".into(), value: Value::Number("3.5".into()) },
///     PatchOp::Move { from: "/a/0".into(), path: "/first".into() },
/// ];
/// apply_patch(&mut doc, &ops).unwrap();
/// assert_eq!(json::to_string(&doc), r#"{"a":[2,3.50],"first":1}"#);
///
/// let err = apply_patch(&mut doc, &[PatchOp::Test { path: "/first".into(), value: Value::Null }])
///     .unwrap_err();
/// assert_eq!(err.kind(), PatchErrorKind::TestFailed);
/// ```
pub fn apply_patch(target: &mut Value, ops: &[PatchOp]) -> Result<(), PatchError> {
    if ops.is_empty() {
        return Ok(());
    }
    let mut work = target.clone();
    for (i, op) in ops.iter().enumerate() {
        apply_one(&mut work, op).map_err(|failure| PatchError {
            index: Some(i),
            operation: Some(op.describe()),
            kind: failure.kind,
            message: failure.message,
        })?;
    }
    *target = work;
    Ok(())
}

/// A failed operation, before it is tied to its index.
struct Failure {
    kind: PatchErrorKind,
    message: String,
}

impl Failure {
    fn cannot(message: String) -> Self {
        Failure {
            kind: PatchErrorKind::CannotApply,
            message,
        }
    }

    fn invalid(message: String) -> Self {
        Failure {
            kind: PatchErrorKind::InvalidPatch,
            message,
        }
    }
}

fn pointer(text: &str) -> Result<Vec<String>, Failure> {
    parse_pointer(text).map_err(Failure::invalid)
}

fn apply_one(doc: &mut Value, op: &PatchOp) -> Result<(), Failure> {
    match op {
        PatchOp::Add { path, value } => add(doc, &pointer(path)?, value.clone()),
        PatchOp::Remove { path } => remove(doc, &pointer(path)?).map(drop),
        PatchOp::Replace { path, value } => {
            *resolve_mut(doc, &pointer(path)?)? = value.clone();
            Ok(())
        }
        PatchOp::Move { from, path } => {
            let from_tokens = pointer(from)?;
            let path_tokens = pointer(path)?;
            if from_tokens.len() < path_tokens.len() && path_tokens.starts_with(&from_tokens) {
                return Err(Failure::cannot(format!(
                    "cannot move {} into itself (to {})",
                    show_pointer(from),
                    show_pointer(path)
                )));
            }
            if from_tokens == path_tokens {
                // Removing and adding back at the same place changes nothing, but the
                // location must exist.
                resolve(doc, &from_tokens)?;
                return Ok(());
            }
            let value = remove(doc, &from_tokens)?;
            add(doc, &path_tokens, value)
        }
        PatchOp::Copy { from, path } => {
            let path_tokens = pointer(path)?;
            let value = resolve(doc, &pointer(from)?)?.clone();
            add(doc, &path_tokens, value)
        }
        PatchOp::Test { path, value } => {
            let tokens = pointer(path)?;
            let actual = resolve(doc, &tokens)?;
            if json_equal(actual, value) {
                Ok(())
            } else {
                Err(Failure {
                    kind: PatchErrorKind::TestFailed,
                    message: format!(
                        "test failed: {} is {}, expected {}",
                        place(&tokens),
                        preview(actual),
                        preview(value)
                    ),
                })
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON Pointer

/// Splits a JSON Pointer into its unescaped reference tokens.
fn parse_pointer(text: &str) -> Result<Vec<String>, String> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = text.strip_prefix('/') else {
        return Err(format!(
            "'{text}' is not a JSON Pointer: it must be empty or start with '/'"
        ));
    };
    rest.split('/')
        .map(|token| {
            unescape(token).ok_or_else(|| {
                format!("'{text}' is not a JSON Pointer: '~' must be followed by '0' or '1'")
            })
        })
        .collect()
}

fn unescape(token: &str) -> Option<String> {
    if !token.contains('~') {
        return Some(token.to_owned());
    }
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The pointer to `tokens`, or "the document" for the root, for messages.
fn place(tokens: &[String]) -> String {
    if tokens.is_empty() {
        "the document".to_owned()
    } else {
        tokens.iter().map(|t| format!("/{}", escape(t))).collect()
    }
}

/// A pointer as written, with the empty pointer shown as `""`.
fn show_pointer(pointer: &str) -> &str {
    if pointer.is_empty() {
        "\"\""
    } else {
        pointer
    }
}

/// A reference token used on an array.
enum ArrayIndex {
    /// `-`: the (nonexistent) element after the last.
    End,
    /// A valid index; `None` if it does not even fit in `usize`.
    At(Option<usize>),
}

fn array_index(token: &str, at: &[String]) -> Result<ArrayIndex, Failure> {
    if token == "-" {
        return Ok(ArrayIndex::End);
    }
    let bytes = token.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(Failure::cannot(format!(
            "'{token}' is not an array index (in {})",
            place(at)
        )));
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return Err(Failure::cannot(format!(
            "array index '{token}' must not have leading zeros (in {})",
            place(at)
        )));
    }
    Ok(ArrayIndex::At(token.parse().ok()))
}

fn out_of_bounds(token: &str, len: usize, at: &[String]) -> Failure {
    Failure::cannot(format!(
        "index {token} is out of bounds for {} (length {len})",
        place(at)
    ))
}

/// The index of an existing element of an array of `len` items.
fn existing_index(token: &str, len: usize, at: &[String]) -> Result<usize, Failure> {
    match array_index(token, at)? {
        ArrayIndex::At(Some(i)) if i < len => Ok(i),
        ArrayIndex::At(_) => Err(out_of_bounds(token, len, at)),
        ArrayIndex::End => Err(Failure::cannot(format!(
            "'-' refers to no existing element of {} (it only appends, in add, move and copy)",
            place(at)
        ))),
    }
}

fn no_member(name: &str, at: &[String]) -> Failure {
    if at.is_empty() {
        Failure::cannot(format!("no such member '{name}'"))
    } else {
        Failure::cannot(format!("no such member '{name}' in {}", place(at)))
    }
}

fn not_container(value: &Value, token: &str, at: &[String]) -> Failure {
    Failure::cannot(format!(
        "cannot find '{token}' in {}: it is {}, not an object or array",
        place(at),
        value.kind()
    ))
}

/// The value at `tokens`, which must exist.
fn resolve<'v>(doc: &'v Value, tokens: &[String]) -> Result<&'v Value, Failure> {
    let mut current = doc;
    for (depth, token) in tokens.iter().enumerate() {
        let at = &tokens[..depth];
        current = match current {
            Value::Object(members) => members
                .iter()
                .find(|(k, _)| k == token)
                .map(|(_, v)| v)
                .ok_or_else(|| no_member(token, at))?,
            Value::Array(items) => &items[existing_index(token, items.len(), at)?],
            other => return Err(not_container(other, token, at)),
        };
    }
    Ok(current)
}

/// The value at `tokens`, which must exist, mutably.
fn resolve_mut<'v>(doc: &'v mut Value, tokens: &[String]) -> Result<&'v mut Value, Failure> {
    let mut current = doc;
    for (depth, token) in tokens.iter().enumerate() {
        let at = &tokens[..depth];
        current = match current {
            Value::Object(members) => members
                .iter_mut()
                .find(|(k, _)| k == token)
                .map(|(_, v)| v)
                .ok_or_else(|| no_member(token, at))?,
            Value::Array(items) => {
                let i = existing_index(token, items.len(), at)?;
                &mut items[i]
            }
            other => return Err(not_container(other, token, at)),
        };
    }
    Ok(current)
}

fn add(doc: &mut Value, tokens: &[String], value: Value) -> Result<(), Failure> {
    let Some((last, at)) = tokens.split_last() else {
        *doc = value;
        return Ok(());
    };
    match resolve_mut(doc, at)? {
        Value::Object(members) => match members.iter_mut().find(|(k, _)| k == last) {
            Some((_, slot)) => *slot = value,
            None => members.push((last.clone(), value)),
        },
        Value::Array(items) => match array_index(last, at)? {
            ArrayIndex::End => items.push(value),
            ArrayIndex::At(Some(i)) if i <= items.len() => items.insert(i, value),
            ArrayIndex::At(_) => return Err(out_of_bounds(last, items.len(), at)),
        },
        other => return Err(not_container(other, last, at)),
    }
    Ok(())
}

fn remove(doc: &mut Value, tokens: &[String]) -> Result<Value, Failure> {
    let Some((last, at)) = tokens.split_last() else {
        return Err(Failure::cannot(
            "cannot remove the whole document".to_owned(),
        ));
    };
    match resolve_mut(doc, at)? {
        Value::Object(members) => match members.iter().position(|(k, _)| k == last) {
            Some(i) => Ok(members.remove(i).1),
            None => Err(no_member(last, at)),
        },
        Value::Array(items) => {
            let i = existing_index(last, items.len(), at)?;
            Ok(items.remove(i))
        }
        other => Err(not_container(other, last, at)),
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing values

/// A value as compact JSON, shortened for messages.
fn preview(value: &Value) -> String {
    const MAX: usize = 100;
    let text = json::to_string(value);
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// Equality as RFC 6902 `test` defines it: same type; numbers numerically equal; strings,
/// booleans and null identical; arrays item by item; objects the same members in any order.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => numbers_equal(x, y),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            if x.len() != y.len() {
                return false;
            }
            let mut x: Vec<_> = x.iter().collect();
            let mut y: Vec<_> = y.iter().collect();
            x.sort_by(|a, b| a.0.cmp(&b.0));
            y.sort_by(|a, b| a.0.cmp(&b.0));
            x.iter()
                .zip(&y)
                .all(|(a, b)| a.0 == b.0 && json_equal(&a.1, &b.1))
        }
        _ => false,
    }
}

/// Compares two numbers as exact decimals; text that is not a JSON number (only possible
/// for values built in code) or has an absurd exponent compares as text.
fn numbers_equal(a: &str, b: &str) -> bool {
    match (decimal(a), decimal(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// A JSON number as `(negative, significant digits, exponent)` with `value = digits × 10^exp`,
/// the digits without leading or trailing zeros; zero is `(false, "", 0)`.
fn decimal(text: &str) -> Option<(bool, String, i128)> {
    let (negative, rest) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(p) => (&rest[..p], Some(&rest[p + 1..])),
        None => (rest, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (mantissa, None),
    };
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(int) || (int.len() > 1 && int.starts_with('0')) {
        return None;
    }
    if frac.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    let frac = frac.unwrap_or("");
    let mut exp: i128 = match exponent {
        None => 0,
        Some(e) => {
            let (sign, digits) = match e.as_bytes().first() {
                Some(b'-') => (-1, &e[1..]),
                Some(b'+') => (1, &e[1..]),
                _ => (1, e),
            };
            if !all_digits(digits) {
                return None;
            }
            let digits = digits.trim_start_matches('0');
            if digits.len() > 30 {
                return None;
            }
            let magnitude: i128 = if digits.is_empty() {
                0
            } else {
                digits.parse().ok()?
            };
            sign * magnitude
        }
    };
    exp = exp.checked_sub(i128::try_from(frac.len()).ok()?)?;
    let mut digits = String::with_capacity(int.len() + frac.len());
    digits.push_str(int.trim_start_matches('0'));
    if digits.is_empty() {
        digits.push_str(frac.trim_start_matches('0'));
    } else {
        digits.push_str(frac);
    }
    let trimmed = digits.trim_end_matches('0').len();
    exp = exp.checked_add(i128::try_from(digits.len() - trimmed).ok()?)?;
    digits.truncate(trimmed);
    if digits.is_empty() {
        return Some((false, digits, 0));
    }
    Some((negative, digits, exp))
}

/// Applies a JSON Patch to a resource, as a `#[patch]` provider does: the resource is written
/// as JSON, patched, and read back strictly, so the result is a valid resource or an error.
/// A malformed patch is 400; a patch that cannot apply, whose `test` fails, or whose result
/// is not a valid resource is 422.
///
/// ```
/// use fhir_rocket::model::r4::Patient;
/// use fhir_rocket::patch::{apply_to, parse_patch};
/// let patient = Patient::from_json(r#"{"resourceType":"Patient","active":true}"#).unwrap();
/// let ops = parse_patch(r#"[{"op":"replace","path":"/active","value":false}]"#).unwrap();
/// let patched = apply_to(&patient, &ops).unwrap();
/// assert_eq!(patched.to_json(), r#"{"resourceType":"Patient","active":false}"#);
/// ```
pub fn apply_to<T: fhir_model::json::JsonValue>(
    resource: &T,
    ops: &[PatchOp],
) -> Result<T, crate::FhirError> {
    use crate::FhirError;
    use fhir_model::json;
    let mut value = Value::parse(&json::to_string(resource)).map_err(FhirError::internal)?;
    apply_patch(&mut value, ops).map_err(|e| match e.kind() {
        PatchErrorKind::InvalidPatch => FhirError::bad_request(e.to_string()),
        _ => FhirError::unprocessable(e.to_string()),
    })?;
    json::from_str(&json::to_string(&value))
        .map_err(|e| FhirError::unprocessable(format!("the patched resource is not valid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Value {
        Value::parse(text).unwrap_or_else(|e| panic!("bad test JSON {text}: {e}"))
    }

    /// Applies `patch` to `doc` and returns the result as compact JSON.
    fn patched(doc: &str, patch: &str) -> Result<String, PatchError> {
        let mut value = parse(doc);
        let before = value.clone();
        let ops = parse_patch(patch)?;
        match apply_patch(&mut value, &ops) {
            Ok(()) => Ok(json::to_string(&value)),
            Err(e) => {
                assert_eq!(value, before, "a failed patch changed the document");
                Err(e)
            }
        }
    }

    fn ok(doc: &str, patch: &str) -> String {
        patched(doc, patch).unwrap_or_else(|e| panic!("patch {patch} failed: {e}"))
    }

    fn err(doc: &str, patch: &str) -> PatchError {
        match patched(doc, patch) {
            Ok(result) => panic!("patch {patch} should fail, gave {result}"),
            Err(e) => e,
        }
    }

    /// Asserts that the result equals `expected` as JSON (member order ignored).
    fn assert_json_eq(actual: &str, expected: &str) {
        assert!(
            json_equal(&parse(actual), &parse(expected)),
            "{actual} != {expected}"
        );
    }

    // --- RFC 6902 appendix A -------------------------------------------------------------------

    #[test]
    fn a01_adding_an_object_member() {
        let out = ok(
            r#"{"foo":"bar"}"#,
            r#"[{ "op": "add", "path": "/baz", "value": "qux" }]"#,
        );
        assert_json_eq(&out, r#"{"baz":"qux","foo":"bar"}"#);
        assert_eq!(out, r#"{"foo":"bar","baz":"qux"}"#);
    }

    #[test]
    fn a02_adding_an_array_element() {
        let out = ok(
            r#"{"foo":["bar","baz"]}"#,
            r#"[{ "op": "add", "path": "/foo/1", "value": "qux" }]"#,
        );
        assert_eq!(out, r#"{"foo":["bar","qux","baz"]}"#);
    }

    #[test]
    fn a03_removing_an_object_member() {
        let out = ok(
            r#"{"baz":"qux","foo":"bar"}"#,
            r#"[{ "op": "remove", "path": "/baz" }]"#,
        );
        assert_eq!(out, r#"{"foo":"bar"}"#);
    }

    #[test]
    fn a04_removing_an_array_element() {
        let out = ok(
            r#"{"foo":["bar","qux","baz"]}"#,
            r#"[{ "op": "remove", "path": "/foo/1" }]"#,
        );
        assert_eq!(out, r#"{"foo":["bar","baz"]}"#);
    }

    #[test]
    fn a05_replacing_a_value() {
        let out = ok(
            r#"{"baz":"qux","foo":"bar"}"#,
            r#"[{ "op": "replace", "path": "/baz", "value": "boo" }]"#,
        );
        assert_eq!(out, r#"{"baz":"boo","foo":"bar"}"#);
    }

    #[test]
    fn a06_moving_a_value() {
        let out = ok(
            r#"{"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}}"#,
            r#"[{ "op": "move", "from": "/foo/waldo", "path": "/qux/thud" }]"#,
        );
        assert_eq!(
            out,
            r#"{"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}}"#
        );
    }

    #[test]
    fn a07_moving_an_array_element() {
        let out = ok(
            r#"{"foo":["all","grass","cows","eat"]}"#,
            r#"[{ "op": "move", "from": "/foo/1", "path": "/foo/3" }]"#,
        );
        assert_eq!(out, r#"{"foo":["all","cows","eat","grass"]}"#);
    }

    #[test]
    fn a08_testing_a_value_success() {
        let doc = r#"{"baz":"qux","foo":["a",2,"c"]}"#;
        let out = ok(
            doc,
            r#"[
                { "op": "test", "path": "/baz", "value": "qux" },
                { "op": "test", "path": "/foo/1", "value": 2 }
            ]"#,
        );
        assert_eq!(out, doc);
    }

    #[test]
    fn a09_testing_a_value_error() {
        let e = err(
            r#"{"baz":"qux"}"#,
            r#"[{ "op": "test", "path": "/baz", "value": "bar" }]"#,
        );
        assert_eq!(e.kind(), PatchErrorKind::TestFailed);
        assert_eq!(e.index(), Some(0));
        assert_eq!(
            e.to_string(),
            r#"operation 0 (test /baz): test failed: /baz is "qux", expected "bar""#
        );
    }

    #[test]
    fn a10_adding_a_nested_member_object() {
        let out = ok(
            r#"{"foo":"bar"}"#,
            r#"[{ "op": "add", "path": "/child", "value": { "grandchild": { } } }]"#,
        );
        assert_eq!(out, r#"{"foo":"bar","child":{"grandchild":{}}}"#);
    }

    #[test]
    fn a11_ignoring_unrecognized_elements() {
        let out = ok(
            r#"{"foo":"bar"}"#,
            r#"[{ "op": "add", "path": "/baz", "value": "qux", "xyz": 123 }]"#,
        );
        assert_eq!(out, r#"{"foo":"bar","baz":"qux"}"#);
        // Members defined only for other operations are ignored too (even repeated).
        let out = ok(
            r#"{"foo":"bar"}"#,
            r#"[{ "op": "remove", "path": "/foo", "value": 1, "value": 2, "from": 3 }]"#,
        );
        assert_eq!(out, "{}");
    }

    #[test]
    fn a12_adding_to_a_nonexistent_target() {
        let e = err(
            r#"{"foo":"bar"}"#,
            r#"[{ "op": "add", "path": "/baz/bat", "value": "qux" }]"#,
        );
        assert_eq!(e.kind(), PatchErrorKind::CannotApply);
        assert_eq!(
            e.to_string(),
            "operation 0 (add /baz/bat): no such member 'baz'"
        );
    }

    #[test]
    fn a13_invalid_json_patch_document() {
        let e = err(
            r#"{"foo":"bar"}"#,
            r#"[{ "op": "add", "path": "/baz", "value": "qux", "op": "remove" }]"#,
        );
        assert_eq!(e.kind(), PatchErrorKind::InvalidPatch);
        assert_eq!(e.to_string(), "operation 0: duplicate member 'op'");
    }

    #[test]
    fn a14_escape_ordering() {
        let doc = r#"{"/":9,"~1":10}"#;
        assert_eq!(
            ok(doc, r#"[{"op": "test", "path": "/~01", "value": 10}]"#),
            doc
        );
    }

    #[test]
    fn a15_comparing_strings_and_numbers() {
        let e = err(
            r#"{"/":9,"~1":10}"#,
            r#"[{"op": "test", "path": "/~01", "value": "10"}]"#,
        );
        assert_eq!(e.kind(), PatchErrorKind::TestFailed);
        assert_eq!(e.message(), r#"test failed: /~01 is 10, expected "10""#);
    }

    #[test]
    fn a16_adding_an_array_value() {
        let out = ok(
            r#"{"foo":["bar"]}"#,
            r#"[{ "op": "add", "path": "/foo/-", "value": ["abc", "def"] }]"#,
        );
        assert_eq!(out, r#"{"foo":["bar",["abc","def"]]}"#);
    }

    // --- JSON Pointer --------------------------------------------------------------------------

    #[test]
    fn rfc6901_examples() {
        let doc = parse(
            r#"{"foo":["bar","baz"],"":0,"a/b":1,"c%d":2,"e^f":3,"g|h":4,"i\\j":5,"k\"l":6," ":7,"m~n":8}"#,
        );
        let cases: &[(&str, &str)] = &[
            ("", &json::to_string(&doc)),
            ("/foo", r#"["bar","baz"]"#),
            ("/foo/0", r#""bar""#),
            ("/", "0"),
            ("/a~1b", "1"),
            ("/c%d", "2"),
            ("/e^f", "3"),
            ("/g|h", "4"),
            ("/i\\j", "5"),
            ("/k\"l", "6"),
            ("/ ", "7"),
            ("/m~0n", "8"),
        ];
        for (path, expected) in cases {
            let tokens = parse_pointer(path).unwrap();
            let found = resolve(&doc, &tokens).unwrap_or_else(|e| panic!("{path}: {}", e.message));
            assert_eq!(json::to_string(found), *expected, "{path}");
            let mut d = doc.clone();
            let op = PatchOp::Test {
                path: (*path).into(),
                value: parse(expected),
            };
            apply_patch(&mut d, &[op]).unwrap();
        }
    }

    #[test]
    fn pointer_unescaping() {
        assert_eq!(parse_pointer("").unwrap(), Vec::<String>::new());
        assert_eq!(parse_pointer("/").unwrap(), vec![""]);
        assert_eq!(parse_pointer("//").unwrap(), vec!["", ""]);
        assert_eq!(parse_pointer("/~01").unwrap(), vec!["~1"]);
        assert_eq!(parse_pointer("/~10").unwrap(), vec!["/0"]);
        assert_eq!(parse_pointer("/~0~1/x").unwrap(), vec!["~/", "x"]);
        assert_eq!(parse_pointer("/é/€").unwrap(), vec!["é", "€"]);
        assert!(parse_pointer("/~").is_err());
        assert!(parse_pointer("/~2").is_err());
        assert!(parse_pointer("/a~").is_err());
        assert!(parse_pointer("a").is_err());
        assert!(parse_pointer("#/a").is_err());
    }

    #[test]
    fn escaped_names_in_add_and_messages() {
        let out = ok(
            "{}",
            r#"[{"op":"add","path":"/a~1b","value":1},{"op":"add","path":"/c~0d","value":2}]"#,
        );
        assert_eq!(out, r#"{"a/b":1,"c~d":2}"#);
        let e = err(r#"{"a/b":{}}"#, r#"[{"op":"remove","path":"/a~1b/x~0y"}]"#);
        assert_eq!(e.message(), "no such member 'x~y' in /a~1b");
    }

    #[test]
    fn empty_member_name() {
        assert_eq!(
            ok("{}", r#"[{"op":"add","path":"/","value":1}]"#),
            r#"{"":1}"#
        );
        assert_eq!(
            ok(
                r#"{"":{"":2}}"#,
                r#"[{"op":"replace","path":"//","value":3}]"#
            ),
            r#"{"":{"":3}}"#
        );
    }

    #[test]
    fn invalid_pointer_errors() {
        let e = err("{}", r#"[{"op":"add","path":"a","value":1}]"#);
        assert_eq!(e.kind(), PatchErrorKind::InvalidPatch);
        assert_eq!(
            e.to_string(),
            "operation 0: member 'path': 'a' is not a JSON Pointer: it must be empty or start with '/'"
        );
        let e = err("{}", r#"[{"op":"copy","from":"/~2","path":"/b"}]"#);
        assert_eq!(
            e.to_string(),
            "operation 0: member 'from': '/~2' is not a JSON Pointer: '~' must be followed by '0' or '1'"
        );
        // The same checks apply to operations built in code.
        let mut doc = parse("{}");
        let e = apply_patch(&mut doc, &[PatchOp::Remove { path: "x".into() }]).unwrap_err();
        assert_eq!(e.kind(), PatchErrorKind::InvalidPatch);
        assert_eq!(
            e.to_string(),
            "operation 0 (remove x): 'x' is not a JSON Pointer: it must be empty or start with '/'"
        );
    }

    // --- arrays and `-` ------------------------------------------------------------------------

    #[test]
    fn dash_appends() {
        assert_eq!(ok("[]", r#"[{"op":"add","path":"/-","value":1}]"#), "[1]");
        assert_eq!(
            ok("[1,2]", r#"[{"op":"add","path":"/-","value":3}]"#),
            "[1,2,3]"
        );
        assert_eq!(
            ok(
                r#"{"a":[1],"b":2}"#,
                r#"[{"op":"copy","from":"/b","path":"/a/-"}]"#
            ),
            r#"{"a":[1,2],"b":2}"#
        );
        assert_eq!(
            ok(
                r#"{"a":[1],"b":2}"#,
                r#"[{"op":"move","from":"/b","path":"/a/-"}]"#
            ),
            r#"{"a":[1,2]}"#
        );
        assert_eq!(
            ok("[1,2,3]", r#"[{"op":"move","from":"/0","path":"/-"}]"#),
            "[2,3,1]"
        );
        // In an object, "-" is just a member name.
        assert_eq!(
            ok("{}", r#"[{"op":"add","path":"/-","value":1}]"#),
            r#"{"-":1}"#
        );
        assert_eq!(ok(r#"{"-":1}"#, r#"[{"op":"remove","path":"/-"}]"#), "{}");
    }

    #[test]
    fn dash_refers_to_no_existing_element() {
        for patch in [
            r#"[{"op":"remove","path":"/a/-"}]"#,
            r#"[{"op":"replace","path":"/a/-","value":1}]"#,
            r#"[{"op":"test","path":"/a/-","value":1}]"#,
            r#"[{"op":"copy","from":"/a/-","path":"/b"}]"#,
            r#"[{"op":"move","from":"/a/-","path":"/b"}]"#,
            r#"[{"op":"add","path":"/a/-/x","value":1}]"#,
        ] {
            let e = err(r#"{"a":[1]}"#, patch);
            assert_eq!(e.kind(), PatchErrorKind::CannotApply, "{patch}");
            assert_eq!(
                e.message(),
                "'-' refers to no existing element of /a (it only appends, in add, move and copy)",
                "{patch}"
            );
        }
    }

    #[test]
    fn array_insert_positions() {
        assert_eq!(
            ok("[1,2]", r#"[{"op":"add","path":"/0","value":0}]"#),
            "[0,1,2]"
        );
        assert_eq!(
            ok("[1,2]", r#"[{"op":"add","path":"/2","value":3}]"#),
            "[1,2,3]"
        );
        let e = err("[1,2]", r#"[{"op":"add","path":"/3","value":3}]"#);
        assert_eq!(
            e.message(),
            "index 3 is out of bounds for the document (length 2)"
        );
    }

    #[test]
    fn array_index_errors() {
        let doc = r#"{"a":[1,2,3]}"#;
        let e = err(doc, r#"[{"op":"remove","path":"/a/01"}]"#);
        assert_eq!(
            e.to_string(),
            "operation 0 (remove /a/01): array index '01' must not have leading zeros (in /a)"
        );
        let e = err(doc, r#"[{"op":"add","path":"/a/00","value":0}]"#);
        assert_eq!(
            e.message(),
            "array index '00' must not have leading zeros (in /a)"
        );
        for bad in ["x", "+1", "-1", " 1", "1 ", "1.0", "1e0", ""] {
            let patch = format!(r#"[{{"op":"replace","path":"/a/{bad}","value":0}}]"#);
            let e = err(doc, &patch);
            assert_eq!(
                e.message(),
                format!("'{bad}' is not an array index (in /a)")
            );
        }
        let e = err(doc, r#"[{"op":"replace","path":"/a/3","value":0}]"#);
        assert_eq!(e.message(), "index 3 is out of bounds for /a (length 3)");
        let e = err(
            doc,
            r#"[{"op":"test","path":"/a/99999999999999999999999999","value":0}]"#,
        );
        assert_eq!(
            e.message(),
            "index 99999999999999999999999999 is out of bounds for /a (length 3)"
        );
        let e = err(
            doc,
            r#"[{"op":"add","path":"/a/99999999999999999999999999","value":0}]"#,
        );
        assert_eq!(e.kind(), PatchErrorKind::CannotApply);
        // "0" itself is fine.
        assert_eq!(
            ok(doc, r#"[{"op":"remove","path":"/a/0"}]"#),
            r#"{"a":[2,3]}"#
        );
    }

    // --- objects -------------------------------------------------------------------------------

    #[test]
    fn add_replaces_existing_member_in_place() {
        assert_eq!(
            ok(
                r#"{"a":1,"b":2,"c":3}"#,
                r#"[{"op":"add","path":"/b","value":[]}]"#
            ),
            r#"{"a":1,"b":[],"c":3}"#
        );
        assert_eq!(
            ok(
                r#"{"a":1,"b":2,"c":3}"#,
                r#"[{"op":"replace","path":"/a","value":null}]"#
            ),
            r#"{"a":null,"b":2,"c":3}"#
        );
    }

    #[test]
    fn remove_keeps_order_of_the_rest() {
        assert_eq!(
            ok(r#"{"a":1,"b":2,"c":3}"#, r#"[{"op":"remove","path":"/b"}]"#),
            r#"{"a":1,"c":3}"#
        );
    }

    #[test]
    fn missing_targets() {
        let doc = r#"{"name":[{"given":["A"]}]}"#;
        let e = err(doc, r#"[{"op":"remove","path":"/name/0/family"}]"#);
        assert_eq!(
            e.to_string(),
            "operation 0 (remove /name/0/family): no such member 'family' in /name/0"
        );
        let e = err(doc, r#"[{"op":"replace","path":"/active","value":true}]"#);
        assert_eq!(e.message(), "no such member 'active'");
        let e = err(doc, r#"[{"op":"test","path":"/x","value":true}]"#);
        assert_eq!(e.message(), "no such member 'x'");
        let e = err(doc, r#"[{"op":"copy","from":"/x","path":"/y"}]"#);
        assert_eq!(
            e.to_string(),
            "operation 0 (copy from /x to /y): no such member 'x'"
        );
        let e = err(doc, r#"[{"op":"move","from":"/x","path":"/y"}]"#);
        assert_eq!(e.message(), "no such member 'x'");
        let e = err(doc, r#"[{"op":"move","from":"/x","path":"/x"}]"#);
        assert_eq!(e.message(), "no such member 'x'");
    }

    #[test]
    fn scalars_have_no_children() {
        let doc = r#"{"a":"text","n":null}"#;
        let e = err(doc, r#"[{"op":"add","path":"/a/b","value":1}]"#);
        assert_eq!(
            e.message(),
            "cannot find 'b' in /a: it is a string, not an object or array"
        );
        let e = err(doc, r#"[{"op":"remove","path":"/n/0"}]"#);
        assert_eq!(
            e.message(),
            "cannot find '0' in /n: it is null, not an object or array"
        );
        let e = err("true", r#"[{"op":"test","path":"/x","value":1}]"#);
        assert_eq!(
            e.message(),
            "cannot find 'x' in the document: it is a boolean, not an object or array"
        );
    }

    // --- the root ------------------------------------------------------------------------------

    #[test]
    fn whole_document() {
        assert_eq!(
            ok(r#"{"a":1}"#, r#"[{"op":"replace","path":"","value":[1]}]"#),
            "[1]"
        );
        assert_eq!(
            ok(r#"{"a":1}"#, r#"[{"op":"add","path":"","value":{"b":2}}]"#),
            r#"{"b":2}"#
        );
        assert_eq!(
            ok(
                r#"{"a":1}"#,
                r#"[{"op":"test","path":"","value":{"a":1.0}}]"#
            ),
            r#"{"a":1}"#
        );
        assert_eq!(
            ok(r#"{"a":1}"#, r#"[{"op":"copy","from":"","path":"/self"}]"#),
            r#"{"a":1,"self":{"a":1}}"#
        );
        assert_eq!(
            ok(
                r#"{"a":{"b":1}}"#,
                r#"[{"op":"move","from":"/a","path":""}]"#
            ),
            r#"{"b":1}"#
        );
        assert_eq!(
            ok(r#"{"a":1}"#, r#"[{"op":"move","from":"","path":""}]"#),
            r#"{"a":1}"#
        );
        let e = err(r#"{"a":1}"#, r#"[{"op":"remove","path":""}]"#);
        assert_eq!(
            e.to_string(),
            r#"operation 0 (remove ""): cannot remove the whole document"#
        );
        let e = err(r#"{"a":1}"#, r#"[{"op":"move","from":"","path":"/b"}]"#);
        assert_eq!(e.message(), r#"cannot move "" into itself (to /b)"#);
    }

    // --- move ----------------------------------------------------------------------------------

    #[test]
    fn move_into_itself_is_an_error() {
        let doc = r#"{"a":{"b":{}},"ab":1}"#;
        let e = err(doc, r#"[{"op":"move","from":"/a","path":"/a/b/c"}]"#);
        assert_eq!(e.kind(), PatchErrorKind::CannotApply);
        assert_eq!(
            e.to_string(),
            "operation 0 (move from /a to /a/b/c): cannot move /a into itself (to /a/b/c)"
        );
        // A prefix of the text but not of the tokens is fine.
        assert_eq!(
            ok(doc, r#"[{"op":"move","from":"/a","path":"/ab"}]"#),
            r#"{"ab":{"b":{}}}"#
        );
        // Moving to the same place changes nothing, not even member order.
        assert_eq!(ok(doc, r#"[{"op":"move","from":"/a","path":"/a"}]"#), doc);
        // Moving up into the parent's place is allowed.
        assert_eq!(
            ok(doc, r#"[{"op":"move","from":"/a/b","path":"/a"}]"#),
            r#"{"a":{},"ab":1}"#
        );
    }

    #[test]
    fn move_within_arrays() {
        assert_eq!(
            ok("[1,2,3]", r#"[{"op":"move","from":"/2","path":"/0"}]"#),
            "[3,1,2]"
        );
        assert_eq!(
            ok("[1,2,3]", r#"[{"op":"move","from":"/0","path":"/2"}]"#),
            "[2,3,1]"
        );
        // After removing /0 there are only 2 items, so /3 is out of bounds.
        let e = err("[1,2,3]", r#"[{"op":"move","from":"/0","path":"/3"}]"#);
        assert_eq!(
            e.message(),
            "index 3 is out of bounds for the document (length 2)"
        );
    }

    #[test]
    fn copy_is_deep_and_independent() {
        let out = ok(
            r#"{"a":{"b":[1]}}"#,
            r#"[{"op":"copy","from":"/a","path":"/c"},{"op":"add","path":"/c/b/-","value":2}]"#,
        );
        assert_eq!(out, r#"{"a":{"b":[1]},"c":{"b":[1,2]}}"#);
    }

    // --- numbers -------------------------------------------------------------------------------

    #[test]
    fn numbers_keep_their_text() {
        assert_eq!(
            ok(
                r#"{"a":1.50}"#,
                r#"[{"op":"add","path":"/b","value":2.500},{"op":"copy","from":"/a","path":"/c"},{"op":"move","from":"/b","path":"/d"}]"#
            ),
            r#"{"a":1.50,"c":1.50,"d":2.500}"#
        );
        assert_eq!(
            ok(
                "[]",
                r#"[{"op":"add","path":"/0","value":1E+2},{"op":"add","path":"/-","value":-0.0}]"#
            ),
            "[1E+2,-0.0]"
        );
        assert_eq!(
            ok(
                r#"{"a":1}"#,
                r#"[{"op":"replace","path":"/a","value":100000000000000000000000000001}]"#
            ),
            r#"{"a":100000000000000000000000000001}"#
        );
    }

    #[test]
    fn test_compares_numbers_by_value() {
        let doc = r#"{"a":1,"b":1.50,"c":"1"}"#;
        for equal in ["1", "1.0", "1.000", "10e-1", "0.1E1", "1e0", "100e-2"] {
            ok(
                doc,
                &format!(r#"[{{"op":"test","path":"/a","value":{equal}}}]"#),
            );
        }
        ok(doc, r#"[{"op":"test","path":"/b","value":1.5}]"#);
        ok(doc, r#"[{"op":"test","path":"/b","value":15e-1}]"#);
        for unequal in ["1.01", "-1", "10", "0.1", "\"1\"", "true", "null", "[1]"] {
            let e = err(
                doc,
                &format!(r#"[{{"op":"test","path":"/a","value":{unequal}}}]"#),
            );
            assert_eq!(e.kind(), PatchErrorKind::TestFailed, "{unequal}");
        }
        // "1" (a string) is not 1 (a number), either way round.
        let e = err(doc, r#"[{"op":"test","path":"/c","value":1}]"#);
        assert_eq!(e.message(), r#"test failed: /c is "1", expected 1"#);
        let e = err(doc, r#"[{"op":"test","path":"/a","value":"1"}]"#);
        assert_eq!(e.message(), r#"test failed: /a is 1, expected "1""#);
    }

    #[test]
    fn exact_decimal_comparison() {
        assert!(numbers_equal("0", "-0"));
        assert!(numbers_equal("0", "0.000e99"));
        assert!(numbers_equal("-0.0", "0E-5"));
        assert!(numbers_equal("123.4500", "1.2345e2"));
        assert!(numbers_equal("-5e+3", "-5000"));
        assert!(numbers_equal(
            "1e00000000000000000000000000000000000001",
            "10"
        ));
        // Beyond f64 precision, still exact.
        assert!(!numbers_equal("9007199254740993", "9007199254740992"));
        assert!(!numbers_equal("0.10000000000000000001", "0.1"));
        assert!(numbers_equal("0.10000000000000000000", "0.1"));
        assert!(!numbers_equal("1e400", "1e401"));
        assert!(!numbers_equal("-1", "1"));
        // Absurd exponents and non-JSON text (values built in code) compare as text.
        let huge = format!("1e{}", "9".repeat(60));
        assert!(numbers_equal(&huge, &huge));
        assert!(!numbers_equal(&huge, "1"));
        assert!(numbers_equal("NaN", "NaN"));
        assert!(!numbers_equal("01", "1"));
        assert!(!numbers_equal("1.", "1"));
        assert!(!numbers_equal("+1", "1"));
        assert_eq!(decimal("-0.0120e1"), Some((true, "12".into(), -2)));
        assert_eq!(decimal("1200"), Some((false, "12".into(), 2)));
        for bad in [
            "", "-", ".5", "1.", "1e", "1e+", "--1", "1e1.5", "0x10", "1_0", "١",
        ] {
            assert_eq!(decimal(bad), None, "{bad}");
        }
    }

    #[test]
    fn test_compares_structurally() {
        let doc = r#"{"o":{"a":1,"b":[1,{"c":null}]},"l":[1,2]}"#;
        ok(
            doc,
            r#"[{"op":"test","path":"/o","value":{"b":[1.0,{"c":null}],"a":1}}]"#,
        );
        for unequal in [
            r#"{"a":1}"#,
            r#"{"a":1,"b":[1,{"c":null}],"d":1}"#,
            r#"{"a":1,"b":[{"c":null},1]}"#,
            r#"{"a":1,"c":[1,{"c":null}]}"#,
            r#"{"a":1,"b":[1,{"c":false}]}"#,
            "[]",
        ] {
            let patch = format!(r#"[{{"op":"test","path":"/o","value":{unequal}}}]"#);
            assert_eq!(
                err(doc, &patch).kind(),
                PatchErrorKind::TestFailed,
                "{unequal}"
            );
        }
        let e = err(doc, r#"[{"op":"test","path":"/l","value":[2,1]}]"#);
        assert_eq!(e.message(), "test failed: /l is [1,2], expected [2,1]");
        ok(
            r#"{"s":"é\n"}"#,
            r#"[{"op":"test","path":"/s","value":"\u00e9\n"}]"#,
        );
        assert!(json_equal(&parse("{}"), &parse("{}")));
        assert!(!json_equal(&parse("{}"), &parse("[]")));
        assert!(!json_equal(&parse("false"), &parse("0")));
        assert!(!json_equal(&parse("null"), &parse("false")));
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = format!(r#"{{"s":"{}"}}"#, "é".repeat(300));
        let e = err(&long, r#"[{"op":"test","path":"/s","value":"x"}]"#);
        assert!(e.message().contains('…'), "{e}");
        assert!(e.message().chars().count() < 250, "{e}");
    }

    // --- all or nothing ------------------------------------------------------------------------

    #[test]
    fn all_or_nothing() {
        let mut doc = parse(r#"{"a":1,"b":[1,2]}"#);
        let before = doc.clone();
        let ops = parse_patch(
            r#"[
                {"op":"add","path":"/c","value":3},
                {"op":"remove","path":"/b/0"},
                {"op":"replace","path":"","value":"gone"},
                {"op":"test","path":"","value":"not gone"}
            ]"#,
        )
        .unwrap();
        let e = apply_patch(&mut doc, &ops).unwrap_err();
        assert_eq!(e.index(), Some(3));
        assert_eq!(e.operation(), Some(r#"test """#));
        assert_eq!(doc, before);

        // A move whose add fails after its remove leaves nothing half done.
        let ops = [PatchOp::Move {
            from: "/a".into(),
            path: "/b/9".into(),
        }];
        let e = apply_patch(&mut doc, &ops).unwrap_err();
        assert_eq!(e.message(), "index 9 is out of bounds for /b (length 2)");
        assert_eq!(doc, before);

        // Later operations see the results of earlier ones.
        let ops = parse_patch(
            r#"[{"op":"add","path":"/c","value":3},{"op":"test","path":"/c","value":3},{"op":"move","from":"/c","path":"/b/0"}]"#,
        )
        .unwrap();
        apply_patch(&mut doc, &ops).unwrap();
        assert_eq!(json::to_string(&doc), r#"{"a":1,"b":[3,1,2]}"#);
    }

    #[test]
    fn empty_patch_changes_nothing() {
        assert_eq!(parse_patch("[]").unwrap(), vec![]);
        assert_eq!(ok(r#"{"a":1}"#, " [ ] "), r#"{"a":1}"#);
    }

    // --- parsing -------------------------------------------------------------------------------

    #[test]
    fn parses_every_operation() {
        let ops = parse_patch(
            r#"[
                {"op":"add","path":"/a","value":1.50},
                {"path":"/b","op":"remove"},
                {"op":"replace","path":"","value":null},
                {"op":"move","from":"/c","path":"/d"},
                {"op":"copy","from":"","path":"/e/-"},
                {"op":"test","path":"/f~01","value":{"x":[]}}
            ]"#,
        )
        .unwrap();
        assert_eq!(
            ops,
            vec![
                PatchOp::Add {
                    path: "/a".into(),
                    value: Value::Number("1.50".into())
                },
                PatchOp::Remove { path: "/b".into() },
                PatchOp::Replace {
                    path: "".into(),
                    value: Value::Null
                },
                PatchOp::Move {
                    from: "/c".into(),
                    path: "/d".into()
                },
                PatchOp::Copy {
                    from: "".into(),
                    path: "/e/-".into()
                },
                PatchOp::Test {
                    path: "/f~01".into(),
                    value: parse(r#"{"x":[]}"#)
                },
            ]
        );
        let names: Vec<_> = ops.iter().map(PatchOp::name).collect();
        assert_eq!(names, ["add", "remove", "replace", "move", "copy", "test"]);
        assert_eq!(ops[3].from(), Some("/c"));
        assert_eq!(ops[3].path(), "/d");
        assert_eq!(ops[0].from(), None);
    }

    fn parse_error(patch: &str) -> String {
        match parse_patch(patch) {
            Ok(ops) => panic!("{patch} should not parse, gave {ops:?}"),
            Err(e) => {
                assert_eq!(e.kind(), PatchErrorKind::InvalidPatch, "{patch}");
                assert_eq!(e.operation(), None);
                e.to_string()
            }
        }
    }

    #[test]
    fn document_shape_errors() {
        assert!(parse_error("").starts_with("the patch is not valid JSON: "));
        assert!(parse_error("[").starts_with("the patch is not valid JSON: "));
        assert!(parse_error("[] junk").starts_with("the patch is not valid JSON: "));
        assert!(parse_error(r#"[{"op":"remove","path":"/a"}],"#)
            .starts_with("the patch is not valid JSON: "));
        assert!(parse_error("[{'op':'remove'}]").starts_with("the patch is not valid JSON: "));
        let e = parse_patch("[1,").unwrap_err();
        assert_eq!(e.index(), None);
        assert!(e.to_string().contains("line 1"), "{e}");
        assert_eq!(
            parse_error(r#"{"op":"remove","path":"/a"}"#),
            "a JSON Patch document must be an array of operations, not an object"
        );
        assert_eq!(
            parse_error("null"),
            "a JSON Patch document must be an array of operations, not null"
        );
        assert_eq!(
            parse_error(r#"[{"op":"remove","path":"/a"}, "remove /b"]"#),
            "operation 1: an operation must be an object, not a string"
        );
        assert_eq!(
            parse_error(r#"[[{"op":"remove","path":"/a"}]]"#),
            "operation 0: an operation must be an object, not an array"
        );
    }

    #[test]
    fn operation_member_errors() {
        let cases = [
            (r#"{}"#, "missing member 'op'"),
            (r#"{"path":"/a"}"#, "missing member 'op'"),
            (
                r#"{"op":1,"path":"/a"}"#,
                "member 'op' must be a string, not a number",
            ),
            (
                r#"{"op":null,"path":"/a"}"#,
                "member 'op' must be a string, not null",
            ),
            (
                r#"{"op":"delete","path":"/a"}"#,
                "unknown operation 'delete' (expected add, remove, replace, move, copy or test)",
            ),
            (
                r#"{"op":"Add","path":"/a","value":1}"#,
                "unknown operation 'Add' (expected add, remove, replace, move, copy or test)",
            ),
            (
                r#"{"op":"remove","op":"remove","path":"/a"}"#,
                "duplicate member 'op'",
            ),
            (r#"{"op":"add","value":1}"#, "missing member 'path'"),
            (r#"{"op":"add","path":"/a"}"#, "missing member 'value'"),
            (r#"{"op":"replace","path":"/a"}"#, "missing member 'value'"),
            (r#"{"op":"test","path":"/a"}"#, "missing member 'value'"),
            (r#"{"op":"remove"}"#, "missing member 'path'"),
            (r#"{"op":"move","path":"/a"}"#, "missing member 'from'"),
            (r#"{"op":"copy","path":"/a"}"#, "missing member 'from'"),
            (r#"{"op":"copy","from":"/a"}"#, "missing member 'path'"),
            (
                r#"{"op":"add","path":"/a","value":1,"value":2}"#,
                "duplicate member 'value'",
            ),
            (
                r#"{"op":"remove","path":"/a","path":"/b"}"#,
                "duplicate member 'path'",
            ),
            (
                r#"{"op":"move","from":"/a","from":"/b","path":"/c"}"#,
                "duplicate member 'from'",
            ),
            (
                r#"{"op":"remove","path":1}"#,
                "member 'path' must be a string (a JSON Pointer), not a number",
            ),
            (
                r#"{"op":"remove","path":null}"#,
                "member 'path' must be a string (a JSON Pointer), not null",
            ),
            (
                r#"{"op":"copy","from":["/a"],"path":"/b"}"#,
                "member 'from' must be a string (a JSON Pointer), not an array",
            ),
            (
                r#"{"op":"remove","path":"/a~"}"#,
                "member 'path': '/a~' is not a JSON Pointer: '~' must be followed by '0' or '1'",
            ),
        ];
        for (op, expected) in cases {
            let patch = format!(r#"[{{"op":"test","path":"","value":0}},{op}]"#);
            let e = parse_patch(&patch).unwrap_err();
            assert_eq!(e.index(), Some(1), "{op}");
            assert_eq!(e.kind(), PatchErrorKind::InvalidPatch, "{op}");
            assert_eq!(e.message(), expected, "{op}");
            assert_eq!(e.to_string(), format!("operation 1: {expected}"), "{op}");
        }
    }

    #[test]
    fn null_value_is_present() {
        assert_eq!(
            ok(
                r#"{"a":1}"#,
                r#"[{"op":"replace","path":"/a","value":null}]"#
            ),
            r#"{"a":null}"#
        );
    }

    #[test]
    fn error_is_std_error() {
        fn takes(_: &dyn std::error::Error) {}
        let e = parse_patch("{}").unwrap_err();
        takes(&e);
        assert_eq!(e.clone(), e);
        assert!(format!("{e:?}").contains("InvalidPatch"));
    }

    // --- robustness ----------------------------------------------------------------------------

    /// A small deterministic generator (xorshift) for the no-panic test.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[(self.next() % items.len() as u64) as usize]
        }
    }

    #[test]
    fn random_patches_never_panic_and_are_atomic() {
        let docs = [
            r#"{"a":{"b":[1,{"c":2.50}],"":{"~/":null}},"d":[[],{}],"-":"x"}"#,
            "[1,[2,[3]],{}]",
            r#""scalar""#,
            "null",
        ];
        let tokens = [
            "a",
            "b",
            "c",
            "d",
            "0",
            "1",
            "2",
            "3",
            "-",
            "01",
            "",
            "~0~1",
            "~1",
            "~2",
            "~",
            "x",
            "99999999999999999999999",
        ];
        let ops = ["add", "remove", "replace", "move", "copy", "test", "nope"];
        let values = ["1", "1.0", "\"x\"", "null", "[1,{\"c\":2.5}]", "{}", "2.50"];
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut successes = 0;
        for round in 0..3000 {
            let mut pointer = || {
                let depth = rng.next() % 4;
                let mut p = String::new();
                for _ in 0..depth {
                    p.push('/');
                    p.push_str(tokens[(rng.next() % tokens.len() as u64) as usize]);
                }
                p
            };
            let mut patch = String::from("[");
            let n = round % 4;
            let mut pointers: Vec<String> = (0..n * 2).map(|_| pointer()).collect();
            for i in 0..n {
                if i > 0 {
                    patch.push(',');
                }
                let op = rng.pick(&ops);
                let value = rng.pick(&values);
                let path = pointers.pop().unwrap_or_default();
                let from = pointers.pop().unwrap_or_default();
                patch.push_str(&format!(
                    r#"{{"op":"{op}","path":"{path}","from":"{from}","value":{value}}}"#
                ));
            }
            patch.push(']');
            let mut doc = parse(docs[round % docs.len()]);
            let before = doc.clone();
            match parse_patch(&patch) {
                Ok(ops) => match apply_patch(&mut doc, &ops) {
                    Ok(()) => successes += 1,
                    Err(e) => {
                        assert_eq!(doc, before, "{patch}: {e}");
                        assert!(!e.message().is_empty());
                    }
                },
                Err(e) => assert!(!e.message().is_empty()),
            }
            // Truncated and corrupted texts must fail cleanly too.
            let cut = (rng.next() as usize) % (patch.len() + 1);
            if let Some(prefix) = patch.get(..cut) {
                let _ = parse_patch(prefix);
            }
        }
        assert!(successes > 100, "only {successes} random patches applied");
    }
}
