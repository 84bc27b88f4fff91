"""run_all's command line, and the order of a run: set up, take in, grade, write."""
import argparse
import concurrent.futures
import json
import math
import os
import pathlib
import queue
import signal
import subprocess
import sys
import threading
import time

from harness.registry import LABS, setup_groups

from . import intake
from .formats import Grades, results_json, verdict, write_all
from .runs import GRADER, MACHINE, ROOT, Run, missing_result, split_labs


def say(*args):
    print(*args, file=sys.stderr, flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="grader/run_all", description="Grade submissions (default: the reference solutions).")
    parser.add_argument("submissions", nargs="*", metavar="SUBMISSION",
                        help="a folder with labN/ (or labs/labN/), or a .zip/.tar.gz of one")
    parser.add_argument("--roster", metavar="DIR", help="grade every entry of DIR, named after it")
    parser.add_argument("--labs", help="labs to grade, e.g. 3,4 (default: every lab with checks)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                        help="gradings at once (default: the number of cores)")
    parser.add_argument("--out", help="where to write the grades (default build/grades)")
    parser.add_argument("--autolab", action="store_true",
                        help="end with Autolab's score line {\"scores\": {\"lab1\": n, ...}}")
    parser.add_argument("--gradescope", metavar="FILE",
                        help="also write the (one) submission's results.json to FILE")
    parser.add_argument("--deadline", type=float, metavar="SECONDS",
                        help="the platform's time limit for the whole run: what is not graded "
                             "by then scores 0, and the results are still written")
    parser.add_argument("--checks", metavar="EXPR", help="only the checks matching this pytest -k "
                                                         "expression")
    parser.add_argument("--isolation", choices=["auto", "namespace", "userns", "none"],
                        default="auto", help="how to isolate the submissions (default: the best "
                                             "the machine allows)")
    parser.add_argument("--tmp", help="where to make the temporary copies (default $TMPDIR or /tmp)")
    parser.add_argument("--progress", choices=["auto", "yes", "no"], default="auto",
                        help="the progress line (default: on a terminal)")
    parser.add_argument("--list-labs", action="store_true",
                        help="print the labs it would grade (JSON: lab, title, programs, windows) "
                             "and exit")
    args = parser.parse_args(argv)
    args.jobs = max(1, args.jobs)
    return args


def choose_labs(wanted):
    """The labs to grade (``--labs``, else all) that have checks; None on a bad --labs."""
    available = [n for n in LABS if (GRADER / "checks" / f"test_lab{n}.py").exists()]
    if not wanted:
        return available
    try:
        numbers = sorted({int(x) for x in wanted.replace(" ", "").split(",") if x})
    except ValueError:
        say(f"run_all: --labs takes numbers such as 3,4 (got {wanted!r})")
        return None
    if any(n not in LABS for n in numbers):
        say(f"run_all: there is no such lab (labs: {', '.join(map(str, LABS))})")
        return None
    for n in numbers:
        if n not in available:
            say(f"run_all: lab {n} has no checks in this kit yet: left out")
    return [n for n in numbers if n in available]


def setup(labs):
    """The setup step for what ``labs`` need beyond the core (lab 6: mingw-w64 and Wine), as
    ``make labN`` does; True when it is all there."""
    groups = [g for g in setup_groups(labs) if g != "core"]
    if not groups:
        return True
    done = subprocess.run([str(ROOT / "tools" / "setup.sh"), *groups], stdout=sys.stderr)
    return done.returncode == 0


def interrupted(signum, frame):
    """SIGTERM (a platform's timeout, `kill`) stops the run as Ctrl-C does."""
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv=None):
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupted)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    labs = choose_labs(args.labs)
    if labs is None:
        return 2
    if not labs:
        say("run_all: no lab to grade")
        return 2
    if args.list_labs:  # what the platform packages are built from (tools/dist.py, platforms.py)
        print(json.dumps([{"lab": n, "title": LABS[n].title, "programs": list(LABS[n].programs),
                           "windows": LABS[n].windows} for n in labs]))
        return 0
    if args.roster and not pathlib.Path(args.roster).is_dir():
        say(f"run_all: --roster {args.roster}: not a folder")
        return 2
    reference = not args.submissions and not args.roster
    subs = intake.submissions([ROOT / "solutions"] if reference else args.submissions, args.roster)
    for flag, value in (("--gradescope", args.gradescope), ("--autolab", args.autolab)):
        if value and len(subs) != 1:
            say(f"run_all: {flag} grades exactly one submission")
            return 2
    out = pathlib.Path(args.out) if args.out else ROOT / "build" / "grades"
    out.mkdir(parents=True, exist_ok=True)
    if args.gradescope:  # a results file exists from the start, whatever happens next
        results_json.pending(args.gradescope)
    if not setup(labs):
        return 1
    run = Run(args, labs, sys.executable)
    try:
        return grade_all(run, subs, labs, out, reference)
    except KeyboardInterrupt as stop:
        run.interrupt()
        say(f"run_all: stopped by {stop.args[0] if stop.args else 'Ctrl-C'}: the gradings "
            "under way were killed, no grade was written")
        return 130
    finally:
        run.close()


