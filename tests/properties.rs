//! Properties over generated messages (proptest): chunking never changes the result, a
//! message without placeholders passes byte-identical, every injected attachment decodes to
//! its file in lines of at most 76 characters, and no delimiter of an active boundary appears
//! in the output where the input did not have it.
//!
//! Messages come from a small MIME tree (multiparts with prefix-free boundaries, text parts
//! with near-miss lines, stub parts, base64 body-line placeholders, ready-made base64 parts,
//! forwarded `message/rfc822` parts), printed with LF or CRLF. The output is parsed back
//! along the same tree, so every part is checked against what it must have become.

use mimeinject::{Config, MemorySource};
use proptest::prelude::*;

use crate::chunked::{run_chunked, run_split, run_whole};

/// Files the generated placeholders name; their content is generated per case.
const FILES: [&str; 4] = ["a.txt", "dir/data.bin", "empty", "u@example.test/s.txt"];

/// One part of a generated message.
#[derive(Clone, Debug)]
enum Node {
    /// A multipart; `alternative` ones only hold text, where placeholders are refused.
    Multipart { subtype: &'static str, children: Vec<Node>, preamble: bool, epilogue: bool },
    /// A text part; its lines may look like placeholders or delimiters but are neither.
    Text { lines: Vec<&'static str> },
    /// An `application/x-mimeinject` stub for `FILES[file]`, its name written `name_in`.
    Stub {
        file: usize,
        filename: Option<&'static str>,
        name_in: NameIn,
        folded: bool,
        cid: bool,
        body: usize,
    },
    /// A base64 part whose body is a `mimeinject: path=...` line for `FILES[file]`.
    BodyLine { file: usize },
    /// A base64 part with ready-made content, which passes through.
    Base64 { data: Vec<u8> },
    /// A forwarded message holding a stub: placeholders in there are not honoured.
    Forwarded,
}

/// Where and how a stub gives its name: the forms mail libraries write (issue 11). Every
/// form must give the recipient the same name.
#[derive(Clone, Copy, Debug)]
enum NameIn {
    /// `filename="..."` in the Content-Type (v1).
    Param,
    /// `filename="=?UTF-8?B?...?="` in the Content-Type.
    ParamWord,
    /// `Content-Disposition: attachment; filename="..."`.
    Disposition,
    /// `Content-Disposition: attachment; filename="=?UTF-8?B?...?="` (PHPMailer, Symfony).
    DispositionWord,
    /// `Content-Disposition: attachment; filename*=UTF-8''...` (Python's `email`).
    DispositionRfc2231,
}

/// Lines of text parts: near misses of delimiters and placeholders, and plain text.
const TEXT_LINES: &[&str] = &[
    "Hello,",
    "",
    "--",
    "-- ",
    "--zz--",
    "---",
    "- --",
    "mimeinject: path=a.txt",
    "Content-Type: application/x-mimeinject; path=a.txt",
    "  indented line -- with dashes",
    "=?utf-8?q?caf=C3=A9?=",
    "a line with a tab\there",
    "Gr\u{fc}\u{df}e",
];

/// Names the stubs give; some look like delimiters of the generated boundaries.
const FILENAMES: &[&str] =
    &["Invoice 42.pdf", "report.csv", "x", "r\u{e9}sum\u{e9}.txt", "--0=", "--1=--", "\"--0=\""];

fn name_in() -> impl Strategy<Value = NameIn> {
    prop::sample::select(
        &[
            NameIn::Param,
            NameIn::ParamWord,
            NameIn::Disposition,
            NameIn::DispositionWord,
            NameIn::DispositionRfc2231,
        ][..],
    )
}

fn node(depth: u32) -> BoxedStrategy<Node> {
    let leaf = prop_oneof![
        3 => prop::collection::vec(prop::sample::select(TEXT_LINES), 0..6)
            .prop_map(|lines| Node::Text { lines }),
        3 => (0..FILES.len(), prop::option::of(prop::sample::select(FILENAMES)), name_in(),
              any::<bool>(), any::<bool>(), 0..3usize)
            .prop_map(|(file, filename, name_in, folded, cid, body)| Node::Stub {
                file, filename, name_in, folded, cid, body
            }),
        2 => (0..FILES.len()).prop_map(|file| Node::BodyLine { file }),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(|data| Node::Base64 { data }),
        1 => Just(Node::Forwarded),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    let text_only = prop::collection::vec(prop::sample::select(TEXT_LINES), 0..4)
        .prop_map(|lines| Node::Text { lines });
    prop_oneof![
        3 => leaf,
        2 => (prop::sample::select(&["mixed", "related"][..]),
              prop::collection::vec(node(depth - 1), 1..4), any::<bool>(), any::<bool>())
            .prop_map(|(subtype, children, preamble, epilogue)| Node::Multipart {
                subtype, children, preamble, epilogue
            }),
        1 => (prop::collection::vec(text_only, 1..3), any::<bool>())
            .prop_map(|(children, preamble)| Node::Multipart {
                subtype: "alternative", children, preamble, epilogue: false
            }),
    ]
    .boxed()
}

/// A whole message: its top-level multipart, line ending, boundary style.
#[derive(Clone, Debug)]
struct Message {
    root: Node,
    crlf: bool,
    /// Prepended to every boundary; the boundaries stay prefix-free whatever it is.
    style: &'static str,
    files: Vec<Vec<u8>>,
}

fn message() -> impl Strategy<Value = Message> {
    let top = (prop::collection::vec(node(2), 1..4), any::<bool>(), any::<bool>()).prop_map(
        |(children, preamble, epilogue)| Node::Multipart {
            subtype: "mixed",
            children,
            preamble,
            epilogue,
        },
    );
    (
        top,
        any::<bool>(),
        prop::sample::select(&["", "=_", "----=_Part_", "b'()+_,-./:?", "with space "][..]),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..400), FILES.len()),
    )
        .prop_map(|(root, crlf, style, mut files)| {
            files[2].clear(); // "empty" stays empty
            Message { root, crlf, style, files }
        })
}

/// Prints a message; returns it and the boundaries of its multiparts in document order.
fn print(m: &Message) -> (Vec<u8>, Vec<String>) {
    let mut p =
        Printer { eol: if m.crlf { "\r\n" } else { "\n" }, style: m.style, ..Default::default() };
    p.line("From: Billing <billing@example.test>");
    p.line("Subject: generated");
    p.line("MIME-Version: 1.0");
    p.part(&m.root);
    (p.out.into_bytes(), p.boundaries)
}

#[derive(Default)]
struct Printer {
    out: String,
    eol: &'static str,
    style: &'static str,
    boundaries: Vec<String>,
}

impl Printer {
    fn line(&mut self, l: &str) {
        self.out.push_str(l);
        self.out.push_str(self.eol);
    }

