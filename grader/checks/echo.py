"""The echo checks, written once: lab 4's iterative echo server and its client, whose
behaviour lab 6's Winsock port and lab 7's forking server share.  Contract: docs/contract.md,
"Lab 4" (and "Lab 6", "Lab 7"); handout labs/lab4/README.md.

Each check is a plain function of the ``lab`` fixture that drives ``lab.server`` and
``lab.client`` (never fixed program names); a lab's check module turns it into a check
with its own points (:func:`harness.common.check`)::

    test_echoes_one_client = check(echo.echoes_one_client, 4)

Lab 6 gives ``check`` its Winsock words, lab 7 its program's name.  So a check here must
not depend on the shim, Valgrind or signals, or must say what it does without them
(Windows has none of them): the checks that need them are lab 4's own, in
grader/checks/test_lab4.py.  Short reads and writes are rare on loopback, so the checks that
need them force them with the grader's shim (``short_io``) where there is one: a client
that takes one read for one line then fails every time, not by luck.
"""
import contextlib
import os
import random
import re
import signal
import threading
import time

from harness import common, net, proc, timing
from harness.common import deadline
from harness.lab import PRINTED_PORT_SWAPPED, READY_LINE, stderr_hint
from harness.report import difference_at, fail, first_difference, lost_at_nul, show

CONNECTION = r"connection from (\d+\.\d+\.\d+\.\d+):(\d+)"
CLOSED = r"closed (\d+\.\d+\.\d+\.\d+):(\d+) \((\d+) bytes\)"
#: The hint for a server that does not exit after MAX_CLIENTS clients.
COUNT_HINT = "count the clients served; after MAX_CLIENTS close the listening socket and return 0"
#: Bytes of binary data through the server in the big-transfer checks.
MIB = 1 << 20


def payload(size, seed=4):
    """``size`` reproducible random bytes, NUL bytes and newlines included."""
    return random.Random(seed).randbytes(size)


def nul_hint(sent, got):
    """The hint for an echo cut at a NUL byte of what was sent (strlen() on received data),
    or None.  A cut that keeps the NUL byte itself is not strlen's."""
    if lost_at_nul(sent, got):
        return ("the echo loses bytes at a NUL byte: never use strlen() on received data, "
                "use the n that read() returned")
    zero = sent.find(b"\0")
    if sent.startswith(got) and zero != -1 and len(got) == zero:  # cut right before it
        return ("the echo stops at the first NUL byte: never use strlen() on received "
                "data, use the n that read() returned")
    return None


def echo_hint(sent, got, eof):
    """Name the likely mistake behind an echo that differs from what was sent."""
    if got.startswith(sent) and got[len(sent):].strip(b"\0") == b"" and len(got) > len(sent):
        return ("the echo carries extra NUL bytes: write back exactly the n bytes read() "
                "returned, not the buffer size (sizeof buf)")
    if nul_hint(sent, got):
        return nul_hint(sent, got)
    if len(got) > len(sent):
        return ("more bytes came back than were sent: write back exactly the n bytes read() "
                "returned, not the buffer size")
    if sent.startswith(got):
        if eof:
            return ("the server closed before echoing everything: keep reading and writing "
                    "until read() returns 0 (one read() is not the whole message)")
        return ("bytes are missing at the end: a write() may write fewer bytes than asked; loop on "
                "write() until all n bytes are out (Stevens' writen)")
    if len(got) < len(sent):
        return ("bytes are missing from the middle of the echo: a write() may write fewer bytes "
                "than asked; loop on write() until all n bytes are out (Stevens' writen)")
    i = difference_at(sent, got)
    if i is not None and i > 0 and got[i:i + 16] and got[i:i + 16] in sent[max(0, i - 65536):i]:
        return ("the echo repeats bytes it had already sent: after a short write, write the rest "
                "from buf + done (the bytes not written yet), not from buf again")
    return "bytes came back changed or out of order: send back the buffer as read, unchanged"


