# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Power Platform admin API (BAP): environments and the forced user sync
(https://learn.microsoft.com/power-platform/admin/programmability-authentication)."""

from __future__ import annotations

from urllib.parse import quote

from .._transport.http import ApiClient

ENVIRONMENTS_API_VERSION = "2020-10-01"
# terraform-provider-power-platform's version for addUser.
ADD_USER_API_VERSION = "2023-06-01"
ADMIN_APP = ("register the client as a Power Platform admin management application "
             "(PUT .../adminApplications/{client_id}, done once by a Power Platform admin; "
             "pac admin application register)")


class AdminApiClient(ApiClient):
    service = "Power Platform admin API"

    def forbidden_hint(self, permission):
        return permission or ADMIN_APP

    def url(self, path):
        return super().url(path if path.startswith("https://") else "providers/Microsoft.BusinessAppPlatform/" + path.lstrip("/"))

    def environments(self):
        return self.get_all("scopes/admin/environments", params={"api-version": ENVIRONMENTS_API_VERSION})

    def environment_id_for_url(self, environment_url):
        """Environment id (BAP 'name') whose instanceUrl is environment_url, or None."""
        wanted = environment_url.rstrip("/").lower()
        for env in self.environments():
            linked = (env.get("properties") or {}).get("linkedEnvironmentMetadata") or {}
            if (linked.get("instanceUrl") or "").rstrip("/").lower() == wanted:
                return env.get("name")
        return None

    def add_user(self, environment_id, object_id):
        """Force the sync of one Entra user into the environment's Dataverse."""
        return self.request("POST", "scopes/admin/environments/%s/addUser" % quote(environment_id),
                            params={"api-version": ADD_USER_API_VERSION}, json_body={"objectId": object_id}).body
