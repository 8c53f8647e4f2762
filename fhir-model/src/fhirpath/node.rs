//! The FHIRPath view of the typed model: [`Node`]s borrowed from a resource, and the one small
//! trait every generated struct implements ([`Navigate`]) to hand out its elements by index.

use crate::{Boxed, BoxedDrop, Decimal, Primitive};

/// A struct of the model (resource, datatype or backbone element) as FHIRPath sees it.
///
/// Codegen implements it for every struct with one `match`: `member(i)` pushes the nodes of
/// the struct's `i`-th element, where `i` is the element's position in the struct's entry
/// of the version's [`XmlTable`](crate::xml::table::XmlTable). Names, kinds and choice
/// suffixes stay in that table; the evaluator turns a name into an index once per type.
///
/// ```
/// use fhir_model::fhirpath::{Navigate, Node};
/// use fhir_model::r4::{HumanName, Patient, xml_table::XML_TABLE};
///
/// let patient = Patient { name: vec![HumanName { family: Some("Chalmers".into()), ..Default::default() }], ..Default::default() };
/// let (index, _) = XML_TABLE.element(patient.type_index(), "name").unwrap();
/// let mut nodes = Vec::new();
/// patient.member(index, &mut nodes);
/// assert!(matches!(nodes[..], [Node::Object(_, "HumanName")]));
/// ```
pub trait Navigate {
    /// The index of this struct's type in its version's XML table.
    fn type_index(&self) -> u16;
    /// Pushes the values of element `index` (nothing when absent or out of range).
    fn member<'a>(&'a self, index: usize, out: &mut Vec<Node<'a>>);
}

/// A value in a resource, borrowed: what FHIRPath paths walk over.
///
/// Every node carries the FHIR type name its element declares (for a choice, the chosen
/// type: `Age` rather than `Quantity`, `dateTime`; for a backbone element, its path, such as
/// `Patient.contact`).
#[derive(Clone, Copy)]
pub enum Node<'a> {
    /// A struct: a resource, complex datatype or backbone element.
    Object(&'a dyn Navigate, &'static str),
    /// A primitive element: a value and/or an id and extensions.
    Primitive(&'a dyn PrimitiveElement, &'static str),
    /// A plain string without id or extensions (`Element.id`, `Extension.url`, narrative).
    Text(&'a str, &'static str),
}

impl<'a> Node<'a> {
    /// The FHIR type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            Node::Object(_, t) | Node::Primitive(_, t) | Node::Text(_, t) => t,
        }
    }

    /// The primitive value, for primitives and plain strings.
    pub fn primitive(&self) -> Option<Prim<'a>> {
        match *self {
            Node::Primitive(p, _) => p.value(),
            Node::Text(s, _) => Some(Prim::String(s)),
            Node::Object(..) => None,
        }
    }

    /// The struct, for objects.
    pub fn object(&self) -> Option<&'a dyn Navigate> {
        match *self {
            Node::Object(o, _) => Some(o),
            _ => None,
        }
    }

    /// Whether two nodes are the same value in memory (not merely equal).
    pub fn same(&self, other: &Node<'_>) -> bool {
        fn addr<T: ?Sized>(p: &T) -> *const u8 {
            p as *const T as *const u8
        }
        match (self, other) {
            (Node::Object(a, _), Node::Object(b, _)) => addr(*a) == addr(*b),
            (Node::Primitive(a, _), Node::Primitive(b, _)) => addr(*a) == addr(*b),
            (Node::Text(a, _), Node::Text(b, _)) => a.as_ptr() == b.as_ptr() && a.len() == b.len(),
            _ => false,
        }
    }
}

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Node::Object(_, t) => write!(f, "Object({t})"),
            Node::Primitive(p, t) => write!(f, "Primitive({t}, {:?})", p.value()),
            Node::Text(s, t) => write!(f, "Text({t}, {s:?})"),
        }
    }
}

/// A primitive value, borrowed. Codes of closed value sets come with their system; dates,
/// times and decimals as their exact text.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Prim<'a> {
    /// `boolean`
    Bool(bool),
    /// `integer`, `positiveInt`, `unsignedInt`, `integer64`
    Integer(i64),
    /// `decimal`, as written
    Decimal(&'a str),
    /// `string`, `code`, `uri` and every other string-valued type
    String(&'a str),
    /// A `code` of a closed value set (an enum of the model), with the system the code
    /// belongs to: the system a token search matches it in.
    Code(&'static str, &'static str),
    /// `date`
    Date(&'a str),
    /// `dateTime`
    DateTime(&'a str),
    /// `instant`
    Instant(&'a str),
    /// `time`
    Time(&'a str),
}

impl<'a> Prim<'a> {
    /// The value as FHIR JSON writes it, for strings, dates and decimals.
    pub fn as_str(&self) -> Option<&'a str> {
        match *self {
            Prim::Decimal(s)
            | Prim::String(s)
            | Prim::Date(s)
            | Prim::DateTime(s)
            | Prim::Instant(s)
            | Prim::Time(s) => Some(s),
            Prim::Code(code, _) => Some(code),
            Prim::Bool(_) | Prim::Integer(_) => None,
        }
    }
}

/// A primitive value type of the model.
pub trait PrimValue {
    /// The value, borrowed.
    fn prim(&self) -> Prim<'_>;
}

impl PrimValue for String {
    fn prim(&self) -> Prim<'_> {
        Prim::String(self)
    }
}
impl PrimValue for bool {
    fn prim(&self) -> Prim<'_> {
        Prim::Bool(*self)
    }
}
impl PrimValue for i32 {
    fn prim(&self) -> Prim<'_> {
        Prim::Integer((*self).into())
    }
}
impl PrimValue for u32 {
    fn prim(&self) -> Prim<'_> {
        Prim::Integer((*self).into())
    }
}
impl PrimValue for i64 {
    fn prim(&self) -> Prim<'_> {
        Prim::Integer(*self)
    }
}
impl PrimValue for Decimal {
    fn prim(&self) -> Prim<'_> {
        Prim::Decimal(self.as_str())
    }
}
impl PrimValue for crate::Date {
    fn prim(&self) -> Prim<'_> {
        Prim::Date(self.as_str())
    }
}
impl PrimValue for crate::DateTime {
    fn prim(&self) -> Prim<'_> {
        Prim::DateTime(self.as_str())
    }
}
impl PrimValue for crate::Instant {
    fn prim(&self) -> Prim<'_> {
        Prim::Instant(self.as_str())
    }
}
impl PrimValue for crate::Time {
    fn prim(&self) -> Prim<'_> {
        Prim::Time(self.as_str())
    }
}

