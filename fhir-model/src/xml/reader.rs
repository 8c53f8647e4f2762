//! Reads FHIR XML by converting it, in one pass and without a DOM, into compact FHIR JSON
//! text that the JSON reader then reads into the typed model. The conversion is driven by an
//! [`XmlTable`]: for every struct, the elements in the order XML requires, which are
//! attributes, which repeat and what each holds.
//!
//! The reader is meant for untrusted input: DTDs (and with them entity declarations, so
//! "billion laughs" and external entities) are rejected, only the predefined entities and
//! character references are accepted, nesting is bounded by `max_depth`, and malformed or
//! truncated documents are errors, never panics.

use std::borrow::Cow;
use std::fmt::Write as _;

use quick_xml::events::attributes::{AttrError, Attribute};
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, QName, ResolveResult};
use quick_xml::reader::NsReader;

use super::error::XmlError;
use super::table::{JsonKind, XmlKind, XmlTable};
use crate::json::{Checkpoint, JsonWriter, PathSegment};

const FHIR_NS: &str = "http://hl7.org/fhir";
const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";
/// `xsi:schemaLocation` and friends are XML machinery, not content: ignored like `xmlns`.
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
/// Inserted into a narrative `div` whose XHTML namespace is inherited from an ancestor.
const XMLNS_XHTML: &str = " xmlns=\"http://www.w3.org/1999/xhtml\"";
const DTD_MESSAGE: &str = "DTDs and entity declarations are not allowed";

/// Converts a FHIR XML resource document into compact FHIR JSON text, following the rules of
/// the FHIR XML format (<https://hl7.org/fhir/xml.html>) as described by `table`.
///
/// `strict` rejects unknown elements and attributes; otherwise they are skipped.
/// `max_depth` bounds the nesting of elements (the root element is at depth 1).
///
/// Errors name the element path (`Patient.name[1].given[0]`) and the line and column of the
/// offending element or attribute.
pub fn xml_to_json(
    src: &str,
    table: &XmlTable,
    strict: bool,
    max_depth: u32,
) -> Result<Vec<u8>, XmlError> {
    let mut cx = Cx::new(src, table, strict, max_depth);
    // XML 1.0 allows no control characters other than tab, LF and CR, nor U+FFFE or U+FFFF,
    // anywhere in a document (its Char production), but quick-xml passes them through: a
    // value read with one could not be written as XML again (found by fuzzing, see
    // docs/reliability.md). One scan of the document rejects them, wherever they are.
    if let Some(i) = super::writer::first_invalid(cx.src.as_bytes()) {
        let c = cx.src[i..].chars().next().unwrap_or('\0');
        let message = format!("the character U+{:04X} is not allowed in XML", c as u32);
        return Err(cx.err(message, i));
    }
    let root = cx.root()?;
    let ty = cx.root_type(&root)?;
    let mut w = JsonWriter::new(Vec::with_capacity(src.len() / 2 + 64), false);
    cx.object(&mut w, ty, &root, 1, Some(root.name))?;
    cx.epilog()?;
    Ok(w.into_inner())
}

/// Finds the XML element that the JSON produced by [`xml_to_json`] has at `path` (a path
/// from a JSON reader error, below the root object: `[Member("name"), Index(1),
/// Member("given"), Index(0)]`; `_given` stands for the element `given`). Returns the byte
/// offset of the element's start tag and its XML element path (`Patient.name[1].given[0]`);
/// when the path cannot be followed to its end, the deepest element found. `None` if the
/// document has no FHIR resource as its root.
pub fn locate(src: &str, table: &XmlTable, path: &[PathSegment]) -> Option<(usize, String)> {
    /// What the current element is.
    enum Ctx {
        Struct(u16),
        Primitive,
    }
    let mut cx = Cx::new(src, table, false, u32::MAX);
    let mut tag = cx.root().ok()?;
    let root_ty = cx.root_type(&tag).ok()?;
    let mut ctx = Ctx::Struct(root_ty);
    let mut xml_path = tag.name.to_string();
    let mut found = (tag.pos, xml_path.clone());
    let mut segments = path.iter().peekable();
    while let Some(segment) = segments.next() {
        let PathSegment::Member(member) = segment else {
            break;
        };
        let name = member.strip_prefix('_').unwrap_or(member);
        let index = match segments.peek() {
            Some(PathSegment::Index(i)) => {
                segments.next();
                *i
            }
            _ => 0,
        };
        let (kind, repeated) = match ctx {
            Ctx::Struct(ty) => match table.element_for_xml_name(ty, name) {
                Some((_, e, kind)) if !e.attribute => (kind, e.repeated),
                _ => break,
            },
            Ctx::Primitive if name == "extension" => (XmlKind::Complex(table.extension), true),
            Ctx::Primitive => break,
        };
        let Some(child) = cx.find_child(&tag, Some(name), index) else {
            break;
        };
        xml_path.push('.');
        xml_path.push_str(name);
        if repeated {
            let _ = write!(xml_path, "[{index}]");
        }
        found = (child.pos, xml_path.clone());
        tag = child;
        ctx = match kind {
            XmlKind::Complex(ty) => Ctx::Struct(ty),
            XmlKind::Primitive(_) | XmlKind::Plain => Ctx::Primitive,
            XmlKind::Resource => {
                let Some(inner) = cx.find_child(&tag, None, 0) else {
                    break;
                };
                let Some(ty) = table.resource(inner.name) else {
                    break;
                };
                tag = inner;
                Ctx::Struct(ty)
            }
            XmlKind::Xhtml | XmlKind::Choice(_) => break,
        };
    }
    Some((cx.base + found.0, found.1))
}

/// The namespace of an element, as far as FHIR cares.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ns {
    Fhir,
    Xhtml,
    Other,
}

/// A start (or empty-element) tag.
struct Tag<'i> {
    start: BytesStart<'i>,
    /// `<name/>`: no children, no end tag.
    empty: bool,
    /// Byte offset of the `<`.
    pos: usize,
    ns: Ns,
    /// The name as written, with its prefix.
    qname: &'i str,
    /// The name without prefix.
    name: &'i str,
}

/// What comes next in FHIR content (text, comments and PIs are dealt with).
enum Next<'i> {
    Start(Tag<'i>),
    End,
    Eof,
}

/// The items of a repeated element read so far (its JSON array is open).
struct Group<'i> {
    index: usize,
    name: &'i str,
    count: usize,
    /// For primitives: the `_name` array and whether any item had a value.
    prim: Option<PrimGroup>,
}

struct PrimGroup {
    kind: JsonKind,
    /// Before the `name` member: taken back if no item has a value.
    values: Checkpoint,
    any_value: bool,
    /// The `_name` array, written on the side and appended when the group ends.
    side: JsonWriter,
    any_side: bool,
}

/// The state of one conversion.
struct Cx<'i, 't> {
    /// The document after any byte order mark; offsets are into this.
    src: &'i str,
    /// The whole document, for error positions.
    full: &'i str,
    /// The length of the byte order mark: `src` starts here in `full`.
    base: usize,
    r: NsReader<&'i [u8]>,
    table: &'t XmlTable,
    strict: bool,
    max_depth: u32,
    /// The element path: names with the item index of repeated elements.
    path: Vec<(&'i str, Option<usize>)>,
    /// Spare buffers for the `_name` arrays of repeated primitives.
    pool: Vec<Vec<u8>>,
}

impl<'i, 't> Cx<'i, 't> {
    fn new(full: &'i str, table: &'t XmlTable, strict: bool, max_depth: u32) -> Self {
        let src = full.strip_prefix('\u{feff}').unwrap_or(full);
        Cx {
            src,
            full,
            base: full.len() - src.len(),
            r: NsReader::from_str(src),
            table,
            strict,
            max_depth,
            path: Vec::with_capacity(16),
            pool: Vec::new(),
        }
    }

    // ----- errors -----

    fn path_string(&self) -> String {
        if self.path.is_empty() {
            return "$".to_string();
        }
        let mut out = String::new();
        for (i, (name, index)) in self.path.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push_str(name);
            if let Some(index) = index {
                let _ = write!(out, "[{index}]");
            }
        }
        out
    }

    #[cold]
    fn err(&self, message: impl Into<String>, pos: usize) -> XmlError {
        XmlError::at(message, self.path_string(), self.full, self.base + pos)
    }

    #[cold]
    fn eof(&self) -> XmlError {
        self.err("unexpected end of the document", self.src.len())
    }

    #[cold]
    fn attr_error(&self, e: AttrError, tag: &Tag) -> XmlError {
        self.err(format!("malformed attribute: {e}"), tag.pos)
    }

    #[cold]
    fn too_deep(&self, pos: usize) -> XmlError {
        self.err(
            format!(
                "elements are nested more than {} levels deep",
                self.max_depth
            ),
            pos,
        )
    }

