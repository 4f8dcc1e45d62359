//! DKIM for the end-to-end tests: an RSA key made with `openssl`, signing and verifying with
//! Python's `dkimpy` (Debian's `python3-dkim`), the public key handed to the verifier through
//! `dnsfunc` so that no DNS is involved.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::exim::{id_of, EXIM_USER};
use super::run;

/// Debian's python, which `python3-dkim` installs into (a `python3` earlier in `PATH`, from
/// pyenv say, would not have it).
const PYTHON: &str = "/usr/bin/python3";

/// Why the DKIM tests cannot run here, if they cannot.
pub fn missing() -> Option<String> {
    let dkimpy = Command::new(PYTHON).args(["-c", "import dkim"]).output();
    if !dkimpy.is_ok_and(|o| o.status.success()) {
        return Some(format!("{PYTHON} cannot import dkim (apt-get install python3-dkim)"));
    }
    if Command::new("openssl").arg("version").output().is_err() {
        return Some("openssl not installed".into());
    }
    None
}

/// A 2048-bit RSA key in `dir`: the private key readable by the exim user (exim signs as that
/// user), and the public key as the base64 of its DER form (a DNS record's `p=`).
pub struct Key {
    /// The private key, PEM.
    pub private: PathBuf,
    /// `p=` of the DNS record.
    pub public_b64: String,
}

impl Key {
    /// Makes a key in `dir`.
    pub fn new(dir: &Path) -> Key {
        let private = dir.join("dkim.key");
        let out = run(
            Command::new("openssl").arg("genrsa").arg("-out").arg(&private).arg("2048"),
            b"",
            Duration::from_secs(60),
        );
        out.assert_success("openssl genrsa");
        let out = run(
            Command::new("openssl")
                .args(["rsa", "-pubout", "-outform", "DER", "-in"])
                .arg(&private),
            b"",
            Duration::from_secs(60),
        );
        out.assert_success("openssl rsa -pubout");
        let public_b64 = base64_simd::STANDARD.encode_to_string(&out.stdout);
        let gid = id_of("-g", EXIM_USER).expect("gid of the exim user");
        std::os::unix::fs::chown(&private, Some(0), Some(gid)).unwrap();
        fs::set_permissions(&private, fs::Permissions::from_mode(0o640)).unwrap();
        Key { private, public_b64 }
    }

    /// `message` (LF line endings) with a `DKIM-Signature:` made with this key for `domain`
    /// and `selector` (relaxed/relaxed) on top, as an application that signs before
    /// queueing would submit it.
    pub fn sign(&self, message: &[u8], domain: &str, selector: &str) -> Vec<u8> {
        const SIGN: &str = r#"
import sys, dkim
key = open(sys.argv[1], "rb").read()
msg = sys.stdin.buffer.read().replace(b"\n", b"\r\n")
sig = dkim.sign(msg, sys.argv[3].encode(), sys.argv[2].encode(), key,
                canonicalize=(b"relaxed", b"relaxed"),
                include_headers=[b"from", b"to", b"subject", b"mime-version", b"content-type"])
sys.stdout.buffer.write((sig + msg).replace(b"\r\n", b"\n"))
"#;
        let out = run(
            Command::new(PYTHON).args(["-c", SIGN]).arg(&self.private).args([domain, selector]),
            message,
            Duration::from_secs(60),
        );
        out.assert_success("dkimpy sign");
        out.stdout
    }

    /// Verifies every `DKIM-Signature` of `wire` (the message as received, CRLF) with this
    /// key standing for `selector._domainkey.domain`. One line per signature:
    /// `d=DOMAIN s=SELECTOR pass` or `... fail`.
    pub fn verify(&self, wire: &[u8], domain: &str, selector: &str) -> Vec<String> {
        const VERIFY: &str = r#"
import sys, dkim
name, record = sys.argv[1].encode(), sys.argv[2].encode()
def dnsfunc(qname, timeout=5):
    qname = qname if qname.endswith(b".") else qname + b"."
    return record if qname == name else None
msg = sys.stdin.buffer.read()
d = dkim.DKIM(msg)
count = sum(1 for line in msg.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
            if line.lower().startswith(b"dkim-signature:"))
for i in range(count):
    ok = d.verify(idx=i, dnsfunc=dnsfunc)
    print("d=%s s=%s %s" % (d.domain.decode(), d.selector.decode(), "pass" if ok else "fail"))
"#;
        let name = format!("{selector}._domainkey.{domain}.");
        let record = format!("v=DKIM1; k=rsa; p={}", self.public_b64);
        let out = run(
            Command::new(PYTHON).args(["-c", VERIFY, &name, &record]),
            wire,
            Duration::from_secs(60),
        );
        out.assert_success("dkimpy verify");
        String::from_utf8(out.stdout).unwrap().lines().map(str::to_owned).collect()
    }
}
