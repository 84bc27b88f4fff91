"""Bounded and clean: programs that hang forever cost time-limited failures, nothing more.

A lab 3 "submission" whose server binds and listens but never prints nor accepts, and
whose client never ends, both ignoring SIGINT and SIGTERM: every check must fail within
its 10 s deadline, the whole lab within 60 s (both stretched by the time scale), and afterwards no process of the run may
be left (so no port stays bound).
"""
import os
import time

from conftest import grade
from harness import proctree

HANG = r"""
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(argc > 1 ? (unsigned short)atoi(argv[1]) : 0);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0)
        listen(fd, 5);
    for (;;)
        pause();
}
"""


def processes_running(path):
    """PIDs of processes whose command line mentions ``path``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if path.encode() in proctree.cmdline(pid):
            found.append(int(pid))
    return found


def test_hanging_programs_fail_in_bounded_time_and_leave_nothing(tmp_path):
    lab = tmp_path / "impl" / "lab3"
    lab.mkdir(parents=True)
    for name in ("hello_server", "hello_client"):
        (lab / f"{name}.c").write_text(HANG)
    started = time.monotonic()
    graded = grade(3, tmp_path / "impl", tmp_path, build_root=tmp_path / "build")
    elapsed = time.monotonic() - started
    assert graded.returncode == 1
    # Deadlines stretch by the machine's measured slowness (the run's time scale).
    scale = graded.labs[0].time_scale + 0.05
    assert elapsed < 60 * scale, f"lab 3 took {elapsed:.0f} s with hanging programs (x{scale:g})"
    checks = graded.checks.values()
    # Building without warnings is the only thing such a program can pass... or not: it has some.
    assert all(c.status == "failed" for c in checks if c.name != "builds_without_warnings")
    # Each check's deadline is 10 s times the machine's measured slowness (the run's time scale,
    # rounded to a tenth); killing what is left of the check may take a moment more.
    limit = 10 * scale + 1.0
    assert all(c.duration < limit for c in checks), [(c.name, round(c.duration, 1)) for c in checks]
    assert "Traceback" not in graded.stdout
    assert processes_running(str(tmp_path / "build")) == []
