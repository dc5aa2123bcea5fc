//! The embedded migrations run up, down and up again on both backends.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use huddle::db::{revert_all_migrations, run_migrations, DbConnection, DbUrl};

use crate::helpers::{Backend, TestDatabase};

const TABLES: [&str; 24] = [
    "orgs",
    "schools",
    "classes",
    "students",
    "users",
    "class_teachers",
    "enrolments",
    "skills",
    "items",
    "events",
    "skill_models",
    "skill_states",
    "student_items",
    "item_norms",
    "student_signals",
    "flags",
    "login_failures",
    "audit_log",
    "retention_marks",
    "review_decisions",
    "group_plans",
    "prediction_bins",
    "student_predictions",
    "refit_jobs",
];

/// The application's tables present in the database.
fn tables(conn: &mut DbConnection) -> Vec<String> {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let names: Vec<Name> = match conn {
        DbConnection::Sqlite(c) => {
            diesel::sql_query("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
                .load(c)
        }
        DbConnection::Postgresql(c) => diesel::sql_query(
            "SELECT table_name AS name FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY table_name",
        )
        .load(c),
    }
    .expect("listing tables");
    names
        .into_iter()
        .map(|n| n.name)
        .filter(|n| TABLES.contains(&n.as_str()))
        .collect()
}

/// Every table of `schema.rs` answers a query of all its columns.
fn schema_matches(conn: &mut DbConnection) {
    use huddle::db::schema::*;
    huddle::on_backend!(conn, |c| {
        orgs::table
            .select(orgs::all_columns)
            .load::<(String, Option<String>, i64)>(c)
            .map(|_| ())
            .and(
                schools::table
                    .select(schools::all_columns)
                    .load::<(String, String, Option<String>, i64)>(c)
                    .map(|_| ()),
            )
            .and(
                classes::table
                    .select(classes::all_columns)
                    .load::<(String, String, Option<String>, Option<String>, i64)>(c)
                    .map(|_| ()),
            )
            .and(
                students::table
                    .select(students::all_columns)
                    .load::<(String, String, Option<String>, i64, Option<String>)>(c)
                    .map(|_| ()),
            )
            .and(
                users::table
                    .select(users::all_columns)
                    .load::<(
                        String,
                        String,
                        String,
                        Option<String>,
                        String,
                        Option<String>,
                        i64,
                    )>(c)
                    .map(|_| ()),
            )
            .and(
                class_teachers::table
                    .select(class_teachers::all_columns)
                    .load::<(String, String, String)>(c)
                    .map(|_| ()),
            )
            .and(
                enrolments::table
                    .select(enrolments::all_columns)
                    .load::<(String, String, String, String, i64)>(c)
                    .map(|_| ()),
            )
            .and(
                skills::table
                    .select(skills::all_columns)
                    .load::<(String, String, Option<String>, String, i64)>(c)
                    .map(|_| ()),
            )
            .and(
                items::table
                    .select(items::all_columns)
                    .load::<(
                        String,
                        String,
                        String,
                        i64,
                        Option<String>,
                        Option<String>,
                        Option<String>,
                        Option<i64>,
                    )>(c)
                    .map(|_| ()),
            )
            .and(
                events::table
                    .select(huddle::store::events::StoredEvent::as_select())
                    .load(c)
                    .map(|_| ()),
            )
            .and(
                skill_models::table
                    .select(skill_models::all_columns)
                    .load::<(
                        String,
                        String,
                        String,
                        Option<i64>,
                        i32,
                        i32,
                        Option<f64>,
                        Option<String>,
                    )>(c)
                    .map(|_| ()),
            )
            .and(
                skill_states::table
                    .select(skill_states::all_columns)
                    .load::<(String, String, String, String, i64, i64, i64, i64)>(c)
                    .map(|_| ()),
            )
            .and(
                student_items::table
                    .select(student_items::all_columns)
                    .load::<(String, String, String, String, i64)>(c)
                    .map(|_| ()),
            )
            .and(
                item_norms::table
                    .select(item_norms::all_columns)
                    .load::<(String, String, String, i32, f64, i64)>(c)
                    .map(|_| ()),
            )
            .and(
                student_signals::table
                    .select(student_signals::all_columns)
                    .load::<(String, String, String, i64, i64)>(c)
                    .map(|_| ()),
            )
            .and(
                flags::table
                    .select(flags::all_columns)
                    .load::<(
                        String,
                        String,
                        String,
                        String,
                        i64,
                        Option<i64>,
                        String,
                        String,
                        i64,
                    )>(c)
                    .map(|_| ()),
            )
            .and(
                login_failures::table
                    .select(login_failures::all_columns)
                    .load::<(String, i32, i64, Option<i64>)>(c)
                    .map(|_| ()),
            )
            .and(
                audit_log::table
                    .select(audit_log::all_columns)
                    .load::<(
                        i64,
                        String,
                        i64,
                        String,
                        String,
                        String,
                        String,
                        Option<String>,
                        Option<String>,
                    )>(c)
                    .map(|_| ()),
            )
            .and(
                retention_marks::table
                    .select(retention_marks::all_columns)
                    .load::<(String, i64, i64)>(c)
                    .map(|_| ()),
            )
            .and(
                review_decisions::table
                    .select(review_decisions::all_columns)
                    .load::<(
                        String,
                        String,
                        String,
                        String,
                        String,
                        String,
                        Option<String>,
                        i64,
                        String,
                        i64,
                        Option<String>,
                    )>(c)
                    .map(|_| ()),
            )
            .and(
                group_plans::table
                    .select(group_plans::all_columns)
                    .load::<(
                        String,
                        String,
                        String,
                        String,
                        String,
                        Option<String>,
                        Option<String>,
                        bool,
                        Option<i64>,
                        String,
                        i64,
                        i64,
                    )>(c)
                    .map(|_| ()),
            )
            .and(
                report_activity::table
                    .select(report_activity::all_columns)
                    .load::<(String, i64, String, String, i64, i64, i64, i64, i64)>(c)
                    .map(|_| ()),
            )
            .and(
                report_tool_days::table
                    .select(report_tool_days::all_columns)
                    .load::<(String, i64, String, i64, i64, i64, i64, i64, i64, i64, i64)>(c)
                    .map(|_| ()),
            )
            .and(
                report_rejections::table
                    .select(report_rejections::all_columns)
                    .load::<(String, i64, String, String, i64)>(c)
                    .map(|_| ()),
            )
            .and(
                prediction_bins::table
                    .select(prediction_bins::all_columns)
                    .load::<(String, String, i32, i64, i32, i64, i64, f64, f64)>(c)
                    .map(|_| ()),
            )
            .and(
                student_predictions::table
                    .select(student_predictions::all_columns)
                    .load::<(String, String, i32, i64, i64, f64, f64)>(c)
                    .map(|_| ()),
            )
            .and(
                refit_jobs::table
                    .select(refit_jobs::all_columns)
                    .load::<(
                        String,
                        String,
                        String,
                        String,
                        i32,
                        i32,
                        i32,
                        i32,
                        Option<String>,
                        Option<String>,
                        String,
                        i64,
                        i64,
                        Option<i64>,
                    )>(c)
                    .map(|_| ()),
            )
    })
    .expect("schema.rs matches the migrated tables");
}

fn up_down_up(backend: Backend) {
    let database = TestDatabase::create(backend);
    let mut conn = match &database.url {
        DbUrl::Sqlite(path) => DbConnection::Sqlite(
            SqliteConnection::establish(&path.to_string_lossy()).expect("SQLite"),
        ),
        DbUrl::Postgres(url) => {
            DbConnection::Postgresql(PgConnection::establish(url).expect("PostgreSQL"))
        }
    };
    let all: Vec<String> = {
        let mut t: Vec<String> = TABLES.iter().map(|s| s.to_string()).collect();
        t.sort();
        t
    };

    run_migrations(&mut conn).expect("up");
    assert_eq!(tables(&mut conn), all);
    schema_matches(&mut conn);
    // Applying again is a no-op.
    run_migrations(&mut conn).expect("up again");

    revert_all_migrations(&mut conn).expect("down");
    assert_eq!(
        tables(&mut conn),
        Vec::<String>::new(),
        "down removes every table"
    );

    run_migrations(&mut conn).expect("up after down");
    assert_eq!(tables(&mut conn), all);
    schema_matches(&mut conn);
    conn.batch_execute("SELECT 1").expect("still usable");
}

#[test]
fn migrations_run_up_down_up_on_sqlite() {
    up_down_up(Backend::Sqlite);
}

#[test]
fn migrations_run_up_down_up_on_postgres() {
    up_down_up(Backend::Postgres);
}

/// Two nodes starting together: the advisory lock makes them take turns.
#[test]
fn concurrent_migrations_on_postgres_do_not_race() {
    let database = TestDatabase::create(Backend::Postgres);
    let DbUrl::Postgres(url) = database.url.clone() else {
        unreachable!()
    };
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut conn = DbConnection::Postgresql(PgConnection::establish(&url)?);
                run_migrations(&mut conn)
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a thread").expect("migrations");
    }
    let mut conn = database.connect();
    assert_eq!(tables(&mut conn).len(), TABLES.len());
}
