#!/usr/bin/env python3
"""Cut the students' skeletons out of the reference solutions.

Every skeleton ``labs/labN/NAME.c`` is generated from ``solutions/labN/NAME.c``
(the idea of CS:APP's ``$begin``/``$end`` markers), so the two can never drift
apart.  Two line markers drive the cut:

``// $begin solution`` ... ``// $end solution``
    the lines in between (and the markers) are the answer; the skeleton drops them.
``// $skeleton: TEXT``
    a line only the skeleton has (a TODO comment, a placeholder that compiles);
    in the skeleton it becomes ``TEXT`` at the same indentation.

Usage::

    tools/skeletons.py            write labs/labN/*.c from solutions/labN/*.c
    tools/skeletons.py --check    exit 1 (and show a diff) if a skeleton is stale
    tools/skeletons.py --strip F  print solution F without any marker line (Doxygen's input
                                  filter is tools/doxygen_filter.sh, not this)
"""
import argparse
import difflib
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
BEGIN = re.compile(r"^\s*// \$begin solution\s*$")
END = re.compile(r"^\s*// \$end solution\s*$")
SKEL = re.compile(r"^(\s*)// \$skeleton:(?: (.*))?$")


class MarkerError(Exception):
    """A solution file whose markers do not pair up."""


def skeleton_of(text, name="<solution>"):
    """Return the skeleton cut from a solution's text."""
    out, inside = [], None
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        body = line.rstrip("\n")
        if BEGIN.match(body):
            if inside:
                raise MarkerError(f"{name}:{number}: $begin inside the $begin of line {inside}")
            inside = number
        elif END.match(body):
            if not inside:
                raise MarkerError(f"{name}:{number}: $end without $begin")
            inside = None
        elif inside:
            continue
        elif SKEL.match(body):
            indent, rest = SKEL.match(body).groups()
            out.append((indent + rest if rest else "") + "\n")
        else:
            out.append(line)
    if inside:
        raise MarkerError(f"{name}:{inside}: $begin solution never ended")
    return "".join(out)


def stripped(text):
    """Return a solution's text with every marker line removed (what readers see)."""
    keep = [line for line in text.splitlines(keepends=True)
            if not (BEGIN.match(line.rstrip("\n")) or END.match(line.rstrip("\n"))
                    or SKEL.match(line.rstrip("\n")))]
    return "".join(keep)


def pairs(root=ROOT):
    """Yield (solution path, skeleton path) for every solution C file."""
    for solution in sorted((root / "solutions").glob("lab*/*.c")):
        yield solution, root / "labs" / solution.parent.name / solution.name


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale skeletons")
    parser.add_argument("--strip", metavar="FILE", help="print FILE without marker lines")
    args = parser.parse_args(argv)
    if args.strip:
        sys.stdout.write(stripped(pathlib.Path(args.strip).read_text()))
        return 0
    stale = 0
    for solution, skeleton in pairs():
        want = skeleton_of(solution.read_text(), str(solution.relative_to(ROOT)))
        have = skeleton.read_text() if skeleton.exists() else ""
        if want == have:
            continue
        if args.check:
            stale += 1
            sys.stdout.writelines(difflib.unified_diff(
                have.splitlines(True), want.splitlines(True),
                str(skeleton.relative_to(ROOT)), "generated from " + str(solution.relative_to(ROOT))))
        else:
            skeleton.parent.mkdir(parents=True, exist_ok=True)
            skeleton.write_text(want)
            print("wrote", skeleton.relative_to(ROOT))
    if stale:
        print(f"\n{stale} skeleton(s) differ from their solution: run tools/skeletons.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
