"""The platforms and the students' archive, each laid out as the platform lays it out under a
temporary root (this machine's tools; `make platform-check` does the same in a bare Debian
root): Gradescope's /autograder, PrairieLearn's /grade, INGInious's /task; Autolab's
Makefile; and `make dist-student` unpacked on its own."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

from conftest import GRADER, ROOT
from harness.registry import LABS


def fake_autograder(tmp_path, submission_labs):
    """A /autograder tree in tmp_path: the kit unzipped as Gradescope does, a submission."""
    subprocess.run([sys.executable, str(ROOT / "tools" / "dist.py"), "gradescope"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(ROOT / "dist" / "gradescope-autograder.zip") as zf:
        zf.extractall(root / "source")
    for member in zf.infolist():  # zipfile forgets the modes
        mode = member.external_attr >> 16
        if mode & 0o111:
            os.chmod(root / "source" / member.filename, 0o755)
    (root / "submission").mkdir()
    for n in submission_labs:
        shutil.copytree(ROOT / "solutions" / f"lab{n}", root / "submission" / f"lab{n}")
    return root


def run_autograder(root, labs, **env):
    """Run the autograder as Gradescope does: its copy at /autograder/run_autograder, from
    /autograder (the script in source/ is not the one that runs)."""
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    return subprocess.run(["./run_autograder"], cwd=root,
                          env=dict(os.environ, AUTOGRADER_ROOT=str(root), SOCKETS_LAB_LABS=labs, **env),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)


def gradescope_results(root):
    """results.json, checked against Gradescope's specification field by field."""
    results = json.loads((root / "results" / "results.json").read_text())
    assert isinstance(results["score"], (int, float))
    assert isinstance(results["execution_time"], int)
    assert isinstance(results["output"], str)
    assert results["visibility"] == "visible" and results["stdout_visibility"] == "hidden"
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "after_due_date")
        assert 0 <= test["score"] <= test["max_score"]
    if results["tests"]:
        assert results["score"] == sum(t["score"] for t in results["tests"])
    return results


