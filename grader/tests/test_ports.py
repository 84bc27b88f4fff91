"""A server's printed port is judged by the server's own sockets, not by the port's state.

Before, "the server holds the port it printed" was told by trying to bind that port. Any
socket of the machine with that local port (another test's server, a client's connection)
then made a wrong port look right: in CI a lab 3 server that printed its port byte-swapped
once passed for holding it, and its checks blamed other mistakes.

And a server asked for port 0 is started again when the kernel's port has two equal bytes:
that port is the same printed with or without ntohs(), and a mutant that forgets ntohs()
passed the checks that depended on it one time in 256. For the same reason a port the
checks choose themselves (net.free_port) never has two equal bytes.
"""
import os
import socket
import sys

import pytest

from harness import lab, net, proc
from harness.report import CheckFailed

LISTEN = """
import socket, sys
s = socket.socket()
s.bind(("127.0.0.1", {port}))
s.listen(5)
print("listening on 0.0.0.0:{printed}", flush=True)
sys.stdin.read()
"""


def listener(port, printed):
    """A stand-in server that listens on ``port`` and prints ``printed`` as its port."""
    code = LISTEN.format(port=port, printed=printed)
    program = proc.Program([sys.executable, "-c", code], "server", dict(os.environ),
                           None, None, False)
    assert program.wait_line(r"listening on 0\.0\.0\.0:(\d+)", 10), program.err()
    return program


def test_a_swapped_port_is_caught_while_a_stranger_holds_the_printed_one():
    real = net.free_port(distinct_bytes=True)
    printed = net.swapped(real)
    with socket.socket() as stranger:  # another program's socket on the printed port
        stranger.bind(("127.0.0.1", printed))
        stranger.listen(1)
        server = listener(real, printed)
        try:
            with pytest.raises(CheckFailed) as failed:
                lab.expect_printed_port_bound(server, printed, socket.SOCK_STREAM)
            assert failed.value.hint == lab.PRINTED_PORT_SWAPPED
        finally:
            proc.kill_all()


def test_the_right_port_passes():
    port = net.free_port(distinct_bytes=True)
    server = listener(port, port)
    try:
        lab.expect_printed_port_bound(server, port, socket.SOCK_STREAM)
        assert lab.holds_port(server, port) and not lab.holds_port(server, net.swapped(port))
    finally:
        proc.kill_all()


PRINT = """
import sys
print("listening on 0.0.0.0:{port}", flush=True)
sys.stdin.read()
"""


class Starter:
    """Stands for :class:`harness.lab.Lab`: each start is a program that prints the next
    of ``ports`` in its ready line."""

    def __init__(self, ports):
        self.ports, self.started = list(ports), []

    def start(self, name, *args, **kw):
        code = PRINT.format(port=self.ports.pop(0))
        program = proc.Program([sys.executable, "-c", code], name, dict(os.environ), None, None,
                               False)
        self.started.append(program)
        return program


def test_a_port_whose_bytes_are_equal_starts_the_server_again():
    """The kernel gave port 0x2121 (the same printed with or without ntohs): started again."""
    starter = Starter([0x2121, 0x2122])
    try:
        program, port = lab.Lab.start_ready(starter, "server", 0)
        assert port == 0x2122 and program is starter.started[1]
        assert starter.started[0].poll() is not None  # the first one killed
    finally:
        proc.kill_all()


def test_an_asked_port_is_never_started_again():
    starter = Starter([0x2121])
    try:
        assert lab.Lab.start_ready(starter, "server", 0x2121)[1] == 0x2121
    finally:
        proc.kill_all()


def test_equal_bytes_every_time_end_after_a_few_tries():
    starter = Starter([0x2121] * lab.READY_TRIES)
    try:
        assert lab.Lab.start_ready(starter, "server", 0)[1] == 0x2121
        assert len(starter.started) == lab.READY_TRIES
    finally:
        proc.kill_all()


class PortsInTurn:
    """A stand-in for socket.socket whose bind to port 0 gets the ports of ``ports`` in turn."""

    def __init__(self, ports):
        self.ports = iter(ports)

    def __call__(self, *_args):
        port = next(self.ports)

        class Bound:
            def __enter__(self):
                return self

            def __exit__(self, *_exc):
                return False

            def bind(self, _address):
                pass

            def getsockname(self):
                return ("127.0.0.1", port)
        return Bound()


def test_a_port_the_checks_choose_never_has_two_equal_bytes(monkeypatch):
    """A server given port 0x2121 prints the same port with or without ntohs(): the checks that
    choose a port (restart_on_same_port) never choose such a one."""
    monkeypatch.setattr(net.socket, "socket", PortsInTurn([0x2121, 0x9C9C, 0x2122]))
    assert net.free_port() == 0x2122
