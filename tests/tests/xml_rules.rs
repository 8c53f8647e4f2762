//! The FHIR XML rules through the typed model, and the errors bad input gets.

use fhir_model::json::ReadOptions;
use fhir_model::r4::Resource;

const NS: &str = r#"xmlns="http://hl7.org/fhir""#;

fn read(xml: &str) -> Resource {
    Resource::from_xml(xml).unwrap_or_else(|e| panic!("{e}\n{xml}"))
}

fn error(xml: &str) -> fhir_model::xml::XmlError {
    match Resource::from_xml(xml) {
        Ok(r) => panic!("expected an error, read {}", r.to_json()),
        Err(e) => e,
    }
}

#[test]
fn comments_processing_instructions_and_whitespace_are_skipped() {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- a patient -->\n<?app hint?>\n\
         <Patient {NS}>\n  <!-- the id -->\n  <id value=\"p1\"/>\n\t<active  value = 'true' />\r\n\
         <name><!-- inside -->\n<family value=\"Doe\"/>  <given value=\"J\"/><?pi x?></name>\n</Patient>\n"
    );
    assert_eq!(
        read(&xml).to_json(),
        r#"{"resourceType":"Patient","id":"p1","active":true,"name":[{"family":"Doe","given":["J"]}]}"#
    );
}

#[test]
fn ids_and_extensions_on_primitives_of_a_repeating_element_stay_aligned() {
    let json = r#"{"resourceType":"Patient","name":[{"given":["A",null,"C"],"_given":[null,{"id":"g2","extension":[{"url":"http://example.org/x","valueString":"no value here"}]},{"extension":[{"url":"http://example.org/y","valueInteger":3}]}]}]}"#;
    let resource = Resource::from_json(json).unwrap();
    let xml = resource.to_xml().unwrap();
    assert_eq!(
        xml,
        format!(
            "<Patient {NS}><name><given value=\"A\"/><given id=\"g2\"><extension url=\"http://example.org/x\"><valueString value=\"no value here\"/></extension></given><given value=\"C\"><extension url=\"http://example.org/y\"><valueInteger value=\"3\"/></extension></given></name></Patient>"
        )
    );
    assert_eq!(read(&xml).to_json(), json);
}

