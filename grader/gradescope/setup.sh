#!/bin/bash
# Gradescope's image setup (runs once, as root, when the autograder is built).
# Installs what the kit needs: C compiler, make, Valgrind, strace, Python's pytest, iproute2,
# util-linux; and Wine with MinGW when lab 6 is graded.  See grader/gradescope/README.md.
#
# Gradescope runs it from the zip unpacked in /autograder/source (the kit is next to it); a
# copy run from elsewhere finds the kit in $AUTOGRADER_ROOT/source (default /autograder).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${AUTOGRADER_ROOT:-/autograder}
kit=
for dir in "$here" "$here/source" "$root/source"; do
    if [ -x "$dir/grader/run_all" ]; then
        kit=$dir
        break
    fi
done
if [ -z "$kit" ]; then
    echo "setup.sh: no kit (grader/run_all) in $here, $here/source or $root/source:" \
        "upload the zip that \`make gradescope\` builds, setup.sh at its root" >&2
    exit 1
fi
labs=${SOCKETS_LAB_LABS:-}
if [ -z "$labs" ] && [ -f "$kit/gradescope-labs" ]; then labs=$(tr -d ' \n' < "$kit/gradescope-labs"); fi
apt-get update
apt-get install -y --no-install-recommends iproute2 util-linux procps
"$kit/tools/setup.sh" core  # Python first: the lab registry tells what the labs need
groups=$(python3 "$kit/grader/harness/registry.py" setup "$labs")
"$kit/tools/setup.sh" $groups
if [[ " $groups " == *" windows "* ]]; then
    # Wine's prefix, made once here (about 8 s) and kept in the image: runs start warm.
    (cd "$kit" && tools/python -c 'import sys; sys.path.insert(0, "grader"); from harness import wine; wine.template()')
fi
