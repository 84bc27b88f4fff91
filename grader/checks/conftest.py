"""The checks' pytest plugin: points, deadlines, the student's checklist, results JSON.

- ``@pytest.mark.points(N)`` on each check gives its points (the points of a
  lab add up to 100; ``grader/tests`` asserts it);
- ``@pytest.mark.deadline(S)`` overrides the default hard deadline of a check;
- the module's ``pytestmark`` names its lab (``pytest.mark.lab3``), so
  ``-m lab3`` selects a lab and ``-k NAME`` one check;
- ``--impl DIR`` grades the programs in ``DIR/labN`` (default ``labs``; ``solutions``
  for the reference), built into ``--build-root`` (default ``build/<impl>``);
- ``--checklist`` prints the student's report at the end, ``--results-json F``
  writes the results for ``grader/run_all`` and the platforms (harness/results.py).

What the plugin keeps during a session is one :class:`State`, in ``config.stash``.
"""
import dataclasses
import os
import pathlib
import signal
import socket
import traceback

import pytest

from harness import proc, results, sandbox, timing
from harness.lab import PLACEHOLDER, Lab, is_placeholder, placeholder_hint, stderr_hint
from harness.registry import LABS, number_in
from harness.report import CheckFailed, render_checklist
from harness.results import FAILED, PASSED, SKIPPED, CheckResult, LabResult

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
#: A check that runs longer than this is stopped and scores 0 (seconds, before scaling).
DEFAULT_DEADLINE = 10.0
#: Checks of one lab that may run into their deadline; past this many the remaining checks
#: are not run.  Counted, not timed: which checks run never depends on how busy the machine
#: is (a budget in seconds cut off the last checks of one grading and not of another).
LAB_TIMEOUTS = 3


def pytest_addoption(parser):
    group = parser.getgroup("sockets-lab")
    group.addoption("--impl", default="labs",
                    help="directory holding labN/ folders to grade (default: labs; "
                         "solutions for the reference)")
    group.addoption("--build-root", default=None, help="where to build (default build/<impl>)")
    group.addoption("--checklist", action="store_true", help="print the student's checklist")
    group.addoption("--results-json", default=None, help="write the results to this file")
    group.addoption("--lab-timeouts", type=int, default=LAB_TIMEOUTS,
                    help="checks of a lab that may time out before the rest are not run")


@dataclasses.dataclass
class State:
    """What the plugin keeps during a session (``config.stash[STATE]``)."""

    labs: dict = dataclasses.field(default_factory=dict)       # number -> Lab, built
    results: dict = dataclasses.field(default_factory=dict)    # number -> {check: CheckResult}
    timeouts: dict = dataclasses.field(default_factory=dict)   # number -> its checks timed out
    complete: set = dataclasses.field(default_factory=set)     # the labs whose checks all ran
    early: dict = dataclasses.field(default_factory=dict)      # module -> {check: early run}


STATE = pytest.StashKey[State]()


def state(config):
    """The plugin's :class:`State` of this session."""
    return config.stash[STATE]


def pytest_configure(config):
    for n in LABS:
        config.addinivalue_line("markers", f"lab{n}: a check of lab {n}")
    config.addinivalue_line("markers", "points(n): the points a check is worth")
    config.addinivalue_line("markers", "deadline(seconds): hard time limit of a check")
    config.addinivalue_line("markers", "instructor_only: a hidden check, left out of the "
                                       "student distribution")
    config.stash[STATE] = State()
    timing.measured()  # the machine's speed, measured once at the start: every deadline scales


def lab_number(item):
    for mark in item.iter_markers():
        if mark.name.startswith("lab") and mark.name[3:].isdigit():
            return int(mark.name[3:])
    return None


def check_name(item):
    return item.name[5:] if item.name.startswith("test_") else item.name


