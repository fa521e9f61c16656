#!/usr/bin/python
# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: m365_license
short_description: Assign or remove Microsoft 365 / Dynamics 365 licences of a Microsoft Entra ID user
version_added: 0.1.0
description:
  - Adds (O(state=present)) or removes (O(state=absent)) the listed licence SKUs on one user with Microsoft Graph
    C(assignLicense); licences not listed are kept.
  - Reads the user's licences (with C(licenseAssignmentStates)) and the tenant's C(subscribedSkus) first, and sends
    C(assignLicense) only when something must change.
  - Before writing anything it fails with a message naming the fix when a SKU is unknown to the tenant, a SKU to add
    has no free seat, the user has no usage location, or a licence to remove is inherited from a group.
  - Only direct assignments are managed. A SKU the user only inherits from a group is added as a direct assignment
    with O(state=present) (this uses no extra seat), and cannot be removed with O(state=absent).
  - Needs the Graph application permissions C(LicenseAssignment.ReadWrite.All) (or C(User.ReadWrite.All)) and, to name
    the group of an inherited licence, C(GroupMember.Read.All).
author:
  - d365.identity maintainers (@d365-identity)
options:
  user:
    description:
      - The user's UPN or object id, for example the RV(d365.identity.entra_user#module:id) returned by M(d365.identity.entra_user).
    type: str
    required: true
    aliases: [user_principal_name, upn]
  skus:
    description:
      - Licences to add or remove, each a C(skuPartNumber) such as V(DYN365_ENTERPRISE_PLAN1) or a C(skuId) GUID.
      - Matching is case-insensitive. M(d365.identity.m365_license_info) lists the tenant's SKUs and free seats.
    type: list
    elements: str
    required: true
    aliases: [sku]
  disabled_plans:
    description:
      - Service plans to turn off in the SKUs being added, by C(servicePlanName) or C(servicePlanId). Each plan applies to
        the listed SKUs that contain it.
      - When set, the disabled plans of a listed SKU the user already has are changed to these; when not set, they are
        left as they are (and a new assignment disables nothing).
      - Ignored with O(state=absent).
    type: list
    elements: str
  state:
    description:
      - V(present) adds the listed SKUs; V(absent) removes them (a no-op for SKUs the user does not have).
    type: str
    choices: [present, absent]
    default: present
  one_of:
    description:
      - With O(state=present), assign only one licence, the first SKU of O(skus) that has a free seat. A user that
        already holds one of them directly keeps it and nothing is written.
      - Seats are read right before the assignment; when the seat was taken meanwhile, the next SKU with a free seat
        is tried. This is how the role C(non_interactive_user) borrows a licence.
    type: bool
    default: false
  direct_only:
    description:
      - With O(state=absent), remove only direct assignments; a listed SKU the user holds only through a group is
        left alone with a warning instead of failing the task. The role C(non_interactive_user) gives borrowed
        licences back this way.
    type: bool
    default: false
extends_documentation_fragment:
  - d365.identity._auth
  - d365.identity._ownership
  - d365.identity._attributes
  - d365.identity._attributes.ACTIONGROUP_GRAPH
attributes:
  check_mode:
    support: full
    details:
      - Nothing is written. A user that does not exist yet (for example because M(d365.identity.entra_user) ran in check
        mode too) is reported as a pending change with a warning.
  diff_mode:
    support: full
    details: Shows the user's assigned C(skuPartNumber) list before and after.
  idempotent:
    support: full
seealso:
  - module: d365.identity.entra_user
  - module: d365.identity.m365_license_info
"""

EXAMPLES = r"""
- name: Give the service account a Dynamics 365 licence
  d365.identity.m365_license:
    user: svc-d365@contoso.onmicrosoft.com
    skus: [DYN365_ENTERPRISE_PLAN1]
  register: licence

- name: Add Office 365 E3 without Exchange and Teams
  d365.identity.m365_license:
    user: "{{ svc.id }}"
    sku: ENTERPRISEPACK
    disabled_plans: [EXCHANGE_S_ENTERPRISE, TEAMS1]

- name: Remove the licence again
  d365.identity.m365_license:
    user: svc-d365@contoso.onmicrosoft.com
    skus: [DYN365_ENTERPRISE_PLAN1]
    state: absent
"""

RETURN = r"""
user_id:
  description: Object id of the user; null when the user does not exist (check mode only).
  returned: always
  type: str
  sample: 87d349ed-44d7-43e1-9a83-5f2406dee5bd
