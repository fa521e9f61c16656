"""Shared Graph helpers: permission check, error/throttle bodies, user projection, paging. Fact sheet §2-§4."""
import time
from urllib.parse import urlencode

from . import odata
from .httpio import HttpError, Response, graph_error
from .throttling import retry_after_fractional

DEFAULT_PROPS = ["businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                 "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"]  # §2 get-1 example
EXTRA_PROPS = ["accountEnabled", "usageLocation", "assignedLicenses", "assignedPlans", "licenseAssignmentStates",
               "mailNickname", "createdDateTime", "deletedDateTime", "userType", "department", "companyName",
               "city", "country", "employeeId", "passwordProfile", "passwordPolicies", "onPremisesImmutableId",
               "otherMails", "proxyAddresses", "identities", "streetAddress", "postalCode", "state",
               "onPremisesExtensionAttributes", "onPremisesSyncEnabled"]  # §2b: only when named in $select
ALL_PROPS = DEFAULT_PROPS + EXTRA_PROPS
WRITABLE = {"accountEnabled", "displayName", "givenName", "surname", "mailNickname", "usageLocation",
            "passwordProfile", "jobTitle", "department", "mobilePhone", "officeLocation", "preferredLanguage",
            "businessPhones", "companyName", "city", "country", "employeeId", "userPrincipalName", "mail",
            "passwordPolicies", "onPremisesImmutableId", "otherMails", "streetAddress", "postalCode", "state",
            "userType", "onPremisesExtensionAttributes"}  # §2b: settable in POST /users and PATCH
# §2b extension attributes: fixed names 1..15, each value at most 1024 characters.
EXT_ATTRS = "onPremisesExtensionAttributes"
EXT_ATTR_KEYS = [f"extensionAttribute{i}" for i in range(1, 16)]
EXT_ATTR_MAX_LENGTH = 1024
# §2b: filterable as onPremisesExtensionAttributes/extensionAttributeN, only as an advanced query.
ADVANCED_FILTER_PROPS = [f"{EXT_ATTRS}/{k}" for k in EXT_ATTR_KEYS]

READ_USERS = ("User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
WRITE_USERS = ("User.ReadWrite.All", "Directory.ReadWrite.All")
ASSIGN_LICENSE = ("LicenseAssignment.ReadWrite.All", "User.ReadWrite.All", "Directory.ReadWrite.All")
READ_SKUS = ("LicenseAssignment.Read.All", "LicenseAssignment.ReadWrite.All", "Organization.Read.All",
             "Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All")
READ_GROUPS = ("Group.Read.All", "Group.ReadWrite.All", "GroupMember.Read.All", "GroupMember.ReadWrite.All",
               "Directory.Read.All", "Directory.ReadWrite.All")
WRITE_MEMBERS = ("GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All")


def _auth_fail(req):
    messages = {"missing": "Access token is empty.",
                "malformed": "IDX14100: JWT is not well formed, there are no dots (.).",
                "expired": "Lifetime validation failed, the token is expired.",
                "audience": "Access token validation failure. Invalid audience.",
                "tenant": "Access token validation failure. Invalid issuer or signature."}
    return lambda reason: graph_error(req, 401, "InvalidAuthenticationToken", messages[reason],
                                      headers={"WWW-Authenticate": 'Bearer realm="", authorization_uri='
                                               '"https://login.microsoftonline.com/common/oauth2/authorize"'})


def require(req, claims, allowed):
    granted = set(claims.get("roles") or []) | set((claims.get("scp") or "").split())
    if not granted & set(allowed):
        raise graph_error(req, 403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def throttled(req, wait):
    # examples/graph-throttling-429.json: fractional Retry-After and this exact body shape (§4).
    body = {"error": {"code": "TooManyRequests",
                      "innerError": {"code": "429", "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
                                     "message": "Please retry after", "request-id": req.request_id,
                                     "status": "429"},
                      "message": "Please retry again later."}}
    return HttpError(Response(429, body, {"Retry-After": retry_after_fractional(wait)}))


def full_user(server, user):
    st = server.state
    per_user, dummy = st.license_states()
    states = per_user.get(user["id"], [])
    active = st.active_skus(user["id"])
    plans = []
    for sku_id, disabled in active.items():
        for p in st.skus.get(sku_id, {}).get("servicePlans", []):
            if p["servicePlanId"] not in disabled:
                plans.append({"assignedDateTime": user["createdDateTime"], "capabilityStatus": "Enabled",
                              "service": p["servicePlanName"], "servicePlanId": p["servicePlanId"]})
    seen, assigned = set(), []
    for s in states:  # assignedLicenses lists effective (direct and inherited) licences once each
        if s["skuId"] not in seen:
            seen.add(s["skuId"])
            assigned.append({"disabledPlans": s["disabledPlans"], "skuId": s["skuId"]})
    extra = user["extra"]
    return {
        "businessPhones": extra.get("businessPhones", []), "displayName": user["displayName"],
        "givenName": user.get("givenName"), "jobTitle": extra.get("jobTitle"), "mail": extra.get("mail"),
        "mobilePhone": extra.get("mobilePhone"), "officeLocation": extra.get("officeLocation"),
        "preferredLanguage": extra.get("preferredLanguage"), "surname": user.get("surname"),
        "userPrincipalName": user["userPrincipalName"], "id": user["id"],
        "accountEnabled": user["accountEnabled"], "usageLocation": user.get("usageLocation"),
        "assignedLicenses": assigned, "assignedPlans": plans,
        "licenseAssignmentStates": [dict(s) for s in states],
        "mailNickname": user["mailNickname"], "createdDateTime": user["createdDateTime"],
        "deletedDateTime": user.get("deletedDateTime"), "userType": extra.get("userType", "Member"),
        "passwordProfile": None, **{k: extra.get(k) for k in EXTRA_PROPS if k in extra and k != "userType"},
        # §2b: all 15 keys, null when unset; null onPremisesSyncEnabled = cloud-only (never synced)
        EXT_ATTRS: {k: user.get("ext_attrs", {}).get(k) for k in EXT_ATTR_KEYS},
        "onPremisesSyncEnabled": user.get("onPremisesSyncEnabled"),
    }


def project(req, full, context, default=None, known=None, type_name="user"):
    """$select returns exactly the selected properties (examples/graph-users-get-2.json)."""
    default = DEFAULT_PROPS if default is None else default
    known = ALL_PROPS if known is None else known
    select = odata.parse_select(req.query.get("$select"))
    for name in select:
        if name not in known:
            raise graph_error(req, 400, "BadRequest", "Parsing OData Select and Expand failed: Could not find a "
                              f"property named '{name}' on type 'microsoft.graph.{type_name}'.")
    names = select or default
    return {k: full.get(k) for k in names}, select


def get_user_or_404(server, req, key):
    user = server.state.find_user(key, include_new=False)
    if user is None:
        raise graph_error(req, 404, "Request_ResourceNotFound", f"Resource '{key}' does not exist or one of its "
                          "queried reference-property objects are not present.")
    return user


def paged_list(server, req, fulls, entity_set, default=None, known=None, type_name="user"):
    default = DEFAULT_PROPS if default is None else default
    known = ALL_PROPS if known is None else known
    flt = req.query.get("$filter")
    advanced = is_advanced_query(req)
    if flt:
        filterable = set(known) | {p for p in ADVANCED_FILTER_PROPS if p.partition("/")[0] in known}
        try:
            props = odata.filter_props(flt)
            for prop in props:
                if prop not in filterable:
                    raise graph_error(req, 400, "Request_UnsupportedQuery", "Unsupported or invalid query filter "
                                      f"clause specified for property '{prop}' of resource '{type_name}'.")
            needs_advanced = [p for p in props if p in ADVANCED_FILTER_PROPS]
            strict = server.state.knobs.get("extension_attribute_filter_needs_advanced_query")
            if needs_advanced and not advanced and strict:
                # §2b: an advanced query (ConsistencyLevel: eventual + $count=true); the error when either is
                # missing is an assumption (knob extension_attribute_filter_needs_advanced_query).
                raise graph_error(req, 400, "Request_UnsupportedQuery", "Unsupported or invalid query filter "
                                  f"clause specified for property '{needs_advanced[0].partition('/')[2]}' of "
                                  f"resource '{type_name}'. This query needs the ConsistencyLevel: eventual "
                                  "header and $count=true (advanced query).")
            pred = odata.parse_filter(flt)
        except odata.ODataError as exc:
            raise graph_error(req, 400, "BadRequest", f"Invalid filter clause: {exc}") from None
        fulls = [f for f in fulls if pred(lambda name, f=f: _path_value(f, name))]
    top = req.query.get("$top", "100")
    if not top.isdigit() or not 1 <= int(top) <= 999:
        raise graph_error(req, 400, "Request_BadRequest",
                          f"Invalid page size specified: '{top}'. Must be between 1 and 999 inclusive.")
    top = int(top)
    offset = odata.read_skiptoken(req.query["$skiptoken"]) if "$skiptoken" in req.query else 0
    page = fulls[offset:offset + top]
    values = [project(req, f, None, default, known, type_name)[0] for f in page]
    select = odata.parse_select(req.query.get("$select"))
    body = {"@odata.context": f"{server.graph_url}/v1.0/$metadata#{entity_set}"
                              f"{'(' + ','.join(select) + ')' if select else ''}"}
    if advanced:
        body["@odata.count"] = len(fulls)  # §2b advanced query with $count=true: total of all pages
    body["value"] = values
    if offset + top < len(fulls):
        params = {k: v for k, v in req.query.items() if k != "$skiptoken"}
        params["$skiptoken"] = odata.make_skiptoken(offset + top)
        body["@odata.nextLink"] = f"{server.graph_url}/v1.0/{entity_set}?{urlencode(params)}"
    return Response(200, body)


def _path_value(full, name):
    """Filter operand: a property, or 'complex/sub' such as onPremisesExtensionAttributes/extensionAttribute15."""
    head, dummy, sub = name.partition("/")
    value = full.get(head)
    return value.get(sub) if sub and isinstance(value, dict) else value


def is_advanced_query(req):
    """§2b / aad-advanced-queries: header ConsistencyLevel: eventual together with $count=true."""
    level = next((v for k, v in req.headers.items() if k.lower() == "consistencylevel"), "")
    return level.strip().lower() == "eventual" and req.query.get("$count", "").lower() == "true"


def _body(req):
    try:
        body = req.json()
    except ValueError:
        raise graph_error(req, 400, "BadRequest", "Unable to read JSON request payload.") from None
    if not isinstance(body, dict):
        raise graph_error(req, 400, "BadRequest", "Empty Payload. JSON content expected.")
    return body
