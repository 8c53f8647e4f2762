//! Example FHIR servers on fhir-rocket.
//!
//! [`memory_server`] keeps Patients and Observations in memory, with versions, and serves
//! every interaction the kit has; the integration tests run against it.

pub mod audit;

use fhir_rocket::model::r4::{
    codes, Bundle, BundleEntry, Observation, Parameters, ParametersParameter, Patient, Resource,
};
use fhir_rocket::model::{FhirResource, Instant, ResourceType};

use fhir_rocket::search::date::date_range;
use fhir_rocket::search::{
    AndList, CompositeParam, DateParam, HasParam, IdParam, OrList, QuantityParam, ReferenceParam,
    ResultParams, StringParam, TokenParam,
};
use fhir_rocket::{
    create, delete, history, operation, patch, providers, read, search, update, FhirError,
    FhirServer, HistoryEntry, HistoryMethod, HistoryParams, LogicalId, SearchResults, Shared,
    TransactionHook, TypeName, VersionId,
};
use rocket::State;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Every version of every resource; a deleted version is `None`. Clones share the data (the
/// transaction hook holds one).
#[derive(Clone, Default)]
pub struct Store {
    inner: Arc<Mutex<Inner>>,
}

/// A resource's key in the store: type and id.
type Key = (&'static str, String);

#[derive(Default)]
struct Inner {
    next_id: u64,
    history: BTreeMap<Key, Vec<Version>>,
    /// While a transaction runs: how many versions each resource it wrote had before, in
    /// write order, and the id counter, to undo it.
    journal: Option<(u64, Vec<(Key, usize)>)>,
}

impl Inner {
    /// The versions of a resource, to add one; remembered for a rollback.
    fn versions_for_write(&mut self, key: Key) -> &mut Vec<Version> {
        let before = self.history.get(&key).map_or(0, Vec::len);
        if let Some((_, journal)) = &mut self.journal {
            journal.push((key.clone(), before));
        }
        self.history.entry(key).or_default()
    }
}

/// The resource type name of this version that `name` spells, as the store keys it.
fn static_type(name: &str) -> Result<&'static str, FhirError> {
    let types = fhir_rocket::model::r4::RESOURCE_TYPES;
    types
        .binary_search(&name)
        .map(|i| types[i])
        .map_err(|_| FhirError::not_found(format!("'{name}' is not a resource type")))
}

/// One version: the resource, or `None` for a deletion, and when it was made.
struct Version {
    resource: Option<Arc<Resource>>,
    at: Instant,
}

fn now() -> Instant {
    fhir_rocket::http::instant_now()
        .parse()
        .expect("the clock gives a valid instant")
}

impl Store {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent data: every write is one insert.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a new resource under a fresh id, as version 1.
    ///
    /// The stored resource is handed back shared, not copied.
    pub fn create<T>(&self, resource: T) -> Shared<T>
    where
        T: ResourceType<Resource = Resource> + Into<Resource>,
    {
        let stored = self
            .create_any(resource.into())
            .expect("a resource type of this version");
        Shared::from_arc(stored).unwrap_or_else(|other: Arc<Resource>| {
            panic!(
                "stored as it was given, yet read back as a {}",
                other.resource_type()
            )
        })
    }

    /// Stores a new resource of any type under a fresh id, as version 1.
    pub fn create_any(&self, mut resource: Resource) -> Result<Arc<Resource>, FhirError> {
        let resource_type = static_type(resource.resource_type())?;
        let mut inner = self.lock();
        inner.next_id += 1;
        let id = inner.next_id.to_string();
        let at = now();
        resource.set_id(Some(id.clone()));
        resource.set_version(Some("1".into()), Some(at.clone()));
        let resource = Arc::new(resource);
        inner.versions_for_write((resource_type, id)).push(Version {
            resource: Some(resource.clone()),
            at,
        });
        Ok(resource)
    }

    /// The current version of a resource of any type, or the given one; 410 when deleted.
    pub fn read_any(
        &self,
        resource_type: &str,
        id: &str,
        version: Option<&str>,
    ) -> Result<Option<Arc<Resource>>, FhirError> {
        let inner = self.lock();
        let Some(versions) = inner
            .history
            .get(&(static_type(resource_type)?, id.to_string()))
        else {
            return Ok(None);
        };
        let entry = match version {
            None => versions.last(),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n >= 1 => versions.get(n - 1),
                _ => None,
            },
        };
        match entry.map(|v| &v.resource) {
            None => Ok(None),
            Some(None) => Err(FhirError::gone(format!("{resource_type}/{id} was deleted"))),
            Some(Some(resource)) => Ok(Some(resource.clone())),
        }
    }

    /// Stores a new version of a resource of any type (or version 1 of a new id).
    pub fn update_any(&self, id: &str, mut resource: Resource) -> Result<Arc<Resource>, FhirError> {
        let resource_type = static_type(resource.resource_type())?;
        let mut inner = self.lock();
        let versions = inner.versions_for_write((resource_type, id.to_string()));
        let at = now();
        resource.set_id(Some(id.to_string()));
        resource.set_version(Some((versions.len() + 1).to_string()), Some(at.clone()));
        let resource = Arc::new(resource);
        versions.push(Version {
            resource: Some(resource.clone()),
            at,
        });
        Ok(resource)
    }

    /// Starts remembering writes, to undo them on [`Store::rollback`].
    fn begin(&self) {
        let mut inner = self.lock();
        let next_id = inner.next_id;
        inner.journal = Some((next_id, Vec::new()));
    }

    /// Forgets the writes since [`Store::begin`]: they stay.
    fn commit(&self) {
        self.lock().journal = None;
    }

    /// Undoes every write since [`Store::begin`].
    fn rollback(&self) {
        let mut inner = self.lock();
        let Some((next_id, journal)) = inner.journal.take() else {
            return;
        };
        for (key, before) in journal.into_iter().rev() {
            if before == 0 {
                inner.history.remove(&key);
            } else if let Some(versions) = inner.history.get_mut(&key) {
                versions.truncate(before);
            }
        }
        inner.next_id = next_id;
    }

    /// The current version, or the given one, shared rather than copied; 410 when deleted,
    /// `None` when unknown.
    pub fn read<T: ResourceType<Resource = Resource>>(
        &self,
        id: &str,
        version: Option<&str>,
    ) -> Result<Option<Shared<T>>, FhirError> {
        Ok(self
            .read_any(T::TYPE_NAME, id, version)?
            .and_then(|r| Shared::from_arc(r).ok()))
    }

    /// Stores a new version (or version 1 of a new id: update as create).
    pub fn update<T>(&self, id: &str, resource: T) -> Shared<T>
    where
        T: ResourceType<Resource = Resource> + Into<Resource>,
    {
        let stored = self
            .update_any(id, resource.into())
            .expect("a resource type of this version");
        Shared::from_arc(stored).unwrap_or_else(|other: Arc<Resource>| {
            panic!(
                "stored as it was given, yet read back as a {}",
                other.resource_type()
            )
        })
    }

    /// Marks a resource deleted; 404 when it is not there.
    pub fn delete(&self, resource_type: &str, id: &str) -> Result<(), FhirError> {
        let resource_type = static_type(resource_type)?;
        let mut inner = self.lock();
        let key = (resource_type, id.to_string());
        match inner.history.get(&key) {
            Some(versions) if versions.last().is_some_and(|v| v.resource.is_some()) => {
                inner.versions_for_write(key).push(Version {
                    resource: None,
                    at: now(),
                });
                Ok(())
            }
            _ => Err(FhirError::not_found(format!(
                "{resource_type}/{id} is not known"
            ))),
        }
    }

    /// Versions, newest first: of one resource (`id`), of a type, or of everything
    /// (`resource_type` `None`), made at or after `_since` and current at some time in `_at`.
    pub fn history<T: TryFrom<Resource>>(
        &self,
        resource_type: Option<&str>,
        id: Option<&str>,
        params: &HistoryParams,
    ) -> Vec<HistoryEntry<T>> {
        let inner = self.lock();
        let mut entries = Vec::new();
        for ((ty, rid), versions) in &inner.history {
            if resource_type.is_some_and(|t| t != *ty) || id.is_some_and(|i| i != rid) {
                continue;
            }
            for (n, version) in versions.iter().enumerate() {
                if params
                    .since
                    .as_ref()
                    .is_some_and(|since| version.at.as_str() < since.as_str())
                {
                    continue;
                }
                // `_at`: the version was current at some time in the period, from when it was
                // made until the next version (or now).
                if let Some(at) = &params.at {
                    let start = |v: &Version| date_range(v.at.as_str()).ok().map(|(_, lo, _)| lo);
                    let (from, until) = (start(version), versions.get(n + 1).and_then(start));
                    let current = match at.prefix {
                        // A plain date: the version's life overlaps its range.
                        fhir_rocket::search::Prefix::Eq => {
                            from.is_none_or(|l| l < at.range.1)
                                && until.is_none_or(|u| u > at.range.0)
                        }
                        _ => at.matches_range(from, until),
                    };
                    if !current {
                        continue;
                    }
                }
                let method = match (n, &version.resource) {
                    (_, None) => HistoryMethod::Delete,
                    (0, Some(_)) => HistoryMethod::Create,
                    _ => HistoryMethod::Update,
                };
                entries.push(HistoryEntry {
                    resource_type: ty,
                    id: rid.clone(),
                    version_id: (n + 1).to_string(),
                    last_updated: Some(version.at.clone()),
                    method,
                    resource: version
                        .resource
                        .as_deref()
                        .and_then(|r| T::try_from(r.clone()).ok()),
                });
            }
        }
        // Newest first; versions made within the same second keep their order.
        entries.reverse();
        entries.sort_by(|a, b| b.last_updated.cmp(&a.last_updated));
        entries
    }

    /// The current versions of the resources of a type that `keep` accepts, shared rather
    /// than copied.
    pub fn find<T: ResourceType<Resource = Resource>>(
        &self,
        keep: impl Fn(&T) -> bool,
    ) -> Vec<Shared<T>> {
        let inner = self.lock();
        inner
            .history
            .iter()
            .filter(|((ty, _), _)| *ty == T::TYPE_NAME)
            .filter_map(|(_, versions)| versions.last()?.resource.as_ref())
            .filter(|r| T::downcast_ref(r).is_some_and(&keep))
            .filter_map(|r| Shared::from_arc(r.clone()).ok())
            .collect()
    }

    /// Every current resource of a type as search candidates, with the store as the source of
    /// the resources chains and `_has` reach: the server's matcher filters and sorts them.
    pub fn candidates<T: ResourceType<Resource = Resource>>(&self) -> SearchResults<Shared<T>> {
        let resolver = self.clone();
        let source = self.clone();
        SearchResults::candidates(self.find::<T>(|_| true))
            .resolving(move |reference| {
                let (ty, id) = reference.split_once('/')?;
                resolver.read_any(ty, id, None).ok().flatten()
            })
            .of_type(move |ty| source.current_of_type(ty))
    }

    /// The current versions of every resource of a type, shared.
    pub fn current_of_type(&self, resource_type: &str) -> Vec<Arc<Resource>> {
        let inner = self.lock();
        inner
            .history
            .iter()
            .filter(|((ty, _), _)| *ty == resource_type)
            .filter_map(|(_, versions)| versions.last()?.resource.clone())
            .collect()
    }

    /// The current versions of all resources of a type.
    pub fn all<T: ResourceType + TryFrom<Resource>>(&self) -> Vec<T> {
        let inner = self.lock();
        inner
            .history
            .iter()
            .filter(|((ty, _), _)| *ty == T::TYPE_NAME)
            .filter_map(|(_, versions)| versions.last()?.resource.as_deref().cloned())
            .filter_map(|r| T::try_from(r).ok())
            .collect()
    }
}

