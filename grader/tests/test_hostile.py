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

Lab 7's programs fork on purpose, one child per client, so lab 7 runs with a higher process
limit (its registry entry's ``limits``).  A class of the lab 7 solution and of a lab 7 fork
bomb (the solution with hostile/fork_bomb.c appended), each with the reference lab 3, is
graded with --jobs 2 on four lab 7 checks that hold many processes at once (100 clients
among them) and the lab 3 checks above, and the solution alone once more:

- the solution scores full marks on them beside the bomb as alone: its 101 processes fit
  its limit, and the bomb does not take its room or its time;
- the bomb scores 0 on lab 7 and full marks on its own lab 3: it is contained in its lab's
  grading, and ends with it.
"""
import csv
import io
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from harness.mutants import all_mutants
from runall import isolation

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
    """Processes of a sandbox user that no run holds now, or running a program from our
    runs' copies (``marker``): other runs at once on this machine keep their own."""
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
        if isolation.in_range(uid) and not isolation.reserved(uid) \
                or not isolation.in_range(uid) and marker in exe:
            found.append((pid, uid, exe))
    return found


def run_class(roster, out, labs, checks):
    """Grade ``roster``'s ``labs`` (``"3,5"``) on ``checks`` with run_all --jobs 2; return the
    gradebook's text and the run's seconds."""
    started = time.monotonic()
    proc = subprocess.run([str(GRADER / "run_all"), "--roster", str(roster),
                           "--labs", labs, "--jobs", "2", "--checks", checks, "--out", str(out)],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=600)
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if "isolation: network, pid and mount namespaces" not in proc.stderr:
        pytest.skip("namespaces are not available on this machine: " + proc.stderr)
    return (out / "gradebook.csv").read_text(), seconds


def grade(roster, out):
    book, seconds = run_class(roster, out, "3,5", f"{CHECKS} or {EARLY_CHECKS}")
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


#: Lab 7's checks that hold the most processes (the 100 clients at once among them).
LAB7_CHECKS = ("stalled_clients_do_not_delay_another or 100_clients_at_once or "
               "no_zombie_after_clients_leave or stop_signal_ends_every_process")
LAB7_FULL = 32.0  # their points


def build_lab7_roster(root, bomb=True):
    """The lab 7 solution and, with ``bomb``, a lab 7 fork bomb; each with the lab 3 solution."""
    members = {"solution7": ""}
    if bomb:
        members["fork_bomb7"] = "\n" + (HOSTILE / "fork_bomb.c").read_text()
    for name, snippet in members.items():
        shutil.copytree(ROOT / "solutions" / "lab3", root / name / "lab3")
        shutil.copytree(ROOT / "solutions" / "lab7", root / name / "lab7")
        server = root / name / "lab7" / "fork_echo_server.c"
        server.write_text(server.read_text() + snippet)
    return root


def grade_lab7(roster, out):
    book, seconds = run_class(roster, out, "3,7", f"{CHECKS} or {LAB7_CHECKS}")
    rows = {r["student"]: (float(r["lab3"]), float(r["lab7"])) for r in csv.DictReader(io.StringIO(book))}
    return rows, seconds, out


@pytest.fixture(scope="module")
def lab7_runs(tmp_path_factory):
    beside = grade_lab7(build_lab7_roster(tmp_path_factory.mktemp("lab7")),
                        tmp_path_factory.mktemp("lab7_out"))
    left = leftovers("sockets-lab-run-")
    alone = grade_lab7(build_lab7_roster(tmp_path_factory.mktemp("lab7_alone"), bomb=False),
                       tmp_path_factory.mktemp("lab7_alone_out"))
    return {"beside": beside, "alone": alone, "left": left}


def test_lab7_forks_within_its_limits_beside_a_fork_bomb(lab7_runs):
    """The lab 7 solution (101 processes at once) scores the same beside a fork bomb as alone."""
    assert lab7_runs["alone"][0]["solution7"] == (FULL, LAB7_FULL)
    assert lab7_runs["beside"][0]["solution7"] == (FULL, LAB7_FULL)


def test_lab7_fork_bomb_is_contained(lab7_runs):
    """The bomb fails its own lab 7 only, readably, and nothing of it outlives the run."""
    assert lab7_runs["beside"][0]["fork_bomb7"] == (FULL, 0.0)
    assert lab7_runs["left"] == []
    assert lab7_runs["beside"][1] < 240, f"the run took {lab7_runs['beside'][1]:.0f} s"
    report = (lab7_runs["beside"][2] / "fork_bomb7" / "report.txt").read_text()
    assert "internal error" not in report and "Traceback" not in report
    assert "lab 7: " in report and "expected:" in report


def test_read_solutions_hostile_can_read_them_outside_the_sandbox(tmp_path):
    """The control: unsandboxed, the same program does read the solutions (exit 42)."""
    source = tmp_path / "hostile.c"
    source.write_text((HOSTILE / "read_solutions.c").read_text().replace("@ROOT@", str(ROOT))
                      + "\nint main(void) { return 0; }\n")
    subprocess.run(["cc", "-o", str(tmp_path / "hostile"), str(source)], check=True)
    assert subprocess.run([str(tmp_path / "hostile")], cwd=tmp_path,
                          stderr=subprocess.DEVNULL).returncode == 42
