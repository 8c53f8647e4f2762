//! Cross-module tests: the `FromSearchParam` glue, whole queries, and a
//! no-panic sweep over junk input.

use super::*;

fn query(s: &str) -> Query {
    parse_query(s).unwrap()
}

#[test]
fn param_type_codes() {
    for t in ParamType::ALL {
        assert_eq!(ParamType::from_code(t.code()), Some(t));
        assert_eq!(t.to_string(), t.code());
    }
    assert_eq!(
        ParamType::from_code("reference"),
        Some(ParamType::Reference)
    );
    assert_eq!(ParamType::from_code("bogus"), None);
    assert_eq!(StringParam::TYPE, ParamType::String);
    assert_eq!(TokenParam::TYPE, ParamType::Token);
    assert_eq!(DateParam::TYPE, ParamType::Date);
    assert_eq!(NumberParam::TYPE, ParamType::Number);
    assert_eq!(QuantityParam::TYPE, ParamType::Quantity);
    assert_eq!(UriParam::TYPE, ParamType::Uri);
    assert_eq!(ReferenceParam::TYPE, ParamType::Reference);
}

#[test]
fn single_value() {
    let q = query("gender=male&birthdate=ge2020");
    let g: TokenParam = q.extract("gender").unwrap();
    assert_eq!(g.code.as_deref(), Some("male"));
    let b: DateParam = q.extract("birthdate").unwrap();
    assert_eq!(b.prefix, Prefix::Ge);

    let e = q.extract::<TokenParam>("missing-one").unwrap_err();
    assert_eq!(
        e.to_string(),
        "parameter 'missing-one': a value is required"
    );

    let e = query("gender=a&gender=b")
        .extract::<TokenParam>("gender")
        .unwrap_err();
    assert_eq!(e.parameter.as_deref(), Some("gender"));
    assert!(e.message.contains("only be given once"), "{e}");

    let e = query("gender=a,b")
        .extract::<TokenParam>("gender")
        .unwrap_err();
    assert!(e.message.contains("only one value"), "{e}");
    // An escaped comma is not an OR list.
    let t: TokenParam = query(r"code=a\,b").extract("code").unwrap();
    assert_eq!(t.code.as_deref(), Some("a,b"));
}

#[test]
fn optional_value() {
    let q = query("gender=male&empty=");
    assert!(q
        .extract::<Option<TokenParam>>("nothing")
        .unwrap()
        .is_none());
    assert!(
        q.extract::<Option<TokenParam>>("empty").unwrap().is_none(),
        "empty values are ignored"
    );
    assert!(q.extract::<Option<TokenParam>>("gender").unwrap().is_some());
    assert!(query("g=a,b").extract::<Option<TokenParam>>("g").is_err());
    assert!(query("g=a&g=b").extract::<Option<TokenParam>>("g").is_err());
    // An empty repetition next to a real one is ignored.
    assert!(query("g=&g=b")
        .extract::<Option<TokenParam>>("g")
        .unwrap()
        .is_some());
}

#[test]
fn or_lists() {
    let q = query(r"code=a,b\,c,sys|d&name=x");
    let codes: OrList<TokenParam> = q.extract("code").unwrap();
    let got: Vec<_> = codes.iter().map(|t| t.code.clone().unwrap()).collect();
    assert_eq!(got, vec!["a", "b,c", "d"]);
    assert!(q.extract::<OrList<TokenParam>>("none").is_err());
    assert!(q
        .extract::<Option<OrList<TokenParam>>>("none")
        .unwrap()
        .is_none());
    assert_eq!(
        q.extract::<Option<OrList<StringParam>>>("name")
            .unwrap()
            .unwrap()
            .len(),
        1
    );
    let e = query("code=a,,b")
        .extract::<OrList<TokenParam>>("code")
        .unwrap_err();
    assert!(e.to_string().starts_with("parameter 'code': "), "{e}");
    assert!(query("code=a&code=b")
        .extract::<OrList<TokenParam>>("code")
        .is_err());
    let v: Vec<TokenParam> = codes.into_iter().collect();
    assert_eq!(v.len(), 3);
}

