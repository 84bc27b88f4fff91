"""What a server's processes and threads hold, read from /proc (Linux): the process view of
the concurrent-server harness (labs 7-9).  :mod:`harness.crowd` drives the clients and
re-exports these names, so a check speaks of ``crowd.tree`` and ``crowd.wait_for``.

:func:`tree` ``(pid)`` gives a :class:`Tree` of :class:`Proc` (state, the system call each
is blocked in, threads, descriptors as :class:`Fd`); :func:`wait_for` polls it to a
deadline; :class:`Sampler` takes its counts over time; :func:`thread_calls` and
:func:`stack_mappings` look at a process's threads.
"""
import os
import socket
import threading
import time

from . import timing

#: x86_64 system call numbers a server blocks in, by name (/proc/PID/syscall gives numbers).
SYSCALLS = {0: "read", 1: "write", 7: "poll", 17: "pread64", 23: "select", 43: "accept",
            44: "sendto", 45: "recvfrom", 61: "wait4", 202: "futex", 230: "clock_nanosleep",
            232: "epoll_wait", 247: "waitid", 270: "pselect6", 271: "ppoll", 281: "epoll_pwait",
            288: "accept4", 34: "pause", 130: "rt_sigsuspend", 35: "nanosleep"}
#: Where the kernel parks a process blocked in accept (/proc/PID/wchan), when syscall is hidden.
ACCEPT_WCHAN = "inet_csk_accept"


class Fd:
    """One open descriptor of a process."""

    def __init__(self, number, target, listening_port=None):
        self.number = number
        self.target = target                  # "socket:[1234]", "/dev/null", "pipe:[99]"
        self.listening_port = listening_port  # the port, if a listening TCP socket

    @property
    def is_socket(self):
        return self.target.startswith("socket:[")

    @property
    def inode(self):
        return int(self.target[8:-1]) if self.is_socket else None

    def __repr__(self):
        return f"{self.number} -> {self.target}" + (
            f" (listening on {self.listening_port})" if self.listening_port is not None else "")


class Proc:
    """One process of a :class:`Tree`, as /proc showed it."""

    def __init__(self, pid, ppid, state, threads, syscall, wchan, fds):
        self.pid = pid
        self.ppid = ppid
        self.state = state      # R running, S sleeping, Z zombie, T stopped...
        self.threads = threads
        self.syscall = syscall  # "accept", "read", "wait4", ... or None (running, unknown)
        self.wchan = wchan
        self.fds = fds          # [Fd], empty for a zombie or when unreadable

    @property
    def zombie(self):
        return self.state == "Z"

    def in_accept(self):
        return self.syscall in ("accept", "accept4") or self.wchan == ACCEPT_WCHAN

    def listeners(self):
        return [fd for fd in self.fds if fd.listening_port is not None]

    def sockets(self):
        return [fd for fd in self.fds if fd.is_socket]

    def describe(self):
        where = f", in {self.syscall}()" if self.syscall else ""
        held = ", ".join(f"fd {fd.number}: listening socket" if fd.listening_port is not None
                         else f"fd {fd.number}: socket" for fd in self.sockets())
        return (f"pid {self.pid} ({'zombie' if self.zombie else 'state ' + self.state}{where})"
                + (f" holds {held}" if held else ""))


