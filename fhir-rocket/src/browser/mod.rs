//! The browser view (HAPI FHIR's response highlighter): a request from a browser gets an HTML
//! page of its answer instead of FHIR JSON or XML, with the narrative, the resource as
//! highlighted JSON, references and paging links as links to follow, and links to the raw
//! forms. The page runs no script and loads nothing from the network.

mod narrative;
mod scan;

use crate::http::Reply;
use crate::interceptor::Interceptor;
use rocket::Request;

use narrative::clean_narrative;
use scan::{Scan, Summary};

/// The `Content-Type` of a page.
const HTML: &str = "text/html; charset=utf-8";

/// What a page may load and run: nothing but its own inline style, and images of the server
/// or inline ones (a narrative's). No script at all, whatever a resource holds.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// JSON nested deeper than this is shown as plain text (the kit's resources nest far less).
const MAX_DEPTH: usize = 256;

/// The browser view: an interceptor that answers a request from a browser (`Accept` names
/// `text/html` and the query has no `_format`) with an HTML page of the resource, Bundle or
/// OperationOutcome it would have answered, with the same status and headers. Other
/// requests, `_format=json` and `_format=xml` ones among them, are answered as without it.
///
/// The page holds the resource's narrative (its XHTML cleaned of anything but plain
/// markup), the resource as highlighted JSON in which references to this server, `fullUrl`s
/// and the Bundle's links are links, the Bundle's paging links again on top, the issues of
/// an OperationOutcome, and links to the raw JSON and XML. Its style is inline; it runs no
/// script, and its `Content-Security-Policy` forbids any.
///
/// ```
/// use fhir_rocket::model::r4::Resource;
/// use fhir_rocket::{BrowserView, FhirServer};
///
/// let server = FhirServer::<Resource>::new("/fhir").intercept(BrowserView::new());
/// # let _ = server;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct BrowserView;

impl BrowserView {
    /// The browser view.
    pub fn new() -> Self {
        BrowserView
    }

    /// Whether a request is one the browser view answers: its `Accept` names `text/html`
    /// (with a weight above 0) and its query (as received) names no `_format`.
    ///
    /// ```
    /// use fhir_rocket::BrowserView;
    /// let chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    /// assert!(BrowserView::is_browser_request(Some(chromium), "family=smith"));
    /// assert!(!BrowserView::is_browser_request(Some(chromium), "_format=json"));
    /// assert!(!BrowserView::is_browser_request(Some("application/fhir+json"), ""));
    /// assert!(!BrowserView::is_browser_request(None, ""));
    /// ```
    pub fn is_browser_request(accept: Option<&str>, raw_query: &str) -> bool {
        let Some(accept) = accept else {
            return false;
        };
        let html = accept.split(',').any(|media| {
            let mut parts = media.split(';');
            parts
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/html"))
                && parts.all(|p| {
                    let p = p.trim();
                    match p.get(..2) {
                        Some(q) if q.eq_ignore_ascii_case("q=") => {
                            p[2..].trim().parse::<f32>().map_or(true, |q| q > 0.0)
                        }
                        _ => true,
                    }
                })
        });
        html && !names_format(raw_query)
    }

