# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Pure helpers over Graph subscribedSku objects (https://learn.microsoft.com/graph/api/subscribedsku-list)."""

from __future__ import annotations

from .._odata import GUID_RE


def seats(sku):
    """Free seats = prepaidUnits.enabled - consumedUnits (subscribedSku resource); suspended units are not usable."""
    enabled = int((sku.get("prepaidUnits") or {}).get("enabled") or 0)
    consumed = int(sku.get("consumedUnits") or 0)
    return {"enabled": enabled, "consumed": consumed, "free": max(0, enabled - consumed)}


def summarize(sku):
    return {
        "skuId": sku.get("skuId"),
        "skuPartNumber": sku.get("skuPartNumber"),
        "capabilityStatus": sku.get("capabilityStatus"),
        "appliesTo": sku.get("appliesTo"),
        "seats": seats(sku),
        "servicePlans": [
            {"servicePlanId": p.get("servicePlanId"), "servicePlanName": p.get("servicePlanName")}
            for p in sku.get("servicePlans") or []
        ],
    }


def assignment_states(user):
    """licenseAssignmentStates, or assignedLicenses read as direct assignments when Graph left them out."""
    states = (user or {}).get("licenseAssignmentStates")
    if states is None:
        states = [dict(a, assignedByGroup=None) for a in (user or {}).get("assignedLicenses") or []]
    return [s for s in states if s.get("skuId")]


# What m365_license needs of a user that an earlier task passes on (option known_user), instead of reading it.
PASSED_ON_KEYS = ("id", "userPrincipalName", "usageLocation", "licenseAssignmentStates", "onPremisesExtensionAttributes")
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"  # check mode's id of a user that does not exist yet


def passed_on_user(known, identity):
    """The user an earlier task of this run returned (entra_user's or m365_license's RV user), when it names the
    identity (object id or UPN) and holds everything the licence decisions read; else None (then it is read)."""
    if not isinstance(known, dict) or any(k not in known for k in PASSED_ON_KEYS):
        return None
    user_id, wanted = str(known.get("id") or ""), str(identity or "").strip().casefold()
    if not GUID_RE.match(user_id) or user_id == PLACEHOLDER_ID or not isinstance(known["licenseAssignmentStates"], list):
        return None
    if not wanted or wanted not in (user_id.casefold(), str(known.get("userPrincipalName") or "").casefold()):
        return None
    return known


def find_sku(skus, wanted):
    """The SKU whose skuId (GUID) or skuPartNumber matches wanted, case-insensitively, or None."""
    key = str(wanted).strip().casefold()
    field = "skuId" if GUID_RE.match(key) else "skuPartNumber"
    return next((s for s in skus if str(s.get(field) or "").casefold() == key), None)


def split_known(skus, wanted):
    """([matching sku objects in wanted order], [names not in the tenant])."""
    found, unknown = [], []
    for name in wanted:
        sku = find_sku(skus, name)
        if sku is None:
            unknown.append(name)
        elif sku not in found:
            found.append(sku)
    return found, unknown


# Service plans that bring a user into a Dataverse environment are the Dynamics 365 application plans
# (servicePlanName DYN365_* / D365_*); the DYN365_CDS_O365_* plans are Dataverse for Microsoft 365
# and Teams only. Microsoft does not publish the exact list, so this is the rule the collection uses:
# https://learn.microsoft.com/entra/identity/users/licensing-service-plan-reference
_DYNAMICS_PREFIXES = ("DYN365_", "D365_")


def has_dynamics_plan(sku):
    for plan in sku.get("servicePlans") or []:
        name = str(plan.get("servicePlanName") or "").upper()
        if name.startswith(_DYNAMICS_PREFIXES) and "_O365_" not in name:
            return True
    return False
