# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.d365.identity.plugins.modules import m365_license
from ansible_collections.d365.identity.tests.unit.fakes.base import Lost
from ansible_collections.d365.identity.tests.unit.fakes.graph import FakeGraph, graph_group, graph_sku

PLAN1 = "ea126fc5-a19e-42e2-a731-da9d437bffcf"
SALES = "1e1a282c-9c54-43a2-9310-98ef728faace"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
EXCHANGE = "efb87545-963c-4e0d-99df-69c6916d9eb0"
TEAMS = "57ff2da0-773e-42df-b2af-ffb7a2317929"
GROUP = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SKUS = [
    graph_sku(PLAN1, "DYN365_ENTERPRISE_PLAN1", [("d56f3deb-50d8-465a-bedb-f079817ccac1", "CRMPLAN2")], consumed=1,
              enabled=3),
    graph_sku(SALES, "DYN365_ENTERPRISE_SALES", consumed=2, enabled=2),
    graph_sku(E3, "ENTERPRISEPACK", [(EXCHANGE, "EXCHANGE_S_ENTERPRISE"), (TEAMS, "TEAMS1")], consumed=0, enabled=5),
]
UPN = "svc@contoso.onmicrosoft.com"
USER_ID = "11111111-2222-3333-4444-555555555555"
ASSIGN = "users/%s/assignLicense" % USER_ID


MARK = {"extensionAttribute15": "d365.identity"}


def user(states=(), usage="GB", owned=True):
    """The user as Graph holds it; its licences are licenseAssignmentStates (assignedLicenses follows)."""
    return {"id": USER_ID, "userPrincipalName": UPN, "usageLocation": usage,
            "onPremisesExtensionAttributes": MARK if owned else {},
            "licenseAssignmentStates": [dict({"disabledPlans": [], "assignedByGroup": None, "state": "Active"}, **s)
                                        for s in states]}


@pytest.fixture
def tenant(tenant):
    tenant.module = m365_license
    tenant.defaults["user"] = UPN
    return tenant


def graph_with(tenant, the_user):
    """The tenant's Graph: SKUS, the group GROUP ('Dynamics Sales'), and the_user (None: no user)."""
    tenant.graph = FakeGraph([the_user] if the_user else [], skus=SKUS, groups=[graph_group(GROUP, "Dynamics Sales")])
    return tenant.graph


def held(graph):
    return [s["skuId"] for s in graph.user(USER_ID)["licenseAssignmentStates"]]


def warnings(result):
    """Warning texts (ansible-core 2.19+ returns structured warnings, older cores strings)."""
    return json.dumps(result.get("warnings", []))


def test_adds_sku_keeping_others(tenant):
    graph = graph_with(tenant, user([{"skuId": E3}]))
    result = tenant.run(diff=True, skus=["dyn365_enterprise_plan1"])
    assert result["changed"] is True
    assert graph.writes() == [("assign_license", USER_ID, [{"skuId": PLAN1, "disabledPlans": []}], [])]
    assert {a["skuPartNumber"] for a in result["assigned_licenses"]} == {"ENTERPRISEPACK", "DYN365_ENTERPRISE_PLAN1"}
    assert result["seats"] == {"DYN365_ENTERPRISE_PLAN1": {"enabled": 3, "consumed": 2, "free": 1}}
    assert result["diff"] == {"before": {"assigned_licenses": ["ENTERPRISEPACK"]},
                              "after": {"assigned_licenses": ["DYN365_ENTERPRISE_PLAN1", "ENTERPRISEPACK"]}}
    assert result["user_id"] == USER_ID


def test_reads_user_with_license_assignment_states(tenant):
    graph = graph_with(tenant, user())
    tenant.run(check=True, skus=[PLAN1])
    selects = [call[1] for call in graph.calls_to("find_user")]
    assert selects and "licenseAssignmentStates" in selects[0] and "assignedLicenses" in selects[0]
    # and Graph was asked for them: without $select neither comes back
    (read,) = [r for r in graph.sent("GET") if r["path"] == "v1.0/users/" + UPN]
    assert {"licenseAssignmentStates", "assignedLicenses"} <= set(read["params"]["$select"].split(","))


def test_already_assigned_writes_nothing(tenant):
    graph = graph_with(tenant, user([{"skuId": PLAN1}]))
    result = tenant.run(skus=[PLAN1.upper()])
    assert result["changed"] is False and graph.writes() == []
    assert result["assigned_licenses"] == [{"skuId": PLAN1, "skuPartNumber": "DYN365_ENTERPRISE_PLAN1",
                                            "disabledPlans": [], "assignedByGroup": None}]


