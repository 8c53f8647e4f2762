//! FHIR XML: reading and writing resources by the rules of the FHIR XML format.
//!
//! XML goes through the JSON form, guided by a table codegen writes for each version
//! ([`table::XmlTable`]: every struct's elements in definition order, which are attributes,
//! which repeat, what each holds). Reading converts the XML in one pass to FHIR JSON and reads
//! that with the JSON reader; writing writes the JSON form and converts it to XML. So the XML
//! support is two shared functions and a static table, with no code generated per type, and
//! both formats are checked by the same typed reader.
//!
//! Reading rejects DTDs and entity declarations (so no entity expansion and no external
//! entities), limits nesting, and reports errors with the element path, line and column, also
//! for errors the typed reader finds (an invalid date, an unknown code).
//!
//! ```
//! use fhir_model::r4::Resource;
//! let xml = r#"<Patient xmlns="http://hl7.org/fhir"><id value="p1"/><active value="true"/></Patient>"#;
//! let patient = Resource::from_xml(xml).unwrap();
//! assert_eq!(patient.to_json(), r#"{"resourceType":"Patient","id":"p1","active":true}"#);
//! assert_eq!(patient.to_xml().unwrap(), xml);
//! ```

mod error;
mod reader;
pub mod table;
pub(crate) mod typed;
pub use typed::XmlWriter;
mod writer;

pub use error::XmlError;
#[cfg(feature = "validate")]
pub(crate) use writer::check_div;

use crate::json::{self, bytes_to_string, JsonValue, ReadOptions};
use table::XmlTable;

/// A type that can be read from and written as a FHIR XML document: each resource type and
/// each version's `Resource` enum.
pub trait XmlResource: JsonValue {
    /// The XML table of the type's FHIR version.
    fn xml_table() -> &'static XmlTable;
}

/// Reads a resource strictly from FHIR XML.
pub fn from_str<T: XmlResource>(xml: &str) -> Result<T, XmlError> {
    from_str_with(xml, ReadOptions::STRICT)
}

/// Reads a resource from FHIR XML with the given options (strict or lenient, nesting limit).
pub fn from_str_with<T: XmlResource>(xml: &str, options: ReadOptions) -> Result<T, XmlError> {
    let table = T::xml_table();
    let mut json = to_json_form(xml, table, options)?;
    // The JSON form stays alive while the typed value is read: give back its spare room, and
    // count it against the memory limit, which is for the XML document.
    json.shrink_to_fit();
    let limit = options.memory_limit(xml.len()).saturating_sub(json.len());
    let text =
        std::str::from_utf8(&json).map_err(|_| XmlError::new("the JSON form is not UTF-8", "$"))?;
    json::from_str_limited(text, json_options(options), limit).map_err(|e| located(xml, table, e))
}

/// Reads a resource from FHIR XML bytes (UTF-8).
pub fn from_slice_with<T: XmlResource>(xml: &[u8], options: ReadOptions) -> Result<T, XmlError> {
    match std::str::from_utf8(xml) {
        Ok(text) => from_str_with(text, options),
        Err(e) => Err(XmlError::at(
            "the document is not valid UTF-8",
            "$",
            &String::from_utf8_lossy(&xml[..e.valid_up_to()]),
            e.valid_up_to(),
        )),
    }
}

/// Writes a resource as compact FHIR XML.
pub fn to_string<T: XmlResource>(value: &T) -> Result<String, XmlError> {
    to_vec(value, false).map(bytes_to_string)
}

/// Writes a resource as FHIR XML indented by two spaces.
pub fn to_string_pretty<T: XmlResource>(value: &T) -> Result<String, XmlError> {
    to_vec(value, true).map(bytes_to_string)
}

/// Writes a resource as FHIR XML, indented by two spaces when `pretty`.
pub fn to_string_with<T: XmlResource>(value: &T, pretty: bool) -> Result<String, XmlError> {
    to_vec(value, pretty).map(bytes_to_string)
}

/// Writes a resource as FHIR XML bytes. Fails only when the resource holds what XML cannot
/// carry: a narrative `div` that is not well-formed XHTML, or characters XML 1.0 forbids.
pub fn to_vec<T: XmlResource>(value: &T, pretty: bool) -> Result<Vec<u8>, XmlError> {
    // Straight from the model, through the same member functions that write JSON.
    let mut w = json::JsonWriter::xml(pretty);
    value.write_json(&mut w);
    w.into_xml()
}

/// Converts FHIR JSON bytes to FHIR XML (the shared, non-generic part of writing).
pub fn from_json_form(json: &[u8], table: &XmlTable, pretty: bool) -> Result<Vec<u8>, XmlError> {
    let tree: json::Value = json::from_slice_with(json, ReadOptions::LENIENT)
        .map_err(|e| XmlError::new(e.message().to_string(), e.path()))?;
    writer::json_to_xml(&tree, table, pretty)
}

/// Converts FHIR XML to FHIR JSON bytes (the shared, non-generic part of reading). The JSON
/// is not yet checked against the model: read it with [`json::from_slice_with`].
pub fn to_json_form(
    xml: &str,
    table: &XmlTable,
    options: ReadOptions,
) -> Result<Vec<u8>, XmlError> {
    reader::xml_to_json(xml, table, options.strict, options.max_depth)
}

/// The line and column (from 1) in `xml` of the element that the JSON form has at `segments`
/// (below the root object), or of the deepest element found on the way.
#[cfg(feature = "validate")]
pub(crate) fn locate_position(
    xml: &str,
    table: &XmlTable,
    segments: &[json::PathSegment],
) -> Option<(usize, usize)> {
    reader::locate(xml, table, segments).map(|(pos, _)| json::error::line_column(xml, pos))
}

/// The JSON form nests up to twice as deep as the XML (an array and an object per repeated
/// element); the XML reader has already applied the limit to the XML.
fn json_options(options: ReadOptions) -> ReadOptions {
    ReadOptions {
        max_depth: options.max_depth.saturating_mul(2).saturating_add(2),
        ..options
    }
}

/// An error of the typed reader on the JSON form, placed in the XML it came from.
#[cold]
fn located(xml: &str, table: &XmlTable, e: json::JsonError) -> XmlError {
    let segments: Vec<json::PathSegment> = e.segments().cloned().collect();
    let error = match reader::locate(xml, table, &segments) {
        Some((pos, path)) => XmlError::at(e.message().to_string(), path, xml, pos),
        None => XmlError::at(e.message().to_string(), e.path(), xml, 0),
    };
    error.memory_limit(e.is_over_memory_limit())
}