    /// The part's header fields, a blank line and its body, ending with a line ending.
    fn part(&mut self, node: &Node) {
        match node {
            Node::Multipart { subtype, children, preamble, epilogue } => {
                // "<style><n>=": none is a prefix of another, since '=' ends the number.
                let b = format!("{}{}=", self.style, self.boundaries.len());
                self.boundaries.push(b.clone());
                self.line(&format!("Content-Type: multipart/{subtype}; boundary=\"{b}\""));
                self.line("");
                if *preamble {
                    self.line("This is a multi-part message in MIME format.");
                }
                for child in children {
                    self.line(&format!("--{b}"));
                    self.part(child);
                }
                self.line(&format!("--{b}--"));
                if *epilogue {
                    self.line("epilogue --");
                }
            }
            Node::Text { lines } => {
                self.line("Content-Type: text/plain; charset=utf-8");
                self.line("");
                for l in lines {
                    self.line(l);
                }
            }
            Node::Stub { file, filename, name_in, folded, cid, body } => {
                let mut ct =
                    format!("Content-Type: application/x-mimeinject; path=\"{}\"", FILES[*file]);
                let word = |name: &str| {
                    format!("=?UTF-8?B?{}?=", base64_simd::STANDARD.encode_to_string(name))
                };
                let fold = if *folded { self.eol } else { "" };
                let mut disposition = None;
                if let Some(name) = filename {
                    let value = match name_in {
                        NameIn::Param | NameIn::Disposition => format!("\"{}\"", quote(name)),
                        NameIn::ParamWord | NameIn::DispositionWord => {
                            format!("\"{}\"", word(name))
                        }
                        NameIn::DispositionRfc2231 => {
                            let hex: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
                            format!("UTF-8''{hex}")
                        }
                    };
                    let param = match name_in {
                        NameIn::DispositionRfc2231 => "filename*",
                        _ => "filename",
                    };
                    match name_in {
                        NameIn::Param | NameIn::ParamWord => {
                            ct.push_str(&format!(";{fold} {param}={value}"));
                        }
                        _ => {
                            disposition = Some(format!(
                                "Content-Disposition: attachment;{fold} {param}={value}"
                            ));
                        }
                    }
                }
                self.line(&ct);
                if let Some(cd) = disposition {
                    self.line(&cd);
                }
                if *cid {
                    self.line("Content-ID: <part@example.test>");
                }
                self.line("");
                for _ in 0..*body {
                    self.line("this stub body is dropped");
                }
            }
            Node::BodyLine { file } => {
                self.line("Content-Type: application/octet-stream");
                self.line("Content-Transfer-Encoding: base64");
                self.line("");
                self.line(&format!("mimeinject: path=\"{}\"", FILES[*file]));
            }
            Node::Base64 { data } => {
                self.line("Content-Type: application/octet-stream");
                self.line("Content-Transfer-Encoding: base64");
                self.line("");
                for chunk in data.chunks(57) {
                    self.line(&base64_simd::STANDARD.encode_to_string(chunk));
                }
            }
            Node::Forwarded => {
                self.line("Content-Type: message/rfc822");
                self.line("");
                self.line("Subject: forwarded");
                self.line("Content-Type: application/x-mimeinject; path=a.txt");
                self.line("");
            }
        }
    }
}

/// The inside of a quoted string.
fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn source(m: &Message) -> MemorySource {
    let mut s = MemorySource::new();
    for (path, content) in FILES.iter().zip(&m.files) {
        s.insert(*path, content.clone());
    }
    s
}

/// Whether a placeholder is honoured somewhere in the tree.
fn has_placeholder(n: &Node) -> bool {
    match n {
        Node::Multipart { children, .. } => children.iter().any(has_placeholder),
        Node::Stub { .. } | Node::BodyLine { .. } => true,
        _ => false,
    }
}

/// Splits `text` into lines without their line endings (a final one is not followed by an
/// empty line).
fn lines(text: &[u8]) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    if v.last() == Some(&&b""[..]) {
        v.pop();
    }
    v.into_iter().map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect()
}

