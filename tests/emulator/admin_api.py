"""Power Platform admin API (BAP) subset: list/get environments, addUser (force sync), addAppUser,
adminApplications registration. Fact sheet §7 (and §8 for addAppUser)."""
import time
from urllib.parse import unquote

from .auth import ADMIN_API_AUDIENCES, authenticate, is_app_token
from .httpio import Response, bap_error
from .state import SYSTEM_ADMINISTRATOR

PREFIX = "/bap/providers/Microsoft.BusinessAppPlatform/"


def _auth_fail(reason):
    code = {"expired": "ExpiredAuthenticationToken", "audience": "InvalidAuthenticationTokenAudience"}.get(
        reason, "InvalidAuthenticationToken")
    return bap_error(401, code, f"The access token is invalid ({reason}).")


def handle(server, req):
    req.service = "admin_api"
    st = server.state
    if not req.path.startswith(PREFIX):
        return_404(req)
    claims = authenticate(server, req, ADMIN_API_AUDIENCES, _auth_fail)
    server.sleep_latency(req)
    if not req.query.get("api-version"):
        raise bap_error(400, "MissingApiVersionParameter",
                        "The api-version query parameter (?api-version=) is required for all requests.")
    parts = [unquote(p) for p in req.path[len(PREFIX):].strip("/").split("/")]
    with st.lock:
        if parts[0] == "adminApplications" and len(parts) == 2 and req.method in ("PUT", "DELETE"):
            return admin_application(server, req, claims, parts[1])
        authorize(server, req, claims)
        if parts[:3] == ["scopes", "admin", "environments"]:
            if len(parts) == 3 and req.method == "GET":
                return Response(200, {"value": [environment_json(server, e) for e in st.environments.values()]})
            env = st.environment_by_id(parts[3])
            if env is None:
                raise bap_error(404, "EnvironmentNotFound",
                                f"The environment '{parts[3]}' could not be found in the tenant '{st.tenant_id}'.")
            if len(parts) == 4 and req.method == "GET":
                return Response(200, environment_json(server, env))
            if len(parts) == 5 and parts[4] == "addUser" and req.method == "POST":
                return add_user(server, req, env)
            if len(parts) == 5 and parts[4] == "addAppUser" and req.method == "POST":
                return add_app_user(server, req, env)
    return_404(req)


def return_404(req):
    raise bap_error(404, "NotFound", f"The requested resource '{req.path}' was not found.")


def authorize(server, req, claims):
    """Only admin management applications (or Power Platform admin users) may call (fact sheet §7)."""
    st = server.state
    path = req.path[len("/bap"):]
    if is_app_token(claims):
        client = st.clients.get(claims.get("appid"))
        if client and client["admin_app"]:
            return
        raise bap_error(403, "Forbidden", f"The service principal with id '{claims.get('oid')}' for application "
                        f"{claims.get('appid')} does not have permission to access the path '{path}' in tenant "
                        f"{st.tenant_id}.")
    user = st.users.get(claims.get("oid"))
    if not (user and user.get("power_platform_admin")):
        raise bap_error(403, "Forbidden", f"The user with object id '{claims.get('oid')}' does not have "
                        f"permission to access the path '{path}' in tenant {st.tenant_id}.")


def environment_json(server, env):
    # Shape of examples/bap-environments-list.json; instanceUrl keeps its trailing slash.
    created = "2024-01-15T09:30:00.0000000Z"
    return {
        "id": f"/providers/Microsoft.BusinessAppPlatform/scopes/admin/environments/{env.id}",
        "type": "Microsoft.BusinessAppPlatform/scopes/environments", "location": "europe", "name": env.id,
        "properties": {
            "azureRegion": "westeurope", "displayName": env.friendly_name, "description": "",
            "createdTime": created,
            "createdBy": {"id": "SYSTEM", "displayName": "SYSTEM", "type": "NotSpecified"},
            "lastModifiedTime": created, "provisioningState": "Succeeded", "creationType": "User",
            "environmentSku": "Sandbox" if "dev" in env.name else "Production", "isDefault": False,
            "clientUris": {"admin": f"https://admin.powerplatform.microsoft.com/environments/{env.id}/hub",
                           "maker": f"https://make.powerapps.com/environments/{env.id}/home"},
            "runtimeEndpoints": {"microsoft.BusinessAppPlatform": server.admin_api_url},
            "databaseType": "CommonDataService",
            "linkedEnvironmentMetadata": {
                "resourceId": env.organization_id, "friendlyName": env.friendly_name,
                "uniqueName": env.unique_name, "domainName": env.name, "version": "9.2.25101.00193",
                "instanceUrl": env.url + "/", "instanceApiUrl": env.url, "baseLanguage": 1033,
                "instanceState": "Ready", "createdTime": created, "backgroundOperationsState": "Enabled",
                "platformSku": "Standard",
                "securityGroupId": env.security_group},
            "states": {"management": {"id": "Ready"}, "runtime": {"id": "Enabled"}},
            "updateCadence": {"id": "Frequent"}, "connectedGroups": []}}