    /// The byte offset of `s`, a slice of the source.
    fn offset(&self, s: &str) -> usize {
        (s.as_ptr() as usize)
            .wrapping_sub(self.src.as_ptr() as usize)
            .min(self.src.len())
    }

    // ----- events -----

    /// The next event with the namespace of its element and its byte offset.
    #[inline]
    fn read(&mut self) -> Result<(Ns, Event<'i>, usize), XmlError> {
        let pos = self.r.buffer_position() as usize;
        let result = self
            .r
            .read_resolved_event()
            .map(|(ns, event)| (classify(ns), event));
        match result {
            Ok((ns, event)) => Ok((ns, event, pos)),
            Err(e) => Err(self.err(
                format!("malformed XML: {e}"),
                self.r.error_position() as usize,
            )),
        }
    }

    fn tag(&self, start: BytesStart<'i>, empty: bool, pos: usize, ns: Ns) -> Tag<'i> {
        let len = start.name().0.len();
        let qname = self.src.get(pos + 1..pos + 1 + len).unwrap_or("");
        let name = qname.find(':').map_or(qname, |i| &qname[i + 1..]);
        Tag {
            start,
            empty,
            pos,
            ns,
            qname,
            name,
        }
    }

    /// The next tag or end tag in FHIR content, where only whitespace, comments and
    /// processing instructions may come between elements.
    fn next(&mut self) -> Result<Next<'i>, XmlError> {
        loop {
            let (ns, event, pos) = self.read()?;
            return match event {
                Event::Start(e) => Ok(Next::Start(self.tag(e, false, pos, ns))),
                Event::Empty(e) => Ok(Next::Start(self.tag(e, true, pos, ns))),
                Event::End(_) => Ok(Next::End),
                Event::Eof => Ok(Next::Eof),
                Event::Text(t) => match t.bytes().position(|b| !is_space(b)) {
                    None => continue,
                    Some(i) => Err(self.err("text is not allowed here", pos + i)),
                },
                Event::Comment(_) | Event::PI(_) => continue,
                Event::Decl(_) if pos == 0 => continue,
                Event::Decl(_) => Err(self.err("misplaced XML declaration", pos)),
                Event::DocType(_) => Err(self.err(DTD_MESSAGE, pos)),
                Event::GeneralRef(r) => Err(self.err(
                    resolve_ref(&r)
                        .err()
                        .unwrap_or("text is not allowed here".into()),
                    pos,
                )),
                Event::CData(_) => Err(self.err("CDATA is not allowed here", pos)),
            };
        }
    }

    /// Skips the content of `tag` (at `depth`) through its end tag.
    fn skip(&mut self, tag: &Tag, depth: u32) -> Result<(), XmlError> {
        if tag.empty {
            return Ok(());
        }
        let mut level = 0u32;
        loop {
            let (_, event, pos) = self.read()?;
            match event {
                Event::Start(_) => {
                    level += 1;
                    if depth.saturating_add(level) > self.max_depth {
                        return Err(self.too_deep(pos));
                    }
                }
                Event::End(_) if level == 0 => return Ok(()),
                Event::End(_) => level -= 1,
                Event::Eof => return Err(self.eof()),
                Event::GeneralRef(r) => self.check_ref(&r, pos)?,
                Event::DocType(_) => return Err(self.err(DTD_MESSAGE, pos)),
                Event::Decl(_) => return Err(self.err("misplaced XML declaration", pos)),
                _ => {}
            }
        }
    }

    fn check_ref(&self, name: &str, pos: usize) -> Result<(), XmlError> {
        resolve_ref(name).map(|_| ()).map_err(|m| self.err(m, pos))
    }

