# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.d365.identity.plugins.module_utils._errors import ApiError, PermissionDeniedError, TransportError
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module
from ansible_collections.d365.identity.plugins.modules import m365_license

ARGS = {"tenant_id": "t", "client_id": "c", "client_secret": "client-secret-for-unit-tests"}
PLAN1 = "ea126fc5-a19e-42e2-a731-da9d437bffcf"
SALES = "1e1a282c-9c54-43a2-9310-98ef728faace"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
EXCHANGE = "efb87545-963c-4e0d-99df-69c6916d9eb0"
TEAMS = "57ff2da0-773e-42df-b2af-ffb7a2317929"
GROUP = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SKUS = [
    {"skuId": PLAN1, "skuPartNumber": "DYN365_ENTERPRISE_PLAN1", "consumedUnits": 1, "prepaidUnits": {"enabled": 3},
     "servicePlans": [{"servicePlanId": "d56f3deb-50d8-465a-bedb-f079817ccac1", "servicePlanName": "CRMPLAN2"}]},
    {"skuId": SALES, "skuPartNumber": "DYN365_ENTERPRISE_SALES", "consumedUnits": 2, "prepaidUnits": {"enabled": 2},
     "servicePlans": []},
    {"skuId": E3, "skuPartNumber": "ENTERPRISEPACK", "consumedUnits": 0, "prepaidUnits": {"enabled": 5},
     "servicePlans": [{"servicePlanId": EXCHANGE, "servicePlanName": "EXCHANGE_S_ENTERPRISE"},
                      {"servicePlanId": TEAMS, "servicePlanName": "TEAMS1"}]},
]
UPN = "svc@contoso.onmicrosoft.com"
USER_ID = "11111111-2222-3333-4444-555555555555"


MARK = {"extensionAttribute15": "d365.identity"}


def user(states=(), usage="GB", owned=True):
    return {"id": USER_ID, "userPrincipalName": UPN, "usageLocation": usage,
            "onPremisesExtensionAttributes": MARK if owned else {},
            "assignedLicenses": [{"skuId": s["skuId"], "disabledPlans": s.get("disabledPlans", [])} for s in states],
            "licenseAssignmentStates": [dict({"disabledPlans": [], "assignedByGroup": None, "state": "Active"}, **s)
                                        for s in states]}


class FakeGraph:
    def __init__(self, the_user, fail=None, group_error=None):
        self.user = the_user
        self.fail = list(fail or [])
        self.group_error = group_error
        self.calls = []

    def subscribed_skus(self):
        self.calls.append(("GET", "subscribedSkus"))
        return [dict(s) for s in SKUS]

    def find_user(self, key, select=None):
        self.calls.append(("GET", key, tuple(select or ())))
        return json.loads(json.dumps(self.user)) if self.user and key in (UPN, USER_ID) else None

    def find_user_eventually(self, key, select=None, window=10.0):
        self.calls.append(("GET-eventually", key))
        return self.find_user(key, select)

    def get_group(self, group_id):
        self.calls.append(("GET", "groups/" + group_id))
        if self.group_error:
            raise self.group_error
        return {"id": group_id, "displayName": "Dynamics Sales"}

    def assign_license(self, user_id, add_licenses, remove_licenses):
        self.calls.append(("POST", user_id, add_licenses, remove_licenses))
        error = self.fail.pop(0) if self.fail else None
        if isinstance(error, tuple):  # ("after", exc): applied, then the answer got lost
            self._apply(add_licenses, remove_licenses)
            raise error[1]
        if error is not None:
            raise error
        self._apply(add_licenses, remove_licenses)

    def _apply(self, adds, removes):
        states = [s for s in self.user["licenseAssignmentStates"]
                  if s["assignedByGroup"] or s["skuId"] not in set(removes) | {a["skuId"] for a in adds}]
        states += [{"skuId": a["skuId"], "disabledPlans": a["disabledPlans"], "assignedByGroup": None} for a in adds]
        self.user = user(states, self.user["usageLocation"])

    def writes(self):
        return [c for c in self.calls if c[0] == "POST"]


def warnings(result):
    """Warning texts (ansible-core 2.19+ returns structured warnings, older cores strings)."""
    return json.dumps(result.get("warnings", []))


def run(monkeypatch, capsys, graph, check=False, diff=False, **args):
    monkeypatch.setattr(D365Module, "graph_client", lambda self: graph)
    params = dict(ARGS, user=UPN, **args)
    params["_ansible_check_mode"] = check
    params["_ansible_diff"] = diff
    with patch_module_args(params), pytest.raises(SystemExit):
        m365_license.main()
    return json.loads(capsys.readouterr().out)


