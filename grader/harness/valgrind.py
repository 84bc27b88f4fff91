"""Running a program under Valgrind (memcheck, or Helgrind for threads) and reading what it found.

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


#: How programs run under Helgrind (lab 9): data races, lock-order problems and misuses of
#: the POSIX thread calls.  Same logging as memcheck; no leak or descriptor tracking.
HELGRIND_ARGS = ["valgrind", "--tool=helgrind", "-q", "--log-fd=2", "--num-callers=12",
                 "--child-silent-after-fork=yes", "--read-inline-info=no", "--vgdb=no"]


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
#: Allocations that are glibc's own bookkeeping of a thread (pthread_create's thread-local
#: block), not the program's: a leak whose stack passes through one of them is not counted.
_THREAD_BOOKKEEPING = re.compile(r"^(_dl_allocate_tls|allocate_dtv|allocate_stack|pthread_create)\b")


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
        if leak and any(_THREAD_BOOKKEEPING.match(func) for func, _place in stack):
            pass  # glibc's per-thread block (pthread_create), not the program's allocation
        elif leak:
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
                     "free() every block you malloc()ed before exiting, on every path (each "
                     "buffer, each record)")
    errors = [f for f in findings if f.kind == "error"]
    if any("uninitialised" in f.what and "(buf)" in f.what for f in errors):
        hints.append("bytes that were never set are sent or written: pass the count of bytes "
                     "you really have (what read() returned), not the size of the buffer")
    elif errors:
        hints.append("an invalid read/write or an uninitialised value: check buffer sizes and "
                     "that you only use the n bytes read() returned")
    return "; ".join(hints)


# -- Helgrind ------------------------------------------------------------------------------

_BLOCK_RULE = re.compile(r"^-{20,}$")
_RACE = re.compile(r"^Possible data race during (read|write) of size (\d+) at \S+ by thread #(\d+)")
_CONFLICT = re.compile(r"^This conflicts with a previous (read|write) of size (\d+) by thread #(\d+)")
_LOCKS = re.compile(r"^Locks held: (none|(\d+))")
_LOCK_ORDER = re.compile(r'^Thread #(\d+): lock order "[^"]*" violated')
_ADDRESS = re.compile(r"^ ?Address \S+ is (.*)$")
#: Helgrind's own wrappers of the pthread calls.  A "race" one of whose accesses is the
#: wrapper reading a mutex (pthread_mutex_destroy right after another thread's last
#: unlock, which the destroying thread waited for) is Helgrind's imprecision, not the
#: program's: it marks the unlock's release before glibc's unlock has written the mutex.
_HELGRIND_WRAPPER = "vgpreload_helgrind"
#: Helgrind's own copies of the C library's memory and string functions (memcpy, strcpy...),
#: in the same preload: an access there is the program copying its own bytes, not a pthread
#: object's.
_COPY_FUNCTION = re.compile(r"^(mem|str|stp|wmem|wcs|bcopy|bzero)")
#: How gcc names a variable declared ``static`` inside a function: ``shared_line.0``.
_FUNCTION_STATIC = re.compile(r"^(\w+)\.\d+$")


class ThreadFinding:
    """One problem Helgrind reported, told in a student's words.

    ``kind`` is "race", "lock order" or "misuse"; ``lines`` is the readable account
    (the conflicting accesses with file:line, or the two orders the locks were taken in);
    ``unlocked`` is True when an access of a race was made with no lock held;
    ``one_for_all`` is True when the memory of a race is one variable of the program that
    every thread uses as its own (a ``static`` inside a function, or a global that threads
    copy bytes into and out of: a buffer), not shared data such as the client list.
    """

    def __init__(self, kind, lines, key, unlocked=False, one_for_all=False):
        self.kind = kind
        self.lines = lines
        self.key = key
        self.unlocked = unlocked
        self.one_for_all = one_for_all

    def __str__(self):
        return "\n".join(self.lines)


def _stack_at(lines, i):
    """The stack frames from line ``i`` on: ([(function, place)], index after them)."""
    stack = []
    while i < len(lines) and _FRAME.match(lines[i]):
        m = _FRAME.match(lines[i])
        stack.append((m.group(1), m.group(2)))
        i += 1
    return stack, i


def _where_in(stack, sources):
    """The first frame of ``stack`` in one of the program's ``sources`` ("x.c:12 (f)")."""
    for func, place in stack:
        if place.split(":")[0] in sources:
            return f"{place} ({func})"
    return _where(stack)[0] or "(a place outside your sources)"


