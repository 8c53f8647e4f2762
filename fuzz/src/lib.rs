//! The properties the fuzz targets check, one function per target, each taking the raw input
//! and panicking when a property fails. The fuzz targets (fuzz/fuzz_targets/) call these, and
//! the regression test tests/tests/fuzz_regressions.rs includes this file to replay every input
//! in tests/data/fuzz/ through the same checks in `cargo test`.
//!
//! Add the batch/transaction Bundle target here too once that processing exists.

use std::fmt::Debug;

use fhir_model::json::{self, JsonValue, ReadOptions, Value};
use fhir_model::xml::{self, XmlResource};
use fhir_rocket::patch::{apply_patch, apply_to, parse_patch};
use fhir_rocket::search::escape::{escape, unescape};
use fhir_rocket::search::{
    parse_query, AndList, CompositeParam, DateParam, DateRange, FromSearchParam, HasParam, IdParam,
    Include, NumberParam, OrList, QuantityParam, Query, ReferenceParam, SearchValue, SpecialParam,
    StringParam, TokenParam, UriParam,
};

// ---- json: the FHIR JSON reader ------------------------------------------------------------

/// The JSON reader on `data`, strict and lenient, as `T` (a version's `Resource`): what reads
/// strictly writes back (compact and pretty) to JSON that reads again to an equal value, and
/// writing that value gives the same bytes; what reads leniently writes JSON that reads
/// strictly and round-trips from there.
pub fn json<T: JsonValue + PartialEq + Debug>(data: &[u8]) {
    let strict = json::from_slice_with::<T>(data, ReadOptions::STRICT);
    let lenient = json::from_slice_with::<T>(data, ReadOptions::LENIENT);
    match (&strict, &lenient) {
        // Strict reading accepts a subset of what lenient reading does, and reads it the same.
        (Ok(strict), Ok(lenient)) => assert_eq!(strict, lenient, "strict and lenient reads differ"),
        (Ok(_), Err(e)) => panic!("strict reading accepted what lenient reading rejects: {e}"),
        _ => {}
    }
    if let Ok(value) = &strict {
        // Strict input has no empty objects or arrays, so everything read is written back.
        json_round_trip(value);
    }
    if let Ok(value) = &lenient {
        // Lenient reading also keeps elements left empty by skipped members (`"meta":{}`,
        // `[{"unknown":1}]`), which the writer omits: the written JSON is valid FHIR JSON (it
        // reads strictly) and from there on the value round-trips.
        let compact = json::to_vec(value, false);
        let again = json::from_slice::<T>(&compact).unwrap_or_else(|e| {
            panic!(
                "the JSON written from a lenient read does not read back strictly: {e}\n{}",
                String::from_utf8_lossy(&compact)
            )
        });
        json_round_trip(&again);
    }
}

/// `value` writes (compact and pretty) to JSON that reads back strictly to an equal value,
/// which writes the same bytes.
fn json_round_trip<T: JsonValue + PartialEq + Debug>(value: &T) {
    let compact = json::to_vec(value, false);
    let again = json::from_slice::<T>(&compact).unwrap_or_else(|e| {
        panic!(
            "the written JSON does not read back: {e}\n{}",
            String::from_utf8_lossy(&compact)
        )
    });
    assert_eq!(value, &again, "the value changed through JSON");
    assert_eq!(
        compact,
        json::to_vec(&again, false),
        "writing the read-back value gave other bytes"
    );
    let pretty = json::to_vec(value, true);
    let again = json::from_slice::<T>(&pretty)
        .unwrap_or_else(|e| panic!("the written pretty JSON does not read back: {e}"));
    assert_eq!(value, &again, "the value changed through pretty JSON");
}

// ---- xml: the FHIR XML reader --------------------------------------------------------------