def grade_all(run, subs, labs, out, reference):
    args = run.args
    run.copy_kit()
    masks = {ROOT, out.resolve()} | {sub.path.resolve() for sub in subs}
    if args.roster:
        masks.add(pathlib.Path(args.roster).resolve())
    if args.gradescope:
        masks.add(pathlib.Path(args.gradescope).resolve())
    say(run.isolate(masks))
    for sub in subs:
        work = run.private / f"sub{sub.index}"
        work.mkdir(mode=0o700)
        try:
            intake.prepare(sub, work, labs)
        except Exception as exc:  # a submission never stops the run
            sub.problems.append(f"could not read the submission: {exc}")
            sub.folders.clear()
    users = queue.Queue()
    try:
        for pair in run.isolation.reserve(args.jobs):
            users.put(pair)
    except (OSError, RuntimeError) as exc:
        say(f"run_all: {exc}")
        return 1
    progress = Progress(len(subs), args.progress == "yes" or (args.progress == "auto"
                                                               and sys.stderr.isatty()))
    lock = threading.Lock()
    groups = split_labs(labs, math.ceil(args.jobs / len(subs)))

    def task(sub, group):
        pair = users.get()
        try:
            run.grade_group(sub, group, pair)
        except Exception as exc:  # an error of run_all itself: those labs score 0, the run goes on
            for n in group:
                sub.results[n] = missing_result(n, f"graded lab {n}",
                                                f"internal error of run_all: {exc!r}", hint=MACHINE)
        finally:
            users.put(pair)
        with lock:
            sub.done += 1
            finished = sub.done == len(groups)
        if finished:
            progress.tick()

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs)
    try:
        for future in [pool.submit(task, sub, group) for sub in subs for group in groups]:
            future.result()
    except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (see main)
        run.interrupt()
        pool.shutdown(wait=True, cancel_futures=True)  # the workers return once killed
        progress.finish()
        raise
    pool.shutdown(wait=True)
    progress.finish()
    grades = Grades(subs, labs, out, time.monotonic() - run.started, args.jobs, reference,
                    args.autolab, args.gradescope)
    write_all(grades)
    sys.stdout.flush()
    return 0 if not reference or verdict.full_marks(grades) else 1


class Progress:
    """`graded k of n, elapsed, time left` on a terminal; nothing otherwise."""

    def __init__(self, total, enabled):
        self.total, self.enabled, self.done = total, enabled, 0
        self.started = time.monotonic()
        self.lock = threading.Lock()

    def tick(self):
        with self.lock:
            self.done += 1
            if not self.enabled:
                return
            elapsed = time.monotonic() - self.started
            left = elapsed / self.done * (self.total - self.done)
            sys.stderr.write(f"\rgraded {self.done} of {self.total}, elapsed {clock(elapsed)}, "
                             f"time left ~{clock(left)}  ")
            sys.stderr.flush()

    def finish(self):
        if self.enabled:
            sys.stderr.write("\r" + " " * 60 + "\r")
            sys.stderr.flush()


def clock(seconds):
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"
