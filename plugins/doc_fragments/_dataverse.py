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

    # How dataverse_systemuser names the one user (identity, as in every module).
    USER_IDENTITY = r"""
options:
  identity:
    description:
      - The user, by user principal name (matched on C(domainname), where Dataverse online keeps the UPN), Microsoft
        Entra object id (C(azureactivedirectoryobjectid)) or Dataverse C(systemuserid); a GUID matches either id.
      - The 0.x options O(entra_object_id), O(object_id), O(user_principal_name), O(upn) and O(systemuser_id) are
        deprecated aliases of this option and will be removed in 1.0.0.
    type: str
    required: true
    aliases: [entra_object_id, object_id, user_principal_name, upn, systemuser_id]
"""

    # How dataverse_role names the one user: identity, or application_id (APPLICATION_IDENTITY) instead.
    USER_OR_APPLICATION_IDENTITY = r"""
options:
  identity:
    description:
      - A person, by user principal name (matched on C(domainname)), Microsoft Entra object id or Dataverse
        C(systemuserid); a GUID matches either id. Its 0.x option names (the aliases) are deprecated and will be
        removed in 1.0.0.
      - Exactly one of O(identity) and O(application_id) is required.
    type: str
    aliases: [entra_object_id, object_id, user_principal_name, upn, systemuser_id]
"""

    # An application user as the identity (dataverse_role, dataverse_systemuser_info).
    APPLICATION_IDENTITY = r"""
options:
  application_id:
    description:
      - An application user instead of a person, by the Application (client) ID of its app registration (matched on
        C(applicationid); soft-deleted rows are ignored). Create one with M(d365.identity.dataverse_application_user).
      - Mutually exclusive with O(identity).
    type: str
    version_added: 0.4.0
"""

    # The row an earlier task of the run returned (dataverse_systemuser, dataverse_role).
    KNOWN_SYSTEMUSER = r"""
options:
  systemuser:
    description:
      - The user's systemuser as an earlier task of this run returned it (RV(systemuser) of
        M(d365.identity.dataverse_systemuser) or M(d365.identity.dataverse_role), an element of
        RV(d365.identity.dataverse_systemuser_info#module:systemusers)), so the task does not read it again; V({}) when that task found the
        user missing (trusted only to ask for the synchronisation with O(d365.identity.dataverse_systemuser#module:sync)).
      - Ignored when it names another user than the identity. Its values may be stale; the writes are safe anyway
        (a row is updated only where it exists, roles are associated one by one).
      - Omitted, the user is read (one request).
    type: dict
    version_added: 0.4.0
"""
