//! The next hops `mimeinject deliver` is tested against: a private exim
//! daemon as an SMTP relay (STARTTLS, AUTH), and a private Dovecot as an
//! LMTP server. Each lives in a temporary directory of its own, listens
//! only on 127.0.0.1 (on a port chosen here) or a UNIX socket in that
//! directory, and is stopped by killing the process this harness started,
//! by its PID. The machine's exim and Dovecot configurations and services
//! are never used.

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Debian's exim (`exim4-daemon-light`) and the user it delivers as.
const EXIM: &str = "/usr/sbin/exim4";
const EXIM_USER: &str = "Debian-exim";
/// Debian's Dovecot (`dovecot-core`, `dovecot-lmtpd`).
const DOVECOT: &str = "/usr/sbin/dovecot";

/// The login the exim next hop accepts (AUTH PLAIN and LOGIN).
pub const AUTH_USER: &str = "mimeinject";
/// Its password.
pub const AUTH_PASSWORD: &str = "s3cret pass";

const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Why the next-hop tests cannot run here, if they cannot.
pub fn missing() -> Option<String> {
    for (path, package) in [
        (EXIM, "exim4-daemon-light"),
        (DOVECOT, "dovecot-core"),
        ("/usr/lib/dovecot/lmtp", "dovecot-lmtpd"),
        ("/usr/bin/openssl", "openssl"),
    ] {
        if !Path::new(path).exists() {
            return Some(format!("{path} missing (apt-get install {package})"));
        }
    }
    None
}

/// A private exim daemon on 127.0.0.1: STARTTLS with a certificate for
/// 127.0.0.1 signed by a CA of its own ([`EximHop::ca_file`]), AUTH PLAIN
/// and LOGIN after TLS for [`AUTH_USER`], local delivery of
/// `*@example.test` to maildirs.
pub struct EximHop {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl EximHop {
    /// Writes the configuration and certificates, starts `exim -bdf`, and
    /// waits until it accepts connections.
    pub fn start() -> Result<EximHop, String> {
        let dir = tempfile::Builder::new()
            .prefix("mimeinject-nexthop.")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
        let uid = id(EXIM_USER, "-u")?;
        let gid = id(EXIM_USER, "-g")?;
        for sub in ["spool", "log", "mail"] {
            fs::create_dir(d.join(sub)).map_err(|e| e.to_string())?;
            chown(d.join(sub), Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        }
        make_certificates(d)?;
        for f in ["leaf.pem", "leaf.key"] {
            chown(d.join(f), Some(uid), Some(gid)).map_err(|e| e.to_string())?;
        }
        let port = free_port();
        let conf =
            CONFIG.replace("@DIR@", d.to_str().unwrap()).replace("@PORT@", &port.to_string());
        fs::write(d.join("exim.conf"), conf).map_err(|e| e.to_string())?;
        let out = fs::File::create(d.join("daemon.out")).map_err(|e| e.to_string())?;
        let child = Command::new(EXIM)
            .arg("-C")
            .arg(d.join("exim.conf"))
            .args(["-bdf", "-oX", &port.to_string()])
            .env_clear()
            .stdin(Stdio::null())
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .spawn()
            .map_err(|e| format!("{EXIM}: {e}"))?;
        let mut hop = EximHop { dir, port, child: Some(child) };
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = hop.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(format!("exim -bdf exited ({status}): {}", hop.log()));
            }
            if Instant::now() > deadline {
                return Err(format!("exim did not listen within {START_TIMEOUT:?}: {}", hop.log()));
            }
            sleep(Duration::from_millis(50));
        }
        Ok(hop)
    }

    /// The port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PEM file of the CA that signed the next hop's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// exim's main log and the daemon's own output.
    pub fn log(&self) -> String {
        let d = self.dir.path();
        let read = |p: PathBuf| fs::read_to_string(p).unwrap_or_default();
        format!(
            "{}{}{}",
            read(d.join("log/mainlog")),
            read(d.join("log/paniclog")),
            read(d.join("daemon.out"))
        )
    }

    /// The messages delivered to `local_part@example.test`, sorted by name,
    /// once exim has finished writing them (bounded wait for `count`).
    pub fn delivered(&self, local_part: &str, count: usize) -> Vec<Vec<u8>> {
        let dir = self.dir.path().join("mail").join(local_part).join("Maildir/new");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut files: Vec<PathBuf> = fs::read_dir(&dir)
                .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            if files.len() >= count || Instant::now() > deadline {
                files.sort();
                return files.iter().map(|f| fs::read(f).unwrap()).collect();
            }
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for EximHop {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The daemon this harness started, by its PID; exim's delivery
            // processes are done by the time a test drops it.
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("exim next hop log:\n{}", self.log());
        }
    }
}

/// The exim next hop's configuration. `@DIR@`, `@PORT@` are filled in.
const CONFIG: &str = r#"
primary_hostname = nexthop.test
qualify_domain = example.test
spool_directory = @DIR@/spool
log_file_path = @DIR@/log/%slog
log_selector = +tls_cipher +received_recipients
exim_path = /usr/sbin/exim4
keep_environment =
daemon_smtp_ports = @PORT@
local_interfaces = 127.0.0.1
message_size_limit = 0
host_lookup =
rfc1413_hosts =
tls_advertise_hosts = *
tls_certificate = @DIR@/leaf.pem
tls_privatekey = @DIR@/leaf.key
auth_advertise_hosts = ${if def:tls_in_cipher {*}{}}
acl_smtp_rcpt = acl_rcpt