    /// The root element (after the prolog).
    fn root(&mut self) -> Result<Tag<'i>, XmlError> {
        match self.next()? {
            Next::Start(tag) => Ok(tag),
            _ => Err(self.err("the document has no root element", self.src.len())),
        }
    }

    /// The type of the root element, which must be a resource.
    fn root_type(&mut self, root: &Tag<'i>) -> Result<u16, XmlError> {
        if root.ns != Ns::Fhir {
            return Err(self.err(
                format!(
                    "the root element '{}' is not in the FHIR namespace ({FHIR_NS})",
                    root.name
                ),
                root.pos,
            ));
        }
        let Some(ty) = self.table.resource(root.name) else {
            return Err(self.err(format!("unknown resource type '{}'", root.name), root.pos));
        };
        if self.max_depth == 0 {
            return Err(self.too_deep(root.pos));
        }
        self.path.push((root.name, None));
        Ok(ty)
    }

    /// After the root element: only whitespace, comments and processing instructions.
    fn epilog(&mut self) -> Result<(), XmlError> {
        match self.next()? {
            Next::Eof => Ok(()),
            Next::Start(tag) => Err(self.err("content after the root element", tag.pos)),
            Next::End => Err(self.err("unexpected end tag", self.src.len())),
        }
    }

    /// In [`locate`]: the `index`th child of `parent` named `name` (any child if `None`).
    fn find_child(&mut self, parent: &Tag, name: Option<&str>, index: usize) -> Option<Tag<'i>> {
        if parent.empty {
            return None;
        }
        let mut seen = 0;
        loop {
            match self.next().ok()? {
                Next::Start(tag) => {
                    if name.is_none_or(|n| tag.ns != Ns::Other && tag.name == n) {
                        if seen == index {
                            return Some(tag);
                        }
                        seen += 1;
                    }
                    self.skip(&tag, 0).ok()?;
                }
                Next::End | Next::Eof => return None,
            }
        }
    }

    // ----- attributes -----

    /// An attribute that is not part of the content: `xmlns` declarations and `xsi:*` are
    /// ignored; others are errors when strict.
    fn other_attr(&self, a: &Attribute) -> Result<(), XmlError> {
        let key = a.key.0;
        if !self.strict || key == "xmlns" || key.starts_with("xmlns:") {
            return Ok(());
        }
        if key.contains(':') {
            if let (ResolveResult::Bound(Namespace(XSI_NS)), _) =
                self.r.resolver().resolve_attribute(QName(key))
            {
                return Ok(());
            }
        }
        Err(self.err(format!("unknown attribute '{key}'"), self.offset(key)))
    }

    /// The attributes of `tag`, each checked to be well-formed and unlike those before it.
    /// quick-xml's own check of duplicates keeps the names seen in a `Vec`: an allocation
    /// for nearly every element of a FHIR document, where almost every element has a
    /// `value`. This one keeps up to eight names on the stack.
    fn attributes<'c, 'a>(&'c self, tag: &'a Tag<'i>) -> Attrs<'c, 'a, 'i, 't> {
        let mut inner = tag.start.attributes();
        inner.with_checks(false);
        Attrs {
            cx: self,
            tag,
            inner,
            seen: SeenNames::default(),
        }
    }

    /// An attribute value, normalized and unescaped.
    fn attr_value<'a>(&self, a: Attribute<'a>) -> Result<Cow<'a, str>, XmlError> {
        match normalize(&a.value) {
            Ok(None) => Ok(a.value),
            Ok(Some(value)) => Ok(Cow::Owned(value)),
            Err(message) => Err(self.err(message, self.offset(a.key.0))),
        }
    }

    /// A tag that may have no attributes of its own (a resource wrapper).
    fn no_attrs(&self, tag: &Tag) -> Result<(), XmlError> {
        for a in self.attributes(tag) {
            let a = a?;
            self.other_attr(&a)?;
        }
        Ok(())
    }

    /// Writes the attributes of struct `ty` as members; returns whether there were any.
    fn struct_attrs(&self, w: &mut JsonWriter, ty: u16, tag: &Tag) -> Result<bool, XmlError> {
        let mut any = false;
        for a in self.attributes(tag) {
            let a = a?;
            match self.table.element(ty, a.key.0) {
                Some((_, e)) if e.attribute => {
                    let value = self.attr_value(a)?;
                    w.key(e.name);
                    w.string(&value);
                    any = true;
                }
                _ => self.other_attr(&a)?,
            }
        }
        Ok(any)
    }

    /// The `value` and `id` attributes of a primitive.
    #[allow(clippy::type_complexity)]
    fn prim_attrs<'a>(
        &self,
        tag: &'a Tag<'i>,
    ) -> Result<(Option<Cow<'a, str>>, Option<Cow<'a, str>>), XmlError> {
        let (mut value, mut id) = (None, None);
        for a in self.attributes(tag) {
            let a = a?;
            match a.key.0 {
                "value" => value = Some(self.attr_value(a)?),
                "id" => id = Some(self.attr_value(a)?),
                _ => self.other_attr(&a)?,
            }
        }
        Ok((value, id))
    }

    /// Checks the attributes of an element of the narrative; returns whether it declares
    /// the XHTML namespace as its default namespace.
    fn xhtml_attrs(&self, tag: &Tag) -> Result<bool, XmlError> {
        let mut declared = false;
        for a in self.attributes(tag) {
            let a = a?;
            if a.key.0 == "xmlns" {
                if a.value != XHTML_NS {
                    return Err(self.err(
                        format!("the narrative must be in the XHTML namespace ({XHTML_NS})"),
                        self.offset(a.key.0),
                    ));
                }
                declared = true;
            } else if let Err(message) = normalize(&a.value) {
                return Err(self.err(message, self.offset(a.key.0)));
            }
        }
        Ok(declared)
    }

    // ----- content -----

    /// Writes struct `ty` (or, with `resource_type`, a resource) from its start tag `tag`
    /// at `depth` through its end tag.
    fn object(
        &mut self,
        w: &mut JsonWriter,
        ty: u16,
        tag: &Tag<'i>,
        depth: u32,
        resource_type: Option<&str>,
    ) -> Result<(), XmlError> {
        w.begin_object();
        if let Some(name) = resource_type {
            w.resource_type(name);
        }
        let attrs = self.struct_attrs(w, ty, tag)?;
        let children = !tag.empty && self.children(w, ty, depth)?;
        w.end_object();
        if resource_type.is_none() && !attrs && !children {
            return Err(self.err(
                format!(
                    "element '{}' is empty (FHIR elements have a value, attributes or children)",
                    tag.name
                ),
                tag.pos,
            ));
        }
        Ok(())
    }

    /// Writes the child elements of struct `ty` (whose start tag, at `depth`, has been read)
    /// through its end tag; returns whether there were any.
    fn children(&mut self, w: &mut JsonWriter, ty: u16, depth: u32) -> Result<bool, XmlError> {
        let mut any = false;
        let mut last: Option<usize> = None;
        let mut group: Option<Group<'i>> = None;
        loop {
            let tag = match self.next()? {
                Next::Start(tag) => tag,
                Next::End => break,
                Next::Eof => return Err(self.eof()),
            };
            // The narrative `div` is the one element in another namespace: XHTML.
            let found = match tag.ns {
                Ns::Other => None,
                // Attributes are not elements, whatever their name.
                ns => self
                    .table
                    .element_from(ty, tag.name, last.unwrap_or(0))
                    .filter(|(_, e, kind)| {
                        !e.attribute && (ns == Ns::Fhir || matches!(kind, XmlKind::Xhtml))
                    }),
            };
            let Some((index, element, kind)) = found else {
                self.unknown(&tag, depth + 1)?;
                continue;
            };
            any = true;
            let continuing = matches!(&group, Some(g) if g.index == index && g.name == tag.name);
            if !continuing {
                if let Some(g) = group.take() {
                    self.close(w, g);
                }
            }
            let item = match &group {
                Some(g) => Some(g.count),
                None if element.repeated => Some(0),
                None => None,
            };
            self.path.push((tag.name, item));
            if depth >= self.max_depth {
                return Err(self.too_deep(tag.pos));
            }
            if !continuing {
                match last {
                    Some(l) if index < l => {
                        return Err(
                            self.err(format!("element '{}' is out of order", tag.name), tag.pos)
                        )
                    }
                    Some(l) if index == l => {
                        return Err(self.err(
                            format!("element '{}' appears more than once", tag.name),
                            tag.pos,
                        ))
                    }
                    _ => {}
                }
                last = Some(index);
                if element.repeated {
                    group = Some(self.open(w, index, tag.name, kind));
                }
            }
            match &mut group {
                Some(g) => {
                    self.item(w, g, &tag, kind, depth + 1)?;
                    g.count += 1;
                }
                None => self.single(w, &tag, kind, depth + 1)?,
            }
            self.path.pop();
        }
        if let Some(g) = group {
            self.close(w, g);
        }
        Ok(any)
    }

    /// An element the struct does not have: an error when strict, else skipped.
    fn unknown(&mut self, tag: &Tag<'i>, depth: u32) -> Result<(), XmlError> {
        if !self.strict {
            return self.skip(tag, depth);
        }
        self.path.push((tag.name, None));
        Err(match tag.ns {
            Ns::Fhir => self.err(format!("unknown element '{}'", tag.name), tag.pos),
            _ => self.err(
                format!(
                    "element '{}' is not in the FHIR namespace ({FHIR_NS})",
                    tag.name
                ),
                tag.pos,
            ),
        })
    }

    /// Starts the JSON array of a repeated element.
    fn open(
        &mut self,
        w: &mut JsonWriter,
        index: usize,
        name: &'i str,
        kind: XmlKind,
    ) -> Group<'i> {
        let values = w.checkpoint();
        w.key(name);
        w.begin_array();
        let prim = prim_kind(kind).map(|kind| {
            let mut side = JsonWriter::new(self.pool.pop().unwrap_or_default(), false);
            side.begin_array();
            PrimGroup {
                kind,
                values,
                any_value: false,
                side,
                any_side: false,
            }
        });
        Group {
            index,
            name,
            count: 0,
            prim,
        }
    }

    /// Ends the JSON array of a repeated element (and writes the `_name` array of
    /// primitives).
    fn close(&mut self, w: &mut JsonWriter, g: Group<'i>) {
        w.end_array();
        let Some(mut p) = g.prim else {
            return;
        };
        if !p.any_value {
            w.rollback(p.values);
        }
        if p.any_side {
            p.side.end_array();
            w.key_parts(true, g.name, "");
        }
        let mut buf = p.side.into_inner();
        if p.any_side {
            // The side buffer holds JSON written from `&str`s: valid UTF-8.
            w.raw_number(std::str::from_utf8(&buf).unwrap_or("null"));
        }
        buf.clear();
        self.pool.push(buf);
    }

    /// Writes one item of a repeated element.
    fn item(
        &mut self,
        w: &mut JsonWriter,
        g: &mut Group<'i>,
        tag: &Tag<'i>,
        kind: XmlKind,
        depth: u32,
    ) -> Result<(), XmlError> {
        w.item();
        let Some(p) = &mut g.prim else {
            return self.value(w, tag, kind, depth);
        };
        let (value, id) = self.prim_attrs(tag)?;
        match &value {
            Some(v) => {
                self.prim_value(w, p.kind, v, tag)?;
                p.any_value = true;
            }
            None => w.null(),
        }
        p.side.item();
        let cp = p.side.checkpoint();
        if self.prim_ext(&mut p.side, id.as_deref(), tag, depth)? {
            p.any_side = true;
        } else {
            p.side.rollback(cp);
            p.side.null();
            if value.is_none() {
                return Err(self.no_value(tag));
            }
        }
        Ok(())
    }

    /// Writes a non-repeated element as a member.
    fn single(
        &mut self,
        w: &mut JsonWriter,
        tag: &Tag<'i>,
        kind: XmlKind,
        depth: u32,
    ) -> Result<(), XmlError> {
        let Some(json_kind) = prim_kind(kind) else {
            w.key(tag.name);
            return self.value(w, tag, kind, depth);
        };
        let (value, id) = self.prim_attrs(tag)?;
        if let Some(v) = &value {
            w.key(tag.name);
            self.prim_value(w, json_kind, v, tag)?;
        }
        let cp = w.checkpoint();
        w.key_parts(true, tag.name, "");
        if !self.prim_ext(w, id.as_deref(), tag, depth)? {
            w.rollback(cp);
            if value.is_none() {
                return Err(self.no_value(tag));
            }
        }
        Ok(())
    }

    #[cold]
    fn no_value(&self, tag: &Tag) -> XmlError {
        self.err(
            format!("element '{}' has no value, id or extension", tag.name),
            tag.pos,
        )
    }

    /// Writes the JSON value of a struct, resource or narrative element.
    fn value(
        &mut self,
        w: &mut JsonWriter,
        tag: &Tag<'i>,
        kind: XmlKind,
        depth: u32,
    ) -> Result<(), XmlError> {
        match kind {
            XmlKind::Complex(ty) => self.object(w, ty, tag, depth, None),
            XmlKind::Resource => self.resource(w, tag, depth),
            XmlKind::Xhtml => self.xhtml(w, tag, depth),
            // Primitives are written by `single` and `item`; choices are resolved.
            XmlKind::Primitive(_) | XmlKind::Plain | XmlKind::Choice(_) => {
                Err(self.err("unsupported element kind", tag.pos))
            }
        }
    }

    /// Writes a primitive's value as `kind` requires.
    fn prim_value(
        &self,
        w: &mut JsonWriter,
        kind: JsonKind,
        value: &str,
        tag: &Tag,
    ) -> Result<(), XmlError> {
        match kind {
            JsonKind::String => w.string(value),
            JsonKind::Bool => match value {
                "true" => w.bool(true),
                "false" => w.bool(false),
                _ => {
                    return Err(self.err(
                        format!("invalid boolean '{value}' (expected true or false)"),
                        tag.pos,
                    ))
                }
            },
            JsonKind::Number if is_json_number(value) => w.raw_number(value),
            JsonKind::Number => {
                return Err(self.err(format!("invalid number '{value}'"), tag.pos));
            }
        }
        Ok(())
    }

    /// Writes `{"id":..,"extension":[..]}` for a primitive's id and extension children and
    /// reads through its end tag; returns false if it has neither (the caller then takes
    /// back what was written).
    fn prim_ext(
        &mut self,
        w: &mut JsonWriter,
        id: Option<&str>,
        tag: &Tag<'i>,
        depth: u32,
    ) -> Result<bool, XmlError> {
        if tag.empty && id.is_none() {
            return Ok(false);
        }
        w.begin_object();
        if let Some(id) = id {
            w.key("id");
            w.string(id);
        }
        if !tag.empty {
            let mut count = 0;
            loop {
                let child = match self.next()? {
                    Next::Start(child) => child,
                    Next::End => break,
                    Next::Eof => return Err(self.eof()),
                };
                if child.ns != Ns::Fhir || child.name != "extension" {
                    self.unknown(&child, depth + 1)?;
                    continue;
                }
                self.path.push(("extension", Some(count)));
                if depth >= self.max_depth {
                    return Err(self.too_deep(child.pos));
                }
                if count == 0 {
                    w.key("extension");
                    w.begin_array();
                }
                w.item();
                let ty = self.table.extension;
                self.object(w, ty, &child, depth + 1, None)?;
                self.path.pop();
                count += 1;
            }
            if count > 0 {
                w.end_array();
            }
        }
        Ok(w.end_object())
    }

    /// Writes the resource inside a resource element (`<contained><Patient>..`).
    fn resource(&mut self, w: &mut JsonWriter, tag: &Tag<'i>, depth: u32) -> Result<(), XmlError> {
        self.no_attrs(tag)?;
        if !tag.empty {
            match self.next()? {
                Next::Start(inner) => {
                    let ty = match inner.ns {
                        Ns::Fhir => self.table.resource(inner.name),
                        _ => None,
                    };
                    let Some(ty) = ty else {
                        return Err(self.err(
                            format!("'{}' is not a FHIR resource type", inner.name),
                            inner.pos,
                        ));
                    };
                    if depth >= self.max_depth {
                        return Err(self.too_deep(inner.pos));
                    }
                    self.object(w, ty, &inner, depth + 1, Some(inner.name))?;
                    return match self.next()? {
                        Next::End => Ok(()),
                        Next::Eof => Err(self.eof()),
                        Next::Start(extra) => Err(self.err(
                            format!("element '{}' must hold exactly one resource", tag.name),
                            extra.pos,
                        )),
                    };
                }
                Next::End => {}
                Next::Eof => return Err(self.eof()),
            }
        }
        Err(self.err(
            format!("element '{}' must hold a resource", tag.name),
            tag.pos,
        ))
    }

    /// Writes the narrative `div` as a string: its exact source text, plus the XHTML
    /// namespace declaration if it is inherited, minus any prefixes on XHTML names.
    fn xhtml(&mut self, w: &mut JsonWriter, tag: &Tag<'i>, depth: u32) -> Result<(), XmlError> {
        if tag.ns != Ns::Xhtml {
            return Err(self.err(
                format!("the narrative must be in the XHTML namespace ({XHTML_NS})"),
                tag.pos,
            ));
        }
        // Changes to the source text: (offset, bytes removed, text inserted), in order.
        let mut edits = Vec::new();
        let declared = self.xhtml_attrs(tag)?;
        unprefix(&mut edits, tag.pos + 1, tag.qname);
        if !declared {
            edits.push((tag.pos + 1 + tag.qname.len(), 0, XMLNS_XHTML));
        }
        let end = if tag.empty {
            self.r.buffer_position() as usize
        } else {
            self.xhtml_content(&mut edits, depth)?
        };
        // The checks above follow the events quick-xml reports, and quick-xml does not check
        // names, `]]>` in text, `--` in comments or the prefixes of attributes: a div with
        // `<0td/>` in it read fine but could not be written as XML again (found by fuzzing,
        // see docs/reliability.md). So the finished div also gets the check the writer makes
        // before writing one: what reads as a narrative can always be written.
        let src = self.src;
        if edits.is_empty() {
            let div = &src[tag.pos..end];
            self.check_div(div, tag)?;
            w.string(div);
        } else {
            let mut parts = Vec::with_capacity(edits.len() * 2 + 1);
            let mut at = tag.pos;
            for (pos, removed, inserted) in edits {
                parts.push(&src[at..pos]);
                parts.push(inserted);
                at = pos + removed;
            }
            parts.push(&src[at..end]);
            self.check_div(&parts.concat(), tag)?;
            w.string_parts(&parts);
        }
        Ok(())
    }

    /// The writer's check of a narrative div (as it will be stored), as an error at `tag`.
    fn check_div(&self, div: &str, tag: &Tag) -> Result<(), XmlError> {
        super::writer::check_div(div).map_err(|message| self.err(message, tag.pos))
    }

    /// Reads the content of the narrative `div` (at `depth`) through its end tag, checking
    /// it and recording the prefixes to remove; returns the offset after the end tag.
    fn xhtml_content(&mut self, edits: &mut Vec<Edit>, depth: u32) -> Result<usize, XmlError> {
        let mut level = 0u32;
        loop {
            let (ns, event, pos) = self.read()?;
            let (start, empty) = match event {
                Event::Start(e) => (e, false),
                Event::Empty(e) => (e, true),
                Event::End(e) => {
                    let qname = self.src.get(pos + 2..pos + 2 + e.name().0.len());
                    unprefix(edits, pos + 2, qname.unwrap_or(""));
                    if level == 0 {
                        return Ok(self.r.buffer_position() as usize);
                    }
                    level -= 1;
                    continue;
                }
                Event::Text(_) | Event::CData(_) | Event::Comment(_) | Event::PI(_) => continue,
                Event::GeneralRef(r) => {
                    self.check_ref(&r, pos)?;
                    continue;
                }
                Event::DocType(_) => return Err(self.err(DTD_MESSAGE, pos)),
                Event::Decl(_) => return Err(self.err("misplaced XML declaration", pos)),
                Event::Eof => return Err(self.eof()),
            };
            let inner = self.tag(start, empty, pos, ns);
            if ns != Ns::Xhtml {
                return Err(self.err(
                    format!(
                        "element '{}' of the narrative is not in the XHTML namespace ({XHTML_NS})",
                        inner.name
                    ),
                    pos,
                ));
            }
            self.xhtml_attrs(&inner)?;
            unprefix(edits, pos + 1, inner.qname);
            if depth.saturating_add(level + 1) > self.max_depth {
                return Err(self.too_deep(pos));
            }
            if !empty {
                level += 1;
            }
        }
    }
}

