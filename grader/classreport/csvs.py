"""checks.csv and similarity.csv: the report's figures for a spreadsheet (the same numbers
as class.html: both are written from data.py's and similarity.py's objects)."""
import csv
import io

from harness.results import write_whole


def table(header, rows):
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def write_checks(path, analysis, labs):
    """One row per check, each lab's most-failed first (as the page lists them)."""
    rows = []
    for n in labs:
        for c in analysis[n]:
            top = c.top_hints()
            hint, count = top[0] if top else ("", 0)
            rows.append([c.name, n, f"{c.points:g}", c.graded, c.passed, f"{c.pass_rate:g}",
                         hint, count])
    write_whole(path, table(["check", "lab", "points", "graded", "passed", "pass_rate_percent",
                             "top_hint", "top_hint_count"], rows))


def write_similarity(path, pairs):
    """Every pair sharing at least one run, the most alike first; ``flagged`` as on the page."""
    rows = [[p.lab, p.a, p.b, f"{p.share:g}", p.shared, p.tokens_a, p.tokens_b, len(p.runs),
             "yes" if p.flagged else "no"] for p in pairs]
    write_whole(path, table(["lab", "student_a", "student_b", "share_percent", "shared_tokens",
                             "tokens_a", "tokens_b", "runs", "flagged"], rows))
