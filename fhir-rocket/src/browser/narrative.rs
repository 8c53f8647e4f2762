//! The narrative of the browser view: the resource's XHTML read as XML and written again with
//! only plain markup (FHIR's narrative elements and attributes, safe URLs and styles), every
//! text escaped; what was left out is named under it.

use super::escape_into;
use std::collections::BTreeSet;

/// The elements a narrative keeps (the plain markup of FHIR's XHTML), with whether each is
/// void in HTML. Any other element is left out with everything in it.
const ELEMENTS: &[(&str, bool)] = &[
    ("a", false),
    ("abbr", false),
    ("acronym", false),
    ("address", false),
    ("b", false),
    ("bdo", false),
    ("big", false),
    ("blockquote", false),
    ("br", true),
    ("caption", false),
    ("cite", false),
    ("code", false),
    ("col", true),
    ("colgroup", false),
    ("dd", false),
    ("del", false),
    ("dfn", false),
    ("div", false),
    ("dl", false),
    ("dt", false),
    ("em", false),
    ("h1", false),
    ("h2", false),
    ("h3", false),
    ("h4", false),
    ("h5", false),
    ("h6", false),
    ("hr", true),
    ("i", false),
    ("img", true),
    ("ins", false),
    ("kbd", false),
    ("li", false),
    ("ol", false),
    ("p", false),
    ("pre", false),
    ("q", false),
    ("s", false),
    ("samp", false),
    ("small", false),
    ("span", false),
    ("strong", false),
    ("sub", false),
    ("sup", false),
    ("table", false),
    ("tbody", false),
    ("td", false),
    ("tfoot", false),
    ("th", false),
    ("thead", false),
    ("tr", false),
    ("tt", false),
    ("u", false),
    ("ul", false),
    ("var", false),
];

/// The attributes a narrative keeps, on any element it keeps; `href` (on `a`), `src` (on
/// `img`) and `style` are checked further. Any other is left out.
const ATTRIBUTES: &[&str] = &[
    "abbr",
    "align",
    "alt",
    "border",
    "cellpadding",
    "cellspacing",
    "class",
    "colspan",
    "dir",
    "headers",
    "height",
    "href",
    "id",
    "lang",
    "name",
    "rowspan",
    "scope",
    "span",
    "src",
    "start",
    "style",
    "summary",
    "title",
    "type",
    "valign",
    "value",
    "width",
];

