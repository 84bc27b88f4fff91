"""Lab 6's Windows programs: cross-compiled with mingw-w64, run under Wine.

The grader manages Wine itself, so that a student never has to:

- a *template* prefix (Wine's fake Windows directory) is created once, with
  ``wineboot``, and cached in ``build/.wine-prefix``.  Wine copies each of its
  DLLs into a new prefix (about 700 MB); the template replaces those copies by
  symbolic links to Wine's own files, which leaves about 13 MB;
- each grading (:class:`Session`) copies the template into its build folder:
  a prefix of its own, so two gradings never share a ``wineserver`` (one's
  ``wineserver -k`` would kill the other's programs), owned by the user the
  programs run as (Wine refuses a prefix that is not its user's);
- the session starts ``wineserver -p`` (persistent, in the background, ready when
  the command returns) and warms Wine up once with
  a small program whose output goes to /dev/null: the first program after a
  fresh ``wineserver`` starts Wine's helper processes (services.exe, ...), which
  inherit its stdout and stderr, and a check reading those pipes to their end
  would wait for the helpers to exit.  Later programs start in about 0.1 s;
- :meth:`Session.close` (at the end of the pytest session, or at exit) stops
  ``wineserver`` with ``-k``, which ends every program of the prefix.

``WINEDEBUG=-all`` silences Wine's own messages; mscoree and mshtml (.NET and the
HTML engine, which Wine offers to download) and the menu builder are disabled, and so is
winedbg, the debugger Wine starts when a program crashes: the program then ends at once
with its status (a page fault: 5), where winedbg attached to it and to every process of the
prefix, wrote its report into the program's own pipes, and once (a CI run on a very busy
machine: a crash inside Wine, in a correct server) left the prefix unable to run anything
more, so that every later check of the lab failed.
"""
import atexit
import fcntl
import filecmp
import os
import pathlib
import shutil
import subprocess
import threading

from . import proc, proctree, reaper, sandbox, timing

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
#: The mingw-w64 cross compiler for 64-bit Windows (Debian: gcc-mingw-w64-x86-64).
MINGW_CC = "x86_64-w64-mingw32-gcc"
#: What to type when a tool is missing.
INSTALL = ("sudo apt-get install gcc-mingw-w64-x86-64 wine64 wine64-preloader   "
           "(or `make setup-windows`, which runs tools/setup.sh)")
#: Where Wine's own Windows DLLs live (Debian's wine64); the template links to them.
WINE_DLL_DIRS = ["/usr/lib/x86_64-linux-gnu/wine/x86_64-windows",
                 "/usr/lib/x86_64-linux-gnu/wine/i386-windows",
                 "/usr/lib/wine/x86_64-windows", "/usr/lib/wine/i386-windows"]
#: Files of a prefix that belong to one running wineserver, never copied.
PRIVATE_FILES = {"wineserver"}
#: What Wine needs beyond the sandbox's limits (harness/sandbox.py) under grader/run_all:
#: room for its server's and helpers' threads, which count as the user's processes.
LIMITS = {"nproc": 256}


def _which(name, *fallbacks):
    for candidate in (shutil.which(name),) + fallbacks:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def wine64():
    """Path of the wine64 loader, or None."""
    return _which("wine64", "/usr/lib/wine/wine64")


def wineserver():
    """Path of wineserver, or None."""
    return _which("wineserver", "/usr/lib/wine/wineserver")


def preloader():
    """Path of Wine's preloader beside the wine64 loader (where Wine looks for it), or None.

    Without it (Debian packages it apart, as wine64-preloader, and only suggests it) the
    loader runs where the kernel put it, and the kernel starts its heap at a random place
    in a 1 GB range that holds 0x7ffe0000, the fixed address of the page Wine shares with
    every program.  About one program in several thousand finds its heap there: it
    exits with status 1 before its main() and says nothing (WINEDEBUG=-all silences
    "failed to map the shared user data").  A grading runs about a hundred programs; a
    class, thousands.  The preloader reserves Wine's addresses before anything is mapped.
    """
    loader = wine64()
    if not loader:
        return None
    path = os.path.join(os.path.dirname(os.path.realpath(loader)), "wine64-preloader")
    return path if os.access(path, os.X_OK) else None