    /// The page of an answer: `status`, its FHIR JSON body `json`, the URL it answers
    /// (`request_url`, as the request named it: `/fhir/Patient/1?x=y`) and the server's base
    /// URL (`base_url`, `http://host/fhir`): references (`Patient/1`) and URLs under the base
    /// become links. A body that is not JSON is shown as text.
    ///
    /// ```
    /// use fhir_rocket::BrowserView;
    /// let json = br#"{"resourceType":"Observation","id":"2","subject":{"reference":"Patient/1"}}"#;
    /// let page = BrowserView::page(200, json, "/fhir/Observation/2", "http://h/fhir");
    /// assert!(page.contains("<title>Observation/2</title>"));
    /// assert!(page.contains(r#"<a class="ref" href="http://h/fhir/Patient/1">"#));
    /// assert!(page.contains(r#"href="/fhir/Observation/2?_format=json&amp;_pretty=true""#));
    /// ```
    pub fn page(status: u16, json: &[u8], request_url: &str, base_url: &str) -> String {
        let text = String::from_utf8_lossy(json);
        let base_url = base_url.trim_end_matches('/');
        let mut scan = Scan {
            text: &text,
            pos: 0,
            base_url,
            out: String::with_capacity(text.len() * 3),
            summary: Summary::default(),
        };
        let highlighted = match scan.document() {
            Ok(()) => std::mem::take(&mut scan.out),
            Err(()) => {
                let mut plain = String::with_capacity(text.len() + 64);
                escape_into(&mut plain, &text);
                plain
            }
        };
        let summary = scan.summary;
        write_page(status, &summary, &highlighted, request_url, base_url)
    }
}

impl<R: Send + Sync + 'static> Interceptor<R> for BrowserView {
    fn changes_incoming(&self) -> bool {
        false
    }

    fn writes_reply(&self, req: &Request<'_>) -> bool {
        let raw_query = req.uri().query().map(|q| q.as_str()).unwrap_or("");
        Self::is_browser_request(req.headers().get_one("Accept"), raw_query)
    }

    fn write_reply(&self, req: &Request<'_>, reply: Reply, base_url: &str) -> Reply {
        // A reply without a body (304, 204) stays one.
        let Some(json) = reply.body() else {
            return reply;
        };
        let page = Self::page(reply.status(), json, &req.uri().to_string(), base_url);
        reply
            .with_body(HTML, page.into_bytes())
            .header(
                "Content-Security-Policy",
                CONTENT_SECURITY_POLICY.to_string(),
            )
            .header("X-Content-Type-Options", "nosniff".to_string())
            .header("Vary", "Accept".to_string())
    }
}

/// Whether a query names `_format` (however its underscore is encoded).
fn names_format(raw_query: &str) -> bool {
    if !raw_query.contains("format") {
        return false;
    }
    match crate::search::parse_query(raw_query) {
        Ok(query) => !query.values("_format").is_empty(),
        Err(_) => raw_query.contains("_format="),
    }
}

/// Whether a URL is the base URL or under it.
fn on_server(url: &str, base_url: &str) -> bool {
    !base_url.is_empty()
        && url
            .strip_prefix(base_url)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
}

