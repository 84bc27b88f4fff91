"""Helpers for the grader's own tests: run the grader on an implementation, read its results;
every mutant graded once on its whole lab, several at a time (:func:`graded_mutant`)."""
import concurrent.futures
import itertools
import os
import pathlib
import subprocess
import sys

import pytest

from harness import reaper, results as resultslib
from harness.registry import LABS

GRADER = pathlib.Path(__file__).resolve().parent.parent
ROOT = GRADER.parent


class Graded:
    """The outcome of grading one implementation of one lab: ``labs`` is the list of
    harness.results.LabResult the grading wrote, ``checks`` its CheckResult by name."""

    def __init__(self, proc, labs):
        self.returncode = proc.returncode
        self.stdout = proc.stdout
        self.labs = labs
        self.checks = {c.name: c for lab in labs for c in lab.checks}

    @property
    def score(self):
        return sum(lab.score for lab in self.labs)

    def failed(self):
        return sorted(n for n, c in self.checks.items() if not c.passed)


def grade(lab, impl, tmp_path, build_root=None, timeout=900, env=None, only=None):
    """Run grader/grade.py on ``impl`` (a folder with labN/); return a :class:`Graded`.
    ``only`` (a pytest ``-k`` expression) grades only the checks it selects.

    ``timeout`` is a net for a grader that hangs: a grading's own deadlines stretch by the
    slowness it measures at its start (up to x8), and a hanging mutant graded among others
    may take minutes.  On time-out the whole grading is killed, its programs included."""
    out = tmp_path / f"results-{lab}.json"
    argv = [sys.executable, str(GRADER / "grade.py"), str(lab), "--impl", str(impl),
            "--results-json", str(out)]
    if build_root:
        argv += ["--build-root", str(build_root)]
    if only:
        argv += ["--", "-k", only]
    proc = reaper.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                      timeout=timeout, text=True, env=env)
    return Graded(proc, resultslib.read(out) if out.exists() else [])


@pytest.fixture
def grader():
    return grade


#: Gradings at once per core: a whole-lab grading of a mutant keeps a core busy about a
#: quarter of its time (it waits on its programs and on their deadlines; measured alone:
#: lab 4 9.9 s of wall time for 1.6 s of CPU, lab 6 14.2 s for 3.0 s, lab 9 8.3 s for 2.5 s).
#: Two, not three: at three a core, gradings that started together measured their machine
#: 5-8 times slower than alone, and two hints were decided by the timing that load gave.
GRADINGS_PER_CORE = 2
#: The most memory one grading holds (its processes' resident memory at its peak, measured:
#: lab 6 under Wine 256 MB, lab 4 91 MB, lab 9 under Helgrind 82 MB).
GRADING_MEMORY = 320 << 20


def cores():
    """The cores this process may use: those it may run on, or fewer under a CPU quota
    (cgroup v2's cpu.max, as a container started with ``--cpus`` sees it)."""
    count = len(os.sched_getaffinity(0))
    try:
        quota, period = pathlib.Path("/sys/fs/cgroup/cpu.max").read_text().split()
        return min(count, int(quota) / int(period))
    except (OSError, ValueError):  # no cgroup v2, or "max": no quota
        return count


def available_memory():
    """Bytes of memory the machine can give without swapping (/proc/meminfo's MemAvailable)."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) << 10
    return GRADING_MEMORY


def grading_workers():
    """How many gradings this machine runs at once: :data:`GRADINGS_PER_CORE` per core,
    as many as its free memory holds (:data:`GRADING_MEMORY` each), at least one."""
    return max(1, min(round(cores() * GRADINGS_PER_CORE), available_memory() // GRADING_MEMORY))


def interleaved(mutants):
    """``mutants`` in the order they are graded: one of each lab in turn, the costliest lab
    first (the registry's costs), so that the heavy gradings (lab 6's Wine, lab 9's
    Helgrind) are spread over the run rather than all at once."""
    by_lab = {}
    for m in mutants:
        by_lab.setdefault(m.lab, []).append(m)
    labs = sorted(by_lab, key=lambda n: -LABS[n].cost)
    rounds = itertools.zip_longest(*(by_lab[n] for n in labs))
    return [m for row in rounds for m in row if m is not None]


class MutantGradings:
    """Mutants graded on their whole lab by a pool of worker threads, each grading one
    mutant at a time with grade.py (a process of its own, as ``make labN`` runs it).

    The gradings do not disturb one another, which is the kit's promise: each builds in its
    own folder (lab 6 copies Wine's template into a prefix of its own there, so no two share
    a wineserver: harness/wine.py), its programs listen on ports the kernel picks, and its
    deadlines stretch by the time scale it measures at its start (harness/timing.py).  A
    mutant whose outcome changes with the others running is a defect of the kit: it is not
    graded again.
    """

    def __init__(self, tmp_path_factory, workers):
        self.tmp = tmp_path_factory
        self.pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="grade")
        self.futures = {}

    def submit(self, mutants):
        """Queue the gradings of ``mutants`` not yet queued (in :func:`interleaved` order)."""
        fresh = {m.id: m for m in mutants if m.id not in self.futures}
        for mutant in interleaved(fresh.values()):
            tmp = self.tmp.mktemp(mutant.id.replace("/", "-"))
            mutant.apply(tmp / "impl")
            self.futures[mutant.id] = self.pool.submit(grade, mutant.lab, tmp / "impl", tmp)

    def get(self, mutant):
        """The :class:`Graded` of ``mutant``, once its grading is over."""
        self.submit([mutant])
        return self.futures[mutant.id].result()

    def close(self):
        """Drop the gradings not started (a session stopped early); wait for the others."""
        self.pool.shutdown(cancel_futures=True)


@pytest.fixture(scope="session")
def graded_mutant(request, tmp_path_factory):
    """Each mutant graded once on its whole lab (session-wide): ``graded_mutant(m)`` is its
    :class:`Graded` (its checklist, its checks).  At the first call, every mutant that a
    test of the session asks for is handed to :class:`MutantGradings`, with
    :func:`grading_workers` workers."""
    gradings = MutantGradings(tmp_path_factory, grading_workers())
    gradings.submit([item.callspec.params["mutant"] for item in request.session.items
                     if "graded_mutant" in item.fixturenames and hasattr(item, "callspec")
                     and "mutant" in item.callspec.params])
    yield gradings.get
    gradings.close()
