//! Required bindings on Coding, CodeableConcept and Quantity elements: the code must be one of
//! the value set's, when the definitions can close it (codes of the FHIR code systems).

use super::table::ValueSet;
use crate::json::Value;

/// What is wrong with `value` (of datatype `type_name`) for the required value set `vs`;
/// `None` when it is in it, or when `vs` is open (only a terminology server can tell).
pub(super) fn check(vs: &ValueSet, type_name: &str, value: &Value) -> Option<String> {
    let codes = vs.codes?;
    let url = vs.url;
    match type_name {
        "Coding" | "Quantity" => {
            if coded_in(codes, value) {
                return None;
            }
            Some(format!(
                "{} is not in the required value set {url}",
                describe(value)
            ))
        }
        "CodeableConcept" => {
            let codings = match value.get("coding") {
                Some(Value::Array(codings)) => codings.as_slice(),
                _ => &[],
            };
            if codings.iter().any(|c| coded_in(codes, c)) {
                return None;
            }
            Some(match codings {
                [] => format!("no coding from the required value set {url}"),
                [one] => format!("{} is not in the required value set {url}", describe(one)),
                _ => format!("none of the codings is in the required value set {url}"),
            })
        }
        _ => None,
    }
}

/// Whether a Coding (or Quantity) has a system and code of `codes`.
fn coded_in(codes: &[(&str, &str)], coding: &Value) -> bool {
    let (Some(system), Some(code)) = (
        coding.get("system").and_then(Value::as_str),
        coding.get("code").and_then(Value::as_str),
    ) else {
        return false;
    };
    codes.iter().any(|&(s, c)| s == system && c == code)
}

/// `code 'x' of system 'y'`, for messages.
fn describe(coding: &Value) -> String {
    let code = coding.get("code").and_then(Value::as_str);
    let system = coding.get("system").and_then(Value::as_str);
    match (code, system) {
        (Some(code), Some(system)) => format!("the code '{code}' of {system}"),
        (Some(code), None) => format!("the code '{code}' (without a system)"),
        (None, _) => "a coding without a code".into(),
    }
}
