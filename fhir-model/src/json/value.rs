//! An untyped JSON value that keeps numbers as their exact text and members in order: for
//! what works on JSON before it is a typed resource (JSON Patch, comparisons).

use super::{JsonReader, JsonResult, JsonValue, JsonWriter, ReadOptions};

/// Any JSON value. Numbers keep their text (`1.50` stays `1.50`); objects keep member order.
///
/// ```
/// use fhir_model::json::{self, Value};
/// let v: Value = json::from_str(r#"{"a":[1.50,true,null,"x"]}"#).unwrap();
/// assert_eq!(v.get("a").and_then(|a| a.index(0)), Some(&Value::Number("1.50".into())));
/// assert_eq!(json::to_string(&v), r#"{"a":[1.50,true,null,"x"]}"#);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, as written.
    Number(String),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Value>),
    /// An object, members in order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// What kind of JSON value this is, for messages: `a string`, `an array`, `null`, ...
    ///
    /// ```
    /// assert_eq!(fhir_model::json::Value::Bool(true).kind(), "a boolean");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }

    /// The member `name` of an object.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The member `name` of an object, mutably.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut Value> {
        match self {
            Value::Object(members) => members.iter_mut().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Item `i` of an array.
    pub fn index(&self, i: usize) -> Option<&Value> {
        match self {
            Value::Array(items) => items.get(i),
            _ => None,
        }
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Reads JSON text (any value, nesting limited as for resources).
    pub fn parse(text: &str) -> JsonResult<Value> {
        super::from_str_with(text, ReadOptions::STRICT)
    }
}

impl JsonValue for Value {
    fn read_json(r: &mut JsonReader<'_>) -> JsonResult<Self> {
        Ok(match r.peek() {
            Some(b'{') => {
                r.begin_object("an object")?;
                let mut members = Vec::new();
                let mut first = true;
                while let Some(key) = r.next_key(first)? {
                    first = false;
                    let value = Value::read_json(r).map_err(|e| e.in_member(&key))?;
                    members.push((key.into_owned(), value));
                }
                Value::Object(members)
            }
            Some(b'[') => {
                r.begin_array()?;
                let mut items = Vec::new();
                while r.next_item(items.is_empty())? {
                    let index = items.len();
                    items.push(Value::read_json(r).map_err(|e| e.in_item(index))?);
                }
                Value::Array(items)
            }
            Some(b'"') => Value::String(r.read_string()?),
            Some(b't' | b'f') => Value::Bool(r.read_bool()?),
            Some(b'n') => {
                r.take_null()?;
                Value::Null
            }
            _ => Value::Number(r.read_number()?.to_string()),
        })
    }

    fn write_json(&self, w: &mut JsonWriter) {
        match self {
            Value::Null => w.null(),
            Value::Bool(b) => w.bool(*b),
            Value::Number(n) => w.raw_number(n),
            Value::String(s) => w.string(s),
            Value::Array(items) => {
                w.begin_array();
                for item in items {
                    w.item();
                    item.write_json(w);
                }
                w.end_array();
            }
            Value::Object(members) => {
                w.begin_object();
                for (k, v) in members {
                    w.key_escaped(k);
                    v.write_json(w);
                }
                w.end_object();
            }
        }
    }
}
