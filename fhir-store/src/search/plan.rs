//! A query's search parameters as one SQL condition on a resource row: each parameter a
//! `res_pk IN (SELECT ... FROM idx_<kind> ...)` that the index tables' hashed or ordered keys
//! serve, chains and `_has` as joins through `idx_reference`. The shapes are those of
//! docs/storage.md, section 3, and the semantics those of the in-memory matcher
//! (`fhir_rocket::search::matcher`), which the store's tests compare it with.
//!
//! Anything the store does not evaluate is an error naming it, never left out.

use super::sql::Sql;
use crate::catalog::{Catalog, ParamId};
use crate::hash::stable_hash;
use crate::rows::{micros, MAX_NORMALIZED};
use fhir_model::fhirpath::extract::normalize;
use fhir_model::{SearchParamKind, SearchParameter};
use fhir_rocket::search::escape::split_unescaped;
use fhir_rocket::search::{
    DateParam, HasParam, NumberParam, OrList, Prefix, QuantityParam, Query, QueryParam,
    ReferenceParam, SearchValue, StringParam, TokenModifier, TokenParam, TokenSystem, UriModifier,
    UriParam,
};

/// How deep chains and `_has` may nest.
const MAX_DEPTH: usize = 4;

/// Builds the condition of a query on the resources of one type.
pub struct Planner<'c> {
    pub(crate) catalog: &'c Catalog,
    pub(crate) partition: i32,
    /// For `ap` on dates: now, in microseconds.
    pub(crate) now_us: i64,
    aliases: std::cell::Cell<usize>,
    /// Whether the parameters after the one that drives a search are probes (see
    /// [`Planner::probing`]).
    probes: bool,
    /// Whether the clause being built is a probe.
    probe: std::cell::Cell<bool>,
}

type Result<T> = std::result::Result<T, String>;

impl<'c> Planner<'c> {
    /// A planner over `catalog`'s numbers, in `partition`.
    pub fn new(catalog: &'c Catalog, partition: i32, now_us: i64) -> Planner<'c> {
        Planner {
            catalog,
            partition,
            now_us,
            aliases: std::cell::Cell::new(0),
            probes: false,
            probe: std::cell::Cell::new(false),
        }
    }

    /// With `true`, of the parameters ANDed on one resource, one drives the search (a
    /// reference to one resource, else `_id`, a chain, a token, ..., the kinds that usually
    /// match fewest first) and each other is a probe: its subquery also says `res_pk =
    /// r.res_pk`, so that it is asked once per candidate, through its index, instead of
    /// listed in full. SQLite lists every uncorrelated `IN (subquery)` in a temporary
    /// B-tree before it starts: `Observation?patient=x&code=y` built the list of every
    /// Observation with the code, thousands of rows, to keep the ten of one patient.
    /// PostgreSQL joins the lists by hash and needs none of this.
    ///
    /// ```
    /// use fhir_store::catalog::Catalog;
    /// use fhir_store::search::plan::Planner;
    /// use fhir_rocket::search::parse_query;
    /// use fhir_model::r4::Resource;
    ///
    /// let catalog = Catalog::of::<Resource>();
    /// let query = parse_query("code=http://loinc.org|8302-2&patient=Patient/p1").unwrap();
    /// let sql = Planner::new(&catalog, 0, 0).probing(true).condition("Observation", "r", &query).unwrap();
    /// // The code is the probe; the reference to one patient drives.
    /// assert_eq!(sql.text.matches(".res_pk = r.res_pk").count(), 1);
    /// let token = sql.text.find("idx_token").unwrap();
    /// assert!(sql.text[token..].contains(".res_pk = r.res_pk"));
    /// ```
    pub fn probing(mut self, probes: bool) -> Planner<'c> {
        self.probes = probes;
        self
    }

    /// How many matches a parameter usually has, as a rank (lower: fewer), for choosing
    /// the one that drives a search.
    fn drive_rank(&self, resource_type: &str, qp: &QueryParam) -> u8 {
        let modifier = qp.modifier.as_deref();
        if matches!(
            modifier,
            Some("not" | "missing" | "text" | "contains" | "above" | "below")
        ) {
            return 9;
        }
        if modifier.is_some_and(|m| m.contains('.')) {
            return 2;
        }
        match qp.name.as_str() {
            "_id" => 0,
            "_has" => 5,
            "_lastUpdated" => 6,
            name => match self.catalog.definition(resource_type, name) {
                Some((_, p)) if p.kind == SearchParamKind::Reference => 1,
                Some((_, p)) if p.kind == SearchParamKind::Token => 3,
                Some((_, p)) if p.kind == SearchParamKind::String => 4,
                _ => 6,
            },
        }
    }

    /// ` AND {x}.{column} = {r}.{outer}` when the clause being built is a probe.
    fn correlate(&self, sql: &mut Sql, x: &str, column: &str, r: &str, outer: &str) {
        if self.probe.get() {
            sql.push(&format!(" AND {x}.{column} = {r}.{outer}"));
        }
    }

    fn alias(&self, prefix: &str) -> String {
        let n = self.aliases.get();
        self.aliases.set(n + 1);
        format!("{prefix}{n}")
    }

