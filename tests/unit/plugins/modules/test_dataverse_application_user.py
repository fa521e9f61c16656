# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import json

import pytest

from ansible_collections.d365.identity.plugins.modules import dataverse_application_user
from ansible_collections.d365.identity.tests.unit.fakes.base import Lost
from ansible_collections.d365.identity.tests.unit.fakes.dataverse import (
    BASIC_T, ENV_URL, ROOT_BU, SALES_BU, FakeDataverse, application_user, role_id, service_principal_id)

APP = "2f6d1c8e-7b3a-4e5f-9a1b-0c2d3e4f5a6b"
APPS = {APP: "Contoso integration"}
USER_ID = "a1b2c3d4-0000-4000-8000-000000000001"
LEFTOVER_ID = "dead0000-0000-4000-8000-000000000001"
PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def tenant(tenant):
    tenant.module = dataverse_application_user
    tenant.defaults.update(environment_url=ENV_URL, application_id=APP)
    return tenant


def environment(tenant, *users, **kwargs):
    return tenant.add_environment(FakeDataverse(users=users, apps=APPS, **kwargs))


def existing(**columns):
    """The app's application user, in the root business unit, holding Basic User."""
    columns.setdefault("roles", [role_id(BASIC_T, columns.get("business_unit", ROOT_BU))])
    return application_user(USER_ID, APP, name="Contoso integration", **columns)


def leftover():
    return application_user(LEFTOVER_ID, APP, isdisabled=True, deletedstate=1)


def app_rows(dv):
    return {k: v for k, v in dv.rows.items() if v.get("applicationid") == APP}


def test_creates_in_the_root_business_unit_and_a_rerun_writes_nothing(tenant):
    dv = environment(tenant)
    result = tenant.run(diff=True)
    assert result["changed"] is True
    [(new_id, new)] = app_rows(dv).items()
    assert dv.writes() == [("create_application_user", APP, ROOT_BU)]
    [post] = dv.sent("POST")
    assert post["path"] == "systemusers" and post["body"] == {
        "applicationid": APP, "accessmode": 4, "isdisabled": False,
        "businessunitid@odata.bind": "/businessunits(%s)" % ROOT_BU}
    assert result["systemuserid"] == new_id and new["_businessunitid_value"] == ROOT_BU
    assert result["application_user"] == {
        "systemuserid": new_id, "applicationid": APP, "fullname": "# Contoso integration",
        "azureactivedirectoryobjectid": service_principal_id(APP), "isdisabled": False,
        "businessunitid": ROOT_BU, "business_unit": "contoso"}
    assert result["purged"] == []
    assert result["diff"] == {"before": {}, "after": {"applicationid": APP, "businessunitid": ROOT_BU,
                                                      "business_unit": "contoso", "isdisabled": False}}
    again = tenant.run(application_id=APP.upper())
    assert again["changed"] is False and again["systemuserid"] == new_id and len(dv.writes()) == 1
    assert dv.sent("POST") == [post] and dv.sent("PATCH") == [] and dv.sent("DELETE") == []


def test_business_unit_by_name_or_id(tenant):
    dv = environment(tenant)
    by_name = tenant.run(business_unit="sales eu")
    assert by_name["application_user"]["businessunitid"] == SALES_BU
    assert by_name["application_user"]["business_unit"] == "Sales EU"
    assert dv.writes() == [("create_application_user", APP, SALES_BU)]
    by_id = tenant.run(business_unit=SALES_BU.upper())
    assert by_id["changed"] is False


def test_unknown_business_unit_fails_before_writing_and_lists_the_units(tenant):
    dv = environment(tenant)
    result = tenant.run(business_unit="Marketing")
    assert result["failed"] is True and dv.writes() == []
    assert result["msg"] == ("Business unit 'Marketing' not found in %s. Business units there: contoso, Sales EU. "
                             "Fix: use one of these names or a business unit id." % ENV_URL)


def test_adopts_a_live_row_and_only_reports_another_business_unit(tenant):
    dv = environment(tenant, existing(business_unit=SALES_BU))
    result = tenant.run(business_unit="contoso", diff=True)
    assert result["changed"] is False and dv.writes() == []
    assert result["systemuserid"] == USER_ID and result["application_user"]["business_unit"] == "Sales EU"
    assert len(result["warnings"]) == 1
    warning = json.dumps(result["warnings"])  # ansible-core 2.19+ returns structured warnings, older cores strings
    assert "is in business unit Sales EU, not contoso" in warning and "move_business_unit: true" in warning
    assert result["diff"]["before"] == result["diff"]["after"]


