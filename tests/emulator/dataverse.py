"""Dataverse Web API v9.2 per environment: systemusers, businessunits, roles, role ($ref) association,
WhoAmI, RetrieveCurrentOrganization, RetrieveOrganizationResources, paging, service protection.
Fact sheet §5 (users, access mode, non-interactive rules), §6 (roles, errors, limits), §8 (app users)."""
import re

from urllib.parse import unquote, urlencode

from . import odata
from .auth import authenticate, is_app_token
from .httpio import HttpError, Response, dataverse_error
from .state import SYSTEM_ADMINISTRATOR
from .throttling import retry_after_seconds

API = "api/data/v9.2"
GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
SEGMENT = re.compile(rf"^(\w+)(?:\(({GUID})\))?$")

ENTITIES = {
    "systemusers": ("systemuser", "systemuserid", [
        "systemuserid", "domainname", "internalemailaddress", "fullname", "firstname", "lastname",
        "azureactivedirectoryobjectid", "applicationid", "accessmode", "isdisabled", "islicensed",
        "_businessunitid_value", "deletedstate", "createdon", "modifiedon", "versionnumber"]),
    "businessunits": ("businessunit", "businessunitid", [
        "businessunitid", "name", "_parentbusinessunitid_value", "isdisabled", "versionnumber"]),
    "roles": ("role", "roleid", [
        "roleid", "name", "_businessunitid_value", "_roletemplateid_value", "_parentrootroleid_value",
        "versionnumber"]),
}
WRITABLE_SYSTEMUSER = {"accessmode", "isdisabled", "firstname", "lastname", "domainname", "internalemailaddress",
                       "azureactivedirectoryobjectid", "applicationid", "businessunitid@odata.bind", "fullname"}


def rows_of(env, entity_set):
    return {"systemusers": env.systemusers, "businessunits": env.business_units, "roles": env.roles}[entity_set]


def split_path(path):
    """(environment name, the rest) of a /dataverse/<name>/... path."""
    env_name, dummy, sub = path[len("/dataverse/"):].partition("/")
    return env_name, sub


def handle(server, req):
    st = server.state
    env_name, sub = split_path(req.path)
    env = st.environments.get(env_name)
    if env is None:
        raise HttpError(Response(404, "Not Found", content_type="text/plain"))
    req.environment = env.name
    if sub == "main.aspx":
        return main_page(server, req, env)
    req.service = "dataverse"
    if not sub.startswith(API + "/") and sub != API:
        raise dataverse_error(404, "0x80060888", f"Resource not found for the segment '{sub.split('/')[0]}'.")
    claims = authenticate(server, req, [env.url], lambda reason: HttpError(Response(401, b"", {
        # Dataverse answers 401 with an empty body and this challenge.
        "WWW-Authenticate": f"Bearer authorization_uri={server.authority_host}/{st.tenant_id}/oauth2/authorize, "
                            f"resource_id={env.url}/"})))
    caller_key = f"{env.name}/{claims.get('oid')}"
    knobs = st.knobs
    # §6 service protection: concurrency fails immediately, then the 5-minute sliding window.
    if not server.dv_concurrency.enter(caller_key, int(knobs.get("dataverse_concurrency_limit") or 0)):
        raise dataverse_error(429, "0x80072326", "Number of concurrent requests exceeded the limit of "
                              f"{knobs.get('dataverse_concurrency_limit')}.", {"Retry-After": "1"})
    try:
        server.sleep_latency(req)
        limit = int(knobs.get("dataverse_request_limit") or 0)
        wait = server.dv_requests.hit(caller_key, limit, 300.0)
        if wait:
            raise dataverse_error(429, "0x80072322", f"Number of requests exceeded the limit of {limit} over time "
                                  "window of 300 seconds.", {"Retry-After": retry_after_seconds(wait)})
        with st.lock:
            st.materialize(env)
            caller = resolve_caller(env, claims)
            resp = route(server, req, env, caller, unquote(sub[len(API):].lstrip("/")))
    finally:
        server.dv_concurrency.leave(caller_key)
    resp.headers.setdefault("OData-Version", "4.0")
    return resp


