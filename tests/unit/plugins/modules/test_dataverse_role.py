# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.modules import dataverse_role
from ansible_collections.d365.identity.tests.unit.fakes.base import Lost
from ansible_collections.d365.identity.tests.unit.fakes.dataverse import (
    BASIC_T, ENV_URL, FakeDataverse, SALES_BU, SALES_T, SYSADMIN_T, application_user, role_id, systemuser)

MEGAN_ID = "aaaaaaaa-0000-0000-0000-000000000001"
MEGAN_OID = "d13678c3-9c30-4a2f-983a-5e6e5dbc3c5f"
MEGAN = {"upn": "megan@contoso.onmicrosoft.com"}
SYSADMIN_SALES = role_id(SYSADMIN_T, SALES_BU)
BASIC_SALES = role_id(BASIC_T, SALES_BU)
SALESPERSON = role_id(SALES_T, SALES_BU)
ASSOCIATE = "systemusers(%s)/systemuserroles_association/$ref" % MEGAN_ID


def megan(**columns):
    """Megan in business unit Sales EU, holding Salesperson."""
    return systemuser(MEGAN_ID, MEGAN_OID, MEGAN["upn"], business_unit=SALES_BU, roles=[SALESPERSON], **columns)


@pytest.fixture
def tenant(tenant):
    tenant.module = dataverse_role
    tenant.defaults["environment_url"] = ENV_URL
    return tenant


def environment(tenant, *users):
    """The tenant's one environment (standard roles in two business units) with users (default: Megan)."""
    return tenant.add_environment(FakeDataverse(users=users or [megan()]))


def test_grants_system_administrator_of_the_users_business_unit_by_template(tenant):
    dv = environment(tenant)
    result = tenant.run(roles=["System Administrator"], diff=True, **MEGAN)
    assert result["changed"] is True
    # The role is called "Systemadministrator" here (another language): resolved by template, in Sales EU.
    assert dv.writes() == [("associate_role", MEGAN_ID, SYSADMIN_SALES)]
    assert "_businessunitid_value eq %s" % SALES_BU in [call[0] for call in dv.calls_to("roles")]
    assert [r["name"] for r in result["added"]] == ["Systemadministrator"] and result["removed"] == []
    assert [r["name"] for r in result["roles"]] == ["Salesperson", "Systemadministrator"]
    assert all(r["businessunitid"] == SALES_BU for r in result["roles"])
    assert result["diff"] == {"before": {"roles": ["Salesperson"]},
                              "after": {"roles": ["Salesperson", "Systemadministrator"]}}
    assert dv.roles_of(MEGAN_ID) == ["Salesperson", "Systemadministrator"]
    again = tenant.run(roles=["system administrator", "salesperson"], **MEGAN)
    assert again["changed"] is False and again["added"] == [] and len(dv.writes()) == 1


def test_check_mode_returns_would_be_roles_and_writes_nothing(tenant):
    dv = environment(tenant)
    result = tenant.run(roles=[BASIC_T.upper()], purge=True, check=True, **MEGAN)
    assert result["changed"] is True
    assert [r["name"] for r in result["roles"]] == ["Basic User"]
    assert [r["name"] for r in result["removed"]] == ["Salesperson"]
    assert dv.writes() == [] and dv.roles_of(MEGAN_ID) == ["Salesperson"]


def test_purge_replaces_and_absent_removes(tenant):
    dv = environment(tenant)
    result = tenant.run(roles=["Basic User"], purge=True, **MEGAN)
    assert dv.writes() == [("associate_role", MEGAN_ID, BASIC_SALES), ("disassociate_role", MEGAN_ID, SALESPERSON)]
    assert [r["name"] for r in result["roles"]] == ["Basic User"]
    result = tenant.run(roles=["Basic User", "Salesperson"], state="absent", **MEGAN)
    assert result["changed"] is True and [r["name"] for r in result["removed"]] == ["Basic User"]
    assert result["roles"] == [] and dv.roles_of(MEGAN_ID) == []
    result = tenant.run(roles=["Basic User"], state="absent", **MEGAN)
    assert result["changed"] is False and len(dv.writes()) == 3


