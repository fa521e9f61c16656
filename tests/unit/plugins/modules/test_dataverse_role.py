# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.d365.identity.plugins.module_utils._errors import ApiError, TransportError
from ansible_collections.d365.identity.plugins.modules import dataverse_role
from ansible_collections.d365.identity.tests.unit.plugins.modules.dataverse_fake import (
    BASIC_T, ENV_URL, MEGAN_ID, SALES_BU, SALES_T, SYSADMIN_T, FakeDataverse, Harness, megan, role_id)

MEGAN = {"upn": "megan@contoso.onmicrosoft.com"}
SYSADMIN_SALES = role_id(SYSADMIN_T, SALES_BU)
BASIC_SALES = role_id(BASIC_T, SALES_BU)
SALESPERSON = role_id(SALES_T, SALES_BU)


def harness(monkeypatch, capsys, **user):
    return Harness(monkeypatch, capsys, FakeDataverse([megan(**user)]))


def test_grants_system_administrator_of_the_users_business_unit_by_template(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    result = h.run(dataverse_role, dict(MEGAN, roles=["System Administrator"]), diff=True)
    assert result["changed"] is True
    # The role is called "Systemadministrator" here (another language): resolved by template, in Sales EU.
    assert h.dataverse.writes == [("POST", MEGAN_ID, SYSADMIN_SALES)]
    assert ("roles", {"$filter": "_businessunitid_value eq %s" % SALES_BU}) in h.dataverse.reads
    assert [r["name"] for r in result["added"]] == ["Systemadministrator"] and result["removed"] == []
    assert [r["name"] for r in result["roles"]] == ["Salesperson", "Systemadministrator"]
    assert all(r["businessunitid"] == SALES_BU for r in result["roles"])
    assert result["diff"] == {"before": {"roles": ["Salesperson"]},
                              "after": {"roles": ["Salesperson", "Systemadministrator"]}}
    again = h.run(dataverse_role, dict(MEGAN, roles=["system administrator", "salesperson"]))
    assert again["changed"] is False and again["added"] == [] and len(h.dataverse.writes) == 1


def test_check_mode_returns_would_be_roles_and_writes_nothing(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    result = h.run(dataverse_role, dict(MEGAN, roles=[BASIC_T.upper()], purge=True), check=True)
    assert result["changed"] is True
    assert [r["name"] for r in result["roles"]] == ["Basic User"]
    assert [r["name"] for r in result["removed"]] == ["Salesperson"]
    assert h.dataverse.writes == []


def test_purge_replaces_and_absent_removes(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    result = h.run(dataverse_role, dict(MEGAN, roles=["Basic User"], purge=True))
    assert h.dataverse.writes == [("POST", MEGAN_ID, BASIC_SALES), ("DELETE", MEGAN_ID, SALESPERSON)]
    assert [r["name"] for r in result["roles"]] == ["Basic User"]
    result = h.run(dataverse_role, dict(MEGAN, roles=["Basic User", "Salesperson"], state="absent"))
    assert result["changed"] is True and [r["name"] for r in result["removed"]] == ["Basic User"]
    assert result["roles"] == []
    result = h.run(dataverse_role, dict(MEGAN, roles=["Basic User"], state="absent"))
    assert result["changed"] is False and len(h.dataverse.writes) == 3


def test_purge_with_empty_list_removes_everything_without_resolving(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    result = h.run(dataverse_role, dict(MEGAN, roles=[], purge=True))
    assert result["changed"] is True and h.dataverse.writes == [("DELETE", MEGAN_ID, SALESPERSON)]
    assert not any(read[0] == "roles" for read in h.dataverse.reads)


def test_unknown_role_lists_available_roles_and_writes_nothing(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    result = h.run(dataverse_role, dict(MEGAN, roles=["Basic User", "Sales Manager"]))
    assert result["failed"]
    assert "Role 'Sales Manager' not found in business unit Sales EU (%s) of %s" % (SALES_BU, ENV_URL) in result["msg"]
    assert "Roles available there: Basic User, Salesperson, Systemadministrator" in result["msg"]
    assert h.dataverse.writes == []


def test_disabled_user_fails_before_any_write(monkeypatch, capsys):
    h = harness(monkeypatch, capsys, isdisabled=True)
    result = h.run(dataverse_role, dict(MEGAN, roles=["System Administrator"]))
    assert result["failed"]
    assert "is disabled in %s" % ENV_URL in result["msg"]
    assert "roles can only be granted while the user is licensed and enabled" in result["msg"]
    assert h.dataverse.writes == []
    # Nothing to grant: a disabled user that already holds the roles is fine (idempotent).
    assert h.run(dataverse_role, dict(MEGAN, roles=["Salesperson"]))["changed"] is False


def test_missing_user_fails(monkeypatch, capsys):
    h = Harness(monkeypatch, capsys, FakeDataverse([]))
    result = h.run(dataverse_role, dict(MEGAN, roles=["Basic User"]))
    assert result["failed"] and "not yet synchronised into %s" % ENV_URL in result["msg"]
    assert "dataverse_systemuser (sync: true)" in result["msg"]


def test_dropped_association_is_confirmed_by_reread_not_resent(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    h.dataverse.fail_next = [(TransportError("no answer"), True)]  # applied, answer lost
    result = h.run(dataverse_role, dict(MEGAN, roles=["Basic User"]))
    assert result["changed"] is True and h.dataverse.writes == [("POST", MEGAN_ID, BASIC_SALES)]


def test_server_error_before_apply_is_retried_once_confirmed_missing(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    h.dataverse.fail_next = [(ApiError("boom", status=500, code="0x80040216"), False)]
    result = h.run(dataverse_role, dict(MEGAN, roles=["Basic User"]))
    assert result["changed"] is True and len(h.dataverse.writes) == 2
    assert BASIC_SALES in h.dataverse.users[MEGAN_ID]["__roles"]


def test_client_error_is_not_retried(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    h.dataverse.fail_next = [(ApiError("Dataverse POST failed: HTTP 400: bad", status=400, code="0x80048d19"), False)]
    result = h.run(dataverse_role, dict(MEGAN, roles=["Basic User"]))
    assert result["failed"] and len(h.dataverse.writes) == 1


def test_requires_an_identifier(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    result = h.run(dataverse_role, {"roles": ["Basic User"]})
    assert result["failed"] and "one of the following is required" in result["msg"]
