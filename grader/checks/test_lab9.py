"""Lab 9: the chat server with a thread per client.  Handout labs/lab9/README.md.

Program: ``thread_chat_server PORT [MAX_CLIENTS]``, the chat protocol of lab 8 with one
thread per client and the client list shared under a mutex.  The checks here are the
threads' own: Helgrind finds no race and no lock-order problem on a short, fixed script of
joins, lines and departures; threads (and their stacks) end with their clients; SIGINT with
clients connected ends every thread, exit 0, nothing leaked (glibc's per-thread block from
pthread_create is not counted); a client that left is never sent to; a descriptor is closed
once; a client that does not read stalls nobody (the mutex is never held across a send that
waits).

Clients are :class:`Member` s (harness.net.TcpClient); a member greets the room when it
joins, and the join is complete once every member already there got the greeting: only
then is the newcomer surely in the list, so no check races the server's own join.
"""
import signal
import socket
import threading

import pytest

from harness import common, crowd, net, proc, strace, timing, valgrind
from harness.lab import stop_server
from harness.report import CheckFailed, fail, show

pytestmark = pytest.mark.lab9
SERVER = "thread_chat_server"
SOURCES = [SERVER + ".c"]
#: How long one relayed line may take to arrive (seconds, before scaling); under Valgrind.
LINE = 2.0
LINE_VALGRIND = 5.0
#: The longest line the server relays, newline included.
LINE_LIMIT = 1024
#: How many more thread stacks a server may hold after a second round of 20 clients than
#: after the first (glibc keeps a few stacks of ended threads for reuse); threads neither
#: joined nor detached keep 20 more.
STACK_SLACK = 3


class Member(net.TcpClient):
    """A chat client of the server under test."""

    def __init__(self, port, rcvbuf=None):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:  # set before connect: the window the server sees stays small
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timing.seconds(3))
        sock.connect((net.HOST, port))
        super().__init__(port, sock=sock)
        self.name = f"127.0.0.1:{self.local_port}"

    def relayed(self, line):
        """What the others must get when this member sends ``line``."""
        return f"{self.name}: ".encode() + line

    def expect(self, want, timeout):
        """Read until exactly ``want`` came (or the deadline); return what came."""
        return self.recv_exact(len(want), timeout)

    def hears(self, lines, timeout):
        """Read until every one of ``lines`` came since the last call (in any order, among
        anything else), or the deadline; return True when they all came."""
        deadline = timing.Deadline(timing.seconds(timeout))
        since = getattr(self, "_heard", 0)
        while not all(line in self.received[since:] for line in lines):
            if deadline.expired() or self.eof or not self._recv_into(bytearray(), 65536, deadline):
                return False
        self._heard = len(self.received)
        return True


class Room:
    """The members of one server under test, joined one by one (see the module's docstring)."""

    def __init__(self, server, port, line=LINE, lenient=False):
        self.server = server
        self.port = port
        self.line = line
        #: Lenient: a member only has to hear what it must, among anything else (Helgrind's
        #: script, which judges the threads, not the relay).
        self.lenient = lenient
        self.members = []

    def join(self, rcvbuf=None):
        """A new member greets the room; returns it once every member got the greeting."""
        member = Member(self.port, rcvbuf)
        if not self.members:  # nobody to hear a greeting: its connection line will do
            if not self.server.wait_line(f"connection from {member.name}",
                                         timing.seconds(self.line)):
                fail(f"connected a client to `{self.server.shown}`",
                     expected=f"`connection from {member.name}` on stdout", got="no such line",
                     stderr=self.server.err(), note=f"stdout: {show(self.server.out())}",
                     hint="print `connection from IP:PORT` (flushed) at each accept")
            self.members.append(member)
            return member
        greeting = f"hello from {member.name}\n".encode()
        member.send(greeting)
        for other in self.members:
            if self.lenient:
                got = member.relayed(greeting) if other.hears([member.relayed(greeting)], self.line) \
                    else bytes(other.received[-200:])
            else:
                got = other.expect(member.relayed(greeting), self.line)
            if got != member.relayed(greeting):
                fail(f"started `{self.server.shown}`; {len(self.members)} client(s) joined, then "
                     f"{member.name} joined and sent {show(greeting)}",
                     expected=f"{other.name} gets {show(member.relayed(greeting))}",
                     got=show(got), stderr=self.server.err(),
                     hint=relay_hint(got, member.relayed(greeting)))
        self.members.append(member)
        return member

    def leave(self, member):
        member.close()
        self.members.remove(member)

    def close(self):
        for member in self.members:
            member.close()
        self.members = []


