//! The store as the kit's generic provider: every interaction of every resource type of a
//! version, answered from the database, and the transaction hook that makes a transaction
//! Bundle one database transaction.
//!
//! The database work is blocking (SQLite is; PostgreSQL runs through the blocking client
//! too, on the same code path), so each request runs it with `spawn_blocking`, except the
//! entries of a transaction Bundle (see `blocking`).
//!
//! ```no_run
//! use fhir_model::r4::Resource;
//! use fhir_rocket::rocket;
//! use fhir_store::catalog::Catalog;
//! use fhir_store::server::StoreServer;
//! use fhir_store::store::Store;
//!
//! let store = Store::open_sqlite("fhir.db".as_ref(), Catalog::of::<Resource>()).unwrap();
//! let rocket = StoreServer::<Resource>::new(store).mount_on(rocket::build(), "/fhir");
//! // fhir_rocket::connection::launch(rocket).await serves it.
//! # let _ = rocket;
//! ```

use crate::search::{Found as FoundRow, PlannedSearch};
use crate::store::{HistoryWindow, Method, Store, StoreError};
use fhir_model::SearchParamKind;
use fhir_rocket::rocket::{self, Request};
use fhir_rocket::search::Include;
use fhir_rocket::{
    BundleProvider, DeclaredParam, FhirError, FhirServer, Found, Glue, Handler, HistoryEntry,
    HistoryMethod, Input, Interaction, ParamRole, Provider, Scope, ServerModel, TransactionHook,
};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

/// The complete server of one FHIR version over a [`Store`].
pub struct StoreServer<R> {
    store: Arc<Store>,
    version: PhantomData<fn() -> R>,
}

