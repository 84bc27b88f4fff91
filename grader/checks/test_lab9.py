"""Lab 9: the chat server with a thread per client.  Contract: the chat protocol and "Lab 9" of
the lab contract (docs/contract.md); handout labs/lab9/README.md.

Program: ``thread_chat_server PORT [MAX_CLIENTS]`` (lab 8's ``chat_client`` is its client and
is graded in lab 8).  The chat server checks are grader/checks/chat.py's, written once for
labs 8 and 9, with lab 9's points.  The checks below are the threads' own:

- Helgrind finds no data race, no lock-order problem and no misused thread call on a short,
  fixed script of joins, lines and departures (its report is shown with file:line);
- threads end with their clients, and so do their stacks (a thread neither joined nor
  detached keeps its 8 MiB): counted in /proc after two rounds of 20 clients;
- SIGINT with clients connected ends every client thread before exit 0, under memcheck
  (glibc's own per-thread block from pthread_create is not counted, only the program's);
- a client's memory is never used after its thread freed it (memcheck);
- each descriptor is closed once, whoever drops a client (strace: no close() fails EBADF);
- a client that does not read stalls nobody: no thread waits in send() holding the mutex
  (seen in /proc: one thread in sendto, the others in futex).

The grader plays the clients with harness.chat's Room (one selector, no thread per client).
"""
import os
import re
import signal

import pytest

import chat
from harness import common, crowd, proc, strace, timing, valgrind
from harness.lab import stop_server
from harness.report import CheckFailed, fail, show

pytestmark = pytest.mark.lab9
SOURCES = ["thread_chat_server.c"]
#: How long joining and one relayed line may take under Valgrind's tools (seconds).
SLOW = 10.0
#: How many more thread stacks a server may hold after a second round of 20 clients than
#: after the first (glibc keeps a few stacks of ended threads for reuse); threads neither
#: joined nor detached keep 20 more.
STACK_SLACK = 3

# -- the chat server (chat.py's checks, 58 points) ---------------------------------------------
test_builds_without_warnings = chat.check(chat.builds_without_warnings, 3)
test_server_ready_line = chat.check(chat.server_ready_line, 2)
test_relays_with_prefix = chat.check(chat.relays_with_prefix, 7)
test_line_sent_one_byte_at_a_time = chat.check(chat.line_sent_one_byte_at_a_time, 4)
test_two_lines_in_one_send = chat.check(chat.two_lines_in_one_send, 3)
test_one_order_for_everyone = chat.check(chat.one_order_for_everyone, 4)
test_hundred_clients = chat.check(chat.hundred_clients, 6)
test_stalled_clients_delay_nobody = chat.check(chat.stalled_clients_delay_nobody, 4)
test_non_reader_is_dropped = chat.check(chat.non_reader_is_dropped, 4)
test_long_line_is_dropped = chat.check(chat.long_line_is_dropped, 3)
test_departed_client_is_forgotten = chat.check(chat.departed_client_is_forgotten, 3)
test_vanished_client_does_not_kill_the_server = chat.check(
    chat.vanished_client_does_not_kill_the_server, 2)
test_unfinished_line_is_discarded = chat.check(chat.unfinished_line_is_discarded, 1)
test_log_lines = chat.check(chat.log_lines, 2)
test_max_clients_then_exit = chat.check(chat.max_clients_then_exit, 2)
test_stops_on_sigint_and_sigterm = chat.check(chat.stops_on_sigint_and_sigterm, 2)
test_restart_on_same_port = chat.check(chat.restart_on_same_port, 1)
test_server_port_in_use = chat.check(chat.server_port_in_use, 1)
test_accept_error_ends_one_connection_only = chat.check(
    chat.accept_error_ends_one_connection_only, 1)
test_server_usage_errors = chat.check(chat.server_usage_errors, 1)
test_server_valgrind_clean = chat.check(chat.server_valgrind_clean, 2)


# -- what the threads do (42 points) ------------------------------------------------------------


def blocked_calls(server):
    """How the server's threads wait now: ``{"recvfrom": 3, "futex": 2}``."""
    counts = {}
    for call in crowd.thread_calls(server.pid).values():
        counts[call] = counts.get(call, 0) + 1
    return counts


def describe_calls(counts):
    return ", ".join(f"{n} in {call}" for call, n in sorted(counts.items())) or "(no thread)"


