"""Taking submissions in: folders and archives, unpacked safely, each lab staged apart.

A submission is a folder holding ``labN/`` folders, or a copy of the kit holding
``labs/labN/``, or a ``.zip``/``.tar.gz`` of either (one wrapping folder is fine;
loose ``hello_server.c``-style files are taken for the lab they belong to).  What is
wrong with one (no lab folder, a file name outside its folder, a symbolic link, an
archive that does not unpack) becomes a note of that submission; it never stops a run.
"""
import os
import pathlib
import shutil
import stat
import tarfile
import zipfile
import zlib

from harness.registry import LABS

#: What a submission may hold: bytes per file, files, bytes in all (unpacked).
MAX_FILE = 1 << 20
MAX_FILES = 500
MAX_TOTAL = 64 << 20
ARCHIVES = (".zip", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tar.xz")


class Submission:
    """One student's work: where it came from, its lab folders once staged, its results."""

    def __init__(self, index, name, path):
        self.index = index
        self.name = name
        self.path = pathlib.Path(path)
        self.folders = {}      # lab -> staged folder (root-only copy)
        self.problems = []     # about the whole submission
        self.notes = {}        # lab -> [str]
        self.results = {}      # lab -> harness.results.LabResult
        self.junit = {}        # lab -> its <testsuite> element (pytest's JUnit report)
        self.first = None      # when its first grading started (time.monotonic())
        self.seconds = 0.0     # from then to the end of its last grading
        self.done = 0          # its gradings finished

    def total(self):
        return sum(r.score for r in self.results.values())


def student_name(path):
    name = path.name
    for ext in ARCHIVES + (".zip",):
        if name.lower().endswith(ext):
            return name[:-len(ext)] or name
    return name


def safe_member(name):
    """The relative path an archive member may be unpacked to, or None when it points outside."""
    name = name.replace("\\", "/")
    if "\0" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return pathlib.PurePosixPath(*parts)


def unpack(archive, dest, problems):
    """Unpack a .zip or tar archive into ``dest`` safely; False when it cannot be unpacked."""
    dest.mkdir(parents=True, exist_ok=True)
    total = [0, 0]

    def put(rel, reader, size):
        if total[1] >= MAX_FILES or total[0] + size > MAX_TOTAL or size > MAX_FILE:
            problems.append(f"{rel}: left out (over {MAX_FILE >> 10} KiB, or the archive holds too much)")
            return
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "wb") as f:
            f.write(reader.read(MAX_FILE + 1)[:MAX_FILE])
        total[0] += size
        total[1] += 1

    outside = []
    try:
        lower = archive.name.lower()
        if lower.endswith(".zip") or (not lower.endswith(ARCHIVES) and zipfile.is_zipfile(archive)):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    rel = safe_member(info.filename)
                    if rel is None:
                        outside.append(info.filename)
                    elif info.is_dir():
                        (dest / rel).mkdir(parents=True, exist_ok=True)
                    elif stat.S_ISLNK(info.external_attr >> 16):
                        problems.append(f"{info.filename}: a symbolic link, left out")
                    else:
                        with zf.open(info) as reader:
                            put(rel, reader, info.file_size)
        else:
            with tarfile.open(archive, "r:*") as tf:
                for member in tf:
                    rel = safe_member(member.name)
                    if rel is None:
                        outside.append(member.name)
                    elif member.isdir():
                        (dest / rel).mkdir(parents=True, exist_ok=True)
                    elif member.isfile():
                        put(rel, tf.extractfile(member), member.size)
                    else:
                        problems.append(f"{member.name}: a link or special file, left out")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, tarfile.TarError, EOFError, zlib.error,
            OSError, ValueError, NotImplementedError) as exc:
        problems.append(f"the archive {archive.name} could not be unpacked ({exc or type(exc).__name__}); "
                        "submit a .zip or .tar.gz of your labN folders")
        return False
    for name in outside:
        problems.append(f"{name!r}: a file name outside its folder, left out")
    return True


