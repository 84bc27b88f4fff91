"""The class report's numbers: per lab, per check, per student, from a run's results.

Everything the page and the CSV exports show is computed here, once, so that they
cannot disagree.  A lab's results are the kit's one results model
(harness.results.LabResult); :func:`from_run` is the one place that reads them from
grader/run_all's submissions, the rest works on :class:`Student` only.
"""
import dataclasses
import pathlib
import re
import statistics

from harness.registry import LABS
from harness.report import render_checklist
from harness.results import FAILED, PASSED

#: A check's status in the grid.
PASS, FAIL, NOT_GRADED = "pass", "fail", "not graded"
#: How many hints of a check the report lists (the rest are counted as "other hints").
HINTS_SHOWN = 5
#: Hint text longer than this is cut in the page and the CSV.
HINT_CHARS = 300


@dataclasses.dataclass
class Student:
    """One submission as the report sees it."""
    name: str
    results: dict          # lab -> harness.results.LabResult
    sources: dict          # lab -> folder holding the lab's C sources (as submitted)
    notes: list            # what run_all said about the submission

    def total(self):
        return sum(r.score for r in self.results.values())

    def graded(self, n):
        """True when lab ``n`` was graded (ran its checks), even with every check failed."""
        return self.results[n].not_graded is None


def from_run(subs, labs):
    """[Student] from grader/run_all's submissions: the one reader of run_all's results."""
    students = []
    for sub in subs:
        notes = list(sub.problems) + [x for n in labs for x in sub.notes.get(n, [])]
        students.append(Student(sub.name, {n: sub.results[n] for n in labs},
                                {n: pathlib.Path(f) for n, f in sub.folders.items() if n in labs},
                                notes))
    return students


def hint_of(output):
    """The hint a failure gave (its ``hint:`` block, continuation lines joined), or None."""
    lines = (output or "").splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"\s{2}hint:\s+(.*)", line)
        if m:
            parts = [m.group(1).strip()]
            for more in lines[i + 1:]:
                if not more.startswith(" " * 12):
                    break
                parts.append(more.strip())
            text = " ".join(p for p in parts if p)
            return text if len(text) <= HINT_CHARS else text[:HINT_CHARS - 3] + "..."
    return None


def pct(part, whole):
    """A share as a percentage with one decimal (the page and the CSVs print this same figure)."""
    return round(100.0 * part / whole, 1) if whole else 0.0


@dataclasses.dataclass
class Check:
    """One check of one lab, across the class (item analysis)."""
    lab: int
    name: str
    title: str
    points: float
    passed: int = 0
    failed: int = 0
    not_graded: int = 0
    hints: dict = dataclasses.field(default_factory=dict)   # hint -> students

    @property
    def graded(self):
        return self.passed + self.failed

    @property
    def pass_rate(self):
        return pct(self.passed, self.graded)

    @property
    def verdict(self):
        """'nobody passes' / 'everybody passes' / '' (checks that stand out)."""
        if not self.graded:
            return ""
        return "nobody passes" if not self.passed else "everybody passes" if not self.failed else ""

    def top_hints(self):
        """[(hint, count)], the most given first (ties: alphabetical), HINTS_SHOWN at most."""
        ranked = sorted(self.hints.items(), key=lambda kv: (-kv[1], kv[0]))
        return ranked[:HINTS_SHOWN]


def lab_checks(students, n):
    """The checks of lab ``n`` in the order the grader runs them (first full grading wins)."""
    order = {}
    for s in students:
        if s.graded(n):
            for c in s.results[n].checks:
                order.setdefault(c.name, c)
    return order


def status(student, n, name):
    """pass / fail / not graded of one check of one student."""
    if not student.graded(n):
        return NOT_GRADED
    for c in student.results[n].checks:
        if c.name == name:
            return {PASSED: PASS, FAILED: FAIL}.get(c.status, NOT_GRADED)
    return NOT_GRADED


def item_analysis(students, labs):
    """{lab: [Check]} with each check's pass counts and hints, most-failed first."""
    out = {}
    for n in labs:
        checks = {name: Check(n, name, c.title, c.max_score)
                  for name, c in lab_checks(students, n).items()}
        for s in students:
            by_name = {c.name: c for c in s.results[n].checks} if s.graded(n) else {}
            for name, check in checks.items():
                c = by_name.get(name)
                if c is None or c.status not in (PASSED, FAILED):
                    check.not_graded += 1
                elif c.status == PASSED:
                    check.passed += 1
                else:
                    check.failed += 1
                    hint = hint_of(c.output) or "(failed without a hint)"
                    check.hints[hint] = check.hints.get(hint, 0) + 1
        out[n] = sorted(checks.values(),
                        key=lambda c: (c.pass_rate if c.graded else 101, -c.points, c.name))
    return out


@dataclasses.dataclass
class LabStats:
    lab: int
    title: str
    submitted: int        # students with the lab in their submission
    graded: int           # of them, graded (checks ran)
    scores: list          # every student's score (0 when missing), for the histogram
    median: float
    q1: float
    q3: float
    mean: float
    stdev: float
    full: int             # students at 100
    zero: int


def quartiles(values):
    if len(values) < 2:
        v = values[0] if values else 0.0
        return v, v
    q = statistics.quantiles(values, n=4, method="inclusive")
    return q[0], q[2]


def lab_stats(students, labs):
    out = {}
    for n in labs:
        scores = [s.results[n].score for s in students]
        q1, q3 = quartiles(scores)
        out[n] = LabStats(
            lab=n, title=LABS[n].title, submitted=sum(n in s.sources for s in students),
            graded=sum(s.graded(n) for s in students), scores=scores,
            median=statistics.median(scores) if scores else 0.0, q1=q1, q3=q3,
            mean=round(statistics.fmean(scores), 1) if scores else 0.0,
            stdev=round(statistics.pstdev(scores), 1) if scores else 0.0,
            full=sum(x >= 100 for x in scores), zero=sum(x <= 0 for x in scores))
    return out


def grid(students, labs, analysis):
    """(columns, rows): columns [(lab, Check)] in the grader's order; rows per student:
    {name, total, anchor, report, cells: [status]}."""
    columns = []
    for n in labs:
        by_name = {c.name: c for c in analysis[n]}
        columns += [(n, by_name[name]) for name in lab_checks(students, n)]
    rows = []
    for i, s in enumerate(students):
        rows.append({"name": s.name, "total": s.total(), "anchor": f"s{i}",
                     "report": f"{s.name}/report.txt",
                     "scores": {n: s.results[n].score for n in labs},
                     "cells": [status(s, n, c.name) for n, c in columns]})
    return columns, rows


def checklists(students, labs):
    """{student name: [(lab, checklist text as their report shows it)]}."""
    return {s.name: [(n, render_checklist(s.results[n])) for n in labs] for s in students}
