//! The highlighter of the browser view: reads the JSON the kit wrote and writes it as
//! indented HTML spans, with links where a value names something on this server, gathering
//! what the page shows above it (type, id, narrative, Bundle links, issues).

use super::{escape_into, on_server, reference_href, MAX_DEPTH};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// What the page shows above the JSON, gathered while it is highlighted.
#[derive(Default)]
pub(super) struct Summary {
    pub(super) resource_type: Option<String>,
    pub(super) id: Option<String>,
    /// `Bundle.type`.
    pub(super) bundle_type: Option<String>,
    /// `Bundle.total`.
    pub(super) total: Option<String>,
    /// `text.div`.
    pub(super) narrative: Option<String>,
    /// `Bundle.link`, by index: relation and URL.
    pub(super) links: BTreeMap<usize, (Option<String>, Option<String>)>,
    /// `OperationOutcome.issue`, by index: severity, code, diagnostics.
    pub(super) issues: BTreeMap<usize, [Option<String>; 3]>,
}

/// Where a value is in the document: the keys and indexes down to it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The highlighter: reads JSON (compact or indented) and writes it indented, as HTML spans,
/// with links where a value names something on this server.
pub(super) struct Scan<'a> {
    pub(super) text: &'a str,
    pub(super) pos: usize,
    pub(super) base_url: &'a str,
    pub(super) out: String,
    pub(super) summary: Summary,
}

impl<'a> Scan<'a> {
    /// The whole document: one value and nothing after it but whitespace.
    pub(super) fn document(&mut self) -> Result<(), ()> {
        let mut path = Vec::new();
        self.value(&mut path, 0)?;
        self.ws();
        if self.pos == self.text.len() {
            Ok(())
        } else {
            Err(())
        }
    }

