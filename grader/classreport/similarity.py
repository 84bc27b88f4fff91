"""Which submissions look copied: Debian's similarity-tester (``sim_c``), run locally.

For each lab:

1. each student's C sources of the lab are put in one file (the programs in the
   handout's order);
2. **what is expected is taken out**: ``sim_c -S`` compares every file with the lab's
   skeleton (what every student was handed) and its reference solution (what the handout
   leads an honest student to write in a short TODO) only, and the lines of every run
   they share go.  Each block taken out leaves a *barrier*, a few keywords that spell the
   student's number, so that no run can join two pieces of a student's own code that the
   expected code separated (a run must cross the same barrier in both files, and no two
   students have the same);
3. ``sim_c -e -s -n`` compares what is left pairwise.  sim_c compares tokens, with every
   identifier, number and string the same token: renaming variables hides nothing, and
   as a run may match anywhere in the other file, reordering functions hides nothing.

A pair's *share* is the tokens of the runs they share over the tokens of the smaller
of the two (what is left of it): 100 means one student's own code is all in the
other's.  A pair is flagged when its share is at least :data:`THRESHOLD` and it shares
at least :data:`MIN_SHARED` tokens: an honest solution of a short TODO is shorter than
that, and what the reference has is gone, so two of them are never flagged however
alike they must be.  The reference's code is never shown (:func:`hide_reference`).
"""
import concurrent.futures
import dataclasses
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

from harness.registry import LABS

#: sim_c's minimum run (tokens) when taking the expected code out: short, so that its
#: small pieces (an `if (x < 0) {`, a placeholder line) go too.
EXPECTED_RUN = 8
#: sim_c's minimum run (tokens) between two students (sim_c's default is 24).
PAIR_RUN = 20
#: A pair is flagged at this share (percent) of the smaller submission's own code ...
THRESHOLD = 50.0
#: ... when it shares at least this many tokens.
MIN_SHARED = 40
#: A passage that more than this share of the class has (and at least COMMON_MIN
#: students) is an idiom of the lab, not evidence.
COMMON = 0.10
COMMON_MIN = 4
#: The pairs the page shows side by side (the most alike first); similarity.csv has them all.
SHOWN_PAIRS = 30
#: Lines of each side the page shows per pair.
SHOWN_LINES = 80
#: Seconds sim_c may take for one lab.
SIM_TIMEOUT = 60
#: The keywords a barrier spells a student's number with (base 8).
DIGITS = ["auto", "break", "case", "char", "const", "continue", "default", "do"]
INSTALL = "apt-get install similarity-tester   (or: tools/setup.sh report)"


def missing():
    """None, or what this machine lacks to compare submissions."""
    return None if shutil.which("sim_c") else f"sim_c (Debian's similarity-tester): {INSTALL}"


@dataclasses.dataclass
class Run:
    """One run of code two students share: their lines (as submitted) and its tokens."""
    tokens: int
    a: list      # [(file, line number, text)]
    b: list

    def passages(self):
        """The run's text on each side as sim_c sees it (computed once)."""
        if not hasattr(self, "_passages"):
            self._passages = (passage(self.a), passage(self.b))
        return self._passages


@dataclasses.dataclass
class Pair:
    lab: int
    a: str
    b: str
    shared: int
    tokens_a: int
    tokens_b: int
    runs: list

    @property
    def share(self):
        smaller = min(self.tokens_a, self.tokens_b)
        return round(min(100.0, 100.0 * self.shared / smaller), 1) if smaller else 0.0

    @property
    def flagged(self):
        return self.share >= THRESHOLD and self.shared >= MIN_SHARED


def barrier(i):
    """A line of keywords that spells ``i`` (never found in real code, nor twice in a class)."""
    digits = []
    while True:
        digits.append(DIGITS[i % 8])
        i //= 8
        if not i:
            break
    return "goto goto " + " ".join(digits) + " goto goto\n"


def lab_text(folder, n):
    """[(file, line number, text)] of the lab's programs in ``folder`` (missing ones left out)."""
    lines = []
    for program in LABS[n].programs:
        path = pathlib.Path(folder) / f"{program}.c"
        try:
            text = path.read_text(errors="replace")
        except OSError:
            continue
        lines += [(path.name, k, line) for k, line in enumerate(text.splitlines(), 1)]
        lines.append((None, 0, ""))  # between two programs: a barrier
    return lines