#[read]
async fn read_patient(
    id: LogicalId,
    version: Option<VersionId>,
    #[guard] store: &State<Store>,
) -> Result<Option<Shared<Patient>>, FhirError> {
    store.read(&id, version.as_deref())
}

/// The search of Patients. It declares the parameters, modifiers and chains it answers (the
/// server refuses any other), and hands the server every Patient as a candidate: the kit's
/// in-memory matcher evaluates the declared parameters over them
/// ([`SearchResults::candidates`]).
#[search]
async fn search_patients(
    #[modifiers("exact", "contains")] family: Option<StringParam>,
    #[modifiers("exact", "contains")] given: Option<StringParam>,
    gender: Option<TokenParam>,
    link: Option<ReferenceParam>,
    _id: Option<OrList<IdParam>>,
    #[param("_lastUpdated")] last_updated: Option<AndList<DateParam>>,
    #[guard] store: &State<Store>,
) -> Result<SearchResults<Shared<Patient>>, FhirError> {
    // Declared for the server to check and to evaluate; the provider itself reads none.
    let _ = (family, given, gender, link, _id, last_updated);
    Ok(store.candidates::<Patient>())
}

/// A second search of Patients: the server picks it when the query has `identifier`.
#[search]
async fn search_patients_by_identifier(
    identifier: TokenParam,
    #[guard] store: &State<Store>,
) -> Result<SearchResults<Shared<Patient>>, FhirError> {
    let _ = identifier;
    Ok(store.candidates::<Patient>())
}

