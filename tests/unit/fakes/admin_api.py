# SPDX-License-Identifier: GPL-3.0-or-later
"""The Power Platform admin API (BAP) behind a real AdminApiClient: the environment list and the
forced user sync (addUser).

The environment list follows examples/bap-environments-list.json (the id is "name", the Dataverse
URL is properties.linkedEnvironmentMetadata.instanceUrl with a trailing slash). addUser's REST call
is not documented with an example; its answers (200 {}, ARM-style errors such as userNotLicensed)
match tests/emulator, which follows terraform-provider-power-platform.
"""

from __future__ import annotations

import re

from ansible_collections.d365.identity.plugins.module_utils._clients.admin_api import AdminApiClient
from ansible_collections.d365.identity.tests.unit.fakes.base import Answer, FakeService
from ansible_collections.d365.identity.tests.unit.fakes.dataverse import systemuser
from ansible_collections.d365.identity.tests.unit.fakes.identity import TENANT_ID, FakeTokens

ADMIN_API_URL = "https://api.bap.microsoft.com"
ADMIN_API_SCOPE = "https://service.powerapps.com/.default"
PREFIX = "providers/Microsoft.BusinessAppPlatform/"


def bap_error_body(code, message):
    return {"error": {"code": code, "message": message}}


def fail(status, code, message):
    return Answer(status, bap_error_body(code, message))


def bap_environment(environment_id, instance_url, name="Contoso", security_group=None):
    """One entry of GET scopes/admin/environments (examples/bap-environments-list.json, without $expand)."""
    host = instance_url.split("//")[1].split("/")[0]
    return {"id": "/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments/" + environment_id,
            "type": "Microsoft.BusinessAppPlatform/scopes/environments", "location": "europe", "name": environment_id,
            "properties": {
                "azureRegion": "westeurope", "displayName": name, "createdTime": "2026-01-05T09:30:00Z",
                "provisioningState": "Succeeded", "creationType": "User", "environmentSku": "Production",
                "isDefault": False, "databaseType": "CommonDataService",
                "linkedEnvironmentMetadata": {
                    "resourceId": "3b48b422-0b37-4070-8054-601867eb8b23", "friendlyName": name,
                    "uniqueName": "unq" + environment_id.replace("-", "")[:12], "domainName": host.split(".")[0],
                    "version": "9.2.25101.00193", "instanceUrl": instance_url.rstrip("/") + "/",
                    "instanceApiUrl": "https://%s" % host.replace(".crm", ".api.crm", 1), "baseLanguage": 1033,
                    "instanceState": "Ready", "backgroundOperationsState": "Enabled", "platformSku": "Standard",
                    "securityGroupId": security_group},
                "states": {"management": {"id": "Ready"}, "runtime": {"id": "Enabled"}},
                "connectedGroups": []}}


class FakeAdmin(FakeService):
    """The admin API of one tenant (a FakeTenant links it to its Graph and environments).

    instance_urls: the Dataverse URLs the admin API lists, when not every environment of the tenant
    (a URL of another tenant's environment is not listed). addUser syncs an Entra user of the
    tenant's Graph into the environment's systemusers at once; it refuses a user that is unknown,
    disabled, or outside the environment's security group.
    """

    real = AdminApiClient
    write_methods = frozenset(("add_user",))

    def __init__(self, instance_urls=None):
        super().__init__()
        self.instance_urls = None if instance_urls is None else [u.rstrip("/") for u in instance_urls]
        self.tenant = None

    def throwaway_client(self):
        return AdminApiClient(ADMIN_API_URL, ADMIN_API_SCOPE, FakeTokens(), None, sleep=lambda seconds: None)

    def error(self, status, code, message, method="POST", path="scopes/admin/environments"):
        """The exception the real AdminApiClient raises for this admin API error answer."""
        return self.error_from(status, bap_error_body(code, message), method, path)

    def _environments(self):
        known = dict(self.tenant.environments) if self.tenant else {}
        urls = list(known) if self.instance_urls is None else self.instance_urls
        out = []
        for index, url in enumerate(urls):
            env = known.get(url.lower())
            if env is not None:
                out.append(bap_environment(env.environment_id or "e0000000-0000-4000-8000-%012d" % index,
                                           env.environment_url, env.name, env.security_group))
            else:
                out.append(bap_environment("e0000000-0000-4000-8000-%012d" % index, url))
        return out

    def handle(self, method, path, query, body, headers):
        if not path.startswith(PREFIX):
            raise fail(404, "ResourceNotFound", "The resource '%s' was not found." % path)
        path = path[len(PREFIX):]
        if path == "scopes/admin/environments" and method == "GET":
            return 200, {"value": self._environments()}, None
        add = re.match(r"^scopes/admin/environments/([^/]+)/addUser$", path)
        if add and method == "POST":
            return self._add_user(add.group(1), body)
        raise fail(404, "ResourceNotFound", "The resource '%s' was not found." % path)

    def _add_user(self, environment_id, body):
        env = next((e for e in (self.tenant.environments.values() if self.tenant else ())
                    if (e.environment_id or "").lower() == environment_id.lower()), None)
        listed = {e["name"] for e in self._environments()}
        if env is None or environment_id not in listed:
            raise fail(404, "EnvironmentNotFound", "The environment '%s' could not be found in the tenant '%s'."
                       % (environment_id, TENANT_ID))
        oid = str((body or {}).get("objectId") or "").lower()
        if not oid:
            raise fail(400, "InvalidRequestContent", "The request content must contain 'objectId'.")
        user = self.tenant.graph.users.get(oid)
        if user is None:
            raise fail(404, "UserNotFound", "The user '%s' could not be found in the tenant '%s'." % (oid, TENANT_ID))
        if not user.get("accountEnabled"):
            raise fail(400, "userDisabled", "The user '%s' is disabled in Microsoft Entra ID." % oid)
        group = (env.security_group or "").lower()
        if group and oid not in self.tenant.graph.members.get(group, []):
            raise fail(400, "userNotPartOfSecurityGroup", "The user '%s' is not a member of the security group '%s' "
                       "of the environment '%s'." % (oid, group, environment_id))
        if not any(r.get("azureactivedirectoryobjectid") == oid for r in env.rows.values()):
            number = len(env.rows) + 1
            env.add_user(*systemuser("bbbbbbbb-0000-4000-8000-%012d" % number, oid, user["userPrincipalName"],
                                     business_unit=env.root_business_unit))
        return 200, {}, None
