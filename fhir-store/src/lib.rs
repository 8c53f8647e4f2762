//! Storage for the complete FHIR server (docs/storage.md): what a resource becomes in the
//! database's index tables, one row per value of each of its type's search parameters, so
//! that search is answered in SQL.
//!
//! This is the first step of the store: [`catalog::Catalog`] numbers a version's resource
//! types and search parameters as the tables key them, and [`rows::index_rows`] turns a
//! resource into its rows. Both are pure functions of their inputs, tested without a
//! database.
//!
//! ```
//! use fhir_store::catalog::Catalog;
//! use fhir_store::rows::index_rows;
//! use fhir_model::r4::Resource;
//!
//! let catalog = Catalog::of::<Resource>();
//! let patient = Resource::from_json(r#"{"resourceType":"Patient","id":"p1",
//!     "name":[{"family":"Chalmérs"}],"birthDate":"1974-12-25"}"#).unwrap();
//! let rows = index_rows(&patient, &catalog, None).unwrap();
//! let family = catalog.param("Patient", "family").unwrap();
//! let found: Vec<&str> = rows.strings.iter().filter(|s| s.key.sp_id == family.sp_id)
//!     .map(|s| s.normalized.as_str()).collect();
//! assert_eq!(found, ["chalmers"]);
//! ```

pub mod body;
pub mod catalog;
pub mod db;
pub mod hash;
pub mod pool;
pub mod postgres;
pub mod rows;
pub mod schema;
pub mod search;
pub mod serve;
pub mod server;
pub mod sqlite;
pub mod store;
