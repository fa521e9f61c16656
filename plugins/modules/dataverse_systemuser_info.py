#!/usr/bin/python
# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dataverse_systemuser_info
short_description: Read Dataverse system users, their access mode and security roles
version_added: 0.1.0
description:
  - Reads C(systemusers) of one Dataverse environment, each with its security roles, in one request.
  - A user that is not in the environment yet gives an empty RV(systemusers), never a failure, so an
    C(until) loop can poll for the Entra ID to Dataverse synchronisation.
  - Also returns how many non-interactive users the environment has and its cap (7 per environment).
  - Needs an application user for the client in the environment (System Administrator, or read access to users and roles).
author:
  - d365.identity maintainers (@d365-identity)
options:
  identity:
    description:
      - Only this user, by user principal name (matched on C(domainname), where Dataverse online keeps the UPN),
        Microsoft Entra object id (C(azureactivedirectoryobjectid)) or Dataverse C(systemuserid); a GUID matches either
        id.
      - The 0.x options O(entra_object_id), O(object_id), O(user_principal_name), O(upn) and O(systemuser_id) are
        deprecated aliases of this option and will be removed in 1.0.0.
    type: str
    aliases: [entra_object_id, object_id, user_principal_name, upn, systemuser_id]
  access_mode:
    description:
      - Only users with this access mode, for example V(non_interactive) to list the users counting towards the cap.
      - Without any filter, every user of the environment is returned (application users included).
    type: str
    choices: [read_write, administrative, read, support_user, non_interactive, delegated_admin]
  count_non_interactive:
    description:
      - Also read how many non-interactive users the environment has and allows (one more request).
      - Turn it off in C(until) loops and other reads that do not need RV(non_interactive_count).
    type: bool
    default: true
  whoami:
    description:
      - Also call C(WhoAmI) and return who the client is in the environment (RV(whoami)), for example to check that an
        app signs in as its application user (U(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/whoami)).
    type: bool
    default: false
    version_added: 0.4.0
extends_documentation_fragment:
  - d365.identity._auth
  - d365.identity._dataverse
  - d365.identity._dataverse.APPLICATION_IDENTITY
  - d365.identity._attributes
  - d365.identity._attributes.INFO_MODULE
  - d365.identity._attributes.ACTIONGROUP_DATAVERSE
"""

EXAMPLES = r"""
- name: Wait until the user is synchronised into the environment
  d365.identity.dataverse_systemuser_info:
    environment_url: https://contoso.crm4.dynamics.com
    identity: svc-integration@contoso.onmicrosoft.com
  register: dv_user
  until: dv_user.systemusers | length == 1
  retries: 30
  delay: 20

- name: Read an app's application user and its roles
  d365.identity.dataverse_systemuser_info:
    environment_url: https://contoso.crm4.dynamics.com
    application_id: 2f6d1c8e-7b3a-4e5f-9a1b-0c2d3e4f5a6b
    count_non_interactive: false
  register: app_user

- name: List the non-interactive users of an environment
  d365.identity.dataverse_systemuser_info:
    environment_url: https://contoso.crm4.dynamics.com
    access_mode: non_interactive
  register: non_interactive

- name: Show how many slots are left
  ansible.builtin.debug:
    msg: "{{ non_interactive.non_interactive_max - non_interactive.non_interactive_count }} of 7 left"
"""

RETURN = r"""
systemusers:
  description: Matching system users; empty when none matches (for example not synchronised yet).
  returned: always
  type: list
  elements: dict
  contains:
    systemuserid:
      description: Dataverse id of the user (O(systemuser_id)).
      type: str
      sample: 7a2d5c55-4e0b-4b0e-9b8e-0c6f3c1d2e11
    domainname:
      description: User principal name of the user.
      type: str
      sample: svc-integration@contoso.onmicrosoft.com
    azureactivedirectoryobjectid:
      description: Microsoft Entra object id of the user.
      type: str
    applicationid:
      description: Client id; set on application users only.
      type: str
    accessmode:
      description: Access mode as stored (0 Read-Write, 1 Administrative, 2 Read, 3 Support User, 4 Non-interactive, 5 Delegated Admin).
      type: int
      sample: 4
    access_mode:
      description: Access mode name, as O(access_mode) takes it.
      type: str
      sample: non_interactive
    isdisabled:
      description: Whether the user is disabled in the environment.
      type: bool
    islicensed:
      description: Whether Dataverse considers the user licensed.
      type: bool
    businessunitid:
      description: Business unit of the user; its security roles come from there.
      type: str
    roles:
      description: Security roles of the user, sorted by name.
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
          description: Role template id (the same in every business unit and language), when the role has one.
          type: str
        businessunitid:
          description: Business unit of the role.
          type: str
non_interactive_count:
  description: Non-interactive users of the environment (application users do not count).
  returned: when O(count_non_interactive=true)
  type: int
  sample: 3
non_interactive_max:
  description: How many non-interactive users the environment allows (7 unless Dataverse reports another cap).
  returned: when O(count_non_interactive=true)
  type: int
  sample: 7
whoami:
  description: The answer of C(WhoAmI) for the client (C(UserId), C(BusinessUnitId), C(OrganizationId)).
  returned: when O(whoami=true)
  type: dict
  sample: {"UserId": "7a2d5c55-4e0b-4b0e-9b8e-0c6f3c1d2e11", "BusinessUnitId": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
           "OrganizationId": "5e4d3c2b-1a09-4f8e-9d7c-6b5a4f3e2d1c"}
"""

from ansible_collections.d365.identity.plugins.module_utils import _identity as identity
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module
from ansible_collections.d365.identity.plugins.module_utils._domain.systemusers import (
    ACCESS_MODE_OPTION, APPLICATION_ID_EXCLUSIVE, APPLICATION_ID_OPTION, IDENTITY_ARGSPEC_OLD_NAMES,
    non_interactive_counts, read_systemusers, systemuser_dict, users_filter)


def run(module):
    client = module.dataverse_client()
    rows = read_systemusers(client, users_filter(module.params, module.params["access_mode"]),
                            live_only=bool(module.params["application_id"]))
    result = {"changed": False, "systemusers": [systemuser_dict(r) for r in rows]}
    if module.params["count_non_interactive"]:
        result["non_interactive_count"], result["non_interactive_max"] = non_interactive_counts(client)
    if module.params["whoami"]:
        answer = client.whoami()
        result["whoami"] = {key: answer.get(key) for key in ("UserId", "BusinessUnitId", "OrganizationId")}
    return result


def main():
    spec = dict(identity.spec(IDENTITY_ARGSPEC_OLD_NAMES, required=False), access_mode=ACCESS_MODE_OPTION,
                application_id=APPLICATION_ID_OPTION, count_non_interactive={"type": "bool", "default": True},
                whoami={"type": "bool", "default": False})
    run_module(D365Module(argument_spec=spec, dataverse=True, supports_check_mode=True,
                          mutually_exclusive=APPLICATION_ID_EXCLUSIVE), run)


if __name__ == "__main__":
    main()