/// The namespace of a resolved element name.
#[inline]
fn classify(ns: ResolveResult) -> Ns {
    match ns {
        ResolveResult::Bound(Namespace(FHIR_NS)) => Ns::Fhir,
        ResolveResult::Bound(Namespace(XHTML_NS)) => Ns::Xhtml,
        _ => Ns::Other,
    }
}

/// The attributes of a tag, from [`Cx::attributes`].
struct Attrs<'c, 'a, 'i, 't> {
    cx: &'c Cx<'i, 't>,
    tag: &'a Tag<'i>,
    inner: quick_xml::events::attributes::Attributes<'a>,
    seen: SeenNames<'a>,
}

impl<'a> Iterator for Attrs<'_, 'a, '_, '_> {
    type Item = Result<Attribute<'a>, XmlError>;

    fn next(&mut self) -> Option<Self::Item> {
        let a = match self.inner.next()? {
            Ok(a) => a,
            Err(e) => return Some(Err(self.cx.attr_error(e, self.tag))),
        };
        if !self.seen.insert(a.key.0) {
            let message = format!("the attribute '{}' appears twice", a.key.0);
            return Some(Err(self.cx.err(message, self.cx.offset(a.key.0))));
        }
        Some(Ok(a))
    }
}

/// The attribute names of one tag seen so far: eight on the stack, any more in a `Vec`.
#[derive(Default)]
struct SeenNames<'a> {
    first: [&'a str; 8],
    len: usize,
    more: Vec<&'a str>,
}

impl<'a> SeenNames<'a> {
    /// Adds `name`; false if it was there already.
    fn insert(&mut self, name: &'a str) -> bool {
        let small = &self.first[..self.len.min(8)];
        if small.contains(&name) || self.more.contains(&name) {
            return false;
        }
        match self.first.get_mut(self.len) {
            Some(slot) => *slot = name,
            None => self.more.push(name),
        }
        self.len += 1;
        true
    }
}

