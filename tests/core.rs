//! The sans-IO core through its public API: passthrough, both placeholder forms, line
//! endings, structure rules, at every split of the input.

use mimeinject::{Config, ErrorKind, MemorySource};

use crate::chunked::{run_chunked, run_split, run_whole};

fn files() -> MemorySource {
    let mut s = MemorySource::new();
    s.insert("a.txt", b"hello world\n".to_vec());
    s.insert("big.bin", (0..5000u32).map(|i| (i * 7 + i / 13) as u8).collect::<Vec<u8>>());
    s.insert("empty", Vec::new());
    s
}

/// Asserts every two-chunk split and a few regular chunkings give `expected`.
fn at_every_split(input: &[u8], expected: &Result<Vec<u8>, String>) {
    let (config, source) = (Config::default(), files());
    let norm = |r: Result<Vec<u8>, mimeinject::Error>| r.map_err(|e| kind(&e));
    for split in 0..=input.len() {
        let got = norm(run_split(&config, &source, input, split));
        assert_eq!(&got, expected, "split at {split}");
    }
    for size in [1, 2, 3, 7, 64] {
        let got = norm(run_chunked(&config, &source, input, |_| size));
        assert_eq!(&got, expected, "chunks of {size}");
    }
}

fn kind(e: &mimeinject::Error) -> String {
    format!("{:?}", std::mem::discriminant(e.kind())) + &e.to_string()
}

fn whole(input: &str) -> Result<String, mimeinject::Error> {
    run_whole(&Config::default(), &files(), input.as_bytes()).map(|v| String::from_utf8(v).unwrap())
}

const PASSTHROUGH: &[&[u8]] = &[
    b"",
    b"\n",
    b"Subject: x",
    b"Subject: x\n\nbody without final newline",
    b"Subject: x\r\n\r\nbody\r\n",
    b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nno headers\n--b--\nepilogue\n",
    b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n\
     mimeinject: path=a.txt\n--b\n--b--\n",
    b"Content-Type: multipart/mixed\n\nno boundary: the body is opaque\n--x\n",
    b"Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nunterminated multipart\n",
    b"Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\naGVsbG8K\n--not\n",
    b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n\
     Content-Type: application/x-mimeinject; path=a.txt\n\nforwarded\n--b--\n",
    b"From: a\n continued\n folded\nX: \xff\xfe raw bytes\n\nbody\n",
];

#[test]
fn passthrough_is_byte_identical_at_every_split() {
    for input in PASSTHROUGH {
        at_every_split(input, &Ok(input.to_vec()));
    }
}

const STUB: &str = "From: a@example.test\nMIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"=_b\"\n\n--=_b\nContent-Type: text/plain\n\nhi\n\
--=_b\nContent-Type: application/x-mimeinject; path=a.txt; filename=\"A file.txt\"\n\
Content-ID: <x@y>\n\nstub body is dropped\n--=_b--\n";

#[test]
fn stub_part_becomes_an_attachment() {
    let out = whole(STUB).unwrap();
    let expected_tail = "--=_b\nContent-Type: text/plain; name=\"A file.txt\"\n";
    assert!(out.contains(expected_tail), "{out}");
    assert!(out.contains("Content-Transfer-Encoding: base64\nContent-ID: <x@y>\n\n"), "{out}");
    assert!(out.contains("\n\naGVsbG8gd29ybGQK\n\n--=_b--\n"), "{out}");
    assert!(!out.contains("stub body"), "{out}");
    assert!(!out.contains("x-mimeinject"), "{out}");
    at_every_split(STUB.as_bytes(), &Ok(out.into_bytes()));
}

#[test]
fn crlf_messages_get_crlf_everywhere() {
    let crlf = STUB.replace('\n', "\r\n");
    let out = whole(&crlf).unwrap();
    assert!(!out.replace("\r\n", "").contains('\n'), "a bare LF in {out:?}");
    assert_eq!(out.replace("\r\n", "\n"), whole(STUB).unwrap());
    at_every_split(crlf.as_bytes(), &Ok(out.into_bytes()));
}

#[test]
fn body_line_is_replaced_by_base64_lines() {
    let input = "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/csv\n\
                 Content-Transfer-Encoding: base64\n\nmimeinject: path=\"big.bin\"\n--b--\n";
    let out = whole(input).unwrap();
    assert!(!out.contains("mimeinject:"));
    let body = out.split("base64\n\n").nth(1).unwrap().split("\n--b--").next().unwrap();
    let lines: Vec<&str> = body.split('\n').filter(|l| !l.is_empty()).collect();
    assert!(lines.iter().all(|l| l.len() <= 76));
    assert_eq!(lines.len(), 5000usize.div_ceil(57));
    at_every_split(input.as_bytes(), &Ok(out.into_bytes()));
}

#[test]
fn empty_stub_body_and_empty_file() {
    let input = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
                 Content-Type: application/x-mimeinject; path=empty\n--b--\n";
    let out = whole(input).unwrap();
    assert!(out.ends_with("Content-Transfer-Encoding: base64\n\n\n--b--\n"), "{out:?}");
    at_every_split(input.as_bytes(), &Ok(out.into_bytes()));
}

