//! Debian's exim4 packaging, set up the way the guide's "On Debian" steps say (docs/exim.md),
//! from the guide's own text.
//!
//! Each test copies the *stock* configuration of the installed `exim4-config` package (the
//! files in /etc/exim4 when they still match the package's checksums, else the package
//! itself, fetched with `apt-get download`) into a temporary directory, writes an
//! `update-exim4.conf.conf` for the case, and runs the guide's recipes there:
//! `exim/debian-add-filter.sh` with /etc/exim4 and the recipes' binary and root replaced by
//! the test's, and `exim/debian-activate.sh` with `update-exim4.conf` pointed at the copy
//! (`-d COPY -o COPY/exim.conf`), `exim4` at the generated file (`exim4 -C`) and
//! `invoke-rc.d` recorded instead of run. The generated configuration then delivers through a
//! private exim (`exim -C`) to an SMTP sink on 127.0.0.1 (the remote path) and to maildirs
//! (`maildir_home`).
//!
//! What the test adds that an administrator would not is in [`private_settings`]: its own
//! spool, logs, `CONFDIR` and maildir location; `mail_spool` writes to the instance's
//! directory instead of /var/mail. The layout recipe's `adduser Debian-exim mail` is not run:
//! exim delivers in a private mount namespace whose /etc/group has that membership (and,
//! where a test reads syslog, whose `/dev/log` is the test's socket). /etc/exim4, /etc/group,
//! the system's spool and any exim daemon are never touched.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::bin::testdata;
use crate::support::exim::{
    self as harness, filter_program, id_of, Exim, Transport, EXIM, EXIM_USER, README_BINARY,
    README_ROOT,
};
use crate::support::readme::recipe;
use crate::support::smtp_sink::SmtpSink;
use crate::support::{self, attachment, dkim, run, Output};

/// Debian's configuration generator (package exim4-config).
const UPDATE: &str = "/usr/sbin/update-exim4.conf";

/// The directory of the guide's signing key (exim/debian-layout.sh).
const KEY_DIR: &str = "/etc/mimeinject";

/// The directory of the guide's log file (exim/debian-layout.sh, the filter's `--log-file`).
const LOG_DIR: &str = "/var/log/mimeinject";

/// Debian's group `mail`, which the guide's root, key and log belong to.
fn mail_gid() -> u32 {
    id_of("-g", "mail").expect("the mail group")
}

/// The domain the test machine calls its own (`dc_other_hostnames`).
const LOCAL_DOMAIN: &str = "debian.test";

/// Mail to this domain leaves the machine.
const REMOTE_DOMAIN: &str = "example.test";

/// The envelope sender: a remote address, so that a bounce would go to the sink and never
/// into a local mailbox of the machine.
const SENDER: &str = "app@example.test";

/// Local users with a home directory on every Debian system, who receive through
/// `maildir_home` (Debian's `local_user` router checks the user exists).
const LOCAL_USERS: [&str; 2] = ["daemon", "bin"];

pub(crate) fn should_skip() -> bool {
    let missing = harness::missing()
        .or_else(|| {
            (!Path::new(UPDATE).exists()).then(|| "update-exim4.conf (exim4-config) missing".into())
        })
        .or_else(|| {
            // Deliveries run in a mount namespace of their own (`Debian::exim_in`).
            let works = Command::new("unshare")
                .args(["-m", "true"])
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            (!works).then(|| "`unshare -m` is not permitted here (needs root)".into())
        });
    support::should_skip(missing)
}

/// The stock `conf.d/`, `exim4.conf.template` and `passwd.client` of the installed
/// exim4-config package.
fn stock() -> &'static Path {
    static STOCK: OnceLock<PathBuf> = OnceLock::new();
    STOCK.get_or_init(|| {
        if etc_is_pristine() {
            PathBuf::from("/etc/exim4")
        } else {
            download_stock()
        }
    })
}

/// Whether every conffile of exim4-config under /etc/exim4 still has the package's checksum.
fn etc_is_pristine() -> bool {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${Conffiles}\n", "exim4-config"])
        .output()
        .expect("dpkg-query");
    assert!(out.status.success(), "dpkg-query: exim4-config is not installed");
    let mut list = String::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let [path, md5, ..] = words[..] {
            if path.starts_with("/etc/exim4/") && !line.contains("obsolete") {
                list.push_str(&format!("{md5}  {path}\n"));
            }
        }
    }
    assert!(list.contains("exim4.conf.template"), "conffiles of exim4-config: {list}");
    let check = run(
        Command::new("md5sum").args(["--quiet", "--check", "-"]),
        list.as_bytes(),
        Duration::from_secs(60),
    );
    if !check.status.success() {
        eprintln!(
            "/etc/exim4 differs from exim4-config's files, fetching the package:\n{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
    check.status.success()
}

/// The package's files, from `apt-get download exim4-config` (kept for the run).
fn download_stock() -> PathBuf {
    let dir = tempfile::Builder::new().prefix("mimeinject-exim4-config-").tempdir().unwrap();
    let dir = dir.keep();
    let version =
        Command::new("dpkg-query").args(["-W", "-f=${Version}", "exim4-config"]).output().unwrap();
    let version = String::from_utf8(version.stdout).unwrap();
    let out = run(
        Command::new("apt-get")
            .args(["download", "-q"])
            .arg(format!("exim4-config={version}"))
            .current_dir(&dir),
        b"",
        Duration::from_secs(300),
    );
    out.assert_success("apt-get download exim4-config");
    let deb = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("the downloaded .deb");
    let tree = dir.join("tree");
    let out =
        run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree), b"", Duration::from_secs(60));
    out.assert_success("dpkg-deb -x");
    tree.join("etc/exim4")
}

/// How a case sets up Debian's configuration (`update-exim4.conf.conf`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Settings {
    /// `dc_use_split_config`.
    pub(crate) split: bool,
    /// `dc_eximconfig_configtype`.
    pub(crate) configtype: &'static str,
    /// `dc_localdelivery`.
    pub(crate) localdelivery: &'static str,
}

/// How the activation recipe's `invoke-rc.d` behaves in a test.
enum Restart {
    /// Recorded in a file, not run: exim's configuration is the test's private copy.
    Recorded,
    /// Denied, as Debian's `policy-rc.d` denies it in a container or a chroot (exit 101).
    Denied,
}

/// Whether this machine's `policy-rc.d` denies restarting exim4 (exit 101), so that the real
/// `invoke-rc.d` can run in a test without restarting anything.
fn policy_denies() -> bool {
    Path::new("/usr/sbin/invoke-rc.d").exists()
        && Command::new("/usr/sbin/policy-rc.d")
            .args(["exim4", "restart"])
            .status()
            .is_ok_and(|s| s.code() == Some(101))
}

/// One Debian configuration in a private exim instance, with the sink its remote mail goes
/// to.
pub(crate) struct Debian {
    pub(crate) exim: Exim,
    /// The copy of /etc/exim4.
    pub(crate) etc: PathBuf,
    sink: SmtpSink,
    settings: Settings,
}

