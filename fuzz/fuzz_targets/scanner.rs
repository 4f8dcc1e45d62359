//! The sans-IO core alone, no attachments, fed in chunks: it never consumes more than it was
//! given, never asks for input after eof, never finishes early, and what it writes is the
//! input, in order:
//!
//! 1. with the default rules, until the first `Attach` (or an error) the pieces written are
//!    the beginning of the input, and all of it when no `Attach` happened;
//! 2. with a signing key and unsigned placeholders passed as ordinary parts, no placeholder can
//!    be honoured: no `Attach` ever, and a message that is not refused comes out whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimeinject_fuzz::{config, contains_ci, drive, split, unsigned_pass_config};

fuzz_target!(|data: &[u8]| {
    let Some((control, input)) = split(data) else { return };
    let no_placeholder_text = !contains_ci(&input, b"mimeinject");

    let (run, res) = drive(&config(control, true), None, &input, control.seed);
    match &res {
        Ok(()) if run.attached == 0 => {
            assert!(run.out == input, "finished without a placeholder, but the output differs");
        }
        // Stopped at a placeholder, or refused: what was written so far is the input's
        // beginning.
        _ => assert!(input.starts_with(&run.out), "output is not a prefix of the input ({res:?})"),
    }
    if no_placeholder_text {
        assert!(res.is_ok() && run.attached == 0, "no placeholder text, yet {res:?}");
    }

    let (run, res) = drive(&unsigned_pass_config(control), None, &input, control.seed);
    assert_eq!(run.attached, 0, "an unsigned placeholder was honoured");
    match &res {
        Ok(()) => assert!(run.out == input, "nothing honoured, but the output differs"),
        Err(_) => assert!(input.starts_with(&run.out), "output is not a prefix of the input"),
    }
    if no_placeholder_text {
        assert!(res.is_ok(), "no placeholder text, yet {res:?}");
    }
});
