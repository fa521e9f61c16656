# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Planning one user's assignLicense call from its licenseAssignmentStates and the tenant's SKUs
(https://learn.microsoft.com/graph/api/user-assignlicense, https://learn.microsoft.com/graph/api/resources/licenseassignmentstate).

Only direct assignments are managed: a licence inherited from a group cannot be removed per user.
Pure functions: the module reads, these decide, the module writes.
"""

from __future__ import annotations

from .._compare import compute_patch, list_delta
from .._errors import ConfigError
from .licenses import seats


def key(value):
    return str(value or "").casefold()


class LicenceChange:
    """What the task asks for, as SKU rows: add, remove and exact (set; None = not managed)."""

    def __init__(self, add=(), remove=(), exact=None, plans=None):
        self.add, self.remove, self.exact, self.plans = list(add), list(remove), exact, plans

    @property
    def adding(self):
        return self.exact if self.exact is not None else self.add

    def with_add(self, add):
        return LicenceChange(add, self.remove, self.exact, self.plans)


def resolve_plans(skus, names):
    """{skuId: [servicePlanId]} for the SKUs being added; ConfigError for a plan none of them has."""
    per_sku = {key(s["skuId"]): [] for s in skus}
    unknown = []
    for name in names:
        hit = False
        for sku in skus:
            for plan in sku.get("servicePlans") or []:
                if key(name).strip() in (key(plan.get("servicePlanId")), key(plan.get("servicePlanName"))):
                    per_sku[key(sku["skuId"])].append(plan["servicePlanId"])
                    hit = True
        if not hit:
            unknown.append(name)
    if unknown:
        available = sorted({p.get("servicePlanName") for s in skus for p in s.get("servicePlans") or []} - {None})
        raise ConfigError("disabled_plans %s: no such service plan in %s. Use a servicePlanName or servicePlanId of "
                          "these SKUs: %s." % (", ".join(unknown), ", ".join(s["skuPartNumber"] for s in skus),
                                               ", ".join(available) or "(none)"))
    return per_sku


def plan(states, change):
    """(adds, remove_sku_ids, inherited_only) for assignLicense from the user's assignment states.

    inherited_only: SKUs asked to be removed that the user holds only through a group.
    """
    direct = {key(s["skuId"]): s for s in states if not s.get("assignedByGroup")}
    exact = None if change.exact is None else [s["skuId"] for s in change.exact]
    to_add, to_remove = list_delta(list(direct), add=[s["skuId"] for s in change.add],
                                   remove=[s["skuId"] for s in change.remove], exact=exact)
    plans = change.plans
    adds = [{"skuId": sku_id, "disabledPlans": list((plans or {}).get(key(sku_id), []))} for sku_id in to_add]
    if plans is not None:  # disabled plans of a SKU already held directly
        for sku in change.adding:
            current = direct.get(key(sku["skuId"]))
            want = {"disabledPlans": [key(p) for p in plans[key(sku["skuId"])]]}
            have = {"disabledPlans": [key(p) for p in (current or {}).get("disabledPlans") or []]}
            if current is not None and compute_patch(want, have):
                adds.append({"skuId": sku["skuId"], "disabledPlans": list(plans[key(sku["skuId"])])})
    removing = {key(s["skuId"]) for s in change.remove} if exact is None else set()
    inherited_only = [s for s in states if s.get("assignedByGroup") and key(s["skuId"]) in removing
                      and key(s["skuId"]) not in direct]
    return adds, [direct[k]["skuId"] for k in to_remove], inherited_only


def states_after(states, adds, removes):
    removed = {key(s) for s in removes}
    added = {key(a["skuId"]): a for a in adds}
    out = [s for s in states if s.get("assignedByGroup") or key(s["skuId"]) not in removed | set(added)]
    out.extend({"skuId": a["skuId"], "disabledPlans": a["disabledPlans"], "assignedByGroup": None} for a in adds)
    return out


def describe(states, skus):
    """The returned assigned_licenses: one entry per assignment, with the SKU's part number."""
    names = {key(s.get("skuId")): s.get("skuPartNumber") for s in skus}
    return [{"skuId": s["skuId"], "skuPartNumber": names.get(key(s["skuId"])) or s["skuId"],
             "disabledPlans": list(s.get("disabledPlans") or []), "assignedByGroup": s.get("assignedByGroup")}
            for s in states]


def seat_report(wanted, before, after):
    """Seats per requested SKU, moved by this task's change (a seat is used once per user)."""
    held_before = {key(s["skuId"]) for s in before}
    held_after = {key(s["skuId"]) for s in after}
    report = {}
    for sku in wanted:
        counts = seats(sku)
        k = key(sku["skuId"])
        counts["consumed"] += int(k in held_after) - int(k in held_before)
        counts["free"] = max(0, counts["enabled"] - counts["consumed"])
        report[sku["skuPartNumber"]] = counts
    return report


def check_seats(wanted, adds, states):
    held = {key(s["skuId"]) for s in states}
    for add in adds:
        if key(add["skuId"]) in held:
            continue  # already uses a seat (through a group, or a disabled-plans change)
        sku = next(s for s in wanted if key(s["skuId"]) == key(add["skuId"]))
        counts = seats(sku)
        if counts["free"] <= 0:
            raise ConfigError("SKU %s has no free seat (enabled %d, consumed %d): free a seat, buy more licences, or "
                              "choose another SKU (d365.identity.m365_license_info lists free seats)."
                              % (sku["skuPartNumber"], counts["enabled"], counts["consumed"]))


def pick_one(candidates, states):
    """one_of: the SKU the user already holds directly, else the first with a free seat, else the first
    (whose missing seat check_seats then reports)."""
    direct = {key(s["skuId"]) for s in states if not s.get("assignedByGroup")}
    held = [s for s in candidates if key(s["skuId"]) in direct]
    free = [s for s in candidates if seats(s)["free"] > 0]
    return (held or free or candidates)[:1]


def inherited_message(wanted, inherited_only, group_label, upn):
    """The refusal for removing licences a user only inherits; group_label(ids) names the groups."""
    by_sku = {}
    for s in inherited_only:
        by_sku.setdefault(s["skuId"], []).append(s["assignedByGroup"])
    parts = []
    for sku_id, group_ids in by_sku.items():
        name = next((s["skuPartNumber"] for s in wanted if key(s["skuId"]) == key(sku_id)), sku_id)
        parts.append("%s (inherited from group %s)" % (name, ", ".join(group_label(group_ids))))
    return ("Cannot remove %s from user %s: a licence inherited from a group membership cannot be removed per user. "
            "Remove the user from that group, or the licence from the group, instead." % ("; ".join(parts), upn))


# -- waiting for a seat (m365_license seat_wait) ---------------------------------------------------------------

JITTER = 0.5  # each pause is the interval times a factor in [1 - JITTER, 1 + JITTER]


def jittered_pause(interval, remaining, draw):
    """Seconds to sleep before the next seat reading, or None when the deadline has passed.

    draw is a number in [0, 1) (random.random()): parallel runs spread out instead of re-reading the seats
    in lock step. Never longer than what is left of the wait, never below 0.5 s.
    """
    if remaining <= 0:
        return None
    interval = max(1.0, float(interval))
    draw = min(max(float(draw), 0.0), 1.0)
    pause = interval * (1.0 - JITTER + 2.0 * JITTER * draw)
    return max(0.5, min(pause, remaining))


def free_candidates(candidates):
    """The candidate SKU rows with a free seat, in preference order."""
    return [s for s in candidates if seats(s)["free"] > 0]


def seat_counts_text(candidates):
    return "; ".join("%s %d/%d used" % (s["skuPartNumber"], seats(s)["consumed"], seats(s)["enabled"])
                     for s in candidates) or "none"


def usable_for_waiting(candidates):
    """Waiting can only end well when some candidate has enabled seats at all."""
    return any(seats(s)["enabled"] > 0 for s in candidates)


def waiting_message(candidates, waited, limit):
    return ("Waiting for a free seat: %s (waited %d s of this call's %d s). Seats free up when other users give "
            "their borrowed licence back." % (seat_counts_text(candidates), waited, limit))
