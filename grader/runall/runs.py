"""The gradings of a run: the grader's copy, one grade.py per group of labs, their results.

:class:`Run` holds what the gradings of one run share (the grader's copy, the shim,
Wine's template, the isolation, the time limit).  :meth:`Run.grade_group` grades some
labs of one submission in one grading (one grade.py, one pytest session, in namespaces
of its own) and stores a :class:`harness.results.LabResult` per lab: the one the
checks' plugin wrote, or one that says why the lab was not graded.
"""
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from harness import results as resultslib, sandbox, timing
from harness.registry import LABS, windows_labs

from . import isolation

GRADER = pathlib.Path(__file__).resolve().parent.parent
ROOT = GRADER.parent

#: Seconds a lab's grading may take before it is stopped, times timing.MOST: only a net for a
#: grader that hangs (its checks end within their own deadlines, grader/checks/conftest.py).
LAB_TIMEOUT = 90.0
#: What a lab of the reference costs, in seconds of one core, to share a submission's labs
#: fairly between gradings when there are more jobs than submissions (the registry's costs).
LAB_COST = {n: spec.cost for n, spec in LABS.items()}
MACHINE = "an error of the grading machine, not yours"


def say(*args):
    print(*args, file=sys.stderr, flush=True)


def missing_result(n, did, got, hint=None):
    """Lab ``n`` not graded: 0 of 100, saying why (a :class:`harness.results.NotGraded`; with
    the hint :data:`MACHINE`, a failure of the grader's own)."""
    return resultslib.LabResult.not_graded_because(
        n, LABS[n].title, resultslib.NotGraded(did, got, hint, grader_error=hint == MACHINE))


def split_labs(labs, parts):
    """``labs`` in at most ``parts`` groups of about the same cost (:data:`LAB_COST`).

    A submission is one grading when there are at least as many submissions as jobs;
    with fewer (the reference alone, one student), its labs are shared between gradings
    so that every job has work.  Each group is graded in the labs' order.
    """
    groups = [[] for _ in range(max(1, min(parts, len(labs))))]
    for n in sorted(labs, key=lambda n: -LAB_COST.get(n, 3.0)):  # the costliest first, to the
        min(groups, key=lambda g: sum(LAB_COST.get(m, 3.0) for m in g)).append(n)  # lightest
    return [sorted(g) for g in groups]