def test_moves_when_asked(tenant):
    dv = environment(tenant, existing(business_unit=SALES_BU))
    result = tenant.run(business_unit="contoso", move_business_unit=True, diff=True)
    assert result["changed"] is True and "warnings" not in result
    assert dv.writes() == [("move_systemuser", USER_ID, ROOT_BU)]
    assert dv.rows[USER_ID]["_businessunitid_value"] == ROOT_BU and dv.roles_of(USER_ID) == []
    assert result["diff"]["before"]["business_unit"] == "Sales EU"
    assert result["diff"]["after"]["business_unit"] == "contoso"


def test_without_business_unit_an_existing_row_stays_where_it_is(tenant):
    dv = environment(tenant, existing(business_unit=SALES_BU))
    result = tenant.run(move_business_unit=True)
    assert result["changed"] is False and dv.writes() == [] and "warnings" not in result
    assert not [r for r in dv.requests if r["path"] == "businessunits" and "parentbusinessunitid" in
                r["params"].get("$filter", "")]


def test_soft_deleted_leftover_is_purged_and_the_create_sent_once_more(tenant):
    dv = environment(tenant, leftover())
    result = tenant.run()
    assert result["changed"] is True and result["purged"] == [LEFTOVER_ID]
    assert dv.names().count("create_application_user") == 2
    assert dv.writes() == [("create_application_user", APP, ROOT_BU), ("purge_systemusers", [LEFTOVER_ID]),
                           ("create_application_user", APP, ROOT_BU)]
    [(new_id, new)] = app_rows(dv).items()
    assert new["deletedstate"] == 0 and result["systemuserid"] == new_id != LEFTOVER_ID
    assert [r["path"] for r in dv.sent("DELETE")] == ["systemusers(%s)" % LEFTOVER_ID]


def test_purge_retries_the_usersettings_refusal_once(tenant):
    dv = environment(tenant, leftover(), permanent_delete_failures=1)
    result = tenant.run()
    assert result["changed"] is True and result["purged"] == [LEFTOVER_ID]
    assert len(dv.sent("DELETE")) == 2 and list(app_rows(dv)) != [LEFTOVER_ID]


def test_a_leftover_that_cannot_be_purged_fails_with_the_fix_to_run_again(tenant):
    dv = environment(tenant, leftover(), permanent_delete_failures=2)
    result = tenant.run()
    assert result["failed"] is True and result["error_code"] == "0x80048610"
    assert "Fix: a soft-deleted row of this app could not be deleted yet" in result["msg"]
    assert len(dv.sent("DELETE")) == 2 and len(dv.sent("POST")) == 1
    assert tenant.run()["changed"] is True and [r["deletedstate"] for r in app_rows(dv).values()] == [0]


def test_a_duplicate_without_leftovers_fails_naming_the_step_and_fix(tenant):
    dv = environment(tenant)
    dv.fail("create_application_user", dv.error(412, "0x80040237", "A record with matching key values already exists.",
                                                "POST"))
    result = tenant.run()
    assert result["failed"] is True and result["error_code"] == "0x80040237" and result["status"] == 412
    assert result["msg"].startswith("Could not create the application user of client %s in %s (0x80040237): "
                                    % (APP, ENV_URL))
    assert "Fix: a soft-deleted row of this app was still being removed: run the task again" in result["msg"]
    assert dv.sent("DELETE") == []


def test_a_create_whose_answer_was_lost_is_not_sent_twice(tenant):
    dv = environment(tenant)
    dv.fail("create_application_user", Lost(dv.no_answer("POST", "systemusers")))
    result = tenant.run()
    assert result["changed"] is True
    [(new_id, _new)] = app_rows(dv).items()
    assert result["systemuserid"] == new_id and len(dv.sent("POST")) == 1


def test_an_unknown_app_fails_with_the_fix(tenant):
    environment(tenant)
    result = tenant.run(application_id="99999999-9999-4999-8999-999999999999")
    assert result["failed"] is True and result["error_code"] == "0x80040216"
    assert "Fix: check that application_id is the Application (client) ID" in result["msg"]


