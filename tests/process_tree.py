"""The processes a test started, found by parent pid: never by name, never machine-wide.

Tests run next to other test runs and learners' gradings on the same machine, so a test may
only look at, and signal, the process tree under a process it started itself (a judge it ran
with subprocess, a child interpreter). Workers may sit under wrappers (`/bin/sh`, `bwrap`) and
in other PID namespaces: the pids here are those of this test's namespace.
"""

import os


def parents():
    """{pid: parent pid} of every process this one can see (read from /proc/PID/stat)."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[-1].split()
        except (OSError, ValueError):
            continue
        found[int(entry)] = int(fields[1])
    return found


def children(pid):
    """The pids whose parent is `pid`, oldest first (by start time)."""
    table = parents()
    return sorted((child for child, parent in table.items() if parent == pid), key=start_time)


def descendants(pid):
    """Every pid below `pid` (children, their children, ...), `pid` itself excluded."""
    table = parents()
    found, frontier = [], [pid]
    while frontier:
        below = [child for child, parent in table.items() if parent in frontier]
        found += below
        frontier = below
    return found


def ancestors(pid):
    """The chain of parents of `pid`, nearest first (up to the first that is gone)."""
    table, chain = parents(), []
    while pid in table and table[pid] not in chain and table[pid] > 0:
        pid = table[pid]
        chain.append(pid)
    return chain


def start_time(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[-1].split()[19])
    except (OSError, ValueError, IndexError):
        return 0


def alive(pid):
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def thread_names(pid):
    """The names (comm) of every thread of `pid`: what prctl(PR_SET_NAME) or /proc/self/comm set."""
    names = set()
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return names
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/comm") as handle:
                names.add(handle.read().strip())
        except OSError:
            continue
    return names


def listening_ports(pids):
    """The local ports of the listening TCP sockets that the processes `pids` hold open."""
    ports = set()
    for pid in pids:
        inodes = set()
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
        for table in ("tcp", "tcp6"):  # the sockets of the process's own network namespace
            try:
                with open(f"/proc/{pid}/net/{table}") as handle:
                    rows = [row.split() for row in handle.read().splitlines()[1:]]
            except OSError:
                continue
            ports |= {int(row[1].rsplit(":", 1)[1], 16) for row in rows
                      if len(row) > 9 and row[3] == "0A" and row[9] in inodes}
    return ports
