//! What every resource has, whatever its type and FHIR version.

use crate::Instant;

/// A FHIR version the model is generated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FhirVersion {
    /// FHIR R4, 4.0.1.
    R4,
    /// FHIR R4B, 4.3.0.
    R4B,
    /// FHIR R5, 5.0.0.
    R5,
}

impl FhirVersion {
    /// The version number, as in `CapabilityStatement.fhirVersion`.
    pub fn number(self) -> &'static str {
        match self {
            FhirVersion::R4 => "4.0.1",
            FhirVersion::R4B => "4.3.0",
            FhirVersion::R5 => "5.0.0",
        }
    }
}

/// The parts every resource of every version has: its type, id and version metadata.
///
/// ```
/// use fhir_model::{FhirResource, r4::{Patient, Resource}};
/// let mut patient = Patient::default();
/// patient.set_id(Some("example".into()));
/// let resource = Resource::from(patient);
/// assert_eq!(resource.resource_type(), "Patient");
/// assert_eq!(resource.id(), Some("example"));
/// ```
pub trait FhirResource: crate::VisitReferences {
    /// The resource type name (`Patient`).
    fn resource_type(&self) -> &'static str;
    /// The FHIR version of the resource's model.
    fn fhir_version(&self) -> FhirVersion;
    /// The logical id.
    fn id(&self) -> Option<&str>;
    /// Sets or clears the logical id.
    fn set_id(&mut self, id: Option<String>);
    /// `meta.versionId`.
    fn version_id(&self) -> Option<&str>;
    /// `meta.lastUpdated`.
    fn last_updated(&self) -> Option<&Instant>;
    /// Sets `meta.versionId` and `meta.lastUpdated`, as a server does on every write.
    fn set_version(&mut self, version_id: Option<String>, last_updated: Option<Instant>);
    /// Adds a tag to `meta.tag`, unless a tag of the same system and code is there already:
    /// as a server marks a resource it sends in part (`SUBSETTED`).
    fn add_tag(&mut self, system: &str, code: &str, display: &str);
}

/// Implements, for a generated resource struct, what every resource has.
#[doc(hidden)]
#[macro_export]
macro_rules! resource_impls {
    ($name:ident) => {
        impl $crate::FhirResource for $name {
            fn resource_type(&self) -> &'static str {
                stringify!($name)
            }
            fn fhir_version(&self) -> $crate::FhirVersion {
                VERSION
            }
            fn id(&self) -> Option<&str> {
                self.id.as_ref().and_then(|p| p.value.as_deref())
            }
            fn set_id(&mut self, id: Option<String>) {
                match id {
                    Some(id) => self.id.get_or_insert_with(Default::default).value = Some(id),
                    None => self.id = None,
                }
            }
            fn version_id(&self) -> Option<&str> {
                self.meta.as_ref()?.version_id.as_ref()?.value.as_deref()
            }
            fn last_updated(&self) -> Option<&$crate::Instant> {
                self.meta.as_ref()?.last_updated.as_ref()?.value.as_ref()
            }
            fn set_version(
                &mut self,
                version_id: Option<String>,
                last_updated: Option<$crate::Instant>,
            ) {
                let meta = self.meta.get_or_insert_with(Default::default);
                meta.version_id = version_id.map(Into::into);
                meta.last_updated = last_updated.map(Into::into);
            }
            fn add_tag(&mut self, system: &str, code: &str, display: &str) {
                Meta::add_tag(&mut self.meta, system, code, display)
            }
        }
        impl From<$name> for Resource {
            fn from(value: $name) -> Resource {
                Resource::$name($crate::Boxed::new(value))
            }
        }
        impl TryFrom<Resource> for $name {
            type Error = Resource;
            fn try_from(value: Resource) -> Result<$name, Resource> {
                match value {
                    Resource::$name(v) => Ok(v.into_inner()),
                    other => Err(other),
                }
            }
        }
        impl $crate::xml::XmlResource for $name {
            fn xml_table() -> &'static $crate::xml::table::XmlTable {
                &xml_table::XML_TABLE
            }
        }
        impl $name {
            /// Reads this resource type strictly from FHIR XML.
            pub fn from_xml(text: &str) -> Result<Self, $crate::xml::XmlError> {
                $crate::xml::from_str(text)
            }
            /// Writes this resource as compact FHIR XML.
            pub fn to_xml(&self) -> Result<String, $crate::xml::XmlError> {
                $crate::xml::to_string(self)
            }
        }
        $crate::struct_impls!($name);
    };
}

