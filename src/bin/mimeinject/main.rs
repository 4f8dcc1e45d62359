//! The `mimeinject` command (placeholder until the core lands).
fn main() {}
