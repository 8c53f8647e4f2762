//! What a provider parameter receives, decided by its type through [`FromInput`], as Rocket's
//! `FromRequest` and axum's extractors do: [`LogicalId`] is the id from the URL, a resource
//! type is the body, a type of [`search`](mod@crate::search) is a search parameter. Request
//! guards are marked `#[guard]`; no role comes from a parameter's name.

use crate::context::{RequestContext, TypeName};
use crate::error::FhirError;
use crate::patch::PatchOp;
use crate::provider::{HistoryParams, Input};
use crate::search::{FromSearchParam, ResultParams};
use crate::shared::IntoShared;
use fhir_model::{FhirResource, ResourceType, SearchParamKind, SearchParameter};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// The logical id from the request URL (`Patient/[id]`): a provider parameter of this type
/// receives it.
///
/// ```
/// let id = fhir_rocket::LogicalId::from("p1");
/// assert_eq!(&*id, "p1");
/// assert_eq!(String::from(id), "p1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogicalId(pub String);

/// The version id from the request URL (`Patient/[id]/_history/[vid]`): a read provider that
/// takes an `Option<VersionId>` serves vread too (`None` for a read).
///
/// ```
/// let version = fhir_rocket::VersionId::from("2");
/// assert_eq!(version.as_str(), "2");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct VersionId(pub String);

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $name(text.to_string())
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                $name(text)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

string_newtype!(LogicalId);
string_newtype!(VersionId);

/// What a provider parameter receives: the role its type gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamRole {
    /// The logical id from the URL ([`LogicalId`]).
    LogicalId,
    /// The version id from the URL (`Option<VersionId>`).
    VersionId,
    /// The request context ([`RequestContext`] or a reference to it).
    Context,
    /// The resource in the body: of this type, or of any type (a version's `Resource` enum).
    Body(Option<&'static str>),
    /// A search parameter of this kind, required unless it is an `Option`.
    Search {
        /// Its FHIR type.
        kind: SearchParamKind,
        /// Whether the request must give it.
        required: bool,
    },
    /// The search result parameters ([`ResultParams`]).
    ResultParams,
    /// The history parameters ([`HistoryParams`]).
    HistoryParams,
    /// The operations of a JSON Patch (`Vec<PatchOp>`).
    Patch,
    /// The resource type of the request ([`TypeName`]), for generic providers.
    TypeName,
    /// What the provider adds to the answer ([`ResponseExtras`](crate::ResponseExtras)).
    Response,
}

impl ParamRole {
    /// A number per variant, so that constant evaluation can compare roles.
    pub const fn tag(self) -> u8 {
        match self {
            ParamRole::LogicalId => 0,
            ParamRole::VersionId => 1,
            ParamRole::Context => 2,
            ParamRole::Body(_) => 3,
            ParamRole::Search { .. } => 4,
            ParamRole::ResultParams => 5,
            ParamRole::HistoryParams => 6,
            ParamRole::Patch => 7,
            ParamRole::TypeName => 8,
            ParamRole::Response => 9,
        }
    }
}

/// What the glue moves out of the [`Input`] before it extracts the arguments: the parts a
/// parameter takes by value, so that the others may borrow the rest.
pub struct Taken<R> {
    body: Option<R>,
    patch: Option<Vec<PatchOp>>,
}

impl<R> Input<R> {
    /// Moves the body and the patch out of the input.
    pub fn take_owned(&mut self) -> Taken<R> {
        Taken {
            body: self.body.take(),
            patch: Some(std::mem::take(&mut self.patch)),
        }
    }
}

impl<R> Taken<R> {
    /// The body as it was read (generic providers).
    pub fn body(&mut self) -> Result<R, FhirError> {
        self.body
            .take()
            .ok_or_else(|| FhirError::bad_request("the request has no resource body"))
    }

    /// The body as the resource type `T`.
    pub fn body_as<T>(&mut self) -> Result<T, FhirError>
    where
        T: TryFrom<R, Error = R>,
        R: FhirResource,
    {
        T::try_from(self.body()?).map_err(|other| {
            FhirError::bad_request(format!(
                "the body is a {}, but this endpoint takes another type",
                other.resource_type(),
            ))
        })
    }

