"""``make bench`` (tools/bench.py) times only a grading that gave every copy full marks.

When one copy is graded lower, the bench stops and names each check that failed, read
from run_all's per-student ``results.json``: the same code graded differently is a bug
of the grader, and the timing of such a run is no result.
"""
import json
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "tools"))
import bench  # noqa: E402


def student(out, name, tests):
    (out / name).mkdir(parents=True)
    (out / name / "results.json").write_text(json.dumps({"tests": tests}))


def test_full_marks_names_each_failed_check(tmp_path):
    student(tmp_path, "copy01", [{"name": "lab 1: passes", "status": "passed", "output": ""}])
    student(tmp_path, "copy02", [
        {"name": "lab 1: passes", "status": "passed", "output": ""},
        {"name": "lab 8: one order for everyone", "status": "failed",
         "output": "\nexpected the same order at every client\nmore"}])
    rows = [{"student": "copy01", "total": "200"}, {"student": "copy02", "total": "190"}]
    with pytest.raises(SystemExit) as exit:
        bench.full_marks(rows, 2, tmp_path)
    message = str(exit.value)
    assert "not full marks for copy02" in message
    assert "copy02: lab 8: one order for everyone: expected the same order at every client" \
        in message
    assert "copy01" not in message.split("\n", 1)[1]


def test_full_marks_passes_a_class_at_full_marks(tmp_path):
    student(tmp_path, "copy01", [{"name": "lab 1: passes", "status": "passed", "output": ""}])
    bench.full_marks([{"student": "copy01", "total": "100"}], 1, tmp_path)