def resolve_caller(env, claims):
    if is_app_token(claims):
        row = env.find_by_application_id(claims.get("appid"))
    else:
        row = env.find_by_object_id(claims.get("oid"))
    if row is None:
        # assumption (§8 app users): code/message of a caller without a systemuser in this environment.
        raise dataverse_error(403, "0x80072560", "The user is not a member of the organization.")
    if row["isdisabled"]:
        # assumption: code 0x80040225 (UserDisabled) for a disabled caller.
        raise dataverse_error(403, "0x80040225", f"The specified user(Id = {row['systemuserid']}) is disabled. "
                              "Consider enabling this user.")
    return row


def route(server, req, env, caller, path):
    segments = [s for s in path.split("/") if s]
    if not segments:
        return Response(200, {"@odata.context": f"{env.url}/{API}/$metadata",
                              "value": [{"name": n, "kind": "EntitySet", "url": n} for n in ENTITIES]})
    head = segments[0]
    if head in ("WhoAmI", "WhoAmI()") and req.method == "GET":
        return Response(200, {"@odata.context": f"{env.url}/{API}/$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse",
                              "BusinessUnitId": caller["_businessunitid_value"], "UserId": caller["systemuserid"],
                              "OrganizationId": env.organization_id})  # examples/dataverse-whoami.json
    if head.startswith("RetrieveCurrentOrganization(") and req.method == "GET":
        return Response(200, current_organization(server, env))
    if head in ("RetrieveOrganizationResources", "RetrieveOrganizationResources()") and req.method == "GET":
        cap = int(server.state.knobs.get("max_noninteractive_users", 7))
        return Response(200, organization_resources(env, cap))
    m = SEGMENT.match(head)
    if not m or m.group(1) not in ENTITIES:
        raise dataverse_error(404, "0x80060888", f"Resource not found for the segment '{head}'.")
    entity_set, key = m.group(1), (m.group(2) or "").lower() or None
    tail = segments[1:]
    if key is None and not tail:
        if req.method == "GET":
            return query(server, req, env, entity_set, list(rows_of(env, entity_set).values()))
        if req.method == "POST" and entity_set == "systemusers":
            return create_systemuser(server, req, env, caller)
    elif key and not tail:
        if req.method == "GET":
            row = get_row(env, entity_set, key)
            return Response(200, shape_one(req, env, entity_set, row), content_type=ODATA_JSON)
        if req.method == "PATCH" and entity_set == "systemusers":
            return patch_systemuser(server, req, env, caller, key)
        if req.method == "DELETE" and entity_set == "systemusers":
            return delete_systemuser(server, env, caller, key)
    elif key and entity_set == "systemusers" and tail[0].startswith("systemuserroles_association"):
        return role_association(server, req, env, caller, key, tail)
    raise dataverse_error(405, "0x80060888", f"The requested operation {req.method} is not supported on '{path}'.")


ODATA_JSON = "application/json; odata.metadata=minimal"


def get_row(env, entity_set, key):
    row = rows_of(env, entity_set).get(key)
    if row is None:
        raise dataverse_error(404, "0x80040217", f"{ENTITIES[entity_set][0]} With Id = {key} Does Not Exist")
    return row


def _columns(req, entity_set, select_text):
    type_name, pk, columns = ENTITIES[entity_set]
    select = odata.parse_select(select_text)
    for name in select:
        if name not in columns:
            raise dataverse_error(400, "0x80060888", f"Could not find a property named '{name}' on type "
                                  f"'Microsoft.Dynamics.CRM.{type_name}'.")
    return select or columns


