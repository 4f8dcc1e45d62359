//! The same cases through all three layers: the sans-IO core (driven by `chunked`), the sync
//! driver and the tokio driver, each with and without pre-flight. They must agree byte for
//! byte, and on every error.

use mimeinject::{Config, FsRoot};
use std::sync::Arc;

use crate::bin::testdata;
use crate::chunked::{run_chunked, run_whole};

/// Every sample message, plus large ones that stream through more than one buffer.
fn cases() -> Vec<(String, Vec<u8>)> {
    let mut cases: Vec<(String, Vec<u8>)> = std::fs::read_dir(testdata().join("messages"))
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap())
        })
        .collect();
    cases.sort();
    let invoice = std::fs::read_to_string(testdata().join("messages/invoice.eml")).unwrap();
    let filler = "x".repeat(75) + "\n";
    let big = invoice.replacen("\n\n", &format!("\n\n{}", filler.repeat(20_000)), 1);
    assert!(big.len() > 1 << 20, "larger than the pre-flight window");
    cases.push(("big preamble".into(), big.into_bytes()));
    let crlf = String::from_utf8(cases[0].1.clone()).unwrap().replace('\n', "\r\n");
    cases.push(("crlf copy".into(), crlf.into_bytes()));
    cases
}

fn config(window: usize) -> Config {
    Config::builder().recipients(["user@example.test"]).preflight_window(window).build().unwrap()
}

fn outcome(r: Result<Vec<u8>, mimeinject::Error>) -> Result<Vec<u8>, String> {
    r.map_err(|e| e.to_string())
}

#[test]
fn all_layers_agree() {
    let root = Arc::new(FsRoot::new(testdata().join("files")).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut refused = 0;
    for (name, input) in cases() {
        let reference = outcome(run_whole(&config(0), &*root, &input));
        refused += usize::from(reference.is_err());
        let chunked = outcome(run_chunked(&config(0), &*root, &input, |i| 1 + i % 9));
        assert_eq!(chunked, reference, "{name}: sans-IO in small chunks");
        for window in [0, mimeinject::config::DEFAULT_PREFLIGHT_WINDOW] {
            let mut out = Vec::new();
            let sync = mimeinject::rewrite(&config(window), &*root, &mut &input[..], &mut out);
            assert_eq!(outcome(sync.map(|_| out)), reference, "{name}: sync, window {window}");

            let mut out = Vec::new();
            let r#async = runtime.block_on(mimeinject::tokio::rewrite(
                &config(window),
                Arc::clone(&root),
                &mut &input[..],
                &mut out,
            ));
            assert_eq!(outcome(r#async.map(|_| out)), reference, "{name}: tokio, window {window}");
        }
    }
    assert_eq!(refused, 1, "only missing-file.eml is refused");
}

#[test]
fn tokio_streams_a_large_attachment() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> =
        (0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    std::fs::write(dir.path().join("big.bin"), &data).unwrap();
    let root = Arc::new(FsRoot::new(dir.path()).unwrap());
    let input = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\
                  Content-Type: application/x-mimeinject; path=big.bin\n\n--b--\n";
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).build().unwrap();
    let mut out = Vec::new();
    runtime
        .block_on(mimeinject::tokio::rewrite(&config(0), root.clone(), &mut &input[..], &mut out))
        .unwrap();
    let mut sync_out = Vec::new();
    mimeinject::rewrite(&config(0), &*root, &mut &input[..], &mut sync_out).unwrap();
    assert_eq!(out, sync_out);
    assert!(out.len() > 4_000_000);
}
