//! A pull reader over JSON text, made for the generated model: it hands out member names
//! without copying, keeps numbers as their exact text, and limits nesting depth so that no
//! input can overflow the stack.

use super::error::JsonError;
use super::scan::clean_prefix;
use super::{JsonResult, ReadOptions};
use std::borrow::Cow;

/// Reads JSON text token by token. Generated code drives it through `crate::json::rt`.
pub struct JsonReader<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
    options: ReadOptions,
    /// Bytes the value read so far holds on the heap (by [`alloc_cost`]), and the limit.
    memory: usize,
    memory_limit: usize,
}

/// What an allocation of `bytes` costs in glibc's malloc: its size plus an 8-byte header,
/// rounded up to 16 bytes, at least 32.
#[inline]
fn alloc_cost(bytes: usize) -> usize {
    if bytes == 0 {
        0
    } else {
        (bytes.saturating_add(8 + 15) & !15).max(32)
    }
}

impl<'a> JsonReader<'a> {
    /// A reader over `src`.
    pub fn new(src: &'a str, options: ReadOptions) -> Self {
        JsonReader {
            src,
            bytes: src.as_bytes(),
            pos: 0,
            depth: 0,
            options,
            memory: 0,
            memory_limit: options.memory_limit(src.len()),
        }
    }

    pub(crate) fn set_memory_limit(&mut self, limit: usize) {
        self.memory_limit = limit;
    }

    /// Counts an allocation of `bytes` that the value read is about to make (or has just made)
    /// against the memory limit.
    #[inline]
    pub(crate) fn charge_alloc(&mut self, bytes: usize) -> JsonResult<()> {
        self.memory = self.memory.saturating_add(alloc_cost(bytes));
        if self.memory > self.memory_limit {
            return Err(self.over_memory_limit());
        }
        Ok(())
    }

    /// Counts an allocation without checking the limit (one that replaces a larger one).
    #[inline]
    pub(crate) fn charge_unchecked(&mut self, bytes: usize) {
        self.memory = self.memory.saturating_add(alloc_cost(bytes));
    }

    /// Takes back the count of an allocation that was freed.
    #[inline]
    pub(crate) fn refund_alloc(&mut self, bytes: usize) {
        self.memory = self.memory.saturating_sub(alloc_cost(bytes));
    }

    #[cold]
    fn over_memory_limit(&self) -> JsonError {
        self.error(format!(
            "the resource would take more than {} bytes of memory, the limit for a body of {} bytes",
            self.memory_limit,
            self.src.len()
        ))
        .memory_limit()
    }

    /// Whether unknown members are errors.
    #[inline]
    pub fn strict(&self) -> bool {
        self.options.strict
    }

    /// An error at the current position.
    #[cold]
    pub fn error(&self, message: impl Into<String>) -> JsonError {
        JsonError::new(message.into(), self.src, self.pos)
    }

    /// An error at an earlier position, from [`JsonReader::value_start`]: errors about a
    /// value's content point at the start of the value.
    #[cold]
    pub fn error_at(&self, position: usize, message: impl Into<String>) -> JsonError {
        JsonError::new(message.into(), self.src, position)
    }

    /// The position where the next value starts.
    #[inline]
    pub fn value_start(&mut self) -> usize {
        self.skip_ws();
        self.pos
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&b) = self.bytes.get(self.pos) {
            if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    /// The next significant byte, without consuming it.
    #[inline]
    pub fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.bytes.get(self.pos).copied()
    }

