//! fhir-codegen: reads the official FHIR definition packages and generates the Rust model.
//!
//! The data flows in three steps:
//! 1. [`download`] fetches an npm-format FHIR package into the FHIR package cache;
//! 2. [`definitions`] prunes a package to the small `definitions/` folder committed in the repository;
//! 3. [`schema`] reads `definitions/` into a model of Rust types, and [`rust`] writes them as code
//!    (run by fhir-model's build script), with [`xml_table`] describing them for the XML format
//!    and [`validation_table`] giving the rules validation checks.

#![warn(missing_docs)]

pub mod definitions;
#[cfg(feature = "download")]
pub mod download;
pub mod rust;
pub mod schema;
pub mod validation_table;
pub mod xml_table;
