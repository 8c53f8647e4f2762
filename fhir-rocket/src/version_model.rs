//! What the server needs of a FHIR version's model: its `Resource` enum, the resource types,
//! compartments and the parts of a Bundle that batch and transaction processing reads.

use fhir_model::json::JsonValue;
use fhir_model::{FhirResource, FhirVersion};

/// A FHIR version's `Resource` enum, as the server needs it.
pub trait ServerModel:
    JsonValue
    + fhir_model::xml::XmlResource
    + fhir_model::validate::ValidationModel
    + FhirResource
    + crate::search::matcher::Searchable
    + Clone
    + Send
    + Sync
    + 'static
{
    /// The FHIR version.
    const VERSION: FhirVersion;
    /// Every resource type of the version, in name order.
    const RESOURCE_TYPES: &'static [&'static str];
    /// Whether a resource type of this version exists.
    fn is_resource_type(name: &str) -> bool {
        Self::RESOURCE_TYPES.binary_search(&name).is_ok()
    }
    /// The compartments of the version (`Patient`, `Encounter`, ...).
    const COMPARTMENTS: &'static [&'static str];
    /// The search parameters that put a resource of `resource_type` in `compartment`, from
    /// the version's CompartmentDefinitions; `None` when the type is not in it.
    fn compartment_params(
        compartment: &str,
        resource_type: &str,
    ) -> Option<&'static [&'static str]>;
    /// The parts of a Bundle that batch and transaction processing reads; the resource
    /// itself back when it is no Bundle.
    fn into_bundle(self) -> Result<BundleParts<Self>, Self>;
}

/// What batch and transaction processing reads of a Bundle, the same in every version.
#[derive(Debug)]
pub struct BundleParts<R> {
    /// `Bundle.type`.
    pub kind: Option<String>,
    /// `Bundle.entry`.
    pub entries: Vec<EntryParts<R>>,
}

/// One entry of a Bundle.
#[derive(Debug)]
pub struct EntryParts<R> {
    /// `fullUrl`.
    pub full_url: Option<String>,
    /// `resource`.
    pub resource: Option<R>,
    /// `request`.
    pub request: Option<EntryRequest>,
}

/// `Bundle.entry.request`.
#[derive(Clone, Debug, Default)]
pub struct EntryRequest {
    /// `method`.
    pub method: Option<String>,
    /// `url`.
    pub url: Option<String>,
    /// `ifNoneMatch`.
    pub if_none_match: Option<String>,
    /// `ifModifiedSince`, a FHIR instant.
    pub if_modified_since: Option<String>,
    /// `ifMatch`.
    pub if_match: Option<String>,
    /// `ifNoneExist`.
    pub if_none_exist: Option<String>,
}

macro_rules! server_model {
    ($feature:literal, $module:ident, $version:ident) => {
        #[cfg(feature = $feature)]
        impl ServerModel for fhir_model::$module::Resource {
            const VERSION: FhirVersion = FhirVersion::$version;
            const RESOURCE_TYPES: &'static [&'static str] = fhir_model::$module::RESOURCE_TYPES;
            const COMPARTMENTS: &'static [&'static str] = fhir_model::$module::COMPARTMENTS;

            fn compartment_params(
                compartment: &str,
                resource_type: &str,
            ) -> Option<&'static [&'static str]> {
                fhir_model::$module::compartment_params(compartment, resource_type)
            }

            fn into_bundle(self) -> Result<BundleParts<Self>, Self> {
                let bundle = fhir_model::$module::Bundle::try_from(self)?;
                let text =
                    |p: Option<fhir_model::$module::Primitive<String>>| p.and_then(|p| p.value);
                Ok(BundleParts {
                    kind: bundle.r#type.and_then(|t| t.value).map(|t| t.to_string()),
                    entries: bundle
                        .entry
                        .into_iter()
                        .map(|e| EntryParts {
                            full_url: text(e.full_url),
                            resource: e.resource,
                            request: e.request.map(|r| EntryRequest {
                                method: r.method.and_then(|m| m.value).map(|m| m.to_string()),
                                url: text(r.url),
                                if_none_match: text(r.if_none_match),
                                if_modified_since: r
                                    .if_modified_since
                                    .and_then(|i| i.value)
                                    .map(|i| i.as_str().to_string()),
                                if_match: text(r.if_match),
                                if_none_exist: text(r.if_none_exist),
                            }),
                        })
                        .collect(),
                })
            }
        }
    };
}
server_model!("r4", r4, R4);
server_model!("r4b", r4b, R4B);
server_model!("r5", r5, R5);
