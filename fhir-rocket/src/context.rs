//! What a provider may want to know about the request beyond its typed parameters.

/// The request as a provider sees it: base URL, headers, raw query and tenant.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    /// The server's base URL, e.g. `http://127.0.0.1:8000/fhir`.
    pub base_url: String,
    /// The request headers, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The query string as sent, without `?`.
    pub raw_query: String,
    /// The tenant, when the server is multi-tenant (first path segment); `None` otherwise.
    pub tenant: Option<String>,
}

impl RequestContext {
    /// The first value of a header (case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The resource type of a request, for generic providers (those that serve every type of a
/// version with its `Resource` enum).
///
/// ```
/// let t = fhir_rocket::TypeName("Encounter".into());
/// assert_eq!(&*t, "Encounter");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeName(pub String);

impl std::ops::Deref for TypeName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TypeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
