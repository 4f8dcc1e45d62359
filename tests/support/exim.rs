//! A private, throw-away exim instance for end-to-end tests.
//!
//! Its transport is the guide's own generic recipe (`exim/remote_smtp.conf` or
//! `exim/local_delivery.conf`, read from docs/exim.md), with the paths of this instance put in
//! and the options a test needs set on top ([`TransportBlock`]), so that the documented
//! configuration is what the tests run.
//!
//! Each [`Exim`] owns a temporary directory holding its configuration,
//! spool, logs, maildirs, an attachment root and a directory the filter
//! may write its log to. exim is run as root with `-C` pointing at that
//! configuration, never as a daemon: messages are submitted with `-odq`
//! (queue only) and delivered explicitly with `-M` or `-qff`, so a test
//! decides when the transport filter runs and every step ends before the
//! next begins. The system's exim configuration, spool and daemon are not
//! used.
//!
//! exim runs the transport filter as its own user (`Debian-exim`), with
//! umask 077 and an empty environment, and for local deliveries also
//! delivers as that user here (`user =` on the transport). Everything the
//! filter reads must therefore be readable by that user, and the
//! directories it writes to owned by it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::{readme, run, Output};

/// The exim binary of Debian's `exim4-daemon-light` package.
pub const EXIM: &str = "/usr/sbin/exim4";

/// The user exim delivers and runs the filter as on Debian.
pub const EXIM_USER: &str = "Debian-exim";

/// The domain the test routers accept.
pub const DOMAIN: &str = "example.test";

/// The local parts the test routers accept. A router's `local_parts` list
/// is what sets the untainted `$local_part_data` that a filter command may
/// use (exim 4.96 fails an address whose filter arguments are tainted).
pub const LOCAL_PARTS: &[&str] = &["user", "alice", "bob", "carol"];

/// Upper bound for one exim command (submission, delivery, queue list).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// How a test instance delivers.
#[derive(Clone, Copy, Debug)]
pub enum Transport {
    /// Local delivery to `mail/<local part>/Maildir` through the README's
    /// `exim/local_delivery.conf` (appendfile, maildir).
    Maildir,
    /// SMTP delivery through the README's `exim/remote_smtp.conf`, to a
    /// server on 127.0.0.1 at this port (see `smtp_sink`).
    Smtp {
        /// The receiving server's port on 127.0.0.1.
        port: u16,
    },
}

/// Where the README's recipes install the binary and the attachment root;
/// a test instance puts its own paths there.
pub const README_BINARY: &str = "/usr/local/bin/mimeinject";
/// See [`README_BINARY`].
pub const README_ROOT: &str = "/srv/mail-attachments";

/// The absolute path of the filter program under test: this crate's
/// binary, or `MIMEINJECT_EXIM_FILTER` (another program with the same
/// command line).
pub fn filter_program() -> String {
    let program = match std::env::var("MIMEINJECT_EXIM_FILTER") {
        Ok(program) if !program.is_empty() => program,
        _ => super::bin::path().to_str().unwrap().to_string(),
    };
    // exim requires an absolute path; a relative override is taken from
    // the package root, where cargo runs the tests.
    let path = fs::canonicalize(Path::new(&program))
        .unwrap_or_else(|e| panic!("filter program {program}: {e}"));
    path.to_str().unwrap().to_string()
}

/// One transport definition: its name and its option lines, as in an exim
/// configuration file. Built from a README recipe and edited option by
/// option, the way an administrator adapts it.
#[derive(Clone, Debug)]
pub struct TransportBlock {
    /// The transport's name (the `NAME:` line).
    pub name: String,
    /// The lines after the name, comments included, without newlines.
    lines: Vec<String>,
}

impl TransportBlock {
    /// Reads the first transport definition in `text` (comment lines and
    /// blank lines before it are skipped).
    pub fn parse(text: &str) -> TransportBlock {
        let mut lines = text.lines().skip_while(|l| l.trim().is_empty() || l.starts_with('#'));
        let name = lines.next().and_then(|l| l.strip_suffix(':')).expect("a `NAME:` line");
        TransportBlock { name: name.trim().to_string(), lines: lines.map(str::to_string).collect() }
    }

