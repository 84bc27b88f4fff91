"""Gradings that never disturb each other: runs at once give each the grades it gives alone.

Two ``grader/run_all`` runs start at the same moment on overlapping rosters (the
solution in both), every lab including lab 6, while a student's ``make lab5``
(grade.py) runs beside them; each gradebook is then compared, byte for byte, with
the one the same roster gets alone.  Each run reserves users of its own
(grader/runall/isolation.py), so neither kills the other's programs nor shares its
per-user process limit.  And a failure of the grading machine itself (a compiler
that cannot start) is never shown to the student as their mistake.
"""
import os
import shutil
import subprocess
import time

import pytest

from harness.mutants import all_mutants
from harness.registry import LABS
from runall import isolation

from conftest import GRADER, ROOT, grade

RUN_ALL = GRADER / "run_all"


def make_roster(folder, names):
    """A roster of copies of the solutions, a mutant of lab ``N`` for each ``labN/mutant``."""
    mutants = {m.id: m for m in all_mutants()}
    for name in names:
        target = folder / name.replace("/", "-")
        shutil.copytree(ROOT / "solutions", target)
        if name in mutants:
            shutil.rmtree(target / f"lab{mutants[name].lab}")
            mutants[name].apply(target)
    return folder


def start(roster, out):
    return subprocess.Popen([str(RUN_ALL), "--roster", str(roster), "--jobs", "2", "--out",
                             str(out), "--progress", "no"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def finish(proc, out):
    output, _ = proc.communicate(timeout=900)
    assert proc.returncode == 0, output
    return (out / "gradebook.csv").read_text()


@pytest.mark.slow
def test_runs_at_once_give_the_grades_of_runs_alone(tmp_path):
    first = make_roster(tmp_path / "first", ["solution", "lab6/no_wsastartup"])
    second = make_roster(tmp_path / "second", ["solution", "lab5/client_no_retry"])
    started = time.monotonic()
    runs = [start(first, tmp_path / "out1"), start(second, tmp_path / "out2")]
    student = subprocess.Popen([str(ROOT / "tools" / "python"), str(GRADER / "grade.py"), "5",
                                "--impl", str(ROOT / "solutions"), "--build-root",
                                str(tmp_path / "student-build")], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    together = [finish(runs[0], tmp_path / "out1"), finish(runs[1], tmp_path / "out2")]
    output, _ = student.communicate(timeout=300)
    assert student.returncode == 0 and "lab 5: 100/100 points" in output, output
    at_once = time.monotonic() - started
    alone = [finish(start(first, tmp_path / "alone1"), tmp_path / "alone1"),
             finish(start(second, tmp_path / "alone2"), tmp_path / "alone2")]
    assert together == alone, f"graded at once in {at_once:.0f} s"
    rows = {line.split(",")[0]: line for line in alone[0].splitlines()}
    full = f",{100 * len(LABS)}"  # every lab at full marks
    assert rows["solution"].endswith(full) and not rows["lab6-no_wsastartup"].endswith(full)


def test_a_compiler_that_cannot_start_is_not_the_students_mistake(tmp_path):
    """The machine out of processes (the compiler's `vfork` fails): not graded, saying so."""
    fake = tmp_path / "cc"
    fake.write_text("#!/bin/sh\necho \"cc: fatal error: cannot execute 'as': "
                    "vfork: Resource temporarily unavailable\" >&2\nexit 1\n")
    fake.chmod(0o755)
    graded = grade(1, ROOT / "solutions", tmp_path, build_root=tmp_path / "build",
                   env=dict(os.environ, CC=str(fake)))
    assert graded.returncode == 3, graded.stdout  # not graded on this machine
    assert graded.checks and all(c.status == "skipped" for c in graded.checks.values())
    assert "error of the grading machine" in graded.stdout
    assert "fix the compile errors" not in graded.stdout and "FAIL" not in graded.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="the users are reserved by root only")
def test_users_are_reserved_by_one_run_at_a_time():
    """Two runs never hold one user; a user given back is free again, and its lock with it."""
    first, second = isolation.Users(), isolation.Users()
    try:
        mine = first.reserve(2)
        theirs = second.reserve(2)
        assert len(mine) == len(theirs) == 2 and not set(mine) & set(theirs)
        assert all(isolation.reserved(uid) for uid in mine + theirs)
    finally:
        first.release()
        second.release()
    assert not any(isolation.reserved(uid) for uid in mine + theirs)
