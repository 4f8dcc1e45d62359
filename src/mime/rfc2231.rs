//! RFC 2231 parameter values: continuations (`name*0=`, `name*1=`, …, §3) and charsets
//! (`name*=charset'lang'%XX…`, §4), read into one decoded value and written for any value.

use super::header::MAX_LINE;
use super::params::Params;
use super::token::is_attribute_char;
use super::ParamError;

/// One `attribute=value` as written, before RFC 2231 joining.
pub(super) struct RawParam {
    /// The name without any `*N` or `*` suffix, lower-cased.
    pub(super) base: String,
    /// The RFC 2231 section number, if the name had `*N`.
    section: Option<u32>,
    /// Whether the name ended in `*`: the value is percent-encoded, and
    /// carries a `charset'language'` prefix when it is the first section.
    extended: bool,
    /// The value, quoted-pairs resolved, not yet decoded.
    value: Vec<u8>,
}

/// Splits an RFC 2231 name `base*N*` into its parts.
pub(super) fn split_name(name: &str, value: Vec<u8>) -> Result<RawParam, ParamError> {
    let Some((base, rest)) = name.split_once('*') else {
        return Ok(RawParam { base: name.to_owned(), section: None, extended: false, value });
    };
    if base.is_empty() {
        fail!("invalid parameter name {name:?}");
    }
    let (digits, extended) = match rest.strip_suffix('*') {
        Some(d) => (d, true),
        None => (rest, false),
    };
    let section = if digits.is_empty() {
        if !extended {
            // `name*` is the unsectioned extended form; here `rest` was empty.
            None
        } else {
            // `name**`
            fail!("invalid parameter name {name:?}");
        }
    } else {
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            fail!("invalid RFC 2231 section in parameter name {name:?}");
        }
        if digits.len() > 1 && digits.starts_with('0') {
            fail!("RFC 2231 section number with a leading zero in {name:?}");
        }
        match digits.parse::<u32>() {
            Ok(n) => Some(n),
            Err(_) => fail!("RFC 2231 section number too large in {name:?}"),
        }
    };
    // `name*` alone: `rest` is empty, so it is extended without sections.
    let extended = extended || rest.is_empty();
    Ok(RawParam { base: base.to_owned(), section, extended, value })
}

/// Joins RFC 2231 sections, decodes values and refuses duplicates.
///
/// A name given both in RFC 2231 form (`name*=` or sections `name*0=`, …) and once plainly
/// (`name=`) takes the RFC 2231 value: the plain one is the fallback that libraries add for
/// readers without RFC 2231 (Email::MIME writes `filename*=UTF-8''…; filename="…"` for a
/// non-ASCII name, and `path*0=…; path*1=…; path="…"` with a shortened fallback for a long
/// one), and RFC 2231 readers such as Python's `email` take the extended value. Two plain
/// values, or two RFC 2231 values of one name, are still refused.
pub(super) fn join(raw: Vec<RawParam>) -> Result<Params, ParamError> {
    // Distinct base names in order of first appearance.
    let mut names: Vec<&str> = Vec::new();
    for p in &raw {
        if !names.contains(&p.base.as_str()) {
            names.push(&p.base);
        }
    }
    let mut out = Vec::with_capacity(names.len());
    let mut rfc2231 = Vec::new();
    for name in names {
        let (extended, plain): (Vec<&RawParam>, Vec<&RawParam>) =
            raw.iter().filter(|p| p.base == name).partition(|p| p.section.is_some() || p.extended);
        if plain.len() > 1 || extended.len() > 1 && extended.iter().all(|p| p.section.is_none()) {
            fail!("parameter {name:?} appears more than once");
        }
        let value = if extended.is_empty() {
            decode_charset(&format!("parameter {name:?}"), b"", &plain[0].value)?
        } else if extended.iter().any(|p| p.section.is_some()) {
            rfc2231.push(name.to_owned());
            join_sections(name, &extended)?
        } else {
            rfc2231.push(name.to_owned());
            let (charset, encoded) = split_charset(name, &extended[0].value)?;
            decode_charset(
                &format!("parameter {name:?}"),
                charset,
                &percent_decode(name, encoded)?,
            )?
        };
        out.push((name.to_owned(), value));
    }
    Ok(Params(out, rfc2231))
}

/// Joins the sections `name*0`, `name*1`, … of one parameter.
fn join_sections(name: &str, group: &[&RawParam]) -> Result<String, ParamError> {
    if group.iter().any(|p| p.section.is_none()) {
        fail!("parameter {name:?} appears both as {name}* and with RFC 2231 sections");
    }
    let mut sections: Vec<&RawParam> = group.to_vec();
    sections.sort_by_key(|p| p.section);
    for (i, p) in sections.iter().enumerate() {
        match p.section {
            Some(n) if n as usize == i => {}
            Some(n) if (n as usize) < i => fail!("RFC 2231 section {name}*{n} appears twice"),
            _ => fail!("RFC 2231 section {name}*{i} is missing"),
        }
    }
    let mut charset: &[u8] = b"";
    let mut bytes = Vec::new();
    for p in &sections {
        if !p.extended {
            bytes.extend_from_slice(&p.value);
            continue;
        }
        // The charset is only in section 0 (RFC 2231 §4.1).
        let encoded = if p.section == Some(0) {
            let (cs, rest) = split_charset(name, &p.value)?;
            charset = cs;
            rest
        } else {
            &p.value[..]
        };
        bytes.extend(percent_decode(name, encoded)?);
    }
    decode_charset(&format!("parameter {name:?}"), charset, &bytes)
}

