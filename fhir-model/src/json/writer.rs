//! Writes JSON text into a byte buffer. FHIR forbids empty objects and arrays, so a member
//! whose value turns out empty is taken back out of the buffer ([`JsonWriter::checkpoint`]).

use super::scan::clean_prefix;

/// Where the writer was before a member, to take the member back if it is empty.
#[derive(Clone, Copy)]
pub struct Checkpoint {
    len: usize,
    first: bool,
}

/// Writes compact or pretty (two-space indented) JSON.
pub struct JsonWriter {
    pub(crate) out: Vec<u8>,
    pretty: bool,
    indent: usize,
    /// No member or item has been written in the current container yet.
    pub(super) first: bool,
    /// The filter of [`JsonWriter::write_subset`], while it writes a resource in part.
    pub(super) subset: Option<Box<super::subset::SubsetState>>,
    /// That filter between two resources, kept to be used again.
    pub(super) parked_subset: Option<Box<super::subset::SubsetState>>,
    /// The filter is leaving out the member being written: its value need not be written.
    pub(super) muted: bool,
    /// Writing FHIR XML instead (`crate::xml::to_vec`): the member functions of `json::rt`
    /// write elements through this state.
    pub(crate) xml: Option<Box<crate::xml::typed::XmlOut>>,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl JsonWriter {
    /// A writer appending to `out`.
    pub fn new(out: Vec<u8>, pretty: bool) -> Self {
        JsonWriter {
            out,
            pretty,
            indent: 0,
            first: true,
            subset: None,
            parked_subset: None,
            muted: false,
            xml: None,
        }
    }

    /// The written bytes.
    pub fn into_inner(self) -> Vec<u8> {
        self.out
    }

    /// Whether the member whose name was just written is being left out (by
    /// [`JsonWriter::write_subset`]): its value need not be written at all.
    #[inline]
    pub fn skips_value(&self) -> bool {
        self.muted
    }

    /// The state before the next member or item.
    #[inline]
    pub fn checkpoint(&mut self) -> Checkpoint {
        if self.subset.is_some() {
            // A checkpoint is taken before a member: the member left out before it ends
            // here, so the checkpoint is in the real output.
            self.subset_member_start();
        }
        Checkpoint {
            len: self.out.len(),
            first: self.first,
        }
    }

    /// Takes back everything written since `cp`.
    #[inline]
    pub fn rollback(&mut self, cp: Checkpoint) {
        self.out.truncate(cp.len);
        self.first = cp.first;
    }

    #[inline]
    fn newline(&mut self) {
        if self.pretty {
            self.out.push(b'\n');
            for _ in 0..self.indent {
                self.out.extend_from_slice(b"  ");
            }
        }
    }

    #[inline]
    fn separator(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.newline();
    }

    /// Starts a member whose name is `prefix` + `base` + `suffix` (names need no escaping:
    /// FHIR element names are ASCII letters and digits).
    #[inline]
    pub fn key_parts(&mut self, underscore: bool, base: &str, suffix: &str) {
        if self.subset.is_some() {
            // Choices are judged by their element's name (`value`, not `valueQuantity`),
            // primitives' `_name` siblings by the primitive's.
            self.subset_key(base);
        }
        self.separator();
        self.out.push(b'"');
        if underscore {
            self.out.push(b'_');
        }
        self.out.extend_from_slice(base.as_bytes());
        self.out.extend_from_slice(suffix.as_bytes());
        self.out
            .extend_from_slice(if self.pretty { b"\": " } else { b"\":" });
    }

    /// Starts a member whose name may need escaping (any JSON, not FHIR element names).
    pub fn key_escaped(&mut self, name: &str) {
        self.separator();
        self.string(name);
        self.out
            .extend_from_slice(if self.pretty { b": " } else { b":" });
    }

    /// Starts a member.
    #[inline]
    pub fn key(&mut self, name: &str) {
        self.key_parts(false, name, "");
    }

    /// Starts an array item.
    #[inline]
    pub fn item(&mut self) {
        self.separator();
    }

    /// Writes `{`.
    #[inline]
    pub fn begin_object(&mut self) {
        if self.xml.is_some() {
            // A resource value: its element opens with its `resourceType`.
            return;
        }
        if self.subset.is_some() {
            self.subset_begin_object();
        }
        self.out.push(b'{');
        self.indent += 1;
        self.first = true;
    }

    /// Writes `}`; returns whether the object had members.
    #[inline]
    pub fn end_object(&mut self) -> bool {
        if self.xml.is_some() {
            self.xml_close();
            return true;
        }
        if self.subset.is_some() {
            self.subset_end_object();
        }
        let had_members = !self.first;
        self.indent -= 1;
        if had_members {
            self.newline();
        }
        self.out.push(b'}');
        self.first = false;
        had_members
    }

    /// Writes `[`.
    #[inline]
    pub fn begin_array(&mut self) {
        if self.subset.is_some() {
            self.subset_begin_object();
        }
        self.out.push(b'[');
        self.indent += 1;
        self.first = true;
    }

    /// Writes `]`; returns whether the array had items.
    #[inline]
    pub fn end_array(&mut self) -> bool {
        if self.subset.is_some() {
            self.subset_end_array();
        }
        let had_items = !self.first;
        self.indent -= 1;
        if had_items {
            self.newline();
        }
        self.out.push(b']');
        self.first = false;
        had_items
    }

    /// Writes the `resourceType` member.
    #[inline]
    pub fn resource_type(&mut self, name: &str) {
        if self.xml.is_some() {
            return self.xml_resource_type(name);
        }
        if self.subset.is_some() {
            self.subset_resource(name);
        }
        self.key("resourceType");
        self.string(name);
    }

    /// Writes `null`.
    #[inline]
    pub fn null(&mut self) {
        self.out.extend_from_slice(b"null");
    }

    /// Writes a boolean.
    #[inline]
    pub fn bool(&mut self, v: bool) {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
    }

    /// Writes text that is already a valid JSON number.
    #[inline]
    pub fn raw_number(&mut self, text: &str) {
        self.out.extend_from_slice(text.as_bytes());
    }

    /// Writes an integer.
    pub fn integer(&mut self, v: i64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        let negative = v < 0;
        let mut n = v.unsigned_abs();
        loop {
            i -= 1;
            buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if negative {
            self.out.push(b'-');
        }
        self.out.extend_from_slice(&buf[i..]);
    }

    /// Writes a string, escaped.
    pub fn string(&mut self, s: &str) {
        if self.xml.is_some() {
            // A primitive's value, made an attribute from here: `"` and the text as it is.
            self.out.push(b'"');
            self.out.extend_from_slice(s.as_bytes());
            return;
        }
        self.out.reserve(s.len() + 2);
        self.out.push(b'"');
        self.escaped(s);
        self.out.push(b'"');
    }

    /// Writes one string made of `parts` in order, escaped, without joining them first.
    ///
    /// ```
    /// let mut w = fhir_model::json::JsonWriter::new(Vec::new(), false);
    /// w.string_parts(&["Patient", "/", "1"]);
    /// assert_eq!(w.into_inner(), b"\"Patient/1\"");
    /// ```
    pub fn string_parts(&mut self, parts: &[&str]) {
        self.out.push(b'"');
        for part in parts {
            self.escaped(part);
        }
        self.out.push(b'"');
    }

    fn escaped(&mut self, s: &str) {
        let bytes = s.as_bytes();
        let mut start = 0;
        // Narratives, the longest strings of most resources, hold a quote or a line break
        // every few dozen bytes: after each escape the scan goes back to eight bytes at a
        // time rather than finishing the string byte by byte.
        loop {
            let end = start + clean_prefix(&bytes[start..]);
            self.out.extend_from_slice(&bytes[start..end]);
            let Some(&b) = bytes.get(end) else {
                return;
            };
            match b {
                b'"' => self.out.extend_from_slice(b"\\\""),
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                _ => self.out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ]),
            }
            start = end + 1;
        }
    }
}
