"""Lab 7's ``accept_interrupted_by_sigchld_is_retried`` fails a server that takes EINTR
for a fatal error, however late its parent gets back to accept().

The reference parent keeps SIGCHLD blocked except while it sleeps in accept().  A child
that ends before the parent is back in accept() leaves its signal pending; the parent
handles it as it unblocks SIGCHLD, and accept() is never interrupted.  The check used to
close its first client as soon as the echo came: on a busy machine the child could end
first, and the mutant ``eintr_fatal`` passed (CI, beside other gradings).  Now the child
ends only once the parent sleeps in accept().

Here the parent is made late on purpose: it sleeps a second after each fork(), SIGCHLD
blocked.  The mutant must still fail with its hint, and the reference still pass.
"""
import shutil

import pytest

from conftest import ROOT, grade
from harness.mutants import all_mutants

LATE = {"old": "    remember_child(pid);\n",
        "new": "    remember_child(pid);\n    sleep(1); /* test: a parent slow to get back to accept() */\n"}


def late_parent(tmp_path, mutant):
    """Lab 7's reference (or ``mutant`` of it) whose parent is late back to accept()."""
    impl = tmp_path / "impl"
    if mutant is not None:
        source = mutant.apply(impl)
    else:
        source = impl / "lab7"
        shutil.copytree(ROOT / "solutions" / "lab7", source)
    path = source / "fork_echo_server.c"
    text = path.read_text()
    assert text.count(LATE["old"]) == 1
    path.write_text(text.replace(LATE["old"], LATE["new"]))
    return impl


@pytest.mark.parametrize("who", ["eintr_fatal", "reference"])
def test_a_late_parent_is_still_interrupted_in_accept(tmp_path, who):
    mutant = next((m for m in all_mutants(7) if m.name == who), None)
    impl = late_parent(tmp_path, mutant)
    graded = grade(7, impl, tmp_path, build_root=tmp_path / "build", only="sigchld")
    check = graded.checks["accept_interrupted_by_sigchld_is_retried"]
    if mutant is None:
        assert check.passed, graded.stdout
    else:
        assert not check.passed, graded.stdout
        assert mutant.hint in graded.stdout, graded.stdout
