//! Providers: plain async functions, described by the attribute macros of fhir-macros as
//! [`Provider`] values that the server routes requests to.

use crate::context::RequestContext;
use crate::error::FhirError;
use crate::extract::{ParamRole, ServedType};
use crate::search::{Query, ResultParams};
use crate::shared::IntoShared;
use fhir_model::SearchParamKind;
use rocket::futures::future::BoxFuture;
use rocket::request::Outcome;
use rocket::Request;
use std::sync::Arc;

/// A FHIR REST interaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Interaction {
    /// `GET [type]/[id]`
    Read,
    /// `GET [type]/[id]/_history/[vid]`
    VRead,
    /// `GET [type]?...`
    Search,
    /// `POST [type]`
    Create,
    /// `PUT [type]/[id]`
    Update,
    /// `DELETE [type]/[id]`
    Delete,
    /// `PATCH [type]/[id]`
    Patch,
    /// `GET [type]/[id]/_history`
    HistoryInstance,
    /// `GET [type]/_history`
    HistoryType,
    /// `GET /_history`
    HistorySystem,
    /// `POST [type]/[id]/$name`, `[type]/$name` or `/$name` (GET too when idempotent).
    Operation,
}

impl Interaction {
    /// The CapabilityStatement code of the interaction.
    pub fn code(self) -> &'static str {
        match self {
            Interaction::Read => "read",
            Interaction::VRead => "vread",
            Interaction::Search => "search-type",
            Interaction::Create => "create",
            Interaction::Update => "update",
            Interaction::Delete => "delete",
            Interaction::Patch => "patch",
            Interaction::HistoryInstance => "history-instance",
            Interaction::HistoryType => "history-type",
            Interaction::HistorySystem => "history-system",
            Interaction::Operation => "operation",
        }
    }

    /// The HTTP method of the interaction.
    pub fn method(self) -> &'static str {
        match self {
            Interaction::Read
            | Interaction::VRead
            | Interaction::Search
            | Interaction::HistoryInstance
            | Interaction::HistoryType
            | Interaction::HistorySystem => "GET",
            Interaction::Operation => "POST",
            Interaction::Create => "POST",
            Interaction::Update => "PUT",
            Interaction::Delete => "DELETE",
            Interaction::Patch => "PATCH",
        }
    }
}

/// A search parameter a search provider declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeclaredParam {
    /// The parameter's name in URLs.
    pub name: &'static str,
    /// Its type.
    pub kind: SearchParamKind,
    /// Whether the provider needs it (`T` or a list) or not (`Option<..>`).
    pub required: bool,
    /// The canonical URL of its definition.
    pub definition: &'static str,
    /// Its documentation, from the definition.
    pub documentation: &'static str,
    /// The modifiers the provider evaluates (`exact`, `not`, `missing`, ...): any other is
    /// refused, as ignoring it would answer wrong data.
    pub modifiers: &'static [&'static str],
    /// For references: the chains the provider follows (`name`, `Patient.identifier`).
    pub chains: &'static [&'static str],
}

impl DeclaredParam {
    /// Describes the parameter `name` of a provider of `T` from the FHIR definitions, when its
    /// role makes it a search parameter.
    pub fn of<T: ServedType>(
        name: &'static str,
        role: ParamRole,
        modifiers: &'static [&'static str],
        chains: &'static [&'static str],
    ) -> Option<DeclaredParam> {
        let ParamRole::Search { required, .. } = role else {
            return None;
        };
        let definition = T::SEARCH_PARAMETERS.iter().find(|p| p.code == name);
        Some(DeclaredParam {
            name,
            kind: definition.map_or(SearchParamKind::Special, |d| d.kind),
            required,
            definition: definition.map_or("", |d| d.url),
            documentation: definition.map_or("", |d| d.description),
            modifiers,
            chains,
        })
    }
}

