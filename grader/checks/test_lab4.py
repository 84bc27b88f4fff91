"""Lab 4: the iterative TCP echo server and its client.  Contract: docs/contract.md, "Lab 4";
handout labs/lab4/README.md.

Programs: ``echo_server PORT [MAX_CLIENTS]`` and ``echo_client HOST PORT``.  Most checks
are written in grader/checks/echo.py, because lab 6 (the Winsock port) and lab 7 (the
forking server) run them too; this module gives them lab 4's points, and holds the checks
that only lab 4 runs: those that need the grader's shim, Valgrind or signals.  Short reads
and writes are rare on loopback, so the checks that need them force them with the shim
(``short_io``): a server that drops the rest of a short write fails every time, not by luck.
"""
import signal
import threading
import time

import pytest

import echo
from echo import MIB, echo_back, echo_hint, expect_echo, nul_hint, payload
from harness import common, net, proc, timing
from harness.common import check
from harness.report import fail, first_difference

pytestmark = pytest.mark.lab4

# -- the server ----------------------------------------------------------------------------

test_builds_without_warnings = check(echo.builds_without_warnings, 3)
test_server_ready_line = check(echo.server_ready_line, 3)
test_echoes_one_client = check(echo.echoes_one_client, 4)
test_server_log_lines = check(echo.server_log_lines, 3)
test_echoes_1mib_of_binary_data = check(echo.echoes_1mib_of_binary_data, 5)
test_peer_sending_one_byte_at_a_time = check(echo.peer_sending_one_byte_at_a_time, 3)


@pytest.mark.points(6)
@pytest.mark.deadline(20)
def test_short_writes_are_finished(lab):
    """with every read and write cut short (at 61 bytes), 256 KiB still comes back whole"""
    server, port = lab.start_server(lab.server, 0, short_write=61)
    expect_echo(port, payload(256 * 1024, seed=5),
                f"started `{server.shown}` with each read()/write() on sockets capped at 61 bytes "
                "(a short write every time), sent 256 KiB", server, timeout=15)


@pytest.mark.points(3)
@pytest.mark.deadline(20)
def test_slow_reader_gets_everything(lab):
    """a client that sends 4 MiB at once and reads slowly still gets every byte (writes block, then finish)"""
    server, port = lab.start_server(lab.server, 0)
    data = payload(4 * MIB, seed=6)
    client = net.TcpClient(port)
    hung_up = []

    def send_all_then_close():
        try:
            client.send(data)
            client.shutdown_write()
        except OSError as exc:  # the server hung up before reading everything
            hung_up.append(exc)
    sender = threading.Thread(target=send_all_then_close, daemon=True)
    sender.start()
    time.sleep(0.3)  # misbehaving on purpose: a slow reader lets the server's buffers fill up
    got = bytearray()
    deadline = timing.Deadline(timing.seconds(15))
    while len(got) < len(data) and not deadline.expired():
        chunk = client.recv_exact(min(4096, len(data) - len(got)), 2)
        if not chunk:
            break
        got += chunk
    if len(got) == len(data):
        got += client.recv_until_eof(3)  # anything extra, then end of file
    got = bytes(got)
    if got != data:
        fail(f"sent 4 MiB to `{server.shown}` and read the echo 4 KiB at a time",
             expected=f"all {len(data)} bytes back, unchanged", got=f"{len(got)} bytes",
             note=first_difference(data, got), stderr=server.err(),
             hint=nul_hint(data, got) or (
                 "bytes were dropped while the client was slow to read: a write() that cannot "
                 "finish at once must wait for room (no MSG_DONTWAIT, no O_NONBLOCK), never drop "
                 "the rest" if len(got) < len(data) and not hung_up else echo_hint(data, got, client.eof)))


test_100_clients_in_sequence = check(echo.hundred_clients_in_sequence, 4)
test_second_client_served_after_the_first = check(echo.second_client_served_after_the_first, 4)


