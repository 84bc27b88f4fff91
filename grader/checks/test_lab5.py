"""Lab 5: UDP uppercase.  Contract: docs/contract.md, "Lab 5"; handout labs/lab5/README.md.

Programs: ``udp_upper_server PORT [MAX_DATAGRAMS]`` answers each datagram with its bytes
a-z turned into A-Z (every other byte unchanged, the same length, to the sender);
``udp_upper_client HOST PORT`` sends each stdin line as one datagram and prints the reply,
waiting at most 1 s per try, 3 tries, then ``no reply from HOST:PORT`` and exit 1.

The server is talked to with :class:`harness.net.UdpPeer`; the client talks to a fake
server (a UdpPeer on a thread) that answers, drops, or sends from the wrong address on
purpose.  Every wait is a UdpPeer recv or a program wait with a deadline.
"""
import re
import signal
import socket

import pytest

from harness import common, net, proc, timing
from harness.early import EarlyRun
from harness.lab import PRINTED_PORT_SWAPPED, placeholder_hint
from harness.report import fail, first_difference, lost_at_nul, show

pytestmark = pytest.mark.lab5
SERVER, CLIENT = "udp_upper_server", "udp_upper_client"
READY_LINE = r"listening on 0\.0\.0\.0:(\d+)"
DATAGRAM = r"datagram from (\d+\.\d+\.\d+\.\d+):(\d+) \((\d+) bytes\)"
#: The largest datagram IPv4 carries: 65535 - 20 (IP header) - 8 (UDP header).
LARGEST = 65507
#: How long a reply from the server may take (seconds, before scaling).
REPLY = 2.0


def upper(data):
    """What the server must answer: a-z turned into A-Z, every other byte unchanged."""
    return bytes(b - 32 if 0x61 <= b <= 0x7A else b for b in data)


def swapped_port_is_bound(port):
    return port != net.swapped(port) and net.port_is_bound(net.swapped(port), socket.SOCK_DGRAM)


def conversion_hint(sent, got):
    """Name the likely mistake behind a reply that is not ``upper(sent)``."""
    want = upper(sent)
    if got is None:
        return ("no reply came: sendto() the n bytes back to the address recvfrom() filled in "
                "(peer and peer_length, as recvfrom() left them)")
    if len(got) < len(sent):
        if lost_at_nul(want, got) or (0 in sent and len(got) == sent.index(0)):
            return ("the reply stops at the first NUL byte: never use strlen() on a datagram, "
                    "use the n that recvfrom() returned")
        return (f"the reply has {len(got)} of {len(sent)} bytes: send back all n bytes, and give "
                "recvfrom() a buffer that holds the largest datagram (65507 bytes)")
    if len(got) > len(sent):
        return ("the reply is longer than the datagram: send back exactly the n bytes recvfrom() "
                "returned (not the buffer size, not strlen)")
    changed = [i for i in range(len(sent)) if got[i] != want[i]]
    wrongly = [i for i in changed if not 0x61 <= sent[i] <= 0x7A]
    if wrongly:
        high = all(sent[i] >= 0x80 for i in wrongly)
        return ("bytes that are not a-z were changed" + (" (only bytes >= 0x80: toupper() in "
                "some locales)" if high else "") + ": change only 'a'..'z' (compare each byte "
                "with 'a' and 'z' yourself, subtract 'a' - 'A'); every other byte, NUL and "
                "0x80-0xFF included, stays as it is. No toupper(), no +/-32 on everything")
    zero = sent.find(0)
    if zero != -1 and all(i > zero for i in changed):
        return ("letters after the first NUL byte were not converted: the conversion stops at "
                "the NUL (strlen?): loop over all n bytes recvfrom() returned")
    return "turn each byte 'a'..'z' into 'A'..'Z' (b - 'a' + 'A'); leave every other byte as it is"