assigned_licenses:
  description:
    - The user's licences after the task (in check mode, as they would be), one entry per assignment; a SKU assigned
      directly and through a group has two entries.
  returned: always
  type: list
  elements: dict
  contains:
    skuId:
      description: SKU GUID.
      type: str
    skuPartNumber:
      description: SKU name, or the GUID when the tenant no longer lists the SKU.
      type: str
    disabledPlans:
      description: Service plan ids turned off in this assignment.
      type: list
      elements: str
    assignedByGroup:
      description: Id of the group the licence is inherited from; null for a direct assignment.
      type: str
  sample:
    - skuId: ea126fc5-a19e-42e2-a731-da9d437bffcf
      skuPartNumber: DYN365_ENTERPRISE_PLAN1
      disabledPlans: []
      assignedByGroup: null
seats:
  description:
    - Seats of each requested SKU, keyed by C(skuPartNumber), counting this task's change; C(free) is
      C(enabled - consumed), never below 0.
  returned: always
  type: dict
  sample: {"DYN365_ENTERPRISE_PLAN1": {"enabled": 3, "consumed": 2, "free": 1}}
"""

from ansible_collections.d365.identity.plugins.module_utils._compare import compute_patch, diff_for, list_delta
from ansible_collections.d365.identity.plugins.module_utils._errors import ApiError, ConfigError
from ansible_collections.d365.identity.plugins.module_utils._domain.licenses import assignment_states, seats, split_known
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module
from ansible_collections.d365.identity.plugins.module_utils._domain import ownership
from ansible_collections.d365.identity.plugins.module_utils._transport.writes import NOT_DONE, write_and_verify

USER_SELECT = ("id", "userPrincipalName", "displayName", "accountEnabled", "usageLocation", "mailNickname",
               "assignedLicenses", "licenseAssignmentStates") + ownership.SELECT
NO_SEAT = "does not have any available licenses"


def _key(value):
    return str(value or "").casefold()


def resolve_plans(wanted, names):
    """{skuId: [servicePlanId]} for the wanted SKUs; ConfigError for a plan none of them has."""
    per_sku = {_key(s["skuId"]): [] for s in wanted}
    unknown = []
    for name in names:
        hit = False
        for sku in wanted:
            for plan in sku.get("servicePlans") or []:
                if _key(name).strip() in (_key(plan.get("servicePlanId")), _key(plan.get("servicePlanName"))):
                    per_sku[_key(sku["skuId"])].append(plan["servicePlanId"])
                    hit = True
        if not hit:
            unknown.append(name)
    if unknown:
        available = sorted({p.get("servicePlanName") for s in wanted for p in s.get("servicePlans") or []} - {None})
        raise ConfigError("disabled_plans %s: no such service plan in %s. Use a servicePlanName or servicePlanId of "
                          "these SKUs: %s." % (", ".join(unknown), ", ".join(s["skuPartNumber"] for s in wanted),
                                               ", ".join(available) or "(none)"))
    return per_sku


def plan_change(states, wanted, state, plans):
    """(add_licenses, remove_sku_ids, inherited_only) from the user's assignment states.

    plans is {skuId: [plan ids]} when disabled_plans is managed, else None.
    """
    direct = {_key(s["skuId"]): s for s in states if not s.get("assignedByGroup")}
    wanted_ids = [s["skuId"] for s in wanted]
    if state == "absent":
        _to_add, to_remove = list_delta(list(direct), remove=wanted_ids)
        inherited_only = [s for s in states if s.get("assignedByGroup") and _key(s["skuId"]) in
                          {_key(i) for i in wanted_ids} and _key(s["skuId"]) not in direct]
        return [], [direct[k]["skuId"] for k in to_remove], inherited_only
    to_add, _to_remove = list_delta(list(direct), add=wanted_ids)
    adds = [{"skuId": sku_id, "disabledPlans": list((plans or {}).get(_key(sku_id), []))} for sku_id in to_add]
    if plans is not None:
        for sku_id in wanted_ids:
            current = direct.get(_key(sku_id))
            want = {"disabledPlans": [_key(p) for p in plans[_key(sku_id)]]}
            have = {"disabledPlans": [_key(p) for p in (current or {}).get("disabledPlans") or []]}
            if current is not None and compute_patch(want, have):
                adds.append({"skuId": sku_id, "disabledPlans": list(plans[_key(sku_id)])})
    return adds, [], []


def states_after(states, adds, removes):
    removed = {_key(s) for s in removes}
    added = {_key(a["skuId"]): a for a in adds}
    out = [s for s in states if s.get("assignedByGroup") or _key(s["skuId"]) not in removed | set(added)]
    out.extend({"skuId": a["skuId"], "disabledPlans": a["disabledPlans"], "assignedByGroup": None} for a in adds)
    return out


def describe(states, skus):
    names = {_key(s.get("skuId")): s.get("skuPartNumber") for s in skus}
    return [{"skuId": s["skuId"], "skuPartNumber": names.get(_key(s["skuId"])) or s["skuId"],
             "disabledPlans": list(s.get("disabledPlans") or []), "assignedByGroup": s.get("assignedByGroup")}
            for s in states]


def seat_report(wanted, before, after):
    """Seats per requested SKU, moved by this task's change (a seat is used once per user)."""
    held_before = {_key(s["skuId"]) for s in before}
    held_after = {_key(s["skuId"]) for s in after}
    report = {}
    for sku in wanted:
        counts = seats(sku)
        key = _key(sku["skuId"])
        counts["consumed"] += int(key in held_after) - int(key in held_before)
        counts["free"] = max(0, counts["enabled"] - counts["consumed"])
        report[sku["skuPartNumber"]] = counts
    return report


