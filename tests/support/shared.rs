//! The shared test data beside the repository: `../shared/corpus/messages` (real-world
//! messages) and `../shared/cases` (bug-report cases with their own `run.sh` and `check.py`).
//!
//! Found from the package root by default, so that a plain `cargo test` runs every test;
//! `MIMEINJECT_CORPUS` and `MIMEINJECT_CASES` override the locations. A default location that
//! is missing skips the test (see [`super::skip`]); an override that is missing is an error.

use std::path::{Path, PathBuf};

/// The corpus of real-world messages, or `None` after a skip.
pub fn corpus() -> Option<PathBuf> {
    locate("MIMEINJECT_CORPUS", "corpus/messages", "")
}

/// The shared cases directory (it holds `check.py`), or `None` after a skip.
pub fn cases() -> Option<PathBuf> {
    locate("MIMEINJECT_CASES", "cases", "check.py")
}

/// `$var`, or `shared/<default>` beside the repository; it must hold `marker` (when not
/// empty).
fn locate(var: &str, default: &str, marker: &str) -> Option<PathBuf> {
    let present = |dir: &Path| dir.is_dir() && (marker.is_empty() || dir.join(marker).is_file());
    if let Some(dir) = std::env::var_os(var).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        assert!(present(&dir), "{var}={}: not a directory, or without {marker:?}", dir.display());
        return Some(dir);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared").join(default);
    let reason = format!("no shared test data at {} (set {var})", dir.display());
    (!super::should_skip((!present(&dir)).then_some(reason))).then_some(dir)
}
