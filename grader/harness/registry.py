"""The labs of the kit: one entry per lab, and the one place that lists them.

Everything that needs to know which labs exist reads :data:`LABS`: ``make labN``
and ``make grade`` (through ``python3 grader/harness/registry.py``, below),
``grader/grade.py``'s choices, ``grader/run_all`` (what a submission holds, what
a lab costs, what to set up), the checks' plugin (the ``labN`` markers), the kit's
own tests and ``tools/dist.py``.  Nothing else writes a lab list out.

Adding a lab is one entry here (plus its files: see CONTRIBUTING.md, "How to add a
lab")::

    LabSpec(7, "process per client", ("fork_server", "fork_client"), cost=3.0),
    LabSpec(9, "thread per client", ("thread_chat_server",), cost=3.0, ldlibs=("-pthread",)),

Fields (only the first three are required):

``number``   the lab's number: its folder is ``labN/``, its checks ``test_labN.py``
``title``    a few words, as in the handout's title (``# Lab N: Title``)
``programs`` the programs, in the order the handout gives them; each is built from
             ``NAME.c`` (a server's name holds ``server``, a client's ``client``)
``windows``  True: Windows programs, built by mingw-w64 into ``.exe`` and run under Wine
``cost``     seconds of one core the reference takes to grade (``grader/run_all`` shares
             a submission's labs between its jobs by it)
``cflags``   compiler flags added to the contract's (``-std=c11 -Wall -Wextra -g``)
``ldlibs``   libraries added at the end of the link (``-lws2_32``, ``-pthread``)
``setup``    the groups of ``tools/setup.sh`` its grading needs (``core`` always)

Run as a program (stdlib only, any Python 3), it answers the Makefile::

    registry.py numbers      1 2 3 4 5 6       (every lab, in order)
    registry.py setup N      core windows      (the setup groups of lab N; status 2: no lab N)
    registry.py setup 3,4    core              (of several labs; ``setup ""``: of every lab)
"""
import dataclasses
import re
import sys


@dataclasses.dataclass(frozen=True)
class LabSpec:
    """One lab: what it is called, which programs it has, how they are built and graded."""

    number: int
    title: str
    programs: tuple
    windows: bool = False
    cost: float = 3.0
    cflags: tuple = ()
    ldlibs: tuple = ()
    setup: tuple = ("core",)

    @property
    def name(self):
        """``labN``: the lab's folder, marker and check file stem (``test_labN``)."""
        return f"lab{self.number}"

    @property
    def sources(self):
        """The C files a submission of the lab holds (``NAME.c`` per program)."""
        return [p + ".c" for p in self.programs]


#: Every lab of the kit, by number.  The contract of each is in docs/contract.md.
LABS = {spec.number: spec for spec in (
    LabSpec(1, "socket creation", ("socket_create",), cost=2.0),
    LabSpec(2, "bind", ("bind_server",), cost=1.5),
    LabSpec(3, "listen and accept", ("hello_server", "hello_client"), cost=2.5),
    LabSpec(4, "iterative echo", ("echo_server", "echo_client"), cost=3.0),
    LabSpec(5, "UDP uppercase", ("udp_upper_server", "udp_upper_client"), cost=3.0),
    LabSpec(6, "Winsock port", ("echo_server_win", "echo_client_win"), windows=True, cost=4.5,
            ldlibs=("-lws2_32",), setup=("core", "windows")),
)}

#: A lab's name (``lab12``) in a marker, a folder or a module name: the number, whole.
NAME = re.compile(r"lab(\d+)")


def number_in(text):
    """The lab number that ``text`` names (``test_lab12`` -> 12), or None."""
    m = NAME.search(text)
    return int(m.group(1)) if m else None


def windows_labs():
    """The numbers of the labs whose programs are Windows programs."""
    return {n for n, spec in LABS.items() if spec.windows}


def setup_groups(numbers):
    """The ``tools/setup.sh`` groups that grading the labs ``numbers`` needs, in order."""
    return list(dict.fromkeys(g for n in numbers for g in LABS[n].setup))


def main(argv):
    if argv == ["numbers"]:
        print(" ".join(map(str, LABS)))
        return 0
    if len(argv) == 2 and argv[0] == "setup":
        words = [w for w in argv[1].replace(" ", "").split(",") if w] or list(map(str, LABS))
        wrong = [w for w in words if not (w.isdigit() and int(w) in LABS)]
        if wrong:
            print(f"sockets-lab: there is no lab {', '.join(wrong)} "
                  f"(labs: {' '.join(map(str, LABS))})", file=sys.stderr)
            return 2
        print(" ".join(setup_groups(int(w) for w in words)))
        return 0
    print("usage: registry.py numbers | setup N", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