def datagram_hint(sent, got):
    """The likely mistake when the datagrams ``sent`` were answered by the list ``got``:
    pieces (more datagrams than sent), truncation (as many, one cut to a buffer's size),
    or the conversion of one of them."""
    if len(got) > len(sent) and sum(map(len, got)) == sum(map(len, sent)):
        return ("one datagram in, one datagram out: answer each with ONE sendto() of all its n "
                "bytes (every sendto() is a datagram of its own: no loop of pieces)")
    if len(got) == len(sent):
        for data, reply in zip(sent, got):
            if reply == upper(data):
                continue
            cut_at_nul = 0 in data and len(reply) == data.index(0)
            if len(reply) < len(data) and not cut_at_nul and not lost_at_nul(upper(data), reply):
                return (f"the reply was cut to {len(reply)} bytes: recvfrom() silently truncates a "
                        f"datagram longer than its buffer (a {len(reply)}-byte buffer?): the "
                        f"buffer must hold 65507 bytes (malloc 65535)")
            return conversion_hint(data, reply)
    if not got:
        return conversion_hint(sent[0], None)
    return None


def replies_shown(replies, seconds):
    """The replies to one datagram in words: their number and sizes."""
    if not replies:
        return f"no reply within {seconds:g} s"
    sizes = ", ".join(str(len(r)) for r in replies[:8]) + (", ..." if len(replies) > 8 else "")
    return (f"{len(replies[0])} bytes" if len(replies) == 1 else
            f"{len(replies)} datagrams of {sizes} bytes")


def receive_after(peer, port, data, timeout=REPLY):
    """Send ``data`` from ``peer`` to the server at ``port``; return every reply (a list)."""
    peer.send(port, data)
    return receive(peer, 1, timeout)


def ask(peer, port, data, timeout=REPLY):
    """Send ``data`` from ``peer`` to the server at ``port``; return the reply (None: none)."""
    peer.send(port, data)
    got = peer.recv(timeout)
    return None if got is None else got[0]


def expect_reply(server, port, peer, data, did):
    """Send ``data`` and fail unless the reply is ``upper(data)``; return the reply."""
    got = ask(peer, port, data)
    want = upper(data)
    if got != want:
        fail(did, expected=f"one datagram of {len(want)} bytes: {show(want)}",
             got="no reply within 2 s" if got is None else f"{len(got)} bytes: {show(got)}",
             note=first_difference(want, got) if got is not None else None,
             stderr=server.err(), hint=conversion_hint(data, got))
    return got


def start_server(lab, *args, **kw):
    """Start the server on port 0; return (program, port).

    A port whose two bytes are equal is the same port byte-swapped, which would hide a
    missing ntohs(): such a start is done again (at most 3 times in all).
    """
    for _ in range(3):
        server, port = lab.start_server(SERVER, 0, *args, kind=socket.SOCK_DGRAM, **kw)
        if port >> 8 != port & 0xFF:
            break
        server.kill()
    return server, port


def peer_with_distinct_bytes():
    """A UdpPeer whose port's two bytes differ (a byte-swapped port is visibly another)."""
    while True:
        peer = net.UdpPeer()
        if peer.port >> 8 != peer.port & 0xFF:
            return peer
        peer.close()


def receive(peer, count, timeout=REPLY, total=None):
    """Up to ``count`` datagrams for ``peer`` within ``timeout`` in all (or, given ``total``,
    datagrams until they hold that many bytes), then any extra one already there; returns a
    list of bytes.

    ``total`` is for a reply that may come in more datagrams than were sent: the extras are
    only what is queued already, and a server preempted between two of its pieces (a busy
    machine) would have its later pieces missed, and judged by the first ones."""
    got, deadline = [], timing.Deadline(timing.seconds(timeout))
    while (len(got) < count if total is None else sum(map(len, got)) < total) \
            and not deadline.expired():
        item = peer.recv(deadline.left() / timing.scale())
        if item is None:
            break
        got.append(item[0])
    while True:
        item = peer.recv(0.01)  # extras: only what is already queued (never waited for)
        if item is None:
            return got
        got.append(item[0])


# -- the server ----------------------------------------------------------------------------


@pytest.mark.points(4)
def test_builds_without_warnings(lab):
    """udp_upper_server.c and udp_upper_client.c compile without a warning (-std=c11 -Wall -Wextra)"""
    common.no_warnings(lab, [SERVER, CLIENT])


