# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # Dataverse connection options (plugins/module_utils/_clients/dataverse.py DATAVERSE_ARGSPEC).
    DOCUMENTATION = r"""
options:
  environment_url:
    description:
      - URL of the Dataverse environment, for example C(https://contoso.crm4.dynamics.com). Must be C(https://).
      - Its token scope is C({environment_url}/.default).
      - If not set, the environment variable E(D365_ENVIRONMENT_URL) is used.
      - Set it in C(module_defaults) for C(group/d365.identity.dataverse), not C(group/d365.identity.all)
        (Graph modules do not accept it).
    type: str
    aliases: [org_url]
  dataverse_api_version:
    description: Dataverse Web API version.
    type: str
    default: v9.2
"""

    # The three ways dataverse_role and dataverse_systemuser identify one user.
    USER_IDENTIFIERS = r"""
options:
  entra_object_id:
    description:
      - Microsoft Entra object id of the user (C(azureactivedirectoryobjectid)).
      - Exactly one of O(entra_object_id), O(user_principal_name) and O(systemuser_id) is required.
    type: str
    aliases: [object_id]
  user_principal_name:
    description:
      - User principal name of the user, matched on C(domainname).
    type: str
    aliases: [upn]
  systemuser_id:
    description:
      - Dataverse C(systemuserid) of the user.
    type: str
"""
