# SPDX-License-Identifier: GPL-3.0-or-later
"""Microsoft Graph v1.0 behind a real GraphClient: users, licences, groups, deleted users.

Shapes follow Microsoft's documented exchanges (reference examples graph-*.json): with $select a
user holds exactly the selected properties (not even id is added) and @odata.context names the
projection; POST /users answers 201 with the default property set; PATCH and DELETE answer 204;
assignLicense answers 200 with the user; collections sit under "value"; errors are
{"error": {"code", "message", "innerError": {"request-id", "date"}}}. Status codes, error codes and
messages match tests/emulator (the integration tests' Graph).
"""

from __future__ import annotations

import copy
import re
from urllib.parse import unquote

from ansible_collections.d365.identity.plugins.module_utils._clients.graph import GraphClient
from ansible_collections.d365.identity.tests.unit.fakes import odata
from ansible_collections.d365.identity.tests.unit.fakes.base import Answer, FakeService, collection
from ansible_collections.d365.identity.tests.unit.fakes.identity import TENANT_ID, FakeTokens

GRAPH_URL = "https://graph.microsoft.com"
GRAPH_SCOPE = GRAPH_URL + "/.default"
CREATED = "2026-01-05T09:30:00Z"
# https://learn.microsoft.com/graph/api/user-get: without $select only these come back.
DEFAULT_PROPS = ("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone", "officeLocation",
                 "preferredLanguage", "surname", "userPrincipalName", "id")
EXT_ATTRS = "onPremisesExtensionAttributes"
EXT_KEYS = tuple("extensionAttribute%d" % i for i in range(1, 16))
USER_PROPS = DEFAULT_PROPS + (
    "accountEnabled", "usageLocation", "assignedLicenses", "assignedPlans", "licenseAssignmentStates", "mailNickname",
    "createdDateTime", "deletedDateTime", "userType", "department", "companyName", "passwordProfile",
    "passwordPolicies", "otherMails", "proxyAddresses", "identities", EXT_ATTRS, "onPremisesSyncEnabled")
WRITABLE = {"accountEnabled", "displayName", "givenName", "surname", "mailNickname", "usageLocation", "passwordProfile",
            "jobTitle", "department", "mobilePhone", "officeLocation", "preferredLanguage", "businessPhones",
            "companyName", "userPrincipalName", "mail", "passwordPolicies", "otherMails", "userType", EXT_ATTRS}
REQUIRED_ON_CREATE = ("accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile")
GROUP_PROPS = ("id", "displayName", "description", "securityEnabled", "mailEnabled", "mailNickname", "groupTypes",
               "createdDateTime")
GUID = re.compile(r"^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$", re.IGNORECASE)
ALREADY_MEMBER = "One or more added object references already exist for the following modified properties: 'members'."
UPN_TAKEN = "Another object with the same value for property userPrincipalName already exists."


def graph_error_body(code, message, details=None):
    """Graph's error body (examples/graph-error-format.json)."""
    error = {"code": code, "message": message,
             "innerError": {"date": "2026-01-05T09:30:00", "request-id": "94fb3b52-452a-4535-a601-69e0a90e3aa2",
                            "client-request-id": "94fb3b52-452a-4535-a601-69e0a90e3aa2"}}
    if details:
        error["details"] = details
    return {"error": error}


def not_found(key):
    return Answer(404, graph_error_body("Request_ResourceNotFound", "Resource '%s' does not exist or one of its "
                                        "queried reference-property objects are not present." % key))


def bad_request(message, code="Request_BadRequest", details=None):
    return Answer(400, graph_error_body(code, message, details))


def licence_state(sku_id, disabled_plans=(), group=None, state="Active"):
    """One entry of a user's licenseAssignmentStates (https://learn.microsoft.com/graph/api/resources/licenseassignmentstate)."""
    return {"assignedByGroup": group, "disabledPlans": list(disabled_plans), "error": "None",
            "lastUpdatedDateTime": CREATED, "skuId": sku_id, "state": state}