/// The strict XML reader on `data` as `T`: what reads writes back as XML (it can: it came from
/// XML) that reads again to an equal value, compact and pretty, and goes through JSON unchanged.
pub fn xml<T: XmlResource + PartialEq + Debug>(data: &[u8]) {
    let Ok(value) = xml::from_slice_with::<T>(data, ReadOptions::STRICT) else {
        return;
    };
    for pretty in [false, true] {
        let written = xml::to_vec(&value, pretty)
            .unwrap_or_else(|e| panic!("what was read from XML cannot be written as XML: {e}"));
        let again = xml::from_slice_with::<T>(&written, ReadOptions::STRICT).unwrap_or_else(|e| {
            panic!(
                "the written XML does not read back: {e}\n{}",
                String::from_utf8_lossy(&written)
            )
        });
        assert_eq!(
            value, again,
            "the value changed through XML (pretty: {pretty})"
        );
    }
    let compact = json::to_vec(&value, false);
    let again = json::from_slice::<T>(&compact).unwrap_or_else(|e| {
        panic!(
            "what was read from XML, written as JSON, does not read back: {e}\n{}",
            String::from_utf8_lossy(&compact)
        )
    });
    assert_eq!(value, again, "the value changed through JSON");
}

// ---- search: the search query parser -------------------------------------------------------

/// Extracts `name` as `T` in each list shape; returns the AND list when it parses.
fn shapes<T: SearchValue>(q: &Query, name: &str) -> Option<AndList<T>> {
    let _ = q.extract::<T>(name);
    let _ = q.extract::<Option<T>>(name);
    let _ = q.extract::<OrList<T>>(name);
    let _ = q.extract::<Option<OrList<T>>>(name);
    let _ = q.extract::<Option<AndList<T>>>(name);
    q.extract::<AndList<T>>(name).ok()
}

fn each<T: SearchValue>(q: &Query, name: &str, mut f: impl FnMut(&T)) {
    if let Some(list) = shapes::<T>(q, name) {
        for or in list.iter() {
            for item in or.iter() {
                f(item);
            }
        }
    }
}

fn search_param(q: &Query, name: &str) {
    let occurrences = q.occurrences(name);
    let values: Vec<&str> = occurrences.iter().map(|(_, v)| *v).collect();

    each::<StringParam>(q, name, |p| {
        for v in &values {
            p.matches(v);
        }
    });
    for (modifier, value) in &occurrences {
        let Ok(list) = OrList::<TokenParam>::parse(*modifier, value) else {
            continue;
        };
        for t in list.iter() {
            for v in &values {
                t.matches_coding(Some(v), v);
                t.matches_coding(None, v);
            }
            // Written in query syntax (escaped, without the modifier), a token parses back to
            // itself with the same modifier.
            if t.missing.is_none() {
                let written = t.to_string();
                let again = TokenParam::parse(*modifier, &written)
                    .unwrap_or_else(|e| panic!("token {t:?} written as {written:?}: {e}"));
                assert_eq!(t, &again, "token written as {written:?}");
            }
        }
    }
    each::<TokenParam>(q, name, |_| {});
    each::<DateParam>(q, name, |d| {
        if d.missing.is_none() {
            let written = d.to_string();
            let again = DateParam::parse(None, &written)
                .unwrap_or_else(|e| panic!("date {d:?} written as {written:?}: {e}"));
            assert_eq!(d, &again, "date written as {written:?}");
        }
        d.matches_range(Some(d.range.0), Some(d.range.1));
        d.matches_range(None, Some(d.range.0));
        d.matches_range(Some(d.range.1), None);
    });
    if let Ok(range) = q.extract::<DateRange>(name) {
        range.is_unbounded();
        range.matches_range(None, None);
    }
    each::<NumberParam>(q, name, |n| {
        for x in [0.0, -1.5, 1e300, f64::NAN, f64::INFINITY] {
            n.matches(x);
        }
    });
    each::<QuantityParam>(q, name, |n| {
        for x in [0.0, 72.5, -1e-300, f64::NAN] {
            n.matches(x);
            n.matches_quantity(x, Some("http://unitsofmeasure.org"), Some("kg"));
            n.matches_quantity(x, None, None);
        }
    });
    each::<UriParam>(q, name, |u| {
        for v in &values {
            u.matches(v);
        }
    });
    each::<ReferenceParam>(q, name, |r| {
        // A chain's value goes to the chained parameter's own parser.
        if let (Some(chain), Some(value)) = (&r.chain, &r.chain_value) {
            let nested = format!("{}={}", chain, value);
            if let Ok(q2) = parse_query(&nested) {
                for n in q2.names() {
                    shapes::<StringParam>(&q2, n);
                    shapes::<TokenParam>(&q2, n);
                    shapes::<ReferenceParam>(&q2, n);
                }
            }
        }
    });
    each::<HasParam>(q, name, |h| {
        h.search_param_parts();
    });
    shapes::<IdParam>(q, name);
    shapes::<SpecialParam>(q, name);
    shapes::<CompositeParam<TokenParam, QuantityParam>>(q, name);
    shapes::<CompositeParam<TokenParam, DateParam>>(q, name);
    shapes::<CompositeParam<StringParam, TokenParam>>(q, name);
    shapes::<CompositeParam<ReferenceParam, NumberParam>>(q, name);
    shapes::<CompositeParam<UriParam, StringParam>>(q, name);
}

