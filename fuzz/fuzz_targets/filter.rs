//! The whole filter over arbitrary input, attachments from a confined root on disk (see
//! `mimeinject_fuzz::Fixture`), three ways: `rewrite` with pre-flight (the message in one
//! piece), `rewrite` streaming from a reader that returns short reads, and the sans-IO core
//! fed in chunks. It must never panic; all three must agree; a message without placeholders
//! must come out unchanged; and nothing outside the root may reach the output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimeinject::rewrite;
use mimeinject_fuzz::{
    config, contains, contains_ci, drive, fixture, kind, split, ChunkReader, SECRET,
};

fuzz_target!(|data: &[u8]| {
    let Some((control, input)) = split(data) else { return };
    let fx = fixture();
    let source = &fx.root;

    let mut whole = Vec::new();
    let whole_res = rewrite(&config(control, true), source, &mut &input[..], &mut whole);

    let mut streamed = Vec::new();
    let mut reader = ChunkReader::new(&input, control.seed);
    let streamed_res = rewrite(&config(control, false), source, &mut reader, &mut streamed);

    let (run, chunked_res) = drive(&config(control, true), Some(source), &input, control.seed);

    match (&whole_res, &streamed_res, &chunked_res) {
        (Ok(a), Ok(b), Ok(())) => {
            assert_eq!(whole, streamed, "pre-flight and streaming outputs differ");
            assert_eq!(whole, run.out, "one-shot and chunked outputs differ");
            assert_eq!(a, b, "summaries differ");
            assert_eq!(a.replaced, run.attached, "replaced count differs from Attach actions");
            assert_eq!(a.bytes_in, input.len() as u64);
            assert_eq!(a.bytes_out, whole.len() as u64, "summary miscounts the output");
            if a.replaced == 0 {
                assert_eq!(whole, input, "nothing replaced, yet the output differs");
            }
        }
        (Err(a), Err(b), Err(c)) => {
            assert_eq!(kind(a), kind(b), "pre-flight: {a}; streaming: {b}");
            assert_eq!(kind(a), kind(c), "one-shot: {a}; chunked: {c}");
            let line = a.to_string();
            assert!(!line.contains('\n') && !line.contains('\r'), "reason not one line: {line:?}");
            assert!(whole.is_empty(), "pre-flight failed ({a}) after writing output");
            assert!(!contains(line.as_bytes(), &SECRET[..20]), "the secret in a reason: {line}");
        }
        _ => panic!(
            "outcomes differ: pre-flight {:?}, streaming {:?}, chunked {:?}",
            whole_res.as_ref().map_err(ToString::to_string),
            streamed_res.as_ref().map_err(ToString::to_string),
            chunked_res.as_ref().map_err(ToString::to_string),
        ),
    }

    // Nothing from outside the root, in clear or encoded, unless the input carried it.
    for out in [&whole, &streamed, &run.out] {
        for marker in [&fx.secret_line[..], &SECRET[..20]] {
            assert!(
                !contains(out, marker) || contains(&input, marker),
                "the secret outside the root reached the output"
            );
        }
    }

    if !contains_ci(&input, b"mimeinject") {
        let got = whole_res.as_ref().map_err(ToString::to_string);
        assert!(got.is_ok(), "a message without placeholders was refused: {got:?}");
        assert_eq!(whole, input, "a message without placeholders changed");
    }
});
