#!/usr/bin/python
# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: entra_group_member
short_description: Add Microsoft Entra ID users to a group, or remove them from it
version_added: 0.1.0
description:
  - Adds users to one Microsoft Entra ID group (O(members.add)), removes them (O(members.remove)), or makes them its
    only members (O(members.set)); with add and remove, other members are left as they are.
  - A Dataverse environment with a security group only synchronises users that are members of that group, so a user
    meant for such an environment must be added to its security group.
  - Reads the group and its members once, and sends C(POST groups/{id}/members/$ref) or
    C(DELETE groups/{id}/members/{user id}/$ref) only for users whose membership must change.
  - Needs the Graph application permission C(GroupMember.ReadWrite.All) (reading alone needs C(GroupMember.Read.All) or
    C(Group.Read.All)), and C(User.Read.All) to look up users given by UPN that are not members yet.
author:
  - d365.identity maintainers (@d365-identity)
options:
  group:
    description:
      - The group's object id, or its exact C(displayName).
      - A name must match exactly one group; when several groups share the name, give the object id.
    type: str
    required: true
  members:
    description:
      - The group's members, each a user principal name or an object id (the O(d365.identity.entra_user#module:identity)
        of the user). UPNs are matched case-insensitively. An object id is used as it is, so it may also name another
        directory object (a group or a service principal).
      - A dictionary with O(members.add), O(members.remove) and O(members.set), as every list option of the collection
        (see the microsoft.ad list values guide). O(members.set) wins over the others; O(members.set=[]) removes every
        member.
      - A plain list is the deprecated 0.x spelling (added, or removed with O(state=absent)); removed in 1.0.0, when this
        option becomes a dictionary only.
    type: raw
    required: true
    aliases: [member, users]
    suboptions:
      add:
        description: Users to add; other members are kept.
        type: list
        elements: str
      remove:
        description: Users to remove (a no-op for users that are not members, and, with a warning, for users that do
          not exist).
        type: list
        elements: str
      set:
        description: Exactly these members; every other member, whoever added it, is removed.
        type: list
        elements: str
  state:
    description:
      - Deprecated, only with the plain-list spelling of O(members) (V(present) adds, V(absent) removes); removed in
        1.0.0.
    type: str
    choices: [present, absent]
  known_group:
    description:
      - The group as an earlier task of this run read it (C(id) and C(displayName), for example an element of
        RV(d365.identity.non_interactive_user_info#module:groups_to_join)), when that task also found that none of the
        users of O(members.add) is a member (or that they did not exist yet). The task then reads neither the group
        nor its members, and adds each user.
      - Only with O(members.add); ignored (the group is read) when its C(id) is not the O(group) object id or its
        C(displayName) not the O(group) name, or when either is missing.
      - What it says may be stale; the writes are safe anyway (a user that has become a member meanwhile counts as
        added, Graph answering that the reference already exists).
      - RV(members) then lists only the users added, the other members not having been read.
    type: dict
    version_added: 0.4.0
extends_documentation_fragment:
  - d365.identity._auth
  - d365.identity._attributes
  - d365.identity._attributes.ACTIONGROUP_GRAPH
attributes:
  check_mode:
    support: full
    details:
      - Nothing is written. A user that does not exist yet (for example because M(d365.identity.entra_user) ran in check
        mode too) is reported as a pending addition with a warning.
  diff_mode:
    support: full
    details: Shows the group's member UPNs (object ids for members without one) before and after.
  idempotent:
    support: full
seealso:
  - module: d365.identity.entra_user
  - module: d365.identity.dataverse_systemuser
"""

EXAMPLES = r"""
- name: Let the service account synchronise into the production environment
  d365.identity.entra_group_member:
    group: Dynamics Prod Users
    members:
      add: [svc-d365@contoso.onmicrosoft.com]

- name: Add a user created by entra_user, by group object id
  d365.identity.entra_group_member:
    group: 579ecf60-76b9-4e36-a90a-2b89beb3055b
    members:
      add: ["{{ svc.id }}"]

- name: Remove the user again
  d365.identity.entra_group_member:
    group: Dynamics Prod Users
    members:
      remove: [svc-d365@contoso.onmicrosoft.com]
"""

RETURN = r"""
group:
  description: The group.
  returned: always
  type: dict
  contains:
    id:
      description: Object id.
      type: str
      sample: 579ecf60-76b9-4e36-a90a-2b89beb3055b
    displayName:
      description: Display name.
      type: str
      sample: Dynamics Prod Users
members:
  description:
    - The group's direct members after the task (in check mode, as they would be).
    - C(userPrincipalName) is null for members that are not users and for users added by object id; C(id) is null for a
      user that does not exist yet (check mode only).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Object id.
      type: str
    userPrincipalName:
      description: Sign-in name.
      type: str
  sample:
    - id: d13678c3-9c30-4a2f-983a-5e6e5dbc3c5f
      userPrincipalName: megan@contoso.onmicrosoft.com
added:
  description: Members added (in check mode, that would be added), same shape as RV(members).
  returned: always
  type: list
  elements: dict
removed:
  description: Members removed (in check mode, that would be removed), same shape as RV(members).
  returned: always
  type: list
  elements: dict
"""

from ansible_collections.d365.identity.plugins.module_utils import _list_values as list_values
from ansible_collections.d365.identity.plugins.module_utils._compare import diff_for, list_delta
from ansible_collections.d365.identity.plugins.module_utils._odata import GUID_RE
from ansible_collections.d365.identity.plugins.module_utils._errors import ApiError, ConfigError, NotFoundError
from ansible_collections.d365.identity.plugins.module_utils._domain.groups import find_group, known_group_for
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module

USER_SELECT = ("id", "userPrincipalName")


def _member(obj):
    return {"id": obj.get("id"), "userPrincipalName": obj.get("userPrincipalName")}


def _key(member):
    """Membership key: the object id; a not-yet-existing user (check mode) has only its UPN."""
    return str(member["id"] or member["userPrincipalName"]).casefold()


def _label(member):
    return member["userPrincipalName"] or member["id"]


def resolve(client, current, names, wait):
    """([members named], [UPNs that do not exist]); wait: through the new-user window (entra_user may
    have just created the user)."""
    by_upn = {str(m["userPrincipalName"]).casefold(): m for m in current if m["userPrincipalName"]}
    resolved, missing = [], []
    for name in names:
        name = name.strip()
        if GUID_RE.match(name):
            resolved.append(next((m for m in current if _key(m) == name.casefold()),
                                 {"id": name.lower(), "userPrincipalName": None}))
            continue
        member = by_upn.get(name.casefold())
        if member is None:
            user = client.find_user_eventually(name, USER_SELECT) if wait else client.find_user(name, USER_SELECT)
            member = _member(user) if user else None
        if member is None:
            missing.append(name)
        else:
            resolved.append(member)
    return resolved, missing


def joining(module, client, group, current, names):
    """Members to add (or set): a user missing fails, except in check mode where it is a pending addition."""
    wanted, missing = resolve(client, current, names, wait=not module.check_mode)
    if missing and not module.check_mode:
        raise ConfigError("User %s was not found in Microsoft Entra ID: create it first with d365.identity.entra_user, "
                          "or check the UPN or object id." % ", ".join(missing))
    for name in missing:
        module.warn("User %s does not exist yet (expected when d365.identity.entra_user ran in check mode too): "
                    "reporting its addition to group %s as a pending change." % (name, group["displayName"]))
        wanted.append({"id": None, "userPrincipalName": name})
    return wanted


def leaving(module, client, group, current, names):
    """Members to remove: a user that does not exist is not a member (a warning, not a failure)."""
    wanted, missing = resolve(client, current, names, wait=False)
    for name in missing:
        module.warn("User %s does not exist, so it is not a member of group %s." % (name, group["displayName"]))
    return wanted


def known_group(params, asked):
    """The option known_group when it may stand for reading the group and its members (only to add), else None."""
    if not params.get("known_group"):
        return None
    if asked.set is not None or asked.remove:
        raise ConfigError("known_group only goes with members.add: removing or setting members needs the group's "
                          "members, so leave known_group out.")
    return known_group_for(params["known_group"], params["group"].strip())


def run(module):
    params = module.params
    client = module.graph_client()
    asked = list_values.read(module, "members")
    if not asked:
        raise ConfigError("members needs add, remove or set (for example members: {add: [svc@contoso.com]}).")
    group = known_group(params, asked)
    if group is None:
        group = find_group(client, params["group"].strip())
        current = [_member(m) for m in client.group_members(group["id"])]
    else:
        current = []  # none of the users to add was a member when the earlier task read the group
    exact = None if asked.set is None else joining(module, client, group, current, asked.set)
    to_add, to_remove = list_delta(current, add=joining(module, client, group, current, asked.add),
                                   remove=leaving(module, client, group, current, asked.remove), exact=exact, key=_key)
    if not module.check_mode:
        write(client, group["id"], to_add, to_remove)

    removed_keys = {_key(m) for m in to_remove}
    after = [m for m in current if _key(m) not in removed_keys] + to_add
    result = {"changed": bool(to_add or to_remove), "group": group, "members": after, "added": to_add,
              "removed": to_remove}
    if module._diff:
        result["diff"] = diff_for({"members": sorted(_label(m) for m in current)},
                                  {"members": sorted(_label(m) for m in after)}, ["members"])
    return result


def write(client, group_id, to_add, to_remove):
    """The membership writes. A write repeated after a lost answer finds its work done: that is success."""
    for member in to_add:
        try:
            client.add_group_member(group_id, member["id"])
        except ApiError as error:
            if not (error.status == 400 and "already exist" in (error.service_message or "")):
                raise
    for member in to_remove:
        try:
            client.remove_group_member(group_id, member["id"])
        except NotFoundError:
            pass


def main():
    module = D365Module(
        argument_spec={
            "group": {"type": "str", "required": True},
            "members": list_values.spec(required=True, aliases=["member", "users"]),
            "state": {"type": "str", "choices": ["present", "absent"]},
            "known_group": {"type": "dict"},
        },
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
