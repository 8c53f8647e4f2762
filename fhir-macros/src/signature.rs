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

    /// "a read provider", "an update provider": how messages name the provider.
    pub fn provider(self) -> String {
        let name = self.name();
        let article = if matches!(self, Kind::Update | Kind::Operation) {
            "an"
        } else {
            "a"
        };
        format!("{article} {name} provider")
    }
}

/// A parameter of the provider function.
pub struct Param {
    pub ty: Type,
    /// Its search parameter name: `#[param("name")]`, or the parameter's name with `_` as
    /// `-`. Used only when its type makes it a search parameter.
    pub name: String,
    /// Marked `#[guard]`: a Rocket request guard. Every other parameter's role comes from
    /// its type, through `fhir_rocket::FromInput`.
    pub guard: bool,
    /// `#[modifiers("exact", ...)]`: the modifiers a search parameter's provider evaluates.
    pub modifiers: Vec<syn::LitStr>,
    /// `#[chains("name", "Patient.identifier")]`: the chains a reference parameter's
    /// provider follows.
    pub chains: Vec<syn::LitStr>,
}

/// What the function returns inside `Result<_, FhirError>`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Returns {
    One,
    Maybe,
    Many,
    /// `SearchResults<T>`: matches plus included resources.
    Found,
    /// `Paged<T>`: a `BundleProvider` that loads one page at a time.
    Paged,
    /// `Vec<HistoryEntry<T>>`: versions.
    History,
    Nothing,
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

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        Type::Reference(r) => last_segment(&r.elem),
        Type::Group(g) => last_segment(&g.elem),
        Type::Paren(p) => last_segment(&p.elem),
        _ => None,
    }
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

/// The function without the attributes the macro reads on its parameters: what is emitted
/// beside the errors when the macro fails, so that the compiler does not report them too.
pub fn without_param_attributes(mut function: ItemFn) -> ItemFn {
    for arg in function.sig.inputs.iter_mut() {
        if let FnArg::Typed(arg) = arg {
            arg.attrs.retain(|a| {
                !["param", "guard", "modifiers", "chains"]
                    .iter()
                    .any(|name| a.path().is_ident(name))
            });
        }
    }
    function
}

/// The attributes the macro reads on a parameter.
#[derive(Default)]
struct ParamAttrs {
    name: Option<String>,
    guard: Option<syn::Attribute>,
    /// `#[modifiers(...)]` and `#[chains(...)]`, with the attribute for error spans.
    modifiers: Option<(syn::Attribute, Vec<syn::LitStr>)>,
    chains: Option<(syn::Attribute, Vec<syn::LitStr>)>,
}

/// The string literals of `#[name("a", "b")]`.
fn string_list(attr: &syn::Attribute) -> syn::Result<Vec<syn::LitStr>> {
    let message = || {
        let name = attr
            .path()
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        syn::Error::new_spanned(attr, format!("write #[{name}(\"a\", \"b\")]"))
    };
    let list = attr
        .parse_args_with(
            syn::punctuated::Punctuated::<syn::LitStr, syn::Token![,]>::parse_terminated,
        )
        .map_err(|_| message())?;
    if list.is_empty() {
        return Err(message());
    }
    Ok(list.into_iter().collect())
}

/// Takes `#[param("name")]` and `#[guard]` off a parameter.
fn take_param_attributes(attrs: &mut Vec<syn::Attribute>) -> syn::Result<ParamAttrs> {
    let mut found = ParamAttrs::default();
    let mut kept = Vec::new();
    for attr in attrs.drain(..) {
        if attr.path().is_ident("param") {
            let lit: syn::LitStr = attr.parse_args().map_err(|_| {
                syn::Error::new_spanned(
                    &attr,
                    "write the search parameter's name as #[param(\"name\")]",
                )
            })?;
            found.name = Some(lit.value());
        } else if attr.path().is_ident("modifiers") {
            let list = string_list(&attr)?;
            found.modifiers = Some((attr, list));
        } else if attr.path().is_ident("chains") {
            let list = string_list(&attr)?;
            found.chains = Some((attr, list));
        } else if attr.path().is_ident("guard") {
            if !matches!(attr.meta, syn::Meta::Path(_)) {
                return Err(syn::Error::new_spanned(
                    &attr,
                    "#[guard] takes no arguments",
                ));
            }
            found.guard = Some(attr);
        } else {
            kept.push(attr);
        }
    }
    *attrs = kept;
    Ok(found)
}

fn returns(kind: Kind, output: &ReturnType) -> syn::Result<(Returns, Option<Type>)> {
    let expected = match kind {
        Kind::Read => "Result<T, FhirError> or Result<Option<T>, FhirError>",
        Kind::Search => {
            "Result<Vec<T>, FhirError>, Result<SearchResults<T>, FhirError> or Result<Paged<T>, FhirError>"
        }
        Kind::Create | Kind::Update | Kind::Patch | Kind::Operation => "Result<T, FhirError>",
        Kind::Delete => "Result<(), FhirError>",
        Kind::History => "Result<Vec<HistoryEntry<T>>, FhirError>",
    };
    let message = || format!("{} returns {expected}", kind.provider());
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
    } else if let Some(t) = generic_arg(ok, "Paged") {
        (Returns::Paged, Some(t.clone()))
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
        Kind::Search => matches!(shape, Returns::Many | Returns::Found | Returns::Paged),
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
            format!("{} must be an `async fn`", kind.provider()),
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
    for arg in function.sig.inputs.iter_mut() {
        let FnArg::Typed(arg) = arg else {
            errors.push(syn::Error::new_spanned(
                arg,
                "a provider is a free function, not a method",
            ));
            continue;
        };
        let attrs = match take_param_attributes(&mut arg.attrs) {
            Ok(attrs) => attrs,
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
        if let Some(guard) = &attrs.guard {
            if attrs.name.is_some() || attrs.modifiers.is_some() || attrs.chains.is_some() {
                errors.push(syn::Error::new_spanned(
                    guard,
                    "a request guard is not a search parameter: #[guard] excludes #[param], #[modifiers] and #[chains]",
                ));
            }
        }
        for (attr, _) in attrs.modifiers.iter().chain(&attrs.chains) {
            if kind != Kind::Search {
                errors.push(syn::Error::new_spanned(
                    attr,
                    "modifiers and chains belong to the parameters of #[search] providers",
                ));
            }
        }
        params.push(Param {
            ty: (*arg.ty).clone(),
            name: attrs
                .name
                .unwrap_or_else(|| param_name(&pat.ident.to_string())),
            guard: attrs.guard.is_some(),
            modifiers: attrs.modifiers.map(|(_, list)| list).unwrap_or_default(),
            chains: attrs.chains.map(|(_, list)| list).unwrap_or_default(),
        });
    }
    let resource = match (returned, declared) {
        (Some(t), _) | (None, Some(t)) => Some(t),
        (None, None) => {
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