def check_title(item):
    doc = (getattr(item.function, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else check_name(item).replace("_", " ")


def _paths(config, number):
    impl = pathlib.Path(config.getoption("--impl"))
    if not impl.is_absolute():
        impl = (pathlib.Path.cwd() / impl)
    root = config.getoption("--build-root")
    if root is None:
        try:
            rel = impl.resolve().relative_to(ROOT)
            root = ROOT / "build" / rel
        except ValueError:
            root = impl / ".build"
    return impl / f"lab{number}", pathlib.Path(root) / f"lab{number}"


def module_lab(module):
    """The lab a check module grades (``test_lab6`` grades lab 6, with lab 4's checks too)."""
    return number_in(module.__name__)


def get_lab(config, number):
    """Lab ``number`` under test, its programs built (once per session)."""
    labs = state(config).labs
    if number not in labs:
        src, out = _paths(config, number)
        labs[number] = Lab(number, src, out)
    return labs[number]


@pytest.fixture(scope="module")
def lab(request):
    """The lab of the running module, its programs built (once per session)."""
    number = module_lab(request.module)
    lab = get_lab(request.config, number)
    if lab.missing:  # skipped, said plainly: neither a pass nor the student's failure
        pytest.skip(f"lab {number} cannot be graded on this machine: it needs "
                    f"{' and '.join(lab.missing)}.\n  {lab.remedy}")
    return lab


@pytest.fixture(scope="module")
def early(request):
    """{check: what its module's ``start_early`` started for it} (see pytest_runtestloop)."""
    return state(request.config).early.get(request.module.__name__, {})


@pytest.hookimpl(hookwrapper=True)
def pytest_runtestloop(session):
    """Before the first check: start what a check module starts ahead of its checks.

    A module may define ``start_early(lab, names)``, which starts the slow runs that the
    checks ``names`` (those selected) only collect, and returns {check name: run}; each
    run has ``close()``.  Started here, their waiting (lab 5's client giving up after
    3 s) overlaps the checks of every lab graded before, not only of their own.
    """
    config = session.config
    started = []
    try:
        for module in dict.fromkeys(item.module for item in session.items):
            start = getattr(module, "start_early", None)
            if start is None:
                continue
            names = {item.name for item in session.items if item.module is module}
            lab = get_lab(config, module_lab(module))
            if not lab.missing:
                runs = start(lab, names)
                state(config).early[module.__name__] = runs
                started += runs.values()
        yield
    finally:
        for run in started:  # whatever the checks did not collect
            run.close()
        sandbox.kill_early()  # and whatever they left (run_all: the early runs' user)


@pytest.fixture(autouse=True)
def _kill_everything():
    """Nothing a check started survives it."""
    yield
    proc.kill_all()


class CheckTimeout(CheckFailed):
    pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    config = item.config
    number = lab_number(item)
    timed_out = state(config).timeouts
    most = config.getoption("--lab-timeouts")
    if timed_out.get(number, 0) >= most:
        item.obj = _too_many_timeouts(most)
    mark = item.get_closest_marker("deadline")
    limit = timing.seconds(mark.args[0] if mark else DEFAULT_DEADLINE)

    def on_alarm(_signum, _frame):
        raise CheckTimeout(f"ran the check `{check_name(item)}`",
                           got=f"it timed out after {limit:.0f} s and was stopped",
                           hint="a program that waits forever: a read(), recv() or accept() "
                                "that never returns, or a missing exit at end of file")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        outcome = yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    if isinstance(outcome.excinfo and outcome.excinfo[1], CheckTimeout):
        timed_out[number] = timed_out.get(number, 0) + 1


def _too_many_timeouts(most):
    def not_run(*_args, **_kwargs):
        raise CheckFailed("did not run this check",
                          got=f"{most} checks of this lab had already timed out, so the rest "
                              "are not run",
                          hint="fix the checks that timed out first")
    return not_run


def _placeholder_evidence(err=None):
    """(stderr, hint) of the program of the running check whose stderr (``err``, when
    given) shows a skeleton placeholder still in place, or (None, None).  The hint names
    the program's source file: the server and the client each have their TODOs."""
    for program in proc.started():
        seen = program.err().decode("utf-8", "replace")
        if is_placeholder(seen) and (err is None or err.strip() in seen):
            return seen, placeholder_hint(seen, program.source)
    return None, None


def _output_flood():
    """The failure of a check whose program wrote more than proc.OUTPUT_CAP bytes to one of
    its streams (it was killed there), or None.  Counted, not timed: it fails the same way
    on a quiet and on a busy machine, whatever the check made of the killed program."""
    for program in proc.started():
        stream = program.overflowed()
        if stream:
            return CheckFailed(
                f"ran `{program.shown}`",
                expected=f"a bounded output (at most {proc.OUTPUT_CAP >> 20} MiB on {stream})",
                got=f"more than {proc.OUTPUT_CAP >> 20} MiB on {stream}, so it was killed there "
                    f"(output is capped, as Autolab caps it)",
                hint=f"a loop that writes to {stream} without end: check the loop's exit "
                     f"condition (end of file, a count) and every write's return value").render()
    return None


def _network_error(exc):
    """The failure of a check that a network error stopped: what the error says, and what
    the programs of the check did (exited, or running without listening)."""
    programs = proc.started()
    states = "; ".join(f"`{p.shown}`: {proc.describe_status(p.poll())}" for p in programs)
    if isinstance(exc, ConnectionRefusedError):
        hint = ("the connection was refused: nothing listened on the port any more (the server "
                "had ended, or had closed its listening socket)")
    elif isinstance(exc, ConnectionResetError):
        hint = ("the program reset the connection: it closed the socket with bytes still unread, "
                "or ended, in the middle of the exchange")
    elif isinstance(exc, (TimeoutError, socket.timeout)):
        hint = "the program stopped answering: nothing came within the deadline"
    else:
        hint = None
    return CheckFailed("talked to the program over the network",
                       got=f"{type(exc).__name__}: {exc}" + (f"\n{states}" if states else ""),
                       hint=hint)


def _explain(excinfo):
    """The report text of a failure, never a traceback for a student's bug.

    The hint follows the evidence: a skeleton's placeholder on a program's stderr wins over
    whatever the check guessed, since nothing else can be judged while it is in place.
    """
    exc = excinfo.value
    if isinstance(exc, (ConnectionError, TimeoutError, OSError)) and not isinstance(exc, CheckFailed):
        exc = _network_error(exc)
    if isinstance(exc, CheckFailed):
        err = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else exc.stderr
        seen, hint = _placeholder_evidence(err if err and is_placeholder(err) else None)
        if hint:
            exc.hint, exc.stderr = hint, seen
        elif err and is_placeholder(err) and PLACEHOLDER not in (exc.hint or ""):
            exc.hint = placeholder_hint(err)  # a program started ahead of the check (lab 5)
        elif exc.hint is None and err:
            exc.hint = stderr_hint(err)
        return exc.render(), isinstance(exc, CheckTimeout)
    tb = "".join(traceback.format_exception(excinfo.type, exc, excinfo.tb, limit=-3))
    return ("  internal error of the grader (not your mistake; please report it):\n"
            + "\n".join("    " + line for line in tb.splitlines())), False


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    number = lab_number(item)
    if number is None:
        return
    mark = item.get_closest_marker("points")
    points = float(mark.args[0]) if mark else 0.0
    checks = state(item.config).results.setdefault(number, {})
    name = check_name(item)
    entry = checks.get(name)
    if entry is None:
        entry = checks[name] = CheckResult(
            name, check_title(item), points, points,
            instructor_only=item.get_closest_marker("instructor_only") is not None)
    entry.duration += report.duration
    flood = _output_flood() if call.when == "call" else None
    if flood and entry.status != SKIPPED:
        entry.status, entry.score, entry.output = FAILED, 0.0, flood
        return
    if report.failed or report.skipped and call.when != "teardown":
        if entry.status == PASSED:
            entry.status = FAILED
            entry.score = 0.0
            if report.skipped:
                entry.output = "  skipped: " + str(report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr).removeprefix("Skipped: ")
            elif call.excinfo is not None:
                entry.output, entry.timed_out = _explain(call.excinfo)
            else:
                entry.output = str(report.longrepr)[-2000:]
        if report.skipped and call.excinfo is not None:
            entry.status = SKIPPED
        elif call.excinfo is not None and machine_failed(call.excinfo.value):
            entry.status = SKIPPED  # the grading machine failed, not the program: not graded
            entry.output = f"  skipped: {machine_failed(call.excinfo.value)}"


def machine_failed(exc):
    """Why ``exc`` is a failure of the grading machine, not of the program (or None)."""
    if isinstance(exc, proc.MachineError):
        return str(exc)
    line = proc.machine_failure(exc.stderr) if isinstance(exc, CheckFailed) else None
    return line and (f"not graded: the grading machine failed under the program (`{line}`), "
                     "not your program; grade again")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """After the last check of a lab: what the lab kept running is stopped (Wine's server),
    the lab is complete, and the results file says so (grader/run_all keeps the labs a
    grading finished, should it be stopped later)."""
    yield
    number = lab_number(item)
    if number is not None and (nextitem is None or lab_number(nextitem) != number):
        session = state(item.config)
        if number in session.labs:
            session.labs[number].close()
        session.complete.add(number)
        write_results(item.config)


def _shown_path(path):
    """``path`` as a student types it: relative to the current folder when inside it."""
    path = pathlib.Path(path)
    return os.path.relpath(path, pathlib.Path.cwd()) if path.is_relative_to(pathlib.Path.cwd()) else str(path)


def lab_results(config, number):
    """Lab ``number``'s :class:`LabResult` so far."""
    session = state(config)
    src, _out = _paths(config, number)
    lab = session.labs.get(number)
    return LabResult(number, LABS[number].title, _shown_path(src),
                     lab.built.output if lab else "",
                     list(session.results.get(number, {}).values()),
                     number in session.complete,
                     # programs whose source is there but did not compile: the compiler's words
                     compile_errors={name: text for name, (status, text) in lab.built.outputs.items()
                                     if status not in (0, None)} if lab else {},
                     build=_shown_path(lab.out) if lab else "",
                     programs=[name + (".exe" if lab.windows else "") for name in lab.programs]
                     if lab else [],
                     time_scale=round(timing.scale(), 1))


def pytest_report_teststatus(report, config):
    if (config.getoption("--checklist") or config.option.verbose < -1) and report.when == "call":
        return report.outcome, "", ""
    return None


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not config.getoption("--checklist"):
        return
    for number in sorted(state(config).results):
        terminalreporter.write_line("")
        for line in render_checklist(lab_results(config, number)).splitlines():
            terminalreporter.write_line(line)


#: grade.py's exit status when a lab could not be graded here (a tool is missing).
NOT_GRADED = 3


def pytest_sessionfinish(session, exitstatus):
    for lab in state(session.config).labs.values():
        lab.close()  # Wine's server (lab 6) is stopped here
        if lab.missing and exitstatus == 0:
            session.exitstatus = NOT_GRADED
    write_results(session.config)


def write_results(config):
    """Write the results so far to --results-json, whole or not at all."""
    path = config.getoption("--results-json")
    if path:
        results.write(path, [lab_results(config, n) for n in sorted(state(config).results)])
