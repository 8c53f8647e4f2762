//! Parses the arguments of `#[operation(...)]`.

use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token, Type};

/// `#[operation(name = "$everything", type = Patient, idempotent, definition = "...")]`
pub struct OperationAttr {
    pub name: LitStr,
    pub resource: Option<Type>,
    pub idempotent: bool,
    pub definition: Option<LitStr>,
}

impl Parse for OperationAttr {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut name = None;
        let mut resource = None;
        let mut idempotent = false;
        let mut definition = None;
        while !input.is_empty() {
            let key: Ident = if input.peek(Token![type]) {
                let t: Token![type] = input.parse()?;
                Ident::new("type", t.span)
            } else {
                input.parse()?
            };
            match key.to_string().as_str() {
                "name" => {
                    input.parse::<Token![=]>()?;
                    let lit: LitStr = input.parse()?;
                    let text = lit.value();
                    if !text.starts_with('$') || text.len() < 2 || !text[1..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                        return Err(syn::Error::new_spanned(lit, "an operation name is `$` followed by letters, digits, `-` or `_`, as in \"$everything\""));
                    }
                    name = Some(lit);
                }
                "type" => {
                    input.parse::<Token![=]>()?;
                    resource = Some(input.parse()?);
                }
                "idempotent" => idempotent = true,
                "definition" => {
                    input.parse::<Token![=]>()?;
                    definition = Some(input.parse()?);
                }
                _ => {
                    return Err(syn::Error::new_spanned(
                        key,
                        "expected `name = \"$...\"`, `type = ResourceType`, `idempotent` or `definition = \"url\"`",
                    ))
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        let name = name.ok_or_else(|| input.error("an operation needs `name = \"$...\"`"))?;
        Ok(OperationAttr {
            name,
            resource,
            idempotent,
            definition,
        })
    }
}

/// `#[search(include = ["Observation:subject"], revinclude = ["Provenance:target"],
/// sort = ["date"], subsets)]`: the `_include` and `_revinclude` values the search answers,
/// the search parameters it sorts by, and whether it applies `_summary` and `_elements`
/// itself.
#[derive(Default)]
pub struct SearchAttr {
    pub include: Vec<LitStr>,
    pub revinclude: Vec<LitStr>,
    pub sort: Vec<LitStr>,
    pub subsets: bool,
}

impl Parse for SearchAttr {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut attr = SearchAttr::default();
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            let list = match key.to_string().as_str() {
                "include" => &mut attr.include,
                "revinclude" => &mut attr.revinclude,
                "sort" => &mut attr.sort,
                "subsets" => {
                    attr.subsets = true;
                    if !input.is_empty() {
                        input.parse::<Token![,]>()?;
                    }
                    continue;
                }
                _ => {
                    return Err(syn::Error::new_spanned(
                        key,
                        "expected `include = [\"Type:param\", ...]`, `revinclude = [\"Type:param\", ...]`, `sort = [\"param\", ...]` or `subsets`",
                    ))
                }
            };
            let sorting = key == "sort";
            input.parse::<Token![=]>()?;
            let content;
            syn::bracketed!(content in input);
            let values = content.parse_terminated(<LitStr as Parse>::parse, Token![,])?;
            for value in values {
                if !sorting {
                    check_include(&value)?;
                }
                list.push(value);
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(attr)
    }
}

/// An include value is `*`, `Type:param` or `Type:param:TargetType`.
fn check_include(value: &LitStr) -> syn::Result<()> {
    let text = value.value();
    let is_type = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_uppercase())
            && s.chars().all(|c| c.is_ascii_alphanumeric())
    };
    let is_param = |s: &str| {
        s == "*"
            || (!s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    };
    let parts: Vec<&str> = text.split(':').collect();
    let valid = text == "*"
        || match parts.as_slice() {
            [source, param] => is_type(source) && is_param(param),
            [source, param, target] => is_type(source) && is_param(param) && is_type(target),
            _ => false,
        };
    if valid {
        Ok(())
    } else {
        Err(syn::Error::new_spanned(
            value,
            "an include is \"*\", \"Type:param\" or \"Type:param:TargetType\", as in \"Observation:subject\"",
        ))
    }
}