def roundtrip(port, data, timeout=10, step=None):
    """Connect, send ``data`` (from a thread) while reading the echo, half-close, wait for EOF.

    Returns (client, echoed bytes).  ``step`` sends that many bytes at a time.
    """
    client = net.TcpClient(port)
    errors = []

    def sender():
        try:
            if step:
                client.send_slowly(data, step)
            else:
                client.send(data)
            client.shutdown_write()
        except OSError as exc:
            errors.append(exc)
    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    got = client.recv_exact(len(data), timeout)
    if len(got) == len(data):
        got += client.recv_until_eof(3)  # anything extra, then end of file
    thread.join(timeout=1)
    return client, got


def expect_echo(port, data, did, server=None, **kw):
    try:
        client, got = roundtrip(port, data, **kw)
    except OSError as exc:
        if server is None:
            raise
        fail(did, expected=f"the same {len(data)} bytes back, then end of file",
             got=f"{type(exc).__name__}: {exc}", stderr=server.err(),
             hint=common.stopped_serving_hint(server, port))
    gone = common.stopped_serving_hint(server, port) if server is not None and not got else None
    if gone:
        fail(did, expected=f"the same {len(data)} bytes back, then end of file",
             got="0 bytes, " + ("end of file" if client.eof else "no end of file"),
             stderr=server.err(), hint=gone)
    if got != data or not client.eof:
        fail(did, expected=f"the same {len(data)} bytes back, then end of file",
             got=(f"the same {len(got)} bytes, unchanged" if got == data else
                  f"{len(got)} bytes: {show(got, 64 if len(got) == len(data) else None)}")
             + ("" if client.eof else "; no end of file"),
             note=first_difference(data, got) if got != data else None,
             stderr=server.err() if server else None,
             hint=echo_hint(data, got, client.eof) if got != data else
             "after the client closes its side (read() returns 0), close the connection socket")
    return client


def open_handles(lab, program):
    """Descriptors held for ``program``: its own and, for a Windows program, Wine's server's
    (wineserver keeps one descriptor per open socket of every program); None if unknown."""
    count = open_fds(program.pid)
    if count is not None and lab.windows:
        server = open_fds(lab.wine.server_pid())
        count = None if server is None else count + server
    return count


def open_fds(pid):
    """How many descriptors process ``pid`` has open (None where /proc cannot tell)."""
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


# -- the server ----------------------------------------------------------------------------


def builds_without_warnings(lab):
    """echo_server.c and echo_client.c compile without a warning (-std=c11 -Wall -Wextra)"""
    common.no_warnings(lab, [lab.server, lab.client])


def server_ready_line(lab):
    """`echo_server 0` prints `listening on 0.0.0.0:PORT` with the real port, and accepts there"""
    server, port = lab.start_server(lab.server, 0)
    try:
        net.TcpClient(port, timeout=2).close()
    except OSError as exc:
        fail(f"started `{server.shown}`, then connected to the port it printed ({port})",
             expected="the connection is accepted", got=str(exc), stderr=server.err(),
             hint=PRINTED_PORT_SWAPPED if port != 0 else None)


def echoes_one_client(lab):
    """a client's lines come back exactly, then end of file when the client closes its side"""
    server, port = lab.start_server(lab.server, 0)
    expect_echo(port, b"hello\nsecond line\n", f"started `{server.shown}`, sent two lines and "
                                                 "closed my side", server)


def server_log_lines(lab):
    """the server prints `connection from IP:PORT` and `closed IP:PORT (N bytes)` for each client"""
    server, port = lab.start_server(lab.server, 0)
    data = b"twelve bytes"
    client = expect_echo(port, data, f"echoed {len(data)} bytes through `{server.shown}`", server)
    want_conn = f"connection from 127.0.0.1:{client.local_port}"
    want_closed = f"closed 127.0.0.1:{client.local_port} ({len(data)} bytes)"
    server.wait_line(CLOSED, timing.seconds(3))
    lines = server.lines()[1:]
    did = f"echoed {len(data)} bytes from 127.0.0.1:{client.local_port}, then read the server's stdout"
    if lines[:2] != [want_conn, want_closed]:
        hint = None
        text = " ".join(lines)
        if str(net.swapped(client.local_port)) in text:
            hint = "the client's port is byte-swapped: ntohs(addr.sin_port)"
        elif re.search(r"\((\d+) bytes\)", text) and f"({len(data)} bytes)" not in text:
            hint = "N counts the bytes echoed back to this client: add up what write_all sent"
        fail(did, expected=f"{want_conn}\n{want_closed}", got="\n".join(lines[:4]) or "(no line)",
             hint=hint or "print both lines, each flushed, for every client")


