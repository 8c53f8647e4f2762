//! Resource bodies as stored: on SQLite, compressed (raw deflate with a preset dictionary of
//! FHIR's most common JSON), tagged with their format; on PostgreSQL, text (PostgreSQL
//! compresses large values itself).
//!
//! A body is a resource's compact JSON, 1.4 KB on average for Synthea's patients: too short
//! for deflate to find much to repeat within it. The dictionary gives it FHIR's element names
//! and the code systems most resources name, so that even the first occurrence is a
//! back-reference. Measured on Synthea's bodies: 2.4 times smaller with deflate alone, 3
//! times with the dictionary.
//!
//! ```
//! use fhir_store::body::{pack, unpack};
//! let json = r#"{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]}}"#;
//! let packed = pack(json);
//! assert!(packed.len() < json.len() / 2);
//! assert_eq!(unpack(&packed).unwrap(), json);
//! ```

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The first byte of a packed body: raw deflate with [`DICTIONARY_1`]. A new dictionary
/// gets a new tag, and bodies packed with an older one stay readable.
const FORMAT_1: u8 = 1;

/// How hard deflate works. Loading Synthea: level 6 made bodies 4% smaller than 3 and the
/// load 7% slower (5,060 resources/s against 5,461); level 1, 22% larger and no faster.
const LEVEL: u32 = 3;

/// FHIR's most common JSON, general to FHIR rather than to one data set: the shapes of the
/// clinical resources most servers hold most of (element names and the JSON around them),
/// with US Core's extensions and the code systems of US Core and of HL7's terminology.
/// Deflate reaches back at most 32 KB and finds near matches cheapest, so the most frequent
/// pieces come last. Never changed once released: stored bodies depend on it.
pub const DICTIONARY_1: &[u8] = br#"{"resourceType":"ExplanationOfBenefit","id":"","type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claim-type","code":"institutional"}]},"use":"claim","patient":{"reference":"Patient/"},"billablePeriod":{"start":"","end":""},"created":"","insurer":{"display":""},"provider":{"reference":"Organization/"},"facility":{"reference":"Location/"},"claim":{"reference":"Claim/"},"outcome":"complete","careTeam":[{"sequence":1,"provider":{"reference":"Practitioner/"},"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/claimcareteamrole","code":"primary","display":"Primary Care Practitioner"}]}}],"diagnosis":[{"sequence":1,"diagnosisReference":{"reference":"Condition/"}}],"insurance":[{"focal":true,"coverage":{"display":""}}],"item":[{"sequence":1,"productOrService":{"coding":[{"system":"http://snomed.info/sct","code":"","display":""}],"text":""},"servicedPeriod":{"start":"","end":""},"locationCodeableConcept":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-RoleCode","code":""}]},"encounter":[{"reference":"Encounter/"}],"net":{"value":0,"currency":"USD"},"adjudication":[{"category":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/adjudication","code":"submitted"}]},"amount":{"value":0,"currency":"USD"}}]}],"total":[{"category":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/adjudication","code":"submitted","display":"Submitted Amount"}],"text":"Submitted Amount"},"amount":{"value":0,"currency":"USD"}}],"payment":{"amount":{"value":0,"currency":"USD"}}}{"resourceType":"Claim","status":"active","priority":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/processpriority","code":"normal"}]},"prescription":{"reference":"MedicationRequest/"}}{"resourceType":"MedicationRequest","status":"active","intent":"order","medicationCodeableConcept":{"coding":[{"system":"http://www.nlm.nih.gov/research/umls/rxnorm","code":"","display":""}],"text":""},"authoredOn":"","requester":{"reference":"Practitioner/"},"reasonReference":[{"reference":"Condition/"}],"dosageInstruction":[{"sequence":1,"asNeededBoolean":false,"timing":{"repeat":{"frequency":1,"period":1,"periodUnit":"d"}},"doseAndRate":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/dose-rate-type","code":"ordered","display":"Ordered"}]},"doseQuantity":{"value":1}}]}]}{"resourceType":"Immunization","status":"completed","vaccineCode":{"coding":[{"system":"http://hl7.org/fhir/sid/cvx","code":"","display":""}],"text":""},"occurrenceDateTime":"","primarySource":true}{"resourceType":"Procedure","status":"completed","performedPeriod":{"start":"","end":""}}{"resourceType":"Condition","clinicalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-clinical","code":"active"}]},"verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"confirmed"}]},"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-category","code":"encounter-diagnosis","display":"Encounter Diagnosis"}]}],"onsetDateTime":"","abatementDateTime":"","recordedDate":""}{"resourceType":"DiagnosticReport","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"LAB","display":"Laboratory"}]}],"effectiveDateTime":"","issued":"","result":[{"reference":"Observation/","display":""}],"presentedForm":[{"contentType":"text/plain","data":""}]}{"resourceType":"Patient","text":{"status":"generated","div":"<div xmlns=\"http://www.w3.org/1999/xhtml\"></div>"},"extension":[{"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-race","extension":[{"url":"ombCategory","valueCoding":{"system":"urn:oid:2.16.840.1.113883.6.238","code":"2106-3","display":"White"}},{"url":"text","valueString":"White"}]},{"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity"},{"url":"http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName","valueString":""},{"url":"http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex","valueCode":"F"},{"url":"http://hl7.org/fhir/StructureDefinition/patient-birthPlace","valueAddress":{"city":"","state":"","country":"US"}}],"identifier":[{"type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR","display":"Medical Record Number"}],"text":"Medical Record Number"},"system":"","value":""}],"name":[{"use":"official","family":"","given":[""],"prefix":[""]}],"telecom":[{"system":"phone","value":"","use":"home"}],"gender":"female","birthDate":"","address":[{"extension":[{"url":"http://hl7.org/fhir/StructureDefinition/geolocation","extension":[{"url":"latitude","valueDecimal":0},{"url":"longitude","valueDecimal":0}]}],"line":[""],"city":"","state":"","postalCode":"","country":"US"}],"maritalStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-MaritalStatus","code":"M","display":"M"}],"text":"M"},"multipleBirthBoolean":false,"communication":[{"language":{"coding":[{"system":"urn:ietf:bcp:47","code":"en-US","display":"English"}],"text":"English"}}]}{"resourceType":"Encounter","status":"finished","class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},"type":[{"coding":[{"system":"http://snomed.info/sct","code":"","display":""}],"text":""}],"subject":{"reference":"Patient/","display":""},"participant":[{"individual":{"reference":"Practitioner/","display":""}}],"period":{"start":"","end":""},"serviceProvider":{"reference":"Organization/","display":""}}{"resourceType":"Observation","meta":{"versionId":"1","lastUpdated":""},"status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs","display":"vital-signs"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"","display":""}],"text":""},"subject":{"reference":"Patient/"},"encounter":{"reference":"Encounter/"},"effectiveDateTime":"","issued":"","valueQuantity":{"value":0,"unit":"","system":"http://unitsofmeasure.org","code":""},"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"","display":""}],"text":""},"valueQuantity":{"value":0,"unit":"mm[Hg]","system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]}"#;