/// The search query parser on `data`: `parse_query`, the result parameters, then every
/// parameter through every typed parser (single values, OR and AND lists, options, composites,
/// `_has`, date ranges), the matchers on the parsed values, and the round trips the types
/// document (a token, date or `_include` written in query syntax parses back to itself).
pub fn search(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // FHIR escaping round-trips.
    assert_eq!(unescape(&escape(text)).as_deref(), Ok(text));

    let Ok(mut q) = parse_query(text) else { return };
    // Every parsed parameter, written in its decoded form, parses back to itself (the value
    // is re-encoded: the written form is the decoded one).
    let before = q.clone();
    if let Ok(result) = q.take_result_params() {
        for include in result.include.iter().chain(&result.revinclude) {
            let written = include.to_string();
            let modifier = include.iterate.then_some("iterate");
            let again = Include::parse(modifier, &written)
                .unwrap_or_else(|e| panic!("include {include:?} written as {written:?}: {e}"));
            assert_eq!(include, &again, "include written as {written:?}");
        }
    } else {
        assert_eq!(q, before, "a failed take_result_params changed the query");
    }
    for name in q.names() {
        search_param(&q, name);
    }
    let _ = <AndList<StringParam> as FromSearchParam>::from_values("x", &[(None, text)]);
}

// ---- patch: JSON Patch ---------------------------------------------------------------------

/// The resource a patch without one is applied to.
pub const DEFAULT_RESOURCE: &str = r#"{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["Jane","Ann"]}],"birthDate":"1970-01-01"}"#;

/// JSON Patch on `data`: a resource and a patch separated by the first NUL byte (only a patch,
/// applied to [`DEFAULT_RESOURCE`], when there is none). The patch is parsed, applied to the
/// untyped document (all or nothing: a failed patch leaves it unchanged; a patched document
/// writes and reads back equal), and applied to the typed R4 resource as a `#[patch]` provider
/// does (a result writes and reads back equal).
pub fn patch(data: &[u8]) {
    let (resource, patch) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (DEFAULT_RESOURCE.as_bytes(), data),
    };
    let (Ok(resource), Ok(patch)) = (std::str::from_utf8(resource), std::str::from_utf8(patch))
    else {
        return;
    };
    let Ok(ops) = parse_patch(patch) else { return };
    for op in &ops {
        op.name();
        op.path();
        op.from();
    }
    if let Ok(mut document) = Value::parse(resource) {
        let before = document.clone();
        match apply_patch(&mut document, &ops) {
            Ok(()) => {
                let written = json::to_string(&document);
                let again = Value::parse(&written).unwrap_or_else(|e| {
                    panic!("the patched document does not read back: {e}\n{written}")
                });
                assert_eq!(document, again, "the patched document changed through JSON");
            }
            Err(e) => {
                let _ = (
                    e.index(),
                    e.operation(),
                    e.kind(),
                    e.message(),
                    e.to_string(),
                );
                assert_eq!(document, before, "a failed patch changed the document");
            }
        }
    }
    if let Ok(typed) = json::from_str::<fhir_model::r4::Resource>(resource) {
        if let Ok(patched) = apply_to(&typed, &ops) {
            // The result is a valid resource: it writes and reads back equal.
            let written = json::to_string(&patched);
            let again = json::from_str::<fhir_model::r4::Resource>(&written)
                .unwrap_or_else(|e| panic!("the patched resource does not read back: {e}"));
            assert_eq!(patched, again);
        }
    }
}
