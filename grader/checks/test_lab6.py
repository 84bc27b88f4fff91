"""Lab 6: the echo server and client of lab 4, ported to Winsock.  Contract:
docs/contract.md, "Lab 6"; handout labs/lab6/README.md.

Programs: ``echo_server_win.exe PORT [MAX_CLIENTS]`` and ``echo_client_win.exe HOST PORT``,
cross-compiled with mingw-w64 and run under Wine (``harness/wine.py``; ``Lab.start``
knows how to start a Windows program).

The behaviour checks are lab 4's (grader/checks/echo.py, written once for labs 4, 6
and 7), run here against the Winsock programs through :func:`reuse`: the same code, with
lab 6's points, and with the POSIX names in their words (``read()``, ``close()``) put in
Winsock's (``recv()``, ``closesocket()``).  Left out: what has no Windows counterpart (SIGINT,
Valgrind, the shim that forces short writes), and three checks that Wine does not let
fail every time, whatever the program does: a missing fflush() (Wine's C library passes
each printf() to the pipe at once), a reset taken for fatal (Wine's recv() mostly reports
a reset as end of file) and a send that drops what does not fit (Wine's send() never came
back short in the slow-reader check).  On Windows all three mistakes show: the
handout names them, and the reference avoids them.  What was tried to see them under
Wine: lab 4's reset check against a server whose recv() error ends it failed that
server in 1 run of 3 (Wine's recv() reports the reset as error 10054 only when the reset
came before the call, it seems, and as end of file when the call was already waiting),
a check that grades by luck; a dropped short send needs a send() that comes back
short, which Wine's did not; a missing fflush() changes nothing that can be seen.

Two rules that Wine was said to hide are seen again: SO_REUSEADDR (Wine binds a port
again at once either way, so a restart cannot fail; Wine's Winsock trace shows the
setsockopt() and where it comes, ``test_reuseaddr_set_before_bind``), and an accept()
that fails for one connection (a client that resets while queued makes Wine's accept()
fail with WSAECONNRESET, ``test_client_reset_while_queued``).  Then the checks of the
port itself: the Winsock calls imported, WSAStartup first and WSACleanup on every way
out, errors reported with the call and WSAGetLastError(), and stdin/stdout in binary mode.
"""
import re
import subprocess

import pytest

import echo
from harness import common, net, proc, proctree, timing
from harness.lab import stderr_hint
from harness.report import CheckFailed, fail, first_difference, show

pytestmark = pytest.mark.lab6

#: POSIX words in lab 4's messages, and what a Winsock programmer calls them.
WINSOCK_WORDS = [
    (r"\bread\(\)", "recv()"), (r"\bwrite\(\)", "send()"), (r"\bclose\(\)", "closesocket()"),
    (r"\bwrite_all\b", "send_all"), (r"\bgetline\(\)", "read_line()"), (r"\bgetline\b", "read_line"),
    (r"perror\(\"connect\"\)", "report_error(\"connect\")"), (r"\(isatty\)", "(_isatty)"),
    (r"ECONNRESET or EPIPE", "WSAECONNRESET or WSAECONNABORTED"),
    (r"\b(EPIPE|ECONNRESET)\b", r"WSA\1"), (r"\becho_(server|client)\b(?!_win)", r"echo_\1_win"),
]


def winsock_words(text):
    """``text`` with lab 4's POSIX names replaced by their Winsock counterparts."""
    if not isinstance(text, str):
        return text
    for pattern, replacement in WINSOCK_WORDS:
        text = re.sub(pattern, replacement, text)
    return text.replace("WSAEPIPE", "WSAECONNABORTED")


def reuse(check, points):
    """Lab 4's ``check`` (grader/checks/echo.py), run against lab 6's programs, worth
    ``points``, in Winsock words."""
    return common.check(check, points, winsock_words)


# -- lab 4's checks, on Winsock ------------------------------------------------------------

test_builds_without_warnings = reuse(echo.builds_without_warnings, 4)
test_server_ready_line = reuse(echo.server_ready_line, 4)
test_echoes_one_client = reuse(echo.echoes_one_client, 4)
test_server_log_lines = reuse(echo.server_log_lines, 3)
test_echoes_1mib_of_binary_data = reuse(echo.echoes_1mib_of_binary_data, 6)
test_peer_sending_one_byte_at_a_time = reuse(echo.peer_sending_one_byte_at_a_time, 3)
test_100_clients_in_sequence = reuse(echo.hundred_clients_in_sequence, 6)
test_second_client_served_after_the_first = reuse(echo.second_client_served_after_the_first, 3)
test_client_that_vanishes_does_not_kill_the_server = reuse(
    echo.client_that_vanishes_does_not_kill_the_server, 3)
