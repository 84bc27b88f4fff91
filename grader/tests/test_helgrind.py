"""Helgrind's reports, read by harness.valgrind.parse_helgrind: what a student is shown.

The logs below are Helgrind's own (valgrind 3.19, prefixes removed, glibc frames trimmed):
a race of lab 9's mutant without the mutex, and a lock-order problem with an unlock of a
lock that was not held.
"""
from harness import valgrind

RACE = """\
---Thread-Announcement------------------------------------------

Thread #1 is the program's root thread

---Thread-Announcement------------------------------------------

Thread #2 was created
   at 0x4970B3F: clone (clone.S:76)
   by 0x10B319: start_client (thread_chat_server.c:640)

----------------------------------------------------------------

 Lock at 0x1FFF000300 was first observed
   at 0x484DEA9: pthread_mutex_init (in /usr/libexec/valgrind/vgpreload_helgrind-amd64-linux.so)
   by 0x10A9F8: open_room (thread_chat_server.c:288)
 Address 0x1fff000300 is on thread #1's stack
 in frame #4, created by main (thread_chat_server.c:845)

Possible data race during read of size 8 at 0x1FFF000358 by thread #1
Locks held: none
   at 0x10AC4B: join_room (thread_chat_server.c:371)
   by 0x10B2FA: start_client (thread_chat_server.c:630)

This conflicts with a previous write of size 8 by thread #2
Locks held: 1, at address 0x1FFF000300
   at 0x10ACC1: unlink_client (thread_chat_server.c:392)
   by 0x10B1DB: client_main (thread_chat_server.c:595)
   by 0x48F11F4: start_thread (pthread_create.c:442)
 Address 0x1fff000358 is on thread #1's stack
 in frame #4, created by main (thread_chat_server.c:845)

----------------------------------------------------------------

Possible data race during read of size 8 at 0x1FFF000358 by thread #1
Locks held: none
   at 0x10AC4B: join_room (thread_chat_server.c:371)
   by 0x10B2FA: start_client (thread_chat_server.c:630)

This conflicts with a previous write of size 8 by thread #2
Locks held: 1, at address 0x1FFF000300
   at 0x10ACC1: unlink_client (thread_chat_server.c:392)
 Address 0x1fff000358 is on thread #1's stack
 in frame #4, created by main (thread_chat_server.c:845)
"""

LOCK_ORDER = """\
---Thread-Announcement------------------------------------------

Thread #2 was created
   at 0x4970B3F: clone (clone.S:76)
   by 0x109227: main (lo.c:7)

----------------------------------------------------------------

Thread #2: lock order "0x10C060 before 0x10C0A0" violated

Observed (incorrect) order is: acquisition of lock at 0x10C0A0
   at 0x484976E: ??? (in /usr/libexec/valgrind/vgpreload_helgrind-amd64-linux.so)
   by 0x109193: t (lo.c:5)

 followed by a later acquisition of lock at 0x10C060
   at 0x484976E: ??? (in /usr/libexec/valgrind/vgpreload_helgrind-amd64-linux.so)
   by 0x1091A2: t (lo.c:6)

Required order was established by acquisition of lock at 0x10C060
   at 0x484976E: ??? (in /usr/libexec/valgrind/vgpreload_helgrind-amd64-linux.so)
   by 0x1091DD: main (lo.c:10)

 followed by a later acquisition of lock at 0x10C0A0
   at 0x484976E: ??? (in /usr/libexec/valgrind/vgpreload_helgrind-amd64-linux.so)
   by 0x1091EC: main (lo.c:11)

 Lock at 0x10C060 was first observed
   at 0x484976E: ??? (in /usr/libexec/valgrind/vgpreload_helgrind-amd64-linux.so)
   by 0x1091DD: main (lo.c:10)
 Address 0x10c060 is 0 bytes inside data symbol "a"

---Thread-Announcement------------------------------------------

Thread #1 is the program's root thread

----------------------------------------------------------------

Thread #1 unlocked a not-locked lock at 0x10C060
   at 0x4849C86: ??? (in /usr/libexec/valgrind/vgpreload_helgrind-amd64-linux.so)
   by 0x109256: main (lo.c:14)
 Lock at 0x10C060 was first observed
   at 0x484976E: ??? (in /usr/libexec/valgrind/vgpreload_helgrind-amd64-linux.so)
   by 0x1091DD: main (lo.c:10)
"""


def test_a_race_names_both_accesses_once():
    findings = valgrind.parse_helgrind(RACE.splitlines(), {"thread_chat_server.c"})
    assert [f.kind for f in findings] == ["race"]  # the repeated report counted once
    assert str(findings[0]).splitlines() == [
        "a data race on 8 bytes of a variable on a thread's stack (in main()):",
        "  thread #1 read it at thread_chat_server.c:371 (join_room), holding no lock",
        "  thread #2 wrote it before, at thread_chat_server.c:392 (unlink_client), holding 1 lock"]
    assert findings[0].unlocked
    assert "take the mutex around every read and write" in valgrind.thread_hint(findings)


def test_a_lock_order_problem_names_both_orders():
    findings = valgrind.parse_helgrind(LOCK_ORDER.splitlines(), {"lo.c"})
    assert [f.kind for f in findings] == ["lock order", "misuse"]
    assert str(findings[0]).splitlines()[1:] == ["  here: lo.c:5 (t), then lo.c:6 (t)",
                                                 "  but before: lo.c:10 (main), then lo.c:11 (main)"]
    assert str(findings[1]) == "Thread #1 unlocked a not-locked lock, at lo.c:14 (main)"
    hint = valgrind.thread_hint(findings)
    assert "opposite orders" in hint and "unlock only what this thread locked" in hint


