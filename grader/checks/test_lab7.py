"""Lab 7: the echo server with a process per client (fork).  Contract: docs/contract.md,
"Labs 7-9" and "Lab 7"; handout labs/lab7/README.md.

Program: ``fork_echo_server PORT [MAX_CLIENTS]``; its client is lab 4's ``echo_client``,
but the checks talk to it through the harness's own clients (harness.net, harness.crowd),
so that a student's lab 4 client never costs lab 7 a point.

Lab 4's behaviour checks (lines and echo, 1 MiB of binary data, the flushed ready line;
grader/checks/echo.py) run here again through :func:`reuse`.  The checks of the lab itself watch
the server's processes through /proc (:func:`harness.crowd.tree`): which children exist,
what each is blocked in, which descriptors each holds, which are zombies.  Every wait
waits for an event with a deadline; a time the contract sets (served within 0.5 s, no
zombie after 0.3 s) is measured from the event it follows (the served client's completed
connection; the last child's exit), so a loaded machine does not change the result.
"""
import functools
import re
import signal

import pytest

import echo
from harness import common, crowd, lab as lablib, net, proc, strace, timing, valgrind
from harness.report import CheckFailed, fail, show

pytestmark = pytest.mark.lab7
CONNECTION = echo.CONNECTION
CLOSED = echo.CLOSED
#: How many stalled clients hold the server while another one is served.
STALLED = 10
#: How soon that other client must have its echo (seconds from its completed connection).
SERVED_WITHIN = 0.5
#: How long a child that has ended may stay a zombie (seconds from when its parent can run).
ZOMBIE_GRACE = 0.3
#: How many children end at once in the zombie check.
ZOMBIE_CLIENTS = 5

EINTR_HINT = ("SIGCHLD interrupts accept(), which fails with EINTR: that is no error, call "
              "accept() again")
NO_FORK_HINT = ("the server serves its clients itself, one at a time: fork() a child for each "
                "client, and let the parent go straight back to accept()")
BLOCKING_WAIT_HINT = ("the parent waits for its child (wait() or waitpid() without WNOHANG) "
                      "before it accepts again: reap children in a SIGCHLD handler with "
                      "waitpid(-1, &status, WNOHANG), never by blocking in the accept loop")
PARENT_COPY_HINT = ("the parent keeps its copy of each connection socket: close(conn_fd) in the "
                    "parent right after fork(); while any process holds the connection, the "
                    "client never sees end of file")


def start(lab, *args, **kw):
    return lab.start_server(lab.server, 0, *args, **kw)


def reuse(check, points):
    """Lab 4's ``check`` (grader/checks/echo.py) against the forking server, worth
    ``points`` (the program's name put right in what it says)."""
    return common.check(check, points,
                        lambda text: re.sub(r"\becho_server\b", "fork_echo_server", text)
                        if isinstance(text, str) else text)


# -- lab 4's checks, on the forking server ----------------------------------------------------

test_echoes_one_client = reuse(echo.echoes_one_client, 4)
test_server_log_lines = reuse(echo.server_log_lines, 4)
test_echoes_1mib_of_binary_data = reuse(echo.echoes_1mib_of_binary_data, 4)
test_flushes_stdout = reuse(echo.flushes_stdout, 2)
test_restart_on_same_port = reuse(echo.restart_on_same_port, 2)
test_server_port_in_use = reuse(echo.server_port_in_use, 2)
test_accept_error_ends_one_connection_only = reuse(echo.accept_error_ends_one_connection_only, 2)
test_server_usage_errors = reuse(echo.server_usage_errors, 3)


@pytest.mark.points(3)
def test_builds_without_warnings(lab):
    """fork_echo_server.c compiles without a warning (-std=c11 -Wall -Wextra)"""
    common.no_warnings(lab, [lab.server])


# -- many clients at once ---------------------------------------------------------------------


def stuck_hint(server):
    """(hint, the server's processes as text): why a client is not served, from what the
    server's processes show (and its stderr, when a skeleton's placeholder speaks there)."""
    # A parent caught running tells nothing: what it blocks in next does (a second at most).
    now = crowd.wait_for(server.pid, lambda t: t.root is None or t.root.state != "R", 1)
    placeholder = lablib.stderr_hint(server.err())
    if placeholder:
        return placeholder, now.describe(3)
    if now.root is None:
        return None, "the server is gone"
    if now.root.syscall in ("wait4", "waitid"):
        return BLOCKING_WAIT_HINT, now.describe(3)
    if not now.live_children():
        return NO_FORK_HINT, now.describe(3)
    return ("the parent is not back in accept(): after fork() the parent only closes its "
            "copy of the connection and accepts the next client"), now.describe(3)


