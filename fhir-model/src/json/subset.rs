//! Subsetting a resource as it is written (`_summary` and `_elements`,
//! <https://hl7.org/fhir/search.html#summary>), driven by the version's [`XmlTable`]: each
//! element's `summary`, `modifier` and `mandatory` flags come from the definitions, so the one
//! filter here serves every resource type and no generated type has code for it.
//!
//! The filter sits in [`JsonWriter`]: each member name is judged as it is written, and a
//! member left out is written into a scratch buffer that is thrown away. Nothing is copied or
//! parsed again, and the XML form, made from the JSON form, is subset with it.

use super::{JsonValue, JsonWriter};
use crate::xml::table::{XmlKind, XmlTable};
use std::sync::Arc;

/// The system of the tag a server puts on a resource it sends in part.
pub const SUBSETTED_SYSTEM: &str = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";
/// The code of that tag.
pub const SUBSETTED_CODE: &str = "SUBSETTED";
/// The display of that tag.
pub const SUBSETTED_DISPLAY: &str = "Resource encoded in summary mode";

/// Which part of a resource to write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubsetMode {
    /// `_summary=true`: the elements the definitions mark as summary, in backbone elements
    /// too, and the modifiers.
    Summary,
    /// `_summary=text`: `text`, `id`, `meta` and the mandatory top-level elements (and the
    /// modifiers, which a reader must not miss).
    Text,
    /// `_summary=data`: everything but `text`.
    Data,
    /// `_elements`: the top-level elements named, with `id`, `meta`, the mandatory elements
    /// and the modifiers. A name may carry its type (`Patient.name`); a path below the top
    /// level (`name.family`) keeps its whole top-level element.
    Elements(Arc<[String]>),
}

/// A subset of resources of one FHIR version: what to keep, and the table that says what
/// each element is.
///
/// ```
/// # #[cfg(feature = "r4")] {
/// use fhir_model::json::{to_vec_subset, Subset, SubsetMode};
/// use fhir_model::r4::Patient;
/// use fhir_model::xml::XmlResource;
///
/// let patient = Patient::from_json(
///     r#"{"resourceType":"Patient","id":"p","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">P</div>"},"gender":"male","photo":[{"title":"me"}]}"#,
/// ).unwrap();
/// let summary = Subset::new(Patient::xml_table(), SubsetMode::Summary);
/// assert_eq!(
///     String::from_utf8(to_vec_subset(&patient, &summary, false)).unwrap(),
///     r#"{"resourceType":"Patient","id":"p","meta":{"tag":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED","display":"Resource encoded in summary mode"}]},"gender":"male"}"#
/// );
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Subset {
    table: &'static XmlTable,
    mode: SubsetMode,
}

impl Subset {
    /// A subset of resources described by `table` (`Patient::xml_table()`).
    pub fn new(table: &'static XmlTable, mode: SubsetMode) -> Self {
        Subset { table, mode }
    }

    /// What it keeps.
    pub fn mode(&self) -> &SubsetMode {
        &self.mode
    }

    /// Whether element `name` of struct `ty` is kept, and what its children are judged by.
    fn judge(&self, ctx: Ctx, name: &str) -> (bool, Ctx) {
        let (ty, top) = match ctx {
            Ctx::All | Ctx::Root | Ctx::Tags => return (true, Ctx::All),
            Ctx::Meta => return (true, if name == "tag" { Ctx::Tags } else { Ctx::All }),
            Ctx::Top(ty) => (ty, true),
            Ctx::Nested(ty) => (ty, false),
        };
        if name == "resourceType" {
            return (true, Ctx::All);
        }
        let Some((_, element)) = self.table.element(ty, name) else {
            // Not an element of the type (the writer writes only elements): keep it whole.
            return (true, Ctx::All);
        };
        let always = element.modifier || (top && matches!(name, "id" | "meta"));
        let keep = always
            || match &self.mode {
                SubsetMode::Summary => element.summary,
                SubsetMode::Text => top && (name == "text" || element.mandatory),
                SubsetMode::Data => !(top && name == "text"),
                SubsetMode::Elements(names) => {
                    top && (element.mandatory || names.iter().any(|n| self.names(ty, n, name)))
                }
            };
        let child = match (&self.mode, element.kind) {
            _ if top && name == "meta" => Ctx::Meta,
            // A backbone element's children are judged by their own summary flags; a
            // datatype is kept whole.
            (SubsetMode::Summary, XmlKind::Complex(child))
                if self.table.types[child as usize].name.contains('.') =>
            {
                Ctx::Nested(child)
            }
            _ => Ctx::All,
        };
        (keep, child)
    }