    /// The condition that every parameter of `query` puts on the resource row `r` of type
    /// `resource_type` (ANDed).
    pub fn condition(&self, resource_type: &str, r: &str, query: &Query) -> Result<Sql> {
        self.condition_at(resource_type, r, query, 0)
    }

    fn condition_at(
        &self,
        resource_type: &str,
        r: &str,
        query: &Query,
        depth: usize,
    ) -> Result<Sql> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "chains and _has nest at most {MAX_DEPTH} deep here"
            ));
        }
        let driver = query
            .into_iter()
            .enumerate()
            .filter(|(_, qp)| !qp.value.is_empty())
            .min_by_key(|(_, qp)| self.drive_rank(resource_type, qp))
            .map(|(i, _)| i);
        let outer = self.probe.get();
        let mut parts = Vec::new();
        for (i, qp) in query.into_iter().enumerate() {
            if qp.value.is_empty() {
                continue;
            }
            self.probe.set(self.probes && Some(i) != driver);
            let clause = self.clause(resource_type, r, qp, depth);
            self.probe.set(outer);
            parts.push(clause.map_err(|e| format!("{}: {e}", display_name(qp)))?);
        }
        Ok(Sql::all(parts))
    }

    fn clause(&self, resource_type: &str, r: &str, qp: &QueryParam, depth: usize) -> Result<Sql> {
        let name = qp.name.as_str();
        let modifier = qp.modifier.as_deref();
        let value = qp.value.as_str();
        match name {
            "_has" => return self.has(resource_type, r, qp, depth),
            "_id" => return self.id(r, modifier, value),
            "_lastUpdated" => return self.last_updated(r, modifier, value),
            _ => {}
        }
        let (id, param) = self
            .catalog
            .definition(resource_type, name)
            .ok_or_else(|| format!("is not a search parameter of {resource_type}"))?;
        let indexed = self
            .catalog
            .resource_type(resource_type)
            .is_some_and(|t| t.indexed.iter().any(|(i, _)| i.sp_id == id.sp_id));
        if !indexed {
            return Err(format!(
                "is not evaluated by this server ({} parameter without a FHIRPath expression here)",
                param.kind.code()
            ));
        }
        let res_type = self.res_type(resource_type)?;
        let scope = Scope {
            r,
            res_type,
            sp_id: id.sp_id,
        };
        match param.kind {
            SearchParamKind::Token => {
                let list = parse::<TokenParam>(modifier, value)?;
                if let Some(m) = missing(&list) {
                    return Ok(self.missing(scope, &["idx_token"], m));
                }
                if let Some(m) = list.iter().find_map(|t| terminology(t.modifier)) {
                    return Err(format!(
                        "the modifier ':{m}' needs a terminology server, which this server does not have"
                    ));
                }
                let negated = list
                    .first()
                    .is_some_and(|t| t.modifier == TokenModifier::Not);
                let (alternatives, hash_only): (Vec<Sql>, Vec<bool>) =
                    list.iter().map(|t| token(id, "x", t)).unzip();
                let sub = if hash_only.iter().all(|&h| h) {
                    self.hashed_subquery(scope, "idx_token", "x", Sql::any(alternatives))
                } else {
                    self.subquery(scope, "idx_token", "x", Sql::any(alternatives))
                };
                Ok(membership(r, sub, negated))
            }
            SearchParamKind::String => {
                let list = parse::<StringParam>(modifier, value)?;
                if let Some(m) = missing(&list) {
                    return Ok(self.missing(scope, &["idx_string"], m));
                }
                let alternatives = list
                    .iter()
                    .map(|s| string(id, "x", s))
                    .collect::<Result<Vec<_>>>()?;
                Ok(membership(
                    r,
                    self.subquery(scope, "idx_string", "x", Sql::any(alternatives)),
                    false,
                ))
            }
            SearchParamKind::Date => {
                let list = parse::<DateParam>(modifier, value)?;
                if let Some(m) = missing(&list) {
                    return Ok(self.missing(scope, &["idx_date"], m));
                }
                let alternatives = list
                    .iter()
                    .map(|d| date("x.low", "x.high", d, self.now_us))
                    .collect();
                Ok(membership(
                    r,
                    self.subquery(scope, "idx_date", "x", Sql::any(alternatives)),
                    false,
                ))
            }
            SearchParamKind::Number => {
                let list = parse::<NumberParam>(modifier, value)?;
                if let Some(m) = missing(&list) {
                    return Ok(self.missing(scope, &["idx_number"], m));
                }
                let alternatives = list
                    .iter()
                    .map(|n| number("x.value", n.prefix, n.number, n.range))
                    .collect();
                Ok(membership(
                    r,
                    self.subquery(scope, "idx_number", "x", Sql::any(alternatives)),
                    false,
                ))
            }
            SearchParamKind::Quantity => {
                let list = parse::<QuantityParam>(modifier, value)?;
                if let Some(m) = missing(&list) {
                    return Ok(self.missing(scope, &["idx_quantity"], m));
                }
                let alternatives = list.iter().map(|q| quantity(id, "x", q)).collect();
                Ok(membership(
                    r,
                    self.subquery(scope, "idx_quantity", "x", Sql::any(alternatives)),
                    false,
                ))
            }
            SearchParamKind::Uri => {
                let list = parse::<UriParam>(modifier, value)?;
                if let Some(m) = missing(&list) {
                    return Ok(self.missing(scope, &["idx_uri", "idx_reference"], m));
                }
                // Canonical references are stored as references with their URL.
                let on_uri = list.iter().map(|u| uri("x.uri", u)).collect();
                let on_reference = list.iter().map(|u| uri("x.target_url", u)).collect();
                Ok(Sql::any(vec![
                    membership(
                        r,
                        self.subquery(scope, "idx_uri", "x", Sql::any(on_uri)),
                        false,
                    ),
                    membership(
                        r,
                        self.subquery(scope, "idx_reference", "x", Sql::any(on_reference)),
                        false,
                    ),
                ]))
            }
            SearchParamKind::Reference => {
                let list = parse::<ReferenceParam>(modifier, value)?;
                if let Some(m) = missing(&list) {
                    return Ok(self.missing(scope, &["idx_reference", "idx_token"], m));
                }
                if list.iter().any(|p| p.chain.is_some()) {
                    return self.chain(scope, param, &list, depth);
                }
                let mut pieces = Vec::new();
                let identifiers: Vec<Sql> = list
                    .iter()
                    .filter_map(|p| p.identifier.as_ref())
                    .map(|t| token(id, "x", t).0)
                    .collect();
                if !identifiers.is_empty() {
                    pieces.push(membership(
                        r,
                        self.subquery(scope, "idx_token", "x", Sql::any(identifiers)),
                        false,
                    ));
                }
                let references: Vec<Sql> = list
                    .iter()
                    .filter(|p| p.identifier.is_none())
                    .map(|p| self.reference("x", param, p))
                    .collect::<Result<_>>()?;
                if !references.is_empty() {
                    pieces.push(membership(
                        r,
                        self.subquery(scope, "idx_reference", "x", Sql::any(references)),
                        false,
                    ));
                }
                Ok(Sql::any(pieces))
            }
            SearchParamKind::Composite => self.composite(scope, param, modifier, value),
            SearchParamKind::Special => {
                Err("is a special parameter, which this server does not evaluate".into())
            }
        }
    }

    fn res_type(&self, resource_type: &str) -> Result<i16> {
        self.catalog
            .resource_type(resource_type)
            .map(|t| t.res_type)
            .ok_or_else(|| format!("'{resource_type}' is not a resource type"))
    }

    /// `SELECT x.res_pk FROM table x WHERE <the parameter's rows> AND condition`.
    fn subquery(&self, scope: Scope<'_>, table: &str, x: &str, condition: Sql) -> Sql {
        let mut sql = self.rows_of_type(scope, table, x);
        self.correlate(&mut sql, x, "res_pk", scope.r, "res_pk");
        sql.push(&format!(" AND {x}.sp_id = ")).bind(scope.sp_id);
        if crate::schema::PLAIN_ONLY.contains(&table) {
            // Always true of a plain parameter's rows; said so that the engine may use the
            // value indexes, which hold no composite's rows (schema migration 3).
            sql.push(&format!(" AND {x}.comp_group IS NULL"));
        }
        sql.push(" AND ").append(condition);
        sql
    }

    /// [`Planner::subquery`] for conditions on a hash, which already holds the parameter:
    /// the hashed key's index then answers alone (`idx_token_sys_code` is `partition_id,
    /// hash_sys_code, res_type, res_pk`), without reading a table row per match. Reading
    /// them to check `sp_id` and the exact system and code made `Observation?code=x` over a
    /// few thousand matches slower than walking every Observation.
    fn hashed_subquery(&self, scope: Scope<'_>, table: &str, x: &str, condition: Sql) -> Sql {
        let mut sql = self.rows_of_type(scope, table, x);
        self.correlate(&mut sql, x, "res_pk", scope.r, "res_pk");
        sql.push(" AND ").append(condition);
        sql
    }

    /// `SELECT x.res_pk FROM table x WHERE <the rows of the partition and type>`.
    fn rows_of_type(&self, scope: Scope<'_>, table: &str, x: &str) -> Sql {
        let mut sql = Sql::new();
        sql.push(&format!(
            "SELECT {x}.res_pk FROM {table} {x} WHERE {x}.partition_id = "
        ))
        .bind(self.partition)
        .push(&format!(" AND {x}.res_type = "))
        .bind(scope.res_type);
        sql
    }

    /// `:missing=true|false`: whether the resource has rows of the parameter in any of
    /// `tables`.
    fn missing(&self, scope: Scope<'_>, tables: &[&str], missing: bool) -> Sql {
        let present: Vec<Sql> = tables
            .iter()
            .map(|t| {
                membership(
                    scope.r,
                    self.subquery(scope, t, "x", Sql::text("1 = 1")),
                    false,
                )
            })
            .collect();
        let present = Sql::any(present);
        if missing {
            let mut sql = Sql::text("NOT ");
            sql.append(present);
            sql
        } else {
            present
        }
    }

    fn id(&self, r: &str, modifier: Option<&str>, value: &str) -> Result<Sql> {
        match modifier {
            None => {}
            Some("missing") => {
                // Every stored resource has an id.
                return Ok(Sql::text(if value == "true" { "1 = 0" } else { "1 = 1" }));
            }
            Some("not") => {
                let mut sql = Sql::text("NOT ");
                sql.append(self.id(r, None, value)?);
                return Ok(sql);
            }
            Some(m) => return Err(format!("the modifier ':{m}' does not apply to _id")),
        }
        let mut sql = Sql::new();
        sql.push(&format!("{r}.fhir_id IN ("));
        for (i, id) in split_unescaped(value, ',').iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(fhir_rocket::search::escape::unescape(id).map_err(|e| e.to_string())?);
        }
        sql.push(")");
        Ok(sql)
    }

    fn last_updated(&self, r: &str, modifier: Option<&str>, value: &str) -> Result<Sql> {
        let list = parse::<DateParam>(modifier, value)?;
        if let Some(m) = missing(&list) {
            return Ok(Sql::text(if m { "1 = 0" } else { "1 = 1" }));
        }
        let low = format!("{r}.last_updated");
        let high = format!("({r}.last_updated + 1)");
        Ok(Sql::any(
            list.iter()
                .map(|d| date(&low, &high, d, self.now_us))
                .collect(),
        ))
    }

    /// A reference value on the `idx_reference` row `x`.
    fn reference(&self, x: &str, param: &SearchParameter, p: &ReferenceParam) -> Result<Sql> {
        let mut sql = Sql::new();
        if let Some(url) = &p.url {
            match &p.version {
                Some(v) => {
                    sql.push(&format!("({x}.target_url = "))
                        .bind(url.as_str())
                        .push(&format!(" OR {x}.target_url = "))
                        .bind(format!("{url}|{v}"))
                        .push(")");
                }
                None => {
                    let versioned = format!("{url}|");
                    sql.push(&format!("({x}.target_url = "))
                        .bind(url.as_str())
                        .push(&format!(" OR ({x}.target_url >= "))
                        .bind(versioned.as_str())
                        .push(&format!(" AND {x}.target_url < "))
                        .bind(format!("{versioned}\u{10FFFF}"))
                        .push("))");
                }
            }
            return Ok(sql);
        }
        let Some(id) = &p.id else {
            return Err("has neither an id nor a URL".into());
        };
        match &p.resource_type {
            Some(t) => {
                let target = self.res_type(t)?;
                sql.push(&format!("{x}.target_type = ")).bind(target);
            }
            None => {
                // The parameter's targets, so that the target index serves the lookup.
                let targets: Vec<i16> = param
                    .targets
                    .iter()
                    .filter_map(|t| self.catalog.resource_type(t).map(|t| t.res_type))
                    .collect();
                if targets.is_empty() {
                    sql.push(&format!("{x}.target_type IS NOT NULL"));
                } else {
                    sql.push(&format!("{x}.target_type IN ("));
                    for (i, t) in targets.into_iter().enumerate() {
                        if i > 0 {
                            sql.push(", ");
                        }
                        sql.bind(t);
                    }
                    sql.push(")");
                }
            }
        }
        sql.push(&format!(" AND {x}.target_id = "))
            .bind(id.as_str());
        if let Some(v) = &p.version {
            let v: i64 = v
                .parse()
                .map_err(|_| format!("'{v}' is not a version number"))?;
            sql.push(&format!(" AND {x}.target_version = ")).bind(v);
        }
        Ok(sql)
    }

    /// `subject:Patient.name=x`: the reference's rows joined to the resources they point to,
    /// on which the chained parameter is a condition of its own.
    fn chain(
        &self,
        scope: Scope<'_>,
        param: &SearchParameter,
        list: &[ReferenceParam],
        depth: usize,
    ) -> Result<Sql> {
        let mut alternatives = Vec::new();
        for p in list {
            let (Some(chain), Some(value)) = (&p.chain, &p.chain_value) else {
                return Err("mixes a chain with plain references".into());
            };
            let first = chain.split(['.', ':']).next().unwrap_or_default();
            let types: Vec<&str> = match &p.resource_type {
                Some(t) => vec![t.as_str()],
                None => param.targets.to_vec(),
            };
            let types: Vec<&str> = types
                .into_iter()
                .filter(|t| {
                    matches!(first, "_id" | "_lastUpdated" | "_has")
                        || self.catalog.definition(t, first).is_some()
                })
                .collect();
            if types.is_empty() {
                return Err(format!(
                    "no resource type it may refer to has a search parameter '{first}'"
                ));
            }
            let sub: Query =
                std::iter::once(QueryParam::new(chain, value.clone()).map_err(|e| e.to_string())?)
                    .collect();
            for t in types {
                let target = self.res_type(t)?;
                let (x, tr) = (self.alias("f"), self.alias("t"));
                let inner = self.condition_at(t, &tr, &sub, depth + 1)?;
                let mut sql = Sql::new();
                sql.push(&format!(
                    "{r}.res_pk IN (SELECT {x}.res_pk FROM idx_reference {x} JOIN resource {tr} ON {tr}.partition_id = {x}.partition_id AND {tr}.res_type = {x}.target_type AND {tr}.fhir_id = {x}.target_id WHERE {x}.partition_id = ",
                    r = scope.r
                ))
                .bind(self.partition)
                .push(&format!(" AND {x}.res_type = "))
                .bind(scope.res_type)
                .push(&format!(" AND {x}.sp_id = "))
                .bind(scope.sp_id)
                .push(&format!(" AND {x}.target_type = "))
                .bind(target);
                self.correlate(&mut sql, &x, "res_pk", scope.r, "res_pk");
                sql.push(&format!(" AND {tr}.deleted = 0 AND "))
                    .append(inner)
                    .push(")");
                alternatives.push(sql);
            }
        }
        Ok(Sql::any(alternatives))
    }

    /// `_has:Observation:patient:code=x`: the resources that a resource of the type, which
    /// the rest of the parameter matches, refers to by the reference parameter.
    fn has(&self, resource_type: &str, r: &str, qp: &QueryParam, depth: usize) -> Result<Sql> {
        let has = HasParam::parse(qp.modifier.as_deref(), &qp.value)?;
        let (source_id, source_param) = self
            .catalog
            .definition(&has.target_type, &has.reference_param)
            .filter(|(_, p)| p.kind == SearchParamKind::Reference)
            .ok_or_else(|| {
                format!(
                    "'{}' is not a reference parameter of {}",
                    has.reference_param, has.target_type
                )
            })?;
        if !source_param.targets.is_empty() && !source_param.targets.contains(&resource_type) {
            return Err(format!(
                "{}:{} does not refer to {resource_type}",
                has.target_type, has.reference_param
            ));
        }
        let source_type = self.res_type(&has.target_type)?;
        let target = self.res_type(resource_type)?;
        let sub: Query = std::iter::once(
            QueryParam::new(&has.search_param, has.value.clone()).map_err(|e| e.to_string())?,
        )
        .collect();
        let (f, s) = (self.alias("h"), self.alias("s"));
        let inner = self.condition_at(&has.target_type, &s, &sub, depth + 1)?;
        let mut sql = Sql::new();
        sql.push(&format!(
            "{r}.fhir_id IN (SELECT {f}.target_id FROM idx_reference {f} JOIN resource {s} ON {s}.partition_id = {f}.partition_id AND {s}.res_pk = {f}.res_pk WHERE {f}.partition_id = "
        ))
        .bind(self.partition)
        .push(&format!(" AND {f}.target_type = "))
        .bind(target)
        .push(&format!(" AND {f}.sp_id = "))
        .bind(source_id.sp_id)
        .push(&format!(" AND {f}.res_type = "))
        .bind(source_type);
        self.correlate(&mut sql, &f, "target_id", r, "fhir_id");
        sql.push(&format!(" AND {s}.deleted = 0 AND "))
            .append(inner)
            .push(")");
        Ok(sql)
    }

    /// `code-value-quantity=http://loinc.org|8480-6$gt100`: rows of the components that
    /// share a composite group.
    fn composite(
        &self,
        scope: Scope<'_>,
        param: &'static SearchParameter,
        modifier: Option<&str>,
        value: &str,
    ) -> Result<Sql> {
        match modifier {
            None => {}
            Some("missing") => {
                let m = match value {
                    "true" => true,
                    "false" => false,
                    other => {
                        return Err(format!("':missing' takes 'true' or 'false', not '{other}'"))
                    }
                };
                return Ok(self.missing(scope, &crate::schema::INDEX_TABLES, m));
            }
            Some(m) => {
                return Err(format!(
                    "modifier ':{m}' is not supported on composite parameters"
                ))
            }
        }
        let id = ParamId {
            sp_id: scope.sp_id,
            kind: SearchParamKind::Composite,
        };
        let mut alternatives = Vec::new();
        for alternative in split_unescaped(value, ',') {
            let parts = split_unescaped(alternative, '$');
            if parts.len() != param.components.len() {
                return Err(format!(
                    "'{alternative}' has {} parts separated by '$', and the parameter has {} components",
                    parts.len(),
                    param.components.len()
                ));
            }
            let mut tables = Vec::new();
            for (i, (part, component)) in parts.iter().zip(param.components).enumerate() {
                let c = self.alias("c");
                let (table, condition) = match component.kind {
                    SearchParamKind::Token => {
                        ("idx_token", token(id, &c, &one::<TokenParam>(part)?).0)
                    }
                    SearchParamKind::String => {
                        ("idx_string", string(id, &c, &one::<StringParam>(part)?)?)
                    }
                    SearchParamKind::Date => {
                        let d = one::<DateParam>(part)?;
                        (
                            "idx_date",
                            date(&format!("{c}.low"), &format!("{c}.high"), &d, self.now_us),
                        )
                    }
                    SearchParamKind::Number => {
                        let n = one::<NumberParam>(part)?;
                        (
                            "idx_number",
                            number(&format!("{c}.value"), n.prefix, n.number, n.range),
                        )
                    }
                    SearchParamKind::Quantity => (
                        "idx_quantity",
                        quantity(id, &c, &one::<QuantityParam>(part)?),
                    ),
                    SearchParamKind::Uri => {
                        ("idx_uri", uri(&format!("{c}.uri"), &one::<UriParam>(part)?))
                    }
                    SearchParamKind::Reference => (
                        "idx_reference",
                        self.reference(&c, param, &one::<ReferenceParam>(part)?)?,
                    ),
                    other => {
                        return Err(format!("a component of type {other} cannot be evaluated"))
                    }
                };
                tables.push((c, table, i as i64, condition));
            }
            let (c0, table0, _, _) = &tables[0];
            let mut sql = Sql::new();
            sql.push(&format!("SELECT {c0}.res_pk FROM {table0} {c0}"));
            for (c, table, _, _) in &tables[1..] {
                sql.push(&format!(
                    " JOIN {table} {c} ON {c}.partition_id = {c0}.partition_id AND {c}.res_pk = {c0}.res_pk AND {c}.sp_id = {c0}.sp_id AND {c}.comp_group = {c0}.comp_group"
                ));
            }
            sql.push(&format!(" WHERE {c0}.partition_id = "))
                .bind(self.partition)
                .push(&format!(" AND {c0}.res_type = "))
                .bind(scope.res_type)
                .push(&format!(" AND {c0}.sp_id = "))
                .bind(scope.sp_id);
            self.correlate(&mut sql, c0, "res_pk", scope.r, "res_pk");
            for (c, _, part, condition) in tables {
                sql.push(&format!(" AND {c}.comp_part = "))
                    .bind(part)
                    .push(" AND ")
                    .append(condition);
            }
            alternatives.push(membership(scope.r, sql, false));
        }
        Ok(Sql::any(alternatives))
    }
}