/// A narrative's XHTML as HTML that can do nothing but show: it is read as XML and written
/// again with only the elements and attributes of [`ELEMENTS`] and [`ATTRIBUTES`] (a link's
/// and an image's URL and a style checked too), every text and attribute value escaped.
/// Also what was left out, to say so; an error when it is not well-formed XML.
pub(super) fn clean_narrative(div: &str) -> Result<(String, BTreeSet<String>), String> {
    use quick_xml::events::{BytesStart, Event};
    let mut reader = quick_xml::Reader::from_str(div);
    let mut out = String::with_capacity(div.len());
    let mut left_out = BTreeSet::new();
    // How deep inside an element that is left out the reader is.
    let mut skipping = 0usize;
    let element = |name: &str| {
        ELEMENTS
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .copied()
    };
    let start = |e: &BytesStart<'_>, out: &mut String, left_out: &mut BTreeSet<String>| {
        let local = e.local_name();
        let Some((name, void)) = element(local.as_ref()) else {
            left_out.insert(format!("the element <{}>", e.name().as_ref()));
            return None;
        };
        out.push('<');
        out.push_str(name);
        for attr in e.attributes() {
            let Ok(attr) = attr else {
                left_out.insert("an attribute that is not well-formed".into());
                continue;
            };
            let key = attr.key.as_ref().to_string();
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let local = if key.eq_ignore_ascii_case("xml:lang") {
                "lang"
            } else {
                key.as_str()
            };
            let Some(allowed) = ATTRIBUTES
                .iter()
                .find(|a| a.eq_ignore_ascii_case(local))
                .copied()
            else {
                left_out.insert(format!("the attribute {key}"));
                continue;
            };
            let Ok(value) = attr.normalized_value(quick_xml::XmlVersion::Implicit1_0) else {
                left_out.insert(format!("the attribute {key} (not well-formed)"));
                continue;
            };
            let value = match allowed {
                "href" if name == "a" => safe_url(&value, &["http", "https", "mailto"]),
                "src" if name == "img" => safe_url(&value, &[]).or_else(|| {
                    let v = value.trim();
                    ["png", "gif", "jpeg", "webp"]
                        .iter()
                        .any(|t| {
                            v.get(..11 + t.len())
                                .is_some_and(|p| p.eq_ignore_ascii_case(&format!("data:image/{t}")))
                        })
                        .then(|| v.to_string())
                }),
                "href" | "src" => None,
                "style" => safe_style(&value).then(|| value.to_string()),
                _ => Some(value.to_string()),
            };
            let Some(value) = value else {
                left_out.insert(format!("the attribute {key}"));
                continue;
            };
            out.push(' ');
            out.push_str(allowed);
            out.push_str("=\"");
            escape_into(out, &value);
            out.push('"');
        }
        out.push('>');
        Some(void)
    };
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("it is not well-formed XML: {e}"))?;
        match event {
            Event::Start(e) => {
                if skipping > 0 {
                    skipping += 1;
                } else if start(&e, &mut out, &mut left_out).is_none() {
                    skipping = 1;
                }
            }
            Event::Empty(e) if skipping == 0 => {
                // `<p/>` is no end tag in HTML: the element is closed.
                if let Some(false) = start(&e, &mut out, &mut left_out) {
                    out.push_str("</");
                    out.push_str(element(e.local_name().as_ref()).map_or("", |(n, _)| n));
                    out.push('>');
                }
            }
            Event::End(e) => {
                if skipping > 0 {
                    skipping -= 1;
                } else if let Some((name, false)) = element(e.local_name().as_ref()) {
                    out.push_str("</");
                    out.push_str(name);
                    out.push('>');
                }
            }
            Event::Text(t) if skipping == 0 => escape_into(&mut out, &t.xml10_content()),
            Event::CData(t) if skipping == 0 => escape_into(&mut out, &t.xml10_content()),
            Event::GeneralRef(r) if skipping == 0 => {
                let mut buf = [0u8; 4];
                match r.resolve_char_ref() {
                    Ok(Some(c)) => escape_into(&mut out, c.encode_utf8(&mut buf)),
                    _ => match quick_xml::escape::resolve_predefined_entity(&r) {
                        Some(text) => escape_into(&mut out, text),
                        None => {
                            left_out.insert(format!("the entity &{};", &*r));
                        }
                    },
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok((out, left_out))
}

/// A URL of a narrative that may stay: relative, or of one of `schemes`; as the browser
/// would read it (without the tabs and line breaks it ignores).
fn safe_url(value: &str, schemes: &[&str]) -> Option<String> {
    let url: String = value
        .trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let scheme = match url.find([':', '/', '?', '#']) {
        Some(i) if url.as_bytes()[i] == b':' => Some(&url[..i]),
        _ => None,
    };
    match scheme {
        None => Some(url),
        Some(s) if schemes.iter().any(|k| k.eq_ignore_ascii_case(s)) => Some(url),
        Some(_) => None,
    }
}

/// Whether a narrative's `style` only styles: nothing that loads or runs.
fn safe_style(style: &str) -> bool {
    let lower = style.to_ascii_lowercase();
    ![
        "url(",
        "image(",
        "image-set(",
        "expression",
        "javascript",
        "@import",
        "\\",
        "<",
        "behavior",
        "binding",
    ]
    .iter()
    .any(|bad| lower.contains(bad))
}