/// What the server hands a provider's glue code: the fields its interaction uses.
pub struct Input<R> {
    /// The request context.
    pub context: RequestContext,
    /// The resource type of the request (a generic provider serves several).
    pub resource_type: String,
    /// The logical id from the URL.
    pub id: Option<String>,
    /// The version id from the URL (`_history/[vid]`).
    pub version_id: Option<String>,
    /// The search parameters of the query (without the result parameters).
    pub query: Query,
    /// The result parameters of a search: `_count`, `_sort`, `_include`, `_revinclude`, ...
    pub result: ResultParams,
    /// The parameters of a history request.
    pub history: HistoryParams,
    /// The JSON Patch of a patch request.
    pub patch: Vec<crate::patch::PatchOp>,
    /// The resource in the request body, already read.
    pub body: Option<R>,
    /// What the provider adds to the answer.
    pub extras: crate::extras::ResponseExtras,
    /// For update, patch and delete: the version `If-Match` names (`"3"` of `W/"3"`). The
    /// server has checked it against the current version; a provider that writes with a
    /// version check (a database's `UPDATE ... WHERE version = ?`) checks it again in the
    /// write itself, so that of two racing writers naming the same version only one wins.
    pub if_match: Option<String>,
}

impl<R> Input<R> {
    /// An input with nothing but the context and the resource type.
    pub fn new(context: RequestContext, resource_type: &str) -> Self {
        Input {
            context,
            resource_type: resource_type.to_string(),
            id: None,
            version_id: None,
            query: Query::default(),
            result: ResultParams::default(),
            history: HistoryParams::default(),
            patch: Vec::new(),
            body: None,
            extras: Default::default(),
            if_match: None,
        }
    }

    /// The id from the URL; an error when the route has none.
    pub fn id(&self) -> Result<String, FhirError> {
        self.id
            .clone()
            .ok_or_else(|| FhirError::bad_request("the request URL has no resource id"))
    }

    /// The resource type of the request, for generic providers.
    pub fn type_name(&self) -> crate::TypeName {
        crate::TypeName(self.resource_type.clone())
    }
}

/// What a search provider found, in the server's terms: the matches and the resources
/// included with them, or a [`BundleProvider`] that loads the page asked for.
pub struct Found<R> {
    /// The matches, all pages (empty when `paged` loads them).
    pub matches: Vec<Arc<R>>,
    /// Included resources, each written on the pages whose matches it belongs with.
    pub includes: Vec<Arc<R>>,
    /// The matches, loaded one page at a time.
    pub paged: Option<Paged<Arc<R>>>,
    /// Set when `matches` are candidates that the server filters with the query and sorts
    /// (see [`SearchResults::candidates`]).
    pub candidates: Option<Candidates<R>>,
}

impl<R> Found<R> {
    /// Found nothing yet.
    pub fn empty() -> Self {
        Found {
            matches: Vec::new(),
            includes: Vec::new(),
            paged: None,
            candidates: None,
        }
    }

    /// A search provider returned its matches.
    pub fn matches<T: IntoShared<Resource = R>>(values: Vec<T>) -> Self {
        Found {
            matches: values.into_iter().map(IntoShared::into_shared).collect(),
            ..Found::empty()
        }
    }

    /// A search provider returned matches and included resources.
    pub fn from_results<T: IntoShared<Resource = R>>(results: SearchResults<T>) -> Self {
        Found {
            matches: results.matches.into_iter().map(T::into_shared).collect(),
            includes: results.includes,
            paged: None,
            candidates: results.candidates,
        }
    }

    /// A search provider returned a [`BundleProvider`].
    pub fn from_paged<T>(paged: Paged<T>) -> Self
    where
        T: IntoShared<Resource = R> + Send + 'static,
        R: Send + Sync + 'static,
    {
        Found {
            paged: Some(Box::new(Shares(paged))),
            ..Found::empty()
        }
    }
}

