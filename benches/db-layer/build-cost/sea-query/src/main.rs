use sea_query::{Expr, ExprTrait, PostgresQueryBuilder, Query, SqliteQueryBuilder};

fn main() {
    let q = Query::select()
        .column("body")
        .from("resource")
        .and_where(Expr::col("res_pk").eq(1))
        .to_owned();
    println!("{}\n{}", q.to_string(PostgresQueryBuilder), q.to_string(SqliteQueryBuilder));
}