def test_zip_has_the_scripts_at_its_root_and_no_solutions():
    subprocess.run([sys.executable, str(ROOT / "tools" / "dist.py"), "gradescope"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    names = zipfile.ZipFile(ROOT / "dist" / "gradescope-autograder.zip").namelist()
    assert "setup.sh" in names and "run_autograder" in names and "grader/run_all" in names
    assert not [n for n in names if n.startswith(("solutions/", "grader/mutants/"))]


def test_run_autograder_writes_results(tmp_path):
    root = fake_autograder(tmp_path, [1])
    proc = run_autograder(root, "1,2")
    assert proc.returncode == 0, proc.stdout
    results = gradescope_results(root)
    assert results["score"] == 100
    lab1 = [t for t in results["tests"] if t["name"].startswith("lab 1:")]
    assert lab1 and all(t["status"] == "passed" for t in lab1)
    assert sum(t["max_score"] for t in lab1) == 100
    lab2 = [t for t in results["tests"] if t["name"].startswith("lab 2:")]
    assert lab2 and all(t["score"] == 0 and t["status"] == "failed" for t in lab2)
    assert "no lab2 folder" in results["output"]


def test_compile_error_and_no_lab_folder(tmp_path):
    root = fake_autograder(tmp_path, [])
    (root / "submission" / "lab1").mkdir()
    (root / "submission" / "lab1" / "socket_create.c").write_text("int main(void) { return 0 }\n")
    results = gradescope_results(root) if run_autograder(root, "1").returncode == 0 else None
    assert results is not None and results["score"] == 0
    assert "expected ';'" in results["output"]  # the compiler's words reach the student
    assert any("did not compile" in t["output"] for t in results["tests"])
    assert results["extra_data"]["labs"][0]["compile_errors"]
    shutil.rmtree(root / "submission" / "lab1")
    assert run_autograder(root, "1").returncode == 0
    results = gradescope_results(root)
    assert results["score"] == 0 and "no lab folder found" in results["output"]


def test_run_over_the_platform_limit_still_leaves_results(tmp_path):
    root = fake_autograder(tmp_path, [1])
    proc = run_autograder(root, "1", SOCKETS_LAB_DEADLINE="3")
    assert proc.returncode == 0, proc.stdout
    results = gradescope_results(root)
    assert results["score"] == 0 and results["tests"]
    assert "time limit" in results["tests"][0]["output"]


def test_a_crash_of_the_grader_leaves_results_an_instructor_can_act_on(tmp_path):
    root = fake_autograder(tmp_path, [1])
    # run_all without one of its modules: it stops before it grades (a module the checks
    # import, missing, is a lab not graded, not a crash of run_all)
    (root / "source" / "grader" / "runall" / "intake.py").unlink()
    proc = run_autograder(root, "1")
    assert proc.returncode == 0, proc.stdout
    results = gradescope_results(root)
    assert results["score"] == 0 and results["tests"] == []
    assert "not of your code" in results["output"]
    assert "grader/run_all stopped with status 1" in results["output"]
    assert "cannot import name 'intake'" in results["output"]  # the cause, from run_all's output
    shutil.rmtree(root / "source")  # no kit at all
    proc = run_autograder_copy_only(root)
    results = gradescope_results(root)
    assert "found no kit" in results["output"] and "make gradescope" in results["output"]


def run_autograder_copy_only(root):
    return subprocess.run(["./run_autograder"], cwd=root, env=dict(os.environ, AUTOGRADER_ROOT=str(root)),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)


def test_setup_finds_the_kit_where_gradescope_puts_it(tmp_path):
    """setup.sh run as Gradescope runs it (from /autograder/source, any working folder), with
    apt-get replaced by a recorder: it finds the kit, and asks for Wine only for lab 6."""
    root = fake_autograder(tmp_path, [])
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "apt-get").write_text('#!/bin/sh\necho "apt-get $*" >> "$APT_LOG"\n')
    (fake / "apt-get").chmod(0o755)
    for labs, wine in (("1", False), ("6", True)):
        log = tmp_path / f"apt-{labs}.log"
        proc = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd="/",
                              env=dict(os.environ, PATH=f"{fake}:{os.environ['PATH']}", APT_LOG=str(log),
                                       AUTOGRADER_ROOT=str(root), SOCKETS_LAB_LABS=labs,
                                       GRADER_WINE_TEMPLATE=str(tmp_path / "wine")),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        assert proc.returncode == 0, proc.stdout
        assert "install -y --no-install-recommends iproute2 util-linux procps" in log.read_text()
        assert ((tmp_path / "wine").exists() if wine else not (tmp_path / "wine").exists()), proc.stdout


def test_autolab_makefile(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "tools" / "dist.py"), "autolab"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    shutil.copy(ROOT / "dist" / "autograde.tar", tmp_path)
    shutil.copy(ROOT / "dist" / "autograde-Makefile", tmp_path / "Makefile")
    with tarfile.open(tmp_path / "handin.tar", "w") as tf:
        tf.add(ROOT / "solutions" / "lab1", "lab1")
    proc = subprocess.run(["make", "-s", "LABS=1"], cwd=tmp_path, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout.splitlines()[-1]) == {"scores": {"lab1": 100.0}}


def test_student_distribution_works_on_its_own(tmp_path):
    proc = subprocess.run(["make", "-s", "dist-student"], cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    assert proc.returncode == 0, proc.stdout
    with tarfile.open(ROOT / "dist" / "sockets-lab-student.tar.gz") as tf:
        names = tf.getnames()
        tf.extractall(tmp_path)
    kit = tmp_path / "sockets-lab"
    assert not [n for n in names if n.startswith(("sockets-lab/solutions", "sockets-lab/grader/mutants",
                                                  "sockets-lab/grader/tests"))]
    for checks in (kit / "grader" / "checks").glob("test_lab*.py"):
        assert "instructor_only" not in checks.read_text(), checks
    env = dict(os.environ)
    env.pop("MAKEFLAGS", None)
    make = subprocess.run(["make", "lab1"], cwd=kit, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=300, env=env)
    assert "lab 1: " in make.stdout and "checks passed)" in make.stdout, make.stdout
    shutil.copy(ROOT / "solutions" / "lab1" / "socket_create.c", kit / "labs" / "lab1")
    make = subprocess.run(["make", "lab1"], cwd=kit, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=300, env=env)
    assert make.returncode == 0 and "lab 1: 100/100 points" in make.stdout, make.stdout


def test_instructor_only_checks_are_stripped():
    sys.path.insert(0, str(ROOT / "tools"))
    import dist
    source = ('import pytest\n\n@pytest.mark.points(5)\ndef test_public(lab):\n    pass\n\n\n'
              '@pytest.mark.instructor_only\n@pytest.mark.points(5)\ndef test_hidden(lab):\n'
              '    """hidden"""\n    pass\n\n\ndef helper():\n    return 1\n')
    out = dist.strip_instructor_only(source)
    assert "test_public" in out and "helper" in out and "test_hidden" not in out
    compile(out, "x", "exec")
    assert dist.strip_instructor_only("import pytest\npytestmark = [pytest.mark.lab9, "
                                      "pytest.mark.instructor_only]\n") is None


# -- PrairieLearn: /grade as its external grader lays it out ----------------------------
def prairielearn_job(tmp_path, student_files, lab):
    """A /grade folder under tmp_path: serverFilesCourse copied as plain files (PrairieLearn
    keeps no modes), the student's files flat in student/; the question's entrypoint run as
    PrairieLearn runs it (made executable, from /grade), its results.json read back."""
    subprocess.run([sys.executable, str(ROOT / "tools" / "dist.py"), "prairielearn", "--labs", str(lab)],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    grade = tmp_path / "grade"
    shutil.copytree(ROOT / "dist" / "prairielearn" / "serverFilesCourse", grade / "serverFilesCourse",
                    copy_function=shutil.copyfile)
    (grade / "student").mkdir()
    for path in student_files:
        shutil.copy(path, grade / "student")
    info = json.loads((ROOT / "dist" / "prairielearn" / "questions" / "sockets-lab" / f"lab{lab}"
                       / "info.json").read_text())
    options = info["externalGradingOptions"]
    assert options["enabled"] and not options["enableNetworking"] and options["timeout"] > 30
    entry, *args = options["entrypoint"].split()
    entry = pathlib.Path(entry.replace("/grade", str(grade), 1))
    entry.chmod(0o755)
    proc = subprocess.run([str(entry), *args, "--root", str(grade)], cwd=grade, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=options["timeout"])
    assert proc.returncode == 0, proc.stdout
    out = grade / "results" / "results.json"
    assert out.stat().st_size < 1 << 20
    return json.loads(out.read_text())


def test_prairielearn_reference_skeleton_and_compile_error(tmp_path):
    results = prairielearn_job(tmp_path / "ref", [ROOT / "solutions" / "lab1" / "socket_create.c"], 1)
    assert results["gradable"] is True and results["score"] == 1.0
    assert sum(t["max_points"] for t in results["tests"]) == 100
    assert all(t["points"] == t["max_points"] and t["name"] and "output" in t for t in results["tests"])
    results = prairielearn_job(tmp_path / "skel", [ROOT / "labs" / "lab1" / "socket_create.c"], 1)
    assert results["gradable"] is True and 0 <= results["score"] < 1
    assert any(t["points"] < t["max_points"] and "expected" in t["output"] for t in results["tests"])
    broken = tmp_path / "socket_create.c"
    broken.write_text("int main(void) { return 0 }\n")
    results = prairielearn_job(tmp_path / "broken", [broken], 1)
    assert results["gradable"] is False and "score" not in results
    assert "socket_create.c does not compile" in results["format_errors"][0]


@pytest.mark.parametrize("missing, cause", [
    ("runall/intake.py", "cannot import name 'intake'"),  # run_all itself stops: no results
    ("harness/lab.py", "harness.lab"),  # run_all goes on, the lab's grading fails: not graded
])
def test_prairielearn_grader_crash_is_not_charged(tmp_path, missing, cause):
    grade = tmp_path / "crash" / "grade"
    def broken(src, dst):  # the job's copy of the kit without one of the grader's files
        if not src.endswith(missing):
            shutil.copyfile(src, dst)
    subprocess.run([sys.executable, str(ROOT / "tools" / "dist.py"), "prairielearn", "--labs", "1"],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    shutil.copytree(ROOT / "dist" / "prairielearn" / "serverFilesCourse", grade / "serverFilesCourse",
                    copy_function=broken)
    (grade / "student").mkdir()
    shutil.copy(ROOT / "solutions" / "lab1" / "socket_create.c", grade / "student")
    entry = grade / "serverFilesCourse" / "sockets-lab" / "grader" / "platforms.py"
    entry.chmod(0o755)
    proc = subprocess.run([str(entry), "prairielearn", "--labs", "1", "--root", str(grade)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    results = json.loads((grade / "results" / "results.json").read_text())
    assert results["gradable"] is False, results  # no attempt charged
    assert "not of your code" in results["format_errors"][0] and cause in results["format_errors"][0]


# -- INGInious: /task, its run script, its feedback commands ------------------------------
FAKE_INGINIOUS = {  # INGInious's container commands, recording what the run script says
    "getinput": '#!/bin/sh\nf="$INPUTS/${1%%:value}.c"; [ -f "$f" ] && cat "$f"\n',
    "feedback-result": '#!/bin/sh\necho "result $1" >> "$FEEDBACK"\n',
    "feedback-grade": '#!/bin/sh\necho "grade $1" >> "$FEEDBACK"\n',
    "feedback-msg": '#!/bin/sh\n[ "$1" = -m ] && printf "%s" "$2" > "$FEEDBACK.msg" || cat > "$FEEDBACK.msg"\n',
}


def inginious_task(tmp_path, inputs, lab):
    """The task folder as /task (its `run` executed there), INGInious's commands faked on
    PATH; returns ({result, grade}, message)."""
    subprocess.run([sys.executable, str(ROOT / "tools" / "dist.py"), "inginious", "--labs", str(lab)],
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    task = tmp_path / "task"
    shutil.copytree(ROOT / "dist" / "inginious" / "tasks" / f"sockets-lab-lab{lab}", task)
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for name, text in FAKE_INGINIOUS.items():
        (bin_ / name).write_text(text)
        (bin_ / name).chmod(0o755)
    feedback = tmp_path / "feedback"
    proc = subprocess.run(["./run"], cwd=task, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=dict(os.environ, PATH=f"{bin_}:{os.environ['PATH']}", INPUTS=str(inputs),
                                   FEEDBACK=str(feedback)), timeout=300)
    assert proc.returncode == 0, proc.stdout
    said = dict(line.split(" ", 1) for line in feedback.read_text().splitlines())
    return said, pathlib.Path(f"{feedback}.msg").read_text()


def test_inginious_reference_and_skeleton(tmp_path):
    said, message = inginious_task(tmp_path / "ref", ROOT / "solutions" / "lab1", 1)
    assert said == {"result": "success", "grade": "100"}
    assert message.startswith("::\n\n") and "lab 1: 100/100 points" in message
    said, message = inginious_task(tmp_path / "skel", ROOT / "labs" / "lab1", 1)
    assert said["result"] == "failed" and float(said["grade"]) < 100
    assert "FAIL" in message and "expected" in message


# -- every lab of the registry, 7-9 too ------------------------------------------------------
def test_every_lab_has_its_question_and_its_task():
    """The packages are built from the lab registry: each lab with checks gets a PrairieLearn
    question and an INGInious task, with one upload per program."""
    graded = [n for n in LABS if (GRADER / "checks" / f"test_lab{n}.py").exists()]
    assert {7, 8, 9} <= set(graded)
    for what in ("prairielearn", "inginious"):
        subprocess.run([sys.executable, str(ROOT / "tools" / "dist.py"), what], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    questions = ROOT / "dist" / "prairielearn" / "questions" / "sockets-lab"
    assert sorted(p.name for p in questions.iterdir()) == sorted(f"lab{n}" for n in graded)
    tasks = ROOT / "dist" / "inginious" / "tasks"
    assert sorted(p.name for p in tasks.iterdir()) == sorted(f"sockets-lab-lab{n}" for n in graded)
    for n in graded:
        html = (questions / f"lab{n}" / "question.html").read_text()
        task = (tasks / f"sockets-lab-lab{n}" / "task.yaml").read_text()
        for program in LABS[n].programs:
            assert f"{program}.c" in html and f"name: {program}.c" in task, (n, program)


@pytest.mark.parametrize("platform, lab", [("prairielearn", 7), ("inginious", 8), ("prairielearn", 9)])
def test_the_new_labs_get_full_marks_on_the_platforms(tmp_path, platform, lab):
    """Labs 7-9 graded through each platform's entry point: the reference gets full marks."""
    reference = ROOT / "solutions" / f"lab{lab}"
    if platform == "prairielearn":
        results = prairielearn_job(tmp_path, sorted(reference.glob("*.c")), lab)
        assert results["gradable"] is True and results["score"] == 1.0, json.dumps(results)[:3000]
    else:
        said, message = inginious_task(tmp_path, reference, lab)
        assert said == {"result": "success", "grade": "100"}, message
        assert f"lab {lab}: 100/100 points" in message
