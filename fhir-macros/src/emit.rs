//! Writes the code for a provider: the function as written, the item `providers![]` names,
//! its glue, and the compile-time checks of its search parameters.

use crate::signature::{Kind, ProviderFn, Returns};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

/// The constant-evaluation check of one search parameter, spanned on the parameter so the
/// error points at it.
fn param_check(
    resource: &syn::Type,
    name: &str,
    role: &TokenStream,
    ty: &syn::Type,
) -> TokenStream {
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
        const _: () = if let ::fhir_rocket::ParamRole::Search { kind, .. } = #role {
            match ::fhir_rocket::checks::search_param::<#resource>(#name, kind) {
                ::fhir_rocket::checks::ParamCheck::Ok => (),
                ::fhir_rocket::checks::ParamCheck::Unknown => ::core::panic!(#unknown),
                #(#arms)*
            }
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

/// Gives every elided lifetime of a type the lifetime `lifetime`: a guard's `&State<T>` becomes
/// `&'r State<T>` (the glue's future lives as long as the request), and the constant checks
/// name `&'static RequestContext`.
fn with_lifetime(ty: &syn::Type, lifetime: &str) -> syn::Type {
    struct Lifetimes<'a>(&'a str);
    impl syn::visit_mut::VisitMut for Lifetimes<'_> {
        fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
            if r.lifetime.is_none() {
                r.lifetime = Some(syn::Lifetime::new(self.0, r.and_token.span));
            }
            syn::visit_mut::visit_type_reference_mut(self, r);
        }
        fn visit_lifetime_mut(&mut self, l: &mut syn::Lifetime) {
            if l.ident == "_" {
                *l = syn::Lifetime::new(self.0, l.span());
            }
        }
    }
    let mut ty = ty.clone();
    syn::visit_mut::VisitMut::visit_type_mut(&mut Lifetimes(lifetime), &mut ty);
    ty
}

