"""Isolation of a student's programs: who they run as, their limits, and killing what they leave.

``grader/run_all`` grades untrusted submissions.  It runs each grading (grade.py
and everything it starts) in namespaces of its own and tells the harness, through
two environment variables, how to start the student's programs:

``GRADER_SANDBOX_PREFIX``
    a JSON list of words put before every command that runs the student's code
    or compiles it (``Lab.start``, the build): typically ``prlimit`` (CPU time,
    memory, processes, file size, open files) and ``setpriv`` (an unprivileged
    user of its own, no new privileges).  Unset: programs start as before.
``GRADER_SANDBOX_UID``
    the user the student's programs run as; at the end of every check
    (:func:`kill_strays`, from ``proc.kill_all``) every process of that user is
    killed, including those that called ``setsid()`` or forked twice.

``make labN`` sets neither: a student's own grading runs the way it always did.
"""
import json
import os
import shutil
import signal
import subprocess

#: Limits of every program of a submission (the build included): ``prlimit`` options.
LIMITS = {
    "cpu": 20,                 # seconds of CPU per process (SIGXCPU, then SIGKILL)
    "data": 512 << 20,         # bytes of heap and private mappings (malloc fails past it)
    "nproc": 48,               # processes of the submission's user at once (fork fails)
    "fsize": 64 << 20,         # bytes of any file written (SIGXFSZ)
    "nofile": 512,             # open descriptors
    "core": 0,                 # no core dumps
}


def prefix():
    """The words to put before a command that runs or builds the student's code."""
    raw = os.environ.get("GRADER_SANDBOX_PREFIX")
    if not raw:
        return []
    words = json.loads(raw)
    return [str(w) for w in words]


def student_uid():
    """The user the student's programs run as, or None when they run as the grader."""
    raw = os.environ.get("GRADER_SANDBOX_UID")
    return int(raw) if raw else None


def limits_prefix(limits=None):
    """``prlimit`` words that set ``limits`` (default :data:`LIMITS`) for the command after them."""
    limits = dict(LIMITS, **(limits or {}))
    words = [shutil.which("prlimit") or "prlimit"]
    words += [f"--{name}={value}" for name, value in limits.items()]
    return words + ["--"]


def user_prefix(uid):
    """``setpriv`` words that run the command after them as ``uid`` (group ``uid``), unprivileged."""
    return [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}",
            "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--"]


def kill_user(uid, rounds=2):
    """Kill every process of ``uid`` that this process may see (its pid namespace).

    Done as ``uid`` itself with ``kill(-1, SIGKILL)``: the kernel signals every
    process of that user at once, so a fork bomb cannot outrun it.
    """
    if uid is None or uid == os.getuid():
        return
    kill = shutil.which("kill") or "/bin/kill"
    for _ in range(rounds):
        try:
            subprocess.run(user_prefix(uid) + [kill, "-s", "KILL", "--", "-1"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10, env={"PATH": "/usr/bin:/bin"})
        except (OSError, subprocess.SubprocessError):
            return
        if not processes_of(uid):
            return


def processes_of(uid):
    """The pids of the processes of ``uid`` in /proc (those this process can see)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            found.append(int(entry))
                        break
        except OSError:
            continue
    return found


#: Processes of the student's user that :func:`kill_strays` leaves alone: Wine's
#: wineserver and helpers, started by the grader for lab 6 (harness/wine.py).
_spared = set()


def spare(pids, replace=False):
    """Let :func:`kill_strays` leave ``pids`` running (``replace``: instead of those spared so far)."""
    if replace:
        _spared.clear()
    _spared.update(pids)


def kill_strays():
    """Kill what the student's programs left running (no-op outside ``run_all``)."""
    uid = student_uid()
    if uid is None:
        return
    if not _spared:
        kill_user(uid)
        return
    # Wine is up: kill the others one by one, a few rounds (a Windows program cannot fork,
    # so nothing multiplies faster than this).  What the grading leaves, its namespace ends.
    for _ in range(5):
        strays = [pid for pid in processes_of(uid) if pid not in _spared]
        if not strays:
            return
        for pid in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def subreaper_main(argv):
    """``sandbox.py reap -- CMD...``: run CMD, then kill every process it left behind.

    The fallback of ``run_all`` where namespaces are not available: this process
    becomes a *child subreaper*, so orphans (double forks, ``setsid``) are
    re-parented to it and can be found and killed.  SIGTERM ends CMD early.
    """
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass
    child = subprocess.Popen(argv, start_new_session=True)
    stopping = []

    def on_term(_signum, _frame):
        stopping.append(True)
        _kill_descendants(child.pid)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    code = None
    while code is None:
        try:
            code = child.wait()
        except InterruptedError:
            continue
    _kill_descendants(child.pid)
    return 124 if stopping else code


def _children(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                kids.append(int(entry))
    return kids


def _kill_descendants(first):
    """Kill ``first``'s group, then every process re-parented to us, until none is left."""
    try:
        os.killpg(first, signal.SIGKILL)
    except OSError:
        pass
    kill_strays()
    for _ in range(100):
        kids = _children(os.getpid())
        if not kids:
            break
        for pid in kids:
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        for pid in kids:  # killed: they die at once; their own orphans come to us next
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    while True:  # reap whatever else ended
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break

if __name__ == "__main__":
    import sys
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "reap" and args[1] == "--":
        sys.exit(subreaper_main(args[2:]))
    print("usage: sandbox.py reap -- COMMAND...", file=sys.stderr)
    sys.exit(2)