/// Where a reference leads on this server: a relative one (`Patient/1`,
/// `Patient/1/_history/2`) under the base URL, an absolute one under it as it is. Others
/// (contained, other servers, `urn:uuid:`) lead nowhere here.
fn reference_href(reference: &str, base_url: &str) -> Option<String> {
    if on_server(reference, base_url) {
        return Some(reference.to_string());
    }
    let id_ok = |id: &str| {
        (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    let mut parts = reference.split('/');
    let resource_type = parts.next()?;
    let relative = resource_type.starts_with(|c: char| c.is_ascii_uppercase())
        && resource_type.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.next().is_some_and(id_ok)
        && match (parts.next(), parts.next(), parts.next()) {
            (None, _, _) => true,
            (Some("_history"), Some(version), None) => id_ok(version),
            _ => false,
        };
    relative.then(|| format!("{base_url}/{reference}"))
}

/// Appends `text` with `&`, `<`, `>`, `"` and `'` escaped, for element content and quoted
/// attribute values alike.
fn escape_into(out: &mut String, text: &str) {
    let mut last = 0;
    for (i, b) in text.bytes().enumerate() {
        let entity = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            b'\'' => "&#39;",
            _ => continue,
        };
        out.push_str(&text[last..i]);
        out.push_str(entity);
        last = i + 1;
    }
    out.push_str(&text[last..]);
}

fn escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// The URL of the raw answer in `format` (`json`, `xml`): the request's URL with `_format`
/// (and `_pretty=true`, unless it names `_pretty`).
fn raw_url(request_url: &str, format: &str) -> String {
    let (path, query) = request_url.split_once('?').unwrap_or((request_url, ""));
    let mut url = format!("{path}?");
    if !query.is_empty() {
        url.push_str(query);
        url.push('&');
    }
    url.push_str("_format=");
    url.push_str(format);
    if !query.contains("pretty") {
        url.push_str("&_pretty=true");
    }
    url
}

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}\
header{background:#24416b;color:#fff;padding:.8em 1.2em}\
header h1{margin:0;font-size:1.4em;font-weight:600}\
header p{margin:.3em 0 0}\
header a{color:#cfe0ff}\
main{padding:0 1.2em 2em}\
h2{font-size:1.05em;margin:1.4em 0 .5em;color:#24416b}\
.status.error{color:#ffd2d2;font-weight:600}\
nav.paging a{display:inline-block;margin-right:.8em;padding:.2em .6em;border:1px solid #24416b;border-radius:4px;text-decoration:none;color:#24416b;background:#fff}\
.narrative{background:#fff;border:1px solid #d6d6d6;border-radius:4px;padding:.6em 1em}\
.narrative td,.narrative th{padding:.1em .8em .1em 0;vertical-align:top;text-align:left}\
.note{color:#8a5a00;font-size:.9em}\
table.issues{border-collapse:collapse;background:#fff}\
table.issues td,table.issues th{border:1px solid #d6d6d6;padding:.3em .6em;text-align:left}\
pre.json{background:#fff;border:1px solid #d6d6d6;border-radius:4px;padding:.8em 1em;\
white-space:pre-wrap;overflow-wrap:anywhere;font-size:.9em;line-height:1.35}\
.k{color:#8e3c9e}.s{color:#1a7f37}.n{color:#b35c00}.b{color:#0a56c2;font-weight:600}.p{color:#6e6e73}\
pre.json a{text-decoration:underline;text-decoration-color:#1a7f37}";

/// The page around the highlighted JSON.
fn write_page(
    status: u16,
    summary: &Summary,
    highlighted: &str,
    request_url: &str,
    base_url: &str,
) -> String {
    let reason = rocket::http::Status::new(status).reason().unwrap_or("");
    let resource_type = summary.resource_type.as_deref();
    let title = if status >= 400 {
        format!("{status} {reason}").trim_end().to_string()
    } else {
        match (resource_type, summary.id.as_deref()) {
            (Some("Bundle"), _) => match &summary.bundle_type {
                Some(kind) => format!("Bundle ({kind})"),
                None => "Bundle".to_string(),
            },
            (Some(t), Some(id)) => format!("{t}/{id}"),
            (Some(t), None) => t.to_string(),
            (None, _) => format!("{status} {reason}").trim_end().to_string(),
        }
    };
    let mut page = String::with_capacity(highlighted.len() + 4096);
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str("<title>");
    escape_into(&mut page, &title);
    page.push_str("</title>\n<style>");
    page.push_str(STYLE);
    page.push_str("</style>\n</head>\n<body>\n<header>\n<h1>");
    escape_into(&mut page, &title);
    page.push_str("</h1>\n<p><span class=\"status");
    if status >= 400 {
        page.push_str(" error");
    }
    page.push_str("\">HTTP ");
    escape_into(&mut page, format!("{status} {reason}").trim_end());
    page.push_str("</span> · raw: <a class=\"raw-json\" href=\"");
    escape_into(&mut page, &raw_url(request_url, "json"));
    page.push_str("\">JSON</a> · <a class=\"raw-xml\" href=\"");
    escape_into(&mut page, &raw_url(request_url, "xml"));
    page.push_str("\">XML</a></p>\n</header>\n<main>\n");

    if resource_type == Some("Bundle") {
        if let Some(total) = &summary.total {
            page.push_str("<p class=\"total\">");
            escape_into(&mut page, total);
            page.push_str(" in all</p>\n");
        }
        let links: Vec<_> = summary
            .links
            .values()
            .filter_map(|(relation, url)| Some((relation.as_deref()?, url.as_deref()?)))
            .filter(|(relation, url)| *relation != "self" && on_server(url, base_url))
            .collect();
        if !links.is_empty() {
            page.push_str("<nav class=\"paging\">");
            for (relation, url) in links {
                page.push_str("<a rel=\"");
                escape_into(&mut page, relation);
                page.push_str("\" href=\"");
                escape_into(&mut page, url);
                page.push_str("\">");
                escape_into(&mut page, relation);
                page.push_str("</a>");
            }
            page.push_str("</nav>\n");
        }
    }

    if resource_type == Some("OperationOutcome") && !summary.issues.is_empty() {
        page.push_str("<h2>Issues</h2>\n<table class=\"issues\">\n");
        page.push_str("<tr><th>severity</th><th>code</th><th>diagnostics</th></tr>\n");
        for issue in summary.issues.values() {
            page.push_str("<tr>");
            for field in issue {
                page.push_str("<td>");
                escape_into(&mut page, field.as_deref().unwrap_or(""));
                page.push_str("</td>");
            }
            page.push_str("</tr>\n");
        }
        page.push_str("</table>\n");
    }

    if let Some(div) = &summary.narrative {
        page.push_str("<h2>Narrative</h2>\n");
        match clean_narrative(div) {
            Ok((html, left_out)) => {
                page.push_str("<div class=\"narrative\">");
                page.push_str(&html);
                page.push_str("</div>\n");
                if !left_out.is_empty() {
                    let list: Vec<_> = left_out.iter().map(|s| escaped(s)).collect();
                    page.push_str("<p class=\"note\">Left out of the narrative: ");
                    page.push_str(&list.join(", "));
                    page.push_str(".</p>\n");
                }
            }
            Err(e) => {
                page.push_str("<p class=\"note\">The narrative is not shown: ");
                escape_into(&mut page, &e);
                page.push_str(".</p>\n");
            }
        }
    }

    page.push_str("<h2>");
    escape_into(&mut page, resource_type.unwrap_or("Body"));
    page.push_str("</h2>\n<pre class=\"json\"><code>");
    page.push_str(highlighted);
    page.push_str("</code></pre>\n</main>\n</body>\n</html>\n");
    page
}

#[cfg(test)]
mod tests {
    use super::scan::unescape_json;
    use super::*;

    const BASE: &str = "http://example.org/fhir";

    fn page(json: &str) -> String {
        BrowserView::page(200, json.as_bytes(), "/fhir/X/1", BASE)
    }

    #[test]
    fn strings_of_the_resource_are_escaped() {
        let html = page(
            r#"{"resourceType":"Patient","id":"1","name":[{"family":"<script>alert(1)</script>"}],"gender":"a\"b'&"}"#,
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;"),
            "{html}"
        );
        assert!(html.contains("a\\&quot;b&#39;&amp;"), "{html}");
        // The page is the only markup: no element comes from the data.
        assert_eq!(html.matches("<title>").count(), 1);
    }

    #[test]
    fn the_json_is_highlighted_and_indented() {
        let html = page(
            r#"{"resourceType":"Observation","id":"2","valueInteger":5,"active":true,"x":[]}"#,
        );
        assert!(html.contains("<title>Observation/2</title>"), "{html}");
        assert!(html.contains(
            "<span class=\"p\">{</span>\n  <span class=\"k\">&quot;resourceType&quot;</span><span class=\"p\">:</span> <span class=\"s\">&quot;Observation&quot;</span>"
        ), "{html}");
        assert!(html.contains("<span class=\"n\">5</span>"), "{html}");
        assert!(html.contains("<span class=\"b\">true</span>"), "{html}");
        assert!(html.contains("<span class=\"p\">[</span><span class=\"p\">]</span>"));
        // Not JSON: shown as text.
        let html = BrowserView::page(500, b"<oops>", "/fhir", BASE);
        assert!(html.contains("&lt;oops&gt;"), "{html}");
        assert!(
            html.contains("<title>500 Internal Server Error</title>"),
            "{html}"
        );
    }

    #[test]
    fn references_to_this_server_are_links() {
        let html = page(
            r##"{"resourceType":"Observation","id":"2",
              "subject":{"reference":"Patient/1"},
              "performer":[{"reference":"http://example.org/fhir/Practitioner/7"},
                           {"reference":"http://elsewhere.org/fhir/Practitioner/7"},
                           {"reference":"#contained"},
                           {"reference":"urn:uuid:0e7f5c58-2c7a-4bb4-9b9f-1c3d3c6b1a6e"},
                           {"reference":"javascript:alert(1)//Patient/1"},
                           {"reference":"Patient/1/_history/3"}]}"##,
        );
        let links: Vec<&str> = html
            .match_indices("<a class=\"ref\" href=\"")
            .map(|(i, m)| {
                let rest = &html[i + m.len()..];
                &rest[..rest.find('"').unwrap()]
            })
            .collect();
        assert_eq!(
            links,
            [
                "http://example.org/fhir/Patient/1",
                "http://example.org/fhir/Practitioner/7",
                "http://example.org/fhir/Patient/1/_history/3",
            ]
        );
        assert!(!html.contains("href=\"javascript"), "{html}");
    }

    #[test]
    fn bundle_links_and_full_urls_are_links() {
        let html = page(
            r#"{"resourceType":"Bundle","type":"searchset","total":3,"link":[
                {"relation":"self","url":"http://example.org/fhir/Patient?_count=1&_offset=0"},
                {"relation":"next","url":"http://example.org/fhir/Patient?_count=1&_offset=1"}],
              "entry":[{"fullUrl":"http://example.org/fhir/Patient/1","resource":{"resourceType":"Patient","id":"1"}}]}"#,
        );
        assert!(html.contains("<title>Bundle (searchset)</title>"), "{html}");
        assert!(html.contains("<p class=\"total\">3 in all</p>"), "{html}");
        assert!(
            html.contains(
                "<nav class=\"paging\"><a rel=\"next\" href=\"http://example.org/fhir/Patient?_count=1&amp;_offset=1\">next</a></nav>"
            ),
            "{html}"
        );
        assert!(html.contains(
            "<a class=\"url\" href=\"http://example.org/fhir/Patient?_count=1&amp;_offset=1\">"
        ));
        assert!(html.contains("<a class=\"url\" href=\"http://example.org/fhir/Patient/1\">"));
    }

    #[test]
    fn raw_forms_are_linked() {
        let html = BrowserView::page(200, b"{}", "/fhir/Patient?family=x", BASE);
        assert!(html.contains(
            "<a class=\"raw-json\" href=\"/fhir/Patient?family=x&amp;_format=json&amp;_pretty=true\">"
        ));
        assert!(html.contains(
            "<a class=\"raw-xml\" href=\"/fhir/Patient?family=x&amp;_format=xml&amp;_pretty=true\">"
        ));
        assert_eq!(
            raw_url("/fhir/Patient/1", "xml"),
            "/fhir/Patient/1?_format=xml&_pretty=true"
        );
        assert_eq!(
            raw_url("/fhir/Patient/1?_pretty=false", "json"),
            "/fhir/Patient/1?_pretty=false&_format=json"
        );
    }

    #[test]
    fn a_safe_narrative_is_shown() {
        let html = page(
            r#"{"resourceType":"Patient","id":"1","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p class=\"x\" style=\"color: red\">Peter &amp; <b>James</b>&#160;Chalmers<br/></p><a href=\"Patient/2\">other</a><table><tr><td colspan=\"2\">c</td></tr></table></div>"}}"#,
        );
        assert!(html.contains(
            "<div class=\"narrative\"><div><p class=\"x\" style=\"color: red\">Peter &amp; <b>James</b>\u{a0}Chalmers<br></p><a href=\"Patient/2\">other</a><table><tr><td colspan=\"2\">c</td></tr></table></div></div>"
        ), "{html}");
        assert!(!html.contains("Left out"), "{html}");
    }

    #[test]
    fn scripts_and_handlers_of_a_narrative_are_left_out() {
        let div = r#"<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="alert(1)" onmouseover="x()">Hi<script>alert(2)</script></p><a href="javascript:alert(3)">a</a><a href=" java&#9;script:alert(4)">b</a><img src="http://tracker.example/x.png"/><style>p{}</style><SCRIPT>alert(5)</SCRIPT><![CDATA[<script>alert(6)</script>]]><span style="background:url(http://x/y)">s</span><iframe src="http://x"><p>in</p></iframe><svg xmlns="http://www.w3.org/2000/svg"><script>alert(7)</script></svg></div>"#;
        let json = format!(
            r#"{{"resourceType":"Patient","id":"1","text":{{"status":"generated","div":{}}}}}"#,
            serde_like_string(div)
        );
        let html = page(&json);
        let narrative = &html[html.find("<div class=\"narrative\">").unwrap()..];
        let narrative = &narrative[..narrative.find("</main>").unwrap()];
        for bad in [
            "<script",
            "<SCRIPT",
            "onclick",
            "onmouseover",
            "javascript",
            "<style",
            "<iframe",
            "<svg",
            "url(",
            "tracker",
        ] {
            let shown = &narrative[..narrative.find("<p class=\"note\">").unwrap()];
            assert!(!shown.contains(bad), "{bad} in {shown}");
        }
        assert!(
            narrative.contains(
                "<div class=\"narrative\"><div><p>Hi</p><a>a</a><a>b</a><img>&lt;script&gt;alert(6)&lt;/script&gt;<span>s</span></div></div>"
            ),
            "{narrative}"
        );
        assert!(
            narrative.contains("the element &lt;script&gt;"),
            "{narrative}"
        );
        assert!(narrative.contains("the attribute onclick"), "{narrative}");
        // Nowhere on the page does a script start.
        assert!(!html.contains("<script"), "{html}");
    }

    #[test]
    fn a_broken_narrative_is_not_shown() {
        let html = page(
            r#"{"resourceType":"Patient","text":{"div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</div>"}}"#,
        );
        assert!(html.contains("The narrative is not shown"), "{html}");
        assert!(!html.contains("<div class=\"narrative\">"), "{html}");
    }

    #[test]
    fn an_outcome_shows_its_issues() {
        let html = BrowserView::page(
            404,
            br#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"not-found","diagnostics":"Patient/9 <is> not known"}]}"#,
            "/fhir/Patient/9",
            BASE,
        );
        assert!(html.contains("<title>404 Not Found</title>"), "{html}");
        assert!(
            html.contains(
                "<tr><td>error</td><td>not-found</td><td>Patient/9 &lt;is&gt; not known</td></tr>"
            ),
            "{html}"
        );
    }

    #[test]
    fn json_escapes_are_read() {
        assert_eq!(
            unescape_json(r#"a\"b\\c\/\n\u00e9\ud83d\ude00"#),
            "a\"b\\c/\né😀"
        );
        assert_eq!(unescape_json(r"\ud83d"), "\u{fffd}");
        assert_eq!(unescape_json("plain"), "plain");
    }

    #[test]
    fn browsers_are_told_apart() {
        let chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
        assert!(BrowserView::is_browser_request(Some(chromium), ""));
        assert!(BrowserView::is_browser_request(Some("TEXT/HTML"), "a=b"));
        assert!(!BrowserView::is_browser_request(Some("text/html;q=0"), ""));
        assert!(!BrowserView::is_browser_request(
            Some(chromium),
            "%5Fformat=xml"
        ));
        assert!(!BrowserView::is_browser_request(
            Some("application/fhir+json"),
            ""
        ));
    }

    /// A JSON string of `s` (quotes and backslashes escaped).
    fn serde_like_string(s: &str) -> String {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}