@pytest.mark.points(4)
def test_server_ready_line(lab):
    """`udp_upper_server 0` prints `listening on 0.0.0.0:PORT` with the real port, and answers there"""
    server, port = start_server(lab)
    with net.UdpPeer() as peer:
        got = ask(peer, port, b"ping")
        if got is None:
            fail(f"started `{server.shown}`, then sent \"ping\" to the port it printed ({port})",
                 expected="a reply (\"PING\") within 2 s", got="no reply", stderr=server.err(),
                 hint=PRINTED_PORT_SWAPPED if swapped_port_is_bound(port) else
                 "print the port getsockname() reports (after bind), and answer each datagram")


@pytest.mark.points(4)
def test_server_log_line(lab):
    """the server prints `datagram from IP:PORT (N bytes)` for each datagram"""
    server, port = start_server(lab)
    data = b"twelve bytes"
    with peer_with_distinct_bytes() as peer:
        expect_reply(server, port, peer, data, f"sent {show(data)} to `{server.shown}`")
        want = f"datagram from 127.0.0.1:{peer.port} ({len(data)} bytes)"
        server.wait_line(DATAGRAM, timing.seconds(2), start=1)
        lines = server.lines()[1:]
        if lines[:1] != [want]:
            text = " ".join(lines)
            hint = "print the line, flushed, for every datagram, before answering it"
            if str(net.swapped(peer.port)) in text:
                hint = "the sender's port is byte-swapped: ntohs(peer.sin_port)"
            elif re.search(r"\((\d+) bytes\)", text) and f"({len(data)} bytes)" not in text:
                hint = "N is the length recvfrom() returned for this datagram"
            fail(f"sent {len(data)} bytes from 127.0.0.1:{peer.port}, then read the server's stdout",
                 expected=want, got="\n".join(lines[:3]) or "(no line)", hint=hint)


@pytest.mark.points(7)
def test_all_256_byte_values(lab):
    """every byte value goes through: only a-z change, NUL and 0x80-0xFF stay as they are"""
    server, port = start_server(lab)
    with net.UdpPeer() as peer:
        for data in (b"hello\0world `az{} @AZ[ \xe0\xe9\xff end", bytes(range(256))):
            expect_reply(server, port, peer, data,
                         f"sent {len(data)} bytes ({show(data, 48)}) to `{server.shown}`")


@pytest.mark.points(5)
def test_empty_datagram(lab):
    """an empty datagram is answered with an empty datagram (and the server goes on)"""
    server, port = start_server(lab)
    with net.UdpPeer() as peer:
        got = ask(peer, port, b"")
        if got != b"":
            fail(f"sent an empty datagram (0 bytes) to `{server.shown}`",
                 expected="an empty datagram back within 2 s",
                 got="no reply" if got is None else f"{len(got)} bytes: {show(got)}",
                 stderr=server.err(),
                 hint="an empty datagram is a real datagram (UDP has no end of file): when "
                      "recvfrom() returns 0, answer it with sendto() of 0 bytes like any other")
        expect_reply(server, port, peer, b"still there?", "then sent \"still there?\"")


@pytest.mark.points(6)
def test_largest_datagram(lab):
    """a 65507-byte datagram (the largest) is answered whole"""
    server, port = start_server(lab)
    data = bytes((n * 7 + 3) % 256 for n in range(LARGEST))
    with net.UdpPeer() as peer:
        replies = receive_after(peer, port, data)
        got = replies[0] if replies else None
        want = upper(data)
        if got != want:
            hint = datagram_hint([data], replies)
            fail(f"sent one datagram of {LARGEST} bytes to `{server.shown}`",
                 expected=f"one datagram of {LARGEST} bytes back, upper-cased",
                 got=replies_shown(replies, 2),
                 note=first_difference(want, got) if got is not None else None,
                 stderr=server.err(), hint=hint)


@pytest.mark.points(5)
def test_two_clients_interleaved(lab):
    """two clients sending in turn each get their own replies, and only theirs"""
    server, port = start_server(lab)
    with net.UdpPeer() as a, net.UdpPeer() as b:
        order = [(a, b"from a, one"), (b, b"from b, one"), (a, b"from a, two"), (b, b"from b, two")]
        for peer, data in order:
            peer.send(port, data)
        got_a, got_b = receive(a, 2), receive(b, 2)
    want_a, want_b = [upper(d) for p, d in order if p is a], [upper(d) for p, d in order if p is b]
    if got_a != want_a or got_b != want_b:
        fail(f"sent from two sockets in turn (A, B, A, B) to `{server.shown}`",
             expected=f"A gets {', '.join(map(show, want_a))}; B gets {', '.join(map(show, want_b))}",
             got=f"A got {', '.join(map(show, got_a)) or 'nothing'}; "
                 f"B got {', '.join(map(show, got_b)) or 'nothing'}",
             stderr=server.err(),
             hint=two_clients_hint([d for p, d in order if p is a], got_a,
                                   [d for p, d in order if p is b], got_b))