def wait_for_calls(server, room, predicate, timeout):
    """Pump the room until ``predicate(blocked_calls(server))`` (or the deadline); the counts."""
    calls = {}
    room.wait(lambda: predicate(calls.update(blocked_calls(server)) or calls), timeout)
    return calls


def stop(server):
    """End a server at the end of a check's script: SIGINT, then a kill; its exit status."""
    server.wait_blocked()
    status = stop_server(server)
    if status is None:
        server.kill()
    return status


def lines_of(sender, lines):
    return [chat.prefixed(sender, line) for line in lines]


def chat_script(server, room):
    """Helgrind's fixed script: three clients talk at once; one leaves while another speaks,
    two join; a line too long drops its sender; four talk at once; three leave and another
    joins; two are still connected when SIGINT comes.

    Lines go at once (the relays of several threads overlap); joins and departures go one by
    one, each once the server is idle. Helgrind sees a race whether or not the two accesses
    overlap in time, so nothing is lost; but a server that frees a client still in its list
    reuses that memory for the next newcomer, or not, with the order of joins and frees, and
    Helgrind's report on it changed from one grading to the next when they overlapped.

    The first exchange must work (else Helgrind would watch threads that do nothing); after
    it, the script goes on whatever the chat does: Helgrind judges the threads, the other
    checks the chat."""
    a, b, c = chat.join(server, room, 3, timeout=SLOW)
    said = {p: [f"line {i} of {p.name}\n".encode() for i in range(3)] for p in (a, b, c)}
    for i in range(3):
        for p in (a, b, c):
            p.send(said[p][i])
    room.wait(lambda: all(len(p.stamped) >= 6 for p in (a, b, c)), SLOW)
    for p in (a, b, c):
        want = sorted(line for q in (a, b, c) if q is not p for line in lines_of(q, said[q]))
        if sorted(p.lines()) != want:
            fail(f"connected 3 clients to `{server.shown}` under Helgrind; each sent 3 lines at "
                 "once", expected=f"{p.name} gets the 6 lines of the other two",
                 got=chat.show_lines(p.lines()), stderr=server.err(),
                 hint=chat.diagnose(p, said))
    pace = chat.Pace(server, room, patience=2.0)  # Helgrind slows the server down
    try:
        b.send(b"A goes while I speak\n")
        pace.leave(a)
        d, e = pace.arrive(), pace.arrive()
        rude = pace.arrive()
        before_drop = pace.mark()
        rude.send(b"x" * (chat.LINE_MAX + 100))
        room.wait(lambda: rude.eof, 2)
        pace.leave(rude, since=before_drop)
        talkers = (b, c, d, e)
        had = {p: len(p.stamped) for p in talkers}
        for p in talkers:
            p.send(f"bye from {p.name}\n".encode())
        # every bye delivered before anyone leaves: a send to a client that has gone is
        # vanished_client_does_not_kill_the_server's to judge (here it killed a server that
        # lets SIGPIPE kill it in one loaded round of five, and Helgrind blamed its lock)
        room.wait(lambda: all(len(p.stamped) >= had[p] + 3 for p in talkers), 2)
        for p in (b, c, d):
            pace.leave(p)
        pace.arrive()
    except OSError:
        pass  # the chat itself is judged by the other checks


@pytest.mark.points(12)
@pytest.mark.deadline(40)
def test_helgrind_clean(lab):
    """Helgrind finds no data race and no lock-order problem while clients chat at once, join and leave"""
    server, room = chat.start(lab, use_valgrind="helgrind")
    broken = None
    with room:
        try:
            chat_script(server, room)
        except CheckFailed as exc:
            broken = exc
        except OSError as exc:
            broken = CheckFailed(f"ran a short chat through `{server.shown}` under Helgrind",
                                 expected="the clients served", got=f"{type(exc).__name__}: {exc}",
                                 stderr=server.err())
        stop(server)  # how it ends is judged by test_sigint_ends_every_thread_cleanly
    common.helgrind_clean(server, f"`{server.shown}` with clients chatting at once, joining and "
                                  "leaving (then SIGINT)", SOURCES)
    if broken:  # no race seen, but the script stopped short: nothing proves the threads safe
        broken.note = ("Helgrind found nothing, but the chat stopped short, so it saw too little: "
                       "this check passes once the chat works")
        raise broken


