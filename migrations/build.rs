//! Rebuilds this crate when a migration file is added or changed: `sqlx::migrate!` embeds the SQL files at
//! compile time but only tracks the files it already knows.

fn main() {
    println!("cargo:rerun-if-changed=sql");
}
