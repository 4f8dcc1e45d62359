//! The small subcommands: `sign`, `man`, `completions`.

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;
use mimeinject::sign::{SignedFields, SigningKey};

use crate::cli::Cli;

/// `mimeinject sign`: prints a signed stub part's `Content-Type:` line.
pub fn sign(key_file: &Path, fields: SignedFields<'_>) -> Result<(), String> {
    let key = SigningKey::from_file(key_file)
        .map_err(|e| format!("--key-file {}: {e}", key_file.display()))?;
    let sig = key.sign(&fields);
    let mut params = vec![("path", fields.path)];
    params.extend(fields.filename.map(|v| ("filename", v)));
    params.extend(fields.media_type.map(|v| ("type", v)));
    params.extend(fields.disposition.map(|v| ("disposition", v)));
    params.push(("sig", &sig));
    let line = mimeinject::headers::format_placeholder_field(&params, mimeinject::Eol::Lf);
    print(line.as_bytes())
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
