"""Holding a worker's processes: memory limits and teardown.

Each worker starts in its own session and process group. Where the OS lets the judge write to a
cgroup (v2, or v1's memory controller), the worker is moved into a fresh child cgroup before it
runs any learner code: the cgroup enforces the memory limit and lists every process the worker
started, even those that left the process group with setsid. Where no cgroup can be written, the
judge becomes a child subreaper, so that orphaned grandchildren are re-parented to it and can
still be found and killed; memory is then reported as not enforced. RLIMIT_AS is never used: it
breaks XLA and CUDA, which reserve large virtual ranges.

A freezer cgroup (v1's freezer controller, or v2's cgroup.freeze) lets the judge stop every
process of a learner's worker while it times the reference, so that nothing the learner's file
left running (a busy loop forked at import) slows the reference and loosens the limits.
"""

import ctypes
import itertools
import os
import signal
import time

_PR_SET_CHILD_SUBREAPER = 36
# processes and threads of one worker and all it starts: XLA and PyTorch start a pool of threads
# per core each (about 20 per worker on 2 cores), the distributed items a few ranks
PIDS_MAX = max(256, 8 * (os.cpu_count() or 1))
_counter = itertools.count()


def become_subreaper():
    """Ask Linux to re-parent our orphaned descendants to us (best effort)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _own_cgroup_dirs():
    """(v2 dir, v1 memory dir, v1 pids dir) of this process as mounted here; None where absent."""
    v2_dir = v1_dir = v1_pids_dir = None
    try:
        with open("/proc/self/cgroup") as handle:
            lines = handle.read().splitlines()
        with open("/proc/self/mountinfo") as handle:
            mounts = handle.read().splitlines()
    except OSError:
        return None, None, None
    v2_mount = v1_mount = v1_pids_mount = None
    for line in mounts:
        fields = line.split(" - ")
        if len(fields) != 2:
            continue
        mount_point = fields[0].split()[4]
        fstype, _, options = (fields[1].split() + ["", ""])[:3]
        if fstype == "cgroup2" and v2_mount is None:
            v2_mount = mount_point
        elif fstype == "cgroup" and "memory" in options.split(","):
            v1_mount = mount_point
        elif fstype == "cgroup" and "pids" in options.split(","):
            v1_pids_mount = mount_point
    for line in lines:
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0" and v2_mount:
            v2_dir = os.path.join(v2_mount, path.lstrip("/"))
        elif "memory" in controllers.split(",") and v1_mount:
            v1_dir = os.path.join(v1_mount, path.lstrip("/"))
        elif "pids" in controllers.split(",") and v1_pids_mount:
            v1_pids_dir = os.path.join(v1_pids_mount, path.lstrip("/"))
    return v2_dir, v1_dir, v1_pids_dir


def _own_v1_dir(controller):
    """This process's cgroup folder in the v1 hierarchy of `controller`, or None."""
    try:
        with open("/proc/self/cgroup") as handle:
            lines = handle.read().splitlines()
        with open("/proc/self/mountinfo") as handle:
            mounts = handle.read().splitlines()
    except OSError:
        return None
    mount = None
    for line in mounts:
        fields = line.split(" - ")
        if len(fields) == 2 and (fields[1].split() + ["", ""])[0] == "cgroup" and \
                controller in (fields[1].split() + ["", "", ""])[2].split(","):
            mount = fields[0].split()[4]
            break
    for line in lines if mount else []:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return os.path.join(mount, path.lstrip("/"))
    return None