def test_application_id_must_be_a_guid(tenant):
    dv = environment(tenant)
    result = tenant.run(application_id="contoso-app")
    assert result["failed"] is True and result["msg"] == "application_id must be a GUID, got 'contoso-app'."
    assert dv.requests == []


def test_disabled_then_present_enables(tenant):
    dv = environment(tenant, existing())
    disabled = tenant.run(state="disabled", diff=True)
    assert disabled["changed"] is True and disabled["application_user"]["isdisabled"] is True
    assert dv.writes() == [("set_disabled", USER_ID, True)]
    [patch] = dv.sent("PATCH")
    assert patch["body"] == {"isdisabled": True} and patch["headers"]["If-Match"] == "*"
    assert disabled["diff"]["before"]["isdisabled"] is False and disabled["diff"]["after"]["isdisabled"] is True
    assert disabled["diff"]["before"]["business_unit"] == disabled["diff"]["after"]["business_unit"] == "contoso"
    assert tenant.run(state="disabled")["changed"] is False
    enabled = tenant.run()
    assert enabled["changed"] is True and dv.rows[USER_ID]["isdisabled"] is False
    assert dv.writes()[-1] == ("set_disabled", USER_ID, False) and len(dv.writes()) == 2


def test_disabled_creates_then_disables(tenant):
    dv = environment(tenant)
    result = tenant.run(state="disabled")
    [(new_id, new)] = app_rows(dv).items()
    assert dv.writes() == [("create_application_user", APP, ROOT_BU), ("set_disabled", new_id, True)]
    assert new["isdisabled"] is True and result["application_user"]["isdisabled"] is True


def test_absent_disables_then_deletes_twice(tenant):
    dv = environment(tenant, existing())
    result = tenant.run(state="absent", diff=True)
    assert result["changed"] is True and result["application_user"] == {} and result["systemuserid"] == USER_ID
    assert dv.writes() == [("set_disabled", USER_ID, True), ("delete_systemuser", USER_ID, ()),
                           ("delete_systemuser", USER_ID, ("0x80048610",))]
    assert [r["method"] for r in dv.requests if r["method"] != "GET"] == ["PATCH", "DELETE", "DELETE"]
    assert app_rows(dv) == {}
    assert result["diff"]["after"] == {} and result["diff"]["before"]["applicationid"] == APP
    again = tenant.run(state="absent")
    assert again["changed"] is False and again["systemuserid"] is None and len(dv.writes()) == 3


def test_absent_retries_the_permanent_delete_once_on_0x80048610(tenant):
    dv = environment(tenant, existing(isdisabled=True), permanent_delete_failures=1)
    result = tenant.run(state="absent")
    assert result["changed"] is True and app_rows(dv) == {}
    assert len(dv.sent("DELETE")) == 3 and dv.sent("PATCH") == []


def test_absent_fails_when_the_permanent_delete_is_refused_twice_and_a_rerun_finishes(tenant):
    dv = environment(tenant, existing(isdisabled=True), permanent_delete_failures=2)
    result = tenant.run(state="absent")
    assert result["failed"] is True and result["error_code"] == "0x80048610"
    assert result["msg"].startswith("Could not delete permanently (second DELETE) the application user of client "
                                    "%s in %s (0x80048610): " % (APP, ENV_URL))
    assert "Fix: the application user is soft-deleted already" in result["msg"]
    assert dv.rows[USER_ID]["deletedstate"] == 1
    finish = tenant.run(state="absent")
    assert finish["changed"] is True and finish["purged"] == [USER_ID] and app_rows(dv) == {}


def test_check_mode_writes_nothing(tenant):
    dv = environment(tenant, leftover())
    created = tenant.run(check=True, diff=True)
    assert created["changed"] is True and created["systemuserid"] == PLACEHOLDER
    assert created["application_user"]["business_unit"] == "contoso" and created["application_user"]["fullname"] is None
    assert created["diff"]["after"]["applicationid"] == APP and created["purged"] == []
    dv.rows.pop(LEFTOVER_ID)
    dv.add_user(*existing())
    for state in ("disabled", "absent"):
        result = tenant.run(check=True, state=state)
        assert result["changed"] is True
    moved = tenant.run(check=True, business_unit="Sales EU", move_business_unit=True)
    assert moved["changed"] is True and moved["application_user"]["business_unit"] == "Sales EU"
    assert dv.writes() == [] and dv.sent("POST") == dv.sent("PATCH") == dv.sent("DELETE") == []
