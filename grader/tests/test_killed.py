"""A grading killed from outside takes its programs with it (harness.reaper).

grade.py is SIGKILLed in the middle of a check (a test's time-out, Ctrl-C twice, a
platform's time limit do the same): nothing it started may run on, neither a lab 3 server
and client that hang (the server under Valgrind too), nor a lab 7 server's forked
children, one of which left the server's session and forked again.  reaper.run, which
the kit's tests run gradings with, kills a grading that timed out the same way.  Afterwards no process's command line may name the
grading's build folder (zombies have none: pid 1 reaps late on some machines).
"""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from harness import reaper, timing

from conftest import GRADER, ROOT
from test_hang import HANG, processes_running

#: A lab 7 server that forks three children that hang; the third leaves the session
#: (setsid) and forks a grandchild, then ends: the grandchild is nobody's child but pid 1's.
FORKS = r"""
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <unistd.h>

int main(void)
{
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    for (int i = 0; i < 3; i++) {
        pid_t pid = fork();
        if (pid == 0 && i == 2) {
            setsid();
            if (fork() != 0)
                _exit(0);
        }
        if (pid == 0)
            for (;;)
                pause();
    }
    for (;;)
        pause();
}
"""

#: How long to wait for a grading to start its programs (it builds them first), and for
#: what it left to be gone once it was killed.
START, GONE = 60.0, 10.0
#: When a grading of programs that hang times out: mid-check (each check waits 10 s for them),
#: stretched by this machine's measured slowness (a loaded machine builds them later).
HUNG = 10.0


def submission(tmp_path, lab, programs):
    folder = tmp_path / "impl" / f"lab{lab}"
    folder.mkdir(parents=True)
    for name, text in programs.items():
        (folder / f"{name}.c").write_text(text)
    return tmp_path / "impl"


def programs_of(build):
    """The pids of the programs built in ``build`` that run now, under Valgrind or not (not
    the compiler, whose command line names the folder too)."""
    found = []
    for pid in processes_running(str(build)):
        try:
            exe = os.readlink(f"/proc/{pid}/exe")
            if exe.startswith(str(build)) or "valgrind" in exe:
                found.append(pid)
        except OSError:
            pass
    return found


def wait_for(predicate, timeout):
    """Poll ``predicate()`` until it is true or ``timeout`` s passed; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)  # polling /proc, with a deadline


@pytest.fixture
def leftovers():
    """``leftovers(folder)``: the pids still naming ``folder``; whatever a failed test left
    is killed at teardown, so that it does not disturb the next tests."""
    folders = []

    def running(folder):
        folders.append(str(folder))
        return processes_running(str(folder))
    yield running
    for folder in folders:
        for pid in processes_running(folder):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


@pytest.mark.parametrize("lab, programs, least, checks", [
    (3, {"hello_server": HANG, "hello_client": HANG}, 1, []),
    (3, {"hello_server": HANG, "hello_client": HANG}, 1, ["--", "-k", "valgrind_clean"]),
    (7, {"fork_echo_server": FORKS}, 5, []),  # the server, its 3 children, the grandchild
], ids=["lab3-hang", "lab3-valgrind", "lab7-forks"])
def test_a_killed_grading_leaves_nothing_running(tmp_path, lab, programs, least, checks,
                                                 leftovers):
    impl, build = submission(tmp_path, lab, programs), tmp_path / "build"
    grading = subprocess.Popen([sys.executable, str(GRADER / "grade.py"), str(lab), "--impl",
                                str(impl), "--build-root", str(build)] + checks, cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        leftovers(build)  # killed at teardown, should the test fail
        running = wait_for(lambda: len(programs_of(build)) >= least, START)
        assert running, f"the grading did not start its programs within {START} s"
    finally:
        grading.kill()  # SIGKILL, to grade.py alone: it has no chance to clean up
        grading.wait()
    wait_for(lambda: not leftovers(build), GONE)
    assert leftovers(build) == [], f"still running {GONE} s after the grading was killed"


def test_a_grading_that_times_out_is_killed_whole(tmp_path, leftovers):
    """reaper.run, the kit's tests' way to run a grading with a time-out: on the time-out the
    grading is killed with all it started before TimeoutExpired is raised."""
    impl, build = submission(tmp_path, 3, {"hello_server": HANG, "hello_client": HANG}), tmp_path / "build"
    seen, done = [], threading.Event()

    def watch():  # the programs ran before the time-out: else the test proves nothing
        while not seen and not done.wait(0.05):  # polling /proc until the time-out
            seen.extend(programs_of(build))
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            reaper.run([sys.executable, str(GRADER / "grade.py"), "3", "--impl", str(impl),
                        "--build-root", str(build)], timeout=timing.seconds(HUNG), cwd=ROOT,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert leftovers(build) == [], "reaper.run raised before the grading was all killed"
    finally:
        done.set()
        watcher.join()
    assert seen, f"the grading started no program within {timing.seconds(HUNG):.0f} s: the test proved nothing"