def graph_sku(sku_id, part_number, plans=(), consumed=0, enabled=0, suspended=0, status="Enabled", applies_to="User"):
    """A subscribedSku (examples/graph-subscribedskus-list.json); plans: (servicePlanId, servicePlanName) pairs."""
    return {"accountName": "Contoso", "accountId": "f97aeefc-af85-414d-8ae4-b457f90efc40", "appliesTo": applies_to,
            "capabilityStatus": status, "consumedUnits": consumed, "id": "%s_%s" % (TENANT_ID, sku_id),
            "prepaidUnits": {"enabled": enabled, "lockedOut": 0, "suspended": suspended, "warning": 0},
            "servicePlans": [{"servicePlanId": plan_id, "servicePlanName": name, "provisioningStatus": "Success",
                              "appliesTo": "User"} for plan_id, name in plans],
            "skuId": sku_id, "skuPartNumber": part_number,
            "subscriptionIds": ["43d26afe-cb98-48b9-acc4-ae3ef2ac6c51"]}


def graph_group(group_id, display_name, members=(), security_group=True):
    """A group (https://learn.microsoft.com/graph/api/resources/group) and its direct member ids."""
    group = {"id": group_id.lower(), "displayName": display_name, "description": None,
             "securityEnabled": security_group, "mailEnabled": not security_group,
             "mailNickname": re.sub(r"\W", "", display_name) or "group", "groupTypes": [],
             "createdDateTime": CREATED}
    return group, [m.lower() for m in members]


def _casefold(value):
    return str(value or "").casefold()