def shape(env, entity_set, row, columns, expand=None):
    """Rows carry @odata.etag and always their primary key (examples/dataverse-retrieve-row.json)."""
    pk = ENTITIES[entity_set][1]
    out = {"@odata.etag": f'W/"{row["versionnumber"]}"'}
    out.update({c: row.get(c) for c in columns})
    out[pk] = row[pk]
    for nav, opts in (expand or {}).items():
        roles = [env.roles[r] for r in row.get("__roles", []) if r in env.roles]
        cols = _columns(None, "roles", opts.get("$select"))
        out[nav] = [shape(env, "roles", r, cols) for r in roles]
    return out


def _expand(entity_set, text):
    expand = odata.parse_expand(text) if text else {}
    for nav in expand:
        if entity_set != "systemusers" or nav != "systemuserroles_association":
            raise dataverse_error(400, "0x80060888", f"Could not find a property named '{nav}' on type "
                                  f"'Microsoft.Dynamics.CRM.{ENTITIES[entity_set][0]}'.")
    return expand


def shape_one(req, env, entity_set, row):
    columns = _columns(req, entity_set, req.query.get("$select"))
    select = odata.parse_select(req.query.get("$select"))
    ctx = f"{env.url}/{API}/$metadata#{entity_set}{'(' + ','.join(select) + ')' if select else ''}/$entity"
    return {"@odata.context": ctx, **shape(env, entity_set, row, columns, _expand(entity_set, req.query.get("$expand")))}


def query(server, req, env, entity_set, rows):
    type_name, dummy, columns = ENTITIES[entity_set]
    flt = req.query.get("$filter")
    if flt:
        try:
            for prop in odata.filter_props(flt):
                if prop not in columns and f"_{prop}_value" not in columns:
                    raise dataverse_error(400, "0x80060888", f"Could not find a property named '{prop}' on type "
                                          f"'Microsoft.Dynamics.CRM.{type_name}'.")
            pred = odata.parse_filter(flt, _typecheck(columns))
        except odata.ODataError as exc:
            raise dataverse_error(400, "0x80060888", str(exc)) from None

        def getter(row):
            return lambda name: row.get(name) if name in columns else row.get(f"_{name}_value")
        rows = [r for r in rows if pred(getter(r))]
    if "$top" in req.query:
        rows = rows[: int(req.query["$top"])]
    cols = _columns(req, entity_set, req.query.get("$select"))
    expand = _expand(entity_set, req.query.get("$expand"))
    page_size = None
    m = re.search(r"odata\.maxpagesize=(\d+)", req.header("Prefer", ""))
    if m:
        page_size = int(m.group(1))
    offset = odata.read_skiptoken(req.query["$skiptoken"]) if "$skiptoken" in req.query else 0
    page = rows[offset: offset + page_size] if page_size else rows[offset:]
    select = odata.parse_select(req.query.get("$select"))
    body = {"@odata.context": f"{env.url}/{API}/$metadata#{entity_set}{'(' + ','.join(select) + ')' if select else ''}",
            "value": [shape(env, entity_set, r, cols, expand) for r in page]}
    headers = {}
    if page_size:
        headers["Preference-Applied"] = f"odata.maxpagesize={page_size}"
        if offset + page_size < len(rows):
            params = {k: v for k, v in req.query.items() if k != "$skiptoken"}
            params["$skiptoken"] = odata.make_skiptoken(offset + page_size)
            body["@odata.nextLink"] = f"{env.url}/{API}/{entity_set}?{urlencode(params)}"
    return Response(200, body, headers, ODATA_JSON)


def _column_type(name):
    if name.endswith("id") or name.endswith("_value") or name == "azureactivedirectoryobjectid":
        return "guid"
    if name in ("accessmode", "versionnumber", "deletedstate"):
        return "number"
    if name.startswith("is"):
        return "bool"
    return "string"


