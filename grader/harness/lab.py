"""One lab under test: its programs, built from a submission, and how to start them.

``Lab.start()`` is the one place that knows how a program is launched: plain,
line-buffered through the grader's shim, with short reads and writes forced,
under Valgrind or under strace.  Checks never build command lines themselves.
"""
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess

from . import build, net, proc, proctree, sandbox, strace, timing, valgrind, wine
from .registry import LABS
from .report import fail, show

ROOT = build.ROOT
#: What to do when the grading machine, not the program, failed.
MACHINE_REMEDY = ("This is an error of the grading machine (out of processes or memory), "
                  "not of your program: grade again.")

#: How long a program may take to print its ready line (seconds, before scaling).
READY = 3.0
READY_VALGRIND = 10.0
#: How many times a server asked for port 0 is started until its port's two bytes differ.
READY_TRIES = 4
#: How long a program may take to finish once it should.
EXIT = 3.0
EXIT_VALGRIND = 10.0
#: The ready line of the TCP servers of labs 3 on: ``listening on 0.0.0.0:PORT``.
READY_LINE = r"listening on 0\.0\.0\.0:(\d+)"


class Lab:
    """The programs of lab ``number`` built from ``src`` into ``out``."""

    def __init__(self, number, src, out):
        self.number = number
        #: The lab's entry in the registry (harness/registry.py).
        self.spec = LABS[number]
        self.title, self.programs = self.spec.title, list(self.spec.programs)
        #: The server's and the client's program names, so that one check can serve two
        #: labs (lab 6 runs lab 4's behaviour checks against its Winsock programs).
        self.server = next((p for p in self.programs if "server" in p), None)
        self.client = next((p for p in self.programs if "client" in p), None)
        self.src = pathlib.Path(src)
        self.out = pathlib.Path(out)
        #: A Windows lab (lab 6): built by mingw-w64 into .exe files, run under Wine.
        self.windows = self.spec.windows
        #: The compiler flags its sources are built with: the contract's and the lab's own.
        self.cflags = build.CFLAGS + list(self.spec.cflags)
        ldlibs = " ".join(self.spec.ldlibs)
        #: The compiler its sources are built (and checked for warnings) with.
        self.cc = wine.MINGW_CC if self.windows else build.compiler()
        self.wine = None
        self._logs = []  # the logs of this grading's checks (log_path, log_dir)
        #: What to do about :attr:`missing` (the checks' skip message says it).
        self.remedy = f"Install them: {wine.INSTALL}"
        if self.windows:
            #: What this machine lacks to grade the lab (the checks skip, saying so).
            self.missing = wine.missing()
            self.shim = None
            if self.missing:
                self.built = build.BuildResult(False, "", {name: None for name in self.programs})
                return
            try:
                self.wine = wine.Session(self.out)  # it warms up while the programs build
            except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                self.missing = [f"a Wine that starts ({exc})"]
                self.built = build.BuildResult(False, "", {name: None for name in self.programs})
                return
            self.built = build.build_programs(self.src, self.out, self.programs, cc=self.cc,
                                              cflags=self.cflags, ldlibs=ldlibs, exe=".exe")
        else:
            self.missing = []
            self.built = build.build_programs(self.src, self.out, self.programs,
                                              cflags=self.cflags, ldlibs=ldlibs)
            try:
                self.shim = build.shim(self.out.parent / ".grader")
            except (OSError, subprocess.SubprocessError) as exc:  # the grader's own library
                self.shim = None
                self.missing = [f"a compiler that builds the grader's shim ({exc})"]
                self.remedy = MACHINE_REMEDY
        if self.built.machine:  # not the student's mistake: the lab is not graded, saying why
            self.missing = [f"a compiler that can run (it could not: {self.built.machine})"]
            self.remedy = MACHINE_REMEDY

    def close(self):
        """Stop what the lab keeps running between checks (Wine's server), and remove the
        logs its checks read: a build folder graded again and again (make lab9) stays small."""
        if self.wine is not None:
            self.wine.close()
        for path in self._logs:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    path.unlink(missing_ok=True)
                except OSError:  # another user's folder: it stays, as before
                    pass
        self._logs = []

    # -- what there is ---------------------------------------------------------
    def source(self, name):
        return self.src / (name + ".c")

    def binary(self, name):
        """The path of program ``name``; fails the check when it did not build."""
        path = self.built.binaries.get(name)
        if path is None:
            fail(f"built {name} from {self.source(name)}",
                 expected="a program built without errors",
                 got="no program: it did not compile (the compiler's message is at the top "
                     "of the report)" if self.source(name).exists()
                 else f"no file {self.source(name)}",
                 hint="fix the compile errors first; every other check of this program needs it")
        return path

    def log_path(self, stem):
        """A new path for a log a check reads (an strace log), in the build folder."""
        return self._new_log(f"{stem}.{os.getpid()}.{len(self._logs) + 1}.log")

    def log_dir(self, stem):
        """A new folder's path for the logs of a program that forks (Valgrind's, one a process)."""
        return self._new_log(f"{stem}.{os.getpid()}.{len(self._logs) + 1}")

    def _new_log(self, name):
        path = self.out / name
        self._logs.append(path)  # removed by close(): each check has read its own
        return path

    # -- starting programs -------------------------------------------------------
    def start(self, name, *args, linebuf=True, short_read=None, short_write=None, use_valgrind=False,
              strace_log=None, strace_trace=None, strace_inject=None, stdin=None, wine_trace=False,
              early=False, valgrind_dir=None):
        """Start program ``name`` with ``args``; return a :class:`harness.proc.Program`.

        linebuf        stdout line-buffered by the shim (the flush check turns it off)
        short_read     cap every TCP read/recv at this many bytes (one read is not one message)
        short_write    cap every TCP write/send at this many bytes (a short write every time)
        use_valgrind   run under memcheck (leaks, invalid accesses, descriptors), or under
                       Helgrind when it is "helgrind" (data races, lock order: lab 9)
        valgrind_dir   (with use_valgrind) a program that forks: every process reports to
                       its own log in this folder (harness.valgrind.child_args, by_process)
        strace_*       run under strace, logging to ``strace_log``
        early          a run started ahead of the check that judges it (under run_all, as a
                       user of its own: see harness/sandbox.py)
        wine_trace     (a Windows program) Wine traces its Winsock calls on stderr, each line
                       with the Windows pid of the process that made it (``+pid``), and the
                       program's own start (``+loaddll``), which tells that pid

        A Windows program (lab 6) is started under Wine; the shim, Valgrind and strace
        do not apply to it (its stdout is whatever its C library makes of it).
        """
        binary = str(self.binary(name))
        source = self.source(name).name
        args = [str(a) for a in args]
        shown = " ".join([name] + args)
        if self.windows:
            if use_valgrind or strace_log:
                raise ValueError("Valgrind and strace do not run Windows programs")
            error = self.wine.wait_ready()
            if error:
                fail(f"started Wine to run {name}.exe", expected="Wine ready", got=str(error),
                     hint="an error of the grading machine, not of your program: try again, "
                          "or delete build/.wine-prefix to have it created anew")
            extra = dict(self.wine.env)
            if wine_trace:
                extra["WINEDEBUG"] = "+pid,trace+winsock,+loaddll"
            program = proc.Program(sandbox.prefix(wine.LIMITS) + [wine.wine64(), binary] + args,
                                   shown, sandbox.minimal_env(extra), stdin, str(self.out), False)
            program.source = source
            return program
        extra = {"LD_PRELOAD": str(self.shim)}
        if linebuf:
            extra["GRADER_LINEBUF"] = "1"
        if short_read:
            extra["GRADER_SHORT_READ"] = str(short_read)
        if short_write:
            extra["GRADER_SHORT_WRITE"] = str(short_write)
        prefix = []
        if use_valgrind:
            if use_valgrind == "helgrind":
                prefix = list(valgrind.HELGRIND_ARGS)
            elif valgrind_dir:
                make_writable_dir(valgrind_dir)  # each process of the program writes its own log
                prefix = valgrind.child_args(valgrind_dir)
            else:
                prefix = list(valgrind.ARGS)
        elif strace_log:
            prefix = strace.argv(strace_log, strace_trace, strace_inject)
        prefix = sandbox.prefix(dict(self.spec.limits), early=early) + prefix  # grader/run_all: limits, own user (else empty)
        program = proc.Program(prefix + [binary] + args, shown, sandbox.minimal_env(extra), stdin,
                               str(self.out), bool(use_valgrind))
        program.source = source
        return program

    def run(self, name, *args, data=b"", timeout=EXIT, **kw):
        """Run ``name`` to completion with ``data`` on stdin; return the finished Program.

        Fails the check (what ran, what it printed) when it does not end in time.
        """
        program = self.start(name, *args, **kw)
        program.feed(data)
        limit = timing.seconds(EXIT_VALGRIND if kw.get("use_valgrind") else timeout)
        if program.wait(limit) is None:
            program.kill()
            fail(f"ran `{program.shown}` with {show(data)} on stdin",
                 expected=f"it ends within {limit:g} s", got="it was still running, so it was killed",
                 stderr=program.err(),
                 note=f"stdout so far: {show(program.out())}",
                 hint="a read() or accept() that waits forever? end the program on end of file")
        return program

    def start_server(self, name, *args, ready=READY_LINE,
                     kind=socket.SOCK_STREAM, **kw):
        """Start a server (``kind``: a TCP or a UDP one) and wait for its ready line; return
        (program, port)."""
        program, port = self.start_ready(name, *args, ready=ready, **kw)
        expect_printed_port_bound(program, port, kind)
        return program, port

    def start_ready(self, name, *args, ready=READY_LINE, timeout=None, **kw):
        """Start a program whose first line is the ready line ``ready`` (its group 1: the
        port); return (program, port).

        With port 0 (``args[0]``) the kernel picks the port, and one time in 256 both its
        bytes are equal: a port printed without ntohs() is then the right port, and a
        program with that mistake would pass every check that depends on it by chance
        (seen: the same submission graded differently in two rounds). Such a program is
        killed and started again (a few times at most) until the port tells the two apart.
        """
        if timeout is None:
            timeout = READY_VALGRIND if kw.get("use_valgrind") else READY
        for attempt in range(1, READY_TRIES + 1):
            program = self.start(name, *args, **kw)
            port = expect_ready(program, ready, timeout)
            chosen = args and str(args[0]) == "0" and port != 0  # by the kernel
            if not chosen or net.swapped(port) != port or attempt == READY_TRIES:
                return program, port
            program.kill()
            if kw.get("valgrind_dir"):  # no log of the killed run among the judged ones
                shutil.rmtree(kw["valgrind_dir"], ignore_errors=True)


