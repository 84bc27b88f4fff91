"""Lab 3: listen and accept.  Contract: docs/contract.md, "Lab 3"; handout labs/lab3/README.md.

Programs: ``hello_server PORT [MAX_CLIENTS]`` greets each client with the 14 bytes
``Hello, World!\\n`` and closes; ``hello_client HOST PORT`` prints what the server sent.
"""
import signal

import pytest

from harness import common, net, proc, timing
from harness.lab import PRINTED_PORT_SWAPPED, READY
from harness.report import fail, first_difference, show

pytestmark = pytest.mark.lab3
SERVER, CLIENT = "hello_server", "hello_client"
READY_LINE = r"listening on 0\.0\.0\.0:(\d+)"
GREETING = b"Hello, World!\n"
CONNECTION = r"connection from (\d+\.\d+\.\d+\.\d+):(\d+)"
#: The hint for a `connection from` line whose port is the client's byte-swapped.
PEER_PORT_SWAPPED = "the client's port is byte-swapped: print ntohs(client_addr.sin_port)"
#: The hint for a server that does not exit after MAX_CLIENTS clients.
COUNT_HINT = "count the connections; after MAX_CLIENTS close the listening socket and return 0"


def greeting_hint(got, eof):
    """Name the likely mistake behind a wrong greeting, from the bytes and the end of file."""
    if got == GREETING and not eof:
        return ("the greeting came whole but the connection never ended: close() the "
                "connection socket after sending, so the client sees end of file")
    if got.startswith(GREETING) and len(got) > len(GREETING) and got[len(GREETING):].strip(b"\0") == b"":
        return ("the greeting is followed by NUL bytes: send exactly the 14 bytes of the message "
                "(strlen or a constant 14), not sizeof of the buffer")
    if GREETING.startswith(got) and got:
        if eof:
            return "only part of the greeting came: send all 14 bytes (\"Hello, World!\\n\", with its newline)"
        return "send() may send less than asked: loop until every byte is sent"
    return None


def fetch(port, timeout=3):
    """Connect (from a port whose two bytes differ), read to end of file; return (client, bytes)."""
    client = net.TcpClient.from_distinct_port(port)
    data = client.recv_until_eof(timeout)
    return client, data


def expect_greeting(port, did, server):
    try:
        client, data = fetch(port)
    except OSError as exc:
        fail(did, expected=f"{show(GREETING)} then end of file", got=f"{type(exc).__name__}: {exc}",
             stderr=server.err(), hint=common.stopped_serving_hint(server, port))
    if data != GREETING or not client.eof:
        fail(did, expected=f"{show(GREETING)} then end of file",
             got=f"{show(data)}" + ("" if client.eof else ", and no end of file within 3 s"),
             hint=greeting_hint(data, client.eof)
             or (common.stopped_serving_hint(server, port) if not data else None))
    return client


@pytest.mark.points(4)
def test_builds_without_warnings(lab):
    """hello_server.c and hello_client.c compile without a warning (-std=c11 -Wall -Wextra)"""
    common.no_warnings(lab, [SERVER, CLIENT])


@pytest.mark.points(5)
def test_server_ready_line(lab):
    """`hello_server 0` prints `listening on 0.0.0.0:PORT` with the real port, and accepts there"""
    server, port = lab.start_server(SERVER, 0)
    if port == 0:
        fail("started `hello_server 0`", expected="the port the kernel chose", got="port 0",
             hint="after bind(), getsockname() tells the real port: print ntohs() of it")
    try:
        net.TcpClient(port, timeout=2).close()
    except OSError as exc:
        hint = None
        try:
            net.TcpClient(net.swapped(port), timeout=1).close()
            hint = PRINTED_PORT_SWAPPED
        except OSError:
            pass
        fail(f"started `hello_server 0`, then connected to the port it printed ({port})",
             expected="the connection is accepted", got=str(exc), stderr=server.err(), hint=hint)


@pytest.mark.points(10)
def test_greets_a_client(lab):
    """a client gets exactly `Hello, World!\\n` and then end of file"""
    server, port = lab.start_server(SERVER, 0)
    expect_greeting(port, "started `hello_server 0`, connected and read until end of file", server)


@pytest.mark.points(5)
def test_connection_line(lab):
    """the server prints `connection from 127.0.0.1:PORT` with the client's own port"""
    server, port = lab.start_server(SERVER, 0)
    client = expect_greeting(port, "connected to `hello_server 0`", server)
    match = server.wait_line(CONNECTION, timing.seconds(3), start=1)
    did = f"connected from 127.0.0.1:{client.local_port} and read the server's second stdout line"
    if not match:
        fail(did, expected=f"connection from 127.0.0.1:{client.local_port}",
             got=show("\n".join(server.lines()[1:])),
             hint="print `connection from IP:PORT` for each accepted connection (and flush)")
    ip, shown_port = match.group(1), int(match.group(2))
    if ip != "127.0.0.1" or shown_port != client.local_port:
        hint = None
        if shown_port == net.swapped(client.local_port):
            hint = PEER_PORT_SWAPPED
        elif ip == "0.0.0.0" or shown_port == port:
            hint = "print the address accept() filled in (the client's), not the server's own"
        fail(did, expected=f"connection from 127.0.0.1:{client.local_port}",
             got=match.group(0), hint=hint)