/// A third search of Patients, by the resources that refer to them
/// (`_has:Observation:subject:code=...`): the matcher finds those through the store.
#[search]
async fn search_patients_referred_to(
    #[param("_has")] has: AndList<HasParam>,
    gender: Option<TokenParam>,
    #[guard] store: &State<Store>,
) -> Result<SearchResults<Shared<Patient>>, FhirError> {
    let _ = (has, gender);
    Ok(store.candidates::<Patient>())
}

#[create]
async fn create_patient(
    resource: Patient,
    #[guard] store: &State<Store>,
) -> Result<Shared<Patient>, FhirError> {
    // A business rule, answered with a whole OperationOutcome: the element, a coded reason,
    // and an issue beside it.
    let today = fhir_rocket::http::instant_now();
    if let Some(born) = resource.birth_date.as_ref().and_then(|d| d.value.as_ref()) {
        if born.as_str() > &today[..10] {
            return Err(FhirError::unprocessable(format!(
                "birthDate {} is in the future",
                born.as_str()
            ))
            .at("Patient.birthDate")
            .with_details("http://example.org/fhir/rules", "birth-date-future")
            .with_issue(fhir_rocket::Issue::information(
                "informational",
                "Patients are registered once born",
            )));
        }
    }
    Ok(store.create(resource))
}

