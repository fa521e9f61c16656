# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._clients.dataverse import DataverseClient
from ansible_collections.d365.identity.plugins.modules import dataverse_systemuser
from ansible_collections.d365.identity.tests.unit.fakes.admin_api import FakeAdmin
from ansible_collections.d365.identity.tests.unit.fakes.base import Lost, NO_EFFECT
from ansible_collections.d365.identity.tests.unit.fakes.dataverse import (
    BASIC_T, ENV_ID, ENV_URL, FakeDataverse, ROOT_BU, SALES_BU, SALES_T, role_id, systemuser)
from ansible_collections.d365.identity.tests.unit.fakes.graph import FakeGraph
from ansible_collections.d365.identity.tests.unit.fakes.http import FakeResponse, over_session

MEGAN_ID = "aaaaaaaa-0000-0000-0000-000000000001"
MEGAN_OID = "d13678c3-9c30-4a2f-983a-5e6e5dbc3c5f"
MEGAN_UPN = "megan@contoso.onmicrosoft.com"
LYNNE_OID = "6b29e6f6-1445-4dd4-935a-349151f27467"
LYNNE_UPN = "lynne@contoso.onmicrosoft.com"
ADD_USER = "scopes/admin/environments/%s/addUser" % ENV_ID


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(dataverse_systemuser, "sleep", slept.append)
    return slept


@pytest.fixture
def tenant(tenant):
    """Lynne exists in Entra ID (not yet in Dataverse); the environment holds the given users."""
    tenant.module = dataverse_systemuser
    tenant.defaults["environment_url"] = ENV_URL
    tenant.graph = FakeGraph([{"id": LYNNE_OID, "userPrincipalName": LYNNE_UPN, "displayName": "Lynne"}])
    return tenant


def megan(**columns):
    return systemuser(MEGAN_ID, MEGAN_OID, MEGAN_UPN, business_unit=SALES_BU, roles=[role_id(SALES_T, SALES_BU)],
                      **columns)


def environment(tenant, *users, **kwargs):
    return tenant.add_environment(FakeDataverse(users=users, **kwargs))


def lynne_rows(dv):
    return [r for r in dv.rows.values() if r["azureactivedirectoryobjectid"] == LYNNE_OID]


def test_sets_access_mode_with_minimal_patch_then_idempotent(tenant):
    dv = environment(tenant, megan())
    result = tenant.run(upn=MEGAN_UPN, access_mode="non_interactive", diff=True)
    assert result["changed"] is True
    assert [w[:3] for w in dv.writes()] == [("update_systemuser", MEGAN_ID, {"accessmode": 4})]
    (patch,) = dv.sent("PATCH")
    assert patch["headers"]["If-Match"] == "*" and patch["body"] == {"accessmode": 4}  # update only, never an upsert
    assert patch["headers"]["Prefer"] == "return=representation"  # the row comes back: no read after the write
    assert result["systemuser"]["access_mode"] == "non_interactive" and result["systemuser"]["accessmode"] == 4
    assert result["diff"] == {"before": {"synchronised": True, "access_mode": "read_write"},
                              "after": {"synchronised": True, "access_mode": "non_interactive"}}
    assert result["sync_requested"] is False
    again = tenant.run(upn=MEGAN_UPN, access_mode="non_interactive")
    assert again["changed"] is False and len(dv.writes()) == 1 and dv.rows[MEGAN_ID]["accessmode"] == 4


def test_access_mode_change_returns_the_row_dataverse_returned(tenant):
    dv = environment(tenant, megan())
    known = tenant.run(upn=MEGAN_UPN)["systemuser"]  # as an earlier task of the run returned it
    dv.rows[MEGAN_ID]["isdisabled"] = True  # changed meanwhile: the PATCH's answer shows it, the passed-on row did not
    reads = len(dv.sent("GET"))
    result = tenant.run(identity=MEGAN_ID, access_mode="non_interactive", systemuser=known, check_cap=False)
    assert len(dv.sent("GET")) == reads and len(dv.sent("PATCH")) == 1  # the passed-on row: no read before or after
    assert result["systemuser"]["isdisabled"] is True and result["systemuser"]["accessmode"] == 4
    assert [r["name"] for r in result["systemuser"]["roles"]] == [r["name"] for r in known["roles"]]
    assert result["row_returned"] is True


