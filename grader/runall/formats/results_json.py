"""``STUDENT/results.json`` (and ``--gradescope FILE``): Gradescope's results format."""
import json

from harness.results import write_whole

from .common import notes, points


def results(sub, labs, seconds):
    """The submission's results in Gradescope's results.json format."""
    tests = []
    output = [f"note: {note}" for note in notes(sub, labs)]
    for n in labs:
        lab = sub.results[n]
        output.append(f"lab {n} ({lab.title}): {points(lab.score)}/{points(lab.max_score)}")
        if lab.build_output:
            output.append("  compiler output:")
            output += ["    " + line for line in lab.build_output.splitlines()[:40]]
        for i, check in enumerate(lab.checks, 1):
            tests.append({
                "name": f"lab {n}: {check.title}",
                "number": f"{n}.{i}",
                "score": check.score,
                "max_score": check.max_score,
                "status": "passed" if check.passed else "failed",
                "output": check.output or "",
                "visibility": "after_due_date" if check.instructor_only else "visible",
                "tags": [f"lab{n}", check.name],
            })
    return {"score": sub.total(), "execution_time": int(round(seconds)),
            "output": "\n".join(output), "visibility": "visible",
            "stdout_visibility": "hidden", "tests": tests, "extra_data": extra_data(sub, labs)}


def extra_data(sub, labs):
    """What the other platforms' adapters (grader/platforms.py) read beyond Gradescope's fields:
    each lab's points, whether it was submitted, its notes, what did not compile, and what
    failed when the grader itself could not grade it."""
    return {"labs": [{"lab": n, "title": sub.results[n].title, "score": sub.results[n].score,
                      "max_score": sub.results[n].max_score, "submitted": n in sub.folders,
                      "notes": sub.notes.get(n, []),
                      "compile_errors": sub.results[n].compile_errors,
                      "grader_error": grader_error(sub.results[n])} for n in labs],
            "problems": sub.problems}


def grader_error(lab):
    """What went wrong when the grader itself failed on ``lab`` (else None)."""
    reason = lab.not_graded
    return reason.got if reason and reason.grader_error else None


def text(sub, labs, seconds):
    return json.dumps(results(sub, labs, seconds), indent=1) + "\n"


def pending(path):
    """A results file that exists from the start of a run, whatever happens next."""
    write_whole(path, json.dumps({"score": 0, "execution_time": 0, "tests": [],
                                  "output": "the autograder did not finish (stopped by the "
                                            "platform's time limit?)"}) + "\n")


def write(grades):
    for sub in grades.subs:
        write_whole(grades.out / sub.name / "results.json",
                    text(sub, grades.labs, sub.seconds or grades.seconds))
    if grades.gradescope:
        write_whole(grades.gradescope, text(grades.subs[0], grades.labs, grades.seconds))
