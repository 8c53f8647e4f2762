//! Wrong providers do not compile, and the errors point at the offending code. The expected
//! compiler output is pinned in tests/ui/*.stderr (regenerate with TRYBUILD=overwrite).
//! What must compile is tests/good_providers.rs: with no `pass` case here, trybuild checks
//! the dependencies (`cargo check`) rather than building them a second time.

#[test]
fn provider_checks() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/unknown_search_parameter.rs");
    t.compile_fail("tests/ui/wrong_search_parameter_type.rs");
    t.compile_fail("tests/ui/missing_id.rs");
    t.compile_fail("tests/ui/other_resource_type.rs");
    t.compile_fail("tests/ui/not_async.rs");
    t.compile_fail("tests/ui/wrong_return_shape.rs");
    t.compile_fail("tests/ui/bad_include.rs");
    t.compile_fail("tests/ui/several_errors.rs");
    t.compile_fail("tests/ui/generic_without_type_name.rs");
    t.compile_fail("tests/ui/wrong_roles.rs");
    t.compile_fail("tests/ui/undeclarable_support.rs");
}
