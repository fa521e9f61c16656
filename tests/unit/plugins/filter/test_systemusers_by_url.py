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
