"""A fake server closed at once leaves no exception behind in its thread.

``expect_port_in_use`` holds a port with a ``FakeTcpServer`` and closes it as soon as the
program under test has failed to bind.  Its thread used to set the socket's timeout when
it first ran; on a busy machine it first ran after the close, raised EBADF, and pytest
printed the thread's traceback into the student's checklist (CI, lab 4's
``server_port_in_use``).
"""
import threading

from harness import net


class LateFakeServer(net.FakeTcpServer):
    """A fake server whose thread starts its work only after ``close()``: the busy machine."""

    def __init__(self):
        self.closed = threading.Event()
        self.raised = []
        super().__init__(lambda conn, fake: None)

    def _serve(self):
        self.closed.wait(5)
        try:
            super()._serve()
        except Exception as exc:  # what would reach the checklist as a traceback
            self.raised.append(exc)

    def close(self):
        self.sock.close()
        self.closed.set()
        super().close()


def test_a_fake_server_closed_before_its_thread_runs_raises_nothing():
    fake = LateFakeServer()
    fake.close()
    assert not fake._thread.is_alive()
    assert fake.raised == []


def test_a_fake_server_still_serves():
    with net.FakeTcpServer(lambda conn, fake: conn.sendall(b"hi")) as fake:
        client = net.TcpClient(fake.port)
        try:
            assert client.sock.recv(2) == b"hi"
        finally:
            client.close()
    assert fake.connections == 1
