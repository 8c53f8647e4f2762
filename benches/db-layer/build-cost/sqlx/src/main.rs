fn main() {
    let s = sqlx::sqlite::SqliteConnectOptions::new().filename("x.db");
    let p = sqlx::postgres::PgConnectOptions::new().host("localhost");
    println!("{:?} {:?}", s.get_filename(), p.get_host());
}
