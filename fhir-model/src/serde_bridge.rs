//! serde support: every generated struct and `Resource` enum implements `Serialize` and
//! `Deserialize` by handing the JSON text to the FHIR reader and writer of this crate. The
//! FHIR rules (`_` siblings, choice names, exact decimals) live in one place, and a user's
//! `serde_json::from_str::<Patient>` instantiates only this thin layer, not a derive per type.
//!
//! Both directions go through `serde_json`'s raw values, so they work with `serde_json`
//! serializers and deserializers (the FHIR JSON format), not with other formats.

#![doc(hidden)]

use crate::json::{self, JsonValue};
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// Writes `value` with the FHIR writer and hands the text to `serializer` as a raw value.
pub fn serialize<T: JsonValue, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    let raw = RawValue::from_string(json::to_string(value)).map_err(S::Error::custom)?;
    raw.serialize(serializer)
}

/// Takes the raw JSON text of the value from `deserializer` and reads it strictly.
pub fn deserialize<'de, T: JsonValue, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    let raw = Box::<RawValue>::deserialize(deserializer)?;
    json::from_str(raw.get()).map_err(D::Error::custom)
}

/// Implements serde's traits for a generated type through [`serialize`] and [`deserialize`].
#[doc(hidden)]
#[macro_export]
macro_rules! serde_impls {
    ($name:ident) => {
        impl $crate::serde::Serialize for $name {
            fn serialize<S: $crate::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $crate::serde_bridge::serialize(self, s)
            }
        }
        impl<'de> $crate::serde::Deserialize<'de> for $name {
            fn deserialize<D: $crate::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                $crate::serde_bridge::deserialize(d)
            }
        }
    };
}
