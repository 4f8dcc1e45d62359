//! The placeholder contract (v1): which parameters a placeholder takes and what they mean.
//!
//! Both forms use MIME parameter syntax. A stub part's parameters are those of its
//! `Content-Type: application/x-mimeinject`; a body line's follow `mimeinject:`.
//!
//! | parameter | meaning | default |
//! |---|---|---|
//! | `path` | the file, relative to the root; `{rcpt}` and `{NAME}` are per-delivery values, expanded only for a delivery with exactly one recipient (see [`crate::ConfigBuilder`]) | required |
//! | `filename` | the name the recipient sees | the last component of the expanded path |
//! | `type` | the media type | guessed from the filename's extension |
//! | `disposition` | `attachment` or `inline` | `attachment` |
//! | `sig` | HMAC-SHA256 signature, see [`crate::sign`] | required when a key is set |
//!
//! Any other parameter is refused (a misspelt `filname` must not go unnoticed), except
//! `name` and `charset`, which mail libraries add on their own and which are ignored.

use std::borrow::Cow;

use crate::config::{Config, RCPT};
use crate::headers::{guess_media_type, Disposition};
use crate::params::Params;
use crate::sign::SignedFields;

/// Which of the two placeholder forms was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// A whole MIME part with `Content-Type: application/x-mimeinject`, replaced by a
    /// complete attachment part.
    Stub,
    /// A `mimeinject: path=…` line in a base64 part, replaced by the file's base64 lines.
    BodyLine,
}

/// A placeholder, resolved against the configuration: what to attach and how to name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placeholder {
    /// Which form it had.
    pub form: Form,
    /// The path relative to the root, variables expanded.
    pub path: String,
    /// The name the recipient sees.
    pub filename: String,
    /// `type/subtype`.
    pub media_type: String,
    /// Attachment or inline.
    pub disposition: Disposition,
}

/// The outcome of reading a placeholder's parameters.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// Honour it.
    Valid(Placeholder),
    /// A key is set, the signature is missing or wrong, and the policy says pass it through.
    Unsigned,
}

const KNOWN: &[&str] = &["path", "filename", "type", "disposition", "sig", "name", "charset"];

/// Reads a placeholder from its parameters. `Err` carries a one-line reason and whether it is a
/// signature problem.
pub(crate) fn from_params(
    params: &Params,
    form: Form,
    config: &Config,
) -> Result<Parsed, (bool, String)> {
    let bad = |r: String| Err((false, r));
    for (name, value) in &params.0 {
        if !KNOWN.contains(&name.as_str()) {
            return bad(format!("unknown parameter {name:?}"));
        }
        if value.bytes().any(|b| b.is_ascii_control()) {
            return bad(format!("parameter {name:?} contains a control character"));
        }
    }
    let Some(raw_path) = params.get("path") else {
        return bad("no path parameter".into());
    };
    let raw_filename = params.get("filename");
    let raw_type = params.get("type");
    let raw_disposition = params.get("disposition");

    if let Some(key) = &config.key {
        let fields = SignedFields {
            path: raw_path,
            filename: raw_filename,
            media_type: raw_type,
            disposition: raw_disposition,
        };
        let verdict = match params.get("sig") {
            None => Some("placeholder is not signed"),
            Some(sig) if !key.verify(&fields, sig) => Some("signature does not match"),
            Some(_) => None,
        };
        if let Some(reason) = verdict {
            return match config.unsigned {
                crate::config::UnsignedPolicy::Fail => Err((true, reason.to_owned())),
                crate::config::UnsignedPolicy::Pass => Ok(Parsed::Unsigned),
            };
        }
    }

    let path = expand(raw_path, config).map_err(|r| (false, r))?;
    let filename = match raw_filename {
        Some("") => return bad("empty filename".into()),
        Some(f) => f.to_owned(),
        None => path.rsplit('/').next().unwrap_or(&path).to_owned(),
    };
    if filename.is_empty() {
        return bad("path ends in '/'".into());
    }
    let media_type = match raw_type {
        Some(t) => {
            if !is_media_type(t) {
                return bad(format!("type {t:?} is not type/subtype"));
            }
            t.to_ascii_lowercase()
        }
        None => guess_media_type(&filename).to_owned(),
    };
    let disposition = match raw_disposition {
        None => Disposition::Attachment,
        Some(d) if d.eq_ignore_ascii_case("attachment") => Disposition::Attachment,
        Some(d) if d.eq_ignore_ascii_case("inline") => Disposition::Inline,
        Some(d) => return bad(format!("disposition {d:?} is neither attachment nor inline")),
    };
    Ok(Parsed::Valid(Placeholder { form, path, filename, media_type, disposition }))
}

