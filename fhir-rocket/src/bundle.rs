//! The Bundles the kit puts together itself: a page of a search (searchset) or of a
//! history, with its total, its links and its entries. Each is described once, as
//! [`Entry`]s, and written by one of two [`BundleOut`]s: as JSON, or as XML straight from
//! the model for a client that asked for XML (no JSON text on the way, as for a single
//! resource).

use crate::error::Issue;
use crate::provider::{Found, HistoryEntry, HistoryMethod};
use crate::version_model::ServerModel;
use fhir_model::json::{Checkpoint, JsonWriter, Subset};
use fhir_model::xml::{XmlError, XmlWriter};

/// A page of a Bundle: which items of the whole list it holds, and its links.
struct Page {
    start: usize,
    end: usize,
    links: Vec<(&'static str, String)>,
}

/// Works out the page at `offset` of `total` items, with `self`, `next` and `previous` links
/// to `[base]/[path]?query` (paging by `_count` and `_offset`).
fn page(
    base_url: &str,
    path: &str,
    query: &str,
    total: usize,
    count: Option<u32>,
    offset: usize,
) -> Page {
    // `_count=0` asks for the total alone: no entries, no next page.
    let page_size = count.map(|c| c as usize).unwrap_or(total);
    let start = offset.min(total);
    let end = start.saturating_add(page_size).min(total);
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("_offset=") && !p.starts_with("_count="))
        .collect();
    let link = |offset: usize| {
        let mut q = kept.join("&");
        if let Some(count) = count {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(&format!("_count={count}&_offset={offset}"));
        }
        let slash = if path.is_empty() { "" } else { "/" };
        if q.is_empty() {
            format!("{base_url}{slash}{path}")
        } else {
            format!("{base_url}{slash}{path}?{q}")
        }
    };
    let mut links = vec![("self", link(start))];
    if end < total && page_size > 0 {
        links.push(("next", link(end)));
    }
    if start > 0 && page_size > 0 && count.is_some() {
        links.push(("previous", link(start.saturating_sub(page_size))));
    }
    Page { start, end, links }
}

/// The page of a search a request asks for.
#[derive(Clone, Copy, Debug, Default)]
pub struct PageRequest {
    /// `_count`: the page size (the server's default when `None`).
    pub count: Option<u32>,
    /// `_offset`: the index of the page's first match.
    pub offset: usize,
    /// When the matches given are this one page of a larger result (a
    /// [`BundleProvider`](crate::BundleProvider)'s): how many there are in all (for
    /// `_total=none`, as far as the page and whether another follows tell).
    pub total: Option<usize>,
    /// What the Bundle's `total` says (`_total`).
    pub reported: ReportedTotal,
}

/// What a searchset's `total` says.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReportedTotal {
    /// The number of matches.
    #[default]
    Exact,
    /// `_total=estimate` over a result that estimates: about this many.
    Estimate(usize),
    /// `_total=none`: no total.
    Omitted,
}

/// The URL a Bundle answers, `[base]/[path]?query`, from which its links are written.
#[derive(Clone, Copy, Debug)]
pub struct BundleUrl<'a> {
    /// The server's base URL, as the address strategy gives it.
    pub base_url: &'a str,
    /// Below the base: `Patient`, `Patient/1/_history`; empty for the whole server.
    pub path: &'a str,
    /// The query as applied, without `_count` and `_offset` (the links set those).
    pub query: &'a str,
}

/// One entry of a Bundle the kit writes; its parts in the order FHIR gives them.
struct Entry<'a, R> {
    /// `fullUrl`: the base URL, the resource type and the id.
    full_url: Option<[&'a str; 3]>,
    resource: Option<&'a R>,
    /// `search.mode`.
    mode: Option<&'a str>,
    /// `request.method` and `request.url`.
    request: Option<(&'a str, &'a str)>,
    /// `response.status`, `response.etag` and `response.lastModified`.
    response: Option<(&'a str, &'a str, Option<&'a str>)>,
}

impl<R> Entry<'_, R> {
    fn new() -> Self {
        Entry {
            full_url: None,
            resource: None,
            mode: None,
            request: None,
            response: None,
        }
    }
}

