"""stdout: the gradebook as a table, the notes of each submission, and the run's figures."""
from .common import notes, points


def write(grades):
    subs, labs = grades.subs, grades.labs
    width = max([len(s.name) for s in subs] + [7])
    print(f"{'student':<{width}}" + "".join(f"{'lab' + str(n):>7}" for n in labs) + f"{'total':>8}")
    for sub in subs:
        print(f"{sub.name:<{width}}" + "".join(f"{points(sub.results[n].score):>7}" for n in labs)
              + f"{points(sub.total()):>8}")
    for sub in subs:
        for note in notes(sub, labs):
            print(f"  {sub.name}: {note}")
    seconds = grades.seconds
    print(f"graded {len(subs)} submission(s), lab(s) {', '.join(map(str, labs))}, in {seconds:.1f} s "
          f"({seconds / max(1, len(subs)):.1f} s per submission, {grades.jobs} job(s)); "
          f"grades in {grades.out}")