/// A change to the source text of the narrative: (offset, bytes removed, text inserted).
type Edit = (usize, usize, &'static str);

/// Records the removal of the prefix of `qname` (at `pos`), if it has one.
fn unprefix(edits: &mut Vec<Edit>, pos: usize, qname: &str) {
    if let Some(colon) = qname.find(':') {
        edits.push((pos, colon + 1, ""));
    }
}

/// The JSON kind of a primitive element's value, `None` for other kinds.
#[inline]
fn prim_kind(kind: XmlKind) -> Option<JsonKind> {
    match kind {
        XmlKind::Primitive(kind) => Some(kind),
        XmlKind::Plain => Some(JsonKind::String),
        _ => None,
    }
}

#[inline]
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Whether `s` is a JSON number.
fn is_json_number(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = usize::from(b.first() == Some(&b'-'));
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i + 1),
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = digits(start);
        if i == start {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        i = digits(start);
        if i == start {
            return false;
        }
    }
    i == b.len()
}

/// The character a reference (`lt`, `#160`, `#xA0`: the text between `&` and `;`) stands
/// for. Only the predefined entities and character references of XML characters exist.
fn resolve_ref(name: &str) -> Result<char, String> {
    Ok(match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let Some(number) = name.strip_prefix('#') else {
                return Err(if name == "nbsp" {
                    "unknown entity '&nbsp;': write the character reference &#160; instead"
                        .to_string()
                } else {
                    format!(
                        "unknown entity '&{name};': only &lt; &gt; &amp; &apos; &quot; and \
                         character references (such as &#160;) are allowed"
                    )
                });
            };
            let (digits, radix) = match number.strip_prefix('x') {
                Some(hex) => (hex, 16),
                None => (number, 10),
            };
            let code = if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                u32::from_str_radix(digits, radix).ok()
            } else {
                None
            };
            match code.and_then(char::from_u32) {
                Some(c @ ('\t' | '\n' | '\r' | ' '..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}'))
                | Some(c @ '\u{10000}'..) => c,
                _ => return Err(format!("invalid character reference '&{name};'")),
            }
        }
    })
}

