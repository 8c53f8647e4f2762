//! SQL text with its parameters, built together so that a value is never spliced into the
//! text.

use crate::db::Value;

/// A piece of SQL and the values of its `?` placeholders, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sql {
    /// The text, with `?` for each parameter.
    pub text: String,
    /// The parameters.
    pub params: Vec<Value>,
}

impl Sql {
    /// Empty SQL.
    pub fn new() -> Sql {
        Sql::default()
    }

    /// Appends text.
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Sql {
        self.text.push('?');
        self.params.push(value.into());
        self
    }

    /// Appends another piece, with its parameters.
    pub fn append(&mut self, other: Sql) -> &mut Sql {
        self.text.push_str(&other.text);
        self.params.extend(other.params);
        self
    }

    /// Appends `(a OR b OR ...)` of the pieces; `FALSE`-like `1 = 0` for none.
    pub fn any(pieces: Vec<Sql>) -> Sql {
        Sql::joined(pieces, " OR ", "1 = 0")
    }

    /// `(a AND b AND ...)`; `1 = 1` for none.
    pub fn all(pieces: Vec<Sql>) -> Sql {
        Sql::joined(pieces, " AND ", "1 = 1")
    }

    fn joined(pieces: Vec<Sql>, separator: &str, empty: &str) -> Sql {
        let mut out = Sql::new();
        if pieces.is_empty() {
            out.push(empty);
            return out;
        }
        out.push("(");
        for (i, piece) in pieces.into_iter().enumerate() {
            if i > 0 {
                out.push(separator);
            }
            out.append(piece);
        }
        out.push(")");
        out
    }

    /// A piece that is only text.
    pub fn text(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            params: Vec::new(),
        }
    }
}
