//! The CapabilityStatement at `GET [base]/metadata`, generated from the mounted providers.

use crate::config::{Limits, Software};
use crate::provider::Interaction;
use crate::registry::Registry;
use crate::version_model::ServerModel;
use fhir_model::json::JsonWriter;

/// The kit's own `$validate` of every resource type, unless a provider serves it.
const VALIDATE: &str = "http://hl7.org/fhir/OperationDefinition/Resource-validate";

/// The `operation` list of a resource (`resource`: with the kit's `$validate`) or of the
/// server.
fn operations<R>(
    w: &mut JsonWriter,
    providers: &[crate::provider::Provider<R>],
    base_url: &str,
    resource: bool,
) {
    let cp = w.checkpoint();
    w.key("operation");
    w.begin_array();
    let mut seen = Vec::new();
    for op in providers.iter().filter_map(|p| p.operation) {
        if seen.contains(&op.name) {
            continue;
        }
        seen.push(op.name);
        let bare = op.name.trim_start_matches('$');
        w.item();
        w.begin_object();
        string_member(w, "name", bare);
        if op.definition.is_empty() {
            string_member(
                w,
                "definition",
                &format!("{base_url}/OperationDefinition/{bare}"),
            );
        } else {
            string_member(w, "definition", op.definition);
        }
        w.end_object();
    }
    if resource && !seen.contains(&"$validate") {
        w.item();
        w.begin_object();
        string_member(w, "name", "validate");
        string_member(w, "definition", VALIDATE);
        w.end_object();
    }
    if !w.end_array() {
        w.rollback(cp);
    }
}

/// `rest.security` of a server protected by SMART on FHIR: the service code, and SMART's
/// `oauth-uris` extension with the endpoints known.
fn security(w: &mut JsonWriter, uris: &crate::config::OAuthUris) {
    w.key("security");
    w.begin_object();
    let endpoints = [("authorize", &uris.authorize), ("token", &uris.token)];
    if endpoints.iter().any(|(_, uri)| uri.is_some()) {
        w.key("extension");
        w.begin_array();
        w.item();
        w.begin_object();
        string_member(
            w,
            "url",
            "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
        );
        w.key("extension");
        w.begin_array();
        for (name, uri) in endpoints {
            if let Some(uri) = uri {
                w.item();
                w.begin_object();
                string_member(w, "url", name);
                string_member(w, "valueUri", uri);
                w.end_object();
            }
        }
        w.end_array();
        w.end_object();
        w.end_array();
    }
    w.key("service");
    w.begin_array();
    w.item();
    w.begin_object();
    w.key("coding");
    w.begin_array();
    w.item();
    w.begin_object();
    string_member(
        w,
        "system",
        "http://terminology.hl7.org/CodeSystem/restful-security-service",
    );
    string_member(w, "code", "SMART-on-FHIR");
    w.end_object();
    w.end_array();
    w.end_object();
    w.end_array();
    string_member(
        w,
        "description",
        "OAuth 2.0 bearer tokens with SMART on FHIR scopes; see .well-known/smart-configuration",
    );
    w.end_object();
}

fn string_member(w: &mut JsonWriter, key: &str, value: &str) {
    w.key(key);
    w.string(value);
}

/// A member holding each distinct value once, in order; nothing when there are none.
fn string_list<'a>(w: &mut JsonWriter, key: &str, values: impl Iterator<Item = &'a &'a str>) {
    let mut distinct: Vec<&str> = Vec::new();
    for v in values {
        if !distinct.contains(v) {
            distinct.push(v);
        }
    }
    if !distinct.is_empty() {
        w.key(key);
        w.begin_array();
        for v in distinct {
            w.item();
            w.string(v);
        }
        w.end_array();
    }
}

/// The CapabilityStatement as FHIR JSON.
pub(crate) struct Described<'a, R> {
    pub(crate) registry: &'a Registry<R>,
    pub(crate) software: &'a Software,
    pub(crate) limits: &'a Limits,
    /// Whether transactions are served (the server has a transaction hook).
    pub(crate) transactions: bool,
    /// For a protected server: SMART on FHIR, and the issuer's endpoints when known.
    pub(crate) security: Option<&'a crate::config::OAuthUris>,
}