def relay_hint(got, want):
    """The likely mistake behind a relayed line that did not come as it should."""
    if not got:
        return ("nothing was relayed: each thread reads its client and sends every complete "
                "line to every other client in the list (the chat protocol of lab 8)")
    if got == want.split(b": ", 1)[1]:
        return "the line came without its prefix: send `IP:PORT: ` (the sender's address) first"
    return None


def blocked_calls(server):
    """How the server's threads wait now: ``{"recvfrom": 3, "futex": 2}``."""
    counts = {}
    for call in crowd.thread_calls(server.pid).values():
        counts[call] = counts.get(call, 0) + 1
    return counts


def describe_calls(counts):
    return ", ".join(f"{n} in {call}" for call, n in sorted(counts.items())) or "(no thread)"


def stop(server):
    """Stop a server at the end of a check's script: SIGINT, then a kill; its exit status."""
    server.wait_blocked()
    status = stop_server(server)
    if status is None:
        server.kill()
    return status


# -- the build -------------------------------------------------------------------------------


@pytest.mark.points(4)
def test_builds_without_warnings(lab):
    """thread_chat_server.c compiles without a warning (-std=c11 -Wall -Wextra -pthread)"""
    common.no_warnings(lab, [SERVER])


# -- the threads -----------------------------------------------------------------------------


def burst(members, lines, timeout):
    """Every member sends its ``lines`` at once (``#`` stands for its name); each must hear all
    the others' lines, in any order.  Fails naming the first member that did not."""
    own = {m: [line.replace(b"#", m.name.encode()) for line in lines] for m in members}
    for i in range(len(lines)):
        for member in members:
            member.send(own[member][i])
    for member in members:
        want = [m.relayed(line) for m in members if m is not member for line in own[m]]
        if not member.hears(want, timeout):
            fail(f"{len(members)} clients each sent {len(lines)} line(s) at once",
                 expected=f"{member.name} gets the {len(want)} lines of the others",
                 got=f"{show(bytes(member.received[-300:]))} (the last bytes it got)",
                 hint=relay_hint(bytes(member.received), want[0]))


def chat_script(server, port):
    """Helgrind's fixed script: three members chat at once; one leaves while another speaks
    and two join; a line too long drops its sender; four members speak at once; three leave
    at once while another joins; two are still connected when SIGINT comes.

    The first exchange must work (else Helgrind would watch threads that do nothing); after
    it, the script goes on whatever the chat does, for Helgrind judges the threads, and the
    other checks the chat.  Returns the room."""
    room = Room(server, port, LINE_VALGRIND, lenient=True)
    a, b, c = room.join(), room.join(), room.join()
    burst([a, b, c], [f"line {i} of #\n".encode() for i in range(3)], LINE_VALGRIND)
    room.line = LINE  # from here on: waits that may pass, then on
    try:
        spoken = b"a goes while I speak\n"
        b.send(spoken)
        room.leave(a)
        c.hears([b.relayed(spoken)], LINE)
        room.join()
        room.join()
        long_one = Member(port)
        long_one.send(b"x" * (LINE_LIMIT + 100))
        long_one.recv_until_eof(LINE)
        long_one.close()
        burst(list(room.members), [b"bye from #\n"], LINE)
        for member in room.members[:3]:
            member.close()
        room.members = room.members[3:]
        room.join()
    except (CheckFailed, OSError):
        pass
    return room


