#!/usr/bin/env python3
"""Each platform package proven in a bare Debian 12 root laid out as the platform lays it out
(make platform-check; root only; about 10 minutes the first time, most of it apt-get).

    tools/platform_check.py                 prepare the root (if needed), then grade
    tools/platform_check.py --prepare       only make the root and run each platform's setup step
    tools/platform_check.py --grade         only grade: the kit laid out again in the root
                                            prepared before, its setup steps not run again
    tools/platform_check.py --base FILE.tar start from this minimal root (else debootstrap one)

The root (build/platform-root/) starts as `debootstrap --variant=minbase bookworm`: no
compiler, no Python.  Then, as each platform would:

- Gradescope: the zip unpacked in /autograder/source, run_autograder copied to
  /autograder/run_autograder, `setup.sh` run from /autograder/source (the image build, with
  network); then for each submission /autograder/submission filled and
  `cd /autograder && ./run_autograder` run as root, on half a CPU with 768 MB (a cgroup), as
  Gradescope's default container;
- PrairieLearn: the grading image's Dockerfile (grader/prairielearn/Dockerfile) replayed in
  the root (COPY, ENV, RUN); /grade/serverFilesCourse copied without modes, the student's files
  flat in /grade/student, the question's entrypoint made executable and run as root;
- INGInious: the task folder copied to /task, owned by the unprivileged `worker` (uid 4242),
  `run` started there as that user with task.yaml's limits (CPU seconds, memory), INGInious's
  container commands (getinput, feedback-*) stood in for by small scripts.

Every grading runs with loopback only (a new network namespace, lo up, as Docker's
`--network none`), in a pid and mount namespace of its own, without CAP_SYS_ADMIN (Docker
drops it), each in a memory cgroup that gives its peak (its own memory, sampled, and with the
page cache) and fails the check if the kernel kills anything for want of memory.  What cannot be emulated here
(Docker itself, Gradescope's Ubuntu image, INGInious's Rocky Linux image and seccomp
profile) is listed in docs/grading.md.

Submissions: the reference solutions (full marks expected) and the untouched skeletons
(results written, less than full marks, every failed check explained), every lab the kit
grades.  Prints one line per grading (seconds, CPU seconds, peak memory) and exits 1 on the
first result that is not as expected.  The root's gradings reserve their sandbox users
(62000+) in this machine's own lock folder, bound into the root, so other gradings on the
machine may run beside it; its timings are only meaningful on a quiet machine.
"""
import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from bench import Cgroup  # noqa: E402  (the same memory cgroup as make bench's box)
from platform_root import (PREPARED, ROOT, dist, inside, lay_gradescope, path,  # noqa: E402
                           prepare, say)  # (the root, the layouts, the setup steps)

WORKER = 4242  # INGInious's unprivileged user
#: Gradescope's default container: half a CPU, 768 MB (its 10 minutes are run_autograder's timeout).
GRADESCOPE_BOX = {"memory": 768 << 20, "cpu_share": 0.5}


# -- grading ----------------------------------------------------------------------------
def submissions():
    """(name, {lab: folder of its .c files}) of the reference and the untouched skeletons."""
    labs = json.loads(subprocess.run([str(ROOT / "grader" / "run_all"), "--list-labs"],
                                     stdout=subprocess.PIPE, check=True).stdout)
    numbers = [lab["lab"] for lab in labs]
    return labs, [("reference", {n: ROOT / "solutions" / f"lab{n}" for n in numbers}),
                  ("skeleton", {n: ROOT / "labs" / f"lab{n}" for n in numbers})]


class MemoryWatch(threading.Thread):
    """The most anonymous memory (processes' own, and tmpfs) a cgroup held, sampled every
    0.05 s: the cgroup's own peak counts the page cache too, which the kernel gives back
    under the limit; and whether the kernel killed anything for want of memory."""

    def __init__(self, group):
        super().__init__(daemon=True)
        self.stat = group.dirs[0] / "memory.stat"
        self.events = group.dirs[0] / ("memory.events" if group.v2 else "memory.oom_control")
        self.keys = ("anon", "shmem") if group.v2 else ("total_rss", "total_shmem")
        self.peak = 0
        self.done = threading.Event()

    def sample(self):
        try:
            values = dict(line.split() for line in self.stat.read_text().splitlines())
            self.peak = max(self.peak, sum(int(values.get(k, 0)) for k in self.keys))
        except (OSError, ValueError):
            pass

    def run(self):
        while not self.done.wait(0.05):
            self.sample()

    def stop(self):
        self.done.set()
        self.join()
        try:
            events = dict(line.split() for line in self.events.read_text().splitlines())
            return int(events.get("oom_kill", 0))
        except (OSError, ValueError):
            return 0


