# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Dataverse systemusers shared by dataverse_systemuser_info, dataverse_systemuser and dataverse_role.

Pure pieces (access-mode names, identifier -> OData filter, row -> returned dict, role matching)
plus the two reads every one of those modules needs.
Columns: https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/systemuser
Roles: https://learn.microsoft.com/power-apps/developer/data-platform/security-roles
"""

from __future__ import annotations

from .._clients.dataverse import SYSTEM_ADMINISTRATOR_TEMPLATE
from .application_users import is_live
from .._identity import check_single
from .._odata import guid, is_guid, quote
from .._errors import ApiError, ConfigError, D365Error

# systemuser_accessmode global choice (systemuser entity reference).
ACCESS_MODES = {
    "read_write": 0,
    "administrative": 1,
    "read": 2,
    "support_user": 3,
    "non_interactive": 4,
    "delegated_admin": 5,
}
ACCESS_MODE_NAMES = {value: name for name, value in ACCESS_MODES.items()}
ACCESS_MODE_OPTION = {"type": "str", "choices": list(ACCESS_MODES)}
NON_INTERACTIVE = ACCESS_MODES["non_interactive"]
# At most 7 non-interactive users per environment; application users do not count
# (https://learn.microsoft.com/power-platform/admin/create-users).
NON_INTERACTIVE_CAP = 7

# identity: a UPN (domainname), an Entra object id or a systemuserid; the 0.x options are its aliases.
IDENTITY_ARGSPEC_OLD_NAMES = ("entra_object_id", "object_id", "user_principal_name", "upn", "systemuser_id")
# application_id: an application user instead (its app registration's client id), exclusive with identity.
APPLICATION_ID_OPTION = {"type": "str"}
APPLICATION_ID_EXCLUSIVE = [["identity", "application_id"]]

SELECT = ("systemuserid", "domainname", "azureactivedirectoryobjectid", "applicationid", "accessmode",
          "isdisabled", "islicensed", "_businessunitid_value")
ROLE_SELECT = ("roleid", "name", "_roletemplateid_value", "_businessunitid_value")
ROLES_NAV = "systemuserroles_association"
EXPAND_ROLES = "%s($select=%s)" % (ROLES_NAV, ",".join(ROLE_SELECT))
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"


def access_mode_name(value):
    return ACCESS_MODE_NAMES.get(value, "unknown_%s" % value if value is not None else None)


def describe(params):
    if params.get("application_id"):
        return "the application user of client %s" % params["application_id"].strip().lower()
    value = (params.get("identity") or "").strip()
    return "user %s" % value if value else "any user"


def identifier_filter(params):
    """OData $filter for params["identity"], or None when it is not set.

    A GUID is an Entra object id or a systemuserid (GUIDs do not collide, so one filter matches
    either); it goes unquoted and validated. A UPN matches domainname, which online holds the UPN.
    """
    check_single(params, IDENTITY_ARGSPEC_OLD_NAMES)
    if params.get("application_id"):
        return "applicationid eq %s" % guid(params["application_id"].strip(), "application_id")
    value = (params.get("identity") or "").strip()
    if not value:
        return None
    if is_guid(value):
        key = guid(value, "identity")
        return "(azureactivedirectoryobjectid eq %s or systemuserid eq %s)" % (key, key)
    return "domainname eq %s" % quote(value)


def users_filter(params, access_mode=None):
    parts = [f for f in (identifier_filter(params),) if f]
    if access_mode is not None:
        parts.append("accessmode eq %d" % ACCESS_MODES[access_mode])
    return " and ".join(parts) if parts else None


def role_dict(row):
    return {
        "roleid": row.get("roleid"),
        "name": row.get("name"),
        "roletemplateid": (row.get("_roletemplateid_value") or "").lower() or None,
        "businessunitid": row.get("_businessunitid_value"),
    }


def systemuser_dict(row):
    """The systemuser as all three modules return it (RETURN 'systemuser' / 'systemusers')."""
    roles = row.get(ROLES_NAV)
    return {
        "systemuserid": row.get("systemuserid"),
        "domainname": row.get("domainname"),
        "azureactivedirectoryobjectid": row.get("azureactivedirectoryobjectid"),
        "applicationid": row.get("applicationid"),
        "accessmode": row.get("accessmode"),
        "access_mode": access_mode_name(row.get("accessmode")),
        "isdisabled": row.get("isdisabled"),
        "islicensed": row.get("islicensed"),
        "businessunitid": row.get("_businessunitid_value") or row.get("businessunitid"),
        "roles": sorted((role_dict(r) for r in roles or []), key=lambda r: (r["name"] or "").casefold()),
    }


# -- the row an earlier task of this run returned --------------------------------------------------

KNOWN_SYSTEMUSER_OPTION = {"type": "dict"}


def _names_this_user(known, params):
    """Whether a returned systemuser is the one the task's identity names (else it is ignored and read)."""
    if params.get("application_id"):
        return (known.get("applicationid") or "").lower() == params["application_id"].strip().lower()
    value = (params.get("identity") or "").strip().lower()
    if is_guid(value):
        return value in ((known.get("systemuserid") or "").lower(), (known.get("azureactivedirectoryobjectid") or "").lower())
    return bool(value) and (known.get("domainname") or "").lower() == value