@deadline(20)
def echoes_1mib_of_binary_data(lab):
    """1 MiB of random binary data, NUL bytes included, comes back intact"""
    server, port = lab.start_server(lab.server, 0)
    # One byte more than 1 MiB: no buffer of 2 bytes or more divides it, so at least one read()
    # returns less than a full buffer, and a server that writes back its buffer's size instead
    # of what read() returned fails every time, not only when the machine was quiet enough
    # for reads to come back short (seen: passed under load, a whole buffer every read)
    data = payload(MIB + 1)
    expect_echo(port, data, f"sent {len(data)} random bytes (1 MiB and one) to `{server.shown}` "
                            "while reading the echo", server, timeout=15)


def peer_sending_one_byte_at_a_time(lab):
    """a client that sends one byte at a time gets every byte back"""
    server, port = lab.start_server(lab.server, 0)
    data = b"one byte at a time\n\0binary\xff too\n" * 4
    expect_echo(port, data, f"sent {len(data)} bytes one at a time (TCP_NODELAY) to "
                            f"`{server.shown}`", server, step=1)


@deadline(30)
def hundred_clients_in_sequence(lab):
    """100 clients one after another are all echoed, and the server's descriptors do not grow"""
    server, port = lab.start_server(lab.server, 0)
    expect_echo(port, b"client 0\n", f"echoed client 0 of `{server.shown}`", server)
    before = open_handles(lab, server)
    for n in range(1, 100):
        expect_echo(port, f"client {n}\n".encode(), f"echoed client {n} of 100 in sequence", server)
    server.wait_line(CLOSED, timing.seconds(3), start=199)
    after = open_handles(lab, server)
    if before is not None and after is not None and after > before:
        fail(f"echoed 100 clients in sequence through `{server.shown}`, counting its open "
             "descriptors (/proc/PID/fd" + (", and Wine's server's, which holds every socket"
                                           if lab.windows else "") + ") after the first and after the last",
             expected=f"{before} descriptors both times", got=f"{before}, then {after}",
             hint="close() the connection socket of every client (shutdown() is not enough)")


def second_client_served_after_the_first(lab):
    """a client that connects while another is served waits in the backlog and is served next (timed: no echo for it within 0.3 s while the first is served)"""
    server, port = lab.start_server(lab.server, 0)
    first = net.TcpClient(port)
    first.send(b"first\n")
    if first.recv_exact(6, 3) != b"first\n":
        fail(f"connected a first client to `{server.shown}`", expected="its echo",
             got=show(first.received), stderr=server.err())
    did = ("connected client A, then client B (which sent a line) while A was served; "
           "A sent again, then closed")
    try:
        second = net.TcpClient(port)
        second.send(b"second\n")
        early = second.recv_exact(7, 0.3)  # an iterative server must not answer it yet
        first.send(b"again\n")
        again = first.recv_exact(6, 3)
        first.shutdown_write()
        first.recv_until_eof(3)
        late = early + second.recv_exact(7 - len(early), 3)
        second.shutdown_write()
        second.recv_until_eof(3)
    except OSError as exc:
        fail(did, expected="both clients served, one after the other",
             got=f"{type(exc).__name__}: {exc}; the server: {proc.describe_status(server.wait(1))}",
             stderr=server.err(), hint=common.stopped_serving_hint(server, port))
    if again != b"again\n" or late != b"second\n":
        fail(did, expected="A's echo while A is served, then B's echo after A has gone",
             got=f"A got {show(again)}, B got {show(late)}", stderr=server.err(),
             hint=common.stopped_serving_hint(server, port) or
             (echo_hint(b"again\n", again, False) if again != b"again\n" else None))
    server.wait_line(CLOSED, timing.seconds(3), start=4)
    events = [line.split(" ")[0] + " " + line.split(" ")[2].split(":")[1]
              if line.startswith("connection") else line.split(" ")[0] + " " + line.split(" ")[1].split(":")[1]
              for line in server.lines()[1:] if line.startswith(("connection from", "closed"))]
    want = [f"connection {first.local_port}", f"closed {first.local_port}",
            f"connection {second.local_port}", f"closed {second.local_port}"]
    if early or events[:4] != want:
        fail(did, expected="served one at a time: " + ", ".join(want),
             got=(f"B was answered while A was still served ({show(early)}); " if early else "")
             + "log: " + (", ".join(events) or "(nothing)"),
             hint="an iterative server serves one client to the end, then accepts the next")


