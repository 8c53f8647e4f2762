use std::fmt;

/// An XML input that is not valid FHIR (or a resource that cannot be written as XML), with
/// where it went wrong: the element path and, for input, the line and column.
///
/// ```
/// use fhir_model::r4::Resource;
/// let err = Resource::from_xml(r#"<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>"#).unwrap_err();
/// assert_eq!(err.path(), "Patient.active");
/// assert_eq!((err.line(), err.column()), (1, 38));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct XmlError {
    message: String,
    path: String,
    line: usize,
    column: usize,
    over_memory_limit: bool,
}

impl XmlError {
    /// An error at byte offset `pos` of `src` (line and column are computed from it; columns
    /// count characters, from 1). `path` is the element path, e.g. `Patient.name[1].given[0]`.
    pub fn at(message: impl Into<String>, path: impl Into<String>, src: &str, pos: usize) -> Self {
        let (line, column) = crate::json::error::line_column(src, pos);
        XmlError {
            message: message.into(),
            path: path.into(),
            line,
            column,
            over_memory_limit: false,
        }
    }

    /// An error without a place in an input (writing): line and column are 0.
    pub fn new(message: impl Into<String>, path: impl Into<String>) -> Self {
        XmlError {
            message: message.into(),
            path: path.into(),
            line: 0,
            column: 0,
            over_memory_limit: false,
        }
    }

    /// Marks the error as the memory limit being passed.
    pub(crate) fn memory_limit(mut self, over: bool) -> Self {
        self.over_memory_limit = over;
        self
    }

    /// Whether the document was rejected for the memory its value would take
    /// ([`crate::json::ReadOptions::max_memory_factor`]) rather than for what it says.
    pub fn is_over_memory_limit(&self) -> bool {
        self.over_memory_limit
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The element path (`Patient.name[0].given[1]`); `$` before the root element.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The line, from 1; 0 when the error is not about an input.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column in characters, from 1; 0 when the error is not about an input.
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.path, self.message)
        } else {
            write!(
                f,
                "{}: {} (line {}, column {})",
                self.path, self.message, self.line, self.column
            )
        }
    }
}

impl std::error::Error for XmlError {}
