#!/usr/bin/env python3
"""Grade one lab (or several) and print the student's checklist.

    grader/grade.py 3                      the student's labs/lab3
    grader/grade.py 3 --impl solutions     the reference solution
    grader/grade.py 3 -- -k backlog        extra pytest arguments after --

Exit status 0 only when every check passed; 1 when one failed; 3 when a lab could not
be graded on this machine (lab 6 without mingw-w64 or Wine: the checklist says what to install).  This is what ``make labN`` runs;
it is a thin wrapper over pytest and the checks' plugin (grader/checks/conftest.py).
"""
import argparse
import pathlib
import sys

GRADER = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(GRADER))

from harness.registry import LABS  # noqa: E402  (stdlib only)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description="Grade sockets-lab labs.")
    parser.add_argument("labs", nargs="+", type=int, choices=sorted(LABS), metavar="N",
                        help=f"the lab(s) to grade: {', '.join(map(str, LABS))}")
    parser.add_argument("--impl", default="labs", help="directory with labN/ folders (default labs)")
    parser.add_argument("--build-root", help="where to build (default build/<impl>)")
    parser.add_argument("--results-json", help="also write the results as JSON")
    parser.add_argument("--junitxml", help="also write JUnit XML")
    parser.add_argument("--quiet", action="store_true", help="no checklist on stdout")
    args = parser.parse_args(argv)
    try:
        import pytest
    except ImportError:
        print("grade: this Python has no pytest; run `make setup` or use tools/python", file=sys.stderr)
        return 127
    missing = [n for n in args.labs if not (GRADER / "checks" / f"test_lab{n}.py").exists()]
    for n in missing:
        print(f"grade: lab {n} has no checks in this version of the kit "
              f"(grader/checks/test_lab{n}.py is missing); it is not graded", file=sys.stderr)
    if len(missing) == len(args.labs):
        return 2
    files = [str(GRADER / "checks" / f"test_lab{n}.py") for n in args.labs if n not in missing]
    pytest_args = files + ["-qq", "--tb=no", "-rN", "-p", "no:cacheprovider", "-o", "console_output_style=classic", "--rootdir", str(GRADER.parent),
                           "-c", str(GRADER.parent / "pytest.ini"), "--impl", args.impl]
    if not args.quiet:
        pytest_args.append("--checklist")
    if args.build_root:
        pytest_args += ["--build-root", args.build_root]
    if args.results_json:
        pytest_args += ["--results-json", args.results_json]
    if args.junitxml:
        pytest_args += ["--junitxml", args.junitxml]
    code = pytest.main(pytest_args + extra)
    sys.stdout.flush()
    return code if code in (0, 3) else 1


if __name__ == "__main__":
    sys.exit(main())
