//! Search in SQL: the count, one page in the order `_sort` asks, and the resources
//! `_include` and `_revinclude` add to it, never by loading resources to filter them.
//!
//! ```
//! use fhir_store::catalog::Catalog;
//! use fhir_store::search::plan::Planner;
//! use fhir_rocket::search::parse_query;
//! use fhir_model::r4::Resource;
//!
//! let catalog = Catalog::of::<Resource>();
//! let planner = Planner::new(&catalog, 0, 0);
//! let query = parse_query("family=chalm&birthdate=lt1980").unwrap();
//! let sql = planner.condition("Patient", "r", &query).unwrap();
//! assert!(sql.text.contains("idx_string") && sql.text.contains("idx_date"));
//! // A modifier that needs terminology is refused, not ignored.
//! let query = parse_query("gender:in=http://example.org/vs").unwrap();
//! assert!(planner.condition("Patient", "r", &query).is_err());
//! ```

pub mod plan;
pub mod sql;

use crate::db::{Connection, Value};
use crate::store::{int, now_us, take_body, take_text, Store, StoreError};
use fhir_model::SearchParamKind;
use fhir_rocket::search::{Include, Query, SortKey};
use fhir_rocket::total_from_page;
use plan::Planner;
use sql::Sql;

/// A resource a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its row.
    pub res_pk: i64,
    /// Its type.
    pub resource_type: &'static str,
    /// Its id.
    pub id: String,
    /// Its JSON.
    pub body: String,
}

/// A search planned by [`Store::plan_search`]: its SQL, built once for its page and count.
#[derive(Debug, Clone)]
pub struct PlannedSearch {
    res_type: i16,
    /// The condition on the resource row `r`.
    condition: Sql,
    /// Its `ORDER BY`.
    order: Sql,
    /// Whether `_sort` orders it (otherwise, the order the resources were stored in).
    sorted: bool,
}

/// The most matches [`Store::page_and_count`] lists to count and page them at once, unless
/// [`Store::set_listing_max`] says otherwise.
pub const LISTED_MAX: usize = 10_000;

/// The first column of each row, as integers.
fn numbers(rows: Vec<Vec<Value>>) -> Vec<i64> {
    rows.iter().map(|row| int(row, 0)).collect()
}

/// The most resources `_include:iterate` and `_revinclude:iterate` add to one page, and how
/// many rounds they take.
const MAX_INCLUDED: usize = 1000;
const MAX_ROUNDS: usize = 4;

impl Store {
    /// The type's number and the condition `query` puts on its resource row `r`.
    fn planned(&self, resource_type: &str, query: &Query) -> Result<(i16, Sql), StoreError> {
        let res_type = self
            .catalog()
            .resource_type(resource_type)
            .map(|t| t.res_type)
            .ok_or_else(|| {
                StoreError::Search(format!("'{resource_type}' is not a resource type"))
            })?;
        let planner = Planner::new(self.catalog(), self.partition(), now_us())
            .probing(self.dialect() == crate::schema::Dialect::Sqlite);
        let condition = planner
            .condition(resource_type, "r", query)
            .map_err(StoreError::Search)?;
        Ok((res_type, condition))
    }

    /// ` FROM resource r WHERE ...`: the live resources of the type that meet `condition`.
    fn matching(&self, res_type: i16, condition: Sql) -> Sql {
        let mut sql = Sql::new();
        sql.push(" FROM resource r WHERE r.partition_id = ")
            .bind(self.partition())
            .push(" AND r.res_type = ")
            .bind(res_type)
            .push(" AND r.deleted = 0 AND ")
            .append(condition);
        sql
    }

    /// `SELECT columns FROM resource r WHERE ... ORDER BY ...`: a planned search's matches,
    /// in order.
    fn ordered(&self, columns: &str, search: &PlannedSearch) -> Sql {
        let mut sql = Sql::text("SELECT ");
        sql.push(columns)
            .append(self.matching(search.res_type, search.condition.clone()))
            .push(" ORDER BY ")
            .append(search.order.clone());
        sql
    }

