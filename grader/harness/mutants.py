"""Mutants: the reference solution with one classic mistake, to prove a check can fail.

Each mutant is one file ``grader/mutants/labN/NAME.toml``::

    mistake = "what the student got wrong, in one sentence"
    file = "hello_server.c"              # the solution file it changes
    fails = ["restart_on_same_port"]     # the check(s) it must fail
    hint = "SO_REUSEADDR"                # text the failure must show (the hint it should get)

    [[edit]]                             # one or more exact replacements in that file
    old = "..."                          # must occur exactly once in the solution
    new = "..."

``grader/tests/test_labs.py`` grades every mutant on its whole lab and asserts each
named check fails with the hint; ``grader/tests/test_hints.py``, that no other mutant's
hint reaches it.
"""
import pathlib
import shutil
import tomllib

GRADER = pathlib.Path(__file__).resolve().parent.parent
ROOT = GRADER.parent
MUTANTS = GRADER / "mutants"


class Mutant:
    def __init__(self, path):
        self.path = pathlib.Path(path)
        self.lab = int(self.path.parent.name[3:])
        self.name = self.path.stem
        data = tomllib.loads(self.path.read_text())
        self.mistake = data["mistake"]
        self.file = data["file"]
        self.fails = data["fails"] if isinstance(data["fails"], list) else [data["fails"]]
        self.hint = data["hint"]
        self.edits = data["edit"]

    @property
    def id(self):
        return f"lab{self.lab}/{self.name}"

    def apply(self, impl_dir):
        """Write ``impl_dir/labN/`` as the solution with this mutant's edits; return that folder."""
        source = ROOT / "solutions" / f"lab{self.lab}"
        target = pathlib.Path(impl_dir) / f"lab{self.lab}"
        shutil.copytree(source, target, dirs_exist_ok=True)
        edit(target / self.file, self.edits, self.path)
        return target


def edit(path, edits, origin):
    """Apply ``edits`` (each ``{"old": ..., "new": ...}``, its old text found exactly once)
    to the file ``path``; ``origin`` names where the edits come from, in the error."""
    text = path.read_text()
    for change in edits:
        count = text.count(change["old"])
        if count != 1:
            raise ValueError(f"{origin}: edit text found {count} times in {path.name} "
                             f"(must be exactly once): {change['old']!r}")
        text = text.replace(change["old"], change["new"])
    path.write_text(text)


def all_mutants(lab=None):
    paths = sorted(MUTANTS.glob(f"lab{lab or '*'}/*.toml"))
    return [Mutant(p) for p in paths]
