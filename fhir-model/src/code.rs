//! Codes from closed value sets, generated as Rust enums.

/// A code enum generated for a required binding to a closed value set.
///
/// ```
/// use fhir_model::{Code, r4::codes::AdministrativeGender};
/// assert_eq!(AdministrativeGender::from_code("female"), Some(AdministrativeGender::Female));
/// assert_eq!(AdministrativeGender::Other.code(), "other");
/// assert_eq!(AdministrativeGender::VALUE_SET, "http://hl7.org/fhir/ValueSet/administrative-gender");
/// ```
pub trait Code: Sized + Copy + 'static {
    /// The canonical URL of the value set.
    const VALUE_SET: &'static str;
    /// The enum value for a code, if the value set has it.
    fn from_code(code: &str) -> Option<Self>;
    /// The code as written in FHIR.
    fn code(&self) -> &'static str;
    /// The code system the code belongs to.
    fn system(&self) -> &'static str;
}

/// Reads a code, rejecting codes the value set does not have.
#[doc(hidden)]
pub fn read_code<T: Code>(r: &mut crate::json::JsonReader<'_>) -> crate::json::JsonResult<T> {
    let start = r.value_start();
    let text = r.read_str()?;
    T::from_code(&text).ok_or_else(|| {
        r.error_at(
            start,
            format!(
                "'{text}' is not a code of the required value set {}",
                T::VALUE_SET
            ),
        )
    })
}

/// Implements the traits every code enum has, with shared code.
#[doc(hidden)]
#[macro_export]
macro_rules! code_value {
    ($name:ident) => {
        impl $crate::json::PrimitiveValue for $name {
            fn read_value(r: &mut $crate::json::JsonReader<'_>) -> $crate::json::JsonResult<Self> {
                $crate::code::read_code(r)
            }
            fn write_value(&self, w: &mut $crate::json::JsonWriter) {
                w.string($crate::Code::code(self));
            }
        }
        #[cfg(feature = "fhirpath")]
        impl $crate::fhirpath::PrimValue for $name {
            fn prim(&self) -> $crate::fhirpath::Prim<'_> {
                $crate::fhirpath::Prim::Code($crate::Code::code(self), $crate::Code::system(self))
            }
        }
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str($crate::Code::code(self))
            }
        }
        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownCode;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$name as $crate::Code>::from_code(s).ok_or_else(|| $crate::UnknownCode {
                    code: s.to_string(),
                    value_set: <$name as $crate::Code>::VALUE_SET,
                })
            }
        }
    };
}

/// A code that is not in a value set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownCode {
    /// The code given.
    pub code: String,
    /// The value set it is not in.
    pub value_set: &'static str,
}

impl std::fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "'{}' is not a code of {}", self.code, self.value_set)
    }
}

impl std::error::Error for UnknownCode {}
