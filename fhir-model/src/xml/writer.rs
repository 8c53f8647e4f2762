//! Writing FHIR XML: a resource given as its FHIR JSON tree ([`Value`]) written as FHIR XML
//! (<https://hl7.org/fhir/xml.html>), driven by the version's [`XmlTable`].
//!
//! One set of functions serves every type: the table says, for each struct, its elements in
//! definition order (the order XML requires), which are attributes, which repeat and what each
//! holds. The output goes straight into a byte buffer; the only intermediate data is a reusable
//! stack of member indices used to put each object's members in table order.
//!
//! The JSON tree is checked as it is written: unknown members, values of the wrong JSON type,
//! empty objects and arrays, `_name` siblings of non-primitives and misaligned primitive arrays
//! are errors naming their path (`Patient.name[1].given[0]`, as the JSON reader names them).
//! The narrative `div` is written byte for byte after checking that it is one well-formed XHTML
//! `div` element.

use std::fmt::Write as _;

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::NsReader;

use super::error::XmlError;
use super::table::{JsonKind, XmlElement, XmlKind, XmlTable};
use crate::json::Value;

/// The FHIR namespace, declared on the root element.
const FHIR_XMLNS: &[u8] = b" xmlns=\"http://hl7.org/fhir\"";
/// The XHTML namespace the narrative `div` must declare.
const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";

/// Writes a FHIR resource, given as its FHIR JSON tree (an object with `resourceType`), as FHIR
/// XML: the root element names the resource type and declares the FHIR namespace, members are
/// written in definition order whatever their JSON order, `_name` siblings become the `id`
/// attribute and `extension` children of their primitive, and the narrative `div` is copied
/// unchanged. `pretty` indents by two spaces, one element a line (never inside the `div`);
/// otherwise the output has no whitespace between elements. There is no XML declaration.
///
/// Errors name the JSON path of what cannot be written: unknown members, wrong JSON types,
/// empty objects or arrays, a `_name` without a primitive `name`, primitive arrays whose `_`
/// array has another length, characters XML 1.0 does not allow, and a `div` that is not a
/// single well-formed XHTML `div` element.
///
/// For example `{"resourceType":"Patient","active":true}` becomes
/// `<Patient xmlns="http://hl7.org/fhir"><active value="true"/></Patient>`.
pub fn json_to_xml(resource: &Value, table: &XmlTable, pretty: bool) -> Result<Vec<u8>, XmlError> {
    let mut w = Writer {
        table,
        out: Vec::with_capacity(4096),
        pretty,
        depth: 0,
        entries: Vec::with_capacity(64),
    };
    match w.resource(resource, true) {
        Ok(()) => Ok(w.out),
        Err(fail) => Err((*fail).into_error()),
    }
}

// Errors.

/// One step of an error's path.
enum Seg<'a> {
    Member(&'a str),
    Index(usize),
}

/// An error on its way out: the path is collected in reverse while unwinding, so the happy
/// path never builds it.
struct Fail<'a> {
    message: String,
    root: Option<&'a str>,
    reversed: Vec<Seg<'a>>,
}

/// What the writing functions return; the box keeps the `Ok` path one word wide.
type Res<'a> = Result<(), Box<Fail<'a>>>;

impl<'a> Fail<'a> {
    #[cold]
    fn member(mut self: Box<Self>, name: &'a str) -> Box<Self> {
        self.reversed.push(Seg::Member(name));
        self
    }

    #[cold]
    fn index(mut self: Box<Self>, index: usize) -> Box<Self> {
        self.reversed.push(Seg::Index(index));
        self
    }

    /// Names the resource the path starts from; the outermost resource sets it last.
    #[cold]
    fn root(mut self: Box<Self>, root: &'a str) -> Box<Self> {
        self.root = Some(root);
        self
    }

    #[cold]
    fn into_error(self) -> XmlError {
        let mut path = self.root.unwrap_or("$").to_string();
        for seg in self.reversed.iter().rev() {
            match seg {
                Seg::Member(name) => {
                    path.push('.');
                    path.push_str(name);
                }
                Seg::Index(i) => {
                    let _ = write!(path, "[{i}]");
                }
            }
        }
        XmlError::new(self.message, path)
    }
}

#[cold]
#[inline(never)]
fn fail<'a>(message: impl Into<String>) -> Box<Fail<'a>> {
    Box::new(Fail {
        message: message.into(),
        root: None,
        reversed: Vec::new(),
    })
}

#[cold]
#[inline(never)]
fn expected<'a>(what: &str, v: &Value) -> Box<Fail<'a>> {
    fail(format!("expected {what}, found {}", v.kind()))
}

#[cold]
#[inline(never)]
fn empty_object<'a>() -> Box<Fail<'a>> {
    fail("empty objects are not allowed in FHIR JSON")
}

#[cold]
#[inline(never)]
fn empty_array<'a>() -> Box<Fail<'a>> {
    fail("empty arrays are not allowed in FHIR JSON")
}

// Character classes for escaping attribute values and checking the div.

/// Copied as is.
const COPY: u8 = 0;
/// Written as an entity or character reference.
const ESCAPE: u8 = 1;
/// Not allowed in XML 1.0.
const INVALID: u8 = 2;
/// The lead byte of U+F000..U+FFFF, which includes the non-characters U+FFFE and U+FFFF.
const LEAD_EF: u8 = 3;

static CLASS: [u8; 256] = {
    let mut t = [COPY; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = INVALID;
        b += 1;
    }
    t[b'\t' as usize] = ESCAPE;
    t[b'\n' as usize] = ESCAPE;
    t[b'\r' as usize] = ESCAPE;
    t[b'&' as usize] = ESCAPE;
    t[b'<' as usize] = ESCAPE;
    t[b'>' as usize] = ESCAPE;
    t[b'"' as usize] = ESCAPE;
    t[0xEF] = LEAD_EF;
    t
};

/// Whether the bytes at `i` (a `0xEF` lead byte) encode U+FFFE or U+FFFF.
#[inline]
fn is_nonchar_ef(b: &[u8], i: usize) -> bool {
    b.get(i + 1) == Some(&0xBF) && matches!(b.get(i + 2), Some(0xBE | 0xBF))
}

#[cold]
#[inline(never)]
fn invalid_char<'a>(s: &str, byte: usize) -> Box<Fail<'a>> {
    fail(invalid_char_message(s, byte))
}

/// What is said of the character at `byte` of `s`, which XML does not allow.
#[cold]
pub(super) fn invalid_char_message(s: &str, byte: usize) -> String {
    let c = s.get(byte..).and_then(|t| t.chars().next()).unwrap_or('\0');
    format!("the character U+{:04X} is not allowed in XML", c as u32)
}

/// Appends `s` escaped for an attribute value in double quotes: `&<>"` as entities, tab, LF
/// and CR as character references (so attribute normalization keeps them). A character XML
/// 1.0 does not allow is an error at its byte offset.
pub(super) fn escape_attribute(out: &mut Vec<u8>, s: &str) -> Result<(), usize> {
    let b = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        let class = CLASS[b[i] as usize];
        if class == COPY {
            i += 1;
            continue;
        }
        let rep: &[u8] = match b[i] {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            b'\t' => b"&#x9;",
            b'\n' => b"&#xA;",
            b'\r' => b"&#xD;",
            0xEF => {
                if is_nonchar_ef(b, i) {
                    return Err(i);
                }
                i += 1;
                continue;
            }
            _ => return Err(i),
        };
        out.extend_from_slice(&b[run..i]);
        out.extend_from_slice(rep);
        i += 1;
        run = i;
    }
    out.extend_from_slice(&b[run..]);
    Ok(())
}