impl Debian {
    /// The stock configuration, copied, with `settings`; remote mail goes to a new sink
    /// (through `dc_smarthost`, and for `internet` through `hubbed_hosts`).
    pub(crate) fn new(settings: Settings) -> Debian {
        let exim = Exim::layout(Transport::Maildir);
        let sink = SmtpSink::start();
        let etc = exim.dir().join("etc-exim4");
        fs::create_dir(&etc).unwrap();
        let stock = stock();
        let out = run(
            Command::new("cp")
                .arg("-a")
                .args(["conf.d", "exim4.conf.template", "passwd.client"].map(|f| stock.join(f)))
                .arg(&etc),
            b"",
            Duration::from_secs(60),
        );
        out.assert_success("copying the stock configuration");
        let debian = Debian { exim, etc, sink, settings };
        debian.write_settings();
        debian.write_private_settings();
        if settings.configtype == "internet" {
            let hubbed = format!("{REMOTE_DOMAIN}: 127.0.0.1::{}\n", debian.sink.port());
            fs::write(debian.etc.join("hubbed_hosts"), hubbed).unwrap();
        }
        // Debian's /var/mail: root:mail, mode 2775 (mail_spool writes here, see
        // private_settings).
        let spool = debian.exim.dir().join("var-mail");
        fs::create_dir(&spool).unwrap();
        std::os::unix::fs::chown(&spool, Some(0), Some(mail_gid())).unwrap();
        fs::set_permissions(&spool, fs::Permissions::from_mode(0o2775)).unwrap();
        // The guide's root, key and log, as its exim/debian-layout.sh makes them.
        // `adduser Debian-exim mail` would change this machine's groups: the test's exim
        // runs with a copy of /etc/group that has it instead (see `Debian::exim_in`).
        let layout = recipe("exim/debian-layout.sh");
        let adduser = "adduser Debian-exim mail\n";
        assert!(layout.contains(adduser), "the layout recipe has {adduser:?}");
        let layout = debian.paths(&layout.replace(adduser, ": adduser\n"));
        let out = run(
            Command::new("sh")
                .arg("-c")
                .arg(layout)
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            b"",
            Duration::from_secs(60),
        );
        out.assert_success("the guide's exim/debian-layout.sh");
        for user in LOCAL_USERS {
            let maildir = debian.exim.dir().join("mail").join(user);
            fs::create_dir(&maildir).unwrap();
            let uid = id_of("-u", user).unwrap();
            let gid = id_of("-g", user).unwrap();
            std::os::unix::fs::chown(&maildir, Some(uid), Some(gid)).unwrap();
        }
        debian
    }

    /// `update-exim4.conf.conf`, as debconf would write it for `settings`.
    fn write_settings(&self) {
        let Settings { split, configtype, localdelivery } = self.settings;
        let text = format!(
            "\
dc_eximconfig_configtype='{configtype}'
dc_other_hostnames='{LOCAL_DOMAIN}'
dc_local_interfaces='<; ::1'
dc_readhost='{REMOTE_DOMAIN}'
dc_relay_domains=''
dc_minimaldns='false'
dc_relay_nets=''
dc_smarthost='127.0.0.1::{port}'
CFILEMODE='644'
dc_use_split_config='{split}'
dc_hide_mailname=''
dc_mailname_in_oh='true'
dc_localdelivery='{localdelivery}'
",
            port = self.sink.port()
        );
        fs::write(self.etc.join("update-exim4.conf.conf"), text).unwrap();
    }

    /// The instance's own settings (see [`private_settings`]): a file of its own in
    /// `conf.d/main` for the split configuration, the top of the template for the unsplit
    /// one. (Only 127.0.0.1's not being a local interface, `dc_local_interfaces` above,
    /// lets exim deliver to the sink on the same machine.)
    fn write_private_settings(&self) {
        // mail_spool's `file = /var/mail/$local_part_data` names no macro: the copy's
        // transport writes to the instance's own directory instead.
        for file in ["exim4.conf.template", "conf.d/transport/30_exim4-config_mail_spool"] {
            let path = self.etc.join(file);
            let text = fs::read_to_string(&path).unwrap();
            let line = "  file = /var/mail/$local_part_data\n";
            assert!(text.contains(line), "{file}: {line:?}");
            let private = format!("  file = {}/$local_part_data\n", self.var_mail());
            fs::write(&path, text.replace(line, &private)).unwrap();
        }
        let settings = private_settings(self.exim.dir(), &self.etc);
        if self.settings.split {
            fs::write(self.etc.join("conf.d/main/000_mimeinject-test"), settings).unwrap();
        } else {
            let template = self.etc.join("exim4.conf.template");
            let stock = fs::read_to_string(&template).unwrap();
            fs::write(&template, settings + &stock).unwrap();
        }
    }

    /// The file mimeinject logs to (the recipe's `--log-file`).
    fn filter_log(&self) -> PathBuf {
        self.exim.filter_dir().join("filter.log")
    }

    /// The non-empty lines of the filter's log.
    fn filter_log_lines(&self) -> Vec<String> {
        let log = fs::read_to_string(self.filter_log()).unwrap_or_default();
        log.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
    }

    /// A recipe's text with this instance's paths: /etc/exim4 is the copy, the root, the
    /// key's directory and the log's directory the instance's.
    fn paths(&self, text: &str) -> String {
        text.replace("/etc/exim4", self.etc.to_str().unwrap())
            .replace(README_ROOT, self.exim.root().to_str().unwrap())
            .replace(KEY_DIR, self.key_dir().to_str().unwrap())
            .replace(LOG_DIR, self.exim.filter_dir().to_str().unwrap())
    }

    /// Where the layout recipe puts the signing key (`/etc/mimeinject` in the guide).
    fn key_dir(&self) -> PathBuf {
        self.exim.dir().join("etc-mimeinject")
    }

    /// The signing key the layout recipe made.
    fn key(&self) -> PathBuf {
        self.key_dir().join("key")
    }

    /// `exim/debian-add-filter.sh` with this instance's paths (see [`paths`](Self::paths)),
    /// the recipes' binary the one under test, with `extra_args` added to its arguments.
    fn add_filter_script(&self, extra_args: &str) -> String {
        let script = recipe("exim/debian-add-filter.sh");
        for path in ["/etc/exim4", README_BINARY, README_ROOT, LOG_DIR] {
            assert!(script.contains(path), "the recipe names {path}");
        }
        let program = format!("{}{extra_args}", filter_program());
        self.paths(&script.replace(README_BINARY, &program))
    }

    /// Runs the guide's `exim/debian-activate.sh` (which runs `debian-add-filter.sh`) as
    /// written, or with `only` as the script's arguments when it is not empty (the filter on
    /// those transports, the guard on the others). Returns its output.
    fn activate(&self, only: &str) -> Output {
        self.activate_with(only, "")
    }

    /// [`activate`](Self::activate), with `extra_args` added to mimeinject's arguments.
    pub(crate) fn activate_with(&self, only: &str, extra_args: &str) -> Output {
        let out = self.run_activation(only, extra_args, Restart::Recorded);
        out.assert_success("the guide's exim/debian-activate.sh");
        self.assert_only_lines_added(only);
        let restarts = fs::read_to_string(self.exim.dir().join("restarts")).unwrap_or_default();
        assert_eq!(
            restarts, "invoke-rc.d --disclose-deny exim4 restart\n",
            "the recipe restarts exim once"
        );
        out
    }