/// Where a Bundle is written.
trait BundleOut<R> {
    /// The Bundle's `type`, `total` and `link`s; its entries follow.
    fn start(&mut self, kind: &str, total: Option<usize>, links: &[(&'static str, String)]);
    fn entry(&mut self, entry: &Entry<'_, R>);
    /// The entry of a searchset that tells what the search left out, or what its provider
    /// warns of: an OperationOutcome, `search.mode = outcome`.
    fn outcome(&mut self, warnings: &[Issue]);
    /// After the last entry.
    fn end(&mut self);
}

/// A Bundle written as JSON, its resources whole or as `subset` asks.
struct JsonBundle<'s> {
    w: JsonWriter,
    subset: Option<&'s Subset>,
    /// Before `entry`: taken back to if there is none.
    entries: Option<Checkpoint>,
}

impl<'s> JsonBundle<'s> {
    fn new(entries: usize, subset: Option<&'s Subset>, pretty: bool) -> Self {
        JsonBundle {
            w: JsonWriter::new(Vec::with_capacity(1024 + entries * 512), pretty),
            subset,
            entries: None,
        }
    }
}

impl<R: ServerModel> BundleOut<R> for JsonBundle<'_> {
    fn start(&mut self, kind: &str, total: Option<usize>, links: &[(&'static str, String)]) {
        let w = &mut self.w;
        w.begin_object();
        w.resource_type("Bundle");
        w.key("type");
        w.string(kind);
        if let Some(total) = total {
            w.key("total");
            w.integer(total as i64);
        }
        w.key("link");
        w.begin_array();
        for (relation, url) in links {
            w.item();
            w.begin_object();
            w.key("relation");
            w.string(relation);
            w.key("url");
            w.string(url);
            w.end_object();
        }
        w.end_array();
        self.entries = Some(w.checkpoint());
        w.key("entry");
        w.begin_array();
    }

    fn entry(&mut self, entry: &Entry<'_, R>) {
        let w = &mut self.w;
        w.item();
        w.begin_object();
        if let Some(parts) = entry.full_url {
            w.key("fullUrl");
            w.string_parts(&[parts[0], "/", parts[1], "/", parts[2]]);
        }
        if let Some(resource) = entry.resource {
            w.key("resource");
            crate::subset::write_resource(w, resource, self.subset);
        }
        if let Some(mode) = entry.mode {
            w.key("search");
            w.begin_object();
            w.key("mode");
            w.string(mode);
            w.end_object();
        }
        if let Some((method, url)) = entry.request {
            w.key("request");
            w.begin_object();
            w.key("method");
            w.string(method);
            w.key("url");
            w.string(url);
            w.end_object();
        }
        if let Some((status, etag, last_modified)) = entry.response {
            w.key("response");
            w.begin_object();
            w.key("status");
            w.string(status);
            w.key("etag");
            w.string(etag);
            if let Some(updated) = last_modified {
                w.key("lastModified");
                w.string(updated);
            }
            w.end_object();
        }
        w.end_object();
    }

    fn outcome(&mut self, warnings: &[Issue]) {
        let w = &mut self.w;
        w.item();
        w.begin_object();
        w.key("resource");
        w.raw_number(&String::from_utf8_lossy(&crate::http::outcome_of(
            warnings, None,
        )));
        w.key("search");
        w.begin_object();
        w.key("mode");
        w.string("outcome");
        w.end_object();
        w.end_object();
    }

    fn end(&mut self) {
        let w = &mut self.w;
        if !w.end_array() {
            if let Some(cp) = self.entries.take() {
                w.rollback(cp);
            }
        }
        w.end_object();
    }
}

/// A Bundle written as FHIR XML, its resources whole, straight from the model.
struct XmlBundle {
    w: XmlWriter,
    /// The first error that is not the writer's own (an outcome that did not read).
    error: Option<XmlError>,
}

impl XmlBundle {
    fn new(pretty: bool) -> Self {
        XmlBundle {
            w: XmlWriter::new(pretty),
            error: None,
        }
    }

    fn finish(self) -> Result<Vec<u8>, XmlError> {
        match self.error {
            Some(e) => Err(e),
            None => self.w.finish(),
        }
    }
}

impl<R: ServerModel> BundleOut<R> for XmlBundle {
    fn start(&mut self, kind: &str, total: Option<usize>, links: &[(&'static str, String)]) {
        let w = &mut self.w;
        w.begin_resource("Bundle");
        w.value("type", kind);
        if let Some(total) = total {
            w.value("total", &total.to_string());
        }
        for (relation, url) in links {
            w.begin("link");
            w.value("relation", relation);
            w.value("url", url);
            w.end();
        }
    }

    fn entry(&mut self, entry: &Entry<'_, R>) {
        let w = &mut self.w;
        w.begin("entry");
        if let Some([base, resource_type, id]) = entry.full_url {
            w.value("fullUrl", &format!("{base}/{resource_type}/{id}"));
        }
        if let Some(resource) = entry.resource {
            w.begin("resource");
            w.resource(resource);
            w.end();
        }
        if let Some(mode) = entry.mode {
            w.begin("search");
            w.value("mode", mode);
            w.end();
        }
        if let Some((method, url)) = entry.request {
            w.begin("request");
            w.value("method", method);
            w.value("url", url);
            w.end();
        }
        if let Some((status, etag, last_modified)) = entry.response {
            w.begin("response");
            w.value("status", status);
            w.value("etag", etag);
            if let Some(updated) = last_modified {
                w.value("lastModified", updated);
            }
            w.end();
        }
        w.end();
    }

    fn outcome(&mut self, warnings: &[Issue]) {
        // The OperationOutcome is built as JSON (`outcome_of`, shared with every error
        // answer) and read into the model, to be written like any resource.
        let json = crate::http::outcome_of(warnings, None);
        match fhir_model::json::from_slice::<R>(&json) {
            Ok(outcome) => {
                let mut entry = Entry::new();
                entry.resource = Some(&outcome);
                entry.mode = Some("outcome");
                BundleOut::<R>::entry(self, &entry);
            }
            Err(e) => {
                self.error
                    .get_or_insert_with(|| XmlError::new(e.message().to_string(), e.path()));
            }
        }
    }

    fn end(&mut self) {
        self.w.end();
    }
}

/// The page of the matches a searchset holds, and its total.
struct SearchsetPage<'f, R> {
    page: Page,
    reported: Option<usize>,
    matches: &'f [std::sync::Arc<R>],
    includes: Vec<&'f std::sync::Arc<R>>,
}

fn searchset_page<'f, R: ServerModel>(
    url: BundleUrl<'_>,
    found: &'f Found<R>,
    paging: PageRequest,
) -> SearchsetPage<'f, R> {
    // The matches given start at `offset` when they are one page of a larger result.
    let (total, first) = match paging.total {
        Some(total) => (total, paging.offset.min(total)),
        None => (found.matches.len(), 0),
    };
    let page = page(
        url.base_url,
        url.path,
        url.query,
        total,
        paging.count,
        paging.offset,
    );
    let end = (page.end - first).min(found.matches.len());
    let start = (page.start - first).min(end);
    let includes =
        crate::include::for_page(url.base_url, &found.matches, start..end, &found.includes);
    let reported = match paging.reported {
        ReportedTotal::Exact => Some(total),
        ReportedTotal::Estimate(n) => Some(n),
        ReportedTotal::Omitted => None,
    };
    SearchsetPage {
        page,
        reported,
        matches: &found.matches[start..end],
        includes,
    }
}

fn write_searchset<R: ServerModel>(
    out: &mut dyn BundleOut<R>,
    base_url: &str,
    page: &SearchsetPage<'_, R>,
    warnings: &[Issue],
) {
    out.start("searchset", page.reported, &page.page.links);
    let entries = page
        .matches
        .iter()
        .map(|r| (r, "match"))
        .chain(page.includes.iter().map(|r| (*r, "include")));
    for (resource, mode) in entries {
        let mut entry = Entry::new();
        entry.full_url = resource
            .id()
            .map(|id| [base_url, resource.resource_type(), id]);
        entry.resource = Some(&**resource);
        entry.mode = Some(mode);
        out.entry(&entry);
    }
    if !warnings.is_empty() {
        out.outcome(warnings);
    }
    out.end();
}

/// A searchset Bundle of one page of the matches (of `[base]/[path]?query`; an empty path is
/// a search of the whole server), with `total`, absolute `fullUrl`s and
/// `self`/`next`/`previous` links; each page carries the included resources of its own
/// matches, marked `include`. As JSON, its resources whole or as `subset` asks.
pub fn searchset<R: ServerModel>(
    url: BundleUrl<'_>,
    found: &Found<R>,
    paging: PageRequest,
    warnings: &[Issue],
    subset: Option<&Subset>,
    pretty: bool,
) -> Vec<u8> {
    let page = searchset_page(url, found, paging);
    let entries = page.matches.len() + page.includes.len();
    let mut out = JsonBundle::new(entries, subset, pretty);
    write_searchset(&mut out, url.base_url, &page, warnings);
    out.w.into_inner()
}

/// The same searchset Bundle as [`searchset`], with whole resources, written as FHIR XML
/// straight from the model. Fails as [`fhir_model::xml::to_vec`] does, when a resource
/// holds what XML cannot carry.
pub fn searchset_xml<R: ServerModel>(
    url: BundleUrl<'_>,
    found: &Found<R>,
    paging: PageRequest,
    warnings: &[Issue],
    pretty: bool,
) -> Result<Vec<u8>, XmlError> {
    let page = searchset_page(url, found, paging);
    let mut out = XmlBundle::new(pretty);
    write_searchset(&mut out, url.base_url, &page, warnings);
    out.finish()
}

fn write_history<R: ServerModel>(
    out: &mut dyn BundleOut<R>,
    url: BundleUrl<'_>,
    entries: &[HistoryEntry<R>],
    count: Option<u32>,
    offset: usize,
) {
    let BundleUrl {
        base_url,
        path,
        query,
    } = url;
    let total = entries.len();
    let page = page(base_url, path, query, total, count, offset);
    out.start("history", Some(total), &page.links);
    for e in &entries[page.start..page.end] {
        let (method, url, status) = match e.method {
            HistoryMethod::Create => ("POST", e.resource_type.to_string(), "201 Created"),
            HistoryMethod::Update => ("PUT", format!("{}/{}", e.resource_type, e.id), "200 OK"),
            HistoryMethod::Delete => (
                "DELETE",
                format!("{}/{}", e.resource_type, e.id),
                "204 No Content",
            ),
        };
        let etag = format!("W/\"{}\"", e.version_id);
        let mut entry = Entry::new();
        entry.full_url = Some([base_url, e.resource_type, &e.id]);
        entry.resource = e.resource.as_ref();
        entry.request = Some((method, &url));
        entry.response = Some((status, &etag, e.last_updated.as_ref().map(|u| u.as_str())));
        out.entry(&entry);
    }
    out.end();
}

/// A history Bundle of one page of versions, each with its request and response; as JSON,
/// its resources whole or as `subset` asks.
pub fn history<R: ServerModel>(
    url: BundleUrl<'_>,
    entries: &[HistoryEntry<R>],
    count: Option<u32>,
    offset: usize,
    subset: Option<&Subset>,
    pretty: bool,
) -> Vec<u8> {
    let mut out = JsonBundle::new(
        entries.len().min(count.unwrap_or(u32::MAX) as usize),
        subset,
        pretty,
    );
    write_history(&mut out, url, entries, count, offset);
    out.w.into_inner()
}

/// The same history Bundle as [`history`], with whole resources, written as FHIR XML
/// straight from the model.
pub fn history_xml<R: ServerModel>(
    url: BundleUrl<'_>,
    entries: &[HistoryEntry<R>],
    count: Option<u32>,
    offset: usize,
    pretty: bool,
) -> Result<Vec<u8>, XmlError> {
    let mut out = XmlBundle::new(pretty);
    write_history(&mut out, url, entries, count, offset);
    out.finish()
}
