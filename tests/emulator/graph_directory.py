"""Graph groups, deleted items and $batch (fact sheet §2, §3, §4)."""
import json
import re
from urllib.parse import urlsplit

from .graph_common import (DEFAULT_PROPS, READ_GROUPS, READ_USERS, WRITE_MEMBERS, WRITE_USERS, _body, full_user,
                           paged_list, project, require)
from .httpio import HttpError, Request, Response, graph_error

GROUP_DEFAULT = ["id", "displayName", "description", "securityEnabled", "mailEnabled", "mailNickname",
                 "groupTypes", "createdDateTime"]
GROUP_ALL = GROUP_DEFAULT + ["assignedLicenses"]


def group_json(group):
    return {"id": group["id"], "displayName": group["displayName"], "description": group.get("description"),
            "securityEnabled": group["securityEnabled"], "mailEnabled": group["mailEnabled"],
            "mailNickname": re.sub(r"\W", "", group["displayName"]), "groupTypes": [],
            "createdDateTime": group["createdDateTime"],
            "assignedLicenses": [{"skuId": s, "disabledPlans": d.get("disabledPlans", [])}
                                 for s, d in group["licenses"].items()]}


def groups(server, req, claims, rel):
    st = server.state
    parts = rel.split("/")
    if len(parts) == 1 and req.method == "GET":
        require(req, claims, READ_GROUPS)
        return paged_list(server, req, [group_json(g) for g in st.groups.values()], "groups",
                          GROUP_DEFAULT, GROUP_ALL, "group")
    group = st.groups.get(parts[1].lower())
    if group is None:
        raise graph_error(req, 404, "Request_ResourceNotFound", f"Resource '{parts[1]}' does not exist or one of "
                          "its queried reference-property objects are not present.")
    tail = parts[2:]
    if not tail and req.method == "GET":
        require(req, claims, READ_GROUPS)
        body, dummy = project(req, group_json(group), None, GROUP_DEFAULT, GROUP_ALL, "group")
        return Response(200, {"@odata.context": f"{server.graph_url}/v1.0/$metadata#groups/$entity", **body})
    if tail == ["members"] and req.method == "GET":
        require(req, claims, READ_GROUPS)
        members = [full_user(server, st.users[u]) for u in group["members"] if u in st.users]
        return paged_list(server, req, members, f"groups/{group['id']}/members")
    if tail == ["members", "$ref"] and req.method == "POST":
        require(req, claims, WRITE_MEMBERS)
        ref = (_body(req).get("@odata.id") or "").rstrip("/").rpartition("/")[2].lower()
        user = st.users.get(ref)
        if user is None:
            raise graph_error(req, 404, "Request_ResourceNotFound", f"Resource '{ref}' does not exist or one of "
                              "its queried reference-property objects are not present.")
        if ref in group["members"]:
            raise graph_error(req, 400, "Request_BadRequest", "One or more added object references already exist "
                              "for the following modified properties: 'members'.")
        group["members"].append(ref)
        st.changed()
        return Response(204)
    if len(tail) == 3 and tail[0] == "members" and tail[2] == "$ref" and req.method == "DELETE":
        require(req, claims, WRITE_MEMBERS)
        if tail[1].lower() not in group["members"]:
            raise graph_error(req, 404, "Request_ResourceNotFound", f"Resource '{tail[1]}' does not exist or one "
                              "of its queried reference-property objects are not present.")
        group["members"].remove(tail[1].lower())
        st.changed()
        return Response(204)
    raise graph_error(req, 400, "BadRequest", f"Unsupported request {req.method} {rel}.")


def deleted_items(server, req, claims, rest):
    st = server.state
    if rest == "microsoft.graph.user" and req.method == "GET":
        require(req, claims, READ_USERS)
        return paged_list(server, req, [full_user(server, u) for u in st.deleted.values()],
                          "directory/deletedItems/microsoft.graph.user")
    item_id, dummy, action = rest.partition("/")
    user = st.deleted.get(item_id.lower())
    if user is None:
        raise graph_error(req, 404, "Request_ResourceNotFound", f"Resource '{item_id}' does not exist or one of its "
                          "queried reference-property objects are not present.")
    if not action and req.method == "GET":
        require(req, claims, READ_USERS)
        body, dummy = project(req, full_user(server, user), None, DEFAULT_PROPS + ["deletedDateTime"])
        return Response(200, {"@odata.context": f"{server.graph_url}/v1.0/$metadata#directoryObjects/$entity",
                              "@odata.type": "#microsoft.graph.user", **body})
    if not action and req.method == "DELETE":
        require(req, claims, WRITE_USERS)
        del st.deleted[user["id"]]  # permanent delete
        st.changed()
        return Response(204)
    if action == "restore" and req.method == "POST":
        require(req, claims, WRITE_USERS)
        if any(u["userPrincipalName"].lower() == user["userPrincipalName"].lower() for u in st.users.values()):
            raise graph_error(req, 400, "Request_BadRequest", "Another object with the same value for property "
                              "userPrincipalName already exists.",
                              [{"code": "ObjectConflict", "target": "userPrincipalName"}])
        del st.deleted[user["id"]]
        user["deletedDateTime"] = None
        st.users[user["id"]] = user
        st.changed()
        return Response(200, {"@odata.context": f"{server.graph_url}/v1.0/$metadata#directoryObjects/$entity",
                              "@odata.type": "#microsoft.graph.user",
                              **{k: full_user(server, user)[k] for k in DEFAULT_PROPS}})
    raise graph_error(req, 400, "BadRequest", f"Unsupported request {req.method} directory/deletedItems/{rest}.")


def batch(server, req, handle):
    body = _body(req)
    requests_ = body.get("requests")
    if not isinstance(requests_, list) or not requests_:
        raise graph_error(req, 400, "BadRequest", "Invalid batch payload format.")
    if len(requests_) > 20:
        raise graph_error(req, 400, "BadRequest", "The number of requests in a batch cannot exceed 20.")
    results, status_by_id = [], {}
    for item in requests_:
        rid = str(item.get("id"))
        if any(status_by_id.get(str(d), 200) >= 400 for d in item.get("dependsOn") or []):
            status_by_id[rid] = 424
            results.append({"id": rid, "status": 424, "headers": {},
                            "body": {"error": {"code": "FailedDependency", "message": "Failed dependency."}}})
            continue
        url = urlsplit("/" + str(item.get("url", "")).lstrip("/"))
        headers = {"Authorization": req.header("Authorization", ""), **(item.get("headers") or {})}
        payload = item.get("body")
        sub = Request(str(item.get("method", "GET")).upper(), "/graph/v1.0" + url.path, url.query, headers,
                      json.dumps(payload).encode() if payload is not None else b"", req.base_url)
        try:
            resp = handle(server, sub) if url.path != "/$batch" else None
        except HttpError as exc:
            resp = exc.response
        if resp is None:
            resp = graph_error(sub, 400, "BadRequest", "Nested batch is not allowed.").response
        status_by_id[rid] = resp.status
        results.append({"id": rid, "status": resp.status,
                        "headers": {k: v for k, v in resp.headers.items() if k != "Content-Length"},
                        "body": json.loads(resp.body) if resp.body else None})
    return Response(200, {"responses": results})
