//! Helpers the generated code calls for each member. Not a stable API.
#![doc(hidden)]

use super::{JsonObject, JsonReader, JsonResult, JsonValue, JsonWriter, PrimitiveValue};
use crate::primitive::{ElementParts, ELEMENT_PARTS_BYTES};
use crate::{Boxed, BoxedDrop, Primitive};
use std::mem::size_of;

/// Reads the members of an object into `obj`: the one loop over members, for every type.
pub fn read_members(obj: &mut dyn JsonObject, r: &mut JsonReader<'_>) -> JsonResult<()> {
    r.begin_object("an object")?;
    let mut first = true;
    while let Some(key) = r.next_key(first)? {
        first = false;
        match obj.read_member(&key, r) {
            Ok(true) => {}
            Ok(false) if r.strict() => {
                return Err(r.error(format!("unknown element '{key}'")).in_member(&key));
            }
            Ok(false) => r.skip_value().map_err(|e| e.in_member(&key))?,
            Err(e) => return Err(e.in_member(&key)),
        }
    }
    if first && r.strict() {
        return Err(r.error("empty objects are not allowed in FHIR JSON"));
    }
    Ok(())
}

#[cold]
fn duplicate(r: &JsonReader<'_>) -> super::JsonError {
    r.error("the element appears more than once")
}

/// Checks the `resourceType` member of a resource read as its own type.
pub fn resource_type(r: &mut JsonReader<'_>, expected: &str) -> JsonResult<()> {
    let start = r.value_start();
    let found = r.read_str()?;
    if found != expected {
        return Err(r.error_at(
            start,
            format!("expected resourceType '{expected}', found '{found}'"),
        ));
    }
    Ok(())
}

/// A singular struct member.
pub fn object<T: JsonObject + Default>(
    slot: &mut Option<T>,
    r: &mut JsonReader<'_>,
) -> JsonResult<()> {
    if slot.is_some() {
        return Err(duplicate(r));
    }
    let mut value = T::default();
    read_members(&mut value, r)?;
    *slot = Some(value);
    Ok(())
}

/// A singular struct member stored in a box (recursive types).
pub fn boxed_object<T: JsonObject + Default + BoxedDrop>(
    slot: &mut Option<Boxed<T>>,
    r: &mut JsonReader<'_>,
) -> JsonResult<()> {
    if slot.is_some() {
        return Err(duplicate(r));
    }
    *slot = Some(boxed(r)?);
    Ok(())
}

/// Reads a struct directly into a box, so large resources are never built on the stack.
pub fn boxed<T: JsonObject + Default + BoxedDrop>(r: &mut JsonReader<'_>) -> JsonResult<Boxed<T>> {
    r.charge_alloc(size_of::<T>())?;
    let mut value = Box::<T>::default();
    read_members(&mut *value, r)?;
    Ok(Boxed::from_box(value))
}