#[test]
fn and_lists() {
    let q = query("name=a&name:exact=B,C&name:contains=d&other=1");
    let names: AndList<StringParam> = q.extract("name").unwrap();
    assert_eq!(names.len(), 3);
    assert_eq!(names[0][0].value, "a");
    assert!(names[1][0].exact && names[1][1].exact);
    assert_eq!(names[1][1].value, "C");
    assert!(names[2][0].contains);
    assert!(q
        .extract::<AndList<StringParam>>("nothing")
        .unwrap()
        .is_empty());
    assert!(q
        .extract::<Option<AndList<StringParam>>>("nothing")
        .unwrap()
        .is_none());
    assert_eq!(
        q.extract::<Option<AndList<StringParam>>>("name")
            .unwrap()
            .unwrap()
            .len(),
        3
    );
    let e = query("name=a&name:bogus=b")
        .extract::<AndList<StringParam>>("name")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "parameter 'name': modifier ':bogus' is not supported on string parameters"
    );
    let total: usize = names.iter().map(|or| or.len()).sum();
    assert_eq!(total, 4);
}

#[test]
fn error_messages_name_the_parameter() {
    type Check = Box<dyn Fn(&Query) -> Result<(), SearchError>>;
    let cases: Vec<(&str, Check)> = vec![
        (
            "birthdate=ge2020-13-01",
            Box::new(|q| q.extract::<DateParam>("birthdate").map(drop)),
        ),
        (
            "value=12abc",
            Box::new(|q| q.extract::<NumberParam>("value").map(drop)),
        ),
        (
            "value-quantity=5|mg",
            Box::new(|q| q.extract::<QuantityParam>("value-quantity").map(drop)),
        ),
        (
            "code=a|b|c",
            Box::new(|q| q.extract::<TokenParam>("code").map(drop)),
        ),
        (
            "subject=a/b/c",
            Box::new(|q| q.extract::<ReferenceParam>("subject").map(drop)),
        ),
        (
            "url:exact=x",
            Box::new(|q| q.extract::<UriParam>("url").map(drop)),
        ),
        (
            "name=bad%5Cx",
            Box::new(|q| q.extract::<StringParam>("name").map(drop)),
        ),
        (
            "name:missing=maybe",
            Box::new(|q| q.extract::<StringParam>("name").map(drop)),
        ),
        (
            "combo=a",
            Box::new(|q| {
                q.extract::<CompositeParam<TokenParam, TokenParam>>("combo")
                    .map(drop)
            }),
        ),
        (
            "_has:x=1",
            Box::new(|q| q.extract::<HasParam>("_has").map(drop)),
        ),
        (
            "_id=a_b",
            Box::new(|q| q.extract::<IdParam>("_id").map(drop)),
        ),
    ];
    for (s, f) in cases {
        let q = query(s);
        let name = q.params()[0].name.clone();
        let e = f(&q).unwrap_err();
        assert_eq!(e.parameter.as_deref(), Some(name.as_str()), "{s}");
        let shown = e.to_string();
        assert!(
            shown.starts_with(&format!("parameter '{name}': ")),
            "{s}: {shown}"
        );
        assert!(
            shown.len() > name.len() + 20,
            "{s}: message too terse: {shown}"
        );
    }
    let e = query("birthdate=ge2020-13-01")
        .extract::<DateParam>("birthdate")
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "parameter 'birthdate': 'ge2020-13-01' is not a valid date"
    );
}

#[test]
fn missing_everywhere() {
    fn check<T: SearchValue + std::fmt::Debug>() {
        let q = query("p:missing=true&q:missing=false&r:missing=nope");
        assert_eq!(q.extract::<T>("p").unwrap().missing(), Some(true));
        assert_eq!(q.extract::<T>("q").unwrap().missing(), Some(false));
        let e = q.extract::<T>("r").unwrap_err();
        assert!(e.message.contains("'nope'"), "{e}");
    }
    check::<StringParam>();
    check::<TokenParam>();
    check::<DateParam>();
    check::<NumberParam>();
    check::<QuantityParam>();
    check::<UriParam>();
    check::<ReferenceParam>();
    check::<IdParam>();
    check::<SpecialParam>();
    check::<CompositeParam<TokenParam, DateParam>>();
    // Ordinary values report no missing test.
    assert_eq!(StringParam::parse(None, "x").unwrap().missing(), None);
    assert_eq!(NumberParam::parse(None, "1").unwrap().missing(), None);
}

#[test]
fn percent_decoding_feeds_typed_values() {
    let q = query("name=Jos%C3%A9+Maria&code=http%3A%2F%2Floinc.org%7C1234-5&date=ge2020-01-01T10%3A00%3A00%2B02%3A00&family=a%5C%2Cb%2Cc");
    let n: StringParam = q.extract("name").unwrap();
    assert_eq!(n.value, "José Maria");
    let c: TokenParam = q.extract("code").unwrap();
    assert_eq!(c.system, TokenSystem::Exactly("http://loinc.org".into()));
    let d: DateParam = q.extract("date").unwrap();
    assert_eq!(d.precision, DatePrecision::Second);
    assert_eq!(d.range.0, Timestamp::from_unix(1_577_836_800 + 8 * 3600, 0));
    let f: OrList<StringParam> = q.extract("family").unwrap();
    assert_eq!(
        f.iter().map(|s| s.value.as_str()).collect::<Vec<_>>(),
        vec!["a,b", "c"]
    );
    // A literal '+' must be sent as %2B: an unencoded one is a space (and so not a valid zone).
    assert!(query("date=2020-01-01T10:00:00+02:00")
        .extract::<DateParam>("date")
        .is_err());
}