class FakeGraph(FakeService):
    """Microsoft Graph for one tenant.

    users: Graph user objects (any subset of properties; the rest are filled in as Graph would
    hold them: null, [], all 15 extension attributes); licences are the users'
    licenseAssignmentStates (assignedLicenses is derived from them, one entry per SKU).
    skus: subscribedSku objects (graph_sku()); consumedUnits follows assignLicense.
    groups: (group, member ids) pairs from graph_group(), or group dicts with a "members" list.
    deleted: users in directory/deletedItems.
    replication_lag: the next N reads of a user by id or UPN answer 404, as a user created moments
    ago does (the new-user 404 window).
    page_size: collections are paged with @odata.nextLink (the real client follows it).
    domains: the tenant's verified domains (a UPN must use one).
    """

    real = GraphClient
    write_methods = frozenset(("create_user", "update_user", "delete_user", "assign_license", "add_group_member",
                               "remove_group_member"))

    def __init__(self, users=(), skus=(), groups=(), deleted=(), replication_lag=0, page_size=None,
                 domains=("contoso.onmicrosoft.com", "contoso.com")):
        super().__init__()
        self.domains = [d.lower() for d in domains]
        self.users, self.deleted, self.groups, self.members, self.passwords = {}, {}, {}, {}, {}
        self.skus = [copy.deepcopy(s) for s in skus]
        self.replication_lag = replication_lag
        self.page_size = page_size
        self._next_id = 0
        for user in users:
            self.add_user(user)
        for group in groups:
            self.add_group(group)
        for user in deleted:
            user = self._complete(user)
            self.deleted[user["id"]] = dict(user, deletedDateTime=user.get("deletedDateTime") or CREATED)

    # -- setting up -------------------------------------------------------------------------

    def add_user(self, user):
        user = self._complete(user)
        self.users[user["id"]] = user
        return user

    def add_group(self, group, members=None):
        if isinstance(group, tuple):
            group, members = group
        group = dict(group)
        members = list(members if members is not None else group.pop("members", []))
        full = dict(graph_group(group["id"], group["displayName"])[0], **group)
        full["id"] = full["id"].lower()
        self.groups[full["id"]] = full
        self.members[full["id"]] = [m.lower() for m in members]
        return full

    def _new_id(self):
        self._next_id += 1
        return "99999999-0000-4000-8000-%012d" % self._next_id

    def _complete(self, user):
        user = copy.deepcopy(user)
        out = {k: None for k in USER_PROPS}
        out.update(businessPhones=[], otherMails=[], proxyAddresses=[], identities=[], assignedPlans=[],
                   userType="Member", accountEnabled=True, createdDateTime=CREATED)
        states = user.pop("licenseAssignmentStates", None)
        assigned = user.pop("assignedLicenses", None)
        if states is None:
            states = [licence_state(a["skuId"], a.get("disabledPlans") or ()) for a in assigned or []]
        out["licenseAssignmentStates"] = [dict(licence_state(s["skuId"]), **s) for s in states]
        out[EXT_ATTRS] = dict({k: None for k in EXT_KEYS}, **(user.pop(EXT_ATTRS, None) or {}))
        out.update(user)
        out["id"] = (out.get("id") or self._new_id()).lower()
        if out.get("mailNickname") is None and out.get("userPrincipalName"):
            out["mailNickname"] = out["userPrincipalName"].split("@")[0]
        return out

    # -- state as Graph shows it ------------------------------------------------------------------

    def view(self, user):
        """The user with every property Graph holds (what a $select of everything would return)."""
        out = copy.deepcopy(user)
        seen, assigned = set(), []
        for state in user["licenseAssignmentStates"]:
            if _casefold(state["skuId"]) not in seen:
                seen.add(_casefold(state["skuId"]))
                assigned.append({"disabledPlans": list(state["disabledPlans"]), "skuId": state["skuId"]})
        out["assignedLicenses"] = assigned
        out["passwordProfile"] = None
        return out

    def user(self, key):
        """The stored user by id or UPN (any case), as Graph shows it; None when absent."""
        found = self._find(key)
        return self.view(found) if found else None

    def members_of(self, group_id):
        """The member object ids of a group."""
        return list(self.members[group_id.lower()])

    def _find(self, key):
        key = _casefold(key)
        return self.users.get(key) or next((u for u in self.users.values()
                                            if _casefold(u.get("userPrincipalName")) == key), None)

    def _project(self, full, select, known, type_name, default=DEFAULT_PROPS):
        """$select gives exactly the selected properties; without it, the type's default set."""
        names = odata.select_list(select)
        for name in names:
            if name not in known:
                raise bad_request("Parsing OData Select and Expand failed: Could not find a property named '%s' on "
                                  "type 'microsoft.graph.%s'." % (name, type_name), code="BadRequest")
        return {k: copy.deepcopy(full.get(k)) for k in names or default}

    def _context(self, entity_set, select, entity=True):
        names = odata.select_list(select)
        projection = "(%s)" % ",".join(names) if names else ""
        return "%s/v1.0/$metadata#%s%s%s" % (GRAPH_URL, entity_set, projection, "/$entity" if entity else "")

    def _page(self, path, query, items, entity_set):
        start = int(query.get("$skiptoken") or 0)
        if not self.page_size or len(items) - start <= self.page_size:
            return collection(items[start:], self._context(entity_set, query.get("$select"), False))
        rest = "&".join("%s=%s" % (k, v) for k, v in query.items() if k != "$skiptoken")
        link = "%s/v1.0/%s?$skiptoken=%d%s" % (GRAPH_URL, path, start + self.page_size, "&" + rest if rest else "")
        return collection(items[start:start + self.page_size], self._context(entity_set, query.get("$select"), False),
                          link)

    # -- the service ----------------------------------------------------------------------------

    def throwaway_client(self):
        return GraphClient(GRAPH_URL, GRAPH_SCOPE, FakeTokens(), None, sleep=lambda seconds: None)

    def error(self, status, code, message, method="GET", path="users", details=None):
        """The exception the real GraphClient raises for this Graph error answer."""
        return self.error_from(status, graph_error_body(code, message, details), method, path)

    def upn_taken_error(self):
        return self.error(400, "Request_BadRequest", UPN_TAKEN, "POST", "users",
                          [{"code": "ObjectConflict", "message": UPN_TAKEN, "target": "userPrincipalName"}])

    def handle(self, method, path, query, body, headers):
        if not path.startswith("v1.0/"):
            raise bad_request("Invalid version: %s" % path.split("/")[0], code="BadRequest")
        path = path[len("v1.0/"):].rstrip("/")
        user_match = re.match(r"^users(?:/([^/]+)|\('((?:[^']|'')*)'\))(?:/(.*))?$", path)
        if path == "users" and method == "POST":
            return self._create_user(body)
        if user_match:
            key = unquote(user_match.group(1) or user_match.group(2).replace("''", "'"))
            return self._user_item(method, key, user_match.group(3) or "", query, body)
        if path == "subscribedSkus" and method == "GET":
            return 200, self._page(path, query, [copy.deepcopy(s) for s in self.skus], "subscribedSkus"), None
        if path.startswith("groups"):
            return self._groups(method, path.split("/"), query, body)
        if path == "directory/deletedItems/microsoft.graph.user" and method == "GET":
            items = [dict({"@odata.type": "#microsoft.graph.user"},
                          **self._project(self.view(u), query.get("$select"), USER_PROPS, "user"))
                     for u in self.deleted.values()]
            return 200, self._page(path, query, items, "directoryObjects"), None
        raise bad_request("Resource not found for the segment '%s'." % path.split("/")[0], code="BadRequest")

    def _user_item(self, method, key, sub, query, body):
        if method == "GET" and not sub:
            if self.replication_lag > 0:
                self.replication_lag -= 1
                raise not_found(key)
            user = self._find(key)
            if user is None:
                raise not_found(key)
            projected = self._project(self.view(user), query.get("$select"), USER_PROPS, "user")
            return 200, dict({"@odata.context": self._context("users", query.get("$select"))}, **projected), None
        user = self._find(key)
        if user is None:
            raise not_found(key)
        if method == "PATCH" and not sub:
            self._check_properties(body, user)
            self._apply(user, body)
            return 204, None, None
        if method == "DELETE" and not sub:
            del self.users[user["id"]]
            for members in self.members.values():
                if user["id"] in members:
                    members.remove(user["id"])
            self.deleted[user["id"]] = dict(user, deletedDateTime=CREATED)
            return 204, None, None
        if method == "POST" and sub == "assignLicense":
            self._assign_license(user, body)
            answer = {k: v for k, v in self.view(user).items() if k in DEFAULT_PROPS + ("accountEnabled", "assignedLicenses")}
            return 200, dict({"@odata.context": self._context("users", None)}, **answer), None
        raise bad_request("Unsupported request %s users/%s/%s." % (method, key, sub), code="BadRequest")

    def _check_properties(self, body, user=None):
        unknown = [k for k in body if k not in WRITABLE and not k.startswith("@")]
        if unknown:
            raise bad_request("Invalid property '%s'." % unknown[0])
        usage = body.get("usageLocation")
        if usage is not None and not re.fullmatch(r"[A-Z]{2}", str(usage)):
            raise bad_request("Invalid value specified for property 'usageLocation' of resource 'User'.")
        for key in body.get(EXT_ATTRS) or {}:
            if key not in EXT_KEYS:
                raise bad_request("Invalid property '%s'." % key)
        upn = body.get("userPrincipalName")
        if upn is not None:
            if "@" not in upn or upn.rpartition("@")[2].lower() not in self.domains:
                raise bad_request("The domain portion of the userPrincipalName property is invalid. You must use one "
                                  "of the verified domain names in your organization.",
                                  details=[{"code": "InvalidValue", "target": "userPrincipalName"}])
            other = self._find(upn)
            if other is not None and other is not user:
                raise bad_request(UPN_TAKEN, details=[{"code": "ObjectConflict", "message": UPN_TAKEN,
                                                       "target": "userPrincipalName"}])

    def _apply(self, user, body):
        for key, value in body.items():
            if key == "passwordProfile":
                self.passwords[user["id"]] = dict(value)
            elif key == EXT_ATTRS:
                user[EXT_ATTRS].update(value)  # named keys are set (null clears one), the others keep their value
            else:
                user[key] = value

    def _create_user(self, body):
        for prop in REQUIRED_ON_CREATE:
            if body.get(prop) in (None, ""):
                raise bad_request("A value is required for property '%s' of resource 'User'." % prop)
        if not (body["passwordProfile"] or {}).get("password"):
            raise bad_request("Invalid value specified for property 'passwordProfile' of resource 'User'.")
        self._check_properties(body)
        user = self._complete({"id": self._new_id(), "userPrincipalName": body["userPrincipalName"]})
        self._apply(user, body)
        self.users[user["id"]] = user
        answer = {k: user[k] for k in DEFAULT_PROPS}
        return 201, dict({"@odata.context": "%s/v1.0/$metadata#users/$entity" % GRAPH_URL}, **answer), None

    def _sku(self, sku_id):
        return next((s for s in self.skus if _casefold(s["skuId"]) == _casefold(sku_id)), None)

    def _assign_license(self, user, body):
        for key in ("addLicenses", "removeLicenses"):  # both are required (may be empty)
            if not isinstance((body or {}).get(key), list):
                raise bad_request("Invalid value specified for property '%s' of resource 'User'." % key)
        states = user["licenseAssignmentStates"]
        direct = {_casefold(s["skuId"]) for s in states if not s["assignedByGroup"]}
        for entry in body["addLicenses"]:
            sku = self._sku(entry.get("skuId"))
            if sku is None:
                raise bad_request("License %s does not correspond to a valid company License." % entry.get("skuId"))
            plans = {_casefold(p["servicePlanId"]) for p in sku["servicePlans"]}
            if any(_casefold(p) not in plans for p in entry.get("disabledPlans") or []):
                raise bad_request("Invalid value specified for property 'disabledPlans' of resource 'User'.")
        for sku_id in body["removeLicenses"]:
            if self._sku(sku_id) is None:
                raise bad_request("License %s does not correspond to a valid company License." % sku_id)
            if _casefold(sku_id) not in direct:
                if any(_casefold(s["skuId"]) == _casefold(sku_id) for s in states):
                    raise bad_request("User license is inherited from a group membership and it cannot be removed "
                                      "directly from the user.")
                raise bad_request("User does not have a corresponding license.")
        if body["addLicenses"] and not user.get("usageLocation"):
            raise bad_request("License assignment cannot be done for user with invalid usage location.")
        held = {_casefold(s["skuId"]) for s in states}
        for entry in body["addLicenses"]:
            sku = self._sku(entry["skuId"])
            if _casefold(sku["skuId"]) not in held and sku["consumedUnits"] >= sku["prepaidUnits"]["enabled"]:
                raise bad_request("Subscription with SKU %s (%s) does not have any available licenses."
                                  % (sku["skuId"], sku["skuPartNumber"]))
        changed = {_casefold(s) for s in body["removeLicenses"]} | {_casefold(a["skuId"]) for a in body["addLicenses"]}
        kept = [s for s in states if s["assignedByGroup"] or _casefold(s["skuId"]) not in changed]
        kept += [licence_state(self._sku(a["skuId"])["skuId"], a.get("disabledPlans") or ()) for a in body["addLicenses"]]
        user["licenseAssignmentStates"] = kept
        now = {_casefold(s["skuId"]) for s in kept}
        for sku in self.skus:
            key = _casefold(sku["skuId"])
            sku["consumedUnits"] += int(key in now) - int(key in held)

    def _groups(self, method, parts, query, body):
        if len(parts) == 1 and method == "GET":
            matches = odata.matcher(query.get("$filter"))
            items = [self._project(g, query.get("$select"), GROUP_PROPS, "group", GROUP_PROPS)
                     for g in self.groups.values() if matches(g)]
            return 200, self._page("groups", query, items, "groups"), None
        group = self.groups.get(parts[1].lower())
        if group is None:
            raise not_found(parts[1])
        tail = parts[2:]
        if not tail and method == "GET":
            projected = self._project(group, query.get("$select"), GROUP_PROPS, "group", GROUP_PROPS)
            return 200, dict({"@odata.context": self._context("groups", query.get("$select"))}, **projected), None
        if tail == ["members"] and method == "GET":
            items = []
            for member_id in self.members[group["id"]]:
                if member_id in self.users:
                    obj, kind = self.view(self.users[member_id]), "user"
                elif member_id in self.groups:
                    obj, kind = self.groups[member_id], "group"
                else:  # a device or service principal: the fake knows its id only
                    obj, kind = {"id": member_id}, "directoryObject"
                # $select on directoryObjects: each member gets the selected properties its type has.
                projected = {k: v for k, v in self._project(obj, query.get("$select"), USER_PROPS + GROUP_PROPS,
                                                            "directoryObject", ("id",)).items() if k in obj}
                items.append(dict({"@odata.type": "#microsoft.graph." + kind}, **projected))
            return 200, self._page("groups/%s/members" % group["id"], query, items, "directoryObjects"), None
        if tail == ["members", "$ref"] and method == "POST":
            ref = str((body or {}).get("@odata.id") or "")
            match = re.match(r"^%s/v1\.0/directoryObjects/([0-9a-fA-F-]{36})$" % re.escape(GRAPH_URL), ref)
            if not match:
                raise bad_request("Invalid object identifier '%s'." % ref)
            member_id = match.group(1).lower()
            if member_id not in self.users and member_id not in self.groups:
                raise not_found(member_id)
            if member_id in self.members[group["id"]]:
                raise bad_request(ALREADY_MEMBER)
            self.members[group["id"]].append(member_id)
            return 204, None, None
        if len(tail) == 3 and tail[0] == "members" and tail[2] == "$ref" and method == "DELETE":
            if tail[1].lower() not in self.members[group["id"]]:
                raise not_found(tail[1])
            self.members[group["id"]].remove(tail[1].lower())
            return 204, None, None
        raise bad_request("Unsupported request %s groups/%s." % (method, "/".join(parts[1:])), code="BadRequest")
