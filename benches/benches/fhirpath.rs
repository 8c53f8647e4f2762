//! FHIRPath search values and the in-memory matcher, in resources per second, each beside
//! JSON parsing of the same resources in the same run.
//!
//! - `extract`: every search parameter of every R4 example (the official examples package)
//!   evaluated for its index entries (`fhir_model::fhirpath::extract::Compiled::values`).
//! - `match`: a 3-parameter Observation query (token, date, reference) over 80,000
//!   Observations shaped like Synthea's, generated here deterministically; the figure is
//!   Observations tested per second on one core.
//!
//! `cargo bench -p fhir-bench --bench fhirpath`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fhir_model::fhirpath::extract::Compiled;
use fhir_model::r4::Resource;
use fhir_model::{FhirResource, FhirVersion, SearchParamKind};
use fhir_rocket::search::matcher::{Matcher, Sources};
use fhir_rocket::search::parse_query;
use std::hint::black_box;

mod common;

/// Every search parameter of every type, parsed, by type; those without an expression left out.
fn compiled_by_type() -> Vec<(&'static str, Vec<Compiled>)> {
    Resource::SEARCH_PARAMETERS_BY_TYPE
        .iter()
        .map(|(ty, params)| {
            let compiled = params
                .iter()
                .filter(|p| p.kind != SearchParamKind::Special)
                .filter_map(|p| Compiled::for_type(p, FhirVersion::R4, ty).ok())
                .collect();
            (*ty, compiled)
        })
        .collect()
}

fn extract(c: &mut Criterion) {
    let texts = common::r4_example_texts();
    let resources: Vec<Resource> = texts
        .iter()
        .map(|t| Resource::from_json(t).expect("every R4 example parses"))
        .collect();
    let by_type = compiled_by_type();
    let params_of = |r: &Resource| {
        let ty = r.resource_type();
        &by_type[by_type
            .binary_search_by(|(t, _)| (*t).cmp(ty))
            .expect("a type")]
        .1
    };
    let entries: usize = resources
        .iter()
        .map(|r| {
            params_of(r)
                .iter()
                .map(|p| p.values(r.as_node()).map_or(0, |v| v.len()))
                .sum::<usize>()
        })
        .sum();
    eprintln!(
        "extract: {} resources, {} parameters evaluated, {entries} index entries",
        resources.len(),
        resources.iter().map(|r| params_of(r).len()).sum::<usize>()
    );
    let mut group = c.benchmark_group("fhirpath-r4-examples");
    group.throughput(Throughput::Elements(resources.len() as u64));
    group.sample_size(10);
    group.bench_function("extract/all-parameters", |b| {
        let mut values = Vec::new();
        b.iter(|| {
            for r in &resources {
                for p in params_of(r) {
                    values.clear();
                    let _ = p.values_into(r.as_node(), &mut values);
                    black_box(values.len());
                }
            }
        })
    });
    group.bench_function("parse/fhir-model", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(Resource::from_json(t).expect("parses"));
            }
        })
    });
    group.finish();
}

/// A small deterministic generator (an LCG): the same set on every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Codes, displays, units and typical values of the Observations Synthea writes most.
const CODES: &[(&str, &str, &str, f64, &str)] = &[
    ("8302-2", "Body Height", "cm", 170.0, "vital-signs"),
    ("29463-7", "Body Weight", "kg", 75.0, "vital-signs"),
    ("39156-5", "Body Mass Index", "kg/m2", 26.0, "vital-signs"),
    ("8867-4", "Heart rate", "/min", 72.0, "vital-signs"),
    ("9279-1", "Respiratory rate", "/min", 14.0, "vital-signs"),
    ("72514-3", "Pain severity", "{score}", 2.0, "vital-signs"),
    ("8310-5", "Body temperature", "Cel", 37.0, "vital-signs"),
    ("2339-0", "Glucose", "mg/dL", 90.0, "laboratory"),
    ("38483-4", "Creatinine", "mg/dL", 1.0, "laboratory"),
    ("2947-0", "Sodium", "mmol/L", 140.0, "laboratory"),
    ("6298-4", "Potassium", "mmol/L", 4.2, "laboratory"),
    ("2069-3", "Chloride", "mmol/L", 104.0, "laboratory"),
    ("20565-8", "Carbon Dioxide", "mmol/L", 25.0, "laboratory"),
    ("49765-1", "Calcium", "mg/dL", 9.5, "laboratory"),
    ("2093-3", "Total Cholesterol", "mg/dL", 190.0, "laboratory"),
    ("2571-8", "Triglycerides", "mg/dL", 130.0, "laboratory"),
    ("18262-6", "LDL Cholesterol", "mg/dL", 110.0, "laboratory"),
    ("2085-9", "HDL Cholesterol", "mg/dL", 55.0, "laboratory"),
    ("4548-4", "Hemoglobin A1c", "%", 5.8, "laboratory"),
    ("6690-2", "Leukocytes", "10*3/uL", 7.0, "laboratory"),
];

