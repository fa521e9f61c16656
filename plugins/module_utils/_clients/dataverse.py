# Copyright (c) d365.identity contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to d365.identity: may change in any release.
"""Dataverse Web API: systemusers, roles, organisation functions
(https://learn.microsoft.com/power-apps/developer/data-platform/webapi/overview)."""

from __future__ import annotations

import re

from ansible.module_utils.basic import env_fallback

from .._errors import ApiError, NotFoundError
from .._odata import guid
from .._transport.http import ApiClient

API_VERSION = "v9.2"  # default of dataverse_api_version

DATAVERSE_ARGSPEC = {
    "environment_url": {"type": "str", "aliases": ["org_url"],
                        "fallback": (env_fallback, ["D365_ENVIRONMENT_URL"])},
    "dataverse_api_version": {"type": "str", "default": API_VERSION},
}

SYSTEM_ADMINISTRATOR_TEMPLATE = "627090ff-40a3-4053-8790-584edc5be201"
# A permanent delete of an application user can fail once on the user's own usersettings row; sending it
# again works (terraform-provider-power-platform issue #1249).
USERSETTINGS_DELETE_CODE = "0x80048610"
_ENTITY_ID = re.compile(r"\(([0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12})\)\s*$")  # OData-EntityId
APP_USER_ROLE = "an application user for this client with the System Administrator security role"