#[update]
async fn update_patient(
    id: LogicalId,
    resource: Patient,
    #[guard] store: &State<Store>,
) -> Result<Shared<Patient>, FhirError> {
    // An update that names the version it was based on must be based on the current one.
    if let Some(based_on) = resource.version_id() {
        let current = store.read::<Patient>(&id, None).ok().flatten();
        let current_version = current.as_ref().and_then(|p| p.version_id());
        if current_version.is_some_and(|v| v != based_on) {
            return Err(FhirError::conflict(format!(
                "Patient/{id} is at version {}, not {based_on}",
                current_version.unwrap_or("")
            )));
        }
    }
    Ok(store.update(&id, resource))
}

#[patch]
async fn patch_patient(
    id: LogicalId,
    patch: Vec<fhir_rocket::patch::PatchOp>,
    #[guard] store: &State<Store>,
) -> Result<Shared<Patient>, FhirError> {
    let current = store
        .read::<Patient>(&id, None)?
        .ok_or_else(|| FhirError::not_found(format!("Patient/{id} is not known")))?;
    let patched = fhir_rocket::patch::apply_to(&*current, &patch)?;
    if fhir_rocket::model::FhirResource::id(&patched) != Some(id.as_str()) {
        return Err(FhirError::unprocessable("a patch may not change the id"));
    }
    Ok(store.update(&id, patched))
}

