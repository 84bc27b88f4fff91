"""``STUDENT/report.txt``: the student's checklist of every lab, as ``make labN`` prints it."""
from harness.report import render_checklist
from harness.results import write_whole

from .common import notes, points


def text(sub, labs):
    """The report of submission ``sub``."""
    lines = [f"sockets-lab: grades of {sub.name}", ""]
    lines += [f"note: {note}" for note in notes(sub, labs)]
    if len(lines) > 2:
        lines.append("")
    for n in labs:
        lines += [render_checklist(sub.results[n]), "", "-" * 72, ""]
    lines.append(f"total: {points(sub.total())}/{points(100 * len(labs))} points "
                 "(" + ", ".join(f"lab {n}: {points(sub.results[n].score)}" for n in labs) + ")")
    return "\n".join(lines) + "\n"


def write(grades):
    for sub in grades.subs:
        write_whole(grades.out / sub.name / "report.txt", text(sub, grades.labs))
