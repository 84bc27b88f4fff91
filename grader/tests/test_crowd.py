"""The concurrent-server harness (grader/harness/crowd.py) against known servers.

The reference lab 7 server forks a child per client; lab 4's serves one client at a time.
What the harness reports about each must be what they are.
"""
import os
import re
import signal
import subprocess
import time

import pytest

from harness import crowd, timing

from conftest import ROOT


def running(tmp_path, source):
    """Build ``source``, start it on port 0, yield (process, port); kill it afterwards."""
    binary = tmp_path / source.stem
    subprocess.run(["cc", "-std=c11", "-o", str(binary), str(source)], check=True)
    server = subprocess.Popen([str(binary), "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              start_new_session=True, close_fds=True)
    try:
        yield server, int(re.search(rb":(\d+)", server.stdout.readline()).group(1))
    finally:
        os.killpg(server.pid, signal.SIGKILL)  # the server and any child it left
        server.wait()


@pytest.fixture
def forking(tmp_path):
    yield from running(tmp_path, ROOT / "solutions" / "lab7" / "fork_echo_server.c")


@pytest.fixture
def iterative(tmp_path):
    yield from running(tmp_path, ROOT / "solutions" / "lab4" / "echo_server.c")


def test_tree_shows_children_their_sockets_and_the_acceptor(forking):
    server, port = forking
    stalled = crowd.stall(port, 2) + crowd.stall(port, 1, partial=b"half")
    now = crowd.wait_for(server.pid, lambda t: len(t.live_children()) == 3 and all(
        p.syscall == "read" for p in t.live_children()), 3)
    assert [p.pid for p in now.acceptors()] == [server.pid]
    assert [fd.listening_port for fd in now.root.listeners()] == [port]
    assert now.holding_listener() == []
    assert all(len(p.sockets()) == 1 for p in now.live_children())
    assert now.zombies() == []
    crowd.close_all(stalled)
    gone = crowd.wait_for(server.pid, lambda t: not t.descendants, 3)
    assert gone.descendants == []


def test_crowd_together(forking):
    server, port = forking
    visits = crowd.crowd(port, [b"%d\n" % n for n in range(100)], timeout=10, together=True)
    assert all(v.echoed for v in visits)
    assert len({v.local_port for v in visits}) == 100


def test_sampler_sees_the_children_come_and_go(forking):
    server, port = forking
    with crowd.Sampler(server.pid, every=0.005) as sampler:
        stalled = crowd.stall(port, 5)
        deadline = timing.Deadline(3)
        while sampler.peak("processes") < 6 and not deadline.expired():
            time.sleep(0.01)  # polling the sampler, with a deadline
        crowd.close_all(stalled)
        crowd.wait_for(server.pid, lambda t: not t.descendants, 3)
    assert sampler.peak("processes") == 6
    assert sampler.peak("fds") == sampler.last().fds  # the parent closes its copy of each connection
    assert sampler.last().processes == 1 and sampler.last().zombies == 0


def test_an_iterative_server_is_seen_as_one(iterative):
    server, port = iterative
    stalled = crowd.stall(port, 1)
    took, got = crowd.served_within(port, b"hello\n", 0.3)
    assert got == b"" and took >= timing.seconds(0.3) * 0.9
    visits = crowd.crowd(port, [b"x\n"] * 3, timeout=0.5, together=True)
    assert not any(v.echoed for v in visits)
    now = crowd.tree(server.pid)
    assert now.descendants == [] and now.root.syscall == "read"
    crowd.close_all(stalled)


def started(code):
    """A Python program running ``code``, killed by the caller."""
    return subprocess.Popen(["python3", "-c", code], stdin=subprocess.DEVNULL)


def test_sleepers_tell_a_sleeping_program_from_a_busy_one():
    """What chat.wait_idle builds on: a program asleep in a call is seen asleep, twice; one
    that spins is never; one that wakes every ms is asleep at each look but not between."""
    sleeper, spinner, ticker = (started("import time\ntime.sleep(60)"),
                                started("while True: pass"),
                                started("import time\nwhile True: time.sleep(0.001)"))
    try:
        deadline = timing.Deadline(10)
        settled = False
        while not settled and not deadline.expired():  # once Python has started
            found = crowd.sleepers(sleeper.pid)
            time.sleep(0.02)  # polling /proc, with a deadline
            settled = bool(found) and crowd.still_asleep(found)
        assert settled, "the sleeping program never seen asleep twice"
        assert all(call != "running" for call, _ in found.values()), found
        while crowd.sleepers(spinner.pid) is not None and not deadline.expired():
            time.sleep(0.01)  # until Python has started and spins
        assert all(crowd.sleepers(spinner.pid) is None for _ in range(20))
        while not deadline.expired():
            ticks = crowd.sleepers(ticker.pid)
            if ticks is not None:
                break
        assert ticks is not None, "the ticker never seen asleep"
        if all(runs is None for _, runs in ticks.values()):
            pytest.skip("no /proc/PID/task/TID/schedstat here: run counts cannot be compared")
        time.sleep(0.02)  # it has woken about 20 times since
        assert not crowd.still_asleep(ticks)
    finally:
        for program in (sleeper, spinner, ticker):
            program.kill()
            program.wait()
    assert crowd.sleepers(sleeper.pid) == {}  # gone