/// A primitive element: its value, id and extensions.
pub trait PrimitiveElement {
    /// The value, if any.
    fn value(&self) -> Option<Prim<'_>>;
    /// The element's id.
    fn element_id(&self) -> Option<&str>;
    /// Pushes the element's extensions.
    fn extensions<'a>(&'a self, out: &mut Vec<Node<'a>>);
}

impl<T: PrimValue, X: Navigate> PrimitiveElement for Primitive<T, X> {
    fn value(&self) -> Option<Prim<'_>> {
        self.value.as_ref().map(PrimValue::prim)
    }
    fn element_id(&self) -> Option<&str> {
        self.id()
    }
    fn extensions<'a>(&'a self, out: &mut Vec<Node<'a>>) {
        rt::extensions(self.extension(), out);
    }
}

/// A value that is one node or none: choice enums, which give the chosen type's name.
pub trait ToNodes {
    /// Pushes the value's node.
    fn to_nodes<'a>(&'a self, out: &mut Vec<Node<'a>>);
}

/// Helpers the generated [`Navigate`] impls call, one per field shape. They are not inlined:
/// each is compiled once per field type and a struct's `member` stays a table of calls
/// (inlined into every arm, they made the model's clean release build about a fifth slower).
#[doc(hidden)]
pub mod rt {
    use super::*;

    #[inline(never)]
    pub fn prim<'a, T: PrimValue, X: Navigate>(
        v: &'a Option<Primitive<T, X>>,
        ty: &'static str,
        out: &mut Vec<Node<'a>>,
    ) {
        if let Some(p) = v {
            out.push(Node::Primitive(p, ty));
        }
    }

    #[inline(never)]
    pub fn prim_one<'a, T: PrimValue, X: Navigate>(
        p: &'a Primitive<T, X>,
        ty: &'static str,
        out: &mut Vec<Node<'a>>,
    ) {
        out.push(Node::Primitive(p, ty));
    }

    #[inline(never)]
    pub fn prims<'a, T: PrimValue, X: Navigate>(
        v: &'a [Primitive<T, X>],
        ty: &'static str,
        out: &mut Vec<Node<'a>>,
    ) {
        out.reserve(v.len());
        for p in v {
            out.push(Node::Primitive(p, ty));
        }
    }

    #[inline(never)]
    pub fn text<'a>(v: &'a Option<String>, out: &mut Vec<Node<'a>>) {
        if let Some(s) = v {
            out.push(Node::Text(s, "string"));
        }
    }

    #[inline(never)]
    pub fn texts<'a>(v: &'a [String], out: &mut Vec<Node<'a>>) {
        out.extend(v.iter().map(|s| Node::Text(s, "string")));
    }

    #[inline(never)]
    pub fn object<'a, T: Navigate>(v: &'a Option<T>, ty: &'static str, out: &mut Vec<Node<'a>>) {
        if let Some(o) = v {
            out.push(Node::Object(o, ty));
        }
    }

    #[inline(never)]
    pub fn boxed<'a, T: Navigate + BoxedDrop>(
        v: &'a Option<Boxed<T>>,
        ty: &'static str,
        out: &mut Vec<Node<'a>>,
    ) {
        if let Some(o) = v {
            out.push(Node::Object(&**o, ty));
        }
    }

    #[inline(never)]
    pub fn objects<'a, T: Navigate>(v: &'a [T], ty: &'static str, out: &mut Vec<Node<'a>>) {
        out.reserve(v.len());
        for o in v {
            out.push(Node::Object(o, ty));
        }
    }

    /// Resources in place (`contained`, `Bundle.entry.resource`), through the version's
    /// `Resource::as_node`.
    #[inline(never)]
    pub fn resources<'a, R>(v: &'a [R], node: fn(&'a R) -> Node<'a>, out: &mut Vec<Node<'a>>) {
        out.reserve(v.len());
        for r in v {
            out.push(node(r));
        }
    }

    /// A primitive's extensions: compiled once per version (its `Extension`), not once per
    /// primitive type.
    pub fn extensions<'a, X: Navigate>(v: &'a [X], out: &mut Vec<Node<'a>>) {
        objects(v, "Extension", out);
    }

    #[inline(never)]
    pub fn choice<'a, C: ToNodes>(v: &'a Option<C>, out: &mut Vec<Node<'a>>) {
        if let Some(c) = v {
            c.to_nodes(out);
        }
    }
}
