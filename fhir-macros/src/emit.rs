//! Writes the code for a provider: the function as written, the item `providers![]` names,
//! its glue, and the compile-time checks of its search parameters.

use crate::signature::{Kind, ProviderFn, Returns, Role};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

/// The constant-evaluation check of one search parameter, spanned on the parameter so the
/// error points at it.
fn param_check(resource: &syn::Type, name: &str, ty: &syn::Type) -> TokenStream {
    let type_text = quote!(#resource).to_string().replace(' ', "");
    let unknown = format!("`{name}` is not a search parameter of {type_text} in its FHIR version");
    let wrong = |kind: &str, rust: &str| {
        format!("search parameter `{name}` is a {kind} parameter: take it as {rust} (or an Option, OrList or AndList of it)")
    };
    let arms = [
        ("Number", "number", "NumberParam"),
        ("Date", "date", "DateParam or DateRange"),
        ("String", "string", "StringParam"),
        ("Token", "token", "TokenParam"),
        ("Reference", "reference", "ReferenceParam"),
        ("Composite", "composite", "CompositeParam"),
        ("Quantity", "quantity", "QuantityParam"),
        ("Uri", "uri", "UriParam"),
        ("Special", "special", "its special type"),
    ]
    .iter()
    .map(|(variant, kind, rust)| {
        let variant = format_ident!("{variant}");
        let message = wrong(kind, rust);
        quote_spanned!(ty.span()=> ::fhir_rocket::checks::ParamCheck::WrongType(::fhir_rocket::model::SearchParamKind::#variant) => ::core::panic!(#message),)
    });
    quote_spanned! {ty.span()=>
        const _: () = match ::fhir_rocket::checks::search_param::<#resource>(
            #name,
            <#ty as ::fhir_rocket::checks::ParamKindOf>::KIND,
        ) {
            ::fhir_rocket::checks::ParamCheck::Ok => (),
            ::fhir_rocket::checks::ParamCheck::Unknown => ::core::panic!(#unknown),
            #(#arms)*
        };
    }
}

/// The constant-evaluation check of an `_include` of the provider's own type: its parameter
/// must be one of the type's reference parameters. Spanned on the include's string.
fn include_check(resource: &syn::Type, param: &str, value: &syn::LitStr) -> TokenStream {
    let type_text = quote!(#resource).to_string().replace(' ', "");
    let unknown = format!("`{param}` is not a search parameter of {type_text} in its FHIR version");
    let wrong = format!(
        "`{param}` is not a reference parameter of {type_text}: only references can be included"
    );
    quote_spanned! {value.span()=>
        const _: () = match ::fhir_rocket::checks::search_param::<#resource>(
            #param,
            ::fhir_rocket::model::SearchParamKind::Reference,
        ) {
            ::fhir_rocket::checks::ParamCheck::Ok => (),
            ::fhir_rocket::checks::ParamCheck::Unknown => ::core::panic!(#unknown),
            ::fhir_rocket::checks::ParamCheck::WrongType(_) => ::core::panic!(#wrong),
        };
    }
}

/// Gives every elided lifetime of a guard's type the request's lifetime `'r`
/// (`&State<T>` becomes `&'r State<T>`), as the glue's future lives as long as the request.
fn with_request_lifetime(ty: &syn::Type) -> syn::Type {
    struct Lifetimes;
    impl syn::visit_mut::VisitMut for Lifetimes {
        fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
            if r.lifetime.is_none() {
                r.lifetime = Some(syn::Lifetime::new("'r", r.and_token.span));
            }
            syn::visit_mut::visit_type_reference_mut(self, r);
        }
        fn visit_lifetime_mut(&mut self, l: &mut syn::Lifetime) {
            if l.ident == "_" {
                *l = syn::Lifetime::new("'r", l.span());
            }
        }
    }
    let mut ty = ty.clone();
    syn::visit_mut::VisitMut::visit_type_mut(&mut Lifetimes, &mut ty);
    ty
}

pub fn provider(p: &ProviderFn) -> syn::Result<TokenStream> {
    let function = &p.function;
    let vis = &function.vis;
    let name = &function.sig.ident;
    let name_text = name.to_string();
    let resource = &p.resource;
    let has_type_name = p.params.iter().any(|p| matches!(p.role, Role::TypeName));
    // A provider of the version's `Resource` enum: system history without a `TypeName`,
    // otherwise a generic provider serving every type.
    let any = crate::signature::is_any_resource(resource);
    let system = any && p.kind == Kind::History && !has_type_name;
    let generic = any && !system && p.kind != Kind::Operation;
    if generic && !has_type_name {
        return Err(syn::Error::new_spanned(
            &function.sig.ident,
            "a generic provider (of the version's `Resource` enum) takes a `TypeName` parameter: the resource type of the request",
        ));
    }
    if generic && p.kind == Kind::Search {
        return Err(syn::Error::new_spanned(
            resource,
            "searches are declared per resource type: their parameters depend on it",
        ));
    }
    let model = if any {
        quote!(#resource)
    } else {
        quote!(<#resource as ::fhir_rocket::model::ResourceType>::Resource)
    };
    let scope = if system {
        quote!(::fhir_rocket::Scope::System)
    } else if generic {
        quote!(::fhir_rocket::Scope::AnyType)
    } else {
        quote!(::fhir_rocket::Scope::Type(<#resource as ::fhir_rocket::model::ResourceType>::TYPE_NAME))
    };
    let has_id = p.params.iter().any(|p| matches!(p.role, Role::Id));
    let wants_context = p
        .params
        .iter()
        .any(|p| matches!(p.role, Role::Context { .. }));
    let (scope, operation) = match &p.operation {
        None => (scope, quote!(::std::option::Option::None)),
        Some(op) => {
            if has_id && op.resource.is_none() {
                return Err(syn::Error::new_spanned(
                    &op.name,
                    "an instance-level operation names its resource type: type = Patient",
                ));
            }
            let name = &op.name;
            let idempotent = op.idempotent;
            let definition = op
                .definition
                .as_ref()
                .map(|d| d.value())
                .unwrap_or_default();
            let scope = match &op.resource {
                Some(t) => {
                    quote!(::fhir_rocket::Scope::Type(<#t as ::fhir_rocket::model::ResourceType>::TYPE_NAME))
                }
                None => quote!(::fhir_rocket::Scope::System),
            };
            (
                scope,
                quote!(::std::option::Option::Some(::fhir_rocket::OperationInfo {
                    name: #name,
                    idempotent: #idempotent,
                    instance: #has_id,
                    definition: #definition,
                })),
            )
        }
    };

    let mut lets = Vec::new();
    let mut args = Vec::new();
    let mut checks = Vec::new();
    let mut declared = Vec::new();
    let mut has_version = false;
    // The body is taken first: the other arguments may borrow the input.
    for (i, param) in p.params.iter().enumerate() {
        if matches!(param.role, Role::Parameters) {
            let ty = &param.ty;
            let arg = format_ident!("__arg{i}");
            lets.push(quote!(let #arg = __input.body_as::<#ty>()?;));
        }
        if matches!(param.role, Role::Body) {
            let ty = &param.ty;
            let arg = format_ident!("__arg{i}");
            if generic {
                lets.push(quote!(let #arg: #ty = __input.take_body()?;));
            } else {
                lets.push(quote!(let #arg = __input.body_as::<#ty>()?;));
                checks.push(quote_spanned! {ty.span()=>
                    const _: () = ::fhir_rocket::checks::same_resource::<#ty, #resource>();
                });
            }
        }
    }
    for (i, param) in p.params.iter().enumerate() {
        let arg = format_ident!("__arg{i}");
        let ty = &param.ty;
        match &param.role {
            Role::Body | Role::Parameters => {}
            Role::Id => lets.push(quote!(let #arg = __input.id()?;)),
            Role::Version => {
                has_version = true;
                lets.push(quote!(let #arg = __input.version_id.clone();));
            }
            Role::ResultParams => lets.push(quote!(let #arg = __input.result.clone();)),
            Role::TypeName => lets.push(quote!(let #arg = __input.type_name();)),
            Role::HistoryParams => lets.push(quote!(let #arg = __input.history.clone();)),
            Role::Patch => lets.push(quote!(let #arg = ::std::mem::take(&mut __input.patch);)),
            Role::Context { by_ref: true } => lets.push(quote!(let #arg = &__input.context;)),
            Role::Context { by_ref: false } => {
                lets.push(quote!(let #arg = __input.context.clone();))
            }
            Role::SearchParam { name, required } => {
                lets.push(quote! {
                    let #arg = __input.query.extract::<#ty>(#name)
                        .map_err(|e| ::fhir_rocket::FhirError::bad_request(e.to_string()))?;
                });
                checks.push(param_check(resource, name, ty));
                declared
                    .push(quote!(::fhir_rocket::DeclaredParam::of::<#resource>(#name, #required)));
            }
            Role::Guard => {
                let ty = with_request_lifetime(ty);
                lets.push(quote! {
                    let #arg = ::fhir_rocket::guard(
                        <#ty as ::fhir_rocket::rocket::request::FromRequest<'r>>::from_request(__req).await,
                    )?;
                })
            }
        }
        args.push(arg);
    }
    let includes: Vec<String> = p.search.include.iter().map(|l| l.value()).collect();
    let revincludes: Vec<String> = p.search.revinclude.iter().map(|l| l.value()).collect();
    // An include from the provider's own type names one of its reference parameters.
    let own_type = quote!(#resource).to_string();
    for value in &p.search.include {
        let text = value.value();
        let mut parts = text.split(':');
        if let (Some(source), Some(param)) = (parts.next(), parts.next()) {
            if own_type.rsplit(' ').next() == Some(source) && param != "*" {
                checks.push(include_check(resource, param, value));
            }
        }
    }
    let includes = quote!(&[#(#includes),*]);
    let revincludes = quote!(&[#(#revincludes),*]);
    // One typed handler per interaction: the glue converts what the function returned into
    // the shape its interaction has.
    let (variant, output, convert) = match p.kind {
        Kind::Read => (
            quote!(Read),
            quote!(::std::option::Option<::std::sync::Arc<#model>>),
            match (p.returns, generic) {
                (Returns::Maybe, false) => quote!(::fhir_rocket::maybe_shared(__result)),
                (_, false) => quote!(::std::option::Option::Some(::fhir_rocket::shared(__result))),
                (Returns::Maybe, true) => {
                    quote!(__result.map(::fhir_rocket::IntoArc::into_arc))
                }
                (_, true) => quote!(::std::option::Option::Some(
                    ::fhir_rocket::IntoArc::into_arc(__result)
                )),
            },
        ),
        Kind::Search => (
            quote!(Search),
            quote!(::fhir_rocket::Found<#model>),
            match p.returns {
                Returns::Found => quote!(::fhir_rocket::Found::from_results(__result)),
                _ => quote!(::fhir_rocket::Found::matches(__result)),
            },
        ),
        Kind::Create | Kind::Update | Kind::Patch => (
            quote!(Write),
            quote!(::std::sync::Arc<#model>),
            if generic {
                quote!(::fhir_rocket::IntoArc::into_arc(__result))
            } else {
                quote!(::fhir_rocket::shared(__result))
            },
        ),
        Kind::Operation => (
            quote!(Operation),
            quote!(::std::sync::Arc<#model>),
            quote!(::fhir_rocket::shared(__result)),
        ),
        Kind::Delete => (quote!(Delete), quote!(()), quote!(__result)),
        Kind::History => (
            quote!(History),
            quote!(::std::vec::Vec<::fhir_rocket::HistoryEntry<#model>>),
            quote!(::fhir_rocket::history_of(__result)),
        ),
    };
    let interactions = match p.kind {
        Kind::Read if has_version => quote!(Read, VRead),
        Kind::Read => quote!(Read),
        Kind::Search => quote!(Search),
        Kind::Create => quote!(Create),
        Kind::Update => quote!(Update),
        Kind::Delete => quote!(Delete),
        Kind::Patch => quote!(Patch),
        Kind::Operation => quote!(Operation),
        Kind::History if has_id => quote!(HistoryInstance),
        Kind::History if system => quote!(HistorySystem),
        Kind::History => quote!(HistoryType),
    };
    let interactions: Vec<TokenStream> = interactions
        .into_iter()
        .filter(|t| !matches!(t, proc_macro2::TokenTree::Punct(_)))
        .map(|t| quote!(::fhir_rocket::Interaction::#t))
        .collect();
    let doc = format!(
        "The FHIR {} provider `{name_text}`, for `fhir_rocket::providers![]`.",
        p.kind.name()
    );

    Ok(quote! {
        #function

        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #vis struct #name {}

        #(#checks)*

        impl ::fhir_rocket::ProviderInfo for #name {
            type Resource = #model;

            fn providers() -> ::std::vec::Vec<::fhir_rocket::Provider<Self::Resource>> {
                #[allow(unused_mut, unused_variables)]
                fn handler<'r>(
                    __req: &'r ::fhir_rocket::rocket::Request<'_>,
                    mut __input: ::fhir_rocket::Input<#model>,
                ) -> ::fhir_rocket::Glue<'r, #output> {
                    ::std::boxed::Box::pin(async move {
                        #(#lets)*
                        let __result = #name(#(#args),*).await?;
                        ::std::result::Result::Ok(#convert)
                    })
                }
                let params = ::std::vec![#(#declared),*];
                ::std::vec![#(
                    ::fhir_rocket::Provider {
                        interaction: #interactions,
                        scope: #scope,
                        params: params.clone(),
                        name: #name_text,
                        operation: #operation,
                        wants_context: #wants_context,
                        includes: #includes,
                        revincludes: #revincludes,
                        handler: ::fhir_rocket::Handler::#variant(handler),
                    }
                ),*]
            }
        }
    })
}