RUN = re.compile(r"^(\S+): line (\d+)-(\d+)\s*\|(\S+): line (\d+)-(\d+)\s*\[(\d+)\]")
FILE = re.compile(r"^File (\S+): (\d+) tokens")


def sim(args, cwd):
    """sim_c's output for ``args`` (nothing, said on stderr, when it fails or takes too long:
    the lab's pairs are then missing, the rest of the report is not)."""
    try:
        proc = subprocess.run(["sim_c", *args], cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, errors="replace",
                              timeout=SIM_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"class report: sim_c failed ({exc}); similarity left out for {cwd.name}",
              file=sys.stderr, flush=True)
        return ""
    return proc.stdout


def strip_expected(texts, expected, work):
    """{index: [(file, line, text) or None for a barrier]}: each student's lines without
    the runs they share with the ``expected`` texts (the skeleton, the reference)."""
    names = []
    for i, lines in texts.items():
        (work / f"n{i}.c").write_text("".join(t + "\n" for _f, _k, t in lines))
        names.append(f"n{i}.c")
    olds = []
    for k, lines in enumerate(expected):
        if lines:
            (work / f"old{k}.c").write_text("".join(t + "\n" for _f, _k, t in lines))
            olds.append(f"old{k}.c")
    gone = {i: set() for i in texts}
    if olds and names:
        for line in sim(["-S", "-n", "-r", str(EXPECTED_RUN), *names, "/", *olds],
                        work).splitlines():
            m = RUN.match(line)
            if m and m.group(1).startswith("n"):
                gone[int(m.group(1)[1:-2])].update(range(int(m.group(2)), int(m.group(3)) + 1))
    stripped = {}
    for i, lines in texts.items():
        kept = []
        for k, entry in enumerate(lines, 1):
            if k in gone[i] or entry[0] is None:
                if kept and kept[-1] is not None:
                    kept.append(None)
            else:
                kept.append(entry)
        stripped[i] = kept
    return stripped


def compare_lab(n, sources, expected_dirs, work):
    """[Pair] of lab ``n`` (every pair sharing at least one run), from {student: folder};
    the code of ``expected_dirs`` (the skeleton's and the reference's lab folders) taken out."""
    names = sorted(sources)
    texts = {i: lab_text(sources[name], n) for i, name in enumerate(names)}
    texts = {i: t for i, t in texts.items() if any(f for f, _k, _t in t)}
    expected = [lab_text(d, n) for d in expected_dirs]
    stripped = strip_expected(texts, expected, work)
    files = []
    for i, kept in stripped.items():
        body = "".join(barrier(i) if e is None else e[2] + "\n" for e in kept)
        (work / f"s{i}.c").write_text(body)
        files.append(f"s{i}.c")
    if len(files) < 2:
        return []
    out = sim(["-e", "-s", "-n", "-r", str(PAIR_RUN), *files], work)
    tokens = {}
    pairs = {}
    for line in out.splitlines():
        m = FILE.match(line)
        if m and m.group(1).startswith("s"):
            i = int(m.group(1)[1:-2])
            barriers = sum(e is None for e in stripped[i])
            words = len(barrier(i).split())
            tokens[i] = max(0, int(m.group(2)) - barriers * words)
            continue
        m = RUN.match(line)
        if not m:
            continue
        i, j = int(m.group(1)[1:-2]), int(m.group(4)[1:-2])
        if i == j:
            continue
        if i > j:
            i, j = j, i
            a_lines, b_lines = (int(m.group(5)), int(m.group(6))), (int(m.group(2)), int(m.group(3)))
        else:
            a_lines, b_lines = (int(m.group(2)), int(m.group(3))), (int(m.group(5)), int(m.group(6)))
        run = Run(int(m.group(7)), lines_of(stripped[i], *a_lines), lines_of(stripped[j], *b_lines))
        pairs.setdefault((i, j), []).append(run)
    common = common_passages(pairs, len(texts))
    result = []
    for (i, j), runs in pairs.items():
        runs = [r for r in runs if not common.intersection(r.passages())]
        if runs:
            smaller = min(tokens.get(i, 0), tokens.get(j, 0))
            result.append(Pair(n, names[i], names[j], min(shared_tokens(runs), smaller),
                               tokens.get(i, 0), tokens.get(j, 0),
                               sorted(runs, key=lambda r: r.a[0][1] if r.a else 0)))
    return result