/// Where a parameter's rows are: the resource row's alias, its type and the parameter.
#[derive(Clone, Copy)]
struct Scope<'a> {
    r: &'a str,
    res_type: i16,
    sp_id: i32,
}

/// `r.res_pk IN (sub)`, or `NOT IN`.
fn membership(r: &str, sub: Sql, negated: bool) -> Sql {
    let mut sql = Sql::new();
    sql.push(&format!(
        "{r}.res_pk {}IN (",
        if negated { "NOT " } else { "" }
    ))
    .append(sub)
    .push(")");
    sql
}

/// The subquery of a condition that is exactly one [`membership`] of `r` (in parentheses or
/// none, not negated): its inverse, for counting a list of matches alone. The text is the
/// whole evidence, and it is exact: values are always bound, never in the text, so every
/// parenthesis is the SQL's own.
pub(crate) fn list_of(condition: &Sql) -> Option<Sql> {
    let mut text = condition.text.as_str();
    while text.starts_with('(') && closing(text) == Some(text.len() - 1) {
        text = &text[1..text.len() - 1];
    }
    let rest = text.strip_prefix("r.res_pk IN ")?;
    if !rest.starts_with('(') || closing(rest) != Some(rest.len() - 1) {
        return None;
    }
    Some(Sql {
        text: rest[1..rest.len() - 1].to_string(),
        params: condition.params.clone(),
    })
}