def two_clients_hint(sent_a, got_a, sent_b, got_b):
    """Replies to the wrong client, or (each got as many replies as it sent, none of the
    other's) the replies' own mistake."""
    want_a, want_b = [upper(d) for d in sent_a], [upper(d) for d in sent_b]
    crossed = any(r in want_b for r in got_a) or any(r in want_a for r in got_b)
    if crossed or len(got_a) != len(sent_a) or len(got_b) != len(sent_b):
        return ("the reply went to the wrong address: answer each datagram with sendto() to "
                "the address recvfrom() filled in for THAT datagram (never a saved one)")
    return datagram_hint(sent_a, got_a) or datagram_hint(sent_b, got_b)


@pytest.mark.points(5)
def test_datagram_boundaries(lab):
    """three datagrams sent back to back come back as three, same sizes, same order"""
    server, port = start_server(lab)
    sent = [b"a", b"b" * 3000, b"seven!!"]
    with net.UdpPeer() as peer:
        for data in sent:
            peer.send(port, data)
        got = receive(peer, len(sent), total=sum(map(len, sent)))
    want = [upper(d) for d in sent]
    if got != want:
        fail(f"sent 3 datagrams of {', '.join(str(len(d)) for d in sent)} bytes back to back "
             f"to `{server.shown}`",
             expected=f"3 datagrams of {', '.join(str(len(d)) for d in want)} bytes, in that order",
             got=f"{len(got)} datagrams of {', '.join(str(len(d)) for d in got) or 'no'} bytes",
             stderr=server.err(), hint=datagram_hint(sent, got))


@pytest.mark.points(4)
def test_max_datagrams_then_exit(lab):
    """`udp_upper_server 0 2` answers two datagrams, closes its socket and exits 0"""
    server, port = start_server(lab, 2)
    with net.UdpPeer() as peer:
        for n in (1, 2):
            expect_reply(server, port, peer, f"datagram {n}".encode(),
                         f"sent datagram {n} of 2 to `{server.shown}`")
    status = server.wait(timing.seconds(3))
    if status != 0:
        fail(f"sent 2 datagrams to `{server.shown}` (both answered), then waited for it to exit",
             expected="exit status 0 within 3 s", got=proc.describe_status(status),
             stderr=server.err(), hint="count the datagrams answered; after MAX_DATAGRAMS close "
                                       "the socket and return 0 (< not <=)")
    if net.port_is_bound(port, socket.SOCK_DGRAM):
        fail(f"`{server.shown}` exited", expected=f"UDP port {port} free again",
             got="it is still bound", hint="close() the socket before exiting")



@pytest.mark.points(3)
def test_server_port_in_use(lab):
    """on a port that is taken: `bind: Address already in use` and exit 1"""
    common.expect_port_in_use(lab, SERVER, net.UdpPeer, b"bind: ")


@pytest.mark.points(4)
def test_sendto_error_is_not_fatal(lab):
    """a sendto() that fails is reported on stderr, and the server answers the next datagram"""
    did = ("started `udp_upper_server 0` with its first sendto() failing with ENOBUFS (strace -e "
           "inject), then sent it two datagrams")

    def serve(port, server):
        with net.UdpPeer() as peer:
            peer.send(port, b"lost")
            server.wait_line(r"datagram from .*", timing.seconds(3), start=1)
            peer.send(port, b"second")
            got = peer.recv(3)
        if got is None or got[0] != b"SECOND":
            raise AssertionError("no reply to the second datagram")
    common.expect_survives_injected_error(
        lab, SERVER, "sendto", "ENOBUFS", "sendto: No buffer space available", did, serve,
        hint="a sendto() that fails costs that one reply only: report it (perror(\"sendto\")) and "
             "go on with the next datagram; only a failure of recvfrom() on the socket ends the server",
        kind=socket.SOCK_DGRAM)