    fn ws(&mut self) {
        let bytes = self.text.as_bytes();
        while bytes
            .get(self.pos)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Result<u8, ()> {
        self.text.as_bytes().get(self.pos).copied().ok_or(())
    }

    fn newline(&mut self, indent: usize) {
        self.out.push('\n');
        for _ in 0..indent {
            self.out.push_str("  ");
        }
    }

    fn punct(&mut self, p: &str) {
        self.out.push_str("<span class=\"p\">");
        self.out.push_str(p);
        self.out.push_str("</span>");
    }

    fn value(&mut self, path: &mut Vec<Seg<'a>>, indent: usize) -> Result<(), ()> {
        if path.len() > MAX_DEPTH {
            return Err(());
        }
        self.ws();
        match self.peek()? {
            b'{' => {
                self.pos += 1;
                self.punct("{");
                self.ws();
                if self.peek()? == b'}' {
                    self.pos += 1;
                    self.punct("}");
                    return Ok(());
                }
                loop {
                    self.ws();
                    self.newline(indent + 1);
                    if self.peek()? != b'"' {
                        return Err(());
                    }
                    let (raw, inner) = self.string()?;
                    self.out.push_str("<span class=\"k\">");
                    escape_into(&mut self.out, raw);
                    self.out.push_str("</span>");
                    self.ws();
                    if self.peek()? != b':' {
                        return Err(());
                    }
                    self.pos += 1;
                    self.punct(":");
                    self.out.push(' ');
                    path.push(Seg::Key(inner));
                    self.value(path, indent + 1)?;
                    path.pop();
                    self.ws();
                    let next = self.peek()?;
                    self.pos += 1;
                    match next {
                        b',' => self.punct(","),
                        b'}' => {
                            self.newline(indent);
                            self.punct("}");
                            return Ok(());
                        }
                        _ => return Err(()),
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                self.punct("[");
                self.ws();
                if self.peek()? == b']' {
                    self.pos += 1;
                    self.punct("]");
                    return Ok(());
                }
                let mut index = 0;
                loop {
                    self.newline(indent + 1);
                    path.push(Seg::Index(index));
                    self.value(path, indent + 1)?;
                    path.pop();
                    index += 1;
                    self.ws();
                    let next = self.peek()?;
                    self.pos += 1;
                    match next {
                        b',' => self.punct(","),
                        b']' => {
                            self.newline(indent);
                            self.punct("]");
                            return Ok(());
                        }
                        _ => return Err(()),
                    }
                }
            }
            b'"' => {
                let (raw, inner) = self.string()?;
                self.string_value(path, raw, inner);
                Ok(())
            }
            b'-' | b'0'..=b'9' => {
                let start = self.pos;
                let bytes = self.text.as_bytes();
                while bytes
                    .get(self.pos)
                    .is_some_and(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                {
                    self.pos += 1;
                }
                let number = &self.text[start..self.pos];
                if path.as_slice() == [Seg::Key("total")] {
                    self.summary.total = Some(number.to_string());
                }
                self.out.push_str("<span class=\"n\">");
                self.out.push_str(number);
                self.out.push_str("</span>");
                Ok(())
            }
            _ => {
                let rest = &self.text[self.pos..];
                let literal = ["true", "false", "null"]
                    .into_iter()
                    .find(|l| rest.starts_with(l))
                    .ok_or(())?;
                self.pos += literal.len();
                self.out.push_str("<span class=\"b\">");
                self.out.push_str(literal);
                self.out.push_str("</span>");
                Ok(())
            }
        }
    }

    /// A string at the position: the token with its quotes, and its content as written.
    fn string(&mut self) -> Result<(&'a str, &'a str), ()> {
        let text: &'a str = self.text;
        let bytes = text.as_bytes();
        let start = self.pos;
        let mut i = start + 1;
        loop {
            match bytes.get(i) {
                None => return Err(()),
                Some(b'\\') => i += 2,
                Some(b'"') => break,
                Some(_) => i += 1,
            }
        }
        self.pos = i + 1;
        // Both ends are ASCII quotes, so both slices fall on character boundaries.
        Ok((&text[start..=i], &text[start + 1..i]))
    }

    /// A string value: noted when the page shows it above the JSON, a link when it names
    /// something on this server.
    fn string_value(&mut self, path: &[Seg<'a>], raw: &str, inner: &str) {
        let value = unescape_json(inner);
        let summary = &mut self.summary;
        let owned = || Some(value.to_string());
        match path {
            [Seg::Key("resourceType")] => summary.resource_type = owned(),
            [Seg::Key("id")] => summary.id = owned(),
            [Seg::Key("type")] => summary.bundle_type = owned(),
            [Seg::Key("text"), Seg::Key("div")] => summary.narrative = owned(),
            [Seg::Key("link"), Seg::Index(i), Seg::Key("relation")] => {
                summary.links.entry(*i).or_default().0 = owned();
            }
            [Seg::Key("link"), Seg::Index(i), Seg::Key("url")] => {
                summary.links.entry(*i).or_default().1 = owned();
            }
            [Seg::Key("issue"), Seg::Index(i), Seg::Key(field)] => {
                let slot = match *field {
                    "severity" => 0,
                    "code" => 1,
                    "diagnostics" => 2,
                    _ => 3,
                };
                if let Some(slot) = summary.issues.entry(*i).or_default().get_mut(slot) {
                    *slot = owned();
                }
            }
            _ => {}
        }
        let link = match path {
            [.., Seg::Key("reference")] => {
                reference_href(&value, self.base_url).map(|h| ("ref", h))
            }
            [.., Seg::Key("fullUrl")] | [Seg::Key("link"), Seg::Index(_), Seg::Key("url")] => {
                on_server(&value, self.base_url).then(|| ("url", value.to_string()))
            }
            _ => None,
        };
        if let Some((class, href)) = &link {
            self.out.push_str("<a class=\"");
            self.out.push_str(class);
            self.out.push_str("\" href=\"");
            escape_into(&mut self.out, href);
            self.out.push_str("\">");
        }
        self.out.push_str("<span class=\"s\">");
        escape_into(&mut self.out, raw);
        self.out.push_str("</span>");
        if link.is_some() {
            self.out.push_str("</a>");
        }
    }
}

/// The text of a JSON string's content (`a\"b` is `a"b`); an escape that is not one is kept
/// as written, a lone surrogate becomes U+FFFD.
pub(super) fn unescape_json(inner: &str) -> Cow<'_, str> {
    if !inner.contains('\\') {
        return Cow::Borrowed(inner);
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    let hex4 = |chars: &mut std::str::Chars<'_>| -> Option<u32> {
        let digits: String = chars.by_ref().take(4).collect();
        if digits.len() == 4 {
            u32::from_str_radix(&digits, 16).ok()
        } else {
            None
        }
    };
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('f') => out.push('\u{c}'),
            Some('u') => {
                let Some(first) = hex4(&mut chars) else {
                    out.push('\u{fffd}');
                    continue;
                };
                let code = if (0xD800..0xDC00).contains(&first) {
                    let rest = chars.as_str();
                    match rest.strip_prefix("\\u").and_then(|r| r.get(..4)) {
                        Some(low) => match u32::from_str_radix(low, 16) {
                            Ok(low @ 0xDC00..0xE000) => {
                                chars = rest[6..].chars();
                                0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
                            }
                            _ => 0xFFFD,
                        },
                        None => 0xFFFD,
                    }
                } else {
                    first
                };
                out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
            }
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Cow::Owned(out)
}
