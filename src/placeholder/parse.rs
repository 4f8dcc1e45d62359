//! Reading a placeholder from its parameters, and checking a stub's fields before it is
//! written.

use super::expand::expand;
use super::sign::SignedFields;
use super::{Disposition, Form, Parsed, Placeholder, Refusal, Rules, UnsignedPolicy};
use crate::mime::header::{check_filename, guess_media_type, media_type_essence};
use crate::mime::params::{ContentDisposition, Params};

const KNOWN: &[&str] = &["path", "filename", "type", "disposition", "sig", "name", "charset"];

/// Reads a placeholder from its parameters and, for a stub, its `Content-Disposition`
/// field (see the [module docs](super) for which source wins). `Err` carries a one-line
/// reason and what is at fault.
pub(crate) fn from_params(
    params: &Params,
    content_disposition: Option<&ContentDisposition>,
    form: Form,
    rules: &Rules<'_>,
) -> Result<Parsed, Refusal> {
    let bad = |r: String| Err(Refusal::Malformed(r));
    for (name, value) in &params.0 {
        if !KNOWN.contains(&name.as_str()) {
            return bad(format!("unknown parameter {name:?}"));
        }
        if value.bytes().any(|b| b.is_ascii_control()) {
            return bad(format!("parameter {name:?} contains a control character"));
        }
    }
    let decoded = |params: &Params, name: &str| -> Result<Option<String>, Refusal> {
        match params.get_decoded(name) {
            None => Ok(None),
            Some(Err(e)) => Err(Refusal::Malformed(e.to_string())),
            Some(Ok(v)) if v.chars().any(char::is_control) => {
                Err(Refusal::Malformed(format!("parameter {name:?} contains a control character")))
            }
            Some(Ok(v)) => Ok(Some(v)),
        }
    };
    let Some(raw_path) = decoded(params, "path")? else {
        return bad("no path parameter".into());
    };
    let raw_filename = match decoded(params, "filename")? {
        Some(f) => Some(f),
        None => match content_disposition {
            Some(cd) => decoded(&cd.params, "filename").map_err(|e| match e {
                Refusal::Malformed(r) => Refusal::Malformed(format!("Content-Disposition: {r}")),
                other => other,
            })?,
            None => None,
        },
    };
    let raw_type = params.get("type");
    let raw_disposition = params.get("disposition");

    if let Some(key) = rules.key {
        let fields = SignedFields {
            path: &raw_path,
            filename: raw_filename.as_deref(),
            media_type: raw_type,
            disposition: raw_disposition,
        };
        let verdict = match params.get("sig") {
            None => Some("placeholder is not signed"),
            Some(sig) if !key.verify(&fields, sig) => Some("signature does not match"),
            Some(_) => None,
        };
        if let Some(reason) = verdict {
            return match rules.unsigned {
                UnsignedPolicy::Fail => Err(Refusal::Signature(reason.to_owned())),
                UnsignedPolicy::Pass => Ok(Parsed::Unsigned),
            };
        }
    }

    let path = expand(&raw_path, &rules.vars)?;
    let filename = match raw_filename {
        Some(f) if f.is_empty() => return bad("empty filename".into()),
        Some(f) => f,
        None => path.rsplit('/').next().unwrap_or(&path).to_owned(),
    };
    if filename.is_empty() {
        return bad("path ends in '/'".into());
    }
    let media_type = match raw_type {
        Some(t) => media_type_essence(t)
            .map_err(|_| Refusal::Malformed(format!("type {t:?} is not type/subtype")))?,
        None => {
            media_type_essence(guess_media_type(&filename)).map_err(|e| Refusal::Malformed(e.0))?
        }
    };
    let disposition = match (raw_disposition, content_disposition) {
        (Some(d), _) => parse_disposition(d).ok_or_else(|| {
            Refusal::Malformed(format!("disposition {d:?} is neither attachment nor inline"))
        })?,
        (None, Some(cd)) => parse_disposition(&cd.disposition_type).ok_or_else(|| {
            Refusal::Malformed(format!(
                "Content-Disposition type {:?} is neither attachment nor inline",
                cd.disposition_type
            ))
        })?,
        (None, None) => Disposition::Attachment,
    };
    Ok(Parsed::Valid(Placeholder { form, path, filename, media_type, disposition }))
}

/// Checks the parameters of a stub about to be written (by `mimeinject stub` or `sign`)
/// as far as they can be checked without a configuration: a path that is not empty and
/// whose `{NAME}` variables are well formed, a filename that can go into a header, a type
/// that is `type/subtype`, a disposition that is `attachment` or `inline`. `Err` is a
/// one-line reason.
pub(crate) fn check_fields(fields: &SignedFields<'_>) -> Result<(), String> {
    let path = fields.path;
    if path.is_empty() {
        return Err("empty path".into());
    }
    if path.chars().any(char::is_control) {
        return Err("path contains a control character".into());
    }
    let mut rest = path;
    while let Some(open) = rest.find(['{', '}']) {
        if rest.as_bytes()[open] == b'}' {
            return Err("unmatched '}' in path".into());
        }
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or("unmatched '{' in path")?;
        let name = &after[..close];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("path variable {{{name}}}: use letters, digits, _"));
        }
        rest = &after[close + 1..];
    }
    if path.ends_with('/') {
        return Err("path ends in '/'".into());
    }
    if let Some(f) = fields.filename {
        check_filename(f).map_err(|e| e.0)?;
    }
    if let Some(t) = fields.media_type {
        media_type_essence(t).map_err(|_| format!("type {t:?} is not type/subtype"))?;
    }
    if let Some(d) = fields.disposition {
        parse_disposition(d)
            .ok_or(format!("disposition {d:?} is neither attachment nor inline"))?;
    }
    Ok(())
}