def _typecheck(columns):
    """Edm.Guid columns take unquoted GUIDs: a quoted GUID is a type error in Dataverse (fact sheet §5)."""
    names = {"string": "Edm.String", "guid": "Edm.Guid", "number": "Edm.Int32", "bool": "Edm.Boolean"}

    def check(prop, kind):
        col = prop if prop in columns else f"_{prop}_value"
        want = _column_type(col)
        if kind != "null" and kind != want:
            raise odata.ODataError("A binary operator with incompatible types was detected. Found operand types "
                                   f"'{names[want]}' and '{names[kind]}' for operator kind 'Equal'.")
    return check


def _entity_id_header(env, row):
    return {"OData-EntityId": f"{env.url}/{API}/systemusers({row['systemuserid']})"}


def _body(req):
    try:
        body = req.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise dataverse_error(400, "0x80060891", "The request body is not a valid JSON object.")
    return body


def _validate_columns(body):
    for key in body:
        if key not in WRITABLE_SYSTEMUSER and not key.startswith("@"):
            raise dataverse_error(400, "0x80060888", f"The property '{key}' does not exist on type "
                                  "'Microsoft.Dynamics.CRM.systemuser'. Make sure to only use property names that "
                                  "are defined by the type.")


def patch_systemuser(server, req, env, caller, key):
    """§5: PATCH with If-Match: * updates only; without it a missing id is created (upsert)."""
    body = _body(req)
    _validate_columns(body)
    row = env.systemusers.get(key)
    if_match, if_none = req.header("If-Match"), req.header("If-None-Match")
    if row is None and if_match:
        # examples/dataverse-update-2.json: empty code.
        raise dataverse_error(404, "", f"systemuser With Id = {key} Does Not Exist")
    if row is not None and if_none == "*":
        raise dataverse_error(412, "0x80040237", "A record with matching key values already exists.")
    if row is not None and if_match and if_match != "*" and if_match != f'W/"{row["versionnumber"]}"':
        # examples/dataverse-update-3.json
        raise dataverse_error(412, "", "The version of the existing record doesn't match the RowVersion property "
                              "provided.")
    created = row is None
    if created:
        row = env.new_systemuser(systemuserid=key, islicensed=False)
    try:
        apply_systemuser_changes(server, env, caller, row, body)
    except HttpError:
        if created:
            env.systemusers.pop(key, None)
        raise
    env.touch(row)
    if "return=representation" in req.header("Prefer", ""):
        cols = _columns(req, "systemusers", req.query.get("$select"))
        return Response(201 if created else 200, shape(env, "systemusers", row, cols), content_type=ODATA_JSON)
    return Response(204, headers=_entity_id_header(env, row))


def apply_systemuser_changes(server, env, caller, row, body):
    st = server.state
    if "accessmode" in body:
        mode = body["accessmode"]
        if not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode <= 5:
            # §5 systemuser_accessmode 0..5; error code of an out-of-range choice value is an assumption.
            raise dataverse_error(400, "0x80044331", f"A validation error occurred. The value {mode} of "
                                  "'accessmode' on record of type 'systemuser' is outside the valid range. "
                                  "Accepted Values: 0,1,2,3,4,5")
        if mode != row["accessmode"]:
            check_access_mode_caller(st, env, caller)
            if mode == 4 and not row.get("applicationid"):
                cap = int(st.knobs.get("max_noninteractive_users", 7))
                if env.noninteractive_count() >= cap:
                    # §5 cap of 7 per environment; assumption: 400 with code 0x80048d14.
                    raise dataverse_error(400, "0x80048d14", "The maximum number of non-interactive users "
                                          f"({cap}) for this environment has been reached.")
            row["accessmode"] = mode
    if "businessunitid@odata.bind" in body:
        bu = re.search(rf"({GUID})", body["businessunitid@odata.bind"] or "")
        bu_id = bu.group(1).lower() if bu else None
        if bu_id not in env.business_units:
            raise dataverse_error(404, "0x80040217", f"businessunit With Id = {bu_id} Does Not Exist")
        if bu_id != row["_businessunitid_value"]:
            row["__roles"] = []  # Microsoft Learn: changing a user's BU removes its role assignments (assumption)
            row["_businessunitid_value"] = bu_id
    for col in ("isdisabled", "firstname", "lastname", "fullname", "domainname", "internalemailaddress",
                "azureactivedirectoryobjectid", "applicationid"):
        if col in body:
            row[col] = body[col].lower() if col in ("azureactivedirectoryobjectid", "applicationid") and \
                body[col] else body[col]


