//! The narrative's XHTML rules (`Narrative.div`, invariants `txt-1` and `txt-2`): one
//! well-formed `div` in the XHTML namespace holding only the basic HTML formatting elements
//! (chapters 7 to 11, but for section 9.4, and 15 of HTML 4.0, `<a>` and images), no scripts,
//! forms, frames, objects, style sheets, base, link or xlink, no event attributes (`onclick`),
//! no `javascript:` URLs, and some content that is not whitespace.

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::NsReader;

const XHTML_NS: &str = "http://www.w3.org/1999/xhtml";
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";

/// The elements a narrative may hold, sorted: those of HTML 4.0's chapters 7 to 11 and 15
/// that are not deprecated, less section 9.4 (`ins`, `del`), with `a`, `img`, `map` and `area`;
/// the list the FHIR validator applies.
const ALLOWED: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "address",
    "area",
    "b",
    "bdo",
    "big",
    "blockquote",
    "br",
    "caption",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "kbd",
    "li",
    "map",
    "ol",
    "p",
    "pre",
    "q",
    "samp",
    "small",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "ul",
    "var",
];

/// Elements that run code, load content or submit data: an issue of type `security`.
const ACTIVE: &[&str] = &[
    "applet", "base", "body", "button", "embed", "form", "frame", "frameset", "head", "html",
    "iframe", "input", "link", "meta", "object", "script", "select", "style", "textarea",
];

/// A broken rule: (issue type, rule, message).
pub(super) type Finding = (&'static str, &'static str, String);

/// What is wrong with a narrative `div`.
pub(super) fn check(div: &str) -> Vec<Finding> {
    if let Err(message) = crate::xml::check_div(div) {
        return vec![(
            "structure",
            "txt-1",
            format!("the narrative is not valid XHTML: {message}"),
        )];
    }
    let mut found = Vec::new();
    let mut content = false;
    let mut r = NsReader::from_str(div);
    loop {
        match r.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                content |= element(&r, &e, &mut found);
            }
            Ok(Event::Text(t)) => {
                content |= t.as_bytes().iter().any(|b| !b.is_ascii_whitespace());
            }
            Ok(Event::CData(t)) => {
                content |= t.as_bytes().iter().any(|b| !b.is_ascii_whitespace());
            }
            // A character or entity reference is content (`&#160;` shows as a space, but
            // someone wrote it).
            Ok(Event::GeneralRef(_)) => content = true,
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    if !content {
        found.push((
            "invariant",
            "txt-2",
            "the narrative has no content but whitespace (txt-2: it SHALL have some non-whitespace content)".into(),
        ));
    }
    found
}

/// Checks an element and its attributes; whether it is content in itself (an image).
fn element(r: &NsReader<&[u8]>, e: &BytesStart<'_>, found: &mut Vec<Finding>) -> bool {
    let (ns, local) = r.resolver().resolve_element(e.name());
    let name = local.as_ref().to_string();
    let qname = e.name().as_ref().to_string();
    if ns != ResolveResult::Bound(Namespace(XHTML_NS)) {
        found.push((
            "invariant",
            "txt-1",
            format!("<{qname}> is not an XHTML element: a narrative holds XHTML only"),
        ));
    } else if ACTIVE.contains(&name.as_str()) {
        found.push((
            "security",
            "txt-1",
            format!("<{name}> is not allowed in a narrative (no scripts, forms, frames, objects, styles, base or link)"),
        ));
    } else if ALLOWED.binary_search(&name.as_str()).is_err() {
        found.push((
            "invariant",
            "txt-1",
            format!("<{name}> is not allowed in a narrative (txt-1: only the basic HTML formatting elements)"),
        ));
    }
    for attr in e.attributes().flatten() {
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let (ns, local) = r.resolver().resolve_attribute(attr.key);
        let key = attr.key.as_ref().to_string();
        let local = local.as_ref().to_ascii_lowercase();
        if ns == ResolveResult::Bound(Namespace(XLINK_NS)) {
            found.push((
                "security",
                "txt-1",
                format!("the xlink attribute '{key}' of <{name}> is not allowed in a narrative"),
            ));
        } else if local.starts_with("on") {
            found.push((
                "security",
                "txt-1",
                format!("the event attribute '{key}' of <{name}> is not allowed in a narrative"),
            ));
        } else if is_script_url(&attr.value) {
            found.push((
                "security",
                "txt-1",
                format!("'{key}' of <{name}> is a script URL, which a narrative may not hold"),
            ));
        }
    }
    name == "img"
}

/// Whether an attribute value is a `javascript:` or `vbscript:` URL (ignoring case, spaces
/// and control characters, as browsers do; character references are not decoded, so
/// `&#106;avascript:` is caught by the `&` that stays in front).
fn is_script_url(text: &str) -> bool {
    let squeezed: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .flat_map(char::to_lowercase)
        .collect();
    let squeezed = decode_leading_refs(&squeezed);
    squeezed.starts_with("javascript:") || squeezed.starts_with("vbscript:")
}

/// Decodes numeric character references (`&#106;`, `&#x6A;`) so that an encoded scheme is
/// seen for what it is.
fn decode_leading_refs(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("&#") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find(';') else {
            out.push_str(&rest[start..]);
            return out;
        };
        let digits = &after[..end];
        let code = match digits.strip_prefix('x') {
            Some(hex) => u32::from_str_radix(hex, 16).ok(),
            None => digits.parse().ok(),
        };
        match code.and_then(char::from_u32) {
            Some(c) => out.extend(c.to_lowercase()),
            None => out.push_str(&rest[start..start + 3 + end]),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN: &str = r#"<div xmlns="http://www.w3.org/1999/xhtml">"#;

    fn rules(body: &str) -> Vec<(&'static str, &'static str, String)> {
        check(&format!("{OPEN}{body}</div>"))
    }

    #[test]
    fn the_allowed_list_is_sorted() {
        assert!(ALLOWED.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn scripts_events_and_script_urls_are_refused() {
        let found = rules("<p>x</p><script>alert(1)</script>");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, "security");
        assert!(found[0].2.contains("<script>"), "{found:?}");
        let found = rules(r#"<p onClick="x()">x</p>"#);
        assert_eq!(
            found[0].2,
            "the event attribute 'onClick' of <p> is not allowed in a narrative"
        );
        let found = rules(r#"<a href=" JavaScript:alert(1)">x</a>"#);
        assert_eq!(
            found[0].2,
            "'href' of <a> is a script URL, which a narrative may not hold"
        );
        assert_eq!(rules(r#"<a href="&#106;avascript:x">x</a>"#).len(), 1);
        assert!(rules(r#"<a href="https://example.org/javascript:">x</a>"#).is_empty());
    }

    #[test]
    fn only_basic_html_and_some_content() {
        assert!(rules("<p>Hello <b>you</b></p><table><tr><td>1</td></tr></table>").is_empty());
        assert!(rules(r#"<img src="x.png"/>"#).is_empty());
        let found = rules("<form><input/></form>x");
        assert_eq!(found.len(), 2);
        let found = rules("<u>x</u>");
        assert_eq!(found[0].1, "txt-1");
        let found = rules(" <p> </p> ");
        assert_eq!(found[0].1, "txt-2");
        let found = check("<p>x</p>");
        assert_eq!(found[0].0, "structure");
    }
}
