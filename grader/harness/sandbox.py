"""Isolation of a student's programs: who they run as, their limits, and killing what they leave.

``grader/run_all`` grades untrusted submissions.  It runs each grading (grade.py
and everything it starts) in namespaces of its own and tells the harness, through
two environment variables, how to start the student's programs:

``GRADER_SANDBOX=1``
    every command that runs the student's code or compiles it (``Lab.start``, the
    build, Wine) starts behind :func:`prefix`: ``prlimit`` with :data:`LIMITS` (CPU
    time, memory, processes, file size, open files; a lab may raise one, as lab 6
    does for Wine's threads) and, with a user, ``setpriv`` (that user, no
    privileges).  Unset: programs start as before.
``GRADER_SANDBOX_UID``
    the user the student's programs run as; at the end of every check
    (:func:`kill_strays`, from ``proc.kill_all``) every process of that user is
    killed, including those that called ``setsid()`` or forked twice, but for
    those a lab keeps on purpose (:func:`spare_session`, :func:`spare_wine`).
``GRADER_SANDBOX_EARLY_UID``
    the user of what a lab starts ahead of its checks (``Lab.start(early=True)``:
    lab 5's slow clients, started with the grading and judged later): apart from
    the first, so that neither can kill the other's programs.  Its processes are
    killed when the grading ends (:func:`kill_early`).

``make labN`` sets neither: a student's own grading runs the way it always did.
"""
import contextlib
import os
import shutil
import signal
import subprocess
import threading

#: The PATH of every program the grader starts.
PATH = "/usr/local/bin:/usr/bin:/bin"


def minimal_env(extra=None, keep=("GRADER_TIME_SCALE",)):
    """An environment small and predictable: PATH, C locale, no home, a dumb terminal, the
    variables ``keep`` of the grader's own environment, then ``extra``."""
    env = {"PATH": PATH, "LC_ALL": "C", "HOME": "/nonexistent", "TERM": "dumb"}
    env.update({key: os.environ[key] for key in keep if key in os.environ})
    env.update(extra or {})
    return env


#: Limits of every program of a submission (the build included): ``prlimit`` options.
LIMITS = {
    "cpu": 20,                 # seconds of CPU per process (SIGXCPU, then SIGKILL)
    "data": 512 << 20,         # bytes of heap and private mappings (malloc fails past it)
    "nproc": 48,               # processes of the submission's user at once (fork fails)
    "fsize": 64 << 20,         # bytes of any file written (SIGXFSZ)
    "nofile": 512,             # open descriptors
    "core": 0,                 # no core dumps
}


def active():
    """True under grader/run_all: the student's programs run limited (and as their own user)."""
    return os.environ.get("GRADER_SANDBOX") == "1"


def prefix(limits=None, early=False):
    """The words to put before a command that runs or builds the student's code.

    ``limits`` changes some of :data:`LIMITS` for this command; ``early``: a run started
    ahead of its check, as the early runs' user.  Empty outside run_all.
    """
    if not active():
        return []
    uid = student_uid()
    if uid is None:
        return limits_prefix(limits)
    # The early runs' user is in the student's group: it may read their build, not signal it.
    return limits_prefix(limits) + user_prefix(early_uid() if early else uid, gid=uid)


def student_uid():
    """The user the student's programs run as, or None when they run as the grader."""
    raw = os.environ.get("GRADER_SANDBOX_UID")
    return int(raw) if raw else None


def early_uid():
    """The user of the runs started ahead of their checks (or :func:`student_uid`)."""
    raw = os.environ.get("GRADER_SANDBOX_EARLY_UID")
    return int(raw) if raw else student_uid()


def kill_early():
    """Kill every process of the early runs' user (the grading's early runs are over)."""
    if early_uid() != student_uid():
        kill_user(early_uid())


def limits_prefix(limits=None):
    """``prlimit`` words that set ``limits`` (default :data:`LIMITS`) for the command after them."""
    limits = dict(LIMITS, **(limits or {}))
    words = [shutil.which("prlimit") or "prlimit"]
    words += [f"--{name}={value}" for name, value in limits.items()]
    return words + ["--"]


def user_prefix(uid, gid=None):
    """``setpriv`` words that run the command after them as ``uid`` (group ``gid``, by default
    ``uid``), unprivileged."""
    return [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={gid or uid}",
            "--clear-groups", "--no-new-privs", "--inh-caps=-all", "--"]