/// 80,000 Observations of 1,000 patients over 2000-2023, shaped like Synthea's (category,
/// LOINC code with display, subject, encounter, effective and issued times, a quantity).
fn synthea_like_observations(count: usize) -> Vec<String> {
    let mut rng = Random(0x5eed);
    (0..count)
        .map(|i| {
            let (code, display, unit, typical, category) =
                CODES[rng.below(CODES.len() as u64) as usize];
            let patient = rng.below(1_000);
            let encounter = rng.below(40_000);
            let (year, month, day) = (2000 + rng.below(24), 1 + rng.below(12), 1 + rng.below(28));
            let (hour, minute) = (rng.below(24), rng.below(60));
            let value = typical * (0.8 + rng.below(400) as f64 / 1000.0);
            format!(
                r#"{{"resourceType":"Observation","id":"obs-{i}","meta":{{"versionId":"1","lastUpdated":"2024-01-01T00:00:00.000+00:00"}},"status":"final","category":[{{"coding":[{{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"{category}","display":"{category}"}}]}}],"code":{{"coding":[{{"system":"http://loinc.org","code":"{code}","display":"{display}"}}],"text":"{display}"}},"subject":{{"reference":"Patient/patient-{patient}"}},"encounter":{{"reference":"Encounter/enc-{encounter}"}},"effectiveDateTime":"{year}-{month:02}-{day:02}T{hour:02}:{minute:02}:00-05:00","issued":"{year}-{month:02}-{day:02}T{hour:02}:{minute:02}:00.000-05:00","valueQuantity":{{"value":{value:.2},"unit":"{unit}","system":"http://unitsofmeasure.org","code":"{unit}"}}}}"#
            )
        })
        .collect()
}

fn matcher(c: &mut Criterion) {
    let texts = synthea_like_observations(80_000);
    let observations: Vec<Resource> = texts
        .iter()
        .map(|t| Resource::from_json(t).expect("a generated Observation parses"))
        .collect();
    let sources = Sources::none();
    let mut group = c.benchmark_group("matcher-80k-observations");
    group.throughput(Throughput::Elements(observations.len() as u64));
    group.sample_size(10);
    // The query as a client writes it: the code first, so most Observations fail at once.
    // Then the same three parameters with the ones most Observations pass first, so that
    // nearly every Observation has all three evaluated.
    for (name, query) in [
        (
            "token,date,reference",
            "code=http://loinc.org|8867-4&date=ge2019-01-01&subject=Patient/patient-7",
        ),
        (
            "date,token,reference (every clause evaluated)",
            "date=ge2000-01-01&code=http://loinc.org|&subject=Patient/patient-7",
        ),
    ] {
        let matcher = Matcher::new::<Resource>("Observation", &parse_query(query).unwrap())
            .expect("the query compiles");
        let found = observations
            .iter()
            .filter(|o| matcher.matches(*o, &sources).unwrap())
            .count();
        eprintln!(
            "match {query}: {found} of {} Observations",
            observations.len()
        );
        group.bench_function(format!("match/{name}"), |b| {
            b.iter(|| {
                let mut found = 0usize;
                for o in &observations {
                    found += usize::from(matcher.matches(o, &sources).unwrap());
                }
                black_box(found)
            })
        });
    }
    group.bench_function("parse/fhir-model", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(Resource::from_json(t).expect("parses"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, extract, matcher);
criterion_main!(benches);