def _access(lines, i, sources, regex):
    """One side of a race, from its header at line ``i``: (text, no lock held, index after,
    whether the access is Helgrind's own, inside its wrapper of a pthread call, whether it
    is a copy of bytes: memcpy, strcpy...)."""
    m = regex.match(lines[i])
    held, j = "", i + 1
    if j < len(lines) and _LOCKS.match(lines[j]):
        count = _LOCKS.match(lines[j]).group(2)
        held = "holding no lock" if count is None else f"holding {count} lock{'s' if count != '1' else ''}"
        j += 1
    stack, j = _stack_at(lines, j)
    verb = "wrote" if m.group(1) == "write" else "read"
    text = f"thread #{m.group(3)} {verb} it at {_where_in(stack, sources)}"
    preloaded = bool(stack) and _HELGRIND_WRAPPER in stack[0][1]
    copy = preloaded and bool(_COPY_FUNCTION.match(stack[0][0]))
    return (text + (f", {held}" if held else ""), held == "holding no lock", j,
            (preloaded and not copy) or _in_pthread_call(stack, sources), copy)


#: The C library's own functions behind a pthread call (glibc's names for them).
_PTHREAD_FUNCTION = re.compile(r"^(__)?pthread_|^__?lll_|^mutex_\w*WRK$")


def _in_pthread_call(stack, sources):
    """True when the access was made inside a pthread call the program made (a frame of the
    C library's pthread code, or of Helgrind's wrapper of it, above the program's own): its
    memory is the pthread object's, as in the unlock and the destroy that follows it."""
    for func, place in stack:
        if place.split(":")[0] in sources:
            return False
        if _PTHREAD_FUNCTION.match(func) or (_HELGRIND_WRAPPER in place
                                             and not _COPY_FUNCTION.match(func)):
            return True
    return False


def _race(block, sources):
    """A data race block: the two accesses and what the memory is."""
    i = next(k for k, line in enumerate(block) if _RACE.match(line))
    size = _RACE.match(block[i]).group(2)
    first, unlocked, j, wrapper, copy = _access(block, i, sources, _RACE)
    second, unlocked2, wrapper2, copy2 = "", False, False, False
    what, one_for_all = "", False
    while j < len(block):
        if _CONFLICT.match(block[j]):
            second, unlocked2, j, wrapper2, copy2 = _access(block, j, sources, _CONFLICT)
            second = second.replace(" it at ", " it before, at ", 1)
            continue
        address = _ADDRESS.match(block[j])
        if address and not what:
            desc = address.group(1)
            stack, _ = _stack_at(block, j + 1)
            if "stack" in desc:
                frame = re.search(r"created by (\w+)", " ".join(block[j + 1:j + 2]))
                what = "a variable on a thread's stack" + (f" (in {frame.group(1)}())" if frame else "")
            elif "alloc'd" in desc:
                size_of = re.search(r"size ([\d,]+)", desc)
                what = (f"a block of {size_of.group(1) if size_of else 'some'} bytes allocated "
                        f"at {_where_in(stack, sources)}")
            elif "data symbol" in desc:
                symbol = re.search(r'data symbol "([^"]*)"', desc)
                name = symbol.group(1) if symbol else ""
                static = _FUNCTION_STATIC.match(name)
                if static:
                    what = (f"`{static.group(1)}`, declared static inside a function (one "
                            "variable for every thread)")
                else:
                    what = f"the global `{name}`" if name else "a global variable"
                one_for_all = bool(static) or copy or copy2
        j += 1
    if wrapper or wrapper2:
        return None  # inside a pthread object, seen by Helgrind's wrapper: see _HELGRIND_WRAPPER
    lines = [f"a data race on {size} bytes" + (f" of {what}" if what else "") + ":",
             "  " + first] + (["  " + second] if second else [])
    return ThreadFinding("race", lines, (first.split(" at ")[-1], second.split(" at ")[-1]),
                         unlocked or unlocked2, one_for_all)