def test_check_mode_writes_nothing(tenant):
    graph = graph_with(tenant, user())
    result = tenant.run(check=True, skus=[PLAN1])
    assert result["changed"] is True and graph.writes() == []
    assert result["assigned_licenses"][0]["skuId"] == PLAN1


def test_disabled_plans_by_name_for_new_sku(tenant):
    graph = graph_with(tenant, user())
    tenant.run(skus=["ENTERPRISEPACK"], disabled_plans=["exchange_s_enterprise", TEAMS])
    assert graph.writes()[0][2] == [{"skuId": E3, "disabledPlans": [EXCHANGE, TEAMS]}]


def test_disabled_plans_changed_on_assigned_sku(tenant):
    graph = graph_with(tenant, user([{"skuId": E3, "disabledPlans": [EXCHANGE]}]))
    result = tenant.run(skus=["ENTERPRISEPACK"], disabled_plans=["TEAMS1"])
    assert result["changed"] is True
    assert graph.writes()[0][2] == [{"skuId": E3, "disabledPlans": [TEAMS]}]


def test_disabled_plans_same_set_is_unchanged(tenant):
    graph = graph_with(tenant, user([{"skuId": E3, "disabledPlans": [TEAMS, EXCHANGE.upper()]}]))
    result = tenant.run(skus=["ENTERPRISEPACK"], disabled_plans=["EXCHANGE_S_ENTERPRISE", "TEAMS1"])
    assert result["changed"] is False and graph.writes() == []


def test_disabled_plans_unset_leaves_assigned_plans(tenant):
    graph = graph_with(tenant, user([{"skuId": E3, "disabledPlans": [EXCHANGE]}]))
    result = tenant.run(skus=["ENTERPRISEPACK"])
    assert result["changed"] is False and graph.writes() == []


def test_unknown_disabled_plan(tenant):
    graph = graph_with(tenant, user())
    result = tenant.run(skus=["ENTERPRISEPACK"], disabled_plans=["NOPE"])
    assert result["failed"] is True
    assert "NOPE" in result["msg"] and "EXCHANGE_S_ENTERPRISE, TEAMS1" in result["msg"]
    assert graph.writes() == []


def test_unknown_sku_lists_tenant_part_numbers(tenant):
    graph = graph_with(tenant, user())
    result = tenant.run(skus=["DYN365_NOPE"])
    assert result["failed"] is True
    assert "Unknown SKU DYN365_NOPE" in result["msg"]
    assert "DYN365_ENTERPRISE_PLAN1, DYN365_ENTERPRISE_SALES, ENTERPRISEPACK" in result["msg"]
    assert graph.writes() == []


def test_no_free_seat(tenant):
    graph = graph_with(tenant, user())
    result = tenant.run(skus=["DYN365_ENTERPRISE_SALES"])
    assert result["failed"] is True
    assert "DYN365_ENTERPRISE_SALES has no free seat (enabled 2, consumed 2)" in result["msg"]
    assert graph.writes() == []


def test_no_free_seat_but_group_already_uses_one(tenant):
    graph = graph_with(tenant, user([{"skuId": SALES, "assignedByGroup": GROUP}]))
    result = tenant.run(skus=["DYN365_ENTERPRISE_SALES"])
    assert result["changed"] is True and len(graph.writes()) == 1
    assert result["seats"]["DYN365_ENTERPRISE_SALES"] == {"enabled": 2, "consumed": 2, "free": 0}


def test_no_usage_location(tenant):
    graph = graph_with(tenant, user(usage=None))
    result = tenant.run(skus=[PLAN1])
    assert result["failed"] is True
    assert "no usageLocation" in result["msg"] and "usage_location" in result["msg"] and "entra_user" in result["msg"]
    assert graph.writes() == []


def test_no_usage_location_is_fine_when_nothing_to_add(tenant):
    graph = graph_with(tenant, user([{"skuId": PLAN1}], usage=None))
    assert tenant.run(skus=[PLAN1])["changed"] is False and graph.writes() == []


def test_remove(tenant):
    graph = graph_with(tenant, user([{"skuId": PLAN1}, {"skuId": E3}]))
    result = tenant.run(diff=True, skus=["DYN365_ENTERPRISE_PLAN1"], state="absent")
    assert result["changed"] is True
    assert graph.writes() == [("assign_license", USER_ID, [], [PLAN1])]
    assert [a["skuId"] for a in result["assigned_licenses"]] == [E3]
    assert result["seats"]["DYN365_ENTERPRISE_PLAN1"] == {"enabled": 3, "consumed": 0, "free": 3}
    assert result["diff"]["after"] == {"assigned_licenses": ["ENTERPRISEPACK"]}