@pytest.mark.points(8)
def test_max_clients_then_exit(lab):
    """`hello_server 0 2` greets two clients, closes its socket and exits 0"""
    server, port = lab.start_server(SERVER, 0, 2)
    for n in (1, 2):
        expect_greeting(port, f"connected as client {n} of 2 to `hello_server 0 2`", server)
    status = server.wait(timing.seconds(3))
    did = "greeted 2 clients of `hello_server 0 2`, then waited for it to exit"
    if status != 0:
        fail(did, expected="exit status 0 within 3 s", got=proc.describe_status(status),
             stderr=server.err(), hint=COUNT_HINT)
    if net.port_is_bound(port):
        fail(did, expected=f"port {port} released", got="still bound")


@pytest.mark.points(8)
def test_backlog_queues_clients_in_order(lab):
    """5 clients that connect before the first accept() wait in the backlog and are served in order (timed: the 5 connections may take 1.5 s, times the machine's measured slowness)"""
    server, port = lab.start_server(SERVER, 0)
    backlog = net.listen_backlog(port)
    if backlog is not None and backlog != 5:
        fail("started `hello_server 0` and asked the kernel (ss -ltn) for its listen queue",
             expected="a backlog of 5", got=f"a backlog of {backlog}",
             hint="listen(fd, 5): the backlog is how many connections may wait for accept()")
    server.signal(signal.SIGSTOP)  # the server cannot accept() now: connections must queue
    try:
        done, pending = net.connect_many(port, 5, timeout=1.5)
    finally:
        server.signal(signal.SIGCONT)
    did = "stopped `hello_server 0` (SIGSTOP), connected 5 clients, then let it go on (SIGCONT)"
    if pending or len(done) < 5:
        fail(did, expected="all 5 connections complete while the server is stopped (they wait in "
                           "the listen queue)",
             got=f"{len(done)} of 5 completed within 1.5 s",
             hint="listen(fd, 5): the backlog is how many connections may wait for accept()")
    for n, client in enumerate(done, 1):
        data = client.recv_until_eof(3)
        if data != GREETING or not client.eof:
            fail(did + f", then read from client {n}", expected=f"{show(GREETING)} then end of file",
                 got=show(data) + ("" if client.eof else ", and no end of file within 3 s"),
                 stderr=server.err(), hint=greeting_hint(data, client.eof) or (
                     common.stopped_serving_hint(server, port) if not data else None))
    server.wait_line(CONNECTION, timing.seconds(2), start=5)
    ports = [int(line.rsplit(":", 1)[1]) for line in server.lines()[1:]
             if line.startswith("connection from ")]
    want = [c.local_port for c in done]
    if ports != want:
        fail(did + ", then read its `connection from` lines",
             expected="the 5 clients' ports in the order they connected: " + ", ".join(map(str, want)),
             got=", ".join(map(str, ports)) or "no connection lines",
             hint=PEER_PORT_SWAPPED if [net.swapped(p) for p in ports] == want else
             "serve the connections one by one in the order accept() returns them")


@pytest.mark.points(8)
def test_restart_on_same_port(lab):
    """restarted on the same port at once after serving a client (SO_REUSEADDR)"""
    port = net.free_port()
    server, _ = lab.start_server(SERVER, port, 1)
    expect_greeting(port, f"connected to `hello_server {port} 1`", server)
    status = server.wait(timing.seconds(3))
    if status is None:
        fail(f"served one client with `hello_server {port} 1`, then waited for it to exit",
             expected="exit status 0 within 3 s", got="still running", stderr=server.err(),
             hint=COUNT_HINT)
    # The server closed first, so its side of the connection is now in TIME_WAIT.
    again = lab.start(SERVER, port, 1)
    match = again.wait_line(READY_LINE, timing.seconds(READY))
    if not match:
        status = again.wait(timing.seconds(2))  # also drains stderr: the reason is in it
        err = again.err()
        fail(f"served one client with `hello_server {port} 1`, then started it again on port {port}",
             expected=f"listening on 0.0.0.0:{port}",
             got=f"{proc.describe_status(status)}; stderr {show(err)}",
             hint="the old connection is in TIME_WAIT for a minute: set SO_REUSEADDR with "
                  "setsockopt() before bind() so the port can be bound again at once"
             if b"in use" in err else None)


@pytest.mark.points(5)
def test_server_port_in_use(lab):
    """on a port that is taken: `bind: Address already in use` and exit 1"""
    common.expect_port_in_use(lab, SERVER, lambda: net.FakeTcpServer(lambda c, s: None), b"bind: ")