    /// The README recipe `recipe`, with the README's binary and root
    /// replaced by `program` and `root`.
    pub fn from_recipe(recipe: &str, program: &str, root: &Path) -> TransportBlock {
        let text = readme::recipe(recipe)
            .replace(README_BINARY, program)
            .replace(README_ROOT, root.to_str().unwrap());
        TransportBlock::parse(&text)
    }

    /// Whether `line` sets `option` (`option = …`, or the bare boolean).
    fn sets(line: &str, option: &str) -> bool {
        let t = line.trim_start();
        !t.starts_with('#')
            && t.strip_prefix(option).is_some_and(|r| r.is_empty() || r.starts_with([' ', '=']))
    }

    /// Sets `option` to `value`: replaces the line that sets it, or adds
    /// one at the end. An empty `value` writes the bare option (a boolean).
    pub fn set(&mut self, option: &str, value: &str) -> &mut Self {
        let line =
            if value.is_empty() { format!("  {option}") } else { format!("  {option} = {value}") };
        match self.lines.iter_mut().find(|l| Self::sets(l, option)) {
            Some(l) => *l = line,
            None => self.lines.push(line),
        }
        self
    }

    /// Removes the line that sets `option`; panics if there is none, so a
    /// test cannot believe it removed what the recipe never had.
    pub fn remove(&mut self, option: &str) -> &mut Self {
        let before = self.lines.len();
        self.lines.retain(|l| !Self::sets(l, option));
        assert!(self.lines.len() < before, "{} does not set {option}", self.name);
        self
    }

    /// The value of `option`, if set.
    pub fn get(&self, option: &str) -> Option<&str> {
        let line = self.lines.iter().find(|l| Self::sets(l, option))?;
        Some(line.split_once('=').map_or("", |(_, v)| v.trim()))
    }

    /// The definition as configuration text.
    pub fn text(&self) -> String {
        let mut text = format!("{}:\n", self.name);
        for line in &self.lines {
            text.push_str(line);
            text.push('\n');
        }
        text
    }
}

/// Why the exim tests cannot run on this machine, if they cannot.
pub fn missing() -> Option<String> {
    if !Path::new(EXIM).exists() {
        return Some("exim not installed".to_string());
    }
    if id_of("-u", "") != Some(0) {
        return Some("exim tests must run as root (exim -C with a private spool)".to_string());
    }
    if id_of("-u", EXIM_USER).is_none() {
        return Some(format!("exim is installed but user {EXIM_USER} does not exist"));
    }
    None
}

/// Skips the test ([`super::skip`]) and returns true when exim tests cannot run here;
/// under `CI=true` panics instead.
pub fn should_skip() -> bool {
    super::should_skip(missing())
}

