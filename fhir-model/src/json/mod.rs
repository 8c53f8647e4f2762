//! FHIR JSON: reading and writing the generated model by the rules of the FHIR JSON format.
//!
//! The entry points here are compiled once, inside fhir-model; each generated type adds only a
//! small table-like `match` from member names to shared helpers. Reading keeps decimals as their
//! exact text, merges the `_element` siblings that carry primitives' ids and extensions
//! (including null-aligned arrays), and names the JSON path of every error. Writing emits no empty
//! objects, arrays or nulls (other than the nulls that align primitive arrays).
//!
//! ```
//! use fhir_model::{json, r4::Resource};
//! let text = r#"{"resourceType":"Observation","status":"final","code":{"text":"weight"},"valueQuantity":{"value":72.50,"unit":"kg"}}"#;
//! let resource: Resource = json::from_str(text).unwrap();
//! assert_eq!(json::to_string(&resource), text);
//! ```

pub(crate) mod error;
mod reader;
pub mod rt;
mod scan;
mod subset;
mod value;
mod writer;

pub use error::{JsonError, PathSegment};
pub use reader::JsonReader;
pub use subset::{
    to_vec_subset, Subset, SubsetMode, SUBSETTED_CODE, SUBSETTED_DISPLAY, SUBSETTED_SYSTEM,
};
pub use value::Value;
pub use writer::{Checkpoint, JsonWriter};

/// The result of reading JSON.
pub type JsonResult<T> = Result<T, JsonError>;

/// How JSON is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    /// Reject members the definitions do not know (`true`, the default), or skip them.
    pub strict: bool,
    /// The deepest nesting of objects and arrays accepted; deeper input is an error rather
    /// than a stack overflow.
    pub max_depth: u32,
    /// The most memory the value read may take, in bytes per byte of input (plus
    /// [`MEMORY_ALLOWANCE`]); 0 for no limit. Input that would take more is an error as soon as
    /// the count passes the limit (boxes and lists are counted before they are allocated), so
    /// one request cannot take memory out of proportion to its size: a body of millions of
    /// one-character strings or tiny objects would otherwise take tens of bytes per byte. The
    /// count is of the model's own allocations, with malloc's rounding.
    pub max_memory_factor: u32,
}

impl ReadOptions {
    /// Strict reading: unknown members are errors.
    pub const STRICT: ReadOptions = ReadOptions {
        strict: true,
        max_depth: DEFAULT_MAX_DEPTH,
        max_memory_factor: DEFAULT_MAX_MEMORY_FACTOR,
    };
    /// Lenient reading: unknown members are skipped.
    pub const LENIENT: ReadOptions = ReadOptions {
        strict: false,
        max_depth: DEFAULT_MAX_DEPTH,
        max_memory_factor: DEFAULT_MAX_MEMORY_FACTOR,
    };

    /// The memory limit for an input of `len` bytes, in bytes.
    pub fn memory_limit(&self, len: usize) -> usize {
        match self.max_memory_factor {
            0 => usize::MAX,
            f => len
                .saturating_mul(f as usize)
                .saturating_add(MEMORY_ALLOWANCE),
        }
    }
}

/// Default [`ReadOptions::max_memory_factor`]: with the input itself, reading takes at most
/// about 7 times the input's size (and at most 8 in malloc's real use).
pub const DEFAULT_MAX_MEMORY_FACTOR: u32 = 6;

/// Memory any input may take beside [`ReadOptions::max_memory_factor`] times its size, so that
/// small resources (whose structs are large beside their text) always fit.
pub const MEMORY_ALLOWANCE: usize = 1 << 20;

/// Default nesting limit. The deepest official example nests 24 levels; each level costs a few
/// stack frames, and 100 levels stay well inside a 2 MiB thread stack even in debug builds.
pub const DEFAULT_MAX_DEPTH: u32 = 100;

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions::STRICT
    }
}

