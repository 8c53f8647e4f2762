//! The throwaway PostgreSQL server of the test helpers: it really runs, and each test
//! database is its own.

use fhir_tests::postgres::server;

/// The single line `psql -tAc <sql>` prints in `database`.
fn query(database: &str, sql: &str) -> String {
    let output = server()
        .psql(database)
        .args(["-tAc", sql])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "psql {sql:?} in {database} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .trim_end()
        .to_owned()
}

#[test]
fn databases_exist_and_answer_with_their_names() {
    let port = server().port();
    for name in ["harness_first", "harness_second"] {
        let url = server().database(name);
        assert_eq!(url, format!("postgres://postgres@127.0.0.1:{port}/{name}"));
        assert_eq!(query(name, "select current_database()"), name);
    }
    // Asking again gives a fresh, empty database of the same name.
    query("harness_first", "create table leftover (id int)");
    server().database("harness_first");
    assert_eq!(
        query(
            "harness_first",
            "select count(*) from pg_tables where tablename = 'leftover'"
        ),
        "0"
    );
}

#[test]
fn a_table_of_one_database_is_not_in_another() {
    server().database("harness_left");
    server().database("harness_right");
    query("harness_left", "create table patient (id text primary key)");
    query("harness_left", "insert into patient values ('p1')");
    assert_eq!(query("harness_left", "select id from patient"), "p1");
    let count = "select count(*) from pg_tables where tablename = 'patient'";
    assert_eq!(query("harness_left", count), "1");
    assert_eq!(query("harness_right", count), "0");
}

#[test]
#[should_panic(expected = "invalid test database name")]
fn database_names_are_checked() {
    server().database("Robert'); drop table students;--");
}
