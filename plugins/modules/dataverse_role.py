#!/usr/bin/python
# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dataverse_role
short_description: Grant or remove security roles of a Dataverse system user
version_added: 0.1.0
description:
  - Grants or removes security roles of one system user, resolving each role inside the user's own business unit
    (role ids differ per business unit; the template id does not).
  - The user is a person (O(identity)) or an application user (O(application_id)).
  - Associates and disassociates through C(systemuserroles_association/$ref) only when needed.
  - Roles can only be granted while the user is licensed and enabled, so grant them before making the user
    non-interactive and removing its licence.
  - Needs an application user for the client with the System Administrator role.
author:
  - d365.identity maintainers (@d365-identity)
options:
  roles:
    description:
      - The user's security roles, by name (case-insensitive) or role template GUID.
      - V(System Administrator) always resolves by its template id C(627090FF-40A3-4053-8790-584EDC5BE201), so it works
        whatever the language of the environment.
      - Roles resolve in the business unit of the user; an unknown role fails and lists the roles available there.
      - A dictionary with O(roles.add), O(roles.remove) and O(roles.set), as every list option of the collection (see
        the microsoft.ad list values guide). O(roles.set) wins over the others; O(roles.set=[]) removes every role.
      - A plain list is the deprecated 0.x spelling (with O(state) and O(purge)); removed in 1.0.0, when this option
        becomes a dictionary only.
    type: raw
    suboptions:
      add:
        description: Roles to grant; roles not listed are kept.
        type: list
        elements: str
      remove:
        description: Roles to remove.
        type: list
        elements: str
      set:
        description: Exactly these roles; every other role of the user is removed.
        type: list
        elements: str
  state:
    description:
      - Deprecated, only with the plain-list spelling of O(roles) (V(present) grants, V(absent) removes); removed in
        1.0.0.
    type: str
    choices: [present, absent]
  purge:
    description:
      - Deprecated, only with the plain-list spelling of O(roles) (V(true) means O(roles.set)); removed in 1.0.0.
    type: bool
  business_unit_roles:
    description:
      - The security roles of the user's business unit (C(roleid), C(name), C(_roletemplateid_value),
        C(_businessunitid_value)) as the caller already read them; the task then does not read them again.
      - M(d365.identity.non_interactive_user_info) returns them per environment as C(business_unit_roles).
      - Used only when every row is of the user's business unit; otherwise, or omitted, they are read (one request).
    type: list
    elements: dict
    version_added: 0.4.0
extends_documentation_fragment:
  - d365.identity._auth
  - d365.identity._dataverse
  - d365.identity._dataverse.USER_OR_APPLICATION_IDENTITY
  - d365.identity._dataverse.APPLICATION_IDENTITY
  - d365.identity._dataverse.KNOWN_SYSTEMUSER
  - d365.identity._attributes
  - d365.identity._attributes.ACTIONGROUP_DATAVERSE
attributes:
  check_mode:
    support: full
    details: Returns the roles as they would be; nothing is written.
  diff_mode:
    support: full
    details: Shows the role names before and after.
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Make the integration user a System Administrator (any language)
  d365.identity.dataverse_role:
    environment_url: https://contoso.crm4.dynamics.com
    identity: svc-integration@contoso.onmicrosoft.com
    roles:
      add: [System Administrator]

- name: Exactly these roles, by name and template id
  d365.identity.dataverse_role:
    environment_url: https://contoso.crm4.dynamics.com
    identity: 5f1c0d2e-8a3b-4c7d-9e6f-0a1b2c3d4e5f
    roles:
      set:
        - Basic User
        - 119F245C-3CC8-4b62-B31C-D1A046CED15D  # System Customizer

- name: Make an app's application user a System Administrator
  d365.identity.dataverse_role:
    environment_url: https://contoso.crm4.dynamics.com
    application_id: 2f6d1c8e-7b3a-4e5f-9a1b-0c2d3e4f5a6b
    roles:
      add: [System Administrator]