/// Reads the items of an array, calling `item` for each with its index; an empty array is an
/// error in strict mode.
fn array(
    r: &mut JsonReader<'_>,
    mut item: impl FnMut(&mut JsonReader<'_>, usize) -> JsonResult<()>,
) -> JsonResult<usize> {
    r.begin_array()?;
    let mut index = 0;
    while r.next_item(index == 0)? {
        item(r, index).map_err(|e| e.in_item(index))?;
        index += 1;
    }
    if index == 0 && r.strict() {
        return Err(r.error("empty arrays are not allowed in FHIR JSON"));
    }
    Ok(index)
}

/// Appends to a list read from JSON. The list grows by doubling from one item, and each growth
/// is counted against the reader's memory limit before it is made.
#[inline]
fn push<T>(list: &mut Vec<T>, value: T, r: &mut JsonReader<'_>) -> JsonResult<()> {
    if list.len() == list.capacity() {
        grow(list, r)?;
    }
    list.push(value);
    Ok(())
}

#[inline(never)]
fn grow<T>(list: &mut Vec<T>, r: &mut JsonReader<'_>) -> JsonResult<()> {
    let old = list.capacity();
    let new = if old == 0 { 1 } else { old * 2 };
    r.charge_alloc(new * size_of::<T>())?;
    list.reserve_exact(new - list.len());
    r.refund_alloc(old * size_of::<T>());
    Ok(())
}

/// Gives back the room a list read from JSON has left over, when that is worth a reallocation
/// (doubling leaves up to half of a long list's room empty).
#[inline]
fn fit<T>(list: &mut Vec<T>, r: &mut JsonReader<'_>) {
    let spare = (list.capacity() - list.len()) * size_of::<T>();
    if spare >= 1024 {
        r.refund_alloc(list.capacity() * size_of::<T>());
        list.shrink_to_fit();
        r.charge_unchecked(list.capacity() * size_of::<T>());
    }
}

/// A repeating struct member.
pub fn objects<T: JsonObject + Default>(
    list: &mut Vec<T>,
    r: &mut JsonReader<'_>,
) -> JsonResult<()> {
    if !list.is_empty() {
        return Err(duplicate(r));
    }
    array(r, |r, _| {
        let mut value = T::default();
        read_members(&mut value, r)?;
        push(list, value, r)
    })?;
    fit(list, r);
    Ok(())
}

/// A singular member of a type that reads itself (the `Resource` enums).
pub fn value<T: JsonValue>(slot: &mut Option<T>, r: &mut JsonReader<'_>) -> JsonResult<()> {
    if slot.is_some() {
        return Err(duplicate(r));
    }
    *slot = Some(T::read_json(r)?);
    Ok(())
}

/// A repeating member of a type that reads itself.
pub fn values<T: JsonValue>(list: &mut Vec<T>, r: &mut JsonReader<'_>) -> JsonResult<()> {
    if !list.is_empty() {
        return Err(duplicate(r));
    }
    array(r, |r, _| {
        let value = T::read_json(r)?;
        push(list, value, r)
    })?;
    fit(list, r);
    Ok(())
}

/// A plain string member (`Element.id`, `Extension.url`, the narrative `div`).
pub fn string(slot: &mut Option<String>, r: &mut JsonReader<'_>) -> JsonResult<()> {
    if slot.is_some() {
        return Err(duplicate(r));
    }
    let s = r.read_string()?;
    r.charge_alloc(s.capacity())?;
    *slot = Some(s);
    Ok(())
}

/// A repeating plain string member.
pub fn strings(list: &mut Vec<String>, r: &mut JsonReader<'_>) -> JsonResult<()> {
    if !list.is_empty() {
        return Err(duplicate(r));
    }
    array(r, |r, _| {
        let s = r.read_string()?;
        r.charge_alloc(s.capacity())?;
        push(list, s, r)
    })?;
    fit(list, r);
    Ok(())
}

fn prim_value_into<V: PrimitiveValue, X>(
    p: &mut Primitive<V, X>,
    r: &mut JsonReader<'_>,
) -> JsonResult<()> {
    if p.value.is_some() {
        return Err(duplicate(r));
    }
    p.value = Some(read_prim_value(r)?);
    Ok(())
}

/// Reads a primitive's value, counting its heap bytes against the memory limit.
#[inline]
fn read_prim_value<V: PrimitiveValue>(r: &mut JsonReader<'_>) -> JsonResult<V> {
    let value = V::read_value(r)?;
    let heap = value.heap_size();
    if heap != 0 {
        r.charge_alloc(heap)?;
    }
    Ok(value)
}

/// The members of a primitive's `_name` object: `id` and `extension`.
struct PrimitiveElement<'a, X>(&'a mut ElementParts<X>);

impl<X: JsonObject + Default> JsonObject for PrimitiveElement<'_, X> {
    fn read_member(&mut self, key: &str, r: &mut JsonReader<'_>) -> JsonResult<bool> {
        match key {
            "id" => string(&mut self.0.id, r)?,
            "extension" => objects(&mut self.0.extension, r)?,
            _ => return Ok(false),
        }
        Ok(true)
    }
    fn write_members(&self, _: &mut JsonWriter) {}
}

