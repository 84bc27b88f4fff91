"""Isolation of the gradings of a run: namespaces, the users the programs run as, the environment.

Each grading (grade.py and everything it starts) runs in namespaces of its own where
the machine allows it (:class:`Isolation`): ``namespace`` (root: network, pid and mount
namespaces, the students' programs as users of their own), ``userns`` (an unprivileged
user namespace: the same, but every program is the grader's user), or ``none`` (the
subreaper of ``harness/sandbox.py`` kills what is left).  The namespace's first process
is ``init.sh``, beside this file.

Inside a grading, ``harness/sandbox.py`` does the rest with what this module hands it
through the environment (:func:`grading_env`): the limits (``prlimit``), the user
(``setpriv``), and killing every process of that user after each check.

The users are reserved per run (:class:`Users`): each uid of 62000 upwards that no
account uses is taken by holding a lock on a file of :data:`LOCKS` (``flock``), so that
two runs at once (or ``make test`` beside a run) never share one, never kill each
other's programs and never share a per-user process limit.  A run that crashes
releases its locks with its last descriptor; the next run to reserve the uid kills
whatever that run left.
"""
import fcntl
import os
import pathlib
import pwd
import shutil
import subprocess
import sys
import tempfile

from harness import sandbox

#: The namespace's first process (a shell script, run with ``sh -c``).
INIT = pathlib.Path(__file__).with_name("init.sh")
#: The users the students' programs run as: free uids from UID_BASE, UID_SPAN of them.
UID_BASE = 62000
UID_SPAN = 1000
#: Where the users' lock files are: one machine-wide folder (``/run/lock`` is a tmpfs).
LOCKS = pathlib.Path("/run/lock/sockets-lab-users" if os.path.isdir("/run/lock")
                     else os.path.join(tempfile.gettempdir(), "sockets-lab-users"))

DESCRIPTIONS = {
    "namespace": "isolation: network, pid and mount namespaces; programs run as their own "
                 "user with limits",
    "userns": "isolation: user, network, pid and mount namespaces; programs run with limits "
              "(not as a user of their own: hidden checks are not hidden from them)",
    "none": "isolation: NONE available (needs root or user namespaces): programs run with "
            "limits, killed by process group and subreaper, on the machine's own network",
}


class Users:
    """The uids of one run, reserved until :meth:`release` (or the run's end, whatever it is)."""

    def __init__(self):
        self.held = {}  # uid -> the open lock file that reserves it

    def reserve(self, count):
        """Reserve ``count`` users that nobody else uses; return their uids (fewer when the
        range is exhausted)."""
        LOCKS.mkdir(mode=0o700, parents=True, exist_ok=True)
        found = []
        for uid in range(UID_BASE, UID_BASE + UID_SPAN):
            if len(found) == count:
                break
            if uid in self.held or known_user(uid):
                continue
            fd = os.open(LOCKS / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # another run's
                os.close(fd)
                continue
            sandbox.kill_user(uid)  # what a run that crashed while holding it left
            self.held[uid] = fd
            found.append(uid)
        return found

    def release(self):
        """Kill what the users still run, and give them back."""
        for uid, fd in self.held.items():
            sandbox.kill_user(uid)
            os.close(fd)
        self.held.clear()


def reserved(uid):
    """True when a run holds ``uid`` now (its lock file is locked)."""
    try:
        fd = os.open(LOCKS / str(uid), os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # a lock this took goes with it


def in_range(uid):
    """True for a uid the runs take their users from."""
    return UID_BASE <= uid < UID_BASE + UID_SPAN


def known_user(uid):
    """True when an account of the system has ``uid`` (the grader never borrows it)."""
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


class Isolation:
    """How the gradings of a run are isolated, and the users their programs run as."""

    def __init__(self, want="auto"):
        self.root = os.geteuid() == 0
        self.users = Users()
        self.mode = self.choose(want)

    def describe(self):
        return DESCRIPTIONS[self.mode]

    def choose(self, want):
        """namespace (root), userns (user namespaces), or none: the first that works here."""
        tries = ["namespace", "userns"] if want == "auto" else [want]
        for mode in tries:
            if mode == "none":
                return mode
            if mode == "namespace" and not self.root:
                continue
            probe = "ip link set lo up && mount -t tmpfs t /tmp"
            if mode == "namespace":  # the users: setpriv to a uid no account has
                uid = next(u for u in range(UID_BASE, UID_BASE + UID_SPAN) if not known_user(u))
                probe += f" && {' '.join(sandbox.user_prefix(uid))} true"
            try:
                ok = shutil.which("unshare") and shutil.which("ip") and subprocess.run(
                    unshare(mode) + ["sh", "-c", probe], stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, timeout=20).returncode == 0
            except (OSError, subprocess.SubprocessError, StopIteration):
                ok = False
            if ok:
                return mode
        if want != "auto":
            print(f"run_all: isolation `{want}` is not available here", flush=True,
                  file=sys.stderr)
        return "none"

    def own_users(self):
        """True when the students' programs run as users of their own."""
        return self.mode == "namespace" or (self.mode == "none" and self.root)

    def reserve(self, jobs):
        """Two users per job, (the programs', the early runs'), reserved for this run; or
        ``[None] * jobs`` where programs cannot run as users of their own.

        The second runs what a lab starts ahead of its checks (lab 5's slow clients, started
        with the grading): a program of the first that kills every process it may (kill(-1))
        cannot reach them, nor they the first's, whatever the timing.
        """
        if not self.own_users():
            return [None] * jobs
        found = self.users.reserve(2 * jobs)
        pairs = list(zip(found[0::2], found[1::2]))
        if not pairs:
            raise RuntimeError(f"no free user between {UID_BASE} and {UID_BASE + UID_SPAN - 1}: "
                               "too many runs at once")
        return pairs

    def release(self):
        self.users.release()

    def wrap(self, grade, run_dir, src, masks, python, kit):
        """The command that runs ``grade`` (a grade.py command line) isolated."""
        if self.mode in ("namespace", "userns"):
            return (unshare(self.mode) + ["sh", "-c", INIT.read_text(), "sh", str(run_dir), str(src)]
                    + list(masks) + ["--"] + grade)
        return [python, str(kit / "grader" / "harness" / "sandbox.py"), "reap", "--"] + grade


def unshare(mode):
    """The ``unshare`` words of isolation ``mode`` (namespace or userns)."""
    base = ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc"]
    return base[:1] + ["--user", "--map-root-user"] + base[1:] if mode == "userns" else base


def grading_env(users, extra=None):
    """The environment of one grading: small, and what harness/sandbox.py reads.

    ``users`` is (the programs' uid, the early runs' uid), or None.
    """
    env = {"PATH": sandbox.PATH + ":/usr/sbin:/sbin", "PYTHONDONTWRITEBYTECODE": "1",
           "GRADER_SANDBOX": "1"}
    if users:
        env["GRADER_SANDBOX_UID"], env["GRADER_SANDBOX_EARLY_UID"] = map(str, users)
    env.update(extra or {})
    return sandbox.minimal_env(env, keep=("GRADER_TIME_SCALE", "CC"))
