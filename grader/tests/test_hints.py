"""Each mutant gets its own hint, and no other mutant's: hints follow the evidence.

Every mutant (grader/mutants) is graded on its whole lab, as a student would be (once per
session, and read by grader/tests/test_labs.py too: ``graded_mutant`` in
grader/tests/conftest.py), and its checklist is read:

- each check the mutant names fails with the mutant's hint text (test_labs.py's assertion,
  here the ground on which the next one stands);
- no hint text of another mutant of the same lab appears in any hint of the checklist: a
  hint written for one mistake (NUL padding, a small backlog) never reaches a student
  whose program shows another.  (Titles and evidence may name anything: a check about
  SO_REUSEADDR says so in its title.)

The mechanism is general: it knows no mutant by name.  A mutant that makes all of another's
edits has that mistake too, and may get its hint.  Two mutants of a lab must
therefore have hint texts that are neither equal nor one inside the other (the first
test says which), so that each text names one mistake only.
"""
import pytest

from harness.mutants import all_mutants

from test_labs import MUTANTS, WITH_CHECKS, assert_fails_with_its_hint


def contains(mutant, other):
    """True when ``mutant`` makes every edit ``other`` makes: it has ``other``'s mistake too
    (a mutant with two mistakes), so ``other``'s hint is rightly its own."""
    return mutant.file == other.file and all(edit in mutant.edits for edit in other.edits)


def rivals(mutant):
    """The other mutants of ``mutant``'s lab whose hint must not appear in its checklist."""
    return [m for m in all_mutants(mutant.lab) if m.path != mutant.path and not contains(mutant, m)]


def hint_blocks(report):
    """The text of every ``hint:`` block of a checklist (what it tells the student to fix)."""
    blocks, inside = [], False
    for line in report.splitlines():
        if line.startswith("  hint:"):
            inside = True
            blocks.append(line[len("  hint:"):].strip())
        elif inside and line.startswith(" " * 12):
            blocks[-1] += " " + line.strip()
        else:
            inside = False
    return "\n".join(blocks)


@pytest.mark.parametrize("lab", WITH_CHECKS)
def test_hint_texts_name_one_mistake_each(lab):
    mutants = all_mutants(lab)
    clashes = [f"{a.name} ({a.hint!r}) and {b.name} ({b.hint!r})"
               for a in mutants for b in mutants
               if a.path < b.path and (a.hint in b.hint or b.hint in a.hint)]
    assert clashes == [], f"lab {lab}: hint texts that do not tell two mistakes apart: {clashes}"


@pytest.mark.parametrize("mutant", MUTANTS)
def test_mutant_gets_its_own_hint_only(mutant, graded_mutant):
    graded = graded_mutant(mutant)
    assert_fails_with_its_hint(mutant, graded)
    hints = hint_blocks(graded.stdout)
    foreign = [f"{other.name}'s {other.hint!r}" for other in rivals(mutant)
               if other.hint in hints]
    assert foreign == [], (f"{mutant.id} ({mutant.mistake}) got other mistakes' hints: {foreign}\n"
                           f"{graded.stdout}")


#: Valgrind's report of a send from a buffer never filled: its top frame is the C library's.
UNINITIALISED = """\
Syscall param write(buf) points to uninitialised byte(s)
   at 0x4962F33: write (write.c:26)
   by 0x109A2B: write_all (echo_client.c:181)
   by 0x109C4D: echo_line (echo_client.c:262)
   by 0x109F1E: main (echo_client.c:380)
 Address 0x1ffefff6a0 is on thread 1's stack
""".splitlines()


def test_valgrind_findings_name_the_students_own_frame():
    from harness import valgrind
    [finding] = valgrind.parse(UNINITIALISED, sources={"echo_client.c"})
    assert str(finding) == ("Syscall param write(buf) points to uninitialised byte(s) in "
                            "write.c:26 (write), called from echo_client.c:181 (write_all)")
    assert "the size of the buffer" in valgrind.hint_for([finding], "client")


def test_a_clients_valgrind_hint_is_a_clients():
    from harness import valgrind
    fd = valgrind.Finding("fd", "descriptor 3 (AF_INET socket 127.0.0.1:40000 <-> 127.0.0.1:5000)"
                                " still open at exit, opened", "echo_client.c:140 (main)")
    hint = valgrind.hint_for([fd], "client")
    assert "close() the client's socket" in hint
    for server_word in ("listening", "MAX_CLIENTS", "SIGINT", "count"):
        assert server_word not in hint
