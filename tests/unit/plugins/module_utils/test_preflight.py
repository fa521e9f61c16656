# SPDX-License-Identifier: GPL-3.0-or-later
"""The caller check of the read phase, on the Dataverse fake behind the real client."""
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._domain import preflight

from ansible_collections.d365.identity.plugins.module_utils._domain.preflight import (
    Problems, check_caller_is_admin, read_caller)
from ansible_collections.d365.identity.tests.unit.fakes.dataverse import (
    BASIC_T, CALLER_ID, ROOT_BU, SYSADMIN_T, FakeDataverse, role_id)
from ansible_collections.d365.identity.tests.unit.fakes.identity import CLIENT_ID, FakeTokens


def client_of(env):
    return env.attach(env.throwaway_client(), FakeTokens())


def test_an_app_is_found_by_its_client_id_in_one_request_with_its_roles():
    env = FakeDataverse()
    caller = read_caller(client_of(env), CLIENT_ID)
    assert caller["UserId"] == CALLER_ID and caller["BusinessUnitId"] == ROOT_BU
    assert [r["_roletemplateid_value"] for r in caller["roles"]] == [SYSADMIN_T]
    assert len(env.sent()) == 1 and not env.calls_to("whoami")


def test_without_a_client_id_whoami_names_the_caller_and_its_roles_are_read():
    env = FakeDataverse(caller_roles=[role_id(BASIC_T, ROOT_BU)])
    client = client_of(env)
    caller = read_caller(client, None)
    assert caller["UserId"] == CALLER_ID and len(env.calls_to("whoami")) == 1 and len(env.sent()) == 2
    problems = Problems()
    check_caller_is_admin(client, caller, problems)
    assert len(problems) == 1 and "lacks System Administrator" in problems[0]


def test_a_client_id_without_an_application_user_falls_back_to_whoami():
    env = FakeDataverse()
    caller = read_caller(client_of(env), "9a1e2b3c-4d5e-4f60-8a7b-1c2d3e4f5a6b")  # not this client's row
    assert caller["UserId"] == CALLER_ID and len(env.calls_to("whoami")) == 1
    assert [r["path"] for r in env.sent()][0] == "systemusers"  # asked by client id first


def test_at_once_runs_the_calls_together_and_returns_their_results_in_order():
    import threading
    together = threading.Barrier(3, timeout=5)  # broken unless all three calls are running at the same time

    def call(value):
        return lambda: (together.wait(), value)[1]

    assert preflight.at_once([call("a"), call("b"), call("c")]) == ["a", "b", "c"]
    assert preflight.at_once([]) == []


def test_at_once_raises_the_first_error_once_every_call_has_ended():
    import time
    ended = []

    def failing():
        raise ValueError("first")

    def slow():
        time.sleep(0.2)
        ended.append("slow")

    with pytest.raises(ValueError, match="first"):
        preflight.at_once([failing, slow])
    assert ended == ["slow"]
