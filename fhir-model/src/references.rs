//! [`VisitReferences`]: every `Reference.reference` of a value, reached in place.

use crate::boxed::{Boxed, BoxedDrop};
use crate::primitive::Primitive;

/// Visits the `reference` of every `Reference` in a value: nested, repeated, in extensions
/// (of elements and of primitives), in choice values and in contained resources, so that they
/// can be read or rewritten in place (a transaction replaces `urn:uuid:` references with the
/// ids it assigned).
///
/// Implemented by every generated type and `Resource` enum, with one non-generic function each.
///
/// ```
/// use fhir_model::r4::{Observation, Reference, Resource};
/// use fhir_model::VisitReferences;
///
/// let mut resource = Resource::from_json(r#"{"resourceType":"Observation","status":"final",
///     "code":{"text":"x"},"subject":{"reference":"urn:uuid:1"},
///     "extension":[{"url":"http://example.org/e","valueReference":{"reference":"urn:uuid:1"}}]}"#).unwrap();
/// resource.visit_references(&mut |reference| {
///     if reference == "urn:uuid:1" {
///         *reference = "Patient/p1".to_string();
///     }
/// });
/// let observation = Observation::try_from(resource).unwrap();
/// assert_eq!(observation.subject.unwrap().reference.unwrap().value.as_deref(), Some("Patient/p1"));
/// ```
pub trait VisitReferences {
    /// Calls `visit` with each reference string, in document order.
    fn visit_references(&mut self, visit: &mut dyn FnMut(&mut String));
}

impl<T: VisitReferences> VisitReferences for Option<T> {
    fn visit_references(&mut self, visit: &mut dyn FnMut(&mut String)) {
        if let Some(value) = self {
            value.visit_references(visit);
        }
    }
}

impl<T: VisitReferences> VisitReferences for Vec<T> {
    fn visit_references(&mut self, visit: &mut dyn FnMut(&mut String)) {
        for value in self {
            value.visit_references(visit);
        }
    }
}

impl<T: VisitReferences + BoxedDrop> VisitReferences for Boxed<T> {
    fn visit_references(&mut self, visit: &mut dyn FnMut(&mut String)) {
        (**self).visit_references(visit);
    }
}

// A primitive's value holds no reference; its extensions may.
impl<T, X: VisitReferences> VisitReferences for Primitive<T, X> {
    fn visit_references(&mut self, visit: &mut dyn FnMut(&mut String)) {
        self.visit_extensions(visit);
    }
}