    /// Plans a search: checks that the store evaluates every parameter of `query` and each
    /// `_sort` key (the error names the first it does not) and builds its SQL once, for
    /// [`Store::page_of`], [`Store::count_of`] and [`Store::page_and_count`].
    pub fn plan_search(
        &self,
        resource_type: &str,
        query: &Query,
        sort: &[SortKey],
    ) -> Result<PlannedSearch, StoreError> {
        let (res_type, condition) = self.planned(resource_type, query)?;
        let order = self.order_by(resource_type, sort)?;
        Ok(PlannedSearch {
            res_type,
            condition,
            order,
            sorted: !sort.is_empty(),
        })
    }

    /// How many resources of a type match `query`.
    pub fn count(&self, resource_type: &str, query: &Query) -> Result<usize, StoreError> {
        self.count_of(&self.plan_search(resource_type, query, &[])?)
    }

    /// How many resources a planned search matches.
    pub fn count_of(&self, search: &PlannedSearch) -> Result<usize, StoreError> {
        self.read_alone(|conn| self.count_in(conn, search))
    }

    fn count_in(
        &self,
        conn: &mut dyn Connection,
        search: &PlannedSearch,
    ) -> Result<usize, StoreError> {
        let sql = match plan::list_of(&search.condition) {
            // Index rows are of live resources of their partition and type only (a deletion
            // removes them), so one list of matches is counted without reading each
            // resource's row: for 1,529 Encounters, 0.3 ms instead of 1.5.
            Some(list) => {
                let mut sql = Sql::text("SELECT COUNT(DISTINCT res_pk) FROM (");
                // The alias: PostgreSQL before 16 requires one.
                sql.append(list).push(") AS matches");
                sql
            }
            None => {
                let mut sql = Sql::text("SELECT COUNT(*)");
                sql.append(self.matching(search.res_type, search.condition.clone()));
                sql
            }
        };
        let rows = conn.query(&sql.text, &sql.params)?;
        Ok(crate::db::one_i64(&rows).unwrap_or(0) as usize)
    }

    /// The matches at positions `offset..offset + count` in `_sort` order (then the order
    /// they were first stored in).
    pub fn page(
        &self,
        resource_type: &str,
        query: &Query,
        sort: &[SortKey],
        offset: usize,
        count: usize,
    ) -> Result<Vec<Found>, StoreError> {
        self.page_of(
            &self.plan_search(resource_type, query, sort)?,
            offset,
            count,
        )
    }

    /// A planned search's matches at positions `offset..offset + count`.
    pub fn page_of(
        &self,
        search: &PlannedSearch,
        offset: usize,
        count: usize,
    ) -> Result<Vec<Found>, StoreError> {
        self.read_alone(|conn| self.page_in(conn, search, offset, count))
    }

    /// A planned search's matches at positions `offset..offset + count` and how many it
    /// matches in all, read in one transaction, so that the two agree.
    ///
    /// Up to [`LISTED_MAX`] matches (see [`Store::set_listing_max`]), one statement lists
    /// them all, in order, by row number alone: the count is its length and the page a slice
    /// of it, whose rows are then read by number (on PostgreSQL, all in one statement:
    /// `listed_at_once`). Counting and paging apart each built the same list of matches in a
    /// temporary B-tree (for `Encounter?date=ge...`, 1,529 entries twice: half of the
    /// request's CPU). Past that, the page is read with one row more than asked, which says
    /// whether more follow, and the matches are counted beside it only when they do.
    pub fn page_and_count(
        &self,
        search: &PlannedSearch,
        offset: usize,
        count: usize,
    ) -> Result<(Vec<Found>, usize), StoreError> {
        // On PostgreSQL the listing is one statement; when it finds more than the maximum,
        // the page and the count are read apart, without listing again.
        let at_once = self.dialect() == crate::schema::Dialect::Postgres;
        if at_once {
            if let Some(answer) =
                self.read_alone(|conn| self.listed_at_once(conn, search, offset, count))?
            {
                return Ok(answer);
            }
        }
        self.read(|conn| {
            let listed = match at_once {
                true => None,
                false => self.list_in(conn, search)?,
            };
            if let Some(listed) = listed {
                let start = offset.min(listed.len());
                let end = offset.saturating_add(count).min(listed.len());
                let page = self.rows_numbered(conn, &listed[start..end])?;
                return Ok((page, listed.len()));
            }
            let mut page = self.page_in(conn, search, offset, count + 1)?;
            let more = page.len() > count;
            page.truncate(count);
            let total = match total_from_page(offset, page.len(), more) {
                Some(total) => total,
                None => self.count_in(conn, search)?,
            };
            Ok((page, total))
        })
    }

