# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.d365.identity.plugins.modules import dataverse_systemuser_info
from ansible_collections.d365.identity.tests.unit.plugins.modules.dataverse_fake import (
    LYNNE_OID, MEGAN_OID, SALES_BU, FakeDataverse, Harness, megan, new_user)


def users():
    return [megan(accessmode=4), new_user("aaaaaaaa-0000-0000-0000-000000000002", LYNNE_OID,
                                          "lynne@contoso.onmicrosoft.com")]


def test_by_upn_returns_user_roles_and_counts(monkeypatch, capsys):
    dv = FakeDataverse(users())
    result = Harness(monkeypatch, capsys, dv).run(dataverse_systemuser_info, {"upn": "MEGAN@contoso.onmicrosoft.com"})
    assert result["changed"] is False
    [user] = result["systemusers"]
    assert user["azureactivedirectoryobjectid"] == MEGAN_OID
    assert user["accessmode"] == 4 and user["access_mode"] == "non_interactive"
    assert user["businessunitid"] == SALES_BU
    assert [r["name"] for r in user["roles"]] == ["Salesperson"]
    assert user["roles"][0]["businessunitid"] == SALES_BU
    assert result["non_interactive_count"] == 1 and result["non_interactive_max"] == 7
    # One GET gives the user and its roles.
    path, params = dv.reads[0]
    assert params["$filter"] == "domainname eq 'MEGAN@contoso.onmicrosoft.com'"
    assert params["$expand"].startswith("systemuserroles_association($select=roleid,name,_roletemplateid_value")
    assert "_businessunitid_value" in params["$select"] and "accessmode" in params["$select"]
    assert dv.writes == []


def test_missing_user_is_an_empty_list_not_a_failure(monkeypatch, capsys):
    result = Harness(monkeypatch, capsys, FakeDataverse(users())).run(
        dataverse_systemuser_info, {"entra_object_id": "0f0f0f0f-0000-0000-0000-000000000000"})
    assert result["systemusers"] == [] and "failed" not in result


def test_access_mode_filter_and_count_fallback(monkeypatch, capsys):
    dv = FakeDataverse(users(), org_resources=False)
    result = Harness(monkeypatch, capsys, dv).run(dataverse_systemuser_info, {"access_mode": "non_interactive"})
    assert [u["domainname"] for u in result["systemusers"]] == ["megan@contoso.onmicrosoft.com"]
    assert dv.reads[0][1]["$filter"] == "accessmode eq 4"
    # RetrieveOrganizationResources failed: counted rows instead (application users excluded), cap 7.
    assert dv.reads[-1][1]["$filter"] == "accessmode eq 4 and applicationid eq null"
    assert result["non_interactive_count"] == 1 and result["non_interactive_max"] == 7


def test_identifier_and_access_mode_combine(monkeypatch, capsys):
    dv = FakeDataverse(users())
    result = Harness(monkeypatch, capsys, dv).run(dataverse_systemuser_info,
                                                  {"entra_object_id": LYNNE_OID.upper(), "access_mode": "read_write"})
    assert len(result["systemusers"]) == 1
    assert dv.reads[0][1]["$filter"] == "azureactivedirectoryobjectid eq %s and accessmode eq 0" % LYNNE_OID


def test_bad_guid_fails_before_any_request(monkeypatch, capsys):
    dv = FakeDataverse(users())
    result = Harness(monkeypatch, capsys, dv).run(dataverse_systemuser_info, {"systemuser_id": "x' or 1 eq 1"})
    assert result["failed"] and "systemuser_id must be a GUID" in result["msg"]
    assert dv.reads == []


def test_identifiers_are_mutually_exclusive(monkeypatch, capsys):
    result = Harness(monkeypatch, capsys, FakeDataverse()).run(
        dataverse_systemuser_info, {"upn": "a@b.c", "systemuser_id": "aaaaaaaa-0000-0000-0000-000000000002"})
    assert result["failed"] and "mutually exclusive" in result["msg"]


def test_count_can_be_skipped_for_polling(monkeypatch, capsys):
    dv = FakeDataverse(users())
    result = Harness(monkeypatch, capsys, dv).run(
        dataverse_systemuser_info, {"entra_object_id": MEGAN_OID, "count_non_interactive": False})
    assert len(result["systemusers"]) == 1
    assert "non_interactive_count" not in result and "non_interactive_max" not in result
    assert len(dv.reads) == 1  # only the user read: no RetrieveOrganizationResources, no count query