def client_that_vanishes_does_not_kill_the_server(lab):
    """a client that closes without reading its echo does not kill the server (SIGPIPE)"""
    server, port = lab.start_server(lab.server, 0, short_write=512)
    client = net.TcpClient(port)
    server.wait_line(CONNECTION, timing.seconds(3), start=1)
    # Stopped, the server cannot echo: our side closes with nothing unread (an orderly
    # close), and every write the server makes after the first meets a closed socket.
    server.signal(signal.SIGSTOP)
    try:
        client.send(payload(64 * 1024, seed=8))
        client.close()
    finally:
        server.signal(signal.SIGCONT)
    try:
        expect_echo(port, b"next\n", f"sent 64 KiB to `{server.shown}` and closed without reading "
                                     "the echo, then connected another client", server)
    except (OSError, AssertionError) as exc:
        status = server.wait(timing.seconds(1))
        if status == -signal.SIGPIPE:
            fail("sent 64 KiB and closed without reading the echo",
                 expected="the server goes on with the next client",
                 got="the server was killed by SIGPIPE", stderr=server.err(),
                 hint="writing to a socket whose peer has gone raises SIGPIPE, which kills the "
                      "process: ignore it (signal(SIGPIPE, SIG_IGN)) and handle EPIPE from write()")
        if status is not None or isinstance(exc, OSError):
            fail("sent 64 KiB, closed without reading, then connected another client",
                 expected="the next client is served",
                 got=(f"{type(exc).__name__}: {exc}; " if isinstance(exc, OSError) else "")
                 + f"the server: {proc.describe_status(status)}", stderr=server.err(),
                 hint=None if status is None else common.stopped_serving_hint(server, port)
                 if status == 0 else
                 "a client that goes away ends its own session only: when write() fails (EPIPE, "
                 "ECONNRESET), close that connection and go back to accept()")
        raise


def closed_line_counts_every_byte(lab):
    """`closed IP:PORT (N bytes)` counts every byte of a second client's session, its reads and writes split unevenly"""
    # Each piece is echoed before the next is sent, so the server reads it apart from the
    # others: a count of the last read, of the reads, or of strlen() disagrees with the sum;
    # and a count that is not started again at 0 includes the first client's 5 bytes.
    pieces = [b"x", payload(1500, seed=11), b"nul\0byte\n", payload(700, seed=12)]
    server, port = lab.start_server(lab.server, 0, short_write=61)
    first = b"warm\n"
    expect_echo(port, first, f"echoed a first client of `{server.shown}`", server)
    client = net.TcpClient(port)
    for piece in pieces:
        client.send(piece)
        if client.recv_exact(len(piece), 5) != piece:
            client.close()
            # Ended, rather than echoing wrongly?  (Waited on only here, on the way to a fail.)
            status = server.wait(timing.seconds(0.5))
            ended = None if status is None else (
                f"the server ended ({proc.describe_status(status)}) during a second client's "
                "session, before echoing it: it must serve client after client")
            fail(f"sent {len(piece)} bytes to `{server.shown}` and read the echo",
                 expected="the same bytes back", got=show(bytes(client.received)),
                 stderr=server.err(), hint=stderr_hint(server.err()) or ended
                 or echo_hint(piece, bytes(client.received), client.eof))
        client.received.clear()
    client.shutdown_write()
    client.recv_until_eof(3)
    total = sum(map(len, pieces))
    match = server.wait_line(CLOSED, timing.seconds(3), start=3)  # the second client's
    did = (f"after a first client of {len(first)} bytes, sent {' + '.join(str(len(p)) for p in pieces)} "
           f"bytes to `{server.shown}`, each piece echoed before the next (writes capped at 61 "
           "bytes), then closed and read this second client's `closed` line")
    if not match or int(match.group(3)) != total:
        got = int(match.group(3)) if match else None
        hint = "print `closed IP:PORT (N bytes)` (flushed) when the session ends"
        if got == total + len(first):
            hint = ("N includes the first client's bytes: start the count at 0 for each client "
                    "(a local variable of the session, not a static or global one)")
        elif got in (len(pieces[-1]), 61, len(pieces[-1]) % 61):
            hint = ("N is the last read (or write) alone: add every n to a counter that starts at 0 "
                    "for each client (echoed += n), not echoed = n")
        elif got == len(pieces) or got is not None and got < len(pieces) * 30:
            hint = "N counts reads or writes: add up the bytes each read() returned, not the calls"
        elif got is not None:
            hint = ("N counts the bytes echoed back to this client: add up the n of every read() "
                    "once its bytes are written back (never strlen(), never the buffer size)")
        fail(did, expected=f"closed 127.0.0.1:{client.local_port} ({total} bytes)",
             got=match.group(0) if match else show("\n".join(server.lines()[1:])),
             stderr=server.err(), hint=hint)