def check_access_mode_caller(st, env, caller):
    """0x80048d2f AccessModeChangeNeedSystemAdmin: caller needs System Administrator and Read-Write mode (§5)."""
    is_admin = env.has_role_template(caller, SYSTEM_ADMINISTRATOR)
    mode_ok = caller["accessmode"] == 0 or (caller.get("applicationid") and st.knobs.get(
        "app_user_may_change_access_mode"))  # assumption §10: app users (mode 4) allowed when SysAdmin
    if not (is_admin and mode_ok):
        raise dataverse_error(403, "0x80048d2f", "AccessModeChangeNeedSystemAdmin: only a user with the System "
                              "Administrator role and Read-Write access mode can change the access mode of a user.")


def create_systemuser(server, req, env, caller):
    """§8: POST systemusers creates an application user (applicationid) or maps an Entra user."""
    st = server.state
    body = _body(req)
    _validate_columns(body)
    if not env.has_role_template(caller, SYSTEM_ADMINISTRATOR):
        raise dataverse_error(403, "0x80040220", f"Principal user (Id={caller['systemuserid']}) is missing "
                              "prvCreateUser privilege.")
    appid = (body.get("applicationid") or "").lower()
    if appid:
        # §8: a soft-deleted row still holds the app id and blocks the create (terraform issue #623).
        # ASSUMPTION: a live row gives the same error (§8: error for duplicating a live row UNCONFIRMED).
        if env.application_user_rows(appid):
            raise dataverse_error(412, "0x80040237", "A record with matching key values already exists.")
        client = st.clients.get(appid)
        # §8: Dataverse fills the name from Entra (first name "#", so fullname "# <app display name>"), no
        # licence, accessmode 4. ASSUMPTION: azureactivedirectoryobjectid is the client's service principal
        # object id (the emulator keeps one per client).
        row = env.new_systemuser(applicationid=appid, accessmode=4, islicensed=False,
                                 azureactivedirectoryobjectid=client["object_id"] if client else None,
                                 fullname=f"# {client['name'] if client else appid}", firstname="#",
                                 lastname=client["name"] if client else appid,
                                 domainname=f"{appid}@{st.domains[0]}")
    else:
        user = st.find_user(body.get("azureactivedirectoryobjectid") or body.get("domainname") or "")
        if user is None:
            raise dataverse_error(400, "0x80040216", "The user does not exist in Microsoft Entra ID.")
        if env.find_by_object_id(user["id"]):
            raise dataverse_error(412, "0x80040237", "A record with matching key values already exists.")
        row = env.new_systemuser(**st.user_columns(user), azureactivedirectoryobjectid=user["id"],
                                 islicensed=st.has_dataverse_licence(user["id"]))
    try:
        apply_systemuser_changes(server, env, caller, row, {k: v for k, v in body.items() if k != "accessmode"})
        if "accessmode" in body:
            row["accessmode"] = body["accessmode"]
    except HttpError:
        env.systemusers.pop(row["systemuserid"], None)
        raise
    return Response(204, headers=_entity_id_header(env, row))


# ASSUMPTION: codes and messages of the two refusals (§8 documents only that an active application user
# cannot be deleted; the emulator deletes nothing but application users).
ACTIVE_USER_DELETE = ("0x80040227", "Only a disabled user can be deleted. Disable the user first.")
NOT_AN_APPLICATION_USER = ("0x80040228", "Only application users can be deleted.")


