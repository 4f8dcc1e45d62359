//! The filter chain: several rewriting steps run in one pass over the stream, in order.
//!
//! The source article's `eximFilters` added, removed and ran filters in order; here every
//! stage rides on the one scan the [`Rewriter`](crate::Rewriter) already does. Header stages
//! edit the top-level header block, which the rewriter holds in memory anyway, so a chain
//! costs nothing on the body: passthrough stays at full speed.

use std::fmt;
use std::sync::Arc;

use crate::mime::Eol;

/// One step of the chain.
#[derive(Clone)]
pub enum Stage {
    /// Replace placeholders with attachments. Without this stage placeholders pass as text.
    Attachments,
    /// Add a header field (`Name: value`) at the end of the top-level header block.
    AddHeader(String),
    /// Remove every top-level header field with this name (case-insensitive).
    StripHeader(String),
    /// An embedder's own edit of the top-level header block.
    Custom(Arc<dyn HeaderEdit>),
}

impl fmt::Debug for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stage::Attachments => f.write_str("Attachments"),
            Stage::AddHeader(h) => f.debug_tuple("AddHeader").field(h).finish(),
            Stage::StripHeader(n) => f.debug_tuple("StripHeader").field(n).finish(),
            Stage::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// An edit of the top-level header block.
pub trait HeaderEdit: Send + Sync {
    /// Edits `block`: complete header lines, each ending in `eol`, without the blank line
    /// that ends the block.
    fn edit(&self, block: &mut Vec<u8>, eol: Eol);
}

impl Stage {
    /// Checks a stage's argument: a header field must be `Name: value` on one line, a name
    /// printable ASCII without `:` or spaces.
    pub fn validate(&self) -> Result<(), String> {
        let name_ok =
            |n: &str| !n.is_empty() && n.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        match self {
            Stage::AddHeader(h) => {
                let (name, value) = h.split_once(':').ok_or(format!("header {h:?}: no ':'"))?;
                if !name_ok(name) {
                    return Err(format!("header {h:?}: bad field name"));
                }
                if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
                    return Err(format!("header {h:?}: CR, LF or NUL in the value"));
                }
                if h.len() > 998 {
                    return Err(format!("header {name:?}: longer than 998 bytes"));
                }
                Ok(())
            }
            Stage::StripHeader(n) if !name_ok(n) => Err(format!("header name {n:?} refused")),
            _ => Ok(()),
        }
    }

    /// Applies a header stage to the top-level block (lines without the final blank line).
    pub(crate) fn apply(&self, block: &mut Vec<u8>, eol: Eol) {
        match self {
            Stage::Attachments => {}
            Stage::AddHeader(h) => {
                block.extend_from_slice(h.as_bytes());
                block.extend_from_slice(eol.as_bytes());
            }
            Stage::StripHeader(name) => strip(block, name),
            Stage::Custom(edit) => edit.edit(block, eol),
        }
    }
}

/// Removes every field named `name`, continuation lines included.
fn strip(block: &mut Vec<u8>, name: &str) {
    let mut out = Vec::with_capacity(block.len());
    let mut dropping = false;
    for line in block.split_inclusive(|&b| b == b'\n') {
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if !continuation {
            dropping = line.len() > name.len()
                && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
                && line[name.len()..].trim_ascii_start().starts_with(b":");
        }
        if !dropping {
            out.extend_from_slice(line);
        }
    }
    *block = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_removes_folded_fields_by_name_only() {
        let mut b = b"X-A: 1\nX-Ab: 2\nx-a : 3\n folded\nSubject: s\n".to_vec();
        Stage::StripHeader("X-A".into()).apply(&mut b, Eol::Lf);
        assert_eq!(b, b"X-Ab: 2\nSubject: s\n");
    }

    #[test]
    fn add_appends_with_the_message_eol() {
        let mut b = b"Subject: s\r\n".to_vec();
        Stage::AddHeader("X-Filtered: yes".into()).apply(&mut b, Eol::CrLf);
        assert_eq!(b, b"Subject: s\r\nX-Filtered: yes\r\n");
    }

    #[test]
    fn validation_refuses_injection() {
        assert!(Stage::AddHeader("X: a\r\nBcc: evil".into()).validate().is_err());
        assert!(Stage::AddHeader("no colon".into()).validate().is_err());
        assert!(Stage::AddHeader("Bad Name: x".into()).validate().is_err());
        assert!(Stage::StripHeader("a:b".into()).validate().is_err());
        assert!(Stage::AddHeader("X-Ok: fine".into()).validate().is_ok());
    }
}