/// The byte offset of the first character XML 1.0 does not allow (control characters other
/// than tab, LF and CR; U+FFFE; U+FFFF), if any. The reader checks documents with it too.
pub(super) fn first_invalid(b: &[u8]) -> Option<usize> {
    // Every document read goes through here whole: whole words of plain text are skipped
    // eight bytes at a time, and only a word with a control character or the lead byte of
    // U+FFFE and U+FFFF (0xEF) is looked at byte by byte.
    let mut i = 0;
    while i < b.len() {
        let clean = plain_words(&b[i..], 0xEF, 0xEF);
        i += clean;
        if i >= b.len() {
            break;
        }
        let word_end = (i + 8).min(b.len());
        while i < word_end {
            if is_invalid_at(b, i) {
                return Some(i);
            }
            i += 1;
        }
    }
    None
}

/// Whether the character at `i` (a byte offset in `b`) is one XML 1.0 does not allow.
#[inline]
fn is_invalid_at(b: &[u8], i: usize) -> bool {
    match CLASS[b[i] as usize] {
        INVALID => true,
        LEAD_EF => is_nonchar_ef(b, i),
        _ => false,
    }
}

/// How many leading bytes of `b` are in whole eight-byte words holding no control character
/// (below 0x20) and neither `x` nor `y`: the part a byte-by-byte scan for those can skip.
#[inline]
pub(super) fn plain_words(b: &[u8], x: u8, y: u8) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Non-zero exactly when some byte of `v` is zero (see `json::scan`).
    let zero_bytes = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let mut i = 0;
    while let Some(word) = b.get(i..i + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let v = u64::from_le_bytes(bytes);
        let control = zero_bytes(v & (0xe0 * ONES));
        let found_x = zero_bytes(v ^ (x as u64 * ONES));
        let found_y = zero_bytes(v ^ (y as u64 * ONES));
        if control | found_x | found_y != 0 {
            break;
        }
        i += 8;
    }
    i
}

#[cfg(test)]
fn first_invalid_bytewise(b: &[u8]) -> Option<usize> {
    (0..b.len()).find(|&i| is_invalid_at(b, i))
}

