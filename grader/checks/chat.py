"""The chat checks, written once: lab 8's server (poll) and lab 9's (a thread per client),
and the chat client of both.  Contract: the chat protocol of labs 8 and 9 (handouts
labs/lab8/README.md and labs/lab9/README.md).

Each check is a plain function of the ``lab`` fixture that drives ``lab.server`` and
``lab.client``; a lab's check module turns it into a check with its own points::

    test_relays_with_prefix = chat.check(chat.relays_with_prefix, 7)

The grader plays the other clients with :class:`harness.chat.Room` (non-blocking
sockets and one selector, no thread per client).  The server's `connection from
IP:PORT` line is taken as the sign that a client is in the room: a line sent after it
must reach that client.  Every wait has a deadline; a window in which something must
not happen is closed by a later event the server handles in order (a second line),
never by a fixed sleep.
"""
import collections
import contextlib
import os
import re
import signal
import socket
import threading
import time

from harness import common, crowd, net, proc, timing
from harness.chat import Room, chunks
from harness.common import deadline
from harness.lab import READY_LINE, stderr_hint, stop_server
from harness.report import fail, show

#: The longest line the protocol allows, newline included.
LINE_MAX = 1024
#: How soon a line must reach the others, however many clients stall (seconds).
PROMPT = 0.5
#: A chat check made a check of lab 8 or 9, with its points (see the module's docstring).
check = common.check


def threaded(lab):
    """True for the thread-per-client server (lab 9): some hints differ."""
    return "thread" in lab.server


def waits_in_one_place(lab):
    """How the server must wait, in the words of its lab (for hints)."""
    if threaded(lab):
        return ("each client has its own thread, and a thread never holds the clients' "
                "mutex while it waits in recv() or send()")
    return ("the server waits in one place only, poll() (or select()) on every socket, and "
            "calls recv() or accept() only on a socket poll() reported ready")


# -- the room ----------------------------------------------------------------------------


def start(lab, *args, **kw):
    """The server, started on port 0, and a :class:`Room` on its port."""
    server, port = lab.start_server(lab.server, 0, *args, **kw)
    return server, Room(port)


def join(server, room, count, timeout=3.0, stalled=None, at_once=False, **kw):
    """``count`` participants connected to ``server`` and in the room (its `connection from`
    line printed for each); fails the check, saying why, when they cannot join (``stalled``:
    the hint when the server, alive, took none of them).

    They join one at a time, each once the server is idle (every thread of it asleep,
    the one just created for the last newcomer too) and is in the room before the next
    connects, so what a check sees never depends on how the server's threads happened to
    be scheduled (a thread that holds the mutex in recv() locks out the second client every
    time, not now and then) nor on the listen backlog.  ``at_once`` connects them all
    together (a burst: the backlog is what is checked)."""
    if at_once:
        return _join(server, room, count, timeout, stalled, [], **kw)
    members = []
    for _ in range(count):
        wait_idle(server, room)
        members += _join(server, room, 1, timeout, stalled, members, **kw)
    return members


def wait_idle(server, room, timeout=1.0, unless=None):
    """Pump the room until every thread of the server sleeps in a system call, the same
    one on two looks a few ms apart, without having run in between; True then, False
    after ``timeout`` s (a server that spins is judged by what follows), or as soon as
    ``unless()`` is true (what the check waits for showed a spinning server already).

    One look was not enough: a lab 9 mutant whose client thread holds the mutex in recv()
    let the second client in, in 1 grading of 3 under run_all (it keeps the first one out
    every time once that thread exists). Most likely the server was seen asleep for an
    instant between the first client's `connection from` line and its thread."""
    deadline = timing.Deadline(timing.seconds(timeout))
    while True:
        found = crowd.sleepers(server.pid)
        if found is not None:
            room.pump(min(0.002, deadline.left()))  # then look again
            if crowd.still_asleep(found):
                return True
        if deadline.expired() or (unless is not None and unless()):
            return False
        if found is None:
            room.pump(min(0.005, deadline.left()))


class Pace:
    """The steps of a fixed script (joins, departures), each once the server has settled,
    so that what follows never depends on how its threads were scheduled.

    The script goes on whatever the server does: once it fails to settle (a thread spins)
    or a line it owes does not come, the pace stops waiting for that, so that a broken
    server costs ``patience`` s, not that much per step."""

    def __init__(self, server, room, patience=1.0):
        self.server, self.room, self.patience = server, room, patience
        self.settles = True  # every thread went back to sleep so far
        self.says = True     # every `connection from` / `closed` line came so far

    def idle(self):
        if self.settles:
            self.settles = wait_idle(self.server, self.room, self.patience)

    def line(self, pattern, start):
        """Wait for a stdout line from index ``start`` on (the lines printed since the step
        began: a port reused within the check must not match an old line)."""
        if self.says:
            self.says = bool(self.server.wait_line(pattern, timing.seconds(self.patience),
                                                   start=start))

    def mark(self):
        """How many complete lines the server has printed: where a step's lines begin."""
        return self.server.out().count(b"\n")

    def arrive(self):
        """One more client, once the server is idle; its `connection from` line awaited."""
        self.idle()
        start = self.mark()
        p, = self.room.join(1)
        self.line(f"connection from {re.escape(p.name)}", start)
        return p

    def leave(self, p, since=None):
        """``p`` leaves; its `closed` line and the server's rest awaited. ``since``: the
        :meth:`mark` taken before whatever may have made the server drop ``p`` already
        (its `closed` line may be printed before ``p`` closes its side)."""
        start = self.mark() if since is None else since
        p.close()
        self.line(f"closed {re.escape(p.name)}", start)
        self.idle()


def _join(server, room, count, timeout, stalled, before, **kw):
    """``count`` more participants, at once, beside ``before`` (in the room already)."""
    try:
        members = room.join(count, timeout=timeout, **kw)
    except OSError as exc:
        status = server.poll()
        fail(f"connected {count} client(s) to `{server.shown}` on the port it printed "
             f"({room.port})" + in_room_already(before), expected="the connections accepted",
             got=f"{exc}" + (f"; the server: {proc.describe_status(status)}"
                             if status is not None else ""), stderr=server.err(),
             hint=("print the port getsockname() reports, through ntohs()"
                   if isinstance(exc, ConnectionRefusedError) and status is None else None))
    expect_joined(server, members, timeout, stalled, before)
    return members


def in_room_already(before):
    """How many clients were in the room already, for a report ("" for none)."""
    return f", with {len(before)} in the room already" if before else ""


def name_of(client):
    """``IP:PORT`` of a grader's client as the server sees it (a Participant, a stalled one)."""
    return f"{net.HOST}:{client.local_port if hasattr(client, 'local_port') else client.port}"


class StandIn:
    """A client the room does not play (a stalled one), named for :func:`diagnose`."""

    def __init__(self, client):
        self.port = client.local_port
        self.name = name_of(client)


