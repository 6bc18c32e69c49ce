//! Rebuilds the crate when a migration is added or changed: the migrations
//! are embedded by `sqlx::migrate!`, which cargo cannot see through.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
