"""What several outputs share: how points are written."""


def points(x):
    """Points as a person writes them: 100, 92.5."""
    return f"{x:g}"


def notes(sub, labs):
    """The notes of a submission: about it, then about each lab."""
    return sub.problems + [note for n in labs for note in sub.notes.get(n, [])]
