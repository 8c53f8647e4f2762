//! Writing FHIR XML straight from the typed model: the generated `write_members` of every
//! type, the same code that writes JSON, drive a [`JsonWriter`] in XML mode, whose shared
//! member functions (`json::rt::w_*`) write elements instead of JSON members. No JSON text
//! and no JSON tree are made on the way, and there is no code per type.
//!
//! What XML needs that JSON does not have is decided here, by the member's role:
//! - a primitive is one element with its value, `id` and extensions together (JSON splits
//!   them into `name` and `_name`), each item of a repeating one an element of its own;
//! - `Element.id` and `Extension.url` (the model's plain strings) are attributes; an
//!   attribute that comes after an element's children (`Extension.url` follows `extension`
//!   in definition order) is put into the start tag;
//! - the narrative `div` (the other plain string) is copied as it is, once checked to be one
//!   well-formed XHTML `div` element;
//! - a resource inside a resource (`contained`, `Bundle.entry.resource`) is wrapped in an
//!   element of its type;
//! - an element left with no attribute and no child is taken back out, as JSON leaves out
//!   empty objects.
//!
//! The first error (a character XML 1.0 does not allow, a `div` that is not well-formed) is
//! kept with the path of the element it is in, and the output is given up.

use super::error::XmlError;
use super::writer::{check_div, escape_attribute, invalid_char_message};
use crate::json::JsonWriter;

/// The FHIR namespace, declared on the root element.
const FHIR_XMLNS: &[u8] = b" xmlns=\"http://hl7.org/fhir\"";
const SPACES: &[u8; 64] = b"                                                                ";

/// The state of a [`JsonWriter`] writing XML.
pub(crate) struct XmlOut {
    pretty: bool,
    /// The elements open, from the root.
    frames: Vec<Frame>,
    /// The first error, with its path.
    error: Option<XmlError>,
    /// A primitive's value while it becomes an attribute.
    scratch: Vec<u8>,
}

/// An element being written.
struct Frame {
    /// The output's length before this element: where it is taken back to when empty.
    mark: usize,
    /// Where its name is in the output.
    name_at: usize,
    name_len: usize,
    /// Where the next attribute goes: the end of the start tag so far.
    attrs_end: usize,
    /// The start tag is not closed yet (no `>`).
    open: bool,
    /// It has an attribute (or is a resource, which is never taken out).
    has_attrs: bool,
    has_children: bool,
    /// The parent's `open` and `has_children` before this element, given back when it is
    /// taken out.
    parent_open: bool,
    parent_children: bool,
}

impl XmlOut {
    pub(crate) fn new(pretty: bool) -> XmlOut {
        XmlOut {
            pretty,
            frames: Vec::with_capacity(16),
            error: None,
            scratch: Vec::new(),
        }
    }

    /// Keeps the first error, with the path of the elements open (and `last`, the attribute
    /// or child it is in).
    #[cold]
    fn fail(&mut self, out: &[u8], message: String, last: &str) {
        if self.error.is_some() {
            return;
        }
        let mut path = String::new();
        for f in &self.frames {
            path.push_str(&String::from_utf8_lossy(
                &out[f.name_at..f.name_at + f.name_len],
            ));
            path.push('.');
        }
        path.push_str(last);
        self.error = Some(XmlError::new(message, path));
    }
}

/// Starts a line at `depth` (pretty output, not at the very start).
fn line(out: &mut Vec<u8>, pretty: bool, depth: usize) {
    if pretty && !out.is_empty() {
        out.push(b'\n');
        let mut n = depth * 2;
        while n > 0 {
            let k = n.min(SPACES.len());
            out.extend_from_slice(&SPACES[..k]);
            n -= k;
        }
    }
}

impl JsonWriter {
    /// A writer of XML: what `json::rt` writes through it becomes FHIR XML.
    pub(crate) fn xml(pretty: bool) -> JsonWriter {
        let mut w = JsonWriter::new(Vec::with_capacity(4096), false);
        w.xml = Some(Box::new(XmlOut::new(pretty)));
        w
    }