/// Whether `c` is a character XML 1.0 allows.
fn is_xml_char(c: u32) -> bool {
    matches!(c, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

// The writer.

/// A member of the object being written, with the element it stands for.
#[derive(Clone, Copy)]
struct Entry {
    /// The element's index in its type: the sort key.
    index: u32,
    /// The member's index in the object.
    member: u32,
    /// A `_name` member (a primitive's id and extensions).
    underscore: bool,
    element: &'static XmlElement,
    /// The kind of this member's name (a choice's chosen type).
    kind: XmlKind,
}

struct Writer<'t> {
    table: &'t XmlTable,
    out: Vec<u8>,
    pretty: bool,
    /// The nesting depth of the element being written (for indentation).
    depth: usize,
    /// A stack of the members of the objects being written, each object's slice in table order.
    entries: Vec<Entry>,
}

const SPACES: &[u8; 64] = b"                                                                ";

impl Writer<'_> {
    /// Starts a line at the current depth (pretty output, not at the very start).
    #[inline]
    fn line(&mut self) {
        if self.pretty && !self.out.is_empty() {
            self.out.push(b'\n');
            let mut n = self.depth * 2;
            while n > 0 {
                let k = n.min(SPACES.len());
                self.out.extend_from_slice(&SPACES[..k]);
                n -= k;
            }
        }
    }

    /// Writes `s` escaped for an attribute value in double quotes (see [`escape_attribute`]).
    fn escape<'a>(&mut self, s: &str) -> Res<'a> {
        escape_attribute(&mut self.out, s).map_err(|at| invalid_char(s, at))
    }

    /// Writes ` name="value"` with the value escaped.
    #[inline]
    fn attribute<'a>(&mut self, name: &str, value: &str) -> Res<'a> {
        self.out.push(b' ');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"=\"");
        self.escape(value)?;
        self.out.push(b'"');
        Ok(())
    }

    /// Writes `</name>` on its own line (pretty).
    #[inline]
    fn end_tag(&mut self, name: &str) {
        self.line();
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'>');
    }

    /// A resource: `<Type>` (with the FHIR namespace at the root) and its members.
    fn resource<'a>(&mut self, v: &'a Value, root: bool) -> Res<'a> {
        let Value::Object(members) = v else {
            return Err(expected("a resource (an object with resourceType)", v));
        };
        let rt = match members.iter().find(|(k, _)| k == "resourceType") {
            Some((_, Value::String(s))) => s.as_str(),
            Some((k, other)) => return Err(expected("a string", other).member(k)),
            None => return Err(fail("a resource needs a 'resourceType'")),
        };
        let Some(ty) = self.table.resource(rt) else {
            return Err(fail(format!("unknown resource type '{rt}'")).member("resourceType"));
        };
        self.line();
        self.out.push(b'<');
        self.out.extend_from_slice(rt.as_bytes());
        if root {
            self.out.extend_from_slice(FHIR_XMLNS);
        }
        self.body(rt, ty, members, true).map_err(|e| e.root(rt))
    }

    /// The rest of a struct's element after `<name`: its attributes, then `/>` or `>`, its
    /// children and `</name>`.
    fn body<'a>(
        &mut self,
        name: &str,
        ty: u16,
        members: &'a [(String, Value)],
        is_resource: bool,
    ) -> Res<'a> {
        if members.is_empty() {
            return Err(empty_object());
        }
        if ty as usize >= self.table.types.len() {
            return Err(fail(format!("the XML table has no type {ty}")));
        }
        let start = self.entries.len();
        let mut sorted = true;
        let mut last = 0;
        for (m, (key, _)) in members.iter().enumerate() {
            if is_resource && key == "resourceType" {
                continue;
            }
            let (underscore, xml_name) = match key.strip_prefix('_') {
                Some(rest) => (true, rest),
                None => (false, key.as_str()),
            };
            // Members usually come in definition order: look from the last one's element on.
            let found = self.table.element_from(ty, xml_name, last as usize);
            let Some((index, element, kind)) = found else {
                return Err(fail(format!("unknown element '{key}'")).member(key));
            };
            if underscore && (element.attribute || !matches!(kind, XmlKind::Primitive(_))) {
                return Err(fail(format!(
                    "'{key}' is only allowed beside a primitive element '{xml_name}'"
                ))
                .member(key));
            }
            let index = index as u32;
            sorted &= index >= last;
            last = index;
            self.entries.push(Entry {
                index,
                member: m as u32,
                underscore,
                element,
                kind,
            });
        }
        let end = self.entries.len();
        if !sorted {
            self.entries[start..end].sort_by_key(|e| e.index);
        }
        let result = self.members(name, members, start, end);
        self.entries.truncate(start);
        result
    }

    /// The end of the group of entries (the members for one element) starting at `i`.
    #[inline]
    fn group_end(&self, i: usize, end: usize) -> usize {
        let index = self.entries[i].index;
        let mut j = i + 1;
        while j < end && self.entries[j].index == index {
            j += 1;
        }
        j
    }

    /// Writes the sorted entries `start..end` of an object: attributes, then child elements.
    fn members<'a>(
        &mut self,
        name: &str,
        members: &'a [(String, Value)],
        start: usize,
        end: usize,
    ) -> Res<'a> {
        let mut children = false;
        let mut i = start;
        while i < end {
            let j = self.group_end(i, end);
            let e = self.entries[i];
            if e.element.attribute {
                let (value, _) = self.pair(members, i, j)?;
                let (key, v) = &members[value.unwrap_or(e.member) as usize];
                let Value::String(s) = v else {
                    return Err(expected("a string", v).member(key));
                };
                self.attribute(e.element.name, s)
                    .map_err(|e| e.member(key))?;
            } else {
                children = true;
            }
            i = j;
        }
        if !children {
            self.out.extend_from_slice(b"/>");
            return Ok(());
        }
        self.out.push(b'>');
        self.depth += 1;
        let mut i = start;
        while i < end {
            let j = self.group_end(i, end);
            if !self.entries[i].element.attribute {
                self.group(members, i, j)?;
            }
            i = j;
        }
        self.depth -= 1;
        self.end_tag(name);
        Ok(())
    }

    /// The members of one element's group: at most one `name` and one `_name`, of the same name.
    fn pair<'a>(
        &self,
        members: &'a [(String, Value)],
        i: usize,
        j: usize,
    ) -> Result<(Option<u32>, Option<u32>), Box<Fail<'a>>> {
        let mut value: Option<u32> = None;
        let mut ext: Option<u32> = None;
        for e in &self.entries[i..j] {
            let slot = if e.underscore { &mut ext } else { &mut value };
            if let Some(prev) = *slot {
                return Err(conflict(members, prev, e.member));
            }
            *slot = Some(e.member);
        }
        if let (Some(v), Some(x)) = (value, ext) {
            if members[x as usize].0.get(1..) != Some(members[v as usize].0.as_str()) {
                return Err(conflict(members, v, x));
            }
        }
        Ok((value, ext))
    }

    /// One element's members (`i..j` in the entries): a primitive with its `_` sibling, or the
    /// value(s) of any other element.
    fn group<'a>(&mut self, members: &'a [(String, Value)], i: usize, j: usize) -> Res<'a> {
        let (value, ext) = self.pair(members, i, j)?;
        let e = self.entries[i];
        let value = value.map(|m| {
            let (k, v) = &members[m as usize];
            (k.as_str(), v)
        });
        let ext = ext.map(|m| {
            let (k, v) = &members[m as usize];
            (k.as_str(), v)
        });
        if let XmlKind::Primitive(json) = e.kind {
            let name = match (value, ext) {
                (Some((k, _)), _) => k,
                (None, Some((k, _))) => &k[1..],
                (None, None) => return Ok(()),
            };
            return if e.element.repeated {
                self.primitives(name, json, value, ext)
            } else {
                self.primitive(name, json, value, ext)
            };
        }
        let Some((key, v)) = value else {
            return Ok(());
        };
        if e.element.repeated {
            let Value::Array(items) = v else {
                return Err(expected("an array", v).member(key));
            };
            if items.is_empty() {
                return Err(empty_array().member(key));
            }
            for (n, item) in items.iter().enumerate() {
                self.single(key, e.kind, item)
                    .map_err(|e| e.index(n).member(key))?;
            }
            Ok(())
        } else {
            self.single(key, e.kind, v).map_err(|e| e.member(key))
        }
    }

    /// One value of a non-primitive element named `name`.
    fn single<'a>(&mut self, name: &str, kind: XmlKind, v: &'a Value) -> Res<'a> {
        match kind {
            XmlKind::Complex(t) => {
                let Value::Object(members) = v else {
                    return Err(expected("an object", v));
                };
                self.line();
                self.out.push(b'<');
                self.out.extend_from_slice(name.as_bytes());
                self.body(name, t, members, false)
            }
            XmlKind::Resource => {
                if !matches!(v, Value::Object(_)) {
                    return Err(expected("a resource (an object with resourceType)", v));
                }
                self.line();
                self.out.push(b'<');
                self.out.extend_from_slice(name.as_bytes());
                self.out.push(b'>');
                self.depth += 1;
                self.resource(v, false)?;
                self.depth -= 1;
                self.end_tag(name);
                Ok(())
            }
            XmlKind::Xhtml => {
                let Value::String(s) = v else {
                    return Err(expected("a string (the XHTML div)", v));
                };
                check_div(s).map_err(fail)?;
                self.line();
                self.out.extend_from_slice(s.as_bytes());
                Ok(())
            }
            XmlKind::Plain => {
                let Value::String(s) = v else {
                    return Err(expected("a string", v));
                };
                self.line();
                self.out.push(b'<');
                self.out.extend_from_slice(name.as_bytes());
                self.attribute("value", s)?;
                self.out.extend_from_slice(b"/>");
                Ok(())
            }
            XmlKind::Primitive(json) => {
                self.line();
                self.out.push(b'<');
                self.out.extend_from_slice(name.as_bytes());
                self.prim_value(json, v)?;
                self.out.extend_from_slice(b"/>");
                Ok(())
            }
            XmlKind::Choice(_) => Err(fail(format!(
                "the XML table gives element '{name}' a choice type inside a choice"
            ))),
        }
    }

    /// A singular primitive: `name` and/or `_name`.
    fn primitive<'a>(
        &mut self,
        name: &'a str,
        json: JsonKind,
        value: Option<(&'a str, &'a Value)>,
        ext: Option<(&'a str, &'a Value)>,
    ) -> Res<'a> {
        let v = match value {
            Some((k, Value::Null)) => {
                return Err(expected(json_kind(json), &Value::Null).member(k));
            }
            Some((_, v)) => Some(v),
            None => None,
        };
        let (xkey, x) = match ext {
            Some((k, x)) => (k, Some(prim_ext(x).map_err(|e| e.member(k))?)),
            None => (name, None),
        };
        self.item(name, json, v, x, xkey, None)
    }

    /// A repeating primitive: `name` and/or `_name` arrays, aligned item by item.
    fn primitives<'a>(
        &mut self,
        name: &'a str,
        json: JsonKind,
        value: Option<(&'a str, &'a Value)>,
        ext: Option<(&'a str, &'a Value)>,
    ) -> Res<'a> {
        let values = match value {
            Some((k, v)) => Some(non_empty_array(v).map_err(|e| e.member(k))?),
            None => None,
        };
        let (xkey, exts) = match ext {
            Some((k, x)) => (k, Some(non_empty_array(x).map_err(|e| e.member(k))?)),
            None => (name, None),
        };
        let len = match (values, exts) {
            (Some(a), Some(b)) if a.len() != b.len() => {
                return Err(fail(format!(
                    "a primitive array and its '_' array must have the same length ({} and {})",
                    a.len(),
                    b.len()
                ))
                .member(xkey));
            }
            (Some(a), _) => a.len(),
            (None, Some(b)) => b.len(),
            (None, None) => return Ok(()),
        };
        for n in 0..len {
            let v = values
                .and_then(|a| a.get(n))
                .filter(|v| !matches!(v, Value::Null));
            let x = match exts.and_then(|a| a.get(n)) {
                None | Some(Value::Null) => None,
                Some(x) => Some(prim_ext(x).map_err(|e| e.index(n).member(xkey))?),
            };
            self.item(name, json, v, x, xkey, Some(n))?;
        }
        Ok(())
    }

    /// One primitive element: `<name id=".." value=".."/>`, with its extensions as children.
    /// `value` is never `null`; `xkey` is the `_name` member, `at` the item index if repeated.
    #[allow(clippy::too_many_arguments)]
    fn item<'a>(
        &mut self,
        name: &'a str,
        json: JsonKind,
        value: Option<&'a Value>,
        ext: Option<PrimExt<'a>>,
        xkey: &'a str,
        at: Option<usize>,
    ) -> Res<'a> {
        let wrap = |e: Box<Fail<'a>>, key: &'a str| match at {
            Some(n) => e.index(n).member(key),
            None => e.member(key),
        };
        let (id, extension) = match ext {
            Some(x) => (x.id, x.extension),
            None if value.is_none() => {
                return Err(wrap(
                    fail("a primitive needs a value, an id or extensions"),
                    name,
                ));
            }
            None => (None, None),
        };
        self.line();
        self.out.push(b'<');
        self.out.extend_from_slice(name.as_bytes());
        if let Some(id) = id {
            self.attribute("id", id)
                .map_err(|e| wrap(e.member("id"), xkey))?;
        }
        if let Some(v) = value {
            self.prim_value(json, v).map_err(|e| wrap(e, name))?;
        }
        let Some(extension) = extension else {
            self.out.extend_from_slice(b"/>");
            return Ok(());
        };
        let ext_ty = self.table.extension;
        self.out.push(b'>');
        self.depth += 1;
        for (n, x) in extension.iter().enumerate() {
            self.single("extension", XmlKind::Complex(ext_ty), x)
                .map_err(|e| wrap(e.index(n).member("extension"), xkey))?;
        }
        self.depth -= 1;
        self.end_tag(name);
        Ok(())
    }

    /// Writes ` value=".."` for a primitive's JSON value.
    #[inline]
    fn prim_value<'a>(&mut self, json: JsonKind, v: &Value) -> Res<'a> {
        match (json, v) {
            (JsonKind::Bool, Value::Bool(b)) => {
                self.out.extend_from_slice(if *b {
                    b" value=\"true\""
                } else {
                    b" value=\"false\""
                });
                Ok(())
            }
            (JsonKind::Number, Value::Number(s)) | (JsonKind::String, Value::String(s)) => {
                self.attribute("value", s)
            }
            _ => Err(expected(json_kind(json), v)),
        }
    }
}

