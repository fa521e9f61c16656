# SPDX-License-Identifier: GPL-3.0-or-later
"""One vocabulary in every module: identity, and add/remove/set for list options. The 0.x spellings
still work, write exactly what the new ones write, and warn."""

from __future__ import annotations

import json

import pytest

from ansible_collections.d365.identity.plugins.modules import (
    dataverse_role, dataverse_systemuser_info, entra_group_member, entra_user_info, m365_license)
from ansible_collections.d365.identity.tests.unit.fakes.dataverse import (
    BASIC_T, ENV_URL, FakeDataverse, SALES_BU, SALES_T, role_id, systemuser)
from ansible_collections.d365.identity.tests.unit.fakes.graph import FakeGraph, graph_group, graph_sku

PLAN1 = "ea126fc5-a19e-42e2-a731-da9d437bffcf"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
UPN = "svc@contoso.onmicrosoft.com"
USER_ID = "11111111-2222-3333-4444-555555555555"
OWNED = {"extensionAttribute15": "d365.identity"}
MEGAN_ID = "aaaaaaaa-0000-0000-0000-000000000001"
MEGAN_OID = "d13678c3-9c30-4a2f-983a-5e6e5dbc3c5f"
GROUP = {"id": "579ecf60-76b9-4e36-a90a-2b89beb3055b", "displayName": "Dynamics Prod Users"}
ALEX = {"id": "b7beb2d6-146a-4cd8-903f-b64910f61a7d", "userPrincipalName": "alex@contoso.onmicrosoft.com"}
DIEGO = {"id": "f0edb845-0916-4152-9032-99c4f1db696c", "userPrincipalName": "diego@contoso.onmicrosoft.com"}


def deprecations(result):
    return json.dumps(result.get("deprecations", []))


def licensed_user(*skus):
    return {"id": USER_ID, "userPrincipalName": UPN, "usageLocation": "GB", "onPremisesExtensionAttributes": OWNED,
            "licenseAssignmentStates": [{"skuId": s, "disabledPlans": [], "assignedByGroup": None} for s in skus]}


def licence_graph(tenant, *held):
    tenant.graph = FakeGraph([licensed_user(*held)], skus=[graph_sku(PLAN1, "DYN365_ENTERPRISE_PLAN1", enabled=3),
                                                           graph_sku(E3, "ENTERPRISEPACK", enabled=3)])
    return tenant.graph


@pytest.mark.parametrize("new, old", [
    ({"identity": UPN, "skus": {"add": ["DYN365_ENTERPRISE_PLAN1"]}},
     {"user": UPN, "skus": ["DYN365_ENTERPRISE_PLAN1"]}),
    ({"identity": UPN, "skus": {"remove": ["ENTERPRISEPACK"]}},
     {"upn": UPN, "skus": ["ENTERPRISEPACK"], "state": "absent"}),
])
def test_m365_license_old_spelling_writes_the_same_and_warns(tenant, new, old):
    graph = licence_graph(tenant, E3)
    result = tenant.run(m365_license, **new)
    assert result["changed"] is True and deprecations(result) == "[]"
    wanted = graph.writes()
    graph = licence_graph(tenant, E3)
    legacy = tenant.run(m365_license, **old)
    assert legacy["changed"] is True and graph.writes() == wanted
    assert "deprecated" in deprecations(legacy) and "1.0.0" in deprecations(legacy)


def test_m365_license_set_replaces_direct_licences_and_empty_set_clears(tenant):
    graph = licence_graph(tenant, E3)
    result = tenant.run(m365_license, identity=UPN, skus={"set": ["DYN365_ENTERPRISE_PLAN1"]})
    assert [s["skuPartNumber"] for s in result["assigned_licenses"]] == ["DYN365_ENTERPRISE_PLAN1"]
    assert [s["skuId"] for s in graph.user(USER_ID)["licenseAssignmentStates"]] == [PLAN1]
    again = tenant.run(m365_license, identity=UPN, skus={"set": ["DYN365_ENTERPRISE_PLAN1"]})
    assert again["changed"] is False
    cleared = tenant.run(m365_license, identity=UPN, skus={"set": [], "add": ["ENTERPRISEPACK"]})  # set wins
    assert cleared["changed"] is True and graph.user(USER_ID)["licenseAssignmentStates"] == []


def test_m365_license_state_with_the_dict_is_refused_before_any_request(tenant):
    graph = licence_graph(tenant)
    result = tenant.run(m365_license, identity=UPN, skus={"add": [PLAN1]}, state="absent")
    assert result["failed"] and "state applies only to the deprecated list spelling of skus" in result["msg"]
    assert graph.writes() == []