- name: Remove a role
  d365.identity.dataverse_role:
    environment_url: https://contoso.crm4.dynamics.com
    identity: svc-integration@contoso.onmicrosoft.com
    roles:
      remove: [Salesperson]
"""

RETURN = r"""
roles:
  description: Security roles of the user after the task (in check mode, as they would be), sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    roleid:
      description: Role id (differs per business unit).
      type: str
    name:
      description: Role name.
      type: str
    roletemplateid:
      description: Role template id, the same in every business unit and language.
      type: str
      sample: 627090ff-40a3-4053-8790-584edc5be201
    businessunitid:
      description: Business unit of the role (the user's).
      type: str
added:
  description: Roles granted by the task (same fields as RV(roles)).
  returned: always
  type: list
  elements: dict
removed:
  description: Roles removed by the task (same fields as RV(roles)).
  returned: always
  type: list
  elements: dict
systemuserid:
  description: Dataverse id of the user.
  returned: always
  type: str
systemuser:
  description:
    - The user after the task, with RV(roles), as M(d365.identity.dataverse_systemuser_info) returns it; a later task
      takes it as O(systemuser) and need not read the user again.
  returned: always
  type: dict
  version_added: 0.4.0
"""

from ansible_collections.d365.identity.plugins.module_utils._compare import diff_for, list_delta
from ansible_collections.d365.identity.plugins.module_utils._odata import guid
from ansible_collections.d365.identity.plugins.module_utils._errors import ApiError, ConflictError, D365Error
from ansible_collections.d365.identity.plugins.module_utils import _identity as identity
from ansible_collections.d365.identity.plugins.module_utils import _list_values as list_values
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module
from ansible_collections.d365.identity.plugins.module_utils._transport.writes import NOT_DONE, write_and_verify
from ansible_collections.d365.identity.plugins.module_utils._domain.systemusers import (
    APPLICATION_ID_EXCLUSIVE, APPLICATION_ID_OPTION, IDENTITY_ARGSPEC_OLD_NAMES, KNOWN_SYSTEMUSER_OPTION, ROLES_NAV,
    describe, known_row, match_roles, not_synchronised, read_one, role_dict, systemuser_dict)

NOT_SYNCED = ("add it first with d365.identity.dataverse_systemuser (sync: true), or wait for the background "
              "synchronisation")
NO_APPLICATION_USER = "create it first with d365.identity.dataverse_application_user"
DISABLED_PERSON = ("give the user a Dynamics 365 licence (and enable the account) so the synchronisation enables it "
                   "again, grant the roles, then set access_mode non_interactive before removing the licence")
DISABLED_APPLICATION_USER = "enable it with d365.identity.dataverse_application_user (state: present), then grant the roles"


def role_key(row):
    return (row.get("roleid") or "").lower()


def names(rows):
    return sorted((r.get("name") or r.get("roleid") or "" for r in rows), key=str.casefold)


def business_unit_label(client, bu_id):
    try:
        name = (client.business_unit(bu_id) or {}).get("name")
    except ApiError:
        name = None
    return "%s (%s)" % (name, bu_id) if name else bu_id


def resolve(client, wanted, bu_id, known=None):
    """{name: role row} for the names of every action, from one read of the business unit's roles (or from known,
    the roles an earlier task read, when they are this business unit's)."""
    key = (bu_id or "").lower()
    if known and all((r.get("_businessunitid_value") or "").lower() == key for r in known):
        available = known
    else:
        available = client.roles("_businessunitid_value eq %s" % guid(bu_id, "businessunitid"))
    matched, unknown = {}, []
    for name in wanted:
        rows, missing = match_roles([name], available)
        unknown.extend(missing)
        if rows:
            matched[name] = rows[0]
    if unknown:
        raise D365Error("Role %s not found in business unit %s of %s. Roles available there: %s. Fix: use one of "
                        "these names or a role template GUID." % (
                            ", ".join(repr(u) for u in unknown), business_unit_label(client, bu_id),
                            client.environment_url, ", ".join(names(available)) or "none"))
    return matched


def _confirm(client, user_id, role_id, wanted):
    """Re-read after an unclear write: True when the role's presence is as wanted."""
    return (role_id in {role_key(r) for r in client.user_roles(user_id)}) == wanted


def write_role(client, user_id, role, add):
    """One $ref write; after no answer or a server error, re-read before trying again (no blind retries)."""
    role_id = role_key(role)

    def send():
        try:
            if add:
                client.associate_role(user_id, role_id)
            else:
                client.disassociate_role(user_id, role_id)
        except ConflictError:
            if not (add and _confirm(client, user_id, role_id, True)):
                raise  # re-association of a held role is refused: that is done

    write_and_verify(send, lambda: None if _confirm(client, user_id, role_id, add) else NOT_DONE)


def run(module):
    params = module.params
    client = module.dataverse_client()
    row, _known = known_row(params)
    if row is None:
        row = read_one(client, params)
    if row is None:
        if params.get("application_id"):
            raise D365Error("%s does not exist in %s. Fix: %s." % (
                describe(params).capitalize(), client.environment_url, NO_APPLICATION_USER))
        raise not_synchronised(params, client.environment_url, NOT_SYNCED)
    user_id = row["systemuserid"]
    bu_id = row.get("_businessunitid_value")
    current = list(row.get(ROLES_NAV) or [])
    asked = list_values.read(module, "roles", legacy_purge="purge")
    rows = resolve(client, asked.wanted, bu_id, params["business_unit_roles"]) if asked.wanted else {}

    def roles_of(names):
        return [rows[name] for name in names]

    to_add, to_remove = list_delta(current, add=roles_of(asked.add), remove=roles_of(asked.remove),
                                   exact=None if asked.set is None else roles_of(asked.set), key=role_key)

    if to_add and row.get("isdisabled"):
        raise D365Error("%s is disabled in %s, and security roles can only be granted while the user is licensed and "
                        "enabled. Fix: %s." % (describe(params), client.environment_url, DISABLED_APPLICATION_USER
                                               if params.get("application_id") else DISABLED_PERSON))

    if not module.check_mode:
        for role in to_add:
            write_role(client, user_id, role, True)
        for role in to_remove:
            write_role(client, user_id, role, False)

    removed_keys = {role_key(r) for r in to_remove}
    after = [r for r in current if role_key(r) not in removed_keys] + to_add
    result = {
        "changed": bool(to_add or to_remove),
        "systemuserid": user_id,
        "systemuser": systemuser_dict(dict(row, **{ROLES_NAV: after})),
        "roles": sorted((role_dict(r) for r in after), key=lambda r: (r["name"] or "").casefold()),
        "added": [role_dict(r) for r in to_add],
        "removed": [role_dict(r) for r in to_remove],
    }
    if module._diff:
        result["diff"] = diff_for({"roles": names(current)}, {"roles": names(after)}, ["roles"])
    return result


def main():
    spec = identity.spec(IDENTITY_ARGSPEC_OLD_NAMES, required=False)
    spec.update({
        "application_id": APPLICATION_ID_OPTION,
        "roles": list_values.spec(),
        "state": {"type": "str", "choices": ["present", "absent"]},
        "purge": {"type": "bool"},
        "systemuser": KNOWN_SYSTEMUSER_OPTION,
        "business_unit_roles": {"type": "list", "elements": "dict"},
    })
    module = D365Module(argument_spec=spec, dataverse=True, supports_check_mode=True,
                        mutually_exclusive=APPLICATION_ID_EXCLUSIVE, required_one_of=APPLICATION_ID_EXCLUSIVE)
    run_module(module, run)


if __name__ == "__main__":
    main()
