"""Helpers for the grader's own tests: run the grader on an implementation, read its results."""
import pathlib
import subprocess
import sys

import pytest

from harness import results as resultslib

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


def grade(lab, impl, tmp_path, checks=(), build_root=None, timeout=300, env=None):
    """Run grader/grade.py on ``impl`` (a folder with labN/); return a :class:`Graded`."""
    out = tmp_path / f"results-{lab}.json"
    argv = [sys.executable, str(GRADER / "grade.py"), str(lab), "--impl", str(impl),
            "--results-json", str(out)]
    if build_root:
        argv += ["--build-root", str(build_root)]
    if checks:
        argv += ["--", "-k", " or ".join(f"test_{c}" for c in checks)]
    proc = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout, text=True, env=env)
    return Graded(proc, resultslib.read(out) if out.exists() else [])


@pytest.fixture
def grader():
    return grade


@pytest.fixture(scope="session")
def graded_mutant(tmp_path_factory):
    """Each mutant graded once on its whole lab (session-wide): ``graded_mutant(m)`` is a
    :class:`Graded` (its checklist, its checks)."""
    cache = {}

    def get(mutant):
        if mutant.id not in cache:
            tmp = tmp_path_factory.mktemp(mutant.id.replace("/", "-"))
            mutant.apply(tmp / "impl")
            cache[mutant.id] = grade(mutant.lab, tmp / "impl", tmp)
        return cache[mutant.id]
    return get