/// Where the parenthesis that opens `text` closes.
fn closing(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn display_name(qp: &QueryParam) -> String {
    match qp.modifier.as_deref() {
        Some(m) if m.starts_with('.') => format!("{}{m}", qp.name),
        Some(m) => format!("{}:{m}", qp.name),
        None => qp.name.clone(),
    }
}

fn parse<T: SearchValue>(modifier: Option<&str>, value: &str) -> Result<Vec<T>> {
    Ok(OrList::<T>::parse(modifier, value)?.into_inner())
}

fn one<T: SearchValue>(value: &str) -> Result<T> {
    T::parse(None, value)
}

fn missing<T: SearchValue>(list: &[T]) -> Option<bool> {
    list.first().and_then(SearchValue::missing)
}

fn terminology(modifier: TokenModifier) -> Option<&'static str> {
    match modifier {
        TokenModifier::Above => Some("above"),
        TokenModifier::Below => Some("below"),
        TokenModifier::In => Some("in"),
        TokenModifier::NotIn => Some("not-in"),
        _ => None,
    }
}

/// The text just after every text that starts with `prefix`, in byte order.
fn successor(prefix: &str) -> String {
    format!("{prefix}\u{10FFFF}")
}

/// A token value on the `idx_token` row `x` (`:not` is the caller's negation), and whether
/// it is a condition on a hash alone. The hash (the first 64 bits of a SHA-256 of the
/// parameter, the kind, the system and the code, each with its length) is the match, as in
/// HAPI's index tables: two different values share one with a probability near 2^-64, and
/// no search re-reads the rows to compare the text.
fn token(id: ParamId, x: &str, t: &TokenParam) -> (Sql, bool) {
    let sp = id.sp_id.to_be_bytes();
    let kind0 = 0i16.to_be_bytes();
    let mut sql = Sql::new();
    let mut hash_only = true;
    match t.modifier {
        TokenModifier::Text => {
            hash_only = false;
            let text = normalize(t.code.as_deref().unwrap_or_default());
            sql.push(&format!("{x}.text_norm >= "))
                .bind(text.as_str())
                .push(&format!(" AND {x}.text_norm < "))
                .bind(successor(&text));
        }
        TokenModifier::OfType => {
            let type_system = match &t.system {
                TokenSystem::Exactly(s) => s.as_str(),
                _ => "",
            };
            let value = format!(
                "{}|{}",
                t.code.as_deref().unwrap_or_default(),
                t.of_type_value.as_deref().unwrap_or_default()
            );
            sql.push(&format!("{x}.hash_sys_code = "))
                .bind(stable_hash(&[
                    &sp,
                    &1i16.to_be_bytes(),
                    type_system.as_bytes(),
                    value.as_bytes(),
                ]));
        }
        _ => match (&t.system, t.code.as_deref()) {
            (TokenSystem::Any, Some(code)) => {
                sql.push(&format!("{x}.hash_code = ")).bind(stable_hash(&[
                    &sp,
                    &kind0,
                    code.as_bytes(),
                ]));
            }
            (TokenSystem::NoSystem, Some(code)) => {
                sql.push(&format!("{x}.hash_sys_code = "))
                    .bind(stable_hash(&[&sp, &kind0, b"", code.as_bytes()]));
            }
            (TokenSystem::Exactly(system), Some(code)) => {
                sql.push(&format!("{x}.hash_sys_code = "))
                    .bind(stable_hash(&[
                        &sp,
                        &kind0,
                        system.as_bytes(),
                        code.as_bytes(),
                    ]));
            }
            (TokenSystem::Exactly(system), None) => {
                hash_only = false;
                sql.push(&format!(
                    "{x}.kind = 0 AND {x}.code IS NOT NULL AND {x}.hash_system = "
                ))
                .bind(stable_hash(&[system.as_bytes()]));
            }
            (_, None) => {
                hash_only = false;
                sql.push(&format!("{x}.kind = 0 AND {x}.code IS NOT NULL"));
            }
        },
    }
    (sql, hash_only)
}

