//! [`Shared`]: a resource a provider hands out without copying it.

use fhir_model::ResourceType;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

/// A resource of type `T` held in a shared, reference-counted `Resource` enum.
///
/// Providers whose data already lives in memory return `Shared<T>` (or `Vec<Shared<T>>`,
/// `Option<Shared<T>>`) instead of `T`, so that a read or search answers without cloning the
/// resources: cloning a `Shared` only counts a reference. It dereferences to `T`.
///
/// ```
/// use fhir_rocket::model::r4::{Patient, Resource};
/// use fhir_rocket::Shared;
/// use std::sync::Arc;
///
/// let stored: Arc<Resource> = Arc::new(Patient { active: Some(true.into()), ..Default::default() }.into());
/// let patient: Shared<Patient> = Shared::from_arc(stored.clone()).expect("a Patient");
/// assert_eq!(patient.active.as_ref().and_then(|a| a.value), Some(true));
/// assert!(Arc::ptr_eq(patient.as_arc(), &stored));
/// ```
pub struct Shared<T: ResourceType> {
    resource: Arc<T::Resource>,
    of_type: PhantomData<fn() -> T>,
}

impl<T: ResourceType> Shared<T> {
    /// Shares a resource.
    pub fn new(resource: T) -> Self
    where
        T: Into<T::Resource>,
    {
        Shared {
            resource: Arc::new(resource.into()),
            of_type: PhantomData,
        }
    }

    /// A shared `Resource` that holds a `T`; the resource back when it holds another type.
    pub fn from_arc(resource: Arc<T::Resource>) -> Result<Self, Arc<T::Resource>> {
        if T::downcast_ref(&resource).is_some() {
            Ok(Shared {
                resource,
                of_type: PhantomData,
            })
        } else {
            Err(resource)
        }
    }

    /// The shared `Resource`.
    pub fn as_arc(&self) -> &Arc<T::Resource> {
        &self.resource
    }

    /// The shared `Resource`, given up.
    pub fn into_arc(self) -> Arc<T::Resource> {
        self.resource
    }
}

impl<T: ResourceType> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        match T::downcast_ref(&self.resource) {
            Some(resource) => resource,
            // Both constructors check the type, and the Arc is never handed out mutably.
            None => unreachable!("a Shared<{}> holds another resource type", T::TYPE_NAME),
        }
    }
}

impl<T: ResourceType> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared {
            resource: self.resource.clone(),
            of_type: PhantomData,
        }
    }
}

impl<T: ResourceType + fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        T::fmt(self, f)
    }
}

/// What a provider may return as one resource: the resource itself, or a [`Shared`] one; a
/// generic provider returns its version's `Resource` enum, or an `Arc` of it.
pub trait IntoShared {
    /// The version's `Resource` enum, which the server holds resources as.
    type Resource;

    /// The resource as the server holds it.
    fn into_shared(self) -> Arc<Self::Resource>;
}

// Each resource type, each version's `Resource` enum and an `Arc` of it implement this trait
// too, in `extract.rs`.
impl<T: ResourceType> IntoShared for Shared<T> {
    type Resource = T::Resource;

    fn into_shared(self) -> Arc<T::Resource> {
        self.resource
    }
}
