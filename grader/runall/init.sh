#!/bin/sh
# The first process of a grading's namespaces (pid 1 there), started by grader/runall/isolation.py:
#
#   init.sh RUN CWD [PATH_TO_HIDE...] -- GRADE_COMMAND...
#
# Loopback up; /proc showing each user only its own processes; each PATH_TO_HIDE (the kit, the
# class's folders, the output) hidden under an empty tmpfs, or /dev/null for a file; a private
# /tmp, /var/tmp and /dev/shm; RUN (the run's folder: the grader's copy, the staged labs) kept
# visible; then GRADE_COMMAND as its child, in CWD.  When this process ends, so does every
# process in the namespace: nothing a student started survives the grading.
set -e
run=$1
cwd=$2
shift 2
ip link set lo up
mount -o remount,hidepid=2 /proc 2>/dev/null || true
cd "$run"
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    if [ -d "$1" ]; then
        mount -t tmpfs -o size=1m,mode=0755 sockets-lab-hidden "$1"
    elif [ -e "$1" ]; then
        mount --bind /dev/null "$1"
    fi
    shift
done
shift
for t in /tmp /var/tmp /dev/shm; do
    if [ -d "$t" ]; then mount -t tmpfs -o size=64m,mode=1777,nosuid,nodev sockets-lab-tmp "$t"; fi
done
# RUN itself was under a hidden folder (or under /tmp): bring it back from our working folder.
if [ ! -d "$run/kit" ]; then mkdir -p "$run" && mount --no-canonicalize --bind . "$run"; fi
cd "$cwd"
set +e
"$@"