@pytest.mark.points(5)
def test_accept_error_ends_one_connection_only(lab):
    """an accept() that fails for one connection only (ECONNABORTED) is reported; the server goes on"""
    did = ("started `hello_server 0` with its first accept() failing with ECONNABORTED (strace -e "
           "inject), then connected a client")
    common.expect_survives_injected_error(
        lab, SERVER, "accept,accept4", "ECONNABORTED", "accept: Software caused connection abort",
        did, lambda port, server: expect_greeting(port, did, server),
        hint="an accept() that fails for one connection only (ECONNABORTED, ECONNRESET, EPROTO) "
             "ends nothing: report it (perror) and accept the next; only a failure of the "
             "listening socket itself ends the server")


@pytest.mark.points(5)
def test_stops_on_sigint(lab):
    """SIGINT makes the server close its socket and exit 0"""
    server, port = lab.start_server(SERVER, 0)
    common.expect_clean_stop(
        server, signal.SIGINT, "started `hello_server 0`, then sent SIGINT",
        hint="handle SIGINT with sigaction() (no SA_RESTART): accept() fails with EINTR, "
                  "then close the listening socket and return 0")


@pytest.mark.points(4)
def test_server_usage_errors(lab):
    """bad ports and counts are usage errors (exit 2, `usage: ` on stderr)"""
    common.expect_usage_errors(lab, SERVER, (
        [], ["80x"], ["-1"], ["70000"], ["0", "0"], ["0", "-3"], ["0", "2x"], ["0", "1", "2"]),
        "PORT [MAX_CLIENTS]")


def fragments(conn, _server):
    """A fake server that sends the greeting in four pieces, with pauses."""
    import time
    for piece in (b"Hel", b"lo, W", b"orld", b"!\n"):
        conn.sendall(piece)
        time.sleep(0.05)  # misbehaving on purpose: the pieces arrive apart


@pytest.mark.points(10)
def test_client_reads_until_end_of_file(lab):
    """the client prints the greeting whole when it arrives in fragments (reads until end of file)"""
    with net.FakeTcpServer(fragments) as fake:
        client = lab.run(CLIENT, "127.0.0.1", fake.port, short_read=3)
    out, status = client.out(), client.poll()
    if out != GREETING or status != 0:
        hint = None
        if GREETING.startswith(out) and out:
            hint = "one read() is not one message: read in a loop until read() returns 0 (end of file)"
        elif out.startswith(GREETING):
            hint = "write exactly the n bytes each read() returned, not the whole buffer"
        fail(f"ran `hello_client 127.0.0.1 {fake.port}` against a server that sends "
             f"\"Hel\" \"lo, W\" \"orld\" \"!\\n\" apart (and reads capped at 3 bytes)",
             expected=f"stdout {show(GREETING)} and exit status 0",
             got=f"stdout {show(out)}; {proc.describe_status(status)}",
             note=first_difference(GREETING, out) if out else None,
             stderr=client.err(), hint=hint)


@pytest.mark.points(5)
def test_client_connection_refused(lab):
    """against a closed port the client prints `connect: Connection refused` and exits 1"""
    port = net.free_port()
    client = lab.run(CLIENT, "127.0.0.1", port)
    err, status = client.err(), client.poll()
    if b"connect: Connection refused" not in err.splitlines() or status != 1:
        fail(f"ran `hello_client 127.0.0.1 {port}` where nothing listens",
             expected="stderr `connect: Connection refused` and exit status 1",
             got=f"{proc.describe_status(status)}; stderr {show(err)}",
             hint="check connect()'s return value; on -1 perror(\"connect\") and return 1")


@pytest.mark.points(4)
def test_client_usage_errors(lab):
    """wrong argument counts, bad ports and a host that cannot be resolved are usage errors (exit 2)"""
    common.expect_usage_errors(lab, CLIENT, (
        [], ["127.0.0.1"], ["127.0.0.1", "80x"], ["127.0.0.1", "70000"],
        ["127.0.0.1", "80", "extra"], ["bad host!", "80"]), "HOST PORT")


@pytest.mark.points(10)
@pytest.mark.deadline(30)
def test_valgrind_clean(lab):
    """under Valgrind, server (one client) and client: no error, no leak, no descriptor left open"""
    server, port = lab.start_server(SERVER, 0, 1, use_valgrind=True)
    client = lab.start(CLIENT, "127.0.0.1", port, use_valgrind=True)
    client.close_stdin()
    client_status = client.wait(timing.seconds(15))
    server_status = server.wait(timing.seconds(10))
    if server_status is None:
        fail(f"ran `hello_server {port} 1` and one client under Valgrind, then waited for the "
             "server to exit", expected="exit status 0", got="still running", stderr=server.err(),
             hint=COUNT_HINT)
    common.valgrind_clean(server, server_status, f"`hello_server {port} 1`", "server")
    common.valgrind_clean(client, client_status, f"`hello_client 127.0.0.1 {port}`", "client")
    if client.out() != GREETING:
        fail("ran the client against the server, both under Valgrind",
             expected=show(GREETING), got=show(client.out()))


@pytest.mark.points(4)
def test_flushes_stdout(lab):
    """the ready line reaches a plain pipe at once (stdout flushed)"""
    common.flushes_stdout(lab, SERVER, READY_LINE)
