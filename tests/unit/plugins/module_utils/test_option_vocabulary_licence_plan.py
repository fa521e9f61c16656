# SPDX-License-Identifier: GPL-3.0-or-later
"""Licence planning (module_utils/_domain/licence_plan.py) with add, remove and set."""

from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._domain import licence_plan as lp
from ansible_collections.d365.identity.plugins.module_utils._errors import ConfigError

E3 = {"skuId": "6fd2c87f-b296-42f0-b197-1e91e994b900", "skuPartNumber": "ENTERPRISEPACK",
      "prepaidUnits": {"enabled": 5}, "consumedUnits": 5,
      "servicePlans": [{"servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0", "servicePlanName": "EXCHANGE_S_ENTERPRISE"}]}
D365 = {"skuId": "ea126fc5-a19e-42e2-a731-da9d437bffcf", "skuPartNumber": "DYN365_ENTERPRISE_PLAN1",
        "prepaidUnits": {"enabled": 3}, "consumedUnits": 1, "servicePlans": []}
GROUP = "11111111-2222-3333-4444-555555555555"


def direct(sku, plans=()):
    return {"skuId": sku["skuId"], "disabledPlans": list(plans), "assignedByGroup": None}


def inherited(sku):
    return {"skuId": sku["skuId"], "disabledPlans": [], "assignedByGroup": GROUP}


def test_add_keeps_other_licences():
    adds, removes, inherited_only = lp.plan([direct(E3)], lp.LicenceChange(add=[D365]))
    assert [a["skuId"] for a in adds] == [D365["skuId"]] and removes == [] and inherited_only == []


def test_set_removes_every_other_direct_licence_but_not_inherited_ones():
    states = [direct(E3), inherited(D365)]
    adds, removes, inherited_only = lp.plan(states, lp.LicenceChange(exact=[D365]))
    # D365 is only inherited: set adds it directly (no extra seat) and removes E3; the group's copy stays
    assert [a["skuId"] for a in adds] == [D365["skuId"]]
    assert removes == [E3["skuId"]] and inherited_only == []


def test_empty_set_clears_direct_licences():
    _adds, removes, _inherited = lp.plan([direct(E3), direct(D365)], lp.LicenceChange(exact=[]))
    assert sorted(removes) == sorted([E3["skuId"], D365["skuId"]])


def test_remove_of_an_inherited_only_licence_is_reported():
    _adds, removes, inherited_only = lp.plan([inherited(D365)], lp.LicenceChange(remove=[D365]))
    assert removes == [] and inherited_only[0]["assignedByGroup"] == GROUP


def test_disabled_plans_change_on_a_held_sku_is_an_add():
    change = lp.LicenceChange(add=[E3], plans=lp.resolve_plans([E3], ["EXCHANGE_S_ENTERPRISE"]))
    adds, _removes, _inherited = lp.plan([direct(E3)], change)
    assert adds == [{"skuId": E3["skuId"], "disabledPlans": ["efb87545-963c-4e0d-99df-69c6916d9eb0"]}]


def test_unknown_plan_lists_the_plans():
    with pytest.raises(ConfigError, match="EXCHANGE_S_ENTERPRISE"):
        lp.resolve_plans([E3], ["TEAMS1"])


def test_pick_one_prefers_held_then_free():
    assert lp.pick_one([E3, D365], []) == [D365]  # E3 has no free seat
    assert lp.pick_one([E3, D365], [direct(E3)]) == [E3]


def test_no_free_seat_fails_before_writing():
    with pytest.raises(ConfigError, match="ENTERPRISEPACK has no free seat"):
        lp.check_seats([E3], [{"skuId": E3["skuId"], "disabledPlans": []}], [])


# -- waiting for a seat -------------------------------------------------------------------------------------------

def test_jittered_pause_is_bounded_by_the_jitter_and_the_deadline():
    from ansible_collections.d365.identity.plugins.module_utils._domain import licence_plan as plan
    for step in range(11):
        pause = plan.jittered_pause(10, 1000, step / 10.0)
        assert 5.0 <= pause <= 15.0
    assert plan.jittered_pause(10, 1000, 0.0) == 5.0 and plan.jittered_pause(10, 1000, 1.0) == 15.0
    assert plan.jittered_pause(10, 3, 0.9) == 3  # never past the deadline
    assert plan.jittered_pause(10, 0, 0.5) is None and plan.jittered_pause(10, -1, 0.5) is None
    assert plan.jittered_pause(0, 100, 0.0) >= 0.5  # a zero interval does not spin
    assert plan.jittered_pause(10, 1000, 7) == 15.0  # a draw out of range is clamped


def test_waiting_needs_enabled_seats():
    from ansible_collections.d365.identity.plugins.module_utils._domain import licence_plan as plan
    full = {"skuPartNumber": "A", "prepaidUnits": {"enabled": 2}, "consumedUnits": 2}
    none = {"skuPartNumber": "B", "prepaidUnits": {"enabled": 0}, "consumedUnits": 0}
    assert plan.usable_for_waiting([full, none]) and not plan.usable_for_waiting([none])
    assert plan.free_candidates([full, none]) == []
    assert "A 2/2 used; B 0/0 used" in plan.waiting_message([full, none], 5, 60)
