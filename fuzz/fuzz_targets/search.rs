//! The search query parser on an untrusted query string: `parse_query`, the result parameters,
//! then every parameter through every typed parser (single values, OR and AND lists, options,
//! composites, `_has`, date ranges), the matchers on the parsed values, and the round trips the
//! types document (a token or date written in query syntax parses back to the same value).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fhir_fuzz::search(data));
