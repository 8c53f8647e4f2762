//! OR lists, AND lists and the [`FromSearchParam`] glue trait.
//!
//! In FHIR search, one parameter whose value holds unescaped commas is an OR
//! list (`code=a,b`: a or b), and a repeated parameter is an AND list
//! (`code=a&code=b`: a and b). [`OrList`] and [`AndList`] model these, and
//! [`FromSearchParam`] turns every occurrence of one parameter into the type
//! a provider declared for it.
//!
//! Occurrences whose value is empty (`name=` or `name:mod=`) are ignored by
//! all the implementations here, as FHIR servers ignore empty parameters.

use std::ops::Deref;

use super::escape::{contains_unescaped, split_unescaped};
use super::{SearchError, SearchValue};

/// One occurrence of a parameter: its modifier (if any) and its raw,
/// still FHIR-escaped, value. See [`QueryParam`](super::QueryParam).
pub type Occurrence<'a> = (Option<&'a str>, &'a str);

/// Builds a typed value from all the occurrences of one search parameter.
///
/// This is what generated provider glue calls for each declared parameter
/// (normally through [`Query::extract`](super::Query::extract)). Implemented for:
///
/// | type | occurrences accepted |
/// |---|---|
/// | `T` (a [`SearchValue`]) | exactly one, without commas |
/// | `Option<T>` | none or one, without commas |
/// | [`OrList<T>`] | exactly one, commas allowed |
/// | `Option<OrList<T>>` | none or one |
/// | [`AndList<T>`] | any number (none gives an empty list) |
/// | `Option<AndList<T>>` | any number; none gives `None` |
/// | [`DateRange`](super::DateRange) | bounding dates, see its docs |
///
/// Every error names the parameter:
///
/// ```
/// use fhir_rocket::search::{DateParam, FromSearchParam};
///
/// let err = Option::<DateParam>::from_values("birthdate", &[(None, "ge2020-13-01")]).unwrap_err();
/// assert_eq!(err.to_string(), "parameter 'birthdate': 'ge2020-13-01' is not a valid date");
/// ```
pub trait FromSearchParam: Sized {
    /// Parses the occurrences (in query order) of the parameter `name`.
    fn from_values(name: &str, occurrences: &[Occurrence<'_>]) -> Result<Self, SearchError>;
}

/// One parameter value holding alternatives separated by unescaped commas
/// (`code=a,b,c`): matches when any item matches.
///
/// ```
/// use fhir_rocket::search::{OrList, TokenParam};
///
/// let list = OrList::<TokenParam>::parse(None, r"http://loinc.org|1234-5,x\,y").unwrap();
/// assert_eq!(list.len(), 2);
/// assert_eq!(list[1].code.as_deref(), Some("x,y"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OrList<T>(pub Vec<T>);

impl<T: SearchValue> OrList<T> {
    /// Splits `value` on unescaped commas and parses each item with `modifier`.
    pub fn parse(modifier: Option<&str>, value: &str) -> Result<Self, String> {
        split_unescaped(value, ',')
            .into_iter()
            .map(|item| T::parse(modifier, item))
            .collect::<Result<Vec<T>, String>>()
            .map(OrList)
    }
}

impl<T> OrList<T> {
    /// The items.
    pub fn into_inner(self) -> Vec<T> {
        self.0
    }
}

impl<T> Deref for OrList<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> IntoIterator for OrList<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a OrList<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A repeated parameter (`code=a&code=b,c`): every [`OrList`] must match.
///
/// ```
/// use fhir_rocket::search::{parse_query, AndList, StringParam};
///
/// let q = parse_query("name=peter&name=paul,mary").unwrap();
/// let names: AndList<StringParam> = q.extract("name").unwrap();
/// assert_eq!(names.len(), 2);
/// assert_eq!(names[1][1].value, "mary");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct AndList<T>(pub Vec<OrList<T>>);

impl<T> AndList<T> {
    /// The OR lists.
    pub fn into_inner(self) -> Vec<OrList<T>> {
        self.0
    }
}

impl<T> Default for AndList<T> {
    fn default() -> Self {
        AndList(Vec::new())
    }
}

impl<T> Deref for AndList<T> {
    type Target = [OrList<T>];
    fn deref(&self) -> &[OrList<T>] {
        &self.0
    }
}

impl<T> IntoIterator for AndList<T> {
    type Item = OrList<T>;
    type IntoIter = std::vec::IntoIter<OrList<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a AndList<T> {
    type Item = &'a OrList<T>;
    type IntoIter = std::slice::Iter<'a, OrList<T>>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

fn non_empty<'a, 'b>(occurrences: &'b [Occurrence<'a>]) -> Vec<&'b Occurrence<'a>> {
    occurrences.iter().filter(|(_, v)| !v.is_empty()).collect()
}

fn at_most_one<'a, 'b>(
    name: &str,
    occurrences: &'b [Occurrence<'a>],
) -> Result<Option<&'b Occurrence<'a>>, SearchError> {
    let list = non_empty(occurrences);
    match list.len() {
        0 => Ok(None),
        1 => Ok(Some(list[0])),
        n => Err(SearchError::for_param(
            name,
            format!("may only be given once, but was given {n} times"),
        )),
    }
}

fn required(name: &str) -> SearchError {
    SearchError::for_param(name, "a value is required")
}

fn parse_single<T: SearchValue>(
    name: &str,
    (modifier, value): &Occurrence<'_>,
) -> Result<T, SearchError> {
    if contains_unescaped(value, ',') {
        return Err(SearchError::for_param(
            name,
            format!("'{value}' is a list of alternatives, but only one value is allowed (escape a literal comma as '\\,')"),
        ));
    }
    T::parse(*modifier, value).map_err(|e| SearchError::for_param(name, e))
}

fn parse_or<T: SearchValue>(
    name: &str,
    (modifier, value): &Occurrence<'_>,
) -> Result<OrList<T>, SearchError> {
    OrList::parse(*modifier, value).map_err(|e| SearchError::for_param(name, e))
}

impl<T: SearchValue> FromSearchParam for T {
    fn from_values(name: &str, occurrences: &[Occurrence<'_>]) -> Result<Self, SearchError> {
        let occ = at_most_one(name, occurrences)?.ok_or_else(|| required(name))?;
        parse_single(name, occ)
    }
}

impl<T: SearchValue> FromSearchParam for Option<T> {
    fn from_values(name: &str, occurrences: &[Occurrence<'_>]) -> Result<Self, SearchError> {
        at_most_one(name, occurrences)?
            .map(|occ| parse_single(name, occ))
            .transpose()
    }
}

impl<T: SearchValue> FromSearchParam for OrList<T> {
    fn from_values(name: &str, occurrences: &[Occurrence<'_>]) -> Result<Self, SearchError> {
        let occ = at_most_one(name, occurrences)?.ok_or_else(|| required(name))?;
        parse_or(name, occ)
    }
}

impl<T: SearchValue> FromSearchParam for Option<OrList<T>> {
    fn from_values(name: &str, occurrences: &[Occurrence<'_>]) -> Result<Self, SearchError> {
        at_most_one(name, occurrences)?
            .map(|occ| parse_or(name, occ))
            .transpose()
    }
}

impl<T: SearchValue> FromSearchParam for AndList<T> {
    fn from_values(name: &str, occurrences: &[Occurrence<'_>]) -> Result<Self, SearchError> {
        non_empty(occurrences)
            .into_iter()
            .map(|occ| parse_or(name, occ))
            .collect::<Result<Vec<_>, _>>()
            .map(AndList)
    }
}

impl<T: SearchValue> FromSearchParam for Option<AndList<T>> {
    fn from_values(name: &str, occurrences: &[Occurrence<'_>]) -> Result<Self, SearchError> {
        let list = AndList::<T>::from_values(name, occurrences)?;
        Ok(if list.is_empty() { None } else { Some(list) })
    }
}