    /// Runs the guide's `exim/debian-activate.sh` with `invoke-rc.d` as `restart` says;
    /// its output, whatever its status.
    fn run_activation(&self, only: &str, extra_args: &str, restart: Restart) -> Output {
        let base = self.exim.dir();
        fs::write(base.join("debian-add-filter.sh"), self.add_filter_script(extra_args)).unwrap();
        let mut steps = recipe("exim/debian-activate.sh");
        if !only.is_empty() {
            let line = "sh debian-add-filter.sh\n";
            assert!(steps.contains(line), "the recipe runs {line:?}");
            steps = steps.replace(line, &format!("sh debian-add-filter.sh {only}\n"));
        }
        let restart = match restart {
            Restart::Recorded => format!("invoke-rc.d() {{ echo \"invoke-rc.d $*\" >> '{}/restarts'; }}", base.display()),
            // This machine's policy-rc.d denies every action: the real invoke-rc.d runs.
            Restart::Denied if policy_denies() => String::new(),
            // Elsewhere, what Debian's invoke-rc.d does when policy-rc.d denies the action.
            Restart::Denied => "invoke-rc.d() { echo \"invoke-rc.d: policy-rc.d denied execution of restart.\" >&2; return 101; }".to_owned(),
        };
        // No `set -e` here: the recipe must stop on a failure by itself. update-exim4.conf
        // runs with the copy mounted over /etc/exim4 in a private mount namespace: besides
        // `-d`, it reads /etc/exim4/exim4.conf.localmacros by that fixed path (Debian 12's
        // exim4-config 4.96, /usr/sbin/update-exim4.conf), and /etc/exim4 itself is never
        // touched.
        let prelude = format!(
            "update-exim4.conf() {{ unshare -m sh -c \"mount --bind '{etc}' /etc/exim4 && exec {UPDATE} -d '{etc}' -o '{conf}' \\\"\\$@\\\"\" sh \"$@\"; }}
{restart}
exim4() {{ {EXIM} -C '{conf}' \"$@\"; }}
",
            etc = self.etc.display(),
            conf = self.exim.conf().display(),
        );
        let out = run(
            Command::new("bash")
                .arg("-c")
                .arg(prelude + &steps)
                .current_dir(base)
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            b"",
            Duration::from_secs(120),
        );
        out
    }

    /// The script only added lines (`max_rcpt = 1`, the filter, `group = mail`, the guard) to
    /// Debian's files, below each transport's driver line, and running it again changes
    /// nothing.
    fn assert_only_lines_added(&self, only: &str) {
        let mut files = vec!["exim4.conf.template".to_string()];
        for entry in fs::read_dir(self.etc.join("conf.d/transport")).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.contains("_exim4-config_") {
                files.push(format!("conf.d/transport/{name}"));
            }
        }
        let read = || {
            files.iter().map(|f| fs::read_to_string(self.etc.join(f)).unwrap()).collect::<Vec<_>>()
        };
        let added = |l: &&str| {
            *l == "  max_rcpt = 1"
                || *l == "  group = mail"
                || *l == "  initgroups = true"
                || l.starts_with("  transport_filter = ")
                || l.starts_with("  message_size_limit = ")
        };
        let edited = read();
        let mut filters = 0;
        for (file, text) in files.iter().zip(&edited) {
            let stock = fs::read_to_string(stock().join(file)).unwrap();
            let kept: Vec<&str> = text.lines().filter(|l| !added(l)).collect();
            let mut stock_lines: Vec<&str> = stock.lines().filter(|l| !added(l)).collect();
            // The private settings stand at the top of this copy's unsplit template.
            let ours = private_settings(self.exim.dir(), &self.etc);
            if file == "exim4.conf.template" && !self.settings.split {
                stock_lines.splice(0..0, ours.lines());
            }
            let kept: Vec<String> =
                kept.iter().map(|l| l.replace(&self.var_mail(), "/var/mail")).collect();
            assert!(kept == stock_lines, "{file}: only lines were added");
            filters += text.lines().filter(|l| l.starts_with("  transport_filter = ")).count();
        }
        let expected = if only.is_empty() { 2 * 6 } else { 2 * only.split_whitespace().count() };
        assert_eq!(filters, expected, "the filter on each transport named, or on all six");
        let again = run(
            Command::new("sh")
                .arg(self.exim.dir().join("debian-add-filter.sh"))
                .args(only.split_whitespace()),
            b"",
            Duration::from_secs(60),
        );
        again.assert_success("debian-add-filter.sh, again");
        assert!(read() == edited, "a second run changes nothing");
    }

    /// Where this instance's `mail_spool` writes (Debian's `/var/mail`).
    fn var_mail(&self) -> String {
        self.exim.dir().join("var-mail").to_str().unwrap().to_string()
    }

    /// Routes `address` (`exim -bt`): the last `router = R, transport = T` line as `(R, T)`,
    /// or `("", why)` when it does not route.
    fn route(&self, address: &str) -> (String, String) {
        let out = self.exim.exim(&["-bt", address], b"");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let last = text.lines().rev().find_map(|l| l.trim().strip_prefix("router = "));
        match last.and_then(|l| l.split_once(", transport = ")) {
            Some((router, transport)) => (router.to_string(), transport.to_string()),
            None => (
                String::new(),
                format!("{} {}", text.trim(), String::from_utf8_lossy(&out.stderr).trim()),
            ),
        }
    }

    /// The messages the sink received for `address`, each in its own transaction.
    pub(crate) fn received(&self, address: &str) -> Vec<Vec<u8>> {
        let messages = self.sink.messages();
        let mine = messages.iter().filter(|m| m.rcpt_to.iter().any(|r| r == address));
        let mut out = Vec::new();
        for m in mine {
            assert_eq!(m.rcpt_to, [address], "one recipient per transaction (max_rcpt = 1)");
            out.push(m.data.clone());
        }
        out
    }
}

/// What the test instance sets that an administrator would not: `CONFDIR` (lookups such as
/// `hubbed_hosts` and `passwd.client` read the copy), its own spool and logs, maildirs under
/// its directory, and a postmaster that is not a local mailbox. Debian's files read these
/// macros with `.ifndef`/`.ifdef`, so defining them first is enough.
fn private_settings(base: &Path, etc: &Path) -> String {
    let base = base.display();
    format!(
        "\
# The test instance's own settings (tests/debian_exim.rs), not part of the guide's steps.
CONFDIR = {etc}
SPOOLDIR = {base}/spool
MAILDIR_HOME_MAILDIR_LOCATION = {base}/mail/$local_part_data/Maildir
MAILDIR_HOME_CREATE_DIRECTORY = true
MAIN_FREEZE_TELL = postmaster@{REMOTE_DOMAIN}
log_file_path = {base}/log/%slog
",
        etc = etc.display()
    )
}

fn message(name: &str) -> Vec<u8> {
    fs::read(testdata().join("messages").join(name)).unwrap()
}

/// Copies the sample attachments into the instance's root (which the guide's layout made
/// `root:mail`, mode 2750).
fn sample_root(debian: &Debian) {
    for path in [
        "invoices/inv-42.pdf",
        "statements/user@example.test/statement.txt",
        "statements/other@example.test/statement.txt",
    ] {
        let bytes = fs::read(testdata().join("files").join(path)).unwrap();
        write_file(debian, path, &bytes);
    }
}

/// Writes a file under the root as the guide says the application does: umask 027 in the
/// setgid root, so directories are 2750 and files 0640, all of group `mail`.
fn write_file(debian: &Debian, relative: &str, bytes: &[u8]) {
    use std::os::unix::fs::chown;
    let root = debian.exim.root();
    let meta = fs::metadata(&root).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o2750, "the layout's root");
    let path = root.join(relative);
    let mut dirs = Vec::new();
    let mut dir = path.parent().unwrap();
    while dir != root {
        dirs.push(dir);
        dir = dir.parent().unwrap();
    }
    for dir in dirs.into_iter().rev() {
        if !dir.exists() {
            fs::create_dir(dir).unwrap();
            chown(dir, Some(0), Some(mail_gid())).unwrap();
            fs::set_permissions(dir, fs::Permissions::from_mode(0o2750)).unwrap();
        }
    }
    fs::write(&path, bytes).unwrap();
    chown(&path, Some(0), Some(mail_gid())).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
}