test_max_clients_then_exit = reuse(echo.max_clients_then_exit, 4)
test_server_usage_errors = reuse(echo.server_usage_errors, 2)
test_client_echoes_lines = reuse(echo.client_echoes_lines, 4)
test_client_long_and_binary_lines = reuse(echo.client_long_and_binary_lines, 4)
test_client_reassembles_fragmented_echo = reuse(echo.client_reassembles_fragmented_echo, 4)
test_client_quits_on_q = reuse(echo.client_quits_on_q, 2)
test_client_server_closes_early = reuse(echo.client_server_closes_early, 3)
test_client_usage_errors = reuse(echo.client_usage_errors, 2)
test_closed_line_counts_every_byte = reuse(echo.closed_line_counts_every_byte, 3)
test_client_sends_lines_that_only_start_like_q = reuse(echo.client_sends_lines_that_only_start_like_q, 2)
test_client_reads_no_more_than_it_is_owed = reuse(echo.client_reads_no_more_than_it_is_owed, 2)


# -- the port itself -----------------------------------------------------------------------

#: Calls each program must import from WS2_32.dll (what the port is about).
WINSOCK_IMPORTS = ["WSAStartup", "WSACleanup", "WSAGetLastError", "closesocket"]


def imports_of(exe):
    """The names a Windows program imports, per DLL (read with mingw's objdump -p)."""
    try:
        out = subprocess.run(["x86_64-w64-mingw32-objdump", "-p", str(exe)], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=30, stdin=subprocess.DEVNULL).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    imports, dll = {}, None
    for line in out.decode("utf-8", "replace").splitlines():
        m = re.match(r"\s*DLL Name: (\S+)", line)
        if m:
            dll = m.group(1).upper()
            imports.setdefault(dll, set())
            continue
        m = re.match(r"\s*[0-9a-f]+\s+<none>\s+[0-9a-f]+\s+(\w+)|\s*[0-9a-f]+\s+[0-9a-f]+\s+(\w+)$",
                     line)
        if dll and m:
            imports[dll].add(m.group(1) or m.group(2))
    return imports


@pytest.mark.points(4)
def test_imports_winsock_calls(lab):
    """each program imports WSAStartup, WSACleanup, WSAGetLastError and closesocket from WS2_32.dll"""
    for name in (lab.server, lab.client):
        exe = lab.binary(name)
        imports = imports_of(exe)
        if imports is None:
            pytest.skip("x86_64-w64-mingw32-objdump is missing (package binutils-mingw-w64-x86-64)")
        winsock = imports.get("WS2_32.DLL", set())
        absent = [call for call in WINSOCK_IMPORTS if call not in winsock]
        if absent:
            hints = {
                "WSAStartup": "start Winsock with WSAStartup(MAKEWORD(2, 2), &wsa) before any socket call",
                "WSACleanup": "call WSACleanup() before the program returns, on every path",
                "WSAGetLastError": "report a failed call with its name and WSAGetLastError() "
                                   "(perror() and errno know nothing of Winsock)",
                "closesocket": "close a SOCKET with closesocket(), not close()",
            }
            fail(f"read the import table of {exe.name} (`x86_64-w64-mingw32-objdump -p`)",
                 expected="WS2_32.dll: " + ", ".join(WINSOCK_IMPORTS),
                 got="WS2_32.dll: " + (", ".join(sorted(winsock)) or "nothing") +
                     f" (missing: {', '.join(absent)})",
                 hint=hints[absent[0]])


#: Wine's trace of one Winsock call, after the pid and thread of the process that made it:
#: ``0020:0024:trace:winsock:WSAStartup version 0x202``.
TRACE = re.compile(rb"^([0-9a-f]{4}):[0-9a-f]{4}:trace:winsock:(\w+)", re.M)
#: Wine loading a program's own executable: ``0020:0024:trace:loaddll:build_module Loaded
#: L"Z:\\...\\echo_server_win.exe" at ...``; its pid is the program's.
LOADED = re.compile(rb'^([0-9a-f]{4}):[0-9a-f]{4}:trace:loaddll:\w+ Loaded L"[^"]*\\([^"\\]+\.exe)"',
                    re.M | re.I)
