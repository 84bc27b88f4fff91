"""grader/run_all: grading a class, its outputs, and submissions that are not what they should be.

The reference run (no argument) is the instructors' sanity check: full marks, exit 0.
Bad submissions (a missing lab folder, no C, an archive that does not unpack, a file
name outside its folder, a symbolic link out of the folder) get a clear note and 0 for
what is missing; the run never crashes.  Tests use lab 1 (the quickest) where the lab
does not matter.
"""
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
import xml.etree.ElementTree as ET
import zipfile

import pytest

from conftest import GRADER, ROOT
from harness import proctree, timing
from harness.registry import LABS
from runall.runs import LAB_COST, split_labs

RUN_ALL = GRADER / "run_all"
GRADED = [n for n in LABS if (GRADER / "checks" / f"test_lab{n}.py").exists()]


def run_all(*args, timeout=600):
    proc = subprocess.run([str(RUN_ALL), *map(str, args)], cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    return proc


def gradebook(out):
    return list(csv.DictReader(io.StringIO((out / "gradebook.csv").read_text())))


@pytest.mark.slow
def test_reference_solutions_score_full_marks(tmp_path):
    proc = run_all("--out", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "reference solutions: full marks" in proc.stdout
    rows = gradebook(tmp_path)
    assert [r["student"] for r in rows] == ["solutions"]
    assert list(rows[0]) == ["student"] + [f"lab{n}" for n in GRADED] + ["total"]
    assert float(rows[0]["total"]) == 100 * len(GRADED)
    report = (tmp_path / "solutions" / "report.txt").read_text()
    for n in GRADED:
        assert f"lab {n}: 100/100 points" in report
    assert "isolation:" in proc.stderr
    for name in ("class.html", "checks.csv", "similarity.csv"):  # the class report, here too
        assert (tmp_path / name).stat().st_size > 0, name
    suites = {s.get("name"): s for s in ET.parse(tmp_path / "solutions" / "junit.xml").iter("testsuite")}
    assert sorted(suites) == [f"lab{n}" for n in GRADED]  # one suite per lab
    for n in GRADED:
        cases = suites[f"lab{n}"].findall("testcase")
        assert cases and all(f"test_lab{n}" in c.get("classname") for c in cases)
        assert int(suites[f"lab{n}"].get("failures")) == 0


def make_submissions(root):
    """A small class: good, partial, empty, not C, bad archives, a name outside its folder."""
    sol = ROOT / "solutions" / "lab1"
    good = root / "good"
    shutil.copytree(sol, good / "lab1")
    kit = root / "kitcopy"
    shutil.copytree(sol, kit / "labs" / "lab1")
    wrapped = root / "wrapped"
    shutil.copytree(sol, wrapped / "my-work" / "lab1")
    with zipfile.ZipFile(root / "zipped.zip", "w") as zf:
        for f in sol.iterdir():
            zf.write(f, f"lab1/{f.name}")
        zf.writestr("../../escape.c", "int main(void) { return 0; }\n")
    with tarfile.open(root / "tarred.tar.gz", "w:gz") as tf:
        tf.add(sol, "sockets-lab/labs/lab1")
    (root / "broken.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    (root / "notes.txt").write_text("I did not do the lab\n")
    notc = root / "notc"
    (notc / "lab1").mkdir(parents=True)
    (notc / "lab1" / "socket_create.py").write_text("print('tcp socket created')\n")
    garbage = root / "garbage"
    (garbage / "lab1").mkdir(parents=True)
    (garbage / "lab1" / "socket_create.c").write_bytes(bytes(range(256)) * 4)
    empty = root / "empty"
    empty.mkdir()
    linked = root / "linked"
    (linked / "lab1").mkdir(parents=True)
    (linked / "lab1" / "socket_create.c").symlink_to(sol / "socket_create.c")
    loose = root / "loose"
    loose.mkdir()
    shutil.copy(sol / "socket_create.c", loose)
    return root


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    roster = make_submissions(tmp_path_factory.mktemp("roster"))
    out = tmp_path_factory.mktemp("grades")
    proc = run_all("--roster", roster, "--labs", "1", "--jobs", "2", "--out", out)
    return proc, out


def test_class_run_ends_well(class_run):
    proc, out = class_run
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "graded 12 submission(s)" in proc.stdout


def test_good_submissions_in_every_form_score_full_marks(class_run):
    _, out = class_run
    scores = {r["student"]: float(r["lab1"]) for r in gradebook(out)}
    for name in ("good", "kitcopy", "wrapped", "zipped", "tarred", "loose"):
        assert scores[name] == 100, (name, (out / name / "report.txt").read_text())


@pytest.mark.parametrize("name,words", [
    ("broken", "could not be unpacked"),
    ("notes.txt", "not a folder and not an archive"),
    ("notc", "no socket_create.c"),
    ("empty", "no lab folder found"),
    ("linked", "symbolic link"),
])
def test_bad_submission_gets_zero_and_a_clear_note(class_run, name, words):
    proc, out = class_run
    scores = {r["student"]: float(r["lab1"]) for r in gradebook(out)}
    assert scores[name] == 0
    report = (out / name / "report.txt").read_text()
    assert words in report
    assert words in proc.stdout  # the table's notes too
    assert "internal error" not in report and "Traceback" not in report


def test_name_outside_its_folder_is_left_out(class_run):
    _, out = class_run
    report = (out / "zipped" / "report.txt").read_text()
    assert "../../escape.c" in report and "outside its folder" in report
    assert not (out.parent / "escape.c").exists()


def test_garbage_source_is_graded_readably(class_run):
    _, out = class_run
    report = (out / "garbage" / "report.txt").read_text()
    assert "lab 1: " in report and "compiler output:" in report
    assert "internal error" not in report


def test_outputs_per_student(class_run):
    _, out = class_run
    rows = gradebook(out)
    assert [r["student"] for r in rows] == sorted(r["student"] for r in rows)
    for row in rows:
        folder = out / row["student"]
        results = json.loads((folder / "results.json").read_text())
        assert results["score"] == float(row["total"])
        assert isinstance(results["execution_time"], int)
        assert results["tests"], row
        for test in results["tests"]:
            assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
            assert test["status"] in ("passed", "failed")
            assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
        assert sum(t["score"] for t in results["tests"]) == results["score"]
        suites = ET.parse(folder / "junit.xml").getroot()
        assert suites.tag == "testsuites" and suites.find("testsuite") is not None
    report = (out / "good" / "report.txt").read_text()
    assert "PASS  tcp_by_default" in report  # the student's own checklist


def test_autolab_score_line_is_last(tmp_path):
    handin = tmp_path / "handin.tar"
    with tarfile.open(handin, "w") as tf:
        tf.add(ROOT / "solutions" / "lab1", "lab1")
    proc = run_all("--autolab", "--labs", "1,2", "--out", tmp_path / "out", handin)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.rstrip("\n").splitlines()[-1]
    assert json.loads(last) == {"scores": {"lab1": 100.0, "lab2": 0.0}}
    assert proc.stdout.endswith(last + "\n")


def test_labs_without_checks_are_left_out(tmp_path):
    """A kit whose lab 2 has no checks yet: asked for labs 1 and 2, run_all grades lab 1 only."""
    kit = tmp_path / "kit"
    shutil.copytree(GRADER, kit / "grader", ignore=shutil.ignore_patterns(
        "tests", "mutants", "__pycache__", "test_lab2.py"))
    shutil.copytree(ROOT / "tools", kit / "tools")
    shutil.copy(ROOT / "pytest.ini", kit)
    proc = subprocess.run([str(kit / "grader" / "run_all"), "--labs", "1,2",
                           "--out", str(tmp_path / "out"), str(ROOT / "solutions")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "lab 2 has no checks" in proc.stderr
    rows = gradebook(tmp_path / "out")
    assert list(rows[0]) == ["student", "lab1", "total"] and float(rows[0]["lab1"]) == 100


def test_split_labs_shares_a_submission_between_jobs():
    """With fewer submissions than jobs, a submission's labs go to several gradings."""
    labs = sorted(LABS)
    assert split_labs(labs, 1) == [labs]
    groups = split_labs(labs, 2)
    assert sorted(n for g in groups for n in g) == labs and len(groups) == 2
    costs = [sum(LAB_COST[n] for n in g) for g in groups]
    assert max(costs) - min(costs) <= max(LAB_COST.values())
    assert split_labs([3], 4) == [[3]]


def test_a_grading_stopped_by_the_deadline_keeps_the_labs_it_finished(tmp_path):
    """Lab 1 graded, then lab 2 hangs past the run's time limit: lab 1 keeps its points."""
    sub = tmp_path / "halfway"
    shutil.copytree(ROOT / "solutions" / "lab1", sub / "lab1")
    (sub / "lab2").mkdir()
    (sub / "lab2" / "bind_server.c").write_text(  # every check of lab 2 waits for it in vain
        "#include <unistd.h>\nint main(void) { for (;;) pause(); }\n")
    started, wall = time.monotonic(), time.time()
    proc = run_all("--out", tmp_path / "out", "--labs", "1,2", "--jobs", "1", "--deadline", "16",
                   "--checks", "tcp_by_default or test_lab2", sub)
    assert proc.returncode == 0, proc.stderr
    # The results a platform reads are written by the deadline (run_all stops the gradings 5 s
    # before it); the class report and the table may follow (platforms set the deadline well
    # inside their own time-out: Gradescope's run_autograder 480 s of 600).
    written = (tmp_path / "out" / "halfway" / "results.json").stat().st_mtime - wall
    assert written < 16 + 3, f"results.json written {written:.1f} s after the start"
    assert time.monotonic() - started < 16 + 15
    results = json.loads((tmp_path / "out" / "halfway" / "results.json").read_text())
    scores = {t["tags"][0]: t["score"] for t in results["tests"]}
    assert scores == {"lab1": 15, "lab2": 0}, results
    report = (tmp_path / "out" / "halfway" / "report.txt").read_text()
    assert "time limit" in report and "PASS  tcp_by_default" in report


def test_a_check_that_times_out_says_so(tmp_path):
    """A program that never ends: the check scores 0 and says it timed out, and after how long."""
    sub = tmp_path / "sleepy" / "lab1"
    sub.mkdir(parents=True)
    (sub / "socket_create.c").write_text("#include <unistd.h>\nint main(void) { for (;;) pause(); }\n")
    proc = run_all("--out", tmp_path / "out", "--labs", "1", "--checks", "tcp_by_default",
                   tmp_path / "sleepy")
    results = json.loads((tmp_path / "out" / "sleepy" / "results.json").read_text())
    (test,) = results["tests"]
    assert test["score"] == 0 and test["status"] == "failed"
    assert "still running" in test["output"] or "timed out" in test["output"]
    assert " s" in test["output"]


def test_a_lab_over_the_run_deadline_fails_cleanly(tmp_path):
    """Past the platform's limit, a lab scores 0 with the reason; the results are still written."""
    proc = run_all("--out", tmp_path / "out", "--labs", "1,2", "--deadline", "1",
                   ROOT / "solutions")
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "out" / "solutions" / "report.txt").read_text()
    assert "time limit" in report
    assert json.loads((tmp_path / "out" / "solutions" / "results.json").read_text())["score"] == 0


def cmdline(pid):
    """The command line of ``pid`` as text, its words separated by spaces ("" once gone)."""
    return proctree.cmdline(pid).replace(b"\0", b" ").decode("utf-8", "replace")


def alive(pid):
    """Running, or a zombie not yet reaped by pid 1 (which reaps orphans late here)."""
    stat = proctree.stat(pid)
    return stat is not None and not (stat[1] == "Z" and stat[0] == 1)


@pytest.mark.parametrize("sig,isolation", [(signal.SIGINT, "auto"), (signal.SIGTERM, "auto"),
                                           (signal.SIGINT, "none")])
def test_a_stopped_run_kills_its_gradings_and_says_so(tmp_path, sig, isolation):
    """Ctrl-C (or SIGTERM) while a grading waits on a program that never answers: run_all ends
    at once with 130, without a traceback, and nothing it started is left running (before,
    it went on grading every submission left, then printed a traceback)."""
    for name in ("first", "second"):
        (tmp_path / name / "lab2").mkdir(parents=True)
        (tmp_path / name / "lab2" / "bind_server.c").write_text(
            "#include <unistd.h>\nint main(void) { for (;;) pause(); }\n")
    run = subprocess.Popen(
        [str(RUN_ALL), "--out", tmp_path / "out", "--labs", "2", "--jobs", "1",
         "--isolation", isolation, "--checks", "test_lab2", tmp_path / "first",
         tmp_path / "second"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = timing.Deadline(60)
        while not any(cmdline(p).split(" ")[0].endswith("/bind_server")
                      for p in proctree.descendants(run.pid)):  # a grading is under way
            assert run.poll() is None and not deadline.expired(), run.communicate(timeout=60)
            time.sleep(0.05)  # polling /proc, with a deadline
        under_way = proctree.descendants(run.pid)
        os.kill(run.pid, sig)
        out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 130, err
    assert "stopped by" in err and "Traceback" not in err, err
    assert not (tmp_path / "out" / "gradebook.csv").exists()
    left = [f"{p} {cmdline(p)}" for p in under_way if alive(p)]
    assert not left, left


def test_fallback_without_namespaces_still_grades(tmp_path):
    proc = run_all("--isolation", "none", "--labs", "1", "--out", tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "isolation: NONE" in proc.stderr
    assert float(gradebook(tmp_path)[0]["lab1"]) == 100
