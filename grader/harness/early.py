"""Runs started ahead of the check that judges them (the early-start machinery).

A check module may define ``start_early(lab, names)``: called by the checks' plugin
(grader/checks/conftest.py) before the session's first check, it starts the slow runs
of the checks ``names`` as :class:`EarlyRun` objects and returns {check name: run}; the
check later collects its run's result (``fixture early``).  Lab 5's client checks use
it: their waiting (a client giving up after 3 s) overlaps the other checks.
"""
import threading

from . import proc, timing


class EarlyRun:
    """A client run that a check judges, started before the session's first check.

    The give-up check waits out 3 tries of about 1 s, the retry check one, the Valgrind
    check a slow start: their clients are started when the grading starts (see
    a check module's ``start_early(lab, names)``, called by grader/checks/conftest.py), so that the waiting overlaps the other checks, and the check
    itself only collects the result.  The run: program ``name`` of the lab, given
    ``127.0.0.1 PORT`` (the port of ``make_peer()``), ``data`` on stdin, at most ``limit`` s,
    then killed; ``kw`` goes to ``lab.start``.

    The client is taken out of ``proc``'s registry (every check's teardown kills what is
    in it), and under grader/run_all it runs as the early runs' user, which the kill after
    each check leaves alone (``sandbox.kill_strays``); :meth:`close` kills it, with its
    process group, and closes ``peer``.  A thread waits for the client, so
    ``elapsed`` is the time to its exit, not to the check.
    """

    def __init__(self, lab, name, make_peer, data, limit=6, **kw):
        self.peer, self.client, self.error, self._thread, self._closed = None, None, None, None, False
        self.status, self.elapsed, self.limit = None, None, limit
        try:
            self.peer = make_peer()
            self.client = proc.detach(lab.start(name, "127.0.0.1", self.peer.port, early=True, **kw))
        except Exception as exc:  # noqa: BLE001 (e.g. the client did not build): the check raises it
            self.error = exc
            return
        self.client.feed(data)
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self):
        self.status = self.client.wait(timing.seconds(self.limit))
        self.elapsed = self.client.elapsed()
        if self.status is None:
            self.client.kill()

    def result(self):
        """(client, status, elapsed) once the client ended or was killed (at most ``limit`` s
        after its start); a failure to start it is raised here, in the check."""
        if self.error is not None:
            raise self.error
        self._thread.join(timing.seconds(self.limit + 10))  # the watcher ends by itself before
        return self.client, self.status, self.client.elapsed() if self.elapsed is None else self.elapsed

    def close(self):
        if self._closed:
            return
        self._closed = True
        if self.client is not None:
            self.client.kill()
        if self._thread is not None:
            self._thread.join(timing.seconds(10))
        if self.peer is not None:
            self.peer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
