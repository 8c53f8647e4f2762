//! fhir-model against fhirbolt (R4, JSON and XML), on the same bytes in the same run. The
//! corpus is every R4 example that fhirbolt reads too, as JSON and as the XML fhir-model
//! writes for it. Each library takes a pass over the whole corpus in turn, `PEERS_ROUNDS`
//! rounds (default 9), and the medians are printed as MB/s (of the JSON or XML text, for
//! writing too) and as ratios: the machine is shared, so only figures of one run are
//! compared. quick-xml's own event rate on the same XML is the ceiling of XML reading.
//!
//! serde_json::Value, the JSON baseline, is measured by `cargo bench -p fhir-bench --bench
//! json`, not here: fhirbolt turns on serde_json's `arbitrary_precision` and
//! `preserve_order`, which slow Value down (why this crate is a workspace of its own).
//!
//! `cargo run --release --manifest-path benches/peers/Cargo.toml`; `PEERS_ONLY=xml-read` (or
//! `json-read`, `json-write`, `xml-write`) runs one comparison, and `PEERS_OURS_ONLY=1` only
//! fhir-model's side of it, for profiling. `--features mimalloc` runs both libraries on the
//! allocator the `fhir` tool uses instead of the system's.

use fhir_model::r4::Resource;
use std::hint::black_box;
use std::time::Instant;

#[path = "../../benches/common/mod.rs"]
mod common;

type FhirboltResource = fhirbolt::model::r4::Resource;