@pytest.mark.points(4)
def test_stops_on_sigint(lab):
    """SIGINT stops the server with exit 0, idle and after answering a datagram"""
    for busy in (False, True):
        server, port = start_server(lab)
        if busy:
            with net.UdpPeer() as peer:
                expect_reply(server, port, peer, b"hello", f"sent \"hello\" to `{server.shown}`")
        common.expect_clean_stop(
            server, signal.SIGINT, f"started `{server.shown}`"
            + (", had it answer a datagram" if busy else "") + ", then sent SIGINT",
            hint="handle SIGINT with sigaction() without SA_RESTART; when recvfrom() fails "
                      "with EINTR and the flag is set, close the socket, free the buffer, return 0")


@pytest.mark.points(3)
def test_server_usage_errors(lab):
    """bad ports and counts are usage errors (exit 2, `usage: ` on stderr)"""
    common.expect_usage_errors(lab, SERVER, (
        [], ["80x"], ["+80"], ["70000"], ["0", "0"], ["0", "x"], ["0", "1", "2"]), "PORT [MAX_DATAGRAMS]")


@pytest.mark.points(3)
def test_flushes_stdout(lab):
    """the ready line reaches a plain pipe at once (stdout flushed)"""
    common.flushes_stdout(lab, SERVER, READY_LINE)



@pytest.mark.points(4)
@pytest.mark.deadline(30)
def test_server_valgrind_clean(lab):
    """under Valgrind, a server that answers two datagrams (one of 60000 bytes): no error, no leak"""
    server, port = lab.start_server(SERVER, 0, 2, kind=socket.SOCK_DGRAM, use_valgrind=True)
    with net.UdpPeer() as peer:
        for data in (b"x" * 60000, b""):
            replies = receive_after(peer, port, data, timeout=10)
            if replies != [upper(data)]:
                fail(f"sent {len(data)} bytes to `{server.shown}` under Valgrind",
                     expected=f"{len(data)} bytes back", stderr=server.err(),
                     got=replies_shown(replies, 10), hint=datagram_hint([data], replies))
    status = server.wait(timing.seconds(15))
    common.valgrind_clean(server, status, f"`udp_upper_server {port} 2` (two datagrams)", "udp server")


# -- the client ----------------------------------------------------------------------------


def uppercase(fake, data, addr):
    fake.reply(addr, upper(data))


def run_client(lab, port, data, limit=6, **kw):
    """Run the client against 127.0.0.1:``port`` with ``data`` on stdin, for at most ``limit``
    seconds; return (program, status, elapsed).  A client still running is killed (None)."""
    client = lab.start(CLIENT, "127.0.0.1", port, **kw)
    client.feed(data)
    status = client.wait(timing.seconds(limit))
    elapsed = client.elapsed()
    if status is None:
        client.kill()
    return client, status, elapsed


class ClosedUdpPort:
    """A UDP port where nothing listens: each datagram sent there comes back as an ICMP
    "port unreachable", which a connected socket reports as ECONNREFUSED."""

    def __init__(self):
        self.port = net.free_port(socket.SOCK_DGRAM)

    def close(self):
        pass


#: The lines of the client's Valgrind check (one of 50 KB).
VALGRIND_LINES = [b"short", b"B" * 50_000, b"last"]

#: The checks whose client starts early: check -> EarlyRun's arguments (peer, stdin, ...).
EARLY = {
    "test_client_retries": dict(make_peer=lambda: net.FakeUdpServer(answer_second_try),
                                data=b"again\n"),
    "test_client_gives_up": dict(make_peer=net.UdpPeer, data=b"hello\n"),
    "test_client_refused_tries_count_as_unanswered": dict(make_peer=lambda: ClosedUdpPort(),
                                                           data=b"hello\n"),
    "test_client_valgrind_clean": dict(make_peer=lambda: net.FakeUdpServer(uppercase),
                                       data=b"\n".join(VALGRIND_LINES) + b"\n", limit=20,
                                       use_valgrind=True),
}


