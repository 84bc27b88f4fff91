"""Checks that every lab shares: a warning-free build, Valgrind, usage errors, stdout flushing,
a restart on the same port; and :func:`check`, which makes a check written once in a shared
module (grader/checks/echo.py, chat.py) a check of a lab with its points."""
import re
import socket

from . import lab as lablib, net, proc, proctree, timing, valgrind
from .lab import stderr_hint
from .report import CheckFailed, fail, show


def no_warnings(lab, names):
    """Each source compiled without a warning under the contract's flags (what the build said)."""
    problems = []
    for name in names:
        source = lab.source(name)
        if not source.exists():
            fail(f"looked for {source}", expected="the source file", got="no such file")
        status, output = lab.built.outputs.get(name, (None, ""))
        if status != 0 or output:
            problems.append(output or f"{source.name}: the compiler failed with status {status}")
    if problems:
        text = "\n".join(problems)
        lines = text.splitlines()
        fail(f"compiled {', '.join(n + '.c' for n in names)} with "
             f"`{' '.join([lab.cc] + lab.cflags + ['-g'] + list(lab.spec.ldlibs))}`",
             expected="no warning, no error",
             got="\n".join(lines[:30]) + (f"\n... ({len(lines) - 30} more lines)" if len(lines) > 30 else ""),
             hint=warning_hint(lab, text))


#: What each kind of warning (gcc's -W flag in its message) most likely means.
WARNING_HINTS = [
    ("-Wsign-compare", "a signed/unsigned comparison: compare a size_t with a size_t (cast a "
                       "ssize_t to size_t once you know it is not negative)"),
    ("-Wunused-function", "a function is defined but never called: call it where it is needed "
                          "(is a helper bypassed?) or remove it"),
    ("-Wunused-variable", "a variable is declared but never used: remove it, or use it where "
                          "it was meant to be used"),
    ("-Wunused-but-set-variable", "a variable is set but never read: remove it, or use it"),
    ("-Wformat", "a printf format does not match its argument: %d for int, %ld for long, "
                 "%zu for size_t, %s for a string"),
    ("-Wimplicit-function-declaration", "a function is called without its header: add the "
                                        "#include its man page names"),
]


def warning_hint(lab, text):
    """The hint for compiler warnings ``text``: the mistake each kind of warning points to."""
    if lab.windows and ("unsigned expression" in text or "always false" in text
                        or "always true" in text):
        return ("a SOCKET is unsigned and never negative, so `s < 0` or `s == -1` can never "
                "catch a failure: compare a SOCKET with INVALID_SOCKET, and the results of "
                "bind(), listen(), send() and recv() with SOCKET_ERROR")
    hints = [hint for flag, hint in WARNING_HINTS if re.search(re.escape(flag) + r"[\]=]", text)]
    return "; ".join(hints) or ("read each warning: most point at a real bug (an unused result, "
                                "a missing header, a wrong type). Fix them all.")


def first_of(findings, most):
    """The first ``most`` findings as text, then how many more there were (if any)."""
    shown = [str(f) for f in findings[:most]]
    if len(findings) > most:
        shown.append(f"... and {len(findings) - most} more")
    return shown


def valgrind_clean(program, status, what, role="program"):
    """Fail when Valgrind reported an error, a leak, or a descriptor left open.

    ``role`` (``server``, ``udp server``, ``client``, ``program``) words the hint for what
    the program is (see :func:`harness.valgrind.hint_for`).
    """
    log = program.valgrind_log()
    findings = valgrind.parse(log, sources={program.source} if program.source else ())
    if findings:
        shown = first_of(findings, 8)
        fail(f"ran {what} under Valgrind (`valgrind --leak-check=full --track-fds=yes`)",
             expected="no memory error, no leak, no descriptor other than 0-2 open at exit",
             got="\n".join(shown), hint=valgrind.hint_for(findings, role),
             stderr=program.err())
    if status is None:
        fail(f"ran {what} under Valgrind", expected="it exits",
             got="it was still running", stderr=program.err(), hint=lablib.program_hint(program))
    if status != 0:
        fail(f"ran {what} under Valgrind", expected="exit status 0",
             got=proc.describe_status(status), stderr=program.err(),
             hint=lablib.program_hint(program))


def helgrind_clean(program, what, sources, status=None):
    """Fail when Helgrind reported a data race, a lock-order problem or a misused thread call;
    the failure names the conflicting accesses with file:line in ``sources`` (file names).
    With ``status``, the program must also have exited 0."""
    findings = valgrind.parse_helgrind(program.valgrind_log(), set(sources))
    if findings:
        shown = first_of(findings, 3)
        fail(f"ran {what} under Helgrind (`valgrind --tool=helgrind`)",
             expected="no data race, no lock-order problem, no misused thread call",
             got="\n".join(shown), hint=valgrind.thread_hint(findings), stderr=program.err())
    if status is not None and status != 0:
        fail(f"ran {what} under Helgrind", expected="exit status 0",
             got=proc.describe_status(status), stderr=program.err())


