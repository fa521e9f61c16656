# SPDX-License-Identifier: GPL-3.0-or-later
"""application_user_info: the read phase of the role application_user and of the migration, on fakes."""
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.modules import application_user_info
from ansible_collections.d365.identity.tests.unit.fakes.dataverse import (
    BASIC_T, ENV_URL, ROOT_BU, SALES_BU, SALES_T, SYSADMIN_T, FakeDataverse, application_user, role_id, role_row,
    standard_roles, systemuser)
from ansible_collections.d365.identity.tests.unit.fakes.graph import FakeGraph

APP = "2f6d1c8e-7b3a-4e5f-9a1b-0c2d3e4f5a6b"
APP_USER = "a1b2c3d4-0000-4000-8000-000000000001"
UPN = "svc-d365-portal@contoso.onmicrosoft.com"
USER_ID = "11111111-2222-3333-4444-555555555555"
CUSTOM = "Portal Integration"


def entra_user(owned=True):
    marks = {"extensionAttribute15": "d365.identity"} if owned else {}
    return {"id": USER_ID, "userPrincipalName": UPN, "accountEnabled": True,
            "onPremisesExtensionAttributes": marks, "onPremisesSyncEnabled": None}


def non_interactive_user(roles, business_unit=ROOT_BU):
    return systemuser("aaaaaaaa-0000-0000-0000-000000000001", USER_ID, UPN, accessmode=4, business_unit=business_unit,
                      islicensed=False, roles=roles)


@pytest.fixture
def tenant(tenant):
    tenant.module = application_user_info
    tenant.defaults.update(application_id=APP, environments=[ENV_URL])
    return tenant


def environment(tenant, *users, custom_in=(ROOT_BU,)):
    roles = standard_roles() + [role_row(CUSTOM, None, bu, role="c0570000-0000-4000-8000-%s" % bu[-12:])
                                for bu in custom_in]
    return tenant.add_environment(FakeDataverse(users=users, roles=roles, apps={APP: "Portal"}))


def test_maps_the_users_roles_onto_another_business_unit_and_writes_nothing(tenant):
    tenant.graph = FakeGraph([entra_user()])
    dv = environment(tenant, non_interactive_user([role_id(SYSADMIN_T, ROOT_BU), role_id(SALES_T, ROOT_BU),
                                                   "c0570000-0000-4000-8000-%s" % ROOT_BU[-12:]]),
                     custom_in=(ROOT_BU, SALES_BU))
    result = tenant.run(from_user=UPN, business_unit="Sales EU", retire="delete")
    assert result["problems"] == [] and result["converged"] is False and tenant.writes() == []
    [env] = result["environments"]
    assert env["business_unit"] == {"businessunitid": SALES_BU, "name": "Sales EU"}
    assert [(m["name"], m["target_roleid"], m["by"]) for m in env["role_mapping"]] == [  # by name, as read
        (CUSTOM, "c0570000-0000-4000-8000-%s" % SALES_BU[-12:], "name"),
        ("Salesperson", role_id(SALES_T, SALES_BU), "template"),
        ("Systemadministrator", role_id(SYSADMIN_T, SALES_BU), "template")]
    assert env["roles"] == [m["target_roleid"] for m in env["role_mapping"]]
    assert env["application_user"] == {} and env["non_interactive"] == {"used": 1, "max": 7}
    assert result["from_user"] == {"exists": True, "id": USER_ID, "owned": True, "enabled": True}
    assert "create the application user in business unit Sales EU" in result["plan"][0]
    assert "Salesperson -> Salesperson (by template)" in result["plan"][0]
    assert "non-interactive users 1 -> 0 of 7" in result["plan"][0]
    assert [r["path"] for r in dv.sent()].count("systemusers") == 3  # the app, the user, the client's own row


def test_a_client_without_system_administrator_is_a_problem_when_the_run_would_write(tenant):
    dv = tenant.add_environment(FakeDataverse(caller_roles=[role_id(BASIC_T, ROOT_BU)], apps={APP: "Portal"}))
    result = tenant.run(fail_on_problems=False)
    assert result["problems"] == ["%s: the client's application user lacks System Administrator, which changing "
                                  "access modes and granting roles needs. Fix: give it that role (Power Platform "
                                  "admin center > Environment > Settings > Application users)." % ENV_URL]
    assert not dv.calls_to("whoami")  # found by its client id, roles expanded: one request


def test_a_role_without_a_counterpart_fails_before_any_write(tenant):
    tenant.graph = FakeGraph([entra_user()])
    environment(tenant, non_interactive_user(["c0570000-0000-4000-8000-%s" % ROOT_BU[-12:]]))
    result = tenant.run(from_user=UPN, business_unit="Sales EU")
    assert result["failed"] and tenant.writes() == []
    assert "role 'Portal Integration' of %s has no counterpart in business unit Sales EU" % UPN in result["msg"]


