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


def child_args(log_dir):
    """:data:`ARGS` for a program that forks (lab 7): every process reports, each to a log of
    its own, ``LOG_DIR/vg.PID.log`` (``--log-file`` with ``%p``), so that a finding is
    attributed to the process that made it (:func:`by_process`).

    Valgrind follows fork() by itself (the child is the same program); ``--trace-children``
    follows exec too, and ``--child-silent-after-fork=no`` lets a forked child report.  The
    log file is open in the program as descriptor 3; Valgrind marks it ``<inherited from
    parent>`` and :func:`parse` leaves it out.
    """
    args = [a for a in ARGS if a not in ("--log-fd=2", "--child-silent-after-fork=yes")]
    return args + ["--trace-children=yes", "--child-silent-after-fork=no",
                   f"--log-file={log_dir}/vg.%p.log"]


def by_process(log_dir, parent_pid):
    """{pid: (role, findings)} from the logs of :func:`child_args`: role is "parent" for
    ``parent_pid`` (the program as started) and "child" for every process it forked."""
    import pathlib
    found = {}
    for log in sorted(pathlib.Path(log_dir).glob("vg.*.log")):
        try:
            pid = int(log.name.split(".")[1])
            lines = log.read_text(errors="replace").splitlines()
        except (ValueError, OSError):
            continue
        lines = [re.sub(r"^==\d+== ?", "", line) for line in lines]
        found[pid] = ("parent" if pid == parent_pid else "child", parse(lines))
    return found


def available():
    return shutil.which("valgrind") is not None


_FRAME = re.compile(r"^\s+(?:at|by) 0x[0-9A-Fa-f]+: (\S+) \((?:in )?([^)]*)\)")
_LEAK = re.compile(r"^([\d,]+) (?:\(.*?\) )?bytes in ([\d,]+) blocks are "
                   r"(definitely lost|indirectly lost|possibly lost|still reachable)")
_FD = re.compile(r"^Open (.*?) (\d+)(?::| )(.*)$")
_SYSTEM_FILES = ("vg_replace_malloc.c", "syscall-template.S", "vg_replace_strmem.c")


class Finding:
    """One problem Valgrind reported: what, and where in the program's sources."""

    def __init__(self, kind, what, where):
        self.kind = kind      # "error", "leak", "fd"
        self.what = what
        self.where = where    # "echo_server.c:42 (main)" or ""

    def __str__(self):
        return f"{self.what} at {self.where}" if self.where else self.what


def _where(stack):
    """The first frame of the stack that is in a source file of the program."""
    for func, place in stack:
        if re.search(r"\.c:\d+$", place) and not place.startswith(_SYSTEM_FILES):
            return f"{place} ({func})"
    for func, place in stack:
        if func not in ("malloc", "calloc", "realloc", "free", "socket", "accept", "accept4"):
            return f"{func} in {place}"
    return ""


def parse(lines):
    """Turn Valgrind's lines (prefix removed) into a list of :class:`Finding`."""
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
        if leak:
            findings.append(Finding("leak", f"{leak.group(1)} bytes in {leak.group(2)} block(s) "
                                            f"{leak.group(3)}, allocated", _where(stack)))
        elif fd and "FILE DESCRIPTORS" not in line:
            if not inherited and int(fd.group(2)) > 2:
                findings.append(Finding("fd", f"descriptor {fd.group(2)} ({fd.group(1)}"
                                              f"{' ' + fd.group(3).strip() if fd.group(3).strip() else ''})"
                                              " still open at exit, opened", _where(stack)))
        elif stack and line and not line.startswith(("HEAP", "LEAK", "ERROR", "FILE", "Open")):
            findings.append(Finding("error", line, _where(stack)))
        i = j if stack else i + 1
    return findings


def hint_for(findings):
    """A hint that names the likely mistake behind the findings."""
    kinds = {f.kind for f in findings}
    hints = []
    if "fd" in kinds:
        hints.append("close() every socket you opened before exiting, the listening socket "
                     "included, on every path (after the count, and on SIGINT/SIGTERM)")
    if "leak" in kinds:
        hints.append("free() every block you malloc()ed before exiting (getline()'s buffer too)")
    if "error" in kinds:
        hints.append("an invalid read/write or an uninitialised value: check buffer sizes and "
                     "that you only use the n bytes read() returned")
    return "; ".join(hints)