class DataverseClient(ApiClient):
    default_headers = {
        "Accept": "application/json",
        "OData-MaxVersion": "4.0",
        "OData-Version": "4.0",
    }

    def __init__(self, environment_url, *args, **kwargs):
        self.environment_url = environment_url.rstrip("/")
        self.api_version = kwargs.pop("api_version", None) or API_VERSION  # also for an empty option
        super().__init__(self.environment_url + "/api/data/" + self.api_version, *args, **kwargs)
        self.service = "Dataverse " + self.environment_url

    def forbidden_hint(self, permission):
        return ("the client needs %s in %s (Power Platform admin center > Environment > Settings > "
                "Application users)" % (permission or APP_USER_ROLE, self.environment_url))

    def entity_uri(self, entity_set, row_id):
        """Absolute URI as @odata.id needs it for $ref (associate-disassociate-entities-using-web-api)."""
        return "%s/%s(%s)" % (self.base_url, entity_set, row_id)

    # -- systemusers -------------------------------------------------------------------

    def find_systemusers(self, filter_expr, select, expand=None):
        params = {"$filter": filter_expr, "$select": ",".join(select)}
        if expand:
            params["$expand"] = expand
        return self.get_all("systemusers", params=params)

    def update_systemuser(self, systemuser_id, body, select=None):
        """If-Match: * makes PATCH update-only: without it a missing id would be created
        (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api).
        With select, the row as it is after the update (return=representation, 200), else None
        (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api#update-with-data-returned)."""
        headers = {"If-Match": "*"}
        params = None
        if select:
            headers["Prefer"] = "return=representation"
            params = {"$select": ",".join(select)}
        answer = self.request("PATCH", "systemusers(%s)" % guid(systemuser_id, "systemuserid"), params=params,
                              json_body=body, headers=headers, idempotent=True)
        return answer.body if select and isinstance(answer.body, dict) else None

    # -- application users (https://learn.microsoft.com/power-platform/admin/manage-application-users) --------

    def application_user_rows(self, application_id, select, expand=None):
        """Every systemuser holding this client id, soft-deleted ones (deletedstate 1) included: callers decide."""
        return self.find_systemusers("applicationid eq %s" % guid(application_id, "application_id"), select, expand)

    def create_application_user(self, application_id, business_unit_id):
        """POST systemusers; the new systemuserid, from OData-EntityId (204) or the body (201, return=representation).
        Dataverse fills the name and the object id from Microsoft Entra ID."""
        answer = self.request("POST", "systemusers", json_body={
            "applicationid": guid(application_id, "application_id"), "accessmode": 4, "isdisabled": False,
            "businessunitid@odata.bind": "/businessunits(%s)" % guid(business_unit_id, "businessunitid")})
        found = (answer.body or {}).get("systemuserid") if isinstance(answer.body, dict) else None
        if not found:
            match = _ENTITY_ID.search(answer.headers.get("OData-EntityId") or "")
            found = match.group(1) if match else None
        if not found:
            raise ApiError("%s POST systemusers answered HTTP %d without the new row's id (no OData-EntityId)." % (
                self.service, answer.status), status=answer.status)
        return found.lower()

    def set_disabled(self, systemuser_id, disabled):
        self.update_systemuser(systemuser_id, {"isdisabled": bool(disabled)})

    def move_systemuser(self, systemuser_id, business_unit_id):
        """Dataverse removes the user's security roles when it changes business unit."""
        self.update_systemuser(systemuser_id, {
            "businessunitid@odata.bind": "/businessunits(%s)" % guid(business_unit_id, "businessunitid")})

    def delete_systemuser(self, systemuser_id, retry_codes=(USERSETTINGS_DELETE_CODE,)):
        """DELETE systemusers(<id>): soft-deletes a disabled application user, or permanently deletes a
        soft-deleted one. A refusal with a code in retry_codes is sent once more. False when already gone."""
        path = "systemusers(%s)" % guid(systemuser_id, "systemuserid")
        try:
            return self._delete(path)
        except ApiError as error:
            if isinstance(error, NotFoundError) or (error.code or "").lower() not in retry_codes:
                raise
        return self._delete(path)

    def _delete(self, path):
        try:
            self.request("DELETE", path, idempotent=True)
        except NotFoundError:
            return False
        return True

    def purge_systemusers(self, systemuser_ids):
        """Permanently delete soft-deleted rows (their DELETE is the permanent one); the ids that were there."""
        return [row_id for row_id in systemuser_ids if self.delete_systemuser(row_id)]

    # -- roles --------------------------------------------------------------------------

    def roles(self, filter_expr, select=("roleid", "name", "_roletemplateid_value", "_businessunitid_value")):
        return self.get_all("roles", params={"$filter": filter_expr, "$select": ",".join(select)})

    def user_roles(self, systemuser_id,
                   select=("roleid", "name", "_roletemplateid_value", "_businessunitid_value")):
        return self.get_all("systemusers(%s)/systemuserroles_association" % guid(systemuser_id, "systemuserid"),
                            params={"$select": ",".join(select)})

    def associate_role(self, systemuser_id, role_id):
        self.request("POST", "systemusers(%s)/systemuserroles_association/$ref" % guid(systemuser_id, "systemuserid"),
                     json_body={"@odata.id": self.entity_uri("roles", guid(role_id, "roleid"))})

    def disassociate_role(self, systemuser_id, role_id):
        self.request("DELETE", "systemusers(%s)/systemuserroles_association(%s)/$ref" % (
            guid(systemuser_id, "systemuserid"), guid(role_id, "roleid")), idempotent=True)

    # -- organisation ----------------------------------------------------------------------

    def whoami(self):
        return self.get("WhoAmI()")

    def current_organization(self):
        return self.get("RetrieveCurrentOrganization(AccessType=Microsoft.Dynamics.CRM.EndpointAccessType'Default')")

    def organization_resources(self):
        return self.get("RetrieveOrganizationResources()")

    # -- business units ------------------------------------------------------------------

    def business_units(self, filter_expr=None, select=("businessunitid", "name")):
        params = {"$select": ",".join(select)}
        if filter_expr:
            params["$filter"] = filter_expr
        return self.get_all("businessunits", params=params)

    def business_unit(self, business_unit_id, select=("businessunitid", "name")):
        return self.get("businessunits(%s)" % guid(business_unit_id, "businessunitid"),
                        params={"$select": ",".join(select)})
