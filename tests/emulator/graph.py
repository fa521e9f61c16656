"""Microsoft Graph v1.0 subset: users, licences, subscribedSkus, groups, deleted items, $batch.
Fact sheet §2 (users), §3 (licences), §4 (throttling, batching)."""
import re
import time
from urllib.parse import unquote

from .auth import GRAPH_AUDIENCES, authenticate
from .graph_common import (ALL_PROPS, ASSIGN_LICENSE, DEFAULT_PROPS, EXT_ATTR_KEYS, EXT_ATTR_MAX_LENGTH, EXT_ATTRS,
                           READ_SKUS, READ_USERS, WRITABLE, WRITE_USERS, _auth_fail, _body, full_user,
                           get_user_or_404, paged_list, project, require, throttled)
from .graph_directory import batch, deleted_items, group_json, groups
from .graph_licences import assign_license, license_details, subscribed_skus
from .httpio import graph_error, Response
from .scenario import add_user
from .state import iso, new_guid


def handle(server, req):
    req.service = "graph"
    rel = unquote(req.path[len("/graph"):])
    if not rel.startswith("/v1.0/"):
        raise graph_error(req, 400, "BadRequest", f"Invalid version: {rel.split('/')[1] if '/' in rel else rel}")
    claims = authenticate(server, req, GRAPH_AUDIENCES, _auth_fail(req))
    server.sleep_latency(req)
    rel = rel[len("/v1.0/"):].rstrip("/")
    if req.is_write and rel != "$batch":
        quota = int(server.state.knobs.get("graph_write_quota") or 0)
        if quota:
            wait = server.graph_writes.hit(claims.get("appid"), quota, float(server.state.knobs["graph_write_window"]))
            if wait:
                raise throttled(req, wait)
    with server.state.lock:
        return route(server, req, claims, rel)


USER_PATH = re.compile(r"^users(?:/([^/]+)|\('([^']*(?:''[^']*)*)'\))(?:/(.*))?$")


def route(server, req, claims, rel):
    m = USER_PATH.match(rel)
    if rel == "users":
        if req.method == "GET":
            require(req, claims, READ_USERS)
            return list_users(server, req)
        if req.method == "POST":
            require(req, claims, WRITE_USERS)
            return create_user(server, req)
    elif m:
        key = (m.group(1) or m.group(2).replace("''", "'"))
        sub = m.group(3) or ""
        return user_item(server, req, claims, key, sub)
    elif rel == "subscribedSkus" and req.method == "GET":
        require(req, claims, READ_SKUS)
        return subscribed_skus(server, req)
    elif rel.startswith("groups"):
        return groups(server, req, claims, rel)
    elif rel.startswith("directory/deletedItems"):
        return deleted_items(server, req, claims, rel[len("directory/deletedItems"):].strip("/"))
    elif rel == "$batch" and req.method == "POST":
        return batch(server, req, handle)
    raise graph_error(req, 400, "BadRequest", f"Resource not found for the segment '{rel.split('/')[0]}'.")


# ---------------- users ----------------


def user_item(server, req, claims, key, sub):
    st = server.state
    if sub == "" and req.method == "GET":
        require(req, claims, READ_USERS)
        user = get_user_or_404(server, req, key)
        body, select = project(req, full_user(server, user), None)
        ctx = f"users({','.join(select)})/$entity" if select else "users/$entity"
        return Response(200, {"@odata.context": f"{server.graph_url}/v1.0/$metadata#{ctx}", **body})
    if sub == "" and req.method == "PATCH":
        require(req, claims, WRITE_USERS)
        user = get_user_or_404(server, req, key)
        patch_user(server, req, user)
        return Response(204)
    if sub == "" and req.method == "DELETE":
        require(req, claims, WRITE_USERS)
        user = get_user_or_404(server, req, key)
        del st.users[user["id"]]
        user["deletedDateTime"] = iso()
        st.deleted[user["id"]] = user  # §2: soft delete into /directory/deletedItems
        st.changed()
        return Response(204)
    if sub == "assignLicense" and req.method == "POST":
        require(req, claims, ASSIGN_LICENSE)
        user = get_user_or_404(server, req, key)
        assign_license(server, req, user)
        # §2b: the extension attributes come back only when named in $select, so not in this user body either
        return Response(200, {"@odata.context": f"{server.graph_url}/v1.0/$metadata#users/$entity",
                              **{k: v for k, v in full_user(server, user).items()
                                 if k not in (EXT_ATTRS, "onPremisesSyncEnabled")}})
    if sub == "licenseDetails" and req.method == "GET":
        require(req, claims, READ_USERS)
        user = get_user_or_404(server, req, key)
        return Response(200, license_details(server, user))
    if sub == "memberOf" and req.method == "GET":
        require(req, claims, READ_USERS)
        user = get_user_or_404(server, req, key)
        return Response(200, {"@odata.context": f"{server.graph_url}/v1.0/$metadata#directoryObjects",
                              "value": [{"@odata.type": "#microsoft.graph.group", **group_json(g)}
                                        for g in st.groups_of(user["id"])]})
    raise graph_error(req, 400, "BadRequest", f"Unsupported request {req.method} users/{key}/{sub}.")