class _Cgroup:
    """One child cgroup of ours with a memory limit (v2: memory.max; v1: limit_in_bytes)."""

    def __init__(self, path, version):
        self.path = path
        self.version = version

    @classmethod
    def create(cls, memory_bytes, name=None):
        v2_dir, v1_dir, _ = _own_cgroup_dirs()
        name = name or f"dlprep-{os.getpid()}-{next(_counter)}"
        for parent, version, limit_file in ((v2_dir, 2, "memory.max"),
                                            (v1_dir, 1, "memory.limit_in_bytes")):
            if not parent:
                continue
            _remove_stale(parent)
            path = os.path.join(parent, name)
            try:
                os.mkdir(path)
            except OSError:
                continue
            group = cls(path, version)
            try:
                group._write(limit_file, str(memory_bytes))
                if version == 1:
                    group._try_write("memory.memsw.limit_in_bytes", str(memory_bytes))
                else:
                    group._try_write("memory.swap.max", "0")
                    group._try_write("pids.max", str(PIDS_MAX))
                return group
            except OSError:
                group.remove()
        return None

    @classmethod
    def _create_v1(cls, parent, name):
        """A fresh child cgroup `name` of the v1 folder `parent`, or None."""
        if not parent:
            return None
        _remove_stale(parent)
        path = os.path.join(parent, name)
        try:
            os.mkdir(path)
        except OSError:
            return None
        return cls(path, 1)

    @classmethod
    def create_pids(cls, name):
        """A v1 pids cgroup with pids.max (v2 sets pids.max in the memory cgroup itself)."""
        group = cls._create_v1(_own_cgroup_dirs()[2], name)
        if group is None:
            return None
        try:
            group._write("pids.max", str(PIDS_MAX))
        except OSError:
            group.remove()
            return None
        return group

    @classmethod
    def create_freezer(cls, name):
        """A v1 freezer cgroup (v2 freezes the memory cgroup itself, through cgroup.freeze)."""
        group = cls._create_v1(_own_v1_dir("freezer"), name)
        if group is not None and not group.can_freeze():
            group.remove()
            return None
        return group

    def can_freeze(self):
        name = "cgroup.freeze" if self.version == 2 else "freezer.state"
        return os.path.exists(os.path.join(self.path, name))

    def set_frozen(self, frozen, wait_s=2.0):
        """Freeze (or thaw) every process of the group; True once the kernel says it is done."""
        try:
            if self.version == 2:
                self._write("cgroup.freeze", "1" if frozen else "0")
            else:
                self._write("freezer.state", "FROZEN" if frozen else "THAWED")
        except OSError:
            return False
        deadline = time.perf_counter() + wait_s
        while True:
            if self._is_frozen() == frozen:
                return True
            if time.perf_counter() > deadline:
                return False
            time.sleep(0.001)

    def _is_frozen(self):
        try:
            if self.version == 2:
                with open(os.path.join(self.path, "cgroup.events")) as handle:
                    return any(line.split() == ["frozen", "1"] for line in handle)
            with open(os.path.join(self.path, "freezer.state")) as handle:
                return handle.read().strip() == "FROZEN"
        except OSError:
            return None

    def pids_exhausted(self):
        """Whether a fork or thread creation was refused by pids.max."""
        try:
            with open(os.path.join(self.path, "pids.events")) as handle:
                return any(line.split()[:1] == ["max"] and int(line.split()[1]) > 0
                           for line in handle)
        except (OSError, ValueError, IndexError):
            return False

    def has_pids_limit(self):
        return os.path.exists(os.path.join(self.path, "pids.max"))

    def _write(self, name, text):
        with open(os.path.join(self.path, name), "w") as handle:
            handle.write(text)

    def _try_write(self, name, text):
        try:
            self._write(name, text)
        except OSError:
            pass

    def adopt(self, pid):
        self._write("cgroup.procs", str(pid))

    def pids(self):
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as handle:
                return [int(line) for line in handle.read().split()]
        except OSError:
            return []

    def oom_killed(self):
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            with open(os.path.join(self.path, name)) as handle:
                for line in handle:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
        except (OSError, ValueError):
            pass
        if self.version == 1:
            try:
                with open(os.path.join(self.path, "memory.failcnt")) as handle:
                    return int(handle.read()) > 0
            except (OSError, ValueError):
                pass
        return False

    def kill(self):
        if self.can_freeze():  # a frozen process takes its SIGKILL only once thawed
            self.set_frozen(False, wait_s=0.5)
        if self.version == 2:
            self._try_write("cgroup.kill", "1")
        for _ in range(100):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                _kill(pid)
            time.sleep(0.01)

    def remove(self):
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.02)


