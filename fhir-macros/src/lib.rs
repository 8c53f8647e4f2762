//! Attribute macros for FHIR providers (`#[read]`, `#[search]`, ...).
//!
//! The macros arrive with the server kit; this crate holds their place in the workspace.
