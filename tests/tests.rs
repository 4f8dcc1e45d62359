//! The one integration-test binary; each module is one area.

// The test driver for the sans-IO core.
mod chunked;
// The core through its public API, at every split of the input.
mod core;
// Running the binary.
mod bin;
// The real-world corpus.
mod corpus;
// The binary as a filter.
mod cli;
