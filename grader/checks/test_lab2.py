"""Lab 2: bind.  Contract: docs/contract.md, "Lab 2"; handout labs/lab2/README.md.

Program: ``bind_server PORT``: binds INADDR_ANY:PORT, prints ``bound to 0.0.0.0:PORT``,
waits for end of file on stdin or SIGINT/SIGTERM, exits 0.
"""
import signal
import socket

import pytest

from harness import common, net, proc, proctree, strace, timing
from harness.lab import READY, expect_ready
from harness.report import fail, show

pytestmark = pytest.mark.lab2
PROGRAM = "bind_server"
READY_LINE = r"bound to 0\.0\.0\.0:(\d+)"


def start(lab, port, **kw):
    return lab.start_ready(PROGRAM, port, ready=READY_LINE, **kw)


def byte_order_hint(asked, printed):
    """Name the htons/ntohs mistake when ports came out byte-swapped."""
    if printed == net.swapped(asked):
        return ("the port came out byte-swapped: htons() the port into sin_port, and ntohs() "
                "the sin_port that getsockname() gives back before printing it")
    return None


@pytest.mark.points(10)
def test_builds_without_warnings(lab):
    """bind_server.c compiles without a warning (-std=c11 -Wall -Wextra)"""
    common.no_warnings(lab, [PROGRAM])


@pytest.mark.points(10)
def test_port_zero_gets_a_real_port(lab):
    """`bind_server 0` prints the port the kernel chose, and that port is really bound"""
    program, port = start(lab, 0)
    did = "started `bind_server 0` and read its ready line"
    if port == 0:
        fail(did, expected="the port the kernel chose (not 0)", got="bound to 0.0.0.0:0",
             hint="after bind(), ask getsockname() which port you got, and print ntohs() of it")
    if not net.port_is_bound(port):
        hint = None
        if net.port_is_bound(net.swapped(port)):
            hint = "the bound port is the printed one byte-swapped: ntohs() what getsockname() gives"
        fail(did + f", then tried to bind port {port} myself",
             expected=f"port {port} is taken (the program holds it)",
             got=f"port {port} is free", hint=hint or
             "print the port getsockname() reports after bind(), not another number")


@pytest.mark.points(10)
def test_binds_the_given_port(lab):
    """`bind_server PORT` binds that very port and prints it"""
    asked = net.free_port(distinct_bytes=True)
    program, printed = start(lab, asked)
    did = f"started `bind_server {asked}`"
    if printed != asked:
        fail(did, expected=f"bound to 0.0.0.0:{asked}", got=f"bound to 0.0.0.0:{printed}",
             hint=byte_order_hint(asked, printed))
    if not net.port_is_bound(asked):
        hint = "bind() to the port given on the command line, converted with htons()"
        if net.port_is_bound(net.swapped(asked)):
            hint = (f"the socket is bound to port {net.swapped(asked)}, which is {asked} "
                    f"byte-swapped: sin_port must hold the port in network byte order, htons({asked})")
        fail(did + f", then tried to bind port {asked} myself",
             expected=f"port {asked} is taken", got=f"port {asked} is free", hint=hint)


@pytest.mark.points(10)
def test_bind_arguments_under_strace(lab):
    """strace shows bind(fd, {sin_port=htons(PORT), sin_addr=0.0.0.0}): network byte order, INADDR_ANY"""
    asked = net.free_port(distinct_bytes=True)
    log = lab.log_path("strace-bind")
    program = lab.start(PROGRAM, asked, strace_log=log, strace_trace="bind")
    expect_ready(program, READY_LINE, READY * 2)
    program.close_stdin()
    program.wait(timing.seconds(3))
    calls = strace.calls(log.read_text() if log.exists() else "", "bind")
    did = f"ran `bind_server {asked}` under `strace -e trace=bind`"
    if not calls:
        fail(did, expected="one bind() call", got="no bind() call")
    args = calls[0][1]
    if f"sin_port=htons({asked})" not in args:
        fail(did, expected=f"sin_port=htons({asked})", got=f"bind({args})",
             hint=f"sin_port must hold the port in network byte order: addr.sin_port = htons({asked}); "
                  "strace shows htons(N) for the number N the kernel will use")
    if 'sin_addr=inet_addr("0.0.0.0")' not in args:
        fail(did, expected='sin_addr=inet_addr("0.0.0.0") (INADDR_ANY: every local address)',
             got=f"bind({args})",
             hint="addr.sin_addr.s_addr = htonl(INADDR_ANY); the ready line promises 0.0.0.0")


@pytest.mark.points(5)
def test_does_not_listen(lab):
    """the socket is bound but not listening: a connection to it is refused"""
    program, port = start(lab, 0)
    try:
        client = net.TcpClient(port, timeout=2)
    except ConnectionRefusedError:
        return
    except OSError as exc:
        fail("connected to the bound port", expected="connection refused", got=str(exc))
    client.close()
    fail(f"started `bind_server 0` and connected to port {port}",
         expected="connection refused (lab 2 binds, it does not listen)",
         got="the connection was accepted", hint="remove listen(): it comes in lab 3")


