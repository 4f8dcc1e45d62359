//! The sans-IO core alone, no attachments: until the first `Attach`, what it writes is
//! exactly the input, in order, whatever the chunking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mimeinject_fuzz::{config, contains_ci, drive, split};

fuzz_target!(|data: &[u8]| {
    let Some((control, input)) = split(data) else { return };
    let (run, res) = drive(&config(control, true), None, &input, control.seed);
    match &res {
        Ok(()) if run.attached == 0 => {
            assert!(run.out == input, "finished without a placeholder, but the output differs");
        }
        // Stopped at a placeholder, or refused: what was written so far is the input's
        // beginning.
        _ => assert!(input.starts_with(&run.out), "output is not a prefix of the input ({res:?})"),
    }
    if !contains_ci(&input, b"mimeinject") {
        assert!(res.is_ok() && run.attached == 0, "no placeholder text, yet {res:?}");
    }
});