def shared_tokens(runs):
    """The tokens two students share: each side's runs counted once where sim_c matched
    one passage of a side with several of the other (repetitive code), the smaller side."""
    sides = []
    for side in ("a", "b"):
        seen = {}
        for r in runs:
            lines = getattr(r, side)
            key = (lines[0][:2], lines[-1][:2]) if lines else None
            seen[key] = max(seen.get(key, 0), r.tokens)
        sides.append(sum(seen.values()))
    return min(sides)


IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*\b")
C_WORDS = set("""auto break case char const continue default do double else enum extern float
for goto if inline int long register restrict return short signed sizeof static struct switch
typedef union unsigned void volatile while""".split())


def passage(lines):
    """A run's text as sim_c sees it (identifiers, numbers, strings alike; no spaces)."""
    text = " ".join(t or "" for _f, _k, t in lines)
    text = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'', "S", text)
    text = IDENTIFIER.sub(lambda m: m.group(0) if m.group(0) in C_WORDS else "I", text)
    return re.sub(r"\s+", "", re.sub(r"\b\d\w*", "I", text))


def common_passages(pairs, students):
    """The passages that more than :data:`COMMON` of the class share, by several hands: an
    idiom of the lab, not a copy (MOSS's -m), never evidence."""
    holders = {}
    for (i, j), runs in pairs.items():
        for r in runs:
            pa, pb = r.passages()
            holders.setdefault(pa, set()).add(i)
            holders.setdefault(pb, set()).add(j)
    limit = max(COMMON_MIN, COMMON * students)
    return {p for p, who in holders.items() if len(who) > limit}


def lines_of(kept, first, last):
    """The submitted lines behind lines ``first``..``last`` of a stripped file."""
    return [e for e in kept[first - 1:last] if e is not None]


def compare(students, labs, skeleton_root, reference_root=None):
    """[Pair] of every lab, the most alike first.  ``students`` are data.Student; the
    labs' folders under ``skeleton_root`` and ``reference_root`` hold what is expected."""
    if missing():
        return []
    shm = pathlib.Path("/dev/shm")  # many small files: in memory where the machine has it
    work = pathlib.Path(tempfile.mkdtemp(prefix="sockets-lab-sim-",
                                         dir=shm if shm.is_dir() and os.access(shm, os.W_OK) else None))

    def one_lab(n):
        sources = {s.name: s.sources[n] for s in students if n in s.sources}
        if len(sources) < 2:
            return []
        lab_work = work / f"lab{n}"
        lab_work.mkdir()
        expected = [pathlib.Path(root) / f"lab{n}" for root in (skeleton_root, reference_root)
                    if root and (pathlib.Path(root) / f"lab{n}").is_dir()]
        return compare_lab(n, sources, expected, lab_work)
    try:  # two labs at once: one's sim_c runs while the other's Python works
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            pairs = [p for found in pool.map(one_lab, labs) for p in found]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return sorted(pairs, key=lambda p: (-p.flagged, -p.share, -p.shared, p.lab, p.a, p.b))


def hide_reference(pairs, reference_root, skeleton_root):
    """Replace, in the runs shown, every line of the reference solution that the skeleton
    does not have by a marker: the page never shows the reference's code.  Returns
    {(lab, a, b): lines hidden}."""
    hidden = {}
    for p in pairs:
        ref = norm_lines(pathlib.Path(reference_root) / f"lab{p.lab}", p.lab) if reference_root else set()
        skel = norm_lines(pathlib.Path(skeleton_root) / f"lab{p.lab}", p.lab) if skeleton_root else set()
        secret = ref - skel
        count = 0
        for run in p.runs:
            for side in (run.a, run.b):
                for k, (f, line, text) in enumerate(side):
                    if norm(text) in secret:
                        side[k] = (f, line, None)
                        count += 1
        hidden[(p.lab, p.a, p.b)] = count
    return hidden


_NORM_CACHE = {}


def norm(text):
    return re.sub(r"\s+", " ", text).strip()


def norm_lines(folder, n):
    key = (str(folder), n)
    if key not in _NORM_CACHE:
        _NORM_CACHE[key] = {norm(t) for f, _k, t in lab_text(folder, n)
                            if f and len(norm(t)) > 3 and norm(t) not in ("{", "}", "};")}
    return _NORM_CACHE[key]