/// Checks that `out` (one part: header, blank line, body) is what `node` must become, given
/// `input`, the part as printed. `boundaries` yields the multiparts' boundaries in order.
fn check_part(
    node: &Node,
    input: &[u8],
    out: &[u8],
    m: &Message,
    boundaries: &mut std::slice::Iter<'_, String>,
) {
    let (in_head, in_body) = split_head(input);
    let (out_head, out_body) = split_head(out);
    match node {
        Node::Multipart { children, .. } => {
            let b = boundaries.next().expect("a boundary per multipart");
            assert_eq!(out_head, in_head, "a multipart's header changed");
            let ins = split_multipart(in_body, b);
            let outs = split_multipart(out_body, b);
            assert_eq!(outs.len(), ins.len(), "delimiters of {b:?} differ");
            assert_eq!(outs.len(), children.len() + 2, "preamble, parts, epilogue");
            assert_eq!(outs[0], ins[0], "preamble changed");
            assert_eq!(outs.last(), ins.last(), "epilogue changed");
            for (i, child) in children.iter().enumerate() {
                check_part(child, &ins[i + 1], &outs[i + 1], m, boundaries);
            }
        }
        Node::Text { .. } | Node::Base64 { .. } | Node::Forwarded => {
            assert_eq!(out, input, "a part without placeholder changed");
        }
        Node::Stub { file, filename, cid, .. } => {
            // Wherever and however the name was written, it comes out the same.
            let head = String::from_utf8(out_head.to_vec()).expect("generated header is UTF-8");
            assert!(!head.contains("x-mimeinject"), "stub type left in {head:?}");
            assert!(head.contains("Content-Transfer-Encoding: base64"), "{head:?}");
            assert!(head.contains(&format!("size={}", m.files[*file].len())), "{head:?}");
            if let Some(name) = filename.filter(|n| n.is_ascii()) {
                assert!(head.contains(&format!("filename=\"{}\"", quote(name))), "{head:?}");
            }
            if *cid {
                assert!(head.contains("Content-ID: <part@example.test>"), "{head:?}");
            }
            check_base64(out_body, &m.files[*file]);
        }
        Node::BodyLine { file } => {
            assert_eq!(out_head, in_head, "a body-line part's header changed");
            check_base64(out_body, &m.files[*file]);
        }
    }
}