def test_retiring_a_user_the_collection_does_not_own_needs_adopt(tenant):
    tenant.graph = FakeGraph([entra_user(owned=False)])
    environment(tenant, non_interactive_user([role_id(SYSADMIN_T, ROOT_BU)]))
    refused = tenant.run(from_user=UPN, retire="disable")
    assert refused["failed"] and "which the collection did not create" in refused["msg"]
    assert "adopt: true" in refused["msg"]
    assert tenant.run(from_user=UPN, retire="disable", adopt=True)["problems"] == []
    assert tenant.run(from_user=UPN)["problems"] == []  # copying roles changes nothing of the user
    assert tenant.writes() == []


def test_unknown_security_role_and_bad_application_id_are_reported_with_their_fix(tenant):
    environment(tenant)
    result = tenant.run(security_roles=["Data Exporter"], fail_on_problems=False)
    assert result["problems"] == [
        "%s: security role 'Data Exporter' does not exist in business unit contoso. Fix: use one of Basic User, "
        "Portal Integration, Salesperson, Systemadministrator, or a role template GUID." % ENV_URL]
    bad = tenant.run(application_id="portal-app", environments=["http://x"])
    assert bad["failed"] and "application_id 'portal-app' is not a GUID" in bad["msg"] and "https://" in bad["msg"]


def test_an_application_user_in_place_is_converged_without_checking_rights(tenant):
    dv = environment(tenant, application_user(APP_USER, APP, roles=[role_id(BASIC_T, ROOT_BU)]))
    result = tenant.run(security_roles=["Basic User"])
    assert result["converged"] is True and result["environments"][0]["done"] is True
    assert len(dv.sent()) == 3  # the application user with its roles, the root business unit, its roles
    assert result["plan"] == ["%s: application user in place in business unit contoso, roles: Basic User" % ENV_URL]
    missing = tenant.run(security_roles=["Basic User", "Salesperson"])
    assert missing["converged"] is False and missing["environments"][0]["roles"] == [
        role_id(BASIC_T, ROOT_BU), role_id(SALES_T, ROOT_BU)]


def test_an_application_user_in_another_business_unit_keeps_its_roles_there_unless_moved(tenant):
    environment(tenant, application_user(APP_USER, APP, business_unit=SALES_BU))
    kept = tenant.run(business_unit="contoso", security_roles=["Basic User"])["environments"][0]
    assert kept["kept_business_unit"] is True and kept["roles"] == [role_id(BASIC_T, SALES_BU)]
    moved = tenant.run(business_unit="contoso", security_roles=["Basic User"], move_business_unit=True)
    assert moved["environments"][0]["roles"] == [role_id(BASIC_T, ROOT_BU)]
    assert moved["environments"][0]["done"] is False


def test_a_user_deleted_by_an_earlier_migration_is_not_a_problem(tenant):
    tenant.graph = FakeGraph([])
    environment(tenant, application_user(APP_USER, APP))
    done = tenant.run(from_user=UPN, retire="delete")
    assert done["problems"] == [] and done["from_user"]["exists"] is False and done["converged"] is True
    missing = tenant.run(from_user=UPN, fail_on_problems=False)
    assert "from_user %s does not exist in Microsoft Entra ID" % UPN in missing["problems"][0]


def test_a_missing_user_is_a_typo_until_the_application_user_is_everywhere(tenant):
    tenant.graph = FakeGraph([])
    environment(tenant)
    result = tenant.run(from_user="svc-d365-portl@contoso.onmicrosoft.com", retire="delete", fail_on_problems=False)
    assert len(result["problems"]) == 1 and "a typo?" in result["problems"][0] and result["converged"] is False


def test_an_interrupted_removal_is_not_done_and_the_run_cannot_lock_itself_out(tenant):
    from ansible_collections.d365.identity.tests.unit.fakes.identity import CLIENT_ID
    environment(tenant, application_user(APP_USER, APP, isdisabled=True, deletedstate=1))
    result = tenant.run(state="absent")
    assert result["environments"][0]["done"] is False and result["converged"] is False
    assert result["plan"] == ["%s: finish the removal (delete the soft-deleted rows of the app)" % ENV_URL]
    own = tenant.run(state="disabled", application_id=CLIENT_ID.upper(), fail_on_problems=False)
    assert "would lock the run out of every environment" in own["problems"][0]
    assert tenant.writes() == []


def test_the_plan_says_when_an_application_user_is_enabled_or_disabled(tenant):
    environment(tenant, application_user(APP_USER, APP, isdisabled=True))
    assert "enable application user %s" % APP_USER in tenant.run()["plan"][0]
    assert "nothing to do" in tenant.run(state="disabled")["plan"][0]