def missing():
    """The tools lab 6 needs that this machine lacks (an empty list when none is missing)."""
    lacking = []
    if not shutil.which(MINGW_CC):
        lacking.append(f"the cross compiler {MINGW_CC} (package gcc-mingw-w64-x86-64)")
    if not wine64() or not wineserver():
        lacking.append("Wine (package wine64)")
    elif not preloader():
        lacking.append("Wine's preloader (package wine64-preloader; without it about one Windows "
                       "program in several thousand fails to start, which would cost points)")
    return lacking


def env(prefix):
    """The Wine part of a program's environment, for the prefix ``prefix``."""
    return {"WINEPREFIX": str(prefix), "WINEDEBUG": "-all",
            "WINEDLLOVERRIDES": "mscoree,mshtml=;winemenubuilder.exe=d;winedbg.exe=d"}


def template_path():
    """Where the template prefix is: $GRADER_WINE_TEMPLATE, else build/.wine-prefix."""
    return pathlib.Path(os.environ.get("GRADER_WINE_TEMPLATE") or ROOT / "build" / ".wine-prefix")


def template(timeout=120):
    """The template prefix, created the first time (about 8 s); returns its path.

    Parallel graders wait for one another on a lock file; the prefix is built
    under a temporary name and renamed when complete, so it is whole or absent.
    """
    path = template_path()
    if (path / "system.reg").exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / (path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (path / "system.reg").exists():
            return path
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(mode=0o755)
        run_env = dict(os.environ, **env(tmp))
        quiet = dict(stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, env=run_env)
        try:
            subprocess.run([wine64(), "wineboot", "--init"], timeout=timeout, **quiet)
            # wineboot returns before wineserver has written the registry: -w waits for that.
            subprocess.run([wineserver(), "-w"], timeout=60, **quiet)
        except subprocess.TimeoutExpired:
            subprocess.run([wineserver(), "-k"], timeout=30, **quiet)
            shutil.rmtree(tmp, ignore_errors=True)
            raise RuntimeError(f"Wine did not create its prefix within {timeout} s")
        if not (tmp / "system.reg").exists():
            shutil.rmtree(tmp, ignore_errors=True)
            raise RuntimeError("wineboot did not create a Wine prefix")
        link_wine_dlls(tmp)
        for name in PRIVATE_FILES:
            (tmp / name).unlink(missing_ok=True)
        for entry in [tmp] + list(tmp.rglob("*")):  # readable by the users programs run as
            if not entry.is_symlink():
                entry.chmod(0o755 if entry.is_dir() else 0o644)
        os.replace(tmp, path)
    return path


def link_wine_dlls(prefix):
    """Replace each file of ``prefix`` that is a copy of one of Wine's DLLs by a link to it."""
    known = {}
    for folder in WINE_DLL_DIRS:
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                known.setdefault(name.lower(), []).append(os.path.join(folder, name))
    for folder, _dirs, files in os.walk(prefix):
        for name in files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                continue
            for original in known.get(name.lower(), []):
                if (os.path.getsize(original) == os.path.getsize(path)
                        and filecmp.cmp(original, path, shallow=False)):
                    os.unlink(path)
                    os.symlink(original, path)
                    break


class Session:
    """A private prefix in ``folder`` with its wineserver up, for one grading."""

    def __init__(self, folder):
        self.prefix = pathlib.Path(folder) / ".wine-prefix"
        self.server = None  # the pid of its wineserver, once started
        self._closed = False
        source = template()
        shutil.rmtree(self.prefix, ignore_errors=True)
        shutil.copytree(source, self.prefix, symlinks=True,
                        ignore=lambda _dir, names: [n for n in names if n in PRIVATE_FILES])
        uid = sandbox.student_uid()
        if uid is not None:  # grader/run_all: the prefix belongs to the student's user
            for entry in [self.prefix] + list(self.prefix.rglob("*")):
                os.lchown(entry, uid, uid)
        self.env = env(self.prefix)
        # Wine's own processes stay up between checks (run_all kills the rest after each),
        # from the start: a check that ends during the warm-up must not kill them.
        sandbox.spare_wine(True)
        # Wine warms up (about 1.5 s) while the programs build and the first checks run.
        self._error = None
        self._thread = threading.Thread(target=self._start_quietly, daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def _start_quietly(self):
        try:
            self._start()
        except (OSError, subprocess.SubprocessError) as exc:
            self._error = exc

    def server_pid(self):
        """The pid of this session's wineserver (it holds a descriptor per open socket)."""
        self.wait_ready()
        return self.server if self.server is not None else -1

    def wait_ready(self):
        """Wait until Wine is warm; return None, or the error that stopped it from starting."""
        self._thread.join(timing.seconds(90))
        if self._thread.is_alive():
            return "Wine did not start within 90 s"
        return self._error

    def _process_env(self):
        """The environment of Wine's own processes (wineserver, the warm-up)."""
        return dict({"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/nonexistent", "LC_ALL": "C"},
                    **self.env)

    def _spared_run(self, argv, timeout):
        """Run one of Wine's commands to its end, quietly, spared meanwhile by run_all's kill
        after each check (held back until it is spared: Wine starts from a thread while the
        checks go on, and a command that is still becoming Wine's does not look like it)."""
        reaper.watching()  # a persistent wineserver must not outlive a grading killed outright
        with sandbox.starting():
            command = subprocess.Popen(sandbox.prefix(LIMITS) + argv, stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       env=reaper.env(self._process_env()), start_new_session=True)
            sandbox.spare_session(command.pid)
        try:
            code = proc.wait_exit(command, timeout)
            if code is None:
                os.killpg(command.pid, 9)
                command.wait()
                raise subprocess.TimeoutExpired(argv, timeout)
            return code
        finally:
            sandbox.release_session(command.pid)

    def _start(self):
        # Persistent (-p): it stays up between programs instead of ending with the last one.
        # It forks into the background and returns once it listens: a program started before
        # that would start a server of its own, which ends with each program (0.3 s a start).
        self._spared_run([wineserver(), "-p"], timing.seconds(30))
        self.server = self._find_server()
        # The warm-up: Wine starts its helper processes here, with output to /dev/null.
        self._spared_run([wine64(), "hostname"], timing.seconds(60))

    def _find_server(self):
        """The pid of the wineserver of this session's prefix (read from /proc), or None."""
        needle = f"WINEPREFIX={self.prefix}".encode()
        for pid in proctree.pids():
            program = proctree.cmdline(pid).split(b"\0")[0]
            if os.path.basename(program).startswith(b"wineserver") and \
                    needle in proctree.environ(pid):
                return pid
        return None

    def close(self):
        """Stop wineserver (``-k`` ends every program of the prefix); idempotent."""
        self._thread.join(timing.seconds(90))
        if self._closed:
            return
        self._closed = True
        for option in ("-k", "-w"):  # kill it, then wait until it has ended: the next session
            try:                      # in this folder (make lab6 again) must not meet it
                self._spared_run([wineserver(), option], 15)
            except (OSError, subprocess.SubprocessError):
                pass
        # Whatever -k left (it asks; a stopped or stuck process is not asked twice).
        uid = sandbox.student_uid()
        left = [pid for pid in sandbox.processes_of(uid) if sandbox.is_wine(pid)] if uid else []
        if self.server and sandbox.is_wine(self.server):
            left.append(self.server)
        for pid in left:
            try:
                os.kill(pid, 9)
            except OSError:
                pass
        sandbox.spare_wine(False)