#[test]
fn the_narrative_is_xhtml_kept_byte_for_byte() {
    let div = "<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>Fish &amp; chips &lt;3 &#160;<b>bold <i>and</i></b><br/></p><table><tr><td>x</td></tr></table></div>";
    let xml = format!(
        "<Patient {NS}><text><status value=\"generated\"/>{div}</text><active value=\"true\"/></Patient>"
    );
    let resource = read(&xml);
    let json = resource.to_json();
    let expected_div = div.replace('"', "\\\"");
    assert!(
        json.contains(&format!("\"div\":\"{expected_div}\"")),
        "{json}"
    );
    assert_eq!(resource.to_xml().unwrap(), xml);
    // The XHTML namespace may be declared on an ancestor, with a prefix: the JSON form is the
    // div with the default namespace, as FHIR JSON has it.
    let prefixed = format!(
        "<Patient {NS} xmlns:h=\"http://www.w3.org/1999/xhtml\"><text><status value=\"generated\"/><h:div><h:p>x</h:p></h:div></text></Patient>"
    );
    assert!(read(&prefixed)
        .to_json()
        .contains(r#""div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"><p>x</p></div>""#));
}

#[test]
fn resources_inside_resources_are_wrapped_in_their_type() {
    let xml = format!(
        "<Bundle {NS}><type value=\"collection\"/><entry><resource><Patient><id value=\"a\"/><contained><Organization><id value=\"o\"/><name value=\"Org\"/></Organization></contained><active value=\"false\"/></Patient></resource></entry>\
         <entry><resource><Parameters><parameter><name value=\"p\"/><resource><Basic><code><text value=\"c\"/></code></Basic></resource></parameter></Parameters></resource></entry></Bundle>"
    );
    let resource = read(&xml);
    assert_eq!(
        resource.to_json(),
        r#"{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient","id":"a","contained":[{"resourceType":"Organization","id":"o","name":"Org"}],"active":false}},{"resource":{"resourceType":"Parameters","parameter":[{"name":"p","resource":{"resourceType":"Basic","code":{"text":"c"}}}]}}]}"#
    );
    assert_eq!(resource.to_xml().unwrap(), xml);
}

#[test]
fn dtds_and_entities_are_rejected() {
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Patient xmlns="http://hl7.org/fhir"><name><family value="&lol3;"/></name></Patient>"#;
    let e = error(laughs);
    assert!(e.message().contains("DTD"), "{e}");
    assert_eq!(e.line(), 2, "{e}");
    let external = r#"<?xml version="1.0"?>
<!DOCTYPE foo [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<Patient xmlns="http://hl7.org/fhir"><name><family value="&xxe;"/></name></Patient>"#;
    let e = error(external);
    assert!(e.message().contains("DTD"), "{e}");
    // Without a DTD, an undeclared entity is an error too, not left as text.
    let e = error(&format!(
        "<Patient {NS}><name><family value=\"&xxe;\"/></name></Patient>"
    ));
    assert!(e.to_string().contains("Patient.name[0].family"), "{e}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let depth = 50_000;
    let mut xml = format!("<Patient {NS}>");
    for _ in 0..depth {
        xml.push_str("<extension url=\"http://example.org/x\">");
    }
    for _ in 0..depth {
        xml.push_str("</extension>");
    }
    xml.push_str("</Patient>");
    let e = error(&xml);
    assert!(e.message().contains("deep"), "{e}");
    // Deep but within the limit reads.
    let mut ok = format!("<Patient {NS}>");
    for _ in 0..30 {
        ok.push_str("<extension url=\"http://example.org/x\">");
    }
    ok.push_str("<valueString value=\"deep\"/>");
    for _ in 0..30 {
        ok.push_str("</extension>");
    }
    ok.push_str("</Patient>");
    assert_eq!(read(&ok).to_xml().unwrap(), ok);
}

#[test]
fn typed_errors_name_the_element_line_and_column() {
    let xml = format!("<Patient {NS}>\n  <name>\n    <family value=\"Doe\"/>\n  </name>\n  <birthDate value=\"1970-13-01\"/>\n</Patient>");
    let e = error(&xml);
    assert_eq!(e.path(), "Patient.birthDate");
    assert_eq!((e.line(), e.column()), (5, 3), "{e}");
    let e = error(&format!(
        "<Patient {NS}><gender value=\"unknownish\"/></Patient>"
    ));
    assert_eq!(e.path(), "Patient.gender");
    let e = error(&format!("<Patient {NS}><active value=\"yes\"/></Patient>"));
    assert_eq!(e.path(), "Patient.active");
}

#[test]
fn strict_rejects_unknown_and_out_of_order_elements_lenient_skips_unknown_ones() {
    let unknown = format!(
        "<Patient {NS}><active value=\"true\"/><nickname value=\"JD\"><extension url=\"u\"><valueString value=\"x\"/></extension></nickname></Patient>"
    );
    let e = error(&unknown);
    assert!(e.message().contains("nickname"), "{e}");
    let lenient = Resource::from_xml_with(&unknown, ReadOptions::LENIENT).unwrap();
    assert_eq!(
        lenient.to_json(),
        r#"{"resourceType":"Patient","active":true}"#
    );
    let e = error(&format!(
        "<Patient {NS}><gender value=\"male\"/><active value=\"true\"/></Patient>"
    ));
    assert!(e.message().contains("order"), "{e}");
    assert_eq!(e.path(), "Patient.active");
}

#[test]
fn malformed_documents_are_errors_at_every_prefix() {
    let xml = format!(
        "<Patient {NS}><id value=\"p\"/><text><status value=\"generated\"/><div xmlns=\"http://www.w3.org/1999/xhtml\"><p>a &amp; b</p></div></text><name><given value=\"x\"/></name></Patient>"
    );
    read(&xml);
    for end in 0..xml.len() {
        if xml.is_char_boundary(end) {
            assert!(
                Resource::from_xml(&xml[..end]).is_err(),
                "prefix {end} read"
            );
        }
    }
    let e = error("<Patient><active value=\"true\"/></Patient>");
    assert!(e.message().contains("namespace"), "{e}");
    let e = error(&format!(
        "<Patient {NS}><active value=\"true\"/></Observation>"
    ));
    assert_eq!(e.line(), 1, "{e}");
}

#[test]
fn memory_is_bounded_by_the_document_size() {
    // Each `<given id="a"/>` takes about 130 bytes of model for 15 bytes of XML.
    let mut xml = String::from(r#"<Patient xmlns="http://hl7.org/fhir"><name>"#);
    for _ in 0..(1 << 17) {
        xml.push_str(r#"<given id="a"/>"#);
    }
    xml.push_str("</name></Patient>");
    let e = fhir_model::xml::from_str::<Resource>(&xml).unwrap_err();
    assert!(e.to_string().contains("bytes of memory"), "{e}");
    assert!(e.is_over_memory_limit());
    let unlimited = ReadOptions {
        max_memory_factor: 0,
        ..ReadOptions::STRICT
    };
    assert!(fhir_model::xml::from_str_with::<Resource>(&xml, unlimited).is_ok());
}

#[test]
fn what_xml_cannot_carry_is_an_error_naming_its_element() {
    let control =
        Resource::from_json(r#"{"resourceType":"Patient","name":[{"family":"a\u0001b"}]}"#)
            .unwrap();
    let e = control.to_xml().unwrap_err();
    assert!(e.message().contains("U+0001"), "{e}");
    assert_eq!(e.path(), "Patient.name.family.value");
    let not_a_div = Resource::from_json(
        r#"{"resourceType":"Patient","text":{"status":"generated","div":"<p>no div</p>"}}"#,
    )
    .unwrap();
    let e = not_a_div.to_xml().unwrap_err();
    assert_eq!(e.path(), "Patient.text.div", "{e}");
    // An extension's url, written after its nested extensions, is still an attribute.
    let nested = Resource::from_json(
        r#"{"resourceType":"Patient","extension":[{"id":"e1","extension":[{"url":"inner","valueBoolean":true}],"url":"outer"}]}"#,
    )
    .unwrap();
    assert_eq!(
        nested.to_xml().unwrap(),
        format!("<Patient {NS}><extension id=\"e1\" url=\"outer\"><extension url=\"inner\"><valueBoolean value=\"true\"/></extension></extension></Patient>")
    );
}

#[test]
fn an_attribute_given_twice_is_an_error_wherever_it_is() {
    // XML allows each attribute once per element. The reader checks this itself, with up to
    // eight names on the stack and more in a list: each position, and beyond eight.
    let cases = [
        (
            r#"<Patient xmlns="http://hl7.org/fhir"><active value="true" value="false"/></Patient>"#,
            "value",
            "Patient.active",
        ),
        (
            r#"<Patient xmlns="http://hl7.org/fhir"><active id="a" value="true" id="b"/></Patient>"#,
            "id",
            "Patient.active",
        ),
        (
            r#"<Patient xmlns="http://hl7.org/fhir"><extension url="u" url="v"><valueString value="x"/></extension></Patient>"#,
            "url",
            "Patient.extension[0]",
        ),
        (
            r#"<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p a="1" b="2" c="3" d="4" e="5" f="6" g="7" h="8" i="9" a="10">x</p></div></text></Patient>"#,
            "a",
            "Patient.text.div",
        ),
        (
            r#"<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p a="1" b="2" c="3" d="4" e="5" f="6" g="7" h="8" i="9" j="10" i="11">x</p></div></text></Patient>"#,
            "i",
            "Patient.text.div",
        ),
    ];
    for (xml, name, path) in cases {
        let e = error(xml);
        assert!(
            e.message().contains(&format!("'{name}' appears twice")),
            "{xml}: {e}"
        );
        assert_eq!(e.path(), path, "{xml}");
        let at = xml.rfind(&format!(" {name}=")).unwrap() + 1;
        assert_eq!(e.column(), at + 1, "{xml}: {e}");
    }
    // Nine or more different attributes are fine.
    let many = r#"<Patient xmlns="http://hl7.org/fhir"><text><status value="generated"/><div xmlns="http://www.w3.org/1999/xhtml"><p a="1" b="2" c="3" d="4" e="5" f="6" g="7" h="8" i="9" j="10">x</p></div></text></Patient>"#;
    read(many);
}