def test_remove_not_assigned_is_noop(tenant):
    graph = graph_with(tenant, user([{"skuId": E3}]))
    result = tenant.run(skus=[PLAN1], state="absent")
    assert result["changed"] is False and graph.writes() == []


def test_remove_inherited_names_group(tenant):
    graph = graph_with(tenant, user([{"skuId": SALES, "assignedByGroup": GROUP}]))
    result = tenant.run(skus=["DYN365_ENTERPRISE_SALES"], state="absent")
    assert result["failed"] is True
    assert "'Dynamics Sales' (%s)" % GROUP in result["msg"] and "cannot be removed per user" in result["msg"]
    assert graph.writes() == []


def test_remove_inherited_without_group_permission_still_names_id(tenant):
    graph = graph_with(tenant, user([{"skuId": SALES, "assignedByGroup": GROUP}]))
    graph.fail_always(graph.error(403, "Authorization_RequestDenied", "Insufficient privileges to complete the "
                                  "operation.", path="groups/" + GROUP), "get_group")
    result = tenant.run(skus=["DYN365_ENTERPRISE_SALES"], state="absent")
    assert result["failed"] is True and GROUP in result["msg"]


def test_remove_direct_also_inherited_warns(tenant):
    graph = graph_with(tenant, user([{"skuId": SALES}, {"skuId": SALES, "assignedByGroup": GROUP}]))
    result = tenant.run(skus=["DYN365_ENTERPRISE_SALES"], state="absent")
    assert result["changed"] is True and graph.writes() == [("assign_license", USER_ID, [], [SALES])]
    assert "keeps DYN365_ENTERPRISE_SALES through group" in warnings(result)
    assert result["seats"]["DYN365_ENTERPRISE_SALES"]["consumed"] == 2


def test_missing_user_in_check_mode_is_pending_change(tenant):
    graph = graph_with(tenant, None)
    result = tenant.run(check=True, skus=[PLAN1])
    assert result["changed"] is True and result["user_id"] is None
    assert "does not exist yet" in warnings(result)
    assert graph.writes() == []
    assert "find_user_eventually" not in graph.names() and graph.slept == []  # no 10 s wait in check mode


def test_missing_user_in_check_mode_still_checks_seats(tenant):
    graph_with(tenant, None)
    result = tenant.run(check=True, skus=["DYN365_ENTERPRISE_SALES"])
    assert result["failed"] is True and "no free seat" in result["msg"]


def test_missing_user_fails_naming_entra_user(tenant):
    graph = graph_with(tenant, None)
    result = tenant.run(skus=[PLAN1])
    assert result["failed"] is True and "d365.identity.entra_user" in result["msg"]
    # tolerated the new-user 404 window first
    assert [call[0] for call in graph.calls_to("find_user_eventually")] == [UPN] and sum(graph.slept) == 10.0


def test_missing_user_absent_is_noop(tenant):
    graph_with(tenant, None)
    result = tenant.run(skus=[PLAN1], state="absent")
    assert result["changed"] is False


def test_dropped_assign_that_was_applied_is_not_sent_again(tenant):
    graph = graph_with(tenant, user())
    graph.fail("assign_license", Lost(graph.no_answer("POST", ASSIGN)))
    result = tenant.run(skus=[PLAN1])
    assert result["changed"] is True and len(graph.writes()) == 1


def test_dropped_assign_not_applied_is_sent_again(tenant):
    graph = graph_with(tenant, user())
    graph.fail("assign_license", graph.no_answer("POST", ASSIGN))
    result = tenant.run(skus=[PLAN1])
    assert result["changed"] is True and len(graph.writes()) == 2
    assert held(graph) == [PLAN1]


def test_assign_client_error_is_reported(tenant):
    graph = graph_with(tenant, user())
    graph.fail("assign_license", graph.error(400, "Request_BadRequest", "License assignment failed for the user.",
                                             "POST", ASSIGN))
    result = tenant.run(skus=[PLAN1])
    assert result["failed"] is True and "License assignment failed for the user." in result["msg"]
    assert len(graph.writes()) == 1 and held(graph) == []