def make_writable_dir(path):
    """Create folder ``path`` for the program's own files: under run_all the program runs as
    the student's user, so the folder is made theirs (the grader, root, reads it anyway)."""
    path = pathlib.Path(path)
    path.mkdir(parents=True, exist_ok=True)
    uid = sandbox.student_uid() if sandbox.active() else None
    if uid is not None:
        os.chown(path, uid, uid)


def expect_printed_port_bound(program, port, kind):
    """Fail when the port a server printed is not one it holds while the same port
    byte-swapped is (both in the server's own ``kind``): every check that talks to the
    server would otherwise fail for this one reason, each in its own words."""
    swapped = net.swapped(port)
    if port == 0 or swapped == port or holds_port(program, port, kind):
        return  # a server holds its printed port: it is never judged on others' ports
    if holds_port(program, swapped, kind):
        fail(f"started `{program.shown}` and read the port of its ready line ({port})",
             expected=f"port {port} bound by the server",
             got=f"port {port} is free, and port {swapped} (the same two bytes swapped) is bound",
             hint=PRINTED_PORT_SWAPPED)


def holds_port(program, port, kind=socket.SOCK_STREAM):
    """True when the running ``program`` (or a child of it) listens on ``port`` (TCP) or
    is bound to it (UDP).

    Told by the program's own descriptors: any socket of the machine with that local port
    (a client's connection, a server of another test) makes the port look bound, and then a
    server that printed that port by mistake would pass for holding it (seen in CI: a lab 3
    server printing its port byte-swapped went unnoticed once). Where the program's sockets
    cannot be seen (under Wine they live in the wineserver), whether the port is bound at
    all is the evidence left.
    """
    held = proctree.ports_held(program.pid, kind)
    return port in held if held else net.port_is_bound(port, kind)