#[delete(Patient)]
async fn delete_patient(id: LogicalId, #[guard] store: &State<Store>) -> Result<(), FhirError> {
    store.delete(Patient::TYPE_NAME, &id)
}

#[history]
async fn patient_history(
    id: LogicalId,
    params: HistoryParams,
    #[guard] store: &State<Store>,
) -> Result<Vec<HistoryEntry<Patient>>, FhirError> {
    Ok(store.history(Some(Patient::TYPE_NAME), Some(&id), &params))
}

#[history]
async fn patient_type_history(
    params: HistoryParams,
    #[guard] store: &State<Store>,
) -> Result<Vec<HistoryEntry<Patient>>, FhirError> {
    Ok(store.history(Some(Patient::TYPE_NAME), None, &params))
}

#[history]
async fn system_history(
    params: HistoryParams,
    #[guard] store: &State<Store>,
) -> Result<Vec<HistoryEntry<Resource>>, FhirError> {
    Ok(store.history(None, None, &params))
}

#[read]
async fn read_observation(
    id: LogicalId,
    version: Option<VersionId>,
    #[guard] store: &State<Store>,
) -> Result<Option<Shared<Observation>>, FhirError> {
    store.read(&id, version.as_deref())
}

fn subject_of(o: &Observation) -> &str {
    o.subject
        .as_ref()
        .and_then(|r| r.reference.as_ref())
        .and_then(|r| r.value.as_deref())
        .unwrap_or("")
}

/// The search of Observations: declared parameters, candidates filtered and sorted by the
/// kit's matcher, and the Patients of `_include=Observation:subject`.
#[search(include = ["Observation:subject"], sort = ["date", "code", "value-quantity", "_lastUpdated"])]
#[allow(clippy::too_many_arguments)]
async fn search_observations(
    subject: Option<ReferenceParam>,
    performer: Option<ReferenceParam>,
    code: Option<OrList<TokenParam>>,
    #[modifiers("missing")] date: Option<AndList<DateParam>>,
    #[modifiers("not", "missing")] status: Option<OrList<TokenParam>>,
    #[modifiers("missing")]
    #[param("value-quantity")]
    value_quantity: Option<AndList<QuantityParam>>,
    #[param("code-value-quantity")] code_value_quantity: Option<
        OrList<CompositeParam<TokenParam, QuantityParam>>,
    >,
    _id: Option<OrList<IdParam>>,
    #[param("_lastUpdated")] last_updated: Option<AndList<DateParam>>,
    result: ResultParams,
    extras: fhir_rocket::ResponseExtras,
    #[guard] store: &State<Store>,
) -> Result<SearchResults<Shared<Observation>>, FhirError> {
    let _ = (
        subject,
        performer,
        date,
        status,
        value_quantity,
        code_value_quantity,
    );
    let _ = (_id, last_updated);
    // A code without a system is answered, with a warning of what it means.
    let systemless = code
        .iter()
        .flat_map(|list| list.iter())
        .any(|c| matches!(c.system, fhir_rocket::search::TokenSystem::Any) && c.code.is_some());
    if systemless {
        extras.warning(
            fhir_rocket::Issue::warning(
                "informational",
                "a code without a system matches that code in every code system",
            )
            .at("Observation.code"),
        );
    }
    let mut found = store.candidates::<Observation>();
    // `_include=Observation:subject` adds the Patients the candidates refer to; the server
    // keeps those of the matches and writes a Patient that several matches refer to once.
    if result
        .include
        .iter()
        .any(|i| i.source_type == "Observation" && i.param == "subject")
    {
        let mut patients = Vec::new();
        for o in &found.matches {
            if let Some(id) = subject_of(o).strip_prefix("Patient/") {
                patients.extend(store.read::<Patient>(id, None)?);
            }
        }
        for patient in patients {
            found.include(patient);
        }
    }
    Ok(found)
}

#[create]
async fn create_observation(
    resource: Observation,
    #[guard] store: &State<Store>,
) -> Result<Shared<Observation>, FhirError> {
    Ok(store.create(resource))
}