def test_purge_with_empty_list_removes_everything_without_resolving(tenant):
    dv = environment(tenant)
    result = tenant.run(roles=[], purge=True, **MEGAN)
    assert result["changed"] is True and dv.writes() == [("disassociate_role", MEGAN_ID, SALESPERSON)]
    assert "roles" not in dv.names()


def test_unknown_role_lists_available_roles_and_writes_nothing(tenant):
    dv = environment(tenant)
    result = tenant.run(roles=["Basic User", "Sales Manager"], **MEGAN)
    assert result["failed"]
    assert "Role 'Sales Manager' not found in business unit Sales EU (%s) of %s" % (SALES_BU, ENV_URL) in result["msg"]
    assert "Roles available there: Basic User, Salesperson, Systemadministrator" in result["msg"]
    assert dv.writes() == []


def test_disabled_user_fails_before_any_write(tenant):
    dv = environment(tenant, megan(isdisabled=True))
    result = tenant.run(roles=["System Administrator"], **MEGAN)
    assert result["failed"]
    assert "is disabled in %s" % ENV_URL in result["msg"]
    assert "roles can only be granted while the user is licensed and enabled" in result["msg"]
    assert dv.writes() == []
    # Nothing to grant: a disabled user that already holds the roles is fine (idempotent).
    assert tenant.run(roles=["Salesperson"], **MEGAN)["changed"] is False


def test_missing_user_fails(tenant):
    tenant.add_environment(FakeDataverse())
    result = tenant.run(roles=["Basic User"], **MEGAN)
    assert result["failed"] and "not yet synchronised into %s" % ENV_URL in result["msg"]
    assert "dataverse_systemuser (sync: true)" in result["msg"]


def test_dropped_association_is_confirmed_by_reread_not_resent(tenant):
    dv = environment(tenant)
    dv.fail("associate_role", Lost(dv.no_answer("POST", ASSOCIATE)))  # applied, answer lost
    result = tenant.run(roles=["Basic User"], **MEGAN)
    assert result["changed"] is True and dv.writes() == [("associate_role", MEGAN_ID, BASIC_SALES)]


def test_server_error_before_apply_is_retried_once_confirmed_missing(tenant):
    dv = environment(tenant)
    dv.fail("associate_role", dv.error(500, "0x80040216", "An unexpected error occurred.", "POST", ASSOCIATE))
    result = tenant.run(roles=["Basic User"], **MEGAN)
    assert result["changed"] is True and len(dv.writes()) == 2
    assert BASIC_SALES in dv.assignments[MEGAN_ID]


def test_client_error_is_not_retried(tenant):
    dv = environment(tenant)
    dv.fail("associate_role", dv.error(400, "0x80048d19", "Role %s belongs to business unit %s but the user belongs "
                                       "to business unit %s." % (BASIC_SALES, SALES_BU, SALES_BU), "POST", ASSOCIATE))
    result = tenant.run(roles=["Basic User"], **MEGAN)
    assert result["failed"] and len(dv.writes()) == 1 and "0x80048d19" in result["msg"]


def test_requires_an_identifier(tenant):
    environment(tenant)
    result = tenant.run(roles=["Basic User"])
    assert result["failed"] and "one of the following is required: identity, application_id" in result["msg"]


APP = "2f6d1c8e-7b3a-4e5f-9a1b-0c2d3e4f5a6b"
APP_USER_ID = "a1b2c3d4-0000-4000-8000-000000000001"


def app_user(**columns):
    """The app's application user in business unit Sales EU, without roles."""
    return application_user(APP_USER_ID, APP, business_unit=SALES_BU, **columns)


def test_grants_an_application_user_roles_from_its_business_unit(tenant):
    # A soft-deleted leftover of the same app (in the root business unit) is not the user.
    dv = environment(tenant, application_user("dead0000-0000-4000-8000-000000000001", APP, isdisabled=True,
                                              deletedstate=1), app_user())
    result = tenant.run(application_id=APP.upper(), roles={"add": ["System Administrator"]})
    assert result["changed"] is True and result["systemuserid"] == APP_USER_ID
    assert dv.writes() == [("associate_role", APP_USER_ID, SYSADMIN_SALES)]
    [read] = [r for r in dv.requests if r["path"] == "systemusers"]
    assert read["params"]["$filter"] == "applicationid eq %s" % APP
    assert "deletedstate" in read["params"]["$select"].split(",")
    assert tenant.run(application_id=APP, roles={"add": ["System Administrator"]})["changed"] is False