@pytest.mark.points(3)
def test_client_that_resets_ends_only_its_session(lab):
    """a client that resets its connection ends its own session; the next client is served"""
    server, port = lab.start_server(lab.server, 0)
    client = net.TcpClient(port)
    data = payload(64 * 1024, seed=7)

    def send_all():
        try:
            client.send(data)
        except OSError:  # a server that hung up: the echo below shows what came back
            pass
    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    client.recv_exact(len(data), 5)
    sender.join(timeout=1)
    # Everything is echoed: the server is back in read() when the reset comes, so its
    # read() fails with ECONNRESET every time (not its write(), by luck of timing).
    client.reset()
    try:
        expect_echo(port, b"still there?\n", f"reset a client of `{server.shown}` in the middle "
                                             "of its echo, then connected another", server)
    except (OSError, AssertionError):
        if server.wait(timing.seconds(1)) is None:
            raise
    status = server.poll()
    if status is not None:
        fail("reset a client mid-echo, then connected another", expected="the server still running",
             got=proc.describe_status(server.wait(1)), stderr=server.err(),
             hint=common.stopped_serving_hint(server, port) if status == 0 else
             "a reset client ends its own session only: when read() or write() fails with "
             "ECONNRESET or EPIPE, close that connection and go back to accept()")


test_client_that_vanishes_does_not_kill_the_server = check(
    echo.client_that_vanishes_does_not_kill_the_server, 4)
test_closed_line_counts_every_byte = check(echo.closed_line_counts_every_byte, 3)
test_restart_on_same_port = check(echo.restart_on_same_port, 3)
test_server_port_in_use = check(echo.server_port_in_use, 2)
test_accept_error_ends_one_connection_only = check(echo.accept_error_ends_one_connection_only, 3)
test_max_clients_then_exit = check(echo.max_clients_then_exit, 3)


@pytest.mark.points(3)
def test_stops_on_sigint_even_while_serving(lab):
    """SIGINT stops the server with exit 0, when idle and in the middle of a session"""
    for busy in (False, True):
        server, port = lab.start_server(lab.server, 0)
        client = None
        if busy:
            client = net.TcpClient(port)
            client.send(b"hello\n")
            client.recv_exact(6, 3)
        common.expect_clean_stop(
            server, signal.SIGINT, f"started `{server.shown}`"
            + (", connected a client that stays" if busy else "") + ", then sent SIGINT",
            hint="handle SIGINT with sigaction() without SA_RESTART; when read() or accept() "
                      "fails with EINTR and the flag is set, close everything and return 0")
        if client:
            client.close()


test_server_usage_errors = check(echo.server_usage_errors, 3)


@pytest.mark.points(4)
@pytest.mark.deadline(30)
def test_server_valgrind_clean(lab):
    """under Valgrind, a server that echoes two clients: no error, no leak, no descriptor left"""
    server, port = lab.start_server(lab.server, 0, 2, use_valgrind=True)
    expect_echo(port, payload(100 * 1024, seed=9), "echoed 100 KiB under Valgrind", server, timeout=15)
    expect_echo(port, b"bye\n", "echoed a second client under Valgrind", server)
    status = server.wait(timing.seconds(15))
    common.valgrind_clean(server, status, f"`echo_server {port} 2` (two clients)", "server")


test_flushes_stdout = check(echo.flushes_stdout, 2)

# -- the client ----------------------------------------------------------------------------

test_client_echoes_lines = check(echo.client_echoes_lines, 4)
test_client_long_and_binary_lines = check(echo.client_long_and_binary_lines, 4)
test_client_reassembles_fragmented_echo = check(echo.client_reassembles_fragmented_echo, 4)
test_client_quits_on_q = check(echo.client_quits_on_q, 3)
test_client_sends_lines_that_only_start_like_q = check(
    echo.client_sends_lines_that_only_start_like_q, 2)
test_client_reads_no_more_than_it_is_owed = check(echo.client_reads_no_more_than_it_is_owed, 2)
test_client_server_closes_early = check(echo.client_server_closes_early, 3)


@pytest.mark.points(2)
def test_client_connection_refused(lab):
    """against a closed port: `connect: Connection refused` and exit 1"""
    common.expect_connection_refused(lab, lab.client)


test_client_usage_errors = check(echo.client_usage_errors, 2)


@pytest.mark.points(3)
@pytest.mark.deadline(30)
def test_client_valgrind_clean(lab):
    """under Valgrind, the client with long lines: no error, no leak, no descriptor left"""
    data = b"short\n" + b"B" * 50_000 + b"\nlast\n"
    with net.FakeTcpServer(echo_back) as fake:
        client = lab.start(lab.client, "127.0.0.1", fake.port, use_valgrind=True)
        client.feed(data)
        status = client.wait(timing.seconds(20))
    common.valgrind_clean(client, status, f"`echo_client 127.0.0.1 {fake.port}` with a 50 KB line", "client")
    if client.out() != data:
        fail("ran the client under Valgrind", expected=f"stdout equal to stdin ({len(data)} bytes)",
             got=f"{len(client.out())} bytes", note=first_difference(data, client.out()))
