//! The placeholder contract as mail libraries meet it, through the library at every split of
//! the input: names from `Content-Disposition`, RFC 2047 words, disguised stubs, header lines
//! that are not fields, signed mail, line endings, header order (issues 11 and 12).

use mimeinject::{Config, ErrorKind, MemorySource};

use crate::chunked::{run_chunked, run_split, run_whole};

fn files() -> MemorySource {
    let mut s = MemorySource::new();
    s.insert("r/report.pdf", b"%PDF-1.4 report\n".to_vec());
    s.insert("report.csv", b"a,b\n1,2\n".to_vec());
    s.insert("a/archive.zip", b"PK\x03\x04zip".to_vec());
    s
}

/// Runs `input` whole, split in two at every offset, and in small chunks; every way must
/// give the same result, which is returned (errors as their one-line text).
fn all_ways(config: &Config, input: &str) -> Result<String, String> {
    let input = input.as_bytes();
    let source = files();
    let text = |result: Result<Vec<u8>, mimeinject::Error>| {
        result.map(|out| String::from_utf8(out).unwrap()).map_err(|e| e.to_string())
    };
    let whole = text(run_whole(config, &source, input));
    for split in 0..=input.len() {
        assert_eq!(text(run_split(config, &source, input, split)), whole, "split at {split}");
    }
    for size in [1, 3, 64] {
        assert_eq!(text(run_chunked(config, &source, input, |_| size)), whole, "chunks of {size}");
    }
    whole
}

fn deliver(input: &str) -> String {
    all_ways(&Config::default(), input).unwrap_or_else(|e| panic!("{e}\n{input}"))
}

fn refuse(input: &str) -> String {
    let err = all_ways(&Config::default(), input).expect_err(input);
    assert!(!err.contains('\n'), "one line: {err:?}");
    err
}

/// The typed error of a run of `input` through the sync driver with the default configuration.
fn refusal(input: &str) -> mimeinject::Error {
    mimeinject::rewrite(&Config::default(), &files(), &mut input.as_bytes(), &mut Vec::new())
        .unwrap_err()
}

/// A multipart/mixed message with a text part and `part` (its header block and body).
fn mixed(part: &str) -> String {
    format!(
        "From: a@example.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\
         \n--b\nContent-Type: text/plain\n\nhello\n--b\n{part}--b--\n"
    )
}

/// The generated header block of the attachment in `out` (from its Content-Type line to the
/// blank line).
fn attachment_header(out: &str) -> &str {
    let start = out.rfind("--b\n").map(|i| i + 4).expect("a part");
    let end = start + out[start..].find("\n\n").expect("a blank line");
    &out[start..=end]
}

mod names {
    use super::*;