#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// One pass of `f` over the corpus: seconds taken.
fn timed(f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    f();
    start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Runs each named pass in turn, round after round: the median seconds of each.
/// With `PEERS_OURS_ONLY` set, only the first pass (fhir-model's) runs: for profiling.
fn interleaved(rounds: usize, passes: &mut [(&str, &mut dyn FnMut())]) -> Vec<f64> {
    let passes = match std::env::var_os("PEERS_OURS_ONLY") {
        Some(_) => &mut passes[..1],
        None => passes,
    };
    let mut times = vec![Vec::new(); passes.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in passes.iter_mut().enumerate() {
            times[i].push(timed(*f));
        }
    }
    times.into_iter().map(median).collect()
}

fn report(what: &str, bytes: usize, names: &[&str], seconds: &[f64]) {
    let ours = seconds[0];
    println!("{what}:");
    for (name, s) in names.iter().zip(seconds) {
        println!(
            "  {name:<24} {:>8.1} MB/s   fhir-model is {:.2}x",
            bytes as f64 / s / 1e6,
            s / ours
        );
    }
}

fn main() {
    let rounds: usize = std::env::var("PEERS_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);
    // The examples both libraries read.
    let mut json = Vec::new();
    let mut skipped = 0;
    for text in common::r4_example_texts() {
        let ours = Resource::from_json(&text);
        let theirs = fhirbolt::json::from_str::<FhirboltResource>(&text, None);
        match (ours, theirs) {
            (Ok(_), Ok(_)) => json.push(text),
            _ => skipped += 1,
        }
    }
    let resources: Vec<Resource> = json
        .iter()
        .map(|t| Resource::from_json(t).unwrap())
        .collect();
    let peers: Vec<FhirboltResource> = json
        .iter()
        .map(|t| fhirbolt::json::from_str(t, None).unwrap())
        .collect();
    let mut xml = Vec::new();
    let mut xml_skipped = 0;
    for r in &resources {
        let text = r.to_xml().expect("every example writes as XML");
        match fhirbolt::xml::from_str::<FhirboltResource>(&text, None) {
            Ok(_) => xml.push(text),
            Err(_) => xml_skipped += 1,
        }
    }
    let xml_resources: Vec<Resource> = xml.iter().map(|t| Resource::from_xml(t).unwrap()).collect();
    let xml_peers: Vec<FhirboltResource> = xml
        .iter()
        .map(|t| fhirbolt::xml::from_str(t, None).unwrap())
        .collect();
    let json_bytes: usize = json.iter().map(String::len).sum();
    let xml_bytes: usize = xml.iter().map(String::len).sum();
    println!(
        "R4 examples: {} read by both as JSON ({} left out), {:.1} MB; {} as XML ({} left out), {:.1} MB; {rounds} rounds, medians",
        json.len(),
        skipped,
        json_bytes as f64 / 1e6,
        xml.len(),
        xml_skipped,
        xml_bytes as f64 / 1e6
    );

    let only = std::env::var("PEERS_ONLY").ok();
    let wanted = |what: &str| only.as_deref().is_none_or(|o| o == what);
    let names = ["fhir-model", "fhirbolt"];
    if wanted("json-read") {
        let seconds = interleaved(
            rounds,
            &mut [
                ("fhir-model", &mut || {
                    for t in &json {
                        black_box(Resource::from_json(t).unwrap());
                    }
                }),
                ("fhirbolt", &mut || {
                    for t in &json {
                        black_box(fhirbolt::json::from_str::<FhirboltResource>(t, None).unwrap());
                    }
                }),
            ],
        );
        report("JSON read", json_bytes, &names, &seconds);
    }
    if wanted("json-write") {
        let seconds = interleaved(
            rounds,
            &mut [
                ("fhir-model", &mut || {
                    for r in &resources {
                        black_box(fhir_model::json::to_vec(r, false));
                    }
                }),
                ("fhirbolt", &mut || {
                    for r in &peers {
                        black_box(fhirbolt::json::to_vec(r, None).unwrap());
                    }
                }),
            ],
        );
        report("JSON write", json_bytes, &names, &seconds);
    }
    if wanted("xml-read") {
        let names = [
            "fhir-model",
            "fhirbolt",
            "quick-xml events only",
            "fhir-model, JSON form only",
        ];
        let seconds = interleaved(
            rounds,
            &mut [
                ("fhir-model", &mut || {
                    for t in &xml {
                        black_box(Resource::from_xml(t).unwrap());
                    }
                }),
                ("fhirbolt", &mut || {
                    for t in &xml {
                        black_box(fhirbolt::xml::from_str::<FhirboltResource>(t, None).unwrap());
                    }
                }),
                ("quick-xml events only", &mut || {
                    for t in &xml {
                        common::read_every_xml_event(t);
                    }
                }),
                // The first of fhir-model's two steps: XML to the JSON form, not yet read.
                ("fhir-model, JSON form only", &mut || {
                    let table = <Resource as fhir_model::xml::XmlResource>::xml_table();
                    let options = fhir_model::json::ReadOptions::STRICT;
                    for t in &xml {
                        black_box(fhir_model::xml::to_json_form(t, table, options).unwrap());
                    }
                }),
            ],
        );
        report("XML read", xml_bytes, &names, &seconds);
    }
    if wanted("xml-write") {
        let names = ["fhir-model", "fhirbolt", "fhir-model via JSON form"];
        let seconds = interleaved(
            rounds,
            &mut [
                ("fhir-model", &mut || {
                    for r in &xml_resources {
                        black_box(fhir_model::xml::to_vec(r, false).unwrap());
                    }
                }),
                // How fhir-model wrote XML before: JSON text, a JSON tree, then XML.
                ("fhir-model via JSON form", &mut || {
                    for r in &xml_resources {
                        let json = fhir_model::json::to_vec(r, false);
                        let table = <Resource as fhir_model::xml::XmlResource>::xml_table();
                        black_box(fhir_model::xml::from_json_form(&json, table, false).unwrap());
                    }
                }),
                ("fhirbolt", &mut || {
                    for r in &xml_peers {
                        black_box(fhirbolt::xml::to_vec(r, None).unwrap());
                    }
                }),
            ],
        );
        report("XML write", xml_bytes, &names, &seconds);
    }
}