/// A search result that knows how many matches there are and loads one page's range on
/// demand (HAPI's `IBundleProvider`), so that a search over a database never loads every
/// match. A search provider returns it as [`Paged<T>`]; the server asks for the size once and
/// for the range of the page the request names (`_count`, `_offset`), and links the other
/// pages statelessly.
///
/// ```
/// use fhir_rocket::model::r4::Patient;
/// use fhir_rocket::{BundleProvider, FhirError};
/// use std::ops::Range;
///
/// /// Patients numbered 0..n, made when asked for.
/// struct Numbered(usize);
///
/// #[rocket::async_trait]
/// impl BundleProvider<Patient> for Numbered {
///     async fn size(&self) -> Result<usize, FhirError> {
///         Ok(self.0)
///     }
///     async fn page(&self, range: Range<usize>) -> Result<Vec<Patient>, FhirError> {
///         Ok(range.map(|i| Patient { id: Some(i.to_string().as_str().into()), ..Default::default() }).collect())
///     }
/// }
/// ```
#[rocket::async_trait]
pub trait BundleProvider<T>: Send + Sync {
    /// How many matches there are.
    async fn size(&self) -> Result<usize, FhirError>;
    /// The matches at positions `range` (within `0..size`), in order.
    async fn page(&self, range: std::ops::Range<usize>) -> Result<Vec<T>, FhirError>;
    /// About how many matches there are, for `_total=estimate`; a store that can estimate
    /// more cheaply than it counts says so here. By default, [`BundleProvider::size`].
    async fn estimated_size(&self) -> Result<usize, FhirError> {
        self.size().await
    }
    /// For `_total=none`: at most `count` matches from position `start` on, and whether
    /// more follow, without counting them all (a store answers with one query for
    /// `count + 1` rows). By default through [`BundleProvider::size`] and
    /// [`BundleProvider::page`].
    async fn page_without_size(
        &self,
        start: usize,
        count: usize,
    ) -> Result<(Vec<T>, bool), FhirError> {
        let size = self.size().await?;
        let start = start.min(size);
        let end = start.saturating_add(count).min(size);
        Ok((self.page(start..end).await?, end < size))
    }
    /// At most `count` matches from position `start` on, and how many there are, for a
    /// search that reports its total. A store overrides it to read both in one transaction,
    /// so that they agree and the round trips are shared. By default, with
    /// [`BundleProvider::pages_before_counting`], the page first (one past it says whether
    /// more follow) and the size only when they do, or when the page starts past the end;
    /// otherwise the size, then the page within it.
    async fn page_and_size(&self, start: usize, count: usize) -> Result<(Vec<T>, usize), FhirError>
    where
        T: Send,
    {
        if self.pages_before_counting() {
            let (mut page, more) = self.page_without_size(start, count).await?;
            page.truncate(count);
            let total = match total_from_page(start, page.len(), more) {
                Some(total) => total,
                None => self.size().await?,
            };
            return Ok((page, total));
        }
        let total = self.size().await?;
        let start = start.min(total);
        let end = start.saturating_add(count).min(total);
        let mut page = self.page(start..end).await?;
        page.truncate(end - start);
        Ok((page, total))
    }
    /// Whether [`BundleProvider::page_without_size`] is cheaper than
    /// [`BundleProvider::size`], as in a database, where counting reads every match and a
    /// page reads one row past it. When it is, a search that reports its total reads the
    /// page first and counts only when more follow: a result that fits on its page is
    /// counted by the page. By default, `false`: the size first.
    fn pages_before_counting(&self) -> bool {
        false
    }
    /// Whether [`BundleProvider::included`] answers the request's `_include` and
    /// `_revinclude`; when it does not, a search that asks for them is a 400.
    fn answers_includes(&self) -> bool {
        false
    }
    /// The resources the request's `_include` and `_revinclude` add to `page`.
    async fn included(&self, page: &[T]) -> Result<Vec<T>, FhirError> {
        let _ = page;
        Ok(Vec::new())
    }
}

/// The number of matches, when a page says it: one that starts at `start` with `len`
/// matches and no more after it (`more`, known from one row read past it) ends them, if it
/// starts within them (`start` is 0 or the page is not empty). `None`: they must be counted.
///
/// ```
/// use fhir_rocket::total_from_page;
/// assert_eq!(total_from_page(40, 7, false), Some(47));
/// assert_eq!(total_from_page(40, 20, true), None);
/// // Past the end, the page cannot say where the end was.
/// assert_eq!(total_from_page(40, 0, false), None);
/// assert_eq!(total_from_page(0, 0, false), Some(0));
/// ```
pub fn total_from_page(start: usize, len: usize, more: bool) -> Option<usize> {
    (!more && (start == 0 || len > 0)).then_some(start + len)
}

/// What a paging search provider returns.
pub type Paged<T> = Box<dyn BundleProvider<T>>;

/// A provider's pages, as the server holds resources.
struct Shares<T>(Paged<T>);

