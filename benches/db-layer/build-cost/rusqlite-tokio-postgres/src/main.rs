fn main() {
    let c = rusqlite::Connection::open_in_memory().unwrap();
    let v: i64 = c.query_row("SELECT 1", [], |r| r.get(0)).unwrap();
    let cfg: tokio_postgres::Config = "host=localhost user=x".parse().unwrap();
    println!("{v} {:?}", cfg.get_user());
}
