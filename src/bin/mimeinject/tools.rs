//! The small subcommands: `stub`, `sign`, `man`, `completions`.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use mimeinject::sign::{SignedFields, SigningKey};

use crate::cli::Cli;

/// `mimeinject stub` (no key file) and `mimeinject sign`: prints a stub part's
/// `Content-Type:` field, signed when there is a key.
pub fn stub(key_file: Option<&Path>, fields: SignedFields<'_>) -> Result<(), String> {
    let key = match key_file {
        Some(path) => Some(
            SigningKey::from_file(path)
                .map_err(|e| format!("--key-file {}: {e}", path.display()))?,
        ),
        None => None,
    };
    let field = mimeinject::placeholder::stub_field(&fields, key.as_ref())?;
    print(field.as_bytes())
}

/// `mimeinject man`: the manual page.
pub fn man() -> Result<(), String> {
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page).map_err(|e| e.to_string())?;
    print(&page)
}

/// `mimeinject completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> Result<(), String> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "mimeinject", &mut script);
    print(&script)
}

fn print(bytes: &[u8]) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes).and_then(|()| out.flush()).map_err(|e| format!("writing: {e}"))
}
