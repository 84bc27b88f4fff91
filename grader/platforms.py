#!/usr/bin/env python3
"""Grade one submission on PrairieLearn or INGInious: grader/run_all, then the platform's report.

    grader/platforms.py prairielearn --labs 3 [--root /grade]
        PrairieLearn's external grader (the question's entrypoint): grades /grade/student,
        writes /grade/results/results.json.
    grader/platforms.py inginious --labs 3 [--deadline S]
        INGInious's `run` script calls it in /task: reads each program with `getinput`,
        reports with feedback-result, feedback-grade and feedback-msg.

Both run ``grader/run_all SUBMISSION --gradescope FILE`` and read that one file (Gradescope's
results.json, with the kit's ``extra_data``): run_all is the only grader, this module only
says its results in another platform's words.  A failure of the grader itself (run_all stops
without results) is reported as such, never as the student's mistake.  See
grader/prairielearn/README.md and grader/inginious/README.md.
"""
import argparse
import glob
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

KIT = pathlib.Path(__file__).resolve().parent.parent
#: Deadlines stretched as on Gradescope: a platform's grading machine runs several jobs at once.
TIME_SCALE = "2"
#: Seconds one lab may take at most on a platform (run_all's LAB_TIMEOUT, 90 s, stretched x2),
#: plus a minute for Python, the copies and Wine's start: what a platform's timeout is sized by.
LAB_SECONDS = 180
START_SECONDS = 60
#: run_all is told to finish this long before the platform kills the job, to write the results.
MARGIN = 30
#: PrairieLearn's limit on results.json (1 MB), with room to spare; each check's output is cut.
PL_MAX_BYTES = 900_000
CHECK_OUTPUT_MAX = 8_000


def platform_timeout(labs, cap=600):
    """(the platform's timeout, run_all's --deadline) in seconds for grading ``labs`` labs."""
    timeout = min(cap, START_SECONDS + LAB_SECONDS * max(1, labs))
    return timeout, timeout - MARGIN


class Graded:
    """What run_all gave for one submission: its results (None when it failed), checklist, log."""

    def __init__(self, status, log, results, report):
        self.status = status
        self.log = log
        self.results = results
        self.report = report

    @property
    def crashed(self):
        """The grader failed (not the student): run_all wrote no results, or could not grade
        a lab through a failure of its own (the machine, the grader's files)."""
        return self.results is None or any(lab.get("grader_error") for lab in self.labs())

    def labs(self):
        return self.results.get("extra_data", {}).get("labs", [])

    def fraction(self):
        """The score in 0-1 over the labs graded."""
        total = sum(lab["max_score"] for lab in self.labs())
        return round(self.results["score"] / total, 4) if total else 0.0

    def format_errors(self):
        """What makes the submission ungradable: a program that does not compile, a lab or
        a file that is missing.  [] when every lab was there and compiled."""
        errors = []
        for lab in self.labs():
            if not lab["submitted"]:
                errors += lab["notes"] or [f"lab {lab['lab']}: nothing was submitted"]
                continue
            errors += [note for note in lab["notes"] if " no " in note]
            for name, text in sorted(lab["compile_errors"].items()):
                errors.append(f"{name}.c does not compile:\n{text.strip()}")
        return errors

    def crash_message(self):
        head = ("The grader could not grade this submission: a problem of the grading setup, not "
                "of your code. Tell your instructor.\n\nFor the instructor: ")
        if self.results is not None:
            failed = [f"lab {lab['lab']}: {lab['grader_error']}" for lab in self.labs()
                      if lab.get("grader_error")]
            return head + "grader/run_all could not grade " + "\n".join(failed)
        tail = "\n".join(self.log.strip().splitlines()[-15:])
        return (head + f"grader/run_all stopped with status {self.status} before it wrote the "
                f"grades; its last lines:\n{tail}")


def grade(submission, labs, deadline):
    """Run grader/run_all on ``submission`` (a folder); return a :class:`Graded`."""
    _executable_scripts()
    work = pathlib.Path(tempfile.mkdtemp(prefix="sockets-lab-platform-"))
    results = work / "results.json"
    argv = [str(KIT / "grader" / "run_all"), str(submission),
            "--gradescope", str(results), "--out", str(work / "grades"), "--jobs", "1",
            "--progress", "no", "--deadline", str(deadline)]
    if labs:
        argv += ["--labs", labs]
    env = dict(os.environ, GRADER_TIME_SCALE=os.environ.get("GRADER_TIME_SCALE", TIME_SCALE))
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL, env=env, timeout=deadline + MARGIN / 2)
        status, log = proc.returncode, proc.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as exc:
        status, log = "timeout", (exc.output or b"").decode("utf-8", "replace")
    except OSError as exc:
        status, log = "not started", str(exc)
    data = None
    if status == 0:
        try:
            data = json.loads(results.read_text())
        except (OSError, ValueError):
            data = None
    report = "".join(pathlib.Path(p).read_text(errors="replace")
                     for p in sorted(glob.glob(str(work / "grades" / "*" / "report.txt"))))
    shutil.rmtree(work, ignore_errors=True)
    return Graded(status, log, data, report)


def _executable_scripts():
    """A platform that copies the kit as plain files (PrairieLearn's serverFilesCourse) may drop
    the modes: run_all runs tools/python, and the harness runs nothing else of the kit's."""
    for rel in ("grader/run_all", "tools/python", "tools/setup.sh"):
        path = KIT / rel
        try:
            if not os.access(path, os.X_OK):
                path.chmod(0o755)
        except OSError:
            pass