/// Reads a `_name` object into `p`, whose id and extensions must still be empty.
fn read_element<V, X: JsonObject + Default>(
    p: &mut Primitive<V, X>,
    r: &mut JsonReader<'_>,
) -> JsonResult<()> {
    let (parts, made) = p.parts_mut_new();
    if made {
        r.charge_alloc(ELEMENT_PARTS_BYTES)?;
    }
    read_members(&mut PrimitiveElement(parts), r)
}

fn prim_element_into<V, X: JsonObject + Default>(
    p: &mut Primitive<V, X>,
    r: &mut JsonReader<'_>,
) -> JsonResult<()> {
    if p.has_id_or_extension() {
        return Err(duplicate(r));
    }
    read_element(p, r)
}

/// The value of a singular primitive member (`birthDate`).
pub fn prim<V: PrimitiveValue, X>(
    slot: &mut Option<Primitive<V, X>>,
    r: &mut JsonReader<'_>,
) -> JsonResult<()> {
    prim_value_into(slot.get_or_insert_with(Primitive::default), r)
}

/// The id and extensions of a singular primitive member (`_birthDate`).
pub fn prim_ext<V, X: JsonObject + Default>(
    slot: &mut Option<Primitive<V, X>>,
    r: &mut JsonReader<'_>,
) -> JsonResult<()> {
    prim_element_into(slot.get_or_insert_with(Primitive::default), r)
}

#[cold]
fn misaligned(r: &JsonReader<'_>, had: usize, got: usize) -> super::JsonError {
    r.error(format!(
        "a primitive array and its '_' array must have the same length ({had} and {got})"
    ))
}

/// The values of a repeating primitive member (`given`); `null` items align with `_given`.
pub fn prims<V: PrimitiveValue, X>(
    list: &mut Vec<Primitive<V, X>>,
    r: &mut JsonReader<'_>,
) -> JsonResult<()> {
    let had = list.len();
    if list.iter().any(|p| p.value.is_some()) {
        return Err(duplicate(r));
    }
    let count = array(r, |r, i| {
        if i >= list.len() {
            push(list, Primitive::default(), r)?;
        }
        if r.take_null()? {
            return Ok(());
        }
        list[i].value = Some(read_prim_value(r)?);
        Ok(())
    })?;
    if had != 0 && had != count {
        return Err(misaligned(r, had, count));
    }
    fit(list, r);
    Ok(())
}

/// The ids and extensions of a repeating primitive member (`_given`).
pub fn prims_ext<V, X: JsonObject + Default>(
    list: &mut Vec<Primitive<V, X>>,
    r: &mut JsonReader<'_>,
) -> JsonResult<()> {
    let had = list.len();
    if list.iter().any(Primitive::has_id_or_extension) {
        return Err(duplicate(r));
    }
    let count = array(r, |r, i| {
        if i >= list.len() {
            push(list, Primitive::default(), r)?;
        }
        if r.take_null()? {
            return Ok(());
        }
        read_element(&mut list[i], r)
    })?;
    if had != 0 && had != count {
        return Err(misaligned(r, had, count));
    }
    fit(list, r);
    Ok(())
}

#[cold]
fn choice_conflict(r: &JsonReader<'_>) -> super::JsonError {
    r.error("a choice element has values of more than one type")
}

/// One type of a choice element whose type is a struct (`valueQuantity`).
pub fn choice_object<E, T: JsonObject + Default + BoxedDrop>(
    slot: &mut Option<E>,
    r: &mut JsonReader<'_>,
    wrap: fn(Boxed<T>) -> E,
) -> JsonResult<()> {
    if slot.is_some() {
        return Err(choice_conflict(r));
    }
    *slot = Some(wrap(boxed(r)?));
    Ok(())
}