    /// The JSON Patch.
    pub fn patch(&mut self) -> Result<Vec<PatchOp>, FhirError> {
        self.patch
            .take()
            .ok_or_else(|| FhirError::bad_request("the request has no JSON Patch"))
    }
}

/// A type a provider parameter may have: it says the parameter's role and takes its value
/// from the request. `R` is the `Resource` enum of the provider's FHIR version.
///
/// Implemented for [`LogicalId`], `Option<VersionId>`, [`RequestContext`] (and a reference
/// to it), every resource type and `Resource` enum (the body), the search parameter types of
/// [`search`](mod@crate::search) with their `Option`, `OrList` and `AndList` forms,
/// [`ResultParams`], [`HistoryParams`], `Vec<PatchOp>` and [`TypeName`].
#[diagnostic::on_unimplemented(
    message = "a FHIR provider parameter of type `{Self}` receives nothing",
    label = "not a FHIR parameter type",
    note = "mark a Rocket request guard with #[guard]; the id from the URL is a `LogicalId`, the version an `Option<VersionId>`, the body a resource type, a search parameter a type of `fhir_rocket::search`"
)]
pub trait FromInput<'a, R>: Sized {
    /// The parameter's role.
    const ROLE: ParamRole;

    /// Takes the value; `name` is the parameter's search parameter name.
    fn from_input(input: &'a Input<R>, taken: &mut Taken<R>, name: &str)
        -> Result<Self, FhirError>;
}

impl<'a, R> FromInput<'a, R> for LogicalId {
    const ROLE: ParamRole = ParamRole::LogicalId;

    fn from_input(input: &'a Input<R>, _: &mut Taken<R>, _: &str) -> Result<Self, FhirError> {
        input.id().map(LogicalId)
    }
}

impl<'a, R> FromInput<'a, R> for Option<VersionId> {
    const ROLE: ParamRole = ParamRole::VersionId;

    fn from_input(input: &'a Input<R>, _: &mut Taken<R>, _: &str) -> Result<Self, FhirError> {
        Ok(input.version_id.clone().map(VersionId))
    }
}

impl<'a, R> FromInput<'a, R> for RequestContext {
    const ROLE: ParamRole = ParamRole::Context;

    fn from_input(input: &'a Input<R>, _: &mut Taken<R>, _: &str) -> Result<Self, FhirError> {
        Ok(input.context.clone())
    }
}

impl<'a, R> FromInput<'a, R> for &'a RequestContext {
    const ROLE: ParamRole = ParamRole::Context;

    fn from_input(input: &'a Input<R>, _: &mut Taken<R>, _: &str) -> Result<Self, FhirError> {
        Ok(&input.context)
    }
}

impl<'a, R> FromInput<'a, R> for ResultParams {
    const ROLE: ParamRole = ParamRole::ResultParams;

    fn from_input(input: &'a Input<R>, _: &mut Taken<R>, _: &str) -> Result<Self, FhirError> {
        Ok(input.result.clone())
    }
}

impl<'a, R> FromInput<'a, R> for HistoryParams {
    const ROLE: ParamRole = ParamRole::HistoryParams;

    fn from_input(input: &'a Input<R>, _: &mut Taken<R>, _: &str) -> Result<Self, FhirError> {
        Ok(input.history.clone())
    }
}

impl<'a, R> FromInput<'a, R> for Vec<PatchOp> {
    const ROLE: ParamRole = ParamRole::Patch;

    fn from_input(_: &'a Input<R>, taken: &mut Taken<R>, _: &str) -> Result<Self, FhirError> {
        taken.patch()
    }
}

impl<'a, R> FromInput<'a, R> for crate::extras::ResponseExtras {
    const ROLE: ParamRole = ParamRole::Response;

    fn from_input(input: &'a Input<R>, _: &mut Taken<R>, _: &str) -> Result<Self, FhirError> {
        Ok(input.extras.clone())
    }
}

