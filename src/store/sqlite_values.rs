//! SQLite statements over many rows (`… VALUES (…), (…) …`) that stay prepared: the rows go
//! in statements of 100, 10 and 1 rows, so each statement has one of three texts and diesel
//! prepares each once. Its own multi-row inserts and upserts, and its `sql_query`, are written
//! out and parsed again on every call: for the ingest writer's derived state that was about a
//! tenth of its time. (PostgreSQL takes such rows as column arrays instead: `unnest`.)

use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Double, Integer, Text, Untyped};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, QueryableByName, RunQueryDsl, SqliteConnection};

/// The sizes of the statements, largest first (the last must be 1).
const SIZES: [usize; 3] = [100, 10, 1];

/// Runs `{head} (…), (…) {tail}` for every row of `rows`; returns the rows changed.
pub(crate) fn execute<R: Row>(
    c: &mut SqliteConnection,
    head: &'static str,
    tail: &'static str,
    rows: &[R],
) -> QueryResult<usize> {
    let mut changed = 0;
    for chunk in chunks(rows) {
        changed += Statement {
            head,
            tail,
            rows: chunk,
        }
        .execute(c)?;
    }
    Ok(changed)
}

/// Runs the query `{head} (…), (…) {tail}` for every row of `rows`; returns what each
/// statement found, in order.
pub(crate) fn load<R: Row, T: QueryableByName<Sqlite> + 'static>(
    c: &mut SqliteConnection,
    head: &'static str,
    tail: &'static str,
    rows: &[R],
) -> QueryResult<Vec<T>> {
    let mut found = Vec::new();
    for chunk in chunks(rows) {
        found.extend(
            Statement {
                head,
                tail,
                rows: chunk,
            }
            .load::<T>(c)?,
        );
    }
    Ok(found)
}

/// `rows` cut into slices of the [`SIZES`], in order.
fn chunks<R>(mut rows: &[R]) -> Vec<&[R]> {
    let mut out = Vec::new();
    for size in SIZES {
        while rows.len() >= size {
            let (chunk, rest) = rows.split_at(size);
            out.push(chunk);
            rows = rest;
        }
    }
    out
}

/// One statement: diesel caches it by its text, which depends only on the number of rows.
struct Statement<'a, R> {
    head: &'static str,
    tail: &'static str,
    rows: &'a [R],
}

impl<R> QueryId for Statement<'_, R> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<R> Query for Statement<'_, R> {
    type SqlType = Untyped;
}

impl<R: Row> QueryFragment<Sqlite> for Statement<'_, R> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_sql(self.head);
        for (i, row) in self.rows.iter().enumerate() {
            out.push_sql(if i == 0 { " (" } else { ", (" });
            row.push(&mut out)?;
            out.push_sql(")");
        }
        out.push_sql(" ");
        out.push_sql(self.tail);
        Ok(())
    }
}

impl<R> RunQueryDsl<SqliteConnection> for Statement<'_, R> {}

/// A value bound in a row.
pub(crate) trait Value {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()>;
}

impl Value for str {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_bind_param::<Text, _>(self)
    }
}

impl Value for String {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_bind_param::<Text, _>(self.as_str())
    }
}

impl Value for i64 {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_bind_param::<BigInt, _>(self)
    }
}

impl Value for i32 {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_bind_param::<Integer, _>(self)
    }
}

impl Value for f64 {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        out.push_bind_param::<Double, _>(self)
    }
}

impl<T: Value + ?Sized> Value for &T {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        (**self).push(out)
    }
}

/// A row: a tuple of values, bound in order, separated by commas.
pub(crate) trait Row {
    fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()>;
}

macro_rules! tuple_row {
    ($first:ident $(, $rest:ident)*) => {
        impl<$first: Value, $($rest: Value),*> Row for ($first, $($rest,)*) {
            #[allow(non_snake_case)]
            fn push<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
                let ($first, $($rest,)*) = self;
                $first.push(out)?;
                $(
                    out.push_sql(", ");
                    $rest.push(out)?;
                )*
                Ok(())
            }
        }
    };
}

tuple_row!(A, B);
tuple_row!(A, B, C);
tuple_row!(A, B, C, D);
tuple_row!(A, B, C, D, E);
tuple_row!(A, B, C, D, E, F);
tuple_row!(A, B, C, D, E, F, G);
tuple_row!(A, B, C, D, E, F, G, H);
tuple_row!(A, B, C, D, E, F, G, H, I);

#[cfg(test)]
mod tests {
    use diesel::connection::{Connection, SimpleConnection};

    use super::*;

    #[test]
    fn rows_are_cut_into_the_three_sizes_in_order() {
        let rows: Vec<usize> = (0..237).collect();
        let sizes: Vec<usize> = chunks(&rows).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [100, 100, 10, 10, 10, 1, 1, 1, 1, 1, 1, 1]);
        let again: Vec<usize> = chunks(&rows).concat();
        assert_eq!(again, rows);
        assert!(chunks::<usize>(&[]).is_empty());
    }

    #[derive(diesel::QueryableByName, Debug, PartialEq)]
    struct Back {
        #[diesel(sql_type = Text)]
        text: String,
        #[diesel(sql_type = BigInt)]
        int: i64,
        #[diesel(sql_type = Double)]
        float: f64,
    }

    #[test]
    fn every_row_is_written_and_read_back_in_order() {
        let mut c = SqliteConnection::establish(":memory:").unwrap();
        c.batch_execute(
            "CREATE TABLE t (k INTEGER PRIMARY KEY, text TEXT, int BIGINT, float REAL)",
        )
        .unwrap();
        let rows: Vec<(i64, String, i64, f64)> = (0..123)
            .map(|k| (k, format!("row {k}"), k * 1_000_000_007, k as f64 / 7.0))
            .collect();
        let head = "INSERT INTO t (k, text, int, float) VALUES";
        assert_eq!(execute(&mut c, head, "", &rows).unwrap(), 123);
        // An upsert adds to what is there.
        let more: Vec<(i64, &str, i64, f64)> = vec![(5, "x", 1, 0.5)];
        let tail = "ON CONFLICT (k) DO UPDATE SET int = t.int + excluded.int";
        assert_eq!(execute(&mut c, head, tail, &more).unwrap(), 1);

        let keys: Vec<(i64, i64)> = (0..123).rev().map(|k| (k, 123 - k)).collect();
        let back: Vec<Back> = load(
            &mut c,
            "WITH p(k, n) AS (VALUES",
            ") SELECT t.text, t.int, t.float FROM p CROSS JOIN t ON t.k = p.k",
            &keys,
        )
        .unwrap();
        assert_eq!(back.len(), 123);
        for (b, (k, _)) in back.iter().zip(&keys) {
            let extra = if *k == 5 { 1 } else { 0 };
            assert_eq!(
                *b,
                Back {
                    text: format!("row {k}"),
                    int: k * 1_000_000_007 + extra,
                    float: *k as f64 / 7.0
                }
            );
        }
    }
}
