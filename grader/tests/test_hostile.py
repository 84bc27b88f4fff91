"""Hostile submissions: what run_all's isolation is for.

Each grader/tests/hostile/NAME.c is appended to the reference lab 3 (a constructor that
misbehaves before main()).  A class of the solution, the skeleton, three mutants and
every hostile one is graded twice with --jobs 2 on three lab 3 checks (server and
client, so that the run stays quick), and the non-hostile ones once without them.  One
more hands in the reference lab 3 and a lab 5 whose client kills every process it may:
its lab 5 clients start with the grading, while lab 3 is graded, and must not reach
lab 3's programs.

- the gradebook is the same in both runs, and the others' grades are those they get alone;
- the ones that misbehave before serving (fork bomb, spin, flood, allocation) score 0 on
  the checks they fail, with the checks' own readable reasons; the ones that behave after
  their mischief (daemon, port hog, escape, reading the solutions, killing their parent)
  score what the solution scores: their mischief did not work;
- no connection reaches the port this test opens on the machine's own loopback;
- every run ends in bounded time, with nothing of any submission left running.
"""
import csv
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

from harness.mutants import all_mutants

from conftest import GRADER, ROOT

HOSTILE = GRADER / "tests" / "hostile"
CHECKS = "greets_a_client or connection_line or client_reads_until_end_of_file"
#: Lab 5's checks whose clients start with the grading (grader/checks/test_lab5.py EARLY).
EARLY_CHECKS = "client_retries or client_gives_up or client_valgrind_clean"
FULL = 25.0  # the points of those three checks
MISBEHAVE_FIRST = ["allocate", "flood", "fork_bomb", "spin"]
BEHAVE_AFTER = ["daemon", "escape", "kill_parent", "port_hog", "read_solutions"]
MUTANTS = ["peer_port_no_ntohs", "sends_whole_buffer", "single_read"]
pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"),
                                reason="the hostile submissions are run only where run_all can "
                                       "isolate them in namespaces as root")


class Listener:
    """A TCP server on the grading machine's own loopback that counts connections."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def build_roster(root, port, hostile=True):
    lab3 = ROOT / "solutions" / "lab3"
    shutil.copytree(lab3, root / "solution" / "lab3")
    shutil.copytree(ROOT / "labs" / "lab3", root / "skeleton" / "lab3",
                    ignore=shutil.ignore_patterns("*.md"))
    mutants = {m.name: m for m in all_mutants(3)}
    for name in MUTANTS:
        mutants[name].apply(root / f"mutant_{name}")
    if not hostile:
        return root
    for source in sorted(HOSTILE.glob("*.c")):
        snippet = (source.read_text().replace("@HOST_PORT@", str(port))
                   .replace("@ROOT@", str(ROOT)))
        folder = root / f"hostile_{source.stem}" / "lab3"
        folder.mkdir(parents=True)
        for program in ("hello_server.c", "hello_client.c"):
            (folder / program).write_text((lab3 / program).read_text() + "\n" + snippet)
    early = root / "hostile_early_kill_all"
    shutil.copytree(lab3, early / "lab3")
    shutil.copytree(ROOT / "solutions" / "lab5", early / "lab5")
    client = early / "lab5" / "udp_upper_client.c"
    client.write_text(client.read_text() + KILL_ALL_FOR_A_WHILE)
    return root


#: Appended to lab 5's client: for 3 s from its start, a child of it kills every process it
#: may, a hundred times a second (lab 3's programs too, were they of the same user).
KILL_ALL_FOR_A_WHILE = r"""
#include <signal.h>
#include <time.h>
#include <unistd.h>

__attribute__((constructor)) static void hostile(void)
{
    if (fork() == 0) {
        struct timespec pause = {0, 10 * 1000 * 1000};
        for (int i = 0; i < 300; i++) {
            (void)kill(-1, SIGKILL);
            (void)nanosleep(&pause, NULL);
        }
        _exit(0);
    }
}
"""


def leftovers(marker):
    """Processes of the sandbox's users, or running a program from a run's copy."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                uid = next(int(line.split()[1]) for line in f if line.startswith("Uid:"))
            exe = os.readlink(f"/proc/{pid}/exe") if uid != 0 else ""
        except (OSError, StopIteration):
            continue
        if 62000 <= uid < 63000 or marker in exe:
            found.append((pid, uid, exe))
    return found