/// Every line is base64 of at most 76 characters, all but the last full, and together they
/// decode to `file`. Blank lines (the line ending before a delimiter) are allowed at the end.
fn check_base64(body: &[u8], file: &[u8]) {
    let mut ls = lines(body);
    while ls.last() == Some(&&b""[..]) {
        ls.pop();
    }
    let mut joined = Vec::new();
    for (i, l) in ls.iter().enumerate() {
        assert!(l.len() <= 76, "a base64 line of {} characters", l.len());
        if i + 1 < ls.len() {
            assert_eq!(l.len(), 76, "a short base64 line before the last");
        }
        joined.extend_from_slice(l);
    }
    let decoded = base64_simd::STANDARD.decode_to_vec(&joined).expect("valid base64");
    assert_eq!(decoded, file, "the attachment does not decode to its file");
}

/// The header block and the body of a part.
fn split_head(part: &[u8]) -> (&[u8], &[u8]) {
    for (i, _) in part.iter().enumerate().filter(|(_, &b)| b == b'\n') {
        let rest = &part[i + 1..];
        if rest.starts_with(b"\n") || rest.starts_with(b"\r\n") {
            let n = if rest[0] == b'\n' { 1 } else { 2 };
            return (&part[..i + 1], &rest[n..]);
        }
    }
    panic!("no blank line in {:?}", String::from_utf8_lossy(part));
}

/// Splits a multipart body at its delimiter lines: preamble, each part, epilogue. A part keeps
/// the line ending before the next delimiter; input and output are split alike.
fn split_multipart(body: &[u8], b: &str) -> Vec<Vec<u8>> {
    let (open, close) = (format!("--{b}"), format!("--{b}--"));
    let mut parts = vec![Vec::new()];
    let mut rest = body;
    while !rest.is_empty() {
        let end = rest.iter().position(|&c| c == b'\n').map_or(rest.len(), |i| i + 1);
        let (line, next) = rest.split_at(end);
        let bare = lines(line).first().copied().unwrap_or_default();
        if bare == open.as_bytes() || bare == close.as_bytes() {
            parts.push(Vec::new());
        } else {
            parts.last_mut().unwrap().extend_from_slice(line);
        }
        rest = next;
    }
    parts
}

/// Lines of `text` that are a delimiter of one of `boundaries` (with transport padding).
fn delimiter_lines<'a>(text: &'a [u8], boundaries: &[String]) -> Vec<&'a [u8]> {
    lines(text)
        .into_iter()
        .filter(|l| {
            let l = l.trim_ascii_end();
            boundaries.iter().any(|b| {
                let d = format!("--{b}");
                l == d.as_bytes() || l == format!("{d}--").as_bytes()
            })
        })
        .collect()
}