class Run:
    """Everything shared by the gradings of one run."""

    def __init__(self, args, labs, python):
        self.args = args
        self.labs = labs
        self.python = python
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="sockets-lab-run-", dir=args.tmp))
        os.chmod(self.tmp, 0o711)
        self.private = self.tmp / "private"
        self.private.mkdir(mode=0o700)
        self.kit = self.tmp / "kit"
        self.masks = []
        self.started = time.monotonic()
        self.deadline = self.started + args.deadline if args.deadline else None
        self.isolation = None
        self.shim = None
        self.wine_template = None
        self.children = set()  # the gradings under way (their first process)
        self.children_lock = threading.Lock()
        self.stopping = False  # interrupted: start nothing more

    def interrupt(self):
        """Stop the run now (Ctrl-C, or SIGTERM): no grading starts any more, and each one
        under way is killed with everything it started (see :meth:`end`). Called from the
        main thread while the workers wait for their gradings; each of them returns soon."""
        with self.children_lock:
            self.stopping = True
            children = list(self.children)
        for child in children:
            self.end(child)

    def end(self, child):
        """Ask grading ``child`` to end at once: with namespaces, killing the first process
        (unshare --kill-child) ends the namespace and every process in it; without, the
        grading's subreaper kills what it started when it gets SIGTERM."""
        try:
            if self.isolation is not None and self.isolation.mode == "none":
                child.terminate()
            else:
                child.kill()
        except OSError:
            pass

    def close(self):
        """Give back the run's users and remove its temporary copies."""
        if self.isolation is not None:
            self.isolation.release()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def copy_kit(self):
        """The grader as the gradings see it: its checks readable by root only, no solutions."""
        ignore = shutil.ignore_patterns("tests", "mutants", "gradescope", "autolab", "run_all",
                                        "runall", "__pycache__", "*.pyc")
        self.kit.mkdir(mode=0o711)
        shutil.copytree(GRADER, self.kit / "grader", ignore=ignore)
        shutil.copy2(ROOT / "pytest.ini", self.kit / "pytest.ini")
        subprocess.run([self.python, "-m", "compileall", "-q", str(self.kit / "grader")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for path in [self.kit / "grader"] + list((self.kit / "grader").rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (self.kit / "grader" / "checks").chmod(0o700)
        # The grader's LD_PRELOAD shim, built once for the run (each grading gets a copy).
        from harness import build
        try:
            self.shim = build.shim(self.tmp / "shim")
        except (OSError, subprocess.SubprocessError):
            self.shim = None  # each grading builds its own
        # Lab 6: Wine's template prefix (created once, cached in build/), copied where every
        # grading can read it (the kit's own folder is hidden from them).
        if windows_labs() & set(self.labs):
            from harness import wine
            if not wine.missing():
                try:
                    source = wine.template()
                    self.wine_template = self.tmp / "wine-template"
                    shutil.copytree(source, self.wine_template, symlinks=True)
                except (OSError, RuntimeError, subprocess.SubprocessError) as exc:
                    self.wine_template = None
                    say(f"run_all: Wine does not start here ({exc}); lab 6 is not graded")

    def isolate(self, masks):
        """Choose the isolation, hide ``masks`` from the gradings; return what to tell."""
        self.isolation = isolation.Isolation(self.args.isolation)
        self.masks = [str(m) for m in sorted(masks, key=lambda p: -len(p.parts))
                      if len(m.parts) > 1 and m.exists()]
        return self.isolation.describe()

    def time_left(self):
        return None if self.deadline is None else self.deadline - time.monotonic()

    def grade_group(self, sub, labs, users):
        """Grade ``labs`` of ``sub`` as ``users`` (see :meth:`Isolation.reserve`), in one
        grading; store their results.

        One grade.py (one pytest session, one namespace) grades them all, one lab after
        the other: what a grading costs before its first check (Python and pytest, the
        namespace, the copies) is paid once, not once a lab.  Never raises for a
        student's bug; a lab that did not finish scores 0 and says why.
        """
        started = time.monotonic()
        sub.first = started if sub.first is None else min(sub.first, started)
        for n in labs:
            if n not in sub.folders:
                notes = sub.notes.get(n) or sub.problems or [f"lab {n}: nothing to grade"]
                sub.results[n] = missing_result(
                    n, f"looked for lab {n} in the submission", "; ".join(notes),
                    hint=f"submit a folder lab{n}/ holding {', '.join(LABS[n].sources)}")
        labs = [n for n in labs if n in sub.folders]
        if not labs:
            return
        if self.stopping:
            return
        left = self.time_left()
        if left is not None and left < 10:
            for n in labs:
                sub.results[n] = self.not_graded(n)
            return
        tag = "-".join(map(str, labs))
        top = self.tmp / f"w{sub.index}-lab{tag}"
        priv = self.private / f"{sub.index}-lab{tag}"
        priv.mkdir(mode=0o700)
        try:
            src = self.stage(sub, labs, top, users)
            self.run_grading(sub, labs, src, top / "build", priv / "results.json", users, left)
        finally:
            shutil.rmtree(top, ignore_errors=True)
            shutil.rmtree(priv, ignore_errors=True)
        sub.seconds = time.monotonic() - sub.first  # wall clock, first lab's start to now

    def stage(self, sub, labs, top, users):
        """Copy the labs to grade where the grading (and its users) can read them; return the
        sources' folder."""
        uid = users[0] if users else None
        src, build = top / "src", top / "build"
        top.mkdir(mode=0o750)
        for n in labs:
            shutil.copytree(sub.folders[n], src / f"lab{n}")
        for path in [src] + list(src.rglob("*")):
            path.chmod(0o755 if path.is_dir() else 0o644)
        for n in labs:
            (build / f"lab{n}").mkdir(parents=True)
        build.chmod(0o755)
        if self.shim is not None:
            (build / ".grader").mkdir(mode=0o755)
            shutil.copy2(self.shim, build / ".grader" / self.shim.name)
        if uid is not None:
            os.chown(top, 0, uid)
            for n in labs:
                os.chown(build / f"lab{n}", uid, uid)
        else:
            top.chmod(0o755)
        return src

    def run_grading(self, sub, labs, src, build, results, users, left):
        """Run grade.py on ``labs`` (isolated, within its time) and store their results."""
        grade = [self.python, str(self.kit / "grader" / "grade.py"), *map(str, labs),
                 "--impl", str(src), "--build-root", str(build), "--results-json", str(results),
                 "--quiet", "--", "-p", "no:cacheprovider"]
        if self.args.checks:
            grade += ["-k", self.args.checks]
        extra = {}
        if windows_labs() & set(labs) and self.wine_template is not None:
            extra["GRADER_WINE_TEMPLATE"] = str(self.wine_template)
        argv = self.isolation.wrap(grade, self.tmp, src, self.masks, self.python, self.kit)
        # grade.py stretches its own deadlines (each check's) by the slowness
        # it measures when it starts, up to timing.MOST: a limit stretched by the run's scale,
        # measured earlier, could come first (seen: two runs started together, the budget at
        # x2.1 and this limit at x1.03) and take from a grading the checks it had finished.
        # This limit is the net for a grader that hangs; it must never come before them.
        limit = LAB_TIMEOUT * len(labs) * timing.MOST
        by_deadline = left is not None and left - 5 < limit
        if by_deadline:
            limit = left - 5
        try:
            child = subprocess.Popen(argv, cwd=str(src), env=isolation.grading_env(users, extra),
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            for n in labs:
                sub.results[n] = missing_result(n, f"started the grader on lab {n}", str(exc),
                                                hint=MACHINE)
            return
        with self.children_lock:
            self.children.add(child)
            stopping = self.stopping
        if stopping:  # interrupted while this one was being staged
            self.end(child)
        timed_out = False
        try:
            output, _ = child.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            timed_out = True
            output = self.stop(child)
        finally:
            with self.children_lock:
                self.children.discard(child)
        for uid in users or ():
            sandbox.kill_user(uid)
        text = output.decode("utf-8", "replace")
        self.read_results(sub, labs, results, child.returncode, text, timed_out, by_deadline,
                          limit)

    def stop(self, child):
        """Stop a grading that ran out of time; return what it printed."""
        if self.isolation.mode == "none":
            child.terminate()  # the subreaper kills everything, then exits
            try:
                return child.communicate(timeout=15)[0]
            except subprocess.TimeoutExpired:
                pass
        child.kill()  # unshare dies, so does the namespace's init, so does everything in it
        return child.communicate()[0]

    def read_results(self, sub, labs, results, status, text, timed_out, by_deadline, limit):
        """Store the results of ``labs`` from a grading's results file.  A lab it did not
        finish scores 0, saying why."""
        done = {}
        if results.exists():  # the checks' plugin writes it whole after each lab
            try:
                done = {lab.lab: lab for lab in resultslib.read(results) if lab.complete}
            except (OSError, ValueError):
                done = {}
        for n in labs:
            data = done.get(n)
            if data is None:
                if timed_out and by_deadline:
                    data = self.not_graded(n, started=True)
                elif timed_out:
                    data = missing_result(
                        n, f"graded lab {n}",
                        f"the grading timed out after {limit:.0f} s and was stopped before lab {n} "
                        "was done; no check of it counts",
                        hint="programs that never end, or that stop the grader: see the checks "
                             f"that time out when you run `make lab{n}`")
                elif self.args.checks and status in (0, 1, 5):
                    data = resultslib.LabResult(n, LABS[n].title)  # no check of it matches --checks
                else:
                    tail = "\n".join(text.strip().splitlines()[-12:])
                    data = missing_result(
                        n, f"graded lab {n}",
                        f"the grader stopped (status {status}) without results:\n{tail}",
                        hint=MACHINE)
            data.source = f"lab{n}"
            sub.results[n] = data

    def not_graded(self, n, started=False):
        """Lab ``n``'s result when the run's time limit (--deadline) left no time for it."""
        return missing_result(
            n, f"{'graded' if started else 'was about to grade'} lab {n}",
            f"not graded: the run's time limit ({self.args.deadline:g} s) was reached"
            + (f" before lab {n} was done" if started else ""),
            hint="the platform's time limit is too short for all labs: grade fewer labs per run")
