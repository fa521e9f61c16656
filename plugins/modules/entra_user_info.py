#!/usr/bin/python
# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: entra_user_info
short_description: Read one Entra ID user with its licences, without changing anything
version_added: 0.1.0
description:
  - Reads a user from Microsoft Graph by user principal name or object id, including C(assignedLicenses) and
    C(licenseAssignmentStates), which Graph only returns when selected.
  - A missing user is not an error; RV(exists) is then V(false). The role C(non_interactive_user) uses this to decide,
    before writing anything, whether a run has work to do.
  - Needs the Graph application permission C(User.Read.All).
author:
  - d365.identity maintainers (@d365-identity)
options:
  identity:
    description:
      - User principal name (sign-in name) of the user, or its object id.
      - O(user_principal_name), O(upn) and O(id) are deprecated aliases, removed in 1.0.0.
    type: str
    required: true
    aliases: [user_principal_name, upn, id]
extends_documentation_fragment:
  - d365.identity._auth
  - d365.identity._attributes
  - d365.identity._attributes.INFO_MODULE
  - d365.identity._attributes.ACTIONGROUP_GRAPH
"""

EXAMPLES = r"""
- name: Does the integration user exist, and which licences does it hold?
  d365.identity.entra_user_info:
    identity: svc-d365-integration@contoso.onmicrosoft.com
  register: svc

- name: Show its licence SKU ids
  ansible.builtin.debug:
    msg: "{{ svc.user.assignedLicenses | default([]) | map(attribute='skuId') | list }}"
  when: svc.exists
"""

RETURN = r"""
exists:
  description: Whether the user exists.
  returned: always
  type: bool
user:
  description: The Graph user object, or V(null) when it does not exist.
  returned: always
  type: dict
  contains:
    id:
      description: Object id.
      type: str
    userPrincipalName:
      description: Sign-in name.
      type: str
    displayName:
      description: Display name.
      type: str
    accountEnabled:
      description: Whether sign-in is allowed.
      type: bool
    usageLocation:
      description: ISO 3166 two-letter country code; needed before licensing.
      type: str
    mailNickname:
      description: Mail alias.
      type: str
    assignedLicenses:
      description: Licences (C(skuId), C(disabledPlans)), direct and group-inherited.
      type: list
      elements: dict
    licenseAssignmentStates:
      description: Per-licence state with C(assignedByGroup) (null for a direct assignment).
      type: list
      elements: dict
"""

from ansible_collections.d365.identity.plugins.module_utils import _identity as identity
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module

USER_SELECT = ("id", "userPrincipalName", "displayName", "accountEnabled", "usageLocation", "mailNickname",
               "assignedLicenses", "licenseAssignmentStates")


def run(module):
    user = module.graph_client().find_user(module.params["identity"], select=USER_SELECT)
    return {"changed": False, "exists": user is not None, "user": user}


def main():
    module = D365Module(
        argument_spec=identity.spec(("user_principal_name", "upn", "id")),
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