begin acl

acl_rcpt:
  accept domains = example.test
  deny message = 550 relay not permitted

begin routers

local:
  driver = accept
  domains = example.test
  # Sets $local_part_data, which (unlike the tainted $local_part) may be
  # used in the maildir's path.
  local_parts = user : second
  transport = maildir

begin transports

maildir:
  driver = appendfile
  maildir_format = true
  directory = @DIR@/mail/${local_part_data}/Maildir
  create_directory = true
  user = Debian-exim
  group = Debian-exim

begin retry

* * F,1h,1h

begin authenticators

plain:
  driver = plaintext
  public_name = PLAIN
  server_prompts = :
  server_condition = ${if and {{eq{$auth2}{mimeinject}}{eq{$auth3}{s3cret pass}}}}
  server_set_id = $auth2

login:
  driver = plaintext
  public_name = LOGIN
  server_prompts = Username:: : Password::
  server_condition = ${if and {{eq{$auth1}{mimeinject}}{eq{$auth2}{s3cret pass}}}}
  server_set_id = $auth1
"#;

/// A CA and a leaf certificate for 127.0.0.1 signed by it, with openssl.
fn make_certificates(d: &Path) -> Result<(), String> {
    let openssl = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr)))
        }
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=mimeinject test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ])?;
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=nexthop.test",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
    ])?;
    fs::write(d.join("leaf.ext"), "subjectAltName=IP:127.0.0.1,DNS:nexthop.test\n")
        .map_err(|e| e.to_string())?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
        "-out",
        "leaf.pem",
    ])
}

/// A private Dovecot with only LMTP, on a UNIX socket in its directory,
/// delivering every `user@domain` to `mail/domain/user/Maildir` as
/// `nobody`.
pub struct Dovecot {
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Dovecot {
    /// Writes the configuration, starts `dovecot -F -c`, waits for the
    /// socket.
    pub fn start() -> Result<Dovecot, String> {
        let dir = tempfile::Builder::new()
            .prefix("mimeinject-dovecot.")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let d = dir.path();
        fs::set_permissions(d, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
        fs::create_dir(d.join("mail")).map_err(|e| e.to_string())?;
        chown(d.join("mail"), Some(65534), Some(65534)).map_err(|e| e.to_string())?;
        let conf = DOVECOT_CONFIG.replace("@DIR@", d.to_str().unwrap());
        fs::write(d.join("dovecot.conf"), conf).map_err(|e| e.to_string())?;
        let out = fs::File::create(d.join("daemon.out")).map_err(|e| e.to_string())?;
        let child = Command::new(DOVECOT)
            .arg("-F")
            .arg("-c")
            .arg(d.join("dovecot.conf"))
            .env_clear()
            .stdin(Stdio::null())
            .stdout(out.try_clone().map_err(|e| e.to_string())?)
            .stderr(out)
            .spawn()
            .map_err(|e| format!("{DOVECOT}: {e}"))?;
        let mut dc = Dovecot { dir, child: Some(child) };
        let deadline = Instant::now() + START_TIMEOUT;
        while std::os::unix::net::UnixStream::connect(dc.socket()).is_err() {
            if let Some(status) = dc.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(format!("dovecot exited ({status}): {}", dc.log()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "dovecot did not listen within {START_TIMEOUT:?}: {}",
                    dc.log()
                ));
            }
            sleep(Duration::from_millis(50));
        }
        Ok(dc)
    }

    /// The LMTP socket.
    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run/lmtp")
    }

    /// Dovecot's log.
    pub fn log(&self) -> String {
        let d = self.dir.path();
        let read = |p: PathBuf| fs::read_to_string(p).unwrap_or_default();
        format!("{}{}", read(d.join("dovecot.log")), read(d.join("daemon.out")))
    }

    /// The messages in `user@domain`'s INBOX (bounded wait for `count`).
    pub fn delivered(&self, domain: &str, user: &str, count: usize) -> Vec<Vec<u8>> {
        let base = self.dir.path().join("mail").join(domain).join(user).join("Maildir");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut files: Vec<PathBuf> = ["new", "cur"]
                .iter()
                .filter_map(|s| fs::read_dir(base.join(s)).ok())
                .flatten()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            if files.len() >= count || Instant::now() > deadline {
                files.sort();
                return files.iter().map(|f| fs::read(f).unwrap()).collect();
            }
            sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM to the master this harness started (by PID): it stops
            // its own children.
            // SAFETY: kill(2) on our own child's PID.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("dovecot log:\n{}", self.log());
        }
    }
}

const DOVECOT_CONFIG: &str = r#"
base_dir = @DIR@/run
state_dir = @DIR@/state
log_path = @DIR@/dovecot.log
protocols = lmtp
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
mail_location = maildir:@DIR@/mail/%d/%n/Maildir
first_valid_uid = 1
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=@DIR@/mail/%d/%n allow_all_users=yes
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
}
"#;

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn id(user: &str, flag: &str) -> Result<u32, String> {
    let out = Command::new("id").args([flag, user]).output().map_err(|e| e.to_string())?;
    String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|_| format!("no user {user}"))
}
