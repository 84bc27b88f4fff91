"""harness.sandbox: what run_all kills after every check, and what it leaves running.

After each check every process of the student's user is killed, except what the lab
keeps on purpose: a spared session (Wine's server as it starts) and Wine's own
processes (lab 6).  These tests start real processes as an unused user
(root only): a spared session with a child, a daemon that left its session, a fork
bomb held by the sandbox's process limit, and a process that calls itself one of
Wine's programs.
"""
import ctypes
import os
import shutil
import subprocess
import time

import pytest

#: The student's user of the running test (reserved by the ``student`` fixture).
UID = None

from harness import proctree, sandbox
from runall import isolation

AS_ROOT = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                                reason="needs root, to run processes as another user")


def subreaper(on):
    """Make this process the one that orphans of its descendants are given to (and reaps)."""
    ctypes.CDLL(None, use_errno=True).prctl(36, int(on), 0, 0, 0)  # PR_SET_CHILD_SUBREAPER


def reap():
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


@pytest.fixture
def student(monkeypatch):
    """The student's user, as run_all sets it; everything of it is killed afterwards.

    The test is a subreaper meanwhile (as run_all's namespaces are): killed orphans are
    reaped here, not left as zombies that count against the user's process limit.
    """
    global UID
    users = isolation.Users()
    UID, = users.reserve(1)  # a user of this test alone, as a run reserves its own
    monkeypatch.setenv("GRADER_SANDBOX_UID", str(UID))
    subreaper(True)
    started = []

    def start(script, argv0=None):
        words = sandbox.limits_prefix() + sandbox.user_prefix(UID)
        argv = words + (["bash", "-c", f'exec -a "{argv0}" sleep 60'] if argv0
                        else ["bash", "-c", script])
        proc = subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(proc)
        return proc
    yield start
    sandbox.release_session(-1)
    sandbox._spared_sessions.clear()
    sandbox.spare_wine(False)
    sandbox.kill_user(UID)
    for proc in started:
        proc.wait(5)
    wait_for(lambda: reap() or sandbox.processes_of(UID) == [])
    subreaper(False)
    users.release()


def wait_for(predicate, timeout=5.0):
    """Poll ``predicate`` until it holds (a deadline, not a sleep to synchronise)."""
    end = time.monotonic() + timeout
    while not (reap() or predicate()):
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


@AS_ROOT
def test_without_anything_spared_everything_goes(student):
    student("sleep 60 & setsid sleep 60 & wait")
    wait_for(lambda: len(sandbox.processes_of(UID)) >= 3)
    sandbox.kill_strays()
    wait_for(lambda: sandbox.processes_of(UID) == [])


@AS_ROOT
def test_a_spared_session_survives_and_the_rest_goes(student):
    kept = student("sleep 60 & wait")  # a process to keep, and a child of its own
    wait_for(lambda: len(sandbox.processes_of(UID)) >= 2)
    sandbox.spare_session(kept.pid)
    student("setsid bash -c 'sleep 60 & wait' & wait")  # a daemon outside the session
    # A fork bomb: held at the sandbox's process limit, still forking while it is killed.
    bomb = student("while :; do sleep 60 & done")
    wait_for(lambda: [sandbox.session_of(p) for p in sandbox.processes_of(UID)].count(bomb.pid) >= 3)
    sandbox.kill_strays()
    wait_for(lambda: all(sandbox.session_of(p) in (kept.pid, None)
                         for p in sandbox.processes_of(UID)))
    survivors = [p for p in sandbox.processes_of(UID) if sandbox.session_of(p) == kept.pid]
    assert kept.pid in survivors and len(survivors) == 2  # bash and its sleep
    sandbox.release_session(kept.pid)
    sandbox.kill_strays()
    wait_for(lambda: sandbox.processes_of(UID) == [])


@AS_ROOT
def test_wines_own_processes_survive_while_wine_is_up(student):
    helper = student("", argv0="C:\\windows\\system32\\services.exe")
    program = student("", argv0="Z:\\tmp\\build\\lab6\\echo_server_win.exe")
    # Both must have reached their own command line (not still prlimit, setpriv or bash):
    # counting the user's processes alone raced with their exec.
    wait_for(lambda: proctree.cmdline(program.pid).startswith(b"Z:\\")
             and proctree.cmdline(helper.pid).startswith(b"C:\\"))
    assert sorted(sandbox.processes_of(UID)) == sorted([helper.pid, program.pid])
    assert sandbox.is_wine(helper.pid)
    sandbox.spare_wine(True)
    sandbox.kill_strays()
    wait_for(lambda: sandbox.processes_of(UID) == [helper.pid])
    sandbox.spare_wine(False)
    sandbox.kill_strays()
    wait_for(lambda: sandbox.processes_of(UID) == [])


@pytest.mark.parametrize("cmdline,own", [
    (b"/usr/lib/wine/wineserver64\0-p0\0-f\0-p\0", True),
    (b"C:\\windows\\system32\\services.exe\0", True),
    (b"/usr/lib/wine/wine64\0C:\\windows\\system32\\svchost.exe\0-k\0Local\0", True),  # starting
    (b"/usr/lib/wine/wine64-preloader\0/usr/lib/wine/wine64\0C:\\windows\\system32\\plugplay.exe\0", True),
    (b"/usr/lib/wine/wine64\0/tmp/run/build/lab6/echo_server_win.exe\0" b"0\0", False),
    (b"Z:\\tmp\\run\\build\\lab6\\echo_server_win.exe\0" b"0\0", False),
    (b"/tmp/run/build/lab4/echo_server\0" b"0\0", False),
    (b"", False),
])
def test_wines_own_processes_are_told_by_their_command_line(cmdline, own):
    assert sandbox.wines_own(cmdline) is own