def start_early(lab, names):
    """The :class:`harness.early.EarlyRun` of each check of :data:`EARLY` among ``names``
    (the selected checks), started before the session's first check
    (grader/checks/conftest.py), so that their waiting overlaps the checks of every lab
    graded before this one."""
    return {name: EarlyRun(lab, CLIENT, **args) for name, args in EARLY.items() if name in names}


def early_run(lab, early, name):
    """The check's :class:`harness.early.EarlyRun`: the one started early, or one started now."""
    return early.pop(name, None) or EarlyRun(lab, CLIENT, **EARLY[name])


def shown_list(datagrams):
    return ", ".join(map(show, datagrams)) or "nothing"


def placeholder(client, hint):
    """The skeleton's placeholder hint when a call still fails with ENOSYS, else ``hint``."""
    err = client.err()
    return placeholder_hint(err, client.source) if b"Function not implemented" in err else hint


#: The hint for a client that sends each line with its newline.
NEWLINE_HINT = "send each line WITHOUT its newline (getline() keeps it: drop the last byte)"


def client_output_hint(want, out, sent, expected_sent):
    if sent != expected_sent and any(d.endswith(b"\n") for d in sent):
        return NEWLINE_HINT
    if lost_at_nul(want, out):
        return ("the output stops at a NUL byte: print the reply with fwrite() and its length "
                "(never printf(\"%s\") or strlen)")
    return "print each reply exactly as received, followed by one newline, and flush stdout"


@pytest.mark.points(6)
def test_client_uppercases_lines(lab):
    """each stdin line goes as one datagram without its newline; each reply is printed + newline"""
    lines = [b"hello", b"", b"Mixed Case 123 z\xe9\0nul", b"last line without newline"]
    data = b"\n".join(lines)
    with net.FakeUdpServer(uppercase) as fake:
        client, status, _ = run_client(lab, fake.port, data)
    want = b"".join(upper(line) + b"\n" for line in lines)
    out = client.out()
    if status is None:
        fail(f"ran `{client.shown}` against a server that answers every datagram, with "
             f"{show(data)} on stdin", expected="it ends at end of file (exit 0)",
             got="still running after 6 s, so it was killed", stderr=client.err(),
             note=f"stdout so far: {show(out)}; the server got {len(fake.received)} datagrams",
             hint="getline() returns -1 at end of file: end the session there, exit 0")
    if fake.received != lines or out != want or status != 0:
        fail(f"ran `{client.shown}` against a server that upper-cases every datagram, with "
             f"{show(data)} on stdin",
             expected=f"the server gets {len(lines)} datagrams {', '.join(map(show, lines))}; "
                      f"stdout {show(want)}; exit status 0",
             got=f"the server got {shown_list(fake.received)}; stdout "
                 f"{show(out)}; {proc.describe_status(status)}",
             note=first_difference(want, out) if out != want else None, stderr=client.err(),
             hint=placeholder(client, client_output_hint(want, out, fake.received, lines)))


@pytest.mark.points(4)
def test_client_quits_on_q(lab):
    """a line `q` or `Q` ends the session (exit 0): nothing after it is sent"""
    for quit_line in (b"q\n", b"Q\n"):
        data = b"before\n" + quit_line + b"after\n"
        with net.FakeUdpServer(uppercase) as fake:
            client, status, _ = run_client(lab, fake.port, data)
        if fake.received != [b"before"] or client.out() != b"BEFORE\n" or status != 0:
            fail(f"ran `{client.shown}` with {show(data)} on stdin",
                 expected='the server gets only "before"; stdout "BEFORE\\n"; exit status 0',
                 got=f"the server got {shown_list(fake.received)}; stdout "
                     f"{show(client.out())}; {proc.describe_status(status)}", stderr=client.err(),
                 hint=placeholder(client, NEWLINE_HINT if fake.received[:1] == [b"before\n"] else
                                  "a line that is exactly `q` or `Q` (newline removed) "
                                  "ends the session: stop before sending it, exit 0"))


def answer_second_try(fake, data, addr):
    if len(fake.received) >= 2:
        fake.reply(addr, upper(data))


