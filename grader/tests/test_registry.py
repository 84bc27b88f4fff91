"""The lab registry (grader/harness/registry.py): one entry is all a new lab needs.

In a copy of the kit, a toy lab is added by following CONTRIBUTING.md's "How to add a
lab" to the letter (the registry line, one program, one checks file); ``make labN``
grades it and ``grader/run_all`` includes it.  Its number is two digits at least, so
that a lab number read as one digit (``lab1`` for ``lab10``) would show.  And no file
of the kit writes the list of labs out but the registry.
"""
import re
import shutil
import subprocess

import pytest

from harness.registry import LABS

from conftest import ROOT

#: The toy lab's number: past every lab there is, and two digits at least.
TOY = max(10, max(LABS) + 1)

TOY_PROGRAM = r"""/**
 * @file toy_hello.c
 * @brief The toy lab's one program: prints `hello` and exits 0.
 */
#include <stdio.h>

int main(void)
{
    // $skeleton: /* TODO 1: print hello */
    // $begin solution
    printf("hello\n");
    // $end solution
    return 0;
}
"""

TOY_CHECKS = f'''"""Lab {TOY}: a toy lab (grader/tests/test_registry.py).  Contract: docs/contract.md."""
import pytest

from harness.common import no_warnings
from harness.report import fail, show

pytestmark = pytest.mark.lab{TOY}


@pytest.mark.points(40)
def test_builds_without_warnings(lab):
    """toy_hello.c compiles without a warning"""
    no_warnings(lab, ["toy_hello"])


@pytest.mark.points(60)
def test_says_hello(lab):
    """`toy_hello` prints hello"""
    program = lab.run("toy_hello")
    if program.out() != b"hello\\n":
        fail("ran `toy_hello`", expected=show(b"hello\\n"), got=show(program.out()))
'''


def copy_kit(target):
    """The kit's files, as a clone has them (nothing built)."""
    shutil.copytree(ROOT, target, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "html", "__pycache__", "*.pyc"))
    return target


def add_toy_lab(kit):
    """CONTRIBUTING.md's "How to add a lab", steps 2 to 4."""
    registry = kit / "grader" / "harness" / "registry.py"
    text = registry.read_text()
    assert text.count("\n)}\n") == 1, "the registry's table must end with `)}` on its own line"
    registry.write_text(text.replace("\n)}\n", f'\n    LabSpec({TOY}, "toy", ("toy_hello",), cost=0.5),\n)}}\n'))
    (kit / "solutions" / f"lab{TOY}").mkdir()
    (kit / "solutions" / f"lab{TOY}" / "toy_hello.c").write_text(TOY_PROGRAM)
    (kit / "grader" / "checks" / f"test_lab{TOY}.py").write_text(TOY_CHECKS)


def run(argv, cwd, timeout=600):
    return subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_a_new_lab_is_one_registry_entry_and_its_files(tmp_path):
    kit = copy_kit(tmp_path / "kit")
    add_toy_lab(kit)
    graded = run(["make", "-s", f"lab{TOY}", "IMPL=solutions"], kit)
    assert graded.returncode == 0, graded.stdout
    assert f"lab {TOY}: 100/100 points (2 of 2 checks passed)" in graded.stdout
    assert run(["make", "-s", "skeletons"], kit).returncode == 0
    skeleton = run(["make", "-s", f"lab{TOY}"], kit)  # labs/labN: the TODO is still to do
    assert skeleton.returncode != 0 and f"lab {TOY}: 40/100 points" in skeleton.stdout, skeleton.stdout
    out = tmp_path / "grades"
    graded = run([str(kit / "grader" / "run_all"), "--labs", f"1,{TOY}", "--out", str(out)], kit)
    assert graded.returncode == 0, graded.stdout
    assert (out / "gradebook.csv").read_text() == f"student,lab1,lab{TOY},total\nsolutions,100,100,200\n"
    listed = run(["make", "-s", "help"], kit).stdout
    assert re.search(rf"N: .*\b{TOY}\b", listed), listed


#: Ways of writing the list of labs out (built here so that this file does not match).
WRITTEN_OUT = [re.escape("range(1, " + "7)"), "1 2 3 4 5 " + "6", re.escape(r"lab(\d" + ")")]


def test_no_lab_list_is_written_out_but_the_registry():
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                           check=False).stdout.split()
    if not files:
        pytest.skip("not a git checkout")
    found = []
    for name in files:
        path = ROOT / name
        if name == "grader/harness/registry.py" or not path.is_file():
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, OSError):
            continue
        found += [f"{name}: {pattern}" for pattern in WRITTEN_OUT if re.search(pattern, text)]
    assert found == []