    /// The XML written, or the first error.
    pub(crate) fn into_xml(mut self) -> Result<Vec<u8>, XmlError> {
        match self.xml.take().and_then(|x| x.error) {
            Some(e) => Err(e),
            None => Ok(self.out),
        }
    }

    fn xml_state(&mut self) -> (&mut Vec<u8>, &mut XmlOut) {
        let x = self.xml.as_deref_mut().expect("a writer in XML mode");
        (&mut self.out, x)
    }

    /// Content of the current element starts (a child element, the `div`): its start tag
    /// is closed, and a line started for the content at its depth. Returns the output's
    /// length before, and the parent's `open` and `has_children` before.
    fn xml_content_starts(out: &mut Vec<u8>, x: &mut XmlOut) -> (usize, bool, bool) {
        let mark = out.len();
        let depth = x.frames.len();
        let before = match x.frames.last_mut() {
            Some(parent) => {
                let before = (parent.open, parent.has_children);
                if parent.open {
                    out.push(b'>');
                    parent.open = false;
                }
                parent.has_children = true;
                before
            }
            None => (false, false),
        };
        line(out, x.pretty, depth);
        (mark, before.0, before.1)
    }

    /// Opens `<{base}{suffix}` (with the FHIR namespace at the root): its attributes and
    /// children follow.
    pub(crate) fn xml_open(&mut self, base: &str, suffix: &str) {
        let (out, x) = self.xml_state();
        let root = x.frames.is_empty();
        let (mark, parent_open, parent_children) = Self::xml_content_starts(out, x);
        out.push(b'<');
        let name_at = out.len();
        out.extend_from_slice(base.as_bytes());
        out.extend_from_slice(suffix.as_bytes());
        if root {
            out.extend_from_slice(FHIR_XMLNS);
        }
        x.frames.push(Frame {
            mark,
            name_at,
            name_len: base.len() + suffix.len(),
            attrs_end: out.len(),
            open: true,
            has_attrs: root,
            has_children: false,
            parent_open,
            parent_children,
        });
    }

    /// Closes the current element: `/>`, or its end tag; an element with nothing in it is
    /// taken back out.
    pub(crate) fn xml_close(&mut self) {
        let (out, x) = self.xml_state();
        let Some(f) = x.frames.pop() else { return };
        if !f.has_attrs && !f.has_children {
            out.truncate(f.mark);
            if let Some(parent) = x.frames.last_mut() {
                parent.open = f.parent_open;
                parent.has_children = f.parent_children;
            }
            return;
        }
        if f.open {
            out.extend_from_slice(b"/>");
        } else {
            line(out, x.pretty, x.frames.len());
            out.extend_from_slice(b"</");
            out.extend_from_within(f.name_at..f.name_at + f.name_len);
            out.push(b'>');
        }
    }

    /// `<{base}{suffix}>`, what `content` writes inside it, and its end (or nothing, if
    /// `content` wrote nothing): an element of a struct, or one wrapping a resource.
    pub(crate) fn xml_element(
        &mut self,
        base: &str,
        suffix: &str,
        content: impl FnOnce(&mut JsonWriter),
    ) {
        self.xml_open(base, suffix);
        content(self);
        self.xml_close();
    }

    /// `<name value="value"/>`.
    pub(crate) fn xml_value_element(&mut self, name: &str, value: &str) {
        self.xml_element(name, "", |w| w.xml_attribute("value", value));
    }

