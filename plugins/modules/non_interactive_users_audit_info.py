#!/usr/bin/python
# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: non_interactive_users_audit_info
short_description: Audit every non-interactive user of Dataverse environments, the collection's and everyone else's
version_added: 0.3.0
description:
  - Lists, for every given environment, all its non-interactive users (access mode 4; application users do not
    count and are left out) and how many of the environment's non-interactive slots they use.
  - For each user it reports whether the collection owns it (the ownership mark in one of its
    C(onPremisesExtensionAttributes)), whether it still holds a licence (a seat wasted, a non-interactive user needs
    none), whether it is disabled in Dataverse or its Entra account is disabled or deleted (a broken integration),
    and its security roles.
  - Reads only, and little; one C(systemusers) request per environment (the users with their roles), one
    C(RetrieveOrganizationResources) per environment (the cap), then each Entra user once by object id, even when
    it is in several environments; a user Microsoft Graph answers 404 for is looked up in the deleted items. The
    tenant's SKUs are read once when some user holds a licence, to name it.
  - An environment or a user that cannot be read does not stop the audit; it is listed in RV(errors).
  - The playbook C(d365.identity.non_interactive_users_audit) runs this module and renders RV(rows) as a table,
    Markdown or JSON.
author:
  - d365.identity maintainers (@d365-identity)