/// The constant check that a parameter's role belongs in this kind of provider, spanned on
/// its type.
fn role_check(kind: Kind, role: &TokenStream, ty: &syn::Type) -> TokenStream {
    let k = kind_tokens(kind);
    let provider = kind.provider();
    let messages = [
        (0u8, format!("{provider} takes no logical id")),
        (
            1,
            "only a read provider takes a version (it then serves vread)".to_string(),
        ),
        (3, format!("{provider} takes no resource body")),
        (
            4,
            "search parameters belong to #[search] providers".to_string(),
        ),
        (
            5,
            "result parameters belong to #[search] providers".to_string(),
        ),
        (
            6,
            "history parameters belong to #[history] providers".to_string(),
        ),
        (7, "a JSON Patch belongs to #[patch] providers".to_string()),
    ];
    let arms = messages
        .iter()
        .map(|(tag, message)| quote_spanned!(ty.span()=> #tag => ::core::panic!(#message),));
    quote_spanned! {ty.span()=>
        const _: () = if !::fhir_rocket::checks::role_fits(::fhir_rocket::checks::ProviderKind::#k, #role) {
            match #role.tag() {
                #(#arms)*
                _ => (),
            }
        };
    }
}

/// The constant check that FHIR defines a declared modifier for the parameter's type, spanned
/// on the modifier.
fn modifier_check(role: &TokenStream, modifier: &syn::LitStr) -> TokenStream {
    let text = modifier.value();
    let unknown = format!(
        "FHIR defines no modifier `:{text}` for this parameter's type (see fhir_rocket::checks::MODIFIERS)"
    );
    quote_spanned! {modifier.span()=>
        const _: () = match ::fhir_rocket::checks::modifier(#role, #modifier) {
            ::fhir_rocket::checks::ModifierCheck::Ok => (),
            ::fhir_rocket::checks::ModifierCheck::NotSearch => {
                ::core::panic!("modifiers belong to search parameters")
            }
            ::fhir_rocket::checks::ModifierCheck::Unknown => ::core::panic!(#unknown),
        };
    }
}

/// The constant check of a declared chain against the definitions: the reference may point
/// to a type that has the chained parameter. Spanned on the chain.
fn chain_check(
    resource: &syn::Type,
    param: &str,
    role: &TokenStream,
    chain: &syn::LitStr,
) -> TokenStream {
    let text = chain.value();
    let not_reference =
        format!("`{param}` is not a reference parameter: only references are chained");
    let too_deep = format!("`{text}`: a chain here has one link, `param` or `Type.param`");
    let not_target = format!("`{text}`: `{param}` does not point to that type");
    let unknown = format!("`{text}`: no type `{param}` points to has that search parameter");
    quote_spanned! {chain.span()=>
        const _: () = match ::fhir_rocket::checks::chain::<#resource>(#param, #role, #chain) {
            ::fhir_rocket::checks::ChainCheck::Ok => (),
            ::fhir_rocket::checks::ChainCheck::NotReference => ::core::panic!(#not_reference),
            ::fhir_rocket::checks::ChainCheck::TooDeep => ::core::panic!(#too_deep),
            ::fhir_rocket::checks::ChainCheck::NotATarget => ::core::panic!(#not_target),
            ::fhir_rocket::checks::ChainCheck::UnknownParam => ::core::panic!(#unknown),
        };
    }
}

fn kind_tokens(kind: Kind) -> TokenStream {
    match kind {
        Kind::Read => quote!(Read),
        Kind::Search => quote!(Search),
        Kind::Create => quote!(Create),
        Kind::Update => quote!(Update),
        Kind::Delete => quote!(Delete),
        Kind::History => quote!(History),
        Kind::Patch => quote!(Patch),
        Kind::Operation => quote!(Operation),
    }
}

pub fn provider(p: &ProviderFn) -> syn::Result<TokenStream> {
    let function = &p.function;
    let vis = &function.vis;
    let name = &function.sig.ident;
    let name_text = name.to_string();
    let resource = &p.resource;
    let kind = kind_tokens(p.kind);
    let kind_name = p.kind.name();
    // What the provider serves, and its version's `Resource` enum, come from its type.
    let served = quote!(<#resource as ::fhir_rocket::ServedType>);
    let model = quote!(#served::Resource);

    let mut lets = Vec::new();
    let mut args = Vec::new();
    let mut checks = Vec::new();
    // The role of each parameter that is not a guard, as the constant checks name it.
    let mut roles = Vec::new();
    let mut named_roles = Vec::new();
    for (i, param) in p.params.iter().enumerate() {
        let arg = format_ident!("__arg{i}");
        let ty = &param.ty;
        if param.guard {
            let ty = with_lifetime(ty, "'r");
            lets.push(quote_spanned! {ty.span()=>
                let #arg = ::fhir_rocket::guard(
                    <#ty as ::fhir_rocket::rocket::request::FromRequest<'r>>::from_request(__req).await,
                )?;
            });
        } else {
            let name = &param.name;
            let static_ty = with_lifetime(ty, "'static");
            let role = quote_spanned!(ty.span()=> <#static_ty as ::fhir_rocket::FromInput<'static, #model>>::ROLE);
            lets.push(quote_spanned! {ty.span()=>
                let #arg = <#ty as ::fhir_rocket::FromInput<'_, #model>>::from_input(&__input, &mut __taken, #name)?;
            });
            checks.push(role_check(p.kind, &role, ty));
            if p.kind == Kind::Search {
                checks.push(param_check(resource, name, &role, ty));
            }
            for modifier in &param.modifiers {
                checks.push(modifier_check(&role, modifier));
            }
            for chain in &param.chains {
                checks.push(chain_check(resource, name, &role, chain));
            }
            let modifiers = &param.modifiers;
            let chains = &param.chains;
            named_roles.push(quote!((
                #name,
                #role,
                &[#(#modifiers),*] as &'static [&'static str],
                &[#(#chains),*] as &'static [&'static str],
            )));
            roles.push(role);
        }
        args.push(arg);
    }
    let signature_messages = [
        ("NeedsId", format!("{} needs a `LogicalId` parameter: the id from the URL", p.kind.provider())),
        ("NeedsBody", format!("{} needs a parameter of its resource type: the resource in the body", p.kind.provider())),
        ("BodyOfOtherType", "the resource in the body is of another type than the provider returns: a provider serves one resource type".to_string()),
        ("GenericWithoutTypeName", "a generic provider (of the version's `Resource` enum) takes a `TypeName` parameter: the resource type of the request".to_string()),
        ("GenericSearch", "searches are declared per resource type: their parameters depend on it".to_string()),
    ];
    let signature_arms = signature_messages.iter().map(|(variant, message)| {
        let variant = format_ident!("{variant}");
        quote_spanned!(name.span()=> ::fhir_rocket::checks::SignatureCheck::#variant => ::core::panic!(#message),)
    });
    checks.push(quote_spanned! {name.span()=>
        const _: () = match ::fhir_rocket::checks::signature(
            ::fhir_rocket::checks::ProviderKind::#kind,
            &[#(#roles),*],
            #served::TYPE_NAME,
        ) {
            ::fhir_rocket::checks::SignatureCheck::Ok => (),
            #(#signature_arms)*
        };
    });
    let (scope, operation) = match &p.operation {
        None => (
            quote!(::fhir_rocket::checks::scope(#served::TYPE_NAME, ROLES)),
            quote!(::std::option::Option::None),
        ),
        Some(op) => {
            let op_name = &op.name;
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
                None => {
                    checks.push(quote_spanned! {op_name.span()=>
                        const _: () = if ::fhir_rocket::checks::has_role(&[#(#roles),*], ::fhir_rocket::ParamRole::LogicalId) {
                            ::core::panic!("an instance-level operation names its resource type: type = Patient")
                        };
                    });
                    quote!(::fhir_rocket::Scope::System)
                }
            };
            (
                scope,
                quote!(::std::option::Option::Some(::fhir_rocket::OperationInfo {
                    name: #op_name,
                    idempotent: #idempotent,
                    instance: ::fhir_rocket::checks::has_role(ROLES, ::fhir_rocket::ParamRole::LogicalId),
                    definition: #definition,
                })),
            )
        }
    };

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
    let type_text = quote!(#resource).to_string().replace(' ', "");
    for key in &p.search.sort {
        let text = key.value();
        let message = format!("`{text}` is not a search parameter of {type_text}: a search sorts by its search parameters");
        checks.push(quote_spanned! {key.span()=>
            const _: () = if !::fhir_rocket::checks::sort_key::<#resource>(#key) {
                ::core::panic!(#message)
            };
        });
    }
    let sorts = &p.search.sort;
    let sorts = quote!(&[#(#sorts),*]);
    let subsets = p.search.subsets;
    let includes = quote!(&[#(#includes),*]);
    let revincludes = quote!(&[#(#revincludes),*]);
    // One typed handler per interaction: the glue converts what the function returned into
    // the shape its interaction has.
    let (variant, output, convert) = match p.kind {
        Kind::Read => (
            quote!(Read),
            quote!(::std::option::Option<::std::sync::Arc<#model>>),
            match p.returns {
                Returns::Maybe => quote!(::fhir_rocket::maybe_shared(__result)),
                _ => quote!(::std::option::Option::Some(::fhir_rocket::shared(__result))),
            },
        ),
        Kind::Search => (
            quote!(Search),
            quote!(::fhir_rocket::Found<#model>),
            match p.returns {
                Returns::Found => quote!(::fhir_rocket::Found::from_results(__result)),
                Returns::Paged => quote!(::fhir_rocket::Found::from_paged(__result)),
                _ => quote!(::fhir_rocket::Found::matches(__result)),
            },
        ),
        Kind::Create | Kind::Update | Kind::Patch => (
            quote!(Write),
            quote!(::std::sync::Arc<#model>),
            quote!(::fhir_rocket::shared(__result)),
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
    let declared = if p.kind == Kind::Search {
        quote! {
            [#(#named_roles),*]
                .into_iter()
                .filter_map(|(name, role, modifiers, chains)| {
                    ::fhir_rocket::DeclaredParam::of::<#resource>(name, role, modifiers, chains)
                })
                .collect::<::std::vec::Vec<_>>()
        }
    } else {
        quote!(::std::vec::Vec::new())
    };
    let doc =
        format!("The FHIR {kind_name} provider `{name_text}`, for `fhir_rocket::providers![]`.");

    Ok(quote! {
        // A provider takes one argument per search parameter it evaluates: FHIR searches have
        // many, and the signature is the declaration.
        #[allow(clippy::too_many_arguments)]
        #function

        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #vis struct #name {}

        #(#checks)*

        impl ::fhir_rocket::ProviderInfo for #name {
            type Resource = #model;

            fn providers() -> ::std::vec::Vec<::fhir_rocket::Provider<Self::Resource>> {
                const ROLES: &[::fhir_rocket::ParamRole] = &[#(#roles),*];
                #[allow(unused_mut, unused_variables)]
                fn handler<'r>(
                    __req: &'r ::fhir_rocket::rocket::Request<'_>,
                    mut __input: ::fhir_rocket::Input<#model>,
                ) -> ::fhir_rocket::Glue<'r, #output> {
                    ::std::boxed::Box::pin(async move {
                        // What parameters take by value is moved out first, so that the
                        // others may borrow the rest.
                        let mut __taken = __input.take_owned();
                        let __input = __input;
                        #(#lets)*
                        let __result = #name(#(#args),*).await?;
                        ::std::result::Result::Ok(#convert)
                    })
                }
                let scope = #scope;
                let params = #declared;
                ::fhir_rocket::checks::interactions(::fhir_rocket::checks::ProviderKind::#kind, ROLES, scope)
                    .into_iter()
                    .map(|interaction| ::fhir_rocket::Provider {
                        interaction,
                        scope,
                        params: params.clone(),
                        name: #name_text,
                        operation: #operation,
                        roles: ROLES,
                        includes: #includes,
                        revincludes: #revincludes,
                        sorts: #sorts,
                        subsets: #subsets,
                        checks_query: false,
                        handler: ::fhir_rocket::Handler::#variant(handler),
                    })
                    .collect()
            }
        }
    })
}