def test_an_access_mode_change_answered_without_the_row_says_so(tenant):
    dv = environment(tenant, megan(), ignores_prefer=True)
    known = tenant.run(upn=MEGAN_UPN)["systemuser"]
    assert known and tenant.run(upn=MEGAN_UPN)["row_returned"] is False  # no write: nothing returned
    dv.rows[MEGAN_ID]["isdisabled"] = True
    result = tenant.run(identity=MEGAN_ID, access_mode="non_interactive", systemuser=known, check_cap=False)
    assert result["changed"] is True and result["row_returned"] is False
    assert result["systemuser"]["isdisabled"] is False  # as passed on: not the service's word, so not to be trusted


def test_patch_uses_if_match_star(fake_tokens):
    # The real client: PATCH systemusers(<id>) with If-Match: * (no upsert).
    client, session = over_session(DataverseClient, [FakeResponse(204)], ENV_URL, ENV_URL + "/.default",
                                   tokens=fake_tokens)
    client.update_systemuser(MEGAN_ID, {"accessmode": 4})
    call = session.calls[0]
    assert call["method"] == "PATCH" and call["url"].endswith("/api/data/v9.2/systemusers(%s)" % MEGAN_ID)
    assert call["headers"]["If-Match"] == "*" and call["data"] == '{"accessmode": 4}'


def test_check_mode_writes_nothing(tenant):
    dv = environment(tenant, megan())
    result = tenant.run(systemuser_id=MEGAN_ID, access_mode="read", check=True)
    assert result["changed"] is True and result["systemuser"]["access_mode"] == "read"
    assert dv.writes() == [] and dv.rows[MEGAN_ID]["accessmode"] == 0


def test_missing_user_without_sync_fails(tenant):
    dv = environment(tenant)
    result = tenant.run(upn=LYNNE_UPN, access_mode="non_interactive")
    assert result["failed"]
    assert "not yet synchronised into %s" % ENV_URL in result["msg"] and "sync: true" in result["msg"]
    assert dv.writes() == [] and tenant.admin.calls == []


def test_sync_adds_user_via_admin_api_resolving_upn_from_graph(tenant, no_sleep):
    dv = environment(tenant)
    result = tenant.run(upn=LYNNE_UPN, sync=True, access_mode="non_interactive", diff=True)
    assert result["changed"] is True and result["sync_requested"] is True
    assert tenant.graph.calls == [("find_user", LYNNE_UPN, ["id"])]
    # environment id from RetrieveCurrentOrganization, not from the admin API's list
    assert tenant.admin.calls == [("add_user", ENV_ID, LYNNE_OID)]
    assert result["systemuser"]["azureactivedirectoryobjectid"] == LYNNE_OID
    assert result["systemuser"]["access_mode"] == "non_interactive"
    assert [w[0] for w in dv.writes()] == ["update_systemuser"]
    assert [r["accessmode"] for r in lynne_rows(dv)] == [4]
    assert result["diff"]["before"] == {"synchronised": False, "access_mode": None}
    assert no_sleep == []  # available at once: no waiting
    again = tenant.run(upn=LYNNE_UPN, sync=True, access_mode="non_interactive")
    assert again["changed"] is False and again["sync_requested"] is False and len(tenant.admin.calls) == 1


def test_sync_with_object_id_skips_graph(tenant):
    dv = environment(tenant)
    result = tenant.run(entra_object_id=LYNNE_OID, sync=True)
    assert result["changed"] is True and tenant.graph.calls == []
    assert tenant.admin.calls == [("add_user", ENV_ID, LYNNE_OID)]
    assert dv.writes() == [] and len(lynne_rows(dv)) == 1  # no access_mode asked: nothing to PATCH


def test_check_mode_missing_user_is_pending_sync(tenant):
    dv = environment(tenant)
    result = tenant.run(upn=LYNNE_UPN, sync=True, access_mode="non_interactive", check=True)
    assert result["changed"] is True and result["sync_requested"] is True
    assert result["systemuser"]["systemuserid"] == "00000000-0000-0000-0000-000000000000"
    assert tenant.admin.calls == [] and dv.writes() == [] and tenant.graph.calls == [] and lynne_rows(dv) == []