def list_users(server, req):
    st = server.state
    rows = [u for u in st.users.values() if not st.is_replicating(u)]
    return paged_list(server, req, [full_user(server, u) for u in rows], "users")


def _check_upn(server, req, upn):
    st = server.state
    domain = upn.rpartition("@")[2].lower()
    if "@" not in upn or domain not in st.domains:
        raise graph_error(req, 400, "Request_BadRequest", "The domain portion of the userPrincipalName property is "
                          "invalid. You must use one of the verified domain names in your organization.",
                          [{"code": "InvalidValue", "target": "userPrincipalName"}])
    if st.upn_taken(upn):
        # §2 duplicate UPN (3p captured response); deleted users count per knob deleted_user_blocks_upn.
        raise graph_error(req, 400, "Request_BadRequest", "Another object with the same value for property "
                          "userPrincipalName already exists.",
                          [{"code": "ObjectConflict", "message": "Another object with the same value for property "
                            "userPrincipalName already exists.", "target": "userPrincipalName"}])


def _check_usage_location(req, value):
    if value is not None and not (isinstance(value, str) and re.fullmatch(r"[A-Z]{2}", value)):
        raise graph_error(req, 400, "Request_BadRequest",
                          "Invalid value specified for property 'usageLocation' of resource 'User'.")


def _check_extension_attributes(req, value):
    """§2b onPremisesExtensionAttributes: keys extensionAttribute1..15, values string (<= 1024 chars) or null.
    Returns the validated {key: value} update. Error codes/messages are assumptions (fixed)."""
    if not isinstance(value, dict):
        raise graph_error(req, 400, "Request_BadRequest",
                          f"Invalid value specified for property '{EXT_ATTRS}' of resource 'User'.")
    update = {}
    for key, item in value.items():
        if key.startswith("@"):
            continue
        if key not in EXT_ATTR_KEYS:  # unknown property inside the complex value, like an unknown user property
            raise graph_error(req, 400, "Request_BadRequest", f"Invalid property '{key}'.")
        if item is not None and not isinstance(item, str):
            raise graph_error(req, 400, "Request_BadRequest",
                              f"Invalid value specified for property '{key}' of resource 'User'.")
        if item is not None and len(item) > EXT_ATTR_MAX_LENGTH:
            # §2b: at most 1024 characters; the error shape is an assumption.
            raise graph_error(req, 400, "Request_BadRequest",
                              f"Invalid value specified for property '{key}' of resource 'User'. "
                              f"The value exceeds the maximum length of {EXT_ATTR_MAX_LENGTH} characters.")
        update[key] = item
    return update


def _apply_extension_attributes(user, update):
    """§2b: keys named are set, null clears one, keys not named keep their value."""
    attrs = user.setdefault("ext_attrs", {})
    for key, item in update.items():
        if item is None:
            attrs.pop(key, None)
        else:
            attrs[key] = item


