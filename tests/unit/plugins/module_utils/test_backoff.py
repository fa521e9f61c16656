# SPDX-License-Identifier: GPL-3.0-or-later
"""A Retry-After one process got holds back the other processes of the same client (shared through the token
cache directory), on real files."""
from __future__ import annotations

import os

from ansible_collections.d365.identity.plugins.module_utils._auth.token_cache import FileTokenCache
from ansible_collections.d365.identity.plugins.module_utils._transport.backoff import MAX_SHARED_WAIT, SharedBackoff
from ansible_collections.d365.identity.plugins.module_utils._transport.http import ApiClient
from ansible_collections.d365.identity.tests.unit.fakes.http import FakeResponse, FakeSession

THROTTLED = {"error": {"code": "0x80072322",
                       "message": "Number of requests exceeded the limit of 6000 over time window of 300 seconds."}}


class Clock:
    def __init__(self):
        self.now, self.slept = 1000.0, []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def process(tmp_path, clock, script, tokens):
    """One module process of the client: its own session and client, the same token cache directory."""
    backoff = SharedBackoff(FileTokenCache(str(tmp_path), "client-key"), sleep=clock.sleep, clock=clock)
    session = FakeSession(script)
    return ApiClient("https://org.crm4.dynamics.com/api/data/v9.2", "https://org.crm4.dynamics.com/.default", tokens,
                     session, sleep=clock.sleep, backoff=backoff), session


def test_a_429_in_one_process_holds_back_the_next_request_of_another(tmp_path, fake_tokens):
    clock = Clock()
    script = [FakeResponse(429, THROTTLED, {"Retry-After": "5"}), FakeResponse(200, {})]
    first, _session = process(tmp_path, clock, script, fake_tokens)
    second, second_session = process(tmp_path, clock, [FakeResponse(200, {"ok": 1})], fake_tokens)
    clock_before = clock.now
    first.get("WhoAmI()")  # refused once, waits its Retry-After itself, then answered
    assert clock.slept == [5.0]
    clock.now = clock_before + 1  # the other process asks 1 s after the refusal
    assert second.get("WhoAmI()") == {"ok": 1}
    assert clock.slept == [5.0, 4.0] and len(second_session.calls) == 1  # waited out the rest of the window
    assert oct(os.stat(FileTokenCache(str(tmp_path), "client-key").backoff_path("org.crm4.dynamics.com")).st_mode
               & 0o777) == "0o600"


def test_no_wait_once_the_window_passed_nor_for_another_host_and_a_long_one_is_capped(tmp_path):
    clock = Clock()
    store = FileTokenCache(str(tmp_path), "client-key")
    backoff = SharedBackoff(store, sleep=clock.sleep, clock=clock)
    backoff.note("graph.microsoft.com", 3)
    backoff.note("graph.microsoft.com", 1)  # an earlier end does not shorten the wait
    assert backoff.wait("org.crm4.dynamics.com") == 0.0
    clock.now += 4
    assert backoff.wait("graph.microsoft.com") == 0.0 and clock.slept == []
    backoff.note("graph.microsoft.com", 3600)
    assert backoff.wait("graph.microsoft.com") == MAX_SHARED_WAIT
    assert backoff.wait("graph.microsoft.com") == 0.0  # a long Retry-After holds the others back once, not per request


def test_a_window_moved_later_while_waiting_is_waited_out_too(tmp_path):
    clock = Clock()
    store = FileTokenCache(str(tmp_path), "client-key")
    backoff = SharedBackoff(store, sleep=clock.sleep, clock=clock)
    other = SharedBackoff(store, sleep=clock.sleep, clock=clock)
    backoff.note("org.crm4.dynamics.com", 1)
    first_sleep = clock.sleep

    def sleep(seconds):  # while this process sleeps, another one gets a 429 with a later end
        first_sleep(seconds)
        if len(clock.slept) == 1:
            other.clock = lambda: clock.now - 0.8  # its 429 came 0.2 s into the first window
            other.note("org.crm4.dynamics.com", 1)
    backoff.sleep = sleep
    assert round(backoff.wait("org.crm4.dynamics.com"), 3) == 1.2
    assert [round(s, 3) for s in clock.slept] == [1.0, 0.2]


def test_a_window_recorded_while_waiting_for_the_token_is_waited_out_before_sending(tmp_path, fake_tokens):
    clock = Clock()
    client, session = process(tmp_path, clock, [FakeResponse(200, {"ok": 1})], fake_tokens)
    other = SharedBackoff(FileTokenCache(str(tmp_path), "client-key"), sleep=clock.sleep, clock=clock)
    get_token = fake_tokens.get_token

    def slow_token(*args, **kwargs):  # another fork gets a 429 while this one waits for the token lock
        if not clock.slept:
            other.note("org.crm4.dynamics.com", 2)
        return get_token(*args, **kwargs)
    fake_tokens.get_token = slow_token
    assert client.get("WhoAmI()") == {"ok": 1}
    assert clock.slept == [2.0] and len(session.calls) == 1


def test_a_planted_file_is_not_trusted(tmp_path):
    store = FileTokenCache(str(tmp_path), "client-key")
    target = tmp_path / "elsewhere"
    target.write_text("99999999999")
    os.symlink(target, store.backoff_path("graph.microsoft.com"))
    assert store.backoff_until("graph.microsoft.com") == 0.0
