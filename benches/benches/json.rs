//! JSON parse and serialize throughput of fhir-model on the official R4 examples, beside
//! `serde_json::Value` on the same bytes.
//!
//! `cargo bench -p fhir-bench --bench json`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fhir_model::r4::Resource;
use std::hint::black_box;

mod common;

fn json(c: &mut Criterion) {
    let texts = common::r4_example_texts();
    let bytes: usize = texts.iter().map(String::len).sum();
    let resources: Vec<Resource> = texts
        .iter()
        .map(|t| Resource::from_json(t).expect("every R4 example parses"))
        .collect();
    let values: Vec<serde_json::Value> = texts
        .iter()
        .map(|t| serde_json::from_str(t).expect("JSON"))
        .collect();

    let mut group = c.benchmark_group("r4-examples");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(10);
    group.bench_function("parse/fhir-model", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(Resource::from_json(t).expect("parses"));
            }
        })
    });
    group.bench_function("parse/serde_json::Value", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(serde_json::from_str::<serde_json::Value>(t).expect("parses"));
            }
        })
    });
    group.bench_function("serialize/fhir-model", |b| {
        b.iter(|| {
            for r in &resources {
                black_box(fhir_model::json::to_vec(r, false));
            }
        })
    });
    group.bench_function("serialize/serde_json::Value", |b| {
        b.iter(|| {
            for v in &values {
                black_box(serde_json::to_vec(v).expect("serializes"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, json);
criterion_main!(benches);