def delete_systemuser(server, env, caller, key):
    """§8: DELETE systemusers(<id>) of a disabled application user: the first soft-deletes it (deletedstate 1,
    roles removed, not restorable), the second deletes it permanently; that one may fail with 0x80048610."""
    st = server.state
    row = get_row(env, "systemusers", key)
    if not env.has_role_template(caller, SYSTEM_ADMINISTRATOR):
        raise dataverse_error(403, "0x80040220", f"Principal user (Id={caller['systemuserid']}) is missing "
                              "prvDeleteUser privilege.")
    if not row.get("applicationid"):
        raise dataverse_error(400, *NOT_AN_APPLICATION_USER)
    if not row["isdisabled"]:
        raise dataverse_error(400, *ACTIVE_USER_DELETE)
    if not row["deletedstate"]:
        row["deletedstate"] = 1
        row["__roles"] = []
        env.touch(row)
        return Response(204)
    failures = int(st.knobs.get("permanent_delete_failures") or 0)
    if failures > 0:
        # §8 (terraform issue #1249): the user's own usersettings row; retrying works. Status/message: ASSUMPTION.
        st.knobs["permanent_delete_failures"] = failures - 1
        raise dataverse_error(400, "0x80048610", "The user settings of this user could not be deleted. Try again.")
    del env.systemusers[row["systemuserid"]]
    return Response(204)


def role_association(server, req, env, caller, key, tail):
    """§6: associate/list/disassociate systemuserroles_association."""
    st = server.state
    user = get_row(env, "systemusers", key)
    m = re.match(rf"^systemuserroles_association(?:\(({GUID})\))?$", tail[0])
    if not m:
        raise dataverse_error(404, "0x80060888", f"Resource not found for the segment '{tail[0]}'.")
    role_in_path = (m.group(1) or "").lower() or None
    ref = tail[1:] == ["$ref"]
    if req.method == "GET" and not ref and len(tail) == 1 and not role_in_path:
        return query(server, req, env, "roles", [env.roles[r] for r in user["__roles"] if r in env.roles])
    if req.method == "POST" and ref and not role_in_path:
        role_id = _role_from_uri(_body(req).get("@odata.id"))
        role = get_row(env, "roles", role_id)
        if not env.has_role_template(caller, SYSTEM_ADMINISTRATOR):
            raise dataverse_error(403, "0x80040220", f"Principal user (Id={caller['systemuserid']}) is missing "
                                  "prvAssignRole privilege.")
        allow_disabled = env.settings.get("allow_role_assignment_on_disabled_users",
                                          st.knobs.get("allow_role_assignment_on_disabled_users"))
        if user["isdisabled"] and not allow_disabled:
            # §0: roles only for enabled users unless allowRoleAssignmentOnDisabledUsers; code is an assumption.
            raise dataverse_error(400, "0x80040225", f"The specified user(Id = {user['systemuserid']}) is disabled. "
                                  "Security roles cannot be assigned to a disabled user.")
        if role["_businessunitid_value"] != user["_businessunitid_value"] and \
                not st.knobs.get("cross_bu_role_assignment"):
            # §6: use the role of the user's own BU; cross-BU refusal and its code are assumptions.
            raise dataverse_error(400, "0x80048d19", f"Role {role_id} belongs to business unit "
                                  f"{role['_businessunitid_value']} but the user belongs to business unit "
                                  f"{user['_businessunitid_value']}. Assign the role of the user's business unit.")
        if role_id in user["__roles"]:
            if st.knobs.get("role_reassociate") == "noop":
                return Response(204)
            # §6/§10 re-association UNCONFIRMED: assumption duplicate-key error.
            raise dataverse_error(400, "0x80040237", "Cannot insert duplicate key.")
        user["__roles"].append(role_id)
        env.touch(user)
        return Response(204)
    if req.method == "DELETE" and ref:
        role_id = role_in_path or _role_from_uri(req.query.get("$id"))
        get_row(env, "roles", role_id)
        if role_id in user["__roles"]:
            user["__roles"].remove(role_id)
            env.touch(user)
        return Response(204)
    raise dataverse_error(405, "0x80060888", f"The requested operation {req.method} is not supported.")


