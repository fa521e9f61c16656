# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._errors import ApiError, PermissionDeniedError, TransportError
from ansible_collections.d365.identity.plugins.modules import dataverse_systemuser
from ansible_collections.d365.identity.tests.unit.plugins.modules.dataverse_fake import (
    ENV_ID, ENV_URL, LYNNE_OID, MEGAN_ID, FakeAdmin, FakeDataverse, FakeGraph, Harness, megan, new_user)

LYNNE_UPN = "lynne@contoso.onmicrosoft.com"
ENTRA = {LYNNE_OID: LYNNE_UPN}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(dataverse_systemuser, "sleep", slept.append)
    return slept


def harness(monkeypatch, capsys, users=(), admin_error=None, **kwargs):
    dv = FakeDataverse(list(users), **kwargs)
    return Harness(monkeypatch, capsys, dv, FakeAdmin(dv, ENTRA, admin_error), FakeGraph(ENTRA))


def test_sets_access_mode_with_minimal_patch_then_idempotent(monkeypatch, capsys):
    h = harness(monkeypatch, capsys, [megan()])
    result = h.run(dataverse_systemuser, {"upn": "megan@contoso.onmicrosoft.com", "access_mode": "non_interactive"},
                   diff=True)
    assert result["changed"] is True
    assert h.dataverse.writes == [("PATCH", MEGAN_ID, {"accessmode": 4})]
    assert result["systemuser"]["access_mode"] == "non_interactive" and result["systemuser"]["accessmode"] == 4
    assert result["diff"] == {"before": {"synchronised": True, "access_mode": "read_write"},
                              "after": {"synchronised": True, "access_mode": "non_interactive"}}
    assert result["sync_requested"] is False
    again = h.run(dataverse_systemuser, {"upn": "megan@contoso.onmicrosoft.com", "access_mode": "non_interactive"})
    assert again["changed"] is False and len(h.dataverse.writes) == 1


def test_patch_uses_if_match_star():
    # The real client: PATCH systemusers(<id>) with If-Match: * (no upsert).
    from ansible_collections.d365.identity.plugins.module_utils._clients.dataverse import DataverseClient
    from ansible_collections.d365.identity.tests.unit.fakes import FakeResponse, FakeSession, FakeTokens
    session = FakeSession([FakeResponse(204)])
    DataverseClient(ENV_URL, ENV_URL + "/.default", FakeTokens(), session).update_systemuser(MEGAN_ID, {"accessmode": 4})
    call = session.calls[0]
    assert call["method"] == "PATCH" and call["url"].endswith("/api/data/v9.2/systemusers(%s)" % MEGAN_ID)
    assert call["headers"]["If-Match"] == "*" and call["data"] == '{"accessmode": 4}'


def test_check_mode_writes_nothing(monkeypatch, capsys):
    h = harness(monkeypatch, capsys, [megan()])
    result = h.run(dataverse_systemuser, {"systemuser_id": MEGAN_ID, "access_mode": "read"}, check=True)
    assert result["changed"] is True and result["systemuser"]["access_mode"] == "read"
    assert h.dataverse.writes == []


