"""Grading servers that serve many clients at once (labs 7-9): crowds, stalled clients,
and what the server's processes hold.

The API, for the checks of labs 7, 8 and 9:

Clients
    :func:`stall` ``(port, count, partial=b"")``
        ``count`` :class:`StalledClient` s: each connects and then sends nothing (or only
        ``partial``, half a line) and never reads.  They hold the server the way a slow or
        malicious client does.  ``close()`` each (or :func:`close_all`) when done.
    :func:`crowd` ``(port, messages, timeout, together=False)``
        one client per message, all started at once and driven by one selector in the
        calling thread (no thread per client): each connects, sends its message, half-closes
        and reads until end of file.  With ``together``, all are connected at the same time
        and none half-closes before every one has its echo.  Returns a list of
        :class:`Visit` (what each sent, got, when, and how it ended), in the order of
        ``messages``; ``visit.echoed`` is True when it got its message back, then end of file.
    :func:`served_within` ``(port, data, timeout)``
        one client, timed from the moment its connection is complete: sends ``data``, returns
        ``(seconds until the whole echo came, bytes got)``.  The clock starts when connect()
        returns, so what the grading machine did before (starting programs, other clients)
        does not count against the server.

Processes (from /proc; Linux; the code is in harness/proctree.py)
    :func:`tree` ``(pid)``
        a :class:`Tree`: the process ``pid`` and every descendant, each a :class:`Proc` with
        its state (``R``, ``S``, ``Z``...), the system call it is blocked in (``accept``,
        ``read``, ``wait4``...), its thread count and its open descriptors (:class:`Fd`:
        number, what it is, and for a socket whether it is a listening TCP socket and on
        which port).  ``tree.children``, ``tree.zombies()``, ``tree.holding_listener()``,
        ``tree.acceptors()``; ``tree.describe()`` is a short text for a check's report.
    :class:`Sampler` ``(pid, every=0.02)``
        a background thread that takes the tree's counts (processes, zombies, the root's
        descriptors, threads) at intervals; ``with Sampler(pid) as s: ...``; ``s.samples``,
        ``s.peak(field)``, ``s.last()``.
    :func:`wait_for` ``(pid, predicate, timeout)``
        polls :func:`tree` until ``predicate(tree)`` is true or the deadline passes; returns
        the last tree (the caller judges it).  Every wait has a deadline (harness.timing).

Valgrind with forked children is in harness/valgrind.py (``child_args``, ``by_process``).
"""
import errno
import os
import selectors
import socket
import time

from . import timing
from .net import HOST
# The process view (tree, wait_for, Sampler...) lives in harness/proctree.py; the checks reach
# it through this module, the one API of the concurrent-server harness.
from .proctree import (ACCEPT_WCHAN, SYSCALLS, Fd, Proc, Sample, Sampler, Tree,  # noqa: F401
                       listening_sockets, proc_info, sleepers, stack_mappings, still_asleep,
                       thread_calls, tree,
                       wait_for)

# -- clients ----------------------------------------------------------------------------------


class StalledClient:
    """A client that connects, sends ``partial`` (maybe nothing), and never reads."""

    def __init__(self, port, partial=b"", timeout=3.0):
        self.sock = socket.create_connection((HOST, port), timeout=timing.seconds(timeout))
        self.local_port = self.sock.getsockname()[1]
        if partial:
            self.sock.sendall(partial)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def stall(port, count, partial=b""):
    """``count`` stalled clients of the server on ``port`` (see :class:`StalledClient`)."""
    clients = []
    try:
        for _ in range(count):
            clients.append(StalledClient(port, partial))
    except OSError:
        close_all(clients)
        raise
    return clients


def close_all(clients):
    for client in clients:
        client.close()


class Visit:
    """One client of a :func:`crowd`: what it sent and got, and when (seconds from the start)."""

    def __init__(self, index, message):
        self.index = index
        self.message = message
        self.received = bytearray()
        self.connected_at = None   # when its connection completed
        self.done_at = None        # when it saw end of file (or gave up)
        self.eof = False
        self.error = None          # an OSError's text: refused, reset...
        self.local_port = None
        self.sock = None
        self.stage = "none"        # connect, ready, send, echo, hold, eof, done
        self._sent = 0

    @property
    def echoed(self):
        return bytes(self.received) == self.message and self.eof

    def __repr__(self):
        return (f"Visit({self.index}, sent={len(self.message)}, got={len(self.received)}, "
                f"eof={self.eof}, error={self.error})")


