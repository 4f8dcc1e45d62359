//! Inputs the fuzz targets (`fuzz/`) found, minimized, each with what went wrong.

use mimeinject::{rewrite, Config, MemorySource};

use crate::chunked::run_chunked;

fn files() -> MemorySource {
    let mut s = MemorySource::new();
    s.insert("a.txt", b"hello world\n".to_vec());
    s
}

/// Runs `input` through the sync driver (pre-flight and streaming), and through the core
/// whole and at every two-chunk split; every run must give `expected`.
fn at_every_split(input: &[u8], expected: &[u8]) {
    let (config, source) = (Config::default(), files());
    let streaming = Config::builder().preflight_window(0).build().unwrap();
    for config in [&config, &streaming] {
        let mut out = Vec::new();
        rewrite(config, &source, &mut &input[..], &mut out).unwrap();
        assert_eq!(out, expected, "sync driver");
    }
    for split in 0..=input.len() {
        let mut first = true;
        let got = run_chunked(&config, &source, input, |_| {
            if std::mem::take(&mut first) {
                split
            } else {
                input.len()
            }
        })
        .unwrap_or_else(|e| panic!("split at {split}: {e}"));
        assert_eq!(got, expected, "split at {split}");
    }
}

/// fuzz/artifacts/filter/crash-22247c52: a bare CR inside a header field was dropped as if
/// it were part of a folding line break, so `application/x-mimeinje<CR>ct` read as the stub
/// type: a message without any placeholder was refused (or, with a valid path, had a part
/// replaced), and a filter looking for the literal type upstream would not have seen it.
/// Only CRLF and LF line breaks are removed when unfolding; a bare CR stays in the value.
#[test]
fn bare_cr_does_not_make_a_stub_type() {
    let inputs: [&[u8]; 4] = [
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\
          Content-Type: application/x-mimeinje\rct; path=a.txt\n\nbody\n--b--\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
          Content-Type: application/x-mimeinje\rct; path=a.txt\r\n\r\nbody\r\n--b--\r\n",
        b"Content-Type: application/x-mime\rinject; path=a.txt\n\nbody\n",
        // The fuzzer's own input, minus its control byte.
        b"Fromonfirmatd multiparts\nMIME-Version: 1.0\n\
          Content-Type: multipart/mixed; boundary=\"mixed-1\"\n\n--mixed-1\n\
          Content-Type: muype: applicatalt-1--\n--mixed-1\n\
          Content-Type: application/x-mimeinje\rct; paixed-0--\n",
    ];
    for input in inputs {
        at_every_split(input, input);
    }
}

/// Folding line breaks, CRLF or LF, are still removed: a folded stub is a stub.
#[test]
fn folded_stub_type_is_still_a_stub() {
    for input in [
        "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
         Content-Type: application/x-mimeinject;\n path=a.txt\n\n--b--\n",
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
         Content-Type: application/x-mimeinject;\r\n\tpath=a.txt\r\n\r\n--b--\r\n",
    ] {
        let out = run_chunked(&Config::default(), &files(), input.as_bytes(), |_| 7).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.contains("aGVsbG8gd29ybGQK"), "{out:?}");
    }
}

/// A body-line placeholder in a part whose transfer encoding only looks like base64 once
/// white space is squeezed out (`base 64`) is text: clients would not decode that part.
#[test]
fn split_base64_mechanism_is_not_base64() {
    for cte in ["base 64", "base\r64", "base(x)64"] {
        let input = format!(
            "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
             Content-Type: text/csv\nContent-Transfer-Encoding: {cte}\n\n\
             mimeinject: path=a.txt\n--b--\n"
        );
        let mut files = mimeinject::MemorySource::new();
        files.insert("a.txt", "hello\n");
        let mut out = Vec::new();
        let config = mimeinject::Config::default();
        mimeinject::rewrite(&config, &files, &mut input.as_bytes(), &mut out).unwrap();
        assert_eq!(out, input.as_bytes(), "{cte:?}");
    }
}
