//! Criterion benchmarks (written with the performance issue).
fn main() {}
