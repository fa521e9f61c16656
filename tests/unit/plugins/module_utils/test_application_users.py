# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.d365.identity.plugins.module_utils._errors import ApiError, ConfigError
from ansible_collections.d365.identity.plugins.module_utils._domain import application_users as app
from ansible_collections.d365.identity.plugins.module_utils._domain.application_users import (
    CREATE, DISABLE, ENABLE, MOVE, PERMANENT_DELETE, PURGE, SOFT_DELETE)

APP = "2f6d1c8e-7b3a-4e5f-9a1b-0c2d3e4f5a6b"
ROOT = {"businessunitid": "11111111-1111-1111-1111-111111111111", "name": "contoso"}
SALES = {"businessunitid": "22222222-2222-2222-2222-222222222222", "name": "Sales EU"}
ENV = "https://contoso.crm4.dynamics.com"


def row(systemuserid="u1", isdisabled=False, deletedstate=0, bu_id=ROOT["businessunitid"]):
    return {"systemuserid": systemuserid, "applicationid": APP.upper(), "fullname": "# app", "isdisabled": isdisabled,
            "deletedstate": deletedstate, "azureactivedirectoryobjectid": "sp", "_businessunitid_value": bu_id}


def test_split_rows_ignores_soft_deleted_rows():
    live, leftovers = app.split_rows([row("gone", True, 1), row("u1")], APP, ENV)
    assert live["systemuserid"] == "u1" and [r["systemuserid"] for r in leftovers] == ["gone"]
    assert app.split_rows([row("gone", True, 1)], APP, ENV) == (None, [row("gone", True, 1)])
    assert app.split_rows([], APP, ENV) == (None, [])
    # A row without the column (older environments) counts as live.
    assert app.split_rows([{"systemuserid": "u1"}], APP, ENV)[0] == {"systemuserid": "u1"}


def test_two_live_rows_are_an_error_naming_both():
    with pytest.raises(ConfigError, match="2 live application users in %s \\(u1, u2\\)" % ENV):
        app.split_rows([row("u1"), row("u2")], APP, ENV)


@pytest.mark.parametrize("live, leftovers, outcome", [
    (row("u1"), [], ("adopt", "u1")),
    (row("u1"), [row("gone", True, 1)], ("adopt", "u1")),
    (None, [row("g1", True, 1), row("g2", True, 1)], ("purge", ["g1", "g2"])),
    (None, [], ("fail", None)),
])
def test_after_a_duplicate_refusal(live, leftovers, outcome):
    assert app.after_duplicate(live, leftovers) == outcome


@pytest.mark.parametrize("state, current, leftovers, wanted, move, steps", [
    ("present", None, [], ROOT, False, [CREATE]),
    ("disabled", None, [], ROOT, False, [CREATE, DISABLE]),
    ("present", row(), [], None, False, []),
    ("present", row(isdisabled=True), [], None, False, [ENABLE]),
    ("disabled", row(), [], None, False, [DISABLE]),
    ("disabled", row(isdisabled=True), [], None, False, []),
    # another business unit: reported, moved only when asked
    ("present", row(), [], SALES, False, []),
    ("present", row(), [], SALES, True, [MOVE]),
    ("present", row(isdisabled=True), [], SALES, True, [MOVE, ENABLE]),
    ("present", row(), [], ROOT, True, []),
    # leftovers are only purged when a create meets them (present) or by absent
    ("present", None, [row("g", True, 1)], ROOT, False, [CREATE]),
    ("absent", row(), [], None, False, [DISABLE, SOFT_DELETE, PERMANENT_DELETE]),
    ("absent", row(isdisabled=True), [], None, False, [SOFT_DELETE, PERMANENT_DELETE]),
    ("absent", None, [row("g", True, 1)], None, False, [PURGE]),
    ("absent", row(), [row("g", True, 1)], None, False, [DISABLE, SOFT_DELETE, PERMANENT_DELETE, PURGE]),
    ("absent", None, [], None, False, []),
])
def test_plan(state, current, leftovers, wanted, move, steps):
    assert app.plan(state, current, leftovers, wanted, move) == steps


def test_plan_refuses_an_unknown_state():
    with pytest.raises(ConfigError, match="state must be one of present, disabled, absent"):
        app.plan("gone", None, [])


def test_business_unit_differs_compares_ids_case_insensitively():
    assert app.business_unit_differs(dict(row(), _businessunitid_value=ROOT["businessunitid"].upper()), ROOT) is False
    assert app.business_unit_differs(row(), SALES) is True
    assert app.business_unit_differs(row(), None) is False and app.business_unit_differs(None, SALES) is False


def test_expected_rows():
    new = app.expected("disabled", None, [CREATE, DISABLE], APP, SALES, None)
    assert new == {"systemuserid": app.PLACEHOLDER_ID, "applicationid": APP, "fullname": None,
                   "azureactivedirectoryobjectid": None, "isdisabled": True,
                   "businessunitid": SALES["businessunitid"], "business_unit": "Sales EU"}
    moved = app.expected("present", row(isdisabled=True), [MOVE, ENABLE], APP, SALES, "contoso")
    assert moved["business_unit"] == "Sales EU" and moved["isdisabled"] is False and moved["systemuserid"] == "u1"
    kept = app.expected("present", row(), [], APP, SALES, "contoso")
    assert kept["business_unit"] == "contoso" and kept["businessunitid"] == ROOT["businessunitid"]
    assert kept["applicationid"] == APP  # lower-cased
    assert app.expected("absent", row(), [DISABLE], APP, None, "contoso") == {}


def test_mismatch_warning_names_both_units_and_the_fix():
    text = app.mismatch_warning(row(), SALES, "contoso", ENV)
    assert "is in business unit contoso, not Sales EU" in text and "move_business_unit: true" in text
    assert ENV in text and APP.upper() in text


def api_error(code, status=400, message="Dataverse said no."):
    return ApiError(message, status=status, code=code, service_message=message)


def test_step_errors_name_step_environment_code_and_fix():
    error = app.step_error(PERMANENT_DELETE, APP, ENV, api_error("0x80048610"))
    assert isinstance(error, ApiError) and error.code == "0x80048610" and error.status == 400
    assert error.message.startswith("Could not delete permanently (second DELETE) the application user of client %s "
                                    "in %s (0x80048610): Dataverse said no." % (APP, ENV))
    assert "Fix: the application user is soft-deleted already" in error.message
    created = app.step_error(CREATE, APP, ENV, api_error("0x80040216"))
    assert "Fix: check that application_id is the Application (client) ID" in created.message
    # The create purges leftovers on the way: their refusal gets the purge's fix, not the app id's.
    purging = app.step_error(CREATE, APP, ENV, api_error("0x80048610"))
    assert "Fix: a soft-deleted row of this app could not be deleted yet" in purging.message
    duplicate = app.step_error(CREATE, APP, ENV, api_error("0x80040237", 412))
    assert "Fix: a soft-deleted row of this app was still being removed" in duplicate.message
    # Without a code, the status; without a fix of its own, the permission to check.
    other = app.step_error(ENABLE, APP, ENV, api_error(None, 500, "Boom"))
    assert "(HTTP 500): Boom. Fix: the client's own application user needs the System Administrator" in other.message
    # A message that already carries a fix (a 403 from the HTTP core) keeps it and gets no second one.
    forbidden = app.step_error(DISABLE, APP, ENV, api_error("0x80040220", 403, "Missing privilege. Fix: grant it."))
    assert forbidden.message.count("Fix:") == 1