def restart_on_same_port(lab):
    """restarted on the same port at once while an old connection lingers (SO_REUSEADDR before bind)"""
    def served(_server, port):
        client = net.TcpClient(port)
        client.send(b"hello\n")
        client.recv_exact(6, 3)
        return contextlib.closing(client)
    common.expect_restart_on_same_port(lab, served)


def server_port_in_use(lab):
    """on a port that is taken: `bind: Address already in use` and exit 1"""
    common.expect_port_in_use(lab, lab.server, lambda: net.FakeTcpServer(lambda c, s: None), b"bind: ")


def accept_error_ends_one_connection_only(lab):
    """an accept() that fails for one connection only (ECONNABORTED) is reported; the server goes on"""
    did = ("started `echo_server 0` with its first accept() failing with ECONNABORTED (strace -e "
           "inject), then connected a client")
    common.expect_survives_injected_error(
        lab, lab.server, "accept,accept4", "ECONNABORTED", "accept: Software caused connection abort",
        did, lambda port, server: expect_echo(port, b"after the abort\n", did, server),
        hint="an accept() that fails for one connection only (ECONNABORTED, ECONNRESET, EPROTO) "
             "ends nothing: report it (perror) and accept the next; only a failure of the "
             "listening socket itself ends the server")


def max_clients_then_exit(lab):
    """`echo_server 0 2` serves two clients, closes everything and exits 0"""
    server, port = lab.start_server(lab.server, 0, 2)
    for n in (1, 2):
        expect_echo(port, f"client {n}\n".encode(), f"echoed client {n} of `{server.shown}`", server)
    status = server.wait(timing.seconds(3))
    if status != 0:
        fail(f"echoed 2 clients of `{server.shown}`, then waited for it to exit",
             expected="exit status 0 within 3 s", got=proc.describe_status(status),
             stderr=server.err(), hint=COUNT_HINT)


def server_usage_errors(lab):
    """bad ports and counts are usage errors (exit 2, `usage: ` on stderr)"""
    common.expect_usage_errors(lab, lab.server, (
        [], ["80x"], ["+80"], ["70000"], ["0", "0"], ["0", "x"], ["0", "1", "2"]), "PORT [MAX_CLIENTS]")


def flushes_stdout(lab):
    """the ready line reaches a plain pipe at once (stdout flushed)"""
    common.flushes_stdout(lab, lab.server, READY_LINE)



# -- the client ----------------------------------------------------------------------------


def echo_back(conn, server, piece=None, pause=0.0):
    """A fake echo server: sends back what it reads, ``piece`` bytes at a time if given,
    waiting ``pause`` s after the first piece of each read (the rest then comes late)."""
    import socket as _socket
    conn.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
    while True:
        data = conn.recv(65536)
        if not data:
            return
        server.received += data
        step = piece or len(data)
        for i in range(0, len(data), step):
            conn.sendall(data[i:i + step])
            if i == 0 and pause:
                time.sleep(pause)  # misbehaving on purpose: the client's recv returns early


def run_client(lab, data, handler=echo_back, **kw):
    """Run the client against a fake server; return (client program, fake server)."""
    with net.FakeTcpServer(handler) as fake:
        client = lab.run(lab.client, "127.0.0.1", fake.port, data=data, timeout=10, **kw)
    return client, fake