def known_row(params):
    """(raw row or None, known) from the option systemuser: the user as an earlier task of this run returned it
    (RV(systemuser), systemuser_dict's shape), or {} when that task found it missing. known False: read it."""
    known = params.get("systemuser")
    if known is None or (known and not (_names_this_user(known, params) and known.get("systemuserid")
                                        and known.get("businessunitid"))):
        return None, False  # not given, another user's, or too little of it: read
    if not known:
        return None, True
    return {"systemuserid": known.get("systemuserid"), "domainname": known.get("domainname"),
            "azureactivedirectoryobjectid": known.get("azureactivedirectoryobjectid"),
            "applicationid": known.get("applicationid"), "accessmode": known.get("accessmode"),
            "isdisabled": known.get("isdisabled"), "islicensed": known.get("islicensed"),
            "_businessunitid_value": known.get("businessunitid"),
            ROLES_NAV: [{"roleid": r.get("roleid"), "name": r.get("name"),
                         "_roletemplateid_value": r.get("roletemplateid"),
                         "_businessunitid_value": r.get("businessunitid")} for r in known.get("roles") or []]}, True


# -- reads -------------------------------------------------------------------------------------


def read_systemusers(client, filter_expr, live_only=False):
    """Raw rows (user + roles in one GET); [] when nothing matches.

    live_only: also read deletedstate and leave soft-deleted rows out (application users: a deleted one
    stays until its second DELETE). Only then, as that column is not needed for people.
    """
    params = {"$select": ",".join(SELECT + (("deletedstate",) if live_only else ())), "$expand": EXPAND_ROLES}
    if filter_expr:
        params["$filter"] = filter_expr
    rows = client.get_all("systemusers", params=params)
    return [r for r in rows if is_live(r)] if live_only else rows


def read_one(client, params):
    """The one row the identifier names, or None; two matches are an error (never guess)."""
    rows = read_systemusers(client, identifier_filter(params), live_only=bool(params.get("application_id")))
    if len(rows) > 1:
        raise ConfigError("%s matches %d systemusers in %s (%s): give the Entra object id or the systemuserid as identity." % (
            describe(params), len(rows), client.environment_url,
            ", ".join(str(r.get("systemuserid")) for r in rows)))
    return rows[0] if rows else None


def non_interactive_counts(client):
    """(current, maximum) non-interactive users of the environment.

    RetrieveOrganizationResources is the documented source but its online values are
    UNCONFIRMED: when it fails or lacks the fields, count accessmode 4 rows that are not
    application users (those do not count) and use the documented cap of 7.
    """
    try:
        resources = (client.organization_resources() or {}).get("OrganizationResources") or {}
    except ApiError:
        resources = {}
    current = resources.get("CurrentNumberOfNonInteractiveUsers")
    maximum = resources.get("MaxNumberOfNonInteractiveUsers")
    if not isinstance(maximum, int) or isinstance(maximum, bool) or maximum <= 0:
        maximum = NON_INTERACTIVE_CAP
    if not isinstance(current, int) or isinstance(current, bool) or current < 0:
        rows = client.get_all("systemusers", params={
            "$select": "systemuserid", "$filter": "accessmode eq %d and applicationid eq null" % NON_INTERACTIVE})
        current = len(rows)
    return current, maximum


def not_synchronised(params, environment_url, hint):
    return D365Error("%s is not yet synchronised into %s. Fix: %s." % (describe(params), environment_url, hint))


# -- roles ---------------------------------------------------------------------------------------


def match_roles(wanted, available):
    """Resolve role names / template GUIDs against the roles of one business unit.

    Returns (matched rows in request order without duplicates, unknown entries).
    'System Administrator' always resolves by its template id, so it works in any language.
    A GUID matches the role template id (or, as a convenience, the role id itself).
    """
    matched, unknown, seen = [], [], set()
    for item in wanted:
        text = str(item).strip()
        if is_guid(text):
            key = text.lower()
            hits = [r for r in available if (r.get("_roletemplateid_value") or "").lower() == key]
            hits = hits or [r for r in available if (r.get("roleid") or "").lower() == key]
        elif text.casefold() == "system administrator":
            hits = [r for r in available
                    if (r.get("_roletemplateid_value") or "").lower() == SYSTEM_ADMINISTRATOR_TEMPLATE]
        else:
            hits = [r for r in available if (r.get("name") or "").casefold() == text.casefold()]
        if not hits:
            unknown.append(text)
            continue
        if len(hits) > 1:
            raise ConfigError("Role %r matches %d roles in business unit %s (%s): give the role template GUID." % (
                text, len(hits), hits[0].get("_businessunitid_value"), ", ".join(h["roleid"] for h in hits)))
        if hits[0]["roleid"] not in seen:
            seen.add(hits[0]["roleid"])
            matched.append(hits[0])
    return matched, unknown
