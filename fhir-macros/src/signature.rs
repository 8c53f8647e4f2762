//! Reads a provider function's signature: what each parameter is for, and what it returns.

use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, ItemFn, Pat, PathArguments, ReturnType, Type};

/// The interaction an attribute declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Read,
    Search,
    Create,
    Update,
    Delete,
    History,
    Patch,
    Operation,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Read => "read",
            Kind::Search => "search",
            Kind::Create => "create",
            Kind::Update => "update",
            Kind::Delete => "delete",
            Kind::History => "history",
            Kind::Patch => "patch",
            Kind::Operation => "operation",
        }
    }
}

/// What a parameter receives.
pub enum Role {
    /// The logical id from the URL.
    Id,
    /// The version id from the URL (vread).
    Version,
    /// The request context, by value or by reference.
    Context { by_ref: bool },
    /// The resource in the body.
    Body,
    /// A search parameter with its URL name.
    SearchParam { name: String, required: bool },
    /// The search result parameters (`_count`, `_sort`, `_include`, ...).
    ResultParams,
    /// The history parameters (`_since`, `_at`, `_count`).
    HistoryParams,
    /// The operations of a JSON Patch.
    Patch,
    /// The input of an operation (any resource, usually `Parameters`).
    Parameters,
    /// The resource type of the request (generic providers).
    TypeName,
    /// A Rocket request guard.
    Guard,
}

pub struct Param {
    pub ty: Type,
    pub role: Role,
}

/// What the function returns inside `Result<_, FhirError>`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    One,
    Maybe,
    Many,
    /// `SearchResults<T>`: matches plus included resources.
    Found,
    /// `Vec<HistoryEntry<T>>`: versions.
    History,
    Nothing,
}

/// Whether `ty` is a version's `Resource` enum rather than one resource type.
pub fn is_any_resource(ty: &Type) -> bool {
    type_name(ty) == "Resource"
}

pub struct ProviderFn {
    pub kind: Kind,
    pub function: ItemFn,
    pub params: Vec<Param>,
    /// The resource type the provider serves.
    pub resource: Type,
    pub returns: Returns,
    /// For operations: the attribute's arguments.
    pub operation: Option<crate::attr::OperationAttr>,
    /// For searches: the includes it answers.
    pub search: crate::attr::SearchAttr,
}

const SEARCH_TYPES: &[&str] = &[
    "StringParam",
    "TokenParam",
    "DateParam",
    "DateRange",
    "NumberParam",
    "QuantityParam",
    "UriParam",
    "ReferenceParam",
    "CompositeParam",
    "HasParam",
    "IdParam",
    "OrList",
    "AndList",
];

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        Type::Reference(r) => last_segment(&r.elem),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
}

