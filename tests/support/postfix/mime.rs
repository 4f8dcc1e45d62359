//! Just enough MIME reading to check a delivered message: top-level
//! multipart split, header unfolding, parameters (quoted, RFC 2231 extended
//! and continued), and a strict base64 decoder. Written here rather than
//! borrowed from the crate so that the check does not share code with what
//! it checks.

/// Unfolded header fields of one header block, as (lowercased name, value).
pub fn headers(block: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(block);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    out
}

fn header<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// Splits an entity into its header block and body (LF line ends).
pub fn split_entity(entity: &[u8]) -> (&[u8], &[u8]) {
    if entity.starts_with(b"\n") {
        return (&[], &entity[1..]);
    }
    match entity.windows(2).position(|w| w == b"\n\n") {
        Some(i) => (&entity[..i + 1], &entity[i + 2..]),
        None => (entity, &[]),
    }
}

/// The parameters of a structured header value such as
/// `multipart/mixed; boundary="b1"`, lowercased names, RFC 2231 decoded.
pub fn params(value: &str) -> Vec<(String, String)> {
    let mut raw: Vec<(String, String)> = Vec::new();
    let mut rest = match value.find(';') {
        Some(i) => &value[i + 1..],
        None => return Vec::new(),
    };
    loop {
        rest = rest.trim_start_matches([' ', '\t', ';']);
        let Some(eq) = rest.find('=') else { break };
        let name = rest[..eq].trim().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let mut val = String::new();
        if let Some(q) = rest.strip_prefix('"') {
            let mut chars = q.char_indices();
            let mut end = q.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, c)) = chars.next() {
                            val.push(c);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => val.push(c),
                }
            }
            rest = &q[end..];
        } else {
            let end = rest.find(';').unwrap_or(rest.len());
            val = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        raw.push((name, val));
    }
    // RFC 2231: name*=charset'lang'pct-encoded, name*0=..., name*1*=...
    let mut out: Vec<(String, String)> = Vec::new();
    let mut pieces: Vec<(String, u32, String)> = Vec::new();
    for (name, val) in raw {
        let (base, extended) = match name.strip_suffix('*') {
            Some(b) => (b.to_string(), true),
            None => (name.clone(), false),
        };
        let (base, index) = match base.rsplit_once('*') {
            Some((b, n)) if n.parse::<u32>().is_ok() => (b.to_string(), n.parse().unwrap()),
            _ => (base, u32::MAX),
        };
        let decoded = if extended {
            let encoded = if index == 0 || index == u32::MAX {
                val.splitn(3, '\'').nth(2).unwrap_or(&val).to_string()
            } else {
                val
            };
            percent_decode(&encoded)
        } else {
            val
        };
        if index == u32::MAX {
            out.push((base, decoded));
        } else {
            pieces.push((base, index, decoded));
        }
    }
    pieces.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    for (name, _, piece) in pieces {
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some((_, v)) => v.push_str(&piece),
            None => out.push((name, piece)),
        }
    }
    out
}

fn param<'a>(list: &'a [(String, String)], name: &str) -> Option<&'a str> {
    list.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One part of a multipart body.
pub struct Part<'a> {
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl Part<'_> {
    /// The part's file name, from Content-Disposition or Content-Type `name`.
    pub fn filename(&self) -> Option<String> {
        let from = |h: &str, p: &str| {
            header(&self.headers, h).and_then(|v| param(&params(v), p).map(str::to_string))
        };
        from("content-disposition", "filename").or_else(|| from("content-type", "name"))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }
}