/// Replaces every `{NAME}` in `path` by its per-delivery value.
///
/// The rule (the "Variables are per delivery" section of [`crate::ConfigBuilder`]): a path
/// that uses any `{NAME}` is expanded only when the configuration names the delivery's
/// recipients and there is exactly one. `{rcpt}` is that recipient, which must look like
/// `local@domain` (both sides non-empty), with the domain in lower case; any other `{NAME}`
/// is the variable set with
/// [`crate::ConfigBuilder::var`]. A value that could move the path (empty, `.`, `..`, `/`,
/// NUL) is refused. A path without `{`/`}` is returned as it is, whatever the recipients.
///
/// `Err` is the one-line reason.
pub(crate) fn expand(path: &str, config: &Config) -> Result<String, String> {
    if path.is_empty() {
        return Err("empty path".into());
    }
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find(['{', '}']) {
        out.push_str(&rest[..open]);
        if rest.as_bytes()[open] == b'}' {
            return Err("unmatched '}' in path".into());
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err("unmatched '{' in path".into());
        };
        let name = &after[..close];
        out.push_str(&value(name, config)?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of `{name}` for this delivery, or why there is none. `{rcpt}` has its domain in
/// lower case (domains are case-insensitive, RFC 5321 §2.4; exim passes the address as the
/// sender wrote it), its local part as given.
fn value<'c>(name: &str, config: &'c Config) -> Result<Cow<'c, str>, String> {
    let rcpt = match config.recipients() {
        [one] => one.as_str(),
        [] => {
            return Err(format!(
                "path uses {{{name}}}, but no recipient was given: a per-recipient path needs \
                 the delivery's recipients (exim: -- $pipe_addresses)"
            ))
        }
        several => {
            return Err(format!(
                "path uses {{{name}}}, but this delivery has {} recipients: a per-recipient \
                 path needs exactly one (exim: max_rcpt = 1 on smtp, batch_max = 1 on local \
                 transports)",
                several.len()
            ))
        }
    };
    let value = if name == RCPT {
        match rcpt.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                if domain.bytes().any(|b| b.is_ascii_uppercase()) {
                    Cow::Owned(format!("{local}@{}", domain.to_ascii_lowercase()))
                } else {
                    Cow::Borrowed(rcpt)
                }
            }
            _ => return Err(format!("recipient {rcpt:?} is not local@domain")),
        }
    } else {
        Cow::Borrowed(config.var(name).ok_or_else(|| {
            format!("path uses {{{name}}}, which is not set (--var {name}=VALUE)")
        })?)
    };
    if value == "." || value == ".." || value.contains(['/', '\0']) {
        return Err(format!("{{{name}}} is {value:?}, which cannot be part of a path"));
    }
    Ok(value)
}