def add_user(server, req, env):
    """Force-sync one Entra user into the environment at once (no sync_delay), once its licence has propagated."""
    st = server.state
    body = req.json() or {}
    oid = body.get("objectId")
    if oid is None and st.knobs.get("bap_adduser_accept_capitalised_objectid"):
        oid = body.get("ObjectId")  # assumption (§7): PowerShell/.NET samples send ObjectId
    if not oid:
        raise bap_error(400, "InvalidRequestContent", "The request content must contain 'objectId'.")
    user = st.users.get(str(oid).lower())
    if user is None:
        raise bap_error(404, "UserNotFound", f"The user '{oid}' could not be found in the tenant '{st.tenant_id}'.")
    st.materialize(env)
    state = st.eligibility(user["id"], env)
    enabled, licensed, in_group = state
    if not enabled:
        raise bap_error(400, "userDisabled", f"The user '{oid}' is disabled in Microsoft Entra ID.")  # assumption
    # ASSUMPTION (§7 gives no order): a licence still propagating is reported before the security-group check.
    if not licensed or st.licence_propagating(user["id"]):
        raise bap_error(400, "userNotLicensed", f"The user '{oid}' does not have a valid license for this "
                        "environment. Assign a license that includes Dataverse and retry.")
    if not in_group:
        raise bap_error(400, "userNotPartOfSecurityGroup", f"The user '{oid}' is not a member of the security "
                        f"group '{env.security_group}' of the environment '{env.id}'.")
    st.apply_sync(env, user["id"], state)
    env.sync[user["id"]] = {"state": state, "since": time.time(), "applied": True}
    return Response(200, {})  # assumption: body not documented; terraform only checks 200


def add_app_user(server, req, env):
    """§8 (preview): always 200 and always System Administrator."""
    st = server.state
    appid = str((req.json() or {}).get("servicePrincipalAppId", "")).lower()
    client = st.clients.get(appid)
    if client is None:
        raise bap_error(404, "ServicePrincipalNotFound", f"The service principal '{appid}' was not found.")
    row = env.find_by_application_id(appid)
    if row is None:
        row = env.new_systemuser(applicationid=appid, azureactivedirectoryobjectid=client["object_id"],
                                 fullname=f"# {client['name']}", domainname=f"{appid}@{st.domains[0]}",
                                 accessmode=4, islicensed=False)
    admin_role = next(r for r in env.roles.values() if r["_roletemplateid_value"] == SYSTEM_ADMINISTRATOR
                      and r["_businessunitid_value"] == row["_businessunitid_value"])
    if admin_role["roleid"] not in row["__roles"]:
        row["__roles"].append(admin_role["roleid"])
    return Response(200, {})


def admin_application(server, req, claims, client_id):
    """Registering an admin management application needs a *user* admin token (fact sheet §7)."""
    st = server.state
    user = st.users.get(claims.get("oid")) if not is_app_token(claims) else None
    if not (user and user.get("power_platform_admin")):
        raise bap_error(403, "Forbidden", "Only a Power Platform administrator user may register admin applications.")
    client = st.clients.get(client_id.lower())
    if client is None:
        raise bap_error(404, "ServicePrincipalNotFound", f"The application '{client_id}' was not found.")
    client["admin_app"] = req.method == "PUT"
    return Response(200, {"applicationId": client["client_id"]})