/// A string value on the `idx_string` row `x`.
fn string(id: ParamId, x: &str, s: &StringParam) -> Result<Sql> {
    let mut sql = Sql::new();
    if s.exact {
        sql.push(&format!("{x}.hash_exact = "))
            .bind(stable_hash(&[&id.sp_id.to_be_bytes(), s.value.as_bytes()]))
            .push(&format!(" AND {x}.exact = "))
            .bind(s.value.as_str());
        return Ok(sql);
    }
    let value = normalize(&s.value);
    if value.chars().count() > MAX_NORMALIZED {
        return Err(format!(
            "the value is longer than the {MAX_NORMALIZED} characters this server indexes"
        ));
    }
    if s.contains {
        let escaped: String = value
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        sql.push(&format!("{x}.normalized LIKE "))
            .bind(format!("%{escaped}%"))
            .push(" ESCAPE '\\'");
    } else {
        sql.push(&format!("{x}.normalized >= "))
            .bind(value.as_str())
            .push(&format!(" AND {x}.normalized < "))
            .bind(successor(&value));
    }
    Ok(sql)
}

/// A date value against a stored range `[low, high)` (microseconds), as
/// `DateParam::matches_range` defines each prefix.
fn date(low: &str, high: &str, d: &DateParam, now_us: i64) -> Sql {
    let s = micros(d.range.0 .0, false);
    let e = micros(d.range.1 .0, true);
    let mut sql = Sql::new();
    let eq = |sql: &mut Sql| {
        sql.push(&format!("({low} >= "))
            .bind(s)
            .push(&format!(" AND {high} <= "))
            .bind(e)
            .push(")");
    };
    match d.prefix {
        Prefix::Eq => eq(&mut sql),
        Prefix::Ne => {
            sql.push("NOT ");
            eq(&mut sql);
        }
        Prefix::Gt => {
            sql.push(&format!("{high} > ")).bind(e);
        }
        Prefix::Lt => {
            sql.push(&format!("{low} < ")).bind(s);
        }
        // Each with a bound that the alternatives imply (a range within [s, e] ends at or
        // after s and starts at or before e), so that an index on `high` (`low`) serves it
        // as a range instead of every row of the parameter being tested.
        Prefix::Ge => {
            sql.push(&format!("{high} >= "))
                .bind(s)
                .push(&format!(" AND ({high} > "))
                .bind(e)
                .push(" OR ");
            eq(&mut sql);
            sql.push(")");
        }
        Prefix::Le => {
            sql.push(&format!("{low} <= "))
                .bind(e)
                .push(&format!(" AND ({low} < "))
                .bind(s)
                .push(" OR ");
            eq(&mut sql);
            sql.push(")");
        }
        Prefix::Sa => {
            sql.push(&format!("{low} >= ")).bind(e);
        }
        Prefix::Eb => {
            sql.push(&format!("{high} <= ")).bind(s);
        }
        Prefix::Ap => {
            let margin = now_us.saturating_sub(s).saturating_abs() / 10;
            sql.push(&format!("({low} < "))
                .bind(e.saturating_add(margin))
                .push(&format!(" AND {high} > "))
                .bind(s.saturating_sub(margin))
                .push(")");
        }
    }
    sql
}

