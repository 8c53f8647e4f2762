//! FHIR search value escaping (`\,` `\|` `\$` `\\`).
//!
//! In a search value a backslash escapes the next character, and only four
//! escapes exist: `\,` (a literal comma, not an OR separator), `\|` (a literal
//! bar, not a token/quantity separator), `\$` (a literal dollar, not a composite
//! separator) and `\\` (a literal backslash).
//!
//! Values are first *split* on unescaped separators (with escapes kept intact),
//! and each final part is then *unescaped*. This module is strict: a lone
//! trailing `\` and any other escape such as `\n` or `\a` are errors when
//! unescaping (splitting never fails; it simply never splits on an escaped
//! character).

/// Splits `s` on every occurrence of `sep` that is not escaped with a backslash.
///
/// Escapes are kept as they are in the returned parts, so each part can be
/// split again on another separator before it is [unescaped](unescape).
///
/// ```
/// use fhir_rocket::search::escape::split_unescaped;
///
/// assert_eq!(split_unescaped(r"a\,b,c", ','), vec![r"a\,b", "c"]);
/// assert_eq!(split_unescaped(r"a\\,b", ','), vec![r"a\\", "b"]);
/// ```
pub fn split_unescaped(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for i in unescaped(s, sep) {
        parts.push(&s[start..i]);
        start = i + sep.len_utf8();
    }
    parts.push(&s[start..]);
    parts
}

/// Splits `s` on the first unescaped `sep`, if there is one.
pub(crate) fn split_once_unescaped(s: &str, sep: char) -> Option<(&str, &str)> {
    let i = unescaped(s, sep).next()?;
    Some((&s[..i], &s[i + sep.len_utf8()..]))
}

/// The byte positions of the occurrences of `sep` in `s` that no backslash escapes.
fn unescaped(s: &str, sep: char) -> impl Iterator<Item = usize> + '_ {
    let mut escaped = false;
    s.char_indices().filter_map(move |(i, c)| {
        if escaped {
            escaped = false;
            None
        } else if c == '\\' {
            escaped = true;
            None
        } else {
            (c == sep).then_some(i)
        }
    })
}

/// Whether `s` contains `sep` unescaped.
pub(crate) fn contains_unescaped(s: &str, sep: char) -> bool {
    split_once_unescaped(s, sep).is_some()
}

/// Resolves the escapes `\,` `\|` `\$` `\\` in `s`.
///
/// Errors on a lone trailing backslash and on any other escape sequence.
///
/// ```
/// use fhir_rocket::search::escape::unescape;
///
/// assert_eq!(unescape(r"a\,b\|c\$d\\e").unwrap(), r"a,b|c$d\e");
/// assert!(unescape(r"oops\").is_err());
/// assert!(unescape(r"\n").is_err());
/// ```
pub fn unescape(s: &str) -> Result<String, String> {
    if !s.contains('\\') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(e @ (',' | '|' | '$' | '\\')) => out.push(e),
            Some(other) => {
                return Err(format!(
                    "'{s}' contains the invalid escape '\\{other}' (only \\, \\| \\$ and \\\\ are allowed)"
                ))
            }
            None => return Err(format!("'{s}' ends with a lone '\\'")),
        }
    }
    Ok(out)
}

/// Escapes `,` `|` `$` and `\` in `s` so that it can be used as one literal
/// part of a search value (the inverse of [`unescape`]).
///
/// ```
/// use fhir_rocket::search::escape::{escape, unescape};
///
/// let raw = r"a,b|c$d\e";
/// assert_eq!(escape(raw), r"a\,b\|c\$d\\e");
/// assert_eq!(unescape(&escape(raw)).unwrap(), raw);
/// ```
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, ',' | '|' | '$' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_basic() {
        assert_eq!(split_unescaped("a,b,c", ','), vec!["a", "b", "c"]);
        assert_eq!(split_unescaped("", ','), vec![""]);
        assert_eq!(split_unescaped(",", ','), vec!["", ""]);
        assert_eq!(split_unescaped("abc", ','), vec!["abc"]);
    }

    #[test]
    fn split_respects_escapes() {
        assert_eq!(split_unescaped(r"a\,b,c", ','), vec![r"a\,b", "c"]);
        assert_eq!(split_unescaped(r"a\\,b", ','), vec![r"a\\", "b"]);
        assert_eq!(split_unescaped(r"a\\\,b", ','), vec![r"a\\\,b"]);
        assert_eq!(split_unescaped(r"s\|x|c", '|'), vec![r"s\|x", "c"]);
        assert_eq!(split_unescaped(r"a\$b$c", '$'), vec![r"a\$b", "c"]);
        // A different escaped separator does not protect this one.
        assert_eq!(split_unescaped(r"a\|b,c", ','), vec![r"a\|b", "c"]);
        // Trailing backslash: no panic, no split.
        assert_eq!(split_unescaped("a,b\\", ','), vec!["a", "b\\"]);
        // Multi-byte characters are kept intact.
        assert_eq!(split_unescaped("é,ü\\,ß", ','), vec!["é", "ü\\,ß"]);
    }

    #[test]
    fn split_once() {
        assert_eq!(
            split_once_unescaped(r"a\|b|c|d", '|'),
            Some((r"a\|b", "c|d"))
        );
        assert_eq!(split_once_unescaped(r"a\|b", '|'), None);
        assert!(contains_unescaped("x$y", '$'));
        assert!(!contains_unescaped(r"x\$y", '$'));
    }

    #[test]
    fn unescape_all_escapes() {
        assert_eq!(unescape(r"\,").unwrap(), ",");
        assert_eq!(unescape(r"\|").unwrap(), "|");
        assert_eq!(unescape(r"\$").unwrap(), "$");
        assert_eq!(unescape(r"\\").unwrap(), "\\");
        assert_eq!(unescape("plain").unwrap(), "plain");
        assert_eq!(unescape(r"Müller\, Hans").unwrap(), "Müller, Hans");
    }

    #[test]
    fn unescape_errors() {
        let e = unescape("abc\\").unwrap_err();
        assert!(e.contains("lone"), "{e}");
        let e = unescape(r"a\nb").unwrap_err();
        assert!(e.contains(r"'\n'"), "{e}");
        assert!(unescape(r"\é").is_err());
        assert!(unescape("\\").is_err());
    }

    #[test]
    fn escape_round_trip() {
        for s in ["", "a", r"\", ",|$\\", "x,y", "Ünïcødé$"] {
            let e = escape(s);
            assert_eq!(unescape(&e).unwrap(), s);
            assert_eq!(split_unescaped(&e, ',').len(), 1);
            assert_eq!(split_unescaped(&e, '|').len(), 1);
            assert_eq!(split_unescaped(&e, '$').len(), 1);
        }
    }
}