    /// Whether `asked` (an `_elements` entry) names top-level element `name` of resource
    /// type `ty`.
    fn names(&self, ty: u16, asked: &str, name: &str) -> bool {
        let type_name = self.table.types[ty as usize].name;
        let asked = match asked.strip_prefix(type_name) {
            Some(rest) if rest.starts_with('.') => &rest[1..],
            _ => asked,
        };
        asked.split('.').next() == Some(name)
    }
}

/// Where the `SUBSETTED` tag is written.
#[derive(Clone, Copy, Debug)]
enum Injected {
    /// A `meta` holding it, in a resource that has none.
    Meta,
    /// A `tag` array holding it, in a `meta` that has none.
    Tags,
    /// An item of the `tag` array.
    Tag,
}

/// What the members of an object are judged by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ctx {
    /// Everything is kept (inside a kept datatype, or outside the subset resource).
    All,
    /// The object of the resource being subset, before its `resourceType`.
    Root,
    /// The top level of a resource: the index of its type in the table.
    Top(u16),
    /// A backbone element under `_summary=true`.
    Nested(u16),
    /// The `meta` of the resource being subset, which gets the `SUBSETTED` tag.
    Meta,
    /// Its `tag` array.
    Tags,
}

/// One object being written.
#[derive(Clone, Copy, Debug)]
struct Frame {
    ctx: Ctx,
    /// What the objects of the member being written are judged by.
    child: Ctx,
}

/// A member being left out: where it started.
#[derive(Clone, Copy, Debug)]
struct Muted {
    /// The number of open objects when it started: its object's depth.
    depth: usize,
    /// The writer's `first` flag before it.
    first: bool,
}

/// The filter's state inside a [`JsonWriter`].
#[derive(Debug)]
pub(crate) struct SubsetState {
    subset: Subset,
    frames: Vec<Frame>,
    muted: Option<Muted>,
    /// The resource has a `meta`, and that `meta` a `tag` array: where the `SUBSETTED` tag
    /// goes (or they are written for it).
    meta_seen: bool,
    tags_seen: bool,
    /// Where left-out members go (swapped with the writer's output while one is written).
    /// A member left out ends at the next member of its object (or the object's end): the
    /// next checkpoint, name or `}` at its depth.
    scratch: Vec<u8>,
}

impl JsonWriter {
    /// Writes `value`, a resource, as `subset` says, with the `SUBSETTED` tag added to its
    /// `meta` (written for it when there is none; a tag already there is not looked for).
    /// Resources inside it (contained ones) are kept or left out whole with their element.
    pub fn write_subset<T: JsonValue>(&mut self, value: &T, subset: &Subset) {
        let state = match self.parked_subset.take() {
            Some(mut state) => {
                state.subset = subset.clone();
                state.frames.clear();
                state.muted = None;
                state.meta_seen = false;
                state.tags_seen = false;
                state
            }
            None => Box::new(SubsetState {
                subset: subset.clone(),
                frames: Vec::with_capacity(16),
                muted: None,
                meta_seen: false,
                tags_seen: false,
                scratch: Vec::new(),
            }),
        };
        self.subset = Some(state);
        value.write_json(self);
        // Kept for the next resource of a Bundle, but off until then.
        self.parked_subset = self.subset.take();
    }

    /// Called by `begin_object` and `begin_array` while subsetting. An array is a frame of
    /// its own, so that its items are not taken for members of the object around it; the
    /// objects in it are judged as its member's.
    #[inline(never)]
    pub(super) fn subset_begin_object(&mut self) {
        let Some(state) = self.subset.as_deref_mut() else {
            return;
        };
        let ctx = state.frames.last().map_or(Ctx::Root, |f| f.child);
        state.frames.push(Frame { ctx, child: ctx });
    }

    /// Called by `end_array` while subsetting, before the array is closed.
    #[inline(never)]
    pub(super) fn subset_end_array(&mut self) {
        let Some(state) = self.subset.as_deref_mut() else {
            return;
        };
        let tags = state.frames.pop().is_some_and(|f| f.ctx == Ctx::Tags);
        if tags && state.muted.is_none() {
            self.inject(Injected::Tag);
        }
    }

    /// Called by `checkpoint` while subsetting: a new member or item starts.
    #[inline(never)]
    pub(super) fn subset_member_start(&mut self) {
        if let Some(depth) = self.subset.as_deref().map(|s| s.frames.len()) {
            self.unmute_at(depth);
        }
    }

