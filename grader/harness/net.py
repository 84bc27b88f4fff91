"""Network peers for the checks: honest TCP/UDP clients and servers, and fake ones
that misbehave on purpose.  Loopback (127.0.0.1) only; every wait has a deadline.
"""
import socket
import struct
import threading
import time

from . import timing

HOST = "127.0.0.1"


#: Ports a program may bind without privileges: a byte-swapped port is never below.
UNPRIVILEGED = 1024


def ephemeral_low():
    """The lowest port the kernel picks for bind(0) and connect() (32768 by default)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(kind=socket.SOCK_STREAM, distinct_bytes=False):
    """A port that is free on 127.0.0.1 right now, its two bytes different.

    Equal bytes would read the same with or without ``htons``/``ntohs``: a server given such
    a port, which prints it without ``ntohs()``, would pass a check by chance (seen: one
    round in six, ``restart_on_same_port``; the kernel's ports for port 0 are retried for
    the same reason, ``Lab.start_ready``).

    With ``distinct_bytes``, moreover, the port written without ``htons`` lies below the
    range the kernel picks ports from (and above the privileged ones), so that a program
    that binds it by mistake never meets a port that another grading's server or connection
    takes meanwhile (seen: `bind: Address already in use` instead of the htons hint while
    other gradings ran), and it is free now (no service of the machine holds it).
    """
    low = ephemeral_low()
    while True:
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if (port >> 8) == (port & 0xFF):
            continue
        if not distinct_bytes or (UNPRIVILEGED <= swapped(port) < low
                                  and not port_is_bound(swapped(port), kind)):
            return port


def listen_backlog(port):
    """The backlog of the TCP socket listening on ``port``, as the kernel reports it.

    ``ss`` shows it as the Send-Q of a listening socket.  None when ``ss`` is missing
    or nothing listens there.
    """
    import subprocess
    try:
        out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=5, text=True).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] == "LISTEN" and fields[2].isdigit():
            return int(fields[2])
    return None


def swapped(port):
    """The port with its two bytes swapped (what a missing htons/ntohs gives)."""
    return ((port & 0xFF) << 8) | (port >> 8)


def port_is_bound(port, kind=socket.SOCK_STREAM):
    """True when a live socket holds ``port`` (binding 0.0.0.0:port fails).

    The probe sets SO_REUSEADDR, so connections left in TIME_WAIT do not count.
    """
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


class TcpClient:
    """A TCP client connected to a server under test."""

    def __init__(self, port, timeout=3.0, sock=None):
        if sock is None:
            sock = socket.create_connection((HOST, port), timeout=timing.seconds(timeout))
        self.sock = sock
        self.sock.settimeout(timing.seconds(timeout))
        self.local_port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.eof = False

    @classmethod
    def from_distinct_port(cls, port, timeout=3.0):
        """A client whose own port's two bytes differ (bound before it connects), so that a
        server printing it without ntohs() prints another port every time, not by luck."""
        for _ in range(5):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.bind((HOST, free_port(distinct_bytes=True)))
            except OSError:  # taken since: another one
                sock.close()
                continue
            sock.settimeout(timing.seconds(timeout))
            sock.connect((HOST, port))
            return cls(port, timeout, sock=sock)
        return cls(port, timeout)

    def send(self, data):
        self.sock.sendall(data)

    def send_slowly(self, data, step=1, pause=0.0):
        """Send ``data`` ``step`` bytes at a time (with TCP_NODELAY: many small segments)."""
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(0, len(data), step):
            self.sock.sendall(data[i:i + step])
            if pause:
                time.sleep(pause)  # misbehaving on purpose, not synchronising

    def shutdown_write(self):
        """Half-close: the server reads end of file, we can still read."""
        self.sock.shutdown(socket.SHUT_WR)

    def recv_exact(self, count, timeout):
        """Read until ``count`` more bytes came, end of file, or the deadline; return them."""
        deadline = timing.Deadline(timing.seconds(timeout))
        got = bytearray()
        while len(got) < count and not deadline.expired():
            if not self._recv_into(got, count - len(got), deadline):
                break
        return bytes(got)

    def recv_until_eof(self, timeout, limit=1 << 26):
        """Read until end of file (or the deadline, or ``limit`` bytes); return the bytes.

        ``self.eof`` tells afterwards whether end of file really came.
        """
        deadline = timing.Deadline(timing.seconds(timeout))
        got = bytearray()
        while not self.eof and len(got) < limit and not deadline.expired():
            if not self._recv_into(got, 65536, deadline):
                break
        return bytes(got)

    def _recv_into(self, buf, most, deadline):
        self.sock.settimeout(max(0.01, deadline.left()))
        try:
            chunk = self.sock.recv(min(most, 65536))
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            self.eof = True
            self.reset_seen = True
            return False
        if not chunk:
            self.eof = True
            return False
        buf += chunk
        self.received += chunk
        return True

    def reset(self):
        """Close with a TCP reset (SO_LINGER 0) instead of an orderly close."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def connect_many(port, count, timeout):
    """Start ``count`` connections at once; return (clients that completed, sockets pending).

    A connection completes when the server's kernel puts it in the listen
    queue, even before the server calls accept(): this is how a check sees the
    backlog.  The clients are in the order they were started.
    """
    socks = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((HOST, port))
        socks.append(s)
    deadline = timing.Deadline(timing.seconds(timeout))
    pending = list(socks)
    import select
    while pending and not deadline.expired():
        _, writable, _ = select.select([], pending, [], min(0.1, deadline.left()))
        for s in writable:
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                pending.remove(s)
            else:
                pending.remove(s)
                s.close()
    done = [TcpClient(0, sock=s) for s in socks if s not in pending and s.fileno() >= 0]
    for s in done:
        s.sock.setblocking(True)
    return done, pending