def expect_usage_errors(lab, name, arg_lists, usage):
    """Each ``name args`` of ``arg_lists`` must exit 2 with a `usage: ` line on stderr.

    ``usage`` is the program's argument list as the contract writes it (``"PORT
    [MAX_CLIENTS]"``): the hint of a failure names what was wrong with the argument
    list the program took (their count, a port, a count, a type word).

    Windows programs are all started first, then judged in order: their start-up times
    overlap (one takes about 0.1 s to start under Wine).  Others run one at a time, each
    alone: one that kills every process it may (``kill(-1)``) must not take the next
    ones with it at random moments.
    """
    def started(args):
        program = lab.start(name, *args)
        program.close_stdin()
        return program

    def in_order():
        """(args, program, seconds it may still take), one after the other."""
        if lab.windows:
            programs = [started(args) for args in arg_lists]
            deadline = timing.Deadline(timing.seconds(2))
            for args, program in zip(arg_lists, programs):
                yield args, program, deadline.left()
        else:
            for args in arg_lists:
                yield args, started(args), timing.seconds(2)

    for args, program, limit in in_order():
        status = program.wait(max(limit, 0.05))
        if status is None:
            program.kill()
        err = program.err()
        shown = " ".join([name] + [repr(a) if a == "" or " " in a else a for a in args])
        if status != 2 or not any(line.startswith(b"usage: ") for line in err.splitlines()):
            fail(f"ran `{shown}` (a bad argument list)",
                 expected="exit status 2 and a line starting `usage: ` on stderr",
                 got=(f"{proc.describe_status(status)}; stderr {show(err)}" if status is not None
                      else "it started and was still running after 2 s (the arguments were taken)"),
                 hint=usage_hint(name, usage, args, status, err))


def usage_hint(name, usage, args, status, err):
    """The likely mistake behind a bad argument list ``args`` that was not refused as one."""
    names = usage.split()
    for value, word in zip(args, names):
        if word == "HOST" and status != 2 and (not value or " " in value or "!" in value):
            return (f"the host `{value}` was not refused as a usage error: a HOST that cannot be "
                    f"resolved (getaddrinfo() or inet_pton() fails) is one too: print the usage "
                    f"line and return 2, not 1")
    if status is not None and status != 2 and any(line.startswith(b"usage: ")
                                                  for line in err.splitlines()):
        return "the usage line was printed, but the exit status must be 2 (a usage error): return 2"
    if status == 2:
        return "exit status 2 is right: print the line `usage: ...` on stderr too"
    required = sum(1 for n in names if not n.startswith("["))
    if not required <= len(args) <= len(names):
        counts = f"{required}" if required == len(names) else f"{required} or {len(names)}"
        return (f"check argc before anything else: `{name} {usage}` takes {counts} "
                f"argument(s); any other number is a usage error (exit 2)")
    for value, word in zip(args, names):
        word = word.strip("[]")
        if word == "PORT" and not (value.isdigit() and len(value) <= 5 and int(value) <= 65535):
            return (f"the port `{value}` was taken: a port is 1-5 digits, 0-65535, nothing "
                    f"else; parse it with strtol and an end pointer (or a loop over the "
                    f"digits), never atoi")
        if word.startswith("MAX_") and not (value.isdigit() and int(value) >= 1):
            return (f"`{value}` was taken as {word}: a count is a whole number of at least 1 "
                    f"(no sign, no trailing characters, not 0)")
        if "|" in word and value.lower() in word.split("|") and value not in word.split("|"):
            return (f"`{value}` was taken as a type: the words are case-sensitive, `{value}` is not "
                    f"`{value.lower()}` (strcmp, not strcasecmp)")
        if "|" in word and value not in word.split("|"):
            return (f"`{value}` was taken as a type: only the exact words "
                    f"{' and '.join(repr(w) for w in word.split('|'))} are accepted (strcmp on the whole "
                    f"argument)")
    return "print the usage line on stderr and return 2"


def flushes_stdout(lab, name, ready_line, args=(0,)):
    """The ready line reaches stdout when stdout is a plain pipe (no help from the shim).

    Every other check runs programs line-buffered, so a forgotten fflush() costs this
    check only.
    """
    program = lab.start(name, *args, linebuf=False)
    if not program.wait_line(ready_line, timing.seconds(3)):
        status = program.poll()
        fail(f"started `{program.shown}` with stdout a plain pipe (no line buffering)",
             expected="the ready line within 3 s",
             got=f"stdout {show(program.out())}; {proc.describe_status(status)}",
             stderr=program.err() if status is not None else None,
             hint="stdout to a pipe is fully buffered: fflush(stdout) after each line "
                  "(or setvbuf(stdout, NULL, _IOLBF, 0) once at the start)"
             if status is None and not program.out() else None)