    /// Called by `end_object` while subsetting, before the object is closed.
    #[inline(never)]
    pub(super) fn subset_end_object(&mut self) {
        let depth = match self.subset.as_deref() {
            Some(state) => state.frames.len(),
            None => return,
        };
        self.unmute_at(depth);
        let Some(state) = self.subset.as_deref_mut() else {
            return;
        };
        let inject = match state.frames.last().map(|f| f.ctx) {
            // A resource without `meta`, or a `meta` without tags: they are written for
            // the tag.
            Some(Ctx::Top(_)) if !state.meta_seen => Some(Injected::Meta),
            Some(Ctx::Meta) if !state.tags_seen => Some(Injected::Tags),
            _ => None,
        };
        state.frames.pop();
        if let Some(inject) = inject {
            self.inject(inject);
        }
    }

    /// Writes the `SUBSETTED` tag where `what` says, with the filter off meanwhile.
    fn inject(&mut self, what: Injected) {
        let state = self.subset.take();
        match what {
            Injected::Meta => {
                self.key("meta");
                self.begin_object();
                self.inject_tags();
                self.end_object();
            }
            Injected::Tags => self.inject_tags(),
            Injected::Tag => self.inject_tag(),
        }
        self.subset = state;
    }

    fn inject_tags(&mut self) {
        self.key("tag");
        self.begin_array();
        self.inject_tag();
        self.end_array();
    }

    fn inject_tag(&mut self) {
        self.item();
        self.begin_object();
        self.key("system");
        self.string(SUBSETTED_SYSTEM);
        self.key("code");
        self.string(SUBSETTED_CODE);
        self.key("display");
        self.string(SUBSETTED_DISPLAY);
        self.end_object();
    }

    /// Called by `resource_type` while subsetting: the resource being subset starts.
    #[inline(never)]
    pub(super) fn subset_resource(&mut self, name: &str) {
        let Some(state) = self.subset.as_deref_mut() else {
            return;
        };
        if let Some(frame) = state.frames.last_mut() {
            if frame.ctx == Ctx::Root {
                frame.ctx = state.subset.table.resource(name).map_or(Ctx::All, Ctx::Top);
            }
        }
    }

    /// Called before each member's name while subsetting: ends the member left out before
    /// it, then judges this one, sending it to the scratch buffer when it is left out.
    #[inline(never)]
    pub(super) fn subset_key(&mut self, name: &str) {
        let depth = match self.subset.as_deref() {
            Some(state) => state.frames.len(),
            None => return,
        };
        self.unmute_at(depth);
        let Some(state) = self.subset.as_deref_mut() else {
            return;
        };
        if state.muted.is_some() {
            // A member of an object inside a member left out: it goes with it.
            return;
        }
        let Some(frame) = state.frames.last_mut() else {
            return;
        };
        let ctx = frame.ctx;
        let (keep, child) = state.subset.judge(ctx, name);
        frame.child = child;
        match child {
            Ctx::Meta => state.meta_seen = true,
            Ctx::Tags => state.tags_seen = true,
            _ => {}
        }
        if matches!(ctx, Ctx::Top(_))
            && !state.meta_seen
            && !matches!(name, "resourceType" | "id" | "meta")
        {
            // The resource has no `meta` (it would come before this member): one is
            // written for the tag, where it belongs.
            state.meta_seen = true;
            self.inject(Injected::Meta);
        }
        let Some(state) = self.subset.as_deref_mut() else {
            return;
        };
        if !keep {
            self.muted = true;
            state.muted = Some(Muted {
                depth,
                first: self.first,
            });
            std::mem::swap(&mut self.out, &mut state.scratch);
            self.out.clear();
        }
    }

    /// Ends the member left out at `depth`, if one is: the output goes back to the real
    /// buffer as it was before that member.
    fn unmute_at(&mut self, depth: usize) {
        let Some(state) = self.subset.as_deref_mut() else {
            return;
        };
        match state.muted {
            Some(muted) if muted.depth == depth => {
                self.muted = false;
                // Checkpoints taken while it was written refer to the scratch buffer, and
                // the generated code takes them only inside the member, so none outlives it.
                std::mem::swap(&mut self.out, &mut state.scratch);
                self.first = muted.first;
                state.muted = None;
            }
            _ => {}
        }
    }
}

/// Writes `value`, a resource, as JSON subset as `subset` says.
pub fn to_vec_subset<T: JsonValue>(value: &T, subset: &Subset, pretty: bool) -> Vec<u8> {
    let mut w = JsonWriter::new(Vec::with_capacity(1024), pretty);
    w.write_subset(value, subset);
    w.into_inner()
}