def echoes_hint(server, visits):
    """Why the clients ``visits`` were not echoed, from what they got (None when their bytes
    say nothing): bytes that differ from what was sent, or the right bytes without end of
    file while the parent holds connection sockets."""
    wrong = [v for v in visits if v.received and bytes(v.received) != v.message]
    if wrong:
        return echo.echo_hint(wrong[0].message, bytes(wrong[0].received), wrong[0].eof)
    if visits and all(bytes(v.received) == v.message and not v.eof and not v.error for v in visits):
        now = crowd.tree(server.pid)
        if now.root is not None and len(now.root.sockets()) > len(now.root.listeners()):
            return PARENT_COPY_HINT
    return None


@pytest.mark.points(11)
@pytest.mark.deadline(15)
def test_stalled_clients_do_not_delay_another(lab):
    """with 10 clients connected that send nothing or half a line, another client is echoed within 0.5 s"""
    server, port = start(lab)
    stalled = crowd.stall(port, STALLED // 2) + crowd.stall(port, STALLED // 2, partial=b"half a li")
    # Settled first: the server has accepted the stalled clients (or never will), so the
    # time measured below is the new client's alone.
    server.wait_line(CONNECTION, timing.seconds(1), start=STALLED)
    took, got = crowd.served_within(port, b"served at once?\n", SERVED_WITHIN)
    limit = timing.seconds(SERVED_WITHIN)
    if got != b"served at once?\n" or took > limit:
        hint, shown = stuck_hint(server)
        if got and got != b"served at once?\n":  # an echo came, but not the line: its bytes tell
            hint = echo.echo_hint(b"served at once?\n", got, False) or hint
        fail(f"connected {STALLED} clients to `{server.shown}` that stay silent (half of them sent "
             "half a line) and never read, then one more that sent a line",
             expected=f"its echo within {limit:g} s of its connection",
             got=(f"{show(got)} after {took:.2f} s" if got else f"no echo in {took:.2f} s")
             + f"; the server's processes:\n{shown}",
             stderr=server.err(), hint=hint)
    crowd.close_all(stalled)


@pytest.mark.points(8)
@pytest.mark.deadline(20)
def test_100_clients_at_once(lab):
    """100 clients connected at the same time are all echoed (listen backlog SOMAXCONN)"""
    server, port = start(lab)
    backlog = net.listen_backlog(port)
    if backlog is not None and backlog < 100:
        fail(f"started `{server.shown}` and read its listening socket's backlog (`ss -ltn`)",
             expected="a backlog of SOMAXCONN (at least 100)", got=str(backlog),
             hint="listen(fd, SOMAXCONN): a burst of 100 clients overflows a backlog of 5, and "
                  "each client left out waits a second or more before it tries again")
    messages = [f"client {n} of 100\n".encode() for n in range(100)]
    visits = crowd.crowd(port, messages, timeout=10, together=True)
    bad = [v for v in visits if not v.echoed]
    if bad:
        first = bad[0]
        hint, shown = stuck_hint(server)
        if hint == NO_FORK_HINT:  # seen after the crowd: no child now tells not why, only how
            hint = ("the clients were served one at a time: after fork() the parent goes "
                    "straight back to accept(), neither serving the client itself nor waiting "
                    "for the child")
        hint = echoes_hint(server, bad) or hint
        if all(v.connected_at is not None for v in visits) and not any(v.error for v in bad):
            hint = hint or "every child echoes its own client until that client closes its side"
        elif any(v.error for v in bad):
            hint = ("a connection was refused or reset: is the server still running, or did "
                    "fork() fail (its stderr)? Each client gets its own child")
        fail(f"connected 100 clients to `{server.shown}` at the same time; each sent a line and "
             "waited for its echo (none closed before all had theirs)",
             expected="each of the 100 gets its line back, then end of file",
             got=f"{len(bad)} of 100 did not; client {first.index} got {show(bytes(first.received))}"
                 + (f" ({first.error})" if first.error else "") + f"; the server:\n{shown}",
             stderr=server.err(), hint=hint)


def wait_children_gone(server, timeout=3.0):
    """The tree once no child is still running (zombies may remain), or at the deadline."""
    return crowd.wait_for(server.pid, lambda t: not t.live_children(), timeout)


@pytest.mark.points(7)
@pytest.mark.deadline(15)
def test_no_zombie_after_clients_leave(lab):
    """children that have ended are reaped: no zombie 0.3 s after the parent can run again"""
    server, port = start(lab)
    clients = [net.TcpClient(port) for _ in range(ZOMBIE_CLIENTS)]
    for n, client in enumerate(clients):
        client.send(b"hello\n")
        if client.recv_exact(6, 3) != b"hello\n":
            fail(f"connected {ZOMBIE_CLIENTS} clients to `{server.shown}`, each sent a line",
                 expected="each one's echo", got=f"client {n + 1} got {show(client.received)}",
                 stderr=server.err(), hint=stuck_hint(server)[0])
    crowd.wait_for(server.pid, lambda t: len(t.live_children()) >= ZOMBIE_CLIENTS, 2)
    # The parent is stopped while its children end, as a busy parent may be: their SIGCHLDs
    # come together, and one signal then stands for all of them, every time.
    server.signal(signal.SIGSTOP)
    try:
        # SIGSTOP takes effect asynchronously: a child that ended before the parent really
        # stopped would bring a SIGCHLD of its own, and an if-not-while reaper could pass.
        crowd.wait_for(server.pid, lambda t: t.root is None or t.root.state == "T", 3)
        for client in clients:
            client.close()
        wait_children_gone(server)
    finally:
        server.signal(signal.SIGCONT)
    now = crowd.wait_for(server.pid, lambda t: not t.zombies(), ZOMBIE_GRACE)
    zombies = now.zombies()
    if zombies:
        hint = ("a child that has ended stays a zombie until its parent reaps it: install a "
                "SIGCHLD handler that calls waitpid(-1, &status, WNOHANG) in a loop")
        if len(zombies) < ZOMBIE_CLIENTS:
            hint = ("some children are reaped, not all: signals do not queue, so one SIGCHLD may "
                    "stand for several children; loop on waitpid(-1, &status, WNOHANG) until it "
                    "returns 0 or -1")
        fail(f"{ZOMBIE_CLIENTS} clients of `{server.shown}` left while the parent was stopped "
             f"(SIGSTOP); once their children had exited, let the parent go on (SIGCONT) and "
             f"waited {timing.seconds(ZOMBIE_GRACE):g} s",
             expected="no zombie child", got=f"{len(zombies)} zombie(s):\n{now.describe(5)}",
             stderr=server.err(), hint=hint)


@pytest.mark.points(7)
@pytest.mark.deadline(20)
def test_parent_descriptors_do_not_grow(lab):
    """over 50 clients the parent's descriptors do not grow (it closes its copy of each connection)"""
    server, port = start(lab)
    first = net.TcpClient(port)
    try:
        first.send(b"first\n")
        got = first.recv_exact(6, 3)
        first.shutdown_write()
        got += first.recv_until_eof(1)
    except OSError as exc:
        fail(f"a client of `{server.shown}` sent a line and closed its side",
             expected="its echo, then end of file", got=f"{type(exc).__name__}: {exc}",
             stderr=server.err(), hint=stuck_hint(server)[0])
    if got != b"first\n":
        fail(f"a client of `{server.shown}` sent a line", expected="its echo",
             got=show(got), stderr=server.err(),
             hint=(echo.echo_hint(b"first\n", got, first.eof) if got else None)
             or stuck_hint(server)[0])
    if not first.eof:
        now = crowd.tree(server.pid)
        held = [fd for fd in now.root.sockets() if fd.listening_port is None] if now.root else []
        fail(f"a client of `{server.shown}` sent a line and closed its side",
             expected="its echo, then end of file", got=f"{show(got)}, and no end of file within 1 s; "
                                                         f"the server:\n{now.describe(3)}",
             stderr=server.err(), hint=PARENT_COPY_HINT if held else
             "the child closes the connection once read() returns 0, then exits")
    wait_children_gone(server)
    before = crowd.tree(server.pid).root
    for _round in range(5):
        crowd.crowd(port, [f"client {n}\n".encode() for n in range(10)])
    after = wait_children_gone(server).root
    if before and after and len(after.fds) > len(before.fds):
        extra = [fd for fd in after.fds if fd.number not in {f.number for f in before.fds}]
        fail(f"served 50 more clients with `{server.shown}`, counting the parent's open "
             "descriptors (/proc/PID/fd) before and after",
             expected=f"{len(before.fds)} both times", got=f"{len(before.fds)}, then {len(after.fds)} "
             f"(new: {', '.join(map(repr, extra[:4]))})",
             hint=PARENT_COPY_HINT if any(fd.is_socket for fd in extra) else
             "close every descriptor the parent opens for a client")


@pytest.mark.points(6)
def test_child_does_not_hold_listening_socket(lab):
    """a child closes its copy of the listening socket"""
    server, port = start(lab)
    client = net.TcpClient(port)
    now = crowd.wait_for(server.pid, lambda t: any(p.syscall == "read" or p.syscall == "recvfrom"
                                                   for p in t.live_children()), 2)
    holders = now.holding_listener()
    if not now.live_children():
        fail(f"connected a client to `{server.shown}`", expected="a child process serving it",
             got=f"no child:\n{now.describe(3)}", stderr=server.err(), hint=NO_FORK_HINT)
    if holders:
        fail(f"connected a client to `{server.shown}` and looked at the descriptors of its child "
             "(/proc/PID/fd)", expected="the child holds its connection, not the listening socket",
             got=now.describe(3),
             hint="close(listen_fd) first thing in the child: only the parent accepts, and a child "
                  "holding the listening socket keeps the port open after the parent closed it")
    client.close()


@pytest.mark.points(6)
def test_child_never_accepts(lab):
    """a child exits after its client: it never goes back into the accept loop"""
    server, port = start(lab)
    echo.expect_echo(port, b"one client\n", f"echoed a client of `{server.shown}`", server)
    now = wait_children_gone(server)
    # What the ended child wrote (`accept: Bad file descriptor`, when it fell into the loop)
    # is read in before stderr is judged: the grader's reader may lag on a busy machine.
    server.stderr.drain(lambda: False, timing.seconds(1))
    clients = [net.TcpClient(port) for _ in range(2)]
    now = crowd.wait_for(server.pid, lambda t: len(t.live_children()) >= 2 and all(
        p.syscall for p in t.live_children()), 2)
    err = server.err().decode("utf-8", "replace")
    acceptors = [p for p in now.acceptors() if p is not now.root]
    did = (f"echoed one client of `{server.shown}`, waited for its child to end, then connected "
           "two more")
    if acceptors:
        fail(did, expected="only the parent blocked in accept()",
             got=f"a child in accept() too:\n{now.describe(4)}", stderr=server.err(),
             hint="a child went back into the accept loop after its client: end the child with "
                  "exit(0) once it has served its client (and close its listening socket)")
    if "Bad file descriptor" in err:
        fail(did, expected="nothing on stderr", got=f"stderr {show(server.err())}",
             stderr=server.err(),
             hint="a child went back into the accept loop after its client (accept() on the "
                  "listening socket it had closed): end the child with exit(0) once it has "
                  "served its client")
    for client in clients:
        client.close()


@pytest.mark.points(6)
@pytest.mark.deadline(15)
def test_fork_failure_is_reported_and_server_goes_on(lab):
    """a fork() that fails (EAGAIN) is reported, that connection closed, and the server goes on"""
    if not strace.available():
        pytest.skip("strace is missing (apt-get install strace)")
    did = (f"ran `{lab.server} 0` with its first fork() failing with EAGAIN (strace -e inject), "
           "connected a client that sent a line, then a second client")

    def serve(port, server):
        first = net.TcpClient(port)
        first.send(b"first\n")
        got = first.recv_until_eof(3)
        if not first.eof:
            fail(did, expected="the first connection closed (end of file)",
                 got=f"{show(got)} and no end of file within 3 s", stderr=server.err(),
                 hint="when fork() fails, close(conn_fd): nobody else will")
        echo.expect_echo(port, b"second\n", did, server)
        server.stderr.wait_until(lambda data: b"fork" in data, timing.seconds(1))

    common.expect_survives_injected_error(
        lab, lab.server, "clone", "EAGAIN", "fork: Resource temporarily unavailable", did, serve,
        hint="a failed fork() costs one client only: report it (perror(\"fork\")), close that "
             "connection and go back to accept()",
        ended_by={b"accept: Interrupted system call": EINTR_HINT})


@pytest.mark.points(6)
def test_accept_interrupted_by_sigchld_is_retried(lab):
    """a child's end interrupts accept() (SIGCHLD, EINTR): the server accepts again"""
    server, port = start(lab)
    first = net.TcpClient(port)
    first.send(b"first\n")
    if first.recv_exact(6, 3) != b"first\n":
        fail(f"connected a client to `{server.shown}`, sent a line", expected="its echo",
             got=show(first.received), stderr=server.err(), hint=stuck_hint(server)[0])
    # The child ends only once the parent sleeps in accept(): its SIGCHLD then interrupts
    # accept() every time.  Ended earlier (a parent slow to get back to accept(), on a busy
    # machine), the signal waits while SIGCHLD is blocked and accept() is never interrupted:
    # a server that takes EINTR for a fatal error passed, now and then.
    crowd.wait_for(server.pid, lambda t: t.root is None or t.root.in_accept(), 3)
    first.shutdown_write()
    first.recv_until_eof(3)
    first.close()
    wait_children_gone(server)
    did = (f"echoed a client of `{server.shown}`; once the parent slept in accept(), the client "
           "left and its child ended (SIGCHLD interrupts accept()); then a second client came")
    try:
        echo.expect_echo(port, b"second\n", did, server)
    except (OSError, AssertionError) as exc:
        status = server.wait(timing.seconds(0.5))
        err = server.err()
        if status is not None:
            fail(did, expected="the second client echoed",
                 got=f"the server ended ({proc.describe_status(status)})", stderr=err,
                 hint=EINTR_HINT if b"Interrupted system call" in err else None)
        if isinstance(exc, OSError):
            fail(did, expected="the second client echoed", got=f"{type(exc).__name__}: {exc}",
                 stderr=err)
        raise


@pytest.mark.points(5)
def test_max_clients_waits_for_children(lab):
    """`fork_echo_server 0 2`: after 2 clients the parent closes the listener, waits for its children, exits 0"""
    server, port = start(lab, 2)
    first = net.TcpClient(port)
    first.send(b"stays\n")
    first.recv_exact(6, 3)
    echo.expect_echo(port, b"second\n", f"echoed a second client of `{server.shown}`", server)
    # The parent either blocks (waiting for the first client's child) or ends: either way it
    # has closed its listening socket.
    now = crowd.wait_for(server.pid, lambda t: t.root is None or t.root.zombie or (
        t.root.state == "S" and not t.root.listeners()), 3)
    did = (f"`{server.shown}`: client A connected and stayed, client B came and left; then A "
           "sent a line and closed")
    if now.root is None or now.root.zombie:
        fail(did, expected="the parent waits for A's child before it exits",
             got=f"the parent ended while A's child still served A ({proc.describe_status(server.wait(1))})",
             hint="after MAX_CLIENTS, close the listening socket, then wait for every child "
                  "(waitpid until it fails with ECHILD) before exiting")
    first.send(b"more\n")
    more = first.recv_exact(5, 3)
    first.shutdown_write()
    first.recv_until_eof(3)
    status = server.wait(timing.seconds(3))
    if more != b"more\n" or status != 0:
        fail(did, expected="A's echo, then the server exits 0",
             got=f"A got {show(more)}; the server: {proc.describe_status(status)}",
             stderr=server.err(), hint="once the last child has ended, close what is left, "
                                       "free what you allocated and return 0")


@pytest.mark.points(6)
@pytest.mark.deadline(20)
def test_stop_signal_ends_every_process(lab):
    """SIGINT or SIGTERM to the parent with two clients connected: every process ends, exit 0"""
    for sig in (signal.SIGINT, signal.SIGTERM):
        server, port = start(lab)
        clients = []
        for n in range(2):
            client = net.TcpClient(port)
            client.send(b"hello\n")
            if client.recv_exact(6, 3) != b"hello\n":
                fail(f"connected two clients to `{server.shown}`, each sent a line",
                     expected="each one's echo", got=f"client {n + 1} got {show(client.received)}",
                     stderr=server.err(), hint=stuck_hint(server)[0])
            clients.append(client)
        now = crowd.wait_for(server.pid, lambda t: len(t.live_children()) >= 2, 2)
        children = [p.pid for p in now.live_children()]
        server.wait_blocked()
        status = lablib.stop_server(server, sig)
        after = crowd.tree(server.pid)
        alive = [pid for pid in children if crowd.proc_info(pid, with_fds=False) is not None
                 and not crowd.proc_info(pid, with_fds=False).zombie]
        did = (f"started `{server.shown}`, connected two clients that stay, then sent {sig.name} "
               "to the parent")
        if alive:
            fail(did, expected="the parent and both children end; the parent exits 0",
                 got=f"the parent: {proc.describe_status(status)}; children still running: "
                     f"{', '.join(map(str, alive))}" + (f"\n{after.describe(3)}" if after.root else ""),
                 stderr=server.err(),
                 hint="on SIGINT/SIGTERM the parent sends SIGTERM to every child still serving "
                      "(kill(pid, SIGTERM)), then waits for them all, then exits 0")
        if status != 0:
            fail(did, expected="exit status 0 (a clean stop)", got=proc.describe_status(status),
                 stderr=server.err(), hint="handle SIGINT and SIGTERM with sigaction() without "
                 "SA_RESTART; when accept() fails with EINTR and the flag is set, stop")
        closed = [line for line in server.lines() if re.fullmatch(CLOSED, line)]
        if len(closed) < 2:
            fail(did, expected="each child prints its `closed IP:PORT (6 bytes)` line before it exits",
                 got=f"{len(closed)} closed line(s); stdout {show(server.out())}",
                 stderr=server.err(),
                 hint="a child that gets SIGTERM stops echoing (read() fails with EINTR and the "
                      "flag is set), prints its closed line with the bytes echoed so far, exits 0")
        for client in clients:
            client.close()


@pytest.mark.points(6)
@pytest.mark.deadline(30)
def test_valgrind_clean_with_children(lab):
    """under Valgrind, following its children: no error, no leak, no descriptor left, in the parent or any child"""
    logs = lab.log_dir("valgrind")  # a new folder each time: no old log in it
    server, port = start(lab, 2, use_valgrind=True, valgrind_dir=logs)
    echo.expect_echo(port, echo.payload(100 * 1024, seed=9), "echoed 100 KiB under Valgrind", server,
                     timeout=15)
    echo.expect_echo(port, b"bye\n", "echoed a second client under Valgrind", server)
    status = server.wait(timing.seconds(15))
    what = f"`fork_echo_server {port} 2` (two clients, two children)"
    reports = valgrind.by_process(logs, server.pid)
    found = [(role, pid, f) for pid, (role, findings) in sorted(reports.items()) for f in findings]
    if found:
        shown = [f"{role} {pid}: {f}" for role, pid, f in found[:8]]
        roles = {role for role, _pid, _f in found}
        hint = valgrind.hint_for([f for _r, _p, f in found])
        if "child" in roles and any(f.kind == "leak" for role, _p, f in found if role == "child"):
            hint = ("a child inherits a copy of the parent's heap: free() what it holds (the "
                    "buffer, the table of children) before exit(0); " + hint)
        fail(f"ran {what} under Valgrind, following the children "
             "(`--trace-children=yes --child-silent-after-fork=no`, one log per process)",
             expected="no memory error, no leak, no descriptor other than 0-2 open at exit, in the "
                      "parent or a child",
             got="\n".join(shown) + (f"\n... and {len(found) - 8} more" if len(found) > 8 else ""),
             stderr=server.err(), hint=hint)
    children = [pid for pid, (role, _f) in reports.items() if role == "child"]
    if status != 0 or len(children) < 2:
        fail(f"ran {what} under Valgrind", expected="two children reported, exit status 0",
             got=f"{len(children)} child report(s); {proc.describe_status(status)}",
             stderr=server.err())


def placeholder_first(check):
    """``check``, whose failure gets the placeholder hint when the server's stderr shows a
    skeleton placeholder (`fork: Function not implemented`): that TODO is then the likely
    mistake, whatever else the check saw (no echo, no child)."""
    @functools.wraps(check)
    def run(lab):
        try:
            check(lab)
        except CheckFailed as exc:
            err = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else exc.stderr
            if err and "Function not implemented" in err:
                exc.hint = lablib.placeholder_hint(err)
            raise
    return run


# Every check of this module, the reused ones included, puts a placeholder's hint first.
for _name, _check in list(globals().items()):
    if _name.startswith("test_") and callable(_check):
        globals()[_name] = placeholder_first(_check)