    /// PostgreSQL: what [`Store::page_and_count`] does with a listing, in one statement, so
    /// in one snapshot without a transaction: the list is an array kept in the server, the
    /// page its slice joined to the resource rows, and the count its length. A client-server
    /// database pays for each round trip (the transaction's `BEGIN` and `COMMIT`, the list,
    /// then the rows): four became one. `None` past the listing maximum.
    fn listed_at_once(
        &self,
        conn: &mut dyn Connection,
        search: &PlannedSearch,
        offset: usize,
        count: usize,
    ) -> Result<Option<(Vec<Found>, usize)>, StoreError> {
        let max = self.listing_max();
        let limit = format!(" LIMIT {}", max.saturating_add(1));
        // `ARRAY(subquery)` keeps the order of the subquery's rows. `MATERIALIZED`: inlined,
        // the list was built twice, once for its length and once for the page.
        let mut sql = Sql::text("WITH listed AS MATERIALIZED (SELECT ARRAY(");
        match (search.sorted, plan::list_of(&search.condition)) {
            // A resource may be on the list of index rows more than once.
            (false, Some(list)) => {
                sql.push("SELECT DISTINCT res_pk FROM (")
                    .append(list)
                    .push(") AS matches ORDER BY res_pk");
            }
            _ => {
                sql.append(self.ordered("r.res_pk", search));
            }
        }
        // Array subscripts count from 1 and are `integer`s (an `_offset` may be larger:
        // past the list's end either way, where a slice is empty).
        let subscript = |n: usize| n.min(i32::MAX as usize);
        let (first, last) = (
            subscript(offset.saturating_add(1)),
            subscript(offset.saturating_add(count)),
        );
        sql.push(&limit)
            .push(&format!(
                ") AS pks) SELECT cardinality(l.pks), r.res_pk, r.res_type, r.fhir_id, r.body \
                 FROM listed l LEFT JOIN LATERAL unnest(l.pks[{first}:{last}]) WITH ORDINALITY AS p(res_pk, pos) ON true \
                 LEFT JOIN resource r ON r.partition_id = "
            ))
            .bind(self.partition())
            .push(" AND r.res_pk = p.res_pk ORDER BY p.pos");
        let rows = conn.query(&sql.text, &sql.params)?;
        let total = rows.first().map_or(0, |row| int(row, 0)) as usize;
        if total > max {
            return Ok(None);
        }
        let page = rows
            .into_iter()
            // The one row of an empty page has no resource.
            .filter(|row| !matches!(row[1], Value::Null))
            .map(|mut row| {
                row.remove(0);
                row
            })
            .collect();
        Ok(Some((self.found(page)?, total)))
    }

    /// The row numbers of every match in order, or `None` past the listing maximum.
    fn list_in(
        &self,
        conn: &mut dyn Connection,
        search: &PlannedSearch,
    ) -> Result<Option<Vec<i64>>, StoreError> {
        let max = self.listing_max();
        let limit = format!(" LIMIT {}", max.saturating_add(1));
        let listed = match (search.sorted, plan::list_of(&search.condition)) {
            // In the order they were stored, from one list of index rows, without reading
            // resource rows (see `count_in`); a resource may be on the list more than once.
            (false, Some(list)) => {
                let mut sql = Sql::text("SELECT res_pk FROM (");
                sql.append(list).push(") AS matches").push(&limit);
                let mut listed = numbers(conn.query(&sql.text, &sql.params)?);
                // Cut short before duplicates are removed: the list is not all of it.
                if listed.len() > max {
                    return Ok(None);
                }
                listed.sort_unstable();
                listed.dedup();
                listed
            }
            _ => {
                let mut sql = self.ordered("r.res_pk", search);
                sql.push(&limit);
                numbers(conn.query(&sql.text, &sql.params)?)
            }
        };
        Ok((listed.len() <= max).then_some(listed))
    }