/// `exim4 -bP transport T | grep ...` from the activation recipe printed the filter line for
/// both remote transports, with `max_rcpt = 1`.
fn assert_filter_shown(out: &Output) {
    let text = String::from_utf8_lossy(&out.stdout);
    let filters = text.lines().filter(|l| l.starts_with("transport_filter = ")).count();
    let rcpt = text.lines().filter(|l| *l == "max_rcpt = 1").count();
    assert!(filters == 2 && rcpt == 2, "exim4 -bP shows the filter on both:\n{text}");
    assert!(text.contains("--queue-id $message_exim_id -- $pipe_addresses"), "{text}");
}

/// Through Debian's remote transport (`transport`): the invoice sample to one recipient,
/// and the per-recipient sample to two in one message; each gets their own file, each in a
/// transaction of their own, and mimeinject logs a line per delivery with exim's id.
fn remote_delivery(settings: Settings, transport: &str) {
    if should_skip() {
        return;
    }
    let debian = Debian::new(settings);
    let out = debian.activate("");
    assert_filter_shown(&out);
    sample_root(&debian);
    let (router, via) = debian.route("user@example.test");
    assert_eq!(via, transport, "router {router}");

    let invoice = debian.exim.submit(SENDER, &["customer@example.test"], &message("invoice.eml"));
    let two = ["user@example.test", "other@example.test"];
    let statements = debian.exim.submit(SENDER, &two, &message("per-recipient.eml"));
    debian.run_queue();

    let report =
        || format!("{}\nfilter log: {:?}", debian.exim.report(), debian.filter_log_lines());
    for id in [&invoice, &statements] {
        assert!(!debian.exim.is_queued(id), "{id} delivered\n{}", report());
        assert!(debian.exim.mainlog().contains(&format!("T={transport}")), "{}", report());
    }
    let got = debian.received("customer@example.test");
    assert_eq!(got.len(), 1, "{}", report());
    let pdf = fs::read(testdata().join("files/invoices/inv-42.pdf")).unwrap();
    assert!(attachment(&got[0], "Invoice 42.pdf") == pdf, "the invoice");
    for rcpt in two {
        let got = debian.received(rcpt);
        assert_eq!(got.len(), 1, "{rcpt}\n{}", report());
        let own = fs::read(testdata().join(format!("files/statements/{rcpt}/statement.txt")));
        assert!(attachment(&got[0], "statement.txt") == own.unwrap(), "{rcpt}'s own statement");
    }
    let lines = debian.filter_log_lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(
        lines.iter().filter(|l| l.contains(&format!("]: {statements}: 1 recipient"))).count(),
        2
    );
    assert!(lines.iter().any(|l| l.contains(&format!("]: {invoice}: 1 recipient"))), "{lines:?}");
}

#[test]
fn debian_unsplit_internet_remote_smtp() {
    let settings = Settings { split: false, configtype: "internet", localdelivery: "mail_spool" };
    remote_delivery(settings, "remote_smtp");
}

#[test]
fn debian_split_smarthost_remote_smtp_smarthost() {
    let settings = Settings { split: true, configtype: "smarthost", localdelivery: "mail_spool" };
    remote_delivery(settings, "remote_smtp_smarthost");
}

/// `maildir_home` (`dc_localdelivery='maildir_home'`), with the guide's "add maildir_home"
/// step: the per-recipient sample to two local users in one message; the filter runs as each
/// recipient, and each maildir holds their own statement.
fn maildir_home(split: bool) {
    if should_skip() {
        return;
    }
    let settings = Settings { split, configtype: "local", localdelivery: "maildir_home" };
    let debian = Debian::new(settings);
    debian.activate("");
    let mut files = Vec::new();
    for user in LOCAL_USERS {
        let bytes = format!("statement for {user}@{LOCAL_DOMAIN}\n").into_bytes();
        let path = format!("statements/{user}@{LOCAL_DOMAIN}/statement.txt");
        write_file(&debian, &path, &bytes);
        files.push((user, bytes));
    }
    let rcpts: Vec<String> = LOCAL_USERS.iter().map(|u| format!("{u}@{LOCAL_DOMAIN}")).collect();
    let rcpts: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    assert_eq!(debian.route(rcpts[0]).1, "maildir_home");
    let id = debian.exim.submit(SENDER, &rcpts, &message("per-recipient.eml"));
    debian.deliver(&id);

    let report =
        || format!("{}\nfilter log: {:?}", debian.exim.report(), debian.filter_log_lines());
    assert!(!debian.exim.is_queued(&id), "delivered\n{}", report());
    for (user, bytes) in &files {
        let maildir = debian.exim.maildir(user);
        assert_eq!(maildir.new.len(), 1, "{user}\n{}", report());
        let delivered = fs::read(&maildir.new[0]).unwrap();
        assert!(attachment(&delivered, "statement.txt") == *bytes, "{user}'s own statement");
    }
    let lines = debian.filter_log_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
}

#[test]
fn debian_unsplit_maildir_home() {
    maildir_home(false);
}

#[test]
fn debian_split_maildir_home() {
    maildir_home(true);
}

/// The routing table in docs/exim.md: which of Debian's transports carries mail to another
/// domain and to a local user, for each `dc_eximconfig_configtype` (unsplit, the default;
/// the split files are the same routers).
#[test]
fn debian_transport_per_configtype() {
    if should_skip() {
        return;
    }
    let local = format!("daemon@{LOCAL_DOMAIN}");
    for (configtype, remote, local_user) in [
        ("internet", ("hubbed_hosts", "remote_smtp"), ("local_user", "mail_spool")),
        ("smarthost", ("smarthost", "remote_smtp_smarthost"), ("local_user", "mail_spool")),
        (
            "satellite",
            ("smarthost", "remote_smtp_smarthost"),
            // A local user's mail is redirected to dc_readhost (hub_user), then to the
            // smarthost.
            ("smarthost", "remote_smtp_smarthost"),
        ),
        ("local", ("", ""), ("local_user", "mail_spool")),
    ] {
        let debian =
            Debian::new(Settings { split: false, configtype, localdelivery: "mail_spool" });
        debian.activate("");
        let (router, transport) = debian.route("user@example.test");
        if remote.0.is_empty() {
            assert!(router.is_empty(), "{configtype}: {router} {transport}");
            assert!(transport.contains("Mailing to remote domains not supported"), "{transport}");
        } else {
            assert_eq!((router.as_str(), transport.as_str()), remote, "{configtype}");
        }
        let (router, transport) = debian.route(&local);
        assert_eq!((router.as_str(), transport.as_str()), local_user, "{configtype}");
        // hubbed_hosts comes before every other remote router, in every type.
        fs::write(debian.etc.join("hubbed_hosts"), "hub.test: 192.0.2.25\n").unwrap();
        let hubbed = debian.route("user@hub.test");
        assert_eq!(hubbed, ("hubbed_hosts".into(), "remote_smtp".into()), "{configtype}");
        if configtype == "internet" {
            // Without a hubbed_hosts entry the domain goes through dnslookup, also remote_smtp.
            let (router, transport) = debian.route("user@example.test");
            assert!(
                router == "dnslookup"
                    || transport.contains("Unrouteable")
                    || transport.contains("unrouteable"),
                "{router} {transport}"
            );
        }
    }
    // dc_localdelivery picks LOCAL_DELIVERY.
    let debian = Debian::new(Settings {
        split: false,
        configtype: "internet",
        localdelivery: "maildir_home",
    });
    debian.activate("");
    assert_eq!(debian.route(&local), ("local_user".into(), "maildir_home".into()));
}