/// A generated struct: reads and writes its members. Object-safe, so the loop over an object's
/// members is compiled once for all types.
pub trait JsonObject {
    /// Reads the value of member `key`; `Ok(false)` if the type has no such member.
    fn read_member(&mut self, key: &str, r: &mut JsonReader<'_>) -> JsonResult<bool>;
    /// Writes all members that have a value, in definition order.
    fn write_members(&self, w: &mut JsonWriter);
}

/// Anything that reads from and writes to a whole JSON value: every generated struct and the
/// `Resource` enums.
pub trait JsonValue: Sized {
    /// Reads one value.
    fn read_json(r: &mut JsonReader<'_>) -> JsonResult<Self>;
    /// Writes the value.
    fn write_json(&self, w: &mut JsonWriter);
}

impl<T: JsonObject + Default> JsonValue for T {
    fn read_json(r: &mut JsonReader<'_>) -> JsonResult<Self> {
        let mut value = T::default();
        rt::read_members(&mut value, r)?;
        Ok(value)
    }
    fn write_json(&self, w: &mut JsonWriter) {
        w.begin_object();
        self.write_members(w);
        w.end_object();
    }
}

/// The value of a FHIR primitive (`bool`, `String`, [`crate::Decimal`], code enums, ...).
pub trait PrimitiveValue: Sized {
    /// Reads the JSON value (string, number or boolean, as the type requires).
    fn read_value(r: &mut JsonReader<'_>) -> JsonResult<Self>;
    /// Writes the JSON value.
    fn write_value(&self, w: &mut JsonWriter);
    /// The bytes the value holds on the heap (a string's capacity), counted against
    /// [`ReadOptions::max_memory_factor`] when it is read.
    fn heap_size(&self) -> usize {
        0
    }
}

/// Reads a value strictly from JSON text.
pub fn from_str<T: JsonValue>(text: &str) -> JsonResult<T> {
    from_str_with(text, ReadOptions::STRICT)
}

/// Reads a value from JSON text with the given options.
pub fn from_str_with<T: JsonValue>(text: &str, options: ReadOptions) -> JsonResult<T> {
    from_str_limited(text, options, options.memory_limit(text.len()))
}

/// Reads a value with an explicit memory limit in bytes (the XML reader's, which counts the
/// XML document and its JSON form).
pub(crate) fn from_str_limited<T: JsonValue>(
    text: &str,
    options: ReadOptions,
    memory_limit: usize,
) -> JsonResult<T> {
    let mut r = JsonReader::new(text, options);
    r.set_memory_limit(memory_limit);
    let value = T::read_json(&mut r)?;
    r.finish()?;
    Ok(value)
}

/// Reads a value strictly from JSON bytes, which must be UTF-8.
pub fn from_slice<T: JsonValue>(bytes: &[u8]) -> JsonResult<T> {
    from_slice_with(bytes, ReadOptions::STRICT)
}

/// Reads a value from JSON bytes with the given options.
pub fn from_slice_with<T: JsonValue>(bytes: &[u8], options: ReadOptions) -> JsonResult<T> {
    match std::str::from_utf8(bytes) {
        Ok(text) => from_str_with(text, options),
        Err(e) => {
            let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            Err(JsonError::new(
                "the input is not valid UTF-8".into(),
                valid,
                valid.len(),
            ))
        }
    }
}

/// Writes a value as compact JSON.
pub fn to_string<T: JsonValue>(value: &T) -> String {
    bytes_to_string(to_vec(value, false))
}

/// Writes a value as JSON indented by two spaces.
pub fn to_string_pretty<T: JsonValue>(value: &T) -> String {
    bytes_to_string(to_vec(value, true))
}

/// Writes a value as JSON, indented when `pretty`.
pub fn to_string_with<T: JsonValue>(value: &T, pretty: bool) -> String {
    bytes_to_string(to_vec(value, pretty))
}

/// Writes a value as JSON bytes.
pub fn to_vec<T: JsonValue>(value: &T, pretty: bool) -> Vec<u8> {
    let mut w = JsonWriter::new(Vec::with_capacity(1024), pretty);
    value.write_json(&mut w);
    w.into_inner()
}

pub(crate) fn bytes_to_string(bytes: Vec<u8>) -> String {
    // The writers (JSON, and XML through it) only write UTF-8: string values come from `str`s and the rest is ASCII.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}
