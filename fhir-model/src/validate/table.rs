//! The rules of a FHIR version's definitions that validation checks, as static data. Codegen
//! writes one [`ValidationTable`] per version beside its [`XmlTable`]: its types are the XML
//! table's types in the same order, and each type's elements the XML table's elements in the
//! same order, so the validator walks a resource with the XML table (names, kinds, choices) and
//! reads each element's rules at the same indexes.

use crate::xml::table::XmlTable;

/// One FHIR version's validation rules.
#[derive(Debug)]
pub struct ValidationTable {
    /// The version's XML table, whose types and elements [`ValidationTable::types`] follows.
    pub xml: &'static XmlTable,
    /// The rules of each struct of [`XmlTable::types`], at the same index.
    pub types: &'static [TypeRules],
    /// Every primitive type of the version, sorted by name.
    pub primitives: &'static [PrimitiveRule],
    /// The value sets of required bindings on Coding, CodeableConcept and Quantity elements,
    /// sorted by URL.
    pub value_sets: &'static [ValueSet],
    /// Every invariant of the definitions (`ElementDefinition.constraint`), each once, on the
    /// definition that states it.
    pub constraints: &'static [Constraint],
}

/// The rules of one struct.
#[derive(Debug)]
pub struct TypeRules {
    /// Indexes in [`ValidationTable::constraints`] of the invariants every instance of the
    /// struct must meet: those of its root element and of the types it specializes
    /// (`DomainResource`'s `dom-*` for most resources, `ele-1` for every element).
    pub invariants: &'static [u16],
    /// The rules of each element, at the index of the element in the XML table.
    pub elements: &'static [ElementRules],
}

/// The rules of one element.
#[derive(Debug)]
pub struct ElementRules {
    /// Minimum cardinality.
    pub min: u32,
    /// Maximum cardinality; `None` for `*`.
    pub max: Option<u32>,
    /// The primitive type of a primitive or plain-string element: an index in
    /// [`ValidationTable::primitives`]. A choice's type comes from the chosen name's suffix.
    pub primitive: Option<u8>,
    /// A `code` bound to a closed value set: the check of its codes.
    pub codes: Option<CodeCheck>,
    /// The value set of a required binding on a Coding, CodeableConcept or Quantity: an index
    /// in [`ValidationTable::value_sets`].
    pub value_set: Option<u16>,
    /// Indexes in [`ValidationTable::constraints`] of the invariants stated on the element.
    pub invariants: &'static [u16],
}

/// The codes of a `code` element's required value set: the generated code enum.
#[derive(Clone, Copy, Debug)]
pub struct CodeCheck {
    /// The value set's canonical URL.
    pub value_set: &'static str,
    /// Whether a code is in it.
    pub is_code: fn(&str) -> bool,
}

/// Whether `code` is a code of the enum `T` (what [`CodeCheck::is_code`] points to).
///
/// ```
/// use fhir_model::r4::codes::AdministrativeGender;
/// use fhir_model::validate::table::is_code;
/// assert!(is_code::<AdministrativeGender>("female"));
/// assert!(!is_code::<AdministrativeGender>("f"));
/// ```
pub fn is_code<T: crate::Code>(code: &str) -> bool {
    T::from_code(code).is_some()
}

/// A primitive type.
#[derive(Debug)]
pub struct PrimitiveRule {
    /// The FHIR type code (`date`, `positiveInt`).
    pub name: &'static str,
    /// The regex its value must match whole, as the definitions write it (XML Schema syntax).
    pub regex: Option<&'static str>,
    /// Indexes in [`ValidationTable::constraints`] of the invariants on the type.
    pub invariants: &'static [u16],
}

/// The value set of a required binding on a Coding, CodeableConcept or Quantity.
#[derive(Debug)]
pub struct ValueSet {
    /// Canonical URL.
    pub url: &'static str,
    /// Its codes as (system, code); `None` when the definitions cannot close it (codes of an
    /// external system such as UCUM or BCP-47), which only a terminology server can check.
    pub codes: Option<&'static [(&'static str, &'static str)]>,
}

/// An invariant: a FHIRPath expression each instance of an element must meet.
#[derive(Debug)]
pub struct Constraint {
    /// The key (`ele-1`, `pat-1`), the rule named in an [`Issue`](super::Issue).
    pub key: &'static str,
    /// `error` or `warning`.
    pub severity: &'static str,
    /// What it says, for people.
    pub human: &'static str,
    /// The FHIRPath expression.
    pub expression: &'static str,
    /// The path of the element that states it.
    pub path: &'static str,
}

impl ValidationTable {
    /// The primitive type named `name`.
    ///
    /// ```
    /// use fhir_model::validate::ValidationModel;
    /// let table = <fhir_model::r4::Resource as ValidationModel>::validation_table();
    /// assert_eq!(table.primitive("id").unwrap().regex, Some(r"[A-Za-z0-9\-\.]{1,64}"));
    /// assert_eq!(table.constraints.len(), 241);
    /// ```
    pub fn primitive(&self, name: &str) -> Option<&'static PrimitiveRule> {
        self.primitives
            .binary_search_by(|p| p.name.cmp(name))
            .ok()
            .map(|i| &self.primitives[i])
    }

    /// Whether the struct `ty` (an index in the XML table) carries the invariant `key`.
    pub fn type_has_invariant(&self, ty: u16, key: &str) -> bool {
        self.types.get(ty as usize).is_some_and(|t| {
            t.invariants.iter().any(|&i| {
                self.constraints
                    .get(i as usize)
                    .is_some_and(|c| c.key == key)
            })
        })
    }
}