#[test]
fn whole_search() {
    let mut q = query(
        "_id=p1,p2&name:contains=eve&birthdate=ge1990&birthdate=lt2000-06&general-practitioner:Practitioner=42\
         &organization.name=Acme&identifier=http://acme.org/mrn|123&_has:Observation:patient:code=1234-5\
         &_count=20&_sort=-birthdate&_include=Patient:organization&_revinclude:iterate=Observation:patient",
    );
    let result = q.take_result_params().unwrap();
    assert_eq!(result.count, Some(20));
    assert_eq!(result.revinclude[0].param, "patient");
    let ids: OrList<IdParam> = q.extract("_id").unwrap();
    assert_eq!(ids.len(), 2);
    let name: StringParam = q.extract("name").unwrap();
    assert!(name.contains && name.matches("Steve"));
    let range: DateRange = q.extract("birthdate").unwrap();
    let (_, lo, hi) = date::date_range("1999-12-31").unwrap();
    assert!(range.matches_range(Some(lo), Some(hi)));
    let (_, lo, hi) = date::date_range("2000-06-01").unwrap();
    assert!(!range.matches_range(Some(lo), Some(hi)));
    let gp: ReferenceParam = q.extract("general-practitioner").unwrap();
    assert_eq!(
        (gp.resource_type.as_deref(), gp.id.as_deref()),
        (Some("Practitioner"), Some("42"))
    );
    let org: ReferenceParam = q.extract("organization").unwrap();
    assert_eq!(org.chain.as_deref(), Some("name"));
    let chained = StringParam::parse(None, org.chain_value.as_deref().unwrap()).unwrap();
    assert_eq!(chained.value, "Acme");
    let ident: TokenParam = q.extract("identifier").unwrap();
    assert_eq!(ident.code.as_deref(), Some("123"));
    let has: AndList<HasParam> = q.extract("_has").unwrap();
    assert_eq!(has[0][0].target_type, "Observation");
    let expected: Vec<&str> = vec![
        "_has",
        "_id",
        "birthdate",
        "general-practitioner",
        "identifier",
        "name",
        "organization",
    ];
    assert_eq!(q.names().into_iter().collect::<Vec<_>>(), expected);
}

#[test]
fn common_parameters() {
    let q = query("_lastUpdated=gt2024-01-01T00:00:00Z&_id=abc&_tag=http://acme.org/tags|vip&_profile=http://acme.org/StructureDefinition/p&_text=fever");
    let lu: DateParam = q.extract("_lastUpdated").unwrap();
    assert_eq!(
        (lu.prefix, lu.precision),
        (Prefix::Gt, DatePrecision::Second)
    );
    let (_, lo, hi) = date::date_range("2024-01-02").unwrap();
    assert!(lu.matches_range(Some(lo), Some(hi)));
    let range: DateRange = q.extract("_lastUpdated").unwrap();
    assert!(range.lower.is_some() && range.upper.is_none());
    assert_eq!(q.extract::<IdParam>("_id").unwrap().id, "abc");
    assert_eq!(
        q.extract::<TokenParam>("_tag").unwrap().code.as_deref(),
        Some("vip")
    );
    assert!(q
        .extract::<UriParam>("_profile")
        .unwrap()
        .matches("http://acme.org/StructureDefinition/p"));
    assert_eq!(q.extract::<SpecialParam>("_text").unwrap().value, "fever");
}

