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
