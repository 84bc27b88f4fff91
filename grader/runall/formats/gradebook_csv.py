"""``gradebook.csv``: one row per student, one column per lab, and the total."""
import csv
import io

from harness.results import write_whole

from .common import points


def write(grades):
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(["student"] + [f"lab{n}" for n in grades.labs] + ["total"])
    for sub in grades.subs:
        writer.writerow([sub.name] + [points(sub.results[n].score) for n in grades.labs]
                        + [points(sub.total())])
    write_whole(grades.out / "gradebook.csv", table.getvalue())