@pytest.mark.points(4)
def test_client_retries(lab, early):
    """when the first datagram is lost (no reply), the client sends it again and prints the reply (timed: the contract's 1 s per try)"""
    with early_run(lab, early, "test_client_retries") as run:
        client, status, elapsed = run.result()
    fake = run.peer  # closed: all it received is in fake.received
    out = client.out()
    if fake.received != [b"again", b"again"] or out != b"AGAIN\n" or status != 0:
        fail(f"ran `{client.shown}` with \"again\\n\" on stdin, against a server that ignores "
             "the first datagram and answers the second",
             expected='the server gets "again" twice; stdout "AGAIN\\n"; exit status 0',
             got=f"the server got {len(fake.received)} datagram(s): {shown_list(fake.received)}; "
                 f"stdout {show(out)}; {proc.describe_status(status)} after {elapsed:.1f} s",
             stderr=client.err(),
             hint=placeholder(client, NO_TIME_LIMIT_HINT if status is None else
                              NEWLINE_HINT if fake.received[:1] == [b"again\n"] else
                              "UDP loses datagrams: when no reply came within the "
                              "try's second, send the same datagram again (3 tries in "
                              "all) before giving up"
                              if len(fake.received) < 2 else
                              "print the reply to the second try (and send nothing more once "
                              "a reply came)"))


@pytest.mark.points(4)
def test_client_gives_up(lab, early):
    """with nobody answering: 3 tries of about 1 s, then `no reply from HOST:PORT` and exit 1 (timed: the contract's own timing, 1.5 to 4.5 s times the machine's measured slowness)"""
    with early_run(lab, early, "test_client_gives_up") as run:
        client, status, elapsed = run.result()
        silent = run.peer  # a bound socket that never answers
        tries = receive(silent, 0, 0)  # the client has ended: all it sent is here
    want = f"no reply from 127.0.0.1:{silent.port}".encode()
    did = (f"ran `{client.shown}` with \"hello\\n\" on stdin, against a bound socket that never "
           "answers")
    if status is None:
        fail(did, expected=f"`{want.decode()}` on stderr and exit status 1 within about 4 s",
             got=f"still running after {elapsed:.1f} s, so it was killed ({len(tries)} "
                 "datagram(s) sent)", stderr=client.err(),
             hint=NO_TIME_LIMIT_HINT)
    if want not in client.err().splitlines() or status != 1 or tries != [b"hello"] * 3 \
            or not 1.5 <= elapsed <= timing.seconds(4.5):
        fail(did, expected=f"3 datagrams \"hello\", then `{want.decode()}` on stderr and exit "
                           "status 1, after 1.5 to 4.5 s (3 tries of 0.5 to 1 s)",
             got=f"{len(tries)} datagram(s): {shown_list(tries)}; "
                 f"{proc.describe_status(status)} after {elapsed:.1f} s",
             stderr=client.err(), hint=placeholder(client, give_up_hint(tries, elapsed)))


@pytest.mark.points(3)
def test_client_refused_tries_count_as_unanswered(lab, early):
    """against a port where nothing listens (ECONNREFUSED), the tries count as unanswered: `no reply from HOST:PORT`, exit 1"""
    with early_run(lab, early, "test_client_refused_tries_count_as_unanswered") as run:
        client, status, elapsed = run.result()
        port = run.peer.port
    want = f"no reply from 127.0.0.1:{port}".encode()
    err = client.err()
    if want in err.splitlines() and status == 1:
        return
    hint = None
    if b"refused" in err.lower() and want not in err.splitlines():
        hint = ("ECONNREFUSED (the ICMP \"port unreachable\" of an earlier try) is not the end: "
                "it only means this try goes unanswered; go on with the next try, and give "
                "up only after the third unanswered one")
    elif status is None:
        hint = ("an error from recv() is not a reply: poll() says the socket is readable, "
                "recv() fails; keep waiting until the try's deadline, then try again")
    fail(f"ran `{client.shown}` with \"hello\\n\" on stdin, against a UDP port where nothing "
         "listens (each datagram is refused)",
         expected=f"`{want.decode()}` on stderr and exit status 1",
         got=f"{proc.describe_status(status)} after {elapsed:.1f} s; stderr {show(err)}",
         hint=placeholder(client, hint))


#: The hint for a client that waits for a reply with no time limit.
NO_TIME_LIMIT_HINT = ("the client has no time limit and would hang for ever: wait at most 1 s per "
                      "try (poll() with a timeout, or SO_RCVTIMEO), 3 tries, then give up")


