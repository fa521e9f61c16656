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
  - Adds (O(skus.add)), removes (O(skus.remove)) or sets exactly (O(skus.set)) the direct licence assignments of one
    user with Microsoft Graph C(assignLicense); with add and remove, licences not listed are kept.
  - Reads the user's licences (with C(licenseAssignmentStates)) and the tenant's C(subscribedSkus) first, and sends
    C(assignLicense) only when something must change.
  - Before writing anything it fails with a message naming the fix when a SKU is unknown to the tenant, a SKU to add
    has no free seat, the user has no usage location, or a licence to remove is inherited from a group.
  - Only direct assignments are managed. A SKU the user only inherits from a group is added as a direct assignment
    by O(skus.add) (this uses no extra seat), and cannot be removed by O(skus.remove).
  - Needs the Graph application permissions C(LicenseAssignment.ReadWrite.All) (or C(User.ReadWrite.All)) and, to name
    the group of an inherited licence, C(GroupMember.Read.All).
author:
  - d365.identity maintainers (@d365-identity)
options:
  identity:
    description:
      - The user's UPN or object id, for example the RV(d365.identity.entra_user#module:id) returned by M(d365.identity.entra_user).
      - O(user), O(user_principal_name) and O(upn) are deprecated aliases, removed in 1.0.0.
    type: str
    required: true
    aliases: [user, user_principal_name, upn]
  skus:
    description:
      - The user's direct licences, each a C(skuPartNumber) such as V(DYN365_ENTERPRISE_PLAN1) or a C(skuId) GUID, matched
        case-insensitively. M(d365.identity.m365_license_info) lists the tenant's SKUs and free seats.
      - A dictionary with O(skus.add), O(skus.remove) and O(skus.set), as every list option of the collection (see the
        microsoft.ad list values guide). O(skus.set) wins over the others; O(skus.set=[]) removes every direct licence.
      - A plain list is the deprecated 0.x spelling (added, or removed with O(state=absent)); removed in 1.0.0, when this
        option becomes a dictionary only.
    type: raw
    required: true
    aliases: [sku]
    suboptions:
      add:
        description: Licences to add; licences not listed are kept.
        type: list
        elements: str
      remove:
        description: Direct licences to remove (a no-op for SKUs the user does not have).
        type: list
        elements: str
      set:
        description: Exactly these direct licences; others are removed. Inherited licences are not touched.
        type: list
        elements: str
  disabled_plans:
    description:
      - Service plans to turn off in the SKUs being added, by C(servicePlanName) or C(servicePlanId). Each plan applies to
        the listed SKUs that contain it.
      - When set, the disabled plans of a listed SKU the user already has are changed to these; when not set, they are
        left as they are (and a new assignment disables nothing).
      - Ignored for removed SKUs.
    type: list
    elements: str
  state:
    description:
      - Deprecated, only with the plain-list spelling of O(skus) (V(present) adds, V(absent) removes); removed in 1.0.0.
    type: str
    choices: [present, absent]
  one_of:
    description:
      - Assign only one licence, the first SKU of O(skus.add) that has a free seat. A user that already holds one of
        them directly keeps it and nothing is written.
      - Seats are read right before the assignment (or taken from O(tenant_skus)); when the seat was taken meanwhile,
        Graph refuses the assignment, the seats are re-read and the next SKU with a free seat is tried. This is how
        the role C(non_interactive_user) borrows a licence.
    type: bool
    default: false
  seat_wait:
    description:
      - With O(one_of), how long (seconds) to wait for a free seat when none of the SKUs of O(skus.add) has one,
        instead of failing. V(0) fails at once, as without this option.
      - The seats are re-read every O(seat_poll_interval) seconds with a random jitter of +/- 50%, so parallel runs
        do not read in lock step. A seat taken by another run between the reading and the assignment (Graph refuses
        C(assignLicense) without a free seat, so seats are never oversubscribed) sends the task back to waiting.
      - When no seat became free in time the task does not fail but returns RV(waiting=true) with the seats it saw
        and a message, so a playbook can loop over short calls with C(until) and show progress. The role
        C(non_interactive_user) does this with C(non_interactive_user_seat_wait).
      - A tenant where none of the SKUs has any enabled seat still fails at once.
    type: int
    default: 0
  seat_poll_interval:
    description: Mean seconds between two seat readings while waiting (see O(seat_wait)).
    type: int
    default: 10
  direct_only:
    description:
      - With O(skus.remove), remove only direct assignments; a listed SKU the user holds only through a group is
        left alone with a warning instead of failing the task. The role C(non_interactive_user) gives borrowed
        licences back this way.
    type: bool
    default: false
  tenant_skus:
    description:
      - The tenant's subscribed SKUs as Graph's C(subscribedSkus) returns them (C(skuId), C(skuPartNumber),
        C(prepaidUnits), C(consumedUnits), C(servicePlans)), already read by the caller; the task then does not read
        them again.
      - M(d365.identity.non_interactive_user_info) returns them as C(license.skus).
      - Their seat counts may be stale. With O(one_of), an assignment refused for want of a seat re-reads the seats
        and takes the next SKU with a free seat, as without this option.
      - Empty or omitted, the SKUs are read (one request).
    type: list
    elements: dict
    version_added: 0.3.0
  known_user:
    description:
      - The user as an earlier task of this run returned it (RV(d365.identity.entra_user#module:user), or RV(user) of
        this module), so the task does not read it again. It must hold C(id), C(userPrincipalName), C(usageLocation),
        C(licenseAssignmentStates) and C(onPremisesExtensionAttributes) (the ownership mark); the licences and the
        mark are taken from it.
      - Ignored (the user is read) when it names another user than O(identity), lacks any of those keys, or has the
        check-mode placeholder id.
      - Its licences may be stale. An assignment Graph refuses for them (a licence to remove that is gone, for
        example) is decided again from a fresh read of the user, once; Graph refuses an assignment without a free
        seat, so seats are never oversubscribed; an assignment lost in transit is checked with a fresh read.
      - Omitted, the user is read (one request).
    type: dict
    version_added: 0.4.0
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
    identity: svc-d365@contoso.onmicrosoft.com
    skus:
      add: [DYN365_ENTERPRISE_PLAN1]
  register: licence

- name: Add Office 365 E3 without Exchange and Teams
  d365.identity.m365_license:
    identity: "{{ svc.id }}"
    skus:
      add: [ENTERPRISEPACK]
    disabled_plans: [EXCHANGE_S_ENTERPRISE, TEAMS1]

- name: Borrow whichever Dynamics 365 licence has a free seat
  d365.identity.m365_license:
    identity: svc-d365@contoso.onmicrosoft.com
    skus:
      add: [DYN365_ENTERPRISE_PLAN1, DYN365_ENTERPRISE_SALES]
    one_of: true

- name: Remove the licence again
  d365.identity.m365_license:
    identity: svc-d365@contoso.onmicrosoft.com
    skus:
      remove: [DYN365_ENTERPRISE_PLAN1]

- name: Exactly one direct licence (any other direct licence is removed)
  d365.identity.m365_license:
    identity: svc-d365@contoso.onmicrosoft.com
    skus:
      set: [DYN365_ENTERPRISE_PLAN1]
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
waiting:
  description:
    - True when O(seat_wait) passed without a free seat; nothing was written and C(msg) names the seats seen.
  returned: always
  type: bool
  sample: false
waited:
  description: Seconds this task waited for a free seat.
  returned: always
  type: int
  sample: 0
user:
  description:
    - The user after the task (in check mode, as it would be), for the O(known_user) option of the next task; null when the
      user does not exist (check mode only).
  returned: always
  type: dict
  version_added: 0.4.0
  contains:
    id:
      description: Object id.
      type: str
    userPrincipalName:
      description: UPN.
      type: str
    usageLocation:
      description: ISO 3166 alpha-2 country code, or null.
      type: str
    licenseAssignmentStates:
      description: The user's licence assignments after the task (C(skuId), C(disabledPlans), C(assignedByGroup)).
      type: list
      elements: dict
    onPremisesExtensionAttributes:
      description: The extension attributes as read (one of them holds the ownership mark).
      type: dict
    onPremisesSyncEnabled:
      description: Whether the user is synchronised from on-premises Active Directory.
      type: bool
"""

import random
import time

from ansible_collections.d365.identity.plugins.module_utils import _identity as identity
from ansible_collections.d365.identity.plugins.module_utils import _list_values as list_values
from ansible_collections.d365.identity.plugins.module_utils._compare import diff_for
from ansible_collections.d365.identity.plugins.module_utils._domain import licence_plan as lp
from ansible_collections.d365.identity.plugins.module_utils._domain import ownership
from ansible_collections.d365.identity.plugins.module_utils._domain.licenses import (
    assignment_states, passed_on_user, seats, split_known)
from ansible_collections.d365.identity.plugins.module_utils._errors import ApiError, ConfigError
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module
from ansible_collections.d365.identity.plugins.module_utils._transport.writes import NOT_DONE, write_and_verify

USER_SELECT = ("id", "userPrincipalName", "displayName", "accountEnabled", "usageLocation", "mailNickname",
               "assignedLicenses", "licenseAssignmentStates") + ownership.SELECT
NO_SEAT = "does not have any available licenses"

sleep = time.sleep  # replaced by the unit tests
clock = time.monotonic
draw = random.random


class NoSeatLeft(ConfigError):
    """The one_of borrow found every candidate's seats taken."""


def group_names(client, group_ids):
    names = []
    for group_id in group_ids:
        try:
            group = client.get_group(group_id)
            names.append("'%s' (%s)" % (group.get("displayName") or group_id, group_id))
        except ApiError:
            names.append(group_id)  # no permission to read groups: the id still names it
    return names


def preflight(client, user, wanted, states, adds, inherited_only, waiting=False):
    """Fail before any write, with the fix in the message."""
    upn = user.get("userPrincipalName") or user.get("id")
    if inherited_only:
        raise ConfigError(lp.inherited_message(wanted, inherited_only, lambda ids: group_names(client, ids), upn))
    if adds and not user.get("usageLocation"):
        raise ConfigError("User %s has no usageLocation, and licences can only be assigned to a user with one: set "
                          "usage_location (for example GB or US) with d365.identity.entra_user first." % upn)
    if waiting:
        if adds and not lp.usable_for_waiting(wanted):
            raise ConfigError("None of %s has an enabled seat (%s), so waiting for one cannot help. Fix: buy licences "
                              "or list another SKU." % (", ".join(s["skuPartNumber"] for s in wanted),
                                                        lp.seat_counts_text(wanted)))
        return
    lp.check_seats(wanted, adds, states)


def requested(module, skus):
    """(LicenceChange, every requested SKU row, the add names) from the options; unknown SKUs fail here."""
    params = module.params
    asked = list_values.read(module, "skus")
    if not asked:
        raise ConfigError("skus needs add, remove or set (for example skus: {add: [DYN365_ENTERPRISE_PLAN1]}).")
    wanted, unknown = split_known(skus, asked.wanted)
    if unknown:
        tenant = sorted(s.get("skuPartNumber") or s.get("skuId") for s in skus)
        raise ConfigError("Unknown SKU %s: this tenant has %s. Use one of these skuPartNumbers or a skuId GUID "
                          "(d365.identity.m365_license_info lists them with free seats)."
                          % (", ".join(unknown), ", ".join(tenant) or "no SKUs"))
    if params["one_of"] and (asked.set is not None or not asked.add):
        raise ConfigError("one_of picks one SKU of skus.add: give the candidates in skus.add (not set).")

    def rows(names):
        return split_known(skus, names)[0]

    change = lp.LicenceChange(rows(asked.add), rows(asked.remove), None if asked.set is None else rows(asked.set))
    if params["disabled_plans"] is not None and change.adding:
        change.plans = lp.resolve_plans(change.adding, params["disabled_plans"])
    return change, wanted, asked.add


def run(module):
    params = module.params
    client = module.graph_client()
    skus = params["tenant_skus"] or client.subscribed_skus()  # the caller's copy: borrow() re-reads on a refusal
    known = passed_on_user(params["known_user"], params["identity"])  # as an earlier task returned it: not read again
    if known is not None:
        try:
            return apply(module, client, skus, known)
        except ApiError as error:
            if not stale_refusal(error):
                raise
            # Graph refused what the passed-on licences implied (they were stale): decide again from a fresh read.
    return apply(module, client, skus, None)


def stale_refusal(error):
    """A refusal of assignLicense that a fresher read of the user may avoid (a licence removed or added meanwhile);
    the missing seat is handled by borrow() itself."""
    return error.status == 400 and NO_SEAT not in "%s %s" % (error.service_message, error.message)


def apply(module, client, skus, user):
    """Decide and write from the user (read here when None)."""
    params = module.params
    change, wanted, add_names = requested(module, skus)
    if user is None and (module.check_mode or not change.adding):
        user = client.find_user(params["identity"], USER_SELECT)
    elif user is None:
        user = client.find_user_eventually(params["identity"], USER_SELECT)  # entra_user may have created it just now
    if user is None:
        return missing_user(module, params, change, wanted, skus)

    states = assignment_states(user)
    waiting = params["one_of"] and params["seat_wait"] > 0 and not module.check_mode
    if params["one_of"]:
        change = change.with_add(lp.pick_one(change.add, states))
    adds, removes, inherited_only = lp.plan(states, change)
    if inherited_only and params["direct_only"]:
        module.warn("%s keeps %s through a group membership: direct_only leaves inherited licences alone." % (
            user.get("userPrincipalName"), ", ".join(s["skuId"] for s in inherited_only)))
        inherited_only = []
    preflight(client, user, wanted, states, adds, inherited_only, waiting)
    if adds or removes:  # before any write: only users the collection owns, unless adopt
        ownership.require_owned(user, params["owner_attribute"], params["adopt"], "change the licences of")
    for entry in lp.describe(states, skus):
        if entry["assignedByGroup"] and lp.key(entry["skuId"]) in {lp.key(r) for r in removes}:
            module.warn("%s keeps %s through group %s after its direct assignment is removed."
                        % (user.get("userPrincipalName"), entry["skuPartNumber"], entry["assignedByGroup"]))
    after = lp.states_after(states, adds, removes)
    changed = bool(adds or removes)
    waited = 0
    if changed and not module.check_mode:
        if waiting:
            change, adds, wanted, waited = wait_and_borrow(module, client, user, change, add_names, wanted)
            if change is None:
                return {"changed": False, "waiting": True, "waited": waited, "user_id": user["id"],
                        "user": user_after(user, states),
                        "assigned_licenses": lp.describe(states, skus), "msg": lp.waiting_message(
                            wanted, waited, params["seat_wait"]), "seats": lp.seat_report(wanted, states, states)}
            after = lp.states_after(states, adds, removes)
        elif params["one_of"]:
            change, adds = borrow(client, user, change, add_names)
            after = lp.states_after(states, adds, removes)
        else:
            write(client, user, change, adds, removes)
    result = {"changed": changed, "waiting": False, "waited": waited, "user_id": user["id"],
              "user": user_after(user, after),
              "assigned_licenses": lp.describe(after, skus), "seats": lp.seat_report(wanted, states, after)}
    if module._diff:
        result["diff"] = licence_diff(states, after, skus)
    return result


def user_after(user, states):
    """The returned user: what the next task's option known_user needs, with the licences as after this task."""
    return {"id": user.get("id"), "userPrincipalName": user.get("userPrincipalName"),
            "usageLocation": user.get("usageLocation"),
            "licenseAssignmentStates": [{"skuId": s["skuId"], "disabledPlans": list(s.get("disabledPlans") or []),
                                         "assignedByGroup": s.get("assignedByGroup")} for s in states],
            ownership.ATTRIBUTES: user.get(ownership.ATTRIBUTES), "onPremisesSyncEnabled": user.get("onPremisesSyncEnabled")}


def write(client, user, change, adds, removes):
    """assignLicense; after an unanswered request, re-read and send again only what is still missing."""
    pending = {"adds": adds, "removes": removes}

    def check():
        fresh = client.find_user(user["id"], USER_SELECT)
        adds, removes, _inherited = lp.plan(assignment_states(fresh or {}), change)
        pending.update(adds=adds, removes=removes)
        return None if not adds and not removes else NOT_DONE

    write_and_verify(lambda: client.assign_license(user["id"], pending["adds"], pending["removes"]), check)


def borrow(client, user, change, names):
    """Assign the picked SKU; when its last seat went to someone else meanwhile, re-read the seats and
    take the next SKU with a free seat. Returns (change, adds) as finally written."""
    tried = set()
    while True:
        adds, removes, _inherited = lp.plan(assignment_states(user), change)
        try:
            write(client, user, change, adds, removes)
            return change, adds
        except ApiError as error:
            if NO_SEAT not in "%s %s" % (error.service_message, error.message):
                raise
            tried.add(lp.key(change.add[0]["skuId"]))
            fresh, _unknown = split_known(client.subscribed_skus(), names)
            left = [s for s in fresh if lp.key(s["skuId"]) not in tried and seats(s)["free"] > 0]
            if not left:
                raise NoSeatLeft("No free seat left in %s: the last one was taken while this task ran. Fix: free a "
                                 "seat or add a SKU to skus.add, then run again." % ", ".join(
                                     s["skuPartNumber"] for s in fresh)) from error
            change = change.with_add(left[:1])


def wait_and_borrow(module, client, user, change, names, wanted):
    """seat_wait: borrow as soon as a candidate has a free seat, re-reading the seats with jitter until the
    deadline. Returns (change, adds, candidate rows as last read, seconds waited); change None: still no seat."""
    params = module.params
    started = clock()
    deadline = started + params["seat_wait"]
    while True:
        free = lp.free_candidates(wanted)
        if free:
            try:
                change, adds = borrow(client, user, change.with_add(free[:1]), names)
                return change, adds, wanted, int(clock() - started)
            except NoSeatLeft:
                pass  # taken by another run between the reading and the assignment: wait again
        pause = lp.jittered_pause(params["seat_poll_interval"], deadline - clock(), draw())
        if pause is None:
            return None, None, wanted, int(clock() - started)
        sleep(pause)
        wanted, _unknown = split_known(client.subscribed_skus(), names)
        if not lp.usable_for_waiting(wanted):
            raise ConfigError("None of %s has an enabled seat any more (%s). Fix: buy licences or list another SKU."
                              % (", ".join(names), lp.seat_counts_text(wanted)))


def missing_user(module, params, change, wanted, skus):
    if not module.check_mode and change.adding:
        raise ConfigError("User %s was not found in Microsoft Entra ID: create it first with d365.identity.entra_user "
                          "(with usage_location set), or check the UPN or object id." % params["identity"])
    if not change.adding:
        return {"changed": False, "waiting": False, "waited": 0, "user_id": None, "user": None, "assigned_licenses": [],
                "seats": lp.seat_report(wanted, [], [])}
    module.warn("User %s does not exist yet (expected when d365.identity.entra_user ran in check mode too): "
                "reporting the licence assignment as a pending change." % params["identity"])
    if params["one_of"]:
        change = change.with_add(lp.pick_one(change.add, []))
    after = [{"skuId": s["skuId"], "disabledPlans": list((change.plans or {}).get(lp.key(s["skuId"]), [])),
              "assignedByGroup": None} for s in change.adding]
    lp.check_seats(wanted, after, [])
    result = {"changed": True, "waiting": False, "waited": 0, "user_id": None, "user": None,
              "assigned_licenses": lp.describe(after, skus), "seats": lp.seat_report(wanted, [], after)}
    if module._diff:
        result["diff"] = licence_diff([], after, skus)
    return result


def licence_diff(before, after, skus):
    def names(states):
        return sorted({entry["skuPartNumber"] for entry in lp.describe(states, skus)})
    return diff_for({"assigned_licenses": names(before)}, {"assigned_licenses": names(after)}, ["assigned_licenses"])


def main():
    module = D365Module(
        argument_spec={
            **identity.spec(("user", "user_principal_name", "upn")),
            "skus": list_values.spec(required=True, aliases=["sku"]),
            "disabled_plans": {"type": "list", "elements": "str"},
            "state": {"type": "str", "choices": ["present", "absent"]},
            "one_of": {"type": "bool", "default": False},
            "direct_only": {"type": "bool", "default": False},
            "tenant_skus": {"type": "list", "elements": "dict"},
            "seat_wait": {"type": "int", "default": 0},
            "seat_poll_interval": {"type": "int", "default": 10},
            "known_user": {"type": "dict"},
            **ownership.ARGSPEC,
        },
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
