//! The formats of primitive values: the definitions' regexes (XML Schema syntax, compiled once
//! with the `regex` crate, anchored to the whole value) and what a regex cannot say: real
//! calendar dates, the time zone of a dateTime with a time, the ranges of integers.

use super::table::PrimitiveRule;
use regex::Regex;
use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};

/// Translates a regex of the definitions to the `regex` crate's syntax, anchored to the whole
/// value. XML Schema's `\s` is only space, tab, CR and LF (the `regex` crate's is Unicode's,
/// which would refuse a no-break space in a string), so `\s`, `\S` and `\d` are spelled out.
/// Two slips of the R5 definitions are read as meant: `^` and `$` (no anchors in XML Schema,
/// where every regex is anchored) are dropped, and a `}` that closes no `{` (R5's decimal,
/// `[0-9]{1,9}})?`) is left out rather than read as a character the value must contain.
pub(crate) fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    out.push_str("^(?:");
    let mut chars = pattern.chars();
    let mut class_depth = 0usize;
    let mut in_braces = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('s') if class_depth > 0 => out.push_str(" \\t\\n\\r"),
                Some('s') => out.push_str("[ \\t\\n\\r]"),
                Some('S') => out.push_str("[^ \\t\\n\\r]"),
                Some('d') if class_depth > 0 => out.push_str("0-9"),
                Some('d') => out.push_str("[0-9]"),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push_str("\\\\"),
            },
            '[' => {
                class_depth += 1;
                out.push('[');
                // `[^` negates the class.
                if chars.as_str().starts_with('^') {
                    out.push('^');
                    chars.next();
                }
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(']');
            }
            '^' | '$' if class_depth == 0 => {}
            '{' if class_depth == 0 => {
                in_braces = true;
                out.push('{');
            }
            '}' if class_depth == 0 => {
                if in_braces {
                    in_braces = false;
                    out.push('}');
                }
            }
            c => out.push(c),
        }
    }
    out.push_str(")$");
    out
}

/// The compiled regex of a pattern of the definitions, compiled once for the process; `None`
/// if it does not compile (then only the checks by hand apply).
pub(crate) fn compiled_regex(pattern: &'static str) -> Option<&'static Regex> {
    type Cache = RwLock<HashMap<&'static str, Option<&'static Regex>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.read().ok().and_then(|c| c.get(pattern).copied()) {
        return found;
    }
    let compiled = Regex::new(&translate(pattern))
        .ok()
        .map(|re| &*Box::leak(Box::new(re)));
    if let Ok(mut c) = cache.write() {
        c.insert(pattern, compiled);
    }
    compiled
}

/// Text for a message: long values are cut.
fn shown(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_string(),
    }
}

/// What is wrong with the value `text` of primitive type `p`, with the rule broken (`format`,
/// `date`); `None` when it is valid.
pub(super) fn check(p: &PrimitiveRule, text: &str) -> Option<(&'static str, String)> {
    if text.is_empty() {
        let article = if p.name.starts_with(['a', 'e', 'i', 'o']) {
            "an"
        } else {
            "a"
        };
        return Some((
            "format",
            format!(
                "{article} {} must not be empty: leave the element out",
                p.name
            ),
        ));
    }
    if let Some(re) = p.regex.and_then(compiled_regex) {
        if !re.is_match(text) {
            return Some((
                "format",
                format!("'{}' is not a valid {}", shown(text), p.name),
            ));
        }
    }
    let invalid = |why: String| {
        Some((
            "date",
            format!("'{}' is not a valid {}: {why}", shown(text), p.name),
        ))
    };
    match p.name {
        "date" | "dateTime" | "instant" => {
            if let Some(why) = calendar(text) {
                return invalid(why);
            }
            let grammar = match p.name {
                "date" => crate::primitive::valid_date(text),
                "dateTime" => crate::primitive::valid_date_time(text),
                _ => crate::primitive::valid_instant(text),
            };
            if !grammar {
                return invalid(if text.contains('T') && !has_zone(text) {
                    "a time must have a time zone (Z or +hh:mm)".into()
                } else {
                    "expected YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz".into()
                });
            }
            None
        }
        "time" if !crate::primitive::valid_time(text) => {
            invalid("expected hh:mm:ss, hours 00 to 23".into())
        }
        "integer" => range(text, p.name, i32::MIN.into(), i32::MAX.into()),
        "unsignedInt" => range(text, p.name, 0, i32::MAX.into()),
        "positiveInt" => range(text, p.name, 1, i32::MAX.into()),
        "integer64" => range(text, p.name, i64::MIN, i64::MAX),
        "decimal" if text.parse::<crate::Decimal>().is_err() => Some((
            "format",
            format!("'{}' is not a valid decimal", shown(text)),
        )),
        _ => None,
    }
}

fn range(text: &str, name: &str, min: i64, max: i64) -> Option<(&'static str, String)> {
    match text.trim_start_matches('+').parse::<i64>() {
        Ok(v) if (min..=max).contains(&v) => None,
        _ => Some((
            "format",
            format!(
                "'{}' is not a valid {name}: expected a whole number from {min} to {max}",
                shown(text)
            ),
        )),
    }
}

fn has_zone(text: &str) -> bool {
    let time = text.split_once('T').map_or("", |(_, t)| t);
    time.ends_with('Z') || time.contains(['+', '-'])
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Whether the year, month and day of a date (the start of a dateTime or instant) name a real
/// day: February 29th only in leap years, no April 31st. `None` when they do (or are not
/// there to check).
fn calendar(text: &str) -> Option<String> {
    let number =
        |range: std::ops::Range<usize>| text.get(range).and_then(|s| s.parse::<u32>().ok());
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if text.as_bytes().get(4) != Some(&b'-') || text.as_bytes().get(7) != Some(&b'-') {
        return None;
    }
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    (day > days).then(|| format!("{} {year} has {days} days", MONTHS[month as usize - 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_schema_regexes_translate() {
        assert_eq!(translate(r"[ \r\n\t\S]+"), r"^(?:[ \r\n\t[^ \t\n\r]]+)$");
        assert_eq!(
            translate(r"[^\s]+(\s[^\s]+)*"),
            r"^(?:[^ \t\n\r]+([ \t\n\r][^ \t\n\r]+)*)$"
        );
        assert_eq!(translate(r"^[\s\S]+$"), r"^(?:[ \t\n\r[^ \t\n\r]]+)$");
        assert_eq!(
            translate(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,17})?([eE][+-]?[0-9]{1,9}})?"),
            r"^(?:-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,17})?([eE][+-]?[0-9]{1,9})?)$"
        );
        let string = Regex::new(&translate(r"[ \r\n\t\S]+")).unwrap();
        // XML Schema's \S takes a no-break space; Unicode's would not.
        assert!(string.is_match("a\u{a0}b\n"));
        let code = Regex::new(&translate(r"[^\s]+(\s[^\s]+)*")).unwrap();
        assert!(code.is_match("a b") && !code.is_match("a  b") && !code.is_match(" a"));
    }

    #[test]
    fn dates_are_real_days() {
        assert_eq!(
            calendar("1970-02-30").as_deref(),
            Some("February 1970 has 28 days")
        );
        assert_eq!(calendar("2000-02-29"), None);
        assert_eq!(
            calendar("1900-02-29").as_deref(),
            Some("February 1900 has 28 days")
        );
        assert_eq!(calendar("2024-02-29T10:00:00Z"), None);
        assert_eq!(
            calendar("2023-04-31").as_deref(),
            Some("April 2023 has 30 days")
        );
        assert_eq!(calendar("2023-04"), None);
    }
}
