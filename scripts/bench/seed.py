#!/usr/bin/python3
"""The seed's scenario at the seed's scale, through a real exim and a real Postfix
(scripts/bench-seed.sh runs this; see there for the settings).

For each MTA and approach, N messages are built, submitted over SMTP (a session per 1,000;
all are queued before any delivery), then delivered over SMTP to a loopback sink (sink.py):

  placeholder  the application queues the small message with a stub part; the MTA pipes it
               through mimeinject at delivery (exim: transport_filter; Postfix: the pipe(8)
               content filter, and `mimeinject deliver` when the binary has it);
  pre-built    the application builds the whole message with Python's email package and
               queues it; the MTA delivers it as it is.

Every phase runs under measure.py (cgroup CPU of the tree, taskstats per program). Results go
to WORK/results.json; seed_report.py turns them into tables and the chart.
"""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import seed_data  # noqa: E402

PY = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
EXIM = "/usr/sbin/exim4"
EXIM_USER = "Debian-exim"
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}

# exim delivery methods: (runners, description, config lines, command flags, daemon).
EXIM_METHODS = {
    "q": (1, "one `exim -q`", "", ["-q"], False),
    "q2": (2, "two `exim -q` started together", "", ["-q", "-q"], False),
    "qq": (
        1,
        "one `exim -qq` (two-stage: route all, then one SMTP connection for many)",
        "",
        ["-qq"],
        False,
    ),
    "qq2": (2, "two `exim -qq` started together", "", ["-qq", "-qq"], False),
    "split2": (
        2,
        "`split_spool_directory`, two `exim -q`",
        "split_spool_directory = true\n",
        ["-q", "-q"],
        False,
    ),
    "ramp": (
        1,
        "one `exim -qq` with `queue_fast_ramp` (forks deliveries during routing)",
        "queue_fast_ramp = true\n",
        ["-qq"],
        False,
    ),
    "daemon2": (
        2,
        "daemon `exim -q1s` with `queue_run_max = 2`",
        "queue_run_max = 2\n",
        ["-q1s", "-oP", "{pid}"],
        True,
    ),
}


def say(*a):
    print("###", *a, file=sys.stderr, flush=True)