/// A primitive's `_name` object: its id and extensions.
#[derive(Clone, Copy)]
struct PrimExt<'a> {
    id: Option<&'a str>,
    extension: Option<&'a [Value]>,
}

/// Reads a `_name` object (not `null`): only `id` (a string) and `extension` (an array).
fn prim_ext(x: &Value) -> Result<PrimExt<'_>, Box<Fail<'_>>> {
    let Value::Object(members) = x else {
        return Err(expected("an object", x));
    };
    if members.is_empty() {
        return Err(empty_object());
    }
    let mut ext = PrimExt {
        id: None,
        extension: None,
    };
    for (k, v) in members {
        match k.as_str() {
            "id" => {
                if ext.id.is_some() {
                    return Err(fail("the element appears more than once").member(k));
                }
                let Value::String(s) = v else {
                    return Err(expected("a string", v).member(k));
                };
                ext.id = Some(s);
            }
            "extension" => {
                if ext.extension.is_some() {
                    return Err(fail("the element appears more than once").member(k));
                }
                ext.extension = Some(non_empty_array(v).map_err(|e| e.member(k))?);
            }
            _ => return Err(fail(format!("unknown element '{k}'")).member(k)),
        }
    }
    Ok(ext)
}

/// The items of a JSON array that must not be empty.
fn non_empty_array(v: &Value) -> Result<&[Value], Box<Fail<'_>>> {
    match v {
        Value::Array(items) if !items.is_empty() => Ok(items),
        Value::Array(_) => Err(empty_array()),
        _ => Err(expected("an array", v)),
    }
}

/// The JSON type a primitive's value must have.
fn json_kind(kind: JsonKind) -> &'static str {
    match kind {
        JsonKind::Bool => "a boolean",
        JsonKind::Number => "a number",
        JsonKind::String => "a string",
    }
}

#[cold]
#[inline(never)]
fn conflict<'a>(members: &'a [(String, Value)], first: u32, second: u32) -> Box<Fail<'a>> {
    let a = &members[first as usize].0;
    let b = &members[second as usize].0;
    let message = if a == b {
        "the element appears more than once".to_string()
    } else {
        format!("'{a}' and '{b}' are values of the same element")
    };
    fail(message).member(b)
}
// The narrative div.

/// Checks that `s` is exactly one well-formed XML element, `div` in the XHTML namespace
/// (declared on it, as nothing outside it declares that namespace), with nothing before or
/// after it: no XML declaration, no DOCTYPE, no entity references other than the predefined
/// ones and character references, only characters XML 1.0 allows, and every element in a
/// namespace (an element in none would fall into the FHIR namespace once embedded). The
/// reader checks every narrative it reads with it too.
pub(crate) fn check_div(s: &str) -> Result<(), String> {
    if let Some(i) = first_invalid(s.as_bytes()) {
        return Err(invalid_char(s, i).message);
    }
    // The reader skips a leading byte order mark; nothing at all may precede the div.
    if s.is_empty() {
        return Err("the div is empty: expected an XHTML div element".into());
    }
    if !s.starts_with('<') {
        return Err("nothing may come before or after the div element".into());
    }
    let mut r = NsReader::from_str(s);
    r.config_mut().check_comments = true;
    let mut depth = 0usize;
    let mut seen = false;
    loop {
        let event = r
            .read_event()
            .map_err(|e| format!("the div is not well-formed XML: {e}"))?;
        match event {
            Event::Start(e) | Event::Empty(e) if depth == 0 && seen => {
                return Err(format!(
                    "the div must be a single element; found '{}' after it",
                    e.name().as_ref()
                ));
            }
            Event::Start(e) => {
                check_start(&r, &e, depth)?;
                seen = true;
                depth += 1;
            }
            Event::Empty(e) => {
                check_start(&r, &e, depth)?;
                seen = true;
            }
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            Event::DocType(_) => return Err("a DOCTYPE is not allowed in the div".into()),
            Event::Decl(_) => return Err("an XML declaration is not allowed in the div".into()),
            _ if depth == 0 => {
                return Err("nothing may come before or after the div element".into());
            }
            Event::Text(t) => {
                if contains_cdata_end(t.as_bytes()) {
                    return Err("']]>' is not allowed in text".into());
                }
            }
            Event::GeneralRef(e) => {
                if !is_allowed_ref(e.as_bytes()) {
                    return Err(format!("the entity reference '&{};' is not allowed", &*e));
                }
            }
            Event::CData(_) | Event::Comment(_) | Event::PI(_) => {}
        }
    }
    if !seen {
        return Err("the div is empty: expected an XHTML div element".into());
    }
    if depth != 0 {
        return Err("the div is not well-formed XML: an element is not closed".into());
    }
    Ok(())
}

/// Checks a start tag inside the div: its name, namespace and attributes.
fn check_start(r: &NsReader<&[u8]>, e: &BytesStart<'_>, depth: usize) -> Result<(), String> {
    let qname = e.name();
    let name = qname.as_ref();
    if !is_xml_name(name.as_bytes()) {
        return Err(format!("'{name}' is not a valid element name"));
    }
    let (ns, local) = r.resolver().resolve_element(qname);
    if depth == 0 {
        if local.as_ref() != "div" || ns != ResolveResult::Bound(Namespace(XHTML_NS)) {
            return Err(format!(
                "the narrative must be a div element declaring the XHTML namespace \
                 (<div xmlns=\"{XHTML_NS}\">), found '{name}'"
            ));
        }
    } else {
        match ns {
            ResolveResult::Bound(_) => {}
            ResolveResult::Unbound => {
                return Err(format!("the element '{name}' is in no namespace"));
            }
            ResolveResult::Unknown(prefix) => {
                return Err(format!("the prefix '{prefix}' of '{name}' is not declared"));
            }
        }
    }
    for attr in e.attributes() {
        let attr = attr.map_err(|e| format!("the div is not well-formed XML: {e}"))?;
        let key = attr.key.as_ref();
        if !is_xml_name(key.as_bytes()) {
            return Err(format!("'{key}' is not a valid attribute name"));
        }
        if attr.key.as_namespace_binding().is_none() {
            if let ResolveResult::Unknown(prefix) = r.resolver().resolve_attribute(attr.key).0 {
                return Err(format!("the prefix '{prefix}' of '{key}' is not declared"));
            }
        }
        check_attribute_value(attr.value.as_bytes())
            .map_err(|m| format!("attribute '{key}' of '{name}': {m}"))?;
    }
    Ok(())
}

