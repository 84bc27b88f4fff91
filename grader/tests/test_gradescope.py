"""The platforms and the students' archive: Gradescope's run_autograder against a fake
/autograder tree, Autolab's Makefile, and `make dist-student` unpacked on its own."""
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

from conftest import GRADER, ROOT


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
    return subprocess.run([str(root / "source" / "run_autograder")], cwd=root,
                          env=dict(os.environ, AUTOGRADER_ROOT=str(root), SOCKETS_LAB_LABS=labs, **env),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)


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
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 100
    assert isinstance(results["execution_time"], int)
    lab1 = [t for t in results["tests"] if t["name"].startswith("lab 1:")]
    assert lab1 and all(t["status"] == "passed" for t in lab1)
    assert sum(t["max_score"] for t in lab1) == 100
    lab2 = [t for t in results["tests"] if t["name"].startswith("lab 2:")]
    assert lab2 and all(t["score"] == 0 and t["status"] == "failed" for t in lab2)
    assert "no lab2 folder" in results["output"]


def test_run_over_the_platform_limit_still_leaves_results(tmp_path):
    root = fake_autograder(tmp_path, [1])
    proc = run_autograder(root, "1", SOCKETS_LAB_DEADLINE="3")
    assert proc.returncode == 0, proc.stdout
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and results["tests"]
    assert "time limit" in results["tests"][0]["output"]


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