    #[test]
    fn the_name_and_disposition_come_from_content_disposition() {
        // What Python's add_attachment writes (case 19).
        let out = deliver(&mixed(
            "Content-Transfer-Encoding: base64\n\
             Content-Disposition: attachment; filename=\"Report 2026.pdf\"\n\
             Content-Type: application/x-mimeinject; path=\"r/report.pdf\"\n\
             MIME-Version: 1.0\n\n\n",
        ));
        assert_eq!(
            attachment_header(&out),
            "Content-Type: application/pdf; name=\"Report 2026.pdf\"\n\
             Content-Disposition: attachment; filename=\"Report 2026.pdf\"; size=16\n\
             Content-Transfer-Encoding: base64\nMIME-Version: 1.0\n"
        );
        let out = deliver(&mixed(
            "Content-Type: application/x-mimeinject; path=report.csv\n\
             Content-Disposition: inline; filename*=UTF-8''Logo%20%C3%A4.csv\n\n",
        ));
        assert!(
            attachment_header(&out).contains(
                "Content-Disposition: inline; filename*=UTF-8''Logo%20%C3%A4.csv; size=8\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn the_content_type_parameters_win() {
        let out = deliver(&mixed(
            "Content-Type: application/x-mimeinject; path=report.csv; name=\"cid@x\";\n \
             filename=\"Mine.csv\"; disposition=inline\n\
             Content-Disposition: attachment; filename=\"Library.csv\"\n\n",
        ));
        let header = attachment_header(&out);
        assert!(header.contains("Content-Disposition: inline; filename=\"Mine.csv\";"), "{out}");
        assert!(!out.contains("Library.csv") && !out.contains("cid@x"), "{out}");
    }

    #[test]
    fn several_or_unreadable_content_dispositions_are_refused() {
        let stub = "Content-Type: application/x-mimeinject; path=report.csv\n";
        let e = refuse(&mixed(&format!(
            "{stub}Content-Disposition: attachment\nContent-Disposition: inline\n\n"
        )));
        assert!(e.contains("several Content-Disposition fields"), "{e}");
        let e = refuse(&mixed(&format!("{stub}Content-Disposition: ; filename=x\n\n")));
        assert!(e.contains("malformed placeholder: Content-Disposition:"), "{e}");
        let e = refuse(&mixed(&format!("{stub}Content-Disposition: form-data\n\n")));
        assert!(e.contains("neither attachment nor inline"), "{e}");
    }

    #[test]
    fn encoded_words_are_decoded_in_filename_and_path() {
        // Case 24 and the interop messages: B and Q words, in either field.
        let out = deliver(&mixed(
            "Content-Type: application/x-mimeinject; path=\"a/archive.zip\";\n \
             filename=\"=?utf-8?B?5rWL6K+VLnppcA==?=\"\n\n",
        ));
        assert!(
            attachment_header(&out).starts_with(
                "Content-Type: application/zip; name=\"=?UTF-8?B?5rWL6K+VLnppcA==?=\"\n\
                 Content-Disposition: attachment; filename*=UTF-8''%E6%B5%8B%E8%AF%95.zip;"
            ),
            "{out}"
        );
        let out = deliver(&mixed(
            "Content-Type: application/x-mimeinject;\n path=\"=?utf-8?Q?report.csv?=\"\n\
             Content-Disposition: attachment;\n filename=\"=?utf-8?Q?M=C3=A4rz?=\n \
             =?utf-8?Q?_2026.csv?=\"\n\n",
        ));
        assert!(out.contains("filename*=UTF-8''M%C3%A4rz%202026.csv;"), "{out}");
        assert!(out.contains("\nYSxiCjEsMgo=\n"), "the file of the decoded path: {out}");
    }

    #[test]
    fn encoded_words_that_cannot_be_decoded_are_refused() {
        for value in ["=?x-unknown?Q?a?=", "=?utf-8?Q?a=FF?=", "=?utf-8?B?*?="] {
            let e = refuse(&mixed(&format!(
                "Content-Type: application/x-mimeinject; path=report.csv; filename=\"{value}\"\n\n"
            )));
            assert!(e.starts_with("malformed placeholder: parameter \"filename\""), "{e}");
        }
    }

    #[test]
    fn v1_stubs_are_unchanged() {
        // No Content-Disposition, no encoded-word: the v1 output, byte for byte.
        let out = deliver(&mixed(
            "Content-Type: application/x-mimeinject; path=r/report.pdf;\n \
             filename=\"=?not a word?=.pdf\"\n\n",
        ));
        assert_eq!(
            attachment_header(&out),
            "Content-Type: application/pdf; name=\"=?UTF-8?B?PT9ub3QgYSB3b3JkPz0ucGRm?=\"\n\
             Content-Disposition: attachment;\n \
             filename*=UTF-8''%3D%3Fnot%20a%20word%3F%3D.pdf; size=16\n\
             Content-Transfer-Encoding: base64\n"
        );
    }

    #[test]
    fn a_signed_stub_covers_the_name_from_content_disposition() {
        let key = mimeinject::sign::SigningKey::from_bytes(b"0123456789abcdef").unwrap();
        let config = Config::builder().key(key.clone()).build().unwrap();
        let sig = |filename| {
            key.sign(&mimeinject::sign::SignedFields {
                path: "report.csv",
                filename,
                ..Default::default()
            })
        };
        let part = |sig: String| {
            mixed(&format!(
                "Content-Type: application/x-mimeinject; path=report.csv; sig={sig}\n\
                 Content-Disposition: attachment; filename=\"=?utf-8?Q?M=C3=A4rz.csv?=\"\n\n"
            ))
        };
        let out = all_ways(&config, &part(sig(Some("M\u{e4}rz.csv")))).unwrap();
        assert!(out.contains("filename*=UTF-8''M%C3%A4rz.csv;"), "{out}");
        let e = all_ways(&config, &part(sig(None))).unwrap_err();
        assert!(e.starts_with("placeholder signature: signature does not match"), "{e}");
    }

    #[test]
    fn errors_are_typed() {
        let input = mixed(
            "Content-Type: application/x-mimeinject; path=report.csv\n\
             Content-Disposition: attachment; filename=\"=?utf-8?Q?a=FF?=\"\n\n",
        );
        let err = refusal(&input);
        assert!(matches!(err.kind(), ErrorKind::Placeholder(_)), "{err}");
    }
}

mod looks_like_a_stub {
    use super::*;

    #[test]
    fn a_content_type_that_mentions_the_stub_type_but_is_not_one_is_refused() {
        for ct in [
            // Django, when a parameter is not ASCII (interop/encoded-ct.eml).
            "=?utf-8?q?application/x-mimeinject=3B_path=3D=22report=2Ecsv=22?=",
            // The same in base64: only the decoded value gives it away.
            "=?utf-8?b?YXBwbGljYXRpb24veC1taW1laW5qZWN0OyBwYXRoPXJlcG9ydC5jc3Y=?=",
            // Glued to other text, which RFC 2047 does not allow and a stub needs no more.
            "text/plain; name==?utf-8?b?eC1taW1laW5qZWN0?=",
            "\"application/x-mimeinject\"; path=report.csv",
            "application/x-mimeinject-v2; path=report.csv",
            "application/X-MIMEINJECT.stub; path=report.csv",
        ] {
            let e = refuse(&mixed(&format!("Content-Type: {ct}\n\n")));
            assert!(e.contains("mentions x-mimeinject but does not read as a stub"), "{ct}: {e}");
        }
        // A stub and a second Content-Type: refused as before.
        let e = refuse(&mixed(
            "Content-Type: application/x-mimeinject; path=report.csv\nContent-Type: text/plain\n\n",
        ));
        assert!(e.contains("several Content-Type fields"), "{e}");
    }

    #[test]
    fn without_the_attachments_stage_nothing_is_refused() {
        let config = Config::builder()
            .stages(vec![mimeinject::Stage::AddHeader("X-A: 1".into())])
            .build()
            .unwrap();
        let input = mixed("Content-Type: =?utf-8?q?application/x-mimeinject?=\n\n");
        let out = all_ways(&config, &input).unwrap();
        assert_eq!(out, input.replacen("\n\n", "\nX-A: 1\n\n", 1));
    }
}

mod header_lines_that_are_not_fields {
    use super::*;

    #[test]
    fn in_a_stub_the_stub_is_refused() {
        // reliability/stub-header-invalid-field-name.eml
        let e =
            refuse(&mixed("Content-Type: application/x-mimeinject; path=report.csv\nX Y: z\n\n"));
        assert_eq!(
            e,
            "MIME structure: placeholder in a message with a defect: the header line \"X Y: z\" \
             is not a field (at byte 124)"
        );
        for line in ["no colon at all", ": empty name", "Na\u{e9}me: x", "Tab\there: x"] {
            let e = refuse(&mixed(&format!(
                "Content-Type: application/x-mimeinject; path=report.csv\n{line}\n\n"
            )));
            assert!(e.contains("is not a field"), "{line}: {e}");
        }
    }

    #[test]
    fn a_header_block_that_runs_into_a_delimiter_is_refused() {
        // reliability/stub-after-nonfield-line-left-unreplaced.eml
        let e = refuse(
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=m\n\n--m\n\
             Content-Type: multipart/alternative; boundary=a\n--a\n\
             Content-Type: application/x-mimeinject; path=report.csv\n\n--a--\n--m--\n",
        );
        assert!(e.contains("the header line \"--a\" is not a field"), "{e}");
    }

    #[test]
    fn anywhere_in_the_message_any_placeholder_is_refused() {
        // In another part's header, and in the message's own header.
        let e = refuse(&mixed(
            "Content-Type: text/plain\nbroken line\n\nx\n--b\n\
             Content-Type: application/x-mimeinject; path=report.csv\n\n",
        ));
        assert!(e.contains("\"broken line\" is not a field"), "{e}");
        let e =
            refuse(&mixed("Content-Type: application/x-mimeinject; path=report.csv\n\n").replacen(
                "From: a@example.test\n",
                "From: a@example.test\n  \nbroken\n",
                1,
            ));
        assert!(e.contains("\"broken\" is not a field"), "{e}");
        // A continuation line with nothing to continue.
        let e = refuse(
            "  orphan continuation\nContent-Type: application/x-mimeinject; path=report.csv\n\n",
        );
        assert!(e.contains("\"  orphan continuation\" is not a field"), "{e}");
        // A body-line placeholder too.
        let e = refuse(&mixed(
            "Content-Type: text/csv\nContent-Transfer-Encoding: base64\nX Y: z\n\n\
             mimeinject: path=report.csv\n",
        ));
        assert!(e.contains("is not a field"), "{e}");
    }

    #[test]
    fn without_a_placeholder_the_message_passes_byte_identical() {
        for input in [
            mixed("Content-Type: text/plain\nX Y: z\n\nbody\n"),
            "From nobody Mon Jan  1 00:00:00 2026\nnot a field\nSubject: s\n\nbody\n".to_owned(),
            "  orphan\nSubject: s\n\nbody\n".to_owned(),
            mixed("Content-Type: application/pdf\n--b-not-a-delimiter\n\nbody\n"),
        ] {
            assert_eq!(deliver(&input), input);
        }
    }

    #[test]
    fn an_mbox_envelope_line_at_the_top_is_kept_and_is_no_defect() {
        let input = format!(
            "From sender@example.test Mon Nov 30 10:00:00 2026\n{}",
            mixed("Content-Type: application/x-mimeinject; path=report.csv\n\n")
        );
        let out = deliver(&input);
        assert!(out.starts_with("From sender@example.test Mon Nov 30 10:00:00 2026\nFrom: a@"));
        assert!(out.contains("\nYSxiCjEsMgo=\n"), "{out}");
        // Only as the message's first line.
        let e = refuse(&input.replacen("From sender", "Subject: s\nFrom sender", 1));
        assert!(e.contains("is not a field"), "{e}");
    }
}

mod signed_mail {
    use super::*;

    fn smime(inner: &str) -> String {
        format!(
            "MIME-Version: 1.0\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\";\n \
             micalg=sha-256; boundary=s\n\n--s\n{inner}--s\n\
             Content-Type: application/pkcs7-signature; name=smime.p7s\n\
             Content-Transfer-Encoding: base64\n\nMIIB\n--s--\n"
        )
    }

    const STUB: &str = "Content-Type: application/x-mimeinject; path=report.csv\n\n";

    #[test]
    fn a_stub_inside_multipart_signed_or_encrypted_is_refused() {
        // Case 14: directly, and deeper inside the signed half.
        let e = refuse(&smime(STUB));
        assert!(
            e.starts_with(
                "signed message: placeholder inside multipart/signed: replacing it would break \
                 the signature; attach the file before signing (at byte "
            ),
            "{e}"
        );
        let nested = format!(
            "Content-Type: multipart/mixed; boundary=m\n\n--m\nContent-Type: text/plain\n\nx\n\
             --m\n{STUB}--m--\n"
        );
        assert!(refuse(&smime(&nested)).contains("inside multipart/signed"));
        let encrypted = format!(
            "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; \
             boundary=e\n\n--e\nContent-Type: application/pgp-encrypted\n\nVersion: 1\n--e\n\
             {STUB}--e--\n"
        );
        let e = refuse(&encrypted);
        assert!(e.contains("inside multipart/encrypted: replacing it would break the encrypted"));
    }

    #[test]
    fn a_body_line_inside_signed_or_pkcs7_data_is_refused() {
        let line = "Content-Type: text/csv\nContent-Transfer-Encoding: base64\n\n\
                    mimeinject: path=report.csv\n";
        assert!(refuse(&smime(line)).contains("inside multipart/signed"));
        for ty in ["application/pkcs7-mime; smime-type=enveloped-data", "Application/X-PKCS7-MIME"]
        {
            let e = refuse(&format!(
                "MIME-Version: 1.0\nContent-Type: {ty}\nContent-Transfer-Encoding: base64\n\n\
                 MIIB\nmimeinject: path=report.csv\n"
            ));
            assert!(e.contains("body-line placeholder inside application/pkcs7-mime"), "{e}");
        }
        // Outside the signed part, the same line is replaced.
        let out = deliver(&mixed(line.trim_start_matches('\n')));
        assert!(out.contains("\nYSxiCjEsMgo=\n"), "{out}");
    }

    #[test]
    fn a_dkim_or_arc_signed_message_with_a_placeholder_is_refused() {
        for field in ["DKIM-Signature", "ARC-Message-Signature", "ARC-Seal", "dkim-signature"] {
            let input =
                format!("{field}: v=1; a=rsa-sha256; d=example.test;\n b=AAAA\n{}", mixed(STUB));
            let e = refuse(&input);
            let canonical = if field == "dkim-signature" { "DKIM-Signature" } else { field };
            assert!(
                e.starts_with(&format!(
                    "signed message: the message carries a {canonical}, which replacing the \
                     placeholder would break; sign at the MTA's transport instead, or remove \
                     the stale signature (--strip-header {canonical})"
                )),
                "{e}"
            );
            // Single-part: the message is the stub.
            let single = format!("{field}: v=1\nFrom: a@example.test\n{STUB}");
            assert!(refuse(&single).contains("carries a"));
        }
    }

    #[test]
    fn stripping_the_stale_signature_makes_it_deliverable() {
        let input = format!("DKIM-Signature: v=1; d=example.test;\n b=AAAA\n{}", mixed(STUB));
        let config = Config::builder()
            .stages(vec![
                mimeinject::Stage::Attachments,
                mimeinject::Stage::StripHeader("DKIM-Signature".into()),
            ])
            .build()
            .unwrap();
        let out = all_ways(&config, &input).unwrap();
        assert!(out.starts_with("From: a@example.test\n"), "{out}");
        assert!(out.contains("\nYSxiCjEsMgo=\n"), "{out}");
        // A signature only inside an attached message, or in a part header, is not the
        // message's own.
        let inner = mixed(&format!(
            "Content-Type: message/rfc822\n\nDKIM-Signature: v=1\nSubject: s\n\nx\n--b\n{STUB}"
        ));
        assert!(deliver(&inner).contains("\nYSxiCjEsMgo=\n"));
        let part = mixed(&format!("DKIM-Signature: v=1\n{STUB}"));
        assert!(deliver(&part).contains("\nYSxiCjEsMgo=\n"));
    }

    #[test]
    fn signed_mail_without_a_placeholder_passes_byte_identical() {
        for input in [
            smime("Content-Type: text/plain\n\nsigned text\n"),
            format!("DKIM-Signature: v=1; b=AAAA\n{}", mixed("Content-Type: text/plain\n\nx\n")),
            "Content-Type: application/pkcs7-mime\nContent-Transfer-Encoding: base64\n\nMIIB\n"
                .to_owned(),
            // A placeholder-looking text line in a signed text part is text.
            smime("Content-Type: text/plain\n\nmimeinject: path=report.csv\n"),
        ] {
            assert_eq!(deliver(&input), input);
        }
    }

    #[test]
    fn an_unsigned_stub_left_as_it_is_breaks_nothing() {
        // With a key and --unsigned=pass, an unsigned stub is not honoured: nothing changes,
        // so nothing is refused.
        let key = mimeinject::sign::SigningKey::from_bytes(b"0123456789abcdef").unwrap();
        let config =
            Config::builder().key(key).unsigned(mimeinject::UnsignedPolicy::Pass).build().unwrap();
        let input = smime(STUB);
        assert_eq!(all_ways(&config, &input).unwrap(), input);
        let input = format!("DKIM-Signature: v=1\n{}", mixed(STUB));
        assert_eq!(all_ways(&config, &input).unwrap(), input);
    }

    #[test]
    fn the_error_kind_is_signed() {
        let input = smime(STUB);
        let err = refusal(&input);
        assert!(matches!(err.kind(), ErrorKind::Signed(_)), "{err}");
    }
}

mod header_order {
    use super::*;

    #[test]
    fn a_single_part_stub_keeps_the_order_of_the_header() {
        // Issue 12: the content fields used to land above Return-path: and Received:.
        let out = deliver(
            "Return-path: <a@example.test>\nReceived: x\nFrom: a@b\n\
             Content-Type: application/x-mimeinject; path=\"report.csv\"\nSubject: s\n\nstub\n",
        );
        assert_eq!(
            out,
            "Return-path: <a@example.test>\nReceived: x\nFrom: a@b\nMIME-Version: 1.0\n\
             Content-Type: text/csv; name=\"report.csv\"\n\
             Content-Disposition: attachment; filename=\"report.csv\"; size=8\n\
             Content-Transfer-Encoding: base64\nSubject: s\n\nYSxiCjEsMgo=\n"
        );
        // A MIME-Version already there stays where it was.
        let out = deliver(
            "Received: x\nContent-Transfer-Encoding: 7bit\nMIME-Version: 1.0\n\
             Content-Type: application/x-mimeinject; path=\"report.csv\"\n\n",
        );
        assert!(
            out.starts_with(
                "Received: x\nContent-Type: text/csv; name=\"report.csv\"\n\
                 Content-Disposition: attachment; filename=\"report.csv\"; size=8\n\
                 Content-Transfer-Encoding: base64\nMIME-Version: 1.0\n\n"
            ),
            "{out}"
        );
    }

    #[test]
    fn a_stub_part_keeps_its_other_fields_around_the_content_fields() {
        let out = deliver(&mixed(
            "Content-ID: <a@b>\nContent-Type: application/x-mimeinject; path=report.csv\n\
             Content-Disposition: inline\nX-Note: n\n\n",
        ));
        assert_eq!(
            attachment_header(&out),
            "Content-ID: <a@b>\nContent-Type: text/csv; name=\"report.csv\"\n\
             Content-Disposition: inline; filename=\"report.csv\"; size=8\n\
             Content-Transfer-Encoding: base64\nX-Note: n\n"
        );
    }
}

mod line_endings {
    use super::*;

    /// Every line of `text` ends in `eol` (the last may have none).
    fn all_end_in(text: &str, eol: &str) -> bool {
        let other = if eol == "\n" { "\r\n" } else { "\n" };
        text.split_inclusive('\n').all(|l| l.ends_with(eol) || !l.ends_with(other))
    }

    #[test]
    fn an_lf_body_under_crlf_header_fields_gets_lf() {
        // The header (say, a DKIM-Signature added in CRLF and stripped) ends lines in CRLF,
        // the body in LF.
        let input = "Received: x\r\nFrom: a@example.test\r\nMIME-Version: 1.0\r\n\
                     Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\n\
                     Content-Type: application/x-mimeinject; path=report.csv\n\n--b--\n";
        let out = deliver(input);
        let part = &out[out.find("--b\n").unwrap()..];
        assert!(!part.contains('\r'), "{out:?}");
        assert!(
            part.ends_with("size=8\nContent-Transfer-Encoding: base64\n\nYSxiCjEsMgo=\n\n--b--\n")
        );
    }

    #[test]
    fn crlf_content_in_an_lf_message_gets_crlf() {
        // Case 14's shape, in multipart/mixed: CRLF content under an LF message header.
        let input = "From: a@example.test\nMIME-Version: 1.0\n\
                     Content-Type: multipart/mixed; boundary=o\n\n--o\n\
                     Content-Type: multipart/mixed; boundary=\"i\"\r\n\r\n--i\r\n\
                     Content-Type: text/plain\r\n\r\ntext\r\n--i\r\n\
                     Content-Type: application/x-mimeinject; path=report.csv\r\n\r\n--i--\r\n\n\
                     --o--\n";
        let out = deliver(input);
        let start = out.find("--i\r\nContent-Type: text/csv").unwrap();
        let end = out.find("--i--").unwrap();
        let part = &out[start..end];
        assert!(all_end_in(part, "\r\n"), "{part:?}");
        assert!(part.ends_with("\r\n\r\nYSxiCjEsMgo=\r\n\r\n"), "{part:?}");
        // The rest is untouched.
        assert!(out.starts_with(&input[..input.find("--i\r\nContent-Type: app").unwrap()]));
        assert!(out.ends_with("--i--\r\n\n--o--\n"));
    }

    #[test]
    fn a_body_line_follows_its_own_line_ending() {
        let big = (0..200u8).collect::<Vec<u8>>();
        let mut source = files();
        source.insert("big.bin", big);
        for (line_eol, message_eol) in [("\r\n", "\n"), ("\n", "\r\n")] {
            let e = message_eol;
            let input = format!(
                "From: a{e}Content-Type: multipart/mixed; boundary=b{e}{e}--b{e}\
                 Content-Type: application/octet-stream{e}Content-Transfer-Encoding: base64{e}{e}\
                 mimeinject: path=big.bin{line_eol}--b--{e}"
            );
            let out = run_chunked(&Config::default(), &source, input.as_bytes(), |_| 5).unwrap();
            let out = String::from_utf8(out).unwrap();
            let body_start = input.find("mimeinject:").unwrap();
            let body = &out[body_start..out.rfind("--b--").unwrap()];
            assert_eq!(body.lines().count(), 4, "{body:?}");
            assert!(all_end_in(body, line_eol), "{body:?}");
        }
    }

    #[test]
    fn the_drivers_write_the_file_in_the_part_s_line_ending() {
        let input = "Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\n\
                     Content-Type: application/x-mimeinject; path=report.csv\n\n--b--\n";
        for window in [0, 1 << 20] {
            let config = Config::builder().preflight_window(window).build().unwrap();
            let mut out = Vec::new();
            mimeinject::rewrite(&config, &files(), &mut input.as_bytes(), &mut out).unwrap();
            let out = String::from_utf8(out).unwrap();
            assert!(out.ends_with("base64\n\nYSxiCjEsMgo=\n\n--b--\n"), "window {window}: {out:?}");
        }
    }

    #[test]
    fn the_sans_io_api_reports_the_attachment_s_line_ending() {
        use mimeinject::{Action, Eol, Rewriter};
        let input = b"Subject: s\r\n\r\n";
        let mut rw = Rewriter::new(Config::default());
        let step = rw.step(input, true).unwrap();
        assert!(matches!(step.action, Action::Write(_)));
        assert_eq!(rw.eol(), Eol::CrLf, "the message's, with nothing pending");
        let input = b"Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\n\
                      Content-Type: application/x-mimeinject; path=x\n\n--b--\n";
        let mut rw = Rewriter::new(Config::default());
        let mut pos = 0;
        loop {
            let step = rw.step(&input[pos..], true).unwrap();
            pos += step.consumed;
            if let Action::Attach(_) = step.action {
                break;
            }
        }
        assert_eq!(rw.eol(), Eol::Lf, "the stub's, while it is pending");
        rw.begin_attachment(0).unwrap();
        rw.end_attachment(0).unwrap();
        assert_eq!(rw.eol(), Eol::CrLf, "the message's again");
    }
}