def grade(roster, out):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, str(GRADER / "run_all"), "--roster", str(roster),
                           "--labs", "3,5", "--jobs", "2", "--checks", f"{CHECKS} or {EARLY_CHECKS}",
                           "--out", str(out)],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=600)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if "isolation: network, pid and mount namespaces" not in proc.stderr:
        pytest.skip("namespaces are not available on this machine: " + proc.stderr)
    book = (out / "gradebook.csv").read_text()
    return ({r["student"]: float(r["lab3"]) for r in csv.DictReader(io.StringIO(book))}, book,
            seconds, out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    listener = Listener()
    try:
        roster = build_roster(tmp_path_factory.mktemp("hostile"), listener.port)
        alone = build_roster(tmp_path_factory.mktemp("alone"), listener.port, hostile=False)
        first = grade(roster, tmp_path_factory.mktemp("out1"))
        left1 = leftovers("sockets-lab-run-")
        second = grade(roster, tmp_path_factory.mktemp("out2"))
        left2 = leftovers("sockets-lab-run-")
        single = grade(alone, tmp_path_factory.mktemp("alone_out"))
    finally:
        listener.close()
    return {"first": first, "second": second, "alone": single, "left": left1 + left2,
            "accepted": listener.accepted}


def test_gradebook_is_identical_across_runs(runs):
    assert runs["first"][1] == runs["second"][1]


def test_hostile_ones_do_not_change_anyone_elses_grade(runs):
    scores, alone = runs["first"][0], runs["alone"][0]
    for name, score in alone.items():
        assert scores[name] == score, name
    assert alone["solution"] == FULL
    assert alone["skeleton"] < FULL
    for name in MUTANTS:
        assert alone[f"mutant_{name}"] < FULL, name


@pytest.mark.parametrize("name", MISBEHAVE_FIRST)
def test_misbehaving_programs_score_zero(runs, name):
    assert runs["first"][0][f"hostile_{name}"] == 0


@pytest.mark.parametrize("name", BEHAVE_AFTER)
def test_mischief_does_not_work(runs, name):
    """Daemons are killed, ports are private, the solutions unreadable, the parent unkillable."""
    assert runs["first"][0][f"hostile_{name}"] == FULL


def test_early_runs_cannot_reach_the_programs_of_other_labs(runs):
    """Lab 5's early clients kill every process they may: lab 3, graded meanwhile, is untouched."""
    assert runs["first"][0]["hostile_early_kill_all"] == FULL


def test_no_student_program_reaches_the_machines_loopback(runs):
    assert runs["accepted"] == 0


def test_nothing_is_left_running_and_runs_are_bounded(runs):
    assert runs["left"] == []
    for key in ("first", "second"):
        assert runs[key][2] < 240, f"the {key} run took {runs[key][2]:.0f} s"


@pytest.mark.parametrize("name", MISBEHAVE_FIRST + BEHAVE_AFTER)
def test_reasons_are_readable(runs, name):
    report = (runs["first"][3] / f"hostile_{name}" / "report.txt").read_text()
    assert "internal error" not in report and "Traceback" not in report
    assert "lab 3: " in report
    if name in MISBEHAVE_FIRST:
        assert re.search(r"^FAIL .*\bgreets_a_client\b", report, re.M)  # alone or in a group
        assert "expected:" in report and "got:" in report


def test_read_solutions_hostile_can_read_them_outside_the_sandbox(tmp_path):
    """The control: unsandboxed, the same program does read the solutions (exit 42)."""
    source = tmp_path / "hostile.c"
    source.write_text((HOSTILE / "read_solutions.c").read_text().replace("@ROOT@", str(ROOT))
                      + "\nint main(void) { return 0; }\n")
    subprocess.run(["cc", "-o", str(tmp_path / "hostile"), str(source)], check=True)
    assert subprocess.run([str(tmp_path / "hostile")], cwd=tmp_path,
                          stderr=subprocess.DEVNULL).returncode == 42