/// One type of a choice element whose type is a primitive (`valueString` or `_valueString`).
pub fn choice_prim<E, V: PrimitiveValue, X: JsonObject + Default>(
    slot: &mut Option<E>,
    ext: bool,
    r: &mut JsonReader<'_>,
    wrap: fn(Primitive<V, X>) -> E,
    get: fn(&mut E) -> Option<&mut Primitive<V, X>>,
) -> JsonResult<()> {
    if slot.is_none() {
        *slot = Some(wrap(Primitive::default()));
    }
    let Some(p) = slot.as_mut().and_then(get) else {
        return Err(choice_conflict(r));
    };
    if ext {
        prim_element_into(p, r)
    } else {
        prim_value_into(p, r)
    }
}

// Writing.

fn write_element<V, X: JsonObject>(w: &mut JsonWriter, p: &Primitive<V, X>) -> bool {
    w.begin_object();
    if let Some(id) = p.id() {
        w.key("id");
        w.string(id);
    }
    w_objects(w, "extension", p.extension());
    w.end_object()
}

/// A primitive as one XML element: its `id` and `value` attributes, its extensions inside.
fn xml_prim<V: PrimitiveValue, X: JsonObject>(
    w: &mut JsonWriter,
    base: &str,
    suffix: &str,
    p: &Primitive<V, X>,
) {
    if p.value.is_none() && !p.has_id_or_extension() {
        return;
    }
    w.xml_open(base, suffix);
    if let Some(id) = p.id() {
        w.xml_attribute("id", id);
    }
    if let Some(v) = &p.value {
        let at = w.out.len();
        v.write_value(w);
        w.xml_value_written(at);
    }
    w_objects(w, "extension", p.extension());
    w.xml_close();
}

fn w_prim_parts<V: PrimitiveValue, X: JsonObject>(
    w: &mut JsonWriter,
    base: &str,
    suffix: &str,
    p: &Primitive<V, X>,
) {
    if w.xml.is_some() {
        return xml_prim(w, base, suffix, p);
    }
    if let Some(v) = &p.value {
        w.key_parts(false, base, suffix);
        if !w.skips_value() {
            v.write_value(w);
        }
    }
    if p.has_id_or_extension() {
        let cp = w.checkpoint();
        w.key_parts(true, base, suffix);
        if w.skips_value() {
            return;
        }
        if !write_element(w, p) {
            w.rollback(cp);
        }
    }
}

/// A singular primitive member and its `_` sibling.
pub fn w_prim<V: PrimitiveValue, X: JsonObject>(
    w: &mut JsonWriter,
    name: &str,
    p: Option<&Primitive<V, X>>,
) {
    if let Some(p) = p {
        w_prim_parts(w, name, "", p);
    }
}

/// A repeating primitive member and its `_` sibling, aligned by `null`s.
pub fn w_prims<V: PrimitiveValue, X: JsonObject>(
    w: &mut JsonWriter,
    name: &str,
    list: &[Primitive<V, X>],
) {
    if w.xml.is_some() {
        for p in list {
            xml_prim(w, name, "", p);
        }
        return;
    }
    if list.iter().any(|p| p.value.is_some()) {
        w.key(name);
    }
    if !w.skips_value() && list.iter().any(|p| p.value.is_some()) {
        w.begin_array();
        for p in list {
            w.item();
            match &p.value {
                Some(v) => v.write_value(w),
                None => w.null(),
            }
        }
        w.end_array();
    }
    if list.iter().any(Primitive::has_id_or_extension) {
        w.key_parts(true, name, "");
        if w.skips_value() {
            return;
        }
        w.begin_array();
        for p in list {
            let cp = w.checkpoint();
            w.item();
            if !write_element(w, p) {
                w.rollback(cp);
                w.item();
                w.null();
            }
        }
        w.end_array();
    }
}

