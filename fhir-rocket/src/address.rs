//! How the server names itself in every `fullUrl`, paging link, `Location`,
//! `Content-Location` and the CapabilityStatement's `implementation.url`: HAPI's server
//! address strategies, as a pure function of the request's headers.

/// How the server works out its own base URL.
///
/// ```
/// use fhir_rocket::AddressStrategy;
///
/// let behind_proxy = AddressStrategy::TrustedProxy;
/// let fixed = AddressStrategy::Fixed("https://fhir.example.org/r4".into());
/// # let _ = (behind_proxy, fixed);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AddressStrategy {
    /// From the request as it arrived (the default): `https` when Rocket serves TLS, the
    /// `Host` header, the base path.
    #[default]
    Incoming,
    /// A fixed base URL, for a server known by one name whatever the request says (the
    /// tenant, if any, is added after it).
    Fixed(String),
    /// Behind a reverse proxy the server trusts: the proxy's RFC 7239 `Forwarded` header, or
    /// its `X-Forwarded-Proto`, `-Host`, `-Port` and `-Prefix`, over what the request says.
    /// Only for a server that no client reaches but through that proxy: these headers are
    /// whatever a direct client writes.
    TrustedProxy,
}

/// What a request says of where it was sent.
pub(crate) struct Incoming<'a> {
    /// Whether it arrived over TLS.
    pub(crate) tls: bool,
    /// Its `Host` header.
    pub(crate) host: Option<&'a str>,
    /// The server's base path (`/fhir`).
    pub(crate) base_path: &'a str,
    /// The tenant, for a multi-tenant server.
    pub(crate) tenant: Option<&'a str>,
}

/// The base URL of the server for one request, without a trailing `/`. `header` gives the
/// first value of a request header.
pub(crate) fn base_url<'a>(
    strategy: &AddressStrategy,
    incoming: &Incoming<'a>,
    header: impl Fn(&str) -> Option<&'a str>,
) -> String {
    let mut base = match strategy {
        AddressStrategy::Fixed(url) => url.trim_end_matches('/').to_string(),
        AddressStrategy::Incoming => {
            let scheme = if incoming.tls { "https" } else { "http" };
            let host = incoming.host.unwrap_or("localhost");
            format!("{scheme}://{host}{}", incoming.base_path)
        }
        AddressStrategy::TrustedProxy => forwarded_base(incoming, &header),
    };
    if let Some(tenant) = incoming.tenant {
        base.push('/');
        base.push_str(tenant);
    }
    base
}

/// The base as the proxy says the client addressed it: `Forwarded` first, then the
/// `X-Forwarded-*` headers, each falling back to the request itself.
fn forwarded_base<'a>(
    incoming: &Incoming<'a>,
    header: &impl Fn(&str) -> Option<&'a str>,
) -> String {
    let forwarded = header("Forwarded").map(first_forwarded_element);
    let pick = |key: &str| forwarded.as_ref().and_then(|pairs| pair(pairs, key));
    let first = |name: &str| {
        header(name)
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let scheme = pick("proto")
        .or_else(|| first("X-Forwarded-Proto"))
        .map(|s| s.to_ascii_lowercase())
        .filter(|s| s == "http" || s == "https")
        .unwrap_or_else(|| if incoming.tls { "https" } else { "http" }.to_string());
    let mut host = pick("host")
        .or_else(|| first("X-Forwarded-Host"))
        .filter(|h| is_host(h))
        .or_else(|| incoming.host.map(str::to_string))
        .unwrap_or_else(|| "localhost".to_string());
    if let Some(port) = first("X-Forwarded-Port").filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
    {
        let default = (scheme == "https" && port == "443") || (scheme == "http" && port == "80");
        if !has_port(&host) && !default {
            host = format!("{host}:{port}");
        }
    }
    let prefix = first("X-Forwarded-Prefix")
        .map(|p| format!("/{}", p.trim_matches('/')))
        .filter(|p| p != "/")
        .unwrap_or_default();
    format!("{scheme}://{host}{prefix}{}", incoming.base_path)
}

/// Whether a forwarded host is a host name or address with an optional port, and nothing that
/// could break the URLs and headers it goes into.
fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(&b))
}