def group_names(client, group_ids):
    names = []
    for group_id in group_ids:
        try:
            group = client.get_group(group_id)
            names.append("'%s' (%s)" % (group.get("displayName") or group_id, group_id))
        except ApiError:
            names.append(group_id)  # no permission to read groups: the id still names it
    return names


def preflight(client, user, wanted, states, adds, inherited_only):
    """Fail before any write, with the fix in the message."""
    upn = user.get("userPrincipalName") or user.get("id")
    if inherited_only:
        by_sku = {}
        for s in inherited_only:
            by_sku.setdefault(s["skuId"], []).append(s["assignedByGroup"])
        parts = []
        for sku_id, group_ids in by_sku.items():
            name = next((s["skuPartNumber"] for s in wanted if _key(s["skuId"]) == _key(sku_id)), sku_id)
            parts.append("%s (inherited from group %s)" % (name, ", ".join(group_names(client, group_ids))))
        raise ConfigError("Cannot remove %s from user %s: a licence inherited from a group membership cannot be "
                          "removed per user. Remove the user from that group, or the licence from the group, instead."
                          % ("; ".join(parts), upn))
    if adds and not user.get("usageLocation"):
        raise ConfigError("User %s has no usageLocation, and licences can only be assigned to a user with one: set "
                          "usage_location (for example GB or US) with d365.identity.entra_user first." % upn)
    check_seats(wanted, adds, states)


def check_seats(wanted, adds, states):
    held = {_key(s["skuId"]) for s in states}
    for add in adds:
        if _key(add["skuId"]) in held:
            continue  # already uses a seat (through a group, or a disabled-plans change)
        sku = next(s for s in wanted if _key(s["skuId"]) == _key(add["skuId"]))
        counts = seats(sku)
        if counts["free"] <= 0:
            raise ConfigError("SKU %s has no free seat (enabled %d, consumed %d): free a seat, buy more licences, or "
                              "choose another SKU (d365.identity.m365_license_info lists free seats)."
                              % (sku["skuPartNumber"], counts["enabled"], counts["consumed"]))


def run(module):
    params = module.params
    client = module.graph_client()
    skus = client.subscribed_skus()
    wanted, unknown = split_known(skus, params["skus"])
    if unknown:
        tenant = sorted(s.get("skuPartNumber") or s.get("skuId") for s in skus)
        raise ConfigError("Unknown SKU %s: this tenant has %s. Use one of these skuPartNumbers or a skuId GUID "
                          "(d365.identity.m365_license_info lists them with free seats)."
                          % (", ".join(unknown), ", ".join(tenant) or "no SKUs"))
    present = params["state"] == "present"
    plans = resolve_plans(wanted, params["disabled_plans"]) if present and params["disabled_plans"] is not None else None
    if module.check_mode or not present:
        user = client.find_user(params["user"], USER_SELECT)
    else:
        user = client.find_user_eventually(params["user"], USER_SELECT)  # entra_user may have created it just now
    if user is None:
        return missing_user(module, params, wanted, skus, plans)

    states = assignment_states(user)
    if present and params["one_of"]:
        wanted = pick_one(wanted, states)
    adds, removes, inherited_only = plan_change(states, wanted, params["state"], plans)
    if inherited_only and params["direct_only"]:
        module.warn("%s keeps %s through a group membership: direct_only leaves inherited licences alone." % (
            user.get("userPrincipalName"), ", ".join(s["skuId"] for s in inherited_only)))
        inherited_only = []
    preflight(client, user, wanted, states, adds, inherited_only)
    if adds or removes:  # before any write: only users the collection owns, unless adopt
        ownership.require_owned(user, params["owner_attribute"], params["adopt"], "change the licences of")
    for entry in describe(states, skus):
        if entry["assignedByGroup"] and _key(entry["skuId"]) in {_key(r) for r in removes}:
            module.warn("%s keeps %s through group %s after its direct assignment is removed."
                        % (user.get("userPrincipalName"), entry["skuPartNumber"], entry["assignedByGroup"]))
    after = states_after(states, adds, removes)
    changed = bool(adds or removes)
    if changed and not module.check_mode:
        if present and params["one_of"]:
            wanted, adds = borrow(client, user, wanted, params["skus"], plans)
            after = states_after(states, adds, removes)
        else:
            write(client, user, wanted, params["state"], plans, adds, removes)
    result = {"changed": changed, "user_id": user["id"], "assigned_licenses": describe(after, skus),
              "seats": seat_report(wanted, states, after)}
    if module._diff:
        result["diff"] = licence_diff(states, after, skus)
    return result