#: The hint for a ready line whose port is the real one byte-swapped.
PRINTED_PORT_SWAPPED = ("the printed port is the real one byte-swapped: print ntohs() of the port "
                        "getsockname() reports")


def expect_ready(program, pattern, timeout):
    """Wait for the ready line ``pattern`` as the first stdout line; return its port."""
    limit = timing.seconds(timeout)
    match = program.wait_line(pattern, limit)
    if match:
        first = program.lines()[0] if program.lines() else ""
        if not re.fullmatch(pattern, first):
            fail(f"started `{program.shown}` and read its first stdout line",
                 expected=f"the ready line first ({readable(pattern)})", got=show(first),
                 hint="print nothing on stdout before the ready line (messages go to stderr)")
        return int(match.group(1))
    status = program.poll()
    if status is None and program.stdout.closed:
        status = program.wait(timing.seconds(2))  # stdout closed: it is ending, take its status
    elif status is not None:
        program.wait(1)  # drain what it wrote last
    got = (f"{proc.describe_status(status)} before printing it" if status is not None
           else f"nothing matching within {limit:g} s")
    hint = None
    err = program.err().decode("utf-8", "replace")
    if "Address already in use" in err:
        hint = "the port is taken: set SO_REUSEADDR before bind() (labs 3, 4, 6)"
    elif stderr_hint(err):
        hint = stderr_hint(err)
    elif "Bad file descriptor" in err:
        hint = "a call was given a socket that was never created: is socket() still a TODO?"
    elif status is None and not program.out():
        hint = ("nothing came on stdout: if the line is printed, flush stdout right after it "
                "(fflush(stdout)), stdout is a pipe, not a terminal")
    fail(f"started `{program.shown}` and waited for its ready line",
         expected=readable(pattern), got=got + (f"; stdout was {show(program.out())}"
                                                  if program.out() else ""),
         stderr=program.err(), hint=hint)


