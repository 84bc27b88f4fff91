"""Start the programs under test, read what they print, and stop them.

Every program is started in a process group of its own, with only descriptors
0-2 open, and recorded in a registry; :func:`kill_all` (called by the checks'
fixture at teardown) kills each group, so nothing a check started survives it.
Should the grading itself be killed, :mod:`harness.reaper` kills them.
Output is read by background threads into bounded buffers, so a program that
floods stdout neither blocks nor eats the grader's memory.
"""
import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import threading
import time

from . import reaper, sandbox, timing

#: Bytes a program may write to each of stdout and stderr.  Past them it is killed at once
#: and its check fails saying so (Autolab caps output the same way): a program that floods
#: its output fails the same way on a quiet or a busy machine, counted, not timed.
OUTPUT_CAP = 16 * 1024 * 1024


def _default_stop_signals():
    """Give SIGINT and SIGQUIT back their default action if this grader was started with them
    ignored (a shell without job control ignores them in what it starts with `&`: `grader/
    run_all ... &`, a platform's background job).  An ignored signal stays ignored across
    exec, so every program started here would ignore SIGINT too, and a server with no
    handler at all would pass the checks that stop it with SIGINT."""
    for sig in (signal.SIGINT, signal.SIGQUIT):
        if signal.getsignal(sig) == signal.SIG_IGN:
            signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT
                          else signal.SIG_DFL)


if threading.current_thread() is threading.main_thread():
    _default_stop_signals()

_registry = []
_registry_lock = threading.Lock()


