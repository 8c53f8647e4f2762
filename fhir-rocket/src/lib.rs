//! The FHIR server runtime on Rocket: content negotiation, errors, paging and the
//! capability statement.
//!
//! The runtime arrives with the server kit; today this crate re-exports the model it serves.

pub use fhir_model as model;