/// A number compared as `NumberParam::matches` compares.
fn number(column: &str, prefix: Prefix, n: f64, range: (f64, f64)) -> Sql {
    let mut sql = Sql::new();
    let eq = |sql: &mut Sql| {
        sql.push(&format!("({column} >= "))
            .bind(range.0)
            .push(&format!(" AND {column} < "))
            .bind(range.1)
            .push(")");
    };
    match prefix {
        Prefix::Eq => eq(&mut sql),
        Prefix::Ne => {
            sql.push("NOT ");
            eq(&mut sql);
        }
        Prefix::Gt | Prefix::Sa => {
            sql.push(&format!("{column} > ")).bind(n);
        }
        Prefix::Lt | Prefix::Eb => {
            sql.push(&format!("{column} < ")).bind(n);
        }
        Prefix::Ge => {
            sql.push(&format!("{column} >= ")).bind(n);
        }
        Prefix::Le => {
            sql.push(&format!("{column} <= ")).bind(n);
        }
        Prefix::Ap => {
            let margin = (n * 0.1).abs();
            sql.push("(");
            eq(&mut sql);
            sql.push(&format!(" OR ({column} >= "))
                .bind(n - margin)
                .push(&format!(" AND {column} <= "))
                .bind(n + margin)
                .push("))");
        }
    }
    sql
}