/// `attachment` or `inline`, in any case.
fn parse_disposition(d: &str) -> Option<Disposition> {
    if d.eq_ignore_ascii_case("attachment") {
        Some(Disposition::Attachment)
    } else if d.eq_ignore_ascii_case("inline") {
        Some(Disposition::Inline)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placeholder::{SigningKey, Vars};

    /// What a configuration hands over as [`Rules`], set up the way a
    /// [`ConfigBuilder`](crate::ConfigBuilder) is (the configuration is a layer above; its
    /// own checks of variables are tested there).
    #[derive(Default)]
    struct Config {
        vars: Vec<(String, String)>,
        recipients: Vec<String>,
        key: Option<SigningKey>,
    }

    impl Config {
        fn builder() -> Config {
            Config::default()
        }

        fn recipients(mut self, recipients: &[&str]) -> Config {
            self.recipients = recipients.iter().map(|r| r.to_string()).collect();
            self
        }

        fn var(mut self, name: &str, value: &str) -> Config {
            self.vars.push((name.into(), value.into()));
            self
        }

        fn key(mut self, key: SigningKey) -> Config {
            self.key = Some(key);
            self
        }

        fn build(self) -> Result<Config, String> {
            Ok(self)
        }

        fn placeholder_rules(&self) -> Rules<'_> {
            Rules {
                vars: Vars { vars: &self.vars, recipients: &self.recipients },
                key: self.key.as_ref(),
                unsigned: UnsignedPolicy::Fail,
            }
        }
    }

    fn params(list: &[(&str, &str)]) -> Params {
        Params(list.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect(), Vec::new())
    }

    fn parse(list: &[(&str, &str)], config: &Config) -> Result<Placeholder, String> {
        match from_params(&params(list), None, Form::Stub, &config.placeholder_rules()) {
            Ok(Parsed::Valid(p)) => Ok(p),
            Ok(Parsed::Unsigned) => Err("unsigned".into()),
            Err(refusal) => Err(refusal.reason().to_owned()),
        }
    }

    /// Reads a stub from its Content-Type parameters and Content-Disposition body.
    fn stub(ct: &str, cd: Option<&str>, config: &Config) -> Result<Placeholder, String> {
        let params = crate::mime::params::parse_params(ct.as_bytes()).unwrap();
        let cd =
            cd.map(|cd| crate::mime::params::parse_content_disposition(cd.as_bytes()).unwrap());
        match from_params(&params, cd.as_ref(), Form::Stub, &config.placeholder_rules()) {
            Ok(Parsed::Valid(p)) => Ok(p),
            Ok(Parsed::Unsigned) => Err("unsigned".into()),
            Err(refusal) => Err(refusal.reason().to_owned()),
        }
    }

    #[test]
    fn content_disposition_fills_what_the_parameters_leave_out() {
        let c = Config::default();
        let p = stub("path=r/x.pdf", Some("attachment; filename=\"Report 2026.pdf\""), &c).unwrap();
        assert_eq!(
            (p.filename.as_str(), p.disposition),
            ("Report 2026.pdf", Disposition::Attachment)
        );
        assert_eq!(p.media_type, "application/pdf");
        let p = stub("path=logo", Some("INLINE; filename*=UTF-8''Logo%20%C3%A4.png"), &c).unwrap();
        assert_eq!((p.filename.as_str(), p.disposition), ("Logo \u{e4}.png", Disposition::Inline));
        assert_eq!(p.media_type, "image/png", "guessed from the Content-Disposition name");
        let p = stub("path=r/x.pdf", Some("inline"), &c).unwrap();
        assert_eq!((p.filename.as_str(), p.disposition), ("x.pdf", Disposition::Inline));
        // RFC 2047 words in the Content-Disposition name.
        let p = stub("path=a", Some("attachment; filename=\"=?utf-8?Q?M=C3=A4rz.csv?=\""), &c);
        assert_eq!(p.unwrap().filename, "M\u{e4}rz.csv");
    }

    #[test]
    fn content_type_parameters_win_over_content_disposition() {
        let c = Config::default();
        let p = stub(
            "path=a.pdf; filename=Mine.pdf; disposition=inline",
            Some("attachment; filename=Library.pdf"),
            &c,
        )
        .unwrap();
        assert_eq!((p.filename.as_str(), p.disposition), ("Mine.pdf", Disposition::Inline));
        // Content-Type `name=` is never the name (Symfony sets it to the Content-ID).
        let p = stub("path=r/x.pdf; name=\"cid-123@x\"", None, &c).unwrap();
        assert_eq!(p.filename, "x.pdf");
        // A Content-Disposition name that cannot be read does not matter when unused...
        let p = stub("path=a; filename=ok.txt", Some("attachment; filename=\"=?x-bad?Q?a?=\""), &c);
        assert_eq!(p.unwrap().filename, "ok.txt");
        // ...and is refused when it would be the name.
        let e = stub("path=a", Some("attachment; filename=\"=?x-bad?Q?a?=\""), &c).unwrap_err();
        assert!(e.contains("Content-Disposition") && e.contains("charset"), "{e}");
    }

    #[test]
    fn content_disposition_problems_are_refused() {
        let c = Config::default();
        let e = stub("path=a", Some("form-data; filename=x"), &c).unwrap_err();
        assert!(e.contains("\"form-data\" is neither attachment nor inline"), "{e}");
        assert!(stub("path=a", Some("attachment; filename=\"\""), &c)
            .unwrap_err()
            .contains("empty"));
        let e = stub("path=a", Some("attachment; filename=\"a\tb\""), &c).unwrap_err();
        assert!(e.contains("control character"), "{e}");
        // A disposition parameter decides even when the type is odd.
        assert!(stub("path=a; disposition=inline", Some("form-data"), &c).is_ok());
    }

    #[test]
    fn encoded_words_in_path_and_filename() {
        let c = Config::default();
        let p = stub(
            "path=\"=?utf-8?Q?report.csv?=\"; filename=\"=?utf-8?B?5rWL6K+VLnppcA==?=\"",
            None,
            &c,
        )
        .unwrap();
        assert_eq!((p.path.as_str(), p.filename.as_str()), ("report.csv", "\u{6d4b}\u{8bd5}.zip"));
        assert_eq!(p.media_type, "application/zip", "guessed from the decoded name, not `.zip?=`");
        // RFC 2231 values are not decoded again.
        let p = stub("path=a; filename*=UTF-8''%3D%3Futf-8%3FQ%3Fx%3F%3D", None, &c).unwrap();
        assert_eq!(p.filename, "=?utf-8?Q?x?=");
        // Encoded control characters are refused like literal ones.
        let e = stub("path=a; filename=\"=?utf-8?Q?a=0Db?=\"", None, &c).unwrap_err();
        assert!(e.contains("control character"), "{e}");
        assert!(stub("path=\"=?utf-8?B?!!?=\"", None, &c).unwrap_err().contains("base64"));
        // `type` is a media type, never an encoded-word.
        assert!(stub("path=a; type=\"=?utf-8?Q?text/plain?=\"", None, &c).is_err());
    }

    #[test]
    fn the_signature_covers_the_name_used() {
        let key = SigningKey::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
        let c = Config::builder().key(key.clone()).build().unwrap();
        let sig = |filename: Option<&str>| {
            key.sign(&SignedFields { path: "a.pdf", filename, ..Default::default() })
        };
        // The name from Content-Disposition, RFC 2047 decoded, is the one signed.
        let cd = Some("attachment; filename=\"=?utf-8?Q?M=C3=A4rz.pdf?=\"");
        let signed = format!("path=a.pdf; sig={}", sig(Some("M\u{e4}rz.pdf")));
        assert_eq!(stub(&signed, cd, &c).unwrap().filename, "M\u{e4}rz.pdf");
        // Signed without it, the stub is refused once a library adds the name...
        let unnamed = format!("path=a.pdf; sig={}", sig(None));
        assert_eq!(stub(&unnamed, cd, &c).unwrap_err(), "signature does not match");
        assert!(stub(&unnamed, None, &c).is_ok());
        // ...and the Content-Disposition type is not covered: libraries write it unasked.
        assert!(stub(&unnamed, Some("inline"), &c).is_ok());
        // A path signed decoded matches its encoded form.
        let encoded = format!("path=\"=?utf-8?Q?a.pdf?=\"; sig={}", sig(None));
        assert!(stub(&encoded, None, &c).is_ok());
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
        let config = Config::builder().recipients(&["a@b.test"]).var("acct", "7").build().unwrap();
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
        let config = Config::builder().recipients(&["Alice.B@EXAMPLE.Test"]).build().unwrap();
        assert_eq!(parse(&[("path", "{rcpt}")], &config).unwrap().path, "Alice.B@example.test");
    }

    #[test]
    fn odd_recipients_are_refused_when_used() {
        for rcpt in ["", "@", "user@", "@example.test", "user", ".", "..", "a/b@c.test", "a\0@b"] {
            let config = Config::builder().recipients(&[rcpt]).build().unwrap();
            assert!(parse(&[("path", "{rcpt}")], &config).is_err(), "{rcpt:?}");
            // Unused, the same recipient holds up nothing.
            assert!(parse(&[("path", "x")], &config).is_ok(), "{rcpt:?}");
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