def expect_joined(server, members, timeout=3.0, stalled=None, before=()):
    """Wait until the server printed `connection from NAME` for each of ``members`` (joining
    beside ``before``, in the room already)."""
    want = {f"connection from {name_of(p)}" for p in members}

    def all_there(data):
        return want <= set(data.decode("utf-8", "replace").splitlines())
    if not server.stdout.wait_until(all_there, timing.seconds(timeout)):
        seen = [line for line in server.lines() if line.startswith("connection from")]
        mine = [line for line in seen if line in want]
        fail(f"connected {len(members)} client(s) to `{server.shown}`" + in_room_already(before),
             expected=f"`connection from IP:PORT` for each, within {timeout:g} s "
                      f"(first: `connection from {name_of(members[0])}`)",
             got=f"{len(mine)} of them" + (f"; its last such line: {show(seen[-1])}"
                                            if seen and len(mine) < len(seen) else ""),
             stderr=server.err(),
             hint=stalled if stalled and len(mine) < len(members) and server.poll() is None
             else joined_hint(server, members, seen, mine, before))


def joined_hint(server, members, seen, mine, before=()):
    """Why the server did not report every client: it ended, a wrong address, too few taken."""
    if stderr_hint(server.err()):
        return stderr_hint(server.err())
    if server.poll() is not None:
        return f"the server ended ({proc.describe_status(server.poll())}) instead of serving"
    ports = {int(line.rsplit(":", 1)[1]) for line in seen if line.rsplit(":", 1)[-1].isdigit()}
    mine_ports = {int(name_of(p).rsplit(":", 1)[1]) for p in members}
    if ports and not ports & mine_ports and ports & {net.swapped(p) for p in mine_ports}:
        return "the client's port is byte-swapped: print ntohs(addr.sin_port)"
    if before and not mine:
        return (f"the server took {len(before)} client(s), then not the next one while they "
                "stayed connected and silent: go on accepting newcomers whatever the clients "
                "already in the room do (never wait for one of them)")
    if mine and len(mine) < len(members):
        return (f"the server took only {len(mine)} of the {len(members)} clients: keep accepting "
                "while clients are connected; the table of clients must hold at least 100 "
                "(with select(), mind FD_SETSIZE)")
    return ("print `connection from IP:PORT` (flushed) as soon as a client is accepted and "
            "in the room")


def prefixed(sender, line):
    """What the others must receive for ``line`` from ``sender``."""
    return f"{sender.name}: ".encode() + line



#: The hints of the relay's classic mistakes, chosen by :func:`diagnose`.
NO_PREFIX = ("the line came without its sender's prefix: send `IP:PORT: ` (the sender's "
             "address as accept() reported it, a colon and a space) before the line")
SWAPPED = "the sender's port is byte-swapped in the prefix: ntohs(addr.sin_port)"
OWN_LINE = ("the sender got its own line back: relay to every client except the one that sent "
            "the line")
WHOLE_READ = ("several lines that came in one recv() went out as one message, only the first "
              "with the prefix: relay each complete line on its own, each with the prefix")
PIECES = ("a line reached the others in pieces, one per recv(): a recv() returns whatever has "
          "arrived, not a line; keep each client's bytes in its own buffer and relay only when "
          "the newline has come")
LOST_START = ("lines lost their beginning: what followed a line in the same recv() was thrown "
              "away; keep the bytes after the newline as the start of the next line")
MIXED = ("the bytes of two clients were mixed into one line: each client needs a line buffer "
         "of its own (one shared buffer mixes their pieces)")


