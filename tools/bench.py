#!/usr/bin/env python3
"""How fast grader/run_all grades: the figures docs/grading.md quotes.   (make bench)

    tools/bench.py                      a class of 20 copies of the reference, --jobs 2
    tools/bench.py --copies 8 --jobs 4  another class size or job count
    tools/bench.py --box                one copy as on Gradescope's default box: one core
                                        (taskset), 768 MB of memory (a memory cgroup)
    tools/bench.py --box --half-cpu     the same with half a core (a CPU quota) and the
                                        deadlines stretched as run_autograder stretches them

Every run grades every lab (Valgrind and Wine included) and checks that each copy got
full marks: a fast run that graded wrongly is no result.  It prints one line a run:
seconds in all, seconds per submission, the CPU time used, and for --box the most memory
the grading held at once.  Needs root for --box (a cgroup; v1 or v2).
"""
import argparse
import csv
import io
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
RUN_ALL = ROOT / "grader" / "run_all"
BOX_MEMORY = 768 << 20


class Cgroup:
    """A cgroup of this machine's (v2, or v1's memory and cpu controllers) for one run."""

    def __init__(self, name, memory=None, cpu_share=None):
        self.dirs = []
        v2 = pathlib.Path("/sys/fs/cgroup/cgroup.controllers").exists()
        if v2:
            self.v2 = pathlib.Path("/sys/fs/cgroup") / name
            self.v2.mkdir(exist_ok=True)
            self.dirs = [self.v2]
            if memory:
                (self.v2 / "memory.max").write_text(str(memory))
                (self.v2 / "memory.swap.max").write_text("0")
            if cpu_share:
                (self.v2 / "cpu.max").write_text(f"{int(cpu_share * 100000)} 100000")
        else:
            self.v2 = None
            self.memory = pathlib.Path("/sys/fs/cgroup/memory") / name
            self.memory.mkdir(exist_ok=True)
            self.dirs = [self.memory]
            if memory:
                (self.memory / "memory.limit_in_bytes").write_text(str(memory))
            if cpu_share:
                self.cpu = pathlib.Path("/sys/fs/cgroup/cpu") / name
                self.cpu.mkdir(exist_ok=True)
                self.dirs.append(self.cpu)
                (self.cpu / "cpu.cfs_period_us").write_text("100000")
                (self.cpu / "cpu.cfs_quota_us").write_text(str(int(cpu_share * 100000)))

    def enter(self):
        """For preexec_fn: put the new process (and so all it starts) in the cgroup."""
        for folder in self.dirs:
            (folder / "cgroup.procs").write_text(str(os.getpid()))

    def peak(self):
        """The most memory the group held at once, in bytes (None when not told)."""
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        try:
            return int((self.dirs[0] / name).read_text())
        except (OSError, ValueError):
            return None

    def remove(self):
        for folder in self.dirs:
            try:
                folder.rmdir()
            except OSError:
                pass


def roster(folder, copies):
    """``copies`` students, each handing in the reference solutions of every lab."""
    for i in range(1, copies + 1):
        student = folder / f"s{i:02d}"
        for lab in sorted((ROOT / "solutions").glob("lab*")):
            shutil.copytree(lab, student / lab.name)
    return folder


def grade(folder, jobs, out, cgroup=None, cpus=None, env=None):
    """Run run_all on the roster; return (seconds, CPU seconds, gradebook rows, stdout)."""
    argv = [str(RUN_ALL), "--roster", str(folder), "--jobs", str(jobs),
            "--out", str(out), "--progress", "no"]
    if cpus:
        argv = ["taskset", "-c", cpus] + argv
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          preexec_fn=cgroup.enter if cgroup else None,
                          env=dict(os.environ, **(env or {})))
    seconds = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.exit(f"bench: run_all failed (status {proc.returncode}):\n{proc.stdout}")
    rows = list(csv.DictReader(io.StringIO((out / "gradebook.csv").read_text())))
    return seconds, cpu, rows, proc.stdout


def full_marks(rows, labs, out):
    """Exit, saying which checks failed, unless every copy of the solutions got full marks
    (the same code graded differently is a bug of the grader, and worth more than the time)."""
    wrong = [r["student"] for r in rows if float(r["total"]) != 100 * labs]
    if wrong:
        failed = []
        for student in wrong:  # run_all's results.json (Gradescope's format): each check's status
            path = out / student / "results.json"
            tests = json.loads(path.read_text())["tests"] if path.exists() else []
            for test in tests:
                if test["status"] != "passed":
                    got = (test["output"].strip().splitlines() or [""])[0]
                    failed.append(f"  {student}: {test['name']}: {got}")
        sys.exit(f"bench: not full marks for {', '.join(wrong)}: the timing is not a result\n"
                 + "\n".join(failed[:20]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--copies", type=int, default=20, help="students in the class (default 20)")
    parser.add_argument("--jobs", type=int, default=2, help="run_all --jobs (default 2)")
    parser.add_argument("--box", action="store_true", help="one copy on one core with 768 MB")
    parser.add_argument("--half-cpu", action="store_true", help="with --box: half a core")
    args = parser.parse_args()
    labs = len(list((ROOT / "grader" / "checks").glob("test_lab*.py")))
    with tempfile.TemporaryDirectory(prefix="sockets-lab-bench-") as tmp:
        tmp = pathlib.Path(tmp)
        if not args.box:
            seconds, cpu, rows, _ = grade(roster(tmp / "roster", args.copies), args.jobs, tmp / "out")
            full_marks(rows, labs, tmp / "out")
            print(f"bench: {len(rows)} submissions x {labs} labs, --jobs {args.jobs}: "
                  f"{seconds:.1f} s, {seconds / len(rows):.1f} s per submission "
                  f"(CPU {cpu / len(rows):.1f} s per submission), all full marks")
            return
        if os.geteuid() != 0:
            sys.exit("bench: --box needs root (a cgroup limits the memory)")
        group = Cgroup(f"sockets-lab-bench-{os.getpid()}", memory=BOX_MEMORY,
                       cpu_share=0.5 if args.half_cpu else None)
        try:
            env = {"GRADER_TIME_SCALE": "2"} if args.half_cpu else {}
            seconds, cpu, rows, _ = grade(roster(tmp / "roster", 1), 1, tmp / "out", cgroup=group,
                                          cpus="0", env=env)
            peak = group.peak()
        finally:
            group.remove()
        full_marks(rows, labs, tmp / "out")
        print(f"bench: 1 submission x {labs} labs on {'half a core' if args.half_cpu else 'one core'}"
              f" with {BOX_MEMORY >> 20} MB: {seconds:.1f} s (CPU {cpu:.1f} s)"
              + (f", at most {peak / (1 << 20):.0f} MB held" if peak else "") + ", full marks")


if __name__ == "__main__":
    main()