options:
  environments:
    description: Dataverse environment URLs, for example V(https://contoso.crm4.dynamics.com).
    type: list
    elements: str
    required: true
  owner_attribute:
    description:
      - Which of the users' fifteen C(onPremisesExtensionAttributes) holds the collection's ownership mark
        V(d365.identity); use the value the role runs with (C(non_interactive_user_owner_attribute)).
      - See U(https://learn.microsoft.com/graph/api/resources/onpremisesextensionattributes).
    type: int
    default: 15
    choices: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
extends_documentation_fragment:
  - d365.identity._auth
  - d365.identity._attributes
  - d365.identity._attributes.INFO_MODULE
  - d365.identity._attributes.ACTIONGROUP_ALL
notes:
  - Needs the Microsoft Graph application permission C(User.Read.All) (C(LicenseAssignment.Read.All) or
    C(Organization.Read.All) to name licences) and, in each environment, an application user for the client
    that may read users and roles (System Administrator).
  - The cap of 7 non-interactive users per environment and the licence rule are from
    U(https://learn.microsoft.com/power-platform/admin/create-users).
"""

EXAMPLES = r"""
- name: Audit the non-interactive users of two environments
  d365.identity.non_interactive_users_audit_info:
    environments:
      - https://contoso-dev.crm4.dynamics.com
      - https://contoso.crm4.dynamics.com
  register: audit

- name: Name the wasted seats and the broken integrations
  ansible.builtin.debug:
    msg: "{{ audit.rows | rejectattr('status', 'equalto', 'ok') | map(attribute='findings') | flatten }}"

- name: Render it as the audit playbook does
  ansible.builtin.debug:
    msg: "{{ (audit | d365.identity.non_interactive_users_report(kind='audit')).text }}"
"""

RETURN = r"""
rows:
  description: One row per non-interactive user and environment, in the order of O(environments), then by user.
  returned: always
  type: list
  elements: dict
  contains:
    environment:
      description: Environment URL.
      type: str
    user:
      description: User principal name (from Entra ID, else the systemuser's C(domainname)).
      type: str
      sample: svc-d365-portal@contoso.onmicrosoft.com
    display_name:
      description: Display name.
      type: str
    entra_object_id:
      description: Microsoft Entra object id.
      type: str
    systemuserid:
      description: Dataverse id of the user in this environment.
      type: str
    business_unit_id:
      description: Business unit of the user in this environment.
      type: str
    owned:
      description: Whether the user carries the collection's ownership mark; null when its Entra account is not read.
      type: bool
    dataverse:
      description: V(enabled) or V(disabled) in this environment.
      type: str
    dataverse_licensed:
      description: Whether Dataverse considers the user licensed.
      type: bool
    entra:
      description: >-
        The Entra account: V(enabled), V(disabled), V(deleted) (in the deleted items, restorable), V(not found)
        (deleted permanently) or V(unknown) (not read, see RV(errors)).
      type: str
    licences:
      description: Licences the user holds, by SKU part number, each with "(via group <id>)" when inherited.
      type: list
      elements: str
    licence_details:
      description: The same licences as C(sku), C(sku_id) and C(group) (null for a direct assignment).
      type: list
      elements: dict
    roles:
      description: Names of the user's security roles in this environment, sorted.
      type: list
      elements: str
    status:
      description: V(ok), V(seat wasted) (holds a licence) or V(broken) (disabled in Dataverse, or its Entra account
        disabled or deleted).
      type: str
    findings:
      description: What is wrong, one sentence each; empty when nothing is.
      type: list
      elements: str
environments:
  description: Per environment C(url), C(slots) (C(used), C(max), C(free); null when it could not be read),
    C(listed), C(owned), C(seats_wasted), C(broken) and C(error).
  returned: always
  type: list
  elements: dict
summary:
  description: Counts over all environments; C(environments), C(rows), C(users) (distinct), C(owned), C(not_owned),
    C(seats_wasted) (distinct users holding a licence), C(broken) (rows), C(errors).
  returned: always
  type: dict
errors:
  description: Environments and users that could not be read, each with the service's message and fix.
  returned: always
  type: list
  elements: str
"""

from urllib.parse import quote

from ansible_collections.d365.identity.plugins.module_utils._domain import audit
from ansible_collections.d365.identity.plugins.module_utils._domain import ownership
from ansible_collections.d365.identity.plugins.module_utils._domain.plan import environment_key
from ansible_collections.d365.identity.plugins.module_utils._domain.systemusers import EXPAND_ROLES
from ansible_collections.d365.identity.plugins.module_utils._clients.graph import USER_READ
from ansible_collections.d365.identity.plugins.module_utils._errors import (
    ApiError, AuthError, D365Error, NotFoundError, PermissionDeniedError)
from ansible_collections.d365.identity.plugins.module_utils._module import D365Module, run_module
from ansible_collections.d365.identity.plugins.module_utils._odata import is_guid
from ansible_collections.d365.identity.plugins.module_utils._transport.urls import https_base


def environment_urls(values):
    """Validated URLs in the given order, each environment once; bad URLs fail before any request."""
    urls, seen = [], set()
    for value in values:
        url = https_base("environments", str(value))
        if environment_key(url) not in seen:
            seen.add(environment_key(url))
            urls.append(url)
    return urls


def read_environment(module, url):
    """{'url', 'rows', 'resources', 'error'}: the environment's non-interactive users with roles, and its cap."""
    reading = {"url": url, "rows": None, "resources": None, "error": None}
    try:
        client = module.dataverse_client(url)
        reading["rows"] = client.get_all("systemusers", params={
            "$select": ",".join(audit.SYSTEMUSER_SELECT), "$filter": audit.SYSTEMUSER_FILTER, "$expand": EXPAND_ROLES})
    except D365Error as error:
        reading["error"] = error.message
        return reading
    try:
        reading["resources"] = (client.organization_resources() or {}).get("OrganizationResources")
    except ApiError:
        reading["resources"] = None  # the documented cap and the rows read stand in (audit.slot_counts)
    return reading


def read_entra_users(graph, object_ids):
    """{object id: reading} with each user read once; a 404 is looked up in the deleted items."""
    readings, stop = {}, None
    for oid in object_ids:
        if stop:
            readings[oid] = {"read": False, "error": stop}
            continue
        try:
            readings[oid] = {"read": True, "user": graph.get_user(oid, audit.USER_SELECT)}
        except NotFoundError:
            readings[oid] = {"read": True, "user": None, "deleted": read_deleted(graph, oid)}
        except (AuthError, PermissionDeniedError) as error:
            stop = error.message  # the same refusal for every user: read no further
            readings[oid] = {"read": False, "error": stop}
        except D365Error as error:
            readings[oid] = {"read": False, "error": error.message}
    return readings


def read_deleted(graph, oid):
    """The deleted user (restorable for 30 days), or None when it is gone for good.

    Graph answered 404 for the user itself, so it is deleted either way; when the deleted items cannot be read,
    only the date is unknown.
    """
    try:
        return graph.get("directory/deletedItems/%s" % quote(oid), params={"$select": ",".join(audit.DELETED_SELECT)},
                         permission=USER_READ)
    except NotFoundError:
        return None
    except D365Error:
        return {"id": oid}


def run(module):
    urls = environment_urls(module.params["environments"])
    environments = [read_environment(module, url) for url in urls]
    object_ids = []
    for env in environments:
        for row in env["rows"] or []:
            oid = str(row.get("azureactivedirectoryobjectid") or "").lower()
            if is_guid(oid) and oid not in object_ids:
                object_ids.append(oid)
    graph = module.graph_client()
    readings = read_entra_users(graph, object_ids) if object_ids else {}
    skus = None
    if any(r.get("user") and (r["user"].get("assignedLicenses") or r["user"].get("licenseAssignmentStates"))
           for r in readings.values()):
        try:
            skus = graph.subscribed_skus()
        except D365Error as error:
            module.warn("Licences are named by SKU id: %s" % error.message)
    result = audit.build(environments, readings, skus, module.params["owner_attribute"])
    result["changed"] = False
    return result


def main():
    module = D365Module(
        argument_spec={
            "environments": {"type": "list", "elements": "str", "required": True},
            "owner_attribute": dict(ownership.ARGSPEC["owner_attribute"]),
        },
        supports_check_mode=True,
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
