"""``class.html``, ``checks.csv``, ``similarity.csv``: the instructors' class report
(grader/classreport).  For a class or the reference run, the setup step installs what the
page needs first where it is missing (``tools/setup.sh report``); for one platform
submission (--gradescope, --autolab) the report is made with what is there."""
import importlib.util
import pathlib
import subprocess
import sys

import classreport
from classreport import similarity

ROOT = pathlib.Path(__file__).resolve().parents[3]


def write(grades):
    platform = grades.autolab or grades.gradescope
    missing = [m for m in classreport.LIBRARIES if importlib.util.find_spec(m) is None]
    if not platform and (missing or similarity.missing()):
        subprocess.run([str(ROOT / "tools" / "setup.sh"), "report"], stdout=sys.stderr)
    classreport.write(grades.out, grades.subs, grades.labs)
