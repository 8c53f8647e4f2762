//! The corpus both benches measure: every JSON resource of hl7.fhir.r4.examples@4.0.1, read
//! from the FHIR package cache (downloaded on first use).

use fhir_codegen::download::Downloader;

/// The text of every JSON resource of the R4 examples package.
pub fn r4_example_texts() -> Vec<String> {
    let dir = Downloader::from_env()
        .and_then(|d| d.fetch("hl7.fhir.r4.examples", "4.0.1"))
        .unwrap_or_else(|e| panic!("cannot fetch the R4 examples: {e}"));
    let files =
        fhir_codegen::definitions::package_resource_files(&dir).unwrap_or_else(|e| panic!("{e}"));
    files
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("readable example"))
        .collect()
}

/// quick-xml's pull parser reading every event of `xml`, doing nothing with it: the ceiling
/// of reading XML.
#[allow(dead_code)]
pub fn read_every_xml_event(xml: &str) {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(e) => {
                std::hint::black_box(e);
            }
            Err(e) => panic!("{e}"),
        }
    }
}