@pytest.mark.points(24)
@pytest.mark.deadline(40)
def test_helgrind_clean(lab):
    """Helgrind finds no data race and no lock-order problem while clients chat, join and leave at once"""
    server, port = lab.start_server(SERVER, 0, use_valgrind="helgrind")
    room, broken = None, None
    try:
        room = chat_script(server, port)
    except CheckFailed as exc:
        broken = exc
    except OSError as exc:
        broken = CheckFailed(f"ran a short chat through `{server.shown}` under Helgrind",
                             expected="the clients served", got=f"{type(exc).__name__}: {exc}",
                             stderr=server.err())
    stop(server)  # how it ends is judged by test_sigint_ends_every_thread_cleanly
    if room:
        room.close()
    common.helgrind_clean(server, f"`{server.shown}` with clients chatting, joining and leaving "
                                  "at once (then SIGINT)", SOURCES)
    if broken:  # no race seen, but the script stopped short: nothing proves the threads safe
        broken.note = ("Helgrind found nothing, but the chat stopped short, so it saw too little: "
                       "this check passes once the chat works")
        raise broken


def round_of_20(server, port, what):
    """20 members join at once, one speaks to all, all leave at once."""
    members = [Member(port) for _ in range(20)]
    deadline = timing.Deadline(timing.seconds(5))
    for member in members:
        if not server.wait_line(f"connection from {member.name}", deadline.left()):
            fail(f"{what}: connected 20 clients to `{server.shown}`",
                 expected=f"`connection from {member.name}`", got="no such line within 5 s",
                 stderr=server.err(), hint="print `connection from IP:PORT` at each accept")
    speaker = members[0]
    for member in members[1:]:  # every member greets, the speaker hears each: all are in
        member.send(f"hello from {member.name}\n".encode())
    want = sum(len(m.relayed(f"hello from {m.name}\n".encode())) for m in members[1:])
    got = speaker.recv_exact(want, timing.seconds(LINE))
    if len(got) != want:
        fail(f"{what}: 19 of 20 clients sent a line each to `{server.shown}`",
             expected=f"the 20th gets all 19 lines ({want} bytes)", got=f"{len(got)} bytes",
             stderr=server.err(), hint=relay_hint(got, b"x: y"))
    for member in members:
        member.close()


def idle_again(server, idle, what):
    """Wait until the server is back to ``idle`` threads; fail, saying where they wait, if not."""
    back = crowd.wait_for(server.pid, lambda t: t.root is None or t.root.threads <= idle, 3)
    if back.root is None:
        fail(f"{what}, then counted the server's threads",
             expected="the server still running", got=proc.describe_status(server.wait(1)),
             stderr=server.err(), hint="a client that leaves ends its own thread, not the server")
    if back.root.threads > idle:
        calls = blocked_calls(server)
        if calls.get("futex") and calls.get("running"):
            hint = ("threads wait for the mutex while one thread keeps running: a loop that never "
                    "ends with the mutex held (a walk of the client list whose links are broken, "
                    "for example by a client freed while still in it?)")
        elif calls.get("futex"):
            hint = ("threads wait for a mutex (or a condition variable) that is never released: "
                    "unlock the mutex on every path out of the code that locked it")
        elif calls.get("recvfrom") or calls.get("read"):
            hint = ("threads still wait in recv() for clients that have gone: a thread ends when "
                    "recv() returns 0 (the client closed) or fails")
        else:
            hint = "a client thread must end (return from its function) when its client leaves"
        fail(f"{what}, then counted the server's threads (/proc/PID/task) for 3 s",
             expected=f"{idle} thread(s), as before the clients came",
             got=f"{back.root.threads} threads: {describe_calls(calls)}", stderr=server.err(),
             hint=hint)