#[test]
fn top_level_stub_keeps_the_message_headers() {
    let input = "From: a\nSubject: s\nContent-Type: application/x-mimeinject; path=a.txt\n\nx\n";
    let out = whole(input).unwrap();
    // The content fields stand where the stub's stood (issue 12), MIME-Version just before.
    assert!(
        out.starts_with(
            "From: a\nSubject: s\nMIME-Version: 1.0\nContent-Type: text/plain; name=\"a.txt\"\n"
        ),
        "{out}"
    );
    assert!(out.contains("Content-Transfer-Encoding: base64\n\naGVsbG8gd29ybGQK\n"), "{out}");
    at_every_split(input.as_bytes(), &Ok(out.into_bytes()));
}

fn refused(input: &str, needle: &str) {
    let err = whole(input).expect_err(input);
    assert!(err.to_string().contains(needle), "{err} does not mention {needle:?}");
    at_every_split(input.as_bytes(), &Err(kind(&err)));
}

#[test]
fn missing_file_is_an_error() {
    let input = STUB.replace("a.txt", "nope.txt");
    let err = whole(&input).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Attachment(_)), "{err}");
}

#[test]
fn structure_rules_refuse_placeholders() {
    let stub = "Content-Type: application/x-mimeinject; path=a.txt\n\n";
    // A 71-character boundary.
    let b71 = "b".repeat(71);
    refused(
        &format!("Content-Type: multipart/mixed; boundary={b71}\n\n--{b71}\n{stub}--{b71}--\n"),
        "longer than 70",
    );
    // An inner boundary that is a prefix of the outer one.
    refused(
        &format!(
            "Content-Type: multipart/mixed; boundary=abc\n\n--abc\n\
         Content-Type: multipart/related; boundary=ab\n\n--ab\n{stub}--ab--\n--abc--\n"
        ),
        "prefix",
    );
    // A boundary ending in a space.
    refused(
        &format!("Content-Type: multipart/mixed; boundary=\"b \"\n\n--b \n{stub}--b --\n"),
        "does not allow",
    );
    // Directly inside multipart/alternative.
    refused(
        &format!("Content-Type: multipart/alternative; boundary=b\n\n--b\n{stub}--b--\n"),
        "alternative",
    );
    // Never closed.
    refused(&format!("Content-Type: multipart/mixed; boundary=b\n\n--b\n{stub}"), "never closed");
    // Unknown parameter and missing path.
    refused("Content-Type: application/x-mimeinject; pth=a.txt\n\n", "unknown parameter");
    refused("Content-Type: application/x-mimeinject; filename=a.txt\n\n", "no path");
    // Placeholder-like text where the structure was lost.
    refused(&format!("Content-Type: multipart/mixed\n\n--b\n{stub}"), "structure could not");
}

#[test]
fn placeholders_in_text_parts_are_text() {
    let input = "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\n\
                 Content-Type: application/x-mimeinject; path=a.txt\nmimeinject: path=a.txt\n--b--\n";
    assert_eq!(whole(input).unwrap(), input);
}

#[test]
fn limits_are_clean_failures() {
    let config = Config::builder()
        .limits(mimeinject::Limits { placeholders: 1, ..Default::default() })
        .build()
        .unwrap();
    let two = "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
               Content-Type: application/x-mimeinject; path=a.txt\n\n--b\n\
               Content-Type: application/x-mimeinject; path=a.txt\n\n--b--\n";
    let err = run_whole(&config, &files(), two.as_bytes()).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Limit { what: "placeholders", .. }), "{err}");
    let config = Config::builder()
        .limits(mimeinject::Limits { attachment_bytes: 100, ..Default::default() })
        .build()
        .unwrap();
    let input = STUB.replace("a.txt", "big.bin");
    let err = run_whole(&config, &files(), input.as_bytes()).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Limit { what: "attachment bytes", .. }), "{err}");
}

#[test]
fn an_overlong_placeholder_line_is_a_clean_failure() {
    let config = |window| {
        Config::builder()
            .limits(mimeinject::Limits { line_bytes: 100, ..Default::default() })
            .preflight_window(window)
            .build()
            .unwrap()
    };
    let input = format!(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: base64\n\n\
         mimeinject: path=a.txt; filename=\"{}\"\n--b--\n",
        "x".repeat(200)
    );
    for window in [0, 1 << 20] {
        let err =
            mimeinject::rewrite(&config(window), &files(), &mut input.as_bytes(), &mut Vec::new())
                .unwrap_err();
        assert!(
            matches!(err.kind(), ErrorKind::Limit { what: "placeholder line bytes", limit: 100 }),
            "window {window}: {err}"
        );
    }
    let err = run_chunked(&config(0), &files(), input.as_bytes(), |_| 7).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::Limit { .. }), "{err}");
}
