use std::fmt;

/// The line and column (in characters, both from 1) of byte offset `pos` of `src`, for the
/// error messages of both formats. Computed only when an error is made.
pub(crate) fn line_column(src: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(src.len());
    let before = &src.as_bytes()[..pos];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// One step of the path to where an error happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSegment {
    /// A member of an object.
    Member(String),
    /// An item of an array.
    Index(usize),
}

/// A JSON input that is not valid FHIR, with where it went wrong.
///
/// ```
/// use fhir_model::r4::Resource;
/// let err = Resource::from_json(r#"{"resourceType": "Patient", "active": "yes"}"#).unwrap_err();
/// assert_eq!(err.path(), "Patient.active");
/// assert!(err.to_string().contains("expected a boolean"), "{err}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    message: String,
    line: usize,
    column: usize,
    /// Innermost segment first: errors collect their path while they travel outwards.
    reversed_path: Vec<PathSegment>,
    root: Option<String>,
    over_memory_limit: bool,
}

impl JsonError {
    pub(crate) fn new(message: String, src: &str, pos: usize) -> Self {
        let (line, column) = line_column(src, pos);
        JsonError {
            message,
            line,
            column,
            reversed_path: Vec::new(),
            root: None,
            over_memory_limit: false,
        }
    }

    /// Marks the error as the reader's memory limit being passed.
    pub(crate) fn memory_limit(mut self) -> Self {
        self.over_memory_limit = true;
        self
    }

    /// Whether the input was rejected for the memory its value would take
    /// ([`crate::json::ReadOptions::max_memory_factor`]) rather than for what it says: a server
    /// answers that as "too costly" (413) rather than as a bad request.
    pub fn is_over_memory_limit(&self) -> bool {
        self.over_memory_limit
    }

    /// Adds the member the error happened in (called while unwinding).
    #[cold]
    pub fn in_member(mut self, name: &str) -> Self {
        self.reversed_path
            .push(PathSegment::Member(name.to_string()));
        self
    }

    /// Adds the array item the error happened in (called while unwinding).
    #[cold]
    pub fn in_item(mut self, index: usize) -> Self {
        self.reversed_path.push(PathSegment::Index(index));
        self
    }

    /// Names the root of the path (the resource type). Called at every resource on the way
    /// out, so the outermost resource, where the path starts, has the last word.
    #[cold]
    pub(crate) fn with_root(mut self, root: &str) -> Self {
        self.root = Some(root.to_string());
        self
    }

    /// What is wrong, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// 1-based line of the error in the input.
    pub fn line(&self) -> usize {
        self.line
    }

    /// 1-based column (in characters) of the error in the input.
    pub fn column(&self) -> usize {
        self.column
    }

    /// The segments from the root to the error.
    pub fn segments(&self) -> impl Iterator<Item = &PathSegment> {
        self.reversed_path.iter().rev()
    }

    /// The path to the error, FHIRPath style: `Patient.name[0].given[1]`; `$` is the root when
    /// the resource type is not known.
    pub fn path(&self) -> String {
        let mut out = self.root.clone().unwrap_or_else(|| "$".to_string());
        for segment in self.segments() {
            match segment {
                PathSegment::Member(name) => {
                    out.push('.');
                    out.push_str(name);
                }
                PathSegment::Index(i) => {
                    out.push('[');
                    out.push_str(&i.to_string());
                    out.push(']');
                }
            }
        }
        out
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} (line {}, column {})",
            self.path(),
            self.message,
            self.line,
            self.column
        )
    }
}

impl std::error::Error for JsonError {}
