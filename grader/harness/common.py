"""Checks that every lab shares: a warning-free build, Valgrind, usage errors, stdout flushing."""
from . import lab as lablib, net, proc, timing, valgrind
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


def warning_hint(lab, text):
    """The hint for compiler warnings ``text``: the likely mistake where one is plain."""
    if lab.windows and ("unsigned expression" in text or "always false" in text
                        or "always true" in text):
        return ("a SOCKET is unsigned and never negative, so `s < 0` or `s == -1` can never "
                "catch a failure: compare a SOCKET with INVALID_SOCKET, and the results of "
                "bind(), listen(), send() and recv() with SOCKET_ERROR")
    return ("read each warning: most point at a real bug (a signed/unsigned comparison, an "
            "unused result, a missing header). Fix them all.")


def valgrind_clean(program, status, what):
    """Fail when Valgrind reported an error, a leak, or a descriptor left open."""
    log = program.valgrind_log()
    findings = valgrind.parse(log)
    if findings:
        shown = [str(f) for f in findings[:8]]
        if len(findings) > 8:
            shown.append(f"... and {len(findings) - 8} more")
        fail(f"ran {what} under Valgrind (`valgrind --leak-check=full --track-fds=yes`)",
             expected="no memory error, no leak, no descriptor other than 0-2 open at exit",
             got="\n".join(shown), hint=valgrind.hint_for(findings), stderr=program.err())
    if status is None:
        fail(f"ran {what} under Valgrind", expected="it exits",
             got="it was still running", stderr=program.err())
    if status != 0:
        fail(f"ran {what} under Valgrind", expected="exit status 0",
             got=proc.describe_status(status), stderr=program.err())


def helgrind_clean(program, what, sources, status=None):
    """Fail when Helgrind reported a data race, a lock-order problem or a misused thread call;
    the failure names the conflicting accesses with file:line in ``sources`` (file names).
    With ``status``, the program must also have exited 0."""
    findings = valgrind.parse_helgrind(program.valgrind_log(), set(sources))
    if findings:
        shown = [str(f) for f in findings[:3]]
        if len(findings) > 3:
            shown.append(f"... and {len(findings) - 3} more")
        fail(f"ran {what} under Helgrind (`valgrind --tool=helgrind`)",
             expected="no data race, no lock-order problem, no misused thread call",
             got="\n".join(shown), hint=valgrind.thread_hint(findings), stderr=program.err())
    if status is not None and status != 0:
        fail(f"ran {what} under Helgrind", expected="exit status 0",
             got=proc.describe_status(status), stderr=program.err())


def expect_usage_errors(lab, name, arg_lists):
    """Each ``name args`` of ``arg_lists`` must exit 2 with a `usage: ` line on stderr.

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
                 hint="check argc and each argument (a port is 1-5 digits, 0-65535, nothing else: "
                      "strtol with an end pointer, or a loop over the digits), print the usage line "
                      "on stderr and return 2")


def flushes_stdout(lab, name, ready_line, args=(0,)):
    """The ready line reaches stdout when stdout is a plain pipe (no help from the shim).

    Every other check runs programs line-buffered, so a forgotten fflush() costs this
    check only.
    """
    program = lab.start(name, *args, linebuf=False)
    if not program.wait_line(ready_line, timing.seconds(3)):
        fail(f"started `{program.shown}` with stdout a plain pipe (no line buffering)",
             expected="the ready line within 3 s", got=show(program.out()),
             hint="stdout to a pipe is fully buffered: fflush(stdout) after each line "
                  "(or setvbuf(stdout, NULL, _IOLBF, 0) once at the start)")


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
    """Send ``sig`` once the server is blocked; it must exit 0 (a clean stop)."""
    program.wait_blocked()
    status = lablib.stop_server(program, sig)
    if status != 0:
        fail(did, expected="exit status 0 (a clean stop)", got=proc.describe_status(status),
             stderr=program.err(), hint=hint)


def reuse(check, points, module, words=None):
    """Another lab's ``check``, run against this lab's programs, worth ``points``.

    Lab 6 runs lab 4's behaviour checks against its Winsock programs, lab 7 against its
    forking server.  The check keeps its name, its title and its deadline; it is collected
    in ``module`` (the lab that reuses it); ``words`` (text -> text), when given, rewrites its
    title and its failures' did/expected/hint (lab 6: POSIX names in Winsock's words).
    """
    import pytest
    words = words or (lambda text: text)

    def run(lab):
        try:
            check(lab)
        except CheckFailed as exc:
            exc.did, exc.expected, exc.hint = map(words, (exc.did, exc.expected, exc.hint))
            raise
    run.__name__ = check.__name__
    run.__qualname__ = check.__name__
    run.__doc__ = words(check.__doc__)
    run.__module__ = module
    run.pytestmark = [m for m in getattr(check, "pytestmark", []) if m.name == "deadline"]
    return pytest.mark.points(points)(run)


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


def expect_survives_injected_error(lab, name, calls, error, line, did, serve, hint):
    """Start server ``name 0`` under strace with its first ``calls`` failing with ``error``
    (``strace -e inject``); it must print ``line`` on stderr and still serve: ``serve(port,
    server)`` talks to it (and fails the check if it is not served)."""
    log = lab.log_path("strace-inject")
    server, port = lab.start_server(name, 0, strace_log=log, strace_trace=calls,
                                    strace_inject=f"{calls}:error={error}:when=1")
    try:
        serve(port, server)
    except (OSError, AssertionError):
        status = server.wait(timing.seconds(1))
        if status is None:
            raise
        fail(did, expected=f"`{line}` on stderr, and the server goes on",
             got=f"the server ended: {proc.describe_status(status)}", stderr=server.err(),
             hint=hint)
    # Its stderr is read by a thread of its own, which may lag behind stdout on a busy machine.
    server.stderr.wait_until(lambda data: line.encode() in data, timing.seconds(2))
    if server.poll() is not None or line.encode() not in server.err():
        fail(did, expected=f"`{line}` on stderr, and the server goes on",
             got=f"{proc.describe_status(server.poll())}; stderr {show(server.err())}",
             hint=hint if server.poll() is not None else
             "report the failed call on stderr (perror), then go on")


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
