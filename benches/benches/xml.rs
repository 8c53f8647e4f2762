//! XML parse and serialize throughput of fhir-model on the official R4 examples (each written
//! as XML first), beside the JSON figures of the same resources.
//!
//! `cargo bench -p fhir-bench --bench xml`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fhir_model::r4::Resource;
use std::hint::black_box;

mod common;

/// Every resource of the R4 examples package, read from JSON.
fn corpus() -> Vec<Resource> {
    common::r4_example_texts()
        .iter()
        .map(|t| Resource::from_json(t).expect("every R4 example parses"))
        .collect()
}

fn xml(c: &mut Criterion) {
    let resources = corpus();
    let xml: Vec<String> = resources
        .iter()
        .map(|r| r.to_xml().expect("every R4 example writes as XML"))
        .collect();
    let xml_bytes: usize = xml.iter().map(String::len).sum();
    eprintln!(
        "{} resources, {:.1} MiB of XML",
        xml.len(),
        xml_bytes as f64 / 1048576.0
    );

    let mut group = c.benchmark_group("r4-examples-xml");
    group.throughput(Throughput::Bytes(xml_bytes as u64));
    group.sample_size(10);
    group.bench_function("parse/fhir-model", |b| {
        b.iter(|| {
            for t in &xml {
                black_box(Resource::from_xml(t).expect("parses"));
            }
        })
    });
    // The ceiling: quick-xml's own pull parser reading every event, doing nothing with it.
    group.bench_function("parse/quick-xml events only", |b| {
        b.iter(|| {
            for t in &xml {
                common::read_every_xml_event(t);
            }
        })
    });
    group.bench_function("serialize/fhir-model", |b| {
        b.iter(|| {
            for r in &resources {
                black_box(fhir_model::xml::to_vec(r, false).expect("writes"));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, xml);
criterion_main!(benches);