def test_states_missing_fall_back_to_assigned_licenses():
    states = m365_license.assignment_states({"assignedLicenses": [{"skuId": PLAN1, "disabledPlans": []}]})
    assert states == [{"skuId": PLAN1, "disabledPlans": [], "assignedByGroup": None}]


# -- ownership and one_of -----------------------------------------------------------

def test_unowned_user_is_never_licensed_without_adopt(tenant):
    graph = graph_with(tenant, user(owned=False))
    result = tenant.run(skus=[PLAN1])
    assert result["failed"] is True and graph.writes() == []
    assert "adopt: true" in result["msg"] and UPN in result["msg"]


def test_unowned_user_licence_removal_is_refused_too(tenant):
    graph = graph_with(tenant, user([{"skuId": PLAN1}], owned=False))
    result = tenant.run(skus=[PLAN1], state="absent")
    assert result["failed"] is True and graph.writes() == []


def test_unowned_user_with_nothing_to_do_is_ok(tenant):
    graph = graph_with(tenant, user([{"skuId": PLAN1}], owned=False))
    result = tenant.run(skus=[PLAN1])
    assert result["changed"] is False and graph.writes() == []


def test_adopt_allows_the_change(tenant):
    graph = graph_with(tenant, user(owned=False))
    result = tenant.run(skus=[PLAN1], adopt=True)
    assert result["changed"] is True and len(graph.writes()) == 1


def test_one_of_takes_the_first_sku_with_a_free_seat(tenant):
    graph = graph_with(tenant, user())
    result = tenant.run(skus=["DYN365_ENTERPRISE_SALES", PLAN1, E3], one_of=True)
    assert result["changed"] is True
    assert graph.writes() == [("assign_license", USER_ID, [{"skuId": PLAN1, "disabledPlans": []}], [])]


def test_one_of_keeps_a_sku_already_held(tenant):
    graph = graph_with(tenant, user([{"skuId": E3}]))
    result = tenant.run(skus=[PLAN1, E3], one_of=True)
    assert result["changed"] is False and graph.writes() == []


def test_one_of_falls_back_when_the_seat_was_taken_meanwhile(tenant):
    graph = graph_with(tenant, user())

    def someone_takes_the_last_seats():
        sku = next(s for s in graph.skus if s["skuId"] == PLAN1)
        sku["consumedUnits"] = sku["prepaidUnits"]["enabled"]

    graph.fail("assign_license", someone_takes_the_last_seats)  # between the module's read and its write
    result = tenant.run(skus=[PLAN1, E3], one_of=True)
    assert result["changed"] is True
    assert [w[2][0]["skuId"] for w in graph.writes()] == [PLAN1, E3]
    assert [a["skuPartNumber"] for a in result["assigned_licenses"]] == ["ENTERPRISEPACK"]
    assert held(graph) == [E3]


def test_given_tenant_skus_are_not_read_again_and_a_stale_seat_falls_back(tenant):
    graph = graph_with(tenant, user())
    stale = copy.deepcopy(graph.skus)  # what the read phase saw: PLAN1 had a free seat
    sku = next(s for s in graph.skus if s["skuId"] == PLAN1)
    sku["consumedUnits"] = sku["prepaidUnits"]["enabled"]  # taken since
    result = tenant.run(skus=[PLAN1, E3], one_of=True, tenant_skus=stale)
    assert result["changed"] is True
    assert graph.calls_to("subscribed_skus") == [()]  # only the re-read after Graph refused the stale seat
    assert [w[2][0]["skuId"] for w in graph.writes()] == [PLAN1, E3] and held(graph) == [E3]


def test_given_tenant_skus_save_the_read(tenant):
    graph = graph_with(tenant, user([{"skuId": PLAN1}]))
    result = tenant.run(skus={"remove": [PLAN1]}, direct_only=True, tenant_skus=copy.deepcopy(graph.skus))
    assert result["changed"] is True and graph.calls_to("subscribed_skus") == []
    assert graph.writes() == [("assign_license", USER_ID, [], [PLAN1])]


def test_direct_only_leaves_an_inherited_licence_alone_and_removes_the_direct_one(tenant):
    graph = graph_with(tenant, user([{"skuId": SALES, "assignedByGroup": GROUP}, {"skuId": PLAN1}]))
    result = tenant.run(skus=[SALES, PLAN1], state="absent", direct_only=True)
    assert result["changed"] is True
    assert graph.writes() == [("assign_license", USER_ID, [], [PLAN1])]
    assert "through a group membership" in warnings(result)