#: Calls that only exist once Winsock is started (what must come after WSAStartup).
SOCKET_CALLS = {"socket", "WSASocketW", "WSASocketA", "bind", "listen", "accept", "connect",
                "send", "recv", "closesocket", "getaddrinfo", "getsockname", "setsockopt"}


def traced(program, exe):
    """The Winsock calls that program ``exe`` made, in order (Wine's trace), one entry per call.

    Only the program's own process counts: a helper that Wine starts from it (services.exe,
    svchost.exe) inherits its environment and stderr, and traces calls of its own there.
    """
    err = program.stderr.bytes()
    own = {m.group(1) for m in LOADED.finditer(err) if m.group(2).lower() == exe.lower().encode()}
    calls = []
    for m in TRACE.finditer(err):
        if own and m.group(1) not in own:
            continue
        name = m.group(2).decode()
        if not calls or calls[-1] != name:  # a call traces several lines in a row
            calls.append(name)
    return calls


def expect_lifecycle(program, status, what, failed_run=False):
    """WSAStartup before any socket call, WSACleanup after the last one, exit as the contract says.

    ``failed_run``: the run is one where a call fails (a way out in the middle)."""
    calls = traced(program, program.shown.split()[0] + ".exe")
    sockets = [i for i, c in enumerate(calls) if c in SOCKET_CALLS]
    did = f"ran {what}, with Wine tracing its Winsock calls (WINEDEBUG=+pid,trace+winsock)"
    shown = " → ".join(dict.fromkeys(calls)) or "no Winsock call at all"
    if "WSAStartup" not in calls or (sockets and calls.index("WSAStartup") > sockets[0]):
        fail(did, expected="WSAStartup before the first socket call", got=shown,
             hint="call WSAStartup(MAKEWORD(2, 2), &wsa) first, before socket(), getaddrinfo() "
                  "or any other Winsock call (they fail with error 10093, WSANOTINITIALISED)")
    cleanups = [i for i, c in enumerate(calls) if c == "WSACleanup"]
    if not cleanups or (sockets and cleanups[-1] < sockets[-1]):
        if status is None:  # still running: its end, WSACleanup or not, is yet to come
            hint = echo.COUNT_HINT if "server" in program.shown else None
        elif failed_run:
            hint = ("pair every successful WSAStartup with a WSACleanup on every way out of "
                    "main(): after a failure too, not only at the end of a good run")
        else:
            hint = "call WSACleanup() before main() returns: it is missing even after a good run"
        fail(did, expected="WSACleanup after the last socket call, before the program ends",
             got=shown + f"; {proc.describe_status(status)}", hint=hint)


@pytest.mark.points(6)
def test_winsock_started_first_and_cleaned_up(lab):
    """WSAStartup before any socket call, WSACleanup on every way out (a good run and a failed one)"""
    # The server: one client, then its normal end.
    server, port = lab.start_server(lab.server, 0, 1, wine_trace=True)
    echo.expect_echo(port, b"traced\n", f"echoed a client of `{server.shown}`", server)
    status = server.wait(timing.seconds(5))
    expect_lifecycle(server, status, f"`{server.shown}` with one client")
    # The server whose bind() fails: a way out in the middle.
    with net.FakeTcpServer(hang_up) as held:
        server = lab.start(lab.server, held.port, wine_trace=True)
        status = server.wait(timing.seconds(5))
        expect_lifecycle(server, status, f"`{server.shown}` on a port already in use", True)
    # The client: a good run, then one whose connect() is refused.
    with net.FakeTcpServer(echo.echo_back) as fake:
        client = lab.run(lab.client, "127.0.0.1", fake.port, data=b"hello\n", wine_trace=True)
    expect_lifecycle(client, client.poll(), f"`{client.shown}` with one line")
    client = lab.run(lab.client, "127.0.0.1", net.free_port(), data=b"hello\n", wine_trace=True)
    expect_lifecycle(client, client.poll(), f"`{client.shown}` where nothing listens", True)


def hang_up(_conn, _server):
    """A fake server's handler that only holds the port (and closes each connection)."""