def diagnose(receiver, sent):
    """The classic relay mistake that ``receiver``'s lines show, or None.

    ``sent`` maps each sender (a Participant) to the lines it sent, without prefix.
    """
    relayed = collections.Counter(prefixed(p, line) for p, lines in sent.items() for line in lines)
    copies = collections.Counter(x for x in receiver.lines() if x in relayed)
    repeats = max((n // relayed[x] for x, n in copies.items()), default=0)
    if repeats > 2:  # each line relayed over and over: not one stale entry (twice)
        return LOOPED.format(repeats)
    raw = {line for lines in sent.values() for line in lines}
    own = {p: set(lines) for p, lines in sent.items()}
    names = {f"{p.name}: ".encode(): p for p in sent}
    got = receiver.lines() + ([bytes(receiver._partial)] if receiver._partial else [])
    heads = [next((n for n in names if line.startswith(n)), None) for line in got]
    cut = False  # a whole line's end without its start: bytes after a newline thrown away
    for line, head in zip(got, heads):
        if head is None:
            if line in raw:
                return WHOLE_READ if any(heads) else NO_PREFIX
            if any(line.startswith(f"{HOST_TEXT}{net.swapped(p.port)}: ".encode()) for p in sent):
                return SWAPPED
            continue
        sender, body = names[head], line[len(head):]
        if sender is receiver and body in raw:
            return OWN_LINE
        if body in own[sender]:
            continue
        if (body.endswith(b"\n") and not any(n in body for n in names)
                and any(x.endswith(body) for x in own[sender])):
            cut = True
            continue
        own_text = b"".join(sent[sender])
        if any(n in body for n in names) or body.rstrip(b"\n") in own_text:
            return PIECES
        if len(sent) > 1:
            return MIXED
    return LOST_START if cut else None


HOST_TEXT = "127.0.0.1:"
#: The hint of a receiver that got one line over and over (:func:`diagnose`).
LOOPED = ("one line arrived {} times over: the walk over the clients never ends, so the list of "
          "clients loops back on itself, as when a client's struct is freed while still in the "
          "list and reused for a newcomer; take a client out of the list before freeing it")


# -- the relay -----------------------------------------------------------------------------


def relays_with_prefix(lab):
    """a line from one client reaches every other client with the sender's `IP:PORT: ` prefix, never the sender"""
    server, room = start(lab)
    with room:
        a, b, c = join(server, room, 3)
        line = b"hello, room\n"
        a.send(line)
        room.wait(lambda: b.lines() and c.lines(), 3)
        want = prefixed(a, line)
        did = f"connected clients A, B and C to `{server.shown}`; A sent {show(line)}"
        for name, member in (("B", b), ("C", c)):
            if member.lines()[:1] != [want]:
                fail(did, expected=f"{name} receives {show(want)}",
                     got=f"{name} received {show(bytes(member.received))}", stderr=server.err(),
                     hint=diagnose(member, {a: [line]}) or
                     ("nothing reached the others: relay each complete line to every other "
                      "client" if not member.received else None))
        # The sender must not get its own line: B answers, and the first line A receives
        # must be B's (A's own line, had it come back, was sent to A before B's). B answers
        # once A's relay is over: a server with one buffer for all mixed the two lines in
        # some gradings (the thread that relayed A's line had not emptied it yet).
        answer = b"hi A\n"
        wait_idle(server, room)
        b.send(answer)
        room.wait(lambda: a.lines() and len(c.stamped) >= 2, 3)
        if a.lines()[:1] != [prefixed(b, answer)]:
            fail(did + f", then B sent {show(answer)}",
                 expected=f"A receives only B's line: {show(prefixed(b, answer))}",
                 got=f"A received {show(bytes(a.received))}", stderr=server.err(),
                 hint=diagnose(a, {a: [line], b: [answer]}))


def show_lines(lines, most=6):
    """Received lines, shown one after the other (at most ``most``)."""
    return (" ".join(show(x) for x in lines[:most]) or show(b"")) + (
        f" ... ({len(lines)} lines)" if len(lines) > most else "")


def line_sent_one_byte_at_a_time(lab):
    """a line sent one byte at a time while another client sends its own lines: both reach the others whole"""
    server, room = start(lab)
    with room:
        slow, busy, listener = join(server, room, 3)
        slow_line = b"this line comes one byte at a time\n"
        busy_lines = [f"busy line {n}\n".encode() for n in range(4)]
        slow.send_slowly(slow_line, step=1, interval=0.003)
        # a line every 25 ms, the last two in one piece: a server that loses a line when one
        # read holds two loses one every time, not only on a machine slow enough to merge them
        busy.send_pieces(busy_lines[:2] + [busy_lines[2] + busy_lines[3]], interval=0.025)
        want = {prefixed(slow, slow_line)} | {prefixed(busy, x) for x in busy_lines}
        room.wait(lambda: len(listener.stamped) >= len(want) and not slow.unsent(), 3)
        got = listener.lines()
        if set(got) != want or len(got) != len(want):
            hint = diagnose(listener, {slow: [slow_line], busy: busy_lines})
            if hint is None and not any(x.startswith(f"{slow.name}: ".encode()) for x in got):
                hint = ("A's line never arrived: keep the start of a line that has no newline "
                        "yet in the sender's buffer, add the next pieces to it, and relay it when "
                        "the newline comes")
            fail(f"connected A, B and C to `{server.shown}`; A sent {show(slow_line)} one byte "
                 f"at a time while B sent {len(busy_lines)} lines of its own (the last two in "
                 "one piece)",
                 expected=f"C receives {len(want)} whole lines, A's as "
                          f"{show(prefixed(slow, slow_line))}",
                 got="C received " + show_lines(got), stderr=server.err(), hint=hint)


def two_lines_in_one_send(lab):
    """two lines that arrive in one send are relayed as two lines, each with its prefix"""
    server, room = start(lab)
    with room:
        a, b = join(server, room, 2)
        lines = [b"first of two\n", b"second of two\n"]
        a.send(b"".join(lines))
        want = [prefixed(a, x) for x in lines]
        room.wait(lambda: len(b.stamped) >= 2, 3)
        got = b.lines()
        if got[:2] != want:
            if got[:2] == [want[0], lines[1]]:
                hint = WHOLE_READ
            elif got == want[:1]:
                hint = ("only the first line of a read was relayed: after a line, look for "
                        "another newline in what is left of the same read")
            else:
                hint = diagnose(b, {a: lines})
            fail(f"connected A and B to `{server.shown}`; A sent {show(b''.join(lines))} in one "
                 "send()", expected="B receives " + " then ".join(show(x) for x in want),
                 got=f"B received {show(bytes(b.received))}", stderr=server.err(), hint=hint)


#: Lines each talker of :func:`one_order_for_everyone` sends: enough moments at which four
#: threads relay at once that a relay without the mutex shows, every time, as two receivers
#: with two orders (with 12, one grading of such a server passed and the next failed).
TALK = 40


def one_order_for_everyone(lab):
    """four clients talk at once, in pieces: every line arrives whole, each sender's in order, and everyone gets the same order"""
    server, room = start(lab)
    with room:
        members = join(server, room, 6)
        talkers, listeners = members[:4], members[4:]
        sent = {t: [f"talker {k} line {n:02d}\n".encode() for n in range(TALK)]
                for k, t in enumerate(talkers)}
        for talker, lines in sent.items():
            # 7 bytes at a time, but its last two lines in one piece: a server that loses a
            # line when one read holds two loses one every time, not only when the machine
            # was slow enough for pieces to merge (seen: one round in four)
            talker.send_pieces(chunks(b"".join(lines[:-2]), 7) + [b"".join(lines[-2:])],
                               interval=0.001)

        def expected(member):
            return [prefixed(t, x) for t, lines in sent.items() if t is not member for x in lines]
        room.wait(lambda: all(len(p.stamped) >= len(expected(p)) for p in members), 5)
        did = (f"connected 4 talkers and 2 listeners to `{server.shown}`; each talker sent {TALK} "
               "lines, 7 bytes at a time (its last two in one piece), all at once")
        reference = listeners[0].lines()
        for member in members:
            got, want = member.lines(), expected(member)
            if sorted(got) != sorted(want):
                strange = [x for x in got if x not in want]
                fail(did, expected=f"every client receives the {len(want)} lines of the others, "
                                   "each whole, once",
                     got=f"{member.name} received {len(got)} lines"
                         + (f", {len(strange)} of them not a line of another client, e.g. "
                            f"{show(strange[0])}" if strange else ""), stderr=server.err(),
                     hint=diagnose(member, sent))
            for talker, lines in sent.items():
                theirs = [x for x in got if x in {prefixed(talker, y) for y in lines}]
                if talker is not member and theirs != [prefixed(talker, y) for y in lines]:
                    fail(did, expected=f"the lines of {talker.name} in the order it sent them",
                         got=show_lines(theirs, 4), stderr=server.err(),
                         hint="relay a client's lines in the order they came")
            same = [x for x in reference if x in want]
            if got != same:
                fail(did, expected="every receiver gets the lines in one and the same order",
                     got=f"{member.name} and {listeners[0].name} differ: {show_lines(got, 3)} "
                         f"versus {show_lines(same, 3)}", stderr=server.err(),
                     hint=("relay a whole line to every receiver before the next line: with "
                           "threads, under the clients' mutex" if threaded(lab) else None))


# -- many clients, and clients that misbehave -------------------------------------------------


@deadline(20)
def hundred_clients(lab):
    """100 clients at once (a backlog of SOMAXCONN): a line from one reaches the other 99"""
    server, room = start(lab)
    idle = len(crowd.tree(server.pid).root.sockets())  # its listening socket
    with room:
        backlog = net.listen_backlog(room.port)
        if backlog is not None and backlog < 100:
            fail(f"read the backlog of `{server.shown}`'s listening socket (`ss -lnt`)",
                 expected="SOMAXCONN (a burst of 100 connections must not wait for retries)",
                 got=f"a backlog of {backlog}", stderr=server.err(),
                 hint="listen(fd, SOMAXCONN): lab 3's backlog of 5 was a lesson of lab 3")
        members = join(server, room, 100, timeout=5, at_once=True)
        line = b"one for all\n"
        members[0].send(line)
        want = prefixed(members[0], line)
        room.wait(lambda: all(p.lines() for p in members[1:]), 5)
        got = [p for p in members[1:] if p.lines()[:1] == [want]]
        if len(got) != 99:
            fail(f"connected 100 clients to `{server.shown}`; the first sent {show(line)}",
                 expected="each of the other 99 receives " + show(want),
                 got=f"{len(got)} of them did", stderr=server.err(),
                 hint=diagnose(members[1], {members[0]: [line]}) or (
                     "the relay loop must reach every client in the room" if got else None))
        # Nothing grows with the clients served: once all have left, the server holds
        # as many sockets as before the first came.
        for p in members:
            p.close()
        server.stdout.wait_until(lambda data: data.count(b"\nclosed ") >= 100, timing.seconds(5))
        after = crowd.wait_for(server.pid, lambda tree: tree.root is None
                               or len(tree.root.sockets()) <= idle, 3)
        if after.root is not None and len(after.root.sockets()) > idle:
            fail(f"connected 100 clients to `{server.shown}`, then closed them all, counting "
                 "the server's sockets (/proc/PID/fd)",
                 expected=f"{idle} socket(s) once they have left, as before the first came",
                 got=f"{len(after.root.sockets())} sockets", stderr=server.err(),
                 hint="close() the socket of every client that leaves (taking it out of the "
                      "table is not enough): each one left open is a descriptor lost")


def stalled_clients_delay_nobody(lab):
    """clients that stall (silent, or half a line) delay nobody: lines get through within 0.5 s"""
    server, room = start(lab)
    with room:
        stalled = crowd.stall(room.port, 1)  # connects, says nothing, never reads
        try:
            expect_joined(server, stalled)
            waits = ("the server waits for the silent client (in recv(), or in accept() for "
                     "the next): " + waits_in_one_place(lab))
            a, b = join(server, room, 2, timeout=PROMPT * 4, stalled=waits)
            prompt(server, room, a, b, b"with a silent client\n",
                   "a client connected and sent nothing; then A sent a line", waits, {})
            stalled += crowd.stall(room.port, 1, partial=b"half a li")  # and never the rest
            expect_joined(server, stalled[1:], timeout=PROMPT * 4, stalled=waits)
            # The half line is in the server before A speaks: a server that keeps one
            # buffer for all clients mixes the two every time, not only when its thread
            # for the stalled client happened to read first.
            wait_idle(server, room)
            # What the room has sent so far, for diagnose(): the half line is the stalled
            # client's (a stand-in with its name, since it is not a Participant).
            half = StandIn(stalled[1])
            sent = {a: [b"with a silent client\n"], half: [b"half a li"]}
            for n in range(2):
                line = f"after half a line {n}\n".encode()
                prompt(server, room, a, b, line,
                       "a client sent half a line (no newline) and stalled; then A sent a line",
                       "the server waits in recv() for the rest of the stalled client's line: "
                       "keep the half line in that client's buffer and go back to waiting on "
                       "every socket; " + waits_in_one_place(lab), sent)
                sent[a].append(line)
        finally:
            crowd.close_all(stalled)


def prompt(server, room, sender, receiver, line, situation, hint, sent):
    """``sender`` sends ``line``; ``receiver`` must have it within :data:`PROMPT` s.

    ``hint`` is the hint when nothing came; ``sent`` (sender: lines) what the room sent
    before, for :func:`diagnose` when something else came.
    """
    before = len(receiver.stamped)
    sender.send(line)
    room.wait(lambda: len(receiver.stamped) > before, PROMPT)
    if receiver.lines()[before:before + 1] != [prefixed(sender, line)]:
        fail(f"`{server.shown}`: {situation}",
             expected=f"B receives {show(prefixed(sender, line))} within {PROMPT:g} s",
             got=f"B received {show(b''.join(receiver.lines()[before:]))}",
             stderr=server.err(), hint=hint if len(receiver.stamped) == before else
             diagnose(receiver, {**sent, sender: sent.get(sender, []) + [line]}))


#: A line of the flood that makes a non-reader's buffers fill up (1000 bytes, numbered).
def flood_line(n):
    return f"{n:07d} ".encode() + b"x" * 991 + b"\n"


#: Bytes of chat at most before the client that stopped reading must be dropped.
FLOOD_LIMIT = 24 << 20
#: Lines of the flood at most on their way to the reader at once.  Whatever A sent and B has
#: not read yet sits in the kernel's buffers (A's, the server's, B's); a server that finds B's
#: full drops B, rightly.  32 lines (33 KB) fit B's buffers however late the grader reads: a
#: socket's receive buffer starts at 128 KB (tcp_rmem) and only grows.
FLOOD_AHEAD = 32


def flood(room, talker, listener, done):
    """Flood the room: ``talker`` sends numbered 1000-byte lines (:func:`flood_line`), at most
    :data:`FLOOD_AHEAD` ahead of what ``listener`` has received, until ``done()`` is true,
    ``listener`` gets nothing new for 1 s, or :data:`FLOOD_LIMIT` bytes went.

    Returns (lines sent, lines ``listener`` received meanwhile, whether it got nothing new for
    the last second).  The bound keeps a busy grader fair: when it is slow to read (another
    grading beside it), A's lines already on their way still fit B's buffers, and a correct
    server has no reason to drop B as a client that does not read."""
    base = len(listener.stamped)
    sent, seen, progress = 0, 0, timing.Deadline(timing.seconds(1.0))
    while not done():
        if sent - seen <= FLOOD_AHEAD - 16 and sent < FLOOD_LIMIT // 1000:
            talker.send(b"".join(flood_line(n) for n in range(sent, sent + 16)))
            sent += 16
        room.pump(0.01)
        if len(listener.stamped) - base > seen:
            seen, progress = len(listener.stamped) - base, timing.Deadline(timing.seconds(1.0))
        elif progress.expired():
            return sent, seen, True
    return sent, seen, False


def dropped_text(client):
    """The line a server prints on stderr when it drops ``client`` as not reading."""
    return f"dropped {client.name}: not reading"


def dropped_line(server, client):
    """A function that is true once ``server`` printed :func:`dropped_text` for ``client``
    (the line the checks wait for while they flood the room)."""
    line = dropped_text(client)
    return lambda: line in server.err().decode("utf-8", "replace")


@deadline(20)
def non_reader_is_dropped(lab):
    """a client that stops reading is dropped (`dropped IP:PORT: not reading`) while the others go on"""
    server, room = start(lab)
    with room:
        sleeper, = join(server, room, 1, rcvbuf=4096)
        sleeper.stop_reading()
        talker, listener = join(server, room, 2)
        dropped = dropped_line(server, sleeper)
        did = (f"connected C (a small receive buffer; it never reads), then A and B to "
               f"`{server.shown}`; A sent 1000-byte lines, B read them")
        sent, seen, quiet = flood(room, talker, listener, dropped)
        if not dropped():
            exited = server.poll()
            if exited is not None:
                hint = f"the server ended ({proc.describe_status(exited)}): a client that does " \
                       "not read is dropped, the server goes on"
            elif sent >= FLOOD_LIMIT // 1000 and seen >= sent - 64:
                hint = ("the server never dropped the client that stopped reading: a send that "
                        "cannot take the whole line at once (EAGAIN, or fewer bytes) means that "
                        "client is not reading: print `dropped IP:PORT: not reading` and close it")
            else:
                hint = ("the whole room stalled while C did not read: the server blocked in "
                        "send() to C. Send without blocking (a non-blocking socket, or "
                        "MSG_DONTWAIT) and drop a client whose send fails with EAGAIN"
                        + (", without holding the mutex across a blocking send" if threaded(lab)
                           else ""))
            fail(did, expected=f"stderr {show(dropped_text(sleeper))} within {FLOOD_LIMIT >> 20} MB of chat, "
                               "while B keeps receiving",
                 got=f"after {sent * 1000 >> 10} KB sent, B had received {seen} of {sent} lines"
                     + (" and nothing more for 1 s" if quiet else "")
                     + "; no such line on stderr", stderr=server.err(), hint=hint)
        # The others go on: everything A sent reaches B, whole and in order.
        tail = [flood_line(n) for n in range(sent, sent + 3)]
        talker.send(b"".join(tail))
        sent += 3
        room.wait(lambda: len(listener.stamped) >= sent, 5)
        want = [prefixed(talker, flood_line(n)) for n in range(sent)]
        got = listener.lines()
        if got != want:
            differ = next((i for i, (x, y) in enumerate(zip(want, got)) if x != y), None)
            fail(did + ", until the server dropped C; then A sent 3 more lines",
                 expected=f"B receives all {sent} lines, whole and in order",
                 got=f"B received {len(got)} lines" + (
                     f"; line {differ} is {show(got[differ])}" if differ is not None else ""),
                 stderr=server.err(),
                 hint=diagnose(listener, {talker: [flood_line(n) for n in range(sent)]}) or (
                     "the others go on as if nothing happened: only the client that does not "
                     "read loses lines" if differ is None else None))
        if not server.wait_line(f"closed {re.escape(sleeper.name)}", timing.seconds(2)):
            fail(did + ", until the server dropped C",
                 expected=f"stdout `closed {sleeper.name}` (a dropped client has left)",
                 got=show("\n".join(server.lines()[-3:])), hint="close the dropped client's "
                                                               "socket and print its `closed` line")



def long_line_is_dropped(lab):
    """a line of exactly 1024 bytes is relayed; a client that sends 1025 bytes without a newline is dropped"""
    server, room = start(lab)
    with room:
        a, b, c = join(server, room, 3)
        longest = b"L" * (LINE_MAX - 1) + b"\n"
        a.send(longest)
        room.wait(lambda: b.lines() or b.eof or a.eof, 3)
        if b.lines()[:1] != [prefixed(a, longest)]:
            if a.eof:  # the server disconnected A: its stderr line is on its way
                server.stderr.wait_until(lambda data: b"dropped" in data, timing.seconds(1))
            err = server.err().decode("utf-8", "replace")
            fail(f"connected A, B and C to `{server.shown}`; A sent a line of exactly {LINE_MAX} "
                 "bytes, newline included",
                 expected=f"B receives it whole, with A's prefix ({LINE_MAX + len(a.name) + 2} bytes)",
                 got=f"B received {len(b.received)} bytes: {show(bytes(b.received))}",
                 stderr=server.err(),
                 hint=diagnose(b, {a: [longest]}) or (
                     f"a line of {LINE_MAX} bytes with its newline is valid: the line buffer "
                     f"must hold {LINE_MAX} bytes, and the message buffer the prefix too"
                     if "line too long" in err or prefixed(a, longest).startswith(b.received)
                     and b.received else None))
        too_long = b"T" * (LINE_MAX + 76)
        wait_idle(server, room)  # each sender once the previous one's line is through
        c.send(too_long)
        dropped = f"dropped {c.name}: line too long"
        room.wait(lambda: c.eof and dropped in server.err().decode("utf-8", "replace"), 3)
        did = f"then C sent {len(too_long)} bytes without a newline"
        if dropped not in server.err().decode("utf-8", "replace") or not c.eof:
            # What B got of C's bytes, complete lines or not: relayed before any newline came?
            leaked = f"{c.name}: ".encode() in bytes(b.received)
            fail(did, expected=f"stderr {show(dropped)}, and C's connection closed",
                 got=("C's connection still open; " if not c.eof else "")
                 + ("B received C's bytes; " if leaked else "")
                 + f"stderr {show(server.err()[-200:])}",
                 hint=("the server said it dropped C, but C's connection stayed open: close() "
                       "the socket of a client you drop"
                       if dropped in server.err().decode("utf-8", "replace") else
                       "C's bytes went out before any newline came: keep each client's bytes in "
                       "a line buffer of its own, relay only complete lines, and drop a client "
                       "whose buffer fills with 1024 bytes and no newline" if leaked else
                       "a line has at most 1024 bytes: when a client's buffer holds 1024 bytes and "
                       "no newline, print `dropped IP:PORT: line too long` and disconnect it"))
        late = b"still here\n"
        wait_idle(server, room)
        a.send(late)
        room.wait(lambda: len(b.stamped) >= 2, 3)
        if b.lines()[1:] != [prefixed(a, late)]:
            fail(did + f"; then A sent {show(late)}",
                 expected=f"B receives only {show(prefixed(a, late))} after the long line",
                 got=show(b"".join(b.lines()[1:])), stderr=server.err(),
                 hint=("relay nothing of a line that is too long" if any(
                     x.startswith(f"{c.name}: ".encode()) for x in b.lines()) else None))


def departed_client_is_forgotten(lab):
    """a client that left is never sent to: a newcomer that gets its descriptor receives each line once"""
    server, room = start(lab)
    with room:
        a, gone, c = join(server, room, 3)
        gone.close()
        server.wait_line(f"closed {re.escape(gone.name)}", timing.seconds(2))
        newcomer, = join(server, room, 1)
        line = b"who is here?\n"

        def looping():
            """D got the line more than twice: the walk of the list never ends, and the
            room stops waiting (the stream is endless: reading it would fill the time)."""
            return len(newcomer.stamped) > 2
        a.send(line)
        room.wait(lambda: (c.stamped and newcomer.stamped) or looping(), 3)
        answer = b"the newcomer\n"
        # A's relay over: the two lines never meet in one buffer
        wait_idle(server, room, unless=looping)
        if not looping():
            newcomer.send(answer)
            room.wait(lambda: (len(a.stamped) >= 1 and len(c.stamped) >= 2) or looping(), 3)
        did = (f"connected A, B and C to `{server.shown}`; B left; D connected (it gets B's "
               f"descriptor number); A sent {show(line)}, then D sent {show(answer)}")
        want_d, want_a = [prefixed(a, line)], [prefixed(newcomer, answer)]
        if newcomer.lines() != want_d or a.lines() != want_a:
            copies = newcomer.lines().count(prefixed(a, line))
            alias = any(x.startswith(f"{gone.name}: ".encode()) for x in a.lines() + c.lines())
            sent = {a: [line], newcomer: [answer]}
            hint = diagnose(newcomer, sent) or diagnose(a, sent)
            if copies > 2:  # not one stale entry: the walk of the list never ends
                hint = (f"D received the line {copies} times over: the walk of the list of "
                        "clients never ends, so the list loops back on itself, as when a client's "
                        "memory was used after its thread freed it (the freed struct, still in "
                        "the list, became D's); take a client out of the list, under the mutex, "
                        "before its thread frees it")
            elif copies == 2:
                hint = ("D received the line twice: B is still in the set of clients after it "
                        "left, and its descriptor number now belongs to D; take a client out of "
                        "the set when you close its socket")
            elif alias:
                hint = ("D's line went out under the name of B, who had left: B is still in the "
                        "set with its old descriptor number, which now belongs to D; take a "
                        "client out of the set when you close its socket")
            fail(did, expected=f"D receives {show(want_d[0])} once; A receives {show(want_a[0])}",
                 got=f"D received {show(bytes(newcomer.received))}; A received "
                     f"{show(bytes(a.received))}", stderr=server.err(), hint=hint)


# -- the server's lines, its end, its arguments --------------------------------------------


def unfinished_line_is_discarded(lab):
    """the bytes after a client's last newline are discarded when it leaves"""
    server, room = start(lab)
    with room:
        a, b, c = join(server, room, 3)
        a.send(b"a line\nand no newline here")
        room.wait(lambda: c.lines() or c.eof, 3)
        # Relayed before A left, as it came?  Given a moment to arrive: a server that relays
        # each recv() may send it a little after the line (a snapshot mistook it, under load,
        # for the unfinished line relayed when A left).
        room.wait(lambda: b"and no newline" in bytes(c.received) or c.eof, 0.5)
        early = b"and no newline" in bytes(c.received)
        a.close()
        server.wait_line(f"closed {re.escape(a.name)}", timing.seconds(3))
        line = b"after A left\n"
        wait_idle(server, room)  # A's thread done: what B's line meets is what A left
        b.send(line)
        room.wait(lambda: len(c.stamped) >= 2 or c.eof, 3)
        want = [prefixed(a, b"a line\n"), prefixed(b, line)]
        if c.lines()[:2] != want:
            fail(f"connected A, B and C to `{server.shown}`; A sent \"a line\\n\" and \"and no "
                 "newline here\", then closed; then B sent a line",
                 expected="C receives " + " then ".join(show(x) for x in want),
                 got=f"C received {show(bytes(c.received))}", stderr=server.err(),
                 hint=("bytes without a newline went out as they came, while A was still "
                       "there: relay only complete lines, and keep the rest in the client's own "
                       "buffer" if early else
                       "the unfinished line of a client that left was relayed: bytes after its "
                       "last newline are discarded when it leaves"
                       if any(x.startswith(f"{a.name}: and no newline".encode())
                              for x in c.lines()) else diagnose(c, {a: [b"a line\n"],
                                                                              b: [line]})))


def log_lines(lab):
    """the server prints `connection from IP:PORT` when a client joins and `closed IP:PORT` when it leaves or resets"""
    server, room = start(lab)
    with room:
        a, b = join(server, room, 2)
        a.close()
        b.hard_reset()
        want = [f"closed {a.name}", f"closed {b.name}"]
        server.stdout.wait_until(lambda data: all(w in data.decode() for w in want),
                                 timing.seconds(3))
        closed = [line for line in server.lines() if line.startswith("closed")]
        if sorted(closed) != sorted(want):
            fail(f"connected A and B to `{server.shown}`; A closed its side, B reset its "
                 "connection", expected="\n".join(want), got="\n".join(closed) or "(no closed line)",
                 stderr=server.err(),
                 hint="print `closed IP:PORT` (flushed) whenever a client leaves: recv() returning "
                      "0, a reset (ECONNRESET), or a client you drop")


def still_listening(port, timeout):
    """True when connections to ``port`` still complete ``timeout`` s from now (False as soon
    as one is refused: nothing listens there any more)."""
    deadline = timing.Deadline(timing.seconds(timeout))
    while True:
        try:
            probe = socket.create_connection((net.HOST, port), timeout=max(0.1, deadline.left()))
        except ConnectionRefusedError:
            return False
        except OSError:
            pass
        else:
            probe.close()  # it reached the backlog (or was accepted): try again
        if deadline.expired():
            return True
        time.sleep(0.01)  # polling the port, with a deadline


def max_clients_then_exit(lab):
    """`SERVER 0 3` takes three clients, stops accepting, and exits 0 once the last has left"""
    server, room = start(lab, 3)
    with room:
        members = join(server, room, 3)
        did = f"connected 3 clients to `{server.shown}`"
        if still_listening(room.port, 2):
            fail(did, expected="the listening socket closed after the third client",
                 got="a fourth connection was still accepted", stderr=server.err(),
                 hint="after MAX_CLIENTS connections close the listening socket (no one else "
                      "may join)")
        for p in members[:2]:
            p.close()
        server.stdout.wait_until(lambda d: all(f"closed {p.name}" in d.decode()
                                               for p in members[:2]), timing.seconds(3))
        if server.poll() is not None:
            fail(did + "; two of them left", expected="the server still running (one client left)",
                 got=proc.describe_status(server.poll()), stderr=server.err(),
                 hint="exit only once the last of the MAX_CLIENTS clients has left")
        members[2].close()
        status = server.wait(timing.seconds(3))
        if status != 0:
            hint = None
            if status is None:
                hint = (SPINS_HINT if busy(server, 0.5) else
                        "after MAX_CLIENTS connections, stop when the last client has left: "
                        "close everything and return 0")
            fail(did + "; all three left", expected="exit status 0 within 3 s",
                 got=proc.describe_status(status) + (" (and busy: it used the CPU while "
                                                     "no client was left)" if hint == SPINS_HINT
                                                     else ""),
                 stderr=server.err(), hint=hint)


#: The hint for a server that spins with no client left: a closed descriptor left in its set.
SPINS_HINT = ("the server spins once its clients are gone: poll() returns at once (POLLNVAL) for a "
              "descriptor that was closed but left in the set, so the room never looks empty; take "
              "a client out of the set when you close its socket")


def busy(server, seconds):
    """True when ``server`` used more than a tenth of a core over ``seconds`` (its own CPU
    time, /proc/PID/stat): it spins where it should wait (a waiting server uses next to
    none, and a spinning one gets more than that even on a loaded machine)."""
    def cpu():
        try:
            with open(f"/proc/{server.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None
    before, start = cpu(), time.monotonic()
    time.sleep(seconds)  # a measurement over a span of time, not a synchronisation
    after, span = cpu(), time.monotonic() - start
    return before is not None and after is not None and (after - before) > 0.1 * span


STOP_HINT = ("install a handler for SIGINT and SIGTERM (sigaction) that sets a flag; when the "
             "wait is interrupted (EINTR) and the flag is set, close every socket, free "
             "everything and return 0")


def stops_on_sigint_and_sigterm(lab):
    """SIGINT and SIGTERM with clients connected: the clients see the end, the server exits 0"""
    for sig in (signal.SIGINT, signal.SIGTERM):
        server, room = start(lab)
        with room:
            a, b = join(server, room, 2)
            b.send(b"half a li")
            room.wait(lambda: not b.unsent(), 1)
            server.wait_blocked()
            status = stop_server(server, sig)
            room.wait(lambda: a.eof and b.eof, 3)
            did = f"connected two clients to `{server.shown}`, then sent {sig.name}"
            if status != 0:
                killed = status == -sig
                fail(did, expected="exit status 0 (a clean stop)", got=proc.describe_status(status),
                     stderr=server.err(),
                     hint=(STOP_HINT if killed else
                           "a stop request ends the server cleanly with status 0"
                           + ("; every client thread must end, and main joins them (or waits "
                              "for the last under the mutex)" if threaded(lab) else "")))
            if not (a.eof and b.eof):
                fail(did, expected="both clients see their connection closed",
                     got="a client's connection is still open", stderr=server.err(),
                     hint="close every client's socket before exiting")


def restart_on_same_port(lab):
    """restarted on the same port at once while an old connection lingers (SO_REUSEADDR before bind)"""
    @contextlib.contextmanager
    def joined(server, port):
        with Room(port) as room:
            join(server, room, 1)
            yield
    common.expect_restart_on_same_port(lab, joined)


def server_port_in_use(lab):
    """on a port that is taken: `bind: Address already in use` and exit 1"""
    common.expect_port_in_use(lab, lab.server, lambda: net.FakeTcpServer(lambda c, s: None),
                              b"bind: ")


def accept_error_ends_one_connection_only(lab):
    """an accept() that fails for one connection only (ECONNABORTED) is reported; the server goes on"""
    did = (f"started `{lab.server} 0` with its first accept() failing with ECONNABORTED "
           "(strace -e inject), then connected clients")

    def serve(port, server):
        with Room(port) as room:
            room.join(1)  # the connection whose accept() fails
            a, b = join(server, room, 2)
            a.send(b"after the abort\n")
            if not room.wait(lambda: b.lines(), 3):
                raise AssertionError("nothing relayed")
    common.expect_survives_injected_error(
        lab, lab.server, "accept,accept4", "ECONNABORTED", "accept: Software caused connection abort",
        did, serve,
        hint="an accept() that fails for one connection only (ECONNABORTED, ECONNRESET, EPROTO) "
             "ends nothing: report it (perror) and go on; only a failure of the listening "
             "socket itself ends the server")


def vanished_client_does_not_kill_the_server(lab):
    """a client that vanished is sent to without killing the server (no SIGPIPE); the others go on"""
    server, room = start(lab)
    with room:
        a, = join(server, room, 1)
        # Whether a relay meets a vanished client before the server sees it leave is a race:
        # a thread server (lab 9) has a thread per client racing to take it out of the list,
        # and a poll server may handle the departure first, or get its reset only after a
        # send.  Several clients vanish at once, several times, so that a relay meets one of
        # them (and the send after it, EPIPE) all but always.
        rounds, count = 12, 6
        for _ in range(rounds):
            gone = join(server, room, count)
            # Stopped, the server cannot see that `gone` left before a line for it is sent:
            # the first send meets a closed socket (a reset comes back), the next a reset one.
            server.signal(signal.SIGSTOP)
            try:
                for p in gone:
                    p.close()
                a.send(b"one\ntwo\nthree\n")
                room.wait(lambda: not a.unsent(), 1)
            finally:
                server.signal(signal.SIGCONT)
            reported = server.stdout.wait_until(lambda d: all(
                f"closed {p.name}" in d.decode("utf-8", "replace") for p in gone),
                timing.seconds(3))
            if server.stdout.closed or server.poll() is not None:
                break
            # A server that lost track of who left, or spins (a closed descriptor still in
            # its poll set), is judged by what follows: 12 more rounds, each waiting for it,
            # ran the check into its deadline.
            if not reported or not wait_idle(server, room):
                break
        status = server.wait(timing.seconds(1)) if server.stdout.closed else server.poll()
        late = None
        question = prefixed(a, b"still there?\n")
        if status is None:
            late, = join(server, room, 1, timeout=3)
            a.send(b"still there?\n")
            room.wait(lambda: question in late.lines(), 3)
            status = server.poll()
        # A thread server may relay A's last lines after C joined (its thread read them
        # late): C may get those first, then the question.
        early = [prefixed(a, line) for line in (b"one\n", b"two\n", b"three\n")]
        got = late.lines() if late else []
        if status is not None or question not in got or any(
                line not in early for line in got[:got.index(question)]):
            fail(f"connected A and B to `{server.shown}`; B closed, and A sent three lines before "
                 "the server saw B leave; then C joined and A sent another line",
                 expected="the server goes on: C receives A's line",
                 got=f"the server: {proc.describe_status(status)}" + (
                     f"; C received {show(bytes(late.received))}" if late else ""),
                 stderr=server.err(),
                 hint="sending to a client that has gone raises SIGPIPE, which kills the "
                      "process: ignore it (sigaction with SIG_IGN) or send with MSG_NOSIGNAL, "
                      "and drop that client when send() fails (EPIPE, ECONNRESET)"
                 if status == -signal.SIGPIPE else None)


def server_usage_errors(lab):
    """bad ports and counts are usage errors (exit 2, `usage: ` on stderr)"""
    common.expect_usage_errors(lab, lab.server, (
        [], ["80x"], ["+80"], ["70000"], ["0", "0"], ["0", "x"], ["0", "1", "2"]), "PORT [MAX_CLIENTS]")


@deadline(30)
def server_valgrind_clean(lab):
    """under Valgrind, a server that relays, drops a long line and stops on SIGTERM: no error, no leak, no descriptor left"""
    server, room = start(lab, use_valgrind=True)
    with room:
        a, b, c = join(server, room, 3, timeout=10)
        a.send(b"under valgrind\n")
        c.send(b"T" * (LINE_MAX + 10))
        room.wait(lambda: b.lines() and c.eof, 10)
        b.close()
        server.wait_line(f"closed {re.escape(b.name)}", timing.seconds(10))
        server.wait_blocked()
        status = stop_server(server, signal.SIGTERM)
        if status is not None and status < 0:
            fail(f"ran `{server.shown}` under Valgrind with clients connected, then sent SIGTERM",
                 expected="exit status 0 (a clean stop), then Valgrind's verdict",
                 got=proc.describe_status(status), stderr=server.err(),
                 hint=f"the signal ended the server before it could clean up: {STOP_HINT}")
        common.valgrind_clean(server, status, f"`{server.shown}` (3 clients, one dropped, one "
                                              "left, SIGTERM with one connected)", "server")



def server_ready_line(lab):
    """`SERVER PORT` prints `listening on 0.0.0.0:PORT` at once (stdout a plain pipe) and listens there"""
    port = net.free_port(distinct_bytes=True)  # a port printed without ntohs() shows
    server = lab.start(lab.server, port, linebuf=False)
    match = server.wait_line(READY_LINE, timing.seconds(3))
    if not match:
        status = server.wait(timing.seconds(1)) if server.stdout.closed else server.poll()
        fail(f"started `{server.shown}` with stdout a plain pipe (no line buffering)",
             expected=f"`listening on 0.0.0.0:{port}` within 3 s",
             got=(f"{proc.describe_status(status)}; " if status is not None else "")
             + f"stdout {show(server.out())}", stderr=server.err(),
             hint=("stdout to a pipe is fully buffered: fflush(stdout) after each line (or "
                   "setvbuf(stdout, NULL, _IOLBF, 0) once at the start)"
                   if status is None else None))
    printed = int(match.group(1))
    if printed != port:
        fail(f"started `{server.shown}`", expected=f"listening on 0.0.0.0:{port}",
             got=f"listening on 0.0.0.0:{printed}", stderr=server.err(),
             hint="print the port getsockname() reports, through ntohs()"
             if printed == net.swapped(port) else None)
    try:
        net.TcpClient(port, timeout=2).close()
    except OSError as exc:
        fail(f"started `{server.shown}`, then connected to port {port}",
             expected="the connection is accepted", got=str(exc), stderr=server.err(),
             hint="bind to htons(port) and listen() before printing the ready line")


def builds_without_warnings(lab):
    """the programs compile without a warning (-std=c11 -Wall -Wextra)"""
    common.no_warnings(lab, [p for p in lab.programs])


# -- the client ----------------------------------------------------------------------------


def record(conn, fake):
    """A fake chat server: keeps what the client sends until it closes (then ``fake.done``)."""
    while True:
        data = conn.recv(65536)
        if not data:
            fake.done.set()
            return
        fake.received += data


def greet_then_record(conn, fake):
    """A fake chat server that sends a line of the room at once, then keeps what comes."""
    conn.sendall(GREETING)
    record(conn, fake)


def hang_up(conn, fake):
    """A fake chat server that closes the connection at once."""


GREETING = b"127.0.0.1:40000: hello from the room\n"


def fake_server(handler):
    """A fake chat server running ``handler``; ``done`` is set once the client has closed."""
    fake = net.FakeTcpServer(handler)
    fake.done = threading.Event()
    return fake


def run_client(lab, data, handler=record, host="127.0.0.1"):
    """Run the client with ``data`` on stdin against a fake server; return (program, fake)."""
    with fake_server(handler) as fake:
        client = lab.run(lab.client, host, fake.port, data=data, timeout=5)
        if client.poll() is not None:  # it has ended: what it sent is on its way to the fake
            fake.done.wait(timing.seconds(3))
    return client, fake


def client_sends_stdin_lines(lab):
    """the client sends each stdin line as it is; end of file on stdin: exit 0"""
    data = b"hello\nsecond line\nnul\0byte \xff\n"
    client, fake = run_client(lab, data)
    status = client.poll()
    got = bytes(fake.received)
    if got != data or status != 0:
        if got == data:
            hint = ("end of file on stdin is the normal end: close the socket and exit 0")
        elif got.replace(b"\n", b"") == data.replace(b"\n", b""):
            hint = "send each line with its newline: the server relays only complete lines"
        elif data.startswith(got) and got and data[len(got)] == 0:
            hint = "the line was cut at a NUL byte: send the bytes read() returned, never strlen()"
        else:
            hint = None
        fail(f"ran `{client.shown}` with {show(data)} on stdin",
             expected=f"the server receives the same {len(data)} bytes; exit status 0",
             got=f"it received {show(got)}; {proc.describe_status(status)}",
             stderr=client.err(), hint=hint)


def client_shows_server_lines_while_stdin_is_idle(lab):
    """a line from the server shows on stdout at once, while stdin is open and idle"""
    with fake_server(greet_then_record) as fake:
        client = lab.start(lab.client, "127.0.0.1", fake.port)
        shown = client.stdout.wait_until(lambda d: GREETING in d, timing.seconds(2))
        if not shown:
            status = client.poll()
            client.feed(b"typed\n", close=False)
            after = client.stdout.wait_until(lambda d: GREETING in d, timing.seconds(1))
            client.close_stdin()
            client.wait(timing.seconds(2))
            fail(f"ran `{client.shown}` with stdin open and idle; the server sent "
                 f"{show(GREETING)} at once",
                 expected="the line on stdout within 2 s, while nothing is typed",
                 got=(f"{proc.describe_status(status)}; " if status is not None else "")
                 + f"stdout {show(client.out())}"
                 + ("; it appeared only after a line was typed" if after else ""),
                 stderr=client.err(),
                 hint=("the client waits for the keyboard (fgets() or read() of stdin) and looks "
                       "at the socket only after a line was typed: wait on stdin and the socket "
                       "at once with poll() or select(), and read the one that is ready"
                       if after else
                       "write what recv() returns to stdout at once (write(), or fwrite() and "
                       "fflush())" if status is None else None))
        client.close_stdin()
        status = client.wait(timing.seconds(3))
        if status != 0:
            fail(f"ran `{client.shown}`, then closed its stdin", expected="exit status 0",
                 got=proc.describe_status(status), stderr=client.err(),
                 hint="end of file on stdin is the normal end: close the socket and exit 0")


def client_last_line_gets_a_newline(lab):
    """a last stdin line without a newline is sent with one"""
    data = b"first\nlast without newline"
    client, fake = run_client(lab, data)
    got, want = bytes(fake.received), data + b"\n"
    if got != want:
        fail(f"ran `{client.shown}` with {show(data)} on stdin",
             expected=f"the server receives {show(want)}", got=show(got), stderr=client.err(),
             hint=("the last line had no newline and was sent without one: at end of file, "
                   "send a newline after a line that lacks it (the server relays only complete "
                   "lines)" if got == data else None))


def client_server_closes(lab):
    """when the server closes the connection: `server closed the connection`, exit 1, even while stdin is idle"""
    with fake_server(hang_up) as fake:
        client = lab.start(lab.client, "127.0.0.1", fake.port)
        status = client.wait(timing.seconds(3))
    if status is None:
        client.close_stdin()
        late = client.wait(timing.seconds(2))
    err = client.err()
    if status != 1 or b"server closed the connection" not in err.splitlines():
        fail(f"ran `{client.shown}` with stdin open and idle, against a server that closes "
             "the connection at once",
             expected="stderr `server closed the connection` and exit status 1, within 3 s",
             got=f"{proc.describe_status(status)}; stderr {show(err)}",
             hint=stderr_hint(err) or
             ("the client noticed only when stdin ended: wait on stdin and the socket at "
                   "once (poll() or select()); recv() returning 0 means the server closed"
                   if status is None and late is not None else
                   "recv() returning 0 means the server closed the connection: print `server "
                   "closed the connection` on stderr and exit 1" if status is not None else None))


def client_connection_refused(lab):
    """against a closed port: `connect: Connection refused` and exit 1"""
    common.expect_connection_refused(lab, lab.client)


def client_usage_errors(lab):
    """wrong argument counts and bad ports are usage errors (exit 2)"""
    common.expect_usage_errors(lab, lab.client, (
        [], ["127.0.0.1"], ["127.0.0.1", "80x"], ["127.0.0.1", "99999"],
        ["127.0.0.1", "80", "extra"], ["not an address", "80"]), "HOST PORT")


@deadline(30)
def client_valgrind_clean(lab):
    """under Valgrind, the client: no error, no leak, no descriptor left"""
    data = b"short\n" + b"B" * 5000 + b"\nlast"
    with fake_server(greet_then_record) as fake:
        client = lab.start(lab.client, "127.0.0.1", fake.port, use_valgrind=True)
        client.stdout.wait_until(lambda d: GREETING in d, timing.seconds(10))
        client.feed(data)
        status = client.wait(timing.seconds(15))
    common.valgrind_clean(client, status, f"`{client.shown}` with a line from the server",
                          "client")

