# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Application users for dataverse_application_user: what to write, decided from what was read.

An application user is the systemuser whose applicationid is an app registration's client id; one per app
per environment, accessmode 4, no licence. Only a disabled one can be deleted, and a DELETE first
soft-deletes it (deletedstate 1), a second one removes it for good; a soft-deleted row still holds the app
id, so a new create fails until it is removed.
https://learn.microsoft.com/power-platform/admin/manage-application-users
https://learn.microsoft.com/power-platform/admin/create-dataverseapplicationuser
"""

from __future__ import annotations

from .._clients.dataverse import USERSETTINGS_DELETE_CODE
from .._errors import ConfigError

SELECT = ("systemuserid", "applicationid", "fullname", "isdisabled", "deletedstate", "azureactivedirectoryobjectid",
          "_businessunitid_value")
DUPLICATE_CODE = "0x80040237"  # "A record with matching key values already exists."
STATES = ("present", "disabled", "absent")
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"

# The steps, in the order they run; their names start failure messages.
CREATE = "create"
MOVE = "move to the business unit"
ENABLE = "enable"
DISABLE = "disable"
SOFT_DELETE = "delete (first DELETE, soft)"
PERMANENT_DELETE = "delete permanently (second DELETE)"
PURGE = "permanently delete soft-deleted rows"
DIFF_KEYS = ("applicationid", "businessunitid", "business_unit", "isdisabled")

ROLE_FIX = "the client's own application user needs the System Administrator role in this environment"
FIXES = {
    (CREATE, DUPLICATE_CODE): "a soft-deleted row of this app was still being removed: run the task again; if it "
                              "keeps failing, remove the application user in the Power Platform admin center "
                              "(Environment > Settings > Application users)",
    (CREATE, USERSETTINGS_DELETE_CODE): "a soft-deleted row of this app could not be deleted yet (Dataverse was "
                                        "still removing its user settings): run the task again",
    (CREATE, None): "check that application_id is the Application (client) ID of an app registration in this "
                    "tenant (a multi-tenant app needs an administrator's consent in this tenant first); " + ROLE_FIX,
    (PERMANENT_DELETE, USERSETTINGS_DELETE_CODE): "the application user is soft-deleted already and Dataverse was "
                                                  "still removing its user settings: run the task again to finish",
    (PURGE, USERSETTINGS_DELETE_CODE): "Dataverse was still removing the user settings of the soft-deleted row: "
                                       "run the task again",
}


def is_live(row):
    """deletedstate 0 (or not reported): the row is in use; anything else is a soft-deleted leftover."""
    return not row.get("deletedstate")


def split_rows(rows, application_id, environment_url):
    """(the live row or None, soft-deleted rows). Two live rows cannot be told apart: an error, never a guess."""
    live = [r for r in rows if is_live(r)]
    if len(live) > 1:
        raise ConfigError("Client %s has %d live application users in %s (%s); Dataverse allows one per app. Fix: "
                          "remove the extra ones in the Power Platform admin center." % (
                              application_id, len(live), environment_url,
                              ", ".join(r["systemuserid"] for r in live)))
    return (live[0] if live else None), [r for r in rows if not is_live(r)]


def after_duplicate(live, leftovers):
    """A create refused as a duplicate: ('adopt', id) when a live row appeared meanwhile (a parallel run),
    ('purge', ids) when soft-deleted rows hold the app id (then create once more), else ('fail', None)."""
    if live is not None:
        return "adopt", live["systemuserid"]
    if leftovers:
        return "purge", [r["systemuserid"] for r in leftovers]
    return "fail", None


def business_unit_differs(row, wanted):
    return bool(row and wanted and (row.get("_businessunitid_value") or "").lower() != wanted["businessunitid"])


def plan(state, row, leftovers, wanted_bu=None, move=False):
    """The steps that bring the live row (None: there is none) to state, in order.

    wanted_bu: the business unit asked for ({businessunitid, name}; None: not managed). An existing row in
    another one is moved only with move (Dataverse drops its roles when it moves).
    absent also removes soft-deleted rows: they are what an interrupted removal leaves behind.
    """
    if state not in STATES:
        raise ConfigError("state must be one of %s, got %r." % (", ".join(STATES), state))
    if state == "absent":
        steps = []
        if row is not None:
            steps = ([] if row.get("isdisabled") else [DISABLE]) + [SOFT_DELETE, PERMANENT_DELETE]
        return steps + ([PURGE] if leftovers else [])
    disabled = state == "disabled"
    if row is None:
        return [CREATE] + ([DISABLE] if disabled else [])
    steps = [MOVE] if move and business_unit_differs(row, wanted_bu) else []
    if bool(row.get("isdisabled")) != disabled:
        steps.append(DISABLE if disabled else ENABLE)
    return steps


def expected(state, row, steps, application_id, wanted_bu, bu_name):
    """The row as it will be after steps ({} when absent); bu_name: the name of the row's own business unit."""
    if state == "absent":
        return {}
    if row is None:
        row = {"systemuserid": PLACEHOLDER_ID, "applicationid": application_id, "fullname": None,
               "azureactivedirectoryobjectid": None, "_businessunitid_value": wanted_bu["businessunitid"],
               "isdisabled": False}
        bu_name = wanted_bu["name"]
    elif MOVE in steps:
        row = dict(row, _businessunitid_value=wanted_bu["businessunitid"])
        bu_name = wanted_bu["name"]
    return application_user_dict(dict(row, isdisabled=state == "disabled"), bu_name)


def application_user_dict(row, bu_name=None):
    """The application user as the module returns it (RETURN application_user)."""
    if not row:
        return {}
    return {
        "systemuserid": row.get("systemuserid"),
        "applicationid": (row.get("applicationid") or "").lower() or None,
        "fullname": row.get("fullname"),
        "azureactivedirectoryobjectid": row.get("azureactivedirectoryobjectid"),
        "isdisabled": bool(row.get("isdisabled")),
        "businessunitid": row.get("_businessunitid_value"),
        "business_unit": bu_name,
    }


def mismatch_warning(row, wanted, bu_name, environment_url):
    where = bu_name or row.get("_businessunitid_value")
    return ("The application user %s of client %s in %s is in business unit %s, not %s; it was left there. Fix: set "
            "move_business_unit: true to move it (Dataverse then removes its security roles: grant them again with "
            "d365.identity.dataverse_role)." % (row["systemuserid"], row.get("applicationid"), environment_url, where,
                                                wanted["name"]))


def step_error(step, application_id, environment_url, error):
    """error (an ApiError) with a message naming the step, the environment, the service code and a fix."""
    code = (error.code or "").lower() or None
    fix = FIXES.get((step, code)) or FIXES.get((step, None)) or ROLE_FIX
    text = error.message.rstrip().rstrip(".")
    message = "Could not %s the application user of client %s in %s (%s): %s." % (
        step, application_id, environment_url, error.code or "HTTP %s" % error.status, text)
    return error.with_message(message if "Fix:" in text else "%s Fix: %s." % (message, fix))
