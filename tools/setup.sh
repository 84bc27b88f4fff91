#!/bin/sh
# Check for every tool the kit uses and install what is missing (Debian/Ubuntu, apt-get).
#
#   tools/setup.sh [GROUP...]     groups: core windows docs report browser all (default: all)
#
# core     C compiler, make, Python 3 with pytest, Valgrind, strace   (labs 1-5, 7, make test)
# windows  mingw-w64 cross compiler and Wine                           (lab 6)
# docs     Doxygen and Graphviz                                        (make docs)
# report   jinja2, matplotlib, similarity-tester                      (run_all's class.html)
# browser  Chromium, headless                                          (make test: class.html's test)
#
# Idempotent and quick (well under a second) when everything is there. As root (or with
# sudo) it runs apt-get; otherwise it prints the exact command to run, and fails.
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 0 ] && set -- all

missing=""
need() { # need PACKAGE TEST-COMMAND...: add PACKAGE when the test fails
    pkg=$1
    shift
    "$@" >/dev/null 2>&1 || missing="$missing $pkg"
}
has() { command -v "$1"; }
# Exit 0 when the Python module (argv[1]) is there, without importing it (matplotlib is slow).
module='import importlib.util as u, sys; sys.exit(u.find_spec(sys.argv[1]) is None)'

for group in "$@"; do
    case $group in
    core | all)
        need gcc has cc
        need make has make
        need python3-pytest "$here/python" -c ''
        need valgrind has valgrind
        need strace has strace
        need iproute2 has ip
        ;;
    esac
    case $group in
    windows | all)
        need gcc-mingw-w64-x86-64 has x86_64-w64-mingw32-gcc
        need wine64 test -x /usr/lib/wine/wine64
        # Without its preloader, about 1 Windows program in several thousand fails to start
        # (grader/harness/wine.py).
        need wine64-preloader test -x /usr/lib/wine/wine64-preloader
        ;;
    esac
    case $group in
    docs | all)
        need doxygen has doxygen
        need graphviz has dot
        ;;
    esac
    case $group in
    report | all)
        need python3-jinja2 "$here/python" -c "$module" jinja2
        need python3-matplotlib "$here/python" -c "$module" matplotlib
        need similarity-tester has sim_c
        ;;
    esac
    case $group in
    browser | all)
        need chromium has chromium
        ;;
    core | windows | docs | report | browser | all) ;;
    *)
        echo "setup: unknown group '$group' (core, windows, docs, report, browser, all)" >&2
        exit 2
        ;;
    esac
done

# Each package once, in order.
missing=$(printf '%s\n' $missing | awk 'NF && !seen[$0]++' | tr '\n' ' ')
[ -z "$missing" ] && exit 0

echo "setup: missing packages: $missing"
if [ "$(id -u)" -eq 0 ]; then
    sudo=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo"
else
    echo "setup: not root; install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y $missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# The package lists may be missing or stale on a fresh machine: update once, then install.
$sudo apt-get install -y -q $missing </dev/null ||
    { $sudo apt-get update -q </dev/null && $sudo apt-get install -y -q $missing </dev/null; } || {
    echo "setup: apt-get could not install:$missing" >&2
    exit 1
}
echo "setup: installed $missing"