def give_up_hint(tries, elapsed):
    if tries[:1] == [b"hello\n"]:
        return NEWLINE_HINT
    if len(tries) != 3:
        return (f"the datagram went out {len(tries)} time(s): send it 3 times in all (one "
                "try, then 2 more), each try waiting 0.5 to 1 s for the reply")
    if elapsed < 1.5:
        return ("the tries were too quick: each waits 0.5 to 1 s for the reply (poll() with "
                "the time left until the try's deadline)")
    if elapsed > timing.seconds(4.5):
        return "each try waits at most 1 s: compute the time left from one deadline per try"
    return ("after 3 unanswered tries print `no reply from HOST:PORT` (HOST and PORT as "
            "typed) on stderr and exit 1")


def reply_from_elsewhere_first(fake, data, addr):
    """Answer from another socket (another port) with the wrong bytes, then properly."""
    with net.UdpPeer() as stranger:
        stranger.sock.sendto(b"WRONG: not from the server", addr)
    fake.reply(addr, upper(data))


@pytest.mark.points(5)
def test_client_ignores_other_senders(lab):
    """a datagram from another port than the server's is ignored; only the server's reply is printed"""
    data = b"hello\nworld\n"
    with net.FakeUdpServer(reply_from_elsewhere_first) as fake:
        client, status, _ = run_client(lab, fake.port, data)
    out = client.out()
    if out != b"HELLO\nWORLD\n" or status != 0:
        fail(f"ran `{client.shown}` with {show(data)} on stdin, against a server that first "
             "has ANOTHER socket (another port) send \"WRONG: ...\" to the client, then replies",
             expected='stdout "HELLO\\nWORLD\\n"; exit status 0',
             got=f"stdout {show(out)}; {proc.describe_status(status)}", stderr=client.err(),
             hint=placeholder(client, "the client accepts datagrams from anyone: connect() the "
                              "UDP socket to the server (the kernel then drops the others), "
                              "or compare recvfrom()'s address and port with the server's and "
                              "ignore the rest" if b"WRONG" in out else
                              "print each reply from the server, followed by a newline"))


@pytest.mark.points(3)
def test_client_socket_failure_reported(lab):
    """when socket() fails (EMFILE injected with strace) the client prints the perror line and exits 1"""
    client, status = common.run_with_failing_call(
        lab, CLIENT, ["127.0.0.1", net.free_port(socket.SOCK_DGRAM)], "socket", "EMFILE", b"hello\n")
    err = client.err()
    if b"socket: Too many open files" in err.splitlines() and status == 1:
        return
    hint = "check socket()'s return value; on -1 perror(\"socket\") and return 1"
    if b"socket: Too many open files" in err.splitlines():
        hint = "a failed call is a run-time failure: exit status 1"
    fail(f"ran `{client.shown}` with socket() made to fail with EMFILE (strace -e inject)",
         expected="stderr `socket: Too many open files` and exit status 1",
         got=f"{proc.describe_status(status)}; stderr {show(err)}", hint=hint)


@pytest.mark.points(2)
def test_client_usage_errors(lab):
    """wrong argument counts, bad ports and a host that cannot be resolved are usage errors (exit 2)"""
    common.expect_usage_errors(lab, CLIENT, (
        [], ["127.0.0.1"], ["127.0.0.1", "80x"], ["127.0.0.1", "99999"],
        ["127.0.0.1", "80", "extra"], ["bad host!", "80"]), "HOST PORT")


@pytest.mark.points(4)
@pytest.mark.deadline(30)
def test_client_valgrind_clean(lab, early):
    """under Valgrind, the client with a 50 KB line: no error, no leak, no descriptor left"""
    lines = VALGRIND_LINES
    with early_run(lab, early, "test_client_valgrind_clean") as run:  # at most 20 s
        client, status, _ = run.result()
    fake = run.peer
    common.valgrind_clean(client, status, f"`udp_upper_client 127.0.0.1 {fake.port}` with a 50 KB line", "client")
    want = b"".join(upper(line) + b"\n" for line in lines)
    if client.out() != want:
        fail("ran the client under Valgrind", expected=f"stdout the {len(want)} upper-cased bytes",
             got=f"{len(client.out())} bytes", note=first_difference(want, client.out()))