def stopped_serving_hint(server, port):
    """Why a server that served clients refused or dropped the next one, from what it did:
    ended, or running without listening any more; None when it still listens."""
    status = server.poll()
    if status is None and not net.port_is_bound(port):
        status = server.wait(timing.seconds(1))  # not listening: maybe on its way out
    if status is not None:  # its last words: stderr's reader may lag behind its end
        server.stderr.wait_closed(timing.seconds(1))
    served = sum(1 for line in server.lines() if line.startswith("connection from "))
    clients = f"{served} client{'s' if served != 1 else ''}"
    if b"accept: Bad file descriptor" in server.err():
        return (f"accept() was given a closed socket after {clients}: close only the connection "
                f"socket after each client; the listening socket stays open until the server ends")
    if status is not None:
        return (f"the server ended ({proc.describe_status(status)}) after {clients}, while more "
                f"were waiting: go back to accept() after each client, and stop only after "
                f"MAX_CLIENTS or on a stop signal")
    if not net.port_is_bound(port):
        return (f"the server still runs but no longer listens on its port after {clients}: "
                f"close only the connection socket after each client; the listening socket "
                f"stays open until the server ends")
    return None


def expect_connection_refused(lab, name):
    """Client ``name 127.0.0.1 PORT``, where nothing listens, must print `connect: ...refused`
    on stderr and exit 1."""
    port = net.free_port()
    client = lab.run(name, "127.0.0.1", port, data=b"hello\n")
    err, status = client.err(), client.poll()
    if not any(line.startswith(b"connect") and b"refused" in line.lower()
               for line in err.splitlines()) or status != 1:
        fail(f"ran `{client.shown}` where nothing listens",
             expected="stderr `connect: Connection refused` and exit status 1",
             got=f"{proc.describe_status(status)}; stderr {show(err)}",
             hint="check connect()'s return value; on failure report it (perror(\"connect\")) "
                  "and return 1")


def expect_clean_stop(program, sig, did, hint):
    """Send ``sig`` once the server is blocked; it must exit 0 (a clean stop).

    ``hint`` is for a program that caught the signal but did not stop; one that the
    signal killed has no handler, and is told so.
    """
    program.wait_blocked()
    status = lablib.stop_server(program, sig)
    if status == -sig:
        hint = (f"{sig.name} killed the program: install a handler for {sig.name} with sigaction() "
                f"that sets a flag; then close everything and exit 0")
    if status != 0:
        fail(did, expected="exit status 0 (a clean stop)", got=proc.describe_status(status),
             stderr=program.err(), hint=hint)


def check(fn, points, words=None):
    """``fn``, a check written once in a shared module (grader/checks/echo.py, chat.py), as a
    check of the lab module that assigns it, worth ``points``::

        test_echoes_one_client = common.check(echo.echoes_one_client, 4)

    The check is named by that assignment; its title is ``fn``'s docstring, its hard time
    limit the one :func:`deadline` gave ``fn``.  ``words`` (text -> text), when given, rewrites
    the title and its failures' did/expected/hint: lab 6 puts lab 4's POSIX names in Winsock's
    words, lab 7 the forking server's name.
    """
    import pytest
    words = words or (lambda text: text)

    def run(lab):
        try:
            fn(lab)
        except CheckFailed as exc:
            exc.did, exc.expected, exc.hint = map(words, (exc.did, exc.expected, exc.hint))
            raise
    run.__name__ = run.__qualname__ = "test_" + fn.__name__
    run.__doc__ = words(fn.__doc__)
    run = pytest.mark.points(points)(run)
    if hasattr(fn, "deadline"):
        run = pytest.mark.deadline(fn.deadline)(run)
    return run


def deadline(seconds):
    """The hard time limit of a shared check (``@deadline(20)``; see :func:`check`)."""
    def mark(fn):
        fn.deadline = seconds
        return fn
    return mark


def expect_port_in_use(lab, name, hold, bind_error):
    """``name PORT`` on a port that ``hold`` (a context manager with ``.port``) keeps taken
    must print the failing call's line ``bind_error`` on stderr and exit 1."""
    with hold() as held:
        program = lab.start(name, held.port)
        program.close_stdin()
        status = program.wait(timing.seconds(5))
        if status is None:
            program.kill()
    err, out = program.err(), program.out()
    if status == 1 and any(line.rstrip(b"\r").startswith(bind_error) for line in err.splitlines()):
        return
    hint = None
    if status is None or out:
        hint = (f"bind() failed and the program went on (it printed {show(out)}): check bind()'s "
                "return value; on -1 report it (perror(\"bind\")), close the socket and return 1")
    elif status != 1:
        hint = "a failing set-up call is a run-time failure: return 1 (2 is for usage errors)"
    elif not stderr_hint(err):
        hint = ("report the failed call as perror(\"bind\") does: a stderr line that starts with "
                "the call's name")
    fail(f"ran `{name} {held.port}` on a port another program already holds",
         expected=f"stderr `{bind_error.decode()}...` and exit status 1",
         got=f"{proc.describe_status(status)}; stdout {show(out)}; stderr {show(err)}",
         hint=hint, stderr=None if hint else err)