def test_adds_sku_keeping_others(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": E3}]))
    result = run(monkeypatch, capsys, graph, diff=True, skus=["dyn365_enterprise_plan1"])
    assert result["changed"] is True
    assert graph.writes() == [("POST", USER_ID, [{"skuId": PLAN1, "disabledPlans": []}], [])]
    assert {a["skuPartNumber"] for a in result["assigned_licenses"]} == {"ENTERPRISEPACK", "DYN365_ENTERPRISE_PLAN1"}
    assert result["seats"] == {"DYN365_ENTERPRISE_PLAN1": {"enabled": 3, "consumed": 2, "free": 1}}
    assert result["diff"] == {"before": {"assigned_licenses": ["ENTERPRISEPACK"]},
                              "after": {"assigned_licenses": ["DYN365_ENTERPRISE_PLAN1", "ENTERPRISEPACK"]}}
    assert result["user_id"] == USER_ID


def test_reads_user_with_license_assignment_states(monkeypatch, capsys):
    graph = FakeGraph(user())
    run(monkeypatch, capsys, graph, check=True, skus=[PLAN1])
    selects = [c[2] for c in graph.calls if c[0] == "GET" and len(c) == 3]
    assert selects and "licenseAssignmentStates" in selects[0] and "assignedLicenses" in selects[0]


def test_already_assigned_writes_nothing(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": PLAN1}]))
    result = run(monkeypatch, capsys, graph, skus=[PLAN1.upper()])
    assert result["changed"] is False and graph.writes() == []
    assert result["assigned_licenses"] == [{"skuId": PLAN1, "skuPartNumber": "DYN365_ENTERPRISE_PLAN1",
                                            "disabledPlans": [], "assignedByGroup": None}]


def test_check_mode_writes_nothing(monkeypatch, capsys):
    graph = FakeGraph(user())
    result = run(monkeypatch, capsys, graph, check=True, skus=[PLAN1])
    assert result["changed"] is True and graph.writes() == []
    assert result["assigned_licenses"][0]["skuId"] == PLAN1


def test_disabled_plans_by_name_for_new_sku(monkeypatch, capsys):
    graph = FakeGraph(user())
    run(monkeypatch, capsys, graph, skus=["ENTERPRISEPACK"], disabled_plans=["exchange_s_enterprise", TEAMS])
    assert graph.writes()[0][2] == [{"skuId": E3, "disabledPlans": [EXCHANGE, TEAMS]}]


def test_disabled_plans_changed_on_assigned_sku(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": E3, "disabledPlans": [EXCHANGE]}]))
    result = run(monkeypatch, capsys, graph, skus=["ENTERPRISEPACK"], disabled_plans=["TEAMS1"])
    assert result["changed"] is True
    assert graph.writes()[0][2] == [{"skuId": E3, "disabledPlans": [TEAMS]}]


def test_disabled_plans_same_set_is_unchanged(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": E3, "disabledPlans": [TEAMS, EXCHANGE.upper()]}]))
    result = run(monkeypatch, capsys, graph, skus=["ENTERPRISEPACK"], disabled_plans=["EXCHANGE_S_ENTERPRISE", "TEAMS1"])
    assert result["changed"] is False and graph.writes() == []


def test_disabled_plans_unset_leaves_assigned_plans(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": E3, "disabledPlans": [EXCHANGE]}]))
    result = run(monkeypatch, capsys, graph, skus=["ENTERPRISEPACK"])
    assert result["changed"] is False and graph.writes() == []


def test_unknown_disabled_plan(monkeypatch, capsys):
    graph = FakeGraph(user())
    result = run(monkeypatch, capsys, graph, skus=["ENTERPRISEPACK"], disabled_plans=["NOPE"])
    assert result["failed"] is True
    assert "NOPE" in result["msg"] and "EXCHANGE_S_ENTERPRISE, TEAMS1" in result["msg"]
    assert graph.writes() == []


def test_unknown_sku_lists_tenant_part_numbers(monkeypatch, capsys):
    graph = FakeGraph(user())
    result = run(monkeypatch, capsys, graph, skus=["DYN365_NOPE"])
    assert result["failed"] is True
    assert "Unknown SKU DYN365_NOPE" in result["msg"]
    assert "DYN365_ENTERPRISE_PLAN1, DYN365_ENTERPRISE_SALES, ENTERPRISEPACK" in result["msg"]
    assert graph.writes() == []


def test_no_free_seat(monkeypatch, capsys):
    graph = FakeGraph(user())
    result = run(monkeypatch, capsys, graph, skus=["DYN365_ENTERPRISE_SALES"])
    assert result["failed"] is True
    assert "DYN365_ENTERPRISE_SALES has no free seat (enabled 2, consumed 2)" in result["msg"]
    assert graph.writes() == []


def test_no_free_seat_but_group_already_uses_one(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": SALES, "assignedByGroup": GROUP}]))
    result = run(monkeypatch, capsys, graph, skus=["DYN365_ENTERPRISE_SALES"])
    assert result["changed"] is True and len(graph.writes()) == 1
    assert result["seats"]["DYN365_ENTERPRISE_SALES"] == {"enabled": 2, "consumed": 2, "free": 0}


def test_no_usage_location(monkeypatch, capsys):
    graph = FakeGraph(user(usage=None))
    result = run(monkeypatch, capsys, graph, skus=[PLAN1])
    assert result["failed"] is True
    assert "no usageLocation" in result["msg"] and "usage_location" in result["msg"] and "entra_user" in result["msg"]
    assert graph.writes() == []


def test_no_usage_location_is_fine_when_nothing_to_add(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": PLAN1}], usage=None))
    assert run(monkeypatch, capsys, graph, skus=[PLAN1])["changed"] is False


def test_remove(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": PLAN1}, {"skuId": E3}]))
    result = run(monkeypatch, capsys, graph, diff=True, skus=["DYN365_ENTERPRISE_PLAN1"], state="absent")
    assert result["changed"] is True
    assert graph.writes() == [("POST", USER_ID, [], [PLAN1])]
    assert [a["skuId"] for a in result["assigned_licenses"]] == [E3]
    assert result["seats"]["DYN365_ENTERPRISE_PLAN1"] == {"enabled": 3, "consumed": 0, "free": 3}
    assert result["diff"]["after"] == {"assigned_licenses": ["ENTERPRISEPACK"]}


def test_remove_not_assigned_is_noop(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": E3}]))
    result = run(monkeypatch, capsys, graph, skus=[PLAN1], state="absent")
    assert result["changed"] is False and graph.writes() == []


def test_remove_inherited_names_group(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": SALES, "assignedByGroup": GROUP}]))
    result = run(monkeypatch, capsys, graph, skus=["DYN365_ENTERPRISE_SALES"], state="absent")
    assert result["failed"] is True
    assert "'Dynamics Sales' (%s)" % GROUP in result["msg"] and "cannot be removed per user" in result["msg"]
    assert graph.writes() == []


def test_remove_inherited_without_group_permission_still_names_id(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": SALES, "assignedByGroup": GROUP}]),
                      group_error=PermissionDeniedError("403", status=403))
    result = run(monkeypatch, capsys, graph, skus=["DYN365_ENTERPRISE_SALES"], state="absent")
    assert result["failed"] is True and GROUP in result["msg"]


def test_remove_direct_also_inherited_warns(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": SALES}, {"skuId": SALES, "assignedByGroup": GROUP}]))
    result = run(monkeypatch, capsys, graph, skus=["DYN365_ENTERPRISE_SALES"], state="absent")
    assert result["changed"] is True and graph.writes() == [("POST", USER_ID, [], [SALES])]
    assert "keeps DYN365_ENTERPRISE_SALES through group" in warnings(result)
    assert result["seats"]["DYN365_ENTERPRISE_SALES"]["consumed"] == 2


def test_missing_user_in_check_mode_is_pending_change(monkeypatch, capsys):
    graph = FakeGraph(None)
    result = run(monkeypatch, capsys, graph, check=True, skus=[PLAN1])
    assert result["changed"] is True and result["user_id"] is None
    assert "does not exist yet" in warnings(result)
    assert graph.writes() == []
    assert not any(c[0] == "GET-eventually" for c in graph.calls)  # no 10 s wait in check mode


def test_missing_user_in_check_mode_still_checks_seats(monkeypatch, capsys):
    result = run(monkeypatch, capsys, FakeGraph(None), check=True, skus=["DYN365_ENTERPRISE_SALES"])
    assert result["failed"] is True and "no free seat" in result["msg"]


def test_missing_user_fails_naming_entra_user(monkeypatch, capsys):
    graph = FakeGraph(None)
    result = run(monkeypatch, capsys, graph, skus=[PLAN1])
    assert result["failed"] is True and "d365.identity.entra_user" in result["msg"]
    assert ("GET-eventually", UPN) in graph.calls  # tolerated the new-user 404 window first


def test_missing_user_absent_is_noop(monkeypatch, capsys):
    result = run(monkeypatch, capsys, FakeGraph(None), skus=[PLAN1], state="absent")
    assert result["changed"] is False


def test_dropped_assign_that_was_applied_is_not_sent_again(monkeypatch, capsys):
    graph = FakeGraph(user(), fail=[("after", TransportError("no answer"))])
    result = run(monkeypatch, capsys, graph, skus=[PLAN1])
    assert result["changed"] is True and len(graph.writes()) == 1


def test_dropped_assign_not_applied_is_sent_again(monkeypatch, capsys):
    graph = FakeGraph(user(), fail=[TransportError("no answer")])
    result = run(monkeypatch, capsys, graph, skus=[PLAN1])
    assert result["changed"] is True and len(graph.writes()) == 2
    assert [s["skuId"] for s in graph.user["licenseAssignmentStates"]] == [PLAN1]


def test_assign_client_error_is_reported(monkeypatch, capsys):
    graph = FakeGraph(user(), fail=[ApiError("Graph POST failed: HTTP 400: nope", status=400)])
    result = run(monkeypatch, capsys, graph, skus=[PLAN1])
    assert result["failed"] is True and "nope" in result["msg"] and len(graph.writes()) == 1


def test_states_missing_fall_back_to_assigned_licenses():
    states = m365_license.assignment_states({"assignedLicenses": [{"skuId": PLAN1, "disabledPlans": []}]})
    assert states == [{"skuId": PLAN1, "disabledPlans": [], "assignedByGroup": None}]


# -- ownership and one_of -----------------------------------------------------------

def test_unowned_user_is_never_licensed_without_adopt(monkeypatch, capsys):
    graph = FakeGraph(user(owned=False))
    result = run(monkeypatch, capsys, graph, skus=[PLAN1])
    assert result["failed"] is True and graph.writes() == []
    assert "adopt: true" in result["msg"] and UPN in result["msg"]


def test_unowned_user_licence_removal_is_refused_too(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": PLAN1}], owned=False))
    result = run(monkeypatch, capsys, graph, skus=[PLAN1], state="absent")
    assert result["failed"] is True and graph.writes() == []


def test_unowned_user_with_nothing_to_do_is_ok(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": PLAN1}], owned=False))
    result = run(monkeypatch, capsys, graph, skus=[PLAN1])
    assert result["changed"] is False and graph.writes() == []


def test_adopt_allows_the_change(monkeypatch, capsys):
    graph = FakeGraph(user(owned=False))
    result = run(monkeypatch, capsys, graph, skus=[PLAN1], adopt=True)
    assert result["changed"] is True and len(graph.writes()) == 1


def test_one_of_takes_the_first_sku_with_a_free_seat(monkeypatch, capsys):
    graph = FakeGraph(user())
    result = run(monkeypatch, capsys, graph, skus=["DYN365_ENTERPRISE_SALES", PLAN1, E3], one_of=True)
    assert result["changed"] is True
    assert graph.writes() == [("POST", USER_ID, [{"skuId": PLAN1, "disabledPlans": []}], [])]


def test_one_of_keeps_a_sku_already_held(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": E3}]))
    result = run(monkeypatch, capsys, graph, skus=[PLAN1, E3], one_of=True)
    assert result["changed"] is False and graph.writes() == []


def test_one_of_falls_back_when_the_seat_was_taken_meanwhile(monkeypatch, capsys):
    taken = ApiError("Graph POST assignLicense failed", status=400, code="Request_BadRequest",
                     service_message="License assignment failed because service plans ... does not have any "
                                     "available licenses.")
    graph = FakeGraph(user(), fail=[taken])
    result = run(monkeypatch, capsys, graph, skus=[PLAN1, E3], one_of=True)
    assert result["changed"] is True
    assert [w[2][0]["skuId"] for w in graph.writes()] == [PLAN1, E3]
    assert [a["skuPartNumber"] for a in result["assigned_licenses"]] == ["ENTERPRISEPACK"]


def test_direct_only_leaves_an_inherited_licence_alone_and_removes_the_direct_one(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": SALES, "assignedByGroup": GROUP}, {"skuId": PLAN1}]))
    result = run(monkeypatch, capsys, graph, skus=[SALES, PLAN1], state="absent", direct_only=True)
    assert result["changed"] is True
    assert graph.writes() == [("POST", USER_ID, [], [PLAN1])]
    assert "through a group membership" in warnings(result)


def test_without_direct_only_an_inherited_licence_fails_before_writing(monkeypatch, capsys):
    graph = FakeGraph(user([{"skuId": SALES, "assignedByGroup": GROUP}, {"skuId": PLAN1}]))
    result = run(monkeypatch, capsys, graph, skus=[SALES, PLAN1], state="absent")
    assert result["failed"] is True and graph.writes() == []