/// Checks a raw attribute value: no `<`, and every `&` starts an allowed reference.
fn check_attribute_value(v: &[u8]) -> Result<(), String> {
    let mut i = 0;
    while i < v.len() {
        match v[i] {
            b'<' => return Err("'<' is not allowed in an attribute value".into()),
            b'&' => {
                let Some(len) = v[i + 1..].iter().position(|&b| b == b';') else {
                    return Err("'&' must start a reference ending in ';'".into());
                };
                let reference = &v[i + 1..i + 1 + len];
                if !is_allowed_ref(reference) {
                    return Err(format!(
                        "the entity reference '&{};' is not allowed",
                        String::from_utf8_lossy(reference)
                    ));
                }
                i += len + 2;
            }
            _ => i += 1,
        }
    }
    Ok(())
}

/// Whether `&name;` is a predefined entity or a character reference to a character XML 1.0
/// allows.
fn is_allowed_ref(name: &[u8]) -> bool {
    match name {
        b"amp" | b"lt" | b"gt" | b"quot" | b"apos" => true,
        [b'#', b'x', hex @ ..] => parse_ref(hex, 16),
        [b'#', dec @ ..] => parse_ref(dec, 10),
        _ => false,
    }
}

/// Whether `digits` is a number in `radix` naming a character XML 1.0 allows.
fn parse_ref(digits: &[u8], radix: u32) -> bool {
    if digits.is_empty() {
        return false;
    }
    let mut n: u32 = 0;
    for &d in digits {
        let Some(v) = (d as char).to_digit(radix) else {
            return false;
        };
        n = match n.checked_mul(radix).and_then(|n| n.checked_add(v)) {
            Some(n) => n,
            None => return false,
        };
    }
    is_xml_char(n)
}

/// Whether text contains `]]>`, which XML does not allow in character data.
fn contains_cdata_end(t: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = t[from..].iter().position(|&b| b == b'>') {
        let at = from + p;
        if at >= 2 && &t[at - 2..at] == b"]]" {
            return true;
        }
        from = at + 1;
    }
    false
}