def round_of_20(server, room, what):
    """20 clients join, 19 speak to the 20th in turn, then all leave one by one.

    Each step waits for the server to be idle (every thread asleep) before the next: the
    check counts threads, and what it sees must not hang on how the server's threads were
    scheduled. Lines sent while the last one was still being relayed judged the relay again
    (a server with one buffer for all mixed two of them in some gradings, not in others);
    clients that left at once freed their structs in an order that changed with the
    scheduling (a server that frees a client still in its list looped in some gradings)."""
    members = chat.join(server, room, 20)
    speaker, others = members[0], members[1:]
    said = {p: [f"hello from {p.name}\n".encode()] for p in others}
    pace = chat.Pace(server, room)
    for n, p in enumerate(others, 1):
        p.send(said[p][0])
        if not room.wait(lambda: len(speaker.stamped) >= n, 3):
            break
        pace.idle()
    if sorted(speaker.lines()) != sorted(chat.prefixed(p, said[p][0]) for p in others):
        fail(f"{what}: 19 of 20 clients of `{server.shown}` sent a line each",
             expected="the 20th gets the 19 lines", got=chat.show_lines(speaker.lines()),
             stderr=server.err(), hint=chat.diagnose(speaker, said))
    for p in members:
        pace.leave(p)


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
                    "ends with the mutex held")
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


@pytest.mark.points(8)
@pytest.mark.deadline(30)
def test_threads_end_with_their_clients(lab):
    """threads end with their clients: after 20 clients leave, the thread count and the stacks go back down"""
    server, room = chat.start(lab)
    idle = crowd.tree(server.pid).root.threads
    stacks = []
    with room:
        for round_ in (1, 2):
            what = f"round {round_}: 20 clients joined, spoke in turn and left, one by one"
            round_of_20(server, room, what)
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


@pytest.mark.points(6)
@pytest.mark.deadline(40)
def test_sigint_ends_every_thread_cleanly(lab):
    """SIGINT with clients connected ends every client thread, then exit 0: no leak, no descriptor left (Valgrind)"""
    server, room = chat.start(lab, use_valgrind=True)
    with room:
        a, b, _c = chat.join(server, room, 3, timeout=SLOW)
        a.send(b"half a li")  # an unfinished line in a's buffer
        b.send(b"a whole line\n")
        room.wait(lambda: a.lines(), SLOW)
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
    findings = valgrind.parse(server.valgrind_log())
    if findings:
        fail(did + " (`valgrind --leak-check=full --track-fds=yes`)",
             expected="no memory error, no leak, no descriptor other than 0-2 open at exit "
                      "(glibc's own per-thread block is not counted)",
             got="\n".join(str(f) for f in findings[:6]), stderr=server.err(),
             hint=valgrind.hint_for(findings) + "; and every client thread must have ended (its "
                  "socket closed, its memory freed) before main returns")


@pytest.mark.points(5)
@pytest.mark.deadline(40)
def test_departed_client_memory_unused(lab):
    """a client's memory is never used once its thread has freed it: lines go on after it left (Valgrind)"""
    server, room = chat.start(lab, use_valgrind=True)
    with room:
        a, b = chat.join(server, room, 2, timeout=SLOW)
        a.close()
        server.wait_line(f"closed {re.escape(a.name)}", timing.seconds(SLOW))
        c, = chat.join(server, room, 1, timeout=SLOW)
        b.send(b"after A left\nand again\n")
        room.wait(lambda: len(c.stamped) >= 2, SLOW)
        status = stop(server)
    log = server.valgrind_log()
    freed = [f for f in valgrind.parse(log) if f.kind == "error"]
    if any("free'd" in line for line in log):
        fail(f"under Valgrind: clients A and B joined `{server.shown}`, A left, C joined, B sent "
             "two lines", expected="no access to memory freed when A left",
             got="\n".join(str(f) for f in freed[:4]), stderr=server.err(),
             note=f"the server: {proc.describe_status(status)}",
             hint="a client's memory was used after its thread freed it: the client was still in "
                  "the list (or another thread kept a pointer to it). Take it out of the list, "
                  "under the mutex, before its thread closes its socket and frees it")


