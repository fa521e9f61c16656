# SPDX-License-Identifier: GPL-3.0-or-later
"""One Dataverse environment behind a real DataverseClient: systemusers, roles, business units and
the organisation functions.

Shapes follow Microsoft's documented exchanges (reference examples dataverse-*.json): rows carry
@odata.etag and their primary key whatever $select says; collections sit under "value"; PATCH with
If-Match: * and $ref associate/disassociate answer 204 (PATCH with Prefer: return=representation 200 and the row); WhoAmI answers PascalCase ids; errors are
{"error": {"code": "0x8004....", "message"}}. Codes and messages match tests/emulator.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.d365.identity.plugins.module_utils._clients.dataverse import (
    SYSTEM_ADMINISTRATOR_TEMPLATE, DataverseClient)
from ansible_collections.d365.identity.tests.unit.fakes import odata
from ansible_collections.d365.identity.tests.unit.fakes.base import Answer, FakeService, collection
from ansible_collections.d365.identity.tests.unit.fakes.identity import CLIENT_ID, TENANT_ID, FakeTokens

ENV_URL = "https://contoso.crm4.dynamics.com"
ENV_ID = "a0865ff4-e4c9-4c80-9945-3bf0af451706"
ORG_ID = "4faf1f34-f06d-e511-80d0-00155db07cb1"
ROOT_BU = "11111111-1111-1111-1111-111111111111"
SALES_BU = "22222222-2222-2222-2222-222222222222"
SYSADMIN_T = SYSTEM_ADMINISTRATOR_TEMPLATE
BASIC_T = "236750cd-45ae-4939-ab12-b24b920ced93"
SALES_T = "c90c4856-4548-461c-9044-54c49c7534d4"
CALLER_ID = "ca11e700-0000-0000-0000-000000000001"
GUID = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}"
SYSTEMUSER_COLUMNS = ("systemuserid", "domainname", "azureactivedirectoryobjectid", "applicationid", "accessmode",
                      "isdisabled", "islicensed", "_businessunitid_value", "fullname", "internalemailaddress",
                      "deletedstate")
ROLE_COLUMNS = ("roleid", "name", "_roletemplateid_value", "_businessunitid_value")
WRITABLE = {"accessmode", "isdisabled", "firstname", "lastname", "domainname", "internalemailaddress", "fullname",
            "azureactivedirectoryobjectid", "applicationid", "businessunitid@odata.bind"}
NON_INTERACTIVE = 4


def dataverse_error_body(code, message):
    """Dataverse's error body (examples/dataverse-error-format.json, without annotations)."""
    return {"error": {"code": code, "message": message}}


def fail(status, code, message):
    return Answer(status, dataverse_error_body(code, message), {"OData-Version": "4.0"})


def role_id(template, business_unit):
    """The role row of a template in a business unit (each business unit has its own copy)."""
    return (template[:24] + business_unit[24:]).lower()


def role_row(name, template, business_unit, role=None):
    return {"roleid": (role or role_id(template, business_unit)).lower(), "name": name,
            "_roletemplateid_value": template, "_businessunitid_value": business_unit}


def standard_roles(business_units=(ROOT_BU, SALES_BU),
                   names=(("Systemadministrator", SYSADMIN_T), ("Basic User", BASIC_T), ("Salesperson", SALES_T))):
    """Each business unit's copy of each role ("Systemadministrator": a German environment's name for it)."""
    return [role_row(name, template, bu) for bu in business_units for name, template in names]


def systemuser(systemuser_id, entra_object_id, domainname, accessmode=0, business_unit=ROOT_BU, isdisabled=False,
               islicensed=True, roles=(), applicationid=None, fullname=None, deletedstate=0):
    """A systemuser row (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/systemuser)
    and the role ids it holds: ``(row, roles)``, as FakeDataverse(users=...) takes them."""
    row = {"systemuserid": systemuser_id.lower(), "domainname": domainname,
           "azureactivedirectoryobjectid": entra_object_id.lower() if entra_object_id else None,
           "applicationid": applicationid, "accessmode": accessmode, "isdisabled": isdisabled,
           "islicensed": islicensed, "_businessunitid_value": business_unit,
           "fullname": fullname or domainname.split("@")[0], "internalemailaddress": domainname,
           "deletedstate": deletedstate}
    return row, [r.lower() for r in roles]


