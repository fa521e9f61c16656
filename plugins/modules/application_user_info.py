#!/usr/bin/python
# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: application_user_info
short_description: Read and check everything an application user needs across Dataverse environments, before any write
version_added: 0.4.0
description:
  - The read phase of the role M(d365.identity.application_user) and the playbook
    C(d365.identity.migrate_to_application_user). For one app registration (client id) and a list of environments it
    reads, per environment, the application user (soft-deleted rows ignored), the business unit it belongs in, the
    security roles there and whether the client may change users; with O(from_user) also that user's security roles
    and business unit, mapped onto the roles of the application user's business unit.
  - Every problem found (a role without a counterpart, an unknown business unit, a client that is not System
    Administrator, a user the collection does not own that O(retire) would change, ...) ends the task with one
    message naming each problem and its fix, before anything is written.
  - An application user needs no licence, no password and does not count toward the seven non-interactive users of
    an environment (U(https://learn.microsoft.com/power-platform/admin/create-users)).
author:
  - d365.identity maintainers (@d365-identity)
options:
  application_id:
    description:
      - Application (client) ID of the app registration the application user stands for.
    type: str
    required: true
  environments:
    description:
      - Dataverse environment URLs, for example V(https://contoso.crm4.dynamics.com).
    type: list
    elements: str
    required: true
  state:
    description:
      - The state the application user is wanted in; V(absent) reads only the application user.
    type: str
    choices: [present, disabled, absent]
    default: present
  business_unit:
    description:
      - Business unit (name or id) of the application user.
      - Default the business unit of O(from_user) in each environment, else the root business unit.
    type: str
  security_roles:
    description:
      - Security roles (names or role template GUIDs) the application user gets, resolved in its business unit.
      - With O(from_user), added to the roles copied from that user.
    type: list
    elements: str
    default: []
  move_business_unit:
    description:
      - Whether an existing application user in another business unit will be moved (as
        M(d365.identity.dataverse_application_user) does with O(move_business_unit=true)). Without it, its roles are
        resolved in the business unit it is in, and RV(plan) says so.
    type: bool
    default: false
  from_user:
    description:
      - A user (user principal name or Microsoft Entra object id) whose security roles the application user gets, mapped
        by role template (or, for a custom role, by name) onto the roles of the application user's business unit.
      - An environment the user is not in gets only O(security_roles).
    type: str
  retire:
    description:
      - What will be done to O(from_user) once the application user works, checked here before any write.
      - V(disable) and V(delete) set its access mode back to Read-Write and remove its security roles in every
        environment (giving its non-interactive slot back), then disable or delete its Microsoft Entra account.
      - Both need a user the collection owns, or O(adopt=true).
    type: str
    choices: [none, disable, delete]
    default: none
  fail_on_problems:
    description:
      - Fail with every problem found. V(false) returns them in RV(problems) instead.
    type: bool
    default: true
extends_documentation_fragment:
  - d365.identity._auth
  - d365.identity._ownership
  - d365.identity._attributes
  - d365.identity._attributes.INFO_MODULE
  - d365.identity._attributes.ACTIONGROUP_ALL
seealso:
  - module: d365.identity.dataverse_application_user
  - module: d365.identity.dataverse_role
  - name: Manage application users in the Power Platform admin center
    description: Application users, their business unit and security roles.
    link: https://learn.microsoft.com/power-platform/admin/manage-application-users
"""

EXAMPLES = r"""
- name: Show how the roles of a non-interactive user map onto an application user
  d365.identity.application_user_info:
    application_id: 9a1e2b3c-4d5e-4f60-8a7b-1c2d3e4f5a6b
    environments:
      - https://contoso-dev.crm4.dynamics.com
      - https://contoso.crm4.dynamics.com
    from_user: svc-d365-portal@contoso.onmicrosoft.com
  register: migration

- name: Print the role mapping per environment
  ansible.builtin.debug:
    msg: "{{ migration.plan }}"
"""

RETURN = r"""
environments:
  description: One entry per environment, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    url:
      description: The environment URL.
      type: str
    application_user:
      description: The application user as M(d365.identity.dataverse_application_user) returns it; empty when there is none.
      type: dict
    business_unit:
      description: The business unit the application user belongs in (C(businessunitid), C(name)).
      type: dict
    roles:
      description: Role ids (in RV(environments[].business_unit)) the application user is to hold.
      type: list
      elements: str
    role_names:
      description: The names of RV(environments[].roles), in the same order.
      type: list
      elements: str
    role_mapping:
      description:
        - Each role of O(from_user) and its counterpart in the application user's business unit
          (C(name), C(roleid), C(businessunitid), C(by) V(template) or V(name), C(target_roleid), C(target_name),
          C(target_businessunitid)).
      type: list
      elements: dict
    from_user:
      description: The systemuser of O(from_user) (as M(d365.identity.dataverse_systemuser_info) returns it), or null.
      type: dict
    non_interactive:
      description: Non-interactive users of the environment now (C(used), C(max)), read when O(from_user) is one there.
      type: dict
    kept_business_unit:
      description: The application user stays in the business unit it is in, not the one asked for (see O(move_business_unit)).
      type: bool
    done:
      description: Whether the application user is already in O(state) with its roles here.
      type: bool
from_user:
  description: The Microsoft Entra user of O(from_user) (C(exists), C(id), C(owned), C(enabled)); null without it.
  returned: always
  type: dict
plan:
  description: What a run will do, one line per environment.
  returned: always
  type: list
  elements: str
problems:
  description: Every problem found, each with its fix; the task fails with them unless O(fail_on_problems=false).
  returned: always
  type: list
  elements: str
converged:
  description: Whether the application user is in O(state) with its roles in every environment.
  returned: always
  type: bool
"""

from ansible_collections.d365.identity.plugins.module_utils._domain import application_users as app_users
from ansible_collections.d365.identity.plugins.module_utils._domain import ownership
from ansible_collections.d365.identity.plugins.module_utils._domain.business_units import resolve_business_unit
from ansible_collections.d365.identity.plugins.module_utils._domain.plan import check_environment_urls
from ansible_collections.d365.identity.plugins.module_utils._domain.preflight import (
    Problems, check_caller_is_admin, environment_fix, fail_on_problems, read_caller, read_user)
from ansible_collections.d365.identity.plugins.module_utils._domain.role_mapping import map_roles
from ansible_collections.d365.identity.plugins.module_utils._domain.systemusers import (
    ACCESS_MODES, EXPAND_ROLES, ROLES_NAV, match_roles, non_interactive_counts, read_systemusers, systemuser_dict)
from ansible_collections.d365.identity.plugins.module_utils._errors import D365Error
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module
from ansible_collections.d365.identity.plugins.module_utils._odata import guid, is_guid

USER_SELECT = ("id", "userPrincipalName", "accountEnabled") + ownership.SELECT


def read_from_user(module, problems):
    """The Entra user of from_user, or None (then a problem says why)."""
    params = module.params
    name = params["from_user"].strip()
    user, readable = read_user(module.graph_client(), name, USER_SELECT, problems)
    if not readable:
        return None
    if user is None and params["retire"] == "delete":
        return None  # deleted by an earlier run of the migration: nothing left to copy or to retire
    if user is None:
        problems.add("from_user %s does not exist in Microsoft Entra ID. Fix: give the user principal name or object "
                     "id of the non-interactive user to copy the roles from." % name)
    elif params["retire"] != "none" and not params["adopt"] and not ownership.is_owned(user, params["owner_attribute"]):
        problems.add("retire: %s would change %s, which the collection did not create (no ownership mark). Fix: set "
                     "adopt: true to retire it anyway, or retire: none and retire it by hand." % (
                         params["retire"], user.get("userPrincipalName") or name))
    return user


def read_environment(module, url, user, problems):
    """Everything the application user needs in one environment; None when the environment cannot be read."""
    params = module.params
    client = module.dataverse_client(url)
    try:
        live, leftovers = app_users.split_rows(client.application_user_rows(
            params["application_id"], app_users.SELECT, expand=EXPAND_ROLES), params["application_id"], url)
        source = None
        if user:
            rows = read_systemusers(client, "azureactivedirectoryobjectid eq %s" % guid(user["id"], "user id"))
            source = systemuser_dict(rows[0]) if rows else None
        if params["state"] == "absent":
            # soft-deleted rows are what an interrupted removal leaves: the module finishes them
            done = live is None and not leftovers
            if not done:
                check_caller_is_admin(client, read_caller(client, params["client_id"]), problems)
            return {"url": url, "application_user": app_users.application_user_dict(live), "business_unit": {},
                    "roles": [], "role_names": [], "role_mapping": [], "from_user": source, "non_interactive": {},
                    "done": done}
        wanted = params["business_unit"] or (source or {}).get("businessunitid")
        business_unit = resolve_business_unit(client, wanted)
        stays = live is not None and app_users.business_unit_differs(live, business_unit) and not params[
            "move_business_unit"]
        if stays:  # its roles come from where it is
            business_unit = resolve_business_unit(client, live["_businessunitid_value"])
        available = client.roles("_businessunitid_value eq %s" % guid(business_unit["businessunitid"], "businessunitid"))
    except D365Error as error:
        problems.from_error(url, error, environment_fix(error))
        return None
    try:
        mapping, unmapped = map_roles((source or {}).get("roles") or [], available)
        matched, unknown = match_roles(params["security_roles"], available)
    except D365Error as error:  # a role name two roles share: name it, and go on with the other environments
        problems.from_error(url, error, "give the role template GUID.")
        return None
    for role in unmapped:
        problems.add("%s: role %r of %s has no counterpart in business unit %s. Fix: create it there, or %s." % (
            url, role.get("name"), params["from_user"], business_unit["name"],
            "set move_business_unit: true to move the application user" if stays
            else "set business_unit to the user's own (%s)" % source.get("businessunitid")))
    if unknown:
        problems.add("%s: security role %s does not exist in business unit %s. Fix: use one of %s, or a role "
                     "template GUID." % (url, ", ".join(repr(u) for u in unknown), business_unit["name"], ", ".join(
                         sorted({r.get("name") or "" for r in available}, key=str.casefold))))
    roles = list(dict.fromkeys([m["target_roleid"] for m in mapping] + [r["roleid"] for r in matched]))
    names = list(dict.fromkeys([m["target_name"] for m in mapping] + [r.get("name") for r in matched]))
    slots = {}
    if source and source["accessmode"] == ACCESS_MODES["non_interactive"]:
        used, maximum = non_interactive_counts(client)
        slots = {"used": used, "max": maximum}
    app_user = app_users.application_user_dict(live, business_unit["name"] if live and not
                                               app_users.business_unit_differs(live, business_unit) else None)
    done = bool(live) and bool(live.get("isdisabled")) == (params["state"] == "disabled") and not app_users.business_unit_differs(
        live, business_unit) and set(roles) <= {r.get("roleid") for r in live.get(ROLES_NAV) or []}
    if not done:  # only a run that writes needs the client's rights
        try:
            check_caller_is_admin(client, read_caller(client, params["client_id"]), problems)
        except D365Error as error:
            problems.from_error(url, error, environment_fix(error))
    return {"url": url, "application_user": app_user, "business_unit": business_unit, "roles": roles,
            "role_names": names, "role_mapping": mapping, "from_user": source, "non_interactive": slots, "kept_business_unit": stays,
            "done": done}


def action(params, env):
    """What the run does to the application user of one environment that is not done."""
    app_user = env["application_user"]
    if not app_user:
        return "create the application user" + (" (disabled)" if params["state"] == "disabled" else "")
    verb = "use"
    if bool(app_user["isdisabled"]) != (params["state"] == "disabled"):
        verb = "disable" if params["state"] == "disabled" else "enable"
    return "%s application user %s" % (verb, app_user["systemuserid"])


def plan_line(params, env):
    if env["done"] and params["state"] != "present":
        return "%s: application user %s, nothing to do" % (env["url"], params["state"])
    if params["state"] == "absent":
        if not env["application_user"]:
            return "%s: finish the removal (delete the soft-deleted rows of the app)" % env["url"]
        return "%s: disable and delete application user %s" % (env["url"], env["application_user"]["systemuserid"])
    line = "%s: %s in business unit %s%s, roles: %s" % (
        env["url"], "application user in place" if env["done"] else action(params, env), env["business_unit"]["name"],
        " (where it is: move_business_unit is false)" if env.get("kept_business_unit") else "",
        ", ".join(env["role_names"]) or "none")
    if params["from_user"] and not env["from_user"]:
        return line + "; %s is not in this environment" % params["from_user"]
    if env["from_user"]:
        line += "; from %s: %s" % (params["from_user"], ", ".join(
            "%s -> %s (by %s)" % (m["name"], m["target_name"], m["by"]) for m in env["role_mapping"]) or "no roles")
        if params["retire"] != "none":
            slots = env["non_interactive"]
            line += "; then retire it here (roles removed, Read-Write%s)" % (
                ": non-interactive users %d -> %d of %d" % (slots["used"], slots["used"] - 1, slots["max"])
                if slots else "")
    return line


def run(module):
    params = module.params
    problems = Problems()
    if not is_guid(params["application_id"].strip()):
        problems.add("application_id %r is not a GUID. Fix: give the Application (client) ID of the app registration "
                     "(Microsoft Entra admin center > App registrations > Overview)." % params["application_id"])
    url_problems, urls = check_environment_urls(params["environments"])
    problems.extend(url_problems)
    user = read_from_user(module, problems) if params["from_user"] and params["from_user"].strip() else None
    environments = []
    if not problems:
        params["application_id"] = params["application_id"].strip().lower()
        if params["state"] != "present" and params["application_id"] == (params["client_id"] or "").strip().lower():
            problems.add("application_id %s is the client this run signs in with: state %s would lock the run out "
                         "of every environment. Fix: run it with another client's credentials." % (
                             params["application_id"], params["state"]))
        environments = [env for env in (read_environment(module, url, user, problems) for url in urls) if env]
    if params["from_user"] and user is None and params["retire"] == "delete" and not problems and not all(
            env["application_user"] for env in environments):
        problems.add("from_user %s does not exist in Microsoft Entra ID, and the application user is not in every "
                     "environment yet, so no earlier migration deleted it. Fix: check migrate_from_user (a typo?)."
                     % params["from_user"].strip())
    result = {"changed": False, "environments": environments,
              "from_user": None if not params["from_user"] else {
                  "exists": user is not None, "id": (user or {}).get("id"),
                  "owned": bool(user) and ownership.is_owned(user, params["owner_attribute"]),
                  "enabled": bool(user) and bool(user.get("accountEnabled"))},
              "plan": [plan_line(params, env) for env in environments], "problems": list(problems),
              "converged": bool(environments) and not problems and all(env["done"] for env in environments)}
    fail_on_problems(module, problems, result)
    return result


def main():
    module = D365Module(
        argument_spec={
            "application_id": {"type": "str", "required": True},
            "environments": {"type": "list", "elements": "str", "required": True},
            "state": {"type": "str", "default": "present", "choices": ["present", "disabled", "absent"]},
            "business_unit": {"type": "str"},
            "security_roles": {"type": "list", "elements": "str", "default": []},
            "move_business_unit": {"type": "bool", "default": False},
            "from_user": {"type": "str"},
            "retire": {"type": "str", "default": "none", "choices": ["none", "disable", "delete"]},
            "fail_on_problems": {"type": "bool", "default": True},
            **ownership.ARGSPEC,
        },
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