def test_without_direct_only_an_inherited_licence_fails_before_writing(tenant):
    graph = graph_with(tenant, user([{"skuId": SALES, "assignedByGroup": GROUP}, {"skuId": PLAN1}]))
    result = tenant.run(skus=[SALES, PLAN1], state="absent")
    assert result["failed"] is True and graph.writes() == []


# -- seat_wait: waiting for a free seat -------------------------------------------------------------------------


class Clock:
    """The module's clock, sleep and jitter draw: sleeping advances the clock, and can change the tenant."""

    def __init__(self, monkeypatch, on_sleep=None):
        self.now, self.pauses, self.on_sleep = 1000.0, [], on_sleep
        monkeypatch.setattr(m365_license, "clock", lambda: self.now)
        monkeypatch.setattr(m365_license, "sleep", self.sleep)
        monkeypatch.setattr(m365_license, "draw", lambda: 0.5)

    def sleep(self, seconds):
        self.pauses.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(len(self.pauses))


def sku_row(graph, sku_id):
    return next(s for s in graph.skus if s["skuId"] == sku_id)


def test_seat_wait_returns_waiting_without_writing_when_no_seat_frees_up(tenant, monkeypatch):
    graph = graph_with(tenant, user())
    clock = Clock(monkeypatch)
    result = tenant.run(skus=["DYN365_ENTERPRISE_SALES"], one_of=True, seat_wait=30, seat_poll_interval=10)
    assert result["changed"] is False and result["waiting"] is True
    assert graph.writes() == []
    assert sum(clock.pauses) == pytest.approx(30) and all(p <= 15 for p in clock.pauses)
    assert "DYN365_ENTERPRISE_SALES 2/2 used" in result["msg"]
    assert result["seats"]["DYN365_ENTERPRISE_SALES"]["free"] == 0


def test_seat_wait_takes_a_seat_freed_meanwhile(tenant, monkeypatch):
    graph = graph_with(tenant, user())

    def someone_gives_back(count):
        if count == 2:
            sku_row(graph, SALES)["consumedUnits"] = 1

    clock = Clock(monkeypatch, someone_gives_back)
    result = tenant.run(skus=["DYN365_ENTERPRISE_SALES"], one_of=True, seat_wait=600, seat_poll_interval=10)
    assert result["changed"] is True and result["waiting"] is False
    assert len(clock.pauses) == 2 and result["waited"] == 20
    assert held(graph) == [SALES]
    assert sku_row(graph, SALES)["consumedUnits"] == 2  # never above the enabled 2


def test_seat_wait_goes_back_to_waiting_when_the_seat_is_taken_before_the_assignment(tenant, monkeypatch):
    graph = graph_with(tenant, user())
    sku_row(graph, SALES)["consumedUnits"] = 1  # one free seat at the first reading

    def someone_takes_it():
        sku_row(graph, SALES)["consumedUnits"] = 2

    def it_frees_again(count):
        if count == 1:
            sku_row(graph, SALES)["consumedUnits"] = 1

    graph.fail("assign_license", someone_takes_it)
    clock = Clock(monkeypatch, it_frees_again)
    result = tenant.run(skus=["DYN365_ENTERPRISE_SALES"], one_of=True, seat_wait=60)
    assert result["changed"] is True and result["waiting"] is False
    assert len(clock.pauses) == 1
    assert held(graph) == [SALES]


def test_seat_wait_still_fails_at_once_without_any_enabled_seat(tenant, monkeypatch):
    graph = graph_with(tenant, user())
    sku_row(graph, SALES)["prepaidUnits"]["enabled"] = 0
    sku_row(graph, SALES)["consumedUnits"] = 0
    clock = Clock(monkeypatch)
    result = tenant.run(skus=["DYN365_ENTERPRISE_SALES"], one_of=True, seat_wait=60)
    assert result["failed"] is True
    assert "has an enabled seat" in result["msg"]
    assert clock.pauses == [] and graph.writes() == []


def test_seat_wait_0_keeps_failing_fast(tenant, monkeypatch):
    graph = graph_with(tenant, user())
    clock = Clock(monkeypatch)
    result = tenant.run(skus=["DYN365_ENTERPRISE_SALES"], one_of=True)
    assert result["failed"] is True
    assert "no free seat" in result["msg"]
    assert clock.pauses == [] and graph.writes() == []


