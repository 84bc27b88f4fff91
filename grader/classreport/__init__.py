"""The instructors' class report: class.html, checks.csv and similarity.csv.

    from classreport import write
    write(out_dir, subs, labs)      # grader/runall/formats/class_report.py, after gradebook.csv

- data.py: the numbers (per lab, per check, per student), read from the run in one place
  (:func:`data.from_run`);
- similarity.py: pairs of submissions alike, by Debian's ``sim_c``, skeleton taken out;
- render.py and templates/class.html.j2: the page (jinja2, matplotlib's SVG inline);
- csvs.py: the exports, from the same numbers as the page.

The page needs python3-jinja2 and python3-matplotlib, similarity needs similarity-tester
(``tools/setup.sh report`` installs them).  Where the Python running run_all lacks the
libraries, the page is made by the Python ``tools/python`` finds; where none has them,
run_all says so and writes the CSVs only.
"""
import importlib.util
import json
import pathlib
import subprocess
import sys
import time

GRADER = pathlib.Path(__file__).resolve().parent.parent
ROOT = GRADER.parent
LIBRARIES = ("jinja2", "matplotlib")
INSTALL = "apt-get install python3-jinja2 python3-matplotlib similarity-tester   (or: tools/setup.sh report)"


def say(*args):
    print(*args, file=sys.stderr, flush=True)


def write(out_dir, subs, labs, reference_root=ROOT / "solutions", skeleton_root=ROOT / "labs"):
    """Write class.html, checks.csv and similarity.csv into ``out_dir`` for run_all's
    submissions ``subs`` and ``labs``; return the seconds it took.  Never raises: the
    grades are written already, and a report that cannot be made says why."""
    started = time.monotonic()
    try:
        from . import data
        students = data.from_run(subs, labs)
        if make(pathlib.Path(out_dir), students, labs, reference_root, skeleton_root):
            say(f"class report: {pathlib.Path(out_dir) / 'class.html'} "
                f"({time.monotonic() - started:.1f} s)")
    except Exception as exc:  # the gradebook stands; the report says what went wrong
        say(f"run_all: the class report could not be made: {exc!r}")
    return time.monotonic() - started


def make(out, students, labs, reference_root, skeleton_root):
    from . import csvs, data, similarity
    analysis = data.item_analysis(students, labs)
    pairs = similarity.compare(students, labs, skeleton_root, reference_root)
    csvs.write_checks(out / "checks.csv", analysis, labs)
    csvs.write_similarity(out / "similarity.csv", pairs)
    flagged = [p for p in pairs if p.flagged]
    hidden = similarity.hide_reference(flagged, reference_root, skeleton_root)
    if all(importlib.util.find_spec(m) for m in LIBRARIES):
        html = page(students, labs, analysis, flagged, len(pairs), hidden)
    else:
        html = page_elsewhere(students, labs, flagged, len(pairs), hidden)
    if html is None:  # no page rather than last run's
        (out / "class.html").unlink(missing_ok=True)
        return False
    csvs.write_whole(out / "class.html", html)  # harness.results' whole-or-nothing write
    return True


def page(students, labs, analysis, flagged, pair_count, hidden):
    """class.html's text; ``flagged`` the pairs above the threshold, of ``pair_count``."""
    from . import data, render, similarity
    stats = data.lab_stats(students, labs)
    columns, rows = data.grid(students, labs, analysis)
    return render.page({
        "students": students, "labs": labs, "stats": stats,
        "figures": {n: render.histogram(stats[n]) for n in labs},
        "columns": columns, "rows": rows,
        "lab_columns": {n: sum(1 for m, _ in columns if m == n) for n in labs},
        "analysis": analysis, "pair_count": pair_count, "flagged": flagged, "hidden": hidden,
        "threshold": similarity.THRESHOLD, "min_shared": similarity.MIN_SHARED,
        "shown_pairs": similarity.SHOWN_PAIRS, "shown_lines": similarity.SHOWN_LINES,
        "sim_missing": similarity.missing(),
        "notes": {s.name: s.notes for s in students},
        "checklists": data.checklists(students, labs)})


def page_elsewhere(students, labs, flagged, pair_count, hidden):
    """The page made by tools/python's Python (Debian's, with the libraries) when the one
    running run_all lacks them: the students go over as JSON, the page comes back."""
    payload = json.dumps({"students": [{"name": s.name, "notes": s.notes,
                                        "results": {n: r.to_dict() for n, r in s.results.items()},
                                        "sources": {n: str(f) for n, f in s.sources.items()}}
                                       for s in students],
                          "labs": labs, "pairs": [pair_json(p) for p in flagged],
                          "pair_count": pair_count,
                          "hidden": [[*k, v] for k, v in hidden.items()]})
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import classreport; "
            "classreport.page_from_json()")
    try:
        proc = subprocess.run([str(ROOT / "tools" / "python"), "-c", code, str(GRADER)],
                              input=payload, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        say(f"run_all: class.html not written ({exc})")
        return None
    if proc.returncode != 0:
        say(f"run_all: class.html not written: it needs {', '.join(LIBRARIES)}.\n"
            f"  Install them: {INSTALL}\n{proc.stderr.strip()[-500:]}")
        return None
    return proc.stdout


def pair_json(p):
    return {"lab": p.lab, "a": p.a, "b": p.b, "shared": p.shared, "tokens_a": p.tokens_a,
            "tokens_b": p.tokens_b, "runs": [[r.tokens, r.a, r.b] for r in p.runs]}


def page_from_json():
    """tools/python's side of :func:`page_elsewhere`: JSON on stdin, HTML on stdout."""
    from harness.results import LabResult

    from . import data, similarity
    missing = [m for m in LIBRARIES if not importlib.util.find_spec(m)]
    if missing:
        sys.exit(f"no {', '.join(missing)} here either")
    doc = json.load(sys.stdin)
    labs = doc["labs"]
    students = [data.Student(s["name"], {int(k): LabResult.from_dict(v) for k, v in s["results"].items()},
                             {int(k): pathlib.Path(v) for k, v in s["sources"].items()}, s["notes"]) for s in doc["students"]]
    analysis = data.item_analysis(students, labs)
    pairs = [similarity.Pair(p["lab"], p["a"], p["b"], p["shared"], p["tokens_a"], p["tokens_b"],
                             [similarity.Run(t, [tuple(x) for x in a], [tuple(x) for x in b])
                              for t, a, b in p["runs"]]) for p in doc["pairs"]]
    hidden = {(lab, a, b): v for lab, a, b, v in doc["hidden"]}
    sys.stdout.write(page(students, labs, analysis, pairs, doc["pair_count"], hidden))