#[update]
async fn update_observation(
    id: LogicalId,
    resource: Observation,
    #[guard] store: &State<Store>,
) -> Result<Shared<Observation>, FhirError> {
    Ok(store.update(&id, resource))
}

#[delete(Observation)]
async fn delete_observation(id: LogicalId, #[guard] store: &State<Store>) -> Result<(), FhirError> {
    store.delete(Observation::TYPE_NAME, &id)
}

/// `Patient/[id]/$everything`: the patient and the observations about them.
#[operation(name = "$everything", type = Patient, idempotent)]
async fn patient_everything(
    id: LogicalId,
    #[guard] store: &State<Store>,
) -> Result<Bundle, FhirError> {
    let patient = store
        .read::<Patient>(&id, None)?
        .ok_or_else(|| FhirError::not_found(format!("Patient/{id} is not known")))?;
    let reference = format!("Patient/{id}");
    let mut entry = vec![BundleEntry {
        resource: Some(Resource::from((*patient).clone())),
        ..Default::default()
    }];
    for o in store.all::<Observation>() {
        if subject_of(&o) == reference {
            entry.push(BundleEntry {
                resource: Some(o.into()),
                ..Default::default()
            });
        }
    }
    Ok(Bundle {
        r#type: Some(codes::BundleType::Searchset.into()),
        total: Some((entry.len() as u32).into()),
        entry,
        ..Default::default()
    })
}

/// `Observation/$count`: how many observations there are (changes nothing, but is declared
/// without `idempotent` to show that GET is then refused).
#[operation(name = "$count", type = Observation)]
async fn observation_count(
    parameters: Parameters,
    #[guard] store: &State<Store>,
) -> Result<Parameters, FhirError> {
    let _ = parameters;
    Ok(Parameters {
        parameter: vec![ParametersParameter {
            name: Some("count".into()),
            value: Some(fhir_rocket::model::r4::DataType::Integer(
                (store.all::<Observation>().len() as i32).into(),
            )),
            ..Default::default()
        }],
        ..Default::default()
    })
}

/// `/$echo`: returns its input.
#[operation(name = "$echo", idempotent)]
async fn echo(
    parameters: Parameters,
    extras: fhir_rocket::ResponseExtras,
) -> Result<Parameters, FhirError> {
    // What a provider may add to its answer: a header, a success status, warnings.
    extras.header(
        "X-Echoed-Parameters",
        &parameters.parameter.len().to_string(),
    )?;
    if parameters
        .parameter
        .iter()
        .any(|p| p.name.as_ref().and_then(|n| n.value.as_deref()) == Some("later"))
    {
        extras.status(202)?;
    }
    if parameters.parameter.is_empty() {
        extras.warning(fhir_rocket::Issue::warning(
            "informational",
            "nothing to echo",
        ));
    }
    Ok(parameters)
}

/// Reads of every other resource type: a generic provider.
#[read]
async fn read_any(
    resource_type: TypeName,
    id: LogicalId,
    version: Option<VersionId>,
    #[guard] store: &State<Store>,
) -> Result<Option<Arc<Resource>>, FhirError> {
    store.read_any(&resource_type, &id, version.as_deref())
}

#[create]
async fn create_any(
    resource_type: TypeName,
    resource: Resource,
    #[guard] store: &State<Store>,
) -> Result<Arc<Resource>, FhirError> {
    let _ = resource_type;
    store.create_any(resource)
}

#[update]
async fn update_any(
    resource_type: TypeName,
    id: LogicalId,
    resource: Resource,
    #[guard] store: &State<Store>,
) -> Result<Arc<Resource>, FhirError> {
    let _ = resource_type;
    store.update_any(&id, resource)
}

#[patch]
async fn patch_any(
    resource_type: TypeName,
    id: LogicalId,
    patch: Vec<fhir_rocket::patch::PatchOp>,
    #[guard] store: &State<Store>,
) -> Result<Arc<Resource>, FhirError> {
    let current = store
        .read_any(&resource_type, &id, None)?
        .ok_or_else(|| FhirError::not_found(format!("{resource_type}/{id} is not known")))?;
    let patched = fhir_rocket::patch::apply_to(&*current, &patch)?;
    if patched.id() != Some(id.as_str()) || patched.resource_type() != &*resource_type {
        return Err(FhirError::unprocessable(
            "a patch may not change the id or the resource type",
        ));
    }
    store.update_any(&id, patched)
}

