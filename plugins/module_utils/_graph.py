# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Microsoft Graph v1.0: users, licences, groups (fact sheet §2-§4). Resource methods only."""

from __future__ import annotations

from urllib.parse import quote

from ._errors import NotFoundError
from ._http import ApiClient

USER_READ = "User.Read.All"
USER_WRITE = "User.ReadWrite.All"
LICENSE_READ = "LicenseAssignment.Read.All (or Organization.Read.All)"
LICENSE_WRITE = "LicenseAssignment.ReadWrite.All (or User.ReadWrite.All)"
GROUP_READ = "GroupMember.Read.All (or Group.Read.All)"


def user_path(key):
    """users/{id|UPN}; a UPN starting with '$' must be written users('$x') (§2), and '#'
    (guest UPNs) must be percent-encoded."""
    if key.startswith("$"):
        return "users('%s')" % quote(key.replace("'", "''"), safe="@$'")
    return "users/" + quote(key, safe="@")


def odata_quote(value):
    return "'" + value.replace("'", "''") + "'"


class GraphClient(ApiClient):
    service = "Microsoft Graph"

    def forbidden_hint(self, permission):
        return ("grant the app registration the Microsoft Graph application permission %s and give "
                "admin consent" % (permission or USER_READ))

    def url(self, path):
        return path if path.startswith("https://") else super().url("v1.0/" + path.lstrip("/"))

    # -- users ------------------------------------------------------------------------

    def get_user(self, key, select=None):
        params = {"$select": ",".join(select)} if select else None
        return self.get(user_path(key), params=params, permission=USER_READ)

    def find_user(self, key, select=None):
        """The user, or None when Graph answers 404."""
        try:
            return self.get_user(key, select)
        except NotFoundError:
            return None

    def create_user(self, body):
        return self.request("POST", "users", json_body=body, permission=USER_WRITE).body

    def update_user(self, user_id, body):
        self.request("PATCH", user_path(user_id), json_body=body, permission=USER_WRITE, idempotent=True)

    def delete_user(self, user_id):
        self.request("DELETE", user_path(user_id), permission=USER_WRITE)

    # -- licences ---------------------------------------------------------------------

    def subscribed_skus(self):
        return self.get_all("subscribedSkus", permission=LICENSE_READ)

    def assign_license(self, user_id, add_licenses, remove_licenses):
        """Both keys are always sent: current docs mark removeLicenses required (§3)."""
        body = {"addLicenses": add_licenses, "removeLicenses": remove_licenses}
        return self.request("POST", user_path(user_id) + "/assignLicense", json_body=body,
                            permission=LICENSE_WRITE).body

    # -- groups -----------------------------------------------------------------------

    def get_group(self, group_id, select=("id", "displayName")):
        return self.get("groups/" + quote(group_id), params={"$select": ",".join(select)}, permission=GROUP_READ)