def _role_from_uri(uri):
    m = re.search(rf"roles\(({GUID})\)\s*$", uri or "")
    if not m:
        raise dataverse_error(400, "0x80060888", f"The URI '{uri}' is not a valid role reference.")
    return m.group(1).lower()


def current_organization(server, env):
    web = env.url + "/"
    return {"@odata.context": f"{env.url}/{API}/$metadata#Microsoft.Dynamics.CRM.RetrieveCurrentOrganizationResponse",
            "Detail": {"OrganizationId": env.organization_id, "FriendlyName": env.friendly_name,
                       "OrganizationVersion": "9.2.25101.00193", "EnvironmentId": env.id,  # §7
                       "DatacenterId": env.organization_id, "Geo": "EU", "TenantId": server.state.tenant_id,
                       "UrlName": env.name, "UniqueName": env.unique_name,
                       "Endpoints": {"Count": 3, "IsReadOnly": False,
                                     "Keys": ["WebApplication", "OrganizationService", "OrganizationDataService"],
                                     "Values": [web, f"{web}XRMServices/2011/Organization.svc",
                                                f"{web}XRMServices/2011/OrganizationData.svc"]},
                       "State": "Enabled", "SchemaType": None, "OrganizationType": "Customer"}}


def organization_resources(env, max_noninteractive):
    active = sum(1 for r in env.systemusers.values() if not r["isdisabled"] and not r.get("applicationid"))
    # §5: the reported cap is the enforced one (knob max_noninteractive_users, the same value PATCH checks).
    return {"@odata.context": f"{env.url}/{API}/$metadata#Microsoft.Dynamics.CRM.RetrieveOrganizationResourcesResponse",
            "OrganizationResources": {  # §5 pre-check fields
                "CurrentNumberOfActiveUsers": active, "CurrentNumberOfCustomEntities": 0,
                "CurrentNumberOfNonInteractiveUsers": env.noninteractive_count(),
                "CurrentNumberOfPublishedWorkflows": 0, "CurrentStorage": 0, "MaxNumberOfActiveUsers": -1,
                "MaxNumberOfCustomEntities": -1, "MaxNumberOfNonInteractiveUsers": max_noninteractive,
                "MaxNumberOfPublishedWorkflows": -1, "MaxStorage": -1}}


def main_page(server, req, env):
    """'The door is locked' (§5): non-interactive users keep API access but cannot use the web UI."""
    req.service = "page"
    st = server.state

    def page(status, message):
        if "json" in req.header("Accept", ""):
            return Response(status, {"error": {"code": "" if status == 200 else "0x80072561", "message": message}})
        return Response(status, f"<html><head><title>Dynamics 365</title></head><body><p>{message}</p></body></html>",
                        content_type="text/html; charset=utf-8")

    try:
        claims = authenticate(server, req, [env.url], lambda reason: HttpError(
            page(401, f"Sign-in required ({reason}).")))
    except HttpError as exc:
        return exc.response
    server.sleep_latency(req)
    if is_app_token(claims):
        return page(403, "Applications cannot sign in interactively.")
    with st.lock:
        st.materialize(env)
        row = env.find_by_object_id(claims.get("oid"))
        if row is None:
            return page(403, "You don't have access to this environment: the user is not a member of the "
                             "organization.")
        if row["isdisabled"]:
            return page(403, "Your user account is disabled in this environment.")
        if row["accessmode"] == 4:
            return page(403, "This user is a non-interactive user and cannot sign in interactively. "
                             "Non-interactive users can only access the environment through the API.")
        return page(200, f"Welcome {row['fullname']} to {env.friendly_name}.")