def _hint(output):
    """The check's hint (the likely mistake), else its first line: PrairieLearn's short message."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    hints = [line.removeprefix("hint:").strip() for line in lines if line.startswith("hint:")]
    return (hints or lines or ["failed"])[0]


def _cut(text, limit=CHECK_OUTPUT_MAX):
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text) - limit} more characters)"


# -- PrairieLearn ---------------------------------------------------------------------
def prairielearn_results(graded):
    """PrairieLearn's results.json for ``graded``: score in 0-1, tests with points."""
    if graded.crashed:  # not gradable: no attempt is charged, and the student is told why
        return {"gradable": False, "score": 0.0, "format_errors": [graded.crash_message()],
                "message": "The grader failed (not your code): tell your instructor.",
                "output": _cut(graded.log, 100_000), "tests": []}
    errors = graded.format_errors()
    if errors:
        return {"gradable": False, "format_errors": errors,
                "message": "Not graded, no attempt used: " + errors[0].splitlines()[0],
                "output": _cut(graded.report, 100_000), "tests": []}
    tests = []
    for test in graded.results["tests"]:
        hidden = test.get("visibility", "visible") != "visible"
        tests.append({
            "name": test["name"],
            "points": test["score"], "max_points": test["max_score"],
            "message": "" if test["status"] == "passed" or hidden else _hint(test.get("output", "")),
            "output": "(a hidden check: its details are not shown)" if hidden
            else _cut(test.get("output", "")),
        })
    results = {"gradable": True, "score": graded.fraction(),
               "message": f"{graded.results['score']:g} of "
                          f"{sum(lab['max_score'] for lab in graded.labs()):g} points",
               "output": _cut(graded.results.get("output", ""), 50_000), "tests": tests}
    while len(json.dumps(results)) > PL_MAX_BYTES:  # the checks' outputs go first, longest first
        longest = max(results["tests"], key=lambda t: len(t["output"]))
        if not longest["output"]:
            break
        longest["output"] = _cut(longest["output"], len(longest["output"]) // 2)
    return results


def prairielearn(args):
    root = pathlib.Path(args.root)
    out = root / "results" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    graded = grade(root / "student", args.labs, args.deadline)
    print(graded.log, flush=True)  # PrairieLearn keeps the job's output for the instructor
    tmp = out.with_name(".results.json.tmp")
    tmp.write_text(json.dumps(prairielearn_results(graded), indent=1) + "\n")
    os.replace(tmp, out)
    return 0


# -- INGInious ------------------------------------------------------------------------
def inginious_feedback(graded):
    """(result, grade in 0-100, message in reStructuredText) for INGInious's feedback commands."""
    if graded.crashed:
        return "crash", 0.0, _literal(graded.crash_message())
    errors = graded.format_errors()
    grade_ = round(100 * graded.fraction(), 2)
    result = "success" if grade_ >= 100 else "failed"
    if any("time limit" in t.get("output", "") for t in graded.results["tests"]):
        result = "timeout"
    head = ("Not graded in full: " + "; ".join(e.splitlines()[0] for e in errors) + "\n\n"
            if errors else "")
    return result, grade_, head + _literal(graded.report)


def _literal(text):
    """``text`` as a reStructuredText literal block (the checklist keeps its columns)."""
    return "::\n\n" + "\n".join("    " + line for line in text.rstrip().splitlines()) + "\n"


def inginious(args):
    work = pathlib.Path(tempfile.mkdtemp(prefix="sockets-lab-submission-"))
    labs = json.loads(subprocess.run(
        [str(KIT / "grader" / "run_all"), "--list-labs", "--labs", args.labs],
        stdout=subprocess.PIPE, check=True).stdout)
    for lab in labs:  # one file problem per program, its id the program's name
        folder = work / f"lab{lab['lab']}"
        folder.mkdir()
        for program in lab["programs"]:
            got = subprocess.run(["getinput", f"{program}:value"], stdout=subprocess.PIPE)
            if got.returncode == 0 and got.stdout.strip():
                (folder / f"{program}.c").write_bytes(got.stdout)
    graded = grade(work, args.labs, args.deadline)
    print(graded.log, flush=True)
    result, grade_, message = inginious_feedback(graded)
    subprocess.run(["feedback-result", result], check=False)
    subprocess.run(["feedback-grade", f"{grade_:g}"], check=False)
    subprocess.run(["feedback-msg"], input=message.encode(), check=False)
    shutil.rmtree(work, ignore_errors=True)
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("platform", choices=["prairielearn", "inginious"])
    parser.add_argument("--labs", required=True, help="the lab(s) the question or task grades, e.g. 3")
    parser.add_argument("--root", default="/grade", help="prairielearn: the job's folder")
    parser.add_argument("--deadline", type=float,
                        help="seconds run_all may take (default: the platform's timeout less "
                             f"{MARGIN} s, as the packages set it)")
    args = parser.parse_args(argv)
    if args.deadline is None:
        args.deadline = platform_timeout(len(args.labs.split(",")))[1]
    return prairielearn(args) if args.platform == "prairielearn" else inginious(args)


if __name__ == "__main__":
    sys.exit(main())
