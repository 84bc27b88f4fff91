"""Nothing a grading started outlives it, even when the grading is killed from outside.

A grading (``grader/grade.py``, or pytest running the checks) kills what each check
started (:func:`harness.proc.kill_all`).  Killed itself (SIGKILL: a test's time-out,
Ctrl-C twice, a platform's time limit), it can do nothing more, and its programs, each
in a session of its own, would run on under pid 1: a server under Valgrind, a lab 7
server's forked children.  So:

- every process the grading starts (the programs, the compiler, Wine's own: a persistent
  wineserver) carries a mark in its environment, ``SOCKETS_LAB_GRADING=TOKEN``
  (:func:`env`); what it forks and execs inherits it, in a session of its own too;
- a small watchdog, started with the grading's first program in a session of its own
  (so that no signal for the grading's group or terminal reaches it), learns each process
  group the grading starts and each it has killed, through a pipe whose only writer is
  the grading.  End of file on the pipe means the grading has ended, however: the
  watchdog then kills the groups still listed and every process that carries the mark
  (:func:`kill_marked`), until none is left.

``PR_SET_PDEATHSIG`` was not enough: it fires when the *thread* that started a program
ends (Wine starts from a thread), and a fork clears it (a lab 7 server's children).

Under ``grader/run_all`` a grading also runs in namespaces of its own, whose end kills
all; this is for ``make labN`` and the kit's own tests.  :func:`run` is ``subprocess.run``
for a whole grading: on a time-out it kills the grading and all it started.

The watchdog is this file run as a script (``reaper.py watch TOKEN``): stdlib only.
"""
import os
import secrets
import signal
import subprocess
import sys
import threading
import time

#: The environment variable that marks the processes of one grading.
VARIABLE = "SOCKETS_LAB_GRADING"

_lock = threading.RLock()  # _tell starts the watchdog, which asks token(), holding it
_token = None
_pipe = None  # the write end of the watchdog's pipe; False when it could not start


def token():
    """This grading's mark: the one it was given (:func:`run`), else a new one."""
    global _token
    with _lock:
        if _token is None:
            _token = os.environ.get(VARIABLE) or f"{os.getpid()}-{secrets.token_hex(8)}"
        return _token


def env(base=None):
    """``base`` (default: this process's environment) with this grading's mark."""
    marked = dict(os.environ if base is None else base)
    marked[VARIABLE] = token()
    return marked


def started(pgid):
    """The grading started process group ``pgid``: the watchdog kills it if the grading dies."""
    _tell(f"+{pgid}\n")


def ended(pgid):
    """The grading killed process group ``pgid`` itself: the number may be another's soon."""
    _tell(f"-{pgid}\n")


def watching():
    """Start the watchdog, if not yet: it will kill every process of :func:`env`'s mark."""
    global _pipe
    with _lock:
        if _pipe is None:
            _pipe = _start_watchdog()
        return _pipe


def _tell(line):
    with _lock:
        pipe = watching()
        if pipe is False:
            return
        try:
            os.write(pipe, line.encode())
        except OSError:  # full (the watchdog is behind) or gone: the mark still finds them
            pass


def _start_watchdog():
    """Start the watchdog on a new pipe; its write end (never inherited), or False."""
    mark = token()
    read_end, write_end = os.pipe()
    quiet = {k: v for k, v in os.environ.items() if k != VARIABLE}  # it must not kill itself
    try:
        subprocess.Popen([sys.executable, os.path.abspath(__file__), "watch", mark],
                         stdin=read_end, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=quiet, close_fds=True, start_new_session=True)
    except OSError:
        os.close(write_end)
        return False
    finally:
        os.close(read_end)
    os.set_blocking(write_end, False)
    return write_end


def marked(mark):
    """The pids of the live processes whose environment holds ``VARIABLE=mark`` (a zombie's
    environment is gone: it is not one)."""
    needle = f"{VARIABLE}={mark}".encode()
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:  # no /proc (a bare root without it): nothing can be found
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if needle in f.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # gone, or another user's
            continue
    return found


def kill_marked(mark, timeout=10.0):
    """SIGKILL every process marked ``mark``, again until none is left (a process may fork
    between two rounds) or ``timeout`` s passed; the pids still there (normally none)."""
    deadline = time.monotonic() + timeout
    while True:
        found = marked(mark)
        if not found or time.monotonic() > deadline:
            return found
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)  # polling /proc until they are gone, with a deadline


def watch(mark, lines):
    """The watchdog: follow ``lines`` (``+PGID``, ``-PGID``) to their end, then kill."""
    groups = set()
    for line in lines:
        text = line.strip()
        if text[:1] in (b"+", b"-") and text[1:].isdigit():
            (groups.add if text[:1] == b"+" else groups.discard)(int(text[1:]))
    for pgid in groups:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except OSError:
            pass
    kill_marked(mark)


def run(argv, timeout, env=None, **popen_kw):
    """``subprocess.run(argv, timeout=timeout, env=env, ...)`` for a whole grading.

    The grading gets a mark of its own and a session of its own.  On a time-out (or any
    exception, Ctrl-C included) its session is killed, then every process it marked, and
    only then is ``subprocess.TimeoutExpired`` raised, as ``subprocess.run`` raises it.
    """
    mark = f"run-{secrets.token_hex(8)}"
    child_env = dict(os.environ if env is None else env, **{VARIABLE: mark})
    with subprocess.Popen(argv, env=child_env, start_new_session=True, **popen_kw) as child:
        try:
            out, err = child.communicate(timeout=timeout)
        except BaseException:
            try:
                os.killpg(child.pid, signal.SIGKILL)
            except OSError:
                pass
            kill_marked(mark)
            child.communicate()
            raise
    return subprocess.CompletedProcess(argv, child.returncode, out, err)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "watch":
        watch(sys.argv[2], sys.stdin.buffer)
        sys.exit(0)
    print("usage: reaper.py watch TOKEN (the grading's watchdog: reads its pipe on stdin)",
          file=sys.stderr)
    sys.exit(2)