/// Strings built from characters that are special somewhere in the grammar,
/// plus every prefix of a set of valid values.
fn junk() -> Vec<String> {
    let specials = [
        "\\", ",", "|", "$", ":", ".", "%", "+", "&", "=", "-", "/", "T", "Z", "e", "0", "9", "é",
        " ", "_", "%2", "%C3", "ge", "\u{0}",
    ];
    let mut out = vec![String::new()];
    for a in specials {
        out.push(a.to_string());
        for b in specials {
            out.push(format!("{a}{b}"));
        }
    }
    let valid = [
        "ge2020-01-01T10:30:15.123+02:00",
        "9999-12-31T23:59:59.999999999999-14:00",
        "0001-01-01",
        "http://loinc.org|1234-5",
        r"sys\|a|co\,de\$\\",
        "le5.4|http://unitsofmeasure.org|mg",
        "-1.50e-3",
        "1e999999",
        "http://x/fhir/Patient/123/_history/2",
        "Patient/123/_history/2",
        "urn:uuid:1234|v",
        "a|b|c",
        "http://loinc.org|8480-6$gt150|http://unitsofmeasure.org|mm[Hg]",
        "Observation:patient:_has:AuditEvent:entity:agent",
        "Patient:general-practitioner:Practitioner",
        "-date,name,_id",
        "name%3Aexact=Jos%C3%A9+M&_count=10&_include:iterate=A:b",
    ];
    for v in valid {
        for (i, _) in v.char_indices() {
            out.push(v[..i].to_string());
            out.push(v[i..].to_string());
        }
        out.push(v.to_string());
    }
    out
}

fn modifiers() -> Vec<Option<&'static str>> {
    vec![
        None,
        Some(""),
        Some("missing"),
        Some("exact"),
        Some("contains"),
        Some("text"),
        Some("not"),
        Some("above"),
        Some("below"),
        Some("in"),
        Some("not-in"),
        Some("of-type"),
        Some("identifier"),
        Some("Patient"),
        Some("Patient.name"),
        Some(".name"),
        Some("."),
        Some(".."),
        Some("Observation:patient:code"),
        Some("iterate"),
        Some("é"),
        Some(":"),
    ]
}

fn feed<T: SearchValue>(m: Option<&str>, v: &str) {
    let _ = T::parse(m, v);
    let _ = OrList::<T>::parse(m, v);
    let occ = [(m, v), (None, v)];
    let _ = T::from_values("p", &occ[..1]);
    let _ = Option::<T>::from_values("p", &occ[..1]);
    let _ = OrList::<T>::from_values("p", &occ[..1]);
    let _ = AndList::<T>::from_values("p", &occ);
}

#[test]
fn junk_never_panics() {
    let junk = junk();
    let now = Timestamp::now();
    for v in &junk {
        // Query level.
        for q in [
            v.clone(),
            format!("a={v}"),
            format!("{v}=1"),
            format!("{v}={v}&_sort={v}"),
        ] {
            if let Ok(mut parsed) = parse_query(&q) {
                let _ = parsed.clone().take_result_params();
                for name in parsed
                    .names()
                    .into_iter()
                    .map(str::to_string)
                    .collect::<Vec<_>>()
                {
                    let _ = parsed.extract::<AndList<TokenParam>>(&name);
                    let _ = parsed.extract::<DateRange>(&name);
                }
                let _ = parsed.take_result_params();
            }
        }
        for name in [
            "_count",
            "_sort",
            "_include",
            "_revinclude",
            "_summary",
            "_elements",
            "_total",
        ] {
            let _ = parse_query(&format!("{name}={v}")).map(|mut q| q.take_result_params());
            let _ = parse_query(&format!("{name}:iterate={v}")).map(|mut q| q.take_result_params());
        }
        let _ = escape::unescape(v);
        let _ = escape::split_unescaped(v, ',');
        let _ = date::date_range(v);
        let _ = query::Include::parse(None, v);
        // Typed values with every modifier.
        for m in modifiers() {
            feed::<StringParam>(m, v);
            feed::<TokenParam>(m, v);
            feed::<DateParam>(m, v);
            feed::<NumberParam>(m, v);
            feed::<QuantityParam>(m, v);
            feed::<UriParam>(m, v);
            feed::<ReferenceParam>(m, v);
            feed::<CompositeParam<TokenParam, QuantityParam>>(m, v);
            feed::<CompositeParam<DateParam, StringParam>>(m, v);
            feed::<HasParam>(m, v);
            feed::<IdParam>(m, v);
            feed::<SpecialParam>(m, v);
            let _ = DateRange::from_values("d", &[(m, v), (None, v)]);
        }
        // Matching helpers on whatever parsed.
        if let Ok(d) = DateParam::parse(None, v) {
            let _ = d.matches_range_at(Some(Timestamp::MIN), Some(Timestamp::MAX), now);
            let _ = d.matches_range_at(None, None, Timestamp::MIN);
            let _ = d.matches_range_at(Some(d.range.1), Some(d.range.0), Timestamp::MAX);
        }
        if let Ok(n) = NumberParam::parse(None, v) {
            let _ = n.matches(f64::NAN) || n.matches(f64::INFINITY) || n.matches(-0.0);
        }
        if let Ok(s) = StringParam::parse(None, v) {
            let _ = s.matches(v) || s.matches("");
        }
        let _ = string::normalize(v);
    }
}
