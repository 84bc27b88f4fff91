#!/usr/bin/env python3
"""How long grader/run_all's class report takes for a big class, and how big it is.

    tools/python tools/bench_class_report.py [--students 200] [--keep DIR]

Grading 200 submissions takes long, and the report does not care how the results were
made: the students' C sources are generated (grader/tests/class_roster.py: the skeleton's
TODOs answered each student's own way, 5% disguised copies), their results faked from the
mutants (each student makes some of the mutants' mistakes and gets their hints).  Then
classreport.write() runs as run_all calls it, similarity (sim_c) included.
"""
import argparse
import importlib
import pathlib
import random
import shutil
import sys
import tempfile
import time
import warnings

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "grader"))
sys.path.insert(0, str(ROOT / "grader" / "tests"))

import class_roster  # noqa: E402
import classreport  # noqa: E402
from harness.mutants import all_mutants  # noqa: E402
from harness.registry import LABS  # noqa: E402
from harness.results import FAILED, PASSED, CheckResult, LabResult  # noqa: E402

LABS_BENCHED = (1, 2, 3, 4, 5)


def checks_of(n):
    """[(name, title, points)] of lab n's checks, read from its module (imported, not run):
    its ``test_`` functions, and the checks it makes of shared ones (grader/checks/echo.py)."""
    if str(ROOT / "grader" / "checks") not in sys.path:
        sys.path.insert(0, str(ROOT / "grader" / "checks"))
    with warnings.catch_warnings():  # the checks' marks are registered by their own plugin
        warnings.simplefilter("ignore")
        module = importlib.import_module(f"test_lab{n}")
    out = []
    for name, check in vars(module).items():
        if name.startswith("test_") and callable(check):
            points = next((float(mark.args[0]) for mark in getattr(check, "pytestmark", [])
                           if mark.name == "points"), 0.0)
            doc = (check.__doc__ or name).strip().splitlines()[0]
            out.append((name[5:], doc, points))
    return out


class FakeSubmission:
    """What classreport.data.from_run reads of run_all's Submission."""

    def __init__(self, name, folder):
        self.name, self.problems, self.notes, self.results, self.folders = name, [], {}, {}, {}
        for n in LABS_BENCHED:
            if (folder / f"lab{n}").is_dir():
                self.folders[n] = folder / f"lab{n}"


def fake_results(rng, n, checks, mutants):
    """A lab's results as the checks' plugin writes them, the student having made a few of
    the mutants' mistakes."""
    made = rng.sample(mutants, k=min(len(mutants), rng.choice([0, 0, 1, 1, 2, 3])))
    failing = {}
    for m in made:
        for name in m.fails:
            failing.setdefault(name, m.hint)
    rows = []
    for name, title, points in checks:
        hint = failing.get(name)
        output = f"  did:      ran {name}\n  got:      something else\n  hint:     {hint}" if hint else ""
        rows.append(CheckResult(name, title, points, 0.0 if hint else points,
                                FAILED if hint else PASSED, output, duration=0.1))
    return LabResult(n, LABS[n].title, f"lab{n}", "", rows, True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--keep", help="write the outputs here (default: a temporary folder)")
    args = parser.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="sockets-lab-bench-report-"))
    try:
        copies = class_roster.generated_roster(work / "roster", args.students, LABS_BENCHED)
        rng = random.Random(11)
        checks = {n: checks_of(n) for n in LABS_BENCHED}
        mutants = {n: all_mutants(n) for n in LABS_BENCHED}
        subs = []
        for folder in sorted((work / "roster").iterdir()):
            sub = FakeSubmission(folder.name, folder)
            for n in LABS_BENCHED:
                sub.results[n] = fake_results(rng, n, checks[n], mutants[n])
            subs.append(sub)
        out = pathlib.Path(args.keep) if args.keep else work / "out"
        out.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        classreport.write(out, subs, list(LABS_BENCHED))
        wall = time.monotonic() - started
        page = out / "class.html"
        flagged = [line for line in (out / "similarity.csv").read_text().splitlines()[1:]
                   if line.endswith(",yes")]
        found = {tuple(sorted(line.split(",")[1:3])) for line in flagged}

        def origin(name):  # a copy of a copy comes from the first one's original
            while name in copies:
                name = copies[name]
            return name
        caught = sum(1 for c, o in copies.items() if tuple(sorted((c, o))) in found)
        honest = [p for p in found if origin(p[0]) != origin(p[1])]
        print(f"{len(subs)} submissions, labs {', '.join(map(str, LABS_BENCHED))}: the report "
              f"in {wall:.1f} s; class.html {page.stat().st_size / 1e6:.2f} MB; "
              f"{len(flagged)} flagged (pair, lab) rows; {len(copies)} disguised copies, "
              f"{caught} flagged with their original; flagged pairs of distinct origins: "
              f"{len(honest)} {sorted(honest)[:5]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
