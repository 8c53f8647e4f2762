//! Attribute macros that turn plain async functions into FHIR providers for `fhir-rocket`.
//!
//! Each macro keeps the function as written and adds, under the same name, an item that
//! `fhir_rocket::providers![...]` lists: the glue that extracts the function's arguments from
//! the request, and the facts the CapabilityStatement needs.
//!
//! What each parameter receives comes from its type, through `fhir_rocket::FromInput` (as
//! Rocket's request guards and axum's extractors do), never from its name:
//!
//! - `LogicalId`: the id from the URL; `Option<VersionId>`: the version (a read that takes it
//!   serves vread too).
//! - a resource type (`Patient`, `Parameters`): the body; the version's `Resource` enum for
//!   generic providers.
//! - a search type of `fhir_rocket::search` (`StringParam`, `Option<TokenParam>`,
//!   `OrList<..>`, `AndList<..>`): the search parameter named like the Rust parameter
//!   (`address_city` is `address-city`; `#[param("name")]` names it explicitly).
//! - `ResultParams` (`_count`, `_sort`, `_include`, ...), `HistoryParams` (`_since`, `_at`,
//!   `_count`), `Vec<PatchOp>` (a JSON Patch), `TypeName` (the resource type of a generic
//!   provider's request), `RequestContext` or `&RequestContext`.
//! - a parameter marked `#[guard]`: a Rocket request guard (`&State<T>`, a user, ...).
//!
//! A parameter of another type, or one whose role its interaction has no use for, is a compile
//! error on its tokens; so are a missing id or body, unknown search parameters and search types
//! that do not fit the parameter's definition.
//!
//! - `#[read]`: returns `Result<T, FhirError>` or `Result<Option<T>, FhirError>`.
//! - `#[search]`: returns `Result<Vec<T>, FhirError>` (or `SearchResults<T>` with included
//!   resources). `#[search(include = ["Type:param"], revinclude = ["Type:param"], sort =
//!   ["param"])]` names the `_include` and `_revinclude` values it answers and the parameters
//!   it sorts by. A parameter's `#[modifiers("exact", ...)]` names the modifiers the function
//!   evaluates, `#[chains("name", "Patient.identifier")]` the chains it follows on a
//!   reference; the server refuses any other with a 400, as ignoring it would answer wrong
//!   data. Each is checked against the definitions at compile time.
//! - Reads and searches may return [`Shared<T>`](../fhir_rocket/struct.Shared.html) in place
//!   of `T`, to serve resources held in memory without copying them.
//! - `#[create]`, `#[update]`, `#[patch]`: return `Result<T, FhirError>` (the stored resource).
//! - `#[delete(T)]`: returns `Result<(), FhirError>`.
//! - `#[history]`: instance level with a `LogicalId`, type level without (system level when
//!   `T` is the version's `Resource` enum); returns `Result<Vec<HistoryEntry<T>>, FhirError>`.
//! - `#[operation(name = "$x", type = T, idempotent)]`: returns any resource.

mod attr;
mod emit;
mod signature;

use proc_macro::TokenStream;
use signature::Kind;

fn expand(kind: Kind, attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = proc_macro2::TokenStream::from(attr);
    // A delete provider names its resource type in the attribute (nothing else in its
    // signature does); an operation gives its name and options there.
    let mut declared = None;
    let mut operation = None;
    let mut search = attr::SearchAttr::default();
    match kind {
        _ if attr.is_empty() && kind != Kind::Operation => {}
        Kind::Delete => match syn::parse2::<syn::Type>(attr) {
            Ok(ty) => declared = Some(ty),
            Err(e) => return e.to_compile_error().into(),
        },
        Kind::Operation => match syn::parse2::<attr::OperationAttr>(attr) {
            Ok(op) => operation = Some(op),
            Err(e) => return e.to_compile_error().into(),
        },
        Kind::Search => match syn::parse2::<attr::SearchAttr>(attr) {
            Ok(a) => search = a,
            Err(e) => return e.to_compile_error().into(),
        },
        _ => {
            return syn::Error::new_spanned(attr, "this attribute takes no arguments")
                .to_compile_error()
                .into()
        }
    }
    let function = match syn::parse::<syn::ItemFn>(item) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error().into(),
    };
    let original = signature::without_param_attributes(function.clone());
    match signature::analyze(kind, function, declared, operation, search)
        .and_then(|p| emit::provider(&p))
    {
        Ok(tokens) => tokens.into(),
        // The function stays, so the error is the only one the user sees.
        Err(e) => {
            let error = e.to_compile_error();
            quote::quote!(#error #original).into()
        }
    }
}

/// Declares a read provider (`GET [type]/[id]`), and a vread provider when the function also
/// takes an `Option<VersionId>`.
#[proc_macro_attribute]
pub fn read(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Read, attr, item)
}

/// Declares a search provider (`GET [type]?...`).
#[proc_macro_attribute]
pub fn search(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Search, attr, item)
}

/// Declares a create provider (`POST [type]`).
#[proc_macro_attribute]
pub fn create(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Create, attr, item)
}

/// Declares an update provider (`PUT [type]/[id]`).
#[proc_macro_attribute]
pub fn update(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Update, attr, item)
}

/// Declares a history provider: instance level with a `LogicalId`, system level when it
/// returns versions of the version's `Resource` enum, type level otherwise. A
/// `HistoryParams` parameter receives `_since`, `_at` and `_count`.
#[proc_macro_attribute]
pub fn history(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::History, attr, item)
}

/// Declares a patch provider (`PATCH [type]/[id]` with a JSON Patch body): a `LogicalId` and
/// a `Vec<PatchOp>`; `fhir_rocket::patch::apply_to` applies it to a resource.
#[proc_macro_attribute]
pub fn patch(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Patch, attr, item)
}

/// Declares an operation provider: `#[operation(name = "$everything", type = Patient,
/// idempotent)]`. With a `LogicalId` it is invoked on one resource, with `type` on the type,
/// otherwise on the whole server. A parameter of a resource type receives the body (usually a
/// `Parameters` resource; for an idempotent operation called with GET, one `valueString`
/// parameter per query parameter). It returns `Result<T, FhirError>` for any resource `T`.
#[proc_macro_attribute]
pub fn operation(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Operation, attr, item)
}

/// Declares a delete provider (`DELETE [type]/[id]`).
#[proc_macro_attribute]
pub fn delete(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Delete, attr, item)
}