@pytest.mark.parametrize("status, code, message, expected", [
    (400, "userNotLicensed", "The user does not have a valid license.", "Fix: assign the user a Dynamics 365 licence"),
    (400, "userNotPartOfSecurityGroup", "not a member", "Fix: add the user to the environment's security group"),
    (403, "Forbidden", "does not have permission",
     "Fix: register the client as a Power Platform admin management application"),
])
def test_sync_diagnostics_name_the_fix(tenant, status, code, message, expected):
    dv = environment(tenant)
    error = tenant.admin.error(status, code, message, "POST", ADD_USER)
    tenant.admin.fail_always(error, "add_user")
    result = tenant.run(upn=LYNNE_UPN, sync=True, access_mode="non_interactive")
    assert result["failed"] and expected in result["msg"]
    assert "Could not add user %s to %s" % (LYNNE_UPN, ENV_URL) in result["msg"]
    assert result["status"] == error.status == status and result["error_code"] == error.code == code
    assert dv.writes() == []


def not_licensed(tenant):
    return tenant.admin.error(400, "userNotLicensed", "The user does not have a valid license.", "POST", ADD_USER)


def test_sync_refused_while_the_licence_propagates_fails_transient_without_sync_wait(tenant, no_sleep):
    dv = environment(tenant)
    tenant.admin.fail("add_user", not_licensed(tenant))
    result = tenant.run(upn=LYNNE_UPN, sync=True)
    assert result["failed"] and result["transient"] is True and result["error_code"] == "userNotLicensed"
    assert len(tenant.admin.calls) == 1 and no_sleep == [] and lynne_rows(dv) == []


def test_sync_wait_asks_again_in_the_same_task_until_the_licence_has_propagated(tenant, no_sleep):
    dv = environment(tenant)
    tenant.admin.fail("add_user", not_licensed(tenant), not_licensed(tenant))  # then the licence has arrived
    result = tenant.run(upn=LYNNE_UPN, sync=True, sync_wait=30, sync_poll_interval=3, access_mode="non_interactive")
    assert result["changed"] is True and result["sync_requested"] is True and result["sync_waited"] == 6
    assert no_sleep == [3, 3] and len(tenant.admin.calls) == 3
    (row,) = lynne_rows(dv)
    assert row["accessmode"] == 4 and result["systemuser"]["systemuserid"] == row["systemuserid"]


def test_sync_wait_that_runs_out_fails_transient_and_says_how_long_it_asked(tenant, no_sleep):
    environment(tenant)
    tenant.admin.fail_always(not_licensed(tenant), "add_user")
    result = tenant.run(upn=LYNNE_UPN, sync=True, sync_wait=10, sync_poll_interval=4)
    assert result["failed"] and result["transient"] is True and "Asked again for 8 s" in result["msg"]
    assert "has not reached the Power Platform yet" in result["msg"] and "wait longer" in result["msg"]
    assert no_sleep == [4, 4] and len(tenant.admin.calls) == 3


def test_sync_wait_never_waits_for_a_refusal_that_time_does_not_mend(tenant, no_sleep):
    environment(tenant)
    tenant.admin.fail_always(tenant.admin.error(400, "userNotPartOfSecurityGroup", "not a member", "POST", ADD_USER),
                             "add_user")
    result = tenant.run(upn=LYNNE_UPN, sync=True, sync_wait=60, sync_poll_interval=5)
    assert result["failed"] and not result["transient"] and result["error_code"] == "userNotPartOfSecurityGroup"
    assert no_sleep == [] and len(tenant.admin.calls) == 1


def test_sync_outside_the_environments_security_group_names_the_fix(tenant):
    # Not scripted: the admin API itself refuses a user outside the environment's security group.
    group = "0b5c2a8e-0000-4000-8000-000000000001"
    tenant.graph.add_group({"id": group, "displayName": "Dynamics Prod Users"}, members=[])
    dv = environment(tenant, security_group=group)
    result = tenant.run(upn=LYNNE_UPN, sync=True)
    assert result["failed"] and "Fix: add the user to the environment's security group" in result["msg"]
    assert result["error_code"] == "userNotPartOfSecurityGroup" and lynne_rows(dv) == []


