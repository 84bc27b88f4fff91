"""Lab 1: socket creation.  Contract: docs/contract.md, "Lab 1"; handout labs/lab1/README.md.

Program: ``socket_create [tcp|udp]``.
"""
import pytest

from harness import common, proc, strace, timing
from harness.report import fail, show

pytestmark = pytest.mark.lab1
PROGRAM = "socket_create"


def run_and_expect(lab, args, line, kind):
    program = lab.run(PROGRAM, *args)
    status, out = program.poll(), program.out()
    shown = " ".join([PROGRAM] + list(args))
    if status == 0 and out == line:
        return
    hint = None
    if b"fd=" in out and b"fd=3 " not in out:
        hint = "the first free descriptor is 3 (0-2 are stdin, stdout, stderr): print what socket() returned"
    elif out.startswith(line.split(b":")[0]) and b"type=" in out and out != line:
        want = line.split(b"type=")[1].strip().decode()
        printed = out.split(b"type=")[1].strip().decode("utf-8", "replace")
        if printed in ("SOCK_STREAM", "SOCK_DGRAM"):  # read back right: the socket is wrong
            hint = f"the socket really is a {printed} socket: map the argument {kind} to {want}"
        else:
            hint = (f"the type must be read back with getsockopt(SO_TYPE) and printed as {want}")
    elif status not in (0, None) and b"usage" in program.err():
        hint = f"`{shown}` is a valid command line: {kind} is " + \
               ("the default when no argument is given" if not args else "an accepted argument")
    elif not out and status == 0:
        hint = "nothing on stdout: print the line (and flush it)"
    fail(f"ran `{shown}`",
         expected=f"exit status 0 and stdout {show(line)}",
         got=f"{proc.describe_status(status)} and stdout {show(out)}",
         stderr=program.err(), hint=hint)


@pytest.mark.points(10)
def test_builds_without_warnings(lab):
    """socket_create.c compiles without a warning (-std=c11 -Wall -Wextra)"""
    common.no_warnings(lab, [PROGRAM])


@pytest.mark.points(15)
def test_tcp_by_default(lab):
    """with no argument it creates a TCP socket and prints the contract's line"""
    run_and_expect(lab, [], b"tcp socket created: fd=3 type=SOCK_STREAM\n", "tcp")


@pytest.mark.points(10)
def test_tcp_argument(lab):
    """`socket_create tcp` prints the TCP line"""
    run_and_expect(lab, ["tcp"], b"tcp socket created: fd=3 type=SOCK_STREAM\n", "tcp")


@pytest.mark.points(10)
def test_udp_argument(lab):
    """`socket_create udp` prints the UDP line"""
    run_and_expect(lab, ["udp"], b"udp socket created: fd=3 type=SOCK_DGRAM\n", "udp")


@pytest.mark.points(10)
def test_calls_socket_and_getsockopt(lab):
    """strace shows socket(AF_INET, SOCK_DGRAM, ...) and getsockopt(SO_TYPE) for udp"""
    log = lab.log_path("strace-lab1")
    program = lab.start(PROGRAM, "udp", strace_log=log, strace_trace="socket,getsockopt")
    program.close_stdin()
    program.wait(timing.seconds(5))
    text = log.read_text() if log.exists() else ""
    sockets = strace.calls(text, "socket")
    inet = [c for c in sockets if c[1].startswith("AF_INET,")]
    did = "ran `socket_create udp` under `strace -e trace=socket,getsockopt`"
    if not inet:
        fail(did, expected="a call socket(AF_INET, SOCK_DGRAM, ...)",
             got="\n".join(f"{n}({a}) = {r}" for n, a, r in sockets) or "no socket() call",
             hint="create the socket with socket(AF_INET, type, 0)")
    if "SOCK_DGRAM" not in inet[0][1]:
        fail(did, expected="socket(AF_INET, SOCK_DGRAM, ...) for udp",
             got=f"socket({inet[0][1]})", hint="map the argument udp to SOCK_DGRAM")
    reads = [c for c in strace.calls(text, "getsockopt") if "SO_TYPE" in c[1]]
    if not reads:
        fail(did, expected="getsockopt(fd, SOL_SOCKET, SO_TYPE, ...) to read the type back",
             got="no getsockopt(SO_TYPE) call",
             hint="the lab asks the kernel for the type: getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len); "
                  "printing the type you asked for proves nothing")


@pytest.mark.points(10)
def test_usage_errors(lab):
    """a wrong argument, or too many, is a usage error (exit 2, `usage: ` on stderr)"""
    common.expect_usage_errors(lab, PROGRAM, (["tpc"], ["TCP"], ["tcp", "udp"], [""]),
                               "[tcp|udp]")


@pytest.mark.points(10)
def test_socket_failure_reported(lab):
    """when socket() fails (EMFILE injected with strace) it prints the perror line and exits 1"""
    program, status = common.run_with_failing_call(lab, PROGRAM, ["tcp"], "socket", "EMFILE")
    err = program.err()
    did = "ran `socket_create tcp` with socket() made to fail with EMFILE (strace -e inject)"
    if b"socket: Too many open files" not in err.splitlines():
        hint = "after a failed call, perror(\"socket\") prints `socket: <the reason>`"
        if status == 2 and b"usage" in err:
            hint = "`socket_create tcp` is a valid command line: tcp is an accepted argument"
        elif b"created" in program.out():
            hint = "socket() returned -1 and the program went on: check its return value"
        fail(did, expected="a stderr line `socket: Too many open files`", got=show(err),
             note=f"stdout: {show(program.out())}", hint=hint)
    if status != 1:
        fail(did, expected="exit status 1 (a run-time failure)", got=proc.describe_status(status),
             hint="return 1 from main when a call fails")
    if b"created" in program.out():
        fail(did, expected="no `created` line", got=show(program.out()),
             hint="stop after socket() fails: there is no socket to report")


@pytest.mark.points(10)
def test_getsockopt_failure_reported(lab):
    """when getsockopt() fails (ENOBUFS injected with strace) it prints `getsockopt: ...` and exits 1"""
    program, status = common.run_with_failing_call(lab, PROGRAM, ["tcp"], "getsockopt", "ENOBUFS")
    err, out = program.err(), program.out()
    did = "ran `socket_create tcp` with getsockopt() made to fail with ENOBUFS (strace -e inject)"
    if not any(line.startswith(b"getsockopt: ") for line in err.splitlines()) or status != 1 \
            or b"created" in out:
        hint = "after a failed getsockopt(), perror(\"getsockopt\") and return 1"
        if b"created" in out:
            hint = ("getsockopt() returned -1 and the program went on to print a type it never "
                    "read: check its return value")
        elif status not in (1, None) and any(line.startswith(b"getsockopt: ") for line in err.splitlines()):
            hint = "a failed call is a run-time failure: exit status 1"
        fail(did, expected="a stderr line `getsockopt: No buffer space available`, no `created` "
                           "line, exit status 1",
             got=f"{proc.describe_status(status)}; stdout {show(out)}; stderr {show(err)}", hint=hint)


@pytest.mark.points(15)
@pytest.mark.deadline(30)
def test_valgrind_clean(lab):
    """under Valgrind: no memory error, no leak, the socket closed before exit"""
    for kind in ("tcp", "udp"):
        program = lab.start(PROGRAM, kind, use_valgrind=True)
        program.close_stdin()
        status = program.wait(timing.seconds(15))
        common.valgrind_clean(program, status, f"`socket_create {kind}`")
