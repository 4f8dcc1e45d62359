//! `{rcpt}` and `{NAME}` in placeholder paths: per-delivery values.

use std::borrow::Cow;

use super::{Refusal, Vars};

/// The name of the variable that holds the delivery's single recipient.
pub(crate) const RCPT: &str = "rcpt";

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
/// `Err` is the one-line reason: [`Refusal::Malformed`] when the path itself is wrong (empty,
/// unmatched braces), [`Refusal::Variable`] when a `{NAME}` has no usable value in this
/// delivery, which the transport's configuration decides.
pub(crate) fn expand(path: &str, vars: &Vars<'_>) -> Result<String, Refusal> {
    if path.is_empty() {
        return Err(Refusal::Malformed("empty path".into()));
    }
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find(['{', '}']) {
        out.push_str(&rest[..open]);
        if rest.as_bytes()[open] == b'}' {
            return Err(Refusal::Malformed("unmatched '}' in path".into()));
        }
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(Refusal::Malformed("unmatched '{' in path".into()));
        };
        let name = &after[..close];
        out.push_str(&value(name, vars).map_err(Refusal::Variable)?);
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The value of `{name}` for this delivery, or why there is none. `{rcpt}` has its domain in
/// lower case (domains are case-insensitive, RFC 5321 §2.4; exim passes the address as the
/// sender wrote it), its local part as given.
fn value<'v>(name: &str, vars: &Vars<'v>) -> Result<Cow<'v, str>, String> {
    let rcpt = match vars.recipients {
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
        Cow::Borrowed(vars.var(name).ok_or_else(|| {
            format!("path uses {{{name}}}, which is not set (--var {name}=VALUE)")
        })?)
    };
    if value == "." || value == ".." || value.contains(['/', '\0']) {
        return Err(format!("{{{name}}} is {value:?}, which cannot be part of a path"));
    }
    Ok(value)
}