def test_add_user_without_answer_rereads_before_retrying(tenant):
    dv = environment(tenant)
    tenant.admin.fail("add_user", Lost(tenant.admin.no_answer("POST", ADD_USER)))  # applied, the answer lost
    result = tenant.run(entra_object_id=LYNNE_OID, sync=True)
    assert result["changed"] is True and len(tenant.admin.calls) == 1 and len(lynne_rows(dv)) == 1


def test_sync_user_never_appears_fails_after_bounded_wait(tenant, no_sleep):
    environment(tenant)
    tenant.admin.fail("add_user", *[NO_EFFECT] * 5)  # accepted, and the user never shows up
    result = tenant.run(entra_object_id=LYNNE_OID, sync=True)
    assert result["failed"] and "still missing after 30 s" in result["msg"]
    assert no_sleep == [1, 2, 4, 8, 15]


def test_unknown_upn_in_entra_fails(tenant):
    environment(tenant)
    result = tenant.run(upn="ghost@contoso.onmicrosoft.com", sync=True)
    assert result["failed"] and "does not exist in Microsoft Entra ID" in result["msg"] and tenant.admin.calls == []


def test_guid_that_is_no_entra_user_is_reported_by_the_admin_api(tenant):
    # A GUID identity is taken as the Entra object id (a systemuserid cannot name a user not yet there).
    environment(tenant)
    result = tenant.run(identity=MEGAN_ID, sync=True)
    assert result["failed"] and MEGAN_ID in result["msg"] and ENV_URL in result["msg"]
    assert "Fix: give the user's UPN or Entra object id as identity" in result["msg"]
    assert [call[0] for call in tenant.admin.calls][-1] == "add_user"


def seven_non_interactive():
    return [systemuser("cccccccc-0000-0000-0000-00000000000%d" % i, "dddddddd-0000-0000-0000-00000000000%d" % i,
                       "ni%d@contoso.onmicrosoft.com" % i, accessmode=4) for i in range(7)]


@pytest.mark.parametrize("org_resources", [True, False])
def test_cap_of_seven_fails_without_write(tenant, org_resources):
    dv = environment(tenant, *seven_non_interactive(), megan(), organization_resources=org_resources)
    result = tenant.run(systemuser_id=MEGAN_ID, access_mode="non_interactive")
    assert result["failed"]
    assert "already has 7 non-interactive users, the maximum of 7 per environment" in result["msg"]
    assert "Fix: set another user of this environment back to read_write" in result["msg"]
    assert dv.writes() == []


def test_without_check_cap_dataverse_refuses_at_the_cap_with_the_fix(tenant):
    dv = environment(tenant, *seven_non_interactive(), megan())
    result = tenant.run(systemuser_id=MEGAN_ID, access_mode="non_interactive", check_cap=False)
    names = dv.names()
    # no cap read before the write; after the refusal the count is re-read for the message (now 7 of at most 7)
    assert names.index("update_systemuser") < names.index("organization_resources")
    assert result["failed"] and result["error_code"] == "0x80048d14" and "set another non-interactive user" in result["msg"]
    assert "7 of at most 7" in result["msg"]
    assert dv.rows[MEGAN_ID]["accessmode"] == 0


def test_sixth_to_seventh_is_allowed(tenant):
    dv = environment(tenant, *seven_non_interactive()[:6], megan())
    result = tenant.run(systemuser_id=MEGAN_ID, access_mode="non_interactive")
    assert result["changed"] is True and len(dv.writes()) == 1 and dv.non_interactive_count() == 7


def test_cap_not_checked_when_already_non_interactive_or_other_mode(tenant):
    dv = environment(tenant, *seven_non_interactive(), megan())
    result = tenant.run(systemuser_id=MEGAN_ID, access_mode="read")
    assert result["changed"] is True
    assert "organization_resources" not in dv.names() and len(dv.calls_to("get_all")) == 1