@pytest.mark.points(16)
@pytest.mark.deadline(30)
def test_threads_end_with_their_clients(lab):
    """threads end with their clients: after 20 clients leave, the thread count and memory return to their idle values"""
    server, port = lab.start_server(SERVER, 0)
    idle = crowd.tree(server.pid).root.threads
    stacks = []
    for round_ in (1, 2):
        what = f"round {round_}: 20 clients joined, spoke and left at once"
        round_of_20(server, port, what)
        idle_again(server, idle, what)
        stacks.append(crowd.stack_mappings(server.pid))
    if None not in stacks and stacks[1] - stacks[0] > STACK_SLACK:
        fail(f"twice: 20 clients joined `{server.shown}`, spoke and left; the threads ended each "
             "time; then counted the thread stacks still mapped (/proc/PID/maps: writable "
             "anonymous mappings of 1 MiB or more)",
             expected="as many after the second round as after the first (the stacks of ended "
                      "threads are freed or reused)",
             got=f"{stacks[0]} after the first, {stacks[1]} after the second "
                 f"(+{stacks[1] - stacks[0]}: about one per client thread of the round)",
             hint="a thread that ends but is neither joined nor detached keeps its stack "
                  "(8 MiB) for ever: pthread_detach() each client thread once it is created "
                  "(or pthread_join() it)")


def sigint_hint(status, calls):
    """The likely mistake behind a server that did not exit 0 on SIGINT with clients connected."""
    if status == -signal.SIGINT:
        return ("SIGINT killed the server: handle SIGINT and SIGTERM (sigaction), then shut "
                "every client down, wait for every client thread, and return 0")
    if status is None and calls.get("futex"):
        return ("the main thread waits for client threads that never end (in futex: a mutex or "
                "condition variable): shutdown(SHUT_RDWR) each client's socket so that its recv() "
                "returns 0, and signal the condition variable as each thread ends")
    if status is None:
        return ("the server did not stop: only one thread may take SIGINT (block SIGINT and "
                "SIGTERM with pthread_sigmask before creating threads), and it must be woken "
                "from its wait (pselect with the signals unblocked, or sigwait)")
    return None


@pytest.mark.points(16)
@pytest.mark.deadline(40)
def test_sigint_ends_every_thread_cleanly(lab):
    """SIGINT with clients connected ends every thread and exits 0, with no leak and no descriptor left (Valgrind)"""
    server, port = lab.start_server(SERVER, 0, use_valgrind=True)
    room = Room(server, port, LINE_VALGRIND)
    a, b, _c = room.join(), room.join(), room.join()
    a.send(b"half a li")  # an unfinished line in a's buffer
    b.send(b"a whole line\n")
    a.expect(b.relayed(b"a whole line\n"), LINE_VALGRIND)
    server.wait_blocked()
    status = stop_server(server)
    calls = blocked_calls(server) if status is None else {}
    did = f"connected 3 clients to `{server.shown}` under Valgrind, then sent SIGINT"
    if status != 0:
        if status is None:
            server.kill()
        fail(did, expected="exit status 0 once every client thread has ended",
             got=proc.describe_status(status)
             + (f"; its threads: {describe_calls(calls)}" if calls else ""),
             stderr=server.err(), hint=sigint_hint(status, calls))
    room.close()
    findings = valgrind.parse(server.valgrind_log())
    if findings:
        fail(did + " (`valgrind --leak-check=full --track-fds=yes`)",
             expected="no memory error, no leak, no descriptor other than 0-2 open at exit "
                      "(glibc's own per-thread block is not counted)",
             got="\n".join(str(f) for f in findings[:6]), stderr=server.err(),
             hint=valgrind.hint_for(findings) + "; and every client thread must have ended (its "
                  "socket closed, its memory freed) before main returns")


