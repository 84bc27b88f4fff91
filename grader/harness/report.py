"""What a student reads: failures that say what was done, expected and got, and the checklist.

A check fails by raising :class:`CheckFailed` (usually through :func:`fail`);
the checks' plugin turns it into one block of the report.  Bytes are always
shown readably (``\\n``, ``\\x00``) and bounded, so a flood of output never
floods the report.
"""
import re
import textwrap

#: How many bytes of a value the report shows at most (head and tail).
SHOW_LIMIT = 160
#: How many lines of a program's stderr the report shows at most.
STDERR_LINES = 8


class CheckFailed(AssertionError):
    """A check's failure, with the evidence a student can act on."""

    def __init__(self, did, expected=None, got=None, hint=None, stderr=None, note=None):
        super().__init__(did)
        self.did = did
        self.expected = expected
        self.got = got
        self.hint = hint
        self.stderr = stderr
        self.note = note

    def render(self):
        """The failure as indented text lines."""
        rows = [("did", self.did), ("expected", self.expected), ("got", self.got)]
        if self.stderr is not None:
            rows.append(("stderr", stderr_tail(self.stderr)))
        rows += [("note", self.note), ("hint", self.hint)]
        out = []
        for label, value in rows:
            if value is None or value == "":
                continue
            lines = str(value).splitlines() or [""]
            out.append(f"  {label + ':':<10}{lines[0]}")
            out.extend(" " * 12 + line for line in lines[1:])
        return "\n".join(out)


def fail(did, expected=None, got=None, hint=None, stderr=None, note=None):
    """Fail the running check with evidence (see :class:`CheckFailed`)."""
    raise CheckFailed(did, expected, got, hint, stderr, note)