def readable(pattern):
    """A ready-line regex shown the way a student reads it."""
    return (pattern.replace(r"(\d+)", "PORT").replace("\\.", ".").replace("\\(", "(")
            .replace("\\)", ")"))


def stop_server(program, sig=signal.SIGINT, timeout=None):
    """Ask a server to stop with ``sig``; return its exit status (None: it did not stop)."""
    limit = timing.seconds(timeout or (EXIT_VALGRIND if program.valgrind else EXIT))
    return program.stop(sig, limit)


#: The hint for Winsock's error 10093 (WSANOTINITIALISED): a call before WSAStartup().
WSASTARTUP_HINT = ("error 10093 is WSANOTINITIALISED: call WSAStartup(MAKEWORD(2, 2), &wsa) "
                   "before any socket call")


def stderr_hint(err):
    """The hint that a program's stderr alone points to, or None: a skeleton placeholder
    still in place, or a Winsock call made before WSAStartup()."""
    if isinstance(err, bytes):
        err = err.decode("utf-8", "replace")
    if is_placeholder(err):
        return placeholder_hint(err)
    if "error 10093" in err:
        return WSASTARTUP_HINT
    return None


def program_hint(program):
    """The hint that what ``program`` wrote on stderr points to (see :func:`stderr_hint`),
    naming its source file when it is a placeholder; or None."""
    err = program.err()
    return placeholder_hint(err, program.source) if is_placeholder(err) else stderr_hint(err)


def is_placeholder(err):
    """True when stderr ``err`` shows a skeleton placeholder still in place (ENOSYS, or
    Winsock's error 120 in lab 6)."""
    if isinstance(err, bytes):
        err = err.decode("utf-8", "replace")
    return "Function not implemented" in err or "failed: error 120" in err


#: What every placeholder hint says (a check that chose one keeps it).
PLACEHOLDER = "is the skeleton's placeholder"


def placeholder_hint(err, source=None):
    """The hint for a skeleton placeholder still in place (it fails with ENOSYS, or with
    Winsock's error 120, ERROR_CALL_NOT_IMPLEMENTED, in lab 6); ``source`` names the file
    whose TODO it is (``echo_client.c``), when known."""
    if isinstance(err, bytes):
        err = err.decode("utf-8", "replace")
    where = f" in {source}" if source else ""
    m = re.search(r"(\w+) failed: error 120\b", err)
    if m:
        return (f"`{m.group(1)} failed: error 120` (ERROR_CALL_NOT_IMPLEMENTED) {PLACEHOLDER}: "
                f"the TODO for {m.group(1)}(){where} is still to do")
    m = re.search(r"(\w+): Function not implemented", err)
    call = m.group(1) if m else "a call"
    return (f"`{call}: Function not implemented` {PLACEHOLDER}: "
            f"the TODO for {call}(){where} is still to do")
