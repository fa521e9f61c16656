# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.d365.identity.plugins.filter.systemusers_by_url import systemusers_by_url

A, B = "https://a.crm4.dynamics.com", "https://b.crm4.dynamics.com"


def test_rows_by_environment_later_results_win_skipped_and_failed_give_nothing():
    synced = {"results": [{"item": {"url": A}, "systemuser": {"systemuserid": "1", "isdisabled": True}},
                          {"item": {"url": B}, "failed": True, "systemuser": {"systemuserid": "x"}}]}
    waited = {"results": [{"item": {"url": A}, "systemusers": [{"systemuserid": "1", "isdisabled": False}]},
                          {"item": {"url": B}, "skipped": True}]}
    assert systemusers_by_url([synced, waited]) == {A: {"systemuserid": "1", "isdisabled": False}}
    assert systemusers_by_url([{"results": [{"item": {"url": B + "/"}, "systemusers": []}]}, {}, None]) == {}


def test_written_only_keeps_the_rows_dataverse_returned_for_a_write():
    moded = {"results": [
        {"item": {"url": A}, "changed": True, "row_returned": True, "systemuser": {"systemuserid": "1", "accessmode": 4}},
        {"item": {"url": B}, "changed": True, "row_returned": False, "systemuser": {"systemuserid": "2", "accessmode": 4}},
        {"item": {"url": "https://c.crm4.dynamics.com"}, "changed": False, "systemuser": {"systemuserid": "3"}}]}
    assert systemusers_by_url([moded], written_only=True) == {A: {"systemuserid": "1", "accessmode": 4}}
    assert len(systemusers_by_url([moded])) == 3