@pytest.mark.points(14)
@pytest.mark.deadline(40)
def test_departed_client_never_sent_to(lab):
    """a client that left is never sent to, even when a newcomer gets its descriptor number (Valgrind)"""
    server, port = lab.start_server(SERVER, 0, use_valgrind=True)
    room = Room(server, port, LINE_VALGRIND)
    a, b = room.join(), room.join()
    gone = a.name
    room.leave(a)
    if not server.wait_line(f"closed {gone}", timing.seconds(LINE_VALGRIND)):
        fail(f"connected clients A and B to `{server.shown}`; A left",
             expected=f"`closed {gone}` on stdout", got="no such line", stderr=server.err(),
             hint="print `closed IP:PORT` when a client has left")
    c = room.join()
    first, marker = b"after A left\n", b"and a second line\n"
    b.send(first + marker)
    want = b.relayed(first) + b.relayed(marker)
    got = c.recv_exact(len(want), timing.seconds(LINE_VALGRIND))
    if not got.endswith(b.relayed(marker)):
        got += c.recv_exact(len(b.relayed(marker)) * 4, timing.seconds(1))
    status = stop(server)
    room.close()
    log = server.valgrind_log()
    freed = [str(f) for f in valgrind.parse(log) if f.kind == "error"]
    stale = any("free'd" in line for line in log)
    err = server.err().decode("utf-8", "replace")
    dropped_gone = gone in err
    copies = got.count(b.relayed(first))
    if copies != 1 or stale or dropped_gone:
        evidence = []
        if copies != 1:
            evidence.append(f"C (the newcomer, on A's old descriptor) got B's line {copies} times: "
                            f"{show(got)}")
        if stale:
            evidence.append("Valgrind: memory used after it was freed: " + "; ".join(freed[:2]))
        if dropped_gone:
            evidence.append(f"stderr names A ({gone}) after it had left")
        hint = None
        if copies > 1 or stale or dropped_gone:
            hint = ("a client that left is still in the list: take it out of the list (under the "
                    "mutex) before its socket is closed and its memory freed; otherwise its "
                    "descriptor, reused by the next client, gets lines twice")
        fail(f"under Valgrind: clients A and B joined `{server.shown}`, A left, C joined (and "
             "got A's descriptor number), B sent a line",
             expected="C gets B's line once; nothing touches A's memory or socket after it left",
             got="\n".join(evidence), stderr=server.err(),
             note=f"the server: {proc.describe_status(status)}", hint=hint or relay_hint(got, want))


def fill_until_dropped(server, speaker, reader_name, limit=16 << 20):
    """``speaker`` sends 1000-byte lines until the server drops ``reader_name`` for not
    reading (or ``limit`` bytes went); returns the bytes sent."""
    line = b"y" * 999 + b"\n"
    sent = 0
    deadline = timing.Deadline(timing.seconds(10))
    while sent < limit and not deadline.expired():
        try:
            speaker.send(line * 64)
        except OSError:  # the server stopped reading the speaker: another check's business
            break
        sent += len(line) * 64
        if b"dropped " + reader_name.encode() in server.stderr.bytes():
            break
    return sent


@pytest.mark.points(12)
@pytest.mark.deadline(40)
def test_descriptor_closed_once(lab):
    """every descriptor is closed once: by dropped clients (not reading, line too long) and at SIGINT (strace)"""
    log = lab.log_path("close.strace")
    server, port = lab.start_server(SERVER, 0, strace_log=log, strace_trace="close")
    room = Room(server, port)
    deaf = room.join(rcvbuf=4096)
    speaker, rude = room.join(), room.join()
    rude.send(b"z" * (LINE_LIMIT + 100))  # a line too long: dropped
    rude.recv_until_eof(LINE)
    room.members.remove(rude)
    fill_until_dropped(server, speaker, deaf.name)  # a client that does not read: dropped
    deaf.close()
    room.members.remove(deaf)
    status = stop(server)
    room.close()
    try:
        text = log.read_text(errors="replace")
    except OSError:
        text = ""
    twice = [f"close({args}) = {result}" for name, args, result in strace.calls(text, "close")
             if result.startswith("-1 EBADF")]
    if twice:
        fail(f"under strace: `{server.shown}` dropped a client whose line was too long and one "
             "that did not read, then got SIGINT with a client connected",
             expected="each descriptor closed once (no close() fails with EBADF)",
             got="\n".join(twice[:4]), stderr=server.err(),
             note=f"the server: {proc.describe_status(status)}",
             hint="a descriptor closed twice: only the client's own thread closes its socket, once; "
                  "another thread that must disconnect it calls shutdown() (which wakes the "
                  "client's recv()), never close(); a second close() may close the connection "
                  "of a newcomer that got the same number")


