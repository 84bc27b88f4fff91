"""Rosters for the class report's tests and bench: known submissions, copies in disguise.

- :func:`disguise`: a C file with every identifier of the student's own renamed and two
  functions swapped, as a student hiding a copy would do;
- :func:`known_roster`: the small class the browser test grades (solution, skeleton,
  mutants, two disguised copies of one from-scratch submission);
- :func:`generated_roster`: a class of N lab folders that look like students' work (the
  skeleton's TODOs filled in each student's own way, a few copies among them), for
  timing the report without grading N submissions.
"""
import pathlib
import random
import re
import shutil
import subprocess
import sys

TESTS = pathlib.Path(__file__).resolve().parent
GRADER = TESTS.parent
ROOT = GRADER.parent
sys.path.insert(0, str(GRADER))

from harness.mutants import Mutant  # noqa: E402

C_KEYWORDS = set("""auto break case char const continue default do double else enum extern float
for goto if inline int long register restrict return short signed sizeof static struct switch
typedef union unsigned void volatile while _Bool _Complex _Imaginary main""".split())
WORD = re.compile(r"\b[A-Za-z_]\w*\b")


def library_names(text):
    """Every name the file's #include lines bring (declarations and macros), per gcc -E."""
    includes = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    names = set()
    for flags in (["-E"], ["-E", "-dM"]):
        proc = subprocess.run(["cc", *flags, "-x", "c", "-"], input=includes, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True)
        names |= set(WORD.findall(proc.stdout))
    return names


def strip_strings(line):
    return re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'', '""', line)


def disguise(text, salt):
    """``text`` with the student's own identifiers renamed (``salt`` picks the new names),
    comments dropped and its first two functions swapped."""
    known = library_names(text) | C_KEYWORDS
    code = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    code = re.sub(r"//[^\n]*", "", code)
    own = []
    for line in code.splitlines():
        if line.startswith("#"):
            continue
        for word in WORD.findall(strip_strings(line)):
            if word not in known and word not in own:
                own.append(word)
    rng = random.Random(salt)
    new = {w: f"{rng.choice(['x', 'v', 'q', 'tmp', 'my'])}{salt}_{i}" for i, w in enumerate(own)}

    def rename(line):
        if line.startswith("#"):
            return line
        parts = re.split(r'("(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\')', line)
        return "".join(p if k % 2 else WORD.sub(lambda m: new.get(m.group(0), m.group(0)), p)
                       for k, p in enumerate(parts))
    lines = [rename(line) for line in code.splitlines()]
    return swap_functions("\n".join(lines) + "\n")


def swap_functions(text):
    """The first two `static` functions (definitions) of ``text`` in the other order."""
    blocks = list(re.finditer(r"^static [^;{]*\)\s*\{.*?^\}\n", text, flags=re.S | re.M))
    if len(blocks) < 2:
        return text
    a, b = blocks[0], blocks[1]
    return text[:a.start()] + b.group(0) + text[a.end():b.start()] + a.group(0) + text[b.end():]


def known_roster(root, lab=1, mutants=("socket_not_closed", "wrong_tcp_word", "lenient_arguments")):
    """The browser test's class (lab 1): {student: what they are}."""
    root = pathlib.Path(root)
    roster = {}
    shutil.copytree(ROOT / "solutions" / f"lab{lab}", root / "solution" / f"lab{lab}")
    roster["solution"] = "the reference solution"
    shutil.copytree(ROOT / "labs" / f"lab{lab}", root / "skeleton" / f"lab{lab}")
    roster["skeleton"] = "the skeleton, untouched"
    for name in mutants:
        Mutant(GRADER / "mutants" / f"lab{lab}" / f"{name}.toml").apply(root / f"mutant-{name}")
        roster[f"mutant-{name}"] = f"the solution with one mistake ({name})"
    bob = TESTS / "classroster" / "bob" / f"lab{lab}"
    for salt, name in ((1, "carol"), (2, "dave")):
        (root / name / f"lab{lab}").mkdir(parents=True)
        for src in bob.glob("*.c"):
            (root / name / f"lab{lab}" / src.name).write_text(disguise(src.read_text(), salt))
        roster[name] = "bob's from-scratch lab, identifiers renamed and functions reordered"
    return roster