def test_application_user_that_does_not_exist_names_the_module_to_create_it(tenant):
    dv = environment(tenant, application_user("dead0000-0000-4000-8000-000000000001", APP, isdisabled=True,
                                              deletedstate=1))
    result = tenant.run(application_id=APP, roles={"add": ["Basic User"]})
    assert result["failed"] is True and dv.writes() == []
    assert result["msg"] == ("The application user of client %s does not exist in %s. Fix: create it first with "
                             "d365.identity.dataverse_application_user." % (APP, ENV_URL))


def test_disabled_application_user_fix_names_the_application_user_module(tenant):
    environment(tenant, app_user(isdisabled=True))
    result = tenant.run(application_id=APP, roles={"add": ["Basic User"]})
    assert result["failed"] is True
    assert "Fix: enable it with d365.identity.dataverse_application_user (state: present)" in result["msg"]


@pytest.mark.parametrize("identity", [{"identity": MEGAN["upn"]}, {"upn": MEGAN["upn"]}])
def test_application_id_and_identity_are_mutually_exclusive(tenant, identity):
    dv = environment(tenant)
    result = tenant.run(application_id=APP, roles={"add": ["Basic User"]}, **identity)
    assert result["failed"] and "parameters are mutually exclusive: identity|application_id" in result["msg"]
    assert dv.requests == []


def test_application_id_must_be_a_guid(tenant):
    dv = environment(tenant)
    result = tenant.run(application_id="my-app", roles={"add": ["Basic User"]})
    assert result["failed"] and result["msg"] == "application_id must be a GUID, got 'my-app'."
    assert dv.requests == []


def test_the_systemuser_an_earlier_task_returned_saves_the_read(tenant):
    dv = environment(tenant)
    first = tenant.run(roles={"add": ["Basic User"]}, **MEGAN)
    assert first["systemuser"]["systemuserid"] == MEGAN_ID
    assert sorted(r["roleid"] for r in first["systemuser"]["roles"]) == sorted([BASIC_SALES, SALESPERSON])
    reads = len(dv.sent("GET"))
    second = tenant.run(roles={"add": ["System Administrator"]}, identity=MEGAN_OID, systemuser=first["systemuser"])
    assert second["changed"] is True and sorted(r["roleid"] for r in second["roles"]) == sorted(
        [BASIC_SALES, SALESPERSON, SYSADMIN_SALES])
    assert [r["path"] for r in dv.sent("GET")[reads:]] == ["roles"]  # the business unit's roles only, not the user
    # a row of another user is ignored: the user is read
    stranger = dict(first["systemuser"], systemuserid="bbbbbbbb-0000-0000-0000-000000000009",
                    azureactivedirectoryobjectid="6b29e6f6-1445-4dd4-935a-349151f27467")
    reads = len(dv.sent("GET"))
    assert tenant.run(roles={"add": ["Basic User"]}, identity=MEGAN_OID, systemuser=stranger)["changed"] is False
    assert "systemusers" in [r["path"] for r in dv.sent("GET")[reads:]]


def test_the_business_units_roles_an_earlier_task_read_save_their_read(tenant):
    from ansible_collections.d365.identity.tests.unit.fakes.dataverse import role_row
    dv = environment(tenant)
    sales_roles = [role_row("Systemadministrator", SYSADMIN_T, SALES_BU), role_row("Basic User", BASIC_T, SALES_BU)]
    result = tenant.run(roles={"add": ["System Administrator"]}, business_unit_roles=sales_roles, **MEGAN)
    assert result["changed"] is True and [r["roleid"] for r in result["added"]] == [SYSADMIN_SALES]
    assert "roles" not in [r["path"] for r in dv.sent("GET")]
    # another business unit's roles are not the user's: they are read
    other = [role_row("Basic User", BASIC_T, "11111111-1111-1111-1111-111111111111")]
    assert tenant.run(roles={"add": ["Basic User"]}, business_unit_roles=other, **MEGAN)["added"][0]["roleid"] == BASIC_SALES
    assert "roles" in [r["path"] for r in dv.sent("GET")]
