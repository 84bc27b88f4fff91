"""Deadlines.  Every wait in the grader has one; none of them is a fixed sleep.

Every deadline is stretched by :func:`scale`: how slow this machine is now, measured at
the start of a run (:func:`measure`), or ``GRADER_TIME_SCALE`` (a float) when that is
larger.  A grading on a busy machine (other gradings, or two busy loops holding both
cores) or a slow one (a half-CPU autograding container) then waits as long, in the
program's own CPU time, as one on a quiet machine: the same program gets the same grade.
"""
import os
import statistics
import time

#: CPU seconds the calibration loop takes on the machine the deadlines were set on.
REFERENCE_CPU = 0.036
#: The largest stretch measured (a run stays bounded on a machine that is merely stalled).
MOST = 8.0
#: How often the calibration loop runs (the median is taken).  Each round spans several of
#: the scheduler's time slices, so that it sees the other processes that want the cores.
ROUNDS = 3

_measured = None


def _loop(n=800_000):
    x = 0
    for i in range(n):
        x = (x * 31 + i) % 1000003
    return x


def measure():
    """The machine's slowness now, at least 1: the median, over a few rounds of a fixed
    loop, of the wall time it took per CPU second it got (how much other processes hold
    the cores) times its CPU time over the reference machine's (how slow a core is)."""
    ratios = []
    for _ in range(ROUNDS):
        wall, cpu = time.monotonic(), time.process_time()
        _loop()
        wall, cpu = time.monotonic() - wall, max(time.process_time() - cpu, 1e-6)
        ratios.append((wall / cpu) * max(1.0, cpu / REFERENCE_CPU))
    return min(MOST, max(1.0, statistics.median(ratios)))


def measured():
    """:func:`measure`, once per process (at its first deadline: the start of a run)."""
    global _measured
    if _measured is None:
        _measured = measure()
    return _measured


def scale():
    """Return the factor applied to every deadline: the measured slowness, or
    GRADER_TIME_SCALE when larger (at least 1)."""
    try:
        forced = max(1.0, float(os.environ.get("GRADER_TIME_SCALE", "1")))
    except ValueError:
        forced = 1.0
    return max(forced, measured())


def seconds(base):
    """Return ``base`` seconds stretched by the time scale."""
    return base * scale()


class Deadline:
    """A point in time, measured on the monotonic clock."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.end = time.monotonic() + timeout

    def left(self):
        """Seconds left, never negative."""
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end
