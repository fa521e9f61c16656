"""Control API under /_emulator (not Microsoft's; no auth, never faulted, never logged)."""
from .httpio import Response
from .scenario import apply_runtime_update


def handle(emu, req):
    action = req.path[len("/_emulator"):].strip("/")
    if action == "requests" and req.method == "GET":
        return Response(200, emu.request_log())
    if action == "requests" and req.method == "DELETE":
        emu.clear_log()
        return Response(204)
    if action == "state" and req.method == "GET":
        with emu.state.lock:
            return Response(200, state_dump(emu.state))
    if action == "scenario" and req.method == "POST":
        try:
            with emu.state.lock:
                apply_runtime_update(emu.state, req.json() or {})
                emu.faults.reseed(emu.state.knobs.get("fault_seed"))
                return Response(200, {"knobs": emu.state.knobs})
        except (KeyError, ValueError, TypeError) as exc:
            return Response(400, {"error": str(exc)})
    if action == "reset" and req.method == "POST":
        emu.reset()
        return Response(204)
    if action == "endpoints" and req.method == "GET":
        return Response(200, emu.endpoints)
    return Response(404, {"error": f"unknown control action {req.method} {action}"})


def state_dump(st):
    per_user, holders = st.license_states()

    def licences(uid):
        return [{"skuId": s["skuId"], "skuPartNumber": st.skus[s["skuId"]]["skuPartNumber"] if s["skuId"] in st.skus
                 else None, "assignedByGroup": s["assignedByGroup"], "state": s["state"], "error": s["error"]}
                for s in per_user.get(uid, [])]

    def user_json(u, deleted=False):
        return {"id": u["id"], "userPrincipalName": u["userPrincipalName"], "displayName": u["displayName"],
                "accountEnabled": u["accountEnabled"], "usageLocation": u.get("usageLocation"),
                "forceChangePasswordNextSignIn": u["forceChangePasswordNextSignIn"],
                "licenses": [] if deleted else licences(u["id"]),
                "groups": [g["displayName"] for g in st.groups_of(u["id"])], "deleted": deleted,
                "onPremisesExtensionAttributes": dict(sorted(u.get("ext_attrs", {}).items(),
                                                             key=lambda kv: int(kv[0][len("extensionAttribute"):]))),
                "onPremisesSyncEnabled": u.get("onPremisesSyncEnabled")}

    envs = {}
    for env in st.environments.values():
        st.materialize(env)
        envs[env.name] = {
            "id": env.id, "url": env.url, "organization_id": env.organization_id,
            "security_group": env.security_group, "settings": env.settings,
            "business_units": [{"id": b["businessunitid"], "name": b["name"],
                                "parent": b["_parentbusinessunitid_value"]} for b in env.business_units.values()],
            "systemusers": [{
                "systemuserid": r["systemuserid"], "domainname": r["domainname"], "fullname": r["fullname"],
                "azureactivedirectoryobjectid": r["azureactivedirectoryobjectid"],
                "applicationid": r["applicationid"],
                "business_unit": env.business_units[r["_businessunitid_value"]]["name"],
                "roles": [env.roles[x]["name"] for x in r["__roles"] if x in env.roles],
                "accessmode": r["accessmode"], "isdisabled": r["isdisabled"], "islicensed": r["islicensed"],
                "deletedstate": r["deletedstate"]}
                for r in env.systemusers.values()]}
    return {
        "tenant_id": st.tenant_id, "tenant_name": st.tenant_name, "knobs": st.knobs,
        "users": [user_json(u) for u in st.users.values()] + [user_json(u, True) for u in st.deleted.values()],
        "groups": [{"id": g["id"], "displayName": g["displayName"],
                    "members": [st.users[m]["userPrincipalName"] for m in g["members"] if m in st.users],
                    "licenses": [st.skus[s]["skuPartNumber"] for s in g["licenses"] if s in st.skus]}
                   for g in st.groups.values()],
        "skus": [{"skuId": s["skuId"], "skuPartNumber": s["skuPartNumber"], "enabled": s["seats"],
                  "consumed": len(holders.get(s["skuId"], ())),
                  "free": s["seats"] - len(holders.get(s["skuId"], ()))} for s in st.skus.values()],
        "clients": [{"client_id": c["client_id"], "name": c["name"], "admin_app": c["admin_app"],
                     "graph_permissions": c["graph_permissions"]} for c in st.clients.values()],
        "environments": envs,
    }