def test_m365_license_one_of_needs_add(tenant):
    licence_graph(tenant)
    result = tenant.run(m365_license, identity=UPN, skus={"set": [PLAN1]}, one_of=True)
    assert result["failed"] and "one_of picks one SKU of skus.add" in result["msg"]


def megan_environment(tenant):
    tenant.defaults["environment_url"] = ENV_URL
    return tenant.add_environment(FakeDataverse(users=[systemuser(
        MEGAN_ID, MEGAN_OID, "megan@contoso.onmicrosoft.com", business_unit=SALES_BU,
        roles=[role_id(SALES_T, SALES_BU)])]))


@pytest.mark.parametrize("new, old", [
    ({"roles": {"add": ["Basic User"]}}, {"roles": ["Basic User"]}),
    ({"roles": {"remove": ["Salesperson"]}}, {"roles": ["Salesperson"], "state": "absent"}),
    ({"roles": {"set": ["Basic User"]}}, {"roles": ["Basic User"], "purge": True}),
    ({"roles": {"set": []}}, {"roles": [], "purge": True}),
])
@pytest.mark.parametrize("name, old_name", [(MEGAN_OID, "entra_object_id"), (MEGAN_ID, "systemuser_id"),
                                            ("megan@contoso.onmicrosoft.com", "upn")])
def test_dataverse_role_old_spelling_writes_the_same_and_warns(tenant, new, old, name, old_name):
    dv = megan_environment(tenant)
    result = tenant.run(dataverse_role, identity=name, **new)
    assert result["changed"] is True and deprecations(result) == "[]"
    wanted = dv.writes()
    dv = megan_environment(tenant)
    legacy = tenant.run(dataverse_role, **dict(old, **{old_name: name}))
    assert legacy["changed"] is True and dv.writes() == wanted
    assert old_name in deprecations(legacy) and "roles: {" in deprecations(legacy)


def test_dataverse_role_add_and_remove_together(tenant):
    dv = megan_environment(tenant)
    result = tenant.run(dataverse_role, identity=MEGAN_OID, roles={"add": [BASIC_T], "remove": ["Salesperson"]})
    assert [r["name"] for r in result["roles"]] == ["Basic User"]
    assert dv.roles_of(MEGAN_ID) == ["Basic User"]


def test_two_old_identity_names_stay_mutually_exclusive(tenant):
    megan_environment(tenant)
    result = tenant.run(dataverse_systemuser_info, upn="a@b.c", systemuser_id=MEGAN_ID)
    assert result["failed"] and "mutually exclusive" in result["msg"]


def group_graph(tenant):
    tenant.graph = FakeGraph([ALEX, DIEGO], groups=[graph_group(GROUP["id"], GROUP["displayName"], [ALEX["id"]])])
    return tenant.graph


@pytest.mark.parametrize("new, old", [
    ({"members": {"add": [DIEGO["userPrincipalName"]]}}, {"members": [DIEGO["userPrincipalName"]]}),
    ({"members": {"remove": [ALEX["id"]]}}, {"users": [ALEX["id"]], "state": "absent"}),
])
def test_entra_group_member_old_spelling_writes_the_same_and_warns(tenant, new, old):
    graph = group_graph(tenant)
    result = tenant.run(entra_group_member, group=GROUP["displayName"], **new)
    assert result["changed"] is True and deprecations(result) == "[]"
    wanted = graph.writes()
    graph = group_graph(tenant)
    legacy = tenant.run(entra_group_member, group=GROUP["displayName"], **old)
    assert legacy["changed"] is True and graph.writes() == wanted and "members: {" in deprecations(legacy)


def test_entra_group_member_set_makes_the_only_members(tenant):
    graph = group_graph(tenant)
    result = tenant.run(entra_group_member, group=GROUP["id"], members={"set": [DIEGO["userPrincipalName"]]})
    assert [m["id"] for m in result["members"]] == [DIEGO["id"]]
    assert [m["id"] for m in result["removed"]] == [ALEX["id"]] and len(graph.writes()) == 2


def test_entra_user_info_identity_and_its_old_names(tenant):
    tenant.graph = FakeGraph([ALEX])
    for args in ({"identity": ALEX["id"]}, {"identity": ALEX["userPrincipalName"]}):
        result = tenant.run(entra_user_info, **args)
        assert result["user"]["id"] == ALEX["id"] and deprecations(result) == "[]"
    legacy = tenant.run(entra_user_info, id=ALEX["id"])
    assert legacy["user"]["id"] == ALEX["id"] and "'id' is deprecated" in deprecations(legacy)
