"""The instructors' class report: class.html, checks.csv, similarity.csv (grader/classreport).

The small known class of :func:`class_roster.known_roster` (lab 1: the solution, the
skeleton, three mutants, and two disguised copies of one from-scratch submission) is graded
once by grader/run_all (a heavy test: run it under the lock, see the developers' guide);
the page is then opened in headless Chromium, which must run it without a script error and
show the rows this class must have.  The screenshot stays in build/test-artefacts/class.png.
"""
import csv
import html
import io
import os
import re
import shutil
import subprocess
import sys

import pytest

import class_roster
from conftest import GRADER, ROOT

sys.path.insert(0, str(GRADER))
from classreport import data, similarity  # noqa: E402

#: How many checks lab 1 has: the known class is graded on all of them.
LAB1_CHECKS = len(re.findall(r"^def test_", (ROOT / "grader" / "checks" / "test_lab1.py").read_text(),
                             re.M))

ARTEFACTS = ROOT / "build" / "test-artefacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
INSTALL_CHROMIUM = "apt-get install chromium   (or: tools/setup.sh browser)"
needs_sim = pytest.mark.skipif(similarity.missing() is not None,
                               reason=f"no sim_c: {similarity.INSTALL}")


def rows(text):
    return list(csv.DictReader(io.StringIO(text)))


# -- without grading --------------------------------------------------------------
def test_hint_of_reads_the_hint_block_whole():
    output = ("  did:      ran it\n  got:      nothing\n  hint:     check argc and\n"
              "            print the usage line\n  note:     x\n")
    assert data.hint_of(output) == "check argc and print the usage line"
    assert data.hint_of("  got:      nothing") is None


@needs_sim
def test_disguised_copies_are_the_only_flagged_pair(tmp_path):
    """Renamed identifiers and swapped functions hide nothing; the solution and its
    mutants (the same short TODO answers) and the skeleton are never flagged."""
    roster = class_roster.known_roster(tmp_path)
    carol = (tmp_path / "carol" / "lab1" / "socket_create.c").read_text()
    bob = (class_roster.TESTS / "classroster" / "bob" / "lab1" / "socket_create.c").read_text()
    assert "lookup_word" in bob and "lookup_word" not in carol  # really renamed
    students = [data.Student(name, {}, {1: tmp_path / name / "lab1"}, []) for name in roster]
    pairs = similarity.compare(students, [1], ROOT / "labs", ROOT / "solutions")
    flagged = [(p.a, p.b) for p in pairs if p.flagged]
    assert flagged == [("carol", "dave")], [(p.a, p.b, p.share, p.shared) for p in pairs]
    assert pairs[0].share >= 80


@needs_sim
def test_the_skeleton_is_no_evidence(tmp_path):
    """Two students who handed in the skeleton untouched share nothing."""
    for name in ("ann", "ben"):
        shutil.copytree(ROOT / "labs" / "lab4", tmp_path / name / "lab4")
    students = [data.Student(n, {}, {4: tmp_path / n / "lab4"}, []) for n in ("ann", "ben")]
    assert similarity.compare(students, [4], ROOT / "labs", ROOT / "solutions") == []


# -- a class graded by run_all ----------------------------------------------------
@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    roster = tmp_path_factory.mktemp("roster")
    names = class_roster.known_roster(roster)
    out = tmp_path_factory.mktemp("grades")
    proc = subprocess.run([str(GRADER / "run_all"), "--roster", str(roster),
                           "--labs", "1", "--jobs", "2", "--out", str(out), "--progress", "no"],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return names, out, proc


@pytest.mark.slow
def test_run_all_writes_the_report_and_its_csvs(class_run):
    names, out, proc = class_run
    assert "class report:" in proc.stderr, proc.stderr
    for name in ("class.html", "checks.csv", "similarity.csv", "gradebook.csv"):
        assert (out / name).stat().st_size > 0, name
    page = (out / "class.html").read_text()
    checks = rows((out / "checks.csv").read_text())
    assert {r["lab"] for r in checks} == {"1"} and len(checks) == LAB1_CHECKS
    for r in checks:  # the page shows the CSV's figures
        block = re.search(r'data-check="%s">(.*?)</tr>' % r["check"], page, re.S).group(1)
        assert f'{r["pass_rate_percent"]}%' in block
        assert f'{r["passed"]} / {r["graded"]}' in block
        if r["top_hint"]:
            assert f'<b>{r["top_hint_count"]}</b> \u00d7 {r["top_hint"]}' in html.unescape(block)
    by_name = {r["check"]: r for r in checks}
    assert by_name["builds_without_warnings"]["pass_rate_percent"] == "100"  # the skeleton builds
    sims = rows((out / "similarity.csv").read_text())
    assert [(r["student_a"], r["student_b"], r["flagged"]) for r in sims if r["flagged"] == "yes"] \
        == [("carol", "dave", "yes")]
    assert f'{sims[0]["share_percent"]}%' in page


@pytest.mark.slow
def test_the_page_never_shows_the_reference_solution(class_run):
    _, out, _ = class_run
    page = html.unescape((out / "class.html").read_text())
    inside = False
    for line in (ROOT / "solutions" / "lab1" / "socket_create.c").read_text().splitlines():
        if "$begin solution" in line or "$end solution" in line:
            inside = "$begin" in line
            continue
        code = line.strip()
        if inside and len(code) > 12 and not code.startswith(("/*", "*")):
            assert code not in page, code


def chromium(*args, profile):
    argv = [CHROMIUM, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            f"--user-data-dir={profile}", "--window-size=1400,2400",
            "--virtual-time-budget=3000", *args]
    if os.geteuid() == 0:
        argv.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=120)


@pytest.mark.slow
def test_the_page_in_a_browser(class_run, tmp_path):
    if CHROMIUM is None:
        pytest.skip(f"no Chromium to open class.html in: {INSTALL_CHROMIUM}")
    names, out, _ = class_run
    url = (out / "class.html").as_uri()
    dom = chromium("--dump-dom", url, profile=tmp_path / "profile").stdout
    assert 'data-ready="yes"' in dom, dom[-2000:]  # the page's script ran to its end ...
    assert "data-script-error" not in dom.split("<head>")[0]  # ... and nothing failed
    grid = re.search(r'<table id="grid">(.*?)</table>', dom, re.S).group(1)
    assert sorted(re.findall(r'<tr data-name="([^"]+)"', grid)) == sorted(names)
    skeleton = re.search(r'<tr data-name="skeleton".*?</tr>', grid, re.S).group(0)
    assert skeleton.count('class="c fail') >= 5 and skeleton.count('class="c pass') >= 1
    solution = re.search(r'<tr data-name="solution".*?</tr>', grid, re.S).group(0)
    assert solution.count('class="c pass') == LAB1_CHECKS and 'class="c fail' not in solution
    items = re.findall(r'<tr class="item[^"]*" data-check="([^"]+)"', dom)
    assert len(items) == LAB1_CHECKS and items[-1] == "builds_without_warnings"  # the most passed last
    assert re.search(r'data-check="builds_without_warnings">.*?everybody passes', dom, re.S)
    pairs = re.findall(r'<tr class="pair flagged" data-a="([^"]+)" data-b="([^"]+)"', dom)
    assert pairs == [("carol", "dave")]
    assert 'id="pair1"' in dom and "socket_create.c:" in dom  # the side-by-side view
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTEFACTS / "class.png"
    shot.unlink(missing_ok=True)
    proc = chromium(f"--screenshot={shot}", url, profile=tmp_path / "profile")
    assert shot.exists() and shot.stat().st_size > 10_000, proc.stderr[-2000:]