@pytest.mark.points(10)
def test_exits_at_end_of_input(lab):
    """closing its stdin (end of file) makes it close the socket and exit 0"""
    program, port = start(lab, 0)
    sockets = proctree.socket_inodes(program.pid)
    program.close_stdin()
    status = program.wait(timing.seconds(3))
    did = "started `bind_server 0`, then closed its stdin"
    if status != 0:
        fail(did, expected="exit status 0 within 3 s", got=proc.describe_status(status),
             stderr=program.err(),
             hint="wait with read(0, ...) in a loop until it returns 0 (end of file), then close "
                  "the socket and return 0" if status is None else None)
    left = proctree.holders(sockets)
    if left:  # a process it started holds its socket, and so its port
        fail(did, expected=f"its socket closed, port {port} free again",
             got=f"its socket still open in process {left[0]}")


@pytest.mark.points(5)
def test_ignores_data_on_stdin(lab):
    """data on stdin is read and thrown away: only end of file (or a signal) ends it"""
    program, port = start(lab, 0)
    # The printed port is judged by other checks; here it counts only if it was bound.
    bound = net.port_is_bound(port)
    try:
        program.popen.stdin.write(b"some data\n" * 100)
        program.popen.stdin.flush()
    except OSError:
        pass  # it has ended already: said below
    program.wait_blocked()  # it has read the data (or ended): it sleeps in read() again
    did = "started `bind_server 0`, wrote 1000 bytes to its stdin (without closing it)"
    if program.poll() is not None or (bound and not net.port_is_bound(port)):
        status = program.wait(timing.seconds(1))
        fail(did, expected="it goes on waiting, its port still bound",
             got=proc.describe_status(status) if status is not None else f"port {port} no longer bound",
             stderr=program.err(),
             hint="data on stdin is not end of file: only read() returning 0 is; throw the data "
                  "away and read again")
    program.close_stdin()
    status = program.wait(timing.seconds(3))
    if status != 0:
        fail(did + ", then closed its stdin", expected="exit status 0 within 3 s",
             got=proc.describe_status(status), stderr=program.err())


@pytest.mark.points(10)
def test_stops_on_sigint_and_sigterm(lab):
    """SIGINT and SIGTERM each make it exit 0"""
    for sig in (signal.SIGINT, signal.SIGTERM):
        program, port = start(lab, 0)
        common.expect_clean_stop(
            program, sig, f"started `bind_server 0`, then sent {sig.name}",
            hint=f"install a handler for {sig.name} with sigaction() (no SA_RESTART) that sets "
                      "a flag; the blocked read() then fails with EINTR: close the socket, exit 0")


@pytest.mark.points(10)
def test_port_in_use(lab):
    """binding a port that is taken prints `bind: Address already in use` and exits 1"""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("0.0.0.0", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        program = lab.run(PROGRAM, port)
    finally:
        holder.close()
    status, err = program.poll(), program.err()
    did = f"held port {port} myself, then ran `bind_server {port}`"
    if b"bind: Address already in use" not in err.splitlines() or status != 1:
        hint = "check bind()'s return value; on -1 call perror(\"bind\") and return 1"
        if program.out() == f"bound to 0.0.0.0:{port}\n".encode():
            hint = (f"bind() succeeded although port {port} was taken, so it bound another port "
                    f"(the number printed back is the same mistake undone): sin_port must hold the "
                    f"port in network byte order, htons({port})")
        fail(did, expected="stderr `bind: Address already in use` and exit status 1",
             got=f"{proc.describe_status(status)}; stderr {show(err)}; stdout {show(program.out())}",
             hint=hint)


@pytest.mark.points(5)
def test_usage_errors(lab):
    """bad ports and wrong argument counts are usage errors (exit 2, `usage: ` on stderr)"""
    common.expect_usage_errors(lab, PROGRAM, (
        [], ["80x"], ["-1"], ["+80"], ["70000"], ["123456"], [""], ["80", "81"]), "PORT")


@pytest.mark.points(5)
def test_flushes_stdout(lab):
    """the ready line reaches a plain pipe at once (stdout flushed, not left in a buffer)"""
    common.flushes_stdout(lab, PROGRAM, READY_LINE)



@pytest.mark.points(10)
def test_valgrind_clean(lab):
    """under Valgrind: no memory error, no leak, no descriptor open at exit"""
    program = lab.start(PROGRAM, 0, use_valgrind=True)
    expect_ready(program, READY_LINE, 10)
    program.close_stdin()
    status = program.wait(timing.seconds(10))
    common.valgrind_clean(program, status, "`bind_server 0` (then end of file on stdin)")