/// RFC 2045 `type "/" subtype`, both tokens.
fn is_media_type(t: &str) -> bool {
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b))
    };
    matches!(t.split_once('/'), Some((a, b)) if token(a) && token(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(list: &[(&str, &str)]) -> Params {
        Params(list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect())
    }

    fn parse(list: &[(&str, &str)], config: &Config) -> Result<Placeholder, String> {
        match from_params(&params(list), Form::Stub, config) {
            Ok(Parsed::Valid(p)) => Ok(p),
            Ok(Parsed::Unsigned) => Err("unsigned".into()),
            Err((_, r)) => Err(r),
        }
    }

    #[test]
    fn defaults_follow_the_path() {
        let p = parse(&[("path", "inv/2026/x.pdf")], &Config::default()).unwrap();
        assert_eq!(p.filename, "x.pdf");
        assert_eq!(p.media_type, "application/pdf");
        assert_eq!(p.disposition, Disposition::Attachment);
    }

    #[test]
    fn variables_expand_and_unknown_ones_fail() {
        let config = Config::builder().recipients(["a@b.test"]).var("acct", "7").build().unwrap();
        let p = parse(&[("path", "{rcpt}/{acct}/s.pdf")], &config).unwrap();
        assert_eq!(p.path, "a@b.test/7/s.pdf");
        assert!(parse(&[("path", "{other}/s.pdf")], &config).unwrap_err().contains("other"));
        assert!(parse(&[("path", "{rcpt/s.pdf")], &config).is_err());
        assert!(parse(&[("path", "rcpt}/s.pdf")], &config).is_err());
    }

    #[test]
    fn any_variable_needs_exactly_one_recipient() {
        for recipients in [&[][..], &["a@b.test", "c@d.test"][..]] {
            let config = Config::builder().recipients(recipients).var("acct", "7").build().unwrap();
            for p in ["{rcpt}/s.pdf", "{acct}/s.pdf", "x/{acct}"] {
                let e = parse(&[("path", p)], &config).unwrap_err();
                assert!(e.contains("recipient"), "{recipients:?} {p}: {e}");
            }
            // A path without variables is not per-recipient.
            assert_eq!(parse(&[("path", "logo.png")], &config).unwrap().path, "logo.png");
        }
    }

    #[test]
    fn rcpt_domain_is_lower_case() {
        let config = Config::builder().recipients(["Alice.B@EXAMPLE.Test"]).build().unwrap();
        assert_eq!(parse(&[("path", "{rcpt}")], &config).unwrap().path, "Alice.B@example.test");
    }

    #[test]
    fn rcpt_is_never_a_variable() {
        let e = Config::builder().var("rcpt", "a@b.test").build().unwrap_err().to_string();
        assert!(e.contains("$pipe_addresses"), "{e}");
        let both = Config::builder().recipients(["a@b.test"]).var("rcpt", "a@b.test").build();
        assert!(both.is_err(), "not even when it equals the recipient");
    }

    #[test]
    fn odd_recipients_are_refused_when_used() {
        for rcpt in ["", "@", "user@", "@example.test", "user", ".", "..", "a/b@c.test", "a\0@b"] {
            let config = Config::builder().recipients([rcpt]).build().unwrap();
            assert!(parse(&[("path", "{rcpt}")], &config).is_err(), "{rcpt:?}");
            // Unused, the same recipient holds up nothing.
            assert!(parse(&[("path", "x")], &config).is_ok(), "{rcpt:?}");
        }
    }

    #[test]
    fn bad_variable_values_are_refused() {
        for v in ["..", ".", "", "@", "@example.test", "user@", "a/b", "a\0b"] {
            assert!(Config::builder().var("x", v).build().is_err(), "{v:?}");
        }
    }

    #[test]
    fn refuses_unknown_parameters_and_bad_values() {
        let c = Config::default();
        assert!(parse(&[("path", "a"), ("filname", "b")], &c).is_err());
        assert!(parse(&[("filename", "b")], &c).is_err());
        assert!(parse(&[("path", "a"), ("disposition", "sideways")], &c).is_err());
        assert!(parse(&[("path", "a"), ("type", "pdf")], &c).is_err());
        assert!(parse(&[("path", "a"), ("filename", "x\r\ny")], &c).is_err());
        assert!(parse(&[("path", "a/")], &c).is_err());
        assert!(parse(&[("path", "a"), ("name", "ignored")], &c).is_ok());
    }
}