def _lock_order(block, sources):
    """A lock-order block: the order the locks were taken in here, and before."""
    places, i = [], 0
    while i < len(block):
        if "acquisition of lock at" in block[i]:
            stack, i = _stack_at(block, i + 1)
            places.append(_where_in(stack, sources))
            continue
        i += 1
    lines = ["a lock-order problem (two locks taken in opposite orders: a deadlock waiting to happen):"]
    if len(places) >= 4:
        lines += [f"  here: {places[0]}, then {places[1]}",
                  f"  but before: {places[2]}, then {places[3]}"]
    return ThreadFinding("lock order", lines, tuple(places[:4]))


def _misuse(block, sources):
    """Any other report (a not-locked lock unlocked, a cond_signal without its mutex...)."""
    head = re.sub(r" at 0x[0-9A-Fa-f]+", "", block[0].strip())
    stack, _ = _stack_at(block, 1)
    where = _where_in(stack, sources)
    return ThreadFinding("misuse", [f"{head}, at {where}"], (head, where))


def parse_helgrind(lines, sources):
    """Turn Helgrind's lines (prefix removed) into a list of :class:`ThreadFinding`, each
    once (Helgrind repeats a race each time other threads meet it).  ``sources`` are the
    program's file names (``thread_chat_server.c``): places are named there."""
    findings, seen = [], set()
    for block in _split(lines):
        if any(_RACE.match(line) for line in block):
            finding = _race(block, sources)
        elif _LOCK_ORDER.match(block[0]):
            finding = _lock_order(block, sources)
        elif block[0].startswith("Thread #"):
            finding = _misuse(block, sources)
        else:
            continue
        if finding is not None and finding.key not in seen:
            seen.add(finding.key)
            findings.append(finding)
    return findings


def _split(lines):
    """Helgrind's reports, each from its first line on: the lines between two rules, with the
    thread announcements and a lock's "first observed" preamble left out."""
    blocks, block = [], []
    for line in lines + ["-" * 64]:
        if _BLOCK_RULE.match(line.strip()) or line.startswith("---Thread-Announcement"):
            start = next((k for k, text in enumerate(block)
                          if text.startswith(("Possible data race", "Thread #"))), None)
            if start is not None and not re.match(r"Thread #\d+ (was created|is the program's)",
                                                  block[start]):
                blocks.append(block[start:])
            block = []
        elif line.strip():
            block.append(line)
    return blocks


def thread_hint(findings):
    """The hint the Helgrind findings point to (each kind of problem its own advice)."""
    kinds = {f.kind for f in findings}
    races = [f for f in findings if f.kind == "race"]
    shared = [f for f in races if not f.one_for_all]
    hints = []
    if len(shared) < len(races):
        hints.append("every client thread uses one and the same variable as if it were its own "
                     "(a static or global buffer, or its count): what belongs to one client, such "
                     "as the line it is receiving, goes in that client's struct or in its "
                     "thread's local variables, so that each thread has its own")
    if shared:
        if any(f.unlocked for f in shared):
            hints.append("two threads touch the same data and at least one holds no lock: take "
                         "the mutex around every read and write of the shared client list (adding, "
                         "removing, walking it to relay) and of anything else threads share")
        else:
            hints.append("two threads touch the same data without one lock common to both (or "
                         "one uses memory another freed): guard shared data with one and the same "
                         "mutex everywhere, and free a client only once it is out of the list")
    if "lock order" in kinds:
        hints.append("two mutexes are taken in opposite orders in two places: always take "
                     "them in one order (or guard the shared state with one mutex)")
    if "misuse" in kinds:
        hints.append("a thread call used wrongly (read the line above): unlock only what this "
                     "thread locked, and call pthread_cond_wait/signal with the mutex held")
    return "; ".join(hints)
