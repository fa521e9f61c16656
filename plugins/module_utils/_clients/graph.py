# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Microsoft Graph v1.0: users, licences, groups. Resource methods only.

https://learn.microsoft.com/graph/api/resources/user
"""

from __future__ import annotations

from urllib.parse import quote

from .. import _odata as odata
from .._errors import NotFoundError
from .._transport.http import ApiClient

USER_READ = "User.Read.All"
USER_WRITE = "User.ReadWrite.All"
LICENSE_READ = "LicenseAssignment.Read.All (or Organization.Read.All)"
LICENSE_WRITE = "LicenseAssignment.ReadWrite.All (or User.ReadWrite.All)"
GROUP_READ = "GroupMember.Read.All (or Group.Read.All)"
GROUP_MEMBER_WRITE = "GroupMember.ReadWrite.All"
# A user created moments ago can answer 404 by id or UPN until it has replicated.
NEW_USER_WINDOW = 10.0


def user_path(key):
    """users/{id|UPN}; a UPN starting with '$' must be written users('$x') (user-get), and '#'
    (guest UPNs) must be percent-encoded."""
    if key.startswith("$"):
        return "users('%s')" % quote(key.replace("'", "''"), safe="@$'")
    return "users/" + quote(key, safe="@")


class GraphClient(ApiClient):
    service = "Microsoft Graph"

    def forbidden_hint(self, permission):
        return ("grant the app registration the Microsoft Graph application permission %s and give "
                "admin consent" % (permission or USER_READ))

    def url(self, path):
        return super().url(path if path.startswith("https://") else "v1.0/" + path.lstrip("/"))

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

    def find_user_eventually(self, key, select=None, window=NEW_USER_WINDOW):
        """find_user, re-asking for up to window seconds while Graph answers 404.

        Use it where the user is expected to exist (just created, or created by an earlier
        task): a new user answers 404 for a short while. None once the window has passed.
        """
        delay, waited = 0.5, 0.0
        while True:
            user = self.find_user(key, select)
            if user is not None or waited >= window:
                return user
            delay = min(delay, window - waited)
            self.sleep(delay)
            waited += delay
            delay *= 2

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
        """Both keys are always sent: https://learn.microsoft.com/graph/api/user-assignlicense marks removeLicenses required."""
        body = {"addLicenses": add_licenses, "removeLicenses": remove_licenses}
        return self.request("POST", user_path(user_id) + "/assignLicense", json_body=body,
                            permission=LICENSE_WRITE).body

    # -- groups -----------------------------------------------------------------------

    def get_group(self, group_id, select=("id", "displayName")):
        return self.get("groups/" + quote(group_id), params={"$select": ",".join(select)}, permission=GROUP_READ)

    def find_groups_by_name(self, display_name, select=("id", "displayName")):
        """Every group whose displayName equals display_name (several groups may share a name)."""
        params = {"$filter": "displayName eq " + odata.quote(display_name), "$select": ",".join(select)}
        return self.get_all("groups", params=params, permission=GROUP_READ)

    def group_members(self, group_id, select=("id", "userPrincipalName")):
        """Direct members (users, groups, devices, service principals), every page."""
        return self.get_all("groups/%s/members" % quote(group_id), params={"$select": ",".join(select)},
                            permission=GROUP_READ)

    def directory_object_ref(self, object_id):
        """The @odata.id of a directory object, on this client's Graph host (sovereign clouds, overrides)."""
        return "%s/v1.0/directoryObjects/%s" % (self.base_url, object_id)

    def add_group_member(self, group_id, member_id):
        """POST groups/{id}/members/$ref. Repeating it cannot add twice (Graph answers 400 'already exist')."""
        self.request("POST", "groups/%s/members/$ref" % quote(group_id),
                     json_body={"@odata.id": self.directory_object_ref(member_id)},
                     permission=GROUP_MEMBER_WRITE, idempotent=True)

    def remove_group_member(self, group_id, member_id):
        """DELETE groups/{id}/members/{member id}/$ref; 404 once the member is gone."""
        self.request("DELETE", "groups/%s/members/%s/$ref" % (quote(group_id), quote(member_id)),
                     permission=GROUP_MEMBER_WRITE, idempotent=True)