/// A quantity on the `idx_quantity` row `x`: its units, then its value, or its range when
/// low and high differ, as the in-memory matcher compares them.
fn quantity(id: ParamId, x: &str, q: &QuantityParam) -> Sql {
    let mut sql = Sql::new();
    match (&q.system, &q.code) {
        (Some(system), Some(code)) => {
            sql.push(&format!("{x}.hash_units = "))
                .bind(stable_hash(&[
                    &id.sp_id.to_be_bytes(),
                    system.as_bytes(),
                    code.as_bytes(),
                ]))
                .push(&format!(" AND {x}.system = "))
                .bind(system.as_str())
                .push(&format!(" AND {x}.code = "))
                .bind(code.as_str())
                .push(" AND ");
        }
        (Some(system), None) => {
            sql.push(&format!("{x}.system = "))
                .bind(system.as_str())
                .push(" AND ");
        }
        (None, Some(code)) => {
            sql.push(&format!("({x}.code = "))
                .bind(code.as_str())
                .push(&format!(" OR {x}.unit = "))
                .bind(code.as_str())
                .push(") AND ");
        }
        (None, None) => {}
    }
    let (lo, hi) = (
        // An open end of a range: beyond any measured value.
        format!("COALESCE({x}.low, -1e300)"),
        format!("COALESCE({x}.high, 1e300)"),
    );
    let (s, e) = q.range;
    let n = q.number;
    // One value: compared as a number.
    sql.push(&format!(
        "(({x}.low IS NOT NULL AND {x}.high IS NOT NULL AND {x}.low = {x}.high AND "
    ))
    .append(number(&format!("{x}.low"), q.prefix, n, q.range))
    .push(&format!(
        ") OR ((({x}.low IS NULL) <> ({x}.high IS NULL) OR {x}.low <> {x}.high) AND "
    ));
    // A range: compared as one.
    let within = |sql: &mut Sql| {
        sql.push(&format!("({lo} >= "))
            .bind(s)
            .push(&format!(" AND {hi} < "))
            .bind(e)
            .push(")");
    };
    match q.prefix {
        Prefix::Eq => within(&mut sql),
        Prefix::Ne => {
            sql.push("NOT ");
            within(&mut sql);
        }
        Prefix::Gt => {
            sql.push(&format!("{hi} > ")).bind(n);
        }
        Prefix::Ge => {
            sql.push(&format!("{hi} >= ")).bind(n);
        }
        Prefix::Lt => {
            sql.push(&format!("{lo} < ")).bind(n);
        }
        Prefix::Le => {
            sql.push(&format!("{lo} <= ")).bind(n);
        }
        Prefix::Sa => {
            sql.push(&format!("{lo} > ")).bind(n);
        }
        Prefix::Eb => {
            sql.push(&format!("{hi} < ")).bind(n);
        }
        Prefix::Ap => {
            let m = (n * 0.1).abs();
            sql.push(&format!("({lo} < "))
                .bind(e + m)
                .push(&format!(" AND {hi} >= "))
                .bind(s - m)
                .push(")");
        }
    }
    sql.push("))");
    sql
}

