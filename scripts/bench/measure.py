#!/usr/bin/python3
"""Runs a command and measures its whole process tree: wall time, CPU, and per program the
CPU and peak RSS of every process that ran in it (scripts/bench-seed.sh).

usage: measure.py --json OUT [--spool DIR] [--name NAME=PATH ...] -- COMMAND [ARG ...]

- CPU of the tree: a cgroup v1 `cpuacct` group made for the run; COMMAND is moved into it
  before exec, so every process it starts is counted, however short-lived (this process,
  which only waits, is not in it).
- Per process: the kernel's taskstats exit records (linux/taskstats.h: user and system
  CPU, `hiwater_rss`, the inode of the executable), received over generic netlink for every
  process that exits on the machine while the command runs. A record belongs to the tree
  when its parent chain leads to this process; that is decided after the run, newest exit
  first, because PIDs are reused (pid_max is 32768 here) and a parent always exits after
  its child. This process is a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so
  processes orphaned inside the tree (exim's double fork for a passed SMTP connection, a
  daemon going to the background) are reparented to it and stay in the tree; it waits for
  every one of them before it stops.
- `--name NAME=PATH` labels the processes whose executable is PATH (same device and inode)
  as NAME; the others are labelled by their command name (exim4, python3, sh, ...).
- `--spool DIR`: the size of DIR (sum of the files' st_size, like `du -sb`) is sampled
  every `--interval` seconds; the largest sample and the last are reported.
- SIGTERM or SIGINT to this process is passed on to COMMAND, and once COMMAND has exited, to
  every process left in the tree (orphans reparented here), before waiting for them.

The JSON written: harness_cpu_s (this process's own CPU, not in the cgroup), wall_s (and t_start, t_end: time.time() at COMMAND's start and when the
last process of the tree was reaped), cgroup cpu_s / user_s / sys_s, records (tree records seen),
lost (netlink overruns; per-program figures are then incomplete, the cgroup's are not),
by_name {NAME: {procs, user_s, sys_s, cpu_s, max_rss_kb}}, spool_peak / spool_last (bytes),
exit (COMMAND's exit status).
"""

import argparse
import ctypes
import errno
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

CGROUP_ROOT = "/sys/fs/cgroup/cpuacct"
PR_SET_CHILD_SUBREAPER = 36
SO_RCVBUFFORCE = 33

# Generic netlink and taskstats constants (linux/netlink.h, genetlink.h, taskstats.h).
NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
TASKSTATS_CMD_GET = 1
TASKSTATS_CMD_ATTR_REGISTER_CPUMASK = 3
TASKSTATS_TYPE_PID = 1
TASKSTATS_TYPE_STATS = 3
TASKSTATS_TYPE_AGGR_PID = 4

# Offsets in struct taskstats (stable since version 1 up to hiwater_rss; exe fields from
# version 12). Checked against /usr/include/linux/taskstats.h of Linux 6.1.
OFF_VERSION = 0
OFF_COMM = 80
OFF_PID = 128
OFF_PPID = 132
OFF_ETIME = 144
OFF_UTIME = 152
OFF_STIME = 160
OFF_HIWATER_RSS = 200
OFF_EXE_DEV = 384
OFF_EXE_INODE = 392


def nla(kind, data):
    length = 4 + len(data)
    return struct.pack("HH", length, kind) + data + b"\0" * ((4 - length % 4) % 4)


def nla_parse(buf):
    out = []
    i = 0
    while i + 4 <= len(buf):
        length, kind = struct.unpack_from("HH", buf, i)
        if length < 4:
            break
        out.append((kind & 0x3FFF, buf[i + 4 : i + length]))
        i += (length + 3) & ~3
    return out