def test_access_mode_permission_error_names_fix(tenant):
    # The client's application user lacks System Administrator: Dataverse refuses the access-mode change.
    dv = environment(tenant, megan(), caller_roles=[role_id(BASIC_T, ROOT_BU)])
    result = tenant.run(systemuser_id=MEGAN_ID, access_mode="read")
    assert result["failed"] and "Read-Write access mode" in result["msg"] and result["error_code"] == "0x80048d2f"
    assert dv.rows[MEGAN_ID]["accessmode"] == 0


def test_environment_id_falls_back_to_the_admin_api_list(tenant):
    dv = environment(tenant)
    dv.fail_always(dv.error(404, "0x80060888", "Resource not found for the segment 'RetrieveCurrentOrganization'."),
                   "current_organization")
    result = tenant.run(entra_object_id=LYNNE_OID, sync=True)
    assert result["changed"] is True
    assert tenant.admin.calls_to("environment_id_for_url") == [(ENV_URL,)]
    assert tenant.admin.calls_to("add_user") == [(ENV_ID, LYNNE_OID)]


def test_given_environment_id_is_used_without_looking_it_up(tenant, no_sleep):
    dv = environment(tenant)
    result = tenant.run(entra_object_id=LYNNE_OID, sync=True, environment_id=ENV_ID)
    assert result["changed"] is True
    assert dv.calls_to("current_organization") == [] and tenant.admin.calls_to("environment_id_for_url") == []
    assert tenant.admin.calls_to("add_user") == [(ENV_ID, LYNNE_OID)]


def test_unknown_environment_url_in_admin_api_fails_clearly(tenant):
    environment(tenant, environment_id=None)  # RetrieveCurrentOrganization without EnvironmentId
    tenant.admin = FakeAdmin(instance_urls=[])  # and the admin API does not list the URL
    result = tenant.run(entra_object_id=LYNNE_OID, sync=True)
    assert result["failed"] and "No Power Platform environment has the instance URL %s" % ENV_URL in result["msg"]
    assert tenant.admin.calls_to("add_user") == []


def test_losing_the_race_for_the_last_slot_names_environment_count_and_fix(tenant):
    six = seven_non_interactive()
    dv = environment(tenant, *six[:6], megan())

    def another_run_takes_the_last_slot():
        dv.add_user(*six[6])

    dv.fail("update_systemuser", another_run_takes_the_last_slot)  # between check_cap's reading and the PATCH
    result = tenant.run(systemuser_id=MEGAN_ID, access_mode="non_interactive")
    assert result["failed"] and result["error_code"] == "0x80048d14"
    assert ENV_URL in result["msg"] and "another run may have taken the last slot" in result["msg"]
    assert "it now has 7 of at most 7" in result["msg"] and "Fix: set another non-interactive user of this environment back to Read-Write" in result["msg"]
    assert dv.rows[MEGAN_ID]["accessmode"] == 0


def test_a_user_an_earlier_task_found_missing_is_synchronised_without_reading_first(tenant):
    dv = environment(tenant)
    result = tenant.run(entra_object_id=LYNNE_OID, sync=True, systemuser={})
    assert result["changed"] is True and tenant.admin.calls == [("add_user", ENV_ID, LYNNE_OID)]
    # only the read after addUser (and the environment id): no read before asking for the sync
    assert [r["path"] for r in dv.sent("GET") if r["path"] == "systemusers"] == ["systemusers"]
    # "missing" without sync is not trusted: the user is read, and found
    moved = tenant.run(entra_object_id=LYNNE_OID, access_mode="non_interactive", systemuser={})
    assert moved["changed"] is True and [r["accessmode"] for r in lynne_rows(dv)] == [4]
    from ansible_collections.d365.identity.plugins.module_utils._domain.systemusers import known_row
    assert known_row({"systemuser": {}, "identity": "x"}) == (None, True)
    assert known_row({"systemuser": None, "identity": "x"}) == (None, False)
    full = {"domainname": "a@b.c", "systemuserid": "1", "businessunitid": "bu"}
    assert known_row({"systemuser": full, "identity": "A@b.C"})[1] is True
    assert known_row({"systemuser": {"domainname": "a@b.c"}, "identity": "A@b.C"}) == (None, False)  # too little
    assert known_row({"systemuser": {"domainname": "a@b.c"}, "identity": "d@b.c"}) == (None, False)
