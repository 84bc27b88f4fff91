#!/usr/bin/env python3
"""Doxygen's input filter for sockets-lab (FILTER_PATTERNS in the Doxyfile).

Doxygen runs ``tools/doxygen_filter.sh FILE`` for every input file (and, with
FILTER_SOURCE_FILES, for the source pages and every ``\\snippet``) and reads what
it prints instead of the file. That shell script is the fast path: it strips the
markers with sed and calls this program only for the pages with conditional
lines. This program is the reference of both rules (grader/tests/test_docs.py
checks that the two agree); nothing else changes:

- A reference solution (``solutions/labN/*.c``) loses its skeleton marker lines
  (``// $begin solution``, ``// $end solution``, ``// $skeleton: ...``; see
  tools/skeletons.py), so readers see clean code.
- A Markdown line that carries ``<!-- if-exists: PATH -->`` is kept only when
  PATH (relative to the repository root) exists, and one that carries
  ``<!-- if-missing: PATH -->`` only when it does not; the comment itself is
  removed.  The docs use it to link a lab handout or a page that another part
  of the kit delivers (``labs/lab6/README.md``, ``docs/grading.md``) without
  breaking the zero-warning build while it is not there yet.

Dropped lines are removed, not blanked (a blank line would split a Markdown
table or leave gaps in the code), so a warning's line number can be a few
lines above the real one in a filtered file.
"""
import pathlib
import re
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from skeletons import stripped  # noqa: E402  (tools/ is not a package)

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONDITION = re.compile(r"\s*<!--\s*if-(exists|missing):\s*(\S+)\s*-->")


def filter_markdown(text, root=ROOT):
    """Apply the if-exists / if-missing line conditions of a Markdown page."""
    out = []
    for line in text.splitlines(keepends=True):
        match = CONDITION.search(line)
        if not match:
            out.append(line)
            continue
        exists = (root / match.group(2)).exists()
        keep = exists if match.group(1) == "exists" else not exists
        if keep:
            out.append(CONDITION.sub("", line))
    return "".join(out)


def main(argv):
    if len(argv) != 2:
        print("usage: doxygen_filter.py FILE", file=sys.stderr)
        return 2
    path = pathlib.Path(argv[1])
    text = path.read_text(encoding="utf-8")
    parts = path.resolve().parts
    if path.suffix == ".c" and "solutions" in parts:
        text = stripped(text)
    elif path.suffix == ".md":
        text = filter_markdown(text)
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
