//! The whole filter over arbitrary input and every configuration (the control bytes pick the
//! limits, the pre-flight window, the key and the chunk sizes; see `mimeinject_fuzz::split`),
//! attachments from a confined root on disk (`mimeinject_fuzz::Fixture`), four ways: the sync
//! driver with the control's pre-flight window, the sync driver streaming from a reader that
//! returns short reads, the sans-IO core fed in chunks, and the tokio driver with the window
//! and short reads.
//!
//! It must never panic; all four must agree (output, summary, error kind); no output may pass
//! the output limit; a failure of a message within the window writes nothing; a message
//! without placeholders comes out byte-identical (unless it is longer than the output limit,
//! and then it is refused for that); an accepted output has no defect the input did not have
//! (`mimeinject_fuzz::mime`); and nothing outside the root reaches the output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimeinject::rewrite;
use mimeinject_fuzz::mime::defects;
use mimeinject_fuzz::{
    config, contains, contains_ci, drive, fixture, is_output_limit, must_pass,
    runtime, same_failure, split, ChunkReader, SECRET,
};

fuzz_target!(|data: &[u8]| {
    let Some((control, input)) = split(data) else { return };
    let fx = fixture();
    let source = &*fx.root;
    let (preflight, streaming) = (config(control, true), config(control, false));

    let mut whole = Vec::new();
    let whole_res = rewrite(&preflight, source, &mut &input[..], &mut whole);

    let mut streamed = Vec::new();
    let mut reader = ChunkReader::new(&input, control.seed);
    let streamed_res = rewrite(&streaming, source, &mut reader, &mut streamed);

    let (run, chunked_res) = drive(&streaming, Some(source), &input, control.seed);

    let mut tokio_out = Vec::new();
    let mut reader = ChunkReader::new(&input, control.seed);
    let tokio_res = runtime().block_on(mimeinject::tokio::rewrite(
        &preflight,
        fx.root.clone(),
        &mut reader,
        &mut tokio_out,
    ));

    let limit = control.limits.output_bytes;
    for (name, out) in [("pre-flight", &whole), ("streaming", &streamed), ("tokio", &tokio_out)] {
        assert!(out.len() as u64 <= limit, "{name}: {} bytes written, limit {limit}", out.len());
    }

    match (&whole_res, &streamed_res, &chunked_res, &tokio_res) {
        (Ok(a), Ok(b), Ok(()), Ok(t)) => {
            assert_eq!(whole, streamed, "pre-flight and streaming outputs differ");
            assert_eq!(whole, run.out, "one-shot and chunked outputs differ");
            assert_eq!(whole, tokio_out, "sync and tokio outputs differ");
            assert_eq!(a, b, "summaries differ");
            assert_eq!(a, t, "sync and tokio summaries differ");
            assert_eq!(a.replaced, run.attached, "replaced count differs from Attach actions");
            assert_eq!(a.bytes_in, input.len() as u64);
            assert_eq!(a.bytes_out, whole.len() as u64, "summary miscounts the output");
            if a.replaced == 0 {
                assert_eq!(whole, input, "nothing replaced, yet the output differs");
            } else {
                let (before, after) = (defects(&input), defects(&whole));
                let new = after.new_since(&before);
                assert!(new.is_empty(), "new defects (kind, before, after): {new:?}");
                assert!(
                    before.mixed_eol || !after.mixed_eol,
                    "the input's line endings were uniform, the output's are mixed"
                );
            }
        }
        (Err(a), Err(b), Err(c), Err(t)) => {
            assert!(same_failure(a, b), "pre-flight: {a}; streaming: {b}");
            assert!(same_failure(a, c), "one-shot: {a}; chunked: {c}");
            assert!(same_failure(a, t), "sync: {a}; tokio: {t}");
            let line = a.to_string();
            assert!(!line.contains('\n') && !line.contains('\r'), "reason not one line: {line:?}");
            if input.len() <= control.window {
                assert!(whole.is_empty(), "pre-flight failed ({a}) after writing output");
                assert!(tokio_out.is_empty(), "tokio pre-flight failed ({t}) after writing");
            }
            assert!(!contains(line.as_bytes(), &SECRET[..20]), "the secret in a reason: {line}");
        }
        _ => panic!(
            "outcomes differ: pre-flight {:?}, streaming {:?}, chunked {:?}, tokio {:?}",
            whole_res.as_ref().map_err(ToString::to_string),
            streamed_res.as_ref().map_err(ToString::to_string),
            chunked_res.as_ref().map_err(ToString::to_string),
            tokio_res.as_ref().map_err(ToString::to_string),
        ),
    }

    // Nothing from outside the root, in clear or encoded, unless the input carried it.
    for out in [&whole, &streamed, &run.out, &tokio_out] {
        for marker in [&fx.secret_line[..], &SECRET[..20]] {
            assert!(
                !contains(out, marker) || contains(&input, marker),
                "the secret outside the root reached the output"
            );
        }
    }

    if must_pass(&control, &input) {
        let got = whole_res.as_ref().map_err(ToString::to_string);
        assert!(got.is_ok(), "a message without placeholders was refused: {got:?}");
        assert_eq!(whole, input, "a message without placeholders changed");
    } else if !contains_ci(&input, b"mimeinject") {
        let err = whole_res.as_ref().expect_err("longer than the output limit, yet accepted");
        assert!(is_output_limit(err), "refused for something else than the output limit: {err}");
    }
});