def create_user(server, req):
    st = server.state
    body = _body(req)
    for prop in ("accountEnabled", "displayName", "mailNickname", "userPrincipalName", "passwordProfile"):
        if body.get(prop) in (None, ""):  # §2 required on create
            raise graph_error(req, 400, "Request_BadRequest", f"A value is required for property '{prop}' of "
                              "resource 'User'.")
    profile = body["passwordProfile"]
    if not isinstance(profile, dict) or not profile.get("password"):
        raise graph_error(req, 400, "Request_BadRequest",
                          "Invalid value specified for property 'passwordProfile' of resource 'User'.")
    unknown = [k for k in body if k not in WRITABLE and not k.startswith("@")]
    if unknown:
        raise graph_error(req, 400, "Request_BadRequest", f"Invalid property '{unknown[0]}'.")
    _check_usage_location(req, body.get("usageLocation"))
    ext_update = _check_extension_attributes(req, body[EXT_ATTRS]) if EXT_ATTRS in body else {}
    _check_upn(server, req, body["userPrincipalName"])
    user = add_user(st, {"userPrincipalName": body["userPrincipalName"], "id": None,
                         "displayName": body["displayName"], "givenName": body.get("givenName"),
                         "surname": body.get("surname"), "mailNickname": body["mailNickname"],
                         "accountEnabled": bool(body["accountEnabled"]), "usageLocation": body.get("usageLocation"),
                         "password": profile["password"], "mail": body.get("mail"),
                         "forceChangePasswordNextSignIn": profile.get("forceChangePasswordNextSignIn", False)})
    st.users.pop(user["id"])  # add_user derives a stable id from the UPN; a created user gets a fresh one
    user["id"] = new_guid()
    st.users[user["id"]] = user
    user["created_at"] = time.time()
    _apply_extension_attributes(user, ext_update)  # §2b: settable in the same request as the create
    for k in WRITABLE - {"accountEnabled", "displayName", "givenName", "surname", "mailNickname", "usageLocation",
                         "passwordProfile", "userPrincipalName", "mail", EXT_ATTRS}:
        if k in body:
            user["extra"][k] = body[k]
    st.changed()
    full = full_user(server, user)
    return Response(201, {"@odata.context": f"{server.graph_url}/v1.0/$metadata#users/$entity",
                          **{k: full[k] for k in DEFAULT_PROPS}},
                    {"Location": f"{server.graph_url}/v1.0/users/{user['id']}"})


def patch_user(server, req, user):
    st = server.state
    body = _body(req)
    for key in body:
        if key.startswith("@"):
            continue
        if key in ALL_PROPS and key not in WRITABLE:
            raise graph_error(req, 400, "Request_BadRequest", f"Property '{key}' is read-only and cannot be set.")
        if key not in WRITABLE:
            raise graph_error(req, 400, "Request_BadRequest", f"Invalid property '{key}'.")
    if "usageLocation" in body:
        _check_usage_location(req, body["usageLocation"])
    ext_update = None
    if EXT_ATTRS in body:
        ext_update = _check_extension_attributes(req, body[EXT_ATTRS])
        if user.get("onPremisesSyncEnabled") is True:
            # §2b: synced users are mastered on-premises, read-only in Graph; the error is UNCONFIRMED
            # (assumption, knob onprem_mastered_error). Nothing of the request is applied.
            err = st.knobs.get("onprem_mastered_error") or {}
            raise graph_error(req, int(err.get("status", 400)), err.get("code", "Request_BadRequest"),
                              err.get("message") or "Unable to update the specified properties for on-premises "
                              "mastered Directory Sync objects or objects currently undergoing migration.")
    if "userPrincipalName" in body and body["userPrincipalName"].lower() != user["userPrincipalName"].lower():
        _check_upn(server, req, body["userPrincipalName"])
    for key, value in body.items():
        if key == EXT_ATTRS:
            _apply_extension_attributes(user, ext_update)
        elif key == "passwordProfile":
            if value.get("password"):
                user["password"] = value["password"]
            if "forceChangePasswordNextSignIn" in value:
                user["forceChangePasswordNextSignIn"] = bool(value["forceChangePasswordNextSignIn"])
        elif key in ("accountEnabled", "displayName", "givenName", "surname", "mailNickname", "usageLocation",
                     "userPrincipalName"):
            user[key] = value
        elif not key.startswith("@"):
            user["extra"][key] = value
    st.changed()