def measured(name, cgroup_name, run, **box):
    group = Cgroup(cgroup_name, **box)
    watch = MemoryWatch(group)
    watch.start()
    try:
        status, output, seconds, cpu = run(group)
        peak = group.peak()
    finally:
        oom = watch.stop()
        group.remove()
    expect(oom == 0, f"{name}: the kernel killed {oom} process(es) for want of memory", output)
    isolation = next((" ".join(line.split(":", 1)[1].split()[:2]).rstrip(",") for line in
                      output.splitlines() if line.startswith("isolation:")), "?")
    say(f"platform-check: {name}: {seconds:.1f} s, {cpu:.1f} s of CPU, at most "
        f"{watch.peak / 2**20:.0f} MiB of its own memory"
        + (f" ({peak / 2**20:.0f} MiB with the page cache)" if peak else "") + f"; isolation: {isolation}")
    return status, output, {"seconds": round(seconds, 1), "cpu_seconds": round(cpu, 1),
                            "peak_anon_mib": round(watch.peak / 2**20),
                            "peak_with_cache_mib": round(peak / 2**20) if peak else None}


def expect(condition, what, output=""):
    if not condition:
        say(f"platform-check: FAILED: {what}")
        if output:
            say(output[-6000:])
        sys.exit(1)


def grade_gradescope(labs, subs):
    figures = {}
    for name, folders in subs:
        sub = path("/autograder/submission")
        shutil.rmtree(sub, ignore_errors=True)
        shutil.rmtree(path("/autograder/results"), ignore_errors=True)
        for n, folder in folders.items():
            shutil.copytree(folder, sub / f"lab{n}")
        status, output, figures[name] = measured(
            f"gradescope {name}, labs {','.join(map(str, folders))}", "sockets-lab-platform-gs",
            lambda group: inside("./run_autograder", cwd="/autograder", cgroup=group, timeout=600),
            **GRADESCOPE_BOX)
        expect(status == 0, f"gradescope {name}: run_autograder exited {status}", output)
        results = json.loads(path("/autograder/results/results.json").read_text())
        check_gradescope(name, results, labs, output)
    return figures


def check_gradescope(name, results, labs, output):
    """Gradescope's results.json, field by field."""
    tests = results["tests"]
    expect(isinstance(results["execution_time"], int) and isinstance(results["output"], str)
           and results["visibility"] == "visible" and results["stdout_visibility"] == "hidden",
           f"gradescope {name}: the top-level fields", json.dumps(results)[:2000])
    for test in tests:
        expect(set(test) >= {"name", "number", "score", "max_score", "status", "output", "visibility", "tags"}
               and test["status"] in ("passed", "failed") and 0 <= test["score"] <= test["max_score"]
               and test["visibility"] in ("visible", "after_due_date"),
               f"gradescope {name}: the fields of test {test.get('name')}", json.dumps(test))
    expect(results["score"] == sum(t["score"] for t in tests), f"gradescope {name}: score is the sum")
    for lab in labs:
        mine = [t for t in tests if t["tags"][0] == f"lab{lab['lab']}"]
        expect(sum(t["max_score"] for t in mine) == 100, f"gradescope {name}: lab {lab['lab']} has 100 points")
    if name == "reference":
        expect(results["score"] == 100 * len(labs) and all(t["status"] == "passed" for t in tests),
               "gradescope reference: full marks", output + results["output"])
    else:
        expect(results["score"] < 100 * len(labs), "gradescope skeleton: less than full marks")
        expect(all(t["output"] for t in tests if t["status"] == "failed"),
               "gradescope skeleton: every failed check says why")


def grade_prairielearn(labs, subs, env):
    figures = {}
    for name, folders in subs:
        for lab in labs:
            n = lab["lab"]
            question = ROOT / "dist" / "prairielearn" / "questions" / "sockets-lab" / f"lab{n}"
            options = json.loads((question / "info.json").read_text())["externalGradingOptions"]
            grade = path("/grade")
            shutil.rmtree(grade, ignore_errors=True)
            shutil.copytree(ROOT / "dist" / "prairielearn" / "serverFilesCourse", grade / "serverFilesCourse",
                            copy_function=shutil.copyfile)  # the job's files carry no modes
            (grade / "student").mkdir()
            for source in sorted(folders[n].glob("*.c")):
                shutil.copy(source, grade / "student")
            (grade / "data").mkdir()
            (grade / "data" / "data.json").write_text(json.dumps({"params": {}, "submitted_answers": {}}))
            entry = options["entrypoint"]
            command = f"chmod +x {entry.split()[0]} && {entry}"
            status, output, figures[f"{name} lab{n}"] = measured(
                f"prairielearn {name}, lab {n}", "sockets-lab-platform-pl",
                lambda group: inside(command, cwd="/grade", env=env, cgroup=group, timeout=options["timeout"]))
            expect(status == 0, f"prairielearn {name} lab {n}: the entrypoint exited {status}", output)
            out = path("/grade/results/results.json")
            expect(out.stat().st_size < 1 << 20, f"prairielearn {name} lab {n}: results.json under 1 MB")
            check_prairielearn(f"{name} lab {n}", name, json.loads(out.read_text()), output)
    return figures


