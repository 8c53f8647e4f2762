//! The shape of the model as the XML format needs it: for every struct, its elements in
//! definition order (the order XML requires), which of them are attributes, which repeat and
//! what type each holds; with the flags that subsetting (`_summary`, `_elements`) reads. Codegen writes one [`XmlTable`] per FHIR version as static data, so
//! XML support adds tables, not code, to every generated type: the reader and the writer are
//! shared functions driven by the table.

/// One FHIR version's table.
#[derive(Debug)]
pub struct XmlTable {
    /// Every struct of the version; [`XmlKind::Complex`] indexes this slice.
    pub types: &'static [XmlType],
    /// Every resource type name with its index in `types`, sorted by name.
    pub resources: &'static [(&'static str, u16)],
    /// The index of `Extension` in `types`: the type of a primitive's extensions, which the
    /// table has no struct for.
    pub extension: u16,
}

/// A struct: a resource, a complex datatype or a backbone element.
#[derive(Debug)]
pub struct XmlType {
    /// The FHIR name or path (`Patient`, `HumanName`, `Patient.contact`).
    pub name: &'static str,
    /// The elements in definition order.
    pub elements: &'static [XmlElement],
}

/// An element of a struct.
#[derive(Debug)]
pub struct XmlElement {
    /// The name (`birthDate`; a choice's name without `[x]`, e.g. `value`).
    pub name: &'static str,
    /// Cardinality `..*`: a JSON array, repeated XML elements.
    pub repeated: bool,
    /// Written as an XML attribute (`Element.id`, `Extension.url`): always a plain string.
    pub attribute: bool,
    /// What it holds.
    pub kind: XmlKind,
    /// Part of the summary (`isSummary` in the definitions): kept by `_summary=true`.
    pub summary: bool,
    /// Changes the meaning of the element that holds it (`isModifier`): kept by every
    /// subset, since a reader who does not see it may misread the rest.
    pub modifier: bool,
    /// Minimum cardinality of at least one: kept by `_summary=text` and `_elements`.
    pub mandatory: bool,
}

/// What an element holds.
#[derive(Clone, Copy, Debug)]
pub enum XmlKind {
    /// A primitive: its value is the `value` attribute in XML; in JSON it is a string,
    /// number or boolean, and its id and extensions go in the `_name` sibling.
    Primitive(JsonKind),
    /// A plain string without id or extensions (an attribute, see [`XmlElement::attribute`]).
    Plain,
    /// The narrative `div`: XHTML in XML, a string in JSON.
    Xhtml,
    /// A struct: the index of its [`XmlType`].
    Complex(u16),
    /// Any resource: wrapped in an element named after its type in XML (`<contained><Patient>`),
    /// an object with `resourceType` in JSON.
    Resource,
    /// A choice: the element's name plus a type suffix (`valueQuantity`), one per allowed type.
    Choice(&'static [XmlChoice]),
}

/// One type of a choice element.
#[derive(Clone, Copy, Debug)]
pub struct XmlChoice {
    /// The type suffix (`Quantity`, `String`, `DateTime`).
    pub suffix: &'static str,
    /// The type; never another choice.
    pub kind: XmlKind,
}

/// How a primitive's value is written in JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonKind {
    /// `true` or `false`.
    Bool,
    /// A number, exactly as written (integer, positiveInt, unsignedInt, decimal).
    Number,
    /// A string (every other primitive, including integer64).
    String,
}

impl XmlTable {
    /// The index of a resource type's [`XmlType`].
    pub fn resource(&self, name: &str) -> Option<u16> {
        self.resources
            .binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| self.resources[i].1)
    }

    /// The element `name` of struct `ty` (exact name; choices are found by
    /// [`XmlTable::element_for_xml_name`]).
    pub fn element(&self, ty: u16, name: &str) -> Option<(usize, &'static XmlElement)> {
        self.types[ty as usize]
            .elements
            .iter()
            .enumerate()
            .find(|(_, e)| e.name == name)
    }

    /// The element an XML (or JSON) member name stands for in struct `ty`: its index, the
    /// element, and the kind of this particular name (a choice's chosen type).
    pub fn element_for_xml_name(
        &self,
        ty: u16,
        name: &str,
    ) -> Option<(usize, &'static XmlElement, XmlKind)> {
        self.element_from(ty, name, 0)
    }

    /// [`XmlTable::element_for_xml_name`], looking from element index `from` on (and then
    /// from the start): elements come in definition order, so starting at the previous
    /// element's index usually finds the next one at once. Names are unique within a type,
    /// so the answer does not depend on `from`.
    pub fn element_from(
        &self,
        ty: u16,
        name: &str,
        from: usize,
    ) -> Option<(usize, &'static XmlElement, XmlKind)> {
        let elements = self.types.get(ty as usize)?.elements;
        let matches = |e: &XmlElement| match e.kind {
            XmlKind::Choice(choices) => {
                let suffix = name.strip_prefix(e.name)?;
                choices.iter().find(|c| c.suffix == suffix).map(|c| c.kind)
            }
            kind => (e.name == name).then_some(kind),
        };
        let from = from.min(elements.len());
        (from..elements.len())
            .chain(0..from)
            .find_map(|i| matches(&elements[i]).map(|kind| (i, &elements[i], kind)))
    }
}
