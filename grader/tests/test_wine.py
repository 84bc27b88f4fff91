"""Lab 6's Wine (grader/harness/wine.py): what it needs, and that its programs start reliably.

Without Wine's preloader about one Windows program in several thousand exits with status 1
before its main() and prints nothing: the kernel put the loader's heap on the page Wine
shares with every program (0x7ffe0000).  Seen as a failed check of a correct program, under
``make bench`` and in a CI run.  So lab 6 counts the preloader among what it needs, and
its programs start through it.
"""
import os
import pathlib
import shutil

import pytest

from harness import lab as labmod
from harness import wine

ROOT = pathlib.Path(__file__).resolve().parents[2]


def fake_wine(folder, with_preloader):
    """A folder with an executable ``wine64`` (and ``wine64-preloader`` if asked); its loader."""
    folder.mkdir()
    names = ["wine64"] + (["wine64-preloader"] if with_preloader else [])
    for name in names:
        (folder / name).write_text("#!/bin/sh\nexit 0\n")
        (folder / name).chmod(0o755)
    return str(folder / "wine64")


@pytest.fixture
def tools_found(monkeypatch):
    """The cross compiler and wineserver found, whatever this machine has."""
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: f"/usr/bin/{name}")
    monkeypatch.setattr(wine, "wineserver", lambda: "/usr/bin/wineserver")


def test_a_wine_without_its_preloader_lacks_a_tool(tmp_path, monkeypatch, tools_found):
    loader = fake_wine(tmp_path / "wine", with_preloader=False)
    monkeypatch.setattr(wine, "wine64", lambda: loader)
    assert wine.preloader() is None
    lacking = wine.missing()
    assert len(lacking) == 1 and "wine64-preloader" in lacking[0], lacking
    assert "wine64-preloader" in wine.INSTALL


def test_the_preloader_is_looked_for_beside_the_real_loader(tmp_path, monkeypatch, tools_found):
    loader = fake_wine(tmp_path / "lib", with_preloader=True)
    link = tmp_path / "wine64"  # /usr/bin/wine64 -> /usr/lib/wine/wine64, as packages do
    link.symlink_to(loader)
    monkeypatch.setattr(wine, "wine64", lambda: str(link))
    assert wine.preloader() == str(tmp_path / "lib" / "wine64-preloader")
    assert wine.missing() == []


@pytest.mark.skipif(bool(wine.missing()), reason="lab 6 needs " + " and ".join(wine.missing()))
def test_windows_programs_run_under_the_preloader(tmp_path):
    lab = labmod.Lab(6, ROOT / "solutions" / "lab6", tmp_path / "build")
    try:
        server, _port = lab.start_server(lab.server, 0)
        exe = os.path.basename(os.readlink(f"/proc/{server.pid}/exe"))
        server.kill()
    finally:
        lab.close()
    assert exe.startswith("wine64-preloader"), f"the server runs as {exe}, not under the preloader"


CRASH = r"""
#include <stdio.h>
int main(void)
{
    volatile int *nowhere = (int *)8;
    printf("about to crash\n");
    fflush(stdout);
    return *nowhere;
}
"""


@pytest.mark.skipif(bool(wine.missing()), reason="lab 6 needs " + " and ".join(wine.missing()))
def test_a_crash_ends_the_program_at_once_and_the_prefix_goes_on(tmp_path):
    """A page fault ends the program with status 5, without Wine's debugger (winedbg): it
    attached to the prefix's processes and wrote its report into the program's pipes, and
    once left the prefix unable to run anything more (a CI run on a very busy machine)."""
    impl = tmp_path / "lab6"
    shutil.copytree(ROOT / "solutions" / "lab6", impl)
    (impl / "echo_client_win.c").write_text(CRASH)
    lab = labmod.Lab(6, impl, tmp_path / "build")
    try:
        crashed = lab.start(lab.client)
        status = crashed.wait(30)
        out, err = crashed.out(), crashed.err()
        server, _port = lab.start_server(lab.server, 0)  # the prefix still runs programs
        server.kill()
    finally:
        lab.close()
    assert status == 5, (status, out, err)
    assert out == b"about to crash\r\n", out  # text-mode stdout: it never switched
    assert b"Backtrace" not in out + err and b"Register dump" not in out + err, err