def crowd(port, messages, timeout=10.0, together=False):
    """Connect one client per message at once; each sends its message, half-closes its side
    and reads until end of file.  One selector drives them all.  Returns the :class:`Visit` s.

    ``together``: every client is connected at the same time.  They send only once all of
    them are connected, read their whole echo, and half-close only once every client has
    its echo: a server that serves one client at a time never gets past the first.

    A client that has not finished by the deadline is left as it is (``eof`` False); every
    socket is closed before this returns.
    """
    visits = [Visit(i, m) for i, m in enumerate(messages)]
    selector = selectors.DefaultSelector()
    start = time.monotonic()
    deadline = timing.Deadline(timing.seconds(timeout))
    try:
        for visit in visits:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            code = sock.connect_ex((HOST, port))
            if code not in (0, errno.EINPROGRESS):
                visit.error = os.strerror(code)
                sock.close()
                continue
            visit.sock = sock
            visit.stage = "connect"
            selector.register(sock, selectors.EVENT_WRITE, visit)
        while not deadline.expired():
            stages = {v.stage for v in visits if v.sock is not None}
            if together and stages and stages <= {"ready", "hold"}:
                _advance(visits, selector, "ready", "send", selectors.EVENT_WRITE)
                _advance(visits, selector, "hold", "eof", selectors.EVENT_READ, shutdown=True)
                continue
            if not selector.get_map():
                break
            for key, events in selector.select(min(0.1, deadline.left())):
                _step(key.data, events, selector, start, together)
    finally:
        for visit in visits:
            if visit.sock is not None:
                visit.done_at = visit.done_at or time.monotonic() - start
                _close(visit, selector)
        selector.close()
    return visits


def _advance(visits, selector, old, new, events, shutdown=False):
    """Move every client in stage ``old`` to ``new``, watching ``events``."""
    for visit in visits:
        if visit.sock is not None and visit.stage == old:
            visit.stage = new
            try:
                if shutdown:
                    visit.sock.shutdown(socket.SHUT_WR)
                selector.register(visit.sock, events, visit)
            except OSError as exc:
                visit.error = exc.strerror or str(exc)
                _close(visit, selector)


def _close(visit, selector):
    try:
        selector.unregister(visit.sock)
    except (KeyError, ValueError):
        pass
    visit.sock.close()
    visit.sock = None
    visit.stage = "done"


def _step(visit, events, selector, start, together):
    """Advance one client by what its socket is ready for."""
    sock = visit.sock
    try:
        if visit.stage == "connect":
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                visit.error = os.strerror(code)
                _close(visit, selector)
                return
            visit.connected_at = time.monotonic() - start
            visit.local_port = sock.getsockname()[1]
            visit.stage = "send"
            if together:
                selector.unregister(sock)
                visit.stage = "ready"
                return
        if visit.stage == "send":
            if visit._sent < len(visit.message):
                visit._sent += sock.send(visit.message[visit._sent:visit._sent + 65536])
            if visit._sent >= len(visit.message):
                if together:
                    visit.stage = "echo"
                else:
                    sock.shutdown(socket.SHUT_WR)
                    visit.stage = "eof"
                selector.modify(sock, selectors.EVENT_READ, visit)
            return
        chunk = sock.recv(65536)
        if not chunk:
            visit.eof = True
            visit.done_at = time.monotonic() - start
            _close(visit, selector)
            return
        visit.received += chunk
        if visit.stage == "echo" and len(visit.received) >= len(visit.message):
            selector.unregister(sock)
            visit.stage = "hold"
    except BlockingIOError:
        return
    except OSError as exc:
        visit.error = exc.strerror or str(exc)
        visit.done_at = time.monotonic() - start
        _close(visit, selector)


def served_within(port, data, timeout):
    """One client: connect, send ``data``, read its echo.  Returns (seconds, bytes got).

    The clock starts once the connection is complete (connect() returned), so the time
    is the server's alone: how long it took to read and answer this client.
    """
    with socket.create_connection((HOST, port), timeout=timing.seconds(timeout)) as sock:
        start = time.monotonic()
        sock.sendall(data)
        got = bytearray()
        deadline = timing.Deadline(timing.seconds(timeout))
        while len(got) < len(data) and not deadline.expired():
            sock.settimeout(max(0.01, deadline.left()))
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not chunk:
                break
            got += chunk
        return time.monotonic() - start, bytes(got)
