"""The kit's promises about its labs: solutions pass, skeletons fail, every check can fail.

- every reference solution scores 100/100, and each lab's points add up to 100;
- every untouched skeleton fails with a readable checklist, and is what
  tools/skeletons.py generates from its solution;
- every mutant (grader/mutants), graded on its whole lab as a student would be, fails the
  checks it names, with its hint; that no other mutant's hint reaches it is
  grader/tests/test_hints.py's, which reads the same grading (each mutant is graded once per
  session, several at a time: ``graded_mutant`` in grader/tests/conftest.py);
- every check has at least one mutant that proves it can fail.
"""
import subprocess
import sys

import pytest

from harness import wine
from harness.registry import LABS, windows_labs
from harness.mutants import all_mutants

from conftest import GRADER, ROOT, grade

#: Without mingw-w64 and Wine, lab 6 is skipped here, saying so (`make test` installs both).
NO_WINE = pytest.mark.skipif(bool(wine.missing()), reason="lab 6 needs " + " and ".join(wine.missing())
                             + "; install them: " + wine.INSTALL)
WITH_CHECKS = [n for n in LABS if (GRADER / "checks" / f"test_lab{n}.py").exists()]
WINDOWS_LABS = windows_labs()
GRADED = [pytest.param(n, marks=NO_WINE) if n in WINDOWS_LABS else n for n in WITH_CHECKS]
MUTANTS = [pytest.param(m, id=m.id, marks=NO_WINE) if m.lab in WINDOWS_LABS else pytest.param(m, id=m.id)
           for m in all_mutants() if m.lab in WITH_CHECKS]


class SolutionGradings:
    """Each lab's solution graded once, built in a folder of its own: ``gradings(lab)`` is
    its :class:`Graded`, ``gradings.build(lab)`` that folder."""

    def __init__(self, tmp_path_factory):
        self.tmp = tmp_path_factory
        self.cache, self.builds = {}, {}

    def __call__(self, lab):
        if lab not in self.cache:
            folder = self.tmp.mktemp(f"sol{lab}")
            self.builds[lab] = folder / "build"
            self.cache[lab] = grade(lab, ROOT / "solutions", folder, build_root=self.builds[lab])
        return self.cache[lab]

    def build(self, lab):
        self(lab)
        return self.builds[lab]


@pytest.fixture(scope="session")
def solution_results(tmp_path_factory):
    """Each lab's solution graded once (session-wide): see :class:`SolutionGradings`."""
    return SolutionGradings(tmp_path_factory)


@pytest.mark.parametrize("lab", GRADED)
def test_solution_scores_full_marks(lab, solution_results):
    graded = solution_results(lab)
    assert graded.failed() == [], graded.stdout
    assert graded.score == 100, graded.stdout
    assert graded.returncode == 0
    assert f"lab {lab}: 100/100 points" in graded.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("lab", GRADED)
def test_a_grading_leaves_no_logs(lab, solution_results):
    """The logs a grading's checks read (strace's, Valgrind's) go when its lab ends: a build
    folder graded again and again keeps only what was built."""
    left = sorted(p.name for p in solution_results.build(lab).rglob("*")
                  if p.name.endswith(".log") or p.name.startswith(("valgrind.", "close.strace")))
    assert left == [], f"lab {lab} left its logs in its build folder: {left}"


@pytest.mark.parametrize("lab", GRADED)
def test_points_add_up_to_100(lab, solution_results):
    checks = solution_results(lab).checks
    assert checks, "no checks ran"
    assert sum(c.max_score for c in checks.values()) == 100
    assert all(c.max_score > 0 for c in checks.values()), "a check without points"


@pytest.mark.parametrize("lab", GRADED)
def test_skeleton_fails_readably(lab, tmp_path):
    graded = grade(lab, ROOT / "labs", tmp_path, build_root=tmp_path / "build")
    assert graded.returncode == 1
    assert 0 <= graded.score < 100
    last = graded.stdout.strip().splitlines()[-1]
    assert last.startswith(f"lab {lab}: ") and "checks passed)" in last
    assert "Traceback" not in graded.stdout
    assert "internal error" not in graded.stdout
    assert "FAIL" in graded.stdout and "expected:" in graded.stdout


def test_skeletons_are_generated_from_the_solutions():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "skeletons.py"), "--check"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("lab", GRADED)
def test_every_check_has_a_mutant(lab, solution_results):
    proven = {name for m in all_mutants(lab) for name in m.fails}
    unproven = sorted(set(solution_results(lab).checks) - proven)
    assert unproven == [], f"lab {lab}: checks that no mutant proves can fail: {unproven}"


def assert_fails_with_its_hint(mutant, graded):
    """``graded`` (the grading of ``mutant``) is a checklist, without an internal error, where
    each check the mutant names failed and showed the mutant's hint."""
    report = graded.stdout
    assert "internal error" not in report and "Traceback" not in report, report
    for name in mutant.fails:
        assert name in graded.checks, f"{mutant.id}: no check named {name}"
        check = graded.checks[name]
        assert check.status == "failed", f"{mutant.id} passed {name}: {mutant.mistake}\n{report}"
        assert mutant.hint in check.output, (
            f"{mutant.id}: {name} failed without the hint {mutant.hint!r}:\n{report}")


@pytest.mark.parametrize("mutant", MUTANTS)
def test_mutant_fails_its_check_with_its_hint(mutant, graded_mutant):
    assert_fails_with_its_hint(mutant, graded_mutant(mutant))