/// A plain string member.
pub fn w_string(w: &mut JsonWriter, name: &str, s: Option<&str>) {
    if let (Some(s), true) = (s, w.xml.is_some()) {
        // In XML, the model's plain strings are `Element.id` and `Extension.url`, which are
        // attributes, and the narrative's XHTML.
        match name {
            "div" => w.xml_div(s),
            _ => w.xml_attribute(name, s),
        }
        return;
    }
    if let Some(s) = s {
        w.key(name);
        if !w.skips_value() {
            w.string(s);
        }
    }
}

/// A repeating plain string member.
pub fn w_strings(w: &mut JsonWriter, name: &str, list: &[String]) {
    if w.xml.is_some() {
        for s in list {
            w.xml_value_element(name, s);
        }
        return;
    }
    if !list.is_empty() {
        w.key(name);
        if w.skips_value() {
            return;
        }
        w.begin_array();
        for s in list {
            w.item();
            w.string(s);
        }
        w.end_array();
    }
}

fn w_object_parts<T: JsonObject + ?Sized>(w: &mut JsonWriter, base: &str, suffix: &str, v: &T) {
    if w.xml.is_some() {
        return w.xml_element(base, suffix, |w| v.write_members(w));
    }
    let cp = w.checkpoint();
    w.key_parts(false, base, suffix);
    if w.skips_value() {
        return;
    }
    w.begin_object();
    v.write_members(w);
    if !w.end_object() {
        w.rollback(cp);
    }
}

/// A singular struct member; left out when it has no content.
pub fn w_object<T: JsonObject>(w: &mut JsonWriter, name: &str, v: Option<&T>) {
    if let Some(v) = v {
        w_object_parts(w, name, "", v);
    }
}

/// A repeating struct member; items without content are left out.
pub fn w_objects<T: JsonObject>(w: &mut JsonWriter, name: &str, list: &[T]) {
    if list.is_empty() {
        return;
    }
    if w.xml.is_some() {
        for v in list {
            w.xml_element(name, "", |w| v.write_members(w));
        }
        return;
    }
    let cp = w.checkpoint();
    w.key(name);
    if w.skips_value() {
        return;
    }
    w.begin_array();
    for v in list {
        let item = w.checkpoint();
        w.item();
        w.begin_object();
        v.write_members(w);
        if !w.end_object() {
            w.rollback(item);
        }
    }
    if !w.end_array() {
        w.rollback(cp);
    }
}

/// A struct written as a whole value (a resource inside the `Resource` enum).
pub fn w_object_value<T: JsonObject + ?Sized>(w: &mut JsonWriter, v: &T) {
    w.begin_object();
    v.write_members(w);
    w.end_object();
}

/// A singular member of a type that writes itself.
pub fn w_value<T: JsonValue>(w: &mut JsonWriter, name: &str, v: Option<&T>) {
    if let (Some(v), true) = (v, w.xml.is_some()) {
        // A resource inside a resource: wrapped in an element of its type.
        return w.xml_element(name, "", |w| v.write_json(w));
    }
    if let Some(v) = v {
        w.key(name);
        if !w.skips_value() {
            v.write_json(w);
        }
    }
}

/// A repeating member of a type that writes itself.
pub fn w_values<T: JsonValue>(w: &mut JsonWriter, name: &str, list: &[T]) {
    if w.xml.is_some() {
        for v in list {
            w.xml_element(name, "", |w| v.write_json(w));
        }
        return;
    }
    if !list.is_empty() {
        w.key(name);
        if w.skips_value() {
            return;
        }
        w.begin_array();
        for v in list {
            w.item();
            v.write_json(w);
        }
        w.end_array();
    }
}

/// A primitive type of a choice element (`valueString`).
pub fn w_choice_prim<V: PrimitiveValue, X: JsonObject>(
    w: &mut JsonWriter,
    base: &str,
    suffix: &str,
    p: &Primitive<V, X>,
) {
    w_prim_parts(w, base, suffix, p);
}

/// A struct type of a choice element (`valueQuantity`).
pub fn w_choice_object<T: JsonObject>(w: &mut JsonWriter, base: &str, suffix: &str, v: &T) {
    w_object_parts(w, base, suffix, v);
}