def write(client, user, wanted, state, plans, adds, removes):
    """assignLicense; after an unanswered request, re-read and send again only what is still missing."""
    change = {"adds": adds, "removes": removes}

    def check():
        fresh = client.find_user(user["id"], USER_SELECT)
        adds, removes, _inherited = plan_change(assignment_states(fresh or {}), wanted, state, plans)
        change.update(adds=adds, removes=removes)
        return None if not adds and not removes else NOT_DONE

    write_and_verify(lambda: client.assign_license(user["id"], change["adds"], change["removes"]), check)


def pick_one(wanted, states):
    """one_of: the SKU the user already holds directly, else the first with a free seat, else the first
    (whose missing seat preflight then reports)."""
    direct = {_key(s["skuId"]) for s in states if not s.get("assignedByGroup")}
    held = [s for s in wanted if _key(s["skuId"]) in direct]
    free = [s for s in wanted if seats(s)["free"] > 0]
    return (held or free or wanted)[:1]


def borrow(client, user, first, names, plans):
    """Assign the picked SKU; when its last seat went to someone else meanwhile, re-read the seats and
    take the next SKU with a free seat. Returns (wanted, adds) as finally written."""
    wanted = first
    tried = set()
    while True:
        adds, _removes, _inherited = plan_change(assignment_states(user), wanted, "present", plans)
        try:
            write(client, user, wanted, "present", plans, adds, [])
            return wanted, adds
        except ApiError as error:
            if NO_SEAT not in "%s %s" % (error.service_message, error.message):
                raise
            tried.add(_key(wanted[0]["skuId"]))
            fresh, _unknown = split_known(client.subscribed_skus(), names)
            left = [s for s in fresh if _key(s["skuId"]) not in tried and seats(s)["free"] > 0]
            if not left:
                raise ConfigError("No free seat left in %s: the last one was taken while this task ran. Fix: free a "
                                  "seat or add a SKU to skus, then run again." % ", ".join(
                                      s["skuPartNumber"] for s in fresh)) from error
            wanted = left[:1]


def missing_user(module, params, wanted, skus, plans):
    if not module.check_mode and params["state"] == "present":
        raise ConfigError("User %s was not found in Microsoft Entra ID: create it first with d365.identity.entra_user "
                          "(with usage_location set), or check the UPN or object id." % params["user"])
    if params["state"] == "absent":
        return {"changed": False, "user_id": None, "assigned_licenses": [], "seats": seat_report(wanted, [], [])}
    module.warn("User %s does not exist yet (expected when d365.identity.entra_user ran in check mode too): "
                "reporting the licence assignment as a pending change." % params["user"])
    if params["one_of"]:
        wanted = pick_one(wanted, [])
    after = [{"skuId": s["skuId"], "disabledPlans": list((plans or {}).get(_key(s["skuId"]), [])),
              "assignedByGroup": None} for s in wanted]
    check_seats(wanted, after, [])
    result = {"changed": True, "user_id": None, "assigned_licenses": describe(after, skus),
              "seats": seat_report(wanted, [], after)}
    if module._diff:
        result["diff"] = licence_diff([], after, skus)
    return result


def licence_diff(before, after, skus):
    def names(states):
        return sorted({entry["skuPartNumber"] for entry in describe(states, skus)})
    return diff_for({"assigned_licenses": names(before)}, {"assigned_licenses": names(after)}, ["assigned_licenses"])


def main():
    module = D365Module(
        argument_spec={
            "user": {"type": "str", "required": True, "aliases": ["user_principal_name", "upn"]},
            "skus": {"type": "list", "elements": "str", "required": True, "aliases": ["sku"]},
            "disabled_plans": {"type": "list", "elements": "str"},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "one_of": {"type": "bool", "default": False},
            "direct_only": {"type": "bool", "default": False},
            **ownership.ARGSPEC,
        },
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