#[rocket::async_trait]
impl<T, R> BundleProvider<Arc<R>> for Shares<T>
where
    T: IntoShared<Resource = R> + Send + 'static,
    R: Send + Sync + 'static,
{
    async fn size(&self) -> Result<usize, FhirError> {
        self.0.size().await
    }

    async fn page(&self, range: std::ops::Range<usize>) -> Result<Vec<Arc<R>>, FhirError> {
        Ok(shared_all(self.0.page(range).await?))
    }

    async fn estimated_size(&self) -> Result<usize, FhirError> {
        self.0.estimated_size().await
    }

    fn pages_before_counting(&self) -> bool {
        self.0.pages_before_counting()
    }

    async fn page_and_size(
        &self,
        start: usize,
        count: usize,
    ) -> Result<(Vec<Arc<R>>, usize), FhirError> {
        let (page, total) = self.0.page_and_size(start, count).await?;
        Ok((shared_all(page), total))
    }

    async fn page_without_size(
        &self,
        start: usize,
        count: usize,
    ) -> Result<(Vec<Arc<R>>, bool), FhirError> {
        let (page, more) = self.0.page_without_size(start, count).await?;
        Ok((shared_all(page), more))
    }
}

/// A provider's page, as the server holds resources.
fn shared_all<T: IntoShared>(page: Vec<T>) -> Vec<Arc<T::Resource>> {
    page.into_iter().map(IntoShared::into_shared).collect()
}

/// A provider returned a resource (`T` or [`Shared<T>`](crate::Shared)).
pub fn shared<T: IntoShared>(value: T) -> Arc<T::Resource> {
    value.into_shared()
}

/// A provider returned an optional resource: `None` is 404.
pub fn maybe_shared<T: IntoShared>(value: Option<T>) -> Option<Arc<T::Resource>> {
    value.map(IntoShared::into_shared)
}

/// A history provider returned versions.
pub fn history_of<T: Into<R>, R>(entries: Vec<HistoryEntry<T>>) -> Vec<HistoryEntry<R>> {
    entries.into_iter().map(HistoryEntry::convert).collect()
}

/// The parameters of a history request: `_since`, `_at` and `_count`.
#[derive(Clone, Debug, Default)]
pub struct HistoryParams {
    /// `_since`: only versions created at or after this instant.
    pub since: Option<fhir_model::Instant>,
    /// `_at`: only versions current at some point in this period.
    pub at: Option<crate::search::DateParam>,
    /// `_count`: the page size, for information: the server pages the versions a provider
    /// returns (all of them, newest first), so a provider does not cut them to it.
    pub count: Option<u32>,
}

/// How a version came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HistoryMethod {
    /// Created (`POST`).
    Create,
    /// Updated (`PUT`).
    Update,
    /// Deleted (`DELETE`): the entry has no resource.
    Delete,
}

/// One version in a history.
#[derive(Clone, Debug)]
pub struct HistoryEntry<T> {
    /// The resource type.
    pub resource_type: &'static str,
    /// The logical id.
    pub id: String,
    /// The version id.
    pub version_id: String,
    /// When the version was made.
    pub last_updated: Option<fhir_model::Instant>,
    /// How it was made.
    pub method: HistoryMethod,
    /// The resource as of this version; `None` for a deletion.
    pub resource: Option<T>,
}

impl<T> HistoryEntry<T> {
    /// The entry with its resource converted (to the version's `Resource` enum).
    pub fn convert<R>(self) -> HistoryEntry<R>
    where
        T: Into<R>,
    {
        HistoryEntry {
            resource_type: self.resource_type,
            id: self.id,
            version_id: self.version_id,
            last_updated: self.last_updated,
            method: self.method,
            resource: self.resource.map(Into::into),
        }
    }
}

/// What a search provider returns when it also answers `_include` or `_revinclude`:
/// `SearchResults<T>`, or `SearchResults<Shared<T>>` for resources held in memory.
///
/// Included resources may be of any type and are shared, so that including a resource the
/// provider already holds copies nothing. The server writes each resource once: an include
/// that is also a match, or that was included twice (same type and id), is dropped.
///
/// ```
/// use fhir_rocket::model::r4::{Observation, Patient};
/// use fhir_rocket::{SearchResults, Shared};
///
/// let patient = Shared::new(Patient { id: Some("p1".into()), ..Default::default() });
/// let mut found = SearchResults::new(vec![Observation::default()]);
/// found.include(patient.clone());
/// found.include(Patient { id: Some("p2".into()), ..Default::default() });
/// assert_eq!(found.includes.len(), 2);
/// ```
pub struct SearchResults<T: IntoShared> {
    /// The resources that match the search.
    pub matches: Vec<T>,
    /// The resources included with them, of any type.
    pub includes: Vec<Arc<T::Resource>>,
    /// Set when `matches` are candidates for the server to filter and sort
    /// ([`SearchResults::candidates`]).
    pub candidates: Option<Candidates<T::Resource>>,
}