/// A uri value on a text column.
fn uri(column: &str, u: &UriParam) -> Sql {
    let mut sql = Sql::new();
    match u.modifier {
        UriModifier::None => {
            sql.push(&format!("{column} = ")).bind(u.value.as_str());
        }
        UriModifier::Below => {
            sql.push(&format!("{column} >= "))
                .bind(u.value.as_str())
                .push(&format!(" AND {column} < "))
                .bind(successor(&u.value));
        }
        UriModifier::Above => {
            // Every stored URI that the value starts with: one of its prefixes.
            let prefixes: Vec<String> = u
                .value
                .char_indices()
                .map(|(i, c)| u.value[..i + c.len_utf8()].to_string())
                .collect();
            sql.push(&format!("{column} IN ("));
            for (i, p) in prefixes.into_iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(p);
            }
            sql.push(")");
        }
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Value;

    /// `list_of` undoes `membership` for `r`, through any parentheses, and only then.
    #[test]
    fn a_list_is_found_only_in_one_membership() {
        let sub = || Sql {
            text: "SELECT x.res_pk FROM t x WHERE (x.a = ?)".into(),
            params: vec![Value::from(1i64)],
        };
        let one = Sql::all(vec![Sql::any(vec![membership("r", sub(), false)])]);
        assert_eq!(list_of(&one), Some(sub()));
        for other in [
            Sql::all(vec![membership("r", sub(), true)]),
            Sql::all(vec![
                membership("r", sub(), false),
                membership("r", sub(), false),
            ]),
            Sql::any(vec![
                membership("r", sub(), false),
                membership("r", sub(), false),
            ]),
            Sql::all(vec![membership("t0", sub(), false)]),
        ] {
            assert_eq!(list_of(&other), None, "{}", other.text);
        }
    }
}