def die(msg):
    print("bench-seed: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def env_list(name, default):
    return os.environ.get(name, default).split()


class Bench:
    def __init__(self):
        self.n = int(os.environ.get("N", "20000"))
        self.work = os.environ["WORK"]
        self.bin_src = os.environ["MIMEINJECT_BIN"]
        self.files = int(os.environ.get("FILES", str(self.n)))
        self.prebuilt_n = [int(x) for x in env_list("PREBUILT_N", "200 2000") if int(x) <= self.n]
        self.exim_methods = env_list("EXIM_METHODS", "q q2")
        # The comparison of ways to run queue runners in parallel, at a smaller size.
        self.tune_n = min(int(os.environ.get("TUNE_N", "2000")), self.n)
        self.tune_methods = env_list("TUNE_METHODS", "q q2 split2 daemon2 qq")
        self.tune_repeat = int(os.environ.get("TUNE_REPEAT", "3"))
        self.prebuilt_methods = env_list("PREBUILT_METHODS", " ".join(self.exim_methods))
        self.mtas = env_list("MTAS", "exim postfix")
        self.postfix_modes = env_list("POSTFIX_MODES", "filter deliver")
        self.pf_prefix = os.environ.get("MIMEINJECT_POSTFIX_PREFIX", "/opt/mimeinject-postfix")
        # Every K-th message is kept and checked: at most every 100th, at least 50 per run.
        self.sample_every = (
            int(os.environ["SAMPLE_EVERY"]) if os.environ.get("SAMPLE_EVERY") else None
        )
        self.root = os.path.join(self.work, "root")
        self.results_path = os.path.join(self.work, "results.json")
        self.bin = os.path.join(self.work, "bin", "mimeinject")
        for m in self.exim_methods + self.prebuilt_methods + self.tune_methods:
            if m not in EXIM_METHODS:
                die(f"unknown exim method {m!r} (known: {' '.join(EXIM_METHODS)})")
        self.results = {"meta": {}, "runs": [], "builds": {}, "skipped": []}
        self.daemons = {}  # PID file -> measure.py process, stopped if a run fails

    # --- set-up ---------------------------------------------------------------------------
    def setup(self):
        os.makedirs(os.path.join(self.work, "bin"), exist_ok=True)
        os.chmod(self.work, 0o755)
        os.chmod(os.path.join(self.work, "bin"), 0o755)
        shutil.copy(self.bin_src, self.bin)
        os.chmod(self.bin, 0o755)
        say(
            f"writing {self.n} statement files under {self.root} ({min(self.files, self.n)} distinct)"
        )
        t = time.time()
        subprocess.run(
            [
                PY,
                os.path.join(HERE, "seed_data.py"),
                "files",
                self.root,
                str(self.n),
                str(self.files),
            ],
            check=True,
        )
        say(f"  done in {time.time() - t:.1f} s")
        sizes = seed_data.sizes(min(self.files, self.n))
        sizes = [sizes[i % len(sizes)] for i in range(self.n)]
        exim_version = subprocess.run(
            [EXIM, "-bV"], capture_output=True, text=True
        ).stdout.splitlines()[0]
        m = re.match(r"Exim version (\S+)", exim_version)
        exim_version = "exim " + m.group(1) if m else exim_version
        pf = os.path.join(self.pf_prefix, "usr/sbin/postconf")
        pf_version = ""
        if os.path.exists(pf):
            pf_version = subprocess.run(
                [pf, "-d", "-h", "mail_version"], capture_output=True, text=True
            ).stdout.strip()
        self.results["meta"] = {
            "n": self.n,
            "files": min(self.files, self.n),
            "attachment_bytes": sum(sizes),
            "attachment_mean": sum(sizes) / len(sizes),
            "attachment_max": max(sizes),
            "mix": seed_data.MIX,
            "sample_every": self.every(self.n),
            "commit": subprocess.run(
                ["git", "-C", REPO, "describe", "--always", "--dirty"],
                capture_output=True,
                text=True,
            ).stdout.strip(),
            "host": " ".join(os.uname()[i] for i in (1, 2, 4)),
            "cpus": os.cpu_count(),
            "cpu_model": cpu_model(),
            "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "exim": exim_version,
            "postfix": pf_version,
            "mimeinject": subprocess.run(
                [self.bin, "--version"], capture_output=True, text=True
            ).stdout.strip(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "load_before": loadavg(),
            "stat_before": cpu_stat(),
            "command": os.environ.get("BENCH_COMMAND", ""),
            "exim_methods": {k: v[1] for k, v in EXIM_METHODS.items()},
            "tune_n": self.tune_n,
            "tune_repeat": self.tune_repeat,
        }
        # `deliver --help` would succeed on a binary without it ("deliver" read as a recipient).
        usage = subprocess.run([self.bin, "--help"], capture_output=True, text=True).stdout
        self.results["meta"]["lifecycle_ms"] = self.calibrate()
        self.has_deliver = re.search(r"^\s+deliver\s", usage, re.M) is not None
        self.save()

    def calibrate(self, count=300):
        """CPU a process costs beyond its own exit record: taskstats sends the record before
        the kernel tears the process down (exit_mm and the rest), the cgroup counts all of it.
        Measured as (cgroup CPU - the records) / processes over `count` runs of
        `mimeinject --version`; seed_report.py adds it to every mimeinject process."""
        out = os.path.join(self.work, "calibrate.json")
        loop = (
            f"i=0; while [ $i -lt {count} ]; do {self.bin} --version >/dev/null; i=$((i+1)); done"
        )
        best = None
        for _ in range(3):
            m = self.measure(out, ["sh", "-c", loop])
            recs = sum(v["cpu_s"] for v in m["by_name"].values())
            per = max(0.0, m["cpu_s"] - recs) / count * 1e3
            best = per if best is None else min(best, per)
        say(f"process lifecycle beyond the exit record: {best:.3f} ms (least of 3 x {count} runs)")
        return best

    def save(self):
        tmp = self.results_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.results, f, indent=1)
        os.rename(tmp, self.results_path)

    # --- measured commands ----------------------------------------------------------------
    def measure(self, out, command, spool=None, background=False):
        argv = [
            PY,
            os.path.join(HERE, "measure.py"),
            "--json",
            out,
            "--name",
            "mimeinject=" + self.bin,
        ]
        for exe, label in ((EXIM, "exim"),):
            argv += ["--name", f"{label}={exe}"]
        if spool:
            argv += ["--spool", spool]
        argv += ["--"] + command
        if background:
            return subprocess.Popen(argv)
        subprocess.run(argv, check=True)
        with open(out) as f:
            return json.load(f)

    def build(self, mode, n):
        """The messages of one approach, built once per size and reused by every run."""
        key = f"{mode}-{n}"
        out = os.path.join(self.work, "build", key)
        if key in self.results["builds"] and os.path.isdir(out):
            return out
        shutil.rmtree(out, ignore_errors=True)
        say(f"build {n} {mode} messages")
        m = self.measure(
            os.path.join(self.work, f"build-{key}.json"),
            [PY, os.path.join(HERE, "seed_data.py"), "build", mode, "0", str(n), out, self.root],
        )
        m["bytes"] = dir_size(out)
        self.results["builds"][key] = m
        self.save()
        return out

    # --- the sink -------------------------------------------------------------------------
    def every(self, n):
        return self.sample_every or max(1, min(100, n // 50))

    def sink_start(self, d, n):
        os.makedirs(d, exist_ok=True)
        port_file = os.path.join(d, "sink.port")
        proc = subprocess.Popen(
            [
                PY,
                os.path.join(HERE, "sink.py"),
                "--port-file",
                port_file,
                "--status",
                os.path.join(d, "sink.status"),
                "--samples",
                os.path.join(d, "samples"),
                "--sample-every",
                str(self.every(n)),
            ]
        )
        for _ in range(200):
            if os.path.exists(port_file):
                break
            time.sleep(0.05)
        else:
            die("the sink did not start")
        with open(port_file) as f:
            return proc, int(f.read())

    def sink_count(self, d):
        try:
            with open(os.path.join(d, "sink.status")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def sink_stop(self, proc, d):
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        with open(os.path.join(d, "sink.status")) as f:
            return json.loads(f.read().splitlines()[1])

    def check(self, d, n):
        r = subprocess.run(
            [
                PY,
                os.path.join(HERE, "seed_check.py"),
                os.path.join(d, "sink.status"),
                os.path.join(d, "samples"),
                self.root,
                str(n),
            ],
            capture_output=True,
            text=True,
        )
        try:
            return json.loads(r.stdout)
        except json.JSONDecodeError:
            return {"problems": [r.stdout + r.stderr], "lost": None}

    # --- exim -----------------------------------------------------------------------------
    def exim_instance(self, d, approach, method, port):
        for sub in ("spool", "log"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
            shutil.chown(os.path.join(d, sub), EXIM_USER, EXIM_USER)
        os.chmod(d, 0o755)
        extra = EXIM_METHODS[method][2]
        filt = ""
        if approach == "placeholder":
            # The documentation's recipe (exim/remote_smtp.conf) with this run's paths, plus
            # --no-syslog --log-file so that a failure's reason is kept with the run.
            filt = (
                f"  transport_filter = {self.bin} --root {self.root} --queue-id $message_exim_id"
                f" --no-syslog --log-file {d}/log/mimeinject.log -- $pipe_addresses\n"
                "  transport_filter_timeout = 300s\n"
            )
        conf = os.path.join(d, "exim.conf")
        with open(conf, "w") as f:
            f.write(f"""primary_hostname = bench.test
qualify_domain = example.test
spool_directory = {d}/spool
log_file_path = {d}/log/%slog
pid_file_path = {d}/exim-daemon.pid
exim_path = {EXIM}
keep_environment =
add_environment = <; PATH=/bin:/usr/bin
message_size_limit = 0
queue_only
host_lookup =
rfc1413_hosts =
acl_smtp_rcpt = acl_rcpt
log_selector = +delivery_size +deliver_time +millisec +pid
{extra}
begin acl

acl_rcpt:
  accept

begin routers

r_smtp:
  driver = manualroute
  domains = example.test
  route_list = * 127.0.0.1
  self = send
  transport = t_smtp

begin transports

t_smtp:
  driver = smtp
  port = {port}
  allow_localhost
  hosts_avoid_tls = *
  max_rcpt = 1
{filt}
begin retry

* * F,1h,1h
""")
        return conf

    def exim_run(self, approach, n, method, tune=False, rep=0):
        name = f"exim-{approach}-{n}-{method}" + (f"-{rep + 1}" if tune else "")
        d = os.path.join(self.work, "run", name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        src = self.build("template" if approach == "placeholder" else "built", n)
        sink, port = self.sink_start(d, n)
        conf = self.exim_instance(d, approach, method, port)
        run = {
            "mta": "exim",
            "approach": approach,
            "n": n,
            "method": method,
            "runners": EXIM_METHODS[method][0],
        }
        run["tune"] = tune
        run["rep"] = rep
        try:
            say(f"({name}) submit {n} messages (exim -bs, a session per 1,000)")
            sub = self.measure(
                os.path.join(d, "submit.json"),
                [PY, os.path.join(HERE, "seed_submit.py"), src, "0", str(n), "exim", EXIM, conf],
            )
            queued = count_files(os.path.join(d, "spool", "input"), "-H")
            if queued != n:
                die(f"({name}) {queued} of {n} messages queued")
            run["spool_after_submit"] = dir_size(os.path.join(d, "spool"))
            flags = EXIM_METHODS[method][3]
            daemon = EXIM_METHODS[method][4]
            say(f"({name}) deliver: {EXIM_METHODS[method][1]}")
            pid_file = os.path.join(d, "exim-daemon.pid")
            if daemon:
                runners = f"{EXIM} -C {conf} {' '.join(flags).replace('{pid}', pid_file)}"
            else:
                runners = " & ".join(f"{EXIM} -C {conf} {fl}" for fl in flags)
            # Their stderr is kept: with -qq each passed connection re-executes exim (-MC),
            # which logs "exim user lost privilege for using -C option" for a private config.
            err = os.path.join(d, "runners.err")
            command = [
                "env",
                "-i",
                "PATH=" + ENV["PATH"],
                "sh",
                "-c",
                f"({runners} & wait) 2>{err}",
            ]
            out = os.path.join(d, "deliver.json")
            if not daemon:
                dlv = self.measure(out, command)
                dlv["t_done"] = dlv["t_end"]
            else:
                proc = self.measure(out, command, background=True)
                self.daemons[pid_file] = proc
                spool_in = os.path.join(d, "spool", "input")
                self.wait_for(
                    name,
                    d,
                    n,
                    lambda: count_files(spool_in, "-H") == 0,
                    os.path.join(d, "log", "mainlog"),
                )
                t_done = time.time()
                pid = read_pid(pid_file)
                if pid is None:
                    die(f"({name}) no daemon PID file")
                os.kill(pid, signal.SIGTERM)
                proc.wait()
                del self.daemons[pid_file]
                with open(out) as f:
                    dlv = json.load(f)
                dlv["t_done"] = t_done
            dlv["wall_done_s"] = dlv["t_done"] - dlv["t_start"]
        finally:
            self.stop_daemons()
            sink_summary = self.sink_stop(sink, d)
        run["phases"] = {"submit": sub, "deliver": dlv}
        run["sink"] = {k: v for k, v in sink_summary.items() if k != "recipients"}
        log = read(os.path.join(d, "log", "mainlog"))
        run["log"] = {
            "delivered": len(re.findall(r" => ", log)),
            "deferred": len(re.findall(r" == ", log)),
            "failed": len(re.findall(r" \*\* ", log)),
            "left_in_queue": count_files(os.path.join(d, "spool", "input"), "-H"),
            "locked_skips": len(re.findall(r"is locked \(another process", log)),
            "runner_stderr_lines": len(read(os.path.join(d, "runners.err")).splitlines()),
        }
        run["check"] = self.check(d, n)
        self.finish_run(name, d, run)

    # --- Postfix --------------------------------------------------------------------------
    def recipe(self, name):
        docs = [os.path.join(REPO, "README.md")] + sorted(
            glob.glob(os.path.join(REPO, "docs", "*.md"))
        )
        text = "".join(read(p) for p in docs)
        m = re.search(r"<!-- recipe: " + re.escape(name) + r" -->\n```[^\n]*\n(.*?)```", text, re.S)
        return m.group(1) if m else None

    def postfix_instance(self, d, mode, port):
        p = self.pf_prefix
        for sub in ("conf", "queue", "data", "log", "tmp", "etc-postfix"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.chmod(d, 0o755)
        shutil.chown(os.path.join(d, "data"), "postfix")
        for sub in ("log", "tmp"):
            shutil.chown(os.path.join(d, sub), "nobody", "nogroup")
        maillog = os.path.join(d, "maillog")
        open(maillog, "w").close()
        shutil.chown(maillog, "postfix")
        wrapper = os.path.join(self.work, "bin", "mimeinject-postfix-wrapper")
        shutil.copy(os.path.join(REPO, "contrib", "mimeinject-postfix-wrapper"), wrapper)
        os.chmod(wrapper, 0o755)
        # The re-injecting sendmail of the content filter runs as nobody and needs this
        # (docs/postfix.md, "Other instances").
        with open(os.path.join(d, "etc-postfix", "main.cf"), "w") as f:
            f.write(f"alternate_config_directories = {d}/conf\n")
        open(os.path.join(d, "etc-postfix", "master.cf"), "w").close()
        main = f"""compatibility_level = 3.6
daemon_directory = {p}/usr/lib/postfix/sbin
command_directory = {p}/usr/sbin
shlib_directory = {p}/usr/lib/postfix
meta_directory = {p}/etc/postfix
sendmail_path = {p}/usr/sbin/sendmail
newaliases_path = {p}/usr/bin/newaliases
mailq_path = {p}/usr/bin/mailq
manpage_directory = {p}/usr/share/man
sample_directory = no
readme_directory = no
html_directory = no
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.test
mydomain = bench.test
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtpd_banner = $myhostname ESMTP
relayhost = [127.0.0.1]:{port}
message_size_limit = 0
mailbox_size_limit = 0
maillog_file = {maillog}
maillog_file_prefixes = {d}
queue_run_delay = 1h
minimal_backoff_time = 1h
maximal_backoff_time = 2h
"""
        master = "bench-smtpd unix n       -       n       -       -       smtpd\n"
        # Every submitted message is put on hold, so that submission and delivery are
        # measured apart; postsuper -H releases them all at once.
        master += "  -o smtpd_sender_restrictions=check_sender_access,static:HOLD\n"
        if mode == "filter":
            master += "  -o content_filter=mimeinject:dummy\n"
        master += """pickup    unix  n       -       n       60      1       pickup
  -o content_filter=
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
smtp      unix  -       -       n       -       -       smtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
        if mode == "filter":
            # docs/postfix.md: the content filter, with this run's paths.
            main += "mimeinject_destination_recipient_limit = 1\n"
            master += f"""mimeinject unix -       n       n       -       10      pipe
  flags=Rq user=nobody null_sender=
  argv=/usr/bin/env MIMEINJECT_ROOT={self.root}
    MIMEINJECT={self.bin} MIMEINJECT_LOG={d}/log/mimeinject.log
    MIMEINJECT_TMPDIR={d}/tmp SENDMAIL={p}/usr/sbin/sendmail
    {wrapper} -f ${{sender}} -- ${{recipient}}
"""
        elif mode == "deliver":
            # The documentation's recipes postfix/deliver-smtp.main.cf and .master.cf when they are
            # there (the deliver workstream); else the same lines.
            rmain = self.recipe("postfix/deliver-smtp.main.cf") or (
                "default_transport = mimeinject\nrelay_transport = mimeinject\n"
                "mimeinject_destination_recipient_limit = 1\n"
            )
            rmaster = self.recipe("postfix/deliver-smtp.master.cf") or (
                "mimeinject unix  -       n       n       -       20      pipe\n"
                "  flags=q user=mimeinject null_sender=\n"
                "  argv=/usr/local/bin/mimeinject deliver --nexthop smtp:[relay.example.com]:25\n"
                "    --root /srv/mail-attachments --log-file /var/log/mimeinject/deliver.log\n"
                "    -f ${sender} -- ${recipient}\n"
            )
            main += rmain
            rmaster = (
                rmaster.replace("/usr/local/bin/mimeinject", self.bin)
                .replace("user=mimeinject", "user=nobody")
                .replace("smtp:[relay.example.com]:25", f"smtp:[127.0.0.1]:{port}")
                .replace("/srv/mail-attachments", self.root)
                .replace("/var/log/mimeinject/deliver.log", f"{d}/log/mimeinject.log")
            )
            if f"{self.bin} deliver" not in rmaster:
                die("the deliver recipe was not applied")
            master += rmaster
        with open(os.path.join(d, "conf", "main.cf"), "w") as f:
            f.write(main)
        with open(os.path.join(d, "conf", "master.cf"), "w") as f:
            f.write(master)
        out = subprocess.run(
            [os.path.join(p, "usr/sbin/postfix"), "-c", os.path.join(d, "conf"), "check"],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            die(f"postfix check failed: {out.stdout}{out.stderr}")

    def stop_daemons(self):
        """Stops whatever a failed run left running (by the PIDs in their files)."""
        for pid_file, proc in list(self.daemons.items()):
            pid = read_pid(pid_file)
            if proc.poll() is None:
                try:
                    # The daemon by its PID file, else measure.py, which passes it on.
                    os.kill(pid or proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            del self.daemons[pid_file]

    def postfix_up(self, d, out, spool=None):
        """Starts the master in the foreground under measure.py; returns the measure process."""
        for f in ("pid/master.pid",):
            try:
                os.unlink(os.path.join(d, "queue", f))
            except FileNotFoundError:
                pass
        for sub in ("public", "private"):
            for e in (
                os.listdir(os.path.join(d, "queue", sub))
                if os.path.isdir(os.path.join(d, "queue", sub))
                else []
            ):
                os.unlink(os.path.join(d, "queue", sub, e))
        open(os.path.join(d, "queue", "quick-start"), "w").close()
        postfix = os.path.join(self.pf_prefix, "usr/sbin/postfix")
        script = (
            f"mount --bind '{d}/etc-postfix' /etc/postfix && "
            f"exec '{postfix}' -c '{d}/conf' start-fg >>'{d}/postfix.out' 2>&1"
        )
        command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]
        proc = self.measure(out, command, spool=spool, background=True)
        q = os.path.join(d, "queue")
        self.daemons[os.path.join(q, "pid", "master.pid")] = proc
        for _ in range(400):
            if (
                os.path.exists(os.path.join(q, "public", "bench-smtpd"))
                and os.path.exists(os.path.join(q, "public", "qmgr"))
                and os.path.exists(os.path.join(q, "public", "flush"))
                and read_pid(os.path.join(q, "pid", "master.pid"))
            ):
                return proc
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        die(f"postfix did not start: {read(os.path.join(d, 'maillog'))[-2000:]}")

    def postfix_down(self, d, proc, out):
        pid_file = os.path.join(d, "queue", "pid", "master.pid")
        os.kill(read_pid(pid_file), signal.SIGTERM)
        proc.wait()
        del self.daemons[pid_file]
        with open(out) as f:
            return json.load(f)

    def wait_for(self, name, d, n, queue_empty, log, timeout=7200):
        """Polls until the sink has n messages and the queue is empty; stops at the first
        deferral or bounce in the MTA's log. Reads only what the log gained since the last
        poll: it grows to tens of MB, and this runs on the same CPUs as the measured MTA."""
        t0 = time.time()
        offset = 0
        rest = b""
        bad = re.compile(rb"status=deferred|status=bounced| == | \*\* ")
        while True:
            if self.sink_count(d) >= n and queue_empty():
                return
            try:
                with open(log, "rb") as f:
                    f.seek(offset)
                    new = f.read()
            except FileNotFoundError:
                new = b""
            offset += len(new)
            lines = (rest + new).split(b"\n")
            rest = lines.pop()
            for line in lines:
                if bad.search(line):
                    die(f"({name}) a delivery failed: {line.decode(errors='replace')}")
            if time.time() - t0 > timeout:
                die(f"({name}) not delivered within {timeout} s")
            time.sleep(0.2)

    def postfix_run(self, approach, n, mode):
        name = f"postfix-{approach}-{n}-{mode}"
        d = os.path.join(self.work, "run", name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        src = self.build("template" if approach == "placeholder" else "built", n)
        sink, port = self.sink_start(d, n)
        self.postfix_instance(d, mode, port)
        q = os.path.join(d, "queue")
        run = {"mta": "postfix", "approach": approach, "n": n, "method": mode, "runners": None}
        try:
            say(f"({name}) submit {n} messages (SMTP to smtpd, a session per 1,000)")
            pf = self.postfix_up(d, os.path.join(d, "submit-mta.json"))
            client = self.measure(
                os.path.join(d, "submit.json"),
                [
                    PY,
                    os.path.join(HERE, "seed_submit.py"),
                    src,
                    "0",
                    str(n),
                    "unix",
                    os.path.join(q, "public", "bench-smtpd"),
                ],
            )
            for _ in range(600):
                if count_files(os.path.join(q, "hold")) == n:
                    break
                time.sleep(0.05)
            held = count_files(os.path.join(q, "hold"))
            if held != n:
                die(f"({name}) {held} of {n} messages on hold")
            mta = self.postfix_down(d, pf, os.path.join(d, "submit-mta.json"))
            run["spool_after_submit"] = dir_size(os.path.join(q, "hold"))
            sub = merge(client, mta)

            say(f"({name}) deliver")
            # Only the content filter queues anything during delivery (the expanded copies), so
            # only there is the queue's size sampled (a walk of every file in it, each second).
            pf = self.postfix_up(
                d, os.path.join(d, "deliver.json"), spool=q if mode == "filter" else None
            )
            t0 = time.time()
            pbin = os.path.join(self.pf_prefix, "usr/sbin")
            subprocess.run(
                [os.path.join(pbin, "postsuper"), "-c", os.path.join(d, "conf"), "-H", "ALL"],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [os.path.join(pbin, "postqueue"), "-c", os.path.join(d, "conf"), "-f"], check=True
            )
            dirs = [
                os.path.join(q, s) for s in ("maildrop", "incoming", "active", "deferred", "hold")
            ]
            self.wait_for(
                name,
                d,
                n,
                lambda: sum(count_files(x) for x in dirs) == 0,
                os.path.join(d, "maillog"),
            )
            t_done = time.time()
            dlv = self.postfix_down(d, pf, os.path.join(d, "deliver.json"))
            dlv["t_start"] = t0
            dlv["t_done"] = t_done
            dlv["wall_done_s"] = t_done - t0
        finally:
            self.stop_daemons()
            sink_summary = self.sink_stop(sink, d)
        run["phases"] = {"submit": sub, "deliver": dlv}
        run["sink"] = {k: v for k, v in sink_summary.items() if k != "recipients"}
        log = read(os.path.join(d, "maillog"))
        run["log"] = {
            "delivered": len(re.findall(r"status=sent", log)),
            "deferred": len(re.findall(r"status=deferred", log)),
            "failed": len(re.findall(r"status=bounced", log)),
            "left_in_queue": sum(
                count_files(os.path.join(q, s))
                for s in ("maildrop", "incoming", "active", "deferred", "hold")
            ),
        }
        run["check"] = self.check(d, n)
        self.finish_run(name, d, run)

    # --- bookkeeping ----------------------------------------------------------------------
    def finish_run(self, name, d, run):
        run["name"] = name
        run["load_after"] = loadavg()
        self.results["runs"].append(run)
        self.save()
        c = run["check"]
        dl = run["phases"]["deliver"]
        wall = dl["wall_done_s"]
        say(
            f"({name}) delivered {run['sink']['messages']} in {wall:.1f} s ({run['n'] / wall:.1f} msg/s, "
            f"{run['sink']['bytes'] / wall / 1e9:.3f} GB/s); lost {c.get('lost')}, sample "
            f"{c.get('sampled', 0) - c.get('sample_bad', 0)}/{c.get('sampled', 0)} byte-exact; load {run['load_after']}"
        )
        if c.get("problems") or run["log"]["left_in_queue"]:
            die(f"({name}) check failed: {c.get('problems')} {run['log']}")
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(d, ignore_errors=True)

    def main(self):
        self.setup()
        if "exim" in self.mtas:
            for m in self.exim_methods:
                self.exim_run("placeholder", self.n, m)
            # Round by round, so that a slow spell of this shared guest hits every method.
            for rep in range(self.tune_repeat):
                for m in self.tune_methods:
                    self.exim_run("placeholder", self.tune_n, m, tune=True, rep=rep)
            for n in self.prebuilt_n:
                for m in self.prebuilt_methods:
                    self.exim_run("prebuilt", n, m)
        if "postfix" in self.mtas:
            if not os.path.exists(os.path.join(self.pf_prefix, "usr/sbin/postfix")):
                line = f"Postfix skipped: none in {self.pf_prefix} (run scripts/install-postfix.sh)"
                say(line)
                self.results["skipped"].append(line)
            else:
                for mode in self.postfix_modes:
                    if mode == "deliver" and not self.has_deliver:
                        line = "Postfix delivery mode skipped: this mimeinject has no `deliver` subcommand"
                        say(line)
                        self.results["skipped"].append(line)
                        continue
                    self.postfix_run("placeholder", self.n, mode)
                for n in self.prebuilt_n:
                    self.postfix_run("prebuilt", n, "plain")
        self.results["meta"]["load_after"] = loadavg()
        before, after = self.results["meta"]["stat_before"], cpu_stat()
        total = sum(after) - sum(before)
        if total > 0 and len(after) > 7:
            self.results["meta"]["steal_pct"] = 100.0 * (after[7] - before[7]) / total
        self.results["meta"]["finished"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        self.save()
        if os.environ.get("KEEP") != "1":
            shutil.rmtree(os.path.join(self.work, "build"), ignore_errors=True)


def merge(a, b):
    """Two measurements of one phase (the client's and the daemons'), as one."""
    out = dict(a)
    out["cpu_s"] = (a["cpu_s"] or 0) + (b["cpu_s"] or 0)
    out["user_s"] = (a["user_s"] or 0) + (b["user_s"] or 0)
    out["sys_s"] = (a["sys_s"] or 0) + (b["sys_s"] or 0)
    out["records"] = a["records"] + b["records"]
    out["lost"] = a["lost"] + b["lost"]
    names = {}
    for part in (a["by_name"], b["by_name"]):
        for k, v in part.items():
            t = names.setdefault(
                k, {"procs": 0, "user_s": 0.0, "sys_s": 0.0, "cpu_s": 0.0, "max_rss_kb": 0}
            )
            for f in ("procs", "user_s", "sys_s", "cpu_s"):
                t[f] += v[f]
            t["max_rss_kb"] = max(t["max_rss_kb"], v["max_rss_kb"])
    out["by_name"] = names
    return out


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def read_pid(path):
    try:
        with open(path) as f:
            text = "".join(c for c in f.read() if c.isdigit())
            return int(text) if text else None
    except FileNotFoundError:
        return None


def count_files(d, suffix=""):
    n = 0
    for root, _, files in os.walk(d):
        n += sum(1 for f in files if f.endswith(suffix))
    return n


def dir_size(d):
    total = 0
    for root, _, files in os.walk(d):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except FileNotFoundError:
                pass
    return total


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def cpu_stat():
    """The machine's CPU time counters (/proc/stat's cpu line: user nice system idle iowait
    irq softirq steal ...), for the share the hypervisor took during the run."""
    return [int(x) for x in read("/proc/stat").splitlines()[0].split()[1:]]


def cpu_model():
    for line in read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return ""


if __name__ == "__main__":
    Bench().main()
