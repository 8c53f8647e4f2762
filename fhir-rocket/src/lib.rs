//! The FHIR server runtime on Rocket: providers written as plain async functions, routed by
//! resource type and interaction, with content negotiation, OperationOutcome errors,
//! searchset Bundles and a CapabilityStatement generated from what is mounted.
//!
//! Providers are described by the attribute macros of `fhir-macros` (`#[read]`, `#[search]`,
//! ...) and listed with [`providers!`]; [`FhirServer`] turns them into Rocket routes.

#![warn(missing_docs)]

mod address;
pub mod auth;
mod browser;
mod bundle;
mod capability;
pub mod checks;
mod config;
pub mod connection;
mod context;
mod dispatch;
mod error;
mod extract;
mod extras;
pub mod http;
mod include;
mod interactions;
mod interceptor;
pub mod patch;
mod provider;
mod registry;
pub mod route;
pub mod search;
mod server;
mod shared;
mod subset;
mod version_model;

pub use address::AddressStrategy;
pub use browser::BrowserView;
pub use config::{CapabilityHook, Limits, Software, TransactionHook};
pub use context::{RequestContext, TypeName};
pub use error::{FhirError, Issue};
pub use extract::{FromInput, LogicalId, ParamRole, ServedType, Taken, VersionId};
pub use extras::ResponseExtras;
pub use interceptor::{Interceptor, Narrowing, Resolved};
pub use provider::{
    guard, history_of, maybe_shared, shared, total_from_page, BundleProvider, Candidates,
    DeclaredParam, Found, Glue, Handler, HandlerFn, HistoryEntry, HistoryMethod, HistoryParams,
    Input, Interaction, OperationInfo, Paged, Provider, ProviderInfo, Scope, SearchResults,
};
pub use server::FhirServer;
pub use shared::{IntoShared, Shared};
pub use version_model::{BundleParts, EntryParts, EntryRequest, ServerModel};

pub use fhir_macros::{create, delete, history, operation, patch, read, search, update};
pub use fhir_model as model;
#[doc(hidden)]
pub use rocket;
