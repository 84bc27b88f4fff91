"""Running a program under strace: to inject a failing system call, or to see
what a call was given when behaviour alone cannot tell."""
import re
import shutil

_CALL = re.compile(r"^(?:\[pid\s+\d+\] |\d+\s+)?(\w+)\((.*)\)\s+=\s+(.*)$")


def available():
    return shutil.which("strace") is not None


def argv(log, trace=None, inject=None):
    """The strace prefix: follow forks, quiet, log to ``log``, trace/inject as asked."""
    args = ["strace", "-f", "-qq", "-o", str(log)]
    if trace:
        args += ["-e", "trace=" + trace]
    if inject:
        args += ["-e", "inject=" + inject]
    return args


def calls(log_text, name=None):
    """The system calls in a strace log as (name, arguments, result) tuples."""
    found = []
    for line in log_text.splitlines():
        m = _CALL.match(line.strip())
        if m and (name is None or m.group(1) == name):
            found.append(m.groups())
    return found
