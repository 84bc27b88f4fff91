"""Running a program under Valgrind's memcheck and reading what it found.

Valgrind writes to the program's own stderr (``--log-fd=2``), every line
prefixed ``==PID==``; :class:`harness.proc.Program` keeps those lines apart
from the program's.  ``--log-file`` is not used: it would leave Valgrind's log
open as descriptor 3 inside the program, and the student's first socket would
become 4.  Children are started with only descriptors 0-2 open, so every other
descriptor open at exit is the program's own.
"""
import re
import shutil

#: How programs run under memcheck.  The last two only save time (about a fifth of a short
#: run): no inlined-function names from the C library's debug information (the lab's own
#: code, built without -O, has none), no gdbserver.
ARGS = ["valgrind", "-q", "--leak-check=full", "--show-leak-kinds=all",
        "--errors-for-leak-kinds=definite,indirect,possible", "--track-fds=yes",
        "--log-fd=2", "--num-callers=12", "--child-silent-after-fork=yes",
        "--read-inline-info=no", "--vgdb=no"]


def available():
    return shutil.which("valgrind") is not None


_FRAME = re.compile(r"^\s+(?:at|by) 0x[0-9A-Fa-f]+: (\S+) \((?:in )?([^)]*)\)")
_LEAK = re.compile(r"^([\d,]+) (?:\(.*?\) )?bytes in ([\d,]+) blocks are "
                   r"(definitely lost|indirectly lost|possibly lost|still reachable)")
_FD = re.compile(r"^Open (.*?) (\d+)(?::| )(.*)$")
_SYSTEM_FILES = ("vg_replace_malloc.c", "syscall-template.S", "vg_replace_strmem.c")


class Finding:
    """One problem Valgrind reported: what, and where in the program's sources."""

    def __init__(self, kind, what, where, top=""):
        self.kind = kind      # "error", "leak", "fd"
        self.what = what
        self.where = where    # "echo_server.c:42 (main)" or ""
        self.top = top        # where it happened, when that is not the student's code: "write.c:26 (write)"

    def __str__(self):
        if not self.where:
            return self.what
        if self.top and self.top != self.where:
            return f"{self.what} in {self.top}, called from {self.where}"
        return f"{self.what} at {self.where}"


def _where(stack, sources=()):
    """(the first frame of the stack in the student's own source files, the top frame).

    ``sources`` are the student's file names (``echo_server.c``): a frame in the C
    library's sources (``write.c:26``) is not one of them.  Without ``sources``, the first
    frame in any C file not Valgrind's own.
    """
    def shown(func, place):
        return f"{place} ({func})" if re.search(r"\.c:\d+$", place) else f"{func} in {place}"
    top = shown(*stack[0]) if stack else ""
    for func, place in stack:
        name = place.rsplit(":", 1)[0]
        if (name in sources if sources else
                re.search(r"\.c:\d+$", place) and not place.startswith(_SYSTEM_FILES)):
            return shown(func, place), top
    for func, place in stack:
        if func not in ("malloc", "calloc", "realloc", "free", "socket", "accept", "accept4"):
            return shown(func, place), top
    return "", top


def parse(lines, sources=()):
    """Turn Valgrind's lines (prefix removed) into a list of :class:`Finding`.

    ``sources``: the student's file names, where each finding is placed (see :func:`_where`).
    """
    findings = []
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        stack, j = [], i + 1
        while j < len(lines) and _FRAME.match(lines[j]):
            m = _FRAME.match(lines[j])
            stack.append((m.group(1), m.group(2)))
            j += 1
        inherited = j < len(lines) and "<inherited from parent>" in lines[j]
        leak, fd = _LEAK.match(line), _FD.match(line)
        where, top = _where(stack, sources)
        if leak:
            findings.append(Finding("leak", f"{leak.group(1)} bytes in {leak.group(2)} block(s) "
                                            f"{leak.group(3)}, allocated", where))
        elif fd and "FILE DESCRIPTORS" not in line:
            if not inherited and int(fd.group(2)) > 2:
                findings.append(Finding("fd", f"descriptor {fd.group(2)} ({fd.group(1)}"
                                              f"{' ' + fd.group(3).strip() if fd.group(3).strip() else ''})"
                                              " still open at exit, opened", where))
        elif stack and line and not line.startswith(("HEAP", "LEAK", "ERROR", "FILE", "Open")):
            findings.append(Finding("error", line, where, top))
        i = j if stack else i + 1
    return findings


def hint_for(findings, role="program"):
    """A hint that names the likely mistake behind the findings.

    ``role`` is ``server`` (a TCP server: a listening socket, a count, stop signals),
    ``udp server``, ``client`` or ``program`` (any other): a client has no listening socket,
    no count and no stop signal, and its hint says so in its own words.
    """
    hints = []
    fds = [f for f in findings if f.kind == "fd"]
    connected = [f for f in fds if re.search(r"<-> \d", f.what)]  # a peer: a client's socket
    if connected and role == "server":
        hints.append("close() the connection socket of each client when its session ends")
    if len(connected) < len(fds) or (fds and role != "server"):
        hints.append({
            "server": "close() the listening socket before the server exits, on every path "
                      "(after MAX_CLIENTS, and on SIGINT/SIGTERM)",
            "udp server": "close() the server's socket before it exits, on every path (after "
                          "MAX_DATAGRAMS, and on SIGINT/SIGTERM)",
            "client": "close() the client's socket before it exits, on every path (end of input, "
                      "a `q` line, an error)",
        }.get(role, "close() every socket you opened before exiting, on every path"))
    if any(f.kind == "leak" for f in findings):
        hints.append("free() what the client malloc()ed before it exits, getline()'s buffer too"
                     if role == "client" else
                     "free() the buffers you malloc()ed before exiting, on every path")
    errors = [f for f in findings if f.kind == "error"]
    if any("uninitialised" in f.what and "(buf)" in f.what for f in errors):
        hints.append("bytes that were never set are sent or written: pass the count of bytes "
                     "you really have (what read() returned), not the size of the buffer")
    elif errors:
        hints.append("an invalid read/write or an uninitialised value: check buffer sizes and "
                     "that you only use the n bytes read() returned")
    return "; ".join(hints)
