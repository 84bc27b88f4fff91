"""Chat peers for the chat-server checks (labs 8 and 9): many participants, one selector.

A :class:`Room` holds the grader's side of a chat: any number of
:class:`Participant` sockets, all non-blocking, driven by one ``selectors``
loop in the check's own thread (no thread per client: a hundred participants cost
one ``select`` call a pass).  Participants queue what they send; the room writes
it as the server takes it, reads whatever arrives, splits it into lines and
stamps each line with the time it came.  Every wait has a deadline.

    room = Room(port)
    alice, bob = room.join(2)
    alice.send(b"hello\\n")
    room.wait(lambda: bob.lines(), 3)           # True once bob has a line

A participant may be ``silent`` (it never reads: its buffers fill up, which is
how a check makes a client that stopped reading) with a small receive buffer.
"""
import errno
import selectors
import socket
import time

from . import timing

HOST = "127.0.0.1"


def chunks(data, step):
    """``data`` cut into pieces of ``step`` bytes (the last one shorter)."""
    return [data[i:i + step] for i in range(0, len(data), step)]


class Participant:
    """One chat client played by the grader."""

    def __init__(self, room, sock):
        self.room = room
        self.sock = sock
        self.port = sock.getsockname()[1]
        #: The name the server gives this client: ``127.0.0.1:PORT``.
        self.name = f"{HOST}:{self.port}"
        self.received = bytearray()
        #: (monotonic time, line) for each complete line received, in order.
        self.stamped = []
        self.eof = False
        self.reset = False
        self.reading = True
        self._out = bytearray()
        self._drip = []  # (due time, bytes) pieces sent one by one, at their time
        self._partial = bytearray()

    # -- what it does --------------------------------------------------------
    def send(self, data):
        """Queue ``data``; the room sends it as fast as the server takes it."""
        self._out += data
        self.room._update(self)

    def send_slowly(self, data, step=1, interval=0.002):
        """Send ``data`` ``step`` bytes at a time, one piece every ``interval`` s (TCP_NODELAY:
        each piece its own segment), while the room goes on with everything else."""
        self.send_pieces(chunks(data, step), interval)

    def send_pieces(self, pieces, interval=0.002):
        """Send each of ``pieces`` (bytes) as a segment of its own, one every ``interval`` s,
        while the room goes on with everything else."""
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.monotonic()
        for n, piece in enumerate(pieces):
            self._drip.append((start + n * interval, bytes(piece)))

    def stop_reading(self):
        """Read nothing more: the server's sends pile up in the buffers."""
        self.reading = False
        self.room._update(self)

    def close(self):
        self.room._forget(self)
        try:
            self.sock.close()
        except OSError:
            pass

    def hard_reset(self):
        """Close with a TCP reset (SO_LINGER 0) instead of an orderly close."""
        import struct
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close()

    # -- what it got ---------------------------------------------------------
    def lines(self):
        """The complete lines received so far, newlines included."""
        return [line for _t, line in self.stamped]

    def unsent(self):
        """Bytes queued but not yet taken by the server."""
        return len(self._out) + sum(len(piece) for _t, piece in self._drip)

    def _got(self, data, now):
        self.received += data
        self._partial += data
        while True:
            cut = self._partial.find(b"\n")
            if cut < 0:
                break
            self.stamped.append((now, bytes(self._partial[:cut + 1])))
            del self._partial[:cut + 1]


class Room:
    """The grader's side of a chat with the server on ``port``: participants and one selector."""

    def __init__(self, port):
        self.port = port
        self.selector = selectors.DefaultSelector()
        self.members = []

    # -- joining -------------------------------------------------------------
    def join(self, count=1, timeout=3.0, rcvbuf=None):
        """Connect ``count`` participants at once; return them (the connections completed).

        ``rcvbuf`` sets a small receive buffer first (a client that will stop reading).
        A connection completes when the server's kernel queues it, before accept().
        """
        socks = []
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if rcvbuf:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.setblocking(False)
            s.connect_ex((HOST, self.port))
            socks.append(s)
        pending = set(socks)
        waiting = selectors.DefaultSelector()
        for s in socks:
            waiting.register(s, selectors.EVENT_WRITE)
        deadline = timing.Deadline(timing.seconds(timeout))
        while pending and not deadline.expired():
            for key, _ in waiting.select(min(0.1, deadline.left())):
                waiting.unregister(key.fileobj)
                pending.discard(key.fileobj)
                error = key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise ConnectionRefusedError(error, f"connect: {errno.errorcode.get(error)}")
        waiting.close()
        if pending:
            for s in socks:
                s.close()
            raise TimeoutError(f"{len(pending)} of {count} connections did not complete "
                               f"within {deadline.timeout:g} s")
        joined = [Participant(self, s) for s in socks]
        for p in joined:
            self.members.append(p)
            self.selector.register(p.sock, selectors.EVENT_READ, p)
        return joined

    # -- the loop ------------------------------------------------------------
    def _update(self, p):
        """Watch ``p`` for what it needs now: reading (unless silent), writing (when it has bytes)."""
        if p not in self.members:
            return
        events = (selectors.EVENT_READ if p.reading and not p.eof else 0) | \
                 (selectors.EVENT_WRITE if p._out else 0)
        key = self.selector.get_key(p.sock) if p.sock in self.selector.get_map() else None
        if key is None and events:
            self.selector.register(p.sock, events, p)
        elif key is not None and not events:
            self.selector.unregister(p.sock)
        elif key is not None and key.events != events:
            self.selector.modify(p.sock, events, p)

    def _forget(self, p):
        if p in self.members:
            self.members.remove(p)
            if p.sock in self.selector.get_map():
                self.selector.unregister(p.sock)

    def _next_drip(self):
        due = [p._drip[0][0] for p in self.members if p._drip]
        return min(due) if due else None

    def pump(self, timeout):
        """One pass: wait up to ``timeout`` s for any socket, then read and write what is ready."""
        now = time.monotonic()
        for p in self.members:  # pieces of a slow sender that are due
            while p._drip and p._drip[0][0] <= now:
                p._out += p._drip.pop(0)[1]
                self._update(p)
        drip = self._next_drip()
        if drip is not None:
            timeout = max(0.0, min(timeout, drip - now))
        if not self.selector.get_map():
            time.sleep(timeout)  # nothing to watch: only a slow sender's next piece
            return
        for key, events in self.selector.select(timeout):
            p = key.data
            if events & selectors.EVENT_READ:
                self._read(p)
            if events & selectors.EVENT_WRITE and p in self.members:
                self._write(p)

    def _read(self, p):
        try:
            data = p.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            p.eof = p.reset = True
            self._update(p)
            return
        if not data:
            p.eof = True
            self._update(p)
            return
        p._got(data, time.monotonic())

    def _write(self, p):
        try:
            n = p.sock.send(p._out)
        except BlockingIOError:
            return
        except OSError:
            p._out.clear()
            p._drip.clear()
            p.eof = p.reset = True
        else:
            del p._out[:n]
        self._update(p)

    def wait(self, predicate, timeout):
        """Pump until ``predicate()`` is true or ``timeout`` s passed; return its last value."""
        deadline = timing.Deadline(timing.seconds(timeout))
        while True:
            result = predicate()
            if result or deadline.expired():
                return result
            self.pump(min(0.05, deadline.left()))

    def settle(self, seconds):
        """Pump for ``seconds`` (a window in which something must NOT happen), then return."""
        deadline = timing.Deadline(timing.seconds(seconds))
        while not deadline.expired():
            self.pump(min(0.05, deadline.left()))

    def close(self):
        for p in list(self.members):
            p.close()
        self.selector.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