/// `$local_part_data@$domain_data` on Debian's remote routers (hubbed_hosts, smarthost) is
/// `@`: a filter given it (`--var`) refuses every message, as docs/exim.md says.
#[test]
fn debian_remote_routers_set_no_local_part_data() {
    if should_skip() {
        return;
    }
    for (configtype, transport) in
        [("internet", "remote_smtp"), ("smarthost", "remote_smtp_smarthost")]
    {
        let debian = Debian::new(Settings { split: true, configtype, localdelivery: "mail_spool" });
        let extra = " --var at=$local_part_data@$domain_data";
        debian.activate_with("", extra);
        let id = debian.exim.submit(SENDER, &["user@example.test"], &message("plain.eml"));
        debian.deliver(&id);
        assert!(debian.exim.is_queued(&id), "{configtype}: deferred\n{}", debian.exim.report());
        assert!(debian.exim.mainlog().contains(&format!("T={transport} defer (-24)")));
        // Unlike appendfile, the smtp transport's failed filter is no panic (docs/exim.md).
        assert_eq!(debian.exim.paniclog(), "", "{configtype}");
        let lines = debian.filter_log_lines();
        // smarthost sets neither; hubbed_hosts sets $domain_data to the host list it looked up.
        let value = match configtype {
            "smarthost" => "\"@\"".to_string(),
            _ => format!("\"@127.0.0.1::{}\"", debian.sink.port()),
        };
        let reason = format!("variable at: value {value} refused");
        assert!(lines.len() == 1 && lines[0].contains(&reason), "{reason}: {lines:?}");
    }
}

/// The guide's warnings (docs/exim.md): a transport pasted as a new file under `conf.d/` is
/// ignored by the unsplit configuration (the mail goes out with its placeholder), and breaks
/// the split one (`update-exim4.conf --check` exits 1; installed anyway, even local
/// submission fails).
#[test]
fn debian_pasted_transport_is_ignored_or_breaks() {
    if should_skip() {
        return;
    }
    let pasted = format!(
        "remote_smtp:\n  driver = smtp\n  transport_filter = {} --root /nonexistent\n",
        filter_program()
    );
    for split in [false, true] {
        let debian =
            Debian::new(Settings { split, configtype: "internet", localdelivery: "mail_spool" });
        fs::write(debian.etc.join("conf.d/transport/40_mimeinject"), &pasted).unwrap();
        let etc = debian.etc.to_str().unwrap();
        let conf = debian.exim.conf().to_str().unwrap();
        let check = run(
            Command::new(UPDATE).args(["--check", "-d", etc, "-o", conf]),
            b"",
            Duration::from_secs(60),
        );
        let generate =
            run(Command::new(UPDATE).args(["-d", etc, "-o", conf]), b"", Duration::from_secs(60));
        generate.assert_success("update-exim4.conf -o (which does not check)");
        let generated = fs::read_to_string(conf).unwrap();
        if split {
            assert!(!check.status.success(), "--check refuses two remote_smtp");
            assert!(
                String::from_utf8_lossy(&check.stderr)
                    .contains("two transports called \"remote_smtp\""),
                "{check:?}"
            );
            let submit = debian.exim.exim(
                &["-odq", "-oi", "-f", SENDER, "--", "user@example.test"],
                b"Subject: x\n\nx\n",
            );
            assert!(!submit.status.success(), "local submission fails with that configuration");
        } else {
            check.assert_success("update-exim4.conf --check");
            assert!(!generated.contains("--root /nonexistent"), "the conf.d file is ignored");
            sample_root(&debian);
            let id = debian.exim.submit(SENDER, &["user@example.test"], &message("invoice.eml"));
            debian.deliver(&id);
            let got = debian.received("user@example.test");
            assert_eq!(got.len(), 1, "delivered unfiltered\n{}", debian.exim.report());
            assert!(
                support::contains(&got[0], b"application/x-mimeinject"),
                "the placeholder went out"
            );
        }
    }
}

/// Debian's DKIM macros (the guide's `exim/debian-dkim.macros`, in
/// `conf.d/main/000_localmacros` of the split configuration): `remote_smtp` signs what the
/// filter wrote, the signature verifies at the receiver and the attachment is the file;
/// `remote_smtp_smarthost` reads no DKIM macro. The key is readable through group
/// `Debian-exim` only (as Debian's `passwd.client` is): the guide's smtp transports keep that
/// group (`initgroups`, not `group = mail`), or exim would send the message unsigned.
#[test]
fn debian_dkim_macros_sign_the_filtered_message() {
    if should_skip() || support::should_skip(dkim::missing()) {
        return;
    }
    // Where the guide puts the macros: conf.d/main/000_localmacros for the split
    // configuration, exim4.conf.localmacros for the unsplit one.
    for (split, file) in [(true, "conf.d/main/000_localmacros"), (false, "exim4.conf.localmacros")]
    {
        let debian =
            Debian::new(Settings { split, configtype: "internet", localdelivery: "mail_spool" });
        let key = dkim::Key::new(debian.exim.dir());
        let macros = recipe("exim/debian-dkim.macros");
        for s in ["example.com", "mail2026", "/etc/exim4/dkim/example.com-mail2026.key"] {
            assert!(macros.contains(s), "the recipe has {s}");
        }
        let macros = macros
            .replace("/etc/exim4/dkim/example.com-mail2026.key", key.private.to_str().unwrap())
            .replace("example.com", REMOTE_DOMAIN);
        fs::write(debian.etc.join(file), macros).unwrap();
        debian.activate("");
        let bp = debian.exim.exim(&["-bP", "transport", "remote_smtp_smarthost"], b"");
        assert!(
            !String::from_utf8_lossy(&bp.stdout)
                .lines()
                .any(|l| l.starts_with("dkim_domain = ") && l.len() > "dkim_domain = ".len()),
            "the smarthost transport does not sign ({file})"
        );

        sample_root(&debian);
        let id = debian.exim.submit(SENDER, &["customer@example.test"], &message("invoice.eml"));
        debian.deliver(&id);
        let messages = debian.sink.messages();
        assert_eq!(messages.len(), 1, "{file}\n{}", debian.exim.report());
        let verdicts = key.verify(&messages[0].message, REMOTE_DOMAIN, "mail2026");
        assert_eq!(verdicts, [format!("d={REMOTE_DOMAIN} s=mail2026 pass")], "{file}");
        let pdf = fs::read(testdata().join("files/invoices/inv-42.pdf")).unwrap();
        assert!(attachment(&messages[0].data, "Invoice 42.pdf") == pdf, "the invoice ({file})");
    }
}

/// The activation stops, with one line saying why, when the restart fails: here
/// `invoke-rc.d` is denied by `policy-rc.d` (the real one where this machine's policy denies
/// it, else a stand-in that does what it does). Nothing after the restart runs.
#[test]
fn debian_activation_stops_when_the_restart_fails() {
    if should_skip() {
        return;
    }
    let debian =
        Debian::new(Settings { split: false, configtype: "internet", localdelivery: "mail_spool" });
    let out = debian.run_activation("", "", Restart::Denied);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "stopped: exim4 did not restart (invoke-rc.d exit 101); the filter is not on yet"
        ),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("transport_filter"), "{out:?}");
}