def kill_user(uid, rounds=2):
    """Kill every process of ``uid`` that this process may see (its pid namespace).

    Done as ``uid`` itself with ``kill(-1, SIGKILL)``: the kernel signals every
    process of that user at once, so a fork bomb cannot outrun it.  A forked child
    of the grader takes the user's identity and makes the call (no program to start:
    ``kill -s KILL -- -1`` is read differently by procps' and util-linux's kill).
    """
    if uid is None or uid == os.getuid():
        return
    for _ in range(rounds):
        if not processes_of(uid):  # the usual case: nothing to kill, nothing to fork
            return
        try:
            child = os.fork()
        except OSError:
            return
        if child == 0:  # the child: become uid (it has no other way to be allowed), kill, leave
            code = 1
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)  # every process of uid but the caller
                code = 0
            except OSError:
                pass
            finally:
                os._exit(code)
        os.waitpid(child, 0)


def processes_of(uid):
    """The pids of the live processes of ``uid`` in /proc (those this process can see).

    A zombie (ended, waiting for its parent to reap it) holds nothing and is left out.
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                state = None
                for line in f:
                    if line.startswith("State:"):
                        state = line.split()[1]
                    elif line.startswith("Uid:"):
                        if int(line.split()[1]) == uid and state != "Z":
                            found.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return found


#: Sessions whose processes :func:`kill_strays` leaves alone: what the harness starts as
#: the student's user and must outlive the checks that run meanwhile (Wine's wineserver
#: and warm-up, started from a thread).  Whoever spares a session ends it.
_spared_sessions = set()
#: While True, :func:`kill_strays` leaves Wine's own processes alone (lab 6's wineserver
#: and the helpers it starts: services.exe, winedevice.exe, ...).
_wine_up = False


#: Held by :func:`kill_strays`, and by :func:`starting` (a thread starting a process to spare).
_lock = threading.RLock()


@contextlib.contextmanager
def starting():
    """Hold :func:`kill_strays` back while a process to spare starts, until it is spared.

    Wine is started from a thread while the checks go on: without this, a check ending in
    between could kill the new process before :func:`spare_session` names it.
    """
    with _lock:
        yield


def spare_session(sid):
    """Let :func:`kill_strays` leave the processes of session ``sid`` running."""
    _spared_sessions.add(sid)


def release_session(sid):
    """Undo :func:`spare_session`."""
    _spared_sessions.discard(sid)


def spare_wine(up):
    """Whether :func:`kill_strays` leaves Wine's own processes running (see :func:`is_wine`)."""
    global _wine_up
    _wine_up = bool(up)


#: How Wine's loader is named on a command line, before the program it loads names itself.
WINE_LOADERS = {b"wine", b"wine64", b"wine-preloader", b"wine64-preloader"}


def is_wine(pid):
    """True when ``pid`` is Wine's: its wineserver, or a program of Wine's own ``C:\\windows``.

    Told by the command line, not by a list taken once: Wine starts its helpers when it
    needs them (services.exe starts svchost.exe a moment later), and a helper killed by
    mistake is started again by the next program, with that program's environment and
    its stdout and stderr (a traced program would then show the helper's calls).  A
    helper that is still starting shows as ``wine64 C:\\windows\\...``.  A student's own
    program runs from the build folder (``Z:\\...``): one that copies itself into
    ``C:\\windows`` survives until the lab ends, when ``wineserver -k`` and the grading's
    namespace end everything.
    """
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return wines_own(f.read())
    except OSError:
        return False


def wines_own(cmdline):
    """True when ``cmdline`` (as in /proc/PID/cmdline) is one of Wine's own processes."""
    words = cmdline.split(b"\0")
    while len(words) > 1 and os.path.basename(words[0]) in WINE_LOADERS:
        words = words[1:]
    first = words[0]
    return first.lower().startswith(b"c:\\windows\\") or os.path.basename(first).startswith(b"wineserver")


def session_of(pid):
    """The session id of ``pid``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[3])
    except (OSError, ValueError, IndexError):
        return None


def spared(pid):
    """True when :func:`kill_strays` must leave ``pid`` running."""
    return session_of(pid) in _spared_sessions or (_wine_up and is_wine(pid))


def kill_strays():
    """Kill what the student's programs left running (no-op outside ``run_all``).

    With nothing to spare, one ``kill(-1)`` as the student's user ends them all at once.
    Otherwise they are stopped (SIGSTOP) round after round until no new one appears (a
    stopped process cannot fork, so even a fork bomb is caught), then all killed.
    """
    uid = student_uid()
    if uid is None:
        return
    with _lock:
        _kill_strays(uid)


def _kill_strays(uid):
    if not _spared_sessions and not _wine_up:
        kill_user(uid)
        return
    stopped = set()
    for _ in range(50):
        found = [pid for pid in processes_of(uid) if pid not in stopped and not spared(pid)]
        if not found:
            break
        for pid in found:
            try:
                os.kill(pid, signal.SIGSTOP)
            except OSError:
                pass
            stopped.add(pid)
    for pid in stopped:
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