class Tree:
    """A process and its descendants at one moment."""

    def __init__(self, root, descendants):
        self.root = root                # Proc, or None when the process is gone
        self.descendants = descendants  # [Proc], children first

    @property
    def children(self):
        return [p for p in self.descendants if self.root and p.ppid == self.root.pid]

    def zombies(self):
        return [p for p in self.descendants if p.zombie]

    def live_children(self):
        return [p for p in self.descendants if not p.zombie]

    def holding_listener(self):
        """The descendants that hold a listening TCP socket."""
        return [p for p in self.descendants if p.listeners()]

    def acceptors(self):
        """Every process of the tree blocked in accept()."""
        return [p for p in ([self.root] if self.root else []) + self.descendants if p.in_accept()]

    def describe(self, limit=6):
        """A few lines for a report: the parent, then its descendants."""
        if self.root is None:
            return "the server is gone"
        lines = ["parent " + self.root.describe()]
        lines += ["child " + p.describe() for p in self.descendants[:limit]]
        if len(self.descendants) > limit:
            lines.append(f"... and {len(self.descendants) - limit} more")
        return "\n".join(lines)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def stat(pid):
    """(ppid, state, threads) of ``pid`` from /proc/PID/stat, or None once it is gone."""
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0], int(fields[17])


def pids():
    """Every pid /proc lists now (ints), or [] where there is no /proc (a bare root)."""
    try:
        return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return []


def environ(pid):
    """The environment of ``pid`` as its ``NAME=value`` entries (bytes), or [] once it is
    gone, or is another user's, or a zombie (whose environment /proc no longer shows)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def cmdline(pid):
    """The command line of ``pid`` as /proc shows it (words ended by NUL bytes), or b"" once
    it is gone (or is another user's that /proc hides)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def listening_sockets(pid):
    """{socket inode: port} of the TCP sockets listening in ``pid``'s network namespace."""
    return _bound_sockets(pid, socket.SOCK_STREAM)


def _bound_sockets(pid, kind):
    """{socket inode: local port} in ``pid``'s network namespace: the TCP sockets that
    listen (``kind`` SOCK_STREAM) or the UDP sockets that are bound (SOCK_DGRAM)."""
    tables = ("tcp", "tcp6") if kind == socket.SOCK_STREAM else ("udp", "udp6")
    found = {}
    for table in tables:
        text = _read(f"/proc/{pid}/net/{table}") or ""
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) <= 9 or (kind == socket.SOCK_STREAM and fields[3] != "0A"):
                continue  # 0A is TCP_LISTEN
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if port:
                found[int(fields[9])] = port
    return found


def established(pid, port, peer_port):
    """True when ``pid``'s network namespace holds an established TCP connection from local
    ``port`` to ``peer_port`` (/proc/PID/net/tcp): a connection the server's kernel has
    completed, in the listen queue until accept() takes it."""
    text = _read(f"/proc/{pid}/net/tcp") or ""
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "01" and \
                int(fields[1].rsplit(":", 1)[1], 16) == port and \
                int(fields[2].rsplit(":", 1)[1], 16) == peer_port:
            return True
    return False


def ports_held(pid, kind=socket.SOCK_STREAM):
    """The ports on which ``pid`` or one of its descendants holds a socket of ``kind``: a
    TCP socket listening, or a UDP socket bound. Empty when none can be seen: the program is
    gone, or its sockets are held elsewhere (Wine keeps them in its wineserver)."""
    bound = _bound_sockets(pid, kind)
    if not bound:
        return set()
    return {bound[inode] for inode in tree_sockets(pid) if inode in bound}


def _fds(pid, listening):
    fds = []
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return fds
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        fd = Fd(int(name), target)
        if fd.is_socket:
            fd.listening_port = listening.get(fd.inode)
        fds.append(fd)
    return sorted(fds, key=lambda f: f.number)


def socket_inodes(pid):
    """The inodes of the sockets ``pid`` holds open now (empty once it has ended)."""
    return {fd.inode for fd in _fds(pid, {}) if fd.is_socket}


def holders(inodes):
    """The live processes that still hold one of the sockets ``inodes`` open.

    Told by the socket itself, not by its port: another program may bind the same port
    the moment it is free (a port number is evidence of nothing once its socket is gone).
    """
    return [pid for pid in pids() if socket_inodes(pid) & inodes]


def tree_sockets(pid):
    """The inodes of the sockets ``pid`` and its descendants hold open now."""
    inodes = socket_inodes(pid)
    for kid in descendants(pid):
        inodes |= socket_inodes(kid)
    return inodes