fn type_name(ty: &Type) -> String {
    last_segment(ty)
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

/// The single generic argument of `Name<T>`, when `ty` is that.
fn generic_arg<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let segment = last_segment(ty)?;
    if segment.ident != name {
        return None;
    }
    match &segment.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

fn is_search_type(ty: &Type) -> bool {
    let inner = generic_arg(ty, "Option").unwrap_or(ty);
    SEARCH_TYPES.contains(&type_name(inner).as_str())
}

fn is_unit(ty: &Type) -> bool {
    matches!(ty, Type::Tuple(t) if t.elems.is_empty())
}

/// `address_city` -> `address-city`; `_id` stays `_id`.
fn param_name(ident: &str) -> String {
    let trimmed = ident.trim_start_matches("r#");
    let leading = trimmed.len() - trimmed.trim_start_matches('_').len();
    format!(
        "{}{}",
        &trimmed[..leading],
        trimmed[leading..].replace('_', "-")
    )
}

/// Takes `#[param("name")]` off a parameter, returning the name.
fn take_param_attribute(attrs: &mut Vec<syn::Attribute>) -> syn::Result<Option<String>> {
    let mut name = None;
    let mut kept = Vec::new();
    for attr in attrs.drain(..) {
        if attr.path().is_ident("param") {
            let lit: syn::LitStr = attr.parse_args().map_err(|_| {
                syn::Error::new_spanned(
                    &attr,
                    "write the search parameter's name as #[param(\"name\")]",
                )
            })?;
            name = Some(lit.value());
        } else {
            kept.push(attr);
        }
    }
    *attrs = kept;
    Ok(name)
}

fn returns(kind: Kind, output: &ReturnType) -> syn::Result<(Returns, Option<Type>)> {
    let expected = match kind {
        Kind::Read => "Result<T, FhirError> or Result<Option<T>, FhirError>",
        Kind::Search => "Result<Vec<T>, FhirError> or Result<SearchResults<T>, FhirError>",
        Kind::Create | Kind::Update | Kind::Patch | Kind::Operation => "Result<T, FhirError>",
        Kind::Delete => "Result<(), FhirError>",
        Kind::History => "Result<Vec<HistoryEntry<T>>, FhirError>",
    };
    let message = || format!("a {} provider returns {expected}", kind.name());
    let ReturnType::Type(_, ty) = output else {
        return Err(syn::Error::new(output.span(), message()));
    };
    let ok = generic_arg(ty, "Result").ok_or_else(|| syn::Error::new_spanned(ty, message()))?;
    let (shape, resource) = if is_unit(ok) {
        (Returns::Nothing, None)
    } else if let Some(t) = generic_arg(ok, "Option") {
        (Returns::Maybe, Some(t.clone()))
    } else if let Some(t) = generic_arg(ok, "Vec").and_then(|t| generic_arg(t, "HistoryEntry")) {
        (Returns::History, Some(t.clone()))
    } else if let Some(t) = generic_arg(ok, "Vec") {
        (Returns::Many, Some(t.clone()))
    } else if let Some(t) = generic_arg(ok, "SearchResults") {
        (Returns::Found, Some(t.clone()))
    } else {
        (Returns::One, Some(ok.clone()))
    };
    // `Shared<T>` serves a `T` without copying it.
    // `Arc<Resource>` does so for a generic provider.
    let resource = resource.map(|t| {
        generic_arg(&t, "Shared")
            .or_else(|| generic_arg(&t, "Arc"))
            .cloned()
            .unwrap_or(t)
    });
    let fits = match kind {
        Kind::Read => matches!(shape, Returns::One | Returns::Maybe),
        Kind::Search => matches!(shape, Returns::Many | Returns::Found),
        Kind::Create | Kind::Update | Kind::Patch => shape == Returns::One,
        Kind::Operation => shape == Returns::One,
        Kind::Delete => shape == Returns::Nothing,
        Kind::History => shape == Returns::History,
    };
    if !fits {
        return Err(syn::Error::new_spanned(ok, message()));
    }
    Ok((shape, resource))
}

/// Reads the signature; errors point at the offending tokens, and every error of the
/// function is reported, not only the first.
pub fn analyze(
    kind: Kind,
    mut function: ItemFn,
    declared: Option<Type>,
    operation: Option<crate::attr::OperationAttr>,
    search: crate::attr::SearchAttr,
) -> syn::Result<ProviderFn> {
    let mut errors: Vec<syn::Error> = Vec::new();
    if function.sig.asyncness.is_none() {
        errors.push(syn::Error::new_spanned(
            function.sig.fn_token,
            format!("a {} provider must be an `async fn`", kind.name()),
        ));
    }
    let (shape, returned) = match returns(kind, &function.sig.output) {
        Ok(found) => found,
        Err(e) => {
            errors.push(e);
            (Returns::Nothing, None)
        }
    };
    let mut params = Vec::new();
    let mut body_type = None;
    for arg in function.sig.inputs.iter_mut() {
        let FnArg::Typed(arg) = arg else {
            errors.push(syn::Error::new_spanned(
                arg,
                "a provider is a free function, not a method",
            ));
            continue;
        };
        let explicit = match take_param_attribute(&mut arg.attrs) {
            Ok(name) => name,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let Pat::Ident(pat) = &*arg.pat else {
            errors.push(syn::Error::new_spanned(
                &arg.pat,
                "provider parameters must be plain names",
            ));
            continue;
        };
        let ident = pat.ident.to_string();
        let ty = (*arg.ty).clone();
        let role = if explicit.is_some() || (kind == Kind::Search && is_search_type(&ty)) {
            if kind != Kind::Search {
                errors.push(syn::Error::new_spanned(
                    &arg.ty,
                    "search parameters belong to #[search] providers",
                ));
                continue;
            }
            Role::SearchParam {
                name: explicit.unwrap_or_else(|| param_name(&ident)),
                required: generic_arg(&ty, "Option").is_none(),
            }
        } else if type_name(&ty) == "ResultParams" && kind == Kind::Search {
            Role::ResultParams
        } else if ident == "parameters" && kind == Kind::Operation {
            Role::Parameters
        } else if ident == "patch" && kind == Kind::Patch {
            Role::Patch
        } else if type_name(&ty) == "HistoryParams" && kind == Kind::History {
            Role::HistoryParams
        } else if type_name(&ty) == "TypeName" {
            Role::TypeName
        } else if type_name(&ty) == "RequestContext" {
            Role::Context {
                by_ref: matches!(ty, Type::Reference(_)),
            }
        } else if ident == "id"
            && matches!(
                kind,
                Kind::Read
                    | Kind::Update
                    | Kind::Delete
                    | Kind::History
                    | Kind::Patch
                    | Kind::Operation
            )
        {
            if type_name(&ty) != "String" {
                errors.push(syn::Error::new_spanned(
                    &arg.ty,
                    "the id parameter is a `String`",
                ));
            }
            Role::Id
        } else if ident == "version" && kind == Kind::Read {
            if generic_arg(&ty, "Option").map(type_name).as_deref() != Some("String") {
                errors.push(syn::Error::new_spanned(
                    &arg.ty,
                    "the version parameter is an `Option<String>` (None for a read, the version for a vread)",
                ));
            }
            Role::Version
        } else if ident == "resource" && matches!(kind, Kind::Create | Kind::Update) {
            body_type = Some(ty.clone());
            Role::Body
        } else {
            Role::Guard
        };
        params.push(Param { ty, role });
    }
    let has = |f: fn(&Role) -> bool| params.iter().any(|p| f(&p.role));
    if matches!(kind, Kind::Read | Kind::Update | Kind::Delete | Kind::Patch)
        && !has(|r| matches!(r, Role::Id))
    {
        errors.push(syn::Error::new_spanned(
            &function.sig.ident,
            format!("a {} provider needs an `id: String` parameter", kind.name()),
        ));
    }
    if matches!(kind, Kind::Create | Kind::Update) && body_type.is_none() {
        errors.push(syn::Error::new_spanned(
            &function.sig.ident,
            format!(
                "a {} provider needs a `resource` parameter: the resource in the request body",
                kind.name()
            ),
        ));
    }
    let resource = match (returned, body_type, declared) {
        (Some(t), _, _) | (None, Some(t), _) | (None, None, Some(t)) => Some(t),
        (None, None, None) => {
            if kind == Kind::Delete {
                errors.push(syn::Error::new_spanned(
                    &function.sig.ident,
                    "a delete provider names its resource type: #[delete(Patient)]",
                ));
            }
            None
        }
    };
    let mut errors = errors.into_iter();
    if let Some(mut first) = errors.next() {
        for e in errors {
            first.combine(e);
        }
        return Err(first);
    }
    let Some(resource) = resource else {
        return Err(syn::Error::new_spanned(
            &function.sig.ident,
            "the provider's resource type is not known",
        ));
    };
    Ok(ProviderFn {
        kind,
        function,
        params,
        resource,
        returns: shape,
        operation,
        search,
    })
}