    /// The resources of row numbers `numbers`, in that order.
    fn rows_numbered(
        &self,
        conn: &mut dyn Connection,
        numbers: &[i64],
    ) -> Result<Vec<Found>, StoreError> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::text(
            "SELECT r.res_pk, r.res_type, r.fhir_id, r.body FROM resource r WHERE r.partition_id = ",
        );
        sql.bind(self.partition()).push(" AND r.res_pk IN (");
        push_list(&mut sql, numbers.to_vec());
        sql.push(")");
        let found = self.found(conn.query(&sql.text, &sql.params)?)?;
        let mut by_number: std::collections::HashMap<i64, Found> =
            found.into_iter().map(|f| (f.res_pk, f)).collect();
        Ok(numbers.iter().filter_map(|n| by_number.remove(n)).collect())
    }

    fn page_in(
        &self,
        conn: &mut dyn Connection,
        search: &PlannedSearch,
        offset: usize,
        count: usize,
    ) -> Result<Vec<Found>, StoreError> {
        let mut sql = self.ordered("r.res_pk, r.res_type, r.fhir_id, r.body", search);
        sql.push(&format!(" LIMIT {count} OFFSET {offset}"));
        self.found(conn.query(&sql.text, &sql.params)?)
    }

    fn found(&self, rows: Vec<Vec<Value>>) -> Result<Vec<Found>, StoreError> {
        rows.into_iter()
            .map(|mut row| {
                let t = int(&row, 1) as i16;
                Ok(Found {
                    res_pk: int(&row, 0),
                    resource_type: self.catalog().type_name(t).ok_or_else(|| {
                        StoreError::Schema(format!("resource type {t} is unknown"))
                    })?,
                    id: take_text(&mut row, 2),
                    body: take_body(&mut row, 3)?,
                })
            })
            .collect()
    }

    /// `ORDER BY` for the `_sort` keys: each key's smallest value (its largest when
    /// descending), resources without one last, and the row number to make it total.
    fn order_by(&self, resource_type: &str, sort: &[SortKey]) -> Result<Sql, StoreError> {
        let mut sql = Sql::new();
        for key in sort {
            let direction = if key.descending { " DESC" } else { "" };
            let expression = match key.name.as_str() {
                "_id" => Sql::text("r.fhir_id"),
                "_lastUpdated" => Sql::text("r.last_updated"),
                name => {
                    let (id, param) =
                        self.catalog()
                            .definition(resource_type, name)
                            .ok_or_else(|| {
                                StoreError::Search(format!(
                                    "_sort: '{name}' is not a search parameter of {resource_type}"
                                ))
                            })?;
                    let (table, column_asc, column_desc) = match param.kind {
                        SearchParamKind::String => ("idx_string", "normalized", "normalized"),
                        SearchParamKind::Token => ("idx_token", "code", "code"),
                        SearchParamKind::Date => ("idx_date", "low", "high"),
                        SearchParamKind::Number => ("idx_number", "value", "value"),
                        SearchParamKind::Quantity => ("idx_quantity", "low", "high"),
                        SearchParamKind::Uri => ("idx_uri", "uri", "uri"),
                        SearchParamKind::Reference => ("idx_reference", "target_id", "target_id"),
                        other => {
                            return Err(StoreError::Search(format!(
                                "_sort: '{name}' is a {other} parameter, which has no order"
                            )))
                        }
                    };
                    let (aggregate, column) = if key.descending {
                        ("MAX", column_desc)
                    } else {
                        ("MIN", column_asc)
                    };
                    let mut e = Sql::new();
                    e.push(&format!(
                        "(SELECT {aggregate}(s.{column}) FROM {table} s WHERE s.partition_id = r.partition_id AND s.res_pk = r.res_pk AND s.sp_id = "
                    ))
                    .bind(id.sp_id)
                    .push(")");
                    e
                }
            };
            let mut is_null = Sql::text("(");
            is_null.append(expression.clone()).push(" IS NULL), ");
            sql.append(is_null)
                .append(expression)
                .push(direction)
                .push(", ");
        }
        sql.push("r.res_pk");
        Ok(sql)
    }

    /// The resources `_include` and `_revinclude` add to a page (not those already in it),
    /// with their `:iterate` forms repeated on what was added until nothing new comes or a
    /// limit is reached.
    pub fn included(
        &self,
        page: &[Found],
        include: &[Include],
        revinclude: &[Include],
    ) -> Result<Vec<Found>, StoreError> {
        if include.is_empty() && revinclude.is_empty() {
            return Ok(Vec::new());
        }
        let mut seen: std::collections::HashSet<i64> = page.iter().map(|f| f.res_pk).collect();
        let mut added: Vec<Found> = Vec::new();
        let mut frontier: Vec<Found> = page.to_vec();
        for round in 0..MAX_ROUNDS {
            let mut new = Vec::new();
            for (includes, reverse) in [(include, false), (revinclude, true)] {
                for inc in includes.iter().filter(|i| round == 0 || i.iterate) {
                    let sources: Vec<&Found> = frontier
                        .iter()
                        .filter(|f| reverse || inc.source_type == f.resource_type)
                        .collect();
                    if sources.is_empty() {
                        continue;
                    }
                    for f in self.include_once(&sources, inc, reverse)? {
                        if seen.insert(f.res_pk) {
                            new.push(f);
                        }
                    }
                }
            }
            if new.is_empty() {
                break;
            }
            added.extend(new.iter().cloned());
            if added.len() >= MAX_INCLUDED {
                break;
            }
            frontier = new;
        }
        Ok(added)
    }

    fn include_once(
        &self,
        sources: &[&Found],
        inc: &Include,
        reverse: bool,
    ) -> Result<Vec<Found>, StoreError> {
        let catalog = self.catalog();
        let source_type = catalog.resource_type(&inc.source_type).ok_or_else(|| {
            StoreError::Search(format!("'{}' is not a resource type", inc.source_type))
        })?;
        let params: Vec<i32> = if inc.param == "*" {
            catalog
                .reference_params(&inc.source_type)
                .into_iter()
                .map(|(id, _)| id.sp_id)
                .collect()
        } else {
            let (id, p) = catalog
                .definition(&inc.source_type, &inc.param)
                .filter(|(_, p)| p.kind == SearchParamKind::Reference)
                .ok_or_else(|| {
                    StoreError::Search(format!(
                        "'{}' is not a reference parameter of {}",
                        inc.param, inc.source_type
                    ))
                })?;
            let _ = p;
            vec![id.sp_id]
        };
        if params.is_empty() {
            return Ok(Vec::new());
        }
        let target = match &inc.target_type {
            Some(t) => Some(
                catalog
                    .resource_type(t)
                    .map(|t| t.res_type)
                    .ok_or_else(|| StoreError::Search(format!("'{t}' is not a resource type")))?,
            ),
            None => None,
        };
        let mut sql = Sql::new();
        if reverse {
            // Resources of the source type whose parameter points to a page resource.
            sql.push("SELECT DISTINCT s.res_pk, s.res_type, s.fhir_id, s.body FROM idx_reference f JOIN resource s ON s.partition_id = f.partition_id AND s.res_pk = f.res_pk WHERE f.partition_id = ")
                .bind(self.partition())
                .push(" AND f.res_type = ")
                .bind(source_type.res_type)
                .push(" AND s.deleted = 0 AND f.sp_id IN (");
            push_list(&mut sql, params);
            sql.push(") AND (");
            for (i, found) in sources.iter().enumerate() {
                if i > 0 {
                    sql.push(" OR ");
                }
                let t = catalog
                    .resource_type(found.resource_type)
                    .map(|t| t.res_type)
                    .unwrap_or_default();
                sql.push("(f.target_type = ")
                    .bind(t)
                    .push(" AND f.target_id = ")
                    .bind(found.id.as_str())
                    .push(")");
            }
            sql.push(")");
            if let Some(t) = target {
                sql.push(" AND f.target_type = ").bind(t);
            }
        } else {
            // Resources the page's resources point to by the parameter.
            sql.push("SELECT DISTINCT t.res_pk, t.res_type, t.fhir_id, t.body FROM idx_reference f JOIN resource t ON t.partition_id = f.partition_id AND t.res_type = f.target_type AND t.fhir_id = f.target_id WHERE f.partition_id = ")
                .bind(self.partition())
                .push(" AND t.deleted = 0 AND f.sp_id IN (");
            push_list(&mut sql, params);
            sql.push(") AND f.res_pk IN (");
            push_list(&mut sql, sources.iter().map(|f| f.res_pk).collect());
            sql.push(")");
            if let Some(t) = target {
                sql.push(" AND f.target_type = ").bind(t);
            }
        }
        let rows = self.read_alone(|conn| Ok(conn.query(&sql.text, &sql.params)?))?;
        self.found(rows)
    }
}

fn push_list<T: Into<Value>>(sql: &mut Sql, values: Vec<T>) {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(v);
    }
}
