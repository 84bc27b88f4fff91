"""The sockets-lab grader harness: processes, peers, Valgrind, strace, reports.

Python standard library only; pytest drives it from ``grader/checks``.
"""