def expect_error_line(program, status, call, codes, what):
    err = program.err()
    lines = [line.rstrip(b"\r") for line in err.splitlines()]
    wanted = [f"{call} failed: error {code}".encode() for code in codes]
    if status != 1 or not any(line in wanted for line in lines):
        hint = ("report a failed Winsock call with its name and WSAGetLastError(): "
                f"fprintf(stderr, \"%s failed: error %d\\n\", \"{call}\", WSAGetLastError())")
        if stderr_hint(err):  # what stderr shows first (no WSAStartup, a placeholder)
            hint = stderr_hint(err)
        elif any(re.search(rb"error (0|-1)\b", line) for line in lines) or b"No error" in err:
            hint = ("the error number is not Winsock's: errno and perror() are not set by Winsock "
                    "calls; use WSAGetLastError()")
        fail(what, expected=f"stderr `{wanted[0].decode()}`"
             + "".join(f" or `{w.decode()}`" for w in wanted[1:]) + " and exit status 1",
             got=f"{proc.describe_status(status)}; stderr {show(err)}", hint=hint)


@pytest.mark.points(6)
def test_errors_name_the_call_and_code(lab):
    """a failed call is reported as `connect failed: error 10061` (its name and WSAGetLastError())"""
    client = lab.run(lab.client, "127.0.0.1", net.free_port(), data=b"hello\n")
    expect_error_line(client, client.poll(), "connect", [10061],
                      f"ran `{client.shown}` where nothing listens (WSAECONNREFUSED is 10061)")
    with net.FakeTcpServer(hang_up) as held:
        server = lab.start(lab.server, held.port)
        status = server.wait(timing.seconds(5))
        if status is None:
            server.kill()
        # 10048 is WSAEADDRINUSE; Wine reports a port taken by a Linux program as 10013.
        expect_error_line(server, status, "bind", [10048, 10013],
                          f"ran `{server.shown}` on a port that another program listens on")


@pytest.mark.points(6)
def test_client_stdio_is_binary(lab):
    """bytes pass the client unchanged: CR LF, a lone CR and Ctrl-Z (0x1a) are not text-mode mangled"""
    data = b"dos line\r\nlone\rcarriage return\nctrl-z \x1a inside\n\x1a\nlast line\n"
    client, fake = echo.run_client(lab, data)
    out, status, sent = client.out(), client.poll(), bytes(fake.received)
    if out == data and sent == data and status == 0:
        return
    hint = None
    if sent != data:
        hint = ("stdin is in text mode: the C library turns \\r\\n into \\n and stops at Ctrl-Z "
                "(0x1a); switch it with _setmode(_fileno(stdin), _O_BINARY)")
    elif out.replace(b"\r\n", b"\n") == data.replace(b"\r\n", b"\n") and out.count(b"\r\n") > data.count(b"\r\n"):
        hint = ("stdout is in text mode: each \\n is written as \\r\\n; switch it with "
                "_setmode(_fileno(stdout), _O_BINARY)")
    fail(f"ran `{client.shown}` against an echo server, with {show(data)} on stdin",
         expected="the server receives those bytes, stdout is the same bytes, exit status 0",
         got=f"the server received {show(sent)}; stdout {show(out)}; {proc.describe_status(status)}",
         note=first_difference(data, out) if out != data else None, stderr=client.err(), hint=hint)


@pytest.mark.points(4)
def test_client_reset_while_queued(lab):
    """a client that resets while it waits in the backlog ends nothing: the next client is served"""
    server, port = lab.start_server(lab.server, 0)
    busy = net.TcpClient(port)
    busy.send(b"busy\n")
    busy.recv_exact(5, 5)  # the server is serving this one: the next connection must queue
    queued = net.TcpClient(port)
    # The reset only once the server's kernel has the connection (connect() may return
    # before it processed the last ACK): a reset that came first would kill a half-open
    # connection that never reaches the listen queue, and accept() could not fail.
    proctree.until(lambda: proctree.established(server.pid, port, queued.local_port), 2, every=0.005)
    queued.reset()  # SO_LINGER 0, then close: a reset while it waits for accept()
    busy.shutdown_write()
    busy.recv_until_eof(5)
    did = (f"while `{server.shown}` served a client, connected a second one that reset (SO_LINGER 0, "
           "close) before it was accepted; then closed the first and connected a third")
    hint = ("a connection reset before accept() makes accept() fail with WSAECONNRESET (10054) "
            "for that connection only: an accept() that fails for one connection only is "
            "reported, and the server goes on (only a failure of the listening socket ends it)")
    try:
        echo.expect_echo(port, b"after the reset\n", did, server)
    except (OSError, CheckFailed):
        status = server.wait(timing.seconds(2))
        if status is None:
            raise
        if status == 0 and b"10054" not in server.err():  # a normal end, no accept error seen
            hint = common.stopped_serving_hint(server, port) or hint
        fail(did, expected="the third client is served", got=f"the server ended: "
             f"{proc.describe_status(status)}", stderr=server.err(), hint=hint)