def find_labs(base, depth=0):
    """{lab: folder} in ``base``: labN/, labs/labN/, loose program files, or one wrapping folder."""
    found = {}
    for n in LABS:
        for folder in (base / f"lab{n}", base / "labs" / f"lab{n}"):
            if folder.is_dir() and not folder.is_symlink():
                found[n] = folder
                break
    if found:
        return found
    for n, spec in LABS.items():
        if any((base / source).is_file() for source in spec.sources):
            found[n] = base
    if found:
        return found
    try:
        inner = [d for d in base.iterdir() if d.is_dir() and not d.is_symlink()
                 and not d.name.startswith((".", "__MACOSX"))]
    except OSError:
        return {}
    if len(inner) == 1 and depth < 3:
        return find_labs(inner[0], depth + 1)
    return {}


def stage_lab(n, folder, dest, notes):
    """Copy the plain files of a lab folder to ``dest`` (symbolic links and folders left out)."""
    dest.mkdir(parents=True)
    programs = LABS[n].programs
    loose = folder.name != f"lab{n}"
    seen = []
    count = 0
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if loose and not (entry.name in {p + ".c" for p in programs} or entry.name.endswith(".h")):
            continue
        if entry.is_symlink():
            notes.append(f"{entry.name}: a symbolic link, left out (submit plain files)")
        elif entry.is_file():
            seen.append(entry.name)
            size = entry.stat().st_size
            if size > MAX_FILE or count >= MAX_FILES:
                notes.append(f"{entry.name}: left out (over {MAX_FILE >> 10} KiB, or too many files)")
                continue
            shutil.copyfile(entry.path, dest / entry.name)
            count += 1
    missing = [p + ".c" for p in programs if not (dest / (p + ".c")).exists()]
    if missing:
        others = ", ".join(s for s in seen if s not in {p + ".c" for p in programs}) or "nothing else"
        notes.append(f"lab {n}: no {' or '.join(missing)} (C sources named as in the handout; "
                     f"found {others})")
    return len(missing) < len(programs)  # something to grade


def prepare(sub, work, labs):
    """Unpack and stage a submission; record what is wrong with it."""
    base = sub.path
    if not base.exists():
        sub.problems.append(f"{base}: no such file or folder")
        return
    if base.is_file():
        if not (base.name.lower().endswith(ARCHIVES) or zipfile.is_zipfile(base)
                or tarfile.is_tarfile(base)):
            sub.problems.append(f"{base.name}: not a folder and not an archive (.zip, .tar.gz)")
            return
        unpacked = work / "unpacked"
        if not unpack(base, unpacked, sub.problems):
            return
        base = unpacked
    found = find_labs(base)
    if not found:
        sub.problems.append(f"no lab folder found (expected {' or '.join(s.name + '/' for s in LABS.values())}, "
                            "or labs/labN/)")
    for n in labs:
        notes = sub.notes.setdefault(n, [])
        if n not in found:
            if found:
                notes.append(f"lab {n}: no lab{n} folder in the submission")
            continue
        if stage_lab(n, found[n], work / f"lab{n}", notes):
            sub.folders[n] = work / f"lab{n}"


def submissions(paths, roster):
    """The :class:`Submission` list of ``paths`` and of every entry of the folder ``roster``,
    each named after its file (a name taken twice gets ``-2``, ``-3``...)."""
    named = [(student_name(pathlib.Path(p).resolve()) or "submission", pathlib.Path(p))
             for p in paths]
    if roster:
        named += [(student_name(entry), entry) for entry in sorted(pathlib.Path(roster).iterdir())
                  if not entry.name.startswith(".")]
    names, subs = set(), []
    for i, (name, path) in enumerate(named):
        base, k = name, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.add(name)
        subs.append(Submission(i, name, path))
    return subs