def expect_client_output(lab, data, want, what, **kw):
    client, fake = run_client(lab, data, **kw)
    out, status = client.out(), client.poll()
    if out != want or status != 0:
        hint = None
        if lost_at_nul(want, out):
            hint = ("a line with a NUL byte came back cut: never use strlen() on a line, use the "
                    "length getline() returns")
        elif want.startswith(out) and out:
            hint = ("stdout stops early: keep reading until as many bytes came back as you sent "
                    "(one read() is not one line), and read lines of any length (getline)")
        elif b"\r\n" in out and b"\r\n" not in want:
            hint = ("each \"\\n\" came out as \"\\r\\n\": stdout is in text mode; switch stdin "
                    "and stdout to binary mode (_setmode(_fileno(stdout), _O_BINARY))")
        elif out.startswith(b"Input message"):
            hint = "the prompt goes to stderr, and only when stdin is a terminal (isatty)"
        elif len(out) > len(want):
            hint = "write exactly the bytes received, not the buffer size"
        fail(f"ran `{client.shown}` against an echo server, with {what} on stdin",
             expected=f"stdout the same {len(want)} bytes, exit status 0",
             got=f"{len(out)} bytes: {show(out)}; {proc.describe_status(status)}",
             note=first_difference(want, out) if out != want else None,
             stderr=client.err(), hint=hint)
    return client, fake


def client_echoes_lines(lab):
    """the client sends each stdin line and prints the echo; end of file ends it (exit 0)"""
    data = b"hello\nworld\n"
    expect_client_output(lab, data, data, show(data))


@deadline(20)
def client_long_and_binary_lines(lab):
    """stdout equals stdin byte for byte: 200 lines, a 100 KB line, NUL bytes, a last line without newline"""
    rng = random.Random(10)
    lines = [f"line {n}: {'x' * rng.randrange(80)}\n".encode() for n in range(200)]
    lines.insert(50, b"A" * 100_000 + b"\n")
    lines.insert(120, b"nul\0inside\0\xff\xfe\n")
    data = b"".join(lines) + b"last line without newline"
    expect_client_output(lab, data, data, "200 lines, one of 100 KB, NUL bytes and a last line "
                                          "without newline")


def client_reassembles_fragmented_echo(lab):
    """the echo arriving 3 bytes at a time, late (and reads capped at 5 bytes), is printed whole"""
    data = b"a line that comes back in many pieces\nand another one\n"
    # The shim caps a native client's reads; a Windows one sees the 0.1 s pause instead.
    expect_client_output(lab, data, data, show(data),
                         handler=lambda c, s: echo_back(c, s, piece=3, pause=0.1), short_read=5)


#: The hint for a client that sent the quit line on to the server instead of ending there.
QUIT_SENT_HINT = ("the quit line itself reached the server: before sending a line, check whether "
                  "it is exactly \"q\\n\" or \"Q\\n\", and end the session there")


def client_quits_on_q(lab):
    """a line `q` or `Q` ends the session: nothing after it is sent"""
    for quit_line in (b"q\n", b"Q\n"):
        data = b"before\n" + quit_line + b"after\n"
        client, fake = run_client(lab, data)
        if bytes(fake.received) != b"before\n":
            fail(f"ran `{client.shown}` with {show(data)} on stdin",
                 expected='the server receives only "before\\n"', got=show(bytes(fake.received)),
                 hint=QUIT_SENT_HINT if quit_line in bytes(fake.received) else None)
        expect_client_output(lab, data, b"before\n", show(data))


def client_sends_lines_that_only_start_like_q(lab):
    """lines that start like `q` but are not exactly `q` or `Q` (`quit`, `q `, `qq`, `Q!`) are sent"""
    data = b"quit\nq \nqq\nQ!\nq\0\nQuestion\nlast\n"
    client, fake = run_client(lab, data)
    out, status, sent = client.out(), client.poll(), bytes(fake.received)
    if sent == data and out == data and status == 0:
        return
    hint = None
    if status == 0 and data.startswith(sent) and data[len(sent):][:1] in (b"q", b"Q") \
            and (not sent or sent.endswith(b"\n")):
        stopped = data[len(sent):].split(b"\n", 1)[0] + b"\n"
        hint = (f"the client stopped at the line {show(stopped)}: only a line that is exactly "
                "\"q\\n\" or \"Q\\n\" (or a last line \"q\"/\"Q\") ends the session; compare the whole "
                "line and its length, not its first character")
    fail(f"ran `{client.shown}` against an echo server, with {show(data)} on stdin",
         expected="every line sent and echoed, exit status 0",
         got=f"the server received {show(sent)}; stdout {show(out)}; {proc.describe_status(status)}",
         stderr=client.err(), hint=hint)