#: Wine's trace of setsockopt(): ``setsockopt socket 0x30, level SOL_SOCKET, name SO_REUSEADDR,
#: optval 000000000021FB04 (1), optlen 4``; and of bind(): ``bind socket 0x30, addr {...}``.
SETSOCKOPT = re.compile(r"setsockopt socket (0x[0-9a-f]+), level (\w+), name (\w+), optval \w+ \((-?\d+)\)")
BIND = re.compile(r"bind socket (0x[0-9a-f]+),")


def own_trace(program, exe):
    """The Winsock trace lines of program ``exe``'s own process (text after ``trace:winsock:``)."""
    err = program.stderr.bytes()
    own = {m.group(1) for m in LOADED.finditer(err) if m.group(2).lower() == exe.lower().encode()}
    lines = []
    for line in err.splitlines():
        m = re.match(rb"([0-9a-f]{4}):[0-9a-f]{4}:trace:winsock:(.*)", line)
        if m and (not own or m.group(1) in own):
            lines.append(m.group(2).decode("utf-8", "replace"))
    return lines


@pytest.mark.points(3)
def test_reuseaddr_set_before_bind(lab):
    """the server sets SO_REUSEADDR (to 1) on its listening socket before bind() (Wine's trace)"""
    server, port = lab.start_server(lab.server, 0, 1, wine_trace=True)
    echo.expect_echo(port, b"traced\n", f"echoed a client of `{server.shown}`", server)
    server.wait(timing.seconds(5))
    lines = own_trace(server, lab.server + ".exe")
    binds = [(i, m.group(1)) for i, m in ((i, BIND.match(line)) for i, line in enumerate(lines)) if m]
    options = [(i, m) for i, m in ((i, SETSOCKOPT.match(line)) for i, line in enumerate(lines)) if m]
    did = (f"ran `{server.shown}` with one client, with Wine tracing its Winsock calls "
           "(WINEDEBUG=trace+winsock)")
    if not binds:
        fail(did, expected="a bind() call", got="no bind() in the trace", stderr=server.err())
    at, sock = binds[0]
    reuse = [(i, m) for i, m in options if m.group(3) == "SO_REUSEADDR" and m.group(1) == sock]
    shown = "; ".join(f"setsockopt({m.group(2)}, {m.group(3)}, {m.group(4)})" for _, m in options)
    expected = f"setsockopt(socket {sock}, SOL_SOCKET, SO_REUSEADDR, 1) before bind(socket {sock})"
    if not reuse:
        fail(did, expected=expected, got=(shown or "no setsockopt() call") + f", then bind(socket {sock})",
             hint="set SO_REUSEADDR with setsockopt(s, SOL_SOCKET, SO_REUSEADDR, (const char *)&on, "
                  "sizeof on) (int on = 1) after socket() and before bind(), so that the server can "
                  "be restarted on its port at once")
    if reuse[0][0] > at:
        fail(did, expected=expected, got=f"bind(socket {sock}), then {shown}",
             hint="SO_REUSEADDR only helps bind(): set it before bind(), not after")
    if reuse[0][1].group(4) == "0" or reuse[0][1].group(2) != "SOL_SOCKET":
        fail(did, expected=expected, got=shown,
             hint="the option is at level SOL_SOCKET and its value is an int 1 (on), not 0")


@pytest.mark.points(3)
def test_server_stdout_is_binary(lab):
    """the server's stdout lines end in `\\n` alone (stdout in binary mode), never `\\r\\n`"""
    server, port = lab.start_server(lab.server, 0, 1)
    echo.expect_echo(port, b"one line\n", f"echoed a client of `{server.shown}`", server)
    server.wait(timing.seconds(5))
    out = server.out()
    if b"\r" in out:
        fail(f"ran `{server.shown}` with one client and read its stdout as bytes",
             expected="lines that end in \\n alone", got=show(out),
             hint="the server's log lines end in \\r\\n: its stdout is in text mode; switch it "
                  "to binary at the start of the server's main() (_setmode on _fileno(stdout))")