/// Two-chunk splits at every position, then `chunks` as a cycle.
fn assert_chunking_agrees(
    config: &Config,
    source: &MemorySource,
    input: &[u8],
    expected: &Result<Vec<u8>, String>,
    chunks: &[usize],
) {
    let norm = |r: Result<Vec<u8>, mimeinject::Error>| r.map_err(|e| e.to_string());
    for split in 0..=input.len() {
        let got = norm(run_split(config, source, input, split));
        assert_eq!(&got, expected, "split at {split}");
    }
    let got = norm(run_chunked(config, source, input, |i| chunks[i % chunks.len()]));
    assert_eq!(&got, expected, "chunks {chunks:?}");
}

/// Pieces for arbitrary placeholder-free input: structure without placeholders.
const PIECES: &[&[u8]] = &[
    b"-",
    b"--",
    b"\r",
    b"\n",
    b"\r\n",
    b":",
    b";",
    b"=",
    b"\"",
    b" ",
    b"\t",
    b"b",
    b"x",
    b"\xff",
    b"\0",
    b"Content-Type: multipart/mixed; boundary=",
    b"Content-Type: multipart/alternative; boundary=b\n",
    b"Content-Type: message/rfc822\n",
    b"Content-Type: application/x-other; path=a.txt\n",
    b"Content-Transfer-Encoding: base64\n",
    b"MIME-Version: 1.0\n",
    b"\n--b\n",
    b"\n--b--\n",
    b"\r\n--b\r\n",
    b"path=a.txt",
];

proptest! {
    // 64 cases each unless PROPTEST_CASES says otherwise.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        ..ProptestConfig::default()
    })]

    /// Every two-chunk split and a random chunking give the one-shot result.
    #[test]
    fn chunked_equals_one_shot(m in message(), chunks in prop::collection::vec(1..80usize, 1..8)) {
        let (input, _) = print(&m);
        let (config, source) = (Config::default(), source(&m));
        let expected = run_whole(&config, &source, &input).map_err(|e| e.to_string());
        assert_chunking_agrees(&config, &source, &input, &expected, &chunks);
    }

    /// Generated messages: every placeholder becomes its file, everything else is unchanged,
    /// and the active boundaries' delimiter lines are exactly those of the input.
    #[test]
    fn attachments_decode_to_their_files(m in message()) {
        let (input, boundaries) = print(&m);
        let out = run_whole(&Config::default(), &source(&m), &input)
            .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&input)));
        if !has_placeholder(&m.root) {
            prop_assert_eq!(&out, &input);
        }
        check_part(&m.root, &input, &out, &m, &mut boundaries.iter());
        prop_assert_eq!(delimiter_lines(&out, &boundaries), delimiter_lines(&input, &boundaries));
        if m.crlf {
            let text = String::from_utf8_lossy(&out);
            prop_assert!(!text.replace("\r\n", "").contains('\n'), "a bare LF in CRLF output");
        }
    }

    /// Placeholder-free input from mail-like pieces and raw bytes passes byte-identical, at
    /// every split.
    #[test]
    fn no_placeholder_is_byte_identical(
        pieces in prop::collection::vec(
            prop_oneof![
                4 => prop::sample::select(PIECES).prop_map(<[u8]>::to_vec),
                1 => any::<u8>().prop_map(|b| vec![b]),
            ],
            0..120,
        ),
        chunks in prop::collection::vec(1..40usize, 1..6),
    ) {
        let input = pieces.concat();
        let lower = input.to_ascii_lowercase();
        prop_assume!(!lower.windows(10).any(|w| w == b"mimeinject"));
        let (config, source) = (Config::default(), MemorySource::new());
        assert_chunking_agrees(&config, &source, &input, &Ok(input.clone()), &chunks);
    }
}
