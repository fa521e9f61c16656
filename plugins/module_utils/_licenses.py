# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Pure helpers over Graph subscribedSku objects (fact sheet §3)."""

from __future__ import annotations

from ._dataverse import GUID_RE


def seats(sku):
    """Free seats = prepaidUnits.enabled - consumedUnits (§3); suspended units are not usable."""
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