/// The activation stops before installing anything when the configuration does not build:
/// the restart is never asked for.
#[test]
fn debian_activation_stops_when_the_configuration_check_fails() {
    if should_skip() {
        return;
    }
    let debian =
        Debian::new(Settings { split: true, configtype: "internet", localdelivery: "mail_spool" });
    // Two transports of one name: exim refuses the whole configuration.
    let pasted = "remote_smtp:\n  driver = smtp\n";
    fs::write(debian.etc.join("conf.d/transport/40_pasted"), pasted).unwrap();
    let out = debian.run_activation("", "", Restart::Recorded);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("stopped: the configuration does not build; exim still runs the old one"),
        "{stderr}"
    );
    assert!(!debian.exim.dir().join("restarts").exists(), "no restart was asked for");
    assert!(
        !debian.exim.conf().exists()
            || !fs::read_to_string(debian.exim.conf()).unwrap().contains("mimeinject"),
        "nothing installed"
    );
}

impl Debian {
    /// The messages in `user`'s mailbox: the mbox `mail_spool` writes, or the maildir of
    /// `maildir_home`.
    fn mailbox(&self, user: &str) -> Vec<Vec<u8>> {
        if self.settings.localdelivery == "maildir_home" {
            let maildir = self.exim.maildir(user);
            return maildir.new.iter().map(|p| fs::read(p).unwrap()).collect();
        }
        let Ok(mbox) = fs::read_to_string(Path::new(&self.var_mail()).join(user)) else {
            return Vec::new();
        };
        let mut out: Vec<String> = Vec::new();
        let mut blank = true;
        for line in mbox.split_inclusive('\n') {
            if blank && line.starts_with("From ") {
                out.push(String::new());
            }
            blank = line == "\n";
            if let Some(message) = out.last_mut() {
                message.push_str(line);
            }
        }
        out.into_iter().map(String::into_bytes).collect()
    }

    /// The guide's `--key-file` addition for machines with local users, with this
    /// instance's key.
    fn key_file_argument(&self) -> String {
        let text = support::readme::document("docs/exim.md");
        let step = "add `--key-file /etc/mimeinject/key` to `FILTER`";
        assert!(text.contains(step), "docs/exim.md says to {step}");
        self.paths(" --key-file /etc/mimeinject/key")
    }
}

/// The per-recipient sample with its stub signed by `mimeinject sign` under the layout's
/// key, as the application would write it.
fn signed_message(debian: &Debian) -> Vec<u8> {
    let out =
        run(
            Command::new(support::bin::path())
                .args(["sign", "--key-file"])
                .arg(debian.key())
                .args(["--path", "statements/{rcpt}/statement.txt", "--filename", "statement.txt"]),
            b"",
            Duration::from_secs(60),
        );
    out.assert_success("mimeinject sign");
    let header = String::from_utf8(out.stdout).unwrap();
    let text = String::from_utf8(message("per-recipient.eml")).unwrap();
    let stub = "Content-Type: application/x-mimeinject; path=\"statements/{rcpt}/statement.txt\"\n";
    assert!(text.contains(stub), "the sample's stub");
    text.replace(stub, &header).into_bytes()
}

/// Runs `sh -c script` as local user `user`, with only that user's own groups.
fn as_user(user: &str, script: &str) -> Output {
    run(
        Command::new("setpriv").args([
            "--reuid",
            user,
            "--regid",
            user,
            "--init-groups",
            "--",
            "sh",
            "-c",
            script,
        ]),
        b"",
        Duration::from_secs(60),
    )
}

/// Local delivery on Debian's `settings.localdelivery` transport, set up as the guide says
/// for a machine with local users (exim/debian-layout.sh, `--key-file`, then the
/// activation): each recipient (local users not in `Debian-exim` or `mail`) gets their own
/// statement; another local user can read neither the files, nor the key, nor write the
/// log; a stub a local user writes without the key stays queued, never reaches the mailbox,
/// and its reason is in the log file (and, for appendfile, exim's paniclog).
fn local_delivery(settings: Settings) {
    if should_skip() {
        return;
    }
    let debian = Debian::new(settings);
    let transport = settings.localdelivery;
    debian.activate_with("", &debian.key_file_argument());
    let mut files = Vec::new();
    for user in LOCAL_USERS {
        let groups = Command::new("id").args(["-nG", user]).output().unwrap().stdout;
        let groups = String::from_utf8(groups).unwrap();
        assert!(
            !groups.split_whitespace().any(|g| g == "mail" || g == "Debian-exim"),
            "{user}: {groups}"
        );
        let bytes = format!("statement for {user}@{LOCAL_DOMAIN}\n").into_bytes();
        write_file(&debian, &format!("statements/{user}@{LOCAL_DOMAIN}/statement.txt"), &bytes);
        files.push((user, bytes));
    }
    let rcpts: Vec<String> = LOCAL_USERS.iter().map(|u| format!("{u}@{LOCAL_DOMAIN}")).collect();
    let rcpts: Vec<&str> = rcpts.iter().map(String::as_str).collect();
    assert_eq!(debian.route(rcpts[0]).1, transport);

    let id = debian.exim.submit(SENDER, &rcpts, &signed_message(&debian));
    debian.deliver(&id);
    let report =
        || format!("{}\nfilter log: {:?}", debian.exim.report(), debian.filter_log_lines());
    assert!(!debian.exim.is_queued(&id), "delivered\n{}", report());
    for (user, bytes) in &files {
        let mailbox = debian.mailbox(user);
        assert_eq!(mailbox.len(), 1, "{user}\n{}", report());
        assert!(attachment(&mailbox[0], "statement.txt") == *bytes, "{user}'s own statement");
        assert!(!support::contains(&mailbox[0], b"application/x-mimeinject"), "no stub");
    }
    // Each recipient's filter wrote its delivery line to the log.
    let lines = debian.filter_log_lines();
    assert_eq!(lines.iter().filter(|l| l.contains(&format!("]: {id}: 1 recipient"))).count(), 2);

    // Another local user reads neither a customer's file nor the key, and cannot write the
    // log; root can (the checks can fail).
    let daemons =
        debian.exim.root().join(format!("statements/daemon@{LOCAL_DOMAIN}/statement.txt"));
    let log = debian.filter_log();
    for (what, script) in [
        ("daemon's statement", format!("cat '{}'", daemons.display())),
        ("the key", format!("cat '{}'", debian.key().display())),
        ("the log", format!("echo forged >> '{}'", log.display())),
    ] {
        for user in ["bin", "nobody"] {
            let out = as_user(user, &script);
            assert!(!out.status.success(), "{user} can use {what}: {out:?}");
        }
        let out = run(Command::new("sh").args(["-c", &script]), b"", Duration::from_secs(60));
        out.assert_success(&format!("root: {what}"));
    }
    let lines_before = debian.filter_log_lines().len();

    // A local user writes a stub naming daemon's file, without the key.
    let forged = debian.exim.submit(SENDER, &[rcpts[0]], &message("per-recipient.eml"));
    let dev_log = DevLog::new();
    match &dev_log {
        Some(dev_log) => drop(debian.deliver_with(&forged, Some(dev_log))),
        None => drop(debian.deliver(&forged)),
    }
    assert!(debian.exim.is_queued(&forged), "held\n{}", report());
    assert_eq!(debian.mailbox("daemon").len(), 1, "nothing more delivered\n{}", report());
    let lines = debian.filter_log_lines();
    let reason: Vec<&String> =
        lines[lines_before..].iter().filter(|l| l.contains(&format!("]: {forged}: "))).collect();
    assert!(reason.len() == 1 && reason[0].contains("sig"), "the reason in the log: {lines:?}");
    // The same line in syslog, facility mail, level err (<19>), as `mimeinject`: what
    // `journalctl -t mimeinject` shows (docs/exim.md).
    if let Some(dev_log) = dev_log {
        let syslog = dev_log.lines();
        eprintln!("{transport}: sent to /dev/log: {syslog:?}");
        let text = reason[0].split_once("]: ").unwrap().1;
        assert!(
            syslog
                .iter()
                .any(|l| l.starts_with("<19>") && l.contains(" mimeinject[") && l.ends_with(text)),
            "{text:?} in syslog: {syslog:?}"
        );
        let doc = support::readme::document("docs/exim.md");
        assert!(doc.contains("`journalctl -t mimeinject`"), "the guide names the journal");
    }
    assert!(
        debian
            .exim
            .mainlog()
            .contains(&format!("{forged} == {} R=local_user T={transport} defer", rcpts[0])),
        "{}",
        report()
    );
    let paniclog = debian.exim.paniclog();
    assert!(
        paniclog.contains("transport filter process failed"),
        "appendfile logs the failure as a panic, as the guide says\n{}",
        report()
    );
    // The guide's E4BCD_PANICLOG_NOISE matches every such line: Debian's alert, which shows
    // the lines that `grep -v` leaves, stays quiet.
    let doc = support::readme::document("docs/exim.md");
    let noise = doc
        .lines()
        .find_map(|l| l.strip_prefix("E4BCD_PANICLOG_NOISE='")?.strip_suffix('\''))
        .expect("the guide's E4BCD_PANICLOG_NOISE line");
    let left =
        run(Command::new("grep").args(["-v", noise]), paniclog.as_bytes(), Duration::from_secs(60));
    assert_eq!(String::from_utf8_lossy(&left.stdout), "", "paniclog lines the noise leaves");
    eprintln!(
        "{transport}: mainlog\n{}\npaniclog\n{paniclog}\nfilter log\n{}",
        debian.exim.mainlog(),
        debian.filter_log_lines().join("\n")
    );
}