def test_missing_user_without_sync_fails(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    result = h.run(dataverse_systemuser, {"upn": LYNNE_UPN, "access_mode": "non_interactive"})
    assert result["failed"]
    assert "not yet synchronised into %s" % ENV_URL in result["msg"] and "sync: true" in result["msg"]
    assert h.dataverse.writes == [] and h.admin.calls == []


def test_sync_adds_user_via_admin_api_resolving_upn_from_graph(monkeypatch, capsys, no_sleep):
    h = harness(monkeypatch, capsys)
    result = h.run(dataverse_systemuser, {"upn": LYNNE_UPN, "sync": True, "access_mode": "non_interactive"}, diff=True)
    assert result["changed"] is True and result["sync_requested"] is True
    assert h.graph.calls == [(LYNNE_UPN, ["id"])]
    assert h.admin.calls == [(ENV_ID, LYNNE_OID)]  # environment id from RetrieveCurrentOrganization
    assert result["systemuser"]["azureactivedirectoryobjectid"] == LYNNE_OID
    assert result["systemuser"]["access_mode"] == "non_interactive"
    assert [w[0] for w in h.dataverse.writes] == ["PATCH"]
    assert result["diff"]["before"] == {"synchronised": False, "access_mode": None}
    assert no_sleep == []  # available at once: no waiting
    again = h.run(dataverse_systemuser, {"upn": LYNNE_UPN, "sync": True, "access_mode": "non_interactive"})
    assert again["changed"] is False and again["sync_requested"] is False and len(h.admin.calls) == 1


def test_sync_with_object_id_skips_graph(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    result = h.run(dataverse_systemuser, {"entra_object_id": LYNNE_OID, "sync": True})
    assert result["changed"] is True and h.graph.calls == [] and h.admin.calls == [(ENV_ID, LYNNE_OID)]
    assert h.dataverse.writes == []  # no access_mode asked: nothing to PATCH


def test_check_mode_missing_user_is_pending_sync(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    result = h.run(dataverse_systemuser, {"upn": LYNNE_UPN, "sync": True, "access_mode": "non_interactive"},
                   check=True)
    assert result["changed"] is True and result["sync_requested"] is True
    assert result["systemuser"]["systemuserid"] == "00000000-0000-0000-0000-000000000000"
    assert h.admin.calls == [] and h.dataverse.writes == [] and h.graph.calls == []


@pytest.mark.parametrize("error, expected", [
    (ApiError("x", status=400, code="userNotLicensed", service_message="The user does not have a valid license."),
     "Fix: assign the user a Dynamics 365 licence"),
    (ApiError("x", status=400, code="userNotPartOfSecurityGroup", service_message="not a member"),
     "Fix: add the user to the environment's security group"),
    (PermissionDeniedError("x", status=403, code="Forbidden", service_message="does not have permission"),
     "Fix: register the client as a Power Platform admin management application"),
])
def test_sync_diagnostics_name_the_fix(monkeypatch, capsys, error, expected):
    h = harness(monkeypatch, capsys, admin_error=error)
    result = h.run(dataverse_systemuser, {"upn": LYNNE_UPN, "sync": True, "access_mode": "non_interactive"})
    assert result["failed"] and expected in result["msg"]
    assert "Could not add user_principal_name %s to %s" % (LYNNE_UPN, ENV_URL) in result["msg"]
    assert result["status"] == error.status and result["error_code"] == error.code
    assert h.dataverse.writes == []


def test_add_user_without_answer_rereads_before_retrying(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    real = h.admin.add_user

    def dropped_after_apply(env_id, oid):
        real(env_id, oid)
        raise TransportError("no answer")
    h.admin.add_user = dropped_after_apply
    result = h.run(dataverse_systemuser, {"entra_object_id": LYNNE_OID, "sync": True})
    assert result["changed"] is True and len(h.admin.calls) == 1


def test_sync_user_never_appears_fails_after_bounded_wait(monkeypatch, capsys, no_sleep):
    h = harness(monkeypatch, capsys)
    h.admin.add_user = lambda env_id, oid: h.admin.calls.append((env_id, oid))
    result = h.run(dataverse_systemuser, {"entra_object_id": LYNNE_OID, "sync": True})
    assert result["failed"] and "still missing after 30 s" in result["msg"]
    assert no_sleep == [1, 2, 4, 8, 15]


def test_unknown_upn_in_entra_fails(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    result = h.run(dataverse_systemuser, {"upn": "ghost@contoso.onmicrosoft.com", "sync": True})
    assert result["failed"] and "does not exist in Microsoft Entra ID" in result["msg"] and h.admin.calls == []


def test_systemuser_id_cannot_be_synced(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    result = h.run(dataverse_systemuser, {"systemuser_id": MEGAN_ID, "sync": True})
    assert result["failed"] and "needs entra_object_id or user_principal_name" in result["msg"]


def seven_non_interactive():
    return [new_user("cccccccc-0000-0000-0000-00000000000%d" % i, "dddddddd-0000-0000-0000-00000000000%d" % i,
                     "ni%d@contoso.onmicrosoft.com" % i, accessmode=4) for i in range(7)]


@pytest.mark.parametrize("org_resources", [True, False])
def test_cap_of_seven_fails_without_write(monkeypatch, capsys, org_resources):
    h = harness(monkeypatch, capsys, seven_non_interactive() + [megan()], org_resources=org_resources)
    result = h.run(dataverse_systemuser, {"systemuser_id": MEGAN_ID, "access_mode": "non_interactive"})
    assert result["failed"]
    assert "already has 7 non-interactive users, the maximum of 7 per environment" in result["msg"]
    assert "Fix: set another user of this environment back to read_write" in result["msg"]
    assert h.dataverse.writes == []


def test_sixth_to_seventh_is_allowed(monkeypatch, capsys):
    h = harness(monkeypatch, capsys, seven_non_interactive()[:6] + [megan()])
    result = h.run(dataverse_systemuser, {"systemuser_id": MEGAN_ID, "access_mode": "non_interactive"})
    assert result["changed"] is True and len(h.dataverse.writes) == 1


def test_cap_not_checked_when_already_non_interactive_or_other_mode(monkeypatch, capsys):
    h = harness(monkeypatch, capsys, seven_non_interactive() + [megan()])
    result = h.run(dataverse_systemuser, {"systemuser_id": MEGAN_ID, "access_mode": "read"})
    assert result["changed"] is True
    assert not any(read[0] == "RetrieveOrganizationResources()" for read in h.dataverse.reads)


def test_access_mode_permission_error_names_fix(monkeypatch, capsys):
    h = harness(monkeypatch, capsys, [megan()])
    h.dataverse.fail_next = [(ApiError("Dataverse PATCH failed: HTTP 403 0x80048d2f: no.", status=403,
                                       code="0x80048d2f"), False)]
    result = h.run(dataverse_systemuser, {"systemuser_id": MEGAN_ID, "access_mode": "read"})
    assert result["failed"] and "Read-Write access mode" in result["msg"]


def test_environment_id_falls_back_to_the_admin_api_list(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)

    def no_function():
        raise ApiError("Resource not found for the segment", status=404, code="0x80060888")
    h.dataverse.current_organization = no_function
    looked_up = []
    h.admin.environment_id_for_url = lambda url: looked_up.append(url) or ENV_ID
    result = h.run(dataverse_systemuser, {"entra_object_id": LYNNE_OID, "sync": True})
    assert result["changed"] is True and looked_up == [ENV_URL] and h.admin.calls == [(ENV_ID, LYNNE_OID)]


def test_unknown_environment_url_in_admin_api_fails_clearly(monkeypatch, capsys):
    h = harness(monkeypatch, capsys)
    h.dataverse.current_organization = lambda: {"Detail": {}}
    h.admin.environment_id_for_url = lambda url: None
    result = h.run(dataverse_systemuser, {"entra_object_id": LYNNE_OID, "sync": True})
    assert result["failed"] and "No Power Platform environment has the instance URL %s" % ENV_URL in result["msg"]
    assert h.admin.calls == []
