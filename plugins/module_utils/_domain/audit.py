# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""The audit of every non-interactive user of some environments, as pure functions over what was read.

The module non_interactive_users_audit_info reads, per environment, its non-interactive users that are not
application users (one systemusers query, roles expanded) and its cap, then each Entra user once. This file
turns those readings into one row per user x environment with its findings:

- a licence still held: a seat wasted, non-interactive users need none (create-users: "Non-interactive users do
  not need a license");
- disabled in Dataverse, or the Entra account disabled or deleted: a broken integration (Dataverse disables the
  systemuser of a disabled or deleted Entra account);
- whether the collection owns the user (the ownership mark, see ownership.py).

Sources: https://learn.microsoft.com/power-platform/admin/create-users ,
https://learn.microsoft.com/graph/api/user-get (404 for a deleted user),
https://learn.microsoft.com/graph/api/resources/directory (deleted items, kept 30 days).
No network access here.
"""

from __future__ import annotations

from . import ownership
from .licenses import assignment_states
from .systemusers import NON_INTERACTIVE, NON_INTERACTIVE_CAP, ROLES_NAV

# Non-interactive users that count towards the cap: application users are accessmode 4 too, but do not count.
SYSTEMUSER_FILTER = "accessmode eq %d and applicationid eq null" % NON_INTERACTIVE
SYSTEMUSER_SELECT = ("systemuserid", "domainname", "fullname", "azureactivedirectoryobjectid", "applicationid",
                     "accessmode", "isdisabled", "islicensed", "_businessunitid_value")
USER_SELECT = ("id", "userPrincipalName", "displayName", "accountEnabled", "assignedLicenses",
               "licenseAssignmentStates") + ownership.SELECT
DELETED_SELECT = ("id", "userPrincipalName", "deletedDateTime")

OK = "ok"
SEAT_WASTED = "seat wasted"
BROKEN = "broken"


def slot_counts(resources, rows):
    """{'used', 'max', 'free'} non-interactive slots.

    RetrieveOrganizationResources is the documented source; its online values are UNCONFIRMED, so without usable
    numbers the rows read are counted and the documented cap of 7 per environment is used.
    """
    resources = resources if isinstance(resources, dict) else {}
    used = resources.get("CurrentNumberOfNonInteractiveUsers")
    maximum = resources.get("MaxNumberOfNonInteractiveUsers")
    if not isinstance(maximum, int) or isinstance(maximum, bool) or maximum <= 0:
        maximum = NON_INTERACTIVE_CAP
    if not isinstance(used, int) or isinstance(used, bool) or used < 0:
        used = len(rows or [])
    return {"used": used, "max": maximum, "free": max(0, maximum - used)}


def entra_state(reading):
    """'enabled', 'disabled', 'deleted' (soft-deleted, restorable), 'not found' (gone) or 'unknown' (not read)."""
    reading = reading or {}
    if reading.get("user"):
        return "enabled" if reading["user"].get("accountEnabled") else "disabled"
    if reading.get("error") or not reading.get("read"):
        return "unknown"
    return "deleted" if reading.get("deleted") else "not found"


def held_licences(user, skus):
    """[{'sku', 'sku_id', 'group'}] of every licence the user holds (direct: group None), by part number when known."""
    names = {str(s.get("skuId") or "").lower(): s.get("skuPartNumber") for s in skus or []}
    out, seen = [], set()
    for state in assignment_states(user):
        sku_id = str(state.get("skuId")).lower()
        group = state.get("assignedByGroup") or None
        if (sku_id, group) in seen:
            continue
        seen.add((sku_id, group))
        out.append({"sku": names.get(sku_id) or sku_id, "sku_id": sku_id, "group": group})
    return out


def licence_text(licence):
    return licence["sku"] + (" (via group %s)" % licence["group"] if licence["group"] else "")


def role_names(row):
    return sorted((str(r.get("name") or r.get("roleid") or "") for r in row.get(ROLES_NAV) or []), key=str.casefold)


def findings(row, reading, licences):
    """(status, [finding texts]) of one systemuser and its Entra account."""
    texts, status = [], OK
    entra = entra_state(reading)
    if licences:
        status = SEAT_WASTED
        direct = [lic["sku"] for lic in licences if not lic["group"]]
        inherited = [lic for lic in licences if lic["group"]]
        if direct:
            texts.append("seat wasted: holds %s, which a non-interactive user does not need (give it back)"
                         % ", ".join(direct))
        for lic in inherited:
            texts.append("seat wasted: inherits %s from group %s (remove the user from the group)"
                         % (lic["sku"], lic["group"]))
    if row.get("isdisabled"):
        status = BROKEN
        texts.append("disabled in Dataverse: integrations signing in as this user fail")
    if entra == "disabled":
        status = BROKEN
        texts.append("Entra account disabled: it cannot sign in")
    elif entra == "deleted":
        status = BROKEN
        when = str((reading.get("deleted") or {}).get("deletedDateTime") or "")
        texts.append("Entra account deleted%s (restorable for 30 days after deletion)" % (" on " + when if when else ""))
    elif entra == "not found":
        status = BROKEN
        texts.append("Entra account not found (deleted permanently, or never existed)")
    elif entra == "unknown" and row.get("azureactivedirectoryobjectid"):
        texts.append("Entra account not read: %s" % ((reading or {}).get("error") or "no object id"))
    return status, texts


def audit_row(url, row, reading, skus, owner_attribute):
    reading = reading or {}
    user = reading.get("user")
    deleted = reading.get("deleted") or {}
    licences = held_licences(user, skus) if user else []
    status, texts = findings(row, reading, licences)
    return {
        "environment": url,
        "user": (user or {}).get("userPrincipalName") or deleted.get("userPrincipalName") or row.get("domainname"),
        "display_name": (user or {}).get("displayName") or row.get("fullname"),
        "entra_object_id": row.get("azureactivedirectoryobjectid"),
        "systemuserid": row.get("systemuserid"),
        "business_unit_id": row.get("_businessunitid_value"),
        "owned": ownership.is_owned(user, owner_attribute) if user else None,
        "dataverse": "disabled" if row.get("isdisabled") else "enabled",
        "dataverse_licensed": bool(row.get("islicensed")),
        "entra": entra_state(reading),
        "licences": [licence_text(lic) for lic in licences],
        "licence_details": licences,
        "roles": role_names(row),
        "status": status,
        "findings": texts,
    }


def build(environments, readings, skus, owner_attribute):
    """The audit result from the readings.

    environments: [{'url', 'rows' (systemuser rows with roles, or None when unreadable), 'resources'
    (OrganizationResources or None), 'error'}]; readings: {entra object id (lower case): {'read': bool,
    'user': Graph user or None, 'deleted': deleted item or None, 'error': str or None}}; skus: subscribedSkus or
    None. Returns {'environments', 'rows', 'summary', 'errors'}.
    """
    out_envs, rows, errors = [], [], []
    for env in environments:
        url = env["url"]
        if env.get("rows") is None:
            errors.append("%s: %s" % (url, env.get("error") or "not read"))
            out_envs.append({"url": url, "slots": None, "listed": 0, "owned": 0, "seats_wasted": 0, "broken": 0,
                             "error": env.get("error") or "not read"})
            continue
        env_rows = [audit_row(url, row, readings.get(str(row.get("azureactivedirectoryobjectid") or "").lower()),
                              skus, owner_attribute) for row in env["rows"]]
        env_rows.sort(key=lambda r: str(r["user"] or "").casefold())
        rows.extend(env_rows)
        out_envs.append({
            "url": url, "slots": slot_counts(env.get("resources"), env["rows"]), "listed": len(env_rows),
            "owned": sum(1 for r in env_rows if r["owned"]),
            "seats_wasted": sum(1 for r in env_rows if r["licences"]),
            "broken": sum(1 for r in env_rows if r["status"] == BROKEN), "error": None})
    by_error = {}
    for oid, reading in sorted(readings.items()):
        if reading.get("error"):
            by_error.setdefault(reading["error"], []).append(oid)
    for error, oids in by_error.items():  # one failing permission shows up for every user: say it once
        errors.append("Entra user%s %s: %s" % ("s" if len(oids) > 1 else "", ", ".join(oids), error))
    wasted = {r["entra_object_id"] for r in rows if r["licences"]}
    summary = {
        "environments": len(out_envs),
        "rows": len(rows),
        "users": len({r["entra_object_id"] or r["systemuserid"] for r in rows}),
        "owned": len({r["entra_object_id"] for r in rows if r["owned"]}),
        "not_owned": len({r["entra_object_id"] for r in rows if r["owned"] is False}),
        "seats_wasted": len(wasted),
        "broken": sum(1 for r in rows if r["status"] == BROKEN),
        "errors": len(errors),
    }
    return {"environments": out_envs, "rows": rows, "summary": summary, "errors": errors}