pub(crate) fn statement<R: ServerModel>(state: &Described<'_, R>, base_url: &str) -> Vec<u8> {
    let mut w = JsonWriter::new(Vec::with_capacity(8192), false);
    w.begin_object();
    w.resource_type("CapabilityStatement");
    string_member(&mut w, "status", "active");
    string_member(&mut w, "date", &crate::http::instant_now());
    string_member(&mut w, "kind", "instance");
    w.key("software");
    w.begin_object();
    string_member(&mut w, "name", &state.software.name);
    string_member(&mut w, "version", &state.software.version);
    w.end_object();
    w.key("implementation");
    w.begin_object();
    string_member(&mut w, "description", &state.software.name);
    string_member(&mut w, "url", base_url);
    w.end_object();
    string_member(&mut w, "fhirVersion", R::VERSION.number());
    w.key("format");
    w.begin_array();
    for format in ["json", "xml"] {
        w.item();
        w.string(format);
    }
    w.end_array();
    w.key("rest");
    w.begin_array();
    w.item();
    w.begin_object();
    string_member(&mut w, "mode", "server");
    if let Some(uris) = state.security {
        security(&mut w, uris);
    }
    if state.registry.types().next().is_some() {
        w.key("resource");
        w.begin_array();
        for (resource_type, providers) in state.registry.types() {
            w.item();
            w.begin_object();
            string_member(&mut w, "type", resource_type);
            w.key("interaction");
            w.begin_array();
            let mut seen = Vec::new();
            for p in providers
                .iter()
                .filter(|p| p.interaction != Interaction::Operation)
            {
                if !seen.contains(&p.interaction) {
                    seen.push(p.interaction);
                    w.item();
                    w.begin_object();
                    string_member(&mut w, "code", p.interaction.code());
                    w.end_object();
                }
            }
            w.end_array();
            let has_vread = seen.contains(&Interaction::VRead);
            string_member(
                &mut w,
                "versioning",
                if has_vread { "versioned" } else { "no-version" },
            );
            w.key("readHistory");
            w.bool(has_vread);
            // What the server itself does on top of the providers: If-None-Exist runs the
            // search providers, If-None-Match and If-Modified-Since are checked on reads.
            let has = |i: Interaction| seen.contains(&i);
            if has(Interaction::Create) {
                w.key("conditionalCreate");
                w.bool(has(Interaction::Search));
            }
            if has(Interaction::Read) {
                string_member(&mut w, "conditionalRead", "full-support");
            }
            if has(Interaction::Update) {
                w.key("conditionalUpdate");
                w.bool(has(Interaction::Search));
            }
            if has(Interaction::Delete) {
                let conditional = match (has(Interaction::Search), state.limits.delete_multiple) {
                    (false, _) => "not-supported",
                    (true, false) => "single",
                    (true, true) => "multiple",
                };
                string_member(&mut w, "conditionalDelete", conditional);
            }
            string_list(
                &mut w,
                "searchInclude",
                providers.iter().flat_map(|p| p.includes),
            );
            string_list(
                &mut w,
                "searchRevInclude",
                providers.iter().flat_map(|p| p.revincludes),
            );
            let mut names = Vec::new();
            let params: Vec<_> = providers
                .iter()
                .flat_map(|p| p.params.iter())
                .filter(|d| {
                    let new = !names.contains(&d.name);
                    names.push(d.name);
                    new
                })
                .collect();
            if !params.is_empty() {
                w.key("searchParam");
                w.begin_array();
                for d in params {
                    w.item();
                    w.begin_object();
                    string_member(&mut w, "name", d.name);
                    if !d.definition.is_empty() {
                        string_member(&mut w, "definition", d.definition);
                    }
                    string_member(&mut w, "type", d.kind.code());
                    if !d.documentation.is_empty() {
                        string_member(&mut w, "documentation", d.documentation);
                    }
                    w.end_object();
                }
                w.end_array();
            }
            operations(&mut w, providers, base_url, true);
            w.end_object();
        }
        w.end_array();
    }
    // What the server does at system level: batches always, transactions with a hook,
    // system search over the types that have searches, and its system providers.
    let mut system: Vec<&str> = vec!["batch"];
    if state.transactions {
        system.push("transaction");
    }
    if state
        .registry
        .types()
        .any(|(_, p)| p.iter().any(|p| p.interaction == Interaction::Search))
    {
        system.push("search-system");
    }
    system.extend(
        state
            .registry
            .system()
            .iter()
            .filter(|p| p.interaction != Interaction::Operation)
            .map(|p| p.interaction.code()),
    );
    if !system.is_empty() {
        w.key("interaction");
        w.begin_array();
        for code in system {
            w.item();
            w.begin_object();
            string_member(&mut w, "code", code);
            w.end_object();
        }
        w.end_array();
    }
    operations(&mut w, state.registry.system(), base_url, false);
    w.end_object();
    w.end_array();
    w.end_object();
    w.into_inner()
}
