//! The `fhir` tool, run as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fhir(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fhir"))
        .args(args)
        .output()
        .expect("the fhir binary runs")
}

fn example(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/data")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("fhir-cli-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn convert_writes_the_resource_back_to_stdout() {
    let input = example("patient-example.json");
    let out = fhir(&["convert", &input]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = String::from_utf8(out.stdout).unwrap();
    let original =
        fhir_model::r4::Resource::from_json(&std::fs::read_to_string(&input).unwrap()).unwrap();
    assert_eq!(
        fhir_model::r4::Resource::from_json(&written).unwrap(),
        original
    );
    assert!(
        written.starts_with("{\n  \"resourceType\": \"Patient\""),
        "{written}"
    );

    let compact = fhir(&["convert", "--compact", &input]);
    let compact = String::from_utf8(compact.stdout).unwrap();
    assert_eq!(compact.trim_end(), original.to_json());
}

#[test]
fn convert_many_files_into_a_folder() {
    let dir = temp_dir("convert");
    let out = fhir(&[
        "convert",
        "--out-dir",
        dir.to_str().unwrap(),
        &example("patient-example.json"),
        &example("observation-glucose.json"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["patient-example.json", "observation-glucose.json"] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(fhir_model::r4::Resource::from_json(&text).is_ok(), "{name}");
    }
    let refused = fhir(&[
        "convert",
        &example("patient-example.json"),
        &example("observation-glucose.json"),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("several input files need --out-dir"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_reports_each_failure_and_a_summary() {
    let dir = temp_dir("check");
    let bad = dir.join("bad.json");
    std::fs::write(&bad, "{\"resourceType\": \"Patient\",\n \"gender\": \"f\"}").unwrap();
    let out = fhir(&[
        "check",
        &example("patient-example.json"),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].ends_with("bad.json: Patient.gender: 'f' is not a code of the required value set http://hl7.org/fhir/ValueSet/administrative-gender (line 2, column 12)"), "{}", lines[0]);
    assert_eq!(lines[1], "1 passed, 1 failed");

    let ok = fhir(&["check", &example("patient-example.json")]);
    assert!(ok.status.success());
    assert_eq!(
        String::from_utf8(ok.stdout).unwrap(),
        "1 passed, 0 failed\n"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_fhir_version_is_chosen_by_flag() {
    let dir = temp_dir("version");
    // `Patient.link.type` changed nothing, but R5 moved `Observation.hasMember` etc.; a resource
    // type that exists only in R5 tells the versions apart.
    let file = dir.join("r5-only.json");
    std::fs::write(
        &file,
        r#"{"resourceType":"ActorDefinition","status":"draft","type":"person"}"#,
    )
    .unwrap();
    let r4 = fhir(&["check", file.to_str().unwrap()]);
    assert_eq!(r4.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&r4.stdout).contains("unknown resource type 'ActorDefinition'"));
    let r5 = fhir(&["check", "--fhir-version", "r5", file.to_str().unwrap()]);
    assert!(
        r5.status.success(),
        "{}",
        String::from_utf8_lossy(&r5.stdout)
    );
    let bad = fhir(&["check", "--fhir-version", "r6", file.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown FHIR version 'r6'"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn lenient_conversion_drops_unknown_elements() {
    let dir = temp_dir("lenient");
    let file = dir.join("p.json");
    std::fs::write(
        &file,
        r#"{"resourceType":"Patient","id":"a","nickname":"x"}"#,
    )
    .unwrap();
    let strict = fhir(&["convert", file.to_str().unwrap()]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&strict.stderr)
        .contains("Patient.nickname: unknown element 'nickname'"));
    let lenient = fhir(&["convert", "--lenient", "--compact", file.to_str().unwrap()]);
    assert_eq!(
        String::from_utf8(lenient.stdout).unwrap(),
        "{\"resourceType\":\"Patient\",\"id\":\"a\"}\n"
    );
    let missing = fhir(&["check", dir.join("missing.json").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stdout).contains("missing.json: No such file"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn convert_to_xml_and_back() {
    let dir = temp_dir("xml");
    let out = fhir(&[
        "convert",
        "--to",
        "xml",
        "--out-dir",
        dir.to_str().unwrap(),
        &example("patient-example.json"),
        &example("observation-glucose.json"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = std::fs::read_to_string(dir.join("patient-example.xml")).unwrap();
    assert!(
        xml.starts_with("<Patient xmlns=\"http://hl7.org/fhir\">\n  <id value=\"example\"/>"),
        "{xml}"
    );
    // Back to JSON, the input format known by the extension: the original resource.
    for name in ["patient-example", "observation-glucose"] {
        let back = fhir(&[
            "convert",
            "--compact",
            dir.join(format!("{name}.xml")).to_str().unwrap(),
        ]);
        assert!(
            back.status.success(),
            "{}",
            String::from_utf8_lossy(&back.stderr)
        );
        let original = std::fs::read_to_string(example(&format!("{name}.json"))).unwrap();
        assert_eq!(
            String::from_utf8(back.stdout).unwrap().trim_end(),
            fhir_model::r4::Resource::from_json(&original)
                .unwrap()
                .to_json()
        );
    }
    // --from wins over the extension; without an extension the first character decides.
    let renamed = dir.join("patient-xml.txt");
    std::fs::copy(dir.join("patient-example.xml"), &renamed).unwrap();
    let sniffed = fhir(&["check", renamed.to_str().unwrap()]);
    assert!(
        sniffed.status.success(),
        "{}",
        String::from_utf8_lossy(&sniffed.stdout)
    );
    let forced = fhir(&["check", "--from", "json", renamed.to_str().unwrap()]);
    assert_eq!(forced.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn check_reports_xml_failures_with_line_and_column() {
    let dir = temp_dir("check-xml");
    let bad = dir.join("bad.xml");
    std::fs::write(
        &bad,
        "<Patient xmlns=\"http://hl7.org/fhir\">\n  <gender value=\"f\"/>\n</Patient>\n",
    )
    .unwrap();
    let out = fhir(&["check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.lines().next().unwrap().ends_with("bad.xml: Patient.gender: 'f' is not a code of the required value set http://hl7.org/fhir/ValueSet/administrative-gender (line 2, column 3)"),
        "{stdout}"
    );
    assert!(stdout.ends_with("0 passed, 1 failed\n"), "{stdout}");
    let unknown = fhir(&["convert", "--to", "yaml", bad.to_str().unwrap()]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown format 'yaml'"));
    let _ = std::fs::remove_dir_all(dir);
}

/// The issue's cases: `check` reads them all, `check --validate` finds each, with its place.
#[test]
fn check_validate_prints_every_issue_with_its_path() {
    let dir = temp_dir("validate");
    let div = r#""text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"}"#;
    let cases = [
        ("empty-id.json", format!("{{\"resourceType\":\"Patient\",{div},\"id\":\"\"}}")),
        ("space-id.json", format!("{{\"resourceType\":\"Patient\",{div},\"id\":\"has space\"}}")),
        (
            "february.json",
            format!("{{\"resourceType\":\"Patient\",{div},\n\"birthDate\":\"1970-02-30\"}}"),
        ),
        ("no-code.json", format!("{{\"resourceType\":\"Observation\",{div},\"status\":\"final\"}}")),
        (
            "script.json",
            r#"{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\">x<script>alert(1)</script></div>"}}"#.to_string(),
        ),
    ];
    let mut files = Vec::new();
    for (name, text) in &cases {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        files.push(path.to_string_lossy().into_owned());
    }
    let args: Vec<&str> = files.iter().map(String::as_str).collect();
    let plain = fhir(&[&["check"], args.as_slice()].concat());
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stdout)
    );

    let out = fhir(&[&["check", "--validate"], args.as_slice()].concat());
    assert!(!out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let place = |name: &str| dir.join(name).to_string_lossy().into_owned();
    for line in [
        format!("{}:1:122: error Patient.id: an id must not be empty: leave the element out [format]", place("empty-id.json")),
        format!("{}:1:122: error Patient.id: 'has space' is not a valid id [format]", place("space-id.json")),
        format!(
            "{}:2:13: error Patient.birthDate: '1970-02-30' is not a valid date: February 1970 has 28 days [date]",
            place("february.json")
        ),
        format!(
            "{}:1:1: error Observation.code: Observation.code is required (min 1), but is missing [min]",
            place("no-code.json")
        ),
        "0 passed, 5 failed".to_string(),
    ] {
        assert!(stdout.lines().any(|l| l == line), "no line\n{line}\nin\n{stdout}");
    }
    assert!(
        stdout.contains("error Patient.text.div: <script> is not allowed in a narrative"),
        "{stdout}"
    );

    let valid = fhir(&["check", "--validate", &example("patient-example.json")]);
    let stdout = String::from_utf8(valid.stdout).unwrap();
    assert!(valid.status.success(), "{stdout}");
    assert!(stdout.ends_with("1 passed, 0 failed\n"), "{stdout}");
}
