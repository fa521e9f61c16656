# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit's decisions: slots, the Entra account's state, licences held, findings and the summary."""
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._domain import audit

URL = "https://contoso.crm4.dynamics.com"
PLAN1 = "ea126fc5-a19e-42e2-a731-da9d437bffcf"
SKUS = [{"skuId": PLAN1.upper(), "skuPartNumber": "DYN365_ENTERPRISE_PLAN1"}]
OID = "0a000000-0000-4000-8000-000000000001"


def row(oid=OID, upn="svc@contoso.com", disabled=False, roles=("System Administrator",)):
    return {"systemuserid": "5a000000-0000-4000-8000-000000000001", "domainname": upn, "fullname": "svc",
            "azureactivedirectoryobjectid": oid, "accessmode": 4, "isdisabled": disabled, "islicensed": False,
            "_businessunitid_value": "bu", "systemuserroles_association": [{"roleid": "r%d" % i, "name": n}
                                                                           for i, n in enumerate(roles)]}


def entra(enabled=True, licences=(), mark="d365.identity", upn="svc@contoso.com"):
    return {"read": True, "user": {"id": OID, "userPrincipalName": upn, "accountEnabled": enabled,
                                   "licenseAssignmentStates": list(licences),
                                   "onPremisesExtensionAttributes": {"extensionAttribute15": mark}}}


@pytest.mark.parametrize("resources, rows, expected", [
    ({"CurrentNumberOfNonInteractiveUsers": 3, "MaxNumberOfNonInteractiveUsers": 7}, [], (3, 7, 4)),
    ({"CurrentNumberOfNonInteractiveUsers": 9, "MaxNumberOfNonInteractiveUsers": 7}, [], (9, 7, 0)),
    (None, [{}, {}], (2, 7, 5)),  # not available: the rows read and the documented cap
    ({"CurrentNumberOfNonInteractiveUsers": True, "MaxNumberOfNonInteractiveUsers": 0}, [{}], (1, 7, 6)),
    ({"CurrentNumberOfNonInteractiveUsers": -1, "MaxNumberOfNonInteractiveUsers": "7"}, [], (0, 7, 7)),
])
def test_slot_counts(resources, rows, expected):
    slots = audit.slot_counts(resources, rows)
    assert (slots["used"], slots["max"], slots["free"]) == expected


@pytest.mark.parametrize("reading, state", [
    (entra(), "enabled"), (entra(enabled=False), "disabled"),
    ({"read": True, "user": None, "deleted": {"id": OID}}, "deleted"),
    ({"read": True, "user": None, "deleted": None}, "not found"),
    ({"read": False, "error": "HTTP 403"}, "unknown"), (None, "unknown"),
])
def test_entra_state(reading, state):
    assert audit.entra_state(reading) == state


def test_held_licences_direct_and_by_group_named_by_part_number():
    user = {"licenseAssignmentStates": [{"skuId": PLAN1, "assignedByGroup": None},
                                        {"skuId": PLAN1, "assignedByGroup": "g1"},
                                        {"skuId": PLAN1, "assignedByGroup": None},
                                        {"skuId": "ffffffff-0000-0000-0000-000000000000", "assignedByGroup": None}]}
    held = audit.held_licences(user, SKUS)
    assert [audit.licence_text(h) for h in held] == [
        "DYN365_ENTERPRISE_PLAN1", "DYN365_ENTERPRISE_PLAN1 (via group g1)", "ffffffff-0000-0000-0000-000000000000"]
    # Graph left licenseAssignmentStates out: assignedLicenses count as direct.
    assert audit.held_licences({"assignedLicenses": [{"skuId": PLAN1}]}, None)[0]["sku"] == PLAN1


def test_healthy_owned_user():
    out = audit.audit_row(URL, row(), entra(), SKUS, 15)
    assert (out["status"], out["findings"], out["owned"], out["entra"], out["dataverse"]) == \
        ("ok", [], True, "enabled", "enabled")
    assert out["roles"] == ["System Administrator"] and out["licences"] == []
    assert audit.audit_row(URL, row(), entra(), SKUS, 3)["owned"] is False
    assert audit.audit_row(URL, row(), entra(mark="HR"), SKUS, 15)["owned"] is False


def test_seat_wasted_and_broken_findings():
    licensed = audit.audit_row(URL, row(), entra(licences=[{"skuId": PLAN1, "assignedByGroup": None}]), SKUS, 15)
    assert licensed["status"] == "seat wasted" and "holds DYN365_ENTERPRISE_PLAN1" in licensed["findings"][0]
    both = audit.audit_row(URL, row(disabled=True), entra(enabled=False, licences=[{"skuId": PLAN1,
                                                                                    "assignedByGroup": "g"}]), SKUS, 15)
    assert both["status"] == "broken" and len(both["findings"]) == 3
    assert "from group g" in both["findings"][0] and "disabled in Dataverse" in both["findings"][1]
    assert "Entra account disabled" in both["findings"][2]
    gone = audit.audit_row(URL, row(disabled=True, roles=()), {"read": True, "user": None,
                                                               "deleted": {"userPrincipalName": "old@contoso.com",
                                                                           "deletedDateTime": "2026-11-01T10:00:00Z"}},
                           SKUS, 15)
    assert (gone["entra"], gone["user"], gone["owned"], gone["roles"]) == ("deleted", "old@contoso.com", None, [])
    assert "deleted on 2026-11-01T10:00:00Z" in gone["findings"][-1]
    unread = audit.audit_row(URL, row(), {"read": False, "error": "HTTP 403 Forbidden"}, SKUS, 15)
    assert unread["status"] == "ok" and unread["findings"] == ["Entra account not read: HTTP 403 Forbidden"]
    assert unread["user"] == "svc@contoso.com"  # from the systemuser when Entra was not read


def test_build_summarises_and_reports_unreadable_environments_and_users_once():
    other = "0a000000-0000-4000-8000-000000000002"
    environments = [
        {"url": URL, "rows": [row(), row(oid=other, upn="b@contoso.com")], "resources": None, "error": None},
        {"url": URL + "/2", "rows": [row()], "resources": {"CurrentNumberOfNonInteractiveUsers": 1,
                                                           "MaxNumberOfNonInteractiveUsers": 7}, "error": None},
        {"url": URL + "/3", "rows": None, "resources": None, "error": "token refused"},
    ]
    readings = {OID: entra(licences=[{"skuId": PLAN1, "assignedByGroup": None}]),
                other: {"read": False, "error": "HTTP 403"}}
    result = audit.build(environments, readings, SKUS, 15)
    assert [(r["environment"], r["user"]) for r in result["rows"]] == [
        (URL, "b@contoso.com"), (URL, "svc@contoso.com"), (URL + "/2", "svc@contoso.com")]
    assert result["summary"] == {"environments": 3, "rows": 3, "users": 2, "owned": 1, "not_owned": 0,
                                 "seats_wasted": 1, "broken": 0, "errors": 2}
    assert result["environments"][0]["slots"] == {"used": 2, "max": 7, "free": 5}
    assert result["environments"][0]["seats_wasted"] == 1 and result["environments"][2]["slots"] is None
    assert result["errors"] == [URL + "/3: token refused", "Entra user %s: HTTP 403" % other]
    many = audit.build([], {OID: {"read": False, "error": "x"}, other: {"read": False, "error": "x"}}, None, 15)
    assert many["errors"] == ["Entra users %s, %s: x" % (OID, other)]