/// A resolver a provider hands the server: the resource a reference points to.
pub type SharedResolve<R> = dyn Fn(&str) -> Option<Arc<R>> + Send + Sync;

/// A source of every resource of a type, that a provider hands the server.
pub type SharedOfType<R> = dyn Fn(&str) -> Vec<Arc<R>> + Send + Sync;

/// How the server filters a provider's candidates ([`SearchResults::candidates`]): the
/// sources that chained parameters and `_has` reach. Without them, a query with a chain or a
/// `_has` is a 400.
pub struct Candidates<R> {
    /// The resource a reference points to (`Patient/1`), for chains.
    pub resolve: Option<Arc<SharedResolve<R>>>,
    /// Every resource of a type, for `_has`.
    pub of_type: Option<Arc<SharedOfType<R>>>,
}

impl<R> Default for Candidates<R> {
    fn default() -> Self {
        Candidates {
            resolve: None,
            of_type: None,
        }
    }
}

impl<T: IntoShared> SearchResults<T> {
    /// The matches, with nothing included yet.
    pub fn new(matches: Vec<T>) -> Self {
        SearchResults {
            matches,
            includes: Vec::new(),
            candidates: None,
        }
    }

    /// Candidates, not matches: the server keeps those the whole query matches, evaluated
    /// with the in-memory matcher ([`search::matcher`](crate::search::matcher)) over the
    /// search parameters the provider declares, and sorts them by `_sort`. Included resources
    /// that no remaining match is related to are dropped. A provider over data in memory can
    /// so hand over every resource of its type, or a superset it narrowed cheaply.
    ///
    /// ```
    /// use fhir_rocket::model::r4::Patient;
    /// use fhir_rocket::SearchResults;
    ///
    /// let all = vec![Patient::default(), Patient::default()];
    /// let found = SearchResults::candidates(all).resolving(|_reference| None);
    /// assert!(found.candidates.is_some());
    /// ```
    pub fn candidates(candidates: Vec<T>) -> Self {
        SearchResults {
            matches: candidates,
            includes: Vec::new(),
            candidates: Some(Candidates::default()),
        }
    }

    /// The resolver chained parameters follow references with.
    pub fn resolving(
        mut self,
        resolve: impl Fn(&str) -> Option<Arc<T::Resource>> + Send + Sync + 'static,
    ) -> Self {
        self.candidates
            .get_or_insert_with(Candidates::default)
            .resolve = Some(Arc::new(resolve));
        self
    }

    /// The source of the resources of other types that `_has` searches.
    pub fn of_type(
        mut self,
        of_type: impl Fn(&str) -> Vec<Arc<T::Resource>> + Send + Sync + 'static,
    ) -> Self {
        self.candidates
            .get_or_insert_with(Candidates::default)
            .of_type = Some(Arc::new(of_type));
        self
    }

    /// Adds a resource of any type to the included ones: a resource, or a [`Shared`](crate::Shared) one.
    pub fn include(&mut self, resource: impl IntoShared<Resource = T::Resource>) {
        self.includes.push(resource.into_shared());
    }
}

impl<T: IntoShared> Default for SearchResults<T> {
    fn default() -> Self {
        SearchResults::new(Vec::new())
    }
}

/// A boxed future of a provider's glue.
pub type Glue<'r, T> = BoxFuture<'r, Result<T, FhirError>>;

/// The glue of one provider function, answering `T`.
pub type HandlerFn<R, T> = for<'r> fn(&'r Request<'_>, Input<R>) -> Glue<'r, T>;

/// The glue the macros generate for one provider function, typed by interaction: a read
/// that returns a list cannot be mounted as a read.
pub enum Handler<R> {
    /// Read and vread: one resource or none (404).
    Read(HandlerFn<R, Option<Arc<R>>>),
    /// Search: matches and includes.
    Search(HandlerFn<R, Found<R>>),
    /// Create, update and patch: the stored resource.
    Write(HandlerFn<R, Arc<R>>),
    /// Delete: nothing.
    Delete(HandlerFn<R, ()>),
    /// History: versions, newest first.
    History(HandlerFn<R, Vec<HistoryEntry<R>>>),
    /// Operation: the result, any resource.
    Operation(HandlerFn<R, Arc<R>>),
}

impl<R> Clone for Handler<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Handler<R> {}