/// Whether `host` (`name`, `name:port`, `[v6]`, `[v6]:port`) names a port.
fn has_port(host: &str) -> bool {
    match host.rfind(']') {
        Some(end) => host[end..].contains(':'),
        None => host.contains(':'),
    }
}

/// The `key=value` pairs of the first element of a `Forwarded` header (the one the proxy
/// nearest the client wrote), with quotes removed.
fn first_forwarded_element(value: &str) -> Vec<(String, String)> {
    let element = value.split(',').next().unwrap_or("");
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_string(),
            )
        })
        .collect()
}

fn pair(pairs: &[(String, String)], key: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(k, v)| k == key && !v.is_empty())
        .map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(strategy: &AddressStrategy, tls: bool, headers: &[(&str, &str)]) -> String {
        let host = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Host"))
            .map(|(_, v)| *v);
        let incoming = Incoming {
            tls,
            host,
            base_path: "/fhir",
            tenant: None,
        };
        base_url(strategy, &incoming, |name| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        })
    }

    #[test]
    fn incoming_follows_the_request() {
        let s = AddressStrategy::Incoming;
        assert_eq!(base(&s, false, &[("Host", "a:8000")]), "http://a:8000/fhir");
        assert_eq!(base(&s, true, &[("Host", "a")]), "https://a/fhir");
        // Proxy headers are not trusted unless asked.
        assert_eq!(
            base(&s, false, &[("Host", "a"), ("X-Forwarded-Proto", "https")]),
            "http://a/fhir"
        );
    }

    #[test]
    fn fixed_is_fixed() {
        let s = AddressStrategy::Fixed("https://fhir.example.org/r4/".into());
        assert_eq!(
            base(&s, false, &[("Host", "a")]),
            "https://fhir.example.org/r4"
        );
        let incoming = Incoming {
            tls: false,
            host: None,
            base_path: "/fhir",
            tenant: Some("acme"),
        };
        assert_eq!(
            base_url(&s, &incoming, |_| None),
            "https://fhir.example.org/r4/acme"
        );
    }

    #[test]
    fn trusted_proxy_headers() {
        let s = AddressStrategy::TrustedProxy;
        assert_eq!(
            base(
                &s,
                false,
                &[
                    ("Host", "internal:8000"),
                    ("X-Forwarded-Proto", "https"),
                    ("X-Forwarded-Host", "fhir.example.org, other"),
                    ("X-Forwarded-Port", "8443"),
                    ("X-Forwarded-Prefix", "/api/"),
                ]
            ),
            "https://fhir.example.org:8443/api/fhir"
        );
        // The default port is not written; a host with a port keeps it.
        assert_eq!(
            base(
                &s,
                false,
                &[
                    ("X-Forwarded-Host", "h"),
                    ("X-Forwarded-Proto", "https"),
                    ("X-Forwarded-Port", "443")
                ]
            ),
            "https://h/fhir"
        );
        // RFC 7239 comes first; its first element is the client's side.
        assert_eq!(
            base(
                &s,
                false,
                &[
                    ("Host", "internal"),
                    (
                        "Forwarded",
                        r#"for=192.0.2.60;proto=https;host="public.example:9443", for=10.0.0.1;proto=http"#
                    ),
                    ("X-Forwarded-Host", "ignored"),
                ]
            ),
            "https://public.example:9443/fhir"
        );
        // Nothing forwarded: the request itself; a nonsense scheme is not taken.
        assert_eq!(base(&s, false, &[("Host", "a")]), "http://a/fhir");
        assert_eq!(
            base(
                &s,
                false,
                &[("Host", "a"), ("X-Forwarded-Proto", "javascript")]
            ),
            "http://a/fhir"
        );
        assert!(has_port("[::1]:80") && !has_port("[::1]") && has_port("a:1") && !has_port("a"));
        // A forwarded host that is not one is not taken.
        assert_eq!(
            base(
                &s,
                false,
                &[("Host", "a"), ("X-Forwarded-Host", "evil\r\nSet-Cookie: x")]
            ),
            "http://a/fhir"
        );
    }
}