class Taskstats:
    """Exit records of every process on the machine, from the moment of start()."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        self.sock.bind((0, 0))
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 64 << 20)
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 20)
        self.seq = 0
        self.family = self._family()
        # (received, pid, ppid, comm, dev, inode, utime_us, stime_us, rss_kb, etime_us)
        self.records = []
        self.lost = 0
        self.stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _request(self, family, cmd, payload):
        self.seq += 1
        body = struct.pack("BBH", cmd, 1, 0) + payload
        self.sock.send(
            struct.pack("IHHII", 16 + len(body), family, NLM_F_REQUEST | NLM_F_ACK, self.seq, 0)
            + body
        )

    def _reply(self):
        data = self.sock.recv(65536)
        length, kind = struct.unpack_from("IH", data)
        if kind == NLMSG_ERROR:
            err = struct.unpack_from("i", data, 16)[0]
            if err:
                raise OSError(-err, os.strerror(-err))
        return kind, data[:length]

    def _family(self):
        self._request(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, nla(CTRL_ATTR_FAMILY_NAME, b"TASKSTATS\0"))
        kind, data = self._reply()
        for attr, value in nla_parse(data[20:]):
            if attr == CTRL_ATTR_FAMILY_ID:
                return struct.unpack_from("H", value)[0]
        raise OSError("no TASKSTATS generic netlink family (CONFIG_TASKSTATS)")

    def start(self):
        cpus = "0-%d\0" % (os.cpu_count() - 1)
        self._request(
            self.family, TASKSTATS_CMD_GET, nla(TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, cpus.encode())
        )
        self._reply()  # the ACK; raises on error
        self.sock.settimeout(0.2)
        self.thread.start()

    def _loop(self):
        while not self.stop:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError as e:
                if e.errno == errno.ENOBUFS:
                    self.lost += 1
                    continue
                raise
            received = time.monotonic()
            length = struct.unpack_from("I", data)[0]
            for attr, value in nla_parse(data[20:length]):
                if attr != TASKSTATS_TYPE_AGGR_PID:
                    continue
                for inner, stats in nla_parse(value):
                    if inner != TASKSTATS_TYPE_STATS:
                        continue
                    version = struct.unpack_from("H", stats, OFF_VERSION)[0]
                    comm = stats[OFF_COMM : OFF_COMM + 32].split(b"\0", 1)[0].decode("latin-1")
                    pid, ppid = struct.unpack_from("II", stats, OFF_PID)
                    etime, utime, stime = struct.unpack_from("QQQ", stats, OFF_ETIME)
                    rss = struct.unpack_from("Q", stats, OFF_HIWATER_RSS)[0]
                    dev = inode = 0
                    if version >= 12 and len(stats) >= OFF_EXE_INODE + 8:
                        dev, inode = struct.unpack_from("QQ", stats, OFF_EXE_DEV)
                    self.records.append(
                        (received, pid, ppid, comm, dev, inode, utime, stime, rss, etime)
                    )

    def finish(self):
        # Records are sent at exit, before the parent is told; give the last ones a moment.
        time.sleep(0.3)
        self.stop = True
        self.thread.join()
        self.sock.close()


def tree_records(records, root, slack=1.0):
    """The records of processes descended from `root`, which is alive throughout.

    A record names its parent by PID, and PIDs are reused (pid_max is 32768 here), so the
    parent is the record of that PID whose lifetime (exit time minus ac_etime, to exit time)
    holds the child's exit. `slack` seconds are allowed on both sides: on two CPUs a child's
    record can arrive just after its parent's and still name it, because the parent's exit
    reparents its children only after its own record is sent."""
    by_pid = {}
    for i, rec in enumerate(records):
        by_pid.setdefault(rec[1], []).append(i)

    def parent(i):
        exit_t, _, ppid = records[i][:3]
        best = None
        for j in by_pid.get(ppid, ()):
            if j == i:
                continue
            p_exit = records[j][0]
            p_birth = p_exit - records[j][9] / 1e6
            if p_birth - slack <= exit_t <= p_exit + slack:
                gap = abs(p_exit - exit_t)
                if best is None or gap < best[0]:
                    best = (gap, j)
        return None if best is None else best[1]

    inside = {}

    def member(i):
        chain = []
        while i not in inside:
            if records[i][2] == root:
                inside[i] = True
                break
            chain.append(i)
            j = parent(i)
            if j is None or j in chain:
                inside[i] = False
                break
            i = j
        verdict = inside[i]
        for k in chain:
            inside[k] = verdict
        return verdict

    return [rec for i, rec in enumerate(records) if member(i)]


def dev_encode(st_dev):
    # taskstats encodes the device as new_encode_dev() does (linux/kdev_t.h).
    major, minor = os.major(st_dev), os.minor(st_dev)
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


def spool_size(path):
    total = 0
    stack = [path]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                for e in it:
                    try:
                        if e.is_dir(follow_symlinks=False):
                            stack.append(e.path)
                        elif e.is_file(follow_symlinks=False):
                            total += e.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        pass
        except FileNotFoundError:
            pass
    return total


def own_children():
    me = os.getpid()
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == me:
                        kids.append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def read_ns(group, name):
    try:
        with open(os.path.join(group, name)) as f:
            return int(f.read().split()[0])
    except FileNotFoundError:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", required=True)
    ap.add_argument("--spool")
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--name", action="append", default=[])
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("no command")

    names = {}
    for item in args.name:
        label, path = item.split("=", 1)
        st = os.stat(path)
        names[(dev_encode(st.st_dev), st.st_ino)] = label

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("measure.py: prctl(PR_SET_CHILD_SUBREAPER) failed")

    group = os.path.join(CGROUP_ROOT, "mimeinject-bench.%d" % os.getpid())
    os.mkdir(group)
    procs = os.path.join(group, "cgroup.procs")

    def enter_cgroup():
        with open(procs, "w") as f:
            f.write("0")

    ts = Taskstats()
    ts.start()

    peak = last = None
    sampler_stop = threading.Event()

    def sample():
        nonlocal peak, last
        while True:
            last = spool_size(args.spool)
            peak = last if peak is None else max(peak, last)
            if sampler_stop.wait(args.interval):
                last = spool_size(args.spool)
                peak = max(peak, last)
                return

    sampler = None
    if args.spool:
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

    t0 = time.monotonic()
    t_start = time.time()
    child = subprocess.Popen(command, preexec_fn=enter_cgroup)

    stopping = []

    def forward(signum, _frame):
        stopping.append(signum)
        try:
            child.send_signal(signum)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = child.wait()
    if stopping:
        # Told to stop: the orphans reparented here (a daemon gone to the background) too.
        for pid in own_children():
            try:
                os.kill(pid, stopping[0])
            except ProcessLookupError:
                pass
    # Orphans reparented to this subreaper: wait for every one.
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break
        except InterruptedError:
            continue
    wall = time.monotonic() - t0
    t_end = time.time()
    if sampler:
        sampler_stop.set()
        sampler.join()
    ts.finish()

    usage = read_ns(group, "cpuacct.usage")
    user = read_ns(group, "cpuacct.usage_user")
    system = read_ns(group, "cpuacct.usage_sys")
    try:
        os.rmdir(group)
    except OSError as e:
        print(f"measure.py: rmdir {group}: {e}", file=sys.stderr)

    mine = tree_records(ts.records, os.getpid())
    by_name = {}
    for _, pid, ppid, comm, dev, inode, ut, st, rss, _ in mine:
        label = names.get((dev, inode), comm)
        b = by_name.setdefault(label, {"procs": 0, "user_s": 0.0, "sys_s": 0.0, "max_rss_kb": 0})
        b["procs"] += 1
        b["user_s"] += ut / 1e6
        b["sys_s"] += st / 1e6
        b["max_rss_kb"] = max(b["max_rss_kb"], rss)
    for b in by_name.values():
        b["cpu_s"] = b["user_s"] + b["sys_s"]
    me = resource.getrusage(resource.RUSAGE_SELF)
    out = {
        "command": command,
        # This process's own CPU (the listener and the spool walks), outside the cgroup.
        "harness_cpu_s": me.ru_utime + me.ru_stime,
        "exit": status,
        "wall_s": wall,
        "t_start": t_start,
        "t_end": t_end,
        "cpu_s": usage / 1e9 if usage is not None else None,
        "user_s": user / 1e9 if user is not None else None,
        "sys_s": system / 1e9 if system is not None else None,
        "records": len(mine),
        "lost": ts.lost,
        "by_name": by_name,
        "spool_peak": peak,
        "spool_last": last,
    }
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)
    sys.exit(status if status >= 0 else 128 - status)


if __name__ == "__main__":
    main()