/// What a provider serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The whole server (system history, system operations).
    System,
    /// One resource type.
    Type(&'static str),
    /// Every resource type of the version (a generic provider, taking the version's
    /// `Resource` enum and a [`TypeName`](crate::TypeName)); per-type providers of the same
    /// interaction take precedence.
    AnyType,
}

/// One provider function, as the server routes to it.
pub struct Provider<R> {
    /// The interaction it implements.
    pub interaction: Interaction,
    /// What it serves.
    pub scope: Scope,
    /// For searches: the parameters it takes.
    pub params: Vec<DeclaredParam>,
    /// The function's name, for messages.
    pub name: &'static str,
    /// For operations: what the operation is.
    pub operation: Option<OperationInfo>,
    /// What the function's parameters receive, from their types (request guards aside).
    pub roles: &'static [crate::ParamRole],
    /// For searches: the `_include` values it answers (`Observation:subject`, `*`).
    pub includes: &'static [&'static str],
    /// For searches: the `_revinclude` values it answers.
    pub revincludes: &'static [&'static str],
    /// For searches: the search parameters it sorts by (`_sort`).
    pub sorts: &'static [&'static str],
    /// For searches: it applies `_summary` and `_elements` itself (and tags what it
    /// subsets), so the kit hands them over instead of subsetting its matches.
    pub subsets: bool,
    /// For searches: it checks the whole query itself (a database that plans every query
    /// into SQL): the kit hands it every search parameter, modifier, chain, `_sort` key and
    /// `_include`/`_revinclude` (with `:iterate`) without checking them against `params`,
    /// `sorts` and `includes`, and the provider answers 400 for anything it does not
    /// evaluate. `params` then only describes it (the CapabilityStatement).
    pub checks_query: bool,
    /// Its glue.
    pub handler: Handler<R>,
}

impl<R> Provider<R> {
    /// Whether one of the function's parameters has `role` (compared by kind).
    pub fn takes(&self, role: crate::ParamRole) -> bool {
        crate::checks::has_role(self.roles, role)
    }
}

impl<R> Clone for Provider<R> {
    fn clone(&self) -> Self {
        Provider {
            interaction: self.interaction,
            scope: self.scope,
            params: self.params.clone(),
            name: self.name,
            operation: self.operation,
            roles: self.roles,
            includes: self.includes,
            revincludes: self.revincludes,
            sorts: self.sorts,
            subsets: self.subsets,
            checks_query: self.checks_query,
            handler: self.handler,
        }
    }
}

/// An operation (`$everything`, `$validate`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OperationInfo {
    /// The name, with its `$`.
    pub name: &'static str,
    /// Whether it changes nothing, so that `GET` may invoke it with primitive inputs in the
    /// query.
    pub idempotent: bool,
    /// Invoked on one resource (`[type]/[id]/$name`) rather than on the type or system.
    pub instance: bool,
    /// The canonical URL of its OperationDefinition, if given.
    pub definition: &'static str,
}

/// Implemented by the item each attribute macro generates beside the function, so that
/// [`providers!`](crate::providers) can name providers by their function names.
pub trait ProviderInfo {
    /// The `Resource` enum of the provider's FHIR version.
    type Resource;
    /// The providers of the function: usually one; a read that takes a version serves vread
    /// too.
    fn providers() -> Vec<Provider<Self::Resource>>;
}

/// Lists provider functions for [`FhirServer::mount`](crate::FhirServer::mount), like Rocket's
/// `routes![]`.
#[macro_export]
macro_rules! providers {
    ($($name:path),* $(,)?) => {{
        let mut providers = ::std::vec::Vec::new();
        $(providers.extend(<$name as $crate::ProviderInfo>::providers());)*
        providers
    }};
}

/// Turns the outcome of a Rocket request guard for a provider parameter (`&State<T>`, an
/// authenticated user, ...) into the argument or an error: a guard that fails answers with its
/// status; one that forwards answers 401.
pub fn guard<T, E>(outcome: Outcome<T, E>) -> Result<T, FhirError> {
    match outcome {
        Outcome::Success(value) => Ok(value),
        Outcome::Error((status, _)) => Err(FhirError::new(
            status.code,
            match status.code {
                401 => "login",
                403 => "forbidden",
                _ => "processing",
            },
            format!("request guard failed: {}", status.reason_lossy()),
        )),
        Outcome::Forward(_) => Err(FhirError::unauthorized("request guard did not succeed")),
    }
}
