//! Migrations apply, revert completely, and the Diesel schema matches the database.

use app::backend::db;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::support::empty_database;

#[derive(QueryableByName, Debug, PartialEq)]
struct Column {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
}

async fn public_tables(conn: &mut AsyncPgConnection) -> Vec<String> {
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        table_name: String,
    }
    diesel::sql_query(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_name <> '__diesel_schema_migrations' ORDER BY 1",
    )
    .load::<T>(conn)
    .await
    .unwrap()
    .into_iter()
    .map(|t| t.table_name)
    .collect()
}

#[tokio::test]
async fn every_migration_reverts_cleanly_and_reapplies() {
    let url = empty_database().await;
    let applied = db::run_migrations(&url).await.unwrap();
    assert_eq!(applied.len(), db::embedded_versions().len());
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    let tables_in_schema = include_str!("../../../app/src/backend/db/schema.rs").matches("diesel::table! {").count();
    assert_eq!(public_tables(&mut conn).await.len(), tables_in_schema);

    let reverted = db::revert_all_migrations(&url).await.unwrap();
    assert_eq!(reverted.len(), applied.len());
    assert!(public_tables(&mut conn).await.is_empty(), "down.sql left tables behind");

    assert_eq!(db::run_migrations(&url).await.unwrap().len(), applied.len());
    assert!(db::pending_versions(&mut conn).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_diesel_schema_lists_every_column_of_the_database() {
    let url = empty_database().await;
    db::run_migrations(&url).await.unwrap();
    let mut conn = AsyncPgConnection::establish(&url).await.unwrap();
    let mut in_db: Vec<Column> = diesel::sql_query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .load(&mut conn)
    .await
    .unwrap();
    in_db.sort_by(|a, b| (&a.table_name, &a.column_name).cmp(&(&b.table_name, &b.column_name)));
    let schema = include_str!("../../../app/src/backend/db/schema.rs");
    let mut in_schema: Vec<Column> = Vec::new();
    let mut table = String::new();
    for line in schema.lines().map(str::trim) {
        // `name (primary key columns) {` opens a table.
        if let Some((name, _)) = line.strip_suffix(") {").and_then(|l| l.split_once(" (")) {
            table = name.to_owned();
        } else if let Some((col, _)) = line.split_once(" -> ").filter(|_| line.ends_with(',')) {
            in_schema.push(Column { table_name: table.clone(), column_name: col.to_owned() });
        }
    }
    in_schema.sort_by(|a, b| (&a.table_name, &a.column_name).cmp(&(&b.table_name, &b.column_name)));
    assert_eq!(in_schema, in_db);
}

#[tokio::test]
async fn migrate_runs_with_only_a_database_url_in_production() {
    let url = empty_database().await;
    let vars: app::backend::config::Vars = [("DATABASE_URL", url.as_str())].into_iter().collect();
    // No MEEBOTER_ENV (production), no PLATFORM_PRIORITY: serving would refuse, migrating must not.
    assert!(app::backend::config::Config::from_vars(&vars).is_err());
    let config = app::backend::config::MigrateConfig::from_vars(&vars).expect("migrate needs only DATABASE_URL");
    let applied = server::commands::migrate(&config.database_url).await.unwrap();
    assert_eq!(applied.len(), db::embedded_versions().len());
    assert!(server::commands::pending(&config.database_url).await.unwrap().is_empty());
}
