"""The outputs of a run, one module each, written from the results model in this order.

Each module has one function, ``write(grades)``, that writes its output from a
:class:`Grades` (the submissions, each with its ``results``: lab ->
``harness.results.LabResult``).  A new output is one new module, added to
:data:`FORMATS`.
"""
import dataclasses
import pathlib

from . import (autolab, class_report, gradebook_csv, junit_xml, report_txt, results_json, table,
               verdict)


@dataclasses.dataclass
class Grades:
    """What the outputs are written from."""

    subs: list                 # runall.intake.Submission, each with .results {lab: LabResult}
    labs: list                 # the labs graded, in order
    out: pathlib.Path          # the folder of the files (--out)
    seconds: float             # the run's wall clock
    jobs: int = 1
    reference: bool = False    # the reference solutions (no submission given)
    autolab: bool = False      # --autolab
    gradescope: str = None     # --gradescope FILE


#: name -> the function that writes it, in the order they are written (stdout last).
FORMATS = {
    "report.txt": report_txt.write,        # per student: the checklists of every lab
    "results.json": results_json.write,    # per student (and --gradescope): Gradescope's format
    "junit.xml": junit_xml.write,          # per student: one testsuite per lab
    "gradebook.csv": gradebook_csv.write,  # the class: one row per student
    "class.html": class_report.write,      # the class: class.html, checks.csv, similarity.csv
    "table": table.write,                  # stdout: the gradebook, notes, the run's figures
    "verdict": verdict.write,              # stdout, the reference only: full marks or why not
    "autolab": autolab.write,              # stdout, --autolab: the report, then the score line
}


def write_all(grades):
    for write in FORMATS.values():
        write(grades)