    /// ` name="value"` on the current element, wherever its content is.
    pub(crate) fn xml_attribute(&mut self, name: &str, value: &str) {
        let (out, x) = self.xml_state();
        let Some(f) = x.frames.last_mut() else { return };
        let at = out.len();
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b"=\"");
        let invalid = escape_attribute(out, value).err();
        out.push(b'"');
        let written = out.len() - at;
        if !f.open || f.attrs_end != at {
            // After the element's content (`Extension.url` follows `extension`): moved into
            // the start tag.
            out[f.attrs_end..].rotate_right(written);
        }
        f.attrs_end += written;
        f.has_attrs = true;
        if let Some(byte) = invalid {
            x.fail(out, invalid_char_message(value, byte), name);
        }
    }

    /// The value a primitive's `write_value` just wrote from `at` (in XML mode, a string as
    /// `"` and its raw text), made its `value` attribute.
    pub(crate) fn xml_value_written(&mut self, at: usize) {
        let (out, x) = self.xml_state();
        let mut token = std::mem::take(&mut x.scratch);
        token.clear();
        token.extend_from_slice(&out[at..]);
        out.truncate(at);
        let text = match token.first() {
            Some(b'"') => &token[1..],
            _ => &token[..],
        };
        // The writer's strings are valid UTF-8, and so are numbers and booleans.
        self.xml_attribute("value", std::str::from_utf8(text).unwrap_or_default());
        if let Some(x) = self.xml.as_deref_mut() {
            x.scratch = token;
        }
    }

    /// The narrative's XHTML `div`, copied as it is once checked.
    pub(crate) fn xml_div(&mut self, div: &str) {
        let (out, x) = self.xml_state();
        Self::xml_content_starts(out, x);
        if let Err(why) = check_div(div) {
            x.fail(out, why, "div");
        }
        out.extend_from_slice(div.as_bytes());
    }

    /// `resourceType` in XML mode: the resource's element opens (the `begin_object` before it
    /// wrote nothing; its `end_object` closes the element). A resource is never taken back
    /// out, even with nothing but its type.
    pub(crate) fn xml_resource_type(&mut self, name: &str) {
        self.xml_open(name, "");
        if let Some(f) = self.xml.as_deref_mut().and_then(|x| x.frames.last_mut()) {
            f.has_attrs = true;
        }
    }
}

/// Writes a FHIR XML document element by element, with whole resources from the model in
/// it, for documents a server puts together itself: a searchset Bundle of stored
/// resources is written straight to XML, as [`to_vec`](super::to_vec) writes one
/// resource. The first resource or element opened is the root, which gets the FHIR
/// namespace. An element left with no attribute and no child is taken back out, as JSON
/// leaves out empty objects.
///
/// ```
/// use fhir_model::r4::Resource;
/// use fhir_model::xml::XmlWriter;
///
/// let patient = Resource::from_json(r#"{"resourceType":"Patient","id":"1"}"#).unwrap();
/// let mut w = XmlWriter::new(false);
/// w.begin_resource("Bundle");
/// w.value("type", "searchset");
/// w.begin("entry");
/// w.begin("resource");
/// w.resource(&patient);
/// w.end();
/// w.end();
/// w.end();
/// let xml = String::from_utf8(w.finish().unwrap()).unwrap();
/// assert_eq!(
///     xml,
///     "<Bundle xmlns=\"http://hl7.org/fhir\"><type value=\"searchset\"/><entry><resource>\
///      <Patient><id value=\"1\"/></Patient></resource></entry></Bundle>"
/// );
/// ```
pub struct XmlWriter {
    w: JsonWriter,
}

impl XmlWriter {
    /// A writer of compact XML, or of XML indented by two spaces when `pretty`.
    pub fn new(pretty: bool) -> XmlWriter {
        XmlWriter {
            w: JsonWriter::xml(pretty),
        }
    }

    /// Opens the element of a resource (`Bundle`), which is never taken back out.
    pub fn begin_resource(&mut self, resource_type: &str) {
        self.w.xml_resource_type(resource_type);
    }

    /// Opens an element (`entry`): its attributes and children follow.
    pub fn begin(&mut self, name: &str) {
        self.w.xml_open(name, "");
    }

    /// Closes the element opened last.
    pub fn end(&mut self) {
        self.w.xml_close();
    }

    /// A primitive element with its value: `<name value="value"/>`.
    pub fn value(&mut self, name: &str, value: &str) {
        self.w.xml_value_element(name, value);
    }

    /// A whole resource from the model, as an element inside the one open (a Bundle entry's
    /// `resource`).
    pub fn resource<T: super::XmlResource>(&mut self, resource: &T) {
        resource.write_json(&mut self.w);
    }

    /// The document, or the first error: a character XML 1.0 does not allow, or a narrative
    /// `div` that is not well-formed XHTML, with the path of the element it is in.
    pub fn finish(self) -> Result<Vec<u8>, XmlError> {
        self.w.into_xml()
    }
}
