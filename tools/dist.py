#!/usr/bin/env python3
"""Archives of the kit for students and for the autograding platforms (into dist/).

    tools/dist.py student      dist/sockets-lab-student.tar.gz: the kit without solutions/,
                               mutants, the grader's own tests, the instructors' tools and
                               the checks marked instructor_only   (make dist-student)
    tools/dist.py gradescope   dist/gradescope-autograder.zip: setup.sh and run_autograder at
                               its root, the kit without solutions/   (make gradescope GS_LABS=3)
    tools/dist.py autolab      dist/autograde.tar and dist/autograde-Makefile  (make autolab)
    tools/dist.py prairielearn dist/prairielearn/: serverFilesCourse/sockets-lab (the kit), one
                               question per lab, the grading image's Dockerfile  (make prairielearn)
    tools/dist.py inginious    dist/inginious/: one task folder per lab (task.yaml, run, the
                               kit), the environment's Dockerfile  (make inginious)
"""
import argparse
import ast
import io
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import textwrap
import uuid
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "grader"))
from harness.registry import LABS  # noqa: E402  (the labs there are: stdlib only)
DIST = ROOT / "dist"
NEVER = ("build/", "dist/", "docs/html/", ".git/")
#: Left out of what a student gets.
INSTRUCTORS = ("solutions/", "grader/mutants/", "grader/tests/", "grader/run_all", "grader/runall/",
               "grader/gradescope/", "grader/autolab/", "grader/prairielearn/", "grader/inginious/",
               "grader/platforms.py", "grader/classreport/", "tools/dist.py", "tools/bench.py",
               "tools/bench_class_report.py", "tools/platform_check.py", "tools/platform_root.py")
#: Left out of what a platform gets (it grades; it needs neither solutions nor mutants).
PLATFORM = ("solutions/", "grader/mutants/", "grader/tests/")


def kit_files():
    """The kit's files (git's tracked and not ignored ones; else a walk), as relative paths."""
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
        names = sorted({n for n in out.decode().split("\0") if n})
    except (OSError, subprocess.CalledProcessError):
        names = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file())
    return [n for n in names if not n.startswith(NEVER) and "__pycache__" not in n
            and not n.endswith((".pyc", ".o")) and (ROOT / n).is_file()]


def _instructor_only(decorators):
    for d in decorators:
        text = ast.unparse(d)
        if "instructor_only" in text:
            return True
    return False