def test_seat_wait_with_a_free_seat_does_not_wait(tenant, monkeypatch):
    graph = graph_with(tenant, user())
    clock = Clock(monkeypatch)
    result = tenant.run(skus=["DYN365_ENTERPRISE_SALES", PLAN1], one_of=True, seat_wait=60)
    assert result["changed"] is True and result["waited"] == 0 and clock.pauses == []
    assert held(graph) == [PLAN1]


# -- known_user: the user as an earlier task of the run returned it ----------------------------

def passed_on(states=(), owned=True, **extra):
    """The user as entra_user (or an earlier m365_license) returns it."""
    return dict(user(states, owned=owned), onPremisesSyncEnabled=None, **extra)


def test_known_user_borrow_sends_only_the_assignment(tenant):
    graph = graph_with(tenant, user())
    result = tenant.run(user=USER_ID, skus={"add": ["DYN365_ENTERPRISE_SALES", "DYN365_ENTERPRISE_PLAN1"]},
                        one_of=True, tenant_skus=copy.deepcopy(SKUS), known_user=passed_on())
    assert result["changed"] is True and held(graph) == [PLAN1]
    assert graph.names() == ["assign_license"]  # neither the user nor the seats were read
    assert [r["method"] for r in graph.sent()] == ["POST"]
    assert [s["skuId"] for s in result["user"]["licenseAssignmentStates"]] == [PLAN1]


def test_known_user_chain_borrow_then_give_back_reads_nothing(tenant):
    graph = graph_with(tenant, user())
    borrowed = tenant.run(user=USER_ID, skus={"add": ["DYN365_ENTERPRISE_PLAN1"]}, one_of=True,
                          tenant_skus=copy.deepcopy(SKUS), known_user=passed_on())
    given = tenant.run(user=USER_ID, skus={"remove": ["DYN365_ENTERPRISE_PLAN1"]}, direct_only=True,
                       tenant_skus=copy.deepcopy(SKUS), known_user=borrowed["user"])
    assert given["changed"] is True and held(graph) == []
    assert graph.names() == ["assign_license", "assign_license"]
    assert given["user"]["licenseAssignmentStates"] == []


def test_known_user_with_stale_licences_is_read_again_after_the_refusal(tenant):
    # The passed-on user still shows PLAN1, which someone removed meanwhile: Graph refuses the removal.
    graph = graph_with(tenant, user())
    result = tenant.run(user=USER_ID, skus={"remove": ["DYN365_ENTERPRISE_PLAN1"]}, direct_only=True,
                        tenant_skus=copy.deepcopy(SKUS), known_user=passed_on([{"skuId": PLAN1}]))
    assert "failed" not in result and result["changed"] is False
    assert graph.names() == ["assign_license", "find_user"]  # refused, then decided from a fresh read
    assert held(graph) == []


def test_known_user_without_the_mark_is_never_changed(tenant):
    graph = graph_with(tenant, user(owned=False))
    result = tenant.run(user=USER_ID, skus={"add": ["DYN365_ENTERPRISE_PLAN1"]}, tenant_skus=copy.deepcopy(SKUS),
                        known_user=passed_on(owned=False))
    assert result["failed"] is True and "was not created by d365.identity" in result["msg"]
    assert graph.writes() == [] and graph.names() == []


@pytest.mark.parametrize("known", [
    dict(passed_on(), id="99999999-2222-3333-4444-555555555555", userPrincipalName="other@contoso.onmicrosoft.com"),
    {k: v for k, v in passed_on().items() if k != "licenseAssignmentStates"},  # too little of it
    {k: v for k, v in passed_on().items() if k != "onPremisesExtensionAttributes"},
    dict(passed_on(), id="00000000-0000-0000-0000-000000000000"),  # check mode's placeholder
])
def test_known_user_that_cannot_stand_for_the_read_is_ignored(tenant, known):
    graph = graph_with(tenant, user([{"skuId": PLAN1}]))
    result = tenant.run(user=USER_ID, skus={"add": ["DYN365_ENTERPRISE_PLAN1"]}, one_of=True,
                        tenant_skus=copy.deepcopy(SKUS), known_user=known)
    assert result["changed"] is False and graph.writes() == []  # read: it holds PLAN1 already
    assert graph.names()[0].startswith("find_user")


def test_known_user_by_upn_and_check_mode(tenant):
    graph = graph_with(tenant, user())
    result = tenant.run(check=True, user=UPN.upper(), skus={"add": ["DYN365_ENTERPRISE_PLAN1"]},
                        tenant_skus=copy.deepcopy(SKUS), known_user=passed_on())
    assert result["changed"] is True and graph.sent() == [] and held(graph) == []