def check_prairielearn(what, name, results, output):
    expect(results.get("gradable") is True, f"prairielearn {what}: gradable", json.dumps(results)[:3000] + output)
    expect(0 <= results["score"] <= 1 and isinstance(results["message"], str)
           and isinstance(results["output"], str), f"prairielearn {what}: score, message, output")
    for test in results["tests"]:
        expect(set(test) >= {"name", "points", "max_points", "message", "output"}
               and 0 <= test["points"] <= test["max_points"], f"prairielearn {what}: test fields", json.dumps(test))
    expect(sum(t["max_points"] for t in results["tests"]) == 100, f"prairielearn {what}: 100 points")
    if name == "reference":
        expect(results["score"] == 1.0, f"prairielearn {what}: full marks", json.dumps(results)[:3000])
    else:
        expect(results["score"] < 1.0 and all(t["output"] for t in results["tests"]
                                              if t["points"] < t["max_points"]),
               f"prairielearn {what}: less than full marks, every failure explained")


def task_limits(task):
    """(CPU seconds, hard seconds, memory MB) from task.yaml's limits (the kit writes it flat)."""
    values = {}
    for line in (task / "task.yaml").read_text().splitlines():
        key, _, value = line.strip().partition(":")
        if key in ("time", "hard_time", "memory"):
            values[key] = int(value)
    return values["time"], values["hard_time"], values["memory"]


def grade_inginious(labs, subs, env):
    figures = {}
    for name, folders in subs:
        for lab in labs:
            n = lab["lab"]
            source = ROOT / "dist" / "inginious" / "tasks" / f"sockets-lab-lab{n}"
            cpu, hard, memory = task_limits(source)
            for folder in ("/task", "/input", "/feedback"):
                shutil.rmtree(path(folder), ignore_errors=True)
            shutil.copytree(source, path("/task"), symlinks=True)
            shutil.copytree(folders[n], path("/input"))
            path("/feedback").mkdir()
            for top in ("/task", "/feedback"):
                subprocess.run(["chown", "-R", f"{WORKER}:{WORKER}", str(path(top))], check=True)

            def run(group):
                (group.dirs[0] / ("memory.max" if group.v2 else "memory.limit_in_bytes")).write_text(
                    str(memory << 20))
                return inside("./run", cwd="/task", user=WORKER, env=env, cgroup=group, timeout=hard,
                              limits=["prlimit", f"--cpu={cpu}"])
            status, output, figures[f"{name} lab{n}"] = measured(
                f"inginious {name}, lab {n}", "sockets-lab-platform-ingi", run)
            expect(status == 0, f"inginious {name} lab {n}: run exited {status}", output)
            said = dict(line.split(" ", 1) for line in path("/feedback/said").read_text().splitlines())
            message = path("/feedback/msg").read_text()
            expect(message.startswith("::") and f"lab {n}:" in message, f"inginious {name} lab {n}: the checklist",
                   message + output)
            if name == "reference":
                expect(said == {"result": "success", "grade": "100"}, f"inginious {name} lab {n}: success, 100",
                       str(said) + message + output)
            else:
                expect(said["result"] in ("failed", "timeout") and float(said["grade"]) < 100,
                       f"inginious {name} lab {n}: failed, under 100", str(said) + message)
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepare", action="store_true", help="only make the root and run the setup steps")
    parser.add_argument("--grade", action="store_true", help="only grade (in the root prepared before)")
    parser.add_argument("--base", help="a tar of a minimal Debian 12 root to start from")
    parser.add_argument("--platforms", default="gradescope,prairielearn,inginious")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("platform-check: needs root (chroot, namespaces, a cgroup)")
    figures = json.loads(PREPARED.read_text()) if args.grade and PREPARED.exists() else None
    if figures is None:
        figures = prepare(args.base)
    if args.prepare:
        return 0
    labs, subs = submissions()
    wanted = args.platforms.split(",")
    if args.grade:  # the kit as it is now, in the root set up before (its setup steps kept)
        lay_gradescope()
        dist("prairielearn")
        dist("inginious")
    env = figures.get("image_env", {})
    if "gradescope" in wanted:
        figures["gradescope"] = grade_gradescope(labs, subs)
    if "prairielearn" in wanted:
        figures["prairielearn"] = grade_prairielearn(labs, subs, env)
    if "inginious" in wanted:
        figures["inginious"] = grade_inginious(labs, subs, env)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(figures, indent=1) + "\n")
    say("platform-check: every platform gave the reference full marks and the skeletons a "
        "readable partial grade")
    return 0


if __name__ == "__main__":
    sys.exit(main())