class Stream:
    """What one pipe of a program carried, filled by a reader thread."""

    def __init__(self, pipe, cap=OUTPUT_CAP, on_overflow=None):
        self.data = bytearray()
        self.total = 0
        self.closed = False
        #: True once more than ``cap`` bytes came (``on_overflow`` was then called).
        self.overflowed = False
        self._cap = cap
        self._on_overflow = on_overflow
        self._idle = False
        self._cond = threading.Condition()
        self._fd = pipe.fileno()
        self._thread = threading.Thread(target=self._pump, args=(pipe,), daemon=True)
        self._thread.start()

    def _pump(self, pipe):
        fd = self._fd
        try:
            while True:
                with self._cond:
                    self._idle = True  # waiting for bytes: everything read so far is in data
                    self._cond.notify_all()
                select.select([fd], [], [])
                with self._cond:
                    self._idle = False
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                with self._cond:
                    self.total += len(chunk)
                    room = self._cap - len(self.data)
                    if room > 0:
                        self.data += chunk[:room]
                    overflow = self.total > self._cap and not self.overflowed
                    if overflow:
                        self.overflowed = True
                    self._cond.notify_all()
                if overflow and self._on_overflow is not None:
                    self._on_overflow()
        except (OSError, ValueError):
            pass
        finally:
            with self._cond:
                self.closed = True
                self._cond.notify_all()
            try:
                pipe.close()
            except OSError:
                pass

    def wait_until(self, predicate, timeout):
        """Wait until ``predicate(data)`` is true or the pipe closed; return its last value."""
        deadline = timing.Deadline(timeout)
        with self._cond:
            while True:
                result = predicate(bytes(self.data))
                if result or self.closed or deadline.expired():
                    return result
                self._cond.wait(min(deadline.left(), 0.5))

    def wait_closed(self, timeout):
        """Wait for end of file on the pipe; return True when it came."""
        self.wait_until(lambda _data: False, timeout)
        return self.closed

    def drain(self, writers_alive, timeout):
        """Once the program has exited: wait until everything written to the pipe so far is
        in :attr:`data`, that is, end of file, or (once ``writers_alive()`` is false) an
        empty pipe with the reader waiting.  A process that left the program's group (a
        daemon it started) may hold the pipe open for ever; its silence costs no time."""
        deadline = timing.Deadline(timeout)
        with self._cond:
            while not self.closed and not deadline.expired():
                if self._idle and not writers_alive() and self._unread() == 0:
                    return
                self._cond.wait(min(deadline.left(), 0.02))

    def _unread(self):
        """Bytes waiting in the pipe, not read yet (0 once it is closed)."""
        try:
            return struct.unpack("i", fcntl.ioctl(self._fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        except (OSError, ValueError):
            return 0

    def bytes(self):
        with self._cond:
            return bytes(self.data)


VALGRIND_LINE = re.compile(rb"^==\d+==")


class MachineError(RuntimeError):
    """The grading machine failed to do its part (it could not start a process): never the
    student's mistake.  The check is not graded, saying so."""


#: What a program's stderr shows when the grading machine, not the program, failed: Wine's
#: own server went away under it.
MACHINE_MARKS = ("wine client error:",)


def machine_failure(stderr):
    """The line of ``stderr`` (bytes or text) that shows the machine failed, or None."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    return next((line.strip() for line in (stderr or "").splitlines()
                 if any(mark in line for mark in MACHINE_MARKS)), None)


class Program:
    """A program under test, running (or finished) in its own process group."""

    def __init__(self, argv, shown, env, stdin, cwd, valgrind):
        self.shown = shown
        #: The source file it was built from (``echo_server.c``), when known (harness.lab).
        self.source = None
        self.valgrind = valgrind
        self.started = time.monotonic()
        try:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.PIPE if stdin is None else stdin,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=reaper.env(env), cwd=cwd, close_fds=True, start_new_session=True)
        except OSError as exc:
            raise MachineError(f"the grader could not start `{shown}` ({exc}): an error of the "
                               "grading machine, not of your program; grade again") from exc
        self.pid = self.popen.pid
        reaper.started(self.pid)  # killed with the grading, should the grading be killed
        self.stdout = Stream(self.popen.stdout, on_overflow=self._overflow)
        self.stderr = Stream(self.popen.stderr, on_overflow=self._overflow)
        self._stdin_thread = None
        self._drained = False
        with _registry_lock:
            _registry.append(self)

    def _overflow(self):
        """More than OUTPUT_CAP bytes on a stream: kill the program's group at once."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def overflowed(self):
        """The name of the stream that went past OUTPUT_CAP bytes ("stdout", "stderr"), or None."""
        for name, stream in (("stdout", self.stdout), ("stderr", self.stderr)):
            if stream.overflowed:
                return name
        return None

    # -- input ---------------------------------------------------------------
    def feed(self, data, close=True):
        """Write ``data`` to stdin from a thread (so a full pipe never blocks the check)."""
        def pump():
            try:
                if data:
                    self.popen.stdin.write(data)
                    self.popen.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass
            if close:
                self.close_stdin()
        self._stdin_thread = threading.Thread(target=pump, daemon=True)
        self._stdin_thread.start()

    def close_stdin(self):
        try:
            if self.popen.stdin:
                self.popen.stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass

    # -- output --------------------------------------------------------------
    def out(self):
        """Everything the program wrote to stdout so far."""
        return self.stdout.bytes()

    def err(self):
        """What the program itself wrote to stderr (Valgrind's lines left out)."""
        lines = self.stderr.bytes().splitlines(keepends=True)
        return b"".join(line for line in lines if not VALGRIND_LINE.match(line))

    def valgrind_log(self):
        """Valgrind's own lines of stderr, as text, without their ``==PID==`` prefix."""
        lines = self.stderr.bytes().decode("utf-8", "replace").splitlines()
        return [re.sub(r"^==\d+== ?", "", line) for line in lines if re.match(r"^==\d+==", line)]

    def lines(self):
        """The stdout lines so far, decoded leniently, without line ends."""
        return self.out().decode("utf-8", "replace").splitlines()

    def wait_line(self, pattern, timeout, start=0):
        """Wait for a complete stdout line matching ``pattern`` (a regex, fully matched).

        Only lines from index ``start`` on are looked at.  Returns the match, or
        None when the deadline passed or stdout closed first.
        """
        regex = re.compile(pattern)

        def find(data):
            lines = data.split(b"\n")[:-1]  # the last piece is not a complete line yet
            for line in lines[start:]:
                m = regex.fullmatch(line.decode("utf-8", "replace").rstrip("\r"))
                if m:
                    return m
            return None
        return self.stdout.wait_until(find, timeout)

    def wait_stdout_bytes(self, count, timeout):
        """Wait until stdout holds ``count`` bytes (or closed); return what it holds."""
        self.stdout.wait_until(lambda data: len(data) >= count, timeout)
        return self.out()

    # -- life ----------------------------------------------------------------
    def poll(self):
        """The exit status, or None while it runs.  Once it has exited, what it wrote last
        is read in first (briefly), so stdout and stderr are complete after a status."""
        code = self.popen.poll()
        if code is not None and not self._drained:
            self._drained = True
            self._drain()
        return code

    def wait(self, timeout):
        """Wait for the program to exit; return its status, or None if it is still running.

        A status is negative (-signal) when a signal killed it.  Output pipes are
        drained too (briefly), so what it printed last is there.
        """
        code = wait_exit(self.popen, timeout)
        if code is None:
            return None
        self._drain()
        return code

    def _group_alive(self):
        """True while a process of the program's group lives on (a child it forked)."""
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _drain(self):
        """Read in what the exited program wrote last.  Its children (same group) get a
        moment to finish writing; a daemon that left the group is not waited for."""
        for stream in (self.stdout, self.stderr):
            stream.drain(self._group_alive, timing.seconds(1.0))

    def wait_blocked(self, timeout=2.0):
        """Wait until the program sleeps in a system call (state S in /proc/PID/stat).

        A check that sends a stop signal first waits for this, so the signal finds
        the program blocked in accept()/read()/recvfrom(), not between its stop-flag
        test and the call: there even a correct loop misses one signal, and a loop
        with SA_RESTART would pass by luck.  Polls with a deadline; returns quietly
        if the state cannot be read.
        """
        deadline = timing.Deadline(timing.seconds(timeout))
        while not deadline.expired():
            try:
                with open(f"/proc/{self.pid}/stat") as f:
                    state = f.read().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                return
            if state == "S":
                return
            time.sleep(0.002)  # polling a state, with a deadline

    def signal(self, sig):
        """Send ``sig`` to the program itself (not its group)."""
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self, sig, timeout, every=0.5):
        """Send ``sig`` (again every ``every`` s), wait for the exit; return the status or None.

        Sending again is what a user pressing Ctrl-C twice does.  It is needed
        because the classic stop-flag loop has a window (between testing the
        flag and blocking in read()/accept()) where one signal is not noticed.
        """
        deadline = timing.Deadline(timeout)
        while True:
            self.signal(sig)
            code = self.wait(min(every, deadline.left()))
            if code is not None or deadline.expired():
                return code

    def kill(self):
        """Kill the whole process group and reap the program."""
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.close_stdin()
        if wait_exit(self.popen, 5) is not None:
            reaper.ended(self.pid)
        for stream in (self.stdout, self.stderr):
            stream.wait_closed(0.5)

    def elapsed(self):
        return time.monotonic() - self.started


def wait_exit(popen, timeout):
    """The exit status of ``popen`` once it exits within ``timeout`` s, else None.

    Woken by the exit itself (a pidfd becomes readable), where Popen.wait(timeout) polls
    with sleeps of up to 50 ms: that much lost after each program, hundreds of times a
    grading.
    """
    code = popen.poll()
    if code is not None:
        return code
    try:
        pidfd = os.pidfd_open(popen.pid)
    except (AttributeError, OSError):  # no pidfd (Linux < 5.3), or already reaped
        try:
            return popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
    try:
        select.select([pidfd], [], [], max(0.0, timeout))
    finally:
        os.close(pidfd)
    return popen.poll()


def detach(program):
    """Take ``program`` out of the registry, so that :func:`kill_all` leaves it running.

    For a slow program started ahead of the check that judges it (the check's own
    teardown would otherwise kill it): whoever detaches it must ``kill()`` it.
    Returns ``program``.
    """
    with _registry_lock:
        if program in _registry:
            _registry.remove(program)
    return program


def started():
    """The programs started since the last :func:`kill_all` (those of the running check)."""
    with _registry_lock:
        return list(_registry)


def kill_all():
    """Kill every program started so far (teardown)."""
    with _registry_lock:
        programs = list(_registry)
        _registry.clear()
    for program in programs:
        program.kill()
    sandbox.kill_strays()  # under grader/run_all: what escaped its group (setsid, double fork)


def describe_status(code):
    """A status as words: ``exit status 1``, ``killed by SIGSEGV``, ``still running``."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return "killed by " + signal.Signals(-code).name
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