/// Implements JSON entry points and serde for a generated struct.
#[doc(hidden)]
#[macro_export]
macro_rules! struct_impls {
    ($name:ident) => {
        impl $name {
            /// Reads this type strictly from JSON.
            pub fn from_json(text: &str) -> Result<Self, $crate::json::JsonError> {
                $crate::json::from_str(text).map_err(|e| e.with_root(stringify!($name)))
            }
            /// Writes this type as compact JSON.
            pub fn to_json(&self) -> String {
                $crate::json::to_string(self)
            }
        }
        impl $crate::BoxedDrop for $name {
            #[inline(never)]
            fn drop_box(value: Box<Self>) {
                drop(value)
            }
        }
        $crate::serde_impls!($name);
    };
}

/// Implements, for a version's `Resource` enum, what every resource has.
#[doc(hidden)]
#[macro_export]
macro_rules! resource_enum_impls {
    ($version:ident) => {
        impl Meta {
            /// Adds a tag to `meta` (made when there is none) unless one with the same
            /// system and code is there.
            fn add_tag(meta: &mut Option<Meta>, system: &str, code: &str, display: &str) {
                let meta = meta.get_or_insert_with(Default::default);
                let value = |p: &Option<Primitive<String>>| {
                    p.as_ref().and_then(|p| p.value.as_deref()) == Some(system)
                };
                let same = |t: &Coding| {
                    value(&t.system)
                        && t.code.as_ref().and_then(|c| c.value.as_deref()) == Some(code)
                };
                if meta.tag.iter().any(same) {
                    return;
                }
                meta.tag.push(Coding {
                    system: Some(system.to_string().into()),
                    code: Some(code.to_string().into()),
                    display: Some(display.to_string().into()),
                    ..Default::default()
                });
            }
        }

        impl $crate::VisitReferences for Resource {
            fn visit_references(&mut self, visit: &mut dyn FnMut(&mut String)) {
                self.inner_mut().visit_references(visit)
            }
        }

        impl $crate::FhirResource for Resource {
            fn resource_type(&self) -> &'static str {
                self.inner().resource_type()
            }
            fn fhir_version(&self) -> $crate::FhirVersion {
                $crate::FhirVersion::$version
            }
            fn id(&self) -> Option<&str> {
                self.inner().id()
            }
            fn set_id(&mut self, id: Option<String>) {
                self.inner_mut().set_id(id)
            }
            fn version_id(&self) -> Option<&str> {
                self.inner().version_id()
            }
            fn last_updated(&self) -> Option<&$crate::Instant> {
                self.inner().last_updated()
            }
            fn set_version(
                &mut self,
                version_id: Option<String>,
                last_updated: Option<$crate::Instant>,
            ) {
                self.inner_mut().set_version(version_id, last_updated)
            }
            fn add_tag(&mut self, system: &str, code: &str, display: &str) {
                self.inner_mut().add_tag(system, code, display)
            }
        }
        impl Resource {
            /// Reads any resource of this version strictly from JSON.
            pub fn from_json(text: &str) -> Result<Self, $crate::json::JsonError> {
                $crate::json::from_str(text)
            }
            /// Reads any resource of this version from JSON with the given options.
            pub fn from_json_with(
                text: &str,
                options: $crate::json::ReadOptions,
            ) -> Result<Self, $crate::json::JsonError> {
                $crate::json::from_str_with(text, options)
            }
            /// Writes the resource as compact JSON.
            pub fn to_json(&self) -> String {
                $crate::json::to_string(self)
            }
            /// Writes the resource as JSON indented by two spaces.
            pub fn to_json_pretty(&self) -> String {
                $crate::json::to_string_pretty(self)
            }
            /// Reads any resource of this version strictly from FHIR XML.
            pub fn from_xml(text: &str) -> Result<Self, $crate::xml::XmlError> {
                $crate::xml::from_str(text)
            }
            /// Reads any resource of this version from FHIR XML with the given options.
            pub fn from_xml_with(
                text: &str,
                options: $crate::json::ReadOptions,
            ) -> Result<Self, $crate::xml::XmlError> {
                $crate::xml::from_str_with(text, options)
            }
            /// Writes the resource as compact FHIR XML; fails only on content XML cannot
            /// carry (a narrative that is not well-formed XHTML, characters XML forbids).
            pub fn to_xml(&self) -> Result<String, $crate::xml::XmlError> {
                $crate::xml::to_string(self)
            }
            /// Writes the resource as FHIR XML indented by two spaces.
            pub fn to_xml_pretty(&self) -> Result<String, $crate::xml::XmlError> {
                $crate::xml::to_string_pretty(self)
            }
        }
        impl $crate::xml::XmlResource for Resource {
            fn xml_table() -> &'static $crate::xml::table::XmlTable {
                &xml_table::XML_TABLE
            }
        }
        #[cfg(feature = "validate")]
        impl $crate::validate::ValidationModel for Resource {
            fn validation_table() -> &'static $crate::validate::table::ValidationTable {
                &validation_table::VALIDATION_TABLE
            }
            fn fhir_version() -> $crate::FhirVersion {
                $crate::FhirVersion::$version
            }
            fn node(&self) -> $crate::fhirpath::Node<'_> {
                self.as_node()
            }
        }
        impl $crate::BoxedDrop for Resource {
            #[inline(never)]
            fn drop_box(value: Box<Self>) {
                drop(value)
            }
        }
        $crate::serde_impls!(Resource);
    };
}