def expect_restart_on_same_port(lab, connect):
    """``lab.server PORT``, killed while a client is connected, must start again on PORT at
    once (SO_REUSEADDR before bind()).  ``connect(server, port)`` gives a context manager
    that holds a served client connected while the server is killed."""
    port = net.free_port()
    server, _ = lab.start_server(lab.server, port)
    with connect(server, port):
        # Killed while its client is connected, the server's side of that connection closes
        # first: it lingers (FIN_WAIT, then TIME_WAIT once the client closes) and holds the port.
        # First, that is, once every process that held it has died (lab 7: the child, which
        # kill() does not wait for): else the client closes first and no TIME_WAIT is left.
        held = proctree.tree_sockets(server.pid)
        server.kill()
        proctree.wait_released(held, 5)
    again = lab.start(lab.server, port, 1)
    if again.wait_line(lablib.READY_LINE, timing.seconds(5)):
        return
    status = again.wait(timing.seconds(3))  # also drains stderr: the reason is in it
    err = again.err()
    fail(f"killed `{server.shown}` while a client was connected, closed the client, then "
         f"started `{lab.server} {port} 1` again at once",
         expected=f"listening on 0.0.0.0:{port}",
         got=f"{proc.describe_status(status)}; stderr {show(err)}",
         hint="the old connection lingers (TIME_WAIT) for a minute: set SO_REUSEADDR with "
              "setsockopt() before bind() so the port can be bound again at once"
         if b"in use" in err or b"error 100" in err else None)  # Winsock: `error 10048`


def expect_survives_injected_error(lab, name, calls, error, line, did, serve, hint, ended_by=None,
                                   kind=socket.SOCK_STREAM):
    """Start server ``name 0`` under strace with its first ``calls`` failing with ``error``
    (``strace -e inject``); it must print ``line`` on stderr and still serve: ``serve(port,
    server)`` talks to it (and fails the check if it is not served).

    ``ended_by`` ({stderr line: hint}): a server that ended after reporting one of these
    lines was ended by that failure, not by the injected one, and gets its hint.  ``kind``
    is the server's socket type (a UDP server's printed port is judged in UDP)."""
    log = lab.log_path("strace-inject")
    server, port = lab.start_server(name, 0, strace_log=log, strace_trace=calls,
                                    strace_inject=f"{calls}:error={error}:when=1", kind=kind)
    try:
        serve(port, server)
    except (OSError, AssertionError):
        status = server.wait(timing.seconds(1))
        if status is None:
            raise
        server.stderr.wait_closed(timing.seconds(1))
        fail(did, expected=f"`{line}` on stderr, and the server goes on",
             got=f"the server ended: {proc.describe_status(status)}", stderr=server.err(),
             hint=next((h for seen, h in (ended_by or {}).items() if seen in server.err()), hint))
    # Its stderr is read by a thread of its own, which may lag behind stdout on a busy machine.
    server.stderr.wait_until(lambda data: line.encode() in data, timing.seconds(2))
    if server.poll() is not None or line.encode() not in server.err():
        ended = server.poll() is not None
        if ended and line.encode() in server.err():
            # It reported the injected error and served the next client, then ended: on a
            # socket it had closed itself, or after that client (seen: a server that stops
            # after one client, caught on its way out or not, depending on the machine's load).
            hint = stopped_serving_hint(server, port) or hint
        if ended:
            hint = next((h for seen, h in (ended_by or {}).items() if seen in server.err()), hint)
        fail(did, expected=f"`{line}` on stderr, and the server goes on",
             got=f"{proc.describe_status(server.poll())}; stderr {show(server.err())}",
             hint=hint if ended else "report the failed call on stderr (perror), then go on")


def run_with_failing_call(lab, name, args, call, error, data=b""):
    """Run ``name args`` under strace with every ``call`` failing with ``error`` (``strace -e
    inject``) and ``data`` on stdin; return (program, exit status or None)."""
    log = lab.log_path(f"strace-{call}")
    program = lab.start(name, *args, strace_log=log, strace_trace=call,
                        strace_inject=f"{call}:error={error}")
    program.feed(data)
    status = program.wait(timing.seconds(5))
    if status is None:
        program.kill()
    return program, status
