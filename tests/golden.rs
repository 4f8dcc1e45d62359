//! Golden outputs: each sample message through the binary must give exactly the output in
//! `testdata/expected/`. Those files were made by the binary and checked by hand and with
//! Python's `email` parser (`tests/cli.rs` re-checks the attachments on every run). After a
//! deliberate change, `MIMEINJECT_BLESS=1 cargo test golden` rewrites them; review the diff.

use std::fs;

use crate::bin::{self, testdata};

/// Sample, extra arguments.
const CASES: &[(&str, &[&str])] = &[
    ("invoice.eml", &[]),
    ("invoice-crlf.eml", &[]),
    ("body-line.eml", &[]),
    ("nested.eml", &[]),
    ("several.eml", &[]),
    ("single-part.eml", &[]),
    ("plain.eml", &[]),
    ("per-recipient.eml", &["--", "user@example.test"]),
];

#[test]
fn samples_give_their_golden_output() {
    let root = testdata().join("files");
    let bless = std::env::var_os("MIMEINJECT_BLESS").is_some();
    for (name, extra) in CASES {
        let mut args = vec!["--root", root.to_str().unwrap()];
        args.extend_from_slice(extra);
        let input = fs::read(testdata().join("messages").join(name)).unwrap();
        let (out, _) = bin::run(&args, &input);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let golden = testdata().join("expected").join(name);
        if bless {
            fs::write(&golden, &out.stdout).unwrap();
            continue;
        }
        let expected = fs::read(&golden).unwrap_or_else(|e| panic!("{}: {e}", golden.display()));
        assert!(out.stdout == expected, "{name}: output differs from {}", golden.display());
    }
}