/// What is known about a resource type at compile time: its name, FHIR version, the version's
/// `Resource` enum and its search parameters. The server kit checks providers against this.
///
/// ```
/// use fhir_model::{ResourceType, SearchParamKind, r4::Patient};
/// assert_eq!(Patient::TYPE_NAME, "Patient");
/// let family = Patient::search_parameter("family").unwrap();
/// assert_eq!(family.kind, SearchParamKind::String);
/// assert!(Patient::search_parameter("_id").is_some());
/// ```
pub trait ResourceType: FhirResource + Sized + 'static {
    /// The resource type name (`Patient`).
    const TYPE_NAME: &'static str;
    /// The FHIR version of this type.
    const VERSION: FhirVersion;
    /// The `Resource` enum of the same version.
    type Resource;
    /// The search parameters defined for this type, including those of `Resource` and
    /// `DomainResource` (`_id`, `_lastUpdated`, ...).
    const SEARCH_PARAMETERS: &'static [SearchParameter];

    /// This type's variant of the version's `Resource` enum, borrowed.
    fn downcast_ref(resource: &Self::Resource) -> Option<&Self>;

    /// The search parameter with this code.
    fn search_parameter(code: &str) -> Option<&'static SearchParameter> {
        Self::SEARCH_PARAMETERS.iter().find(|p| p.code == code)
    }
}

/// The type of a search parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SearchParamKind {
    /// `number`
    Number,
    /// `date`
    Date,
    /// `string`
    String,
    /// `token`
    Token,
    /// `reference`
    Reference,
    /// `composite`
    Composite,
    /// `quantity`
    Quantity,
    /// `uri`
    Uri,
    /// `special`
    Special,
}

impl SearchParamKind {
    /// Every type.
    pub const ALL: [SearchParamKind; 9] = [
        SearchParamKind::Number,
        SearchParamKind::Date,
        SearchParamKind::String,
        SearchParamKind::Token,
        SearchParamKind::Reference,
        SearchParamKind::Composite,
        SearchParamKind::Quantity,
        SearchParamKind::Uri,
        SearchParamKind::Special,
    ];

    /// The type with the given FHIR code (`"token"`), if any.
    ///
    /// ```
    /// use fhir_model::SearchParamKind;
    /// assert_eq!(SearchParamKind::from_code("token"), Some(SearchParamKind::Token));
    /// assert_eq!(SearchParamKind::from_code("Token"), None);
    /// ```
    pub fn from_code(code: &str) -> Option<SearchParamKind> {
        SearchParamKind::ALL.into_iter().find(|t| t.code() == code)
    }

    /// The FHIR code of the type (`token`).
    pub const fn code(self) -> &'static str {
        match self {
            SearchParamKind::Number => "number",
            SearchParamKind::Date => "date",
            SearchParamKind::String => "string",
            SearchParamKind::Token => "token",
            SearchParamKind::Reference => "reference",
            SearchParamKind::Composite => "composite",
            SearchParamKind::Quantity => "quantity",
            SearchParamKind::Uri => "uri",
            SearchParamKind::Special => "special",
        }
    }
}

impl std::fmt::Display for SearchParamKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A search parameter from the FHIR definitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchParameter {
    /// The name used in URLs (`family`).
    pub code: &'static str,
    /// Its type.
    pub kind: SearchParamKind,
    /// Canonical URL of its definition.
    pub url: &'static str,
    /// The FHIRPath expression that extracts its values.
    pub expression: &'static str,
    /// Documentation from the definition.
    pub description: &'static str,
    /// For references: the resource types it may point to.
    pub targets: &'static [&'static str],
    /// For composites: the components, in order (empty for other types).
    pub components: &'static [SearchComponent],
}

/// A component of a composite search parameter: the search parameter it takes its type
/// from, and the expression that finds its values in each value of the composite.
///
/// ```
/// use fhir_model::{ResourceType, SearchParamKind, r4::Observation};
/// let composite = Observation::search_parameter("code-value-quantity").unwrap();
/// let kinds: Vec<_> = composite.components.iter().map(|c| (c.code, c.kind)).collect();
/// assert_eq!(kinds, [("code", SearchParamKind::Token), ("value-quantity", SearchParamKind::Quantity)]);
/// assert_eq!(composite.components[0].expression, "code");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SearchComponent {
    /// The code of the component's search parameter (`code`).
    pub code: &'static str,
    /// Its type.
    pub kind: SearchParamKind,
    /// The FHIRPath expression, relative to a value of the composite's expression.
    pub expression: &'static str,
}