class FakeTcpServer:
    """A TCP server on 127.0.0.1 that runs ``handler(conn)`` for each connection, in a thread.

    Used to test clients: a server that sends in fragments, stalls, resets, or
    closes early.  ``connections`` counts the accepted connections.
    """

    def __init__(self, handler, port=0):
        self.handler = handler
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, port))
        self.sock.listen(16)
        # Set here, not in the thread: a caller may close() before the thread runs.
        self.sock.settimeout(0.02)  # how quickly close() is noticed
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.errors = []
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            conn.settimeout(timing.seconds(10))
            try:
                self.handler(conn, self)
            except OSError as exc:  # the client went away: part of the game
                self.errors.append(exc)
            finally:
                conn.close()

    def close(self):
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class UdpPeer:
    """A UDP socket on 127.0.0.1 that sends to and hears from a program under test."""

    def __init__(self, port=0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((HOST, port))
        self.port = self.sock.getsockname()[1]

    def send(self, port, data):
        self.sock.sendto(data, (HOST, port))

    def recv(self, timeout, size=65536):
        """One datagram (data, (host, port)), or None when none came within ``timeout``."""
        self.sock.settimeout(max(0.01, timing.seconds(timeout)))
        try:
            return self.sock.recvfrom(size)
        except (socket.timeout, ConnectionRefusedError):
            return None

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FakeUdpServer:
    """A UDP server on a thread: ``respond(fake, data, addr)`` for each datagram received.

    ``received`` lists the datagrams in order; ``reply(addr, data)`` answers from its socket.
    """

    def __init__(self, respond):
        self.peer = UdpPeer()
        self.port = self.peer.port
        self.respond = respond
        self.received = []
        self.errors = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                got = self.peer.recv(0.1)
            except OSError:  # closed under it (a close() whose join gave up): the end
                return
            if got is None:
                continue
            self.received.append(got[0])
            try:
                self.respond(self, got[0], got[1])
            except OSError as exc:
                self.errors.append(exc)

    def reply(self, addr, data):
        self.peer.sock.sendto(data, addr)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.peer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