impl<'a, R> FromInput<'a, R> for TypeName {
    const ROLE: ParamRole = ParamRole::TypeName;

    fn from_input(input: &'a Input<R>, _: &mut Taken<R>, _: &str) -> Result<Self, FhirError> {
        Ok(input.type_name())
    }
}

impl<'a, R, T> FromInput<'a, R> for T
where
    T: FromSearchParam + crate::checks::ParamKindOf,
{
    const ROLE: ParamRole = ParamRole::Search {
        kind: T::KIND,
        required: T::REQUIRED,
    };

    fn from_input(input: &'a Input<R>, _: &mut Taken<R>, name: &str) -> Result<Self, FhirError> {
        input
            .query
            .extract::<T>(name)
            .map_err(|e| FhirError::bad_request(e.to_string()))
    }
}

/// What a provider serves, named by the type it returns or takes: one resource type
/// (`Patient`), or every type of a version (its `Resource` enum, for generic providers and
/// system-level interactions).
pub trait ServedType {
    /// The `Resource` enum of the version.
    type Resource;
    /// The resource type; `None` for the `Resource` enum.
    const TYPE_NAME: Option<&'static str>;
    /// The search parameters of the type (none for the `Resource` enum).
    const SEARCH_PARAMETERS: &'static [SearchParameter];
    /// Every resource type's search parameters in the version, by type name.
    const VERSION_SEARCH_PARAMETERS: &'static [(&'static str, &'static [SearchParameter])];
}

// Per type rather than over `T: ResourceType`: such a blanket impl would overlap with the
// impls above for `Option<T>`, `Vec<T>` and the search types.
macro_rules! impls_per_resource_type {
    ($resource:ty; $($t:ty),*) => {
        impl<'a> FromInput<'a, $resource> for $resource {
            const ROLE: ParamRole = ParamRole::Body(None);

            fn from_input(_: &'a Input<$resource>, taken: &mut Taken<$resource>, _: &str) -> Result<Self, FhirError> {
                taken.body()
            }
        }

        impl ServedType for $resource {
            type Resource = $resource;
            const TYPE_NAME: Option<&'static str> = None;
            const SEARCH_PARAMETERS: &'static [SearchParameter] = &[];
            const VERSION_SEARCH_PARAMETERS: &'static [(&'static str, &'static [SearchParameter])] =
                <$resource>::SEARCH_PARAMETERS_BY_TYPE;
        }

        impl IntoShared for $resource {
            type Resource = $resource;

            #[inline]
            fn into_shared(self) -> Arc<$resource> {
                Arc::new(self)
            }
        }

        impl IntoShared for Arc<$resource> {
            type Resource = $resource;

            #[inline]
            fn into_shared(self) -> Arc<$resource> {
                self
            }
        }

        $(
            impl<'a, R: FhirResource> FromInput<'a, R> for $t
            where
                $t: TryFrom<R, Error = R>,
            {
                const ROLE: ParamRole = ParamRole::Body(Some(<$t as ResourceType>::TYPE_NAME));

                fn from_input(_: &'a Input<R>, taken: &mut Taken<R>, _: &str) -> Result<Self, FhirError> {
                    taken.body_as::<$t>()
                }
            }

            impl ServedType for $t {
                type Resource = $resource;
                const TYPE_NAME: Option<&'static str> = Some(<$t as ResourceType>::TYPE_NAME);
                const SEARCH_PARAMETERS: &'static [SearchParameter] =
                    <$t as ResourceType>::SEARCH_PARAMETERS;
                const VERSION_SEARCH_PARAMETERS: &'static [(&'static str, &'static [SearchParameter])] =
                    <$resource>::SEARCH_PARAMETERS_BY_TYPE;
            }

            impl IntoShared for $t {
                type Resource = $resource;

                #[inline]
                fn into_shared(self) -> Arc<$resource> {
                    Arc::new(self.into())
                }
            }
        )*
    };
}

fhir_model::for_each_version!(impls_per_resource_type);