/// The numeric uid (`flag` = `-u`) or gid (`-g`) of `user`.
/// An empty `user` means the current user.
pub fn id_of(flag: &str, user: &str) -> Option<u32> {
    let mut cmd = Command::new("id");
    cmd.arg(flag);
    if !user.is_empty() {
        cmd.arg(user);
    }
    let out = cmd.output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// One private exim instance. Dropping it removes its directory.
pub struct Exim {
    /// Holds everything; removed on drop.
    dir: tempfile::TempDir,
    /// The configuration file passed with `-C`.
    conf: PathBuf,
    /// How this instance delivers.
    transport: Transport,
    /// The name of its transport (the README recipe's).
    transport_name: String,
}

/// Main-section lines every test instance has: its own spool and logs, no
/// environment. `base` is the instance's directory.
pub fn private_main(base: &Path) -> String {
    let base = base.display();
    format!(
        "\
primary_hostname = harness.test
qualify_domain = {DOMAIN}
spool_directory = {base}/spool
log_file_path = {base}/log/%slog
# An explicit empty list: otherwise exim warns in the paniclog on each
# start that it is purging its environment.
keep_environment =
exim_path = {EXIM}
"
    )
}

impl Exim {
    /// An instance whose transport is the README's recipe with
    /// `transport_filter` replaced by what `filter` builds. `filter` is
    /// given the new instance so it can name [`Exim::root`] and
    /// [`Exim::filter_dir`]; the string is used as exim's
    /// `transport_filter` value as it is (exim splits it into arguments,
    /// then expands each, so `$` must be written `\$` unless an expansion
    /// is meant).
    pub fn new(transport: Transport, filter: impl FnOnce(&Exim) -> String) -> Exim {
        Exim::with_transport(transport, |exim, t| {
            t.set("transport_filter", &filter(exim));
        })
    }

    /// An instance whose transport is the README's recipe for `transport`
    /// (binary and root put in), plus this instance's test settings, then
    /// changed by `edit`.
    pub fn with_transport(
        transport: Transport,
        edit: impl FnOnce(&Exim, &mut TransportBlock),
    ) -> Exim {
        let mut exim = Exim::layout(transport);
        let mut block = exim.recipe_transport();
        edit(&exim, &mut block);
        exim.transport_name = block.name.clone();
        let filter = block.get("transport_filter").unwrap_or_default();
        assert!(!filter.contains('\n'), "filter command must be one line: {filter:?}");
        fs::write(&exim.conf, exim.config(&block)).unwrap();
        exim
    }

    /// A fresh instance directory with no configuration written yet:
    /// `spool`, `log`, `mail` and `filter` owned by the exim user, and an
    /// empty attachment root, all world-traversable. [`Exim::conf`] is
    /// where its configuration goes.
    pub fn layout(transport: Transport) -> Exim {
        let dir = tempfile::Builder::new().prefix("mimeinject-exim-").tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let conf = dir.path().join("exim.conf");
        let exim = Exim { dir, conf, transport, transport_name: String::new() };

        let uid = id_of("-u", EXIM_USER).expect("uid of the exim user");
        let gid = id_of("-g", EXIM_USER).expect("gid of the exim user");
        for sub in ["spool", "log", "mail", "filter"] {
            let path = exim.dir.path().join(sub);
            fs::create_dir(&path).unwrap();
            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let root = exim.root();
        fs::create_dir(&root).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        exim
    }

    /// The name of the transport (empty for a configuration written elsewhere).
    pub fn transport_name(&self) -> &str {
        &self.transport_name
    }

    /// The configuration file this instance runs with (`exim -C`).
    pub fn conf(&self) -> &Path {
        &self.conf
    }

    /// The README's transport for this instance's kind, with this
    /// instance's paths and the settings every test needs.
    fn recipe_transport(&self) -> TransportBlock {
        let base = self.dir.path().display().to_string();
        match self.transport {
            Transport::Maildir => {
                let mut t = TransportBlock::from_recipe(
                    "exim/local_delivery.conf",
                    &filter_program(),
                    &self.root(),
                );
                t.set("directory", &format!("{base}/mail/${{local_part_data}}/Maildir"))
                    .set("create_directory", "true")
                    .set("user", EXIM_USER)
                    .set("group", EXIM_USER)
                    .set("transport_filter_timeout", "60s");
                t
            }
            Transport::Smtp { port } => {
                let mut t = TransportBlock::from_recipe(
                    "exim/remote_smtp.conf",
                    &filter_program(),
                    &self.root(),
                );
                t.set("port", &port.to_string())
                    .set("allow_localhost", "")
                    .set("hosts_avoid_tls", "*")
                    .set("connect_timeout", "20s")
                    .set("command_timeout", "60s")
                    .set("data_timeout", "60s")
                    .set("transport_filter_timeout", "60s");
                t
            }
        }
    }

    /// The configuration: one router and the transport.
    fn config(&self, transport: &TransportBlock) -> String {
        let local_parts = LOCAL_PARTS.join(" : ");
        let name = &transport.name;
        let router = match self.transport {
            Transport::Maildir => format!(
                "
deliver:
  driver = accept
  domains = {DOMAIN}
  local_parts = {local_parts}
  transport = {name}
"
            ),
            Transport::Smtp { .. } => format!(
                "
deliver:
  driver = manualroute
  domains = {DOMAIN}
  local_parts = {local_parts}
  route_list = * 127.0.0.1
  # The sink is on this host; deliver to it anyway.
  self = send
  transport = {name}
"
            ),
        };
        format!(
            "{}\nbegin routers\n{router}\nbegin transports\n\n{}\nbegin retry\n\n* * F,1h,1h\n",
            private_main(self.dir.path()),
            transport.text()
        )
    }

    /// The instance's directory (world-traversable).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A directory for attachment files, readable by the exim user.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// A directory owned by the exim user, for files the filter writes
    /// (its log file, a capture of its input).
    pub fn filter_dir(&self) -> PathBuf {
        self.dir.path().join("filter")
    }

    /// Runs exim with this instance's configuration and `args`.
    pub fn exim(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut cmd = Command::new(EXIM);
        cmd.arg("-C").arg(&self.conf).args(args).current_dir(self.dir.path());
        cmd.env_clear().env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        run(&mut cmd, stdin, COMMAND_TIMEOUT)
    }

    /// Submits `message` (queue only, no delivery) from `sender` to
    /// `recipients` and returns its exim message id. A line holding only
    /// `.` does not end the message (`-oi`).
    pub fn submit(&self, sender: &str, recipients: &[&str], message: &[u8]) -> String {
        let mut args = vec!["-odq", "-oi", "-f", sender, "--"];
        args.extend_from_slice(recipients);
        let before = self.received_ids().len();
        self.exim(&args, message).assert_success("exim submission");
        let ids = self.received_ids();
        assert_eq!(ids.len(), before + 1, "one new `<=` line in the mainlog:\n{}", self.mainlog());
        ids.last().unwrap().clone()
    }

    /// The ids of every message exim has logged as received (`<=`).
    fn received_ids(&self) -> Vec<String> {
        self.mainlog()
            .lines()
            .filter_map(|line| {
                let words: Vec<&str> = line.split_whitespace().collect();
                let arrow = words.iter().position(|w| *w == "<=")?;
                Some(words.get(arrow.checked_sub(1)?)?.to_string())
            })
            .collect()
    }

    /// Attempts delivery of message `id` now (`exim -M`), whatever its
    /// retry times. exim returns when the attempt has ended.
    pub fn deliver(&self, id: &str) -> Output {
        self.exim(&["-M", id], b"")
    }

    /// Runs the queue once in the foreground, forcing every message
    /// (`exim -qff`).
    pub fn run_queue(&self) -> Output {
        self.exim(&["-qff"], b"")
    }

    /// The queue listing (`exim -bp`).
    pub fn queue(&self) -> String {
        let out = self.exim(&["-bp"], b"");
        out.assert_success("exim -bp");
        String::from_utf8(out.stdout).unwrap()
    }

    /// Whether message `id` is still on the queue, according to `exim -bp`.
    pub fn is_queued(&self, id: &str) -> bool {
        self.queue().split_whitespace().any(|word| word == id)
    }

    /// exim's main log so far (empty if it does not exist yet).
    pub fn mainlog(&self) -> String {
        self.log("mainlog")
    }

    /// exim's panic log so far (empty if it does not exist yet).
    pub fn paniclog(&self) -> String {
        self.log("paniclog")
    }

    /// Reads one of exim's log files.
    fn log(&self, name: &str) -> String {
        fs::read_to_string(self.dir.path().join("log").join(name)).unwrap_or_default()
    }

    /// The files of `local_part`'s maildir, by subdirectory.
    pub fn maildir(&self, local_part: &str) -> Maildir {
        let base = self.dir.path().join("mail").join(local_part).join("Maildir");
        let files = |sub: &str| -> Vec<PathBuf> {
            let Ok(entries) = fs::read_dir(base.join(sub)) else { return Vec::new() };
            let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
            paths.sort();
            paths
        };
        Maildir { new: files("new"), cur: files("cur"), tmp: files("tmp") }
    }

    /// A summary of the instance's state, for assertion messages.
    pub fn report(&self) -> String {
        format!(
            "--- exim -bp ---\n{}--- mainlog ---\n{}--- paniclog ---\n{}",
            self.queue(),
            self.mainlog(),
            self.paniclog()
        )
    }
}

/// The files in one maildir. A maildir that does not exist has none.
#[derive(Debug)]
pub struct Maildir {
    /// Delivered, not yet seen by a reader.
    pub new: Vec<PathBuf>,
    /// Delivered and seen (nothing moves files here in these tests).
    pub cur: Vec<PathBuf>,
    /// Deliveries in progress (or left behind by a failed one).
    pub tmp: Vec<PathBuf>,
}

impl Maildir {
    /// Whether no file is in `new`, `cur` or `tmp`.
    pub fn is_empty(&self) -> bool {
        self.new.is_empty() && self.cur.is_empty() && self.tmp.is_empty()
    }

    /// The contents of every file, in every subdirectory.
    pub fn contents(&self) -> Vec<Vec<u8>> {
        self.new.iter().chain(&self.cur).chain(&self.tmp).map(|p| fs::read(p).unwrap()).collect()
    }
}

impl Exim {
    /// Changes this instance's configuration file with `edit` (the text in, the new text
    /// out): for what a test needs beyond the transport, such as its retry rules.
    pub fn edit_config(&self, edit: impl FnOnce(String) -> String) {
        let text = fs::read_to_string(&self.conf).unwrap();
        fs::write(&self.conf, edit(text)).unwrap();
    }

    /// The spool directory.
    pub fn spool(&self) -> PathBuf {
        self.dir.path().join("spool")
    }

    /// `exim_dumpdb SPOOL retry`: exim's retry records, one `T:KEY ...` line each (empty when
    /// there is no retry database at all).
    pub fn retry_records(&self) -> Vec<String> {
        let mut cmd = Command::new("/usr/sbin/exim_dumpdb");
        cmd.arg(self.spool()).arg("retry");
        let out = run(&mut cmd, b"", COMMAND_TIMEOUT);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().map(str::trim).filter(|l| l.starts_with("T:")).map(str::to_string).collect()
    }

    /// `exigrep PATTERN mainlog`: exim's log lines about the messages matching `pattern`.
    pub fn exigrep(&self, pattern: &str) -> String {
        let mut cmd = Command::new("/usr/sbin/exigrep");
        cmd.arg(pattern).arg(self.dir.path().join("log/mainlog"));
        let out = run(&mut cmd, b"", COMMAND_TIMEOUT);
        out.assert_success("exigrep");
        String::from_utf8(out.stdout).unwrap()
    }
}

/// A receiving exim: a daemon on 127.0.0.1 that accepts every recipient and keeps what it
/// accepts on its queue, with its own `message_size_limit`. Stopped (by its pid) on drop.
pub struct Receiver {
    /// Its directory (configuration, spool, logs).
    dir: tempfile::TempDir,
    /// The daemon, `exim -bdf`.
    daemon: std::process::Child,
    /// The port it listens on.
    port: u16,
}

impl Receiver {
    /// Starts a receiver whose `message_size_limit` is `limit` (exim's syntax, e.g. `2M`).
    pub fn start(limit: &str) -> Receiver {
        let dir = tempfile::Builder::new().prefix("mimeinject-receiver-").tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let uid = id_of("-u", EXIM_USER).expect("uid of the exim user");
        let gid = id_of("-g", EXIM_USER).expect("gid of the exim user");
        for sub in ["spool", "log"] {
            let path = dir.path().join(sub);
            fs::create_dir(&path).unwrap();
            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
        }
        // A free port: bound and released; exim binds it a moment later.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let base = dir.path().display();
        let conf = dir.path().join("exim.conf");
        fs::write(
            &conf,
            format!(
                "\
primary_hostname = receiver.test
spool_directory = {base}/spool
log_file_path = {base}/log/%slog
pid_file_path = {base}/exim.pid
keep_environment =
exim_path = {EXIM}
local_interfaces = 127.0.0.1
daemon_smtp_ports = {port}
host_lookup =
rfc1413_hosts =
tls_advertise_hosts =
queue_only
message_size_limit = {limit}
acl_smtp_rcpt = accept_all
begin acl
accept_all:
  accept
"
            ),
        )
        .unwrap();
        let daemon = Command::new(EXIM)
            .arg("-C")
            .arg(&conf)
            .arg("-bdf")
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting the receiving exim");
        let receiver = Receiver { dir, daemon, port };
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(std::time::Instant::now() < deadline, "the receiving exim did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        receiver
    }

    /// The port it listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its main log.
    pub fn mainlog(&self) -> String {
        fs::read_to_string(self.dir.path().join("log/mainlog")).unwrap_or_default()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        // SIGTERM to the daemon we started, by its pid; it then exits.
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.daemon.id() as i32, libc::SIGTERM);
        }
        let _ = self.daemon.wait();
    }
}