/// A body as stored on SQLite.
pub fn pack(json: &str) -> Vec<u8> {
    thread_local! {
        // A compressor's state is about 256 KB (zlib's window and hash tables), allocated
        // zeroed when made: made for each body, that showed in the load's profile. Reset,
        // it keeps its buffers.
        static DEFLATE: std::cell::RefCell<Compress> =
            std::cell::RefCell::new(Compress::new(Compression::new(LEVEL), false));
    }
    DEFLATE.with(|deflate| {
        let mut deflate = deflate.borrow_mut();
        deflate.reset();
        deflate
            .set_dictionary(DICTIONARY_1)
            .expect("a preset dictionary before any input");
        let mut out = Vec::with_capacity(json.len() / 2 + 64);
        out.push(FORMAT_1);
        let input = json.as_bytes();
        loop {
            let read = deflate.total_in() as usize;
            let status = deflate
                .compress_vec(&input[read..], &mut out, FlushCompress::Finish)
                .expect("deflate into a growing buffer");
            match status {
                Status::StreamEnd => return out,
                // More room for what is left.
                _ => out.reserve(out.capacity().max(64)),
            }
        }
    })
}

/// A packed body's JSON, or why it cannot be read.
pub fn unpack(bytes: &[u8]) -> Result<String, String> {
    let Some((&format, deflated)) = bytes.split_first() else {
        return Err("a stored body is empty".into());
    };
    if format != FORMAT_1 {
        return Err(format!(
            "a stored body has format {format}, which this release does not know"
        ));
    }
    let mut inflate = Decompress::new(false);
    // Raw deflate carries no word of its dictionary: it is given before the first block.
    inflate
        .set_dictionary(DICTIONARY_1)
        .map_err(|e| format!("a stored body's dictionary: {e}"))?;
    let mut out = Vec::with_capacity(deflated.len() * 4);
    loop {
        let (read, written) = (inflate.total_in(), inflate.total_out());
        let rest = &deflated[read as usize..];
        match inflate.decompress_vec(rest, &mut out, FlushDecompress::Finish) {
            Ok(Status::StreamEnd) => break,
            Ok(_) if out.len() == out.capacity() => out.reserve(out.capacity().max(256)),
            Ok(_) if (read, written) == (inflate.total_in(), inflate.total_out()) => {
                return Err("a stored body is cut short".into())
            }
            Ok(_) => {}
            Err(e) => return Err(format!("a stored body does not inflate: {e}")),
        }
    }
    String::from_utf8(out).map_err(|e| format!("a stored body is not UTF-8: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_round_trip_and_damage_is_an_error() {
        let long = format!(
            r#"{{"resourceType":"Patient","name":[{{"family":"{}"}}]}}"#,
            "Ä".repeat(50_000)
        );
        for json in ["{}", r#"{"resourceType":"Patient"}"#, long.as_str()] {
            assert_eq!(unpack(&pack(json)).unwrap(), json);
        }
        let packed = pack(&long);
        assert!(unpack(&packed[..packed.len() / 2]).is_err());
        assert!(unpack(&[]).is_err());
        assert!(unpack(&[9, 1, 2]).is_err());
    }
}
