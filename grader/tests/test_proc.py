"""What a program wrote is all read in once it exits, and a daemon it left costs no time.

The output pipes of an exited program are drained before its status is returned.  A
daemon it started (``setsid``, out of its process group) may hold the pipes open for ever:
waiting for their end of file cost a fixed second per run, so a check that ran the program
ten times timed out on a quiet machine and passed on a busy one (whose deadlines stretch).
A child still in the program's group is given its moment to write.
"""
import os
import signal
import time

from harness import proc


def program(script):
    return proc.Program(["sh", "-c", script], "sh", dict(os.environ), None, None, False)


def kill_daemon(pidfile):
    """Kill the daemon whose pid the script wrote (it left the group kill_all kills)."""
    try:
        os.kill(int(pidfile.read_text()), signal.SIGKILL)
    except (OSError, ValueError):
        pass


def test_a_daemon_holding_the_pipes_costs_no_time(tmp_path):
    pidfile = tmp_path / "daemon.pid"
    p = program(f"setsid sleep 30 & echo $! >{pidfile}; echo last words; echo on stderr >&2")
    try:
        started = time.monotonic()
        assert p.wait(5) == 0
        assert time.monotonic() - started < 0.5
        assert p.out() == b"last words\n" and p.err() == b"on stderr\n"
    finally:
        kill_daemon(pidfile)
        proc.kill_all()


def test_a_child_in_the_group_is_read_to_its_end():
    p = program("(sleep 0.2; echo from the child) & echo from the parent")
    try:
        assert p.wait(5) == 0
        assert p.out() == b"from the parent\nfrom the child\n"
    finally:
        proc.kill_all()


def test_poll_drains_too(tmp_path):
    pidfile = tmp_path / "daemon.pid"
    p = program(f"setsid sleep 30 & echo $! >{pidfile}; printf 'no newline'")
    try:
        deadline = time.monotonic() + 5
        while p.popen.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # polling an exit, with a deadline
        exited = time.monotonic()
        assert p.poll() == 0 and p.out() == b"no newline"
        assert time.monotonic() - exited < 0.5
    finally:
        kill_daemon(pidfile)
        proc.kill_all()