#[delete(Resource)]
async fn delete_any(
    resource_type: TypeName,
    id: LogicalId,
    #[guard] store: &State<Store>,
) -> Result<(), FhirError> {
    store.delete(&resource_type, &id)
}

#[history]
async fn history_any(
    resource_type: TypeName,
    id: LogicalId,
    params: HistoryParams,
    #[guard] store: &State<Store>,
) -> Result<Vec<HistoryEntry<Resource>>, FhirError> {
    Ok(store.history(Some(&resource_type), Some(&id), &params))
}

#[history]
async fn type_history_any(
    resource_type: TypeName,
    params: HistoryParams,
    #[guard] store: &State<Store>,
) -> Result<Vec<HistoryEntry<Resource>>, FhirError> {
    Ok(store.history(Some(&resource_type), None, &params))
}

/// Transactions over the store: writes are journaled from `begin` and undone on `rollback`.
struct StoreTransactions(Store);

#[rocket::async_trait]
impl TransactionHook for StoreTransactions {
    async fn begin(&self) -> Result<(), FhirError> {
        self.0.begin();
        Ok(())
    }
    async fn commit(&self) -> Result<(), FhirError> {
        self.0.commit();
        Ok(())
    }
    async fn rollback(&self) {
        self.0.rollback();
    }
}

/// The in-memory Patient and Observation server, ready to launch, with its routes at `/fhir`.
pub fn memory_server() -> rocket::Rocket<rocket::Build> {
    memory_server_with(Store::default())
}

/// The in-memory server over a store filled beforehand.
pub fn memory_server_with(store: Store) -> rocket::Rocket<rocket::Build> {
    memory_server_limited(store, fhir_rocket::Limits::default())
}

/// The in-memory server with limits of its own (Bundle entries, body size, deletes).
pub fn memory_server_limited(
    store: Store,
    limits: fhir_rocket::Limits,
) -> rocket::Rocket<rocket::Build> {
    memory_server_configured(store, |server| server.limits(limits))
}

/// The in-memory server with its `FhirServer` settings changed by `configure` (limits,
/// address strategy, ...).
pub fn memory_server_configured(
    store: Store,
    configure: impl FnOnce(FhirServer<Resource>) -> FhirServer<Resource>,
) -> rocket::Rocket<rocket::Build> {
    let server = configure(FhirServer::new("/fhir"))
        .software("memory-server", env!("CARGO_PKG_VERSION"))
        .mount(providers![
            read_patient,
            search_patients,
            search_patients_by_identifier,
            search_patients_referred_to,
            create_patient,
            update_patient,
            patch_patient,
            delete_patient,
            patient_history,
            patient_type_history,
            system_history,
            patient_everything,
            observation_count,
            echo,
            read_observation,
            search_observations,
            create_observation,
            update_observation,
            delete_observation,
        ])
        // Every other type of R4, through generic providers.
        .mount(providers![
            read_any,
            create_any,
            update_any,
            patch_any,
            delete_any,
            history_any,
            type_history_any,
        ])
        .transactions(StoreTransactions(store.clone()));
    server.mount_on(rocket::build().manage(store))
}

/// Launches `rocket` on a free loopback port in a background thread, its log off, and waits
/// until it answers HTTP ([`fhir_rocket::connection::launch_in_background`]); returns
/// `http://127.0.0.1:PORT`. For tests and benchmarks.
pub fn launch_on_loopback(rocket: rocket::Rocket<rocket::Build>) -> String {
    let figment = rocket.figment().clone().merge(("log_level", "off"));
    let address = fhir_rocket::connection::launch_in_background(rocket.configure(figment))
        .unwrap_or_else(|e| panic!("the server did not start: {e}"));
    format!("http://{address}")
}