def application_user(systemuser_id=CALLER_ID, application_id=CLIENT_ID, business_unit=ROOT_BU, isdisabled=False,
                     deletedstate=0, roles=(), name="d365.identity automation"):
    """The application user of a client: accessmode 4 like every application user, no licence, named "# <app>".
    deletedstate=1 (with isdisabled=True): a soft-deleted leftover."""
    return systemuser(systemuser_id, service_principal_id(application_id), "%s@contoso.onmicrosoft.com"
                      % application_id, accessmode=NON_INTERACTIVE, business_unit=business_unit, islicensed=False,
                      applicationid=application_id, fullname="# " + name, isdisabled=isdisabled,
                      deletedstate=deletedstate, roles=roles)


def service_principal_id(application_id):
    """The object id of an app's service principal (stands for Entra's; differs from the client id)."""
    return "5c7d7e8e-0000-4000-8000-" + application_id.replace("-", "")[-12:]


class FakeDataverse(FakeService):
    """One environment.

    users: (row, role ids) pairs from systemuser(), or rows with a "roles" list of role ids.
    roles: role rows (role_row(), standard_roles()); business_units: {id: name} (the first is the root).
    caller / caller_roles: the application user the client's token maps to (WhoAmI) and its roles
    (default: System Administrator of the root business unit). It is a systemuser row like any
    other, as in a real environment (accessmode 4, an applicationid).
    environment_id: what RetrieveCurrentOrganization reports (None: an older environment that does
    not report it). max_non_interactive: the cap RetrieveOrganizationResources reports and PATCH enforces;
    permanent_delete_failures: how many of the next permanent deletes of a systemuser fail with 0x80048610;
    apps: {client id: display name} of the tenant's app registrations (an application user can be created
    for these only);
    organization_resources=False: that function answers an error (its online values are unconfirmed).
    security_group: the environment's Entra security group (the admin API reports it).
    """

    real = DataverseClient
    write_methods = frozenset(("update_systemuser", "associate_role", "disassociate_role", "create_application_user",
                               "set_disabled", "move_systemuser", "delete_systemuser", "purge_systemusers"))

    def __init__(self, url=ENV_URL, users=(), roles=None, business_units=None, environment_id=ENV_ID,
                 caller=None, caller_roles=None, max_non_interactive=7, security_group=None, name="Contoso",
                 allow_role_assignment_on_disabled_users=False, organization_resources=True, page_size=None,
                 permanent_delete_failures=0, apps=None, ignores_prefer=False):
        super().__init__()
        self.ignores_prefer = ignores_prefer  # answer a PATCH 204 even when asked for the row
        self.environment_url = url.rstrip("/")
        self.environment_id = environment_id
        self.security_group = security_group
        self.name = name
        self.business_units = dict(business_units or {ROOT_BU: "contoso", SALES_BU: "Sales EU"})
        self.root_business_unit = next(iter(self.business_units))
        self.roles = {r["roleid"]: dict(r) for r in (standard_roles(tuple(self.business_units)) if roles is None
                                                     else roles)}
        self.max_non_interactive = max_non_interactive
        self.organization_resources = organization_resources
        self.allow_role_assignment_on_disabled_users = allow_role_assignment_on_disabled_users
        self.page_size = page_size
        self.permanent_delete_failures = permanent_delete_failures
        self.apps = {k.lower(): v for k, v in (apps or {}).items()}
        self.rows, self.assignments, self._versions = {}, {}, {}
        caller_row, default_roles = caller or application_user(business_unit=self.root_business_unit)
        self.caller_id = caller_row["systemuserid"]
        if caller_roles is None:
            caller_roles = default_roles or [r["roleid"] for r in self.roles.values()
                                             if r["_roletemplateid_value"] == SYSADMIN_T
                                             and r["_businessunitid_value"] == caller_row["_businessunitid_value"]]
        self.add_user(caller_row, caller_roles)
        for user in users:
            self.add_user(*user) if isinstance(user, tuple) else self.add_user(user)

    # -- setting up -------------------------------------------------------------------------

    def add_user(self, row, roles=None):
        row = copy.deepcopy(row)
        roles = list(roles if roles is not None else row.pop("roles", []))
        for role in roles:
            if role not in self.roles:
                raise AssertionError("role %s is not in this environment" % role)
        self.rows[row["systemuserid"]] = row
        self.assignments[row["systemuserid"]] = roles
        self._touch(row["systemuserid"])
        return row

    def _touch(self, systemuser_id):
        self._versions[systemuser_id] = self._versions.get(systemuser_id, 1000) + 1

    def user_rows(self):
        """The systemusers that are people (the caller's application user left out)."""
        return {k: v for k, v in self.rows.items() if k != self.caller_id}

    def roles_of(self, systemuser_id):
        """Names of the roles a systemuser holds, sorted."""
        return sorted(self.roles[r]["name"] for r in self.assignments[systemuser_id.lower()])

    def non_interactive_count(self):
        """Non-interactive users that count against the cap: application users do not."""
        return sum(1 for r in self.rows.values() if r["accessmode"] == NON_INTERACTIVE and not r.get("applicationid"))

    # -- the service --------------------------------------------------------------------------

    def throwaway_client(self):
        return DataverseClient(self.environment_url, self.environment_url + "/.default", FakeTokens(), None,
                               sleep=lambda seconds: None)

    def error(self, status, code, message, method="GET", path="systemusers"):
        """The exception the real DataverseClient raises for this Dataverse error answer."""
        return self.error_from(status, dataverse_error_body(code, message), method, path)

    def _context(self, text):
        return "%s/api/data/v9.2/$metadata#%s" % (self.environment_url, text)

    def _etag(self, key):
        return 'W/"%d"' % self._versions.get(key, 1000)

    def _shape_role(self, role, select):
        names = odata.select_list(select) or ROLE_COLUMNS
        self._check_columns(names, ROLE_COLUMNS, "role")
        return dict({"@odata.etag": 'W/"500"'}, **{k: role.get(k) for k in names if k != "roleid"},
                    roleid=role["roleid"])

    def _shape_user(self, row, select, expand):
        names = odata.select_list(select) or SYSTEMUSER_COLUMNS
        self._check_columns(names, SYSTEMUSER_COLUMNS, "systemuser")
        out = dict({"@odata.etag": self._etag(row["systemuserid"])}, **{k: row.get(k) for k in names})
        out["systemuserid"] = row["systemuserid"]  # the primary key comes whatever $select says
        for nav, nav_select in odata.parse_expand(expand).items():
            if nav != "systemuserroles_association":
                raise fail(400, "0x80060888", "Could not find a property named '%s' on type "
                           "'Microsoft.Dynamics.CRM.systemuser'." % nav)
            out[nav] = [self._shape_role(self.roles[r], nav_select) for r in self.assignments[row["systemuserid"]]]
        return out

    @staticmethod
    def _check_columns(names, known, entity):
        for name in names:
            if name not in known:
                raise fail(400, "0x80060888", "Could not find a property named '%s' on type "
                           "'Microsoft.Dynamics.CRM.%s'." % (name, entity))

    def _page(self, path, query, items, context):
        start = int(query.get("$skiptoken") or 0)
        if not self.page_size or len(items) - start <= self.page_size:
            return collection(items[start:], context)
        rest = "&".join("%s=%s" % (k, v) for k, v in query.items() if k != "$skiptoken")
        link = "%s/api/data/v9.2/%s?$skiptoken=%d%s" % (self.environment_url, path, start + self.page_size,
                                                        "&" + rest if rest else "")
        return collection(items[start:start + self.page_size], context, link)

    def _row(self, key):
        row = self.rows.get(key.lower())
        if row is None:
            raise fail(404, "0x80040217", "systemuser With Id = %s Does Not Exist" % key)
        return row

    def _is_admin(self, systemuser_id):
        return any(self.roles[r]["_roletemplateid_value"] == SYSADMIN_T for r in self.assignments[systemuser_id])

    def handle(self, method, path, query, body, headers):
        # path is relative to the client's base URL, <environment>/api/data/v9.2
        item = re.match(r"^systemusers\((%s)\)(?:/(.*))?$" % GUID, path)
        if path == "systemusers" and method == "GET":
            matches = odata.matcher(query.get("$filter"))
            items = [self._shape_user(r, query.get("$select"), query.get("$expand"))
                     for r in self.rows.values() if matches(r)]
            return 200, self._page(path, query, items, self._context("systemusers")), None
        if item and method == "PATCH" and not item.group(2):
            return self._patch_systemuser(item.group(1), body, headers, query)
        if item and item.group(2):
            return self._role_association(method, self._row(item.group(1)), item.group(2), query, body)
        if path == "roles" and method == "GET":
            matches = odata.matcher(query.get("$filter"))
            items = [self._shape_role(r, query.get("$select")) for r in self.roles.values() if matches(r)]
            return 200, self._page(path, query, items, self._context("roles")), None
        if path == "systemusers" and method == "POST":
            return self._create_application_user(body)
        if item and method == "DELETE" and not item.group(2):
            return self._delete_systemuser(item.group(1))
        if path == "businessunits" and method == "GET":
            matches = odata.matcher(query.get("$filter"))
            items = [self._shape_business_unit(bu_id, query.get("$select")) for bu_id in self.business_units
                     if matches(self._business_unit_row(bu_id))]
            return 200, collection(items, self._context("businessunits")), None
        unit = re.match(r"^businessunits\((%s)\)$" % GUID, path)
        if unit and method == "GET":
            name = self.business_units.get(unit.group(1).lower())
            if name is None:
                raise fail(404, "0x80040217", "businessunit With Id = %s Does Not Exist" % unit.group(1))
            columns = odata.select_list(query.get("$select")) or ("businessunitid", "name")
            full = {"businessunitid": unit.group(1).lower(), "name": name}
            answer = dict({"@odata.context": self._context("businessunits/$entity"), "@odata.etag": 'W/"700"'},
                          **{k: full.get(k) for k in columns})
            answer["businessunitid"] = full["businessunitid"]
            return 200, answer, None
        if path == "WhoAmI()" and method == "GET":
            caller = self.rows[self.caller_id]
            return 200, {"@odata.context": self._context("Microsoft.Dynamics.CRM.WhoAmIResponse"),
                         "BusinessUnitId": caller["_businessunitid_value"], "UserId": self.caller_id,
                         "OrganizationId": ORG_ID}, None
        if path.startswith("RetrieveCurrentOrganization(") and method == "GET":
            return 200, self._current_organization(), None
        if path == "RetrieveOrganizationResources()" and method == "GET":
            if not self.organization_resources:
                raise fail(400, "0x80040800", "The function RetrieveOrganizationResources is not available in this "
                           "environment.")
            return 200, {"@odata.context": self._context("Microsoft.Dynamics.CRM.RetrieveOrganizationResourcesResponse"),
                         "OrganizationResources": {
                             "CurrentNumberOfActiveUsers": sum(1 for r in self.rows.values() if not r["isdisabled"]),
                             "CurrentNumberOfNonInteractiveUsers": self.non_interactive_count(),
                             "MaxNumberOfActiveUsers": -1, "MaxNumberOfNonInteractiveUsers": self.max_non_interactive,
                             "CurrentStorage": 0, "MaxStorage": -1}}, None
        raise fail(404, "0x80060888", "Resource not found for the segment '%s'." % path.split("(")[0].split("/")[0])

    def _business_unit_row(self, bu_id):
        parent = None if bu_id == self.root_business_unit else self.root_business_unit
        return {"businessunitid": bu_id, "name": self.business_units[bu_id], "parentbusinessunitid": parent,
                "_parentbusinessunitid_value": parent}

    def _shape_business_unit(self, bu_id, select):
        row = self._business_unit_row(bu_id)
        names = odata.select_list(select) or ("businessunitid", "name")
        self._check_columns(names, ("businessunitid", "name", "_parentbusinessunitid_value"), "businessunit")
        return dict({"@odata.etag": 'W/"700"'}, **dict({k: row[k] for k in names}, businessunitid=bu_id))

    def _create_application_user(self, body):
        """POST systemusers with applicationid (https://learn.microsoft.com/power-platform/admin/create-dataverseapplicationuser):
        204 + OData-EntityId; a row holding the app id (a soft-deleted one too) -> 412 0x80040237."""
        app_id = str((body or {}).get("applicationid") or "").lower()
        bind = re.match(r"^/businessunits\((%s)\)$" % GUID, str((body or {}).get("businessunitid@odata.bind") or ""))
        if not app_id or not bind:
            raise AssertionError("the fake creates application users only (applicationid + businessunitid@odata.bind)")
        if not self._is_admin(self.caller_id):
            raise fail(403, "0x80040220", "Principal user (Id=%s) is missing prvCreateUser privilege." % self.caller_id)
        if app_id not in self.apps:
            raise fail(400, "0x80040216", "The application %s was not found in Microsoft Entra ID." % app_id)
        if bind.group(1).lower() not in self.business_units:
            raise fail(404, "0x80040217", "businessunit With Id = %s Does Not Exist" % bind.group(1))
        if any((r.get("applicationid") or "").lower() == app_id for r in self.rows.values()):
            raise fail(412, "0x80040237", "A record with matching key values already exists.")
        new_id = "a9900000-0000-4000-8000-%012d" % len(self.rows)
        self.add_user(*application_user(new_id, app_id, bind.group(1).lower(), name=self.apps[app_id]))
        return 204, None, {"OData-Version": "4.0",
                           "OData-EntityId": "%s/api/data/v9.2/systemusers(%s)" % (self.environment_url, new_id)}

    def _delete_systemuser(self, key):
        """A disabled application user: the first DELETE soft-deletes it, the second deletes it permanently
        (https://learn.microsoft.com/power-platform/admin/manage-application-users); codes as in tests/emulator."""
        row = self._row(key)
        if not row.get("applicationid"):
            raise fail(400, "0x80040228", "Only application users can be deleted.")
        if not row["isdisabled"]:
            raise fail(400, "0x80040227", "Only a disabled user can be deleted. Disable the user first.")
        if not row.get("deletedstate"):
            row["deletedstate"] = 1
            self.assignments[row["systemuserid"]] = []
            self._touch(row["systemuserid"])
        elif self.permanent_delete_failures:
            self.permanent_delete_failures -= 1
            raise fail(400, "0x80048610", "The user settings of this user could not be deleted. Try again.")
        else:
            del self.rows[row["systemuserid"]]
        return 204, None, {"OData-Version": "4.0"}

    def _current_organization(self):
        detail = {"OrganizationId": ORG_ID, "FriendlyName": self.name, "OrganizationVersion": "9.2.25101.00193",
                  "DatacenterId": ORG_ID, "Geo": "EU", "TenantId": TENANT_ID,
                  "UrlName": self.environment_url.split("//")[1].split(".")[0], "UniqueName": "unq" + ORG_ID[:8],
                  "Endpoints": {"Count": 1, "IsReadOnly": False, "Keys": ["WebApplication"],
                                "Values": [self.environment_url + "/"]},
                  "State": "Enabled", "OrganizationType": "Customer"}
        if self.environment_id is not None:
            detail["EnvironmentId"] = self.environment_id
        return {"@odata.context": self._context("Microsoft.Dynamics.CRM.RetrieveCurrentOrganizationResponse"),
                "Detail": detail}

    def _patch_systemuser(self, key, body, headers, query):
        if headers.get("If-Match") != "*":
            raise AssertionError("PATCH systemusers without If-Match: * would be an upsert; the fake does not do those")
        row = self._row(key)
        unknown = [k for k in body if k not in WRITABLE]
        if unknown:
            raise fail(400, "0x80060888", "The property '%s' does not exist on type 'Microsoft.Dynamics.CRM.systemuser'."
                       % unknown[0])
        if "accessmode" in body and body["accessmode"] != row["accessmode"]:
            mode = body["accessmode"]
            if not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode <= 5:
                raise fail(400, "0x80044331", "A validation error occurred. The value %s of 'accessmode' on record of "
                           "type 'systemuser' is outside the valid range. Accepted Values: 0,1,2,3,4,5" % mode)
            if not self._is_admin(self.caller_id):
                raise fail(403, "0x80048d2f", "AccessModeChangeNeedSystemAdmin: only a user with the System "
                           "Administrator role and Read-Write access mode can change the access mode of a user.")
            if mode == NON_INTERACTIVE and not row.get("applicationid") and \
                    self.non_interactive_count() >= self.max_non_interactive:
                raise fail(400, "0x80048d14", "The maximum number of non-interactive users (%d) for this environment "
                           "has been reached." % self.max_non_interactive)
        body = dict(body)  # the recorded request keeps what was sent
        bind = body.pop("businessunitid@odata.bind", None)
        if bind:
            bu_id = re.match(r"^/businessunits\((%s)\)$" % GUID, bind).group(1).lower()
            if bu_id != row["_businessunitid_value"]:
                self.assignments[row["systemuserid"]] = []  # Dataverse drops the roles of a user that moves
                row["_businessunitid_value"] = bu_id
        row.update(body)
        self._touch(row["systemuserid"])
        if "return=representation" in headers.get("Prefer", "") and not self.ignores_prefer:  # 200 and the row
            shaped = dict(self._shape_user(row, query.get("$select"), None), **{"@odata.context": self._context("systemusers")})
            return 200, shaped, {"OData-Version": "4.0", "Preference-Applied": "return=representation"}
        return 204, None, {"OData-Version": "4.0"}

    def _role_association(self, method, row, tail, query, body):
        match = re.match(r"^systemuserroles_association(?:\((%s)\))?(/\$ref)?$" % GUID, tail)
        if not match:
            raise fail(404, "0x80060888", "Resource not found for the segment '%s'." % tail.split("/")[0])
        user_id, role_in_path, ref = row["systemuserid"], (match.group(1) or "").lower() or None, bool(match.group(2))
        held = self.assignments[user_id]
        if method == "GET" and not ref and not role_in_path:
            items = [self._shape_role(self.roles[r], query.get("$select")) for r in held]
            return 200, self._page("systemusers(%s)/systemuserroles_association" % user_id, query, items,
                                   self._context("roles")), None
        if method == "POST" and ref and not role_in_path:
            uri = str((body or {}).get("@odata.id") or "")
            found = re.match(r"^%s/api/data/v9\.2/roles\((%s)\)$" % (re.escape(self.environment_url), GUID), uri)
            if not found:
                raise fail(400, "0x80060888", "The URI '%s' is not a valid role reference." % uri)
            role = self.roles.get(found.group(1).lower())
            if role is None:
                raise fail(404, "0x80040217", "role With Id = %s Does Not Exist" % found.group(1))
            if not self._is_admin(self.caller_id):
                raise fail(403, "0x80040220", "Principal user (Id=%s) is missing prvAssignRole privilege." % self.caller_id)
            if row["isdisabled"] and not self.allow_role_assignment_on_disabled_users:
                raise fail(400, "0x80040225", "The specified user(Id = %s) is disabled. Security roles cannot be "
                           "assigned to a disabled user." % user_id)
            if role["_businessunitid_value"] != row["_businessunitid_value"]:
                raise fail(400, "0x80048d19", "Role %s belongs to business unit %s but the user belongs to business "
                           "unit %s. Assign the role of the user's business unit." % (
                               role["roleid"], role["_businessunitid_value"], row["_businessunitid_value"]))
            if role["roleid"] in held:
                raise fail(400, "0x80040237", "Cannot insert duplicate key.")
            held.append(role["roleid"])
            self._touch(user_id)
            return 204, None, {"OData-Version": "4.0"}
        if method == "DELETE" and ref and role_in_path:
            if role_in_path not in self.roles:
                raise fail(404, "0x80040217", "role With Id = %s Does Not Exist" % role_in_path)
            if role_in_path in held:
                held.remove(role_in_path)
                self._touch(user_id)
            return 204, None, {"OData-Version": "4.0"}
        raise fail(405, "0x80060888", "The requested operation %s is not supported." % method)