impl<R: ServerModel> StoreServer<R> {
    /// The server over `store`, whose catalog must be of `R`'s version.
    pub fn new(store: Store) -> Self {
        StoreServer {
            store: Arc::new(store),
            version: PhantomData,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The kit's server with the store's providers and transaction hook, to configure
    /// further (interceptors, limits) before mounting.
    pub fn fhir_server(&self, base_path: &str) -> FhirServer<R> {
        FhirServer::<R>::new(base_path)
            .software("fhir-store", env!("CARGO_PKG_VERSION"))
            .transactions(StoreTransactions(self.store.clone()))
            .mount(providers::<R>())
    }

    /// Mounts the complete server at `base_path` of `rocket`, managing the store.
    pub fn mount_on(
        self,
        rocket: rocket::Rocket<rocket::Build>,
        base_path: &str,
    ) -> rocket::Rocket<rocket::Build> {
        let server = self.fhir_server(base_path);
        self.manage(server.mount_on(rocket))
    }

    /// Gives `rocket` the store, which the providers take from Rocket's managed state.
    pub fn manage(self, rocket: rocket::Rocket<rocket::Build>) -> rocket::Rocket<rocket::Build> {
        rocket.manage(Managed(self.store))
    }
}

/// The store as Rocket's managed state.
struct Managed(Arc<Store>);

fn store_of(req: &Request<'_>) -> Result<Arc<Store>, FhirError> {
    req.rocket()
        .state::<Managed>()
        .map(|m| m.0.clone())
        .ok_or_else(|| FhirError::internal("the store is not managed by this Rocket instance"))
}

/// Runs blocking database work: off the async threads, so that concurrent requests keep
/// being served, except in a transaction Bundle. There the kit lets no other request in and
/// the entries come one after another, so each runs on the thread that awaits it: handing
/// every entry to another thread and back was a fifth of the time of loading Synthea.
///
/// Tokio's blocking threads are best kept to about as many as the store has connections
/// ([`Store::connections`]; `fhir serve` does it): a thread that finishes takes the next
/// work from the queue at once. With Rocket's default of 512, 16 concurrent searches kept
/// 16 threads waking and sleeping by turns for SQLite's 4 readers, and on 2 cores a third
/// of a search's CPU was the scheduler's.
async fn blocking<T: Send + 'static>(
    store: Arc<Store>,
    work: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, FhirError> {
    use rocket::tokio::runtime::{Handle, RuntimeFlavor};
    if store.in_transaction() && Handle::current().runtime_flavor() == RuntimeFlavor::MultiThread {
        return rocket::tokio::task::block_in_place(|| work(&store)).map_err(to_fhir);
    }
    rocket::tokio::task::spawn_blocking(move || work(&store))
        .await
        .map_err(|e| FhirError::internal(format!("the database work failed: {e}")))?
        .map_err(to_fhir)
}

/// A store error as the answer it is.
fn to_fhir(e: StoreError) -> FhirError {
    match e {
        StoreError::Search(message) => FhirError::bad_request(message),
        StoreError::Exists => FhirError::conflict("a resource with this id exists"),
        StoreError::VersionConflict { current } => FhirError::precondition_failed(match current {
            Some(v) => format!("the resource was changed meanwhile: its current version is {v}"),
            None => "the resource was changed meanwhile".to_string(),
        }),
        StoreError::Rows(e) => FhirError::unprocessable(e.to_string()),
        StoreError::NoId => FhirError::bad_request("the resource has no id"),
        other => FhirError::internal(other),
    }
}

fn parse<R: ServerModel>(body: &str) -> Result<Arc<R>, FhirError> {
    fhir_model::json::from_str::<R>(body)
        .map(Arc::new)
        .map_err(|e| FhirError::internal(format!("a stored resource does not read back: {e}")))
}

/// The modifiers the store evaluates on each kind of parameter (for the
/// CapabilityStatement; the store itself refuses anything else).
fn modifiers(kind: SearchParamKind) -> &'static [&'static str] {
    match kind {
        SearchParamKind::String => &["missing", "exact", "contains"],
        SearchParamKind::Token => &["missing", "not", "text", "of-type"],
        SearchParamKind::Reference => &["missing", "identifier"],
        SearchParamKind::Uri => &["missing", "above", "below"],
        _ => &["missing"],
    }
}

const TYPE_NAME: &[ParamRole] = &[ParamRole::TypeName];
const HISTORY: &[ParamRole] = &[ParamRole::TypeName, ParamRole::HistoryParams];

fn provider<R>(
    interaction: Interaction,
    scope: Scope,
    name: &'static str,
    roles: &'static [ParamRole],
    handler: Handler<R>,
) -> Provider<R> {
    Provider {
        interaction,
        scope,
        params: Vec::new(),
        name,
        operation: None,
        roles,
        includes: &[],
        revincludes: &[],
        sorts: &[],
        subsets: false,
        checks_query: false,
        handler,
    }
}

/// Every provider of the complete server for version `R`: the interactions of every type,
/// and the system history.
pub fn providers<R: ServerModel>() -> Vec<Provider<R>> {
    let mut all = vec![
        provider(
            Interaction::Read,
            Scope::AnyType,
            "store_read",
            TYPE_NAME,
            Handler::Read(read::<R>),
        ),
        provider(
            Interaction::VRead,
            Scope::AnyType,
            "store_read",
            TYPE_NAME,
            Handler::Read(read::<R>),
        ),
        provider(
            Interaction::Create,
            Scope::AnyType,
            "store_create",
            TYPE_NAME,
            Handler::Write(create::<R>),
        ),
        provider(
            Interaction::Update,
            Scope::AnyType,
            "store_update",
            TYPE_NAME,
            Handler::Write(update::<R>),
        ),
        provider(
            Interaction::Patch,
            Scope::AnyType,
            "store_patch",
            TYPE_NAME,
            Handler::Write(patch::<R>),
        ),
        provider(
            Interaction::Delete,
            Scope::AnyType,
            "store_delete",
            TYPE_NAME,
            Handler::Delete(delete::<R>),
        ),
        provider(
            Interaction::HistoryInstance,
            Scope::AnyType,
            "store_history",
            HISTORY,
            Handler::History(history::<R>),
        ),
        provider(
            Interaction::HistoryType,
            Scope::AnyType,
            "store_history",
            HISTORY,
            Handler::History(history::<R>),
        ),
        provider(
            Interaction::HistorySystem,
            Scope::System,
            "store_history",
            HISTORY,
            Handler::History(history::<R>),
        ),
    ];
    // One search per type, so that the CapabilityStatement lists each type's parameters.
    for (name, params) in R::SEARCH_PARAMETERS {
        let mut search = provider(
            Interaction::Search,
            Scope::Type(name),
            "store_search",
            TYPE_NAME,
            Handler::Search(search::<R>),
        );
        search.params = params
            .iter()
            .filter(|p| p.kind != SearchParamKind::Special)
            .map(|p| DeclaredParam {
                name: p.code,
                kind: p.kind,
                required: false,
                definition: p.url,
                documentation: p.description,
                modifiers: modifiers(p.kind),
                chains: &[],
            })
            .collect();
        search.includes = &["*"];
        search.revincludes = &["*"];
        search.checks_query = true;
        all.push(search);
    }
    all
}

fn read<'r, R: ServerModel>(req: &'r Request<'_>, input: Input<R>) -> Glue<'r, Option<Arc<R>>> {
    Box::pin(async move {
        let store = store_of(req)?;
        let (resource_type, id) = (input.resource_type.clone(), input.id()?);
        let body = match input.version_id {
            None => {
                let found = blocking(store, move |store| {
                    Ok(match store.read_current(&resource_type, &id)? {
                        Some(stored) => Ok(stored.body),
                        None => Err(store.deleted_version(&resource_type, &id)?),
                    })
                })
                .await?;
                match found {
                    Ok(body) => body,
                    Err(Some(_)) => {
                        return Err(FhirError::gone(format!(
                            "{}/{} was deleted",
                            input.resource_type,
                            input.id.as_deref().unwrap_or_default()
                        )))
                    }
                    Err(None) => return Ok(None),
                }
            }
            Some(version) => {
                let Ok(number) = version.parse::<i64>() else {
                    return Ok(None);
                };
                let entry = blocking(store, move |store| {
                    store.read_version(&resource_type, &id, number)
                })
                .await?;
                match entry {
                    None => return Ok(None),
                    Some(e) => match e.body {
                        Some(body) => body,
                        None => {
                            return Err(FhirError::gone(format!(
                                "version {version} of {}/{} is its deletion",
                                input.resource_type,
                                input.id.as_deref().unwrap_or_default()
                            )))
                        }
                    },
                }
            }
        };
        parse::<R>(&body).map(Some)
    })
}

fn create<'r, R: ServerModel>(req: &'r Request<'_>, input: Input<R>) -> Glue<'r, Arc<R>> {
    Box::pin(async move {
        let store = store_of(req)?;
        let mut resource = input
            .body
            .ok_or_else(|| FhirError::bad_request("the request has no resource"))?;
        // The server assigns the id of a created resource.
        resource.set_id(None);
        blocking(store, move |store| {
            store.create(&mut resource)?;
            Ok(Arc::new(resource))
        })
        .await
    })
}

fn if_match(input: &Option<String>) -> Result<Option<i64>, FhirError> {
    input
        .as_deref()
        .map(|v| {
            v.parse::<i64>().map_err(|_| {
                FhirError::precondition_failed(format!(
                    "If-Match names '{v}', which is no version here"
                ))
            })
        })
        .transpose()
}

fn update<'r, R: ServerModel>(req: &'r Request<'_>, input: Input<R>) -> Glue<'r, Arc<R>> {
    Box::pin(async move {
        let store = store_of(req)?;
        let expected = if_match(&input.if_match)?;
        let mut resource = input
            .body
            .ok_or_else(|| FhirError::bad_request("the request has no resource"))?;
        if resource.id().is_none() {
            resource.set_id(input.id.clone());
        }
        blocking(store, move |store| {
            store.update(&mut resource, expected, Method::Update)?;
            Ok(Arc::new(resource))
        })
        .await
    })
}

fn patch<'r, R: ServerModel>(req: &'r Request<'_>, input: Input<R>) -> Glue<'r, Arc<R>> {
    Box::pin(async move {
        let store = store_of(req)?;
        let (resource_type, id) = (input.resource_type.clone(), input.id()?);
        let current = {
            let store = store.clone();
            let (t, i) = (resource_type.clone(), id.clone());
            blocking(store, move |store| store.read_current(&t, &i)).await?
        }
        .ok_or_else(|| FhirError::not_found(format!("{resource_type}/{id} is not known")))?;
        let before = parse::<R>(&current.body)?;
        let mut patched = fhir_rocket::patch::apply_to(&*before, &input.patch)?;
        if patched.id() != Some(id.as_str()) || patched.resource_type() != resource_type {
            return Err(FhirError::unprocessable(
                "a patch may not change the resource's type or id",
            ));
        }
        // The version patched is the one replaced: a change meanwhile makes it a 412.
        let expected = Some(if_match(&input.if_match)?.unwrap_or(current.version));
        blocking(store, move |store| {
            store.update(&mut patched, expected, Method::Patch)?;
            Ok(Arc::new(patched))
        })
        .await
    })
}

fn delete<'r, R: ServerModel>(req: &'r Request<'_>, input: Input<R>) -> Glue<'r, ()> {
    Box::pin(async move {
        let store = store_of(req)?;
        let expected = if_match(&input.if_match)?;
        let (resource_type, id) = (input.resource_type.clone(), input.id()?);
        blocking(store, move |store| {
            store.delete(&resource_type, &id, expected)?;
            Ok(())
        })
        .await
    })
}

fn history<'r, R: ServerModel>(
    req: &'r Request<'_>,
    input: Input<R>,
) -> Glue<'r, Vec<HistoryEntry<R>>> {
    Box::pin(async move {
        let store = store_of(req)?;
        let since = match &input.history.since {
            Some(instant) => {
                let (_, start, _) = fhir_rocket::search::date::date_range(instant.as_str())
                    .map_err(|e| FhirError::bad_request(format!("_since: {e}")))?;
                Some(crate::rows::micros(start.0, false))
            }
            None => None,
        };
        let at = input.history.at.as_ref().map(|d| {
            (
                crate::rows::micros(d.range.0 .0, false),
                crate::rows::micros(d.range.1 .0, true),
            )
        });
        let window = HistoryWindow {
            since,
            at,
            count: None,
        };
        let (resource_type, id) = (input.resource_type.clone(), input.id.clone());
        let entries = blocking(store, move |store| match (resource_type.as_str(), id) {
            ("", _) => store.history_of(None, window),
            (t, None) => store.history_of(Some(t), window),
            (t, Some(id)) => store.history(t, &id, window),
        })
        .await?;
        entries
            .into_iter()
            .map(|e| {
                let resource = match &e.body {
                    Some(body) => Some(parse::<R>(body)?),
                    None => None,
                };
                Ok(HistoryEntry {
                    resource_type: e.resource_type,
                    id: e.id,
                    version_id: e.version.to_string(),
                    last_updated: fhir_rocket::http::instant_from_micros(e.last_updated)
                        .parse()
                        .ok(),
                    method: match e.method {
                        Method::Create => HistoryMethod::Create,
                        Method::Delete => HistoryMethod::Delete,
                        Method::Update | Method::Patch => HistoryMethod::Update,
                    },
                    resource: resource.map(|r| (*r).clone()),
                })
            })
            .collect()
    })
}

