//! The FHIR server runtime on Rocket: providers written as plain async functions, routed by
//! resource type and interaction, with content negotiation, OperationOutcome errors,
//! searchset Bundles and a CapabilityStatement generated from what is mounted.
//!
//! Providers are described by the attribute macros of `fhir-macros` (`#[read]`, `#[search]`,
//! ...) and listed with [`providers!`]; [`FhirServer`] turns them into Rocket routes.

#![warn(missing_docs)]

mod capability;
pub mod checks;
pub mod connection;
mod context;
mod error;
pub mod http;
mod include;
pub mod patch;
mod provider;
pub mod search;
mod server;
mod shared;

pub use context::RequestContext;
pub use error::FhirError;
pub use provider::{
    guard, DeclaredParam, HandlerFn, HistoryEntry, HistoryMethod, HistoryParams, Input,
    Interaction, OperationInfo, Output, Provider, ProviderInfo, SearchResults,
};
pub use server::{CapabilityHook, FhirServer, ServerModel, Software};
pub use shared::{IntoShared, Shared};

pub use fhir_macros::{create, delete, history, operation, patch, read, search, update};
pub use fhir_model as model;
#[doc(hidden)]
pub use rocket;