/// The parts of a `multipart/*` message (top level only). `message` must use
/// LF line ends.
pub fn top_level_parts(message: &[u8]) -> Result<Vec<Part<'_>>, String> {
    let (head, body) = split_entity(message);
    let fields = headers(head);
    let ctype = header(&fields, "content-type").ok_or("no Content-Type")?;
    if !ctype.to_ascii_lowercase().starts_with("multipart/") {
        return Err(format!("not multipart: {ctype}"));
    }
    let boundary = param(&params(ctype), "boundary").ok_or("no boundary")?.to_string();
    let delim = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut current: Option<usize> = None;
    let mut pos = 0;
    let mut closed = false;
    while pos < body.len() {
        let end = body[pos..].iter().position(|&b| b == b'\n').map_or(body.len(), |i| pos + i + 1);
        let line = &body[pos..end];
        let trimmed = line.strip_suffix(b"\n").unwrap_or(line);
        let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
        let is_delim = trimmed.starts_with(delim.as_bytes())
            && trimmed[delim.len()..].iter().all(|b| matches!(b, b' ' | b'\t' | b'-'));
        if is_delim {
            if let Some(start) = current.take() {
                // The line break before the delimiter belongs to it.
                let stop = pos.saturating_sub(1).max(start);
                let (h, b) = split_entity(&body[start..stop]);
                parts.push(Part { headers: headers(h), body: b });
            }
            if trimmed[delim.len()..].starts_with(b"--") {
                closed = true;
                break;
            }
            current = Some(end);
        }
        pos = end;
    }
    if !closed {
        return Err("multipart has no closing delimiter".into());
    }
    Ok(parts)
}

/// Decodes a base64 body. Strict: only the alphabet, line breaks, and
/// padding at the very end; every line at most 76 characters.
pub fn decode_base64(body: &[u8]) -> Result<Vec<u8>, String> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let mut symbols = Vec::with_capacity(body.len());
    for (n, line) in body.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.len() > 76 {
            return Err(format!("base64 line {} is {} characters long", n + 1, line.len()));
        }
        symbols.extend_from_slice(line);
    }
    let pad = symbols.iter().rev().take_while(|&&c| c == b'=').count();
    if symbols.len() % 4 != 0 || pad > 2 {
        return Err(format!("base64 length {} with {pad} padding", symbols.len()));
    }
    let data = &symbols[..symbols.len() - pad];
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in data {
        let v = value(c).ok_or_else(|| format!("byte {c:#04x} in base64"))?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if acc != 0 {
        return Err("non-zero trailing bits in base64".into());
    }
    Ok(out)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn params_plain_quoted_and_rfc2231() {
        let p = params(r#"attachment; filename="Invoice \"42\".pdf"; size=3"#);
        assert_eq!(param(&p, "filename"), Some(r#"Invoice "42".pdf"#));
        assert_eq!(param(&p, "size"), Some("3"));
        let p = params("attachment; filename*=utf-8''Invoice%2042.pdf");
        assert_eq!(param(&p, "filename"), Some("Invoice 42.pdf"));
        let p = params("attachment; filename*1=\"42.pdf\"; filename*0*=utf-8''Invoice%20");
        assert_eq!(param(&p, "filename"), Some("Invoice 42.pdf"));
    }

    #[test]
    fn base64_round_trips_and_is_strict() {
        assert_eq!(decode_base64(b"AAEC/w==\n").unwrap(), [0, 1, 2, 255]);
        assert_eq!(decode_base64(b"").unwrap(), b"");
        assert!(decode_base64(b"AAE=A===").is_err());
        assert!(decode_base64(b"AB==").is_err());
        assert!(decode_base64(&[b'A'; 80]).is_err());
    }

    #[test]
    fn multipart_split() {
        let msg = b"Content-Type: multipart/mixed; boundary=\"b1\"\n\npre\n--b1\n\
                    Content-Type: text/plain\n\nhello\n--b1\nContent-Disposition: attachment;\n \
                    filename=\"x.bin\"\n\nAAEC\n--b1--\n";
        let parts = top_level_parts(msg).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, b"hello");
        assert_eq!(parts[1].filename().as_deref(), Some("x.bin"));
        assert_eq!(parts[1].body, b"AAEC");
        assert!(
            top_level_parts(b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n").is_err()
        );
    }
}
