//! The real-world corpus (`../shared/corpus/messages` beside the repository, or
//! `MIMEINJECT_CORPUS`): passthrough and inserted placeholders.

use std::path::PathBuf;

use mimeinject::{rewrite, Config, MemorySource};

use crate::bin;
use crate::support::shared;

/// The corpus messages, or `None` after a skip (a failure under `CI=true`) when the corpus
/// is not there.
fn corpus() -> Option<Vec<PathBuf>> {
    let dir = shared::corpus()?;
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no messages in the corpus");
    Some(files)
}

#[test]
fn corpus_passes_through_the_library_byte_identical() {
    let Some(files) = corpus() else { return };
    let (config, source) = (Config::default(), MemorySource::new());
    let unbuffered = Config::builder().preflight_window(0).build().unwrap();
    for path in &files {
        let input = std::fs::read(path).unwrap();
        for config in [&config, &unbuffered] {
            let mut out = Vec::new();
            rewrite(config, &source, &mut input.as_slice(), &mut out)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(out == input, "{} changed", path.display());
        }
        let chunked = crate::chunked::run_chunked(&config, &source, &input, |i| 1 + i % 97)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(chunked == input, "{} changed when chunked", path.display());
    }
    eprintln!("passthrough: {} messages byte-identical", files.len());
}

#[test]
fn corpus_passes_through_the_binary_byte_identical() {
    let Some(files) = corpus() else { return };
    let root = tempfile::tempdir().unwrap();
    for path in &files {
        let input = std::fs::read(path).unwrap();
        let (out, fed) = bin::run(&["--root", root.path().to_str().unwrap()], &input);
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(fed.is_ok(), "{}: stdin not read", path.display());
        assert!(out.stdout == input, "{} changed", path.display());
    }
}

#[test]
fn corpus_with_inserted_placeholders_parses_clean() {
    let Some(files) = corpus() else { return };
    if !bin::python3() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let data: Vec<u8> =
        (0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(root.path().join("inject.bin"), data).unwrap();
    let dir = files[0].parent().unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus_inject.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(bin::path())
        .arg(dir)
        .arg(root.path())
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("{report}");
    assert!(out.status.success(), "{report}{}", String::from_utf8_lossy(&out.stderr));
    let summary = report.lines().last().unwrap_or_default();
    assert!(summary.starts_with("covered ") && !summary.starts_with("covered 0,"), "{summary}");
}
