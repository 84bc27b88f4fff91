"""The chat checks' flood (grader/checks/chat.py ``flood``) is fair on a busy machine.

Three chat checks make the server drop a client that does not read: A floods the room
with 1000-byte lines, B reads them, C reads nothing.  A correct server drops any client
whose buffers are full: B too, should B's fill.  What A sent and B has not read yet is
in the kernel's buffers, on its way to B.  When the grader (which plays A and B) is slow
on a busy machine, first the server, then the grader, that can be megabytes, all pushed
towards B while nobody reads it: a correct server then drops B, and a point is lost to
the machine's load (seen once in some 250 gradings beside a CI run: lab 9's
``nonreader_holds_no_lock`` failed a server whose mistake was elsewhere).

So A never runs more than ``FLOOD_AHEAD`` lines (33 KB) ahead of B, well within B's
buffers.  Here the machine is made busy on purpose: now and then the server is stopped
(SIGSTOP) while the grader goes on, then the grader sleeps while the server runs.  The
old flood (A as far ahead as the kernel took) ran 2,800 to 3,200 lines ahead in this
test; on this kernel B's buffers had grown to take them all, so it is the bound that is
asserted, with its purpose: C dropped, B never, every line of A's reaching B.
"""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from harness import proc
from harness.chat import Room
from harness.lab import READY_LINE

from conftest import GRADER, ROOT

sys.path.insert(0, str(GRADER / "checks"))
import chat  # noqa: E402  (the checks' module, not harness.chat)


class LateRoom(Room):
    """A room on a busy machine: now and then the server is held still while the grader
    goes on (0.2 s, SIGSTOP), then the grader is late while the server runs (0.3 s)."""

    def __init__(self, port, server):
        super().__init__(port)
        self.server = server
        self.passes = 0
        self.held = None

    def pump(self, timeout):
        self.passes += 1
        if self.held is None and self.passes % 20 == 0:
            os.killpg(self.server.pid, signal.SIGSTOP)
            self.held = time.monotonic()
        elif self.held is not None and time.monotonic() - self.held > 0.2:
            os.killpg(self.server.pid, signal.SIGCONT)
            self.held = None
            time.sleep(0.3)
        super().pump(timeout)


@pytest.fixture(params=["lab8/chat_server.c", "lab9/thread_chat_server.c"])
def server(request, tmp_path):
    source = ROOT / "solutions" / request.param
    binary = tmp_path / source.stem
    subprocess.run(["cc", "-std=c11", "-pthread", "-o", str(binary), str(source)], check=True)
    program = proc.Program([str(binary), "0"], source.stem, dict(os.environ), None, None, False)
    try:
        yield program
    finally:
        program.kill()


def test_a_late_grader_never_gets_the_reader_dropped(server):
    assert server.wait_line(READY_LINE, 5)
    room = LateRoom(int(re.search(READY_LINE, server.lines()[0]).group(1)), server)
    with room:
        sleeper, = chat.join(server, room, 1, rcvbuf=4096)
        sleeper.stop_reading()
        talker, listener = chat.join(server, room, 2)
        sent, seen, quiet = chat.flood(room, talker, listener, chat.dropped_line(server, sleeper))
        assert chat.dropped_line(server, sleeper)(), server.err()
        assert not quiet
        assert sent - seen <= chat.FLOOD_AHEAD, f"A ran {sent - seen} lines ahead of B"
        # What A sent is still on its way to B: it reaches B whole, B is never dropped.
        room.wait(lambda: len(listener.lines()) >= sent or listener.eof, 10)
        assert f"dropped {listener.name}:" not in server.err().decode()
        assert len(listener.lines()) == sent
