//! Typed FHIR resources and datatypes for R4, R4B and R5, generated at build time from the
//! official definitions, with exact FHIR JSON.
//!
//! Each FHIR version is a module behind a cargo feature: [`r4`] (default), `r4b` and `r5`. In
//! each, every datatype and resource is a struct, backbone elements are named structs
//! (`Patient.contact` is `PatientContact`), choice elements (`value[x]`) are enums, codes bound
//! to closed value sets are enums in `codes`, and `Resource` is the enum of all resources.
//!
//! ```
//! use fhir_model::r4::{Patient, Resource};
//! use fhir_model::FhirResource;
//!
//! let text = r#"{"resourceType":"Patient","id":"pat1","name":[{"family":"Chalmers","given":["Peter","James"]}]}"#;
//! let resource = Resource::from_json(text).unwrap();
//! assert_eq!(resource.id(), Some("pat1"));
//! let patient = Patient::try_from(resource).unwrap();
//! assert_eq!(patient.name[0].given[1].value.as_deref(), Some("James"));
//! assert_eq!(patient.to_json(), text);
//! ```
//!
//! Reading is strict by default: unknown elements are errors that name their JSON path.
//! [`json::ReadOptions::LENIENT`] skips them instead.
//!
//! The `fhirpath` feature adds `fhirpath`: a FHIRPath evaluator over the typed model and the
//! values of each search parameter, as a database would index them. The `validate` feature
//! (which enables `fhirpath`) adds `validate`: the rules of the definitions, invariants included.

#![warn(missing_docs)]

mod boxed;
pub mod code;
#[cfg(feature = "fhirpath")]
pub mod fhirpath;
pub mod json;
mod primitive;
mod references;
mod resource;
#[doc(hidden)]
pub mod serde_bridge;
#[cfg(feature = "validate")]
pub mod validate;
pub mod xml;

pub use boxed::{Boxed, BoxedDrop};
pub use code::{Code, UnknownCode};
pub use primitive::{Date, DateTime, Decimal, Instant, InvalidValue, Primitive, Time};
pub use references::VisitReferences;
pub use resource::{
    FhirResource, FhirVersion, ResourceType, SearchComponent, SearchParamKind, SearchParameter,
};
#[doc(hidden)]
pub use serde;

/// Calls the macro `$m` once per FHIR version enabled in this crate, as
/// `$m!(path::to::Resource; path::to::Account, path::to::ActivityDefinition, ...)`: the
/// version's `Resource` enum, then every resource type of the version.
///
/// It lets a crate implement its own traits for each resource type one by one, where a
/// blanket impl over [`ResourceType`] would overlap with its impls for foreign types.
///
/// ```
/// macro_rules! count {
///     ($resource:ty; $($t:ty),*) => {
///         assert!([$(stringify!($t)),*].len() > 140);
///     };
/// }
/// fn main() {
///     fhir_model::for_each_version!(count);
/// }
/// ```
#[macro_export]
macro_rules! for_each_version {
    ($m:ident) => {
        $crate::__for_each_r4!($m);
        $crate::__for_each_r4b!($m);
        $crate::__for_each_r5!($m);
    };
}

#[cfg(not(feature = "r4"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_r4 {
    ($m:ident) => {};
}

#[cfg(not(feature = "r4b"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_r4b {
    ($m:ident) => {};
}

#[cfg(not(feature = "r5"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_r5 {
    ($m:ident) => {};
}

/// FHIR R4 (4.0.1).
#[cfg(feature = "r4")]
// The definitions' text is written for the FHIR site: its bare URLs stay plain text here.
#[allow(rustdoc::bare_urls)]
pub mod r4 {
    include!(concat!(env!("OUT_DIR"), "/r4.rs"));
}

/// FHIR R4B (4.3.0).
#[cfg(feature = "r4b")]
// The definitions' text is written for the FHIR site: its bare URLs stay plain text here.
#[allow(rustdoc::bare_urls)]
pub mod r4b {
    include!(concat!(env!("OUT_DIR"), "/r4b.rs"));
}

/// FHIR R5 (5.0.0).
#[cfg(feature = "r5")]
// The definitions' text is written for the FHIR site: its bare URLs stay plain text here.
#[allow(rustdoc::bare_urls)]
pub mod r5 {
    include!(concat!(env!("OUT_DIR"), "/r5.rs"));
}