#[test]
fn debian_unsplit_local_mail_spool() {
    local_delivery(Settings { split: false, configtype: "internet", localdelivery: "mail_spool" });
}

#[test]
fn debian_split_local_maildir_home() {
    local_delivery(Settings { split: true, configtype: "local", localdelivery: "maildir_home" });
}

/// The guard (docs/exim.md): with the filter only on the remote transports, `mail_spool`
/// and the pipes get the guard, and a message that still holds a placeholder is deferred
/// there, before anything is written to the mailbox or the command; ordinary mail goes
/// through. The pipe is `address_pipe`, reached through a pipe in the aliases file.
#[test]
fn debian_guard_defers_a_placeholder_on_transports_without_the_filter() {
    if should_skip() {
        return;
    }
    let debian =
        Debian::new(Settings { split: false, configtype: "internet", localdelivery: "mail_spool" });
    debian.activate("remote_smtp remote_smtp_smarthost");
    for transport in ["mail_spool", "address_pipe", "procmail_pipe", "address_reply"] {
        let bp = debian.exim.exim(&["-bP", "transport", transport], b"");
        let text = String::from_utf8_lossy(&bp.stdout).into_owned();
        assert!(
            text.lines()
                .any(|l| l.starts_with("message_size_limit = ") && l.contains("x-mimeinject")),
            "{transport}: the guard\n{text}"
        );
        assert!(
            text.contains("\ntransport_filter = \n") || !text.contains("mimeinject --root"),
            "{transport}: no filter\n{text}"
        );
    }
    sample_root(&debian);
    // Only the test does this: a pipe in an aliases file of its own, run as the exim user.
    let pipe_dir = debian.exim.dir().join("pipe");
    fs::create_dir(&pipe_dir).unwrap();
    fs::set_permissions(&pipe_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let piped = pipe_dir.join("out");
    let aliases = debian.exim.dir().join("aliases");
    fs::write(&aliases, format!("piped: |/usr/bin/tee -a {}\n", piped.display())).unwrap();
    debian.exim.edit_config(|text| {
        let lookup = "lsearch{/etc/aliases}";
        assert!(text.contains(lookup), "Debian's system_aliases router");
        let macros = format!(
            "SYSTEM_ALIASES_PIPE_TRANSPORT = address_pipe\nSYSTEM_ALIASES_USER = {}\n",
            EXIM_USER
        );
        macros + &text.replace(lookup, &format!("lsearch{{{}}}", aliases.display()))
    });
    let local = format!("daemon@{LOCAL_DOMAIN}");
    let pipe = format!("piped@{LOCAL_DOMAIN}");
    assert_eq!(debian.route(&local).1, "mail_spool");
    let bt = debian.exim.exim(&["-bt", &pipe], b"");
    assert!(String::from_utf8_lossy(&bt.stdout).contains("transport = address_pipe"), "{bt:?}");

    let report = || debian.exim.report();
    for (rcpt, transport) in [(&local, "mail_spool"), (&pipe, "address_pipe")] {
        let id = debian.exim.submit(SENDER, &[rcpt], &message("invoice.eml"));
        debian.deliver(&id);
        assert!(debian.exim.is_queued(&id), "{rcpt}: deferred\n{}", report());
        let mainlog = debian.exim.mainlog();
        let defer = mainlog
            .lines()
            .find(|l| l.contains(&format!("{id} == ")) && l.contains(rcpt.as_str()))
            .unwrap_or_else(|| panic!("{rcpt}: a defer line\n{}", report()));
        assert!(defer.contains(&format!("T={transport} defer")), "{defer}");
        let why = "integer expected but \"unexpanded-mimeinject-placeholder\" found";
        assert!(defer.contains(why), "{defer}");
        assert!(
            support::readme::document("docs/exim.md").contains(&format!("transport: {why}")),
            "the guide shows the line"
        );
    }
    assert!(debian.mailbox("daemon").is_empty(), "nothing in the mailbox\n{}", report());
    assert!(!piped.exists(), "nothing reached the command\n{}", report());

    // Ordinary mail goes through both.
    let id = debian.exim.submit(SENDER, &[&local, &pipe], &message("plain.eml"));
    debian.deliver(&id);
    assert!(!debian.exim.is_queued(&id), "delivered\n{}", report());
    assert_eq!(debian.mailbox("daemon").len(), 1, "{}", report());
    let out = fs::read_to_string(&piped).unwrap();
    assert!(out.contains("Subject: No placeholder here"), "{out}");
}

/// Running the add-filter step again with another `FILTER` (here with `--key-file` added, as
/// the guide says for local users) replaces the filter line: one filter per transport, the
/// new one.
#[test]
fn debian_add_filter_again_updates_the_filter_line() {
    if should_skip() {
        return;
    }
    let debian = Debian::new(Settings {
        split: true,
        configtype: "internet",
        localdelivery: "maildir_home",
    });
    debian.activate("");
    let filters = |transport: &str| -> Vec<String> {
        let bp = debian.exim.exim(&["-bP", "transport", transport], b"");
        let text = String::from_utf8_lossy(&bp.stdout).into_owned();
        text.lines().filter(|l| l.starts_with("transport_filter = ")).map(str::to_string).collect()
    };
    for transport in ["remote_smtp", "maildir_home", "mail_spool"] {
        let got = filters(transport);
        assert!(got.len() == 1 && !got[0].contains("--key-file"), "{transport}: {got:?}");
    }
    fs::remove_file(debian.exim.dir().join("restarts")).unwrap();
    debian.activate_with("", &debian.key_file_argument());
    let split =
        fs::read_to_string(debian.etc.join("conf.d/transport/30_exim4-config_maildir_home"));
    assert_eq!(split.unwrap().matches("transport_filter = ").count(), 1);
    for transport in ["remote_smtp", "maildir_home", "mail_spool", "address_file"] {
        let got = filters(transport);
        assert!(got.len() == 1 && got[0].contains("--key-file"), "{transport}: {got:?}");
    }
}

/// In a new mount namespace, binds `$1` over /etc/group and, unless `$3` is empty, socket `$3`
/// over `/dev/log` (a tmpfs covers `/dev`, as the host may have no `/dev/log`, with the
/// device nodes exim needs bound back in; `$2` is a directory to work in); then runs the rest.
const NAMESPACE_SH: &str = r#"set -e
group=$1 dir=$2 sock=$3
shift 3
mount --make-rprivate /
mount --bind "$group" /etc/group
[ -n "$sock" ] || exec "$@"
mkdir -p "$dir/realdev"
mount --rbind /dev "$dir/realdev"
mount -t tmpfs -o mode=755 mimeinject-test-dev /dev
for n in null zero full random urandom; do
    : > "/dev/$n"
    mount --bind "$dir/realdev/$n" "/dev/$n"
done
ln -s /proc/self/fd /dev/fd
: > /dev/log
mount --bind "$sock" /dev/log
exec "$@"
"#;

/// A socket that stands for `/dev/log` (journald's, or rsyslog's where it is installed)
/// while exim delivers in a private mount namespace: what the filter sends to syslog.
struct DevLog {
    dir: tempfile::TempDir,
    socket: std::os::unix::net::UnixDatagram,
}

impl DevLog {
    /// `None` (after the skip line) where `unshare -m` is not permitted.
    fn new() -> Option<DevLog> {
        let works = Command::new("unshare")
            .args(["-m", "true"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if support::should_skip((!works).then(|| "`unshare -m` is not permitted here".into())) {
            return None;
        }
        let dir = tempfile::Builder::new().prefix("mimeinject-devlog-").tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let path = dir.path().join("log.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        // Any filter process (a recipient's, Debian-exim's) may send, as to /dev/log.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        Some(DevLog { dir, socket })
    }

    fn socket_path(&self) -> PathBuf {
        self.dir.path().join("log.sock")
    }

    /// The datagrams received so far.
    fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0; 65536];
        while let Ok(n) = self.socket.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }
}

impl Debian {
    /// This machine's /etc/group with `Debian-exim` added to group `mail`, as the guide's
    /// `adduser Debian-exim mail` does.
    fn group_file(&self) -> PathBuf {
        let path = self.exim.dir().join("group");
        if !path.exists() {
            let mut out = String::new();
            for line in fs::read_to_string("/etc/group").unwrap().lines() {
                let mut fields: Vec<String> = line.split(':').map(str::to_string).collect();
                if fields.len() == 4 && fields[0] == "mail" {
                    let mut members: Vec<&str> =
                        fields[3].split(',').filter(|m| !m.is_empty()).collect();
                    members.push(EXIM_USER);
                    fields[3] = members.join(",");
                }
                out.push_str(&fields.join(":"));
                out.push('\n');
            }
            assert!(out.contains(&format!("mail:x:{}:", mail_gid())), "{out}");
            fs::write(&path, out).unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        }
        path
    }

    /// Runs this instance's exim with `args` where `Debian-exim` is in group `mail` (a
    /// private mount namespace whose /etc/group is [`group_file`](Self::group_file)), and
    /// `/dev/log` is `dev_log`'s socket when it is given.
    fn exim_in(&self, args: &[&str], dev_log: Option<&DevLog>) -> Output {
        let sock = dev_log.map(DevLog::socket_path).unwrap_or_default();
        let work = self.exim.dir().join("namespace");
        fs::create_dir_all(&work).unwrap();
        run(
            Command::new("unshare")
                .args(["-m", "sh", "-c", NAMESPACE_SH, "sh"])
                .arg(self.group_file())
                .arg(&work)
                .arg(sock)
                .args([EXIM, "-C"])
                .arg(self.exim.conf())
                .args(args)
                .current_dir(self.exim.dir())
                .env_clear()
                .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            b"",
            Duration::from_secs(120),
        )
    }

    /// `exim -M id` (see [`exim_in`](Self::exim_in)).
    pub(crate) fn deliver(&self, id: &str) -> Output {
        self.deliver_with(id, None)
    }

    fn deliver_with(&self, id: &str, dev_log: Option<&DevLog>) -> Output {
        self.exim_in(&["-M", id], dev_log)
    }

    /// `exim -qff` (see [`exim_in`](Self::exim_in)).
    pub(crate) fn run_queue(&self) -> Output {
        self.exim_in(&["-qff"], None)
    }
}

/// With no arguments the add-filter step also covers `address_file`: a file named in the
/// aliases file receives the message with its attachment, not the stub. (The aliases file
/// and the macros that let it name files are the test's.)
#[test]
fn debian_address_file_gets_the_filter() {
    if should_skip() {
        return;
    }
    let debian =
        Debian::new(Settings { split: true, configtype: "internet", localdelivery: "mail_spool" });
    debian.activate("");
    sample_root(&debian);
    let saved_dir = debian.exim.dir().join("saved");
    fs::create_dir(&saved_dir).unwrap();
    fs::set_permissions(&saved_dir, fs::Permissions::from_mode(0o777)).unwrap();
    let saved = saved_dir.join("mbox");
    let aliases = debian.exim.dir().join("aliases");
    fs::write(&aliases, format!("saved: {}\n", saved.display())).unwrap();
    debian.exim.edit_config(|text| {
        let lookup = "lsearch{/etc/aliases}";
        assert!(text.contains(lookup), "Debian's system_aliases router");
        let macros = format!(
            "SYSTEM_ALIASES_FILE_TRANSPORT = address_file\nSYSTEM_ALIASES_USER = {EXIM_USER}\n"
        );
        macros + &text.replace(lookup, &format!("lsearch{{{}}}", aliases.display()))
    });
    let rcpt = format!("saved@{LOCAL_DOMAIN}");
    let bt = debian.exim.exim(&["-bt", &rcpt], b"");
    assert!(String::from_utf8_lossy(&bt.stdout).contains("transport = address_file"), "{bt:?}");
    let id = debian.exim.submit(SENDER, &[&rcpt], &message("invoice.eml"));
    debian.deliver(&id);
    assert!(!debian.exim.is_queued(&id), "delivered\n{}", debian.exim.report());
    let got = fs::read(&saved).unwrap();
    assert!(!support::contains(&got, b"application/x-mimeinject"), "no stub");
    let pdf = fs::read(testdata().join("files/invoices/inv-42.pdf")).unwrap();
    assert!(attachment(&got, "Invoice 42.pdf") == pdf, "the invoice");
}