FIRST, SECOND = b"first line\n", b"second\n"


def answers_ahead(conn, server):
    """A fake server that, on the first line, sends its echo AND the next line's echo at once,
    before the client has sent that next line; then hangs up once the next line came."""
    data = bytearray()
    while len(data) < len(FIRST):
        chunk = conn.recv(65536)
        if not chunk:
            return
        data += chunk
    conn.sendall(FIRST + SECOND)  # misbehaving on purpose: the second echo comes early
    while len(data) < len(FIRST + SECOND):
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    server.received += data


def client_reads_no_more_than_it_is_owed(lab):
    """the client never reads past the echo it is owed: a next echo that comes early waits for its line"""
    data = FIRST + SECOND
    client, fake = run_client(lab, data, handler=answers_ahead)
    out, status = client.out(), client.poll()
    if out == data and status == 0:
        return
    hint = None
    if out.startswith(data) and status != 0:
        hint = ("the client took the second line's echo with the first one: ask read() for at "
                "most the bytes this line still owes (len - got), never a whole buffer, so no "
                "byte of a later echo is taken early")
    fail(f"ran `{client.shown}` with {show(data)} on stdin, against a server that answers the "
         f"first line with {show(FIRST + SECOND)} (the second echo early) and hangs up after "
         "the second line",
         expected=f"stdout {show(data)}, exit status 0 (each line's echo read when it is owed)",
         got=f"stdout {show(out)}; {proc.describe_status(status)}",
         stderr=client.err(), hint=hint)


def close_after_first_bytes(conn, server):
    """A fake server that echoes 3 bytes of the first line, then hangs up, unless the client
    closes first: ``server.client_closed_first`` says which (the client did not wait for
    the rest, or waited and saw the server go)."""
    data = conn.recv(65536)
    server.received += data
    conn.sendall(data[:3])
    conn.settimeout(timing.seconds(1))
    try:
        server.client_closed_first = conn.recv(65536) == b""
    except OSError:  # no end of file from the client within 1 s: it waits, we hang up
        server.client_closed_first = False


def client_server_closes_early(lab):
    """when the server closes before echoing everything: `server closed the connection`, exit 1"""
    client, fake = run_client(lab, b"hello there\n", handler=close_after_first_bytes)
    err, status = client.err(), client.poll()
    if b"server closed the connection" not in err.splitlines() or status != 1:
        fail(f"ran `{client.shown}` against a server that echoes 3 bytes and hangs up",
             expected="stderr `server closed the connection` and exit status 1",
             got=f"{proc.describe_status(status)}; stderr {show(err)}"
             + ("; the client closed its socket after the 3 bytes, before the server hung up"
                if getattr(fake, "client_closed_first", False) else ""),
             hint=early_close_hint(fake, status, err))


def early_close_hint(fake, status, err):
    """The likely mistake of a client that did not report a server closing early."""
    if getattr(fake, "client_closed_first", False):
        return ("the client stopped reading after 3 of the 12 bytes: one read() is not one "
                "line, keep reading until all the bytes you sent came back")
    if status == 1 and not err.strip():
        return ("exit status 1 is right, but stderr stayed empty: print `server closed the "
                "connection` (a line of its own) before you exit")
    if status == 1:
        return ("exit status 1 is right, but stderr lacks the line `server closed the "
                "connection` (exactly that, a line of its own)")
    return ("read() returning 0 before all bytes came back means the server is gone: "
            "say so on stderr and exit 1 (do not loop forever, do not exit 0)")


def client_usage_errors(lab):
    """wrong argument counts, bad ports and a host that cannot be resolved are usage errors (exit 2)"""
    common.expect_usage_errors(lab, lab.client, (
        [], ["127.0.0.1"], ["127.0.0.1", "80x"], ["127.0.0.1", "99999"],
        ["127.0.0.1", "80", "extra"], ["bad host!", "80"]), "HOST PORT")
