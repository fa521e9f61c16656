#!/usr/bin/python
# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: non_interactive_user_info
short_description: Read and check everything a non-interactive user's set-up depends on, and return the plan
version_added: 0.2.0
description:
  - The read phase of the role C(d365.identity.non_interactive_user). It reads the Entra user, its licences and its
    ownership mark, the user's systemuser in every environment and, only where something is still to be done, each
    environment's answer (token, C(WhoAmI), the client's roles), its free non-interactive slots, the named roles and
    groups, the licence seats and the Power Platform admin API.
  - It returns the plan (what the run will write, per environment) and fails with B(one) message that lists every
    problem with its fix, before anything is written. It never writes.
  - A converged user costs one Graph read and one Dataverse read per environment.
author:
  - d365.identity maintainers (@d365-identity)
options:
  identity:
    description:
      - UPN of the non-interactive user (the user is created by this name, so an object id is not enough).
      - O(user_principal_name) and O(upn) are deprecated aliases, removed in 1.0.0.
    type: str
    required: true
    aliases: [user_principal_name, upn]
  environments:
    description: Dataverse environment URLs.
    type: list
    elements: str
    required: true
  state:
    description: Plan the set-up (V(present)) or the removal (V(absent)).
    type: str
    choices: [present, absent]
    default: present
  display_name:
    description: Display name to enforce; empty leaves an existing user's as it is.
    type: str
  usage_location:
    description: Usage location to enforce (needed to create and license the user).
    type: str
  password:
    description: The password a new user will get; only checked for presence here.
    type: str
  account_enabled:
    description: Re-enable an owned account that is disabled in Entra ID. Without it such a run fails before writing.
    type: bool
    default: false
  license_skus:
    description: Licence SKUs that may be borrowed, in preference order.
    type: list
    elements: str
    default: []
  security_roles:
    description: Security roles the user must hold in every environment (names or role template GUIDs).
    type: list
    elements: str
    default: []
  groups:
    description: Entra groups (object ids or display names) the user must be a member of.
    type: list
    elements: str
    default: []
  sync:
    description:
      - V(force) needs the Power Platform admin API (the client registered as an admin management application).
      - V(auto) forces where the admin API is available and waits otherwise; V(wait) only waits.
    type: str
    choices: [auto, force, wait]
    default: auto
  remove_license:
    description: Whether the licence is given back at the end.
    type: bool
    default: true
  seat_wait:
    description:
      - Seconds the licence borrow may wait for a free seat (the role's C(non_interactive_user_seat_wait)). When
        above V(0), a user that needs a licence while every seat of O(license_skus) is taken is planned as a wait,
        not reported as a problem; SKUs without any enabled seat remain a problem.
    type: int
    default: 0
  watch_seconds:
    description:
      - With O(preflight=false), keep re-reading the environments for up to this many seconds and return as soon as
        one shows the user disabled. Dataverse disables an unlicensed user asynchronously, so a check right after the
        licence was removed proves nothing; the role watches for this window before it reports success.
    type: int
    default: 0
  watch_interval:
    description: Seconds between two reads of O(watch_seconds) (with O(watch_reads=interval)).
    type: int
    default: 10
  watch_reads:
    description:
      - How O(watch_seconds) watches. V(interval) reads at once, then every O(watch_interval) seconds, and returns as
        soon as one environment shows the user disabled.
      - V(final) waits the whole window and then reads every environment once. Dataverse does not re-enable a user it
        disabled, so that one read sees any disable that came within the window, at one read per environment (the
        role uses it).
    type: str
    choices: [interval, final]
    default: interval
    version_added: 0.3.0
  watch_from:
    description:
      - The moment the window of O(watch_seconds) starts, in seconds since the epoch (the end of the task that removed
        the licence, as C(now().timestamp()) templated on the controller in the next task); the window then does not
        also count the time this task took to start. It is compared with the clock of the host the module runs on
        (the same one for the role, which runs on localhost), and at most 10 seconds are credited, so another
        host's clock cannot shorten the window by more. A value in the future, or further back, is taken as the
        task's own start. By default the window starts with the task.
    type: float
    version_added: 0.4.0
  user_id:
    description:
      - With O(preflight=false), the Entra object id of O(identity), known from an earlier read. The re-read then reads
        only the systemusers, not the Entra user (RV(user) then holds only the id).
      - Ignored with O(preflight=true), which always reads the user.
    type: str
    version_added: 0.3.0
  preflight:
    description:
      - V(false) reads only the user and its systemusers (for the re-reads during a run) and reports no problems.
    type: bool
    default: true
  fail_on_problems:
    description: Fail when a problem is found. V(false) returns them in the result instead.
    type: bool
    default: true
extends_documentation_fragment:
  - d365.identity._auth
  - d365.identity._ownership
  - d365.identity._attributes
  - d365.identity._attributes.INFO_MODULE
  - d365.identity._attributes.ACTIONGROUP_ALL
notes:
  - The non-interactive cap (7 per environment) is read from C(RetrieveOrganizationResources), see
    U(https://learn.microsoft.com/power-platform/admin/create-users).
"""

EXAMPLES = r"""
- name: What would setting up the portal integration user do?
  d365.identity.non_interactive_user_info:
    identity: svc-d365-portal@contoso.onmicrosoft.com
    environments: [https://contoso.crm4.dynamics.com]
    usage_location: GB
    license_skus: [DYN365_ENTERPRISE_PLAN1]
    security_roles: [System Administrator]
    fail_on_problems: false
  register: plan

- name: Show it
  ansible.builtin.debug:
    msg: "{{ plan.plan + plan.problems }}"
"""

RETURN = r"""
converged:
  description: Nothing to write.
  returned: always
  type: bool
user:
  description: C(exists), C(id), C(owned), C(enabled) of the Entra user.
  returned: always
  type: dict
user_id:
  description: Object id of the Entra user, or an empty string.
  returned: always
  type: str
environments:
  description:
    - Per environment C(url), C(present), C(enabled), C(non_interactive), C(roles_ok), C(missing_roles), C(done),
      C(systemuserid), C(sync) (V(force), V(wait) or null), C(slots) (C(used), C(max)), C(businessunitid),
      C(environment_id) (the Power Platform environment id from the admin API, where it was read; else null),
      C(business_unit_roles) (the security roles of the business unit the user is or will be in, as read to check
      them; M(d365.identity.dataverse_role) takes them as O(d365.identity.dataverse_role#module:business_unit_roles)).
  returned: always
  type: list
  elements: dict
pending:
  description: URLs of the environments that are not finished.
  returned: always
  type: list
  elements: str
disabled:
  description: URLs of the environments where the user's systemuser is disabled.
  returned: always
  type: list
  elements: str
entra:
  description: C(action) (V(create), V(update), V(none)) and the C(changes) to the Entra user.
  returned: when O(state=present)
  type: dict
adopt:
  description: Whether the run will mark an existing user as owned.
  returned: always
  type: bool
groups_to_add:
  description: Object ids of the groups the user must be added to.
  returned: when O(state=present)
  type: list
  elements: str
groups_to_join:
  description:
    - The groups of RV(groups_to_add) as read (C(id), C(displayName)), the user not being a member of any of them,
      for the O(d365.identity.entra_group_member#module:known_group) option of M(d365.identity.entra_group_member).
  returned: when O(state=present)
  type: list
  elements: dict
  version_added: 0.4.0
license:
  description:
    - C(borrow) (bool), C(candidates) (SKUs with a free seat, in preference order), C(held) (borrowable SKUs the user
      holds directly, a borrow to give back), C(borrowable) (the listed SKUs the tenant has, with a Dynamics 365
      plan), C(give_back) (bool), C(wait_for_seat) (bool, true when no seat is free now and O(seat_wait) lets the
      borrow wait), C(skus) (the tenant's C(subscribedSkus) rows as read, for the C(tenant_skus) option of
      M(d365.identity.m365_license); empty when they were not read).
  returned: when O(state=present)
  type: dict
plan:
  description: What the run will do, one line per step.
  returned: always
  type: list
  elements: str
problems:
  description: Every problem found, each with its fix. Empty when the run may proceed.
  returned: always
  type: list
  elements: str
read_errors:
  description: With O(preflight=false), the reads that failed (an environment that could not be read is neither
    finished nor proven enabled).
  returned: when O(preflight=false)
  type: list
  elements: str
"""

import functools
import time

from ansible_collections.d365.identity.plugins.module_utils._domain import ownership
from ansible_collections.d365.identity.plugins.module_utils._domain import plan as _plan
from ansible_collections.d365.identity.plugins.module_utils._domain.preflight import (
    Problems, at_once, check_caller_is_admin, environment_fix, fail_on_problems, read_caller, read_user)
from ansible_collections.d365.identity.plugins.module_utils._odata import guid
from ansible_collections.d365.identity.plugins.module_utils._errors import D365Error
from ansible_collections.d365.identity.plugins.module_utils._domain.groups import find_group
from ansible_collections.d365.identity.plugins.module_utils._domain.licenses import assignment_states
from ansible_collections.d365.identity.plugins.module_utils import _identity as identity
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module
from ansible_collections.d365.identity.plugins.module_utils._domain.systemusers import (
    match_roles, non_interactive_counts, read_systemusers)

USER_SELECT = ("id", "userPrincipalName", "displayName", "accountEnabled", "usageLocation", "assignedLicenses",
               "licenseAssignmentStates") + ownership.SELECT


def deleted_holder(graph, upn):
    """A soft-deleted user that still holds the UPN (a create would fail), or None."""
    wanted = upn.casefold()
    for user in graph.get_all("directory/deletedItems/microsoft.graph.user",
                              params={"$select": "id,userPrincipalName"}):
        # Entra may prefix a deleted user's UPN with its object id (no dashes); match that or the UPN itself.
        prefix = str(user.get("id") or "").replace("-", "").casefold()
        if str(user.get("userPrincipalName") or "").casefold() in (wanted, prefix + wanted):
            return user
    return None


class Unreadable(Exception):
    """The environment's rows could not be read; its problem is already recorded."""


def read_rows(dataverse, user_id, url, problems):
    """The user's systemuser rows, by object id only: never a stranger's row."""
    try:
        rows = read_systemusers(dataverse, "azureactivedirectoryobjectid eq %s" % guid(user_id, "user id"))
    except D365Error as error:
        problems.from_error(url, error, environment_fix(error))
        raise Unreadable(url) from None
    if len(rows) > 1:
        problems.add("%s: %d systemusers have the object id %s (%s). Fix: resolve the duplicate in the Power Platform "
                     "admin center before running again." % (
                         url, len(rows), user_id, ", ".join(str(r.get("systemuserid")) for r in rows)))
        raise Unreadable(url)
    return rows[0] if rows else None


def check_environment(dataverse, params, status, problems):
    """Everything a write in this environment needs, read before the first write."""
    url = status["url"]
    try:
        who = read_caller(dataverse, params["client_id"])
    except D365Error as error:
        problems.from_error("%s does not answer" % url, error, environment_fix(error))
        return
    try:
        check_caller_is_admin(dataverse, who, problems)
        bu_id = status["businessunitid"] or who.get("BusinessUnitId")
        available = dataverse.roles("_businessunitid_value eq %s" % guid(bu_id, "businessunitid"))
        status["business_unit_roles"] = available  # passed on: granting them need not read them again
        _matched, unknown = match_roles(params["security_roles"], available)
        if unknown:
            names = sorted({r.get("name") or "" for r in available}, key=str.casefold)
            problems.add("%s: security role %s does not exist. Fix: use one of %s, or a role template GUID." % (
                url, ", ".join(repr(u) for u in unknown), ", ".join(names) or "(none)"))
        if not status["non_interactive"]:
            used, maximum = non_interactive_counts(dataverse)
            status["slots"] = {"used": used, "max": maximum}
            if used >= maximum:
                problems.add("%s already has %d non-interactive users, the maximum of %d. Fix: set one of them back to "
                             "Read-Write, or use an application user (they do not count)." % (url, used, maximum))
    except D365Error as error:
        problems.from_error(url, error, environment_fix(error))


def admin_environments(module, problems, force):
    """{instance URL key: {'id', 'security_group'}}, or None when the admin API cannot be used."""
    try:
        envs = module.admin_api_client().environments()
    except D365Error as error:
        if force:
            problems.from_error("The Power Platform admin API (needed by non_interactive_user_sync: force)", error,
                                "register the client as a Power Platform admin management application, or set "
                                "non_interactive_user_sync: wait.")
        return None
    out = {}
    for env in envs:
        linked = (env.get("properties") or {}).get("linkedEnvironmentMetadata") or {}
        if linked.get("instanceUrl"):
            out[_plan.environment_key(linked["instanceUrl"])] = {
                "id": env.get("name"), "security_group": (linked.get("securityGroupId") or "").lower() or None}
    return out


def check_security_group(graph, user, status, admin_env, groups, problems):
    """An environment with a security group synchronises only its members (the sync would never come)."""
    group_id = admin_env.get("security_group")
    if not group_id or any((g.get("id") or "").lower() == group_id for g in groups or []):
        return
    try:
        if user and any((m.get("id") or "").lower() == user["id"].lower()
                        for m in graph.group_members(group_id, select=("id",))):
            return
        name = graph.get_group(group_id).get("displayName") or group_id
    except D365Error as error:
        problems.from_error("%s has the security group %s, whose members could not be read" % (
            status["url"], group_id), error, "grant the client GroupMember.Read.All, or add the group to "
                                             "non_interactive_user_groups.")
        return
    problems.add("%s synchronises only members of its security group %s, and the user is not one. Fix: add %r to "
                 "non_interactive_user_groups." % (status["url"], group_id, name))


def plan_groups(graph, params, user, problems):
    groups = []
    for name in params["groups"]:
        try:
            group = find_group(graph, name.strip())
            members = graph.group_members(group["id"], select=("id",)) if user else []
        except D365Error as error:
            problems.from_error("non_interactive_user_groups", error, "check non_interactive_user_groups.")
            continue
        group["member"] = bool(user) and any((m.get("id") or "").lower() == user["id"].lower() for m in members)
        groups.append(group)
    return groups


# watch_from covers the start-up of the watching task; crediting more would let another host's clock (ahead of
# the controller's) shorten the window.
WATCH_FROM_CREDIT = 10


def window_left(params, now=None):
    """Seconds of the watch window still to come: watch_seconds less the time since watch_from, at most
    WATCH_FROM_CREDIT of it; a watch_from in the future or further back counts nothing (another clock)."""
    now = time.time() if now is None else now
    started = params.get("watch_from")
    elapsed = now - started if started is not None else 0.0
    credit = elapsed if 0 <= elapsed <= WATCH_FROM_CREDIT else 0.0
    return max(0.0, params["watch_seconds"] - credit)


def watch(module, user_id, urls, statuses, problems):
    """Re-read every environment until one shows the user disabled, or the window has passed."""
    deadline = time.monotonic() + window_left(module.params)
    while not any(s["present"] and not s["enabled"] for s in statuses):
        pause = min(max(1, module.params["watch_interval"]), deadline - time.monotonic())
        if pause <= 0:
            break
        time.sleep(pause)
        try:
            statuses = [_plan.environment_status(url, read_rows(module.dataverse_client(url), user_id, url, problems),
                                                 module.params["security_roles"]) for url in urls]
        except Unreadable:
            continue  # a failed re-read proves nothing either way: read again until the window ends
    return statuses


def run(module):
    params = module.params
    problems = Problems()
    input_problems, urls = _plan.check_inputs(params)
    problems.extend(input_problems)
    upn = params["identity"].strip()
    upn_ok = not any("non_interactive_user_upn" in p for p in input_problems)
    if not params["preflight"] and params["watch_seconds"] > 0 and params["watch_reads"] == "final":
        time.sleep(window_left(params))  # the whole window first: a disable within it is still there after it
    graph = module.graph_client()
    known_id = (params["user_id"] or "").strip() if not params["preflight"] else ""
    if known_id:
        user, graph_ok = {"id": guid(known_id, "user_id")}, True  # a re-read during a run: the id is all it needs
    else:
        user, graph_ok = read_user(graph, upn, USER_SELECT, problems) if upn_ok else (None, False)
    rows, unreadable = {}, set()
    sessions = {url: module.new_session() for url in urls}  # one per environment: they are read at once
    to_read = urls if user else []
    read = at_once([functools.partial(read_environment, module, sessions[url], user, url) for url in to_read])
    for url in urls:
        rows[url] = None
    for url, (row, found) in zip(to_read, read):
        for problem in found:
            problems.add(problem)
        if row is UNREADABLE:
            unreadable.add(url)
        else:
            rows[url] = row
    statuses = [_plan.environment_status(url, rows[url], params["security_roles"]) for url in urls]
    result = {"changed": False, "user_id": user["id"] if user else "",
              "user": {"exists": user is not None, "id": user["id"] if user else None,
                       "owned": bool(user) and ownership.is_owned(user, params["owner_attribute"]),
                       "enabled": bool(user) and bool(user.get("accountEnabled"))},
              "environments": statuses, "disabled": [s["url"] for s in statuses if s["present"] and not s["enabled"]]}
    if not params["preflight"]:
        if user and params["watch_seconds"] > 0 and params["watch_reads"] == "interval":
            statuses = watch(module, user["id"], urls, statuses, problems)
            result.update(environments=statuses,
                          disabled=[s["url"] for s in statuses if s["present"] and not s["enabled"]])
        # No verdicts here, but a read that failed must not pass for "not disabled" or "finished".
        result.update(pending=[s["url"] for s in statuses if not s["done"]], plan=[], problems=[], adopt=False,
                      converged=all(s["done"] for s in statuses) and not problems, read_errors=list(problems))
        return result
    if params["state"] == "absent":
        decision = _plan.decide_absent(params, user, statuses)
    else:
        decision = present_plan(module, graph, user, graph_ok, statuses, problems, unreadable, sessions)
    problems.extend(p for p in decision.pop("problems") if p not in problems)
    result.update(decision, problems=list(problems))
    fail_on_problems(module, problems, result)
    return result


def present_plan(module, graph, user, graph_ok, statuses, problems, unreadable, sessions):
    params = module.params
    converged_now = (user is not None and all(s["done"] for s in statuses) and user.get("accountEnabled")
                     and not (params["remove_license"] and _holds_licences(user)))
    if converged_now and not _plan.entra_changes(params, user):
        return _plan.decide(params, user, statuses)  # nothing to do: no further reads
    pending = [s for s in statuses if not s["done"]]
    checked = [s for s in pending if s["url"] not in unreadable]  # an unreadable one's cause is reported once
    # The tenant's reads (Graph, admin API) in this thread while each environment is checked in its own.
    tenant, *environments = at_once(
        [functools.partial(read_tenant, module, graph, user, graph_ok, pending)]
        + [functools.partial(check_environment_apart, module, sessions[s["url"]], s) for s in checked])
    skus, groups, general, per_environment = tenant
    for problem in general:
        problems.add(problem)
    checks = dict(zip([s["url"] for s in checked], environments))
    for status in pending:  # per environment in its order: the tenant's findings on it, then its own checks
        for problem in per_environment.get(status["url"], []) + checks.get(status["url"], []):
            problems.add(problem)
    return _plan.decide(params, user, statuses, skus=skus, groups=groups)


def read_tenant(module, graph, user, graph_ok, pending):
    """(skus, groups, problems, {url: problems}): the Graph and admin-API reads of the plan; sets each pending
    environment's sync and environment id."""
    params = module.params
    upn = params["identity"].strip()
    found, per_environment = Problems(), {}
    skus = groups = None
    if graph_ok:
        try:
            skus = graph.subscribed_skus()
        except D365Error as error:
            found.from_error("Reading the tenant's licences", error,
                             "grant the client LicenseAssignment.Read.All (or Organization.Read.All).")
        groups = plan_groups(graph, params, user, found)
        if user is None and upn:
            try:
                holder = deleted_holder(graph, upn)
            except D365Error:
                holder = None  # reading deleted items is optional: the create then reports the conflict
            if holder:
                found.add("%s is held by a deleted user (object id %s, restorable for 30 days). Fix: restore it and "
                          "set non_interactive_user_adopt: true, delete it permanently (Entra admin center > Deleted "
                          "users), or choose another non_interactive_user_upn." % (upn, holder.get("id")))
    need_sync = [s for s in pending if not s["present"]]
    # Read even for sync: wait when allowed, for the security groups; only force needs it.
    admin = admin_environments(module, found, params["sync"] == "force") if need_sync else None
    for status in need_sync:
        mine = per_environment[status["url"]] = Problems()
        admin_env = (admin or {}).get(_plan.environment_key(status["url"]))
        if admin is not None and admin_env is None and params["sync"] == "force":
            mine.add("%s is not an environment of this tenant known to the Power Platform admin API. "
                     "Fix: check the environment URL." % status["url"])
        if admin_env and graph_ok:
            check_security_group(graph, user, status, admin_env, groups, mine)
        status["sync"] = "force" if admin_env and params["sync"] != "wait" else "wait"
        status["environment_id"] = (admin_env or {}).get("id")  # passed on: the sync step need not look it up
    return skus, groups, found, per_environment


def check_environment_apart(module, session, status):
    """check_environment on the environment's own session; its problems."""
    found = Problems()
    check_environment(module.dataverse_client(status["url"], session=session), module.params, status, found)
    return found


UNREADABLE = object()


def read_environment(module, session, user, url):
    """(the user's row in url, None, or UNREADABLE; the problems found), on the environment's own session."""
    found = Problems()
    try:
        return read_rows(module.dataverse_client(url, session=session), user["id"], url, found), found
    except Unreadable:
        return UNREADABLE, found


def _holds_licences(user):
    """Direct assignments only: a group-inherited licence is never a borrow to give back."""
    return any(not s.get("assignedByGroup") for s in assignment_states(user))


def main():
    module = D365Module(
        argument_spec={
            **identity.spec(("user_principal_name", "upn")),
            "environments": {"type": "list", "elements": "str", "required": True},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "display_name": {"type": "str"},
            "usage_location": {"type": "str"},
            "password": {"type": "str", "no_log": True},
            "account_enabled": {"type": "bool", "default": False},
            "license_skus": {"type": "list", "elements": "str", "default": []},
            "security_roles": {"type": "list", "elements": "str", "default": []},
            "groups": {"type": "list", "elements": "str", "default": []},
            "sync": {"type": "str", "default": "auto", "choices": ["auto", "force", "wait"]},
            "remove_license": {"type": "bool", "default": True},
            "user_id": {"type": "str"},
            "preflight": {"type": "bool", "default": True},
            "seat_wait": {"type": "int", "default": 0},
            "watch_seconds": {"type": "int", "default": 0},
            "watch_interval": {"type": "int", "default": 10},
            "watch_reads": {"type": "str", "default": "interval", "choices": ["interval", "final"]},
            "watch_from": {"type": "float"},
            "fail_on_problems": {"type": "bool", "default": True},
            **ownership.ARGSPEC,
        },
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