/// Splits `charset'language'rest`, returning the charset and `rest`.
fn split_charset<'v>(name: &str, value: &'v [u8]) -> Result<(&'v [u8], &'v [u8]), ParamError> {
    let mut parts = value.splitn(3, |&b| b == b'\'');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(charset), Some(_language), Some(rest)) => Ok((charset, rest)),
        _ => fail!("RFC 2231 value of {name:?} lacks the charset'language' prefix"),
    }
}

/// Resolves `%XX` escapes; other bytes are kept as they are.
fn percent_decode(name: &str, encoded: &[u8]) -> Result<Vec<u8>, ParamError> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut i = 0;
    while i < encoded.len() {
        if encoded[i] == b'%' {
            let hex = |j: usize| encoded.get(j).and_then(|&b| char::from(b).to_digit(16));
            match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
                _ => fail!("invalid %-escape in RFC 2231 value of {name:?}"),
            }
            i += 3;
        } else {
            out.push(encoded[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Decodes a value's bytes from `charset` (empty: UTF-8, RFC 6532).
///
/// UTF-8 and US-ASCII are checked strictly here; every other label goes to the
/// [`charset`] crate, which maps labels as the WHATWG Encoding Standard does (so
/// ISO-8859-1 is read as windows-1252, as every mail client reads it) and adds UTF-7.
/// Bytes that are not valid in the charset are an error, never U+FFFD.
///
/// `what` names the value in errors (`parameter "filename"`).
pub(super) fn decode_charset(
    what: &str,
    charset: &[u8],
    bytes: &[u8],
) -> Result<String, ParamError> {
    let label = String::from_utf8_lossy(charset).trim().to_ascii_lowercase();
    match label.as_str() {
        "" | "utf-8" | "utf8" => match String::from_utf8(bytes.to_vec()) {
            Ok(s) => Ok(s),
            Err(_) => fail!("value of {what} is not valid UTF-8"),
        },
        "us-ascii" | "ascii" => {
            if !bytes.is_ascii() {
                fail!("value of {what} is declared US-ASCII but is not");
            }
            Ok(bytes.iter().map(|&b| char::from(b)).collect())
        }
        other => {
            let Some(cs) = charset::Charset::for_label_no_replacement(other.as_bytes()) else {
                fail!("unsupported charset {other:?} in {what}");
            };
            let (text, malformed) = cs.decode_without_bom_handling(bytes);
            if malformed {
                fail!("value of {what} is not valid {other}");
            }
            Ok(text.into_owned())
        }
    }
}

/// The atoms of one parameter, each ending in `sep` and short enough to sit
/// on a continuation line of its own: `name="value"` when that fits and the
/// value is plain, else RFC 2231 `name*=` or `name*0*=`, `name*1*=`, ….
pub(super) fn param_atoms(name: &str, value: &str, sep: &str, atoms: &mut Vec<String>) {
    // A continuation line is one space and then the atom.
    let room = MAX_LINE - 1;
    if super::header::is_plain(value) {
        let atom = format!("{name}={}{sep}", super::header::quote(value));
        if atom.len() <= room {
            atoms.push(atom);
            return;
        }
    }
    let encoded: Vec<String> = value.chars().map(percent_encode_char).collect();
    let single = format!("{name}*=UTF-8''{}{sep}", encoded.concat());
    if single.len() <= room {
        atoms.push(single);
        return;
    }
    // RFC 2231 §3 continuations. A section boundary never splits a UTF-8
    // sequence: Python's `email` decodes every section on its own.
    let mut section = 0usize;
    let mut chunk = String::new();
    let mut prefix = format!("{name}*0*=UTF-8''");
    for piece in &encoded {
        // At least one character per section, however long the name. Every
        // section but the last ends in `;`; sizing with one byte for it holds
        // for the last section too, whose `sep` is `;` or nothing.
        let limit = room.saturating_sub(prefix.len() + 1).max(piece.len());
        if !chunk.is_empty() && chunk.len() + piece.len() > limit {
            atoms.push(format!("{prefix}{chunk};"));
            section += 1;
            chunk.clear();
            prefix = format!("{name}*{section}*=");
        }
        chunk.push_str(piece);
    }
    atoms.push(format!("{prefix}{chunk}{sep}"));
}

/// `c` in UTF-8 with every byte that is not an attribute-char as `%XX`.
fn percent_encode_char(c: char) -> String {
    let mut buf = [0u8; 4];
    let mut out = String::with_capacity(12);
    for &b in c.encode_utf8(&mut buf).as_bytes() {
        if is_attribute_char(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