fn search<'r, R: ServerModel>(req: &'r Request<'_>, input: Input<R>) -> Glue<'r, Found<R>> {
    Box::pin(async move {
        let store = store_of(req)?;
        // Planned once, before the first page, so that what the store does not evaluate is
        // a 400 before anything is counted. Planning reads no database: it runs here.
        let planned = store
            .plan_search(&input.resource_type, &input.query, &input.result.sort)
            .map_err(to_fhir)?;
        let pages = Pages {
            store: store.clone(),
            planned: Arc::new(planned),
            include: input.result.include,
            revinclude: input.result.revinclude,
            last_page: Mutex::new(Vec::new()),
            version: PhantomData,
        };
        let mut found = Found::empty();
        found.paged = Some(Box::new(pages));
        Ok(found)
    })
}

/// A search's matches, counted and loaded page by page in SQL.
struct Pages<R> {
    store: Arc<Store>,
    planned: Arc<PlannedSearch>,
    include: Vec<Include>,
    revinclude: Vec<Include>,
    /// The rows of the page last loaded, for its includes.
    last_page: Mutex<Vec<FoundRow>>,
    version: PhantomData<fn() -> R>,
}

impl<R: ServerModel> Pages<R> {
    /// The rows at positions `start..start + count`.
    async fn rows(&self, start: usize, count: usize) -> Result<Vec<FoundRow>, FhirError> {
        let planned = self.planned.clone();
        blocking(self.store.clone(), move |store| {
            store.page_of(&planned, start, count)
        })
        .await
    }