def stop_traced(program):
    """End a server run under strace: SIGINT to the server itself (strace, its parent, does not
    pass a signal of its own on), again every 0.5 s, then a kill; strace's exit status (the
    server's)."""
    deadline = timing.Deadline(timing.seconds(3))
    while not deadline.expired():
        tracees = crowd.tree(program.pid, with_fds=False).children
        if not tracees:
            break
        try:
            os.kill(tracees[0].pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        status = program.wait(min(0.5, deadline.left()))
        if status is not None:
            return status
    status = program.wait(0.5)
    if status is None:
        program.kill()
    return status


@pytest.mark.points(6)
@pytest.mark.deadline(40)
def test_descriptor_closed_once(lab):
    """each descriptor is closed once, whoever drops the client (not reading, line too long), and at SIGINT (strace)"""
    log = lab.log_path("close.strace")
    server, port = lab.start_server(lab.server, 0, strace_log=log, strace_trace="close")
    room = chat.Room(port)
    with room:
        sleeper, = chat.join(server, room, 1, rcvbuf=4096)
        sleeper.stop_reading()
        talker, rude, stays = chat.join(server, room, 3)
        rude.send(b"z" * (chat.LINE_MAX + 100))  # a line too long: its own thread drops it
        room.wait(lambda: rude.eof, 3)
        # The talker's thread drops the sleeper.
        chat.flood(room, talker, stays, chat.dropped_line(server, sleeper))
        room.wait(lambda: sleeper.eof, 1)
        status = stop_traced(server)
    try:
        text = log.read_text(errors="replace")
    except OSError:
        text = ""
    twice = [f"close({args}) = {result}" for name, args, result in strace.calls(text, "close")
             if result.startswith("-1 EBADF")]
    if twice:
        fail(f"under strace: `{server.shown}` dropped a client whose line was too long and one "
             "that did not read, then got SIGINT with clients connected",
             expected="each descriptor closed once (no close() fails with EBADF)",
             got="\n".join(twice[:4]), stderr=server.err(),
             note=f"the server: {proc.describe_status(status)}",
             hint="a descriptor closed twice: only the client's own thread closes its socket, once; "
                  "another thread that must disconnect it calls shutdown() (which wakes the "
                  "client's recv()), never close(); a second close() may close the connection "
                  "of a newcomer that got the same number")


@pytest.mark.points(5)
@pytest.mark.deadline(40)
def test_nonreader_holds_no_lock(lab):
    """while one client does not read, the others still talk and newcomers join: no thread waits in send() holding the mutex"""
    server, room = chat.start(lab)
    with room:
        sleeper, = chat.join(server, room, 1, rcvbuf=4096)
        sleeper.stop_reading()
        talker, listener = chat.join(server, room, 2)
        sent, _seen, _quiet = chat.flood(room, talker, listener,
                                         chat.dropped_line(server, sleeper))
        # The flood reaches the listener first (bounded: a stalled room is what is judged
        # next): B's line then never meets the talker's lines in a server's shared buffer.
        room.wait(lambda: len(listener.stamped) >= sent, 2)
        # The others go on: the listener speaks, a newcomer joins and speaks. The newcomer
        # comes once B's line is through and the server idle again: two lines at once would
        # judge the relay again (a server with one buffer for all mixed them now and then).
        question = b"still there?\n"
        listener.send(question)
        if room.wait(lambda: chat.prefixed(listener, question) in talker.lines(), 2):
            chat.wait_idle(server, room)
        late, = room.join(1)
        knock = b"may I join?\n"
        late.send(knock)
        heard = room.wait(lambda: chat.prefixed(late, knock) in listener.lines()
                          and chat.prefixed(listener, question) in talker.lines(), 2)
        calls = {} if heard else wait_for_calls(server, room, lambda c: c.get("futex"), 1.0)
    if not heard:
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
        fail(f"3 clients joined `{server.shown}`; C stopped reading (a small receive buffer); "
             "A sent 1000-byte lines; then B spoke, and D joined and spoke",
             expected="A gets B's line and B gets D's, within 2 s",
             got=f"A got {show(b''.join(talker.lines()[-2:]))}; B got "
                 f"{show(b''.join(listener.lines()[-2:]))}",
             note=f"the server's threads then: {describe_calls(calls)}", stderr=server.err(),
             hint=hint)