# -- a generated class ----------------------------------------------------------------
NAMES = ["n", "rc", "tmp", "i", "count", "err", "buf", "len", "left", "p", "fd", "addr"]


def expression(rng, depth=0):
    """A random C expression: what a student's own lines are made of."""
    pick = rng.random()
    if depth > 1 or pick < 0.35:
        return rng.choice([rng.choice(NAMES), str(rng.randint(0, 99)), f"{rng.choice(NAMES)}[{rng.choice(NAMES)}]",
                           f"{rng.choice(NAMES)}->{rng.choice(NAMES)}", f"sizeof {rng.choice(NAMES)}",
                           f"&{rng.choice(NAMES)}", f"(size_t){rng.choice(NAMES)}"])
    if pick < 0.7:
        op = rng.choice(["+", "-", "*", "/", "%", "<<", "&", "|"])
        return f"{expression(rng, depth + 1)} {op} {expression(rng, depth + 1)}"
    args = ", ".join(expression(rng, depth + 1) for _ in range(rng.randint(0, 3)))
    return f"{rng.choice(['check', 'strlen', 'memcpy', 'report', 'fix', 'htons', 'ntohs'])}({args})"


def statement(rng, depth=0):
    """A random C statement of varied shape (no two students write the same by chance)."""
    v = rng.choice(NAMES)
    cond = (f"{expression(rng)} {rng.choice(['<', '>', '==', '!=', '<=', '>='])} "
            f"{expression(rng)}")
    forms = [f"{rng.choice(['int', 'long', 'size_t', 'ssize_t'])} {v}_{rng.randint(0, 9)} = {expression(rng)};",
             f"{v} = {expression(rng)};", f"{v} {rng.choice(['+=', '-=', '|='])} {expression(rng)};",
             f"{expression(rng)};"]
    if depth == 0:
        forms += [f"if ({cond}) {{ {statement(rng, 1)} }}", f"while ({cond}) {{ {statement(rng, 1)} }}"]
    return rng.choice(forms)


def student_fill(rng, fill):
    """A TODO's answer as one student might write it: the reference's lines, some kept,
    some rewritten, with statements of their own in between."""
    out = []
    for line in fill:
        if rng.random() < 0.7:
            out.append(line)
        for _ in range(rng.randint(0, 2)):
            out.append("    " + statement(rng))
    return out


def fills(solution_text):
    """[(lines before, [solution lines])...] of a solution file with skeleton markers; the
    skeleton's text comes from the `$skeleton:` lines (as tools/skeletons.py cuts it)."""
    pieces, before, fill, inside = [], [], [], False
    for line in solution_text.splitlines():
        stripped = line.strip()
        if stripped.startswith("// $skeleton:"):
            continue
        if stripped == "// $begin solution":
            inside = True
            continue
        if stripped == "// $end solution":
            pieces.append((before, fill))
            before, fill, inside = [], [], False
            continue
        (fill if inside else before).append(line)
    pieces.append((before, []))
    return pieces


def generated_roster(root, count, labs=(1, 2, 3, 4, 5), copies=0.05, seed=7):
    """``count`` students' folders under ``root``, each lab the solution's frame with the
    TODOs answered in the student's own way; a share ``copies`` of them disguised copies
    of another student.  Returns {copy: original}."""
    rng = random.Random(seed)
    root = pathlib.Path(root)
    names = [f"student{k:03d}" for k in range(count)]
    copied = {}
    for k, name in enumerate(names):
        original = names[rng.randrange(k)] if k and rng.random() < copies else None
        for n in labs:
            folder = root / name / f"lab{n}"
            folder.mkdir(parents=True)
            for src in sorted((ROOT / "solutions" / f"lab{n}").glob("*.c")):
                if original:
                    text = (root / original / f"lab{n}" / src.name).read_text()
                    text = swap_functions(re.sub(r"\b(n|rc|tmp|count|err)\b", r"\1_", text))
                else:
                    lines = []
                    for before, fill in fills(src.read_text()):
                        lines += before + student_fill(rng, fill)
                    text = "\n".join(lines) + "\n"
                (folder / src.name).write_text(text)
        if original:
            copied[name] = original
    return copied
