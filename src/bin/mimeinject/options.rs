//! Options shared by the filter and `check`: variables and the signing key.

use std::path::Path;

use mimeinject::ConfigBuilder;

/// Adds `--var NAME=VALUE` settings and the `--key-file` key to `builder`.
pub fn vars_and_key(
    mut builder: ConfigBuilder,
    vars: &[String],
    key_file: Option<&Path>,
) -> Result<ConfigBuilder, String> {
    for v in vars {
        let (name, value) = v.split_once('=').ok_or_else(|| format!("--var {v:?}: no '='"))?;
        builder = builder.var(name, value);
    }
    if let Some(path) = key_file {
        let key = mimeinject::sign::SigningKey::from_file(path)
            .map_err(|e| format!("--key-file {}: {e}", path.display()))?;
        builder = builder.key(key);
    }
    Ok(builder)
}