    /// Fails unless only whitespace is left.
    pub fn finish(&mut self) -> JsonResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(self.error("unexpected text after the end of the JSON value")),
        }
    }

    #[cold]
    fn unexpected(&mut self, expected: &str) -> JsonError {
        let found = match self.peek() {
            None => "the end of the input",
            Some(b'{') => "an object",
            Some(b'[') => "an array",
            Some(b'"') => "a string",
            Some(b't' | b'f') => "a boolean",
            Some(b'n') => "null",
            Some(b'-' | b'0'..=b'9') => "a number",
            Some(_) => "an invalid character",
        };
        self.error(format!("expected {expected}, found {found}"))
    }

    fn enter(&mut self) -> JsonResult<()> {
        self.depth += 1;
        if self.depth > self.options.max_depth {
            return Err(self.error(format!(
                "JSON nesting is deeper than the limit of {} levels",
                self.options.max_depth
            )));
        }
        Ok(())
    }

    /// Consumes `{`, or fails naming what was expected.
    pub fn begin_object(&mut self, expected: &str) -> JsonResult<()> {
        if self.peek() != Some(b'{') {
            return Err(self.unexpected(expected));
        }
        self.pos += 1;
        self.enter()
    }

    /// The next member name of the current object (consuming the `:` after it), or `None`
    /// once the closing `}` is consumed.
    pub fn next_key(&mut self, first: bool) -> JsonResult<Option<Cow<'a, str>>> {
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                return Ok(None);
            }
            Some(b',') if !first => {
                self.pos += 1;
                self.skip_ws();
            }
            _ if first => {}
            _ => return Err(self.error("expected ',' or '}' after an object member")),
        }
        if self.peek() != Some(b'"') {
            return Err(self.error("expected a member name in double quotes"));
        }
        let key = self.string_token()?;
        if self.peek() != Some(b':') {
            return Err(self.error("expected ':' after a member name"));
        }
        self.pos += 1;
        Ok(Some(key))
    }

    /// Consumes `[`, or fails.
    pub fn begin_array(&mut self) -> JsonResult<()> {
        if self.peek() != Some(b'[') {
            return Err(self.unexpected("an array"));
        }
        self.pos += 1;
        self.enter()
    }

    /// Whether another item follows in the current array (consuming the comma), or `false`
    /// once the closing `]` is consumed.
    pub fn next_item(&mut self, first: bool) -> JsonResult<bool> {
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            Some(b',') if !first => {
                self.pos += 1;
                Ok(true)
            }
            Some(_) if first => Ok(true),
            _ => Err(self.error("expected ',' or ']' after an array item")),
        }
    }

    /// Consumes `null` if it is next.
    pub fn take_null(&mut self) -> JsonResult<bool> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn literal(&mut self, word: &[u8]) -> JsonResult<()> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.error("invalid literal"))
        }
    }

    /// Reads `true` or `false`.
    pub fn read_bool(&mut self) -> JsonResult<bool> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|_| true),
            Some(b'f') => self.literal(b"false").map(|_| false),
            _ => Err(self.unexpected("a boolean")),
        }
    }

    /// Reads a string value.
    pub fn read_str(&mut self) -> JsonResult<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected("a string"));
        }
        self.string_token()
    }

    /// Reads a string value into an owned `String`.
    pub fn read_string(&mut self) -> JsonResult<String> {
        self.read_str().map(Cow::into_owned)
    }

    /// Reads a number and returns its exact text.
    pub fn read_number(&mut self) -> JsonResult<&'a str> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {}
            _ => return Err(self.unexpected("a number")),
        }
        let start = self.pos;
        let b = self.bytes;
        let mut i = self.pos;
        if b[i] == b'-' {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while b.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => {
                self.pos = i;
                return Err(self.error("invalid number"));
            }
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            let digits = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == digits {
                self.pos = i;
                return Err(self.error("invalid number: no digits after the decimal point"));
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let digits = i;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == digits {
                self.pos = i;
                return Err(self.error("invalid number: no digits in the exponent"));
            }
        }
        self.pos = i;
        Ok(&self.src[start..i])
    }

    /// Reads the string token at the current position (which is a `"`).
    fn string_token(&mut self) -> JsonResult<Cow<'a, str>> {
        self.pos += 1;
        let start = self.pos;
        let b = self.bytes;
        let mut i = start;
        // Fast path: no escapes.
        loop {
            i += clean_prefix(&b[i..]);
            match b.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    return Ok(Cow::Borrowed(&self.src[start..i]));
                }
                Some(b'\\') => break,
                Some(&c) if c < 0x20 => {
                    self.pos = i;
                    return Err(self.error("control character in a string: it must be escaped"));
                }
                Some(_) => i += 1,
                None => {
                    self.pos = i;
                    return Err(self.error("unterminated string"));
                }
            }
        }
        let mut out = String::with_capacity(i - start + 16);
        out.push_str(&self.src[start..i]);
        let mut run = i;
        loop {
            i += clean_prefix(&b[i..]);
            match b.get(i) {
                Some(b'"') => {
                    out.push_str(&self.src[run..i]);
                    self.pos = i + 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => {
                    out.push_str(&self.src[run..i]);
                    i += 1;
                    let c = match b.get(i) {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos = i + 1;
                            let c = self.unicode_escape()?;
                            i = self.pos;
                            out.push(c);
                            run = i;
                            continue;
                        }
                        _ => {
                            self.pos = i;
                            return Err(self.error("invalid escape in a string"));
                        }
                    };
                    out.push(c);
                    i += 1;
                    run = i;
                }
                Some(&c) if c < 0x20 => {
                    self.pos = i;
                    return Err(self.error("control character in a string: it must be escaped"));
                }
                Some(_) => i += 1,
                None => {
                    self.pos = i;
                    return Err(self.error("unterminated string"));
                }
            }
        }
    }

    fn hex4(&mut self) -> JsonResult<u32> {
        let digits = self.bytes.get(self.pos..self.pos + 4);
        let value = digits
            .and_then(|d| std::str::from_utf8(d).ok())
            .filter(|d| d.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|d| u32::from_str_radix(d, 16).ok());
        match value {
            Some(v) => {
                self.pos += 4;
                Ok(v)
            }
            None => Err(self.error("invalid \\u escape: expected four hex digits")),
        }
    }

    fn unicode_escape(&mut self) -> JsonResult<char> {
        let first = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&first) {
            if !self.bytes[self.pos..].starts_with(b"\\u") {
                return Err(self.error("unpaired surrogate in a \\u escape"));
            }
            self.pos += 2;
            let second = self.hex4()?;
            if !(0xDC00..0xE000).contains(&second) {
                return Err(self.error("unpaired surrogate in a \\u escape"));
            }
            0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| self.error("unpaired surrogate in a \\u escape"))
    }

    /// Skips one value of any kind (used for unknown members in lenient mode).
    pub fn skip_value(&mut self) -> JsonResult<()> {
        match self.peek() {
            Some(b'{') => {
                self.begin_object("an object")?;
                let mut first = true;
                while self.next_key(first)?.is_some() {
                    first = false;
                    self.skip_value()?;
                }
                Ok(())
            }
            Some(b'[') => {
                self.begin_array()?;
                let mut first = true;
                while self.next_item(first)? {
                    first = false;
                    self.skip_value()?;
                }
                Ok(())
            }
            Some(b'"') => self.string_token().map(|_| ()),
            Some(b't' | b'f') => self.read_bool().map(|_| ()),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.read_number().map(|_| ()),
            _ => Err(self.unexpected("a JSON value")),
        }
    }

    /// Finds the `resourceType` of the object at the current position without consuming
    /// anything. FHIR writers put it first, where this is cheap; elsewhere the object is
    /// scanned.
    pub fn peek_resource_type(&mut self) -> JsonResult<Cow<'a, str>> {
        if self.peek() != Some(b'{') {
            return Err(self.unexpected("a resource (a JSON object)"));
        }
        let (start, depth) = (self.pos, self.depth);
        let result = self.scan_resource_type();
        self.pos = start;
        self.depth = depth;
        result
    }

    fn scan_resource_type(&mut self) -> JsonResult<Cow<'a, str>> {
        self.begin_object("a resource")?;
        let mut first = true;
        while let Some(key) = self.next_key(first)? {
            first = false;
            if key == "resourceType" {
                return self.read_str();
            }
            self.skip_value()?;
        }
        Err(self.error("a resource must have a resourceType member"))
    }

    /// An error for an unknown resource type.
    #[cold]
    pub fn unknown_resource_type(&self, ty: &str) -> JsonError {
        self.error(format!("unknown resource type '{ty}'"))
    }
}
