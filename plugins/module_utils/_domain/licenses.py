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
