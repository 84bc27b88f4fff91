"""Lab 8: the chat server with poll (or select) and the chat client.  Contract: the chat
protocol and "Lab 8" of the lab contract (docs/contract.md); handout labs/lab8/README.md.

Programs: ``chat_server PORT [MAX_CLIENTS]`` and ``chat_client HOST PORT``.  The checks
themselves are in grader/checks/chat.py, written once for the chat servers of labs 8
and 9 and the client they share; this module gives them lab 8's points.
"""
import pytest

import chat

pytestmark = pytest.mark.lab8

# -- the server (81 points) ------------------------------------------------------------------
test_builds_without_warnings = chat.check(chat.builds_without_warnings, 3)
test_server_ready_line = chat.check(chat.server_ready_line, 2)
test_relays_with_prefix = chat.check(chat.relays_with_prefix, 6)
test_line_sent_one_byte_at_a_time = chat.check(chat.line_sent_one_byte_at_a_time, 6)
test_two_lines_in_one_send = chat.check(chat.two_lines_in_one_send, 5)
test_one_order_for_everyone = chat.check(chat.one_order_for_everyone, 5)
test_hundred_clients = chat.check(chat.hundred_clients, 6)
test_stalled_clients_delay_nobody = chat.check(chat.stalled_clients_delay_nobody, 7)
test_non_reader_is_dropped = chat.check(chat.non_reader_is_dropped, 7)
test_long_line_is_dropped = chat.check(chat.long_line_is_dropped, 5)
test_departed_client_is_forgotten = chat.check(chat.departed_client_is_forgotten, 5)
test_vanished_client_does_not_kill_the_server = chat.check(
    chat.vanished_client_does_not_kill_the_server, 3)
test_unfinished_line_is_discarded = chat.check(chat.unfinished_line_is_discarded, 1)
test_log_lines = chat.check(chat.log_lines, 2)
test_max_clients_then_exit = chat.check(chat.max_clients_then_exit, 3)
test_stops_on_sigint_and_sigterm = chat.check(chat.stops_on_sigint_and_sigterm, 3)
test_restart_on_same_port = chat.check(chat.restart_on_same_port, 2)
test_server_port_in_use = chat.check(chat.server_port_in_use, 2)
test_accept_error_ends_one_connection_only = chat.check(
    chat.accept_error_ends_one_connection_only, 2)
test_server_usage_errors = chat.check(chat.server_usage_errors, 2)
test_server_valgrind_clean = chat.check(chat.server_valgrind_clean, 4)

# -- the client (19 points) ------------------------------------------------------------------
test_client_sends_stdin_lines = chat.check(chat.client_sends_stdin_lines, 4)
test_client_shows_server_lines_while_stdin_is_idle = chat.check(
    chat.client_shows_server_lines_while_stdin_is_idle, 6)
test_client_last_line_gets_a_newline = chat.check(chat.client_last_line_gets_a_newline, 2)
test_client_server_closes = chat.check(chat.client_server_closes, 3)
test_client_connection_refused = chat.check(chat.client_connection_refused, 1)
test_client_usage_errors = chat.check(chat.client_usage_errors, 1)
test_client_valgrind_clean = chat.check(chat.client_valgrind_clean, 2)
