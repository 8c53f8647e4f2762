//! The error type shared by every parser in [`crate::search`](mod@crate::search).

use std::error::Error;
use std::fmt;

/// An error found while parsing a search query or one of its parameters.
///
/// `parameter` names the offending parameter when it is known (for example
/// `birthdate`, or `_count`); errors from the query-string layer itself (a bad
/// percent escape, invalid UTF-8) have none. The [`Display`](fmt::Display)
/// form is `parameter 'NAME': MESSAGE`, or just `MESSAGE` without a name.
///
/// ```
/// use fhir_rocket::search::SearchError;
///
/// let err = SearchError::for_param("birthdate", "'ge2020-13-01' is not a valid date");
/// assert_eq!(err.to_string(), "parameter 'birthdate': 'ge2020-13-01' is not a valid date");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchError {
    /// The parameter the error is about, if known (without modifier).
    pub parameter: Option<String>,
    /// A human-readable description of the problem.
    pub message: String,
}

impl SearchError {
    /// An error that is not tied to one parameter.
    pub fn new(message: impl Into<String>) -> Self {
        SearchError {
            parameter: None,
            message: message.into(),
        }
    }

    /// An error about the parameter `name`.
    pub fn for_param(name: impl Into<String>, message: impl Into<String>) -> Self {
        SearchError {
            parameter: Some(name.into()),
            message: message.into(),
        }
    }
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.parameter {
            Some(p) => write!(f, "parameter '{}': {}", p, self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl Error for SearchError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_with_and_without_parameter() {
        assert_eq!(SearchError::new("bad").to_string(), "bad");
        assert_eq!(
            SearchError::for_param("x", "bad").to_string(),
            "parameter 'x': bad"
        );
        let boxed: Box<dyn Error> = Box::new(SearchError::new("e"));
        assert_eq!(boxed.to_string(), "e");
    }
}
