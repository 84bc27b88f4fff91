"""Compiling the programs of a lab, and the grader's own LD_PRELOAD shim.

Each program is compiled on its own, all of a lab's at once, with the contract's
flags (``-std=c11 -Wall -Wextra``, and ``-g`` so that Valgrind can name lines).  What
the compiler said about each is kept beside the program (``NAME.build.json``): the
warnings check reads it instead of compiling again, and a program that is up to date
(``make labN`` again, nothing edited) keeps the warnings of the build that made it.
"""
import concurrent.futures
import json
import os
import pathlib
import shutil
import subprocess
import threading

from . import reaper, sandbox

GRADER = pathlib.Path(__file__).resolve().parent.parent
ROOT = GRADER.parent
CFLAGS = ["-std=c11", "-Wall", "-Wextra"]


class BuildResult:
    """What building a lab's programs gave: the binaries that exist and the compiler's words.

    ``binaries`` maps each program to its path, or to None when it did not build;
    ``outputs`` maps each program to ``(status, text)``, the compiler's exit status and
    output for it (status None: there was no source to compile); ``output`` is all of it,
    for the top of the report.
    """

    def __init__(self, ok, output, binaries, outputs=None, machine=None):
        self.ok = ok
        self.output = output
        self.binaries = binaries
        self.outputs = outputs or {}
        #: Why the compiler could not run at all (the grading machine's failure, not the
        #: student's: see :func:`machine_error`), or None.
        self.machine = machine


#: What a compiler says when it could not run: a failure of the grading machine (no process
#: or memory left), never a mistake of the student's code.
MACHINE_ERRORS = (": fatal error: cannot execute", "fork: Resource temporarily unavailable",
                  "Cannot allocate memory", "Killed signal terminated program",
                  # setpriv (the sandbox's user switch) could not start the compiler: the
                  # user's process limit was full
                  "setpriv: failed to execute")
#: How many times a compile that met such a failure is tried in all.
ATTEMPTS = 3


def machine_error(status, output):
    """The line of the compiler's ``output`` that says it could not run, or None."""
    if status == 0:
        return None
    return next((line.strip() for line in output.splitlines()
                 if any(mark in line for mark in MACHINE_ERRORS)), None)


def compiler():
    """The C compiler to use: $CC, else cc, gcc or clang, whichever exists."""
    for cc in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cc and shutil.which(cc):
            return cc
    return "cc"


def compile_command(cc, source, target, cflags=None, ldlibs=""):
    """The command that builds ``target`` from ``source``, run in the source's folder (so
    that the compiler's messages name the file as the student knows it: ``echo_server.c``)."""
    return [cc] + (cflags or CFLAGS) + ["-g", "-o", str(target), source.name] + ldlibs.split()


def build_one(src, out, name, cc, cflags=None, ldlibs="", exe="", timeout=120):
    """Build program ``name`` (``src/name.c``) into ``out``; return (binary or None, status, output).

    Up to date (the binary newer than every source and header of ``src``, built by the
    same command): nothing is compiled, and the output of the build that made it is
    returned again.
    """
    source, target = src / (name + ".c"), out / (name + exe)
    record = out / (name + ".build.json")
    if not source.exists():
        return None, None, f"{source}: no such file (the lab needs {name}.c)"
    argv = compile_command(cc, source, target, cflags, ldlibs)
    newest = max(p.stat().st_mtime for p in [source] + list(src.glob("*.h")))
    try:
        old = json.loads(record.read_text())
        if old["argv"] == argv and target.stat().st_mtime >= newest:
            return target, old["status"], old["output"]
    except (OSError, ValueError, KeyError):
        pass
    record.unlink(missing_ok=True)
    # Built under a name of its own, then renamed: a grading of the same folder at the same
    # time (two `make labN`) never runs half a program.
    fresh = out / f".{name}.{os.getpid()}.{threading.get_ident()}.tmp{exe}"
    for _attempt in range(ATTEMPTS):  # again only when the machine failed, not the code
        status, output = compile_once(compile_command(cc, source, fresh, cflags, ldlibs), src,
                                      timeout)
        if not machine_error(status, output):
            break
    built = status == 0 and fresh.exists()
    if built:
        os.replace(fresh, target)
    else:
        fresh.unlink(missing_ok=True)
        target.unlink(missing_ok=True)
    if built:  # kept for the next run only when the program is there to go with it
        tmp = record.with_name(f".{record.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"argv": argv, "status": status, "output": output}))
        os.replace(tmp, record)
    return (target if built else None), status, output


def compile_once(argv, src, timeout):
    """Run the compiler command ``argv`` in ``src``; return (status, output)."""
    try:
        # grader/run_all compiles an untrusted submission as its own user, limited (else no prefix)
        proc = subprocess.run(sandbox.prefix() + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout, stdin=subprocess.DEVNULL, cwd=str(src),
                              env=reaper.env())  # killed with the grading (harness.reaper)
        return proc.returncode, proc.stdout.decode("utf-8", "replace").strip()
    except subprocess.TimeoutExpired:
        return -1, f"the compiler did not finish within {timeout} s"
    except OSError as exc:  # the grader could not even start it
        return -1, f"{argv[0]}: fatal error: cannot execute the compiler: {exc}"


def build_programs(src, out, programs, cc=None, cflags=None, ldlibs="", exe="", timeout=120):
    """Build ``programs`` (names without .c) from ``src`` into ``out``, all at once.

    Returns a :class:`BuildResult`.
    """
    src, out = pathlib.Path(src).resolve(), pathlib.Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cc = cc or compiler()
    with concurrent.futures.ThreadPoolExecutor(max(1, len(programs))) as pool:
        done = list(pool.map(lambda name: build_one(src, out, name, cc, cflags, ldlibs, exe, timeout),
                             programs))
    binaries = {name: binary for name, (binary, _status, _output) in zip(programs, done)}
    outputs = {name: (status, output) for name, (_binary, status, output) in zip(programs, done)}
    text = "\n".join(output for _binary, _status, output in done if output)
    machine = next((m for m in (machine_error(status, output) for _b, status, output in done) if m),
                   None)
    return BuildResult(all(binaries.values()), text.strip(), binaries, outputs, machine)


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
