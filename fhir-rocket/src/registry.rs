//! The providers a server has, by what they serve: per resource type (generic providers
//! after the per-type ones, so that those take precedence) and at system level.

use crate::error::FhirError;
use crate::provider::{Interaction, Provider, Scope};
use crate::version_model::ServerModel;
use std::collections::BTreeMap;

/// The methods of the interactions on each kind of path, for `Allow` headers.
pub(crate) const TYPE_METHODS: &[(Interaction, &str)] =
    &[(Interaction::Search, "GET"), (Interaction::Create, "POST")];
pub(crate) const INSTANCE_METHODS: &[(Interaction, &str)] = &[
    (Interaction::Read, "GET"),
    (Interaction::Update, "PUT"),
    (Interaction::Delete, "DELETE"),
    (Interaction::Patch, "PATCH"),
];

pub(crate) struct Registry<R> {
    /// Providers by resource type: per-type ones in mount order, then generic ones.
    types: BTreeMap<&'static str, Vec<Provider<R>>>,
    /// System-level providers (history, operations).
    system: Vec<Provider<R>>,
}

impl<R: ServerModel> Registry<R> {
    pub(crate) fn new() -> Self {
        Registry {
            types: BTreeMap::new(),
            system: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, provider: Provider<R>) {
        match provider.scope {
            Scope::System => self.system.push(provider),
            Scope::Type(t) => {
                let list = self.types.entry(t).or_default();
                // Before the first generic provider: per-type providers take precedence.
                let at = list
                    .iter()
                    .position(|p| p.scope == Scope::AnyType)
                    .unwrap_or(list.len());
                list.insert(at, provider);
            }
            Scope::AnyType => {
                for t in R::RESOURCE_TYPES {
                    self.types.entry(t).or_default().push(provider.clone());
                }
            }
        }
    }

    /// Every resource type served, with its providers, in name order.
    pub(crate) fn types(&self) -> impl Iterator<Item = (&'static str, &[Provider<R>])> {
        self.types.iter().map(|(t, p)| (*t, p.as_slice()))
    }

    pub(crate) fn system(&self) -> &[Provider<R>] {
        &self.system
    }

    /// The providers of a resource type: 404 when the version has no such type or nothing
    /// serves it.
    pub(crate) fn of_type(&self, resource_type: &str) -> Result<&[Provider<R>], FhirError> {
        match self.types.get(resource_type) {
            Some(list) => Ok(list),
            None => {
                let what = if R::is_resource_type(resource_type) {
                    "is not served here"
                } else {
                    "is not a FHIR resource type"
                };
                let mut known: Vec<&str> = self.types.keys().copied().take(20).collect();
                if self.types.len() > 20 {
                    known.push("...");
                }
                Err(FhirError::not_found(format!(
                    "resource type '{resource_type}' {what}; this server serves: {}",
                    known.join(", ")
                )))
            }
        }
    }

    /// The first provider of `interaction` for `resource_type`; 405 naming the methods the
    /// path takes otherwise.
    pub(crate) fn find(
        &self,
        resource_type: &str,
        interaction: Interaction,
    ) -> Result<&Provider<R>, FhirError> {
        let providers = self.of_type(resource_type)?;
        find_in(providers, interaction, resource_type)
    }
}

pub(crate) fn find_in<'a, R>(
    providers: &'a [Provider<R>],
    interaction: Interaction,
    resource_type: &str,
) -> Result<&'a Provider<R>, FhirError> {
    if let Some(p) = providers.iter().find(|p| p.interaction == interaction) {
        return Ok(p);
    }
    let methods = if INSTANCE_METHODS.iter().any(|(i, _)| *i == interaction) {
        INSTANCE_METHODS
    } else {
        TYPE_METHODS
    };
    Err(FhirError::method_not_allowed(
        format!(
            "{resource_type} does not support the {} interaction",
            interaction.code()
        ),
        allowed_methods(providers, methods),
    ))
}

/// The `Allow` header for a path: the methods of the interactions that have providers.
pub(crate) fn allowed_methods<R>(
    providers: &[Provider<R>],
    methods: &[(Interaction, &str)],
) -> String {
    let mut allow: Vec<&str> = methods
        .iter()
        .filter(|(i, _)| providers.iter().any(|p| p.interaction == *i))
        .map(|(_, m)| *m)
        .collect();
    allow.dedup();
    allow.join(", ")
}