def wait_released(inodes, timeout):
    """Wait up to ``timeout`` s (stretched) until no live process holds one of the sockets
    ``inodes`` (a killed process's sockets close only once it has really died); True then,
    False at the deadline."""
    return until(lambda: not holders(inodes), timeout)


def until(look, timeout, every=0.01):
    """Call ``look()`` until it returns something true or ``timeout`` s (stretched) pass;
    return its last value.  For what /proc shows (no event announces it)."""
    deadline = timing.Deadline(timing.seconds(timeout))
    while True:
        value = look()
        if value or deadline.expired():
            return value
        time.sleep(min(every, deadline.left()))  # polling /proc, with a deadline


def _syscall(pid):
    text = _read(f"/proc/{pid}/syscall")
    if not text or not text.split()[0].isdigit():
        return None
    number = int(text.split()[0])
    return SYSCALLS.get(number, f"syscall {number}")


def _children_of():
    """{ppid: [pid]} over every process of /proc."""
    kids = {}
    for pid in pids():
        st = stat(pid)
        if st:
            kids.setdefault(st[0], []).append(pid)
    return kids


def descendants(pid):
    """The pids of ``pid``'s children, their children, and so on (every ppid in /proc)."""
    kids = _children_of()
    found, todo = [], list(kids.get(int(pid), []))
    while todo:
        child = todo.pop(0)
        found.append(child)
        todo += kids.get(child, [])
    return found


def proc_info(pid, listening=None, with_fds=True):
    st = stat(pid)
    if st is None:
        return None
    ppid, state, threads = st
    if listening is None:
        listening = listening_sockets(pid)
    fds = _fds(pid, listening) if with_fds and state != "Z" else []
    syscall = _syscall(pid) if state in ("S", "D") else None
    wchan = (_read(f"/proc/{pid}/wchan") or "").strip() or None
    return Proc(pid, ppid, state, threads, syscall, wchan, fds)


def tree(pid, with_fds=True):
    """The :class:`Tree` of ``pid`` now (its descendants found through every ppid in /proc)."""
    listening = listening_sockets(pid)
    root = proc_info(pid, listening, with_fds)
    if root is None:
        return Tree(None, [])
    below = (proc_info(child, listening, with_fds) for child in descendants(pid))
    return Tree(root, [info for info in below if info is not None])


def wait_for(pid, predicate, timeout, every=0.01):
    """Poll :func:`tree` until ``predicate(tree)`` holds or ``timeout`` s pass; the last tree."""
    deadline = timing.Deadline(timing.seconds(timeout))
    while True:
        current = tree(pid)
        if predicate(current) or deadline.expired():
            return current
        time.sleep(min(every, deadline.left()))  # polling /proc, with a deadline


class Sample:
    """The counts of one moment (see :class:`Sampler`)."""

    def __init__(self, at, current):
        self.at = at
        root = current.root
        self.processes = (1 if root else 0) + len(current.live_children())
        self.zombies = len(current.zombies())
        self.fds = len(root.fds) if root else 0
        self.threads = (root.threads if root else 0) + sum(p.threads for p in current.live_children())

    def __repr__(self):
        return (f"Sample({self.at:.2f}s: {self.processes} processes, {self.zombies} zombies, "
                f"{self.fds} fds, {self.threads} threads)")


class Sampler:
    """Counts of a server's tree over time, taken by a background thread every ``every`` s."""

    def __init__(self, pid, every=0.02):
        self.pid = pid
        self.every = every
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._start = time.monotonic()

    def _run(self):
        while not self._stop.is_set():
            self.samples.append(Sample(time.monotonic() - self._start, tree(self.pid)))
            self._stop.wait(self.every)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.samples.append(Sample(time.monotonic() - self._start, tree(self.pid)))
        return self

    def peak(self, field):
        return max((getattr(s, field) for s in self.samples), default=0)

    def last(self):
        return self.samples[-1] if self.samples else None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# -- threads (lab 9) ----------------------------------------------------------------------------