def read_while_flowing(member, want, stall):
    """Read up to ``want`` bytes for as long as they keep coming (``stall`` s without a byte
    ends it); return them."""
    got = bytearray()
    while len(got) < want:
        chunk = member.recv_exact(min(65536, want - len(got)), stall)
        if not chunk:
            break
        got += chunk
    return bytes(got)


def wait_for_calls(server, predicate, timeout):
    """Poll how the server's threads wait until ``predicate(counts)`` (or the deadline)."""
    deadline = timing.Deadline(timing.seconds(timeout))
    while True:
        calls = blocked_calls(server)
        if predicate(calls) or deadline.expired():
            return calls
        deadline_left = min(0.02, deadline.left())
        threading.Event().wait(deadline_left)  # polling /proc, with a deadline


@pytest.mark.points(14)
@pytest.mark.deadline(40)
def test_nonreader_does_not_stall_the_room(lab):
    """while one client does not read, the others chat on and newcomers join (no thread waits in send holding the mutex)"""
    server, port = lab.start_server(SERVER, 0)
    room = Room(server, port)
    deaf = room.join(rcvbuf=4096)
    speaker, listener = room.join(), room.join()
    line = b"w" * 999 + b"\n"
    count = 4096  # 4 MB: far more than a socket's buffers hold
    want = len(speaker.relayed(line)) * count
    sender = threading.Thread(target=lambda: speaker.send(line * count), daemon=True)
    sender.start()
    got = read_while_flowing(listener, want, 2.0)
    # The others go on: the listener speaks, a newcomer joins and speaks.
    question, knock = b"still there?\n", b"may I join?\n"
    listener.send(question)
    late = Member(port)
    late.send(knock)
    heard = listener.expect(late.relayed(knock), LINE)
    calls = {}
    if len(got) != want or heard != late.relayed(knock):
        calls = wait_for_calls(server, lambda c: c.get("futex"), 1.0)
    late.close()
    deaf.close()
    room.close()
    sender.join(timeout=1)
    if len(got) != want or heard != late.relayed(knock):
        stuck_sending = calls.get("sendto", 0) + calls.get("write", 0)
        if stuck_sending and calls.get("futex"):
            hint = ("a thread blocks in send() to the client that does not read while it holds the "
                    "mutex, and every other thread waits for the mutex: send with MSG_DONTWAIT "
                    "(never wait with the mutex held) and drop a client that cannot take a line")
        elif stuck_sending:
            hint = ("a thread blocks in send() to the client that does not read: send with "
                    "MSG_DONTWAIT and drop (`dropped IP:PORT: not reading`) a client that cannot "
                    "take the line whole")
        else:
            hint = None
        fail(f"3 clients joined `{server.shown}`; one stopped reading (small receive buffer); "
             f"another sent {count} lines of 1000 bytes; then the third spoke and a newcomer "
             "joined and spoke",
             expected=f"the third gets all {want} bytes of those lines, then the newcomer's line",
             got=f"{len(got)} bytes (then nothing for 2 s)" if len(got) != want else
             f"all {want} bytes, then {show(heard)} instead of the newcomer's line",
             note=f"the server's threads then: {describe_calls(calls)}", stderr=server.err(),
             hint=hint)
