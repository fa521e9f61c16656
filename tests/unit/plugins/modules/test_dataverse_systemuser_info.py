# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.modules import dataverse_systemuser_info
from ansible_collections.d365.identity.tests.unit.fakes.dataverse import (
    CALLER_ID, ENV_URL, FakeDataverse, SALES_BU, SALES_T, application_user, role_id, systemuser)

MEGAN_ID = "aaaaaaaa-0000-0000-0000-000000000001"
MEGAN_OID = "d13678c3-9c30-4a2f-983a-5e6e5dbc3c5f"
LYNNE_OID = "6b29e6f6-1445-4dd4-935a-349151f27467"


@pytest.fixture
def tenant(tenant):
    tenant.module = dataverse_systemuser_info
    tenant.defaults["environment_url"] = ENV_URL
    return tenant


def environment(tenant, users=None, **kwargs):
    """Megan (non-interactive, Salesperson in Sales EU) and Lynne (read-write), besides the client's application user."""
    if users is None:
        users = [systemuser(MEGAN_ID, MEGAN_OID, "megan@contoso.onmicrosoft.com", accessmode=4, business_unit=SALES_BU,
                            roles=[role_id(SALES_T, SALES_BU)]),
                 systemuser("aaaaaaaa-0000-0000-0000-000000000002", LYNNE_OID, "lynne@contoso.onmicrosoft.com")]
    return tenant.add_environment(FakeDataverse(users=users, **kwargs))


def reads(dv):
    """(path, params) of each collection read."""
    return dv.calls_to("get_all")


def test_by_upn_returns_user_roles_and_counts(tenant):
    dv = environment(tenant)
    result = tenant.run(upn="MEGAN@contoso.onmicrosoft.com")
    assert result["changed"] is False
    [user] = result["systemusers"]
    assert user["azureactivedirectoryobjectid"] == MEGAN_OID
    assert user["accessmode"] == 4 and user["access_mode"] == "non_interactive"
    assert user["businessunitid"] == SALES_BU
    assert [r["name"] for r in user["roles"]] == ["Salesperson"]
    assert user["roles"][0]["businessunitid"] == SALES_BU
    assert result["non_interactive_count"] == 1 and result["non_interactive_max"] == 7
    # One GET gives the user and its roles.
    path, params = reads(dv)[0]
    assert params["$filter"] == "domainname eq 'MEGAN@contoso.onmicrosoft.com'"
    assert params["$expand"].startswith("systemuserroles_association($select=roleid,name,_roletemplateid_value")
    assert "_businessunitid_value" in params["$select"] and "accessmode" in params["$select"]
    assert dv.writes() == []


def test_missing_user_is_an_empty_list_not_a_failure(tenant):
    environment(tenant)
    result = tenant.run(entra_object_id="0f0f0f0f-0000-0000-0000-000000000000")
    assert result["systemusers"] == [] and "failed" not in result


def test_access_mode_filter_and_count_fallback(tenant):
    dv = environment(tenant, organization_resources=False)
    result = tenant.run(access_mode="non_interactive")
    # Application users are non-interactive too (accessmode 4): the client's own is listed with Megan.
    assert sorted(u["systemuserid"] for u in result["systemusers"]) == sorted([MEGAN_ID, CALLER_ID])
    assert [u["domainname"] for u in result["systemusers"] if not u.get("applicationid")] == \
        ["megan@contoso.onmicrosoft.com"]
    assert reads(dv)[0][1]["$filter"] == "accessmode eq 4"
    # RetrieveOrganizationResources failed: counted rows instead (application users excluded), cap 7.
    assert reads(dv)[-1][1]["$filter"] == "accessmode eq 4 and applicationid eq null"
    assert result["non_interactive_count"] == 1 and result["non_interactive_max"] == 7


def test_identifier_and_access_mode_combine(tenant):
    dv = environment(tenant)
    result = tenant.run(entra_object_id=LYNNE_OID.upper(), access_mode="read_write")
    assert len(result["systemusers"]) == 1
    assert reads(dv)[0][1]["$filter"] == \
        "(azureactivedirectoryobjectid eq %s or systemuserid eq %s) and accessmode eq 0" % (LYNNE_OID, LYNNE_OID)


def test_a_non_guid_identity_is_a_quoted_domainname(tenant):
    dv = environment(tenant)
    result = tenant.run(identity="x' or 1 eq 1")
    assert result["systemusers"] == []  # the quote is escaped: no filter injection
    assert reads(dv)[0][1]["$filter"].startswith("domainname eq 'x'' or 1 eq 1'")


def test_identifiers_are_mutually_exclusive(tenant):
    environment(tenant, users=[])
    result = tenant.run(upn="a@b.c", systemuser_id="aaaaaaaa-0000-0000-0000-000000000002")
    assert result["failed"] and "mutually exclusive" in result["msg"]


def test_count_can_be_skipped_for_polling(tenant):
    dv = environment(tenant)
    result = tenant.run(entra_object_id=MEGAN_OID, count_non_interactive=False)
    assert len(result["systemusers"]) == 1
    assert "non_interactive_count" not in result and "non_interactive_max" not in result
    assert len(dv.calls) == 1  # only the user read: no RetrieveOrganizationResources, no count query


APP = "2f6d1c8e-7b3a-4e5f-9a1b-0c2d3e4f5a6b"


def test_by_application_id_ignores_soft_deleted_rows(tenant):
    dv = environment(tenant, users=[
        application_user("dead0000-0000-4000-8000-000000000001", APP, isdisabled=True, deletedstate=1),
        application_user("a1b2c3d4-0000-4000-8000-000000000001", APP, business_unit=SALES_BU,
                         roles=[role_id(SALES_T, SALES_BU)])])
    result = tenant.run(application_id=APP.upper(), count_non_interactive=False)
    [user] = result["systemusers"]
    assert user["systemuserid"] == "a1b2c3d4-0000-4000-8000-000000000001" and user["applicationid"] == APP
    assert user["access_mode"] == "non_interactive" and [r["name"] for r in user["roles"]] == ["Salesperson"]
    [(path, params)] = [call[:2] for call in reads(dv)]
    assert path == "systemusers" and params["$filter"] == "applicationid eq %s" % APP
    dv.rows.pop("a1b2c3d4-0000-4000-8000-000000000001")
    assert tenant.run(application_id=APP, count_non_interactive=False)["systemusers"] == []


def test_application_id_and_identity_are_mutually_exclusive(tenant):
    environment(tenant)
    result = tenant.run(application_id=APP, identity="megan@contoso.onmicrosoft.com")
    assert result["failed"] and "parameters are mutually exclusive: identity|application_id" in result["msg"]


def test_whoami_names_the_caller_only_when_asked(tenant):
    dv = environment(tenant)
    assert "whoami" not in tenant.run(count_non_interactive=False) and not dv.calls_to("whoami")
    result = tenant.run(whoami=True, count_non_interactive=False)
    assert result["whoami"]["UserId"] == CALLER_ID and set(result["whoami"]) == {"UserId", "BusinessUnitId",
                                                                                 "OrganizationId"}
