//! [`Boxed`]: the box the model uses for resources, choice values and recursive fields.

use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};

/// A heap allocation holding a model value: a `Box<T>` whose drop runs code compiled once
/// inside fhir-model.
///
/// Rust generates the code that drops a type (its "drop glue") again in every crate that drops
/// it, and in release builds it does not reuse the upstream crate's copy. With plain boxes,
/// dropping one `Patient` reaches every type of the model (through `contained` resources and
/// the values of extensions), so the smallest program that drops a `Patient` compiled the drop
/// code of the whole model: about 13 s of every release rebuild. `Boxed` stops that chain: its
/// drop calls [`BoxedDrop::drop_box`], a plain function of fhir-model.
///
/// It dereferences to `T`; [`Boxed::into_inner`] moves the value out.
///
/// ```
/// use fhir_model::{Boxed, r4::{Patient, Resource}};
/// let resource = Resource::Patient(Boxed::new(Patient::default()));
/// if let Resource::Patient(patient) = resource {
///     assert!(patient.name.is_empty());
///     let patient: Patient = patient.into_inner();
///     # let _ = patient;
/// }
/// ```
pub struct Boxed<T: BoxedDrop>(ManuallyDrop<Box<T>>);

/// Drops a boxed model value; implemented by every generated type, non-generically.
#[doc(hidden)]
pub trait BoxedDrop: Sized {
    /// Drops the box and its content.
    fn drop_box(value: Box<Self>);
}

impl<T: BoxedDrop> Boxed<T> {
    /// Moves `value` to the heap.
    pub fn new(value: T) -> Self {
        Boxed(ManuallyDrop::new(Box::new(value)))
    }

    /// Takes over a `Box`.
    pub fn from_box(value: Box<T>) -> Self {
        Boxed(ManuallyDrop::new(value))
    }

    /// The value, moved out of the heap.
    pub fn into_inner(self) -> T {
        *self.into_box()
    }

    /// The allocation as a plain `Box`.
    pub fn into_box(self) -> Box<T> {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped or used again, so the box is taken exactly once.
        unsafe { ManuallyDrop::take(&mut this.0) }
    }
}

impl<T: BoxedDrop> Drop for Boxed<T> {
    fn drop(&mut self) {
        // SAFETY: this is the last use of the box: it is taken once, here.
        let value = unsafe { ManuallyDrop::take(&mut self.0) };
        T::drop_box(value);
    }
}

impl<T: BoxedDrop> Deref for Boxed<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: BoxedDrop> DerefMut for Boxed<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: BoxedDrop> AsRef<T> for Boxed<T> {
    fn as_ref(&self) -> &T {
        &self.0
    }
}

impl<T: BoxedDrop> AsMut<T> for Boxed<T> {
    fn as_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: BoxedDrop + Clone> Clone for Boxed<T> {
    fn clone(&self) -> Self {
        Boxed::new(T::clone(self))
    }
}

impl<T: BoxedDrop + Default> Default for Boxed<T> {
    fn default() -> Self {
        Boxed::new(T::default())
    }
}

impl<T: BoxedDrop + PartialEq> PartialEq for Boxed<T> {
    fn eq(&self, other: &Self) -> bool {
        T::eq(self, other)
    }
}

impl<T: BoxedDrop + fmt::Debug> fmt::Debug for Boxed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        T::fmt(self, f)
    }
}

impl<T: BoxedDrop> From<T> for Boxed<T> {
    fn from(value: T) -> Self {
        Boxed::new(value)
    }
}

impl<T: BoxedDrop> From<Box<T>> for Boxed<T> {
    fn from(value: Box<T>) -> Self {
        Boxed::from_box(value)
    }
}
