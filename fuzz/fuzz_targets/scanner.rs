//! The sans-IO core alone, no attachments, fed in chunks, with every configuration the
//! control bytes pick (limits, key, chunk sizes; see `mimeinject_fuzz::split`): it never
//! consumes more than it was given, never asks for input after eof, never finishes early,
//! and what it writes is the input, in order:
//!
//! 1. with the control's configuration, until the first `Attach` (or an error) the pieces
//!    written are the beginning of the input, and all of it when no `Attach` happened;
//! 2. with a signing key and unsigned placeholders passed as ordinary parts, no placeholder can
//!    be honoured: no `Attach` ever, and a message that is not refused comes out whole.
//!
//! A message without `mimeinject` in it is never refused, except for the output limit when
//! it is longer than that.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimeinject_fuzz::{
    config, contains_ci, drive, is_output_limit, must_pass, split, unsigned_pass_config,
};

fuzz_target!(|data: &[u8]| {
    let Some((control, input)) = split(data) else { return };
    let no_placeholder_text = !contains_ci(&input, b"mimeinject");
    let must_pass = must_pass(&control, &input);

    for (name, config) in
        [("control", config(control, false)), ("key", unsigned_pass_config(control))]
    {
        let (run, res) = drive(&config, None, &input, control.seed);
        let limit = control.limits.output_bytes;
        assert!(run.out.len() as u64 <= limit, "{name}: {} bytes past the limit", run.out.len());
        match &res {
            Ok(()) if run.attached == 0 => {
                assert!(run.out == input, "{name}: finished without a placeholder, output differs");
            }
            // Stopped at a placeholder, or refused: what was written so far is the input's
            // beginning.
            _ => assert!(input.starts_with(&run.out), "{name}: output not a prefix ({res:?})"),
        }
        if name == "key" {
            assert_eq!(run.attached, 0, "an unsigned placeholder was honoured");
        }
        if must_pass {
            assert!(res.is_ok() && run.attached == 0, "{name}: no placeholder text, yet {res:?}");
        } else if no_placeholder_text {
            let err = res.as_ref().expect_err("longer than the output limit, yet accepted");
            assert!(is_output_limit(err), "{name}: refused for another reason: {err}");
        }
    }
});