def test_a_clean_run_has_no_finding():
    assert valgrind.parse_helgrind([], {"x.c"}) == []
    assert valgrind.parse_helgrind(["---Thread-Announcement---------", "",
                                    "Thread #1 is the program's root thread"], {"x.c"}) == []


def test_glibc_thread_block_is_not_a_leak():
    log = ["288 bytes in 1 blocks are possibly lost in loss record 1 of 1",
           "   at 0x48455EF: calloc (vg_replace_malloc.c:1328)",
           "   by 0x40147D9: calloc (rtld-malloc.h:44)",
           "   by 0x40147D9: allocate_dtv (dl-tls.c:375)",
           "   by 0x40147D9: _dl_allocate_tls (dl-tls.c:634)",
           "   by 0x48F17B4: allocate_stack (allocatestack.c:430)",
           "   by 0x48F17B4: pthread_create@@GLIBC_2.34 (pthread_create.c:647)",
           "   by 0x10B319: start_client (thread_chat_server.c:640)",
           "",
           "100 bytes in 1 blocks are definitely lost in loss record 2 of 2",
           "   at 0x48407B4: malloc (vg_replace_malloc.c:381)",
           "   by 0x10B1DB: client_main (thread_chat_server.c:595)",
           "   by 0x48F11F4: start_thread (pthread_create.c:442)"]
    findings = valgrind.parse(log)
    assert [(f.kind, f.where) for f in findings] == [("leak", "thread_chat_server.c:595 (client_main)")]


#: lab 9's mutant whose client threads share one line buffer and its count (statics inside
#: take_bytes): the count races in take_bytes itself, the buffer inside Helgrind's memmove.
ONE_BUFFER = """\
----------------------------------------------------------------

Possible data race during write of size 8 at 0x10E1E8 by thread #2
Locks held: none
   at 0x10AF87: take_bytes (thread_chat_server.c:524)
   by 0x10B0ED: chat (thread_chat_server.c:560)

This conflicts with a previous write of size 8 by thread #3
Locks held: none
   at 0x10AF87: take_bytes (thread_chat_server.c:524)
   by 0x10B0ED: chat (thread_chat_server.c:560)
 Address 0x10e1e8 is 0 bytes inside data symbol "shared_used.1"

----------------------------------------------------------------

Possible data race during read of size 1 at 0x10E200 by thread #2
Locks held: none
   at 0x4851DD0: memmove (in /usr/libexec/valgrind/vgpreload_helgrind-amd64-linux.so)
   by 0x10AFF5: take_bytes (thread_chat_server.c:527)

This conflicts with a previous write of size 2 by thread #3
Locks held: none
   at 0x4851DA3: memmove (in /usr/libexec/valgrind/vgpreload_helgrind-amd64-linux.so)
   by 0x10AF78: take_bytes (thread_chat_server.c:523)
 Address 0x10e200 is 0 bytes inside data symbol "shared_line.0"
"""


def test_a_buffer_every_thread_shares_is_not_the_client_list():
    findings = valgrind.parse_helgrind(ONE_BUFFER.splitlines(), {"thread_chat_server.c"})
    assert [f.one_for_all for f in findings] == [True, True]  # a copy by memmove is the program's
    assert str(findings[1]).splitlines() == [
        "a data race on 1 bytes of `shared_line`, declared static inside a function (one "
        "variable for every thread):",
        "  thread #2 read it at thread_chat_server.c:527 (take_bytes), holding no lock",
        "  thread #3 wrote it before, at thread_chat_server.c:523 (take_bytes), holding no lock"]
    hint = valgrind.thread_hint(findings)
    assert "each thread has its own" in hint and "client list" not in hint


def test_the_client_list_and_a_shared_buffer_get_both_hints():
    both = RACE.splitlines() + ONE_BUFFER.splitlines()
    hint = valgrind.thread_hint(valgrind.parse_helgrind(both, {"thread_chat_server.c"}))
    assert "each thread has its own" in hint and "shared client list" in hint


#: The main thread destroys the mutex its last client thread has just unlocked: both accesses
#: are inside the C library's pthread code (seen once in CI on the reference solution, with
#: the library's frames on top, not Helgrind's wrapper).
DESTROY_AFTER_UNLOCK = """\
Possible data race during read of size 1 at 0x1FFF000310 by thread #1
Locks held: none
   at 0x4900F1A: pthread_mutex_destroy (pthread_mutex_destroy.c:32)
   by 0x484B1C8: ??? (in /usr/libexec/valgrind/vgpreload_helgrind-amd64-linux.so)
   by 0x10A8B1: close_room (thread_chat_server.c:325)
   by 0x10B9D0: main (thread_chat_server.c:870)

This conflicts with a previous write of size 1 by thread #6
Locks held: none
   at 0x4902A7C: __pthread_mutex_unlock_usercnt (pthread_mutex_unlock.c:62)
   by 0x4849E15: ??? (in /usr/libexec/valgrind/vgpreload_helgrind-amd64-linux.so)
   by 0x10A97E: unlock_room (thread_chat_server.c:350)
   by 0x10B1DB: client_main (thread_chat_server.c:600)
 Address 0x1fff000310 is on thread #1's stack
 in frame #3, created by main (thread_chat_server.c:845)
"""


def test_a_mutex_destroyed_after_its_last_unlock_is_no_race():
    assert valgrind.parse_helgrind(DESTROY_AFTER_UNLOCK.splitlines(), {"thread_chat_server.c"}) == []