/// Attribute-value normalization (literal tabs and line ends become spaces) followed by
/// unescaping, so `&#xA;` survives as a line feed. `None` if the value needs neither.
fn normalize(raw: &str) -> Result<Option<String>, String> {
    let bytes = raw.as_bytes();
    let special = |b: &u8| matches!(b, b'&' | b'<' | b'\t' | b'\n' | b'\r');
    // Attribute values are most of a FHIR document's text: whole words without a control
    // character, `&` or `<` are skipped eight bytes at a time.
    let plain = super::writer::plain_words(bytes, b'&', b'<');
    let Some(first) = bytes[plain..].iter().position(special).map(|i| plain + i) else {
        return Ok(None);
    };
    let mut out = String::with_capacity(raw.len());
    let (mut start, mut i) = (0, first);
    while i < bytes.len() {
        match bytes[i] {
            b'\t' | b'\n' | b'\r' => {
                out.push_str(&raw[start..i]);
                out.push(' ');
                i += if bytes[i] == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            }
            b'<' => return Err("'<' is not allowed in an attribute value".to_string()),
            b'&' => {
                out.push_str(&raw[start..i]);
                let Some(len) = raw[i..].find(';') else {
                    return Err(
                        "'&' in an attribute value must start a reference like &amp;".to_string(),
                    );
                };
                out.push(resolve_ref(&raw[i + 1..i + len])?);
                i += len + 1;
                start = i;
            }
            _ => i += 1,
        }
    }
    out.push_str(&raw[start..]);
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::table::{XmlChoice, XmlElement, XmlType};
    use PathSegment::{Index, Member};

    const STRING: XmlKind = XmlKind::Primitive(JsonKind::String);
    const NUMBER: XmlKind = XmlKind::Primitive(JsonKind::Number);
    const BOOL: XmlKind = XmlKind::Primitive(JsonKind::Bool);

    const fn el(name: &'static str, repeated: bool, kind: XmlKind) -> XmlElement {
        XmlElement {
            name,
            repeated,
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

    const EXTENSIONS: XmlElement = el("extension", true, XmlKind::Complex(1));

    static EXTENSION_VALUE: [XmlChoice; 2] = [
        XmlChoice {
            suffix: "String",
            kind: STRING,
        },
        XmlChoice {
            suffix: "Integer",
            kind: NUMBER,
        },
    ];

    static MULTIPLE_BIRTH: [XmlChoice; 2] = [
        XmlChoice {
            suffix: "Boolean",
            kind: BOOL,
        },
        XmlChoice {
            suffix: "Integer",
            kind: NUMBER,
        },
    ];

    static TYPES: [XmlType; 5] = [
        XmlType {
            name: "Patient",
            elements: &[
                el("id", false, STRING),
                el("text", false, XmlKind::Complex(3)),
                el("contained", true, XmlKind::Resource),
                EXTENSIONS,
                el("active", false, BOOL),
                el("name", true, XmlKind::Complex(2)),
                el("birthDate", false, STRING),
                el("multipleBirth", false, XmlKind::Choice(&MULTIPLE_BIRTH)),
            ],
        },
        XmlType {
            name: "Extension",
            elements: &[
                attr("id"),
                EXTENSIONS,
                attr("url"),
                el("value", false, XmlKind::Choice(&EXTENSION_VALUE)),
            ],
        },
        XmlType {
            name: "HumanName",
            elements: &[
                attr("id"),
                EXTENSIONS,
                el("family", false, STRING),
                el("given", true, STRING),
            ],
        },
        XmlType {
            name: "Narrative",
            elements: &[
                attr("id"),
                EXTENSIONS,
                el("status", false, STRING),
                el("div", false, XmlKind::Xhtml),
            ],
        },
        XmlType {
            name: "Organization",
            elements: &[el("id", false, STRING), el("name", false, STRING)],
        },
    ];

    static TABLE: XmlTable = XmlTable {
        types: &TYPES,
        resources: &[("Organization", 4), ("Patient", 0)],
        extension: 1,
    };

    fn convert(xml: &str, strict: bool) -> Result<String, XmlError> {
        let json = String::from_utf8(xml_to_json(xml, &TABLE, strict, 100)?).unwrap();
        // Whatever is produced is JSON.
        crate::json::Value::parse(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
        Ok(json)
    }

    fn json(xml: &str) -> String {
        convert(xml, true).unwrap_or_else(|e| panic!("{e}\n{xml}"))
    }

    fn error(xml: &str) -> XmlError {
        match convert(xml, true) {
            Ok(json) => panic!("expected an error, got {json}"),
            Err(e) => e,
        }
    }

    fn patient(body: &str) -> String {
        format!(r#"<Patient xmlns="http://hl7.org/fhir">{body}</Patient>"#)
    }

    const DIV_NS: &str = r#"xmlns="http://www.w3.org/1999/xhtml""#;

    #[test]
    fn converts_a_resource() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<Patient xmlns="http://hl7.org/fhir">
  <id value="p1"/>
  <text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p>Hi</p></div></text>
  <contained><Organization><id value="o1"/><name value="Acme"/></Organization></contained>
  <extension url="http://e.org/a"><valueInteger value="-1.5e3"/></extension>
  <active value="true"/>
  <name id="n1"><family value="Chalmers"/><given value="Peter"/><given value="James"/></name>
  <name><family value="Windsor"/></name>
  <birthDate value="1974-12-25"/>
  <multipleBirthInteger value="2"/>
</Patient>
"#;
        assert_eq!(
            json(xml),
            concat!(
                r#"{"resourceType":"Patient","id":"p1","text":{"status":"generated","#,
                r#""div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Hi</p></div>"},"#,
                r#""contained":[{"resourceType":"Organization","id":"o1","name":"Acme"}],"#,
                r#""extension":[{"url":"http://e.org/a","valueInteger":-1.5e3}],"active":true,"#,
                r#""name":[{"id":"n1","family":"Chalmers","given":["Peter","James"]},"#,
                r#"{"family":"Windsor"}],"birthDate":"1974-12-25","multipleBirthInteger":2}"#
            )
        );
        // A resource may be empty; the root may be prefixed.
        assert_eq!(
            json(r#"<Patient xmlns="http://hl7.org/fhir"/>"#),
            r#"{"resourceType":"Patient"}"#
        );
        assert_eq!(
            json(
                r#"<f:Patient xmlns:f="http://hl7.org/fhir"><f:active value="false"/></f:Patient>"#
            ),
            r#"{"resourceType":"Patient","active":false}"#
        );
    }

    #[test]
    fn skips_comments_processing_instructions_and_whitespace() {
        let xml = "\u{feff}<?xml version='1.0'?>\r\n<?pi data?>\t<Patient xmlns = 'http://hl7.org/fhir' >\r\n\
                   <!-- c --> <active value='true' ><!--x--><?p?>\n</active >\t\
                   <name>\r\n<!-- - -->\n<given value='a'/><!-- between --><given value='b'/></name>\
                   </Patient >\n<!-- trailing -->\n<?end?>\n";
        assert_eq!(
            json(xml),
            r#"{"resourceType":"Patient","active":true,"name":[{"given":["a","b"]}]}"#
        );
    }

    #[test]
    fn primitive_ids_and_extensions_align_with_nulls() {
        let xml = patient(concat!(
            r#"<name><given value="A"/><given id="g2"><extension url="u"><valueString value="x"/></extension></given>"#,
            r#"<given value="C" id="g3"/></name>"#,
            r#"<name><given id="a"/><given id="b"/></name>"#,
            r#"<name><given value="A"><extension url="u"><valueString value="x"><extension url="v"><valueInteger value="1"/></extension></valueString></extension></given></name>"#,
            r#"<birthDate value="1970-03-30" id="314159"><extension url="http://example.org/text"><valueString value="Easter 1970"/></extension></birthDate>"#,
            r#"<multipleBirthBoolean id="m"/>"#,
        ));
        assert_eq!(
            json(&xml),
            concat!(
                r#"{"resourceType":"Patient","name":["#,
                r#"{"given":["A",null,"C"],"_given":[null,{"id":"g2","extension":[{"url":"u","valueString":"x"}]},{"id":"g3"}]},"#,
                r#"{"_given":[{"id":"a"},{"id":"b"}]},"#,
                r#"{"given":["A"],"_given":[{"extension":[{"url":"u","valueString":"x","_valueString":{"extension":[{"url":"v","valueInteger":1}]}}]}]}],"#,
                r#""birthDate":"1970-03-30","_birthDate":{"id":"314159","extension":[{"url":"http://example.org/text","valueString":"Easter 1970"}]},"#,
                r#""_multipleBirthBoolean":{"id":"m"}}"#
            )
        );
    }

    #[test]
    fn attribute_values_are_normalized_then_unescaped() {
        let xml = patient(
            "<name><family value=\"a&#xA;b&#9;c&#13;d&amp;e&lt;&gt;&quot;&apos;&#x1F600;\"/>\
             <given value=\"x\ty\nz\r\nw\"/></name>",
        );
        assert_eq!(
            json(&xml),
            r#"{"resourceType":"Patient","name":[{"family":"a\nb\tc\rd&e<>\"'😀","given":["x y z w"]}]}"#
        );
        for (value, message) in [
            ("&foo;", "unknown entity '&foo;'"),
            ("&nbsp;", "&#160;"),
            ("a & b", "must start a reference"),
            ("&#0;", "invalid character reference"),
            ("&#xD800;", "invalid character reference"),
            ("&#x+41;", "invalid character reference"),
            ("&#;", "invalid character reference"),
        ] {
            let e = error(&patient(&format!(r#"<birthDate value="{value}"/>"#)));
            assert!(e.message().contains(message), "{value}: {e}");
            assert_eq!(e.path(), "Patient.birthDate");
        }
        assert!(error(&patient(r#"<birthDate value="<"/>"#))
            .message()
            .contains("'<'"));
    }

    #[test]
    fn narrative_is_kept_byte_exact() {
        let div = concat!(
            r#"<div xmlns="http://www.w3.org/1999/xhtml" class='a &amp; b'>"#,
            "A &amp; B &lt;b&gt; &#160; &#xA0; \"q\" \\ é\n\t<b>bold <i>it</i></b><br/>",
            "<!-- c --><?pi?><![CDATA[<x>]]><p\n  id=\"x\">t</p ></div>"
        );
        let xml = patient(&format!(r#"<text><status value="generated"/>{div}</text>"#));
        let out = json(&xml);
        let value = crate::json::Value::parse(&out).unwrap();
        let text = value.get("text").and_then(|t| t.get("div"));
        assert_eq!(text.and_then(|d| d.as_str()), Some(div));
        // An empty div, and one with a prefix and namespace on the div itself.
        assert_eq!(
            json(&patient(&format!(r#"<text><div {DIV_NS}/></text>"#))),
            r#"{"resourceType":"Patient","text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"/>"}}"#
        );
    }

    #[test]
    fn narrative_namespace_inherited_or_prefixed() {
        let xml = r#"<f:Patient xmlns:f="http://hl7.org/fhir" xmlns="http://www.w3.org/1999/xhtml"><f:text><f:status value="generated"/><div class="c"><p>x</p></div></f:text></f:Patient>"#;
        assert_eq!(
            json(xml),
            r#"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\" class=\"c\"><p>x</p></div>"}}"#
        );
        let xml = r#"<f:Patient xmlns:f="http://hl7.org/fhir" xmlns="http://www.w3.org/1999/xhtml"><f:text><div/></f:text></f:Patient>"#;
        assert_eq!(
            json(xml),
            r#"{"resourceType":"Patient","text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"/>"}}"#
        );
        let xml = r#"<Patient xmlns="http://hl7.org/fhir" xmlns:h="http://www.w3.org/1999/xhtml"><text><h:div><h:p>x<h:br/></h:p></h:div></text></Patient>"#;
        assert_eq!(
            json(xml),
            r#"{"resourceType":"Patient","text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x<br/></p></div>"}}"#
        );
        let xml = r#"<Patient xmlns="http://hl7.org/fhir"><text><h:div xmlns:h="http://www.w3.org/1999/xhtml"><h:p>x</h:p></h:div></text></Patient>"#;
        assert_eq!(
            json(xml),
            r#"{"resourceType":"Patient","text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\" xmlns:h=\"http://www.w3.org/1999/xhtml\"><p>x</p></div>"}}"#
        );
    }

    #[test]
    fn narrative_errors() {
        for (div, message) in [
            ("<div>x</div>", "XHTML namespace"),
            (
                &format!("<div {DIV_NS}><p xmlns='urn:x'>x</p></div>"),
                "XHTML namespace",
            ),
            (
                &format!(r#"<div {DIV_NS}><f:p xmlns:f="http://hl7.org/fhir"/></div>"#),
                "not in the XHTML namespace",
            ),
            (&format!("<div {DIV_NS}>a&nbsp;b</div>"), "&#160;"),
            (
                &format!("<div {DIV_NS}>&copy;</div>"),
                "unknown entity '&copy;'",
            ),
            (
                &format!("<div {DIV_NS}><p title='&nbsp;'/></div>"),
                "&#160;",
            ),
            (
                &format!("<div {DIV_NS}>&#xFFFF;</div>"),
                "invalid character",
            ),
            (&format!("<div {DIV_NS}><p></div>"), "malformed XML"),
            (
                &format!("<div {DIV_NS}><p a='1' a='2'/></div>"),
                "the attribute 'a' appears twice",
            ),
            // What quick-xml lets through, caught by the writer's check of the finished div.
            (
                &format!("<div {DIV_NS}><0td/></div>"),
                "'0td' is not a valid element name",
            ),
            (
                &format!("<div {DIV_NS}><p 1a='x'/></div>"),
                "'1a' is not a valid attribute name",
            ),
            (
                &format!("<div {DIV_NS}><p x:a='x'/></div>"),
                "the prefix 'x' of 'x:a' is not declared",
            ),
            (
                &format!("<div {DIV_NS}>a]]>b</div>"),
                "']]>' is not allowed",
            ),
            (
                &format!("<div {DIV_NS}><!-- a -- b --></div>"),
                "not well-formed",
            ),
        ] {
            let e = error(&patient(&format!("<text>{div}</text>")));
            assert!(e.message().contains(message), "{div}: {e}");
        }
        let xml = patient(&format!("<text><div {DIV_NS}>a&nbsp;b</div></text>"));
        let e = error(&xml);
        assert_eq!(e.path(), "Patient.text.div");
        assert_eq!(e.column(), xml.find("&nbsp;").unwrap() + 1);
    }

    #[test]
    fn characters_xml_forbids_are_rejected_anywhere() {
        // Raw in an attribute value, in narrative text, in a comment; U+FFFE; after a BOM.
        for (xml, c) in [
            (patient("<id value=\"a\u{8}b\"/>"), "U+0008"),
            (
                patient(&format!("<text><div {DIV_NS}>a\u{1}</div></text>")),
                "U+0001",
            ),
            (patient("<!-- \u{1f} -->"), "U+001F"),
            (patient("<id value=\"\u{FFFE}\"/>"), "U+FFFE"),
            (
                format!("\u{feff}{}", patient("<id value=\"\u{0}\"/>")),
                "U+0000",
            ),
        ] {
            let e = error(&xml);
            assert_eq!(
                e.message(),
                format!("the character {c} is not allowed in XML")
            );
            let forbidden = |c: char| c < ' ' || c == '\u{FFFE}';
            let column = xml.chars().position(forbidden).unwrap() + 1;
            assert_eq!((e.line(), e.column()), (1, column), "{xml:?}");
        }
        // Tab, LF, CR and U+FFFD are fine.
        convert(&patient("<id value=\"a\u{FFFD}\"/>\t\r\n"), true).unwrap();
    }

    #[test]
    fn dtds_are_rejected() {
        let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Patient xmlns="http://hl7.org/fhir"><name><family value="&lol9;"/></name></Patient>"#;
        let external = r#"<?xml version="1.0"?>
<!DOCTYPE Patient [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Patient xmlns="http://hl7.org/fhir"><name><family value="&xxe;"/></name></Patient>"#;
        for xml in [billion_laughs, external] {
            for strict in [true, false] {
                let e = convert(xml, strict).unwrap_err();
                assert_eq!(e.message(), DTD_MESSAGE);
                assert_eq!((e.path(), e.line(), e.column()), ("$", 2, 1));
            }
        }
        // Undeclared entities without a DTD are errors too, wherever they are.
        let e = error(&patient(r#"<name><family value="&xxe;"/></name>"#));
        assert!(e.message().contains("unknown entity '&xxe;'"), "{e}");
        let e = convert(&patient("<foo>&xxe;</foo>"), false).unwrap_err();
        assert!(e.message().contains("unknown entity '&xxe;'"), "{e}");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let n = 100_000;
        let nested = |open: &str, close: &str| {
            let mut body = String::new();
            for _ in 0..n {
                body.push_str(open);
            }
            for _ in 0..n {
                body.push_str(close);
            }
            patient(&body)
        };
        let cases = [
            nested(r#"<extension url="u">"#, "</extension>"),
            nested("<foo>", "</foo>"),
            nested("<contained><Patient>", "</Patient></contained>"),
            patient(&format!(
                "<text><div {DIV_NS}>{}</div></text>",
                nested("<b>", "</b>")
            )),
            nested(r#"<birthDate><extension url="u"><valueString>"#, ""),
        ];
        for xml in &cases {
            for strict in [true, false] {
                let e = convert(xml, strict).unwrap_err();
                assert!(
                    e.message().contains("nested more than 100 levels")
                        || e.message().contains("unknown element")
                        || e.message().contains("XHTML namespace"),
                    "{e}"
                );
            }
        }
        // Exactly at the limit is fine, one more is not.
        let at = |depth: usize| {
            let mut body = String::new();
            for _ in 1..depth {
                body.push_str(r#"<extension url="u">"#);
            }
            for _ in 1..depth {
                body.push_str("</extension>");
            }
            patient(&body)
        };
        assert!(xml_to_json(&at(10), &TABLE, true, 10).is_ok());
        let e = xml_to_json(&at(11), &TABLE, true, 10).unwrap_err();
        assert!(e.message().contains("nested more than 10 levels"), "{e}");
        assert!(xml_to_json(&at(1), &TABLE, true, 0).is_err());
    }

    const FULL: &str = r#"<?xml version="1.0"?>
<Patient xmlns="http://hl7.org/fhir">
  <id value="p1"/>
  <text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p>A &amp; é &#160;</p></div></text>
  <contained><Organization><name value="Ac&amp;me"/></Organization></contained>
  <extension url="http://e.org/a"><valueString value="v"/></extension>
  <active value="true"/>
  <name id="n1">
    <family value="Chalmers"/>
    <given value="Peter"><extension url="u"><valueInteger value="1"/></extension></given>
    <given id="g"/>
  </name>
  <name><family value="Windsor"/></name>
  <birthDate value="1974-12-25"/>
  <multipleBirthBoolean value="false"/>
</Patient>
"#;

    #[test]
    fn truncated_documents_are_errors() {
        assert!(convert(FULL, true).is_ok());
        let end = FULL.rfind('>').unwrap() + 1;
        for i in (0..FULL.len()).filter(|&i| FULL.is_char_boundary(i)) {
            let prefix = &FULL[..i];
            for strict in [true, false] {
                let result = convert(prefix, strict);
                assert_eq!(result.is_ok(), i >= end, "prefix {i}: {result:?}");
            }
            let _ = locate(prefix, &TABLE, &[Member("name".into()), Index(0)]);
        }
    }

    #[test]
    fn mutated_documents_never_panic() {
        let path = [
            Member("name".into()),
            Index(0),
            Member("_given".into()),
            Index(0),
            Member("extension".into()),
        ];
        for (i, c) in FULL.char_indices() {
            for replacement in [
                "<", ">", "&", "\"", "/", ":", " ", "x", "", "<a>", "]]>", "&#",
            ] {
                let xml = format!("{}{replacement}{}", &FULL[..i], &FULL[i + c.len_utf8()..]);
                for strict in [true, false] {
                    // `convert` checks that any output is JSON.
                    let _ = convert(&xml, strict);
                }
                let _ = locate(&xml, &TABLE, &path);
            }
        }
    }

    #[test]
    fn strict_and_lenient_unknown_content() {
        let xml = patient(concat!(
            r#"<active value="true" foo="x" xsi:schemaLocation="http://hl7.org/fhir p.xsd" "#,
            r#"xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"/>"#,
            r#"<foo><bar>&amp;<x/></bar></foo>"#,
            r#"<name><given value="a"/><nick value="x"/><given value="b"/></name>"#,
        ));
        assert_eq!(
            convert(&xml, false).unwrap(),
            r#"{"resourceType":"Patient","active":true,"name":[{"given":["a","b"]}]}"#
        );
        let e = error(&xml);
        assert_eq!(e.message(), "unknown attribute 'foo'");
        assert_eq!((e.path(), e.column()), ("Patient.active", 38 + 21));
        let e = error(&patient("<foo/>"));
        assert_eq!(
            (e.message(), e.path()),
            ("unknown element 'foo'", "Patient.foo")
        );
        let e = error(&patient(r#"<name><nick value="x"/></name>"#));
        assert_eq!(e.path(), "Patient.name[0].nick");
        // An attribute used as an element, or a choice without a known type.
        assert!(error(&patient(r#"<name><id value="x"/></name>"#))
            .message()
            .contains("unknown element 'id'"));
        assert!(error(&patient(r#"<multipleBirth value="x"/>"#))
            .message()
            .contains("unknown element"));
        assert!(error(&patient(r#"<multipleBirthString value="x"/>"#))
            .message()
            .contains("unknown element"));
        // Unknown children of primitives.
        let xml = patient(r#"<birthDate value="2000"><foo/></birthDate>"#);
        assert!(error(&xml).message().contains("unknown element 'foo'"));
        assert_eq!(
            convert(&xml, false).unwrap(),
            r#"{"resourceType":"Patient","birthDate":"2000"}"#
        );
    }

    #[test]
    fn order_and_repetition() {
        let e = error(&patient(r#"<active value="true"/><id value="x"/>"#));
        assert_eq!(
            (e.message(), e.path()),
            ("element 'id' is out of order", "Patient.id")
        );
        let e = error(&patient(r#"<active value="true"/><active value="false"/>"#));
        assert_eq!(
            (e.message(), e.path()),
            ("element 'active' appears more than once", "Patient.active")
        );
        let e = error(&patient(
            r#"<multipleBirthBoolean value="true"/><multipleBirthInteger value="2"/>"#,
        ));
        assert!(e.message().contains("more than once"), "{e}");
        let e = error(&patient(
            r#"<name><family value="a"/></name><birthDate value="x"/><name><family value="b"/></name>"#,
        ));
        assert_eq!(
            (e.message(), e.path()),
            ("element 'name' is out of order", "Patient.name[0]")
        );
        let e = error(&patient(
            r#"<name><given value="a"/><family value="b"/></name>"#,
        ));
        assert_eq!(e.path(), "Patient.name[0].family");
        // Lenient reading does not relax the order.
        assert!(convert(&patient(r#"<active value="true"/><id value="x"/>"#), false).is_err());
    }

    #[test]
    fn values_and_empty_elements() {
        for (body, message, path) in [
            (
                r#"<active value="yes"/>"#,
                "invalid boolean 'yes'",
                "Patient.active",
            ),
            (
                r#"<active value="True"/>"#,
                "invalid boolean",
                "Patient.active",
            ),
            (
                r#"<multipleBirthInteger value="01"/>"#,
                "invalid number '01'",
                "Patient.multipleBirthInteger",
            ),
            (
                r#"<multipleBirthInteger value="+1"/>"#,
                "invalid number",
                "Patient.multipleBirthInteger",
            ),
            (
                r#"<multipleBirthInteger value="1."/>"#,
                "invalid number",
                "Patient.multipleBirthInteger",
            ),
            (
                "<active/>",
                "has no value, id or extension",
                "Patient.active",
            ),
            (
                "<active><!-- x --></active>",
                "has no value, id or extension",
                "Patient.active",
            ),
            (
                r#"<name><given value="a"/><given/></name>"#,
                "has no value",
                "Patient.name[0].given[1]",
            ),
            ("<name/>", "element 'name' is empty", "Patient.name[0]"),
            (
                "<name> </name>",
                "element 'name' is empty",
                "Patient.name[0]",
            ),
            (
                "<text><status value='x'/></text><extension/>",
                "is empty",
                "Patient.extension[0]",
            ),
            (
                r#"<active value="true">x</active>"#,
                "text is not allowed",
                "Patient.active",
            ),
            (
                r#"<name>&amp;</name>"#,
                "text is not allowed",
                "Patient.name[0]",
            ),
            ("<name><![CDATA[x]]></name>", "CDATA", "Patient.name[0]"),
            (
                "<contained/>",
                "must hold a resource",
                "Patient.contained[0]",
            ),
            (
                "<contained><Foo/></contained>",
                "'Foo' is not a FHIR resource type",
                "Patient.contained[0]",
            ),
            (
                "<contained><Patient/><Patient/></contained>",
                "exactly one resource",
                "Patient.contained[0]",
            ),
            (
                r#"<contained><Organization><foo/></Organization></contained>"#,
                "unknown element 'foo'",
                "Patient.contained[0].foo",
            ),
            (
                r#"<active value="true" value="false"/>"#,
                "the attribute 'value' appears twice",
                "Patient.active",
            ),
            (
                r#"<?xml version="1.0"?>"#,
                "misplaced XML declaration",
                "Patient",
            ),
        ] {
            let e = error(&patient(body));
            assert!(e.message().contains(message), "{body}: {e}");
            assert_eq!(e.path(), path, "{body}");
        }
        // Empty values are passed on: the JSON reader has the last word.
        assert_eq!(
            json(&patient(r#"<birthDate value=""/>"#)),
            r#"{"resourceType":"Patient","birthDate":""}"#
        );
    }

    #[test]
    fn document_level_errors() {
        for (xml, message) in [
            ("", "no root element"),
            ("  <!-- only a comment -->  ", "no root element"),
            ("text", "text is not allowed"),
            ("<Patient/>", "not in the FHIR namespace"),
            (
                r#"<Patient xmlns="http://hl7.org/fhir/"/>"#,
                "not in the FHIR namespace",
            ),
            (
                r#"<Foo xmlns="http://hl7.org/fhir"/>"#,
                "unknown resource type 'Foo'",
            ),
            (
                r#"<x:Patient xmlns="http://hl7.org/fhir"/>"#,
                "not in the FHIR namespace",
            ),
            (
                r#"<Patient xmlns="http://hl7.org/fhir"/><Patient xmlns="http://hl7.org/fhir"/>"#,
                "content after the root element",
            ),
            (
                r#"<Patient xmlns="http://hl7.org/fhir"/>x"#,
                "text is not allowed",
            ),
            (
                r#"<Patient xmlns="http://hl7.org/fhir"></Patient></Patient>"#,
                "malformed XML",
            ),
            (
                r#"<Patient xmlns="http://hl7.org/fhir"><name></Patient>"#,
                "malformed XML",
            ),
            (
                r#"<Patient xmlns="http://hl7.org/fhir"><name>"#,
                "unexpected end",
            ),
            (r#"<Patient xmlns="http://hl7.org/fhir" a"#, "malformed XML"),
        ] {
            for strict in [true, false] {
                let e = convert(xml, strict).unwrap_err();
                assert!(e.message().contains(message), "{xml}: {e}");
            }
        }
        let e = error(&patient(r#"<x:active xmlns:x="urn:x" value="true"/>"#));
        assert_eq!(
            (e.message(), e.path()),
            (
                "element 'active' is not in the FHIR namespace (http://hl7.org/fhir)",
                "Patient.active"
            )
        );
        assert_eq!(
            convert(
                &patient(r#"<x:active xmlns:x="urn:x" value="true"/>"#),
                false
            )
            .unwrap(),
            r#"{"resourceType":"Patient"}"#
        );
    }

    #[test]
    fn error_positions() {
        // The example of `XmlError`'s documentation.
        let e = error(r#"<Patient xmlns="http://hl7.org/fhir"><active value="yes"/></Patient>"#);
        assert_eq!(e.path(), "Patient.active");
        assert_eq!((e.line(), e.column()), (1, 38));
        let xml = "<Patient xmlns=\"http://hl7.org/fhir\">\n  <name>\n    <given value=\"a\"/>\n  </name>\n  \
                   <name>\n    <given value=\"b\"/>\n    <given valu=\"c\"/>\n  </name>\n</Patient>";
        let e = error(xml);
        assert_eq!(e.message(), "unknown attribute 'valu'");
        assert_eq!(e.path(), "Patient.name[1].given[1]");
        assert_eq!((e.line(), e.column()), (7, 12));
        let e = error("<Patient xmlns=\"http://hl7.org/fhir\">\n  <é>x</é>\n</Patient>");
        assert_eq!((e.path(), e.line(), e.column()), ("Patient.é", 2, 3));
        let e =
            error("<Patient xmlns=\"http://hl7.org/fhir\">\n  <name>\n   é text</name></Patient>");
        assert_eq!((e.path(), e.line(), e.column()), ("Patient.name[0]", 3, 4));
        // A byte order mark is a character of the first line.
        let e = error(&format!("\u{feff}{}", patient("<foo/>")));
        assert_eq!((e.path(), e.line(), e.column()), ("Patient.foo", 1, 39));
        let xml = format!("\u{feff}{}", patient(r#"<active value="true"/>"#));
        let (pos, _) = locate(&xml, &TABLE, &[Member("active".into())]).unwrap();
        assert!(xml[pos..].starts_with("<active"));
    }

    #[test]
    fn locates_json_paths() {
        let find = |path: &[PathSegment]| {
            let (pos, xml_path) = locate(FULL, &TABLE, path).unwrap();
            (FULL[pos..].split(['>', ' ']).next().unwrap(), xml_path)
        };
        let member = |m: &str| Member(m.to_string());
        assert_eq!(find(&[]), ("<Patient", "Patient".to_string()));
        assert_eq!(
            find(&[member("birthDate")]),
            ("<birthDate", "Patient.birthDate".to_string())
        );
        let (pos, path) = locate(
            FULL,
            &TABLE,
            &[member("name"), Index(0), member("given"), Index(1)],
        )
        .unwrap();
        assert_eq!(path, "Patient.name[0].given[1]");
        assert!(FULL[pos..].starts_with(r#"<given id="g"/>"#));
        assert_eq!(
            find(&[member("name"), Index(0), member("_given"), Index(0)]),
            ("<given", "Patient.name[0].given[0]".to_string())
        );
        assert_eq!(
            find(&[
                member("name"),
                Index(0),
                member("_given"),
                Index(0),
                member("extension"),
                Index(0),
                member("valueInteger")
            ]),
            (
                "<valueInteger",
                "Patient.name[0].given[0].extension[0].valueInteger".to_string()
            )
        );
        assert_eq!(
            find(&[member("name"), Index(1), member("family")]),
            ("<family", "Patient.name[1].family".to_string())
        );
        let (pos, _) = locate(FULL, &TABLE, &[member("name"), Index(1), member("family")]).unwrap();
        assert!(FULL[pos..].starts_with(r#"<family value="Windsor"/>"#));
        assert_eq!(
            find(&[member("contained"), Index(0), member("name")]),
            ("<name", "Patient.contained[0].name".to_string())
        );
        assert_eq!(
            find(&[member("multipleBirthBoolean")]),
            (
                "<multipleBirthBoolean",
                "Patient.multipleBirthBoolean".to_string()
            )
        );
        assert_eq!(
            find(&[member("text"), member("div")]),
            ("<div", "Patient.text.div".to_string())
        );
        // The id attribute of a struct: the element itself.
        assert_eq!(
            find(&[member("name"), Index(0), member("id")]),
            ("<name", "Patient.name[0]".to_string())
        );
        // Not all there: the deepest element found.
        assert_eq!(
            find(&[member("name"), Index(5), member("family")]),
            ("<Patient", "Patient".to_string())
        );
        assert_eq!(
            find(&[member("name"), Index(1), member("given"), Index(0)]),
            ("<name", "Patient.name[1]".to_string())
        );
        assert_eq!(locate("<x/>", &TABLE, &[]), None);
        assert_eq!(locate("", &TABLE, &[]), None);
        // Lines and columns come from the offset.
        let (pos, path) = locate(FULL, &TABLE, &[member("active")]).unwrap();
        let e = XmlError::at("bad", path, FULL, pos);
        assert_eq!((e.line(), e.column()), (7, 3));
    }

    #[test]
    fn json_numbers() {
        for ok in [
            "0", "-0", "1", "-12", "1.5", "0.25", "1e5", "1E+5", "-1.5e-3",
        ] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in [
            "", "-", "01", "+1", "1.", ".5", "1e", "1e+", "NaN", "1 ", "0x1",
        ] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }
}
