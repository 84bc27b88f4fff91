"""The results of a grading: one model, read and written here and nowhere else.

A grading gives, for each lab, a :class:`LabResult`: its checks' :class:`CheckResult`
(passed, failed or skipped, the points, the report text), what the compiler said,
and whether the lab was graded to the end.  A lab that could not be graded at all
(no folder, the run's time limit, the grader stopped) is a :class:`LabResult` made
by :meth:`LabResult.not_graded` from a :class:`NotGraded` (what was done, what
happened, a hint): it scores 0 of 100 through one failed check named ``graded``,
so that every output shows it the way it shows any failure.

Who uses it: the checks' plugin (grader/checks/conftest.py) fills it and writes it
(``--results-json``) after each lab; ``harness.report.render_checklist`` prints a
:class:`LabResult`; ``grader/run_all`` reads each grading's file and every output
format (grader/runall/formats) writes from it; the kit's tests read it too.

The file is JSON, ``{"labs": [LabResult.to_dict(), ...]}``, written whole or not at
all (:func:`write_whole`): a reader never sees half a file.
"""
import dataclasses
import json
import os
import pathlib

#: The statuses of a check.
PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"


@dataclasses.dataclass
class CheckResult:
    """One check of a lab: its points, its status and, when it did not pass, the report."""

    name: str                       # the check's name (``test_NAME`` without ``test_``)
    title: str                      # its docstring's first line
    max_score: float
    score: float
    status: str = PASSED            # PASSED, FAILED or SKIPPED (not run on this machine)
    output: str = ""                # the failure's report (did/expected/got/hint lines)
    timed_out: bool = False
    duration: float = 0.0           # seconds
    instructor_only: bool = False   # hidden from students until the due date

    @property
    def passed(self):
        return self.status == PASSED

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data):
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclasses.dataclass
class NotGraded:
    """Why a lab was not graded: what the grader did, what happened, and what to do."""

    did: str
    got: str
    hint: str = None
    grader_error: bool = False      # the grader's own failure (the machine, run_all), not the student's

    def render(self):
        """The reason as the report's indented lines."""
        rows = [("did", self.did), ("got", self.got), ("hint", self.hint)]
        return "\n".join(f"  {k + ':':<10}{v}" for k, v in rows if v)


@dataclasses.dataclass
class LabResult:
    """One lab of one submission: every check's result, or why it was not graded."""

    lab: int
    title: str
    source: str = ""                # where its programs came from, as the student knows it
    build_output: str = ""          # what the compiler said
    checks: list = dataclasses.field(default_factory=list)    # [CheckResult]
    complete: bool = False          # every selected check ran (the grading reached its end)
    not_graded: NotGraded = None    # set when the lab could not be graded at all
    #: each program whose source is there but did not compile -> what the compiler said
    compile_errors: dict = dataclasses.field(default_factory=dict)
    build: str = ""                 # where its programs were built, as the student knows it
    programs: list = dataclasses.field(default_factory=list)  # their file names there
    time_scale: float = 1.0         # the machine's measured slowness: every deadline times this

    @property
    def score(self):
        return sum(c.score for c in self.checks)

    @property
    def max_score(self):
        return sum(c.max_score for c in self.checks)

    @classmethod
    def not_graded_because(cls, lab, title, reason):
        """Lab ``lab`` not graded for ``reason`` (a :class:`NotGraded`): 0 of 100, saying why."""
        check = CheckResult("graded", f"lab {lab} was graded", 100.0, 0.0, FAILED,
                            reason.render())
        return cls(lab, title, f"lab{lab}", "", [check], True, reason)

    def to_dict(self):
        return {"lab": self.lab, "title": self.title, "source": self.source,
                "build_output": self.build_output, "score": self.score,
                "max_score": self.max_score, "checks": [c.to_dict() for c in self.checks],
                "complete": self.complete,
                "not_graded": dataclasses.asdict(self.not_graded) if self.not_graded else None,
                "compile_errors": self.compile_errors,
                "build": self.build, "programs": list(self.programs),
                "time_scale": self.time_scale}

    @classmethod
    def from_dict(cls, data):
        reason = data.get("not_graded")
        return cls(int(data["lab"]), data.get("title", ""), data.get("source", ""),
                   data.get("build_output", ""),
                   [CheckResult.from_dict(c) for c in data.get("checks", [])],
                   bool(data.get("complete")), NotGraded(**reason) if reason else None,
                   dict(data.get("compile_errors") or {}),
                   data.get("build", ""), list(data.get("programs", [])),
                   float(data.get("time_scale", 1.0)))


def dumps(labs):
    """The results file's text for ``labs`` (a list of :class:`LabResult`)."""
    return json.dumps({"labs": [lab.to_dict() for lab in labs]}, indent=1)


def loads(text):
    """The :class:`LabResult` list of a results file's text (ValueError when it is not one)."""
    try:
        return [LabResult.from_dict(lab) for lab in json.loads(text)["labs"]]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a results file: {exc!r}") from exc


def write(path, labs):
    """Write ``labs`` to the results file ``path``, whole or not at all."""
    write_whole(path, dumps(labs))


def read(path):
    """The :class:`LabResult` list of the results file ``path`` (OSError, ValueError)."""
    return loads(pathlib.Path(path).read_text())


def write_whole(path, text):
    """Write ``text`` to ``path`` whole or not at all (a temporary file, then a rename)."""
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