    /// Parses a page's rows and keeps them for its includes.
    fn keep(&self, rows: Vec<FoundRow>) -> Result<Vec<Arc<R>>, FhirError> {
        let resources = rows
            .iter()
            .map(|row| parse::<R>(&row.body))
            .collect::<Result<Vec<_>, _>>()?;
        *self.last_page.lock().unwrap_or_else(|e| e.into_inner()) = rows;
        Ok(resources)
    }
}

#[rocket::async_trait]
impl<R: ServerModel> BundleProvider<Arc<R>> for Pages<R> {
    async fn size(&self) -> Result<usize, FhirError> {
        let planned = self.planned.clone();
        blocking(self.store.clone(), move |store| store.count_of(&planned)).await
    }

    async fn page(&self, range: std::ops::Range<usize>) -> Result<Vec<Arc<R>>, FhirError> {
        let rows = self.rows(range.start, range.len()).await?;
        self.keep(rows)
    }

    async fn page_without_size(
        &self,
        start: usize,
        count: usize,
    ) -> Result<(Vec<Arc<R>>, bool), FhirError> {
        // One row more than the page says whether another follows.
        let mut rows = self.rows(start, count + 1).await?;
        let more = rows.len() > count;
        // The row past the page is not in it: nothing is included for it.
        rows.truncate(count);
        Ok((self.keep(rows)?, more))
    }