def strip_instructor_only(source):
    """The checks' source without the checks marked instructor_only (None: the whole file is)."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    cut = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
            if "instructor_only" in ast.unparse(node.value):
                return None
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and _instructor_only(node.decorator_list):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            cut.append((first, node.end_lineno))
    for first, last in reversed(cut):
        del lines[first - 1:last]
    return "".join(lines)


def _add(tar, name, data, mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0")) or int(__import__("time").time())
    tar.addfile(info, io.BytesIO(data))


def contents(leave_out):
    """(relative name, bytes, mode) of every file of the kit that is not left out."""
    for name in kit_files():
        if name.startswith(leave_out):
            continue
        path = ROOT / name
        data = path.read_bytes()
        mode = 0o755 if os.access(path, os.X_OK) else 0o644
        yield name, data, mode


def student():
    DIST.mkdir(exist_ok=True)
    target = DIST / "sockets-lab-student.tar.gz"
    dropped = []
    with tarfile.open(target, "w:gz") as tar:
        for name, data, mode in contents(INSTRUCTORS):
            if name.startswith("grader/checks/test_lab") and name.endswith(".py"):
                text = strip_instructor_only(data.decode())
                if text is None:
                    dropped.append(name)
                    continue
                data = text.encode()
            _add(tar, "sockets-lab/" + name, data, mode)
    print(f"dist: {target.relative_to(ROOT)} (no solutions, mutants or instructor-only checks"
          + (f"; left out {', '.join(dropped)}" if dropped else "") + ")")
    return target


def gradescope(labs):
    DIST.mkdir(exist_ok=True)
    target = DIST / "gradescope-autograder.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        def put(name, data, mode):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
        for name, data, mode in contents(PLATFORM):
            put(name, data, mode)
        for script in ("setup.sh", "run_autograder"):  # Gradescope wants them at the root
            put(script, (ROOT / "grader" / "gradescope" / script).read_bytes(), 0o755)
        if labs:
            put("gradescope-labs", (labs + "\n").encode(), 0o644)
    print(f"dist: {target.relative_to(ROOT)} (upload it as the assignment's autograder"
          + (f"; labs {labs}" if labs else "; every lab") + ")")
    return target


def autolab():
    DIST.mkdir(exist_ok=True)
    target = DIST / "autograde.tar"
    with tarfile.open(target, "w") as tar:
        for name, data, mode in contents(PLATFORM):
            _add(tar, "sockets-lab/" + name, data, mode)
    makefile = DIST / "autograde-Makefile"
    makefile.write_bytes((ROOT / "grader" / "autolab" / "autograde-Makefile").read_bytes())
    print(f"dist: {target.relative_to(ROOT)} and {makefile.relative_to(ROOT)} "
          "(upload both with the Autolab assessment)")
    return target


def platform_labs(labs):
    """What run_all grades (``--list-labs``): [{lab, title, programs, windows}]."""
    argv = [str(ROOT / "grader" / "run_all"), "--list-labs"]
    if labs:
        argv += ["--labs", labs]
    return json.loads(subprocess.run(argv, stdout=subprocess.PIPE, check=True).stdout)


def write_tree(folder, leave_out=PLATFORM):
    """The kit (without ``leave_out``) as plain files under ``folder``, modes kept."""
    for name, data, mode in contents(leave_out):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        path.chmod(mode)


def fresh(name):
    target = DIST / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    return target


def prairielearn(labs, image):
    sys.path.insert(0, str(ROOT / "grader"))
    from platforms import platform_timeout
    target = fresh("prairielearn")
    write_tree(target / "serverFilesCourse" / "sockets-lab")
    shutil.copy(ROOT / "grader" / "prairielearn" / "Dockerfile", target / "Dockerfile")
    shutil.copy(ROOT / "grader" / "prairielearn" / "README.md", target / "README.md")
    for lab in platform_labs(labs):
        n = lab["lab"]
        timeout, deadline = platform_timeout(1)
        question = target / "questions" / "sockets-lab" / f"lab{n}"
        question.mkdir(parents=True)
        info = {
            "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"sockets-lab/lab{n}")),
            "title": f"Lab {n}: {lab['title']}", "topic": "Network programming",
            "tags": ["sockets-lab", f"lab{n}"], "type": "v3", "singleVariant": True,
            "gradingMethod": "External",
            "externalGradingOptions": {
                "enabled": True, "image": image, "serverFilesCourse": ["sockets-lab/"],
                "entrypoint": f"/grade/serverFilesCourse/sockets-lab/grader/platforms.py "
                              f"prairielearn --labs {n} --deadline {deadline}",
                "timeout": timeout, "enableNetworking": False,
            },
        }
        (question / "info.json").write_text(json.dumps(info, indent=2) + "\n")
        files = ", ".join(p + ".c" for p in lab["programs"])
        (question / "question.html").write_text(textwrap.dedent(f"""\
            <pl-question-panel>
              <p>Lab {n} ({lab['title']}) of sockets-lab: upload {files}, as the handout
              (<code>labs/lab{n}/README.md</code>) describes them. Each check that fails says
              what it did, what it expected, what it got, and the likely mistake.</p>
            </pl-question-panel>
            <pl-file-upload file-names="{files}"></pl-file-upload>
            <pl-submission-panel>
              <pl-external-grader-results></pl-external-grader-results>
              <pl-file-preview></pl-file-preview>
            </pl-submission-panel>
            """))
    print(f"dist: {target.relative_to(ROOT)}/ (serverFilesCourse/, questions/ and the image's "
          f"Dockerfile: see its README.md; image {image})")
    return target


def inginious(labs):
    sys.path.insert(0, str(ROOT / "grader"))
    from platforms import platform_timeout
    target = fresh("inginious")
    shutil.copy(ROOT / "grader" / "inginious" / "Dockerfile", target / "Dockerfile")
    shutil.copy(ROOT / "grader" / "inginious" / "README.md", target / "README.md")
    for lab in platform_labs(labs):
        n = lab["lab"]
        task = target / "tasks" / f"sockets-lab-lab{n}"
        write_tree(task / "sockets-lab")
        shutil.copy(ROOT / "grader" / "inginious" / "run", task / "run")
        (task / "run").chmod(0o755)
        (task / "sockets-lab-labs").write_text(f"{n}\n")
        timeout, _deadline = platform_timeout(1)
        problems = "".join(textwrap.dedent(f"""\
              {p}:
                name: {p}.c
                type: file
                header: Upload {p}.c.
                allowed_exts: [".c"]
                max_size: 1048576
            """) for p in lab["programs"])
        (task / "task.yaml").write_text(textwrap.dedent(f"""\
            author: sockets-lab
            name: "Lab {n}: {lab['title']}"
            context: |-
                Lab {n} of sockets-lab: upload your programs as the handout (labs/lab{n}/README.md)
                describes them. The feedback is the checklist of ``make lab{n}``.
            accessible: true
            environment_type: docker
            environment_id: sockets-lab
            environment: sockets-lab
            network_grading: false
            limits:
                time: {LIMITS["time"]}
                hard_time: {timeout}
                memory: {LIMITS["memory"]}
                output: 2
            problems:
            """) + textwrap.indent(problems, "    "))
    print(f"dist: {target.relative_to(ROOT)}/ (tasks/sockets-lab-labN/ and the environment's "
          "Dockerfile: see its README.md)")
    return target


#: INGInious's limits of one task (one lab): CPU seconds and MB of the grading container,
#: from the measured cost of one lab (docs/grading.md, "INGInious") with room for a slow box.
LIMITS = {"time": 60, "memory": 768}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["student", "gradescope", "autolab", "prairielearn", "inginious"])
    parser.add_argument("--labs", default="", help="the labs the assignment (or questions, tasks) grades")
    parser.add_argument("--image", default="sockets-lab-grader",
                        help="prairielearn: the grading image's name on Docker Hub")
    args = parser.parse_args(argv)
    wrong = [x for x in args.labs.replace(" ", "").split(",") if x and not (x.isdigit() and int(x) in LABS)]
    if wrong:
        parser.error(f"--labs: no lab {', '.join(wrong)} (labs: {', '.join(map(str, LABS))})")
    if args.what == "student":
        student()
    elif args.what == "gradescope":
        gradescope(args.labs)
    elif args.what == "prairielearn":
        prairielearn(args.labs, args.image)
    elif args.what == "inginious":
        inginious(args.labs)
    else:
        autolab()
    return 0


if __name__ == "__main__":
    sys.exit(main())
