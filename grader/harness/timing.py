"""Deadlines.  Every wait in the grader has one; none of them is a fixed sleep.

``GRADER_TIME_SCALE`` (a float, default 1) stretches every deadline, for slow
graders such as a half-CPU autograding container.
"""
import os
import time


def scale():
    """Return the factor applied to every deadline (GRADER_TIME_SCALE, at least 1)."""
    try:
        return max(1.0, float(os.environ.get("GRADER_TIME_SCALE", "1")))
    except ValueError:
        return 1.0


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
