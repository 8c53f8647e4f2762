//! Attribute macros that turn plain async functions into FHIR providers for `fhir-rocket`.
//!
//! Each macro keeps the function as written and adds, under the same name, an item that
//! `fhir_rocket::providers![...]` lists: the glue that extracts the function's arguments from
//! the request, and the facts the CapabilityStatement needs.
//!
//! - `#[read]`: `id: String` (plus `version: Option<String>` to serve vread too), returns
//!   `Result<T, FhirError>` or `Result<Option<T>, FhirError>`.
//! - `#[search]`: every other parameter named like a search parameter of `T` (`address_city`
//!   is `address-city`; `#[param("name")]` names it explicitly) with a search type from
//!   `fhir_rocket::search` (`Option<..>` when optional); returns `Result<Vec<T>, FhirError>`
//!   (or `SearchResults<T>` with included resources). `#[search(include = ["Type:param"],
//!   revinclude = ["Type:param"])]` names the `_include` and `_revinclude` values it answers.
//! - Reads and searches may return [`Shared<T>`](../fhir_rocket/struct.Shared.html) in place
//!   of `T`, to serve resources held in memory without copying them.
//! - `#[create]`: `resource: T`, returns `Result<T, FhirError>` (the stored resource).
//! - `#[update]`: `id: String, resource: T`, returns `Result<T, FhirError>`.
//! - `#[delete(T)]`: `id: String`, returns `Result<(), FhirError>`.
//! - `#[history]`: `id: String` for instance level, none for type level (or system level when
//!   `T` is the version's `Resource` enum), optionally `HistoryParams`; returns
//!   `Result<Vec<HistoryEntry<T>>, FhirError>`.
//!
//! Any parameter typed `RequestContext` (or a reference to it) receives the request context;
//! any other parameter is a Rocket request guard (`&State<T>`, an authenticated user, ...).
//! Unknown search parameters and search types that do not fit the parameter's definition are
//! compile errors pointing at the parameter.

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
    let original = proc_macro2::TokenStream::from(item.clone());
    let function = match syn::parse::<syn::ItemFn>(item) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error().into(),
    };
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
/// takes `version: Option<String>`.
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

/// Declares a history provider: instance level with `id: String`, system level when it
/// returns versions of the version's `Resource` enum, type level otherwise. A
/// `HistoryParams` parameter receives `_since`, `_at` and `_count`.
#[proc_macro_attribute]
pub fn history(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::History, attr, item)
}

/// Declares a patch provider (`PATCH [type]/[id]` with a JSON Patch body): `id: String` and
/// `patch: Vec<PatchOp>`; `fhir_rocket::patch::apply_to` applies it to a resource.
#[proc_macro_attribute]
pub fn patch(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Patch, attr, item)
}

/// Declares an operation provider: `#[operation(name = "$everything", type = Patient,
/// idempotent)]`. With `id: String` it is invoked on one resource, with `type` on the type,
/// otherwise on the whole server. A parameter named `parameters` receives the body (usually a
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