def _remove_stale(parent):
    """Remove empty cgroups left by judges that died (killed before their own clean-up)."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        owner = name.split("-")[1] if name.startswith("dlprep-") and name.count("-") == 2 else ""
        if owner.isdigit() and not os.path.exists(f"/proc/{owner}"):
            stale = os.path.join(parent, name)  # maybe left frozen by a judge that was killed
            if os.path.exists(os.path.join(stale, "freezer.state")):
                _Cgroup(stale, 1).set_frozen(False, wait_s=0.2)
            elif os.path.exists(os.path.join(stale, "cgroup.freeze")):
                _Cgroup(stale, 2).set_frozen(False, wait_s=0.2)
            try:
                os.rmdir(os.path.join(parent, name))
            except OSError:
                pass


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Containment:
    """What holds one worker: cgroups where possible (memory, and the process count), always its
    process group."""

    def __init__(self, memory_mb):
        self.memory_mb = memory_mb
        self.cgroup = _Cgroup.create(memory_mb * 1024 * 1024) if memory_mb else None
        self.pids_cgroup = self.freezer_cgroup = None
        if self.cgroup is not None and not self.cgroup.has_pids_limit():
            self.pids_cgroup = _Cgroup.create_pids(os.path.basename(self.cgroup.path))
        if self.cgroup is not None and not self.cgroup.can_freeze():
            self.freezer_cgroup = _Cgroup.create_freezer(os.path.basename(self.cgroup.path))
        self.pgid = None

    @property
    def memory_note(self):
        if self.cgroup:
            return f"{self.memory_mb} MiB, enforced (cgroup v{self.cgroup.version})"
        return "not enforced (no writable cgroup on this machine)"

    @property
    def pids_limit(self):
        return PIDS_MAX if self._pids_group() else None

    def _pids_group(self):
        if self.pids_cgroup:
            return self.pids_cgroup
        return self.cgroup if self.cgroup and self.cgroup.has_pids_limit() else None

    def _groups(self):  # the freezer first: v1 delivers a frozen process's SIGKILL once thawed
        return [group for group in (self.freezer_cgroup, self.cgroup, self.pids_cgroup) if group]

    def _freezer(self):
        if self.freezer_cgroup:
            return self.freezer_cgroup
        return self.cgroup if self.cgroup and self.cgroup.can_freeze() else None

    @property
    def can_freeze(self):
        return self._freezer() is not None

    def freeze(self):
        """Stop every process of the worker where it stands (the judge times the reference
        meanwhile, so that nothing the learner started runs beside it); True if it held."""
        group = self._freezer()
        if group is None:
            return False
        if group.set_frozen(True):
            return True
        group.set_frozen(False, wait_s=0.5)
        return False

    def thaw(self):
        group = self._freezer()
        if group is not None:
            group.set_frozen(False)

    def adopt(self, pid):
        """Put a freshly started worker (its own session leader) under this containment."""
        self.pgid = pid
        for group in self._groups():
            try:
                group.adopt(pid)
            except OSError:
                group.remove()
                if group is self.cgroup:
                    self.cgroup = None
                elif group is self.pids_cgroup:
                    self.pids_cgroup = None
                else:
                    self.freezer_cgroup = None

    def oom_killed(self):
        return bool(self.cgroup and self.cgroup.oom_killed())

    def pids_exhausted(self):
        group = self._pids_group()
        return bool(group and group.pids_exhausted())

    def kill_all(self):
        """Kill every process of the worker: its group, its cgroup, and orphans re-parented to us."""
        if self.pgid:
            try:
                os.killpg(self.pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for group in self._groups():
            group.kill()

    def release(self):
        for group in self._groups():
            group.remove()


def remove_stale_workdirs():
    """Remove worker folders left in the temp folder by judges that were killed."""
    import shutil
    import tempfile

    from grader.workers import WORKDIR_PREFIX

    root = tempfile.gettempdir()
    try:
        names = os.listdir(root)
    except OSError:
        return
    for name in names:
        owner = name[len(WORKDIR_PREFIX):].split("-", 1)[0]
        if name.startswith(WORKDIR_PREFIX) and owner.isdigit() and \
                not os.path.exists(f"/proc/{owner}"):
            shutil.rmtree(os.path.join(root, name), ignore_errors=True)


def own_children():
    """The pids of this process's children now."""
    me, found = os.getpid(), set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if len(fields) > 1 and int(fields[1]) == me:
            found.add(int(entry))
    return found


def sweep_orphans(keep):
    """Kill and reap children of ours that are not `keep` (descendants re-parented to us).

    Only meaningful when this process is a subreaper: grandchildren that a worker left behind
    (after setsid and a double fork) then become our children when the worker dies. Workers
    run in sessions of their own, so children in our own session are never touched.
    """
    me = os.getpid()
    my_session = os.getsid(0)
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in keep:
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        # fields: state, ppid, pgrp, session, ...; our own session holds no worker
        if len(fields) > 3 and int(fields[1]) == me and int(fields[3]) != my_session:
            pid = int(entry)
            _kill(pid)
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