    async fn page_and_size(
        &self,
        start: usize,
        count: usize,
    ) -> Result<(Vec<Arc<R>>, usize), FhirError> {
        let planned = self.planned.clone();
        let (rows, total) = blocking(self.store.clone(), move |store| {
            store.page_and_count(&planned, start, count)
        })
        .await?;
        Ok((self.keep(rows)?, total))
    }

    fn pages_before_counting(&self) -> bool {
        true
    }

    fn answers_includes(&self) -> bool {
        true
    }

    async fn included(&self, _page: &[Arc<R>]) -> Result<Vec<Arc<R>>, FhirError> {
        let rows = std::mem::take(&mut *self.last_page.lock().unwrap_or_else(|e| e.into_inner()));
        if self.include.is_empty() && self.revinclude.is_empty() {
            return Ok(Vec::new());
        }
        let (store, include, revinclude) = (
            self.store.clone(),
            self.include.clone(),
            self.revinclude.clone(),
        );
        let found = blocking(store, move |store| {
            store.included(&rows, &include, &revinclude)
        })
        .await?;
        found.iter().map(|row| parse::<R>(&row.body)).collect()
    }
}

/// The store's transactions, for the kit's transaction Bundles.
struct StoreTransactions(Arc<Store>);

#[rocket::async_trait]
impl TransactionHook for StoreTransactions {
    async fn begin(&self) -> Result<(), FhirError> {
        let store = self.0.clone();
        blocking(store, move |store| store.begin()).await
    }

    async fn commit(&self) -> Result<(), FhirError> {
        let store = self.0.clone();
        blocking(store, move |store| store.commit()).await
    }

    async fn rollback(&self) {
        let store = self.0.clone();
        // Like the entries, on this thread: every blocking thread may be waiting for the
        // connection this transaction holds.
        let _ = blocking(store, move |store| {
            store.rollback();
            Ok(())
        })
        .await;
    }
}