/// Whether `name` is an XML name (ASCII checked exactly; any non-ASCII character accepted).
fn is_xml_name(name: &[u8]) -> bool {
    let Some((&first, rest)) = name.split_first() else {
        return false;
    };
    let start = |b: u8| b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80;
    start(first)
        && rest
            .iter()
            .all(|&b| start(b) || b.is_ascii_digit() || b == b'-' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::{self, Value};
    use crate::xml::table::{XmlChoice, XmlType};

    #[test]
    fn first_invalid_finds_what_a_byte_by_byte_scan_finds() {
        // Each troublesome sequence at every offset of two words, in plain ASCII and beside
        // other multi-byte characters (U+FFFD is EF BF BD, allowed; U+FFFE and U+FFFF not).
        let specials: [&[u8]; 9] = [
            b"\x00",
            b"\x1f",
            b"\x08",
            b"\t",
            b"\n\r",
            "\u{FFFD}".as_bytes(),
            "\u{FFFE}".as_bytes(),
            "\u{FFFF}".as_bytes(),
            "\u{E9}\u{FEFF}".as_bytes(),
        ];
        for special in specials {
            for at in 0..20 {
                for len in at + special.len()..at + special.len() + 10 {
                    let mut b = vec![b'a'; len];
                    b[at..at + special.len()].copy_from_slice(special);
                    assert_eq!(
                        first_invalid(&b),
                        first_invalid_bytewise(&b),
                        "{special:?} at {at} of {len}"
                    );
                }
            }
        }
        assert_eq!(first_invalid(b"abcdefghijklmnop\x01"), Some(16));
        assert_eq!(first_invalid("abcdefg\u{FFFF}".as_bytes()), Some(7));
        assert_eq!(first_invalid(b"abc\tdefghijk\n"), None);
    }

    const fn el(name: &'static str, kind: XmlKind) -> XmlElement {
        XmlElement {
            name,
            repeated: false,
            attribute: false,
            kind,
            summary: false,
            modifier: false,
            mandatory: false,
        }
    }
    const fn many(name: &'static str, kind: XmlKind) -> XmlElement {
        XmlElement {
            name,
            repeated: true,
            attribute: false,
            kind,
            summary: false,
            modifier: false,
            mandatory: false,
        }
    }
    const fn attr(name: &'static str) -> XmlElement {
        XmlElement {
            name,
            repeated: false,
            attribute: true,
            kind: XmlKind::Plain,
            summary: false,
            modifier: false,
            mandatory: false,
        }
    }

    const STRING: XmlKind = XmlKind::Primitive(JsonKind::String);
    const BOOL: XmlKind = XmlKind::Primitive(JsonKind::Bool);
    const NUMBER: XmlKind = XmlKind::Primitive(JsonKind::Number);
    const PATIENT: u16 = 0;
    const META: u16 = 1;
    const NARRATIVE: u16 = 2;
    const HUMAN_NAME: u16 = 3;
    const EXTENSION: u16 = 4;
    const ORGANIZATION: u16 = 5;

    static TABLE: XmlTable = XmlTable {
        types: &[
            XmlType {
                name: "Patient",
                elements: &[
                    el("id", STRING),
                    el("meta", XmlKind::Complex(META)),
                    el("text", XmlKind::Complex(NARRATIVE)),
                    many("contained", XmlKind::Resource),
                    many("extension", XmlKind::Complex(EXTENSION)),
                    el("active", BOOL),
                    many("name", XmlKind::Complex(HUMAN_NAME)),
                    el(
                        "multipleBirth",
                        XmlKind::Choice(&[
                            XmlChoice {
                                suffix: "Boolean",
                                kind: BOOL,
                            },
                            XmlChoice {
                                suffix: "Integer",
                                kind: NUMBER,
                            },
                        ]),
                    ),
                ],
            },
            XmlType {
                name: "Meta",
                elements: &[attr("id"), el("versionId", STRING)],
            },
            XmlType {
                name: "Narrative",
                elements: &[attr("id"), el("status", STRING), el("div", XmlKind::Xhtml)],
            },
            XmlType {
                name: "HumanName",
                elements: &[
                    attr("id"),
                    many("extension", XmlKind::Complex(EXTENSION)),
                    el("family", STRING),
                    many("given", STRING),
                ],
            },
            XmlType {
                name: "Extension",
                elements: &[
                    attr("id"),
                    many("extension", XmlKind::Complex(EXTENSION)),
                    attr("url"),
                    el(
                        "value",
                        XmlKind::Choice(&[
                            XmlChoice {
                                suffix: "String",
                                kind: STRING,
                            },
                            XmlChoice {
                                suffix: "Integer",
                                kind: NUMBER,
                            },
                            XmlChoice {
                                suffix: "Decimal",
                                kind: NUMBER,
                            },
                        ]),
                    ),
                ],
            },
            XmlType {
                name: "Organization",
                elements: &[el("id", STRING), el("active", BOOL), el("name", STRING)],
            },
        ],
        resources: &[("Organization", ORGANIZATION), ("Patient", PATIENT)],
        extension: EXTENSION,
    };

    const NS: &str = r#" xmlns="http://hl7.org/fhir""#;
    const DIV: &str =
        r#"<div xmlns="http://www.w3.org/1999/xhtml"><p>a &amp; b&#160;<b>c</b></p></div>"#;

    fn value(text: &str) -> Value {
        json::from_str::<Value>(text).unwrap()
    }

    /// Checks the output is well-formed namespaced XML.
    fn well_formed(xml: &str) {
        let mut r = NsReader::from_str(xml);
        loop {
            match r.read_resolved_event() {
                Ok((ResolveResult::Unknown(p), _)) => panic!("unknown prefix {p} in {xml}"),
                Ok((_, Event::Eof)) => break,
                Ok(_) => {}
                Err(e) => panic!("{e} in {xml}"),
            }
        }
    }

    fn xml(text: &str) -> String {
        let out = String::from_utf8(json_to_xml(&value(text), &TABLE, false).unwrap()).unwrap();
        well_formed(&out);
        out
    }

    fn pretty(text: &str) -> String {
        let out = String::from_utf8(json_to_xml(&value(text), &TABLE, true).unwrap()).unwrap();
        well_formed(&out);
        out
    }

    /// The path and message of the error writing `text`.
    fn err(text: &str) -> (String, String) {
        let e = json_to_xml(&value(text), &TABLE, false).unwrap_err();
        (e.path().to_string(), e.message().to_string())
    }

    fn err_path(text: &str) -> String {
        err(text).0
    }

    #[test]
    fn primitives_with_ids_and_extensions_in_a_repeating_element() {
        let text = r#"{"resourceType":"Patient","name":[{"id":"n1","family":"Doe",
            "given":["A",null,"C"],
            "_given":[null,{"id":"g2","extension":[{"url":"http://x","valueString":"B"}]},{"id":"g3"}]}]}"#;
        assert_eq!(
            xml(text),
            format!(
                "<Patient{NS}><name id=\"n1\"><family value=\"Doe\"/><given value=\"A\"/>\
                 <given id=\"g2\"><extension url=\"http://x\"><valueString value=\"B\"/></extension></given>\
                 <given id=\"g3\" value=\"C\"/></name></Patient>"
            )
        );
        // Only the `_` array.
        assert_eq!(
            xml(r#"{"resourceType":"Patient","name":[{"_given":[{"id":"a"},{"id":"b"}]}]}"#),
            format!(r#"<Patient{NS}><name><given id="a"/><given id="b"/></name></Patient>"#)
        );
        // A singular primitive with id and extension on the value.
        assert_eq!(
            xml(
                r#"{"resourceType":"Patient","_active":{"id":"x","extension":[{"url":"u","valueInteger":2}]},"active":false}"#
            ),
            format!(
                r#"<Patient{NS}><active id="x" value="false"><extension url="u"><valueInteger value="2"/></extension></active></Patient>"#
            )
        );
        // `_id` of the resource id (a primitive, not an attribute).
        assert_eq!(
            xml(r#"{"resourceType":"Patient","id":"p1","_id":{"id":"i"}}"#),
            format!(r#"<Patient{NS}><id id="i" value="p1"/></Patient>"#)
        );
    }

    #[test]
    fn members_are_written_in_table_order() {
        assert_eq!(
            xml(
                r#"{"multipleBirthBoolean":true,"name":[{"given":["x","y"],"family":"f","id":"n"}],"active":true,"resourceType":"Patient","id":"p"}"#
            ),
            format!(
                r#"<Patient{NS}><id value="p"/><active value="true"/><name id="n"><family value="f"/><given value="x"/><given value="y"/></name><multipleBirthBoolean value="true"/></Patient>"#
            )
        );
        // Attributes go in the start tag even when they come after children in the table.
        assert_eq!(
            xml(
                r#"{"resourceType":"Patient","extension":[{"valueInteger":1,"extension":[{"valueString":"s","url":"b"}],"url":"a","id":"e"}]}"#
            ),
            format!(
                r#"<Patient{NS}><extension id="e" url="a"><extension url="b"><valueString value="s"/></extension><valueInteger value="1"/></extension></Patient>"#
            )
        );
    }

    #[test]
    fn attributes_are_escaped() {
        let out = xml(
            r#"{"resourceType":"Patient","name":[{"family":"a&b<c>\"d'\ne\tf\rg é 💡"}],"extension":[{"url":"u?a=1&b=\"2\"","valueString":"]]>"}]}"#,
        );
        assert_eq!(
            out,
            format!(
                "<Patient{NS}><extension url=\"u?a=1&amp;b=&quot;2&quot;\"><valueString value=\"]]&gt;\"/></extension>\
                 <name><family value=\"a&amp;b&lt;c&gt;&quot;d'&#xA;e&#x9;f&#xD;g é 💡\"/></name></Patient>"
            )
        );
        // The round trip through an XML parser gives back the exact string.
        let mut r = NsReader::from_str(&out);
        loop {
            match r.read_event().unwrap() {
                Event::Empty(e) if e.name().as_ref() == "family" => {
                    let v = e.try_get_attribute("value").unwrap().unwrap();
                    assert_eq!(
                        v.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap(),
                        "a&b<c>\"d'\ne\tf\rg é 💡"
                    );
                    break;
                }
                Event::Eof => panic!("no family"),
                _ => {}
            }
        }
    }

    #[test]
    fn characters_not_allowed_in_xml_are_errors() {
        let (path, message) =
            err(r#"{"resourceType":"Patient","name":[{"given":["ok","a\u0001b"]}]}"#);
        assert_eq!(path, "Patient.name[0].given[1]");
        assert_eq!(message, "the character U+0001 is not allowed in XML");
        assert_eq!(
            err(r#"{"resourceType":"Patient","id":"\uFFFE"}"#),
            (
                "Patient.id".to_string(),
                "the character U+FFFE is not allowed in XML".to_string()
            )
        );
        assert_eq!(
            err_path(r#"{"resourceType":"Patient","name":[{"_given":[{"id":"\u0000"}]}]}"#),
            "Patient.name[0]._given[0].id"
        );
        assert_eq!(
            err_path(r#"{"resourceType":"Patient","extension":[{"url":"\u001f"}]}"#),
            "Patient.extension[0].url"
        );
        // U+FFFD and other characters starting with byte 0xEF are fine.
        assert!(xml(r#"{"resourceType":"Patient","id":"\uFFFD\uF000"}"#).contains("\u{FFFD}"));
    }

    #[test]
    fn numbers_are_kept_exactly() {
        assert_eq!(
            xml(
                r#"{"resourceType":"Patient","extension":[{"url":"a","valueDecimal":1.50},{"url":"b","valueDecimal":-0.000},{"url":"c","valueDecimal":1e-7}],"multipleBirthInteger":2}"#
            ),
            format!(
                r#"<Patient{NS}><extension url="a"><valueDecimal value="1.50"/></extension><extension url="b"><valueDecimal value="-0.000"/></extension><extension url="c"><valueDecimal value="1e-7"/></extension><multipleBirthInteger value="2"/></Patient>"#
            )
        );
    }

    #[test]
    fn contained_resources() {
        assert_eq!(
            xml(
                r#"{"resourceType":"Patient","id":"p","contained":[{"resourceType":"Organization","name":"O","id":"o1"},{"resourceType":"Patient","active":true}],"active":false}"#
            ),
            format!(
                r#"<Patient{NS}><id value="p"/><contained><Organization><id value="o1"/><name value="O"/></Organization></contained><contained><Patient><active value="true"/></Patient></contained><active value="false"/></Patient>"#
            )
        );
        // A resource with no members but its type.
        assert_eq!(
            xml(r#"{"resourceType":"Patient","contained":[{"resourceType":"Organization"}]}"#),
            format!(r#"<Patient{NS}><contained><Organization/></contained></Patient>"#)
        );
        assert_eq!(
            err(
                r#"{"resourceType":"Patient","contained":[{"resourceType":"Organization","active":1}]}"#
            ),
            (
                "Patient.contained[0].active".to_string(),
                "expected a boolean, found a number".to_string()
            )
        );
        assert_eq!(
            err(r#"{"resourceType":"Patient","contained":[{"resourceType":"Nope"}]}"#),
            (
                "Patient.contained[0].resourceType".to_string(),
                "unknown resource type 'Nope'".to_string()
            )
        );
        assert_eq!(
            err_path(r#"{"resourceType":"Patient","contained":[{"id":"x"}]}"#),
            "Patient.contained[0]"
        );
        assert_eq!(
            err_path(r#"{"resourceType":"Patient","contained":{"resourceType":"Patient"}}"#),
            "Patient.contained"
        );
    }

    #[test]
    fn the_div_is_written_raw() {
        let div = "<div xmlns=\"http://www.w3.org/1999/xhtml\">\n  <p class=\"x &amp; y\">a &amp; b&#160;&#xA0;<b>c</b><br/></p>\n<!-- c --><![CDATA[<x>]]>\r\n</div>";
        let text = format!(
            r#"{{"resourceType":"Patient","text":{{"status":"generated","div":{},"id":"t"}}}}"#,
            json::to_string(&Value::String(div.into()))
        );
        assert_eq!(
            xml(&text),
            format!(
                r#"<Patient{NS}><text id="t"><status value="generated"/>{div}</text></Patient>"#
            )
        );
        assert_eq!(
            pretty(&text),
            format!(
                "<Patient{NS}>\n  <text id=\"t\">\n    <status value=\"generated\"/>\n    {div}\n  </text>\n</Patient>"
            )
        );
        // Prefixed, with xml:lang and a nested namespace.
        let div = r#"<h:div xmlns:h="http://www.w3.org/1999/xhtml" xml:lang="en"><h:p>x</h:p><svg xmlns="http://www.w3.org/2000/svg"/></h:div>"#;
        let text = format!(
            r#"{{"resourceType":"Patient","text":{{"div":{}}}}}"#,
            json::to_string(&Value::String(div.into()))
        );
        assert!(xml(&text).contains(div));
        let text = format!(
            r#"{{"resourceType":"Patient","text":{{"div":"{}"}}}}"#,
            DIV.replace('"', "\\\"")
        );
        assert!(xml(&text).contains(DIV));
        for div in [
            r#"<div xmlns="http://www.w3.org/1999/xhtml"/>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml"><p xmlns:x="urn:x" x:a="1" title='&lt;&#x1F4A1;'/></div>"#,
        ] {
            let text = format!(
                r#"{{"resourceType":"Patient","text":{{"div":{}}}}}"#,
                json::to_string(&Value::String(div.into()))
            );
            assert!(xml(&text).contains(div), "{div}");
        }
    }

    #[test]
    fn invalid_divs_are_rejected() {
        let bad = [
            r#"<div xmlns="http://www.w3.org/1999/xhtml"><p></div>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml"><p>"#,
            r#"<div>x</div>"#,
            r#"<div xmlns="http://hl7.org/fhir">x</div>"#,
            r#"<p xmlns="http://www.w3.org/1999/xhtml">x</p>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml">&nbsp;</div>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml">&#1;</div>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml">& </div>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml" title="&x;"/>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml" title="a<b"/>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml" title="a" title="b"/>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml" title=a/>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml"><x:p/></div>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml"><p x:a="1"/></div>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml"><p xmlns="">x</p></div>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml">a]]>b</div>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml"><!-- a -- b --></div>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml"/><div xmlns="http://www.w3.org/1999/xhtml"/>"#,
            r#"<div xmlns="http://www.w3.org/1999/xhtml"/>text"#,
            r#" <div xmlns="http://www.w3.org/1999/xhtml"/>"#,
            r#"<!-- c --><div xmlns="http://www.w3.org/1999/xhtml"/>"#,
            r#"<?xml version="1.0"?><div xmlns="http://www.w3.org/1999/xhtml"/>"#,
            r#"<!DOCTYPE div [<!ENTITY x "y">]><div xmlns="http://www.w3.org/1999/xhtml">&x;</div>"#,
            "<div xmlns=\"http://www.w3.org/1999/xhtml\">\u{1}</div>",
            "<div xmlns=\"http://www.w3.org/1999/xhtml\">\u{FFFF}</div>",
            "\u{FEFF}<div xmlns=\"http://www.w3.org/1999/xhtml\"/>",
            "plain text",
            "",
        ];
        for div in bad {
            let text = format!(
                r#"{{"resourceType":"Patient","text":{{"div":{}}}}}"#,
                json::to_string(&Value::String(div.into()))
            );
            let e =
                json_to_xml(&value(&text), &TABLE, false).expect_err(&format!("accepted {div:?}"));
            assert_eq!(e.path(), "Patient.text.div", "{div:?}: {e}");
        }
        assert_eq!(
            err(r#"{"resourceType":"Patient","text":{"div":1}}"#).1,
            "expected a string (the XHTML div), found a number"
        );
    }

    #[test]
    fn errors_name_the_path() {
        let cases = [
            (
                r#"{"resourceType":"Patient","name":[{"family":"a"},{"foo":1}]}"#,
                "Patient.name[1].foo",
                "unknown element 'foo'",
            ),
            (
                r#"{"resourceType":"Patient","name":[{"given":["a",{}]}]}"#,
                "Patient.name[0].given[1]",
                "expected a string, found an object",
            ),
            (
                r#"{"resourceType":"Patient","name":[{"family":["a"]}]}"#,
                "Patient.name[0].family",
                "expected a string, found an array",
            ),
            (
                r#"{"resourceType":"Patient","name":{"family":"a"}}"#,
                "Patient.name",
                "expected an array, found an object",
            ),
            (
                r#"{"resourceType":"Patient","meta":[{"versionId":"1"}]}"#,
                "Patient.meta",
                "expected an object, found an array",
            ),
            (
                r#"{"resourceType":"Patient","active":"true"}"#,
                "Patient.active",
                "expected a boolean, found a string",
            ),
            (
                r#"{"resourceType":"Patient","active":null}"#,
                "Patient.active",
                "expected a boolean, found null",
            ),
            (
                r#"{"resourceType":"Patient","multipleBirthInteger":"2"}"#,
                "Patient.multipleBirthInteger",
                "expected a number, found a string",
            ),
            (
                r#"{"resourceType":"Patient","multipleBirthString":"2"}"#,
                "Patient.multipleBirthString",
                "unknown element 'multipleBirthString'",
            ),
            (
                r#"{"resourceType":"Patient","multipleBirthInteger":2,"multipleBirthBoolean":true}"#,
                "Patient.multipleBirthBoolean",
                "'multipleBirthInteger' and 'multipleBirthBoolean' are values of the same element",
            ),
            (
                r#"{"resourceType":"Patient","multipleBirthInteger":2,"_multipleBirthBoolean":{"id":"x"}}"#,
                "Patient._multipleBirthBoolean",
                "'multipleBirthInteger' and '_multipleBirthBoolean' are values of the same element",
            ),
            (
                r#"{"resourceType":"Patient","active":true,"active":false}"#,
                "Patient.active",
                "the element appears more than once",
            ),
            (
                r#"{"resourceType":"Patient","_text":{"id":"x"}}"#,
                "Patient._text",
                "'_text' is only allowed beside a primitive element 'text'",
            ),
            (
                r#"{"resourceType":"Patient","name":[{"_id":"x"}]}"#,
                "Patient.name[0]._id",
                "'_id' is only allowed beside a primitive element 'id'",
            ),
            (
                r#"{"resourceType":"Patient","name":[{"id":7}]}"#,
                "Patient.name[0].id",
                "expected a string, found a number",
            ),
            (
                r#"{"resourceType":"Patient","name":[{"given":["a","b"],"_given":[null]}]}"#,
                "Patient.name[0]._given",
                "a primitive array and its '_' array must have the same length (2 and 1)",
            ),
            (
                r#"{"resourceType":"Patient","name":[{"given":["a",null]}]}"#,
                "Patient.name[0].given[1]",
                "a primitive needs a value, an id or extensions",
            ),
            (
                r#"{"resourceType":"Patient","name":[{"given":["a",null],"_given":[{"id":"x"},null]}]}"#,
                "Patient.name[0].given[1]",
                "a primitive needs a value, an id or extensions",
            ),
            (
                r#"{"resourceType":"Patient","name":[{"_given":[{"id":"x","foo":1}]}]}"#,
                "Patient.name[0]._given[0].foo",
                "unknown element 'foo'",
            ),
            (
                r#"{"resourceType":"Patient","name":[{"_given":[{"extension":[{"url":"u","valueDecimal":"1"}]}]}]}"#,
                "Patient.name[0]._given[0].extension[0].valueDecimal",
                "expected a number, found a string",
            ),
            (
                r#"{"resourceType":"Patient","_active":{"extension":[{"url":"u","bad":1}]}}"#,
                "Patient._active.extension[0].bad",
                "unknown element 'bad'",
            ),
            (
                r#"{"resourceType":"Patient","_active":null}"#,
                "Patient._active",
                "expected an object, found null",
            ),
            (
                r#"{"resourceType":"Patient","name":[{}]}"#,
                "Patient.name[0]",
                "empty objects are not allowed in FHIR JSON",
            ),
            (
                r#"{"resourceType":"Patient","name":[]}"#,
                "Patient.name",
                "empty arrays are not allowed in FHIR JSON",
            ),
            (
                r#"{"resourceType":"Patient","name":[{"given":[]}]}"#,
                "Patient.name[0].given",
                "empty arrays are not allowed in FHIR JSON",
            ),
            (
                r#"{"resourceType":"Patient","_active":{}}"#,
                "Patient._active",
                "empty objects are not allowed in FHIR JSON",
            ),
            (
                r#"{"resourceType":"Patient","_active":{"extension":[]}}"#,
                "Patient._active.extension",
                "empty arrays are not allowed in FHIR JSON",
            ),
            (
                r#"{"resourceType":"Patient","extension":[{"url":1}]}"#,
                "Patient.extension[0].url",
                "expected a string, found a number",
            ),
            (
                r#"{"resourceType":"Patient","extension":[{"url":"a","url":"b"}]}"#,
                "Patient.extension[0].url",
                "the element appears more than once",
            ),
            (
                r#"{"resourceType":"Patient","extension":[{"_url":"a"}]}"#,
                "Patient.extension[0]._url",
                "'_url' is only allowed beside a primitive element 'url'",
            ),
            (
                r#"{"resourceType":"Patient","resourceType2":1}"#,
                "Patient.resourceType2",
                "unknown element 'resourceType2'",
            ),
            (
                r#"{"resourceType":"Patient","name":[{"resourceType":"Patient"}]}"#,
                "Patient.name[0].resourceType",
                "unknown element 'resourceType'",
            ),
            (
                r#"{"resourceType":"Nope"}"#,
                "$.resourceType",
                "unknown resource type 'Nope'",
            ),
            (
                r#"{"resourceType":1}"#,
                "$.resourceType",
                "expected a string, found a number",
            ),
            (
                r#"{"active":true}"#,
                "$",
                "a resource needs a 'resourceType'",
            ),
            (
                r#"[1]"#,
                "$",
                "expected a resource (an object with resourceType), found an array",
            ),
        ];
        for (text, path, message) in cases {
            assert_eq!(err(text), (path.to_string(), message.to_string()), "{text}");
        }
    }

    #[test]
    fn pretty_output() {
        let text = r#"{"resourceType":"Patient","id":"p","meta":{"versionId":"2"},
            "contained":[{"resourceType":"Organization","name":"O"}],
            "name":[{"given":["a"],"_given":[{"extension":[{"url":"u","valueString":"v"}]}]}]}"#;
        let expected = format!(
            r#"<Patient{NS}>
  <id value="p"/>
  <meta>
    <versionId value="2"/>
  </meta>
  <contained>
    <Organization>
      <name value="O"/>
    </Organization>
  </contained>
  <name>
    <given value="a">
      <extension url="u">
        <valueString value="v"/>
      </extension>
    </given>
  </name>
</Patient>"#
        );
        assert_eq!(pretty(text), expected);
        // Compact is the same without the whitespace.
        let compact: String = expected
            .lines()
            .map(str::trim_start)
            .collect::<Vec<_>>()
            .concat();
        assert_eq!(xml(text), compact);
        // Deep nesting indents past the 64 spaces written at once.
        let mut deep = String::from(r#"{"url":"x","valueString":"v"}"#);
        for _ in 0..40 {
            deep = format!(r#"{{"url":"x","extension":[{deep}]}}"#);
        }
        let out = pretty(&format!(
            r#"{{"resourceType":"Patient","extension":[{deep}]}}"#
        ));
        assert!(out.contains(&format!(
            "\n{}<valueString value=\"v\"/>",
            " ".repeat(2 * 42)
        )));
    }

    #[test]
    fn arbitrary_values_do_not_panic() {
        let odd = [
            Value::Null,
            Value::Bool(true),
            Value::Number("<&>".into()),
            Value::String("\u{0}".into()),
            Value::Array(vec![]),
            Value::Array(vec![Value::Null]),
            Value::Object(vec![]),
            Value::Object(vec![("".into(), Value::Null)]),
            Value::Object(vec![("_".into(), Value::Null)]),
        ];
        let keys = [
            "id",
            "_id",
            "meta",
            "text",
            "contained",
            "extension",
            "_extension",
            "active",
            "_active",
            "name",
            "multipleBirthBoolean",
            "_multipleBirthInteger",
        ];
        for key in keys {
            for v in &odd {
                let resource = Value::Object(vec![
                    ("resourceType".into(), Value::String("Patient".into())),
                    (key.into(), v.clone()),
                ]);
                let _ = json_to_xml(&resource, &TABLE, true);
                let nested = Value::Object(vec![
                    ("resourceType".into(), Value::String("Patient".into())),
                    (
                        "name".into(),
                        Value::Array(vec![Value::Object(vec![
                            ("given".into(), v.clone()),
                            ("_given".into(), v.clone()),
                        ])]),
                    ),
                ]);
                let _ = json_to_xml(&nested, &TABLE, false);
            }
        }
        // A number is escaped like any value, whatever its text.
        let resource = Value::Object(vec![
            ("resourceType".into(), Value::String("Patient".into())),
            ("multipleBirthInteger".into(), Value::Number("<&>".into())),
        ]);
        let out = json_to_xml(&resource, &TABLE, false).unwrap();
        assert!(String::from_utf8(out)
            .unwrap()
            .contains(r#"value="&lt;&amp;&gt;""#));
    }
}