def thread_calls(pid):
    """{thread id: the system call it is blocked in (``recvfrom``, ``futex``...) or its state}
    for every thread of ``pid`` (/proc/PID/task); empty when the process is gone."""
    calls = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return calls
    for tid in tids:
        call = _thread_call(pid, tid)
        if call is not None:
            calls[int(tid)] = call
    return calls


def _thread_call(pid, tid):
    """The system call thread ``tid`` of ``pid`` is blocked in, or its state (``running``,
    ``ended``); None when it is gone."""
    stat = _read(f"/proc/{pid}/task/{tid}/stat")
    if not stat:
        return None
    state = stat.rsplit(")", 1)[1].split()[0]
    text = _read(f"/proc/{pid}/task/{tid}/syscall") if state in ("S", "D") else None
    if text and text.split()[0].isdigit():
        number = int(text.split()[0])
        return SYSCALLS.get(number, f"syscall {number}")
    return {"R": "running", "Z": "ended"}.get(state, f"state {state}")


def sleepers(pid):
    """{(pid, thread id): (the system call it sleeps in, how many times it has run)} for
    every thread of ``pid`` and of its descendants when each one sleeps in a system call;
    None when one of them is running or about to run; {} when ``pid`` is gone.

    One look is a snapshot: a thread caught for an instant in a call it is about to leave
    (a write() waiting for the pipe's lock, the mmap() of a new thread's stack) looks as
    asleep as one waiting for a client. A second look that agrees (:func:`still_asleep`:
    each thread in the same call, not run once in between, by its run count in
    /proc/.../schedstat) tells a server that has done all it was given (chat.wait_idle).

    Polled every few ms while a chat check waits, so it reads what it needs and no more:
    ``pid``'s own threads first (the common "still busy" answer costs a few reads), and
    the whole of /proc for descendants only once those are all asleep."""
    found = {}
    if not _add_sleepers(pid, found):
        return None
    if not found:
        return found  # gone
    for child in descendants(pid):
        if not _add_sleepers(child, found):
            return None
    return found


def _add_sleepers(pid, found):
    """Add the threads of ``pid`` to ``found`` (see :func:`sleepers`); False when one runs."""
    for tid, call in thread_calls(pid).items():
        if call == "running":
            return False
        found[(int(pid), tid)] = (call, _runs(pid, tid))
    return True


def _runs(pid, tid):
    """How many times thread ``tid`` has been on a CPU (None where schedstat is missing)."""
    fields = (_read(f"/proc/{pid}/task/{tid}/schedstat") or "").split()
    return fields[2] if len(fields) == 3 else None


def still_asleep(found):
    """True when every thread of ``found`` (a :func:`sleepers` look) still sleeps in the same
    system call and has not run since: a few reads, no walk of /proc (a thread that forked
    or made a thread has run)."""
    return all(_thread_call(pid, tid) == call and _runs(pid, tid) == runs
               for (pid, tid), (call, runs) in found.items())


def stack_mappings(pid, least_kib=1024):
    """How many anonymous writable mappings of at least ``least_kib`` KiB ``pid`` has: thread
    stacks (8 MiB each, glibc keeps a few of the ended threads' for reuse), and large
    malloc() blocks; None when the process is gone.  malloc's per-thread arenas (reserved,
    not writable) are not counted."""
    text = _read(f"/proc/{pid}/maps")
    if text is None:
        return None
    count = 0
    for line in text.splitlines():
        fields = line.split()
        if len(fields) == 5 and fields[1] == "rw-p":  # no path: anonymous
            start, end = (int(x, 16) for x in fields[0].split("-"))
            count += (end - start) // 1024 >= least_kib
    return count