_ESCAPES = {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t", 0x00: "\\0", 0x5C: "\\\\"}


def _escape(data):
    return "".join(_ESCAPES.get(b, chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}") for b in data)


def show(data, limit=None):
    """Bytes (or text) shown readably in quotes, bounded: ``"Hello\\n"`` or ``(nothing)``.

    At most ``limit`` characters of escaped text are shown (``SHOW_LIMIT`` by default),
    half from the start and half from the end: binary bytes (``\\xff``, four characters
    each) are cut as early as text.
    """
    limit = limit or SHOW_LIMIT
    if data is None:
        return "(nothing)"
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    if not data:
        return "(nothing: 0 bytes)"
    whole = _escape(data)
    if len(whole) <= limit:
        return '"' + whole + '"'
    half = limit // 2
    head, tail = _escaped_prefix(data, half), _escaped_prefix(data[::-1], half, reverse=True)
    return f'"{head}" ... "{tail}" ({len(data)} bytes in all)'


def _escaped_prefix(data, chars, reverse=False):
    """The escaped text of the first bytes of ``data`` that fit in ``chars`` characters
    (of the last ones, in their order, when ``data`` is given reversed)."""
    out, size = [], 0
    for b in data:
        piece = _escape(bytes([b]))
        if size + len(piece) > chars:
            break
        out.append(piece)
        size += len(piece)
    return "".join(reversed(out) if reverse else out)


def difference_at(expected, got):
    """The index of the first byte where two byte strings differ (None when equal)."""
    for i, (a, b) in enumerate(zip(expected, got)):
        if a != b:
            return i
    return None if len(expected) == len(got) else min(len(expected), len(got))


def lost_at_nul(expected, got):
    """True when ``got`` first parts from ``expected`` at a NUL byte of ``expected``: strlen's mark."""
    i = difference_at(expected, got)
    return i is not None and i < len(expected) and expected[i] == 0 and len(got) < len(expected)


def first_difference(expected, got):
    """Describe where two byte strings first differ, with a little context."""
    n = min(len(expected), len(got))
    for i in range(n):
        if expected[i] != got[i]:
            break
    else:
        i = n
        if len(expected) == len(got):
            return "they are equal"
    lo = max(0, i - 16)
    return (f"first difference at byte {i}: expected {show(expected[lo:i + 16])}, "
            f"got {show(got[lo:i + 16])}")


def stderr_tail(data, lines=STDERR_LINES):
    """The last lines of a program's stderr, readable and bounded."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    rows = [line for line in data.splitlines() if line.strip()]
    if not rows:
        return "(empty)"
    cut = rows[-lines:]
    shown = [line if len(line) <= 200 else line[:200] + " ..." for line in cut]
    if len(rows) > lines:
        shown.insert(0, f"... ({len(rows) - lines} earlier lines)")
    return "\n".join(shown)


def header(results):
    """Where the programs came from, where they were built, and how to run one by hand
    (``results`` is a harness.results.LabResult)."""
    lines = [f"programs from {results.source or '?'}"]
    if results.build:
        lines[0] += f", built into {results.build}/"
        if results.programs:
            run = f"{results.build}/{results.programs[0]}"
            lines.append(f"run one by hand: {'wine ' if run.endswith('.exe') else ''}{run} ... "
                         f"(arguments as in the handout)")
    if results.time_scale >= 1.5:
        lines.append(f"deadlines x{results.time_scale:g}: this machine was measured busy or slow "
                     f"at the start, so every deadline is that much longer")
    return lines


def render_checklist(results):
    """The student's checklist from a lab's results (a harness.results.LabResult)."""
    lab = results.lab
    out = [f"sockets-lab, lab {lab}: {results.title}".rstrip(": ")] + header(results) + [""]
    build = results.build_output.strip()
    if build:
        out.append("compiler output:")
        out.extend("  " + line for line in build.splitlines()[:40])
        out.append("")
    width = max([len(c.name) for c in results.checks] + [10])
    marks = {"passed": "PASS", "skipped": "SKIP"}
    for check in results.checks:
        mark = marks.get(check.status, "FAIL")
        out.append(f"  {mark}  {check.name:<{width}}  {check.score:>3g}/{check.max_score:g}")
    failed = [c for c in results.checks if c.status == "failed"]
    for group in group_failures(failed):
        first = group[0]
        if len(group) == 1:
            out += ["", f"FAIL {first.name} ({first.score:g}/{first.max_score:g}): {first.title}",
                    first.output]
            continue
        score = sum(c.score for c in group)
        most = sum(c.max_score for c in group)
        out += ["", f"FAIL {len(group)} checks failed the same way ({score:g}/{most:g}): "
                    + wrap(", ".join(c.name for c in group), 80).replace("\n", "\n     "),
                f"  (details of the first, {first.name}: {first.title})", first.output]
    skipped = [c for c in results.checks if c.status == "skipped"]
    for reason in dict.fromkeys(c.output for c in skipped):  # each reason once
        names = [c.name for c in skipped if c.output == reason]
        out += ["", f"SKIP {len(names)} check(s), NOT graded: " + wrap(", ".join(names)), reason]
    passed = len(results.checks) - len(failed) - len(skipped)
    out += ["", f"lab {lab}: {results.score:g}/{results.max_score:g} points "
                f"({passed} of {len(results.checks)} checks passed"
                + (f", {len(skipped)} not run on this machine" if skipped else "") + ")"]
    return "\n".join(out)


def failure_cause(output):
    """The root cause of a failure, from its rendered text: its ``hint:``, which the check
    chose from what it observed (None without a hint).  Two checks that did different
    things and drew the same conclusion failed the same way."""
    blocks, label = {}, None
    for line in output.splitlines():
        m = re.match(r"  (\w+):\s", line)
        if m:
            label = m.group(1)
        if label:
            blocks.setdefault(label, []).append(line)
    return "\n".join(blocks["hint"]) if "hint" in blocks else None


def group_failures(failed):
    """The failed checks in groups of one root cause (the same observation and hint), each
    group in the order of its first check: ``[[check, ...], ...]``.  A failure without a
    hint stands alone: nothing says its cause is the others'."""
    groups = {}
    for check in failed:
        cause = failure_cause(check.output)
        key = cause if cause is not None else id(check)
        groups.setdefault(key, []).append(check)
    return list(groups.values())


def wrap(text, width=88):
    """Wrap prose for the report."""
    return "\n".join(textwrap.wrap(re.sub(r"\s+", " ", text), width))
