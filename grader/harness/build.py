"""Compiling the programs of a lab, and the grader's own LD_PRELOAD shim.

The programs are built by ``grader/build.mk`` (make: incremental, out of tree),
with the contract's flags.  Whether a source builds *without warnings* is
asked separately with ``-fsyntax-only``, which is quick and does not depend on
what the incremental build happened to redo.
"""
import os
import pathlib
import shutil
import subprocess

from . import sandbox

GRADER = pathlib.Path(__file__).resolve().parent.parent
ROOT = GRADER.parent
CFLAGS = ["-std=c11", "-Wall", "-Wextra"]


class BuildResult:
    """What building a lab's programs gave: the binaries that exist and the compiler's words."""

    def __init__(self, ok, output, binaries):
        self.ok = ok
        self.output = output
        self.binaries = binaries


def compiler():
    """The C compiler to use: $CC, else cc, gcc or clang, whichever exists."""
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return "cc"


def build_programs(src, out, programs, cc=None, cflags=None, ldlibs="", exe="", timeout=120):
    """Build ``programs`` (names without .c) from ``src`` into ``out``.

    Returns a :class:`BuildResult`; ``binaries`` maps each program name to its
    path, or to None when it did not build (missing source, compile error).
    """
    src, out = pathlib.Path(src), pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cc = cc or compiler()
    argv = ["make", "-s", "-k", "--no-print-directory", "-f", str(GRADER / "build.mk"),
            f"SRC={src}", f"OUT={out}", f"PROGRAMS={' '.join(programs)}", f"CC={cc}",
            "CFLAGS=" + " ".join((cflags or CFLAGS) + ["-g"]), f"LDLIBS={ldlibs}", f"EXE={exe}"]
    try:
        # grader/run_all compiles an untrusted submission as its own user, limited (else no prefix)
        proc = subprocess.run(sandbox.prefix() + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout, stdin=subprocess.DEVNULL)
        output = proc.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        output = f"the build did not finish within {timeout} s"
    binaries = {}
    for name in programs:
        path = out / (name + exe)
        source = src / (name + ".c")
        fresh = path.exists() and source.exists() and path.stat().st_mtime >= source.stat().st_mtime
        binaries[name] = path if fresh else None
        if not source.exists():
            output += f"\n{source}: no such file (the lab needs {name}.c)"
    return BuildResult(all(binaries.values()), output.strip(), binaries)


def warnings_of(source, cc=None, cflags=None, extra=()):
    """Compile ``source`` with -fsyntax-only; return (returncode, compiler output)."""
    argv = [cc or compiler()] + (cflags or CFLAGS) + list(extra) + ["-fsyntax-only", str(source)]
    proc = subprocess.run(sandbox.prefix() + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60,
                          stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout.decode("utf-8", "replace").strip()


def shim(build_dir):
    """Build (once) and return the path of the grader's LD_PRELOAD shim."""
    source = GRADER / "harness" / "shim.c"
    target = pathlib.Path(build_dir) / "libgradershim.so"
    if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run([compiler(), "-shared", "-fPIC", "-O2", "-o", str(tmp), str(source), "-ldl"],
                       check=True, stdin=subprocess.DEVNULL, timeout=60)
        os.replace(tmp, target)  # atomic: parallel graders never see half a library
    return target
